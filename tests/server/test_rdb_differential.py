"""DUMP and RESTORE against the peer: payloads byte for byte, the peer's payloads restored
by memvec and memvec's by the peer, and RESTORE's errors; RESP2 and RESP3."""

from __future__ import annotations

from tests.server.test_differential import Pair, call


def test_dump_payloads_are_the_peers(pair: Pair, p: str) -> None:
    s, i, e, h, big = (f"{p}:{x}" for x in ("s", "i", "e", "h", "big"))
    fields = [x for n in range(60) for x in (f"f{n}", str(n * 1000 - 7))]
    pair.script(
        [
            ("SET", s, "hello world hello world hello world"),
            ("DUMP", s),
            ("SET", e, ""),
            ("DUMP", e),
            ("SET", big, "abc" * 3000),
            ("DUMP", big),
            ("HSET", h, "a", "1", "b", "-4000", "c", "x" * 64, "d", "70000"),
            ("HSET", h, "e", "9223372036854775807", "f", "1" * 30, *fields),
            ("DUMP", h),
            ("DUMP", f"{p}:nope"),
        ]
    )
    for value in ("-70000", "0", "127", "-129", "2147483648", "007", "1.5"):
        pair.same("SET", i, value)
        pair.same("DUMP", i)


def test_payloads_cross_over(pair: Pair, p: str) -> None:
    src, hsrc = f"{p}:src", f"{p}:hsrc"
    call(pair.peer, "SET", src, "x" * 100)
    call(pair.peer, "HSET", hsrc, *[x for n in range(50) for x in (f"f{n}", str(n * 1000))])
    peer_str, peer_hash = call(pair.peer, "DUMP", src), call(pair.peer, "DUMP", hsrc)
    call(pair.memvec, "HSET", f"{p}:mine", "a", "1", "b", "two" * 30)
    mine = call(pair.memvec, "DUMP", f"{p}:mine")
    r1, r2, r3, r4 = (f"{p}:r{n}" for n in range(1, 5))
    pair.script(
        [
            ("RESTORE", r1, "0", peer_str),
            ("GET", r1),
            ("RESTORE", r1, "0", peer_str),
            ("RESTORE", r1, "0", peer_str, "REPLACE"),
            ("RESTORE", r2, "100000", peer_hash),
            ("HGETALL", r2),
            ("TTL", r2),
            ("RESTORE", r4, "0", mine),
            ("HGETALL", r4),
            ("DUMP", r4),
            ("RESTORE", r3, "-1", peer_str),
            ("RESTORE", r3, "x", peer_str),
            ("RESTORE", r3, "0", peer_str[:-1] + b"\x00"),
            ("RESTORE", r3, "0", b"abc"),
            ("RESTORE", r3, "0", peer_str, "FOO"),
            ("RESTORE", r3, "0", peer_str, "IDLETIME", "-1"),
            ("RESTORE", r3, "0", peer_str, "FREQ", "256"),
            ("RESTORE", r3, "0", peer_str, "IDLETIME", "5", "FREQ", "3"),
            ("RESTORE", r3, "0", peer_str, "IDLETIME", "5"),
            ("GET", r3),
            ("RESTORE", r1, "1", peer_str, "REPLACE", "ABSTTL"),
            ("EXISTS", r1),
            ("RESTORE", f"{p}:r5", "99999999999999", peer_str, "ABSTTL"),
            ("PEXPIRETIME", f"{p}:r5"),
            ("MULTI",),
            ("DUMP", r3),
            ("RESTORE", f"{p}:r6", "0", peer_hash),
            ("EXEC",),
        ]
    )
