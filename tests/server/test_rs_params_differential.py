"""Query ``$params`` sent to `memvec server` and to the peer (RediSearch 2.10), raw replies
compared: the causes found by RediSearch's own ``test_search_params.py``.

* parameter values in text and tag queries: ``$p*`` prefixes, binary values, values
  unescaped like literal terms (``John\\ Doe``), suffix / infix / fuzzy / wildcard
  parameters, a tag parameter's case on a CASESENSITIVE field;
* numeric ranges: the grammar (no exclusive lone bound, one ``-`` before a ``$param``,
  ``((``), parameter values read as RediSearch reads them (``inf`` only where it bounds,
  hex, NaN, an empty value, a ``(`` inside the value ignored), FILTER's bounds;
* errors: a missing or bad parameter reported after any syntax error, the KNN clause's
  parameters before the filter's, query attributes' values checked while parsing
  (``Invalid value (x) for `slop```), GEO / phonetic / range-radius checks after the
  parameters, a number as a GEO unit;
* query attributes ``=>{$weight: w; $slop: n; $inorder: true}``: scores, matches and
  FT.EXPLAIN, and how an attributed intersection takes in the nodes after it;
* RETURN of a schema alias reads the aliased hash field only (``numval AS numval_name``:
  a hash field named ``numval_name`` is not returned).

One memvec server and one index set per module; RESP2 (the replies compared here carry no
RESP3-specific shape; RESP3 search replies are compared by the other FT modules).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from store.server import ServerConfig, ServerThread
from tests.harness.components import RedisStack, wait_index_scanned
from tests.server.test_differential import Pair, call, connected_pair

HEBREW = "דאטהבינאריארוךומעניין".encode()
DOCS = [
    {"t": "a\\,b c\\\\d John\\ Doe", "n": "101", "tg": "ABc,x y", "tc": "ABc", "b": HEBREW},
    {"t": "hello world", "n": "105", "tg": "abd", "tc": "abd", "b": b"10010101001"},
    {"t": "Bob Bear", "n": "-10", "tg": "$t1", "tc": "Bcd"},
    {"t": "Fozzie Beard", "n": "inf"},
]


@pytest.fixture(scope="module")
def memvec(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    data: Path = tmp_path_factory.mktemp("rs-params")
    thread = ServerThread(ServerConfig(port=0, data_dir=data)).start()
    try:
        yield thread
    finally:
        thread.stop()


@pytest.fixture(scope="module")
def idx(memvec: ServerThread, redis_stack: RedisStack) -> Iterator[str]:
    """``<p>``: TEXT ``t``/``b``, NUMERIC ``n``, TAG ``tg`` and CASESENSITIVE ``tc``, GEO
    ``g``, VECTOR ``v`` (DIM 2); ``<p>al``: the aliased fields of RediSearch's aliasing test,
    with documents outside the schema. Dropped at the end."""
    p = f"rp{uuid.uuid4().hex[:8]}"
    clients = [redis.Redis(host="127.0.0.1", port=memvec.port), redis_stack.client()]
    for r in clients:
        r.execute_command(
            "FT.CREATE", p, "PREFIX", "1", f"{p}:", "SCHEMA", "t", "TEXT", "b", "TEXT",
            "n", "NUMERIC", "tg", "TAG", "tc", "TAG", "CASESENSITIVE", "g", "GEO",
            "v", "VECTOR", "HNSW", "6", "TYPE", "FLOAT32", "DIM", "2", "DISTANCE_METRIC", "L2",
        )  # fmt: skip
        r.execute_command(
            "FT.CREATE", f"{p}al", "PREFIX", "1", f"{p}al:", "SCHEMA",
            "numval", "AS", "numval_name", "NUMERIC", "SORTABLE",
            "text", "AS", "text_name", "TEXT", "SORTABLE",
        )  # fmt: skip
        wait_index_scanned(r, p, 30)
        wait_index_scanned(r, f"{p}al", 30)
        for i, doc in enumerate(DOCS):
            r.hset(f"{p}:{i}", mapping=doc)  # type: ignore[arg-type]
        for key, field, value in [("1", "numval", "110"), ("2", "numval", "109"),
                                  ("5", "text", "Meow"), ("3", "numval_name", "108"),
                                  ("4", "x", "107")]:  # fmt: skip
            r.hset(f"{p}al:{key}", field, value)
    try:
        yield p
    finally:
        for r in clients:
            call(r, "FT.DROPINDEX", p, "DD")
            call(r, "FT.DROPINDEX", f"{p}al", "DD")
            r.close()


@pytest.fixture(scope="module")
def pair(memvec: ServerThread, redis_stack: RedisStack) -> Iterator[Pair]:
    with connected_pair(memvec.port, redis_stack, 2) as pair:
        yield pair


def _diffs(pair: Pair, commands: list[tuple[object, ...]]) -> list[str]:
    out = []
    for args in commands:
        mine, theirs = pair.both(*args)
        if mine != theirs:
            out.append(f"{args}\n  memvec {mine!r}\n  peer   {theirs!r}")
    return out


def _search(idx: str, query: str | bytes, *params: object) -> tuple[object, ...]:
    extra = ("PARAMS", len(params), *params) if params else ()
    return ("FT.SEARCH", idx, query, "NOCONTENT", *extra, "DIALECT", "2")


def _explain(idx: str, query: str, *params: object) -> tuple[object, ...]:
    extra = ("PARAMS", len(params), *params) if params else ()
    return ("FT.EXPLAIN", idx, query, *extra, "DIALECT", "2")


TERMS = [
    # prefixes from a parameter, binary values
    ("$v*", "v", "10010"), ("@b:$v*", "v", "10010"), ("@b:$v*", "v", HEBREW[:4]),
    ("@b:$v", "v", HEBREW), ("@b:$v", "v", "10010101001"), ("$v*", "v", "HEL"),
    # values unescaped like terms
    ("@t:$v", "v", "John\\ Doe"), ("$v", "v", "a\\,b"), ("$v", "v", "c\\\\d"),
    ("$v", "v", "c\\d"), ("@t:$v*", "v", "a\\,"), ("@t:*$v", "v", "\\,b"),
    ("@t:*$v*", "v", "\\,"), ("@t:%$v%", "v", "hellp"), ("@t:%$v%", "v", "a\\,c"),
    ("@t:%%$v%%", "v", "Bearx"), ("@t:w'$v'", "v", "b?ar*"), ("$v", "v", "the"),
    # tags: unescaped, case kept for CASESENSITIVE fields
    ("@tg:{$v*}", "v", "AB"), ("@tc:{$v*}", "v", "AB"), ("@tc:{$v*}", "v", "ab"),
    ("@tg:{$v}", "v", "x y"), ("@tg:{$v}", "v", "x\\ y"), ("@tg:{$v}", "v", "\\$t1"),
    ("@tg:{*$v}", "v", "Bc"), ("@tc:{*$v}", "v", "Bc"), ("@tc:{*$v*}", "v", "B"),
    ("@tg:{w'$v'}", "v", "a?c"), ("@tc:{w'$v'}", "v", "A?c"), ("@tc:{$v|*$v}", "v", "cd"),
]  # fmt: skip


def test_parameters_in_text_and_tag_queries(pair: Pair, idx: str) -> None:
    commands = [_search(idx, q, name, value) for q, name, value in TERMS]
    commands += [_explain(idx, q, name, value) for q, name, value in TERMS]
    assert not _diffs(pair, commands)


RANGES: list[tuple[str, tuple[object, ...]]] = [
    # the grammar
    ("@n:[105 ((300]", ()), ("@n:[((105 300]", ()), ("@n:[(105]", ()), ("@n:[-(105]", ()),
    ("@n:[(-105]", ()), ("@n:[(inf]", ()), ("@n:[(-inf]", ()), ("@n:[($p]", ("p", "100")),
    ("@n:[1 (($p]", ("p", "100")), ("@n:[1 --$p]", ("p", "1")), ("@n:[-$p --105]", ("p", "1")),
    ("@n:[--101 --105]", ()), ("@n:[(--101 105]", ()), ("@n:[-$p]", ("p", "-105")),
    ("@n:[(-$p (-$p]", ("p", "-101")), ("@n:[1 2 3]", ()), ("@n:[]", ()),
    # parameter values: ParseDouble for a lone value, parseDoubleRange for bounds
    ("@n:[$p]", ("p", "0x65")), ("@n:[$p]", ("p", "inf")), ("@n:[$p]", ("p", "+inf")),
    ("@n:[$p]", ("p", "1e400")), ("@n:[$p]", ("p", "1e-400")), ("@n:[$p]", ("p", "")),
    ("@n:[$p]", ("p", "nan")), ("@n:[$p]", ("p", "(101")), ("@n:[$p]", ("p", "101\0x")),
    ("@n:[$p 200]", ("p", "0x65")), ("@n:[$p 200]", ("p", "(101")),
    ("@n:[100 $p]", ("p", "(105")), ("@n:[$p 200]", ("p", "inf")),
    ("@n:[$p 200]", ("p", "+inf")), ("@n:[-$p 200]", ("p", "inf")),
    ("@n:[-$p 200]", ("p", "-inf")), ("@n:[0 $p]", ("p", "-inf")), ("@n:[0 -$p]", ("p", "-inf")),
    ("@n:[0 $p]", ("p", "infinity")), ("@n:[0 $p]", ("p", "1e-400")),
    ("@n:[0 $p]", ("p", "105 ")), ("@n:[0 $p]", ("p", " 105")), ("@n:[$p 200]", ("p", "")),
    ("@n:[$p 200]", ("p", "nan")), ("-@n:[$p 200]", ("p", "nan")),
    ("@n:[$p 200] | @n:[105]", ("p", "nan")), ("@n > $p", ("p", "nan")),
    ("@n > $p", ("p", "0x65")), ("@n:[($p +inf]", ("p", "102")), ("@n:[($p ($p]", ("p", "101")),
]  # fmt: skip

FILTERS = [("0x10", "200"), ("inf", "200"), ("-inf", "inf"), ("-inf", "+inf"), ("(101", "(105"),
           ("(101", "infinity"), ("nan", "200"), ("0", "nan"), ("1e-400", "200")]  # fmt: skip


def test_numeric_ranges(pair: Pair, idx: str) -> None:
    commands = [_search(idx, q, *params) for q, params in RANGES]
    commands += [
        ("FT.SEARCH", idx, "*", "NOCONTENT", "FILTER", "n", lo, hi, "DIALECT", "2")
        for lo, hi in FILTERS
    ]
    assert not _diffs(pair, commands)


VEC = "aaaaaaaa"
ERRORS: list[tuple[str, tuple[object, ...]]] = [
    # syntax before parameters; then the KNN node's (blob, K, AS name), then the filter's
    ("@t:$x ]", ()), ("*=>[KNN $k @v $B]", ("k", "TKOO")), ("@t:(KNN) => [KNN $k @v $vec]", ()),
    ("@t:$x => [KNN $k @v $vec]", ()), ("@t:$x => [KNN $k @v $vec]", ("vec", VEC)),
    ("@t:$x => [KNN $k @v $vec]", ("vec", VEC, "k", "1")),
    ("@t:$x => [KNN $k @v $vec AS $s]", ("vec", VEC, "k", "1")),
    ("@t:$x @t:$y", ()), ("@n:[$x $y] @t:$z", ("x", "abc")), ("@n:[$x $y] @t:$z", ("y", "abc")),
    ("@t:$z | @tg:{$t} | -@n:[$a 3]", ()), ("-@n:[$a 3] @t:$z", ()), ("~@n:[$a 3] @t:$z", ()),
    ("@t:(%$z% | $a*)", ()), ("@t:(w'$z' | *$a)", ()),
    ("@g:[$a $b $c $d]", ("a", "x")), ("@g:[$a $b $c $d]", ("a", "1", "c", "-3")),
    # query attributes: read while parsing
    ("@t:$z => {$weight: $w}", ()), ("@t:jon => { $slop:1; $phonetic:$ph}", ("ph", "maybe")),
    ("@pron:(jon) => { $slop:1; $phonetic:maybe;}", ()), ("@t:jon => { $phonetic:1;}", ()),
    ("@t:jon => { $slop:x;}", ()), ("@t:jon => { $slop:-2;}", ()), ("@t:jon => { $slop:-1;}", ()),
    ("@t:jon => { $slop:$s;}", ("s", " 5")), ("@t:jon => { $slop:$s;}", ("s", "")),
    ("@t:jon => { $foo:$s;}", ("s", "")), ("@t:jon => { $Slop:x;}", ()),
    ("@t:jon => { $weight:x;}", ()), ("@t:jon => { $weight:-1;}", ()),
    ("@t:jon => { $weight:0x10;}", ()), ("@t:jon => { $inorder:x;}", ()),
    ("@t:jon => { $inorder:TRUE;}", ()), ("@t:jon => { $foo:x;}", ()),
    # checks made once the parameters are resolved
    ("@g:[200 0 1 km] @t:$x", ()), ("@g:[20 0 -1 km] @t:$x", ()), ("@g:[20 0 1 kmm] @t:$x", ()),
    ("@g:[20 0 1 $u] @t:$x", ("u", "kmm")), ("@g:[20 0 1 $u] @g:[200 0 1 km]", ("u", "kmm")),
    ("@v:[VECTOR_RANGE -1 $b] @t:$x", ()), ("@t:$x @v:[VECTOR_RANGE -1 $b]", ()),
    ("@t:$x => {$phonetic: true}", ()), ("@t:x => {$phonetic: true} @t:$y", ()),
    ("@g:[200 0 1 km] @t:x => {$phonetic: true}", ()),
    ("@v:[VECTOR_RANGE -1 $b] @g:[200 0 1 km]", ("b", VEC)),
    ("@g:[200 0 1 km] @v:[VECTOR_RANGE -1 $b]", ("b", VEC)),
    # GEO units: a number is refused as a unit
    ("@g:[29.69465 34.95126 200 100]", ()), ("@g:[29.69465 34.95126 200 -1]", ()),
    ("@g:[29.69465 34.95126 200 inf]", ()), ("@g:[29.69465 34.95126 200 $u]", ("u", "100")),
    ("@g:[29.69465 --34.95126 200 km]", ()), ("@g:[29.69465 --$x 200 km]", ("x", "3")),
]  # fmt: skip


def test_parameter_errors(pair: Pair, idx: str) -> None:
    assert not _diffs(pair, [_search(idx, q, *params) for q, params in ERRORS])


WINDOW_DOCS = ["hello big world", "hello world", "world of the big hello",
               "hello there my good old world"]  # fmt: skip
ATTRIBUTES = [
    # $weight on terms (not their expansions), patterns, phrases, tags, unions
    "@t:hello => {$weight: 2}", "(@t:hello => {$weight: 2}) | @u:hello",
    "(hello world) => {$weight: 0.5}", "hel* => {$weight: 2}", "*orld => {$weight: 2} big",
    "%hellp% => {$weight: 2}", '"hello world" => {$weight: 2}', '"hello" => {$weight: 2}',
    "(hello | world) => {$weight: 3}", "((hello world) => {$weight: 2} | big)",
    "@tg:{a} => {$weight: 3} hello", "@tg:{a|b} => {$weight: 3} hello",
    "@tg:{b|a*} => {$weight: 3} hello", "@n:[1 2] => {$weight: 3} hello",
    "world => {$weight: 2} hello", "worlds => {$weight: 2} hello",
    # $slop / $inorder on intersections, overriding SLOP, adding to INORDER
    "(hello world) => {$slop: 0}", "(hello world) => {$slop: 1}",
    "(world hello) => {$inorder: true}", "(world hello) => {$inorder: true; $slop: 5}",
    "hello => {$slop: 0}", '"hello world" => {$slop: 2}', "(hello | world) => {$slop: 0}",
    "@t:(hello world) => {$slop: 0} @n:[1 4]", "~(world hello) => {$slop: 0}",
    "(world hello) => {$slop: 1; $inorder: true} | foo",
    # what follows an attributed intersection / union joins it, unless @field: scopes it
    "(hello world) => {$slop: 0} big", "big (hello world) => {$slop: 0}",
    "@t:(hello world) => {$slop: 0} big", "@t:((hello world) => {$slop: 0} big)",
    "(hello world) => {$slop: 0; $weight: 3} big (foo | there)",
    "(hello | foo) => {$weight: 3} | big", "big | (hello | foo) => {$weight: 3}",
    "@t:(hello | foo) => {$weight: 3} | big", "(@t:(hello world)) => {$slop: 0} big",
    "(@t:(hello world) => {$slop: 0}) big", "((hello world) => {$slop: 0}) big",
    "(hello world) => {$slop: 0} => {$weight: 2} big", "((hello world)) => {$slop: 0} big",
    # no attributes on `*`
    "* => {$weight: 2}", "(*) => {$weight: 2}", "*=>{$weight: 2}",
]  # fmt: skip
WINDOW_ARGS = [("SLOP", "0"), ("INORDER",)]
# FT.EXPLAIN differs there (docs/compatibility.md): ``@t:`` before a scoped intersection or
# union, $slop / $inorder shown on nodes they do not change
NOT_EXPLAINED = {
    '"hello world" => {$slop: 2}', "(hello | world) => {$slop: 0}",
    "@t:(hello world) => {$slop: 0} @n:[1 4]", "@t:(hello world) => {$slop: 0} big",
    "@t:((hello world) => {$slop: 0} big)", "@t:(hello | foo) => {$weight: 3} | big",
    "(@t:(hello world)) => {$slop: 0} big", "(@t:(hello world) => {$slop: 0}) big",
}  # fmt: skip


@pytest.fixture(scope="module")
def widx(memvec: ServerThread, redis_stack: RedisStack) -> Iterator[str]:
    """TEXT ``t``/``u``, NUMERIC ``n``, TAG ``tg`` over :data:`WINDOW_DOCS`."""
    p = f"rw{uuid.uuid4().hex[:8]}"
    clients = [redis.Redis(host="127.0.0.1", port=memvec.port), redis_stack.client()]
    others = [("world hello", "a"), ("foo", "b"), ("bar hello", "a"), ("", "ab,b")]
    for r in clients:
        r.execute_command(
            "FT.CREATE", p, "PREFIX", "1", f"{p}:", "SCHEMA", "t", "TEXT", "u", "TEXT",
            "n", "NUMERIC", "tg", "TAG",
        )  # fmt: skip
        wait_index_scanned(r, p, 30)
        for i, (text, (u, tg)) in enumerate(zip(WINDOW_DOCS, others, strict=True)):
            r.hset(f"{p}:{i}", mapping={"t": text, "u": u, "n": i + 1, "tg": tg})
    try:
        yield p
    finally:
        for r in clients:
            call(r, "FT.DROPINDEX", p, "DD")
            r.close()


def test_query_attributes(pair: Pair, widx: str) -> None:
    """``=>{$weight; $slop; $inorder}`` applied as the peer applies them: scores (TFIDF,
    BM25, DISMAX), matches, FT.EXPLAIN."""
    commands: list[tuple[object, ...]] = []
    for query in ATTRIBUTES:
        for scorer in ("TFIDF", "BM25", "DISMAX"):
            commands.append(("FT.SEARCH", widx, query, "WITHSCORES", "NOCONTENT", "SCORER", scorer))
        if query not in NOT_EXPLAINED:
            commands.append(("FT.EXPLAIN", widx, query))
    for extra in WINDOW_ARGS:
        for query in ("(world hello) => {$slop: 3}", "(world hello) => {$slop: -1}",
                      "(world hello) => {$inorder: false}", "(world hello) => {$slop: 0}"):  # fmt: skip
            commands.append(("FT.SEARCH", widx, query, "WITHSCORES", "NOCONTENT", *extra))
    assert not _diffs(pair, [(*c, "DIALECT", "2") for c in commands])


def test_return_of_an_alias_reads_its_field(pair: Pair, idx: str) -> None:
    al = f"{idx}al"
    commands: list[tuple[object, ...]] = [
        ("FT.SEARCH", al, "*", "RETURN", "4", "numval", "numval_name", "AS", "numval_new_name"),
        ("FT.SEARCH", al, "*", "RETURN", "6", "numval_name", "AS", "x", "x", "AS", "y"),
        ("FT.SEARCH", al, "*", "RETURN", "6", "x", "AS", "y", "numval_name", "AS", "x"),
        ("FT.SEARCH", al, "*", "RETURN", "2", "text_name", "numval_name"),
        ("FT.SEARCH", al, "*", "SORTBY", "numval_name", "RETURN", "3", "numval_name", "AS", "z"),
    ]
    assert not _diffs(pair, [(*c, "DIALECT", "2") for c in commands])
