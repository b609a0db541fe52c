"""FT indexes ON JSON inside the engine: schema parsing, the JSON-to-field rules
(:mod:`store.index.json_fields`, each checked against the peer by
tests/server/test_json_index.py), and the index's life with JSON documents: writes,
restarts (snapshot + log), FT.ALTER, FT.DROPINDEX DD, the exact KNN path over a small
filtered subset, and HASH and JSON indexes over one prefix taking only their own type.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from store import Engine, EngineConfig
from store.datatypes.json_doc import JsonDoc
from store.errors import DocumentRejected, QuerySyntaxError
from store.index.json_fields import project, reply_value
from store.index.schema import FieldType, parse_ft_create
from store.index.search_index import SearchIndex

VECTOR = "VECTOR FLAT 6 TYPE FLOAT32 DIM 2 DISTANCE_METRIC L2"


def definition(kind: str) -> Any:
    return parse_ft_create(["i", "ON", "JSON", "SCHEMA", "$.f", "AS", "f", *kind.split()])


def test_schema_on_json_round_trips() -> None:
    d = parse_ft_create(
        "i ON JSON PREFIX 1 j: SCHEMA $.a AS a TAG $.b AS b TAG SEPARATOR , "
        "$.t AS t TEXT SORTABLE $.n AS n NUMERIC".split()
    )
    assert d.on == "JSON"
    assert [f.separator for f in d.fields_of(FieldType.TAG)] == [b"", b","]
    assert d.field_by_alias(b"t").unf  # every SORTABLE field of a JSON index is UNF
    assert parse_ft_create(d.to_args()) == d
    assert d.info_definition()[:2] == [b"key_type", b"JSON"]
    v64 = parse_ft_create(["i", "ON", "JSON", "SCHEMA", "$.v", "AS", "v", "VECTOR", "FLAT",
                           "6", "TYPE", "FLOAT64", "DIM", "2", "DISTANCE_METRIC", "L2"])  # fmt: skip
    assert v64.fields[0].vector.type == "FLOAT64" and v64.fields[0].vector.blob_size == 16
    assert parse_ft_create(v64.to_args()) == v64
    on_hash = parse_ft_create(["i", "ON", "HASH", *v64.to_args()[6:]])
    assert on_hash.fields[0].vector.type == "FLOAT64"
    with pytest.raises(QuerySyntaxError, match="STRICT applies to ON HASH"):
        parse_ft_create("i ON JSON STRICT SCHEMA $.a TAG".split())
    with pytest.raises(QuerySyntaxError, match="Invalid rule type: XML"):
        parse_ft_create("i ON XML SCHEMA $.a TAG".split())


NUMBER_ONLY = "Invalid JSON type: Numeric type can represent only NUMERIC field"
STRING_ONLY = "Invalid JSON type: String type can represent only TEXT, TAG, GEO or GEOMETRY field"
BOOL_ONLY = "Invalid JSON type: Boolean type can be represent only TAG field"
OBJECT = "Invalid JSON type: Object type can represent only GEOMETRY fields"
STRINGS = "TEXT/TAG fields can only contain strings or nulls"

# (field type, JSON value, what the index takes or the error), as the peer answers
RULES: list[tuple[str, Any, Any]] = [
    ("TAG", ["a", "b"], (b"a", b"b")),
    ("TAG", "a,b", b"a,b"),
    ("TAG", True, b"true"),
    ("TAG", None, None),
    ("TAG", [], None),
    ("TAG", 1, NUMBER_ONLY),
    ("TAG", [1, "x"], STRINGS),
    ("TAG", [["a"]], STRINGS),
    ("TAG", [True], STRINGS),
    ("TAG", {"a": 1}, OBJECT),
    ("NUMERIC", 3, b"3"),
    ("NUMERIC", 2.5, b"2.5"),
    ("NUMERIC", [1, 2], (b"1", b"2")),
    ("NUMERIC", [1, None], b"1"),
    ("NUMERIC", "7", STRING_ONLY),
    ("NUMERIC", [1, "x"], "NUMERIC fields can only contain numeric or nulls"),
    ("NUMERIC", [[1]], "NUMERIC fields can only contain numeric or nulls"),
    ("NUMERIC", [True], "NUMERIC fields can only contain numeric or nulls"),
    ("NUMERIC", True, BOOL_ONLY),
    ("NUMERIC", {"a": 1}, OBJECT),
    ("TEXT", "hi there", b"hi there"),
    ("TEXT", ["alpha", "beta"], (b"alpha", b"beta")),
    ("TEXT", 5, NUMBER_ONLY),
    ("TEXT", True, BOOL_ONLY),
    ("TEXT", [1], STRINGS),
    (VECTOR, [1, 2], struct.pack("<2f", 1, 2)),
    (VECTOR, None, None),
    (VECTOR, [1, 2, 3], "Invalid vector length. Expected 2, got 3"),
    (VECTOR, [], "Empty array for vector field on JSON document"),
    (VECTOR, [1, "a"], "Invalid vector element at index 1"),
    (VECTOR, "ab", STRING_ONLY),
]


@pytest.mark.parametrize(("kind", "value", "expected"), RULES)
def test_json_values_as_the_index_takes_them(kind: str, value: Any, expected: Any) -> None:
    d = definition(kind)
    if isinstance(expected, str):
        with pytest.raises(DocumentRejected) as caught:
            project(d, JsonDoc({"f": value}))
        assert str(caught.value) == expected
    else:
        assert project(d, JsonDoc({"f": value})).get(b"$.f") == expected


def test_reply_values() -> None:
    d = definition("NUMERIC")
    doc = JsonDoc({"f": 2.0, "s": "é", "b": False, "o": {"x": [1, None]}, "z": None})
    assert [reply_value(d, doc, n) for n in (b"f", b"$.f", b"$.s", b"$.b", b"$.o")] == [
        b"2", b"2", "é".encode(), b"0", b'{"x":[1,null]}'
    ]  # fmt: skip
    assert reply_value(d, doc, b"$.z") is None and reply_value(d, doc, b"$.nope") is None
    assert reply_value(d, doc, b"$.o.x[*]", dialect=3) == b"[1,null]"
    assert reply_value(d, doc, b"nope") is None  # neither a path nor a field
    numbers = JsonDoc({"f": [3.0, 0.30000000000000004, 1e20, 12345678901234567890, -0.0, 1e-7]})
    found = [reply_value(d, numbers, b"$.f[%d]" % i) for i in range(6)]
    assert found == [b"3", b"0.3", b"1e+20", b"1.23456789012e+19", b"0", b"1e-07"]  # the peer's


def _engine(path: Path) -> Engine:
    return Engine(EngineConfig(data_dir=path))


def _docs(engine: Engine, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        doc = {"tag": "ab"[i % 2], "n": i, "v": [float(i), 1.0], "nested": {"k": [i]}}
        engine.execute("JSON.SET", f"d:{i}", "$", json.dumps(doc))


def _create(engine: Engine) -> None:
    engine.execute(
        "FT.CREATE", "j", "ON", "JSON", "PREFIX", "1", "d:", "SCHEMA", "$.tag", "AS", "tag",
        "TAG", "$.n", "AS", "n", "NUMERIC", "SORTABLE", "$.v", "AS", "v", *VECTOR.split(),
    )  # fmt: skip


QUERIES: list[tuple[Any, ...]] = [
    ("FT.SEARCH", "j", "@tag:{a} @n:[2 8]", "SORTBY", "n", "RETURN", "1", "$.nested"),
    ("FT.SEARCH", "j", "(@n:[3 4])=>[KNN 5 @v $q AS d]", "PARAMS", "2", "q",
     struct.pack("<2f", 0, 1), "SORTBY", "d", "DIALECT", "2"),
    ("FT.AGGREGATE", "j", "*", "LOAD", "1", "$.nested.k", "SORTBY", "2", "@n", "DESC"),
]  # fmt: skip


def test_json_index_survives_restarts(tmp_path: Path) -> None:
    """The index rebuilt from the snapshot and the log answers as before the restart."""
    with _engine(tmp_path / "data") as engine:
        _create(engine)
        _docs(engine, 6)
        engine.execute("SAVE")
        _docs(engine, 4, start=6)  # only in the log
        engine.execute("JSON.SET", "d:bad", "$", json.dumps({"n": "x"}))
        before = [engine.execute(*q) for q in QUERIES]
    assert before[0][0] == 4 and before[1][0] == 2  # d:2 4 6 8; KNN over d:3 d:4
    with _engine(tmp_path / "data") as engine:
        assert [engine.execute(*q) for q in QUERIES] == before


def test_alter_drop_and_types(tmp_path: Path) -> None:
    with _engine(tmp_path / "data") as engine:
        _create(engine)
        _docs(engine, 4)
        engine.execute("HSET", "d:hash", "tag", "a", "n", "1")
        engine.execute("FT.CREATE", "h", "ON", "HASH", "PREFIX", "1", "d:", "SCHEMA", "tag", "TAG")
        assert engine.execute("FT.SEARCH", "j", "@tag:{a}", "NOCONTENT") == [2, b"d:0", b"d:2"]
        assert engine.execute("FT.SEARCH", "h", "*", "NOCONTENT") == [1, b"d:hash"]
        engine.execute("FT.ALTER", "j", "SCHEMA", "ADD", "$.nested.k[*]", "AS", "k", "NUMERIC")
        assert engine.execute("FT.SEARCH", "j", "@k:[3 3]", "NOCONTENT") == [1, b"d:3"]
        engine.execute("JSON.SET", "d:1", "$.tag", '"a"')
        assert engine.execute("FT.SEARCH", "j", "@tag:{a}", "NOCONTENT")[0] == 3
        assert engine.execute("FT.TAGVALS", "j", "tag") == [b"a", b"b"]
        # SKIPINITIALSCAN: the documents keep their fields until their next write (the peer's)
        engine.execute("FT.ALTER", "j", "SKIPINITIALSCAN", "SCHEMA", "ADD", "$.nested.k[0]", "AS", "m",
                       "NUMERIC")  # fmt: skip
        assert engine.execute("FT.SEARCH", "j", "@m:[0 10]", "NOCONTENT") == [0]
        engine.execute("JSON.SET", "d:2", "$.tag", '"b"')
        assert engine.execute("FT.SEARCH", "j", "@m:[0 10]", "NOCONTENT") == [1, b"d:2"]
        engine.execute("FT.DROPINDEX", "j", "DD")
        assert engine.execute("EXISTS", "d:0", "d:1", "d:hash") == 1


def test_multi_vector_documents(tmp_path: Path) -> None:
    """A document's extra vectors follow its writes (fewer vectors: the stale ones no
    longer match) and survive a restart from a snapshot plus the log."""

    def knn(engine: Engine) -> Any:
        return engine.execute(
            "FT.SEARCH", "m", "*=>[KNN 3 @v $q AS d]", "PARAMS", "2", "q",
            struct.pack("<2f", 9, 9), "SORTBY", "d", "RETURN", "1", "d", "DIALECT", "2",
        )  # fmt: skip

    with _engine(tmp_path / "data") as engine:
        engine.execute("FT.CREATE", "m", "ON", "JSON", "PREFIX", "1", "m:", "SCHEMA",
                       "$.vs[*]", "AS", "v", *VECTOR.replace("FLAT", "HNSW").split())  # fmt: skip
        engine.execute("JSON.SET", "m:1", "$", json.dumps({"vs": [[0, 0], [9, 9]]}))
        engine.execute("JSON.SET", "m:2", "$", json.dumps({"vs": [[8, 8]]}))
        engine.execute("JSON.SET", "m:3", "$", json.dumps({"vs": [[1, 1], [2, 2], [7, 9]]}))
        assert knn(engine) == [3, b"m:1", [b"d", b"0"], b"m:2", [b"d", b"2"],
                               b"m:3", [b"d", b"4"]]  # fmt: skip
        engine.execute("SAVE")
        engine.execute("JSON.SET", "m:1", "$.vs", "[[0, 0]]")  # its nearest vector is gone
        engine.execute("DEL", "m:2")
        after = knn(engine)
        assert after == [2, b"m:3", [b"d", b"4"], b"m:1", [b"d", b"162"]]
    with _engine(tmp_path / "data") as engine:
        assert knn(engine) == after


def test_a_label_without_a_key_reads_no_document_in_a_filtered_subset() -> None:
    """The exact scan of a filtered subset skips a label the index maps to no key; it never
    reads the document stored at the empty key in its place (as the hash path's gather)."""
    definition = parse_ft_create(["i", "ON", "JSON", "SCHEMA", "$.v", "AS", "v", "VECTOR",
                                  "FLAT", "6", "TYPE", "FLOAT32", "DIM", "2",
                                  "DISTANCE_METRIC", "L2"])  # fmt: skip
    index = SearchIndex(definition)
    index.label_to_key[5] = b"j:1"
    data = {b"": JsonDoc({"v": [1.0, 2.0]}), b"j:1": JsonDoc({"v": [3.0, 4.0]})}
    labels: list[int] = []
    blobs: list[bytes] = []
    index._json_subset(index.vector_fields[0], {5, 999}, data, labels, blobs)
    assert labels == [5]
    assert blobs == [np.array([3.0, 4.0], dtype="<f4").tobytes()]
