"""A replica serves FT over JSON: documents from the full sync (a snapshot: its typed
section and the index restored from it) and from the stream (JSON.SET/JSON.DEL
re-applied) are indexed and searched as on the primary, indexing failures included.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

from tests.harness.wait import wait_for
from tests.replication.nodes import Node, converged

SCHEMA = ["$.tag", "AS", "tag", "TAG", "$.n", "AS", "n", "NUMERIC", "SORTABLE",
          "$.v", "AS", "v", "VECTOR", "HNSW", "6", "TYPE", "FLOAT32", "DIM", "2",
          "DISTANCE_METRIC", "L2"]  # fmt: skip
QUERIES = [
    ("FT.SEARCH", "j", "@tag:{a}", "SORTBY", "n", "RETURN", "2", "n", "$.meta"),
    ("FT.SEARCH", "j", "*=>[KNN 2 @v $q AS d]", "PARAMS", "2", "q",
     struct.pack("<2f", 1, 1), "SORTBY", "d", "DIALECT", "2"),
    ("FT.AGGREGATE", "j", "*", "LOAD", "1", "$.meta", "SORTBY", "2", "@n", "ASC"),
]  # fmt: skip


def _doc(i: int) -> str:
    return json.dumps({"tag": "ab"[i % 2], "n": i, "v": [i, 1.0], "meta": {"i": i}})


def test_replica_serves_json_index(tmp_path: Path) -> None:
    primary = Node(tmp_path / "p")
    replica: Node | None = None
    try:
        r = primary.client(protocol=2)
        r.execute_command("FT.CREATE", "j", "ON", "JSON", "PREFIX", "1", "d:", "SCHEMA", *SCHEMA)
        for i in range(6):
            r.execute_command("JSON.SET", f"d:{i}", "$", _doc(i))
        r.execute_command("JSON.SET", "d:bad", "$", json.dumps({"n": "not a number"}))
        assert r.save()  # the full sync restores the index from this snapshot
        replica = Node(tmp_path / "r", "--replicaof", primary.replicaof)
        rr = replica.client(protocol=2)
        for i in range(6, 10):  # through the stream
            r.execute_command("JSON.SET", f"d:{i}", "$", _doc(i))
        r.execute_command("JSON.SET", "d:0", "$.tag", '"b"')
        r.execute_command("JSON.DEL", "d:2")
        wait_for(lambda: converged(primary, replica), 30, message="replica caught up")
        for query in QUERIES:
            assert rr.execute_command(*query) == r.execute_command(*query), query[2]
        found = rr.execute_command("FT.SEARCH", "j", "@tag:{a}", "NOCONTENT", "SORTBY", "n")
        assert found == [3, b"d:4", b"d:6", b"d:8"]  # d:0 retagged, d:2 deleted
        info = dict(zip(*[iter(rr.execute_command("FT.INFO", "j"))] * 2, strict=True))
        assert info[b"num_docs"] == 9
        assert rr.execute_command("JSON.GET", "d:bad", "$.n") == b'["not a number"]'

    finally:
        if replica is not None:
            replica.stop()
        primary.stop()
