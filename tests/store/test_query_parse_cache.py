"""The query-string parse cache: a cached parse equals a fresh one, for every argument.

``parse_query`` keeps parsed query strings (with and without a vector blob) keyed by the
string, the PARAMS, the stopwords, INFIELDS, the language and the phonetic fields. Held
here: over random queries and random values of each of those, in random order, the answer
equals a fresh ``_Parser`` parse of the same arguments (errors included, and errors are
not cached); a repeated plain query is served from the cache; a long query is not kept.
"""

from __future__ import annotations

import random
from typing import NamedTuple

import pytest

from store.errors import QuerySyntaxError
from store.index.query import parser
from store.index.query.lexer import lex
from store.index.query.parser import parse_query

PIECES = [
    "@tag:{{{a}}}", "@tag:{{{a} | {b}}}", "@n:[{lo} {hi}]", "@n:[$lo $hi]", "{w}", "@text:{w}",
    "-{w}", "~@text:{w}", "{w}*", "@text:({w} | {w})", "@tag:{{$t}}", "\"{w} {w}\"", "(",
]  # fmt: skip
WORDS = ["document", "summary", "the", "running", "x", "a", "caf\u00e9"]


def _query(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randrange(1, 4)):
        piece = rng.choice(PIECES)
        parts.append(piece.format(a=rng.choice("abc"), b=rng.choice("xyz"), w=rng.choice(WORDS),
                                  lo=rng.randrange(5), hi=rng.randrange(5, 9)))  # fmt: skip
    return " ".join(parts) if rng.random() < 0.9 else "*"


class Options(NamedTuple):
    stopwords: frozenset[bytes]
    text_fields: tuple[bytes, ...] | None
    language: bytes | None
    phonetic_fields: frozenset[bytes]


def _fresh(query: str, params: dict[bytes, bytes], o: Options) -> object:
    try:
        tokens = lex(query.encode())
        return parser._Parser(tokens, params, *o).query()
    except QuerySyntaxError as exc:
        return ("error", str(exc))


def _cached(query: str, params: dict[bytes, bytes], o: Options) -> object:
    try:
        return parse_query(query, params, **o._asdict())
    except QuerySyntaxError as exc:
        return ("error", str(exc))


def test_a_cached_parse_equals_a_fresh_one() -> None:
    rng = random.Random(11)
    queries = [_query(rng) for _ in range(40)]
    for _ in range(1500):
        query = rng.choice(queries)
        params = {
            b"lo": str(rng.randrange(3)).encode(),
            b"hi": b"7",
            b"t": rng.choice([b"a", b"b"]),
        }
        if rng.random() < 0.3:
            params[b"B"] = rng.randbytes(128)  # a vector blob: the other cache
        o = Options(
            rng.choice([parser.DEFAULT_STOPWORDS, frozenset(), frozenset({b"x"})]),
            rng.choice([None, (b"text",), (b"other",)]),
            rng.choice([None, b"english", b"german"]),
            rng.choice([frozenset(), frozenset({b"text"})]),
        )
        assert _cached(query, params, o) == _fresh(query, params, o), query


def test_a_repeated_plain_query_is_served_from_the_cache() -> None:
    first = parse_query("@tag:{t3} @text:document", {b"x": b"1"})
    again = parse_query("@tag:{t3} @text:document", {b"x": b"1"})
    assert again is first
    assert parse_query("@tag:{t3} @text:document", {b"x": b"2"}) is not first


def test_errors_are_raised_every_time() -> None:
    for _ in range(3):
        with pytest.raises(QuerySyntaxError):
            parse_query("@tag:{t3", {})


def test_a_long_query_is_not_kept() -> None:
    long = " | ".join(f"@tag:{{t{i}}}" for i in range(parser._CACHED_QUERY_MAX // 8))
    assert len(long) > parser._CACHED_QUERY_MAX
    assert parse_query(long) is not parse_query(long)
    assert parse_query(long) == parse_query(long)
