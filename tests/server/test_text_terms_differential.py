"""TEXT term matching sent to `memvec server` and to the peer (RediSearch 2.10), replies
compared byte for byte, RESP2 and RESP3: stemming (indexed ``+stem`` terms, query terms
expanded, NOSTEM fields, exact phrases, VERBATIM, LANGUAGE), prefix / suffix / infix /
wildcard / fuzzy patterns, with WITHSCORES under TFIDF and BM25, and FT.EXPLAIN's
rendering of each.

One memvec server and one index pair per module; documents are small hand-written
sentences whose words share stems (run, running, runs, runner) so every expansion path
matters to results and scores, with TAG fields (one CASESENSITIVE) for tag patterns.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from store.server import ServerConfig, ServerThread
from tests.harness.components import RedisStack, wait_index_scanned
from tests.server.test_differential import Pair, call

DOCS = [
    {"t": "running fast in the park", "n": "runs daily", "w": "gen,Sci-Fi", "c": "AbC"},
    {"t": "he runs and runs", "n": "running club", "w": "generation", "c": "abc,xyz"},
    {"t": "a runner is running", "n": "run", "w": "generator,fiction", "c": "ABC"},
    {"t": "the hello world of foxes", "n": "fox hunts", "w": "regenerate", "c": "bcd"},
    {"t": "help helping helped", "n": "helpers", "w": "gene,non fiction", "c": "xbc"},
    {"t": "generations generate general generic", "n": "genes", "w": "degenerate"},
]


@pytest.fixture(scope="module")
def memvec_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    data: Path = tmp_path_factory.mktemp("text-terms-memvec")
    thread = ServerThread(ServerConfig(port=0, data_dir=data)).start()
    try:
        yield thread
    finally:
        thread.stop()


@pytest.fixture(scope="module")
def idx(memvec_server: ServerThread, redis_stack: RedisStack) -> Iterator[str]:
    """A unique index name on both servers (``t`` stemmed, ``n`` NOSTEM, ``w`` a TAG), and
    one in German (``<name>de``); dropped at the end."""
    p = f"tt{uuid.uuid4().hex[:8]}"
    clients = [
        redis.Redis(host="127.0.0.1", port=memvec_server.port, protocol=2),
        redis_stack.client(protocol=2),
    ]
    for r in clients:
        r.execute_command(
            "FT.CREATE", p, "PREFIX", "1", f"{p}:", "SCHEMA",
            "t", "TEXT", "n", "TEXT", "NOSTEM", "w", "TAG", "c", "TAG", "CASESENSITIVE",
        )  # fmt: skip
        r.execute_command(
            "FT.CREATE", f"{p}de", "LANGUAGE", "german", "PREFIX", "1", f"{p}:", "SCHEMA",
            "t", "TEXT",
        )  # fmt: skip
        wait_index_scanned(r, p, 30)
        wait_index_scanned(r, f"{p}de", 30)
        for i, doc in enumerate(DOCS):
            r.hset(f"{p}:{i}", mapping=doc)  # type: ignore[arg-type]
    try:
        yield p
    finally:
        for r in clients:
            call(r, "FT.DROPINDEX", p, "DD")
            call(r, "FT.DROPINDEX", f"{p}de")
            r.close()


@pytest.fixture(scope="module", params=[2, 3], ids=["resp2", "resp3"])
def pair(
    request: pytest.FixtureRequest, memvec_server: ServerThread, redis_stack: RedisStack
) -> Iterator[Pair]:
    mine = redis.Redis(host="127.0.0.1", port=memvec_server.port, protocol=request.param)
    theirs = redis_stack.client(protocol=request.param)
    try:
        yield Pair(mine, theirs)
    finally:
        mine.close()
        theirs.close()


QUERIES = [
    # stemming: a term finds its stem's other forms, on stemmed fields; NOSTEM fields
    # only hold the words themselves, but query terms expand there too
    "running", "run", "runs", "runner", "@t:running", "@n:running", "@n:run", "helping",
    "help", "fox", "foxes", "generation", "@t:run @n:run", "running | hello",
    '"running fast"', '"runs"', '@t:"runs"', "-running", "-(running hello)", "~running hello", "$p",
    # patterns
    "gen*", "run*", "*ing", "*elp*", "*ner", "%runing%", "%%rining%%", "%%%ronning%%%",
    "%hel%", "w'run*'", "w'he?p'", "w'*ing'", "@t:*ns", "r*", "*g",
    # tag patterns (CASESENSITIVE on @c)
    "@w:{*tion}", "@w:{*TION}", "@w:{*ene*}", "@w:{*n}", "@w:{*e*}", "@w:{w'*fi?tion'}",
    "@w:{w'Sci*'}", "@w:{gen|*rate|ge*}", "@c:{*BC}", "@c:{*bc}", "@c:{w'a?c'}",
    "@c:{*b*}", "@w:{*ion|*ama} running",
]  # fmt: skip


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("scorer", ["TFIDF", "BM25"])
def test_search_replies_equal(pair: Pair, idx: str, query: str, scorer: str) -> None:
    pair.same(
        "FT.SEARCH", idx, query, "WITHSCORES", "SCORER", scorer, "NOCONTENT",
        "PARAMS", "2", "p", "runs", "DIALECT", "2",
    )  # fmt: skip


@pytest.mark.parametrize("query", QUERIES)
def test_explain_equal(pair: Pair, idx: str, query: str) -> None:
    pair.same("FT.EXPLAIN", idx, query, "PARAMS", "2", "p", "runs", "DIALECT", "2")


@pytest.mark.parametrize(
    "extra",
    [("VERBATIM",), ("LANGUAGE", "german"), ("LANGUAGE", "french")],
)
def test_verbatim_and_language(pair: Pair, idx: str, extra: tuple[str, ...]) -> None:
    for query in ("running", "runs", "helping"):
        pair.same("FT.SEARCH", idx, query, *extra, "WITHSCORES", "NOCONTENT", "DIALECT", "2")


def test_index_language(pair: Pair, idx: str) -> None:
    for query in ("running", "runs", "generations", "laufen"):
        pair.same("FT.SEARCH", f"{idx}de", query, "WITHSCORES", "NOCONTENT", "DIALECT", "2")


SORT_DOCS = [
    {"t": "Hello World", "u": "Zed Alpha", "x": "Beta", "g": "Bb", "p": "Zz", "n": "3"},
    {"t": "apple pie", "u": "alpha zed", "x": "alpha", "g": "aa", "p": "aa", "n": "1"},
    {"t": "Apple Tart", "u": "Alpha", "x": "ALPHA", "g": "AB", "p": "Ab", "n": "2"},
    {"t": "banana", "p": "b"},
]


@pytest.fixture(scope="module")
def sidx(memvec_server: ServerThread, redis_stack: RedisStack) -> Iterator[str]:
    """An index of SORTABLE TEXT (folded), SORTABLE UNF, an aliased SORTABLE TEXT, a
    SORTABLE TAG and a plain TEXT field, on both servers; dropped at the end."""
    p = f"ts{uuid.uuid4().hex[:8]}"
    clients = [
        redis.Redis(host="127.0.0.1", port=memvec_server.port, protocol=2),
        redis_stack.client(protocol=2),
    ]
    for r in clients:
        r.execute_command(
            "FT.CREATE", p, "PREFIX", "1", f"{p}:", "SCHEMA", "t", "TEXT", "SORTABLE",
            "u", "TEXT", "SORTABLE", "UNF", "x", "AS", "al", "TEXT", "SORTABLE",
            "g", "TAG", "SORTABLE", "p", "TEXT", "n", "AS", "num", "NUMERIC", "SORTABLE",
        )  # fmt: skip
        wait_index_scanned(r, p, 30)
        for i, doc in enumerate(SORT_DOCS):
            r.hset(f"{p}:{i}", mapping=doc)  # type: ignore[arg-type]
    try:
        yield p
    finally:
        for r in clients:
            call(r, "FT.DROPINDEX", p, "DD")
            r.close()


@pytest.mark.parametrize(
    "args",
    [
        ("RETURN", "1", "t"),
        ("RETURN", "1", "al"),
        ("RETURN", "1", "x"),
        ("RETURN", "3", "al", "AS", "zz"),
        ("SORTBY", "t", "RETURN", "2", "t", "u"),
        ("SORTBY", "t", "WITHSORTKEYS"),
        ("SORTBY", "t", "DESC", "WITHSORTKEYS"),
        ("SORTBY", "u", "WITHSORTKEYS"),
        ("SORTBY", "al", "WITHSORTKEYS"),
        ("SORTBY", "al", "DESC", "WITHSORTKEYS", "RETURN", "1", "t"),
        ("SORTBY", "g", "WITHSORTKEYS"),
        ("SORTBY", "p", "WITHSORTKEYS"),
        ("SORTBY", "x"),
        ("SORTBY", "num", "DESC", "WITHSORTKEYS"),
        ("SORTBY", "n", "DESC"),
        ("SORTBY", "g", "DESC", "RETURN", "1", "g", "WITHSORTKEYS"),
        ("RETURN", "2", "num", "n"),
    ],
)
def test_sortable_text_replies_equal(pair: Pair, sidx: str, args: tuple[str, ...]) -> None:
    pair.same("FT.SEARCH", sidx, "*", *args, "DIALECT", "2")


def test_aliases_in_aggregate(pair: Pair, sidx: str) -> None:
    pair.same(
        "FT.AGGREGATE", sidx, "*", "LOAD", "1", "@al", "APPLY", "upper(@al)", "AS", "up",
        "SORTBY", "2", "@al", "ASC",
    )  # fmt: skip
    pair.same(
        "FT.AGGREGATE", sidx, "*", "APPLY", "lower(@al)", "AS", "lo", "SORTBY", "2", "@lo", "DESC"
    )
    pair.same("FT.AGGREGATE", sidx, "*", "LOAD", "1", "@t", "SORTBY", "2", "@t", "ASC")
    pair.same("FT.AGGREGATE", sidx, "*", "SORTBY", "2", "@num", "DESC")
    pair.same("FT.AGGREGATE", sidx, "*", "APPLY", "@num*2", "AS", "d")
    pair.same("FT.AGGREGATE", sidx, "*", "LOAD", "1", "@n", "SORTBY", "2", "@n", "ASC")


PHONETIC_DOCS = [
    {"t": "John Smith", "n": "Schmidt"},
    {"t": "Jon Smyth and Thompson", "n": "smith"},
    {"t": "number one knight", "n": "night"},
    {"t": "Jose Caesar", "n": "Philip"},
]


@pytest.fixture(scope="module")
def pidx(memvec_server: ServerThread, redis_stack: RedisStack) -> Iterator[str]:
    """An index with a ``PHONETIC dm:en`` TEXT field ``t`` and a plain one ``n``."""
    p = f"tp{uuid.uuid4().hex[:8]}"
    clients = [
        redis.Redis(host="127.0.0.1", port=memvec_server.port, protocol=2),
        redis_stack.client(protocol=2),
    ]
    for r in clients:
        r.execute_command(
            "FT.CREATE", p, "PREFIX", "1", f"{p}:", "SCHEMA",
            "t", "TEXT", "PHONETIC", "dm:en", "n", "TEXT",
        )  # fmt: skip
        wait_index_scanned(r, p, 30)
        for i, doc in enumerate(PHONETIC_DOCS):
            r.hset(f"{p}:{i}", mapping=doc)  # type: ignore[arg-type]
    try:
        yield p
    finally:
        for r in clients:
            call(r, "FT.DROPINDEX", p, "DD")
            r.close()


PHONETIC_QUERIES = [
    "smith", "smyth", "@t:smith", "@n:smith", "jon", "nite", "@t:nite", "numbr", "hose",
    "seezar", "filip", "@t:smith=>{$phonetic: false}", "@t:smith=>{$phonetic: true}",
    "@n:smith=>{$phonetic: true}", "@n:smith=>{$phonetic: false}", "smith=>{$phonetic: false}",
    "tomson", "@t:sm*", "%smit%",
]  # fmt: skip


@pytest.mark.parametrize("query", PHONETIC_QUERIES)
def test_phonetic_replies_equal(pair: Pair, pidx: str, query: str) -> None:
    pair.same("FT.SEARCH", pidx, query, "WITHSCORES", "NOCONTENT", "DIALECT", "2")
    pair.same("FT.SEARCH", pidx, query, "WITHSCORES", "SCORER", "BM25", "NOCONTENT", "DIALECT", "2")
    pair.same("FT.EXPLAIN", pidx, query, "DIALECT", "2")


@pytest.mark.parametrize("matcher", ["dm:fr", "dm:xx", "DM:EN", "xx:en", None])
def test_phonetic_matchers(pair: Pair, matcher: str | None) -> None:
    name = f"tq{uuid.uuid4().hex[:8]}"
    args = ["FT.CREATE", name, "PREFIX", "1", f"{name}:", "SCHEMA", "t", "TEXT", "PHONETIC"]
    pair.same(*args, *([matcher] if matcher else []))
    if matcher == "dm:fr":  # FT.INFO does not show PHONETIC
        mine, theirs = (_attributes(call(r, "FT.INFO", name)) for r in (pair.memvec, pair.peer))
        assert mine == theirs
    for r in (pair.memvec, pair.peer):
        call(r, "FT.DROPINDEX", name)


def _attributes(info: Any) -> Any:
    if isinstance(info, dict):
        return info[b"attributes"]
    return info[info.index(b"attributes") + 1]


@pytest.mark.parametrize(
    "extra", [(), ("VERBATIM",), ("LANGUAGE", "german")], ids=["default", "verbatim", "german"]
)
def test_aggregate_stems_as_search(pair: Pair, idx: str, extra: tuple[str, ...]) -> None:
    pair.same(
        "FT.AGGREGATE", idx, "running", *extra, "LOAD", "1", "@t", "SORTBY", "2", "@t", "ASC",
        "DIALECT", "2",
    )  # fmt: skip


@pytest.fixture(scope="module")
def many(memvec_server: ServerThread, redis_stack: RedisStack) -> Iterator[str]:
    """250 documents of distinct terms and tags ``ab000x`` ..., past MAXEXPANSIONS (200)."""
    p = f"tm{uuid.uuid4().hex[:8]}"
    clients = [
        redis.Redis(host="127.0.0.1", port=memvec_server.port, protocol=2),
        redis_stack.client(protocol=2),
    ]
    for r in clients:
        r.execute_command("FT.CREATE", p, "PREFIX", "1", f"{p}:", "SCHEMA", "t", "TEXT", "g", "TAG")
        wait_index_scanned(r, p, 30)
        with r.pipeline(transaction=False) as pipe:
            for i in range(250):
                pipe.hset(f"{p}:{i}", mapping={"t": f"ab{i:03d}x", "g": f"ab{i:03d}x"})
            pipe.execute()
    try:
        yield p
    finally:
        for r in clients:
            call(r, "FT.DROPINDEX", p, "DD")
            r.close()


@pytest.mark.parametrize("query", ["ab*", "@g:{ab*}", "*x", "@g:{*x}", "*b*", "@g:{ab*} ab1*"])
def test_max_expansions(pair: Pair, many: str, query: str) -> None:
    pair.same("FT.SEARCH", many, query, "SORTBY", "t", "DESC", "LIMIT", "0", "3", "NOCONTENT")


def test_config_limits(
    memvec_server: ServerThread, many: str, redis_stack_factory: Callable[..., RedisStack]
) -> None:
    """FT.CONFIG SET MAXEXPANSIONS / MINPREFIX change what patterns expand to (on a
    private peer, since the setting is process-wide there), with RediSearch's errors."""
    peer = redis_stack_factory()
    theirs = peer.client(protocol=2)
    mine = redis.Redis(host="127.0.0.1", port=memvec_server.port, protocol=2)
    pair = Pair(mine, theirs)
    try:
        theirs.execute_command("FT.CREATE", many, "PREFIX", "1", f"{many}:", "SCHEMA", "t",
                               "TEXT", "g", "TAG")  # fmt: skip
        wait_index_scanned(theirs, many, 30)
        with theirs.pipeline(transaction=False) as pipe:
            for i in range(250):
                pipe.hset(f"{many}:{i}", mapping={"t": f"ab{i:03d}x", "g": f"ab{i:03d}x"})
            pipe.execute()
        for value in ("0", "-1", "abc", " 5", "1.5"):
            pair.same("FT.CONFIG", "SET", "MAXEXPANSIONS", value)
            pair.same("FT.CONFIG", "SET", "MINPREFIX", value)
        pair.same("FT.CONFIG", "SET", "MAXEXPANSIONS", "+7")
        pair.same("FT.CONFIG", "SET", "MINPREFIX", "3")
        pair.same("FT.CONFIG", "GET", "MAXEXPANSIONS")
        pair.same("FT.CONFIG", "GET", "MINPREFIX")
        for query in ("ab*", "ab0*", "@g:{ab*}", "@g:{ab0*}", "*x", "*0x", "@g:{*0x}"):
            pair.same("FT.SEARCH", many, query, "SORTBY", "t", "DESC", "NOCONTENT")
    finally:
        call(mine, "FT.CONFIG", "SET", "MAXEXPANSIONS", "200")
        call(mine, "FT.CONFIG", "SET", "MINPREFIX", "2")
        mine.close()
        theirs.close()


def test_language_field(pair: Pair) -> None:
    """Each document stems in its LANGUAGE_FIELD's language (any case; an unknown one
    falls back to the index's), also after the field changes or the document goes."""
    p = f"tl{uuid.uuid4().hex[:8]}"
    script: list[tuple[str, ...]] = [
        ("FT.CREATE", p, "PREFIX", "1", f"{p}:", "LANGUAGE_FIELD", "lang", "SCHEMA", "t", "TEXT"),
        ("HSET", f"{p}:1", "t", "laufen läuft gelaufen", "lang", "german"),
        ("HSET", f"{p}:2", "t", "running runs", "lang", "GERMAN"),
        ("HSET", f"{p}:3", "t", "running runs", "lang", "klingon"),
        ("HSET", f"{p}:4", "t", "running runs"),
        ("HSET", f"{p}:5", "t", "courir courons", "lang", "french"),
    ]
    queries = [("laufen",), ("läuft", "LANGUAGE", "german"), ("run",), ("running",),
               ("courir", "LANGUAGE", "french"), ("cour",)]  # fmt: skip
    try:
        for command in script:
            pair.same(*command)
            if command[0] == "FT.CREATE":
                wait_index_scanned(pair.peer, p)  # else a document may be indexed twice
        for query in queries:
            pair.same("FT.SEARCH", p, *query, "NOCONTENT", "WITHSCORES", "DIALECT", "2")
        pair.same("HSET", f"{p}:5", "lang", "english")
        pair.same("DEL", f"{p}:1")
        # scores after a delete differ (the peer's IDF counts deleted documents until its
        # GC runs: docs/compatibility.md), the documents found do not
        for query in queries:
            pair.same("FT.SEARCH", p, *query, "NOCONTENT", "DIALECT", "2")
    finally:
        for r in (pair.memvec, pair.peer):
            call(r, "FT.DROPINDEX", p, "DD")


def test_patterns_with_params_and_suffix_trie(pair: Pair) -> None:
    """``$param`` pattern texts, fuzzy numbers, ``%`` syntax errors, and RediSearch's
    refusal of suffix/contains/wildcard on fields without WITHSUFFIXTRIE once one has it."""
    p = f"tx{uuid.uuid4().hex[:8]}"
    params = ("PARAMS", "2", "p", "ell")
    try:
        pair.same("FT.CREATE", p, "PREFIX", "1", f"{p}:", "SCHEMA", "t", "TEXT",
                  "s", "TEXT", "WITHSUFFIXTRIE", "g", "TAG")  # fmt: skip
        wait_index_scanned(pair.peer, p)
        pair.same("HSET", f"{p}:1", "t", "hello world ab", "s", "hello there", "g", "hello")
        pair.same("HSET", f"{p}:2", "t", "a b c 12", "s", "x", "g", "ab")
        for query, extra in [
            ("%%%%hello%%%%", ()), ("%hello", ()), ("%%hello%", ()), ("%12%", ()), ("%a%", ()),
            ("@t:*ell*", ()), ("@t:*llo", ()), ("@t:w'h*'", ()), ("@t|s:*llo", ()),
            ("@s:*ell*", ()), ("*ell*", ()), ("@t:%helo%", ()), ("@g:{*ll*}", ()),
            ("*$p*", params), ("*$p", ("PARAMS", "2", "p", "llo")), ("*$q*", params),
            ("%$p%", ("PARAMS", "2", "p", "Hello")), ("w'$p'", ("PARAMS", "2", "p", "h*")),
        ]:  # fmt: skip
            pair.same("FT.SEARCH", p, query, *extra, "NOCONTENT", "DIALECT", "2")
            pair.same("FT.EXPLAIN", p, query, *extra, "DIALECT", "2")
    finally:
        for r in (pair.memvec, pair.peer):
            call(r, "FT.DROPINDEX", p, "DD")


@pytest.mark.parametrize(
    "query", ["running", "run fast", "*un*", "run @w:{gen}", "@w:{gen|generation}", "~run @w:{gen}",
              "run|fast", "-run"],
)  # fmt: skip
def test_matched_terms(pair: Pair, idx: str, query: str) -> None:
    """matched_terms() lists what each document's iterators matched: stems, the expansion
    a pattern found, tag values, in RediSearch's order."""
    pair.same(
        "FT.AGGREGATE", idx, query, "LOAD", "1", "@t", "APPLY", "matched_terms()", "AS", "m",
        "SORTBY", "2", "@t", "ASC", "DIALECT", "2",
    )  # fmt: skip
