"""The API on a real uvicorn server on a loopback port, over `memvec server` (RESP) holding a
store loaded by the pipeline; the search page driven by headless Chromium; the CLI."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import urllib.parse
from pathlib import Path
from typing import Any

import httpx

from pipeline.api import ApiSettings, ReadFrom, RespStore, create_app
from pipeline.api.cli import add_api_parser, settings_from_args
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
        assert demo["name"] == "demo" and demo["dims"] == 384
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


def _chromium(*args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    assert exe, "Debian package chromium is not installed (apt-get install chromium)"
    return subprocess.run(
        [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-dev-shm-usage", "--no-first-run", "--hide-scrollbars",
         "--window-size=1100,900", "--virtual-time-budget=15000", *args],
        capture_output=True, text=True, timeout=timeout_s, check=False,
    )  # fmt: skip


def test_search_page_in_headless_chromium(live_api: LiveApi, tmp_path: Path) -> None:
    query = urllib.parse.quote("how do I parse command line arguments")
    url = f"{live_api.url}/?q={query}"
    dumped = _chromium(f"--user-data-dir={tmp_path / 'profile-dom'}", "--dump-dom", url)
    dom = dumped.stdout
    assert 'data-state="done"' in dom, (dom[-2000:], dumped.stderr[-2000:])
    assert 'class="hit" data-source="stdlib/argparse"' in dom.split("</li>")[0]
    assert "results from index demo in" in dom
    screenshot = tmp_path / "search-page.png"
    shot = _chromium(
        f"--user-data-dir={tmp_path / 'profile-shot'}", f"--screenshot={screenshot}", url
    )
    assert screenshot.is_file() and screenshot.stat().st_size > 5000, shot.stderr[-2000:]


def test_cli_options_and_env(tmp_path: Path) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="memvec")
    help_text = add_api_parser(parser.add_subparsers(dest="command")).format_help()
    for var in ("MEMVEC_API_STORE", "MEMVEC_API_KEY", "MEMVEC_API_PORT", "MEMVEC_API_READ_FROM"):
        assert var in help_text
    args = parser.parse_args(["api", "--store", "redis://h:1", "--port", "9001", "--max-k", "5"])
    settings = settings_from_args(args, {"MEMVEC_API_KEY": "from-env", "MEMVEC_API_PORT": "1"})
    assert (settings.port, settings.max_k, settings.api_key) == (9001, 5, "from-env")
    assert settings.default_k == 5


def test_cli_serves_and_stops_on_sigint(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = (
        "import argparse, sys\n"
        "from pipeline.api.cli import add_api_parser\n"
        "p = argparse.ArgumentParser(prog='memvec')\n"
        "add_api_parser(p.add_subparsers(dest='command'))\n"
        "a = p.parse_args(sys.argv[1:])\n"
        "sys.exit(a.run(a))\n"
    )
    env = {**os.environ, "MEMVEC_API_PORT": str(port), "MEMVEC_API_KEY": "k1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "api", "--store", f"embedded:{tmp_path / 'data'}"],
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
