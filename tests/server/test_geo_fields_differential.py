"""GEO fields of FT indexes against the peer (RediSearch 2.10), replies compared raw.

One memvec server per module and two indexes on each side (ON HASH and ON JSON, their
data only read by the tests), RESP2 and RESP3: radius queries (also as ``$params``,
negated, in unions and intersections), GEOFILTER, FT.AGGREGATE ``geodistance``,
FT.EXPLAIN, FT.INFO's GEO attributes and indexing failures, and the error texts of bad
filters. The boundary queries put the radius exactly on a document's distance (the peer
includes it) and a hair below it (excluded), so the stored precision must be the peer's.
"""

from __future__ import annotations

import json
import math
import shlex
import struct
import uuid
from collections.abc import Iterator

import pytest
import redis

from store.geo.geohash import decode_score, distance_m, encode_score
from store.server import ServerThread
from tests.harness.components import RedisStack, wait_index_scanned
from tests.server.test_differential import Pair, call

HASH_DOCS: list[dict[str, str]] = [
    {"loc": "2.3522,48.8566", "kind": "city", "n": "1"},  # Paris
    {"loc": "2.2945,48.8584", "kind": "tower", "n": "2"},
    {"loc": "2.3376 48.8606", "kind": "museum", "n": "3"},  # space-separated
    {"loc": "-0.1276,51.5072", "kind": "city", "n": "4"},  # London
    {"loc": "13.405,52.52", "kind": "city", "n": "5"},  # Berlin
    {"loc": "-179.9,-85.0", "kind": "edge", "n": "6"},
    {"loc": ",10", "kind": "odd", "n": "7"},  # an empty longitude is 0 (strtod)
    {"kind": "nowhere", "n": "8"},  # no GEO field: indexed, matches no GEO filter
    {"loc": "bad", "kind": "broken", "n": "9"},  # each of these fails the document
    {"loc": "200,10", "kind": "broken", "n": "10"},
    {"loc": "2.35 , 48.85", "kind": "broken", "n": "11"},
    {"loc": "2.35,48.85 ", "kind": "broken", "n": "12"},
]

JSON_DOCS: list[dict[str, object]] = [
    {"loc": "2.3522,48.8566", "kind": "city"},
    {"loc": ["13.405,52.52", "2.2945,48.8584"], "kind": "two"},  # several points
    {"loc": "-0.1276,51.5072", "kind": "city"},
    {"loc": "nope", "kind": "broken"},
    {"kind": "nowhere"},
    {"loc": ["1,2", None], "kind": "nullish"},
    {"loc": None, "kind": "null"},
    {"loc": ["1,1", "1,1"], "kind": "twice"},  # two records
]

JSON_REJECTED: list[object] = [[1, 2], 5, {"a": 1}, True, ["1,2", 3]]
"""Values of the wrong JSON type, one document each (a separate index: the last error is
what FT.INFO shows)."""

PARIS = (2.3522, 48.8566)


def _boundary_queries() -> list[str]:
    """Radius exactly at each hash document's distance from Paris (as the peer stores the
    point: the geohash cell centre), and just below it."""
    out = []
    for doc in HASH_DOCS[1:5]:
        lon, lat = (float(x) for x in doc["loc"].replace(" ", ",").split(","))
        d = distance_m(*PARIS, *decode_score(encode_score(lon, lat)))
        for r in (d, math.nextafter(d, 0) * (1 - 1e-12)):
            out.append(f"@loc:[{PARIS[0]} {PARIS[1]} {r!r} m]")
    return out


QUERIES: list[str] = [
    "@loc:[2.3522 48.8566 5 km]",
    "@loc:[2.3522 48.8566 5 KM]",
    "@loc:[2.3522 48.8566 3 mi]",
    "@loc:[2.3522 48.8566 20000 ft]",
    "@loc:[2.3522 48.8566 4000 m]",
    "@loc:[2.3522 48.8566 1000 km]",
    "@loc:[2.3522,48.8566,500,km]",
    "@loc:[-179.9 -85.0 1 m]",
    "@loc:[0 10 1 m]",
    "-@loc:[2.3522 48.8566 5 km]",
    "@loc:[2.3522 48.8566 5 km] @kind:{city}",
    "@loc:[2.3522 48.8566 5 km] -@kind:{city}",
    "@loc:[2.3522 48.8566 1 km] | @loc:[13.405 52.52 1 km]",
    "@loc:[2.3522 48.8566 1000 km] @n:[2 4]",
    "@kind:{city} | @loc:[2.2945 48.8584 100 m]",
    "@loc:[$lon $lat $r $u]",
    "@nope:[2.3522 48.8566 5 km]",
    "@kind:[2.3522 48.8566 5 km]",
    # errors
    "@loc:[2.3522 48.8566 5 xx]",
    "@loc:[2.3522 48.8566 0 km]",
    "@loc:[2.3522 48.8566 -1 km]",
    "@loc:[2.3522 95 1 km]",
    "@loc:[190 45 1 km]",
    "@loc:[2.3522 48.8566 5]",
    "@loc:[2.3522 48.8566 5 km 3]",
    *_boundary_queries(),
]

GEOFILTERS: list[str] = [
    "GEOFILTER loc 2.3522 48.8566 5 km",
    "GEOFILTER loc 2.3522 48.8566 5 KM",
    "GEOFILTER loc 2.3522 48.8566 5 km GEOFILTER loc 2.2945 48.8584 1 km",
    "GEOFILTER loc 2.3522 48.8566 5 km GEOFILTER loc 13.405 52.52 1 km",
    "GEOFILTER loc 2.3522 48.8566 500 mi FILTER n 3 5",
    "GEOFILTER kind 2.3522 48.8566 5 km",
    "GEOFILTER nope 2.3522 48.8566 5 km",
    "GEOFILTER loc abc 48.85 5 km",
    "GEOFILTER loc 2.35 abc 5 km",
    "GEOFILTER loc 2.35 48.85 abc km",
    "GEOFILTER loc 2.35 48.85 0 km",
    "GEOFILTER loc 2.35 48.85 5 xx",
    "GEOFILTER loc 2.35 100 5 km",
    "GEOFILTER loc 2.35 48.85 5",
]

AGGREGATES: list[str] = [
    "* LOAD 2 @loc @n APPLY 'geodistance(@loc, 2.3522, 48.8566)' AS d SORTBY 2 @n ASC",
    "* LOAD 2 @loc @n APPLY 'geodistance(@loc, \"2.3522,48.8566\")' AS d SORTBY 2 @n ASC",
    "* LOAD 2 @loc @n APPLY 'geodistance(2.3522, 48.8566, @loc)' AS d SORTBY 2 @n ASC",
    "* LOAD 2 @loc @n APPLY 'geodistance(@loc, @loc)' AS d SORTBY 2 @n ASC",
    "@loc:[2.3522 48.8566 10 km] LOAD 2 @loc @n APPLY 'geodistance(@loc, 2.35, 48.85) / 1000'"
    " AS km SORTBY 2 @km DESC",
    "* LIMIT 0 1 APPLY 'geodistance(1, 2, 3, 4)' AS e",
    '* LIMIT 0 1 APPLY \'geodistance("1,2", "3,4") + 0.001\' AS e',
    "* LIMIT 0 1 APPLY 'geodistance(\"1,2\", 3)' AS e",
    "* LIMIT 0 1 APPLY 'geodistance(\"a\", 2, 3)' AS e",
    '* LIMIT 0 1 APPLY \'geodistance("1,2", "3,x")\' AS e',
    "* LIMIT 0 1 APPLY 'geodistance(1)' AS e",
    "* LIMIT 0 1 APPLY 'geodistance(1, 2, 3, 4, 5)' AS e",
]

JSON_QUERIES: list[str] = [
    "@loc:[2.3522 48.8566 5 km]",
    "@loc:[13.405 52.52 5 km]",
    "-@loc:[13.405 52.52 5 km]",
    "@loc:[2.3522 48.8566 2000 km] -@kind:{two}",
]


@pytest.fixture(scope="module")
def names(memvec: ServerThread, redis_stack: RedisStack) -> Iterator[tuple[str, str]]:
    """The HASH and JSON index names (each also its key prefix), on both servers."""
    tag = uuid.uuid4().hex[:8]
    hname, jname = f"geoh{tag}", f"geoj{tag}"
    clients = [redis.Redis(host="127.0.0.1", port=memvec.port), redis_stack.client()]
    for r in clients:
        r.execute_command(
            "FT.CREATE", hname, "ON", "HASH", "PREFIX", "1", f"{hname}:", "SCHEMA",
            "loc", "GEO", "SORTABLE", "kind", "TAG", "n", "NUMERIC", "SORTABLE",
        )  # fmt: skip
        r.execute_command(
            "FT.CREATE", jname, "ON", "JSON", "PREFIX", "1", f"{jname}:", "SCHEMA",
            "$.loc", "AS", "loc", "GEO", "$.kind", "AS", "kind", "TAG",
        )  # fmt: skip
        wait_index_scanned(r, hname)
        wait_index_scanned(r, jname)
        for i, doc in enumerate(HASH_DOCS):
            r.hset(f"{hname}:{i}", mapping=doc)
        for i, jdoc in enumerate(JSON_DOCS):
            r.execute_command("JSON.SET", f"{jname}:{i}", "$", json.dumps(jdoc))
    try:
        yield hname, jname
    finally:
        for r in clients:
            call(r, "FT.DROPINDEX", hname, "DD")
            call(r, "FT.DROPINDEX", jname, "DD")
            r.close()


def _diffs(pair: Pair, commands: list[list[object]]) -> list[str]:
    out = []
    for args in commands:
        mine, theirs = pair.both(*args)
        if mine != theirs:
            out.append(f"{args}\n  memvec {mine!r}\n  peer   {theirs!r}")
    return out


def test_radius_queries(pair: Pair, names: tuple[str, str]) -> None:
    """Every query of QUERIES (DIALECT 2, with the ``$params`` some use), reply for reply."""
    hname, _ = names
    params = ["PARAMS", "8", "lon", "2.3522", "lat", "48.8566", "r", "4.5", "u", "km"]
    commands: list[list[object]] = [
        ["FT.SEARCH", hname, q, "NOCONTENT", "SORTBY", "n", "ASC", *params, "DIALECT", "2"]
        for q in QUERIES
    ]
    commands.append(["FT.SEARCH", hname, "@loc:[2.3522 48.8566 2 km]", "RETURN", "2", "loc", "n"])
    assert not (diffs := _diffs(pair, commands)), "\n".join(diffs)


def test_geofilter(pair: Pair, names: tuple[str, str]) -> None:
    hname, _ = names
    commands: list[list[object]] = [
        ["FT.SEARCH", hname, "*", "NOCONTENT", "SORTBY", "n", *shlex.split(g)] for g in GEOFILTERS
    ]
    commands.append(["FT.SEARCH", hname, "@kind:{city}", "NOCONTENT", *GEOFILTERS[0].split()])
    assert not (diffs := _diffs(pair, commands)), "\n".join(diffs)


def test_geodistance(pair: Pair, names: tuple[str, str]) -> None:
    hname, _ = names
    commands: list[list[object]] = [["FT.AGGREGATE", hname, *shlex.split(a)] for a in AGGREGATES]
    assert not (diffs := _diffs(pair, commands)), "\n".join(diffs)


def test_json_points(pair: Pair, names: tuple[str, str]) -> None:
    """ON JSON: a string path, an array of points, an unparsable value (not indexed)."""
    _, jname = names
    commands: list[list[object]] = [
        ["FT.SEARCH", jname, q, "NOCONTENT", "SORTBY", "kind", "DIALECT", "2"] for q in JSON_QUERIES
    ]
    commands.append(["FT.SEARCH", jname, "*", "NOCONTENT", *GEOFILTERS[0].split()])
    assert not (diffs := _diffs(pair, commands)), "\n".join(diffs)


def _info(pair_side: redis.Redis, name: str) -> dict[object, object]:
    reply = call(pair_side, "FT.INFO", name)
    items = reply if isinstance(reply, dict) else dict(zip(reply[::2], reply[1::2], strict=True))
    wanted = (b"attributes", b"num_docs", b"hash_indexing_failures", b"num_records",
              b"Index Errors", b"field statistics")  # fmt: skip
    return {k: v for k, v in items.items() if k in wanted}


def test_json_rejections(pair: Pair) -> None:
    """Each wrong JSON type fails its document with the peer's message."""
    for value in JSON_REJECTED:
        name = f"geor{uuid.uuid4().hex[:8]}"
        try:
            pair.same("FT.CREATE", name, "ON", "JSON", "PREFIX", "1", f"{name}:", "SCHEMA",
                      "$.loc", "AS", "loc", "GEO")  # fmt: skip
            # the peer's initial scan could index the document a second time (two failures)
            wait_index_scanned(pair.peer, name)
            pair.same("JSON.SET", f"{name}:1", "$", json.dumps({"loc": value}))
            assert _info(pair.memvec, name) == _info(pair.peer, name), value
        finally:
            call(pair.memvec, "FT.DROPINDEX", name, "DD")
            call(pair.peer, "FT.DROPINDEX", name, "DD")


def test_info_and_failures(pair: Pair, names: tuple[str, str]) -> None:
    """FT.INFO's GEO attribute rows, documents indexed, records and failures counted."""
    for name in names:
        assert _info(pair.memvec, name) == _info(pair.peer, name)
    hname, _ = names
    pair.same("FT.EXPLAIN", hname, "@loc:[2.3522 48.8566 5 km] -@loc:[1 2 3.5 mi]")


def test_schema(pair: Pair) -> None:
    """GEO field options accepted as the peer does; GEOSHAPE refused by memvec."""
    name = f"geos{uuid.uuid4().hex[:8]}"
    try:
        for schema in (["a", "GEO", "NOINDEX"], ["a", "GEO", "SORTABLE", "NOINDEX"]):
            pair.same("FT.CREATE", name, "PREFIX", "1", f"{name}:", "SCHEMA", *schema)
            mine, theirs = _info(pair.memvec, name), _info(pair.peer, name)
            assert mine[b"attributes"] == theirs[b"attributes"]
            pair.same("FT.DROPINDEX", name)
        # a NOINDEX GEO value is still parsed: a bad one fails the document on both
        pair.same("FT.CREATE", name, "PREFIX", "1", f"{name}:", "SCHEMA", "a", "GEO", "NOINDEX")
        wait_index_scanned(pair.peer, name)
        pair.same("HSET", f"{name}:1", "a", "1,1")
        pair.same("HSET", f"{name}:2", "a", "bad")
        pair.same("FT.SEARCH", name, "*", "NOCONTENT")
        pair.same("FT.SEARCH", name, "@a:[1 1 1 km]", "NOCONTENT")
        pair.same("FT.DROPINDEX", name, "DD")
        mine = call(pair.memvec, "FT.CREATE", name, "SCHEMA", "s", "GEOSHAPE", "FLAT")
        assert mine[0] == "ERR" and "GEOSHAPE fields are not supported by memvec" in mine[1]
    finally:
        call(pair.memvec, "FT.DROPINDEX", name)
        call(pair.peer, "FT.DROPINDEX", name)


def test_last_geofilter_wins(pair: Pair, names: tuple[str, str]) -> None:
    """RediSearch 2.10 keeps only the last GEOFILTER, whatever field the earlier named."""
    hname, _ = names
    paris = ["GEOFILTER", "loc", "2.3522", "48.8566", "5", "km"]
    berlin = ["GEOFILTER", "loc", "13.405", "52.52", "1", "km"]
    pair.same("FT.SEARCH", hname, "*", "NOCONTENT", "SORTBY", "n", *paris, *berlin)
    pair.same("FT.SEARCH", hname, "*", "NOCONTENT", "SORTBY", "n", *berlin, *paris)
    on_tag = ["GEOFILTER", "kind", *berlin[2:]]  # a later one on a non-GEO field matches none
    pair.same("FT.SEARCH", hname, "*", "NOCONTENT", "SORTBY", "n", *paris, *on_tag)
    assert pair.same("FT.SEARCH", hname, "*", "NOCONTENT", *on_tag, *paris) not in ([0], {})


def test_updates_sorting_and_profile(pair: Pair) -> None:
    """A moved, emptied or deleted point leaves the index; SORTBY and RETURN of a GEO
    field; FT.PROFILE's iterator of a GEO filter."""
    name = f"geou{uuid.uuid4().hex[:8]}"
    try:
        pair.same("FT.CREATE", name, "PREFIX", "1", f"{name}:", "SCHEMA", "loc", "GEO",
                  "SORTABLE", "n", "NUMERIC")  # fmt: skip
        wait_index_scanned(pair.peer, name)
        for i, loc in enumerate(("2.35,48.85", "2.36,48.86", "13.4,52.5")):
            pair.same("HSET", f"{name}:{i}", "loc", loc, "n", str(i))
        near = ("FT.SEARCH", name, "@loc:[2.35 48.85 10 km]", "SORTBY", "n", "NOCONTENT")
        pair.same(*near)
        pair.same("HSET", f"{name}:0", "loc", "13.41,52.51")  # moved away
        pair.same("HSET", f"{name}:2", "loc", "2.351,48.851")  # moved near
        pair.same(*near)
        pair.same("HSET", f"{name}:1", "loc", "junk")  # now unindexable: out of the index
        pair.same(*near)
        pair.same("HSET", f"{name}:1", "loc", "2.352,48.852")
        pair.same("DEL", f"{name}:2")
        pair.same(*near)
        pair.same("FT.SEARCH", name, "*", "SORTBY", "loc", "DESC", "RETURN", "1", "loc")
        pair.same("FT.SEARCH", name, "@loc:[2.35 48.85 10 km]", "RETURN", "1", "loc")
        pair.same("FT.SEARCH", name, "@loc:[2.35 48.85 10 km] @n:[0 1]", "WITHSCORES",
                  "NOCONTENT")  # fmt: skip
    finally:
        call(pair.memvec, "FT.DROPINDEX", name, "DD")
        call(pair.peer, "FT.DROPINDEX", name, "DD")


EDGE_POINTS = ["0x1,2", "inf,2", "nan,1", "1e1,2", "+1.,-.5", "180,85.05112878",
               "-180,-85.05112878", "1,2,3", "1, 2", "2.35,48.85"]  # fmt: skip

EDGE_QUERIES = ["*", "@loc:[0 0 100000 km]", "@loc:[1 2 1 m]", "@loc:[-180 1 1 m]",
                "@loc:[180 85 10 km]", "@loc:[179.99 85 100 km]", "@loc:[-180 85 100 km]",
                "@loc:[10 2 1 m]", "@loc:[1 -0.5 1 m]"]  # fmt: skip


def test_edge_points(pair: Pair) -> None:
    """Values C ``strtod`` reads (hex, NaN, a bare dot) and points on the range edges,
    whose scores overflow 52 bits: indexed or refused, and found, as by the peer."""
    name = f"geoe{uuid.uuid4().hex[:8]}"
    try:
        pair.same("FT.CREATE", name, "PREFIX", "1", f"{name}:", "SCHEMA", "loc", "GEO",
                  "n", "NUMERIC", "SORTABLE")  # fmt: skip
        wait_index_scanned(pair.peer, name)
        for i, loc in enumerate(EDGE_POINTS):
            pair.same("HSET", f"{name}:{i}", "loc", loc, "n", str(i))
        commands: list[list[object]] = [
            ["FT.SEARCH", name, q, "NOCONTENT", "SORTBY", "n", "LIMIT", "0", "20"]
            for q in EDGE_QUERIES
        ]
        commands.append(["FT.AGGREGATE", name, "*", "LOAD", "2", "@loc", "@n", "APPLY",
                         "geodistance(@loc, 2.35, 48.85)", "AS", "d", "SORTBY", "2", "@n",
                         "ASC"])  # fmt: skip
        assert not (diffs := _diffs(pair, commands)), "\n".join(diffs)
    finally:
        call(pair.memvec, "FT.DROPINDEX", name, "DD")
        call(pair.peer, "FT.DROPINDEX", name, "DD")


def test_with_vectors(pair: Pair) -> None:
    """A GEO filter as a KNN prefilter, beside VECTOR_RANGE, and GEOFILTER with KNN; a GEO
    field added by FT.ALTER."""
    name = f"geov{uuid.uuid4().hex[:8]}"
    blob = struct.pack("<2f", 1.0, 1.0)
    try:
        pair.same("FT.CREATE", name, "PREFIX", "1", f"{name}:", "SCHEMA", "loc", "GEO", "v",
                  "VECTOR", "FLAT", "6", "TYPE", "FLOAT32", "DIM", "2", "DISTANCE_METRIC",
                  "L2")  # fmt: skip
        wait_index_scanned(pair.peer, name)
        for i, (loc, vec) in enumerate(
            [("2.35,48.85", (1, 1)), ("2.36,48.86", (2, 2)), ("13.4,52.5", (1, 1))]
        ):
            pair.same("HSET", f"{name}:{i}", "loc", loc, "v", struct.pack("<2f", *vec))
        params = ["PARAMS", "2", "B", blob, "DIALECT", "2", "RETURN", "1", "d"]
        pair.same("FT.SEARCH", name, "(@loc:[2.35 48.85 10 km])=>[KNN 5 @v $B AS d]", *params)
        pair.same("FT.SEARCH", name, "(-@loc:[2.35 48.85 10 km])=>[KNN 5 @v $B AS d]", *params)
        pair.same("FT.SEARCH", name,
                  "@loc:[2.35 48.85 10 km] @v:[VECTOR_RANGE 5 $B]=>{$YIELD_DISTANCE_AS: d}",
                  *params, "SORTBY", "d")  # fmt: skip
        pair.same("FT.SEARCH", name, "*=>[KNN 5 @v $B AS d]", "GEOFILTER", "loc", "2.35",
                  "48.85", "10", "km", *params)  # fmt: skip
        assert _info(pair.memvec, name) == _info(pair.peer, name)
        pair.same("FT.ALTER", name, "SCHEMA", "ADD", "loc2", "GEO")
        wait_index_scanned(pair.peer, name)
        pair.same("HSET", f"{name}:9", "loc2", "1,1")
        pair.same("FT.SEARCH", name, "@loc2:[1 1 1 km]", "NOCONTENT")
        # num_records differs after FT.ALTER (the peer re-indexes and counts every record
        # twice until its GC runs), whatever the field types: not compared here
        assert _info(pair.memvec, name)[b"attributes"] == _info(pair.peer, name)[b"attributes"]
    finally:
        call(pair.memvec, "FT.DROPINDEX", name, "DD")
        call(pair.peer, "FT.DROPINDEX", name, "DD")


def test_strict_refuses_a_bad_point(pair: Pair) -> None:
    """memvec's STRICT option (no peer equivalent): a bad GEO value refuses the write."""
    name = f"geot{uuid.uuid4().hex[:8]}"
    try:
        call(pair.memvec, "FT.CREATE", name, "PREFIX", "1", f"{name}:", "STRICT", "SCHEMA",
             "loc", "GEO")  # fmt: skip
        refused = call(pair.memvec, "HSET", f"{name}:1", "loc", "200,1")
        assert refused[0] == "ERR" and "Invalid geo string: '200,1'" in refused[1]
        assert call(pair.memvec, "EXISTS", f"{name}:1") == 0
        assert call(pair.memvec, "HSET", f"{name}:1", "loc", "2,1") == 1
    finally:
        call(pair.memvec, "FT.DROPINDEX", name, "DD")
