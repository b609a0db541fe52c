"""``IndexManager.short_scans``: which indexes' searches the server keeps on its loop."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from store.config import EngineConfig
from store.engine import Engine
from store.index import manager


def _vectors(e: Engine, prefix: str, n: int) -> None:
    for i in range(n):
        e.execute("HSET", f"{prefix}{i}", "v", struct.pack("4f", i, 1, 0, 0))


def test_small_flat_indexes_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Engine(EngineConfig(data_dir=tmp_path)) as e:
        for name, algo in (("flat", "FLAT"), ("hnsw", "HNSW")):
            e.execute("FT.CREATE", name, "ON", "HASH", "PREFIX", "1", f"{name}:", "SCHEMA",
                      "v", "VECTOR", algo, "6", "TYPE", "FLOAT32", "DIM", "4",
                      "DISTANCE_METRIC", "COSINE")  # fmt: skip
            _vectors(e, f"{name}:", 10)
        e.execute("FT.CREATE", "text", "ON", "HASH", "SCHEMA", "t", "TEXT")
        e.execute("FT.ALIASADD", "alias", "flat")
        indexes = e.indexes
        assert indexes.short_scans(b"flat") and indexes.short_scans("alias")
        assert not indexes.short_scans(b"hnsw")  # a graph walk: the pool runs it beside the loop
        assert not indexes.short_scans(b"text")  # no vector field
        assert not indexes.short_scans(b"missing")
        knn = b"*=>[KNN 3 @v $B]"
        assert not indexes.long_scans(b"flat", knn) and not indexes.long_scans(b"hnsw", knn)
        monkeypatch.setattr(manager, "SHORT_SCAN_FLOATS", 39)  # 10 vectors x 4 = 40
        assert not indexes.short_scans(b"flat")
        # long: its passes are shared on the scan pool (Connection._offloads)
        assert indexes.long_scans(b"flat", knn) and indexes.long_scans("alias", knn)
        assert indexes.long_scans(b"flat", b" (*)=>[KNN 3 @v $B AS d]")  # RedisVL's shape
        assert not indexes.long_scans(b"hnsw", knn) and not indexes.long_scans(b"text", knn)
        assert not indexes.long_scans(b"missing", knn)
        assert indexes.long_scans(b"flat", b"(@t:{a})=>[KNN 3 @v $B]")  # filtered: a scan
        assert not indexes.long_scans(b"flat", b"*")  # no KNN of the field


def test_a_knn_of_the_hnsw_field_of_a_mixed_index_is_no_long_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An index with a large FLAT field and an HNSW one: only KNNs of the FLAT field scan."""
    with Engine(EngineConfig(data_dir=tmp_path)) as e:
        e.execute("FT.CREATE", "m", "ON", "HASH", "PREFIX", "1", "m:", "SCHEMA",
                  "v", "VECTOR", "FLAT", "6", "TYPE", "FLOAT32", "DIM", "4",
                  "DISTANCE_METRIC", "COSINE", "w", "AS", "graph", "VECTOR", "HNSW", "6",
                  "TYPE", "FLOAT32", "DIM", "4", "DISTANCE_METRIC", "COSINE")  # fmt: skip
        for i in range(10):
            vec = struct.pack("4f", i, 1, 0, 0)
            e.execute("HSET", f"m:{i}", "v", vec, "w", vec)
        monkeypatch.setattr(manager, "SHORT_SCAN_FLOATS", 39)
        assert e.indexes.long_scans(b"m", b"*=>[KNN 3 @v $B]")
        assert not e.indexes.long_scans(b"m", b"*=>[KNN 3 @graph $B]")
