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
        assert not indexes.long_scans(b"flat") and not indexes.long_scans(b"hnsw")
        monkeypatch.setattr(manager, "SHORT_SCAN_FLOATS", 39)  # 10 vectors x 4 = 40
        assert not indexes.short_scans(b"flat")
        # long: its passes are shared on the scan pool (Connection._offloads)
        assert indexes.long_scans(b"flat") and indexes.long_scans("alias")
        assert not indexes.long_scans(b"hnsw") and not indexes.long_scans(b"text")
        assert not indexes.long_scans(b"missing")
