"""How TEXT content and TEXT query terms become terms: RediSearch's separators, case folding,
stop words.

:func:`tokenize_text` splits a value on RediSearch's separators (punctuation and white
space), folds each piece with :func:`fold_text` and drops ``stopwords``
(:data:`DEFAULT_STOPWORDS` unless the index declared its own). There is no stemming. The
indexer and the query parser both use these functions, so a document term and a query term
match exactly when they fold to the same bytes.
"""

from __future__ import annotations

__all__ = ["DEFAULT_STOPWORDS", "fold_text", "tokenize_text"]

DEFAULT_STOPWORDS: frozenset[bytes] = frozenset(
    b"a is the an and are as at be but by for if in into it no not of on or such that their "
    b"then there these they this to was will with".split()
)
"""RediSearch's default stop word list (``src/stopwords.h``)."""

_TEXT_SEPARATORS = frozenset(b" \t\n\r\v\f,./(){}[]:;~!@#$%^&*-=+|'`\"<>?")


def fold_text(value: bytes) -> bytes:
    """Case-fold TEXT content or a TEXT query term (Unicode lower case, bytes kept intact)."""
    if value.isascii():
        return value.lower()
    return value.decode("utf-8", "surrogateescape").lower().encode("utf-8", "surrogateescape")


def tokenize_text(value: bytes, stopwords: frozenset[bytes] = DEFAULT_STOPWORDS) -> list[bytes]:
    """The terms of a TEXT value in order: split on RediSearch's separators, folded, no stops."""
    out: list[bytes] = []
    start = 0
    n = len(value)
    for i in range(n + 1):
        if i == n or value[i] in _TEXT_SEPARATORS:
            if i > start:
                term = fold_text(value[start:i])
                if term not in stopwords:
                    out.append(term)
            start = i + 1
    return out
