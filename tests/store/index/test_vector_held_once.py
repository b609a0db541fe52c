"""A document's FLOAT32 vector is held once: the HNSW graph references the hash field's
own ``bytes`` object (decision 0042), when written one at a time, in a pipelined batch,
and after a restart from a snapshot (the graph's restored copies give way to the
documents' blobs). Other vector types keep a copy and still search."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from store import Engine, EngineConfig
from store.index import blob_graph
from store.index.hnsw import HnswIndex

pytestmark = pytest.mark.skipif(
    not blob_graph.AVAILABLE, reason="needs store.index.hnsw_graph (test_hnsw_graph fails then)"
)

DIM = 16


def _create(e: Engine, vtype: str = "FLOAT32") -> None:
    e.execute(
        "FT.CREATE", "idx", "ON", "HASH", "PREFIX", "1", "d:", "SCHEMA",
        "v", "VECTOR", "HNSW", "6", "TYPE", vtype, "DIM", str(DIM), "DISTANCE_METRIC", "COSINE",
    )  # fmt: skip


def _blob(i: int, dtype: str = "<f4") -> bytes:
    return np.random.default_rng(i).standard_normal(DIM).astype(dtype).tobytes()


def _shared(e: Engine) -> tuple[int, int]:
    """(documents whose blob is the graph's values object, documents)."""
    index = e.indexes.get("idx")
    assert index is not None
    graph = index.vectors[b"v"]
    assert isinstance(graph, HnswIndex)
    shared = 0
    for key, label in index.key_to_label.items():
        blob = e.keyspace.data[key][b"v"]
        shared += graph._index.vector(label) is blob
    return shared, len(index.key_to_label)


def _nearest(e: Engine, i: int, dtype: str = "<f4") -> bytes:
    reply = e.execute(
        "FT.SEARCH", "idx", "*=>[KNN 1 @v $B]", "PARAMS", "2", "B", _blob(i, dtype),
        "NOCONTENT", "DIALECT", "2",
    )  # fmt: skip
    assert isinstance(reply, list)
    return bytes(reply[1])


def test_the_graph_holds_the_hashes_blobs_written_alone_and_in_a_batch() -> None:
    with Engine(EngineConfig(data_dir=None)) as e:
        _create(e)
        for i in range(20):
            e.execute("HSET", f"d:{i}", "v", _blob(i))
        e.execute_many([["HSET", f"d:{i}", "v", _blob(i)] for i in range(20, 220)])
        assert _shared(e) == (220, 220)
        e.execute("HSET", "d:5", "v", _blob(1005))  # rewritten: the new blob
        assert _shared(e) == (220, 220)
        assert _nearest(e, 1005) == b"d:5"


def test_a_restart_gives_the_graph_the_restored_documents_blobs(tmp_path: Path) -> None:
    cfg = EngineConfig(data_dir=tmp_path)
    with Engine(cfg) as e:
        _create(e)
        e.execute_many([["HSET", f"d:{i}", "v", _blob(i)] for i in range(300)])
        e.execute("DEL", "d:7")  # its slot keeps its values for the walk
        e.execute("SAVE")
        e.execute("HSET", "d:300", "v", _blob(300))  # from the log
    with Engine(cfg) as e:
        assert _shared(e) == (300, 300)
        assert _nearest(e, 42) == b"d:42" and _nearest(e, 300) == b"d:300"


def test_other_vector_types_keep_a_copy_and_search() -> None:
    with Engine(EngineConfig(data_dir=None)) as e:
        _create(e, "FLOAT64")
        e.execute_many([["HSET", f"d:{i}", "v", _blob(i, "<f8")] for i in range(100)])
        assert _shared(e) == (0, 100)
        assert _nearest(e, 17, "<f8") == b"d:17"
