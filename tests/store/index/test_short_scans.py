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


def test_a_filter_whose_rows_were_scanned_alone_is_no_long_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A filtered FLAT KNN whose last run scanned its few rows alone (``filtered-rows``)
    stays off the scan pool; when its set grows past the share, the pass takes it back."""
    with Engine(EngineConfig(data_dir=tmp_path)) as e:
        e.execute("FT.CREATE", "f", "ON", "HASH", "PREFIX", "1", "f:", "SCHEMA", "t", "TAG",
                  "v", "VECTOR", "FLAT", "6", "TYPE", "FLOAT32", "DIM", "4",
                  "DISTANCE_METRIC", "COSINE")  # fmt: skip
        for i in range(40):
            e.execute("HSET", f"f:{i}", "v", struct.pack("4f", i, 1, 0, 0),
                      "t", "few" if i < 2 else "many")  # fmt: skip
        monkeypatch.setattr(manager, "SHORT_SCAN_FLOATS", 39)
        few, many = b"@t:{few}=>[KNN 3 @v $B]", b"@t:{many}=>[KNN 3 @v $B]"
        assert e.indexes.long_scans(b"f", few) and e.indexes.long_scans(b"f", many)  # unknown yet

        def search(query: bytes) -> None:
            e.execute("FT.SEARCH", "f", query, "PARAMS", "2", "B",
                      struct.pack("4f", 1, 1, 0, 0), "DIALECT", "2")  # fmt: skip

        search(few)
        search(many)
        alone = e.indexes.get("f").alone_scans
        assert alone == {few}
        assert not e.indexes.long_scans(b"f", few)  # 2 of 40 rows: scanned alone
        assert e.indexes.long_scans(b"f", many)  # 38 of 40: the shared pass
        for i in range(2, 40):
            e.execute("HSET", f"f:{i}", "t", "few")
        search(few)
        assert not alone and e.indexes.long_scans(b"f", few)


def test_the_plans_kept_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from store.index import search_index

    monkeypatch.setattr(search_index, "ALONE_SCANS_KEPT", 3)
    with Engine(EngineConfig(data_dir=tmp_path)) as e:
        e.execute("FT.CREATE", "f", "ON", "HASH", "SCHEMA", "v", "VECTOR", "FLAT", "6",
                  "TYPE", "FLOAT32", "DIM", "4", "DISTANCE_METRIC", "COSINE")  # fmt: skip
        index = e.indexes.get("f")
        for n in range(7):
            index.note_plan(b"q%d" % n, "filtered-rows")
            assert len(index.alone_scans) <= 3
        assert index.alone_scans == {b"q6"}  # forgotten all at once at the limit
        index.note_plan(b"q6", "filtered-rows")  # known: nothing forgotten
        index.note_plan(b"q7", "ann")  # another plan: not kept
        index.note_plan(b"x" * (search_index.ALONE_SCAN_TEXT_MAX + 1), "filtered-rows")
        assert index.alone_scans == {b"q6"}
        index.note_plan(b"q6", "filtered-ann")  # its set grew: out
        assert not index.alone_scans
