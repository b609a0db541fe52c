"""Fusion arithmetic (pipeline.api.fusion) and query tokenising/escaping
(pipeline.stores.text_query), by hand-computed examples."""

from __future__ import annotations

import math

import pytest

from pipeline.api.fusion import linear, rrf
from pipeline.stores.base import SearchHit
from pipeline.stores.text_query import escape_term, query_terms, text_clause


def vec(*pairs: tuple[str, float]) -> list[SearchHit]:
    return [SearchHit(i, d, {}) for i, d in pairs]


def txt(*pairs: tuple[str, float]) -> list[SearchHit]:
    return [SearchHit(i, math.nan, {}, s) for i, s in pairs]


def test_rrf_sums_reciprocal_ranks() -> None:
    fused = rrf(vec(("a", 0.1), ("b", 0.2), ("c", 0.3)), txt(("c", 9.0), ("d", 5.0)), rrf_k=60)
    scores = {f.hit.id: f.score for f in fused}
    assert scores == pytest.approx({"a": 1 / 61, "b": 1 / 62, "c": 1 / 63 + 1 / 61, "d": 1 / 62})
    assert [f.hit.id for f in fused] == [
        "c",
        "a",
        "b",
        "d",
    ]  # b, d tie: b's best rank is 2, d's 2 -> id
    c = fused[0]
    assert (c.vector_distance, c.text_score) == (0.3, 9.0)
    assert (fused[1].vector_distance, fused[1].text_score) == (0.1, None)
    assert (fused[3].vector_distance, fused[3].text_score) == (None, 5.0)


def test_rrf_k_damps_the_head() -> None:
    v, t = vec(("a", 0.1), ("b", 0.2)), txt(("b", 3.0), ("x", 2.0), ("y", 1.0), ("a", 0.5))
    # a: 1/(k+1) + 1/(k+4); b: 1/(k+2) + 1/(k+1): b wins at any k
    assert rrf(v, t, 1)[0].hit.id == "b"
    assert rrf(v, t, 1000)[0].score == pytest.approx(1 / 1001 + 1 / 1002)
    with pytest.raises(ValueError, match="rrf_k"):
        rrf(v, t, 0)


def test_rrf_of_one_side_is_that_side() -> None:
    assert [f.hit.id for f in rrf(vec(("a", 0.1), ("b", 0.5)), [])] == ["a", "b"]
    assert [f.hit.id for f in rrf([], txt(("x", 2.0), ("y", 1.0)))] == ["x", "y"]


def test_linear_blends_min_max_normalised_scores() -> None:
    v = vec(("a", 0.1), ("b", 0.3), ("c", 0.5))  # similarity -0.1, -0.3, -0.5 -> 1, .5, 0
    t = txt(("c", 10.0), ("d", 4.0), ("a", 2.0))  # -> 1, .25, 0
    fused = linear(v, t, alpha=0.6)
    scores = {f.hit.id: f.score for f in fused}
    assert scores == pytest.approx(
        {"a": 0.6 * 1 + 0.4 * 0, "b": 0.6 * 0.5, "c": 0.6 * 0 + 0.4 * 1, "d": 0.4 * 0.25}
    )
    assert [f.hit.id for f in fused] == ["a", "c", "b", "d"]


def test_linear_extremes_and_flat_sides() -> None:
    v = vec(("a", 0.1), ("b", 0.3))
    t = txt(("b", 2.0), ("c", 1.0))
    assert [f.hit.id for f in linear(v, t, 1.0)][:2] == ["a", "b"]
    as_text = linear(v, t, 0.0)
    assert as_text[0].hit.id == "b"
    # a side's last candidate normalises to 0, like a candidate it did not return
    assert {f.hit.id: f.score for f in as_text[1:]} == {"a": 0.0, "c": 0.0}
    flat = linear(vec(("a", 0.2), ("b", 0.2)), [], 0.5)
    assert [f.score for f in flat] == [0.5, 0.5]  # equal scores all normalise to 1
    for bad in (-0.1, 1.1):
        with pytest.raises(ValueError, match="alpha"):
            linear(v, t, bad)


def test_duplicates_keep_the_first_occurrence() -> None:
    fused = rrf(vec(("a", 0.1), ("a", 0.9)), txt(("a", 3.0), ("a", 1.0)))
    assert len(fused) == 1
    assert fused[0].score == pytest.approx(2 / 61)
    assert (fused[0].vector_distance, fused[0].text_score) == (0.1, 3.0)


def test_query_terms() -> None:
    assert query_terms("How do I parse the command-line? Parse it!") == [
        "how", "do", "i", "parse", "command", "line"
    ]  # fmt: skip
    assert query_terms("to be or not to be") == []
    assert query_terms("snake_case 3.14 Ünïcode") == ["snake_case", "3", "14", "ünïcode"]
    assert query_terms(" ".join(f"w{i}" for i in range(100))) == [f"w{i}" for i in range(64)]


def test_escaping_leaves_no_query_syntax() -> None:
    assert escape_term("a-b|c@d") == "a\\-b\\|c\\@d"
    assert escape_term("snake_case") == "snake_case"
    assert text_clause("text", ["parse", "csv"]) == "@text:(parse|csv)"
    assert text_clause("my-field", ["x"]) == "@my\\-field:(x)"
    with pytest.raises(ValueError, match="at least one term"):
        text_clause("text", [])
