"""A query without text, or of one plain term, scores each document from its statistics.

``scoring._constant_columns`` scores a tag, numeric, negated or match-all query once per
distinct (length, max frequency) of the matched documents, and a one-term query once per
(term frequency, length, max frequency), instead of building each one's result tree.
Every scorer must give the same scores and the same order through it as through the
per-document path (the module's function switched off), WITHSCORES bytes included, with
documents of many text lengths, repeated words and two TEXT fields of different weights
so those statistics vary.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from store.config import EngineConfig
from store.engine import Engine
from store.index import scoring
from store.index.search_args import parse_ft_search

QUERIES = [
    "@tag:{a}",
    "@n:[10 40]",
    "@tag:{b} @n:[0 30]",
    "-@tag:{a}",
    "*",
    "beta",
    "@t:gamma",
    "@u:delta",
    "@t:(eps)",
    "@t|u:alpha",
    "(zeta)=>{$weight: 3}",
]
SCORERS = ["TFIDF", "TFIDF.DOCNORM", "BM25", "BM25STD", "DISMAX", "DOCSCORE", "HAMMING"]


@pytest.fixture(params=["python loop", "numpy columns"])
def small_page(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """Both ways of the constant path: this index's 64 documents are scored in the Python
    loop at the default ``SMALL_PAGE``, in numpy columns with it at 0."""
    size = scoring.SMALL_PAGE if request.param == "python loop" else 0
    monkeypatch.setattr(scoring, "SMALL_PAGE", size)
    return size


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    e = Engine(EngineConfig(data_dir=Path(tmp_path_factory.mktemp("constant"))))
    e.execute("FT.CREATE", "i", "ON", "HASH", "PREFIX", "1", "d:", "SCHEMA",
              "t", "TEXT", "u", "TEXT", "WEIGHT", "2", "NOSTEM", "tag", "TAG",
              "n", "NUMERIC")  # fmt: skip
    words = ["alpha", "beta", "gamma", "delta", "eps"]
    for i in range(60):
        text = " ".join(words[j % 5] for j in range(i % 7 + 1)) + " beta" * (i % 4)
        other = " ".join(words[(i + j) % 5] for j in range(i % 3)) + " zeta" * (i % 2)
        e.execute("HSET", f"d:{i}", "t", text, "u", other,
                  "tag", "abc" if i % 5 == 0 else "ab"[i % 2], "n", str(i))  # fmt: skip
    e.execute("HSET", "d:bare", "tag", "a", "n", "5")  # no text: length 0
    for i, tags in enumerate(["a,b", "a,abc", "b,abc,a"]):  # several values: a union's
        e.execute("HSET", f"d:multi{i}", "t", "beta " * (i + 1), "tag", tags)  # children
    return e


def _both_paths(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, name: str, args: tuple[str, ...]
) -> Any:
    """The reply to ``args`` with ``scoring.<name>`` on, which must answer (once), and
    with it off (the per-document path), which must be the same; returns the reply."""
    calls: list[bool] = []
    wrapped = getattr(scoring, name)

    def recording(*a: object) -> object:
        got = wrapped(*a)
        calls.append(got is not None)
        return got

    monkeypatch.setattr(scoring, name, recording)
    fast = engine.execute(*args)
    assert calls == [True], f"{name} did not score the query"
    monkeypatch.setattr(scoring, name, lambda *a: None)
    assert engine.execute(*args) == fast
    return fast


@pytest.mark.parametrize("scorer", SCORERS)
@pytest.mark.parametrize("query", QUERIES)
def test_the_constant_path_equals_the_per_document_path(
    engine: Engine, query: str, scorer: str, monkeypatch: pytest.MonkeyPatch, small_page: int
) -> None:
    args = ("FT.SEARCH", "i", query, "WITHSCORES", "SCORER", scorer, "NOCONTENT",
            "LIMIT", "0", "100", "DIALECT", "2")  # fmt: skip
    fast = _both_paths(engine, monkeypatch, "_constant_columns", args)
    assert fast[0] > 0


UNIONS = ["@tag:{a | b}", "@tag:{a|abc}", "@tag:{abc|b|a}", "@tag:{a|nosuch}",
          "@tag:{a|b}=>{$weight: 3}"]  # fmt: skip


@pytest.mark.parametrize("scorer", SCORERS)
@pytest.mark.parametrize("query", UNIONS)
@pytest.mark.parametrize("page", [("0", "100"), ("0", "3"), ("20", "10")])
def test_a_union_of_tag_values_scores_in_columns_as_per_document(
    engine: Engine, query: str, scorer: str, page: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # a document's result is the UNION of the values it holds (scoring._union_columns):
    # the same scores and order as the per-document path, WITHSCORES bytes included
    monkeypatch.setattr(scoring, "SMALL_PAGE", 0)
    args = ("FT.SEARCH", "i", query, "WITHSCORES", "SCORER", scorer, "NOCONTENT",
            "LIMIT", *page, "DIALECT", "2")  # fmt: skip
    fast = _both_paths(engine, monkeypatch, "_union_columns", args)
    assert fast[0] > 20


@pytest.mark.parametrize("query", ["@t:beta gamma", "@tag:{a*}", "@t:beta @tag:{a}", "bet*"])
def test_unions_and_text_keep_the_per_document_path(engine: Engine, query: str) -> None:
    # a union's result holds the children each document matched: not the same for all
    index = engine.indexes.get(b"i")
    request = parse_ft_search([query.encode(), b"DIALECT", b"2"])
    d = index.definition
    parsed = request.parse_query(d.stopwords, d.language, d.phonetic_fields)
    assert scoring._constant_columns(scoring.Scorer(index, parsed), [1, 2], None) is None


@pytest.mark.parametrize("query", ["@tag:{a}", "*", "beta"])
def test_a_deadline_stops_both_paths_at_the_same_document(
    tmp_path: Path, query: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # polled before the 256th label, then every 256: the second poll says time is up
    with Engine(EngineConfig(data_dir=tmp_path)) as e:
        e.execute("FT.CREATE", "i", "ON", "HASH", "PREFIX", "1", "d:", "SCHEMA",
                  "t", "TEXT", "tag", "TAG")  # fmt: skip
        for i in range(700):
            e.execute("HSET", f"d:{i}", "t", "beta " * (i % 3 + 1), "tag", "a")
        index = e.indexes.get(b"i")
        request = parse_ft_search([query.encode(), b"DIALECT", b"2"])
        d = index.definition
        parsed = request.parse_query(d.stopwords, d.language, d.phonetic_fields)
        labels = sorted(index.label_to_key)

        def second_poll() -> Callable[[], bool]:
            polls = iter([False, True])
            return lambda: next(polls)

        fast = scoring.text_scores(index, parsed, labels, deadline=second_poll())
        monkeypatch.setattr(scoring, "_constant_columns", lambda *a: None)
        slow = scoring.text_scores(index, parsed, labels, deadline=second_poll())
        assert fast == slow
        assert len(fast) == 511


@pytest.mark.parametrize("scorer", ["TFIDF", "BM25STD"])
@pytest.mark.parametrize("query", ["@tag:{a}", "*", "beta", "@u:delta"])
@pytest.mark.parametrize("page", [("0", "1"), ("0", "3"), ("2", "5"), ("55", "10")])
def test_pages_ranked_in_columns_equal_the_per_document_path(
    engine: Engine,
    query: str,
    scorer: str,
    page: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
    small_page: int,
) -> None:
    # a page smaller than the matches: the ranking picks it among ties (ranking.top_order)
    args = ("FT.SEARCH", "i", query, "WITHSCORES", "SCORER", scorer, "NOCONTENT",
            "LIMIT", *page, "DIALECT", "2")  # fmt: skip
    fast = engine.execute(*args)
    monkeypatch.setattr(scoring, "_constant_columns", lambda *a: None)
    assert engine.execute(*args) == fast
    assert fast[0] > int(page[1])


def test_a_constant_query_evaluates_its_filter_once(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the scorer's plan asks a filter node for its labels only when a document's result
    # depends on them (score_tree._Members); FT.SEARCH has evaluated the filter already
    # (a lone tag value through FieldIndexes.ordered, anything else through evaluate)
    index = engine.indexes.get(b"i")
    evaluate, ordered = index.fields.evaluate, index.fields.ordered
    calls: list[object] = []

    def counting(node: object) -> object:
        calls.append(node)
        return evaluate(node)  # type: ignore[arg-type]

    def counting_ordered(node: object) -> object:
        labels = ordered(node)  # type: ignore[arg-type]
        if labels is not None:  # it answered: the filter was read
            calls.append(node)
        return labels

    monkeypatch.setattr(index.fields, "evaluate", counting)
    monkeypatch.setattr(index.fields, "ordered", counting_ordered)
    for query in ("@tag:{a}", "beta"):
        calls.clear()
        engine.execute("FT.SEARCH", "i", query, "NOCONTENT", "DIALECT", "2")
        assert len(calls) == 1, query
    calls.clear()  # an intersection's result is built per document: its nodes are asked
    engine.execute("FT.SEARCH", "i", "beta gamma", "NOCONTENT", "DIALECT", "2")
    assert len(calls) > 1
