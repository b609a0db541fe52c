"""PFADD, PFCOUNT and PFMERGE against the peer: replies and the HLL strings themselves (GET),
byte for byte, in sparse and dense encodings; RESP2 and RESP3; MULTI/EXEC."""

from __future__ import annotations

import random

from tests.server.test_differential import Pair


def test_hll_bytes_counts_and_errors(pair: Pair, p: str) -> None:
    a, b, c, d, s, h = (f"{p}:{x}" for x in "abcdsh")
    rng = random.Random(7)
    pair.script(
        [
            ("PFADD", a, "x", "y", "z"),
            ("GET", a),
            ("PFCOUNT", a),
            ("GET", a),
            ("PFADD", a, "x"),
            ("PFADD", f"{p}:empty"),
            ("GET", f"{p}:empty"),
            ("PFCOUNT", f"{p}:nope"),
            ("PFCOUNT", a, f"{p}:nope"),
            ("SET", s, "hello"),
            ("PFADD", s, "a"),
            ("PFCOUNT", s),
            ("PFMERGE", f"{p}:m", s),
            ("HSET", h, "a", "1"),
            ("PFADD", h, "a"),
            ("PFCOUNT", a, h),
        ]
    )
    # sparse growth up to the 3000-byte promotion, then dense
    for _ in range(30):
        pair.same("PFADD", b, *[f"e{rng.randrange(100000)}" for _ in range(40)])
        pair.same("GET", b)
    pair.script([("PFCOUNT", b), ("GET", b), ("PFCOUNT", a, b)])
    for _ in range(40):
        pair.same("PFADD", c, *[f"e{rng.randrange(100000)}" for _ in range(100)])
    pair.script(
        [
            ("GET", c),
            ("PFCOUNT", c),
            ("PFMERGE", d, a, b),
            ("GET", d),
            ("PFCOUNT", d),
            ("PFMERGE", d, c),
            ("GET", d),
            ("PFMERGE", a),
            ("GET", a),
            ("PFCOUNT", a, b, c, d),
        ]
    )


def test_sparse_merge_bytes(pair: Pair, p: str) -> None:
    """PFMERGE of sparse inputs writes register by register (hllSparseSet's split and merge
    of runs): the resulting bytes, and the promotion once past 3000 bytes, match."""
    e, f, g = f"{p}:e", f"{p}:f", f"{p}:g"
    pair.same("PFADD", e, *[f"a{i}" for i in range(300)])
    pair.same("PFADD", f, *[f"b{i}" for i in range(300)])
    pair.script([("PFMERGE", g, e, f), ("GET", g), ("PFCOUNT", g)])
    pair.same("PFADD", f, *[f"c{i}" for i in range(600)])
    pair.script([("GET", f), ("PFMERGE", g, f), ("GET", g), ("PFCOUNT", g)])


def test_corrupt_hll(pair: Pair, p: str) -> None:
    bad, good = f"{p}:bad", f"{p}:good"
    pair.script(
        [
            ("SET", bad, b"HYLL\x01" + bytes(11) + b"\x7f\xfe"),
            ("PFADD", good, "a"),
            ("PFCOUNT", bad),
            ("PFCOUNT", bad, good),
            ("PFMERGE", f"{p}:x", bad),
            ("SET", bad, b"HYLL\x00" + bytes(11) + b"\x7f\xfe"),
            ("PFADD", bad, "x"),
        ]
    )


def test_bytes_appended_to_a_sparse_hll(pair: Pair, p: str) -> None:
    """APPEND to an HLL string leaves opcodes past its 16384 registers (a lone byte is a
    truncated XZERO). Redis reads a sparse HLL's opcodes only as far as the register
    PFADD sets, so PFADD keeps working and keeps those bytes; PFCOUNT and PFMERGE read them
    all, and so does the promotion to dense. (Found by
    tests/server/test_types_state_machine.py.)"""
    for tail in ("a", "aa", "\x80", "\x80\x81", "a\x80"):
        k = f"{p}:{tail.encode().hex()}"
        pair.script(
            [
                ("PFADD", k, "a"),
                ("APPEND", k, tail),
                ("PFADD", k, "a"),
                ("GET", k),
                ("PFADD", k, "b", "c"),
                ("GET", k),
                ("PFADD", k, *[f"e{i}" for i in range(40)]),
                ("GET", k),
                ("PFCOUNT", k),
                ("PFMERGE", f"{p}:m", k),
                ("PFADD", k, *[f"f{i}" for i in range(1500)]),  # past 3000 bytes: dense
                ("GET", k),
            ]
        )


def test_pfdebug(pair: Pair, p: str) -> None:
    a, b, s = f"{p}:a", f"{p}:b", f"{p}:s"
    pair.script(
        [
            ("PFADD", a, "x", "y", "z"),
            ("PFDEBUG", "ENCODING", a),
            ("PFDEBUG", "DECODE", a),
            ("PFDEBUG", "GETREG", a),
            ("GET", a),
            ("PFDEBUG", "ENCODING", a),
            ("PFDEBUG", "DECODE", a),
            ("PFADD", b, "q"),
            ("PFDEBUG", "TODENSE", b),
            ("PFDEBUG", "TODENSE", b),
            ("PFDEBUG", "FOO", b),
            ("PFDEBUG", "GETREG", b, "x"),
            ("PFDEBUG", "GETREG", f"{p}:nope"),
            ("SET", s, "x"),
            ("PFDEBUG", "GETREG", s),
        ]
    )


def test_multi_exec(pair: Pair, p: str) -> None:
    a, b = f"{p}:a", f"{p}:b"
    pair.script(
        [
            ("MULTI",),
            ("PFADD", a, "1", "2"),
            ("PFADD", b, "2", "3"),
            ("PFMERGE", a, b),
            ("PFCOUNT", a),
            ("GET", a),
            ("EXEC",),
        ]
    )
