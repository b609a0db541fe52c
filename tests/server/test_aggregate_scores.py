"""FT.AGGREGATE with text scores (``ADDSCORES``, ``@__score``, ``SCORER``) against the peer.

These need ``store.index.scoring.text_scores``, which comes from the scoring branch: on the
aggregate branch alone they fail with "ADDSCORES needs text scores, which this build of
memvec lacks", and pass once both are merged. Replies are compared raw, RESP2 and RESP3.
"""

from __future__ import annotations

import shlex
import uuid
from collections.abc import Iterator

import pytest
import redis

from store.server import ServerThread
from tests.harness.components import RedisStack, wait_index_scanned
from tests.server.test_differential import Pair

PIPELINES = [
    "'heat|wave' ADDSCORES SORTBY 2 @__score DESC",
    "'heat|wave' ADDSCORES SCORER TFIDF LOAD 1 @title APPLY '@__score*2' AS s",
    "'heat|wave' ADDSCORES SCORER BM25 LOAD 1 @title SORTBY 2 @__score DESC",
    "'heat|wave' ADDSCORES SCORER BM25STD LOAD 1 @title SORTBY 2 @__score DESC",
    "heat ADDSCORES SCORER TFIDF.DOCNORM LOAD 1 @title",
    "heat ADDSCORES SCORER DISMAX GROUPBY 1 @genre REDUCE SUM 1 @__score AS s SORTBY 2 @genre ASC",
    "* ADDSCORES",
    "'@genre:{drama}' ADDSCORES LOAD 1 @title",
    "heat APPLY '@__score' AS s",
]

DOCS = [
    ("heat wave", "drama"),
    ("cold heat heat", "action"),
    ("the wave", "drama"),
    ("nothing here", "comedy"),
    ("heat of the night in the heat", "drama"),
]


@pytest.fixture(scope="module")
def dataset(memvec: ServerThread, redis_stack: RedisStack) -> Iterator[str]:
    name = f"sco{uuid.uuid4().hex[:8]}"
    clients = [redis.Redis(host="127.0.0.1", port=memvec.port), redis_stack.client()]
    for r in clients:
        r.execute_command(
            "FT.CREATE", name, "ON", "HASH", "PREFIX", "1", f"{name}:",
            "SCHEMA", "title", "TEXT", "genre", "TAG",
        )  # fmt: skip
        wait_index_scanned(r, name)
        for i, (title, genre) in enumerate(DOCS):
            r.hset(f"{name}:{i}", mapping={"title": title, "genre": genre})
    try:
        yield name
    finally:
        for r in clients:
            r.execute_command("FT.DROPINDEX", name, "DD")
            r.close()


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_scores_like_the_peer(pair: Pair, dataset: str, pipeline: str) -> None:
    pair.same("FT.AGGREGATE", dataset, *shlex.split(pipeline))
