"""DIALECT 2 query parsing and FT.SEARCH option parsing.

Queries come from RediSearch, MemoryDB and RedisVL documentation and from what RedisVL
generates; expected error texts were read off RediSearch 2.10.5 (the peer).
"""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from store.errors import QuerySyntaxError
from store.index.query import (
    And,
    FilterNode,
    KnnClause,
    MatchAll,
    MatchNone,
    Not,
    NumericFilter,
    OptionalFilter,
    Or,
    ParsedQuery,
    TagFilter,
    TextFilter,
    make_and,
    make_not,
    make_or,
    parse_query,
)
from store.index.search_args import ReturnField, SearchRequest, SortBy, parse_ft_search

INF = math.inf
BLOB = bytes(range(16))
SCORE = b"__vec_score"
PARAMS = {b"vector": BLOB, b"vec": BLOB, b"K": b"3", b"EF": b"150", b"lo": b"3", b"hi": b"(5",
          b"neg": b"-inf", b"genre": b"Sci-Fi", b"bad": b"x", b"word": b"Hello"}  # fmt: skip


def tag(field: bytes, *values: bytes, prefixes: tuple[bytes, ...] = ()) -> TagFilter:
    return TagFilter(field, frozenset(values), frozenset(prefixes))


def num(
    field: bytes, lo: float, hi: float, lo_in: bool = True, hi_in: bool = True
) -> NumericFilter:
    return NumericFilter(field, lo, hi, lo_in, hi_in)


def text(field: bytes | None, *terms: bytes, prefix: bool = False) -> TextFilter:
    return TextFilter(None if field is None else tuple(field.split(b"|")), terms, prefix)


FILTERS: list[tuple[str, FilterNode]] = [
    ("*", MatchAll()),
    ("(*)", MatchAll()),
    ("", MatchNone()),
    ("@credit_score:{high}", tag(b"credit_score", b"high")),
    ("@genre:{comedy|Drama}", tag(b"genre", b"comedy", b"Drama")),
    ("@genre:{ comedy | drama }", tag(b"genre", b"comedy", b"drama")),
    (r"@genre:{sci\-fi}", tag(b"genre", b"sci-fi")),
    (r"@genre:{space\ opera}", tag(b"genre", b"space opera")),
    ("@genre:{space opera}", tag(b"genre", b"space opera")),
    (r"@email:{foo\@bar\.com}", tag(b"email", b"foo@bar.com")),
    (r"@url:{https\:\/\/x\.io}", tag(b"url", b"https://x.io")),
    ("@year:{2024|4.5|-1}", tag(b"year", b"2024", b"4.5", b"-1")),
    ("@genre:{$genre}", tag(b"genre", b"Sci-Fi")),
    ("@genre:{act*}", tag(b"genre", prefixes=(b"act",))),
    ("@genre:{x|act*}", tag(b"genre", b"x", prefixes=(b"act",))),
    ("-@genre:{comedy}", Not(tag(b"genre", b"comedy"))),
    ("@rating:[4 +inf]", num(b"rating", 4, INF)),
    ("@rating:[-inf 4]", num(b"rating", -INF, 4)),
    ("@rating:[inf inf]", num(b"rating", INF, INF)),
    ("@rating:[(3 5]", num(b"rating", 3, 5, lo_in=False)),
    ("@rating:[3 (5]", num(b"rating", 3, 5, hi_in=False)),
    ("@rating:[(3 (5]", num(b"rating", 3, 5, False, False)),
    ("@rating:[-1.5e3 1E2]", num(b"rating", -1500, 100)),
    ("@rating:[1, 2]", num(b"rating", 1, 2)),
    ("@rating : [ 1  2 ]", num(b"rating", 1, 2)),
    ("@rating:[3]", num(b"rating", 3, 3)),
    ("@rating:[5 3]", num(b"rating", 5, 3)),
    # a "(" inside a parameter's value is read and dropped, as on the peer: inclusive
    ("@rating:[$lo $hi]", num(b"rating", 3, 5)),
    ("@rating:[($lo +inf]", num(b"rating", 3, INF, lo_in=False)),
    ("@rating:[$neg 0]", num(b"rating", -INF, 0)),
    ("@rating:[-$lo 0]", num(b"rating", -3, 0)),
    ("@rating>3", num(b"rating", 3, INF, lo_in=False)),
    ("@rating >= 3", num(b"rating", 3, INF)),
    ("@rating<$lo", num(b"rating", -INF, 3, hi_in=False)),
    ("@rating<=-2", num(b"rating", -INF, -2)),
    ("@rating==3", num(b"rating", 3, 3)),
    ("@rating!=3", Not(num(b"rating", 3, 3))),
    ("@genre:{comedy} @rating:[4 +inf]",
     And((tag(b"genre", b"comedy"), num(b"rating", 4, INF)))),
    ("@genre:{comedy} | @rating:[3 3]", Or((tag(b"genre", b"comedy"), num(b"rating", 3, 3)))),
    ("@a:[1 2] | @b:[3 4] @c:{x}",
     Or((num(b"a", 1, 2), And((num(b"b", 3, 4), tag(b"c", b"x")))))),
    ("(@a:[1 2] | @b:[3 4]) @c:{x}",
     And((Or((num(b"a", 1, 2), num(b"b", 3, 4))), tag(b"c", b"x")))),
    ("-(@a:{x} | @b:[7 7])", Not(Or((tag(b"a", b"x"), num(b"b", 7, 7))))),
    ("--@a:{x}", tag(b"a", b"x")),
    ("@a:{x} -@b:{y} -@c:{z}", And((tag(b"a", b"x"), Not(tag(b"b", b"y")), Not(tag(b"c", b"z"))))),
    ("((@a:{x}))", tag(b"a", b"x")),
    # optional: matches everything, scores where the child matches (RediSearch's OPTIONAL)
    ("~@a:{x}", OptionalFilter(tag(b"a", b"x"))),
    ("@a:{x} ~@b:{y}", And((tag(b"a", b"x"), OptionalFilter(tag(b"b", b"y"))))),
    ("@rating:[3 +inf]=>{$weight: 2.0}", dataclasses.replace(num(b"rating", 3, INF), weight=2.0)),
    ("hello", text(None, b"hello")),
    ("Hello World", And((text(None, b"hello"), text(None, b"world")))),
    ("the", MatchNone()),
    ("the quick", text(None, b"quick")),
    ("@title:hello", text(b"title", b"hello")),
    ("@title:HELLO", text(b"title", b"hello")),
    ("@title:(hello world)", And((text(b"title", b"hello"), text(b"title", b"world")))),
    ("@title:(hello|quick)", Or((text(b"title", b"hello"), text(b"title", b"quick")))),
    ("@title:hello world", And((text(b"title", b"hello"), text(None, b"world")))),
    ("@title:-hello", Not(text(b"title", b"hello"))),
    ('@title:"hello world"', text(b"title", b"hello", b"world")),
    ('@title:"the quick fox"', text(b"title", b"quick", b"fox")),
    ("@title:hel*", text(b"title", b"hel", prefix=True)),
    ("@title:$word", text(b"title", b"hello")),
    ("@title|body:hello", text(b"title|body", b"hello")),
    ('@title|body:"a fox"', dataclasses.replace(text(b"title|body", b"fox"), exact=True)),
    ('@title|body:"fox hunt"', text(b"title|body", b"fox", b"hunt")),
    ("@title:3", text(b"title", b"3")),
]  # fmt: skip


@pytest.mark.parametrize(("query", "expected"), FILTERS)
def test_filters(query: str, expected: FilterNode) -> None:
    assert parse_query(query, PARAMS) == ParsedQuery(expected)
    assert parse_query(query.encode(), PARAMS) == ParsedQuery(expected)


KNN: list[tuple[str, ParsedQuery]] = [
    ("*=>[KNN 10 @embedding $vector]",
     ParsedQuery(MatchAll(), KnnClause(10, b"embedding", BLOB, None, b"__embedding_score"))),
    ("(@genre:{comedy} @rating:[4 +inf])=>[KNN 10 @embedding $vector AS vector_distance]",
     ParsedQuery(And((tag(b"genre", b"comedy"), num(b"rating", 4, INF))),
                 KnnClause(10, b"embedding", BLOB, None, b"vector_distance"))),
    ("@credit_score:{high}=>[KNN 5 @user_embedding $vector AS vector_distance]",
     ParsedQuery(tag(b"credit_score", b"high"),
                 KnnClause(5, b"user_embedding", BLOB, None, b"vector_distance"))),
    ("*=>[KNN $K @vec $vec EF_RUNTIME $EF AS score]",
     ParsedQuery(MatchAll(), KnnClause(3, b"vec", BLOB, 150, b"score"))),
    ("*=>[knn 2 @vec $vec ef_runtime 7 as d]",
     ParsedQuery(MatchAll(), KnnClause(2, b"vec", BLOB, 7, b"d"))),
    ("*=>[KNN 10 @vec $vec]=>{$yield_distance_as: dist}",
     ParsedQuery(MatchAll(), KnnClause(10, b"vec", BLOB, None, b"dist"))),
    ("*=>[KNN 10 @vec $vec]=>{$YIELD_DISTANCE_AS: dist; $EF_RUNTIME: 40;}",
     ParsedQuery(MatchAll(), KnnClause(10, b"vec", BLOB, 40, b"dist"))),
    ("(*)=>[KNN 0 @vec $vec]", ParsedQuery(MatchAll(), KnnClause(0, b"vec", BLOB, None, SCORE))),
    ("the=>[KNN 1 @vec $vec]", ParsedQuery(MatchAll(), KnnClause(1, b"vec", BLOB, None, SCORE))),
    ("@g:{x}=>[KNN 2 @vec $vec HYBRID_POLICY batches BATCH_SIZE 50]",
     ParsedQuery(tag(b"g", b"x"), KnnClause(2, b"vec", BLOB, None, SCORE, b"BATCHES", 50))),
    ("@g:{x}=>[KNN 2 @vec $vec HYBRID_POLICY ADHOC_BF]",
     ParsedQuery(tag(b"g", b"x"), KnnClause(2, b"vec", BLOB, None, b"__vec_score", b"ADHOC_BF"))),
    ("-@g:{x} =>[KNN 2 @vec $vec]",
     ParsedQuery(Not(tag(b"g", b"x")), KnnClause(2, b"vec", BLOB, None, b"__vec_score"))),
    ("@title:hello=>[KNN 2 @vec $vec]",
     ParsedQuery(text(b"title", b"hello"), KnnClause(2, b"vec", BLOB, None, b"__vec_score"))),
]  # fmt: skip


@pytest.mark.parametrize(("query", "expected"), KNN)
def test_knn(query: str, expected: ParsedQuery) -> None:
    assert parse_query(query, PARAMS) == expected


ERRORS = [
    ("@genre:{a", "Syntax error at offset 8 near a"),
    ("@genre:{}", "Syntax error at offset 8"),
    ("@genre:{sci-fi}", "Syntax error at offset 11"),
    ("@rating:[1 x]", "Syntax error at offset 11 near x"),
    ("@rating:[3 +inf", "Syntax error at offset 11 near +inf"),
    ("@rating:[3 4 5]", "Syntax error at offset 14 near 5"),  # the peer's: a GEO range may follow
    ("()", "Syntax error at offset 1"),
    ("@rating:[$bad 5]", "Bad lower range: x"),
    ("@rating:[1 $bad]", "Bad upper range: x"),
    ("@rating:[$bad]", "Invalid numeric value (x) for parameter `bad`"),
    ("@rating > $bad", "Invalid numeric value (x) for parameter `bad`"),
    ("@rating:[$nope 1]", "No such parameter `nope`"),
    ("@genre:{$t|up$per}", "No such parameter `t`"),
    ("*=>[KNN 10 @embedding $B]", "No such parameter `B`"),
    ("*=>[KNN $bad @vec $vec]", "Invalid numeric value (x) for parameter `bad`"),
    ("*=>[KNN -1 @vec $vec]", "Syntax error at offset 8 near -1"),
    ("*=>[KNN 1.5 @vec $vec]", "Syntax error at offset 8 near 1.5"),
    ("*=>[FOO 2 @vec $vec]",
     "Syntax error: Expecting Vector Similarity command at offset 4 near FOO"),
    ("*=>[KNN 2 @vec abc]", "Syntax error at offset 15 near abc"),
    ("*=>[KNN 2 @vec $vec", "Syntax error at offset 15 near vec"),
    ("*=>[KNN 2 @vec $vec AS]", "Syntax error at offset 22"),
    ("*=>[KNN 2 @vec $vec] @genre:{x}", "Syntax error at offset 21 near genre"),
    ("(@g:{x}=>[KNN 2 @vec $vec])", "Syntax error at offset 7"),
    ("*=>[KNN 2 @vec $vec FOO 1]", "Error parsing vector similarity parameters: Invalid option"),
    ("*=>[KNN 2 @vec $vec EF_RUNTIME 0]",
     "Error parsing vector similarity parameters: Invalid value was given"),
    ("*=>[KNN 2 @vec $vec EF_RUNTIME x]",
     "Error parsing vector similarity parameters: Invalid value was given"),
    ("*=>[KNN 2 @vec $vec EF_RUNTIME 5 EF_RUNTIME 6]",
     "Error parsing vector similarity parameters: Parameter was specified twice"),
    ("*=>[KNN 2 @vec $vec HYBRID_POLICY ADHOC_BF]",
     "Error parsing vector similarity parameters: hybrid query attributes were sent for a "
     "non-hybrid query"),
    ("*=>[KNN 2 @vec $vec AS x]=>{$yield_distance_as: dist}",
     "Distance field was specified twice for vector query: x and dist"),
    ("*=>[KNN 2 @vec $vec]=>{$foo: 5}", "Invalid attribute foo"),
    ("@rating:[3 +inf]=>{$foo: 2}", "Invalid attribute foo"),
    ("@v:[VECTOR_RANGE -0.5 $vec]", "Error parsing vector similarity query: negative radius (-0.5)"),
    ("ismissing(@rating)", "ismissing() is not supported"),
    ("(" * 300 + "a" + ")" * 300, "Parser stack overflow"),
]  # fmt: skip


@pytest.mark.parametrize(("query", "message"), ERRORS)
def test_errors(query: str, message: str) -> None:
    params = {k: v for k, v in PARAMS.items() if k != b"t"}
    with pytest.raises(QuerySyntaxError) as caught:
        parse_query(query, params)
    assert str(caught.value).startswith(message), str(caught.value)


def test_stopwords_and_text_fields_options() -> None:
    assert parse_query("the", stopwords=frozenset()) == ParsedQuery(text(None, b"the"))
    assert parse_query("hello", text_fields=(b"a", b"b")) == ParsedQuery(text(b"a|b", b"hello"))


def test_simplifiers() -> None:
    a, b = tag(b"a", b"x"), tag(b"b", b"y")
    assert make_and([MatchAll(), a]) == a
    assert make_and([a, MatchNone()]) == MatchNone()
    assert make_and([]) == MatchAll()
    assert make_and([And((a, b)), a]) == And((a, b, a))
    assert make_or([MatchNone(), a]) == a
    assert make_or([a, MatchAll()]) == MatchAll()
    assert make_or([]) == MatchNone()
    assert make_not(make_not(a)) == a
    assert make_not(MatchAll()) == MatchNone()
    assert make_not(MatchNone()) == MatchAll()


# -- round trip: random trees rendered as query strings parse back to themselves ---------------

_FIELDS = st.sampled_from([b"genre", b"tags", b"Year_1"])
_TAG_CHARS = st.sampled_from(list("abcXYZ019 -.:_/@é"))
_TAG_VALUE = (
    st.text(_TAG_CHARS, min_size=1, max_size=6).map(str.encode).filter(lambda v: v.strip() == v)
)
_NUMBER = st.one_of(
    st.floats(allow_nan=False, allow_infinity=True, width=64),
    st.integers(-1000, 1000).map(float),
)
_TERMS = st.sampled_from([b"hello", b"world", b"quick", b"fox", b"x1"])


@st.composite
def _leaf(draw: st.DrawFn) -> FilterNode:
    kind = draw(st.sampled_from(["tag", "num", "text"]))
    field = draw(_FIELDS)
    if kind == "tag":
        return TagFilter(field, frozenset(draw(st.lists(_TAG_VALUE, min_size=1, max_size=3))))
    if kind == "num":
        lo, hi = draw(_NUMBER), draw(_NUMBER)
        return NumericFilter(field, lo, hi, draw(st.booleans()), draw(st.booleans()))
    return TextFilter((field,), (draw(_TERMS),))


def _trees() -> st.SearchStrategy[FilterNode]:
    return st.recursive(
        _leaf(),
        lambda kids: st.one_of(
            st.lists(kids, min_size=2, max_size=3).map(make_and),
            st.lists(kids, min_size=2, max_size=3).map(make_or),
            kids.map(make_not),
        ),
        max_leaves=8,
    )


def _escape(value: bytes) -> bytes:
    out = bytearray()
    for c in value:
        if chr(c) in " -.:/@_" and c != ord("_"):
            out.append(ord("\\"))
        out.append(c)
    return bytes(out)


def _number(value: float) -> bytes:
    if math.isinf(value):
        return b"+inf" if value > 0 else b"-inf"
    return repr(value).encode()


def render(node: FilterNode) -> bytes:
    """A query string for ``node`` (the inverse of parse_query, used by tests)."""
    if isinstance(node, TagFilter):
        return b"@%s:{%s}" % (node.field, b" | ".join(_escape(v) for v in sorted(node.values)))
    if isinstance(node, NumericFilter):
        lo = (b"" if node.lo_inclusive else b"(") + _number(node.lo)
        hi = (b"" if node.hi_inclusive else b"(") + _number(node.hi)
        return b"@%s:[%s %s]" % (node.field, lo, hi)
    if isinstance(node, TextFilter):
        body = b'"%s"' % b" ".join(node.terms) if len(node.terms) > 1 else node.terms[0]
        body += b"*" if node.prefix else b""
        return body if node.fields is None else b"@%s:%s" % (b"|".join(node.fields), body)
    if isinstance(node, Not):
        return b"-(" + render(node.child) + b")"
    if isinstance(node, And):
        return b"(" + b" ".join(render(c) for c in node.children) + b")"
    if isinstance(node, Or):
        return b"(" + b" | ".join(render(c) for c in node.children) + b")"
    if isinstance(node, MatchAll):
        return b"*"
    raise AssertionError(node)


@settings(max_examples=300, deadline=None)
@given(_trees())
def test_rendered_trees_parse_back(tree: FilterNode) -> None:
    assert parse_query(render(tree)).filter == tree


# -- FT.SEARCH options -----------------------------------------------------------------------


def search(line: str) -> SearchRequest:
    return parse_ft_search(line.split())


def test_search_defaults() -> None:
    r = search("*")
    assert r == SearchRequest(query=b"*")
    assert r.limit == (0, 10)
    assert (r.nocontent, r.return_fields, r.sortby, r.dialect, r.params) == (
        False,
        None,
        None,
        None,
        {},
    )


def test_search_options() -> None:
    r = parse_ft_search([
        b"@g:{x}=>[KNN 3 @v $B AS d]", b"nocontent", b"RETURN", b"3", b"g", b"AS", b"genre",
        b"SORTBY", b"@d", b"DESC", b"LIMIT", b"5", b"20", b"PARAMS", b"2", b"B", BLOB,
        b"DIALECT", b"2", b"TIMEOUT", b"100", b"WITHSCORES", b"VERBATIM", b"NOSTOPWORDS",
        b"INKEYS", b"2", b"k1", b"k2", b"INFIELDS", b"1", b"t", b"SLOP", b"1", b"INORDER",
        b"LANGUAGE", b"English", b"SCORER", b"BM25", b"WITHCOUNT", b"FORMAT", b"STRING",
    ])  # fmt: skip
    assert r.nocontent and r.withscores and r.verbatim and r.nostopwords and r.inorder
    assert r.return_fields == (ReturnField(b"g", b"genre"),)
    assert r.sortby == SortBy(b"d", False)
    assert r.limit == (5, 20)
    assert r.params == {b"B": BLOB}
    assert (r.dialect, r.timeout_ms, r.slop, r.language, r.scorer) == (
        2,
        100,
        1,
        b"English",
        b"BM25",
    )
    assert r.inkeys == (b"k1", b"k2") and r.infields == (b"t",)
    parsed = r.parse_query()
    assert parsed.knn == KnnClause(3, b"v", BLOB, None, b"d")
    field_name, ascending = r.sortby
    assert (field_name, ascending) == (b"d", False)
    assert [(n, a) for n, a in r.return_fields] == [(b"g", b"genre")]


def test_search_return_variants() -> None:
    assert search("* RETURN 0").return_fields == ()
    assert search("* RETURN 0").nocontent
    assert search("* RETURN 1 genre RETURN 1 rating").return_fields == (
        ReturnField(b"rating", b"rating"),
    )
    assert search("* RETURN 4 genre AS g rating").return_fields == (
        ReturnField(b"genre", b"g"),
        ReturnField(b"rating", b"rating"),
    )


def test_search_sortby_default_ascending() -> None:
    assert search("* SORTBY rating").sortby == SortBy(b"rating", True)
    assert search("* SORTBY rating asc").sortby == SortBy(b"rating", True)


def test_search_legacy_filter_and_nostopwords() -> None:
    r = search("@g:{x} FILTER rating (1 +inf")
    assert r.parse_query().filter == And((tag(b"g", b"x"), num(b"rating", 1, INF, lo_in=False)))
    assert search("the NOSTOPWORDS").parse_query().filter == dataclasses.replace(
        text(None, b"the"), expansions=(b"+the",)
    )
    assert search("the").parse_query().filter == MatchNone()
    assert search("foo").parse_query(stopwords=frozenset({b"foo"})).filter == MatchNone()


def test_search_check_sortby() -> None:
    from store.index.schema import parse_ft_create

    d = parse_ft_create(["i", "SCHEMA", "rating", "NUMERIC", "SORTABLE"])
    search("* SORTBY rating").check_sortby(d)
    search("* SORTBY __v_score").check_sortby(d, extra=[b"__v_score"])
    with pytest.raises(QuerySyntaxError, match="Property `nofield` not loaded nor in schema"):
        search("* SORTBY nofield").check_sortby(d)


SEARCH_ERRORS = [
    ("", "No query string provided"),
    ("* FOO", "Unknown argument `FOO` at position 1 for <main>"),
    ("* SORTBY rating FOO", "Unknown argument `FOO` at position 3 for <main>"),
    ("* SORTBY rating ASC DESC", "Unknown argument `DESC` at position 4 for <main>"),
    ("* LIMIT 0", "LIMIT requires two arguments"),
    ("* LIMIT -1 10", "LIMIT needs two numeric arguments"),
    ("* LIMIT 0 x", "LIMIT needs two numeric arguments"),
    ("* LIMIT 0 1000001", "LIMIT exceeds maximum of 1000000"),
    ("* RETURN", "Bad arguments for RETURN: Expected an argument, but none provided"),
    ("* RETURN 2 genre", "Bad arguments for RETURN: Expected an argument, but none provided"),
    ("* RETURN x", "Bad arguments for RETURN: Could not convert argument to expected type"),
    ("* RETURN 2 genre AS", "RETURN path AS name - must be accompanied with NAME"),
    ("* RETURN 3 genre AS as", "Alias for RETURN cannot be `AS`"),
    ("* SORTBY", "Bad SORTBY arguments"),
    ("* SORTBY a SORTBY b", "Multiple SORTBY steps are not allowed"),
    ("* PARAMS 1 a", "Parameters must be specified in PARAM VALUE pairs"),
    ("* PARAMS 0", "Parameters must be specified in PARAM VALUE pairs"),
    ("* PARAMS x a b", "Bad arguments for PARAMS: Could not convert argument to expected type"),
    ("* PARAMS 2 a b PARAMS 2 c d",
     "Multiple PARAMS are not allowed. Parameters can be defined only once"),
    ("* PARAMS 4 a b a c", "Duplicate parameter `a`"),
    ("* DIALECT", "Need an argument for DIALECT"),
    ("* DIALECT 0", "DIALECT requires a non negative integer >=1 and <= 4"),
    ("* DIALECT 5", "DIALECT requires a non negative integer >=1 and <= 4"),
    ("* TIMEOUT -1", "TIMEOUT requires a non negative integer"),
    ("* TIMEOUT", "Need argument for TIMEOUT"),
    ("* EXPLAINSCORE", "EXPLAINSCORE must be accompanied with WITHSCORES"),
    ("* LANGUAGE klingon", "No such language"),
    ("* SCORER NOPE", "No such scorer NOPE"),
    ("* FILTER rating 1", "FILTER requires 3 arguments"),
    ("* FILTER rating x 5", "Bad lower range: x"),
    ("* SUMMARIZE", "SUMMARIZE is not supported"),
    ("* HIGHLIGHT", "HIGHLIGHT is not supported"),
    ("* GEOFILTER loc 1 2 3", "GEOFILTER requires 5 arguments"),
    ("* GEOFILTER loc 1 2 3 xx", "Unknown distance unit xx"),
    ("* GEOFILTER loc 1 x 3 km", "Bad arguments for <lat>: Could not convert argument to expected type"),
    ("* GEOFILTER loc 1 2 0 km", "Invalid GeoFilter radius"),
    ("* WITHCURSOR", "WITHCURSOR is not supported"),
    ("* ADDSCORES", "ADDSCORES is not supported on FT.SEARCH"),
]  # fmt: skip


@pytest.mark.parametrize(("line", "message"), SEARCH_ERRORS)
def test_search_errors(line: str, message: str) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        search(line)
    assert str(caught.value) == message or str(caught.value).startswith(message)


def test_a_repeated_knn_query_gets_each_calls_vector() -> None:
    """The parse of a KNN query is cached with a placeholder; the vector is per call."""
    query = "@tag:{news}=>[KNN 5 @vec $B EF_RUNTIME $EF AS d]"
    blobs = [bytes([n]) * 1536 for n in range(3)]
    parsed = [parse_query(query, {b"B": blob, b"EF": b"40"}) for blob in blobs]
    assert [p.knn.vector for p in parsed if p.knn] == blobs
    assert {dataclasses.replace(p, knn=None) for p in parsed} == {
        ParsedQuery(TagFilter(b"tag", frozenset({b"news"})))
    }
    assert {(p.knn.k, p.knn.ef_runtime, p.knn.score_alias) for p in parsed if p.knn} == {
        (5, 40, b"d")
    }
    other_ef = parse_query(query, {b"B": blobs[0], b"EF": b"80"})  # other params: other entry
    assert other_ef.knn is not None and other_ef.knn.ef_runtime == 80
    # a long parameter also used as a filter value is not a placeholder's business
    tag = b"t" * 100
    both = parse_query("@tag:{$B}=>[KNN 1 @vec $B]", {b"B": tag})
    assert (
        both.filter == TagFilter(b"tag", frozenset({tag})) and both.knn and both.knn.vector == tag
    )


def test_knn_clause_with_vector_keeps_every_other_field() -> None:
    """The per-query blob swap (``KnnClause.with_vector``) must equal
    ``dataclasses.replace``: a field added to the clause and not to it fails here."""
    values = {f.name: f"x{i}".encode() for i, f in enumerate(dataclasses.fields(KnnClause))}
    values |= {"k": 7, "ef_runtime": 33, "batch_size": 12}
    clause = KnnClause(**values)
    assert clause.with_vector(b"new") == dataclasses.replace(clause, vector=b"new")
    assert clause.with_vector(b"new").vector == b"new"
