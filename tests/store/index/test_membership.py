"""``FieldIndexes.membership``: a per-label test equal to membership in ``evaluate``.

The score plan asks a filter node about a few labels (the hits of a KNN scored with
WITHSCORES or ADDSCORES) through these tests instead of building the node's whole label
set (``score_tree._Members``). Every node a test exists for must answer exactly as the
evaluated set, for every label: tags (case folding, several values, patterns), terms with
their stem expansions, phrases across two TEXT fields, unions and intersections of them.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from store.config import EngineConfig
from store.engine import Engine
from store.index import score_tree
from store.index.query import And, FilterNode, Not, OptionalFilter, Or
from store.index.search_args import parse_ft_search

QUERIES = [
    "@tag:{Red}",
    "@tag:{red | blue | nope}",
    "@tag:{*lu*}",
    "@tag:{w'b?ue'}",
    "running",
    "@t:runs",
    "@u:quick",
    '"quick brown"',
    '@t:"brown fox"',
    "quick | lazy",
    "(quick lazy) | @tag:{green}",
    "@t:(fox dogs) @tag:{red}",
    "(~@t:(fox | running)) @tag:{blue}",
    "-@tag:{red} quick",
    "@t|u:(jumped | jumps)",
]
WORDS = ["quick", "brown", "fox", "jumps", "jumped", "over", "lazy", "dogs", "running", "runs"]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    e = Engine(EngineConfig(data_dir=Path(tmp_path_factory.mktemp("membership"))))
    e.execute("FT.CREATE", "i", "ON", "HASH", "PREFIX", "1", "d:", "SCHEMA",
              "t", "TEXT", "u", "TEXT", "tag", "TAG")  # fmt: skip
    rng = random.Random(5)
    for i in range(300):
        t = " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 8)))
        u = " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 3)))
        tags = ",".join(rng.sample(["Red", "blue", "GREEN", "Blue"], rng.randint(0, 2)))
        e.execute("HSET", f"d:{i}", "t", t, "u", u, "tag", tags)
    for i in range(0, 300, 7):  # removed documents leave their labels out
        e.execute("DEL", f"d:{i}")
    return e


def nodes(node: FilterNode) -> list[FilterNode]:
    out = [node]
    if isinstance(node, And | Or):
        for child in node.children:
            out += nodes(child)
    elif isinstance(node, Not | OptionalFilter):
        out += nodes(node.child)
    return out


@pytest.mark.parametrize("query", QUERIES)
def test_the_test_of_a_label_equals_the_evaluated_set(engine: Engine, query: str) -> None:
    index = engine.indexes.get(b"i")
    fields = index.fields
    d = index.definition
    parsed = parse_ft_search([query.encode(), b"DIALECT", b"2"]).parse_query(
        d.stopwords, d.language, d.phonetic_fields
    )
    labels = range(index.next_label + 3)  # removed and never-given labels too
    tested = 0
    for node in nodes(parsed.filter):
        test = fields.membership(node)
        if test is None:
            continue
        tested += 1
        found = fields.evaluate(node)
        expected = [label for label in labels if found is None or label in found]
        assert [label for label in labels if test(label)] == expected, node
    assert tested, "no node of the query has a per-label test"


def test_scores_of_a_few_labels_equal_those_of_evaluated_sets(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a KNN-like page: WITHSCORES over a union and a phrase, once through the per-label
    # tests, once with them switched off (every node evaluated whole)
    queries = ["(quick | @tag:{blue}) lazy", '"quick brown" | runs', "@t:(fox | dogs) -@tag:{red}"]
    page = ("WITHSCORES", "NOCONTENT", "LIMIT", "0", "5", "DIALECT", "2")
    replies = [engine.execute("FT.SEARCH", "i", q, *page) for q in queries]
    monkeypatch.setattr(score_tree, "PER_LABEL_QUESTIONS", 0)
    for q, reply in zip(queries, replies, strict=True):
        assert engine.execute("FT.SEARCH", "i", q, *page) == reply and reply[0] > 0, q


def test_a_scored_knn_page_does_not_evaluate_its_filter_again(tmp_path: Path) -> None:
    # FT.SEARCH evaluates the filter once to restrict the KNN; scoring its ten hits
    # (WITHSCORES, or FT.AGGREGATE ADDSCORES as RedisVL's hybrid query) asks per label
    with Engine(EngineConfig(data_dir=tmp_path)) as e:
        e.execute("FT.CREATE", "k", "ON", "HASH", "PREFIX", "1", "k:", "SCHEMA", "t", "TEXT",
                  "v", "VECTOR", "FLAT", "6", "TYPE", "FLOAT32", "DIM", "2",
                  "DISTANCE_METRIC", "L2")  # fmt: skip
        rng = random.Random(2)
        for i in range(400):
            vec = np.array([rng.random(), rng.random()], dtype=np.float32).tobytes()
            e.execute("HSET", f"k:{i}", "t", rng.choice(["quick fox", "lazy dogs", "fox"]),
                      "v", vec)  # fmt: skip
        fields = e.indexes.get(b"k").fields
        evaluate, calls = fields.evaluate, []

        def counting(node: FilterNode) -> object:
            calls.append(node)
            return evaluate(node)

        fields.evaluate = counting  # type: ignore[method-assign]
        query = np.array([0.5, 0.5], dtype=np.float32).tobytes()
        reply = e.execute("FT.SEARCH", "k", "(quick | lazy)=>[KNN 10 @v $B]", "PARAMS", "2",
                          "B", query, "WITHSCORES", "NOCONTENT", "DIALECT", "2")  # fmt: skip
        assert reply[0] == 10 and sum(isinstance(n, Or) for n in calls) == 1  # FT.SEARCH's
        calls.clear()
        e.execute("FT.AGGREGATE", "k", "(~(quick | lazy))=>[KNN 10 @v $B AS d]", "PARAMS",
                  "2", "B", query, "ADDSCORES", "LOAD", "1", "@d", "DIALECT", "2")  # fmt: skip
        assert not any(isinstance(n, Or) for n in calls)  # the optional: every label
