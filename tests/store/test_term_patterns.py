"""store.index.term_patterns against plain definitions: the banded Levenshtein test against
the full dynamic programme, wildcard matching against fnmatch-like rules, the limits."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from store.index.term_patterns import ExpansionLimits, expand, levenshtein_within, matcher


def _distance(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


@settings(max_examples=300, deadline=None)
@given(st.text("abc", max_size=7), st.text("abc", max_size=7), st.integers(1, 3))
def test_levenshtein_within_agrees_with_the_full_table(a: str, b: str, limit: int) -> None:
    assert levenshtein_within(a, b, limit) == (_distance(a, b) <= limit)


def test_wildcards_and_escapes() -> None:
    test = matcher("wildcard", b"he?l*")
    assert test is not None
    assert test(b"hello") and test(b"hexl") and not test(b"hel") and not test(b"xhello")
    escaped = matcher("wildcard", b"a\\*b")
    assert escaped is not None and escaped(b"a*b") and not escaped(b"axb")


def test_min_prefix_and_max_expansions() -> None:
    vocabulary = sorted(b"ab%03d" % i for i in range(50))
    assert expand(vocabulary, "suffix", b"1") == []  # shorter than MINPREFIX
    assert len(expand(vocabulary, "contains", b"ab", limits=ExpansionLimits(2, 7))) == 7
    assert expand(vocabulary, "suffix", b"01", limits=ExpansionLimits(3, 200)) == []
    near = [t for t in vocabulary if _distance("ab00", t.decode()) <= 1]
    assert expand(vocabulary, "fuzzy", b"ab00", 1) == near and len(near) == 14
