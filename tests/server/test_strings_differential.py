"""String, key and bitmap commands (issue #18): the same scripts and seeded random command
sequences sent to `memvec server` and to the peer, raw RESP2 and RESP3 replies compared.

One in-process memvec server for the module; each test uses its own key prefix and deletes
its keys on both servers. Log rewrites, replay, snapshots and replicas of these commands
are tested at the store level (tests/store/test_keys_log.py).
"""

from __future__ import annotations

import random

import pytest

from tests.server.test_differential import Pair, call


def test_set_family_and_getex(pair: Pair, p: str) -> None:
    a, b, h, n, z, y = (f"{p}:{x}" for x in "abhnzy")
    pair.script(
        [
            ("SETNX", a, "1"),
            ("SETNX", a, "2"),
            ("GET", a),
            *(("SETEX", b, t, "v") for t in ("0", "-1", "x", "9223372036854775807", "100")),
            ("TTL", b),
            ("PSETEX", b, "100000", "w"),
            ("PSETEX", b, "0", "w"),
            ("TTL", b),
            ("GETEX", b),
            ("GETEX", b, "PERSIST"),
            ("TTL", b),
            ("GETEX", b, "EX", "100"),
            ("TTL", b),
            ("GETEX", b, "EX", "100", "PX", "5"),
            ("GETEX", b, "EX", "10", "EX", "20"),
            ("TTL", b),
            ("GETEX", b, "PERSIST", "EX", "1"),
            ("GETEX", b, "EX"),
            ("GETEX", b, "EX", "0"),
            ("GETEX", b, "KEEPTTL"),
            ("GETEX", f"{p}:missing", "EX", "0"),
            ("GETEX", f"{p}:missing", "FOO"),
            ("GETEX", b, "EXAT", "1"),
            ("EXISTS", b),
            ("HSET", h, "f", "v"),
            ("GETEX", h),
            ("GETEX", h, "EX", "0"),
            ("GETSET", h, "x"),
            ("GETSET", a, "new"),
            ("GETSET", n, "x"),
            ("GET", n),
            ("MSETNX", n, "1", z, "2"),
            ("MSETNX", z, "1", y, "2"),
            ("MSETNX", z),
            ("MGET", z, y),
            ("SET", a, "v", "EX", "10", "EX", "20"),
            ("TTL", a),
            ("SET", a, "v", "EX", "10", "PX", "5"),
            ("SET", a, "v", "EXAT", "1"),
            ("EXISTS", a),
        ]
    )


def test_ranges_and_lcs(pair: Pair, p: str) -> None:
    s, r, q, h = (f"{p}:{x}" for x in "srqh")
    l1, l2, l3, l4 = (f"{p}:l{i}" for i in range(4))
    pair.script(
        [
            ("SET", s, "Hello World"),
            *(
                ("GETRANGE", s, *span)
                for span in (("0", "4"), ("-3", "-1"), ("-1", "-5"), ("5", "2"), ("0", "100"))
            ),
            ("GETRANGE", s, "-100", "3"),
            ("GETRANGE", f"{p}:missing", "0", "-1"),
            ("GETRANGE", s, "a", "1"),
            ("SUBSTR", s, "1", "3"),
            ("HSET", h, "f", "v"),
            ("GETRANGE", h, "0", "1"),
            ("SETRANGE", s, "6", "Redis"),
            ("GET", s),
            ("SETRANGE", r, "5", "x"),
            ("GET", r),
            ("SETRANGE", q, "5", ""),
            ("EXISTS", q),
            ("SETRANGE", s, "3", ""),
            ("SETRANGE", s, "-1", "x"),
            ("SETRANGE", s, "536870911", "xx"),
            ("SETRANGE", h, "0", "x"),
            ("SET", l1, "ohmytext"),
            ("SET", l2, "mynewtext"),
            ("LCS", l1, l2),
            ("LCS", l1, l2, "LEN"),
            ("LCS", l1, l2, "IDX"),
            ("LCS", l1, l2, "IDX", "MINMATCHLEN", "4"),
            ("LCS", l1, l2, "IDX", "WITHMATCHLEN"),
            ("LCS", l1, l2, "IDX", "LEN"),
            ("LCS", l1, h),
            ("LCS", l1, f"{p}:missing", "IDX"),
            ("LCS", l1, l2, "FOO"),
            ("LCS", l1, l2, "MINMATCHLEN"),
            ("SET", l3, "abcabcbbacbcacb"),
            ("SET", l4, "bcbacbcabcbbcaabc"),
            ("LCS", l3, l4, "IDX", "WITHMATCHLEN", "MINMATCHLEN", "2"),
            ("LCS", l3, l4),
        ]
    )


def test_rename_copy_and_single_db_errors(pair: Pair, p: str) -> None:
    a, e, h, c, hh, hc = (f"{p}:{x}" for x in ("a", "e", "h", "c", "hh", "hc"))
    pair.script(
        [
            ("SET", a, "1"),
            ("HSET", h, "f", "v"),
            ("RENAME", f"{p}:nope", f"{p}:x"),
            ("RENAME", a, a),
            ("RENAMENX", a, a),
            ("SET", e, "1", "EX", "100"),
            ("RENAME", e, f"{e}2"),
            ("TTL", f"{e}2"),
            ("EXISTS", e),
            ("RENAMENX", f"{e}2", a),
            ("RENAMENX", f"{e}2", f"{e}3"),
            ("RENAME", f"{e}3", h),
            ("TYPE", h),
            ("TTL", h),
            ("COPY", h, h),
            ("COPY", h, c),
            ("COPY", h, c),
            ("COPY", a, c, "REPLACE"),
            ("GET", c),
            ("COPY", f"{p}:nope", c),
            ("COPY", a, c, "DB", "0", "REPLACE"),
            ("COPY", a, c, "DB", "x"),
            ("COPY", a, c, "FOO"),
            ("COPY", a, c, "DB"),
            ("HSET", hh, "a", "1"),
            ("COPY", hh, hc),
            ("HSET", hh, "b", "2"),
            ("HGETALL", hc),
            ("TOUCH", a, f"{p}:nope", a),
            ("PEXPIRETIME", a),
            ("PEXPIRETIME", f"{p}:nope"),
            ("PEXPIREAT", a, "99999999999999"),
            ("PEXPIRETIME", a),
            ("MOVE", a, "x"),
            ("MOVE", a, "0"),
            ("SWAPDB", "x", "0"),
            ("SWAPDB", "0", "x"),
            ("SWAPDB", "0", "0"),
        ]
    )


def test_lcs_size_limit(pair: Pair, p: str) -> None:
    """memvec refuses an LCS table past 16 M cells (docs/compatibility.md)."""
    a, b = f"{p}:a", f"{p}:b"
    call(pair.memvec, "SET", a, "x" * 5000)
    call(pair.memvec, "SET", b, "y" * 5000)
    reply = call(pair.memvec, "LCS", a, b)
    assert reply[0] == "ERR" and "refused by memvec" in reply[1]
    assert call(pair.memvec, "PING") in (b"PONG", "PONG", True)


def test_single_database_differences(pair: Pair, p: str) -> None:
    """memvec has one database: DB n > 0 is out of range (docs/compatibility.md)."""
    a = f"{p}:a"
    pair.same("SET", a, "1")
    assert call(pair.memvec, "COPY", a, f"{p}:b", "DB", "1") == ("ERR", "DB index is out of range")
    assert call(pair.memvec, "MOVE", a, "1") == ("ERR", "DB index is out of range")
    assert call(pair.memvec, "SWAPDB", "0", "1") == ("ERR", "DB index is out of range")


def test_randomkey(pair: Pair, p: str) -> None:
    assert call(pair.memvec, "RANDOMKEY") in (None, *call(pair.memvec, "KEYS", "*"))
    keys = {f"{p}:{i}".encode() for i in range(5)}
    call(pair.memvec, "MSET", *[x for k in keys for x in (k, b"v")])
    seen = {call(pair.memvec, "RANDOMKEY") for _ in range(60)}
    assert keys <= seen | set(call(pair.memvec, "KEYS", "*")) and len(seen & keys) >= 2


def test_bitmaps(pair: Pair, p: str) -> None:
    b, s, pp, f, z, a, c, d, h, i = (f"{p}:{x}" for x in "bspfzacdhi")
    pair.script(
        [
            ("SETBIT", b, "7", "1"),
            ("SETBIT", b, "7", "1"),
            ("SETBIT", b, "100", "0"),
            ("GET", b),
            *(("SETBIT", b, o, v) for o, v in (("-1", "1"), ("1", "2"), ("4294967296", "1"))),
            ("SETBIT", b, "x", "1"),
            *(("GETBIT", b, o) for o in ("7", "1000", "-3")),
            ("GETBIT", f"{p}:nope", "3"),
            ("SET", s, "foobar"),
            ("BITCOUNT", s),
            *(("BITCOUNT", s, *r) for r in (("0", "0"), ("1", "1"), ("1", "1", "BYTE"))),
            *(("BITCOUNT", s, *r) for r in (("5", "30", "BIT"), ("-3", "-1", "BIT"), ("2",))),
            *(("BITCOUNT", s, *r) for r in (("-1", "-3"), ("0", "1", "FOO"), ("a",))),
            ("BITCOUNT", s, "0", "1", "BIT", "x"),
            ("BITCOUNT", f"{p}:nope", "0", "1"),
            ("SET", pp, b"\xff\xf0\x00"),
            *(("BITPOS", pp, *r) for r in (("0",), ("1",), ("0", "2", "-1", "BYTE"))),
            *(("BITPOS", pp, *r) for r in (("1", "7", "15", "BIT"), ("0", "7", "11", "BIT"))),
            ("BITPOS", pp, "0", "0", "0"),
            ("BITPOS", pp, "1", "-1"),
            ("SET", f, b"\xff\xff"),
            *(("BITPOS", f, *r) for r in (("0",), ("0", "0", "-1"), ("0", "1"), ("2",))),
            *(("BITPOS", f, *r) for r in (("1", "5", "2"), ("1", "3", "5", "BIT"))),
            ("BITPOS", f"{p}:nope", "0"),
            ("BITPOS", f"{p}:nope", "1"),
            ("SET", z, b"\x00\x00"),
            ("BITPOS", z, "1"),
            ("BITPOS", z, "0", "9", "-1", "BIT"),
            ("SET", a, "abc"),
            ("SET", c, "xy"),
            ("BITOP", "AND", d, a, c),
            ("GET", d),
            ("BITOP", "OR", d, a, c, f"{p}:nope"),
            ("GET", d),
            ("BITOP", "XOR", d, a, c),
            ("GET", d),
            ("BITOP", "NOT", d, a),
            ("GET", d),
            ("BITOP", "NOT", d, a, c),
            ("BITOP", "FOO", d, a),
            ("BITOP", "AND", d, f"{p}:nope"),
            ("EXISTS", d),
            ("HSET", h, "a", "1"),
            ("BITOP", "AND", d, a, h),
            ("SETBIT", h, "1", "1"),
            ("BITCOUNT", h),
            ("SET", i, "12345"),
            ("BITCOUNT", i),
            ("SETBIT", i, "1", "1"),
            ("GET", i),
        ]
    )


def test_bitfield(pair: Pair, p: str) -> None:
    bf, bf2, bf3 = f"{p}:bf", f"{p}:bf2", f"{p}:bf3"
    pair.script(
        [
            ("BITFIELD", bf, "SET", "i8", "0", "100", "GET", "u4", "0", "INCRBY", "i5", "100", "1"),
            ("BITFIELD", bf, "GET", "u4", "#1", "GET", "i64", "0"),
            ("GET", bf),
            ("BITFIELD", bf, "INCRBY", "u2", "100", "1", "OVERFLOW", "SAT", "INCRBY", "u2", "102", "1"),
            (
                "BITFIELD", bf2, "OVERFLOW", "WRAP", "INCRBY", "u2", "0", "5",
                "OVERFLOW", "SAT", "INCRBY", "i8", "8", "200", "INCRBY", "i8", "8", "-400",
                "OVERFLOW", "FAIL", "INCRBY", "u8", "16", "300", "SET", "u8", "16", "-1",
                "SET", "i8", "24", "128",
            ),
            (
                "BITFIELD", bf2, "OVERFLOW", "SAT", "SET", "u8", "16", "-1",
                "SET", "i64", "64", "-9223372036854775808", "INCRBY", "i64", "64", "-1",
                "OVERFLOW", "WRAP", "INCRBY", "i64", "64", "-1", "GET", "i64", "64",
                "SET", "u63", "128", "-1", "GET", "u63", "128",
            ),
            ("GET", bf2),
            *(("BITFIELD", bf2, "GET", t, "0") for t in ("u64", "i65", "x8", "i0", "u")),
            ("BITFIELD", bf2, "GET", "i8", "-1"),
            ("BITFIELD", bf2, "OVERFLOW", "FOO"),
            ("BITFIELD", bf2, "FOO"),
            ("BITFIELD", bf2, "GET", "i8"),
            ("BITFIELD", bf2, "SET", "i8", "0", "x"),
            ("BITFIELD", bf2),
            ("BITFIELD", f"{p}:nope", "GET", "i8", "0"),
            ("EXISTS", f"{p}:nope"),
            ("BITFIELD_RO", bf2, "GET", "i8", "0", "GET", "u3", "#2"),
            ("BITFIELD_RO", bf2, "SET", "i8", "0", "1"),
            ("BITFIELD", bf3, "OVERFLOW", "FAIL", "INCRBY", "u8", "100", "300"),
            ("GET", bf3),
            ("BITFIELD", bf3, "GET", "i8", "#4294967295"),
        ]
    )  # fmt: skip


def test_multi_exec(pair: Pair, p: str) -> None:
    a, b, c = f"{p}:a", f"{p}:b", f"{p}:c"
    pair.script(
        [
            ("MULTI",),
            ("SETNX", a, "x"),
            ("SETRANGE", a, "3", "yz"),
            ("GETEX", a, "PX", "100000"),
            ("SETBIT", b, "3", "1"),
            ("BITFIELD", b, "INCRBY", "u8", "8", "300"),
            ("BITOP", "OR", c, a, b),
            ("RENAME", c, f"{p}:d"),
            ("COPY", f"{p}:d", c),
            ("LCS", a, c, "IDX"),
            ("RENAME", f"{p}:nope", c),
            ("EXEC",),
            ("MULTI",),
            ("GETRANGE", a),
            ("EXEC",),
        ]
    )


def random_command(rng: random.Random, keys: list[str]) -> tuple[object, ...]:
    k, k2 = rng.choice(keys), rng.choice(keys)
    n = str(rng.choice([-3, -1, 0, 1, 2, 5, 9, 17, 40]))
    m = str(rng.choice([-2, -1, 0, 3, 8, 100]))
    word = rng.choice(["", "a", "xyz", "hello", "12", "\x00\xff", "abcab"])
    return rng.choice(
        [
            ("SET", k, word),
            ("SETNX", k, word),
            ("GETSET", k, word),
            ("MSETNX", k, word, k2, word),
            ("GETRANGE", k, n, m),
            ("SETRANGE", k, str(abs(int(n))), word),
            ("APPEND", k, word),
            ("LCS", k, k2, *rng.choice([(), ("LEN",), ("IDX", "WITHMATCHLEN")])),
            ("SETBIT", k, str(abs(int(n)) * 3), rng.choice(["0", "1"])),
            ("GETBIT", k, str(abs(int(n)))),
            ("BITCOUNT", k, n, m, rng.choice(["BIT", "BYTE"])),
            ("BITPOS", k, rng.choice(["0", "1"]), n, *rng.choice([(), (m,), (m, "BIT")])),
            ("BITOP", rng.choice(["AND", "OR", "XOR"]), k, k2, rng.choice(keys)),
            ("BITOP", "NOT", k, k2),
            (
                "BITFIELD", k, "OVERFLOW", rng.choice(["WRAP", "SAT", "FAIL"]),
                rng.choice(["INCRBY", "SET"]), rng.choice(["i5", "u7", "i12", "u3"]),
                str(abs(int(n)) * 2), m, "GET", "i9", "#1",
            ),
            ("RENAME", k, k2),
            ("RENAMENX", k, k2),
            ("COPY", k, k2, *rng.choice([(), ("REPLACE",)])),
            ("HSET", k, "f", word),
            ("DEL", k),
            ("GET", k),
            ("STRLEN", k),
        ]
    )  # fmt: skip


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_sequences(pair: Pair, p: str, seed: int) -> None:
    rng = random.Random(seed)
    keys = [f"{p}:{i}" for i in range(4)]
    for _ in range(600):
        pair.same(*random_command(rng, keys))
    for key in keys:
        pair.same("GET", key)


def test_hrandfield(pair: Pair, p: str) -> None:
    h, one, s = f"{p}:h", f"{p}:one", f"{p}:s"
    pair.script(
        [
            ("HSET", h, "a", "1", "b", "2", "c", "3"),
            ("HRANDFIELD", h, "3"),
            ("HRANDFIELD", h, "5", "WITHVALUES"),
            ("HRANDFIELD", h, "0"),
            ("HRANDFIELD", f"{p}:nope"),
            ("HRANDFIELD", f"{p}:nope", "3"),
            ("HRANDFIELD", f"{p}:nope", "-3", "WITHVALUES"),
            ("HRANDFIELD", h, "x"),
            ("HRANDFIELD", h, "1", "FOO"),
            ("HRANDFIELD", h, "1", "WITHVALUES", "x"),
            ("HRANDFIELD", h, "-9223372036854775808"),
            ("HRANDFIELD", h, "9223372036854775807", "WITHVALUES"),
            ("SET", s, "x"),
            ("HRANDFIELD", s),
            ("HRANDFIELD", s, "1"),
            ("HSET", one, "f", "v"),
            ("HRANDFIELD", one),
            ("HRANDFIELD", one, "-2", "WITHVALUES"),
        ]
    )
    picks = call(pair.memvec, "HRANDFIELD", h, "-50")
    assert len(picks) == 50 and set(picks) == {b"a", b"b", b"c"}
    distinct = call(pair.memvec, "HRANDFIELD", h, "2")
    assert len(set(distinct)) == 2 and set(distinct) <= {b"a", b"b", b"c"}


FLOAT_EDGES = ["0.1", "0.2", "5e-07", "1e400", "-1e400", "1e30", "-0.0", "3.0e3", "0x1p-3",
               "1.7976931348623157e308", "12345678901234567890.123", "-1e-20", "1e-30", ".5",
               "5.", "1e-4940", "4e-4951", "1e5000", "1e-5000", "inf", "-infinity", " 1",
               "1e4000", "-1e4000", "abc", "0x"]  # fmt: skip


def test_float_increments_are_long_doubles(pair: Pair, p: str) -> None:
    """INCRBYFLOAT/HINCRBYFLOAT add in long double and store ``%.17Lf`` trimmed, as Redis:
    the same bytes for edges (past the double range, underflows, hex) and for a seeded random
    walk whose every stored value is parsed again by the next increment."""
    s, h = f"{p}:s", f"{p}:h"
    for x in FLOAT_EDGES:
        pair.script([("DEL", s, h), ("INCRBYFLOAT", s, x), ("HINCRBYFLOAT", h, "f", x)])
    pair.script([("SET", s, "1e4932"), ("INCRBYFLOAT", s, "1e4932"), ("SET", s, "1.5x"),
                 ("INCRBYFLOAT", s, "1"), ("HSET", h, "f", "zz"), ("HINCRBYFLOAT", h, "f", "x"),
                 ("HINCRBYFLOAT", h, "f", "1"), ("DEL", s, h)])  # fmt: skip
    rng = random.Random(7)
    for _ in range(150):
        x = rng.choice(
            [
                f"{rng.uniform(-1e6, 1e6):.{rng.randint(1, 20)}g}",
                f"{rng.uniform(-1, 1) * 10 ** rng.randint(-30, 30):.{rng.randint(0, 20)}e}",
                f"{rng.uniform(-100, 100):.3f}",
            ]
        )
        pair.same("INCRBYFLOAT", s, x)
        pair.same("HINCRBYFLOAT", h, "f", x)
