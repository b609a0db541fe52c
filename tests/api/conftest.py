"""Fixtures for the query API tests: a store loaded by the demo pipeline, apps, live servers.

- `loaded_engine` (session): an embedded engine with the first 20 standard-library modules
  ingested by `pipeline.demo.ingest` (index `memvec`, the shared default, prefix `chunk:`), real embeddings;
- `make_app(**settings)`: a FastAPI app over `EmbeddedStore(loaded_engine)` and the model;
- `client` / `make_client(app)`: `httpx.AsyncClient` on the app through ASGI, in process;
- `resp_server` (session): `memvec server` (RESP, loopback, port picked by the OS) serving
  the same engine;
- `page`: a page in headless Debian Chromium (Playwright), failing on uncaught page errors;
- `live_api` (session): uvicorn on a loopback port running the app over `RespStore`
  pointed at `resp_server`; `.url` is its base URL.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Page, sync_playwright

from pipeline.api import ApiSettings, EmbeddedStore, RespStore, create_app
from pipeline.demo.ingest import ensure_index, ingest
from store import Engine, EngineConfig
from store.server import ServerConfig, ServerThread
from tests.harness.wait import wait_for

MakeApp = Callable[..., FastAPI]


@pytest.fixture(scope="session")
def loaded_engine(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Iterator[Engine]:
    with Engine(EngineConfig(data_dir=tmp_path_factory.mktemp("api-store"))) as engine:
        ensure_index(engine)
        written, _ = ingest(engine, embedder, limit=20)
        assert written > 20
        yield engine


@pytest.fixture
def make_app(loaded_engine: Engine, embedder: Any) -> MakeApp:
    def make(**settings: Any) -> FastAPI:
        return create_app(ApiSettings(**settings), EmbeddedStore(loaded_engine), embedder)

    return make


@pytest.fixture
async def make_client() -> AsyncIterator[Callable[[FastAPI], httpx.AsyncClient]]:
    clients: list[httpx.AsyncClient] = []

    def make(app: FastAPI) -> httpx.AsyncClient:
        c = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://api.test", timeout=30
        )
        clients.append(c)
        return c

    yield make
    for c in clients:
        await c.aclose()


@pytest.fixture
async def client(
    make_app: MakeApp, make_client: Callable[[FastAPI], httpx.AsyncClient]
) -> httpx.AsyncClient:
    return make_client(make_app())


@pytest.fixture(scope="session")
def resp_server(loaded_engine: Engine) -> Iterator[ServerThread]:
    with ServerThread(ServerConfig(port=0, data_dir=None), engine=loaded_engine) as server:
        yield server


@dataclass
class LiveApi:
    url: str
    server: uvicorn.Server
    thread: threading.Thread


def serve_in_thread(app: FastAPI) -> LiveApi:
    """uvicorn on a free loopback port in a daemon thread; returns once it accepts requests."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="api-uvicorn", daemon=True
    )
    thread.start()
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if not thread.is_alive():
            raise RuntimeError("uvicorn exited during start-up; see the log above")
        return server.started and httpx.get(f"{url}/healthz", timeout=2).status_code == 200

    wait_for(ready, 30, message="uvicorn did not start", ignore=(httpx.TransportError,))
    return LiveApi(url, server, thread)


def stop_live(live: LiveApi) -> None:
    live.server.should_exit = True
    live.thread.join(30)


@pytest.fixture(scope="session")
def live_api(resp_server: ServerThread, embedder: Any) -> Iterator[LiveApi]:
    store = RespStore([f"redis://127.0.0.1:{resp_server.port}"])
    live = serve_in_thread(create_app(ApiSettings(), store, embedder))
    try:
        yield live
    finally:
        stop_live(live)
        store.close()


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def page() -> Iterator[Page]:
    """A page in headless Debian Chromium driven by Playwright; fails on any uncaught page error."""
    assert CHROMIUM.is_file(), (
        f"{CHROMIUM} is missing: install the Debian package (apt-get install chromium); "
        "Playwright's own browser builds are not used"
    )
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(viewport={"width": 1100, "height": 900})
            context.set_default_timeout(30_000)
            p = context.new_page()
            p.on("pageerror", lambda exc: errors.append(str(exc)))
            yield p
        finally:
            browser.close()
    assert not errors, f"uncaught errors in the page: {errors}"
