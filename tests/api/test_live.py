"""The API on a real uvicorn server on a loopback port, over `memvec server` (RESP) holding a
store loaded by the pipeline; the search page driven by headless Chromium through Playwright;
the CLI."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import urllib.parse
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from pipeline.api import ApiSettings, ReadFrom, RespStore, create_app
from pipeline.api.cli import add_api_parser, settings_from_args
from pipeline.defaults import DEFAULT_INDEX
from tests.api.conftest import LiveApi, serve_in_thread, stop_live


def test_search_over_http_and_resp(live_api: LiveApi) -> None:
    with httpx.Client(base_url=live_api.url, timeout=30) as http:
        assert http.get("/readyz").json()["ready"] is True
        r = http.post("/v1/search", json={"query": "read and write CSV files", "k": 5})
        assert r.status_code == 200, r.text
        hits = r.json()["hits"]
        assert hits[0]["source"] == "stdlib/csv"
        r = http.post(
            "/v1/search",
            json={"query": "csv", "k": 3, "filter": {"source": ["stdlib/copy"]}},
        )
        assert {h["source"] for h in r.json()["hits"]} == {"stdlib/copy"}
        doc = http.get(f"/v1/documents/{urllib.parse.quote(hits[0]['id'], safe='')}").json()
        assert doc["text"] == hits[0]["text"]
        (demo,) = http.get("/v1/indexes").json()["indexes"]
        assert demo["name"] == DEFAULT_INDEX and demo["dims"] == 384
        assert http.get("/docs").status_code == 200
        assert http.get("/openapi.json").json()["info"]["title"] == "memvec query API"
        r = http.post("/v1/search", content=b"{", headers={"content-type": "application/json"})
        assert r.status_code == 400


def test_replica_reads_fall_back_to_primary(resp_server: Any, embedder: Any) -> None:
    dead = "redis://127.0.0.1:1"  # nothing listens on port 1
    store = RespStore(
        [f"redis://127.0.0.1:{resp_server.port}", dead], ReadFrom.REPLICAS, socket_timeout_s=2
    )
    live = serve_in_thread(create_app(ApiSettings(), store, embedder))
    try:
        r = httpx.post(f"{live.url}/v1/search", json={"query": "csv files", "k": 1}, timeout=30)
        assert r.status_code == 200 and r.json()["hits"][0]["source"] == "stdlib/csv"
    finally:
        stop_live(live)
        store.close()
    down = RespStore([dead], socket_timeout_s=2)
    live = serve_in_thread(create_app(ApiSettings(), down, embedder))
    try:
        r = httpx.post(f"{live.url}/v1/search", json={"query": "csv", "k": 1}, timeout=30)
        assert r.status_code == 503 and "no store node answered" in r.json()["error"]["message"]
        r = httpx.get(f"{live.url}/readyz", timeout=30)
        assert r.status_code == 503 and r.json()["checks"]["store"] == "unreachable"
    finally:
        stop_live(live)
        down.close()


def test_search_page_in_headless_chromium(live_api: LiveApi, page: Page, tmp_path: Path) -> None:
    page.goto(f"{live_api.url}/")
    expect(page).to_have_title(f"memvec search: {DEFAULT_INDEX}")
    box = page.get_by_role("searchbox")
    expect(box).to_be_focused()
    box.press_sequentially("parse command line options")
    box.press("Enter")
    body = page.locator("body")
    expect(body).to_have_attribute("data-state", re.compile("^(done|error)$"), timeout=30_000)
    status = page.get_by_role("status")
    assert body.get_attribute("data-state") == "done", status.inner_text()
    hits = page.locator("#results > li.hit")
    expect(hits.first).to_have_attribute("data-source", "stdlib/argparse")
    expect(hits.first.locator(".source")).to_have_text("stdlib/argparse")
    expect(hits).to_have_count(10)
    link = hits.first.locator("a.doc")
    expect(link).to_have_attribute("href", re.compile(r"^v1/documents/[^/]+$"))
    doc = httpx.get(f"{live_api.url}/{link.get_attribute('href')}", timeout=30).json()
    assert doc["source"] == "stdlib/argparse" and doc["text"], doc
    expect(status).to_have_text(
        re.compile(rf"^10 results from index {DEFAULT_INDEX} in \d+\.\d ms \(round trip \d+ ms\)$")
    )
    expect(page).to_have_url(re.compile(r"/\?q=parse\+command\+line\+options$"))
    screenshot = Path(os.environ.get("MEMVEC_SCREENSHOT_DIR", tmp_path)) / "search.png"
    page.screenshot(path=screenshot, full_page=True)
    assert screenshot.is_file(), f"no screenshot written to {screenshot}"
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{screenshot} is not a PNG"


def test_cli_options_and_env(tmp_path: Path) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="memvec")
    help_text = add_api_parser(parser.add_subparsers(dest="command")).format_help()
    for var in ("MEMVEC_API_STORE", "MEMVEC_API_KEY", "MEMVEC_API_PORT", "MEMVEC_API_READ_FROM",
                "MEMVEC_API_HEADER_TIMEOUT_S", "MEMVEC_API_BODY_TIMEOUT_S",
                "MEMVEC_API_METRICS_PUBLIC", "--metrics-public"):  # fmt: skip
        assert var in help_text
    args = parser.parse_args(["api", "--store", "redis://h:1", "--port", "9001", "--max-k", "5"])
    settings = settings_from_args(args, {"MEMVEC_API_KEY": "from-env", "MEMVEC_API_PORT": "1"})
    assert (settings.port, settings.max_k, settings.api_key) == (9001, 5, "from-env")
    assert settings.default_k == 5
    assert (settings.header_timeout_s, settings.body_timeout_s) == (10.0, 30.0)
    assert settings.metrics_public is False
    args = parser.parse_args(["api", "--header-timeout", "2.5", "--metrics-public"])
    env = {"MEMVEC_API_BODY_TIMEOUT_S": "7", "MEMVEC_API_METRICS_PUBLIC": "false"}
    settings = settings_from_args(args, env)
    assert (settings.header_timeout_s, settings.body_timeout_s) == (2.5, 7.0)
    assert settings.metrics_public is True
    assert settings_from_args(parser.parse_args(["api"]), env).metrics_public is False
    with pytest.raises(ValueError, match="MEMVEC_API_METRICS_PUBLIC"):
        settings_from_args(parser.parse_args(["api"]), {"MEMVEC_API_METRICS_PUBLIC": "maybe"})
    with pytest.raises(ValueError, match="header_timeout_s must be positive"):
        settings_from_args(parser.parse_args(["api", "--header-timeout", "0"]), {})


def test_cli_serves_and_stops_on_sigint(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "MEMVEC_API_PORT": str(port), "MEMVEC_API_KEY": "k1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "api", "--store", f"embedded:{tmp_path / 'data'}"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == f"memvec api ready on http://127.0.0.1:{port}"
        url = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{url}/healthz").status_code == 200
        r = httpx.post(f"{url}/v1/search", json={"vector": [1.0]}, headers={"X-API-Key": "k1"})
        assert r.status_code == 404 and r.json()["error"]["code"] == "index_not_found"
        assert httpx.post(f"{url}/v1/search", json={"vector": [1.0]}).status_code == 401
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0
