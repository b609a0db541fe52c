"""node-redis (npm ``redis``) FT commands, unchanged, against memvec and the peer: the
same script (tests/clients/node_redis_script.cjs) runs under node against each server
and both must report the same (search results, aggregations, FT.INFO's attributes,
dictionaries, aliases and the errors' text).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.harness.components import RedisStack
from tests.harness.node_clients import run_node
from tests.server.conftest import RawClient
from tests.server.test_process import ServerProcess


@pytest.fixture(scope="module")
def memvec(memvec_process: ServerProcess) -> ServerProcess:
    """The client flows run against a real ``memvec server`` process."""
    return memvec_process


SCRIPT = Path(__file__).resolve().parents[1] / "clients" / "node_redis_script.cjs"


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


def test_node_redis_ft(memvec: ServerProcess, redis_stack: RedisStack) -> None:
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


def encode(*args: str) -> bytes:
    parts = [a.encode() for a in args]
    return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%b\r\n" % (len(p), p) for p in parts)


def test_ft_errors_are_sent_bare(
    memvec: ServerProcess, redis_stack: RedisStack, raw: Callable[[int], RawClient]
) -> None:
    """RediSearch's errors carry no ``ERR`` (its first word is the code); redis-py strips
    ``ERR `` so only the wire, or node-redis, shows the difference."""
    p = f"nb{uuid.uuid4().hex[:6]}:"
    commands = [
        ("FT.CREATE", f"{p}i", "ON", "HASH", "PREFIX", "1", p, "SCHEMA", "t", "TEXT"),
        ("FT.CREATE", f"{p}i", "ON", "HASH", "PREFIX", "1", p, "SCHEMA", "t", "TEXT"),
        ("FT.SEARCH", f"{p}i", "@t:("),
        ("FT.SEARCH", f"{p}i", "a", "LIMIT", "x"),
        ("FT.SEARCH", f"{p}nope", "*"),
        ("FT.AGGREGATE", f"{p}i", "*", "APPLY", "1+", "AS", "x"),
        ("FT.SEARCH", f"{p}i"),
        ("FT.SEARCH",),
        ("FT.INFO",),
        ("FT.DROPINDEX", f"{p}i"),
    ]
    replies = []
    for port in (memvec.port, redis_stack.port):
        client = raw(port)
        got = []
        for command in commands:
            client.send(encode(*command))
            got.append(client.read_reply())
        replies.append(got)
    assert replies[0] == replies[1]
    assert replies[0][2].startswith(b"-Syntax error at offset")
