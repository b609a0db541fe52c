"""The fast path of :func:`tokenize_text` (values without a backslash) against the
byte-by-byte scan it replaces (:func:`tokenize_escaped`), which stays the reference."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from store.index.schema.text import DEFAULT_STOPWORDS, tokenize_escaped, tokenize_text

# separators, control characters (dropped, not separators), stop words' letters, upper
# case, UTF-8 of non-ASCII letters, and DEL
_PIECES = [
    *" \t,./(){}[]:;~!@#$%^&*-=+|'`\"<>?",
    "\n", "\r", "\x00", "\x07", "\x7f", "a", "B", "z", "The", "AND", "x", "7", "é", "Ω", "ß",
]  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=60), st.integers(0, 300))
def test_fast_path_gives_the_scan_s_terms(pieces: list[str], long_run: int) -> None:
    value = ("".join(pieces) + "Q" * long_run + "".join(reversed(pieces))).encode()
    assert b"\\" not in value
    assert tokenize_text(value) == tokenize_escaped(value)
    assert tokenize_text(value, frozenset()) == tokenize_escaped(value, frozenset())


def test_known_values() -> None:
    # a tab separates; a new line is no separator and is dropped (RediSearch's rules)
    assert tokenize_text(b"Hello, World! The end\ttab\nnl") == [b"hello", b"world", b"end",
                                                                 b"tabnl"]  # fmt: skip
    assert tokenize_text(b"x" * 200) == [b"x" * 128]
    assert tokenize_text(b"\x01\x02 ,,") == []
    assert tokenize_text(b"CAF\xc3\x89 is") == ["café".encode()]
    # a backslash escapes a separator: the scan handles it
    assert tokenize_text(b"a\\,b c") == [b"a,b", b"c"]
    assert tokenize_text(b"the", DEFAULT_STOPWORDS) == []
