"""One contract for both store clients: the in-process engine and RESP (memvec server).

Writes (``run``: pipelined with errors in place, atomic MULTI/EXEC) and reads (the
``SearchStore`` operations) give the same results through ``EmbeddedStore`` and
``RespStore``; failures are the ``pipeline.errors`` store family.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from pipeline.errors import IndexNotFound, StoreRejected
from pipeline.stores import EmbeddedStore, RespStore, SearchHit, open_store
from store import Engine, EngineConfig
from store.server import ServerConfig, ServerThread

Client = EmbeddedStore | RespStore


@pytest.fixture(params=["embedded", "resp"])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Client]:
    with Engine(EngineConfig(data_dir=tmp_path / "store")) as engine:
        if request.param == "embedded":
            yield EmbeddedStore(engine)
            return
        with ServerThread(ServerConfig(port=0, data_dir=None), engine=engine) as server:
            resp = RespStore([f"redis://127.0.0.1:{server.port}"])
            try:
                yield resp
            finally:
                resp.close()


def vec(*values: float) -> bytes:
    return np.asarray(values, dtype=np.float32).tobytes()


def test_writes_pipelined_and_atomic(client: Client) -> None:
    replies = client.run([["HSET", "a", "f", "1"], ["HINCRBY", "a", "f", "x"], ["EXISTS", "a"]])
    assert replies[0] == 1 and replies[2] == 1
    assert isinstance(replies[1], Exception)  # an error reply stays in its place
    assert client.run([["HSET", "b", "f", "2"], ["DEL", "a"]], atomic=True) == [1, 1]
    assert client.get("a") is None and client.get("b") == {"f": b"2"}


def test_reads_search_and_index_info(client: Client) -> None:
    client.run(
        [
            ["FT.CREATE", "ix", "ON", "HASH", "PREFIX", "1", "d:", "SCHEMA", "t", "TAG",
             "v", "VECTOR", "FLAT", "6", "TYPE", "FLOAT32", "DIM", "2", "DISTANCE_METRIC", "L2"],
            ["HSET", "d:1", "t", "x", "v", vec(0, 0)],
            ["HSET", "d:2", "t", "y", "v", vec(3, 4)],
        ]
    )  # fmt: skip
    hits = client.search("ix", vec(0, 1), 2, vector_field="v", return_fields=["t"])
    assert [h.id for h in hits] == ["d:1", "d:2"] and isinstance(hits[0], SearchHit)
    assert hits[0].fields == {"t": b"x"} and hits[0].distance < hits[1].distance
    assert [h.id for h in client.search("ix", vec(0, 1), 2, "@t:{y}", vector_field="v")] == ["d:2"]
    info = client.index_info("ix")
    assert (info.num_docs, info.dims, info.vector_field, info.prefixes) == (2, 2, "v", ("d:",))
    assert [i.name for i in client.indexes()] == ["ix"]
    client.ping()


def test_failures_are_the_store_family(client: Client) -> None:
    with pytest.raises(IndexNotFound) as missing:
        client.index_info("nope")
    assert missing.value.http_status == 404 and not missing.value.retriable
    client.run([["FT.CREATE", "ix", "ON", "HASH", "SCHEMA", "v", "VECTOR", "FLAT", "6",
                 "TYPE", "FLOAT32", "DIM", "2", "DISTANCE_METRIC", "L2"]])  # fmt: skip
    with pytest.raises(StoreRejected) as rejected:
        client.search("ix", vec(0, 1), 1, "((", vector_field="v")
    assert rejected.value.http_status == 400 and not rejected.value.retriable


def test_open_store_names_the_accepted_forms(tmp_path: Path) -> None:
    store, close = open_store(f"embedded:{tmp_path / 'd'}")
    try:
        assert isinstance(store, EmbeddedStore) and store.run([["ECHO", "hi"]]) == [b"hi"]
    finally:
        close()
    with pytest.raises(ValueError, match=r"embedded:<dir>, redis://.* or redis\+cluster://"):
        open_store("memcached://x")
