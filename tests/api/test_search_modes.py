"""The search request's recall knob and mode options in process (embedded store over the
demo corpus): what is refused and how, and that ``recall: exact`` is exact search."""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np
import pytest

from pipeline.api.recall import FAST_EF, ef_for_recall
from pipeline.api.settings import MAX_EF_RUNTIME

Q = "parse command line arguments"


@pytest.mark.parametrize(
    ("body", "field", "rule"),
    [
        ({"query": Q, "recall": "exact", "ef_runtime": 50}, "recall",
         "give recall or ef_runtime, not both (they set the same breadth)"),
        ({"vector": [0.1] * 384, "mode": "text"}, "query",
         "mode text searches text: give query, not vector"),
        ({"vector": [0.1] * 384, "mode": "hybrid"}, "query",
         "mode hybrid searches text: give query, not vector"),
        ({"query": Q, "mode": "text", "ef_runtime": 50}, "ef_runtime",
         "only in modes vector and hybrid (text mode has no breadth)"),
        ({"query": Q, "mode": "text", "recall": "fast"}, "recall",
         "only in modes vector and hybrid (text mode has no breadth)"),
        ({"query": Q, "fusion": "rrf"}, "fusion", "only with mode hybrid"),
        ({"query": Q, "mode": "text", "alpha": 0.5}, "alpha", "only with mode hybrid"),
        ({"query": Q, "rrf_k": 10}, "rrf_k", "only with mode hybrid"),
        ({"query": Q, "mode": "hybrid", "alpha": 0.5}, "alpha", "only with fusion linear"),
        ({"query": Q, "mode": "hybrid", "fusion": "rrf", "alpha": 0.5}, "alpha",
         "only with fusion linear"),
        ({"query": Q, "mode": "hybrid", "fusion": "linear", "rrf_k": 5}, "rrf_k",
         "only with fusion rrf"),
        ({"query": Q, "recall": "perfect"}, "recall",
         "Input should be 'fast', 'balanced' or 'exact'"),
        ({"query": Q, "mode": "keyword"}, "mode",
         "Input should be 'vector', 'text' or 'hybrid'"),
        ({"query": Q, "mode": "hybrid", "fusion": "max"}, "fusion",
         "Input should be 'rrf' or 'linear'"),
        ({"query": Q, "mode": "hybrid", "fusion": "linear", "alpha": 1.5}, "alpha",
         "Input should be less than or equal to 1"),
        ({"query": Q, "mode": "hybrid", "rrf_k": 0}, "rrf_k",
         "Input should be greater than or equal to 1"),
    ],
)  # fmt: skip
async def test_refused_options(
    client: httpx.AsyncClient, body: dict[str, Any], field: str, rule: str
) -> None:
    r = await client.post("/v1/search", json=body)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert (error["code"], error["field"], error["rule"]) == ("invalid_request", field, rule)
    assert error["message"] == f"{field}: {rule}"


def test_recall_mapping() -> None:
    assert ef_for_recall("fast", 10, 5000) == FAST_EF == 10
    assert ef_for_recall("balanced", 10, 5000) is None
    assert ef_for_recall(None, 10, 5000) is None
    assert ef_for_recall("exact", 10, 5000) == 5000
    assert ef_for_recall("exact", 50, 20) == 50
    assert ef_for_recall("exact", 10, 10**6) == MAX_EF_RUNTIME


async def test_recall_exact_is_exact_search(
    client: httpx.AsyncClient, loaded_engine: Any, embedder: Any
) -> None:
    keys = sorted(k.decode() for k in loaded_engine.execute("KEYS", "chunk:*"))
    matrix = np.stack(
        [np.frombuffer(loaded_engine.execute("HGET", k, "vec"), dtype="<f4") for k in keys]
    )
    queries = ["compress data", "colour conversion", "copy objects", "csv files", "ini files"]
    for q in queries:
        qv = embedder.embed_one(q)
        sims = matrix @ qv / (np.linalg.norm(matrix, axis=1) * np.linalg.norm(qv))
        expected = [keys[i] for i in np.argsort(-sims, kind="stable")[:10]]
        r = await client.post("/v1/search", json={"query": q, "k": 10, "recall": "exact"})
        assert r.status_code == 200, r.text
        assert [h["id"] for h in r.json()["hits"]] == expected
    for recall in ("fast", "balanced"):
        r = await client.post("/v1/search", json={"query": Q, "recall": recall})
        assert r.status_code == 200 and r.json()["hits"][0]["source"] == "stdlib/argparse"


async def test_openapi_documents_the_options(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    props = spec["components"]["schemas"]["SearchRequest"]["properties"]
    assert "EF_RUNTIME 10" in props["recall"]["description"]
    assert "BM25STD" in props["mode"]["description"]
    assert "reciprocal rank fusion" in props["fusion"]["description"]
    assert {"alpha", "rrf_k"} <= set(props)
    hit = spec["components"]["schemas"]["Hit"]["properties"]
    assert {"score", "vector_distance", "text_score"} <= set(hit)
