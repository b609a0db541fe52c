"""Snowball stemming of TEXT terms, as RediSearch 2.10 does it (``src/stemmer.c``,
``src/ext/default.c``).

RediSearch stems with libstemmer (Snowball); memvec uses PyStemmer, the same Snowball
algorithms (measured against the peer: 599 of 600 English words stem alike; the one
difference, ``cpaste``, comes from the peer's older Snowball English rules).

Indexing (:func:`index_stem`): a token of at least :data:`MIN_STEM_LENGTH` bytes in a TEXT
field without NOSTEM is indexed as itself and, when its stem differs, also as
``+stem`` (:data:`STEM_PREFIX`) at the same position. A stem occurrence counts
``max(1, int(weight * 0.2))`` (RediSearch's ``STEM_TOKEN_FACTOR``) towards its frequency
and the document's maximal frequency, and nothing towards the document's length.

Querying (:func:`query_expansions`): a plain term (not inside ``"..."``, not a prefix or
other pattern) is the union of itself, ``+stem`` and, when it differs, ``stem``, whatever
the field's NOSTEM: ``running`` finds documents holding ``running``, ``runs`` (``+run``)
and ``run``; ``run`` finds ``run`` and ``running``. A language without a Snowball stemmer
(``chinese``) expands nothing.
"""

from __future__ import annotations

from functools import lru_cache

import Stemmer

__all__ = [
    "DEFAULT_LANGUAGE",
    "MIN_STEM_LENGTH",
    "STEM_PREFIX",
    "index_stem",
    "is_stem",
    "query_expansions",
    "stem_weight",
]

STEM_PREFIX = b"+"
MIN_STEM_LENGTH = 4
"""RediSearch's ``DEFAULT_MIN_STEM_LENGTH``: shorter tokens are indexed without a stem."""
DEFAULT_LANGUAGE = b"english"
_ALGORITHMS = frozenset(name.encode() for name in Stemmer.algorithms())


@lru_cache(maxsize=64)
def _stemmer(language: bytes) -> Stemmer.Stemmer | None:
    name = language.lower()
    if name not in _ALGORITHMS:
        return None
    stemmer = Stemmer.Stemmer(name.decode())
    # a small cache: PyStemmer keeps ~300 bytes per cached word, and every distinct
    # token (a number, a name) lands in it; an unchanged rewrite does not stem again
    stemmer.maxCacheSize = 4096
    return stemmer


def _stem(term: bytes, language: bytes) -> bytes | None:
    stemmer = _stemmer(language)
    if stemmer is None:
        return None
    stem: bytes = stemmer.stemWord(term)
    return stem


@lru_cache(maxsize=16384)
def index_stem(token: bytes, language: bytes = DEFAULT_LANGUAGE) -> bytes | None:
    """The ``+stem`` term indexed beside ``token``, or None (too short, or its own stem).

    Cached for the tokens met most recently: an entry holds ~190 bytes with its key, and
    every distinct token (a number, a name, an id) takes one, so 65,536 entries came to
    12 MB at 100k documents each holding a number. A miss costs ~1.7 us; on a Zipf-like corpus (30k
    words, exponent 1.2, 20k documents of 30 words) 16,384 entries hit 92% of calls
    against 95.5% for 65,536: ~3 us more a document (decision 0041)."""
    if len(token) < MIN_STEM_LENGTH:
        return None
    stem = _stem(token, language)
    if stem is None or stem == token:
        return None
    return STEM_PREFIX + stem


def query_expansions(term: bytes, language: bytes = DEFAULT_LANGUAGE) -> tuple[bytes, ...]:
    """The terms a query ``term`` expands to besides itself (RediSearch's stemmer
    expander): ``+stem``, then ``stem`` when it differs from ``term``."""
    if not term:
        return ()
    stem = _stem(term, language)
    if stem is None:
        return ()
    if stem == term:
        return (STEM_PREFIX + stem,)
    return (STEM_PREFIX + stem, stem)


def is_stem(term: bytes) -> bool:
    """Whether ``term`` is a ``+stem`` entry rather than a word of a document."""
    return term.startswith(STEM_PREFIX)


def stem_weight(weight: int | float) -> int:
    """What one stem occurrence counts in a field of this WEIGHT (``MAX(1, (uint32_t)(w *
    0.2))``)."""
    value = float(weight) * 0.2
    return max(1, int(value)) if value < 2.0**32 else 1
