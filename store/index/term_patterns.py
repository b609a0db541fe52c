"""Which index terms a TEXT or TAG pattern expands to, as RediSearch 2.10's terms trie does.

:func:`matcher` turns a pattern query node's text into a test of one vocabulary term:

- ``prefix`` (``pre*``), ``suffix`` (``*fix``), ``contains`` (``*ain*``): byte tests;
- ``wildcard`` (``w'pa?t*'``): ``?`` is one character, ``*`` any run of characters, a
  backslash escapes the next one (RediSearch's ``Wildcard_MatchChar``); the whole term must
  match;
- ``fuzzy`` (``%term%`` ... ``%%%term%%%``): Levenshtein distance at most 1..3 over
  characters (RediSearch's sparse Levenshtein automaton on folded runes).

The caller walks the vocabulary in byte order (the order of RediSearch's trie walk), keeps
at most :data:`MAX_EXPANSIONS` matches (RediSearch's ``MAXEXPANSIONS``), and unions their
documents. RediSearch refuses nothing here: a prefix, suffix or contains shorter than
:data:`MIN_PREFIX` (``MINPREFIX``) simply expands to nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

__all__ = [
    "MAX_EXPANSIONS",
    "MIN_PREFIX",
    "ExpansionLimits",
    "expand",
    "levenshtein_within",
    "matcher",
]

MIN_PREFIX = 2
"""Shortest prefix, suffix or infix a pattern query expands (RediSearch's MINPREFIX)."""
MAX_EXPANSIONS = 200
"""Most terms one pattern expands to (RediSearch's MAXEXPANSIONS)."""


@dataclass
class ExpansionLimits:
    """MINPREFIX and MAXEXPANSIONS as ``FT.CONFIG SET`` leaves them: one object per
    server, shared by its indexes (RediSearch's are process-wide and neither logged nor
    replicated; memvec's FT.CONFIG is not logged either)."""

    min_prefix: int = MIN_PREFIX
    max_expansions: int = MAX_EXPANSIONS


def levenshtein_within(a: str, b: str, limit: int) -> bool:
    """Whether the edit distance (insert, delete, substitute) of ``a`` and ``b`` is at most
    ``limit``; banded, so it costs ``O(len * limit)``."""
    if abs(len(a) - len(b)) > limit:
        return False
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        lo, hi = max(1, i - limit), min(len(b), i + limit)
        if lo > 1:
            current[lo - 1] = limit + 1
        for j in range(lo, hi + 1):
            cost = 0 if ca == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
        for j in range(hi + 1, len(b) + 1):
            current[j] = limit + 1
        if min(current[max(0, lo - 1) : hi + 1]) > limit:
            return False
        previous = current
    return previous[len(b)] <= limit


def _wildcard_regex(pattern: bytes) -> re.Pattern[bytes]:
    out = bytearray()
    i = 0
    while i < len(pattern):
        c = pattern[i : i + 1]
        if c == b"\\" and i + 1 < len(pattern):
            out += re.escape(pattern[i + 1 : i + 2])
            i += 2
            continue
        out += b".*" if c == b"*" else b"." if c == b"?" else re.escape(c)
        i += 1
    return re.compile(bytes(out), re.DOTALL)


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def matcher(
    kind: str, text: bytes, distance: int = 0, min_prefix: int = MIN_PREFIX
) -> Callable[[bytes], bool] | None:
    """A test of one term for pattern ``kind`` with (folded) ``text``; None when the pattern
    expands to nothing whatever the terms (shorter than ``min_prefix``)."""
    if kind in ("prefix", "suffix", "contains") and len(text) < min_prefix:
        return None
    if kind == "prefix":
        return lambda term: term.startswith(text)
    if kind == "suffix":
        return lambda term: term.endswith(text)
    if kind == "contains":
        return lambda term: text in term
    if kind == "wildcard":
        regex = _wildcard_regex(text)
        return lambda term: regex.fullmatch(term) is not None
    if kind == "fuzzy":
        wanted = _text(text)
        return lambda term: levenshtein_within(wanted, _text(term), distance)
    raise ValueError(f"unknown pattern kind {kind!r}")


def expand(
    vocabulary: Iterable[bytes],
    kind: str,
    text: bytes,
    distance: int = 0,
    limits: ExpansionLimits | None = None,
) -> list[bytes]:
    """The terms of ``vocabulary`` (walked in byte order) ``kind`` matches, at most
    ``limits.max_expansions`` (:data:`MAX_EXPANSIONS` by default)."""
    limits = limits or ExpansionLimits()
    test = matcher(kind, text, distance, limits.min_prefix)
    if test is None:
        return []
    out = []
    for term in vocabulary:
        if test(term):
            out.append(term)
            if len(out) >= limits.max_expansions:
                break
    return out
