"""A KNN page never shows a document that is gone by the time the reply is built.

The index walk may still find a key whose TTL passed (the active sweeper has not deleted it
yet): FT.SEARCH reads each hit's key before answering and drops one that is logically
expired, with or without NOCONTENT, and counts only what it returns.
"""

from __future__ import annotations

import struct
import time
from pathlib import Path

import pytest

from store.config import EngineConfig
from store.engine import Engine


@pytest.mark.parametrize("content", [["NOCONTENT"], ["RETURN", "1", "n"]])
def test_an_expired_document_leaves_the_knn_page(tmp_path: Path, content: list[str]) -> None:
    config = EngineConfig(data_dir=tmp_path, active_expire_interval_ms=3_600_000)
    with Engine(config) as e:
        e.execute("FT.CREATE", "i", "ON", "HASH", "PREFIX", "1", "d:", "SCHEMA",
                  "v", "VECTOR", "HNSW", "6", "TYPE", "FLOAT32", "DIM", "2",
                  "DISTANCE_METRIC", "L2", "n", "NUMERIC")  # fmt: skip
        for i in range(4):
            e.execute("HSET", f"d:{i}", "v", struct.pack("2f", i, 0), "n", str(i))
        e.execute("PEXPIRE", "d:1", "1")
        time.sleep(0.02)  # d:1 is logically expired; no sweeper deletes it
        reply = e.execute(
            "FT.SEARCH", "i", "*=>[KNN 3 @v $q]", "PARAMS", "2", "q",
            struct.pack("2f", 0, 0), *content, "DIALECT", "2",
        )  # fmt: skip
        keys = reply[1::2] if content[0] == "RETURN" else reply[1:]
        assert keys == [b"d:0", b"d:2"]
        assert reply[0] == 2
