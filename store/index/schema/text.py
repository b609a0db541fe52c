"""How TEXT content and TEXT query terms become terms: RediSearch's separators, case folding,
stop words.

:func:`tokenize_text` splits a value on RediSearch's separators (punctuation, space and tab,
not new lines; a backslash escapes one), normalizes each piece as RediSearch does (control
characters dropped, escaping backslashes dropped, at most 128 bytes), folds it with
:func:`fold_text` (RediSearch folds ASCII only; memvec folds Unicode too, on both the
indexing and the query side) and drops ``stopwords``
(:data:`DEFAULT_STOPWORDS` unless the index declared its own). Stems and phonetic codes
are added on top of these terms (store/index/stemming.py, store/index/phonetics.py). The
indexer and the query parser both use these functions, so a document term and a query term
match exactly when they fold to the same bytes.
"""

from __future__ import annotations

__all__ = ["DEFAULT_STOPWORDS", "fold_text", "tokenize_escaped", "tokenize_text"]

DEFAULT_STOPWORDS: frozenset[bytes] = frozenset(
    b"a is the an and are as at be but by for if in into it no not of on or such that their "
    b"then there these they this to was will with".split()
)
"""RediSearch's default stop word list (``src/stopwords.h``)."""

_TEXT_SEPARATORS = frozenset(b" \t,./(){}[]:;~!@#$%^&*-=+|'`\"<>?")
"""RediSearch's ``ToksepMap_g``: new lines and other control characters are not among them."""
_MAX_NORMALIZE = 128  # RediSearch's MAX_NORMALIZE_SIZE: longer tokens are cut to this
_DROPPED = frozenset(range(32)) | {127}  # control characters vanish from a token
_DROPPED_BYTES = bytes(sorted(_DROPPED))
# every separator byte as a space: a value without backslashes splits with bytes.split
_SEPARATORS_TO_SPACE = bytes(32 if c in _TEXT_SEPARATORS else c for c in range(256))


def fold_text(value: bytes) -> bytes:
    """Case-fold TEXT content or a TEXT query term (Unicode lower case, bytes kept intact)."""
    if value.isascii():
        return value.lower()
    return value.decode("utf-8", "surrogateescape").lower().encode("utf-8", "surrogateescape")


def _normalize(raw: bytes) -> bytes:
    """RediSearch's ``DefaultNormalize`` of one raw token: a backslash escapes the next
    byte (and is dropped), unescaped spaces and tabs and every control character are
    dropped; then memvec's case folding."""
    if b"\\" not in raw and not any(c in _DROPPED for c in raw):
        return fold_text(raw)
    out = bytearray()
    escaped = False
    for c in raw:
        if (c in (32, 9) and not escaped) or c in _DROPPED:
            pass
        elif c == 92 and not escaped:
            escaped = True
            continue
        else:
            out.append(c)
        escaped = False
    return fold_text(bytes(out))


def tokenize_text(value: bytes, stopwords: frozenset[bytes] = DEFAULT_STOPWORDS) -> list[bytes]:
    """The terms of a TEXT value in order, as RediSearch's tokenizer makes them: split on
    its separators (a backslash escapes one), normalized (:func:`_normalize`), the first
    128 bytes of a long token kept, empty tokens and ``stopwords`` dropped.

    A value without a backslash (nearly all) takes a fast path with the same result:
    separators become spaces and ``bytes.split`` cuts them (no separator can be escaped,
    so none stays in a token, and the only bytes :func:`_normalize` drops are control
    characters); the byte-by-byte scan serves the rest. A test holds the two equal."""
    if b"\\" in value:
        return tokenize_escaped(value, stopwords)
    out: list[bytes] = []
    for raw in value.translate(_SEPARATORS_TO_SPACE).split(b" "):
        if raw:
            term = raw[:_MAX_NORMALIZE].translate(None, _DROPPED_BYTES)
            if not term.isascii():
                term = fold_text(term)
            else:
                term = term.lower()
            if term and term not in stopwords:
                out.append(term)
    return out


def tokenize_escaped(value: bytes, stopwords: frozenset[bytes] = DEFAULT_STOPWORDS) -> list[bytes]:
    """:func:`tokenize_text` by a scan of every byte: the path of a value holding a
    backslash, which escapes the next byte (exported for the test that compares paths)."""
    out: list[bytes] = []
    start = 0
    n = len(value)
    escaped = False
    for i in range(n + 1):
        if i == n or (value[i] in _TEXT_SEPARATORS and not escaped):
            if i > start:
                term = _normalize(value[start : min(i, start + _MAX_NORMALIZE)])
                if term and term not in stopwords:
                    out.append(term)
            start = i + 1
            escaped = False
        else:
            escaped = not escaped and value[i] == 92
    return out
