"""The scorers and the text statistics behind them, checked against RediSearch's formulas
written out independently here (store.index.scoring documents where they come from)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from store.index.schema import parse_ft_create, tokenize_text
from store.index.scoring import (
    Scorer,
    explain_scores,
    explanation_reply,
    rank,
    text_scores,
)
from store.index.search_args import parse_ft_search
from store.index.search_index import SearchIndex
from store.index.sorting import sort_by_field

SCHEMA = [b"title", b"TEXT", b"WEIGHT", b"2", b"body", b"TEXT", b"tag", b"TAG", b"n",
          b"NUMERIC", b"v", b"VECTOR", b"FLAT", b"6", b"TYPE", b"FLOAT32", b"DIM", b"2",
          b"DISTANCE_METRIC", b"L2"]  # fmt: skip
VEC = np.zeros(2, dtype="<f4").tobytes()


def _index(docs: dict[str, dict[str, str | bytes]]) -> SearchIndex:
    index = SearchIndex(parse_ft_create([b"FT.CREATE", b"i", b"SCHEMA", *SCHEMA]))
    for key, fields in docs.items():
        index.update(key.encode(), {k.encode(): _b(v) for k, v in fields.items()})
    return index


def _b(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


def _scores(index: SearchIndex, query: str, scorer: str | None = None) -> dict[str, float]:
    parsed = parse_ft_search([query.encode()]).parse_query()
    labels = index.fields.evaluate(parsed.filter)
    labels = set(index.label_to_key) if labels is None else labels
    got = text_scores(index, parsed, labels, scorer.encode() if scorer else None)
    return {index.label_to_key[label].decode(): score for label, score in got.items()}


def _logb(x: float) -> float:
    return float(math.floor(math.log2(x)))


DOCS: dict[str, dict[str, str | bytes]] = {
    "d1": {"title": "hello world", "body": "quick brown fox jumps over lazy dog hello"},
    "d2": {"title": "quick fox", "body": "hello hello hello", "v": VEC},
    "d3": {"title": "lazy", "body": "world of dogs", "tag": "a,b", "n": "3"},
    "d4": {"tag": "c", "n": "4"},
}


def test_document_statistics_follow_rediSearch() -> None:
    index = _index(DOCS)
    stats = {k.decode(): index.fields.doc_stats(lbl) for k, lbl in index.key_to_label.items()}
    # title counts 2 per token; "of" is a stop word; d2's vector adds 1 to its max freq
    assert stats["d1"].length == 2 * 2 + 8 and stats["d1"].max_freq == 3
    assert stats["d2"].length == 2 * 2 + 3 and stats["d2"].max_freq == 3 + 1
    assert stats["d3"].length == 2 + 2 and stats["d4"].length == 0
    assert [stats[k].doc_id for k in ("d1", "d2", "d3", "d4")] == [1, 2, 3, 4]
    assert index.fields.term_doc_count(b"hello") == 2
    assert index.fields.num_terms == 13  # the peer counts the +stem terms too
    assert index.fields.total_length == 12 + 7 + 4
    # re-indexing gives a new document id; RediSearch never subtracts a length
    index.update(b"d1", {b"body": b"fox"})
    assert index.fields.doc_stats(index.key_to_label[b"d1"]).doc_id == 5
    assert index.fields.total_length == 12 + 7 + 4 + 1
    assert index.fields.term_doc_count(b"hello") == 1
    index.remove(b"d2")
    assert index.fields.term_doc_count(b"hello") == 0
    assert index.fields.total_length == 24


def test_tfidf_is_weighted_tf_times_binary_idf_over_max_freq() -> None:
    index = _index(DOCS)
    n_plus_1 = len(DOCS) + 1
    idf = _logb(1 + n_plus_1 / 2)  # "hello" is in two documents
    got = _scores(index, "hello")
    assert got == {"d1": 3 * idf / 3, "d2": 3 * idf / (3 + 1)}
    assert _scores(index, "hello", "TFIDF.DOCNORM") == {"d1": 3 * idf / 12, "d2": 3 * idf / 7}


def test_slop_divides_by_the_distance_between_terms() -> None:
    index = _index({"a": {"body": "alpha x x beta"}, "b": {"body": "alpha beta"}})
    idf = _logb(1 + 3 / 2)
    got = _scores(index, "alpha beta")
    assert got["b"] == 2 * idf / 1
    assert got["a"] == 2 * idf / 2 / 3  # max freq 2 ("x"); positions 1 and 4: sqrt(3 * 3)
    three = _index({"a": {"body": "alpha x beta x x gamma"}})
    # distances 2 and 3: int(sqrt(4 + 9)) == 3
    assert _scores(three, "alpha beta gamma")["a"] == 3 * _logb(1 + 2 / 1) / 3 / 3


def test_bm25std_in_single_precision() -> None:
    index = _index(DOCS)
    n, df = len(DOCS), 2
    idf = math.log(float(np.float32(1) + np.float32(n - df + 0.5) / np.float32(df + 0.5)))
    k1, avg = float(np.float32(1.2)), (12 + 7 + 4) / n

    def bm25(f: float, length: int) -> float:
        return idf * f * float(np.float32(2.2)) / (f + k1 * (0.5 + 0.5 * length / avg))

    got = _scores(index, "hello", "BM25STD")
    assert got["d1"] == pytest.approx(bm25(3, 12), rel=1e-12)
    assert got["d2"] == pytest.approx(bm25(3, 7), rel=1e-12)


def test_legacy_bm25_uses_the_average_length_only() -> None:
    index = _index(DOCS)
    idf = _logb(1 + 5 / 2)
    k1, avg = float(np.float32(1.2)), (12 + 7 + 4) / 4
    want = idf * 3 / (3 + k1 * (0.5 + 0.5 * avg))
    assert _scores(index, "hello", "BM25") == {"d1": want, "d2": want}


def test_dismax_sums_intersections_and_takes_the_max_of_unions() -> None:
    index = _index(DOCS)
    assert _scores(index, "hello world", "DISMAX") == {"d1": 3 + 2}
    assert _scores(index, "hello|fox", "DISMAX") == {"d1": 3, "d2": 3}
    assert _scores(index, "*", "DOCSCORE") == dict.fromkeys(DOCS, 1.0)
    assert _scores(index, "*", "HAMMING") == dict.fromkeys(DOCS, 0.0)


def test_filters_and_wildcard_score_as_on_rediSearch() -> None:
    index = _index(DOCS)
    got = _scores(index, "*")
    assert got["d1"] == 1 / 3 and got["d2"] == 1 / 4 and got["d4"] == math.inf
    tag_idf = _logb(1 + 5 / 1)
    assert _scores(index, "@tag:{c}") == {"d4": math.inf}  # no text: max freq 0
    assert _scores(index, "@tag:{a}") == {"d3": tag_idf / 2}
    assert _scores(index, "@n:[3 3]") == {"d3": 1 / 2}
    negated = _scores(index, "-hello")
    assert negated["d3"] == 0 and math.isnan(negated["d4"])


def test_union_counts_matching_terms_and_prefix_takes_one_expansion() -> None:
    index = _index({"a": {"body": "fox foxes"}, "b": {"body": "fox"}})
    union = _scores(index, "fox|foxes")
    # "foxes" also indexes "+fox", which both query terms expand to: the peer gives 8
    assert union["a"] == 8.0
    prefix = _scores(index, "fox*")
    # one expansion per document: "fox" (in more documents) comes first
    assert prefix["a"] == _logb(1 + 3 / 2) / 1


def test_explanations_nest_as_rediSearch_replies_them() -> None:
    index = _index(DOCS)
    parsed = parse_ft_search([b"hello world"]).parse_query()
    label = index.key_to_label[b"d1"]
    score, note = explain_scores(index, parsed, [label])[label]
    assert score == 5 / 3
    assert explanation_reply(note) == [
        "Final TFIDF : words TFIDF 5.00 * document score 1.00 / norm 3 / slop 1",
        [
            [
                "(Weight 1.00 * total children TFIDF 5.00)",
                [
                    "(TFIDF 3.00 = Weight 1.00 * TF 3 * IDF 1.00)",
                    "(TFIDF 2.00 = Weight 1.00 * TF 2 * IDF 1.00)",
                ],
            ]
        ],
    ]


def test_rank_breaks_ties_by_document_id_and_treats_nan_as_equal() -> None:
    index = _index(DOCS)
    label = {k.decode(): v for k, v in index.key_to_label.items()}
    scores = {label["d1"]: 1.0, label["d2"]: 2.0, label["d3"]: 1.0, label["d4"]: 0.5}
    assert rank(index, scores) == [label[k] for k in ("d2", "d1", "d3", "d4")]
    assert rank(index, scores, limit=2) == [label["d2"], label["d1"]]
    with_nan = {label["d1"]: 0.0, label["d2"]: math.nan, label["d3"]: 0.0}
    assert rank(index, with_nan) == [label[k] for k in ("d1", "d2", "d3")]


def test_unknown_scorer_and_deadline() -> None:
    index = _index({f"k{i}": {"body": "same words"} for i in range(600)})
    parsed = parse_ft_search([b"same"]).parse_query()
    with pytest.raises(ValueError, match="No such scorer tfidf"):
        Scorer(index, parsed, b"tfidf")
    calls = []

    def deadline() -> bool:
        calls.append(1)
        return True

    got = text_scores(index, parsed, sorted(index.label_to_key), deadline=deadline)
    assert len(got) == 255 and calls == [1]


def test_min_score_zeroes_tfidf_below_it() -> None:
    index = _index(DOCS)
    parsed = parse_ft_search([b"hello"]).parse_query()
    score = Scorer(index, parsed, explain=True)
    value, note = score(index.key_to_label[b"d2"], 10.0) or (None, None)
    assert value == 0.0
    assert note is not None and note.text.startswith("TFIDF score of 0.75 is smaller")
    bm25std = Scorer(index, parsed, b"BM25STD")
    assert (bm25std(index.key_to_label[b"d2"], 10.0) or (0.0,))[0] > 0


def test_sort_by_field_keeps_missing_values_last_and_ties_by_direction() -> None:
    values = {1: b"5", 2: None, 3: b"5", 4: b"7"}
    ids = {1: 1, 2: 2, 3: 3, 4: 4}

    def order(ascending: bool, keep: int = 4) -> list[int]:
        kept = sort_by_field([1, 2, 3, 4], values.get, ids.get, ascending, keep, None)
        return [label for label, _ in kept]

    assert order(True) == [1, 3, 4, 2]
    assert order(False) == [4, 3, 1, 2]
    assert order(True, keep=2) == [1, 3]


def test_tokenizer_splits_and_normalizes_as_rediSearch() -> None:
    assert tokenize_text(b"gid.\\ path Hello,World foo\nbar a\\,b the  x") == [
        b"gid", b" path", b"hello", b"world", b"foobar", b"a,b", b"x"
    ]  # fmt: skip
    assert tokenize_text(b"x" * 200) == [b"x" * 128]


def test_slop_and_inorder_filter_intersections() -> None:
    index = _index({"a": {"body": "alpha x beta"}, "b": {"body": "beta alpha"},
                    "c": {"body": "alpha x x x beta"}})  # fmt: skip
    parsed = parse_ft_search([b"alpha beta"]).parse_query()
    labels = sorted(index.label_to_key)

    def matched(**window: object) -> set[str]:
        got = text_scores(index, parsed, labels, **window)  # type: ignore[arg-type]
        return {index.label_to_key[label].decode() for label in got}

    assert matched() == {"a", "b", "c"}
    assert matched(slop=0) == {"b"}
    assert matched(slop=1) == {"a", "b"}
    assert matched(inorder=True) == {"a", "c"}
    assert matched(slop=1, inorder=True) == {"a"}


def test_sort_by_field_stops_at_the_deadline() -> None:
    labels = list(range(1000))
    kept = sort_by_field(
        labels, lambda label: str(label).encode(), lambda label: label, False, 3, None,
        deadline=lambda: True,
    )  # fmt: skip
    assert [label for label, _ in kept] == [254, 253, 252]  # the best of the first 255
