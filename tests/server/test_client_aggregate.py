"""RedisVL's AggregateHybridQuery (text score blended with vector similarity) on memvec and
on the peer: same documents in the same order, same scores (to float32 noise).

It sends ``FT.AGGREGATE ... SCORER BM25STD ADDSCORES ... APPLY @__score ...``, so it needs
the text scores of the scoring branch: it fails on the aggregate branch alone and passes
once both are merged.
"""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
import pytest

from tests.harness.components import RedisStack, wait_index_scanned
from tests.server.test_process import ServerProcess

DIM = 4
DOCS = [
    ("heat wave in the city", "drama", 1995, [0.1, 0.2, 0.3, 0.4]),
    ("cold heat", "action", 2001, [0.4, 0.3, 0.2, 0.1]),
    ("the wave", "drama", 2010, [0.9, 0.1, 0.1, 0.1]),
    ("a quiet night", "comedy", 1995, [0.2, 0.2, 0.2, 0.2]),
    ("heat", "drama", 1967, [0.0, 1.0, 0.0, 0.5]),
]


def _index(url: str, name: str) -> Any:
    from redisvl.index import SearchIndex

    return SearchIndex.from_dict(
        {
            "index": {"name": name, "prefix": name, "storage_type": "hash"},
            "fields": [
                {"name": "title", "type": "text"},
                {"name": "genre", "type": "tag"},
                {"name": "year", "type": "numeric"},
                {
                    "name": "embedding",
                    "type": "vector",
                    "attrs": {
                        "dims": DIM,
                        "algorithm": "flat",
                        "distance_metric": "cosine",
                        "datatype": "float32",
                    },
                },
            ],
        },
        redis_url=url,
    )


def _query(**options: Any) -> Any:
    from redisvl.query import AggregateHybridQuery

    return AggregateHybridQuery(
        text="heat wave",
        text_field_name="title",
        vector=[0.1, 0.2, 0.3, 0.4],
        vector_field_name="embedding",
        return_fields=["title", "year"],
        **options,
    )


def _run(url: str, name: str, q: Any) -> list[dict[str, Any]]:
    index = _index(url, name)
    index.create(overwrite=True)
    wait_index_scanned(index.client, name)  # the peer scans in the background
    try:
        index.load(
            [
                {
                    "title": title,
                    "genre": genre,
                    "year": year,
                    "embedding": np.asarray(vec, dtype=np.float32).tobytes(),
                }
                for title, genre, year, vec in DOCS
            ]
        )
        return list(index.query(q))
    finally:
        index.delete(drop=True)


@pytest.mark.parametrize(
    "query",
    [{}, {"alpha": 0.3, "num_results": 3}, {"text_scorer": "TFIDF"}],
    ids=["default", "alpha-and-k", "tfidf"],
)
def test_aggregate_hybrid_query(
    memvec_process: ServerProcess, redis_stack: RedisStack, query: dict[str, Any]
) -> None:
    name = f"hyb{uuid.uuid4().hex[:8]}"
    # one query object for both servers: the same FT.AGGREGATE arguments reach each
    q = _query(**query)
    mine = _run(f"redis://127.0.0.1:{memvec_process.port}", name, q)
    theirs = _run(redis_stack.url, name, q)
    assert [r["title"] for r in mine] == [r["title"] for r in theirs]
    assert mine, "the hybrid query found nothing"
    for a, b in zip(mine, theirs, strict=True):
        assert a["year"] == b["year"]
        for score in ("vector_distance", "text_score", "hybrid_score"):
            assert float(a[score]) == pytest.approx(float(b[score]), abs=1e-6), score
