"""``store.numbers.parse_int64``: the one integer parse behind every numeric argument."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from store.errors import QuerySyntaxError
from store.index.query import parse_query
from store.index.query.knn import MAX_KNN_K
from store.numbers import INT64_MAX, INT64_MIN, fits_int32, parse_float64, parse_int64


@pytest.mark.parametrize(
    ("raw", "strict", "lenient"),
    [
        (b"0", 0, 0),
        (b"-1", -1, -1),
        (b"9223372036854775807", INT64_MAX, None),  # RediSearch cannot tell it from overflow
        (b"-9223372036854775808", INT64_MIN, None),
        (b"9223372036854775806", INT64_MAX - 1, INT64_MAX - 1),
        (b"9223372036854775808", None, None),
        (b"-9223372036854775809", None, None),
        (b"18446744073709551616", None, None),
        (b"100000000000000000000", None, None),
        (b"1" * 5000, None, None),  # never handed to int(): no slow or refused conversion
        (b"0" * 30 + b"7", None, 7),
        (b" 1", None, 1),
        (b"+1", None, 1),
        (b"007", None, 7),
        (b"-0", None, 0),
        (b"", None, None),
        (b"-", None, None),
        (b"1e400", None, None),
        (b"nan", None, None),
        (b"inf", None, None),
        (b"0x10", None, None),
        (b"1_000", None, None),
        (b"1.0", None, None),
        ("\u0661".encode(), None, None),  # a non-ASCII digit
    ],
)
def test_parse_int64(raw: bytes, strict: int | None, lenient: int | None) -> None:
    assert parse_int64(raw) == strict
    assert parse_int64(raw, strict=False) == lenient


@given(st.integers())
def test_every_integer_round_trips_or_is_refused(n: int) -> None:
    assert parse_int64(b"%d" % n) == (n if INT64_MIN <= n <= INT64_MAX else None)
    assert parse_int64(b" %d " % n, strict=False) == (n if INT64_MIN < n < INT64_MAX else None)


def test_fits_int32() -> None:
    assert fits_int32(2**31 - 1) and fits_int32(-(2**31))
    assert not fits_int32(2**31) and not fits_int32(-(2**31) - 1)


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (b"1.5", 1.5),
        (b"-.5e3", -500.0),
        (b"inf", math.inf),
        (b"-Infinity", -math.inf),
        (b"1e400", math.inf),  # a long double in Redis; memvec's doubles overflow
        (b"0x10", 16.0),
        (b"0x1.8p1", 3.0),
        (b"nan", None),
        (b" 1", None),
        (b"1 ", None),
        (b"1_0", None),
        (b"", None),
        (b"1" * 6000, None),
        (b"0x1p99999", None),
    ],
)
def test_parse_float64(raw: bytes, value: float | None) -> None:
    assert parse_float64(raw) == value


@pytest.mark.parametrize(
    ("query", "params", "k"),
    [
        ("*=>[KNN 100000000000000000000 @v $B]", {}, MAX_KNN_K),
        ("*=>[KNN 0000000000000000000000005 @v $B]", {}, 5),
        ("*=>[KNN " + "9" * 5000 + " @v $B]", {}, MAX_KNN_K),
        ("*=>[KNN $K @v $B]", {b"K": b"9223372036854775807"}, MAX_KNN_K),
        ("*=>[KNN $K @v $B]", {b"K": b" +007"}, 7),
    ],
)
def test_knn_k_is_clamped(query: str, params: dict[bytes, bytes], k: int) -> None:
    parsed = parse_query(query.encode(), {b"B": b"\0" * 8, **params})
    assert parsed.knn is not None and parsed.knn.k == k


@pytest.mark.parametrize(
    ("query", "params", "error"),
    [
        ("*=>[KNN $K @v $B]", {b"K": str(2**63).encode()}, "Invalid numeric value"),
        ("*=>[KNN $K @v $B]", {b"K": b"-1"}, "Invalid numeric value"),
        ("*=>[KNN 3 @v $B EF_RUNTIME 18446744073709551616]", {}, "Invalid value was given"),
        ("*=>[KNN 3 @v $B EF_RUNTIME $E]", {b"E": b"1e400"}, "Invalid value was given"),
    ],
)
def test_knn_numbers_out_of_range(query: str, params: dict[bytes, bytes], error: str) -> None:
    with pytest.raises(QuerySyntaxError, match=error):
        parse_query(query.encode(), {b"B": b"\0" * 8, **params})
