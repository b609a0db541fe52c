"""node-redis (npm ``redis``) FT commands, unchanged, against memvec and the peer: the
same script (tests/clients/node_redis_script.cjs) runs under node against each server
and both must report the same (search results, aggregations, FT.INFO's attributes,
dictionaries, aliases and the errors' text).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from store.server import ServerThread
from store.server.config import ServerConfig
from tests.harness.components import RedisStack
from tests.harness.node_clients import run_node

SCRIPT = Path(__file__).resolve().parents[1] / "clients" / "node_redis_script.cjs"


@pytest.fixture(scope="module")
def memvec() -> Iterator[ServerThread]:
    thread = ServerThread(ServerConfig(port=0, data_dir=None)).start()
    try:
        yield thread
    finally:
        thread.stop()


def rounded(value: object) -> object:
    """Distances as text rounded to 5 decimals: both compute them in float32."""
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    if isinstance(value, str):
        try:
            return round(float(value), 5) if "." in value else value
        except ValueError:
            return value
    return value


def test_node_redis_ft(memvec: ServerThread, redis_stack: RedisStack) -> None:
    prefix = f"nr{uuid.uuid4().hex[:6]}:"
    mine = json.loads(run_node(SCRIPT, f"redis://127.0.0.1:{memvec.port}", prefix))
    theirs = json.loads(run_node(SCRIPT, redis_stack.url, prefix))
    assert theirs["left"] == 0
    assert list(mine) == list(theirs)
    for step in theirs:
        assert rounded(mine[step]) == rounded(theirs[step]), step
    assert [d["id"] for d in mine["knn"]["documents"]] == [
        f"{prefix}doc:1",
        f"{prefix}doc:4",
        f"{prefix}doc:2",
    ]
