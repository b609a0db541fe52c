"""Refusals: API key, body/query/k/vector limits, bad filters, malformed JSON, timeouts.

Every refusal is a 4xx (504 for the timeout) with a JSON error naming the field and rule.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from pipeline.api import ApiSettings, EmbeddedStore, create_app

MakeApp = Callable[..., FastAPI]
MakeClient = Callable[[FastAPI], httpx.AsyncClient]


def error(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert "Traceback" not in r.text
    return dict(r.json()["error"])


async def test_api_key(make_app: MakeApp, make_client: MakeClient) -> None:
    client = make_client(make_app(api_key="s3cret"))
    body = {"query": "csv files", "k": 1}
    for headers in ({}, {"X-API-Key": "wrong"}, {"Authorization": "Bearer wrong"},
                    {"Authorization": "Basic czNjcmV0"}):  # fmt: skip
        r = await client.post("/v1/search", json=body, headers=headers)
        err = error(r, 401)
        assert err["code"] == "unauthorized" and r.headers["www-authenticate"] == "Bearer"
    assert (await client.get("/v1/indexes")).status_code == 401
    assert (await client.get("/v1/documents/chunk:x")).status_code == 401
    ok = await client.post("/v1/search", json=body, headers={"X-API-Key": "s3cret"})
    assert ok.status_code == 200
    ok = await client.post("/v1/search", json=body, headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200
    # health, readiness and the page stay open for probes and browsers
    for path in ("/healthz", "/readyz", "/", "/openapi.json"):
        assert (await client.get(path)).status_code == 200, path
    # /metrics needs the key too, unless metrics_public says a scraper cannot send it
    assert error(await client.get("/metrics"), 401)["code"] == "unauthorized"
    ok = await client.get("/metrics", headers={"X-API-Key": "s3cret"})
    assert ok.status_code == 200
    public = make_client(make_app(api_key="s3cret", metrics_public=True))
    assert (await public.get("/metrics")).status_code == 200
    assert (await public.get("/v1/indexes")).status_code == 401


async def test_limits(client: httpx.AsyncClient) -> None:
    huge = b'{"query": "' + b"a" * (2 * 1024 * 1024) + b'"}'
    r = await client.post("/v1/search", content=huge, headers={"content-type": "application/json"})
    assert error(r, 413)["field"] == "body"

    async def chunks() -> Any:  # no Content-Length: the middleware counts what it reads
        for _ in range(100):
            yield b"x" * 10_000

    r = await client.post("/v1/search", content=chunks())
    assert error(r, 413)["rule"] == "at most 262144 bytes"

    r = await client.post("/v1/search", json={"query": "q" * 1_000_000})
    assert error(r, 413)["field"] == "body"
    r = await client.post("/v1/search", json={"query": "q" * 2001})
    err = error(r, 400)
    assert err["field"] == "query" and "2000 characters" in err["rule"]

    r = await client.post("/v1/search", json={"query": "csv", "k": 10**6})
    err = error(r, 400)
    assert err["field"] == "k" and "1000" in err["rule"]
    r = await client.post("/v1/search", json={"query": "csv", "k": 0})
    assert error(r, 400)["field"] == "k"

    r = await client.post("/v1/search", json={"vector": [0.1] * 3})
    err = error(r, 400)
    assert err["field"] == "vector" and "384" in err["rule"]
    r = await client.post("/v1/search", json={"vector": [1e39] * 384})
    assert error(r, 400)["field"] == "vector"
    r = await client.post(
        "/v1/search", content=b'{"vector": [NaN]}', headers={"content-type": "application/json"}
    )
    assert error(r, 400)["field"].startswith("vector")

    r = await client.post("/v1/search", json={"query": "csv", "filter": {"color": "red"}})
    err = error(r, 400)
    assert err["field"] == "filter.color" and "unknown field 'color'" in err["rule"]
    r = await client.post("/v1/search", json={"query": "csv", "filter": {"chunk": {"gt": "x"}}})
    assert error(r, 400)["field"] == "filter.chunk.gt"

    r = await client.post(
        "/v1/search", content=b'{"query": "csv",', headers={"content-type": "application/json"}
    )
    err = error(r, 400)
    assert err["field"] == "body" and err["rule"] == "json_invalid"

    r = await client.post("/v1/search", json={"query": "csv", "vector": [0.0] * 384})
    assert "exactly one of query and vector" in error(r, 400)["rule"]
    r = await client.post("/v1/search", json={})
    assert error(r, 400)["field"] == "body"
    r = await client.post("/v1/search", json={"query": "csv", "bogus": 1})
    assert error(r, 400)["field"] == "bogus"
    r = await client.post("/v1/search", json={"query": "csv", "ef_runtime": 10**9})
    assert error(r, 400)["field"] == "ef_runtime"
    r = await client.post("/v1/search", json=[1, 2])
    assert error(r, 400)["field"] == "body"

    r = await client.get("/v1/nothing")
    assert error(r, 404)["code"] == "not_found"
    r = await client.delete("/v1/search")
    assert error(r, 405)["code"] == "method_not_allowed"


async def test_timeout(loaded_engine: Any, make_client: MakeClient) -> None:
    release = threading.Event()

    class SlowEmbedder:
        dim = 384

        def embed_one(self, text: str) -> Any:
            release.wait(10)
            raise RuntimeError("never used")

    app = create_app(
        ApiSettings(request_timeout_s=0.2), EmbeddedStore(loaded_engine), SlowEmbedder()
    )
    try:
        r = await make_client(app).post("/v1/search", json={"query": "csv"})
        assert error(r, 504)["code"] == "timeout"
    finally:
        release.set()


async def test_cors_off_by_default_and_configurable(
    make_app: MakeApp, make_client: MakeClient
) -> None:
    preflight = {
        "Origin": "http://app.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    r = await make_client(make_app()).options("/v1/search", headers=preflight)
    assert "access-control-allow-origin" not in r.headers
    r = await make_client(make_app(cors_origins=("http://app.example",))).options(
        "/v1/search", headers=preflight
    )
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "http://app.example"


def test_settings_from_env() -> None:
    s = ApiSettings.from_env(
        {"MEMVEC_API_KEY": "zz-secret", "MEMVEC_API_MAX_K": "50", "MEMVEC_API_READ_FROM": "replicas",
         "MEMVEC_API_CORS_ORIGINS": "http://a, http://b"},
        port=9000,
    )  # fmt: skip
    assert (s.api_key, s.max_k, s.read_from.value, s.port) == ("zz-secret", 50, "replicas", 9000)
    assert s.cors_origins == ("http://a", "http://b")
    assert "zz-secret" not in repr(s)
    with pytest.raises(ValueError, match="MEMVEC_API_MAX_K"):
        ApiSettings.from_env({"MEMVEC_API_MAX_K": "lots"})
    with pytest.raises(ValueError, match="max_k"):
        ApiSettings(max_k=5000)
