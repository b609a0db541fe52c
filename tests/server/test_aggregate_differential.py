"""FT.AGGREGATE and FT.CURSOR against the peer (RediSearch 2.10), replies compared raw.

One memvec server and one index per module (the pipelines only read), RESP2 and RESP3.
Each pipeline in ``PIPELINES`` must give the peer's reply byte for byte, errors included.
``UNORDERED`` pipelines are compared with rows (and arrays inside rows) sorted: their
order follows RediSearch's hash tables (GROUPBY without SORTBY, TOLIST), which memvec
does not reproduce (docs/compatibility.md). Cursor ids are random on both sides, so
cursor tests compare the pages and check the ids' shape.
"""

from __future__ import annotations

import struct
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from store.server import ServerThread
from tests.harness.components import RedisStack, wait_index_scanned
from tests.server.test_differential import Pair, call

PIPELINES: list[str] = [
    "*",
    "* LOAD 2 @title @price",
    "* LOAD 3 @title AS t",
    "* LOAD 3 @title AS t @genre",
    "* LOAD 1 @__key",
    "* LOAD 1 @name",
    "* LOAD * SORTBY 2 @year ASC LIMIT 0 1",
    "* GROUPBY 1 @genre REDUCE COUNT 0 AS n SORTBY 2 @genre ASC",
    "* GROUPBY 1 @genre REDUCE AVG 1 @price AS a REDUCE SUM 1 @year SORTBY 2 @a DESC",
    "* GROUPBY 1 @genre REDUCE MIN 1 @price REDUCE MAX 1 @price REDUCE STDDEV 1 @price"
    " REDUCE QUANTILE 2 @price 0.5 REDUCE FIRST_VALUE 3 @title BY @year"
    " REDUCE COUNT_DISTINCT 1 @year REDUCE COUNT_DISTINCTISH 1 @year SORTBY 2 @genre ASC",
    "* GROUPBY 1 @genre REDUCE FIRST_VALUE 4 @title BY @year DESC AS f SORTBY 2 @genre ASC",
    "* GROUPBY 1 @genre REDUCE QUANTILE 2 @year 0.9 AS q REDUCE QUANTILE 2 @year 0 AS q0"
    " REDUCE QUANTILE 2 @year 1 AS q1 SORTBY 2 @genre ASC",
    "* GROUPBY 2 @genre @year REDUCE COUNT 0 AS n SORTBY 4 @genre ASC @year DESC",
    "* GROUPBY 0 REDUCE COUNT 0 AS n REDUCE SUM 1 @price AS s",
    "* GROUPBY 1 @name SORTBY 2 @name ASC",
    "* GROUPBY 1 @genre REDUCE SUM 1 year AS s SORTBY 2 @genre ASC",
    "* GROUPBY 1 @genre REDUCE SUM 2 @year @x SORTBY 2 @genre ASC",
    "* GROUPBY 1 @genre REDUCE COUNT 0 AS n APPLY '@n*2' AS m FILTER '@m>2' SORTBY 2 @m DESC",
    "* GROUPBY 1 @genre REDUCE COUNT 0 AS n GROUPBY 1 @n REDUCE COUNT 0 AS k SORTBY 2 @n ASC",
    "* GROUPBY 1 @price REDUCE COUNT 0 AS n SORTBY 2 @price ASC",
    "* GROUPBY 1 @price REDUCE COUNT 0 AS n SORTBY 2 @price DESC",
    "* LOAD 1 @price APPLY @price/3 AS x APPLY @year*1.5 AS y",
    "* LOAD 1 @price APPLY '@price * 2' AS x",
    "* SORTBY 2 @price ASC LOAD 1 @price APPLY '@price * 2' AS x",
    "* LOAD 1 @year FILTER @year>2000",
    "* LOAD 1 @genre FILTER '@genre == \"drama\"'",
    "* LOAD 1 @genre FILTER \"@genre != 'drama' && @year > 1990\"",
    "* LOAD 1 @genre FILTER '!(@year > 1990)'",
    "* LOAD 1 @year SORTBY 1 @year MAX 2",
    "* SORTBY 2 @year ASC",
    "* SORTBY 2 @year DESC",
    "* SORTBY 2 @price DESC",
    "* SORTBY 4 @year ASC @price DESC LIMIT 1 3",
    "* LOAD 2 @price @name SORTBY 2 @name DESC",
    "* APPLY '@year % 7' AS m SORTBY 4 @m ASC @year DESC",
    "* APPLY '@year % 7' AS m SORTBY 2 @m DESC",
    "* LIMIT 0 0",
    "* LIMIT 0 2 LOAD 1 @year",
    "* LIMIT 2 2 LOAD 1 @year",
    "* LOAD 1 @year SORTBY 2 @year ASC LIMIT 0 0",
    "* LOAD 1 @title APPLY upper(@title) AS u APPLY strlen(@title) AS l"
    " APPLY substr(@title,1,3) AS s APPLY lower(@title) AS lo",
    "* LOAD 1 @title APPLY 'format(\"%s-%s\", @title, @year)' AS f",
    "* LOAD 1 @title APPLY 'split(@title, \" \")' AS parts",
    "* LOAD 1 @title APPLY 'startswith(@title, \"heat\")' AS s APPLY 'contains(@title, \"a\")' AS c",
    "* LOAD 1 @title APPLY 'substr(@title, -3, 2)' AS a APPLY 'substr(@title, 2, -1)' AS b"
    " APPLY 'substr(@title, 100, 2)' AS c",
    '* LOAD 1 @year APPLY 1/0 AS z APPLY 2^10 AS p APPLY 7%3 AS m APPLY \'"a"=="a"\' AS e',
    "* LOAD 1 @year APPLY '2*3^2' AS a APPLY '-7 % 3' AS b APPLY '!1 == 0' AS c"
    " APPLY '1 || 0 && 0' AS d",
    "* LOAD 1 @year APPLY 'sqrt(@year)' AS a APPLY 'log(@year)' AS b APPLY 'log2(@year)' AS c"
    " APPLY 'exp(1)' AS d APPLY 'abs(-3.5)' AS e APPLY 'ceil(2.1)' AS f APPLY 'floor(2.9)' AS g",
    "* LOAD 1 @year APPLY 'log(0)' AS a APPLY 'sqrt(-1)' AS b APPLY 'exp(1000)' AS c"
    " APPLY '1e300*1e300' AS d",
    "* APPLY '@year / 3' AS a APPLY '@a * 1000000' AS b APPLY '0.1 + 0.2' AS c APPLY '1e20' AS d"
    " APPLY '-0.0' AS e APPLY '123456789012345' AS f",
    "* APPLY 'timefmt(@year)' AS a APPLY 'year(@year)' AS b APPLY 'hour(3700)' AS c",
    "* LOAD 1 @price APPLY 'exists(@price)' AS e",
    "* LOAD 1 @title APPLY 'to_number(\"12\")' AS a APPLY 'to_str(3.5)' AS b",
    "* LOAD 1 @title APPLY 'matched_terms()' AS m",
    "heat LOAD 1 @title APPLY 'matched_terms()' AS m",
    "heat LOAD 1 @title",
    "@genre:{drama} LOAD 1 @title",
    "'@year:[2000 2020]' LOAD 1 @year",
    "nomatch",
    "nomatch GROUPBY 1 @genre REDUCE COUNT 0",
    "* VERBATIM LOAD 1 @year",
    "* TIMEOUT 1000 LOAD 1 @year",
    "'@year:[$lo $hi]' PARAMS 4 lo 2000 hi 2030 LOAD 1 @year DIALECT 2",
    "'*=>[KNN 3 @vec $b AS d]' PARAMS 2 b $Q DIALECT 2",
    "'*=>[KNN 3 @vec $b AS d]' PARAMS 2 b $Q LOAD 1 @title DIALECT 2",
    "'*=>[KNN 10 @vec $b AS d]' PARAMS 2 b $Q SORTBY 2 @d ASC DIALECT 2",
    "'*=>[KNN 3 @vec $b]' PARAMS 2 b $Q DIALECT 2",
    "'(@genre:{drama})=>[KNN 2 @vec $b AS d]' PARAMS 2 b $Q SORTBY 2 @d ASC LOAD 1 @title"
    " DIALECT 2",
    "'*=>[KNN 3 @vec $b AS d]' PARAMS 2 b $Q APPLY '@d * 2' AS dd FILTER '@dd < 0.5' DIALECT 2",
    "'@title:(heat)=>[KNN 3 @vec $b AS d]' PARAMS 2 b $Q LOAD 1 @title DIALECT 2",
    "'*=>[KNN 3 @vec $b AS d]' PARAMS 2 b $Q GROUPBY 1 @genre REDUCE MIN 1 @d AS m"
    " SORTBY 2 @m ASC DIALECT 2",
    "'*=>[KNN 3 @vec $b AS title]' PARAMS 2 b $Q DIALECT 2",
    "* LOAD 1 @title APPLY upper(@title) AS title",
    "* LOAD 3 @title AS t APPLY upper(@t) AS u",
    "* APPLY 1 AS x LOAD 1 @year",
    "* LOAD 1 @__key APPLY 'substr(@__key, 0, 3)' AS p GROUPBY 1 @p REDUCE COUNT 0 AS n",
    "* APPLY @__key AS k",
    "* GROUPBY 1 @genre REDUCE COUNT_DISTINCT 1 @__key AS n SORTBY 2 @genre ASC",
    "* LOAD 1 @name APPLY 'lower(@name)' AS l SORTBY 2 @l ASC",
    "* APPLY @name AS l",
    "* SORTBY 2 @name ASC",
    "* SORTBY 2 @title ASC",
    "* LOAD 1 @title SORTBY 2 @title DESC",
    "* GROUPBY 1 @title REDUCE COUNT 0 AS c SORTBY 2 @title ASC",
    "* GROUPBY 1 @genre REDUCE FIRST_VALUE 1 @name AS f SORTBY 2 @genre ASC",
    "* GROUPBY 1 @genre REDUCE FIRST_VALUE 3 @price BY @year AS f"
    " REDUCE FIRST_VALUE 4 @name BY @price DESC AS g SORTBY 2 @genre ASC",
    "* LOAD 2 @price @year APPLY '@price > @year' AS a APPLY '@price < 5 || @year > 2005' AS b"
    " FILTER 'exists(@price)'",
    "* LOAD 1 @genre APPLY \"@genre == 'drama'\" AS d GROUPBY 1 @d REDUCE COUNT 0 AS n"
    " SORTBY 2 @d DESC",
    "* LOAD 1 @vec LIMIT 0 1",
    "* GROUPBY 1 @genre REDUCE AVG 1 @year AS a APPLY 'floor(@a)' AS f SORTBY 4 @f DESC @genre ASC",
    "* LOAD 1 @year APPLY @year AS year",
    "* APPLY 'dayofweek(0) + dayofmonth(86400*40) + dayofyear(86400*40) + monthofyear(86400*40)'"
    " AS d LIMIT 0 1",
    "* APPLY 'month(86400*40)' AS a APPLY 'day(86400*40+5)' AS b APPLY 'minute(125)' AS c"
    " LIMIT 0 1",
    "* APPLY 'timefmt(86400, \"%Y\")' AS a LIMIT 0 1",
    '* APPLY \'parsetime("2020", "%Y")\' AS a LIMIT 0 1',
    '* APPLY \'parsetime("2020-03-04 10:11", "%Y-%m-%d %H:%M")\' AS a LIMIT 0 1',
    '* APPLY \'parsetime("x", "%Y")\' AS a LIMIT 0 1',
    "* LOAD 1 @title APPLY 'split(@title, \" \")' AS s GROUPBY 1 @s REDUCE COUNT 0 AS n"
    " SORTBY 2 @s ASC",
    '* LOAD 1 @title APPLY \'split(@title, "x", "heat")\' AS s GROUPBY 2 @s @genre'
    " REDUCE COUNT 0 AS n SORTBY 4 @s ASC @genre ASC",
    "'@title:heat' LOAD 1 @title APPLY 'matched_terms(1)' AS m",
    "'heat | wave' LOAD 1 @title APPLY 'matched_terms()' AS m",
    "'heat wave' LOAD 1 @title APPLY 'matched_terms()' AS m",
    "* GROUPBY 1 @genre REDUCE STDDEV 1 @year AS s REDUCE AVG 1 @year AS a SORTBY 2 @genre ASC",
    "* GROUPBY 1 @genre REDUCE SUM 1 @title AS s SORTBY 2 @genre ASC",
    "* GROUPBY 1 @genre REDUCE MIN 1 @title AS s REDUCE MAX 1 @genre AS m SORTBY 2 @genre ASC",
    "* APPLY '1 + 2' AS x SORTBY 2 @x ASC LIMIT 0 2",
    "* LOAD 1 @price SORTBY 2 @price ASC MAX 3",
    "* LOAD 1 @price SORTBY 2 @price ASC MAX 3 LIMIT 1 1",
    "* SORTBY 2 @year ASC LIMIT 0 20",
    "* INKEYS 2 $P:1 $P:3 LOAD 1 @title",
    "heat INKEYS 2 $P:1 $P:3 LOAD 1 @title",
    "* LANGUAGE english LOAD 1 @title LIMIT 0 1",
    "heat INFIELDS 1 title LOAD 1 @title",
    "* NOSTOPWORDS LOAD 1 @title LIMIT 0 1",
    # errors
    "* LANGUAGE klingon",
    "* APPLY @price*2 AS x",
    "* APPLY 'foo(1)' AS x",
    "* APPLY bar AS x",
    "* APPLY 'inf' AS a",
    "* APPLY '1 +' AS x",
    "* APPLY '@year+' AS x",
    "* APPLY '@year-1' AS x",
    "* APPLY '(1' AS x",
    "* APPLY '' AS x",
    "* LOAD 1 @title APPLY '@title + 1' AS x",
    "* LOAD 1 @title APPLY 'strlen(3)' AS x",
    "* LOAD 1 @title FILTER '@title > 3'",
    "* LOAD 1 @title APPLY 'upper(@title, 2)' AS x",
    "* LOAD 1 @title APPLY 'substr(@title, \"a\", 2)' AS x",
    "* LOAD 1 @title APPLY 'format(\"%d\", @title)' AS a",
    "* LOAD 1 @title APPLY 'format(\"%s\")' AS a",
    "* GROUPBY 1 genre",
    "* GROUPBY 1 @nofield",
    "* GROUPBY 1 @genre REDUCE NOPE 0",
    "* GROUPBY 1 @genre REDUCE COUNT 1 @x",
    "* GROUPBY 1 @genre REDUCE SUM 0",
    "* GROUPBY 1 @genre REDUCE SUM 1 @nope AS s",
    "* GROUPBY 1 @genre REDUCE QUANTILE 2 @price 2",
    "* GROUPBY 1 @genre REDUCE QUANTILE 2 @year x",
    "* GROUPBY 1 @genre REDUCE FIRST_VALUE 4 @title BY @year UP",
    "* GROUPBY 1 @genre REDUCE RANDOM_SAMPLE 2 @year 2000",
    "* GROUPBY 1 @genre REDUCE COUNT 0 REDUCE COUNT 0",
    "* GROUPBY 2 @genre @genre",
    "* GROUPBY 1 @genre REDUCE COUNT 0 AS n SORTBY 2 @title ASC",
    "* GROUPBY 1 @genre REDUCE COUNT 0 AS n APPLY '@title' AS t",
    "* GROUPBY 1 @genre LOAD 1 @title",
    "* SORTBY 2 @year ASC SORTBY 2 @year DESC",
    "* SORTBY 3 @year ASC",
    "* SORTBY 2 year ASC",
    "* SORTBY 1 @nofield",
    "* SORTBY 2 @year UP",
    "* SORTBY 1 @year MAX x",
    "* LIMIT 1",
    "* LIMIT 0 x",
    "* PARAMS 1 x",
    "* DIALECT 9",
    "* TIMEOUT x",
    "* SCORER NOPE",
    "* LOAD x",
    "* LOAD 5 @title",
    "* APPLY",
    "* APPLY '1' AS",
    "* FILTER",
    "* GROUPBY",
    "* GROUPBY 1 @genre REDUCE",
    "* GROUPBY 1 @genre REDUCE COUNT",
    "* WITHCURSOR COUNT x",
    "* WITHCURSOR COUNT 0",
    "* WITHCURSOR MAXIDLE 0",
    "* WITHCURSOR MAXIDLE 99999999999",
    "* RETURN 1 @title",
    "* FOO",
    "",
]

UNORDERED: list[str] = [
    "* GROUPBY 1 @genre REDUCE COUNT 0 AS n",
    "* GROUPBY 1 @genre REDUCE TOLIST 1 @year AS l SORTBY 2 @genre ASC",
    "* GROUPBY 1 @genre REDUCE TOLIST 1 @title AS l REDUCE COUNT_DISTINCT 1 @genre AS d",
    "* LOAD 1 @title APPLY 'split(@title)' AS s GROUPBY 1 @s REDUCE COUNT 0 AS n",
]

DOCS = [
    ("heat wave", "drama", 1995, 10.5, "Ann", (0.1, 0.2)),
    ("cold heat", "action", 2001, 3, "bob", (0.5, 0.1)),
    ("the wave", "drama", 2010, 7.25, "Carl", (0.9, 0.9)),
    ("other", "comedy", 1995, None, "dan", (0.3, 0.3)),
    ("heat of the night", "drama", 1967, 12, "Eve", (0.0, 1.0)),
    ("wave rider", "action", 2020, 0.5, None, (1.0, 0.0)),
]
QUERY_VECTOR = struct.pack("<2f", 0.4, 0.4)


@pytest.fixture(scope="module")
def dataset(memvec: ServerThread, redis_stack: RedisStack) -> Iterator[str]:
    """Index name (also the key prefix) of the shared dataset on both servers."""
    name = f"agg{uuid.uuid4().hex[:8]}"
    clients = [redis.Redis(host="127.0.0.1", port=memvec.port), redis_stack.client()]
    for r in clients:
        r.execute_command(
            "FT.CREATE", name, "ON", "HASH", "PREFIX", "1", f"{name}:", "SCHEMA",
            "title", "TEXT", "genre", "TAG", "year", "NUMERIC", "SORTABLE", "price", "NUMERIC",
            "name", "TAG", "SORTABLE",
            "vec", "VECTOR", "FLAT", "6", "TYPE", "FLOAT32", "DIM", "2", "DISTANCE_METRIC", "L2",
        )  # fmt: skip
        wait_index_scanned(r, name)
        for i, (title, genre, year, price, who, vec) in enumerate(DOCS):
            fields: dict[str, Any] = {"title": title, "genre": genre, "year": year}
            fields["vec"] = struct.pack("<2f", *vec)
            if price is not None:
                fields["price"] = price
            if who is not None:
                fields["name"] = who
            r.hset(f"{name}:{i}", mapping=fields)
    try:
        yield name
    finally:
        for r in clients:
            r.execute_command("FT.DROPINDEX", name, "DD")
            r.close()


def _args(index: str, pipeline: str) -> list[object]:
    import shlex

    words = ["FT.AGGREGATE", index, *shlex.split(pipeline.replace("$P", index))]
    return [QUERY_VECTOR if w == "$Q" else w for w in words]


def test_pipelines(pair: Pair, dataset: str) -> None:
    """Every pipeline of PIPELINES, reply for reply (all differences reported at once)."""
    diffs = []
    for pipeline in PIPELINES:
        mine, theirs = pair.both(*_args(dataset, pipeline))
        if mine != theirs:
            diffs.append(f"{pipeline}\n  memvec {mine!r}\n  peer   {theirs!r}")
    assert not diffs, "\n".join(diffs)


def _canonical(reply: Any) -> Any:
    if isinstance(reply, dict):
        rows = [_canonical_row(r) for r in reply[b"results"]]
        return {**reply, b"results": sorted(rows, key=repr)}
    if isinstance(reply, list) and reply and isinstance(reply[0], int):
        return [reply[0], *sorted((_canonical_row(r) for r in reply[1:]), key=repr)]
    return reply


def _canonical_row(row: Any) -> Any:
    if isinstance(row, dict):
        return {k: _canonical_row(v) for k, v in row.items()}
    if isinstance(row, list):
        return sorted((_canonical_row(v) for v in row), key=repr)
    return row


def test_unordered_pipelines(pair: Pair, dataset: str) -> None:
    for pipeline in UNORDERED:
        mine, theirs = pair.both(*_args(dataset, pipeline))
        assert _canonical(mine) == _canonical(theirs), pipeline


def test_random_sample(pair: Pair, dataset: str) -> None:
    """RANDOM_SAMPLE is random on both sides: same groups, sizes and membership."""
    args = _args(
        dataset, "* GROUPBY 1 @genre REDUCE RANDOM_SAMPLE 2 @year 2 AS s SORTBY 2 @genre ASC"
    )
    mine, theirs = pair.both(*args)
    assert _canonical(_sizes(mine)) == _canonical(_sizes(theirs))
    years = {str(d[2]).encode() for d in DOCS}
    assert set(_flatten_samples(mine)) <= years


def _sizes(reply: Any) -> Any:
    if isinstance(reply, dict):
        return [
            (r[b"extra_attributes"][b"genre"], len(r[b"extra_attributes"][b"s"]))
            for r in reply[b"results"]
        ]
    return [(row[1], len(row[3])) for row in reply[1:]]


def _flatten_samples(reply: Any) -> list[bytes]:
    if isinstance(reply, dict):
        return [y for r in reply[b"results"] for y in r[b"extra_attributes"][b"s"]]
    return [y for row in reply[1:] for y in row[3]]


def _page(reply: Any) -> Any:
    """A cursor reply without its (random) id, and whether the cursor is finished."""
    body, cid = reply
    assert isinstance(cid, int) and 0 <= cid < 2**63
    return body, cid == 0


def test_cursor_read_to_exhaustion_and_errors(pair: Pair, dataset: str) -> None:
    pages: dict[str, list[Any]] = {}
    for side, r in (("memvec", pair.memvec), ("peer", pair.peer)):
        log: list[Any] = []
        reply = call(r, *_args(dataset, "* LOAD 1 @year WITHCURSOR COUNT 4"))
        log.append(_page(reply))
        cid = reply[1]
        while cid:
            reply = call(r, "FT.CURSOR", "READ", dataset, cid)
            log.append(_page(reply))
            cid = reply[1]
        log.append(call(r, "FT.CURSOR", "READ", dataset, 12345))
        log.append(call(r, "FT.CURSOR", "DEL", dataset, 12345))
        reply = call(r, *_args(dataset, "* LOAD 1 @year SORTBY 2 @year DESC WITHCURSOR COUNT 2"))
        log.append(_page(reply))
        cid = reply[1]
        log.append(_page(call(r, "FT.CURSOR", "READ", dataset, cid, "COUNT", "3")))
        log.append(call(r, "FT.CURSOR", "READ", "other", cid))
        log.append(call(r, "FT.CURSOR", "DEL", "other", cid))
        log.append(call(r, "FT.CURSOR", "READ", dataset, cid, "COUNT", "x"))
        log.append(call(r, "FT.CURSOR", "DEL", dataset, cid))
        log.append(call(r, "FT.CURSOR", "DEL", dataset, cid))
        log.append(call(r, "FT.CURSOR", "READ", dataset, cid))
        reply = call(
            r,
            *_args(
                dataset,
                "* GROUPBY 1 @genre REDUCE COUNT 0 AS c SORTBY 2 @genre ASC WITHCURSOR COUNT 2",
            ),
        )
        log.append(_page(reply))
        log.append(_page(call(r, "FT.CURSOR", "READ", dataset, reply[1], "COUNT", "-1")))
        log.append(call(r, "FT.CURSOR", "READ", dataset, "abc"))
        log.append(call(r, "FT.CURSOR", "READ", dataset))
        log.append(call(r, "FT.CURSOR", "BLAH", dataset, 1))
        log.append(call(r, "FT.AGGREGATE", dataset))
        log.append(call(r, "FT.AGGREGATE"))
        pages[side] = log
    assert pages["memvec"] == pages["peer"]


def test_cursor_idle_expiry(pair: Pair, dataset: str) -> None:
    """An idle cursor survives until collected (on creation of another, or FT.CURSOR GC)."""
    for r in (pair.memvec, pair.peer):
        reply = call(r, *_args(dataset, "* WITHCURSOR COUNT 1 MAXIDLE 50"))
        cid = reply[1]
        assert cid
        time.sleep(0.15)
        assert call(r, "FT.CURSOR", "GC", dataset, "0") >= 1
        assert call(r, "FT.CURSOR", "READ", dataset, cid) == ("ERR", "Cursor not found")


def test_schema_aliases_and_unf(pair: Pair) -> None:
    """Attributes named with AS load from their hash field; UNF keeps a sortable TAG's case."""
    name = f"agal{uuid.uuid4().hex[:8]}"
    pair.same(
        "FT.CREATE", name, "ON", "HASH", "PREFIX", "1", f"{name}:", "SCHEMA",
        "f_title", "AS", "title", "TEXT", "f_n", "AS", "n", "NUMERIC", "SORTABLE",
        "g", "TAG", "SORTABLE", "UNF",
    )  # fmt: skip
    wait_index_scanned(pair.peer, name)
    try:
        pair.same("HSET", f"{name}:1", "f_title", "Heat", "f_n", "5", "g", "Abc")
        pair.same("HSET", f"{name}:2", "f_title", "Wave", "f_n", "7", "g", "abc")
        for pipeline in [
            "* LOAD 1 @title",
            "* LOAD 1 @f_title",
            "* APPLY @n*2 AS x",
            "* GROUPBY 1 @title REDUCE SUM 1 @n AS s SORTBY 2 @title ASC",
            "* GROUPBY 1 @g SORTBY 2 @g ASC",
            "* APPLY @g AS h",
            "* LOAD *",
            "* SORTBY 2 @n DESC",
        ]:
            pair.same(*_args(name, pipeline))
    finally:
        pair.both("FT.DROPINDEX", name, "DD")
