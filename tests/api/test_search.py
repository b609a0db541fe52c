"""The query API in process (httpx ASGI transport) over an embedded store loaded by the demo
pipeline: relevance of text queries, vector queries, filters, documents, indexes, health,
readiness and metrics."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi import FastAPI

from pipeline.api import EmbeddedStore, create_app
from pipeline.api.settings import ApiSettings
from pipeline.defaults import DEFAULT_INDEX
from tests.harness.wait import wait_for_async

MakeApp = Callable[..., FastAPI]
MakeClient = Callable[[FastAPI], httpx.AsyncClient]


@pytest.mark.parametrize(
    ("query", "source"),
    [
        ("how do I parse command line arguments", "stdlib/argparse"),
        ("read and write comma separated values files", "stdlib/csv"),
        ("convert colors between RGB and HSV", "stdlib/colorsys"),
        ("make a deep copy of an object", "stdlib/copy"),
        ("read INI style configuration files", "stdlib/configparser"),
    ],
)
async def test_text_query_finds_relevant_source(
    client: httpx.AsyncClient, query: str, source: str
) -> None:
    r = await client.post("/v1/search", json={"query": query, "k": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["index"] == DEFAULT_INDEX
    assert body["took_ms"] > 0
    hits = body["hits"]
    assert len(hits) == 3
    assert hits[0]["source"] == source, [h["source"] for h in hits]
    distances = [h["distance"] for h in hits]
    assert distances == sorted(distances)
    top = hits[0]
    assert top["id"].startswith(f"chunk:{source}#")
    assert top["text"] and isinstance(top["chunk"], int)
    assert set(top["metadata"]) == {"bucket", "content_hash", "ingested_at", "etag", "version"}


async def test_vector_query_matches_the_document_itself(
    client: httpx.AsyncClient, loaded_engine: Any
) -> None:
    blob = loaded_engine.execute("HGET", "chunk:stdlib/csv#0", "vec")
    vector = np.frombuffer(blob, dtype="<f4").tolist()
    r = await client.post("/v1/search", json={"vector": vector, "k": 5, "ef_runtime": 50})
    assert r.status_code == 200, r.text
    top = r.json()["hits"][0]
    assert top["id"] == "chunk:stdlib/csv#0"
    assert top["distance"] == pytest.approx(0, abs=1e-5)


async def test_filters_restrict_hits(client: httpx.AsyncClient) -> None:
    query = {"query": "parse command line arguments", "k": 10}
    r = await client.post("/v1/search", json={**query, "filter": {"source": "stdlib/csv"}})
    assert r.status_code == 200, r.text
    hits = r.json()["hits"]
    assert hits and {h["source"] for h in hits} == {"stdlib/csv"}

    wanted = ["stdlib/copy", "stdlib/colorsys"]
    r = await client.post("/v1/search", json={**query, "filter": {"source": wanted}})
    assert {h["source"] for h in r.json()["hits"]} <= set(wanted)

    r = await client.post("/v1/search", json={**query, "filter": {"chunk": {"gte": 1, "lt": 3}}})
    chunks = {h["chunk"] for h in r.json()["hits"]}
    assert chunks and chunks <= {1, 2}

    r = await client.post(
        "/v1/search", json={**query, "filter": {"source": "stdlib/argparse", "chunk": 0}}
    )
    assert [(h["source"], h["chunk"]) for h in r.json()["hits"]] == [("stdlib/argparse", 0)]

    # a value full of query syntax matches nothing instead of changing the query
    r = await client.post(
        "/v1/search", json={**query, "filter": {"source": "x} | @chunk:[0 inf] {"}}
    )
    assert r.status_code == 200 and r.json()["hits"] == []


async def test_fields_selects_metadata(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/search", json={"query": "csv files", "k": 2, "fields": ["etag"]})
    assert r.status_code == 200, r.text
    for hit in r.json()["hits"]:
        assert set(hit["metadata"]) == {"etag"}
        assert hit["text"] and hit["source"]


async def test_documents_and_indexes(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/documents/chunk:stdlib%2Fcsv%230")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["id"] == "chunk:stdlib/csv#0"
    assert doc["source"] == "stdlib/csv" and doc["chunk"] == 0
    assert "vec" not in doc["metadata"]

    r = await client.get("/v1/documents/chunk:stdlib%2Fnope%230")
    assert r.status_code == 404 and r.json()["error"]["field"] == "doc_id"
    r = await client.get("/v1/documents/other:key")  # outside the index's prefixes
    assert r.status_code == 404

    r = await client.get("/v1/indexes")
    assert r.status_code == 200
    (demo,) = [i for i in r.json()["indexes"] if i["name"] == DEFAULT_INDEX]
    assert demo["dims"] == 384 and demo["metric"] == "COSINE"
    assert demo["num_docs"] > 20 and demo["vector_field"] == "vec"
    assert demo["prefixes"] == ["chunk:"] and demo["lag"] == 0
    assert demo["fields"]["source"] == "TAG"


async def test_health_readiness_metrics(
    make_app: MakeApp, make_client: MakeClient, loaded_engine: Any, embedder: Any
) -> None:
    client = make_client(make_app())
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    r = await client.get("/readyz")
    assert r.status_code == 200 and r.json()["ready"] is True
    assert r.json()["index"] == DEFAULT_INDEX
    page = await client.get("/")
    assert page.headers["x-memvec-index"] == DEFAULT_INDEX
    assert f"<h1>memvec search: {DEFAULT_INDEX}</h1>" in page.text

    await client.post("/v1/search", json={"query": "csv"})
    text = (await client.get("/metrics")).text
    assert (
        'memvec_api_request_duration_seconds_count{method="POST",route="/v1/search",status="200"} 1.0'
        in text
    )
    assert "memvec_api_embed_duration_seconds_count 1.0" in text
    assert 'memvec_api_store_duration_seconds_count{op="search"} 1.0' in text
    assert "memvec_api_requests_in_flight" in text

    missing = make_client(make_app(index="nope"))
    r = await missing.get("/readyz")
    assert r.status_code == 503 and "'nope' does not exist" in r.json()["reason"]
    assert r.json()["index"] == "nope"

    loading = make_client(create_app(ApiSettings(), EmbeddedStore(loaded_engine), None))
    r = await loading.get("/readyz")
    assert r.status_code == 503 and "loading" in r.json()["reason"]
    r = await loading.post("/v1/search", json={"query": "csv"})
    assert r.status_code == 503 and r.json()["error"]["code"] == "model_unavailable"


async def test_model_loads_in_background(
    loaded_engine: Any, embedder: Any, make_client: MakeClient
) -> None:
    app = create_app(ApiSettings(), EmbeddedStore(loaded_engine), embedder_factory=lambda: embedder)
    async with app.router.lifespan_context(app):
        client = make_client(app)

        async def ready() -> bool:
            return (await client.get("/readyz")).status_code == 200

        await wait_for_async(ready, 30, message="the model never became ready")
