"""Indexing failures, not refused writes: a hash under an index's prefix that the index
cannot take (a vector of the wrong size, a numeric field that does not parse) is stored
and counted in FT.INFO, as RediSearch does; memvec's ``STRICT`` index option keeps the
refusal for users who want it. Compared with the peer, plus RedisVL's EmbeddingsCache
whose keys share a prefix with an index (the client flow the refusal broke).

One memvec server for the module; tests use their own prefixes and index names.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import redis
from redisvl.extensions.cache.embeddings import EmbeddingsCache

from store.config import FsyncPolicy
from store.server import ServerConfig, ServerThread
from tests.harness.components import wait_index_scanned
from tests.server.test_differential import Pair, call


@pytest.fixture(scope="module")
def memvec(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    data = tmp_path_factory.mktemp("failures")
    thread = ServerThread(ServerConfig(port=0, data_dir=data, appendfsync=FsyncPolicy.NO))
    thread.start()
    try:
        yield thread
    finally:
        thread.stop()


@pytest.fixture
def p(pair: Pair) -> Iterator[str]:
    name = f"if{uuid.uuid4().hex[:10]}"
    yield name
    for r in (pair.memvec, pair.peer):
        call(r, "FT.DROPINDEX", f"{name}i")
        keys = call(r, "KEYS", f"{name}*")
        if keys:
            call(r, "DEL", *keys)


def vec(*xs: float, dim: int = 4) -> bytes:
    return np.array(list(xs) + [0.0] * (dim - len(xs)), dtype=np.float32).tobytes()


def as_map(reply: Any) -> dict[bytes, Any]:
    """A RESP2 flat FT.INFO (or section of it) as a map; RESP3 maps pass through."""
    if isinstance(reply, dict):
        return reply
    return dict(zip(reply[::2], reply[1::2], strict=True))


def failures(info: Any) -> tuple[Any, Any, list[Any]]:
    """(hash_indexing_failures, Index Errors, field statistics) of an FT.INFO reply."""
    m = as_map(info)
    fields = [
        {k: as_map(v) if k == b"Index Errors" else v for k, v in as_map(f).items()}
        for f in m[b"field statistics"]
    ]
    return m[b"hash_indexing_failures"], as_map(m[b"Index Errors"]), fields


def test_unindexable_hashes_are_stored_and_counted(pair: Pair, p: str) -> None:
    pair.same(
        "FT.CREATE", f"{p}i", "ON", "HASH", "PREFIX", "1", f"{p}:", "SCHEMA",
        "v", "VECTOR", "HNSW", "6", "TYPE", "FLOAT32", "DIM", "4", "DISTANCE_METRIC", "L2",
        "t", "TAG", "n", "NUMERIC",
    )  # fmt: skip
    wait_index_scanned(pair.peer, f"{p}i")
    pair.same("HSET", f"{p}:ok", "v", vec(1), "t", "a", "n", "1")
    pair.same("HSET", f"{p}:short", "v", vec(1, dim=5), "t", "a")
    pair.same("HSET", f"{p}:nan", "n", "abc", "t", "a")
    pair.same("HGETALL", f"{p}:short")
    pair.same("FT.SEARCH", f"{p}i", "@t:{a}", "NOCONTENT")
    knn = ("*=>[KNN 3 @v $B]", "PARAMS", "2", "B", vec(1), "NOCONTENT", "DIALECT", "2")
    pair.same("FT.SEARCH", f"{p}i", *knn)
    mine, theirs = pair.both("FT.INFO", f"{p}i")
    assert failures(mine) == failures(theirs)
    assert failures(mine)[0] == 2
    # a failed document written again with good values joins the index; counts stay
    pair.same("HSET", f"{p}:short", "v", vec(2))
    pair.same("FT.SEARCH", f"{p}i", *knn)
    mine, theirs = pair.both("FT.INFO", f"{p}i")
    assert failures(mine) == failures(theirs)
    # and a good document made bad leaves the index
    pair.same("HSET", f"{p}:ok", "v", b"xyz")
    pair.same("FT.SEARCH", f"{p}i", *knn)
    mine, theirs = pair.both("FT.INFO", f"{p}i")
    assert failures(mine) == failures(theirs)
    assert as_map(mine)[b"num_docs"] == as_map(theirs)[b"num_docs"] == 1


def test_ft_info_keys_in_the_peers_order(pair: Pair, p: str) -> None:
    pair.same(
        "FT.CREATE", f"{p}i", "ON", "HASH", "PREFIX", "1", f"{p}:", "SCHEMA",
        "v", "VECTOR", "FLAT", "6", "TYPE", "FLOAT32", "DIM", "4", "DISTANCE_METRIC", "COSINE",
        "t", "TAG",
    )  # fmt: skip
    wait_index_scanned(pair.peer, f"{p}i")
    pair.same("HSET", f"{p}:1", "v", vec(1), "t", "a")
    pair.same("HSET", f"{p}:2", "v", b"bad", "t", "b")
    mine, theirs = map(as_map, pair.both("FT.INFO", f"{p}i"))
    assert [k for k in mine if k != b"lag_records"] == list(theirs)
    for key, value in theirs.items():
        assert type(mine[key]) is type(value), key  # RESP2 strings / RESP3 doubles alike
    for section in (b"gc_stats", b"cursor_stats", b"dialect_stats", b"Index Errors"):
        assert list(as_map(mine[section])) == list(as_map(theirs[section]))
    same = (b"index_name", b"index_options", b"index_definition", b"attributes", b"num_docs",
            b"hash_indexing_failures", b"cursor_stats", b"dialect_stats", b"Index Errors")  # fmt: skip
    assert {k: mine[k] for k in same} == {k: theirs[k] for k in same}


def test_strict_index_refuses_the_write(memvec: ServerThread, tmp_path: Path) -> None:
    """STRICT is memvec's own option (the peer has none): the write is refused and
    changes nothing, nothing is counted, and the option survives a restart."""
    r = redis.Redis(host="127.0.0.1", port=memvec.port, protocol=2)
    p = f"st{uuid.uuid4().hex[:8]}"
    try:
        r.execute_command(
            "FT.CREATE", f"{p}i", "ON", "HASH", "PREFIX", "1", f"{p}:", "STRICT", "SCHEMA",
            "v", "VECTOR", "FLAT", "6", "TYPE", "FLOAT32", "DIM", "4", "DISTANCE_METRIC", "L2",
            "n", "NUMERIC",
        )  # fmt: skip
        r.hset(f"{p}:1", mapping={"v": vec(1), "n": "1"})
        with pytest.raises(redis.ResponseError) as exc:
            r.hset(f"{p}:1", mapping={"v": vec(1, dim=5), "n": "2"})
        assert str(exc.value) == (
            f"Could not add vector with blob size 20 (expected size 16) to field 'v' of index "
            f"'{p}i': send DIM=4 little-endian FLOAT32 values"
        )
        assert r.hgetall(f"{p}:1") == {b"v": vec(1), b"n": b"1"}
        with pytest.raises(redis.ResponseError, match="NaN or infinite"):
            r.hset(f"{p}:2", "v", np.array([np.nan, 0, 0, 0], dtype=np.float32).tobytes())
        assert r.exists(f"{p}:2") == 0
        info = as_map(r.execute_command("FT.INFO", f"{p}i"))
        assert info[b"hash_indexing_failures"] == 0 and info[b"num_docs"] == 1
        assert info[b"index_options"] == [b"STRICT"]
        # keys outside the prefix are not the index's business
        assert r.hset(f"x{p}", "v", b"abc") == 1
    finally:
        r.execute_command("FT.DROPINDEX", f"{p}i", "DD")
        r.delete(f"x{p}")
        r.close()


def test_strict_survives_restart(tmp_path: Path) -> None:
    config = ServerConfig(port=0, data_dir=tmp_path / "d")
    with ServerThread(config) as server:
        r = redis.Redis(port=server.port, protocol=2)
        r.execute_command("FT.CREATE", "i", "ON", "HASH", "STRICT", "SCHEMA", "n", "NUMERIC")
        r.execute_command("FT.CREATE", "j", "ON", "HASH", "PREFIX", "1", "j:", "SCHEMA",
                          "n", "NUMERIC")  # fmt: skip
        r.close()
    with ServerThread(config) as server:
        r = redis.Redis(port=server.port, protocol=2)
        with pytest.raises(redis.ResponseError, match="Invalid numeric value: 'abc'"):
            r.hset("k", "n", "abc")
        r.execute_command("FT.DROPINDEX", "i")
        assert r.hset("j:1", "n", "abc") == 1  # j is not strict
        info = as_map(r.execute_command("FT.INFO", "j"))
        assert info[b"hash_indexing_failures"] == 1
        r.close()


def test_redisvl_embeddings_cache_under_an_index_prefix(pair: Pair, p: str) -> None:
    """RedisVL's EmbeddingsCache stores the embedding as JSON text in a field the index
    reads as a vector: the writes must succeed (and be counted as indexing failures)."""
    pair.same(
        "FT.CREATE", f"{p}i", "ON", "HASH", "PREFIX", "1", p, "SCHEMA",
        "embedding", "VECTOR", "FLAT", "6", "TYPE", "FLOAT32", "DIM", "4",
        "DISTANCE_METRIC", "COSINE",
    )  # fmt: skip
    wait_index_scanned(pair.peer, f"{p}i")
    pair.same("HSET", f"{p}doc:1", "embedding", vec(1, 2))
    outcomes = []
    for client in (pair.memvec, pair.peer):
        cache = EmbeddingsCache(name=f"{p}cache", redis_client=client)
        key = cache.set(content="hello", model_name="m", embedding=[0.1, 0.2, 0.3, 0.4],
                        metadata={"source": "test"})  # fmt: skip
        entry = cache.get(content="hello", model_name="m")
        assert entry is not None
        outcomes.append(
            (
                key.removeprefix(f"{p}cache:") != key,
                entry["embedding"],
                entry["metadata"],
                cache.exists(content="hello", model_name="m"),
                cache.get(content="other", model_name="m"),
            )
        )
        cache.drop(content="hello", model_name="m")
        assert not cache.exists(content="hello", model_name="m")
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][1] == [0.1, 0.2, 0.3, 0.4]
    knn = ("*=>[KNN 2 @embedding $B]", "PARAMS", "2", "B", vec(1, 2), "NOCONTENT", "DIALECT", "2")
    pair.same("FT.SEARCH", f"{p}i", *knn)
    mine, theirs = pair.both("FT.INFO", f"{p}i")
    assert failures(mine) == failures(theirs)
    assert failures(mine)[0] == 1


def test_bad_vector_inside_a_pipeline_of_writes(memvec: ServerThread) -> None:
    """Pipelined HSETs have their vectors inserted as one batch: a bad one among them is
    stored and counted, the others are indexed."""
    r = redis.Redis(host="127.0.0.1", port=memvec.port, protocol=2)
    p = f"pl{uuid.uuid4().hex[:8]}"
    try:
        r.execute_command(
            "FT.CREATE", f"{p}i", "ON", "HASH", "PREFIX", "1", f"{p}:", "SCHEMA",
            "v", "VECTOR", "HNSW", "6", "TYPE", "FLOAT32", "DIM", "4", "DISTANCE_METRIC", "L2",
        )  # fmt: skip
        with r.pipeline(transaction=False) as pipe:
            for i in range(40):
                pipe.hset(f"{p}:{i}", "v", vec(i) if i != 7 else b"short")
            assert pipe.execute() == [1] * 40
        info = as_map(r.execute_command("FT.INFO", f"{p}i"))
        assert info[b"num_docs"] == 39 and info[b"hash_indexing_failures"] == 1
        reply = r.execute_command("FT.SEARCH", f"{p}i", "*=>[KNN 2 @v $B]", "PARAMS", "2",
                                  "B", vec(7), "NOCONTENT", "DIALECT", "2")  # fmt: skip
        assert sorted(reply[1:]) == [f"{p}:6".encode(), f"{p}:8".encode()]
        assert r.hget(f"{p}:7", "v") == b"short"
    finally:
        r.execute_command("FT.DROPINDEX", f"{p}i", "DD")
        r.close()
