"""Phonetic terms of TEXT fields declared ``PHONETIC dm:<lang>``, as RediSearch 2.10 makes
them (``src/phonetic_manager.c``).

RediSearch's only phonetic algorithm is Lawrence Philips' Double Metaphone (the same for
its four languages: en, fr, pt, es); memvec uses the ``doublemetaphone`` package, a
wrapper of Philips' C++ original (measured against the peer: 706 of 706 words code alike;
the pure-Python ``metaphone`` package differs on words such as ``number`` and ``jose``).

Indexing: a token of at least :data:`MIN_PHONETIC_LENGTH` bytes in a phonetic field is
also indexed as ``<CODE`` (:data:`PHONETIC_PREFIX` and its primary code), at the token's
position, counting the field's full weight towards its frequency (not the document's
length). Querying: a plain term whose fields include a phonetic one (or with
``=>{$phonetic: true}``) also matches ``<CODE`` of its primary code, whatever its length.
"""

from __future__ import annotations

from functools import lru_cache

from doublemetaphone import doublemetaphone

__all__ = ["MATCHERS", "MIN_PHONETIC_LENGTH", "PHONETIC_PREFIX", "is_phonetic", "phonetic_term"]

PHONETIC_PREFIX = b"<"
MIN_PHONETIC_LENGTH = 3
"""RediSearch's ``DEFAULT_MIN_PHONETIC_TERM_LEN``: shorter tokens get no phonetic term."""
MATCHERS = frozenset({b"dm:en", b"dm:fr", b"dm:pt", b"dm:es"})
"""The ``PHONETIC`` arguments RediSearch accepts (case-sensitive)."""


@lru_cache(maxsize=65536)
def phonetic_term(term: bytes) -> bytes | None:
    """``<CODE`` for ``term`` (its Double Metaphone primary code), or None when it has
    none (a term of no sounding letters)."""
    code: str = doublemetaphone(term.decode("utf-8", "replace"))[0]
    return PHONETIC_PREFIX + code.encode() if code else None


def is_phonetic(term: bytes) -> bool:
    """Whether ``term`` is a ``<CODE`` entry rather than a word of a document."""
    return term.startswith(PHONETIC_PREFIX)
