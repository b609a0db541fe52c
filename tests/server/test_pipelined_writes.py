"""Pipelined key writes share one lock hold and one parallel vector insert (submit_many).

The batch must behave exactly like the same commands run one by one: the last vector of
a key wins, a key deleted later in the pipeline is gone from the index, a bad command
answers its own error without stopping the others, and every write is durable and
searchable once the replies arrive.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import redis

from store import Engine, EngineConfig
from store.commands.table import CommandSpec, resolve
from store.engine import BATCHABLE_WRITES
from store.index.hnsw import PARALLEL_MIN_BATCH

DIM = 8


def _vec(n: int) -> bytes:
    vector = np.zeros(DIM, dtype=np.float32)
    vector[n % DIM] = 1.0 + n
    vector[(n + 3) % DIM] = 0.5
    return vector.tobytes()


def _create(r: redis.Redis, *options: str) -> None:
    r.execute_command(
        "FT.CREATE", "idx", "ON", "HASH", "PREFIX", "1", "doc:", *options, "SCHEMA", "tag", "TAG",
        "vec", "VECTOR", "HNSW", "6", "TYPE", "FLOAT32", "DIM", str(DIM), "DISTANCE_METRIC", "L2",
    )  # fmt: skip


def _nearest(r: redis.Redis, vector: bytes) -> bytes:
    reply = r.execute_command(
        "FT.SEARCH", "idx", "*=>[KNN 1 @vec $B]", "PARAMS", "2", "B", vector,
        "NOCONTENT", "DIALECT", "2",
    )  # fmt: skip
    return bytes(reply[1])


def test_a_pipeline_of_writes_behaves_like_the_writes_one_by_one(
    client: Callable[..., redis.Redis],
) -> None:
    r = client(protocol=2)
    _create(r, "STRICT")  # a STRICT index refuses the bad blob below
    n = 4 * PARALLEL_MIN_BATCH
    with r.pipeline(transaction=False) as p:
        for i in range(n):
            p.hset(f"doc:{i}", mapping={"vec": _vec(i), "tag": "a"})
        p.hset("doc:1", mapping={"vec": _vec(1000)})  # the last vector of a key wins
        p.delete("doc:2")  # deleted after its insert in the same run
        p.hset("doc:3", mapping={"vec": b"short"})  # a bad blob: its own error only
        p.hset("doc:4", "tag", "b")  # a tag-only change keeps the vector
        p.hset(f"doc:{n}", mapping={"vec": _vec(n), "tag": "a"})
        replies = p.execute(raise_on_error=False)
    assert replies[:n] == [2] * n
    assert replies[n : n + 2] == [0, 1]
    assert isinstance(replies[n + 2], redis.ResponseError)
    assert "blob size" in str(replies[n + 2])
    assert replies[n + 3 :] == [0, 2]
    info = r.ft("idx").info()
    assert int(info["num_docs"]) == n  # n + 1 written, doc:2 deleted
    assert _nearest(r, _vec(1000)) == b"doc:1"
    assert _nearest(r, _vec(3)) == b"doc:3"  # the bad write changed nothing
    assert _nearest(r, _vec(4)) == b"doc:4"
    assert _nearest(r, _vec(n)) == f"doc:{n}".encode()
    assert r.hget("doc:4", "tag") == b"b"
    tagged = r.execute_command("FT.SEARCH", "idx", "@tag:{b}", "NOCONTENT", "DIALECT", "2")
    assert tagged[1:] == [b"doc:4"]
    for i in range(5, n):
        assert _nearest(r, _vec(i)) == f"doc:{i}".encode()


def test_submit_many_refuses_what_it_cannot_batch() -> None:
    with Engine(EngineConfig(data_dir=None)) as engine:

        def calls(*commands: list[bytes]) -> list[tuple[CommandSpec, list[bytes]]]:
            return [(resolve(args), args) for args in commands]

        with pytest.raises(ValueError, match="submit_many runs only"):
            engine.submit_many(calls([b"HSET", b"k", b"f", b"v"], [b"FT.CREATE", b"idx"]))
        assert engine.execute("EXISTS", "k") == 0  # nothing ran
        done = engine.submit_many(calls([b"HSET", b"k", b"f", b"v"], [b"DEL", b"k"]))
        assert [d.reply for d in done] == [1, 1]
    assert "HSET" in BATCHABLE_WRITES and "FT.CREATE" not in BATCHABLE_WRITES
