"""Free text to a RediSearch full-text query over one TEXT field, safely.

:func:`query_terms` splits text the way RediSearch's default tokenizer splits documents
(on whitespace and punctuation; ``_`` joins words), lower-cases it, drops RediSearch's
default stop words (they are not indexed, so a term among them can never match) and
repeats, and keeps at most :data:`MAX_TERMS` terms. :func:`text_clause` writes the terms
as ``@field:(t1|t2|...)``: any term matches (BM25 then ranks documents matching more and
rarer terms higher), and every character that is not a letter, digit or ``_`` is
backslash-escaped, so no query syntax (``-``, ``|``, ``@``, ``*``, ``%``, quotes,
braces, ...) can come from the user's text. An empty term list has no clause: callers
decide what an all-stop-word query means (the API answers text mode with no hits and
hybrid mode with the vector ranking alone, see docs/decisions/0005-recall-knob-and-hybrid.md).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["MAX_TERMS", "STOP_WORDS", "escape_term", "query_terms", "text_clause"]

MAX_TERMS = 64
"""More terms only slow the union down; a 64-word question has said what it means."""

STOP_WORDS = frozenset(
    [
        "a",
        "is",
        "the",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "if",
        "in",
        "into",
        "it",
        "no",
        "not",
        "of",
        "on",
        "or",
        "such",
        "that",
        "their",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "will",
        "with",
    ]
)
"""RediSearch 2.10's default stop-word list (``DEFAULT_STOPWORDS``); an index created
without ``STOPWORDS`` neither indexes nor matches these."""

# RediSearch's separators are whitespace and ,.<>{}[]"':;!@#$%^&*()-+=~ (plus / \ | ? `
# in practice): a word is a run of anything else; \w covers letters, digits and _.
_WORD = re.compile(r"\w+", re.UNICODE)
_PLAIN = re.compile(r"\w", re.UNICODE)


def query_terms(text: str) -> list[str]:
    """The distinct, lower-cased, non-stop-word terms of ``text``, first occurrence order."""
    terms: dict[str, None] = {}
    for word in _WORD.findall(text.lower()):
        if word not in STOP_WORDS and word not in terms:
            terms[word] = None
            if len(terms) == MAX_TERMS:
                break
    return list(terms)


def escape_term(term: str) -> str:
    """``term`` with every character other than a letter, digit or ``_`` backslash-escaped."""
    return "".join(c if _PLAIN.match(c) else "\\" + c for c in term)


def text_clause(field: str, terms: Sequence[str]) -> str:
    """``@field:(t1|t2|...)`` over the escaped terms; ``terms`` must not be empty."""
    if not terms:
        raise ValueError("text_clause needs at least one term")
    return f"@{escape_term(field)}:(" + "|".join(escape_term(t) for t in terms) + ")"
