"""FieldIndexes: TAG/NUMERIC/TEXT indexing rules and filter evaluation.

Three oracles: value rules read off RediSearch 2.10.5, a brute-force evaluator over random
documents and random filter trees (hypothesis), and the RediSearch peer itself answering
the same queries over the same documents.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from store.index.fields import DocumentRejected, FieldIndexes, parse_numeric_value
from store.index.proximity import positions_within
from store.index.query import (
    And,
    FilterNode,
    MatchAll,
    MatchNone,
    Not,
    NumericFilter,
    Or,
    TagFilter,
    TextFilter,
    make_and,
    make_not,
    make_or,
    parse_query,
)
from store.index.schema import FieldType, IndexDefinition, parse_ft_create, tokenize_text
from tests.harness.components import RedisStack, wait_index_scanned
from tests.store.test_query import render

SCHEMA = (
    "SCHEMA genre TAG tags TAG SEPARATOR ; CASESENSITIVE year NUMERIC "
    "title TEXT NOSTEM body TEXT NOSTEM hidden TAG NOINDEX v VECTOR FLAT 6 TYPE FLOAT32 DIM 2 "
    "DISTANCE_METRIC L2"
)
DEFINITION = parse_ft_create(f"idx {SCHEMA}".split())


def tag(field: bytes, *values: bytes, prefixes: tuple[bytes, ...] = ()) -> TagFilter:
    return TagFilter(field, frozenset(values), frozenset(prefixes))


def make(docs: Mapping[int, Mapping[bytes, bytes]]) -> FieldIndexes:
    fields = FieldIndexes(DEFINITION)
    for label, doc in docs.items():
        fields.add(label, doc)
    return fields


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (b"4.5", 4.5), (b"3", 3.0), (b"-0", 0.0), (b"5.", 5.0), (b"007", 7.0), (b"1E2", 100.0),
        (b"-1.5e-3", -0.0015), (b".5", 0.5), (b"+5", 5.0), (b"inf", math.inf),
        (b"INF", math.inf), (b"+inf", math.inf), (b"-inf", -math.inf),
        (b"infinity", math.inf), (b"-Infinity", -math.inf), (b"1e-310", 1e-310),
        (b"1.7976931348623157e308", 1.7976931348623157e308), (b"0e5", 0.0), (b"0.000", 0.0),
    ],
)  # fmt: skip
def test_numeric_values_redisearch_accepts(raw: bytes, value: float) -> None:
    assert parse_numeric_value(raw) == value


@pytest.mark.parametrize(
    "raw",
    [b"abc", b"", b" 7 ", b"5 ", b"0x10", b"nan", b"1_000", b"5abc", b"1,5", b"1e400",
     b"1.8e308", b"1e-400", b".", b"1e", b"-"],
)  # fmt: skip
def test_numeric_values_redisearch_refuses(raw: bytes) -> None:
    assert parse_numeric_value(raw) is None


def test_tag_values_are_split_trimmed_and_folded() -> None:
    f = make({
        1: {b"genre": b"comedy,Drama", b"tags": b"Sci-Fi; space opera ;;"},
        2: {b"genre": b"  Padded Value  ,UPPER,,", b"tags": b"sci-fi"},
        3: {b"genre": "naïve,ÄÖ".encode(), b"tags": b""},
    })  # fmt: skip
    assert f.evaluate(tag(b"genre", b"drama")) == {1}
    assert f.evaluate(tag(b"genre", b"DRAMA")) == {1}
    assert f.evaluate(tag(b"genre", b"padded value")) == {2}
    assert f.evaluate(tag(b"genre", b"upper", b"comedy")) == {1, 2}
    assert f.evaluate(tag(b"genre", "NAÏVE".encode())) == set()  # ASCII-only folding
    assert f.evaluate(tag(b"genre", "ÄÖ".encode())) == {3}
    assert f.evaluate(tag(b"tags", b"Sci-Fi")) == {1}  # CASESENSITIVE
    assert f.evaluate(tag(b"tags", b"sci-fi")) == {2}
    assert f.evaluate(tag(b"tags", b"space opera")) == {1}
    assert f.evaluate(tag(b"genre", prefixes=(b"co",))) == {1}
    assert f.evaluate(tag(b"genre", prefixes=(b"c",))) == set()  # shorter than MINPREFIX
    assert f.evaluate(tag(b"hidden", b"x")) == set()  # NOINDEX
    # one value: the same labels read from its posting in order (FT.SEARCH's filter page)
    assert f.ordered(tag(b"genre", b"DRAMA")) == [1]
    assert f.ordered(tag(b"tags", b"sci-fi")) == [2] and f.ordered(tag(b"tags", b"x")) == []
    assert f.ordered(tag(b"hidden", b"x")) == []
    assert f.ordered(tag(b"genre", b"upper", b"comedy")) is None  # a union: evaluate's
    assert f.ordered(tag(b"genre", prefixes=(b"com",))) is None


def test_numeric_ranges_and_replacement() -> None:
    f = make({1: {b"year": b"1999"}, 2: {b"year": b"2005.5"}, 3: {b"year": b"inf"}, 4: {}})
    assert f.evaluate(NumericFilter(b"year", 2000, math.inf)) == {2, 3}
    assert f.evaluate(NumericFilter(b"year", 1999, 2005.5, False, True)) == {2}
    assert f.evaluate(NumericFilter(b"year", math.inf, math.inf)) == {3}
    assert f.evaluate(NumericFilter(b"year", 5, 1)) == set()
    assert f.evaluate(Not(NumericFilter(b"year", 2000, math.inf))) == {1, 4}
    assert f.count(NumericFilter(b"year", -math.inf, math.inf)) == 3
    f.add(1, {b"year": b"2010"})
    assert f.evaluate(NumericFilter(b"year", 2000, 2020)) == {1, 2}
    f.remove(2)
    f.remove(99)
    assert f.evaluate(NumericFilter(b"year", 2000, 2020)) == {1}
    assert f.all_labels() == {1, 3, 4}


def test_invalid_numeric_rejects_the_whole_document() -> None:
    f = make({1: {b"year": b"2000", b"genre": b"a"}})
    assert f.check({b"year": b"abc"}) == "Invalid numeric value: 'abc'"
    assert f.check({b"year": b"1", b"genre": b"x"}) is None
    with pytest.raises(DocumentRejected) as caught:
        f.add(1, {b"year": b"abc", b"genre": b"a"})
    assert caught.value.field == b"year"
    assert str(caught.value) == "Invalid numeric value: 'abc'"
    assert 1 not in f
    assert f.evaluate(tag(b"genre", b"a")) == set()
    assert f.evaluate(Not(tag(b"genre", b"zzz"))) == set()


def test_text_terms_prefixes_and_phrases() -> None:
    f = make({
        1: {b"title": b"Hello world", b"body": b"the quick brown fox"},
        2: {b"title": b"Hello, World! It's the NEW-age", b"body": b"world hello"},
        3: {b"title": b"help wanted"},
    })  # fmt: skip
    assert f.evaluate(TextFilter((b"title",), (b"hello",))) == {1, 2}
    assert f.evaluate(TextFilter(None, (b"hello",))) == {1, 2}
    assert f.evaluate(TextFilter((b"body",), (b"hello",))) == {2}
    assert f.evaluate(TextFilter((b"title",), (b"hel",), prefix=True)) == {1, 2, 3}
    assert f.evaluate(TextFilter((b"title",), (b"h",), prefix=True)) == set()
    assert f.evaluate(TextFilter((b"title",), (b"hello", b"world"))) == {1, 2}
    # the terms are in body, their positions in order in title: RediSearch matches (checked)
    assert f.evaluate(TextFilter((b"body",), (b"hello", b"world"))) == {2}
    assert f.evaluate(TextFilter((b"body",), (b"world", b"world"))) == {2}
    assert f.evaluate(TextFilter(None, (b"world", b"hello"))) == {2}
    assert f.evaluate(TextFilter((b"body",), (b"quick", b"brown", b"fox"))) == {1}
    assert f.evaluate(TextFilter((b"title",), (b"new",))) == {2}
    assert f.evaluate(TextFilter((b"title",), (b"the",))) == set()  # stop words are not indexed
    assert f.evaluate(TextFilter((b"genre",), (b"hello",))) == set()  # not a TEXT field


def test_phrases_run_across_fields_in_schema_order() -> None:
    # RediSearch 2.10 numbers token positions across TEXT fields in schema order, ignoring the
    # order of the hash fields and skipping stop words.
    f = make({
        1: {b"body": b"fox runs", b"title": b"quick"},
        2: {b"title": b"quick the", b"body": b"fox"},
        3: {b"title": b"fox", b"body": b"quick"},
    })  # fmt: skip
    quick_fox = (b"quick", b"fox")
    assert f.evaluate(TextFilter(None, quick_fox)) == {1, 2}
    assert f.evaluate(TextFilter((b"title", b"body"), quick_fox)) == {1, 2}
    assert f.evaluate(TextFilter((b"title",), quick_fox)) == set()
    assert f.evaluate(TextFilter(None, (b"fox", b"quick"))) == {3}
    assert f.count(TextFilter(None, quick_fox)) >= 2


def test_match_all_none_and_unknown_fields() -> None:
    f = make({1: {b"genre": b"a"}, 2: {}})
    assert f.evaluate(MatchAll()) is None
    assert f.evaluate(MatchNone()) == set()
    assert f.evaluate(Or((tag(b"genre", b"a"), MatchAll()))) is None
    assert f.evaluate(And((MatchAll(), tag(b"genre", b"a")))) == {1}
    assert f.evaluate(Not(MatchAll())) == set()
    assert f.evaluate(tag(b"nope", b"a")) == set()
    assert f.evaluate(tag(b"year", b"a")) == set()
    assert f.evaluate(NumericFilter(b"genre", 0, 1)) == set()
    assert f.evaluate(Not(tag(b"nope", b"a"))) == {1, 2}
    assert len(f) == 2


def test_results_are_fresh_sets() -> None:
    f = make({1: {b"genre": b"a"}, 2: {b"genre": b"a"}})
    got = f.evaluate(tag(b"genre", b"a"))
    assert got is not None
    got.clear()
    assert f.evaluate(tag(b"genre", b"a")) == {1, 2}
    assert f.all_labels() == {1, 2}


def test_count_is_an_upper_bound_and_memory_grows() -> None:
    empty = FieldIndexes(DEFINITION).memory_bytes()
    f = make({i: {b"genre": b"a" if i % 2 else b"b", b"year": b"%d" % i} for i in range(2000)})
    assert f.count(tag(b"genre", b"a")) == 1000
    assert f.count(NumericFilter(b"year", 10, 19)) == 10
    assert f.count(Not(tag(b"genre", b"a"))) == 1000
    node = And((tag(b"genre", b"a"), NumericFilter(b"year", 0, 99)))
    assert f.count(node) >= len(f.evaluate(node) or ())
    assert f.memory_bytes() > empty + 2000 * 100
    for i in range(2000):
        f.remove(i)
    assert f.memory_bytes() == empty


# -- property: evaluate == brute force over random documents and filter trees ----------------

_TAG_WORDS = [b"a", b"b", b"Sci-Fi", b"sci-fi", b"space opera", b"X", b"x", b"comedy", b"co"]
_YEARS = [b"1", b"2", b"2.5", b"-3", b"inf", b"-inf", b"10", b"1e1", b"0"]
_BAD_YEARS = [b"abc", b"", b"nan"]
_WORDS = [b"hello", b"world", b"quick", b"fox", b"the", b"help", b"held", b"x1"]


@st.composite
def _doc(draw: st.DrawFn, allow_bad: bool = True) -> dict[bytes, bytes]:
    doc: dict[bytes, bytes] = {}
    if draw(st.booleans()):
        doc[b"genre"] = b",".join(draw(st.lists(st.sampled_from(_TAG_WORDS), max_size=3)))
    if draw(st.booleans()):
        doc[b"tags"] = b" ; ".join(draw(st.lists(st.sampled_from(_TAG_WORDS), max_size=3)))
    if draw(st.booleans()):
        years = _YEARS + (_BAD_YEARS if allow_bad else [])
        doc[b"year"] = draw(st.sampled_from(years))
    for name in (b"title", b"body"):
        if draw(st.booleans()):
            words = draw(st.lists(st.sampled_from(_WORDS), max_size=5))
            doc[name] = draw(st.sampled_from([b" ", b", ", b"-"])).join(words)
    return doc


@st.composite
def _leaf(draw: st.DrawFn) -> FilterNode:
    kind = draw(st.sampled_from(["tag", "num", "text", "phrase", "prefix"]))
    if kind == "tag":
        field = draw(st.sampled_from([b"genre", b"tags", b"year", b"nope"]))
        values = draw(st.lists(st.sampled_from(_TAG_WORDS), min_size=1, max_size=2))
        return tag(field, *values)
    if kind == "num":
        bounds = [-math.inf, -3.0, 0.0, 1.0, 2.5, 10.0, math.inf]
        field = draw(st.sampled_from([b"year", b"genre"]))
        lo, hi = draw(st.sampled_from(bounds)), draw(st.sampled_from(bounds))
        return NumericFilter(field, lo, hi, draw(st.booleans()), draw(st.booleans()))
    fields = draw(st.sampled_from([(b"title",), (b"body",), (b"title", b"body"), None]))
    if kind == "phrase":
        words = tuple(draw(st.lists(st.sampled_from(_WORDS[:4]), min_size=2, max_size=3)))
        return TextFilter(fields, words)
    if kind == "prefix":
        return TextFilter(fields, (draw(st.sampled_from([b"he", b"hel", b"h", b"qu"])),), True)
    return TextFilter(fields, (draw(st.sampled_from(_WORDS)),))


_TREES = st.recursive(
    _leaf(),
    lambda kids: st.one_of(
        st.lists(kids, min_size=2, max_size=3).map(make_and),
        st.lists(kids, min_size=2, max_size=3).map(make_or),
        kids.map(make_not),
    ),
    max_leaves=6,
)


def brute(node: FilterNode, docs: Mapping[int, Mapping[bytes, bytes]]) -> set[int]:
    """The labels ``node`` matches, computed document by document from the raw hashes."""
    universe = {
        label
        for label, doc in docs.items()
        if b"year" not in doc or parse_numeric_value(doc[b"year"]) is not None
    }
    if isinstance(node, MatchAll):
        return universe
    if isinstance(node, MatchNone):
        return set()
    if isinstance(node, Not):
        return universe - brute(node.child, docs)
    if isinstance(node, And):
        return set.intersection(*(brute(c, docs) for c in node.children))
    if isinstance(node, Or):
        return set.union(*(brute(c, docs) for c in node.children))
    return {label for label in universe if _matches(node, docs[label])}


def _matches(node: FilterNode, doc: Mapping[bytes, bytes]) -> bool:
    if isinstance(node, TagFilter):
        spec = DEFINITION.field_by_alias(node.field)
        if spec is None or spec.type is not FieldType.TAG or node.field not in doc:
            return False
        fold = (lambda v: v) if spec.case_sensitive else bytes.lower
        values = {fold(v.strip()) for v in doc[node.field].split(spec.separator) if v.strip()}
        wanted = {fold(v) for v in node.values}
        prefixes = [fold(p) for p in node.prefixes if len(p) >= 2]
        return bool(values & wanted) or any(v.startswith(p) for v in values for p in prefixes)
    if isinstance(node, NumericFilter):
        if node.field != b"year" or b"year" not in doc:
            return False
        value = parse_numeric_value(doc[b"year"])
        return value is not None and node.contains(value)
    assert isinstance(node, TextFilter)
    wanted = {b"title", b"body"} if node.fields is None else set(node.fields)
    # positions run on across TEXT fields in schema order (title, then body)
    sequence = [
        (t, name) for name in (b"title", b"body") for t in tokenize_text(doc.get(name, b""))
    ]
    if node.prefix:
        if len(node.terms[0]) < 2:
            return False
        return any(t.startswith(node.terms[0]) and f in wanted for t, f in sequence)
    # RediSearch's exact phrase: each term in a wanted field, and the terms' positions
    # (in any field) in order with no gap, by its own walk (a repeated term may reuse a
    # position: "a a" matches a document holding "a")
    if not all(any(t == term and f in wanted for t, f in sequence) for term in node.terms):
        return False
    where = [[i + 1 for i, (t, _) in enumerate(sequence) if t == term] for term in node.terms]
    return positions_within(where, 0, True)


_OPS = st.lists(
    st.tuples(st.integers(0, 25), st.one_of(st.none(), _doc())), min_size=1, max_size=40
)


@settings(max_examples=200, deadline=None)
@given(_OPS, st.lists(_TREES, min_size=1, max_size=4))
def test_evaluate_matches_brute_force(
    ops: list[tuple[int, dict[bytes, bytes] | None]], trees: list[FilterNode]
) -> None:
    fields = FieldIndexes(DEFINITION)
    docs: dict[int, dict[bytes, bytes]] = {}
    for label, doc in ops:
        if doc is None:
            fields.remove(label)
            docs.pop(label, None)
            continue
        if fields.check(doc) is None:
            fields.add(label, doc)
        else:
            with pytest.raises(DocumentRejected):
                fields.add(label, doc)
        docs[label] = doc
    for tree in trees:
        expected = brute(tree, docs)
        got = fields.evaluate(tree)
        assert (fields.all_labels() if got is None else got) == expected, tree
        assert fields.count(tree) >= len(expected)
        ordered = fields.ordered(tree)  # one TAG value: its posting in order, else None
        if ordered is not None:
            assert ordered == sorted(expected), tree
        elif isinstance(tree, TagFilter):
            assert len(tree.values) != 1 or tree.prefixes or tree.patterns, tree


@settings(max_examples=150, deadline=None)
@given(st.lists(_doc(), min_size=1, max_size=15), _TREES)
def test_label_predicates_match_brute_force(
    docs: list[dict[bytes, bytes]], tree: FilterNode
) -> None:
    # An intersection filters a small candidate set label by label when its other children
    # are much larger; that path must agree with set evaluation for every node type.
    fields = FieldIndexes(DEFINITION)
    for label, doc in enumerate(docs):
        if fields.check(doc) is None:
            fields.add(label, doc)
    keep = fields._predicate(tree)
    assert {label for label in fields.all_labels() if keep(label)} == brute(
        tree, dict(enumerate(docs))
    )


def test_skewed_intersections_filter_label_by_label() -> None:
    f = make(
        {i: {b"genre": b"rare" if i < 3 else b"common", b"year": b"%d" % i} for i in range(100)}
    )
    common_years = NumericFilter(b"year", 0, 1000)
    assert f.evaluate(And((tag(b"genre", b"rare"), common_years))) == {0, 1, 2}
    assert f.evaluate(And((tag(b"genre", b"rare"), Not(NumericFilter(b"year", 1, 1000))))) == {0}
    assert f.evaluate(And((tag(b"genre", b"rare"), Not(tag(b"genre", b"common"))))) == {0, 1, 2}


@settings(max_examples=150, deadline=None)
@given(st.lists(_doc(allow_bad=False), min_size=1, max_size=12), _TREES)
def test_rendered_queries_evaluate_like_their_trees(
    docs: list[dict[bytes, bytes]], tree: FilterNode
) -> None:
    fields = make(dict(enumerate(docs)))
    parsed = parse_query(render(tree), stopwords=frozenset())
    got = fields.evaluate(parsed.filter)
    assert (fields.all_labels() if got is None else got) == brute(tree, dict(enumerate(docs)))


# -- the RediSearch peer answers the same queries over the same documents ---------------------

PEER_QUERIES = [
    "*", "@genre:{a}", "@genre:{A|b}", r"@genre:{sci\-fi}", "@genre:{space opera}",
    r"@tags:{Sci\-Fi}", r"@tags:{sci\-fi}", "@tags:{x|X}", "-@genre:{a}", "@genre:{co*}",
    "@year:[2 10]", "@year:[(2 10]", "@year:[-inf 0]", "@year:[inf inf]", "@year:[1]",
    "@year>2", "@year<=2.5", "@year!=1", "-@year:[1 2]", "@year:[10 1]",
    "@genre:{a} @year:[1 +inf]", "@genre:{a} | @tags:{b}", "@genre:{a} -@tags:{b}",
    "-(@genre:{a} | @year:[0 2])", "(@genre:{a} | @genre:{b}) @year:[-inf +inf]",
    "@title:hello", "@title:(hello|fox)", "hello", "hello world", "@body:-hello",
    '@title:"hello world"', '"quick fox"', "@title:hel*", "@body:qu*", "the",
    "@title:hello @genre:{comedy}", "@title|body:fox", "@nope:{a}", "@genre:hello",
    "@year:{1}", "@genre:[1 2]", "-@nope:{a}",
]  # fmt: skip


def _peer_docs(rng: random.Random, n: int) -> dict[int, dict[bytes, bytes]]:
    docs: dict[int, dict[bytes, bytes]] = {}
    for label in range(n):
        doc: dict[bytes, bytes] = {}
        if rng.random() < 0.7:
            doc[b"genre"] = b",".join(rng.sample(_TAG_WORDS, rng.randint(0, 3)))
        if rng.random() < 0.6:
            doc[b"tags"] = b" ; ".join(rng.sample(_TAG_WORDS, rng.randint(0, 3)))
        if rng.random() < 0.7:
            doc[b"year"] = rng.choice(_YEARS + _BAD_YEARS[:1])
        for name in (b"title", b"body"):
            if rng.random() < 0.7:
                words = [rng.choice(_WORDS) for _ in range(rng.randint(0, 5))]
                doc[name] = rng.choice([b" ", b", ", b"-"]).join(words)
        if not doc:
            doc[b"unrelated"] = b"1"
        docs[label] = doc
    return docs


def test_evaluation_agrees_with_redisearch(redis_stack: RedisStack) -> None:
    client = redis_stack.client(protocol=2)
    name = f"fields-{uuid.uuid4().hex[:8]}"
    prefix = f"{name}:"
    client.execute_command(*f"FT.CREATE {name} ON HASH PREFIX 1 {prefix} {SCHEMA}".split())
    wait_index_scanned(client, name)
    rng = random.Random(20261126)
    docs = _peer_docs(rng, 150)
    try:
        pipe = client.pipeline(transaction=False)
        for label, doc in docs.items():
            pipe.hset(f"{prefix}{label}", mapping=doc)
        pipe.execute()
        fields = FieldIndexes(DEFINITION)
        for label, doc in docs.items():
            if fields.check(doc) is None:
                fields.add(label, doc)
        trees = [_random_tree(rng) for _ in range(60)]
        queries = PEER_QUERIES + [render(t).decode() for t in trees]
        for query in queries:
            reply = client.execute_command(
                "FT.SEARCH", name, query, "NOCONTENT", "LIMIT", 0, 10000, "DIALECT", 2
            )
            peer = {int(key.decode().removeprefix(prefix)) for key in reply[1:]}
            parsed = parse_query(query, stopwords=DEFINITION.stopwords)
            got = fields.evaluate(parsed.filter)
            ours = fields.all_labels() if got is None else got
            assert ours == peer, query
    finally:
        client.execute_command("FT.DROPINDEX", name, "DD")
        client.close()


def _random_tree(rng: random.Random, depth: int = 0) -> FilterNode:
    if depth >= 2 or rng.random() < 0.4:
        kind = rng.choice(["tag", "num", "text"])
        if kind == "tag":
            field = rng.choice([b"genre", b"tags"])
            return tag(field, *rng.sample([w for w in _TAG_WORDS if len(w) > 1], 2))
        if kind == "num":
            bounds = [-math.inf, -3.0, 0.0, 1.0, 2.5, 10.0, math.inf]
            lo, hi = sorted(rng.sample(bounds, 2))
            return NumericFilter(b"year", lo, hi, rng.random() < 0.5, rng.random() < 0.5)
        fields = rng.choice([(b"title",), (b"body",), (b"body", b"title")])
        return TextFilter(fields, (rng.choice(_WORDS[:4]),))
    kids = [_random_tree(rng, depth + 1) for _ in range(rng.randint(2, 3))]
    combined = rng.choice([make_and, make_or])(kids)
    return make_not(combined) if rng.random() < 0.3 else combined


def test_definition_without_attribute_fields() -> None:
    only_vectors = IndexDefinition(name="v", fields=DEFINITION.fields_of(FieldType.VECTOR))
    f = FieldIndexes(only_vectors)
    f.add(1, {b"v": b"\0" * 8})
    assert f.evaluate(Not(tag(b"genre", b"a"))) == {1}


WORDS = ["running", "runs", "run", "alpha", "the", "dogs", "dog", "1001", "Smith", "smyth"]
"""Words whose stems coincide (running, runs, run), a stop word, a number, and a name."""


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 11), st.lists(st.sampled_from(WORDS), max_size=6)),
        min_size=1,
        max_size=40,
    )
)
def test_term_counts_of_one_text_field_come_from_its_postings(
    steps: list[tuple[int, list[str]]],
) -> None:
    """With one TEXT field the document count of a term is read from the field's postings
    (no count of its own per term); with several it is counted. A second TEXT field no
    document fills must not change a count, through adds, rewrites and removals (an empty
    word list removes the document)."""
    one = FieldIndexes(parse_ft_create(b"one SCHEMA body TEXT".split()))
    two = FieldIndexes(parse_ft_create(b"two SCHEMA body TEXT title TEXT".split()))
    held: set[int] = set()
    for label, words in steps:
        for fields in (one, two):
            if label in held:
                fields.remove(label)
            if words:
                fields.add(label, {b"body": " ".join(words).encode()})
        held.discard(label)
        if words:
            held.add(label)
        assert one.num_terms == two.num_terms
        terms = {*one._texts[b"body"].postings, *two._texts[b"body"].postings, b"absent"}
        for term in terms:
            assert one.term_doc_count(term) == two.term_doc_count(term), term


def test_a_term_one_document_holds_costs_no_shared_tuple() -> None:
    """Tag values and text tokens share one ``(term,)`` per term from its second holder
    on; a term held once (a number in a text, an id in a tag) keeps none."""
    fields = FieldIndexes(parse_ft_create(b"i SCHEMA t TAG body TEXT".split()))
    fields.add(1, {b"t": b"red", b"body": b"alpha 1001"})
    fields.add(2, {b"t": b"red", b"body": b"alpha 1002"})
    tags, texts = fields._tags[b"t"], fields._texts[b"body"]
    assert set(tags._canonical) == {b"red"} and set(texts._canonical) == {b"alpha"}
    assert fields._tag_values[b"t"][2] is tags._canonical[b"red"]
    assert fields.tokens(b"body", 2)[0] is texts._canonical[b"alpha"][0]
    fields.remove(1)  # back to one holder: the shared tuple goes, the postings stay
    assert not tags._canonical and not texts._canonical
    assert fields.term_doc_count(b"alpha") == 1 and list(tags.get(b"red")) == [2]
    fields.add(3, {b"t": b"red", b"body": b"alpha"})
    assert fields._tag_values[b"t"][3] is tags._canonical[b"red"]
    assert fields.term_doc_count(b"alpha") == 2
    fields.remove(2)
    fields.remove(3)
    assert not tags.postings and not texts.postings and not texts._canonical
    assert fields.num_terms == 0
