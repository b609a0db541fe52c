"""Sorted sets against the peer: scripted command sequences and random ones, RESP2 and
RESP3, raw replies compared (``Pair`` from tests/server/test_differential.py).

One memvec server for the module; every test uses its own key prefix and deletes its keys
on both servers.
"""

from __future__ import annotations

import random

import pytest
import redis

from store.commands.table import COMMANDS
from tests.server.test_differential import Pair, call


def test_zadd_flags_and_scores(pair: Pair, p: str) -> None:
    k = f"{p}:z"
    pair.script(
        [
            ("ZADD", k, 1, "a", 2, "b", 3, "c"),
            ("ZADD", k, "NX", 10, "a", 4, "d"),
            ("ZADD", k, "XX", "CH", 11, "a", 5, "e"),
            ("ZADD", k, "GT", "CH", 1, "a", 12, "b"),
            ("ZADD", k, "LT", "CH", 100, "c", 0.5, "d"),
            ("ZADD", k, "INCR", 2.5, "a"),
            ("ZADD", k, "NX", "INCR", 2.5, "a"),
            ("ZADD", k, "XX", "INCR", 1, "nope"),
            ("ZADD", k, "GT", "INCR", -1, "a"),
            ("ZADD", k, "NX", "XX", 1, "a"),
            ("ZADD", k, "GT", "LT", 1, "a"),
            ("ZADD", k, "NX", "GT", 1, "a"),
            ("ZADD", k, "INCR", 1, "a", 2, "b"),
            ("ZADD", k, 1, "a", 2),
            ("ZADD", k, "nan", "a"),
            ("ZADD", k, "abc", "a"),
            ("ZADD", k, "inf", "x", "-inf", "y", "+inf", "w"),
            ("ZINCRBY", k, "-inf", "x"),
            ("ZINCRBY", k, 1, "x"),
            ("ZADD", k, 0.1, "f", 1e-7, "g", 1.5e22, "h", 123456789012345678, "i", -0.0, "j"),
            ("ZRANGE", k, 0, -1, "WITHSCORES"),
            ("ZSCORE", k, "f"),
            ("ZSCORE", k, "missing"),
            ("ZSCORE", f"{p}:none", "a"),
            ("ZMSCORE", k, "a", "missing", "h"),
            ("ZMSCORE", f"{p}:none", "a", "b"),
            ("ZINCRBY", k, "1e308", "h"),
            ("ZINCRBY", k, "x", "h"),
            ("ZCARD", k),
            ("ZCARD", f"{p}:none"),
            ("ZREM", k, "a", "b", "nope"),
            ("ZREM", f"{p}:none", "a"),
            ("ZRANK", k, "c"),
            ("ZRANK", k, "c", "WITHSCORE"),
            ("ZREVRANK", k, "c", "withscore"),
            ("ZRANK", k, "nope", "WITHSCORE"),
            ("ZRANK", f"{p}:none", "nope", "WITHSCORE"),
            ("ZRANK", k, "nope"),
            ("ZRANK", k, "c", "WITHSCORES"),
            ("ZRANK", k, "c", "WITHSCORE", "x"),
            ("OBJECT", "ENCODING", k),
            ("TYPE", k),
        ]
    )


def test_wrongtype_and_empty(pair: Pair, p: str) -> None:
    s, z = f"{p}:s", f"{p}:z"
    pair.script(
        [
            ("SET", s, "v"),
            ("ZADD", s, 1, "a"),
            ("ZADD", s, "x", "a"),
            ("ZSCORE", s, "a"),
            ("ZRANGE", s, 0, -1),
            ("ZRANGE", s, "x", -1),
            ("ZUNION", 2, s, z),
            ("ZPOPMIN", s),
            ("ZMPOP", 2, z, s, "MIN"),
            ("GEOADD", s, 1, 2, "m"),
            ("GEOPOS", s, "m"),
            ("ZADD", z, 1, "a"),
            ("ZREM", z, "a"),
            ("EXISTS", z),
            ("ZADD", z, "XX", 1, "a"),
            ("EXISTS", z),
        ]
    )


def test_scan_type_and_memory_usage(pair: Pair, p: str) -> None:
    pair.script(
        [("ZADD", f"{p}:z1", 1, "a"), ("GEOADD", f"{p}:g", 1, 2, "m"), ("SET", f"{p}:s", 1)]
    )
    found = []
    for r in (pair.memvec, pair.peer):
        cursor, keys = b"0", []
        while True:
            cursor, batch = call(
                r, "SCAN", cursor, "MATCH", f"{p}:*", "TYPE", "zset", "COUNT", 1000
            )
            keys += batch
            if cursor == b"0":
                break
        found.append(sorted(keys))
    assert found[0] == found[1] == [f"{p}:g".encode(), f"{p}:z1".encode()]
    assert call(pair.memvec, "MEMORY", "USAGE", f"{p}:z1") > 0


def test_ranges(pair: Pair, p: str) -> None:
    k, lex, dst = f"{p}:z", f"{p}:lex", f"{p}:dst"
    pair.script(
        [
            ("ZADD", k, *[x for i in range(12) for x in (i % 5, f"m{i:02d}")]),
            ("ZADD", lex, *[x for c in "abcdefghij" for x in (0, c)]),
        ]
    )
    cases = [
        ("ZRANGE", k, 0, -1),
        ("ZRANGE", k, 2, 5, "WITHSCORES"),
        ("ZRANGE", k, -3, -1, "REV", "WITHSCORES"),
        ("ZRANGE", k, 5, 2),
        ("ZRANGE", k, 100, 200),
        ("ZRANGE", k, -100, 2),
        ("ZRANGE", k, 1, 3, "BYSCORE"),
        ("ZRANGE", k, "(1", "3", "BYSCORE", "WITHSCORES"),
        ("ZRANGE", k, "-inf", "+inf", "BYSCORE", "LIMIT", 2, 3),
        ("ZRANGE", k, "+inf", "-inf", "BYSCORE", "REV", "LIMIT", 1, 4, "WITHSCORES"),
        ("ZRANGE", k, "3", "(1", "BYSCORE", "REV"),
        ("ZRANGE", k, "1", "3", "BYSCORE", "LIMIT", -1, 3),
        ("ZRANGE", k, "1", "3", "BYSCORE", "LIMIT", 1, -1),
        ("ZRANGE", k, "1", "3", "BYSCORE", "LIMIT", 100, 1),
        ("ZRANGE", k, "(3", "(3", "BYSCORE"),
        ("ZRANGE", k, "3", "1", "BYSCORE"),
        ("ZRANGE", k, 0, 1, "LIMIT", 0, 1),
        ("ZRANGE", k, "x", 1, "BYSCORE"),
        ("ZRANGE", k, 0, 1, "BYSCORE", "BYLEX"),
        ("ZRANGE", k, 0, 1, "REV", "REV"),
        ("ZRANGE", k, 0, 1, "FOO"),
        ("ZRANGE", k, 0, "1.5"),
        ("ZRANGE", lex, "-", "+", "BYLEX"),
        ("ZRANGE", lex, "[c", "(f", "BYLEX"),
        ("ZRANGE", lex, "(f", "[c", "BYLEX", "REV"),
        ("ZRANGE", lex, "[c", "+", "BYLEX", "LIMIT", 1, 2),
        ("ZRANGE", lex, "+", "-", "BYLEX"),
        ("ZRANGE", lex, "c", "+", "BYLEX"),
        ("ZRANGE", lex, "-", "+", "BYLEX", "WITHSCORES"),
        ("ZRANGEBYSCORE", k, 1, 2, "WITHSCORES", "LIMIT", 0, 3),
        ("ZRANGEBYSCORE", k, 1, 2, "REV"),
        ("ZRANGEBYSCORE", k, 1, 2, "LIMIT", 0),
        ("ZREVRANGEBYSCORE", k, 3, "(1", "WITHSCORES"),
        ("ZREVRANGEBYSCORE", k, "+inf", "-inf", "LIMIT", 2, 2),
        ("ZRANGEBYLEX", lex, "[b", "[e"),
        ("ZRANGEBYLEX", lex, "[b", "[e", "WITHSCORES"),
        ("ZREVRANGEBYLEX", lex, "[e", "[b", "LIMIT", 1, 2),
        ("ZREVRANGE", k, 0, 3, "WITHSCORES"),
        ("ZREVRANGE", k, 0, 3, "BYSCORE"),
        ("ZCOUNT", k, "(1", 3),
        ("ZCOUNT", k, "-inf", "+inf"),
        ("ZCOUNT", k, "a", "+inf"),
        ("ZLEXCOUNT", lex, "[b", "(e"),
        ("ZLEXCOUNT", lex, "-", "+"),
        ("ZLEXCOUNT", lex, "b", "+"),
        ("ZRANGESTORE", dst, k, 1, 3, "BYSCORE", "LIMIT", 1, 4),
        ("ZRANGE", dst, 0, -1, "WITHSCORES"),
        ("ZRANGESTORE", dst, lex, "[a", "[c", "BYLEX", "REV"),
        ("ZRANGE", dst, 0, -1, "WITHSCORES"),
        ("ZRANGESTORE", dst, k, 0, 2, "WITHSCORES"),
        ("ZRANGESTORE", dst, k, 50, 60),
        ("EXISTS", dst),
        ("ZRANGESTORE", dst, f"{p}:none", 0, -1),
        ("ZREMRANGEBYRANK", k, 0, 1),
        ("ZREMRANGEBYRANK", k, -2, -1),
        ("ZREMRANGEBYRANK", k, 5, 2),
        ("ZREMRANGEBYSCORE", k, "(1", 2),
        ("ZREMRANGEBYSCORE", k, "x", 2),
        ("ZREMRANGEBYLEX", lex, "[b", "(d"),
        ("ZREMRANGEBYLEX", lex, "b", "(d"),
        ("ZRANGE", k, 0, -1, "WITHSCORES"),
        ("ZRANGE", lex, 0, -1),
        ("ZREMRANGEBYSCORE", k, "-inf", "+inf"),
        ("EXISTS", k),
    ]
    pair.script(cases)


def test_algebra(pair: Pair, p: str) -> None:
    a, b, c, d = (f"{p}:{x}" for x in "abcd")
    pair.script(
        [
            ("ZADD", a, 1, "x", 2, "y", 3, "z"),
            ("ZADD", b, 10, "y", 20, "z", 30, "w"),
            ("ZADD", c, "inf", "y", 5, "q"),
            ("ZUNION", 2, a, b),
            ("ZUNION", 2, a, b, "WITHSCORES"),
            ("ZUNION", 3, a, b, c, "WEIGHTS", 1, 2, -1, "WITHSCORES"),
            ("ZUNION", 2, a, c, "WEIGHTS", 0, 0, "WITHSCORES"),
            ("ZUNION", 3, a, b, c, "AGGREGATE", "MAX", "WITHSCORES"),
            ("ZUNION", 3, a, b, c, "AGGREGATE", "min", "WITHSCORES"),
            ("ZINTER", 2, a, b, "WITHSCORES"),
            ("ZINTER", 3, a, b, c, "WITHSCORES"),
            ("ZINTER", 2, b, c, "WEIGHTS", 1, -1, "WITHSCORES"),
            ("ZINTER", 2, a, a, "WITHSCORES"),
            ("ZDIFF", 2, a, b, "WITHSCORES"),
            ("ZDIFF", 1, b),
            ("ZDIFF", 2, a, b, "WEIGHTS", 1, 1),
            ("ZINTERCARD", 2, a, b),
            ("ZINTERCARD", 2, a, b, "LIMIT", 1),
            ("ZINTERCARD", 2, a, b, "LIMIT", -1),
            ("ZINTERCARD", 2, a, b, "WITHSCORES"),
            ("ZINTERCARD", 2, a, b, "LIMIT", "x"),
            ("ZUNION", 0, a),
            ("ZUNION", -1, a),
            ("ZUNION", 3, a, b),
            ("ZUNION", 2, a, b, "WEIGHTS", 1),
            ("ZUNION", 2, a, b, "WEIGHTS", 1, "x"),
            ("ZUNION", 2, a, b, "AGGREGATE", "avg"),
            ("ZUNION", 2, a, f"{p}:none", "WITHSCORES"),
            ("ZINTER", 2, a, f"{p}:none"),
            ("ZUNIONSTORE", d, 2, a, b, "WEIGHTS", 2, 3),
            ("ZRANGE", d, 0, -1, "WITHSCORES"),
            ("ZINTERSTORE", d, 2, a, b, "AGGREGATE", "MAX"),
            ("ZRANGE", d, 0, -1, "WITHSCORES"),
            ("ZDIFFSTORE", d, 2, b, a),
            ("ZRANGE", d, 0, -1, "WITHSCORES"),
            ("ZINTERSTORE", d, 2, a, f"{p}:none"),
            ("EXISTS", d),
            ("ZUNIONSTORE", d, 1, a, "WITHSCORES"),
            ("ZUNIONSTORE", d, 0, a),
            ("SADD", f"{p}:set", "x", "q", "new"),
            ("ZUNION", 2, a, f"{p}:set", "WEIGHTS", 2, 3, "WITHSCORES"),
            ("ZINTER", 2, f"{p}:set", a, "AGGREGATE", "MAX", "WITHSCORES"),
            ("ZDIFF", 2, f"{p}:set", a, "WITHSCORES"),
            ("ZINTERCARD", 2, f"{p}:set", c),
            ("ZUNIONSTORE", d, 1, f"{p}:set"),
            ("ZRANGE", d, 0, -1, "WITHSCORES"),
            ("LPUSH", f"{p}:list", "x"),
            ("ZUNION", 2, a, f"{p}:list"),
        ]
    )


def test_pops(pair: Pair, p: str) -> None:
    a, b = f"{p}:a", f"{p}:b"
    pair.script(
        [
            ("ZADD", a, 1, "x", 2, "y", 3, "z", 4, "w"),
            ("ZPOPMIN", a),
            ("ZPOPMAX", a, 2),
            ("ZPOPMIN", a, 0),
            ("ZPOPMIN", a, -1),
            ("ZPOPMIN", a, 1, 2),
            ("ZPOPMIN", f"{p}:none"),
            ("ZPOPMIN", f"{p}:none", 3),
            ("ZADD", b, 5, "m", 6, "n"),
            ("ZMPOP", 2, f"{p}:none", a, "MIN"),
            ("ZMPOP", 2, a, b, "max", "COUNT", 5),
            ("ZMPOP", 2, a, b, "MIN"),
            ("ZMPOP", 0, a, "MIN"),
            ("ZMPOP", 1, a, "MID"),
            ("ZMPOP", 1, a, "MIN", "COUNT", 0),
            ("ZMPOP", 1, a, "MIN", "COUNT", 1, "COUNT", 1),
            ("ZMPOP", 3, a, "MIN"),
            ("ZMPOP", "x", a, "MIN"),
            ("ZMPOP", 1, a, "MIN", "COUNT", "x"),
            ("ZPOPMIN", a, "x"),
            ("BZMPOP", 0, "x", a, "MIN"),
            ("BZMPOP", 0, 1, a, "MIN", "COUNT", "-1"),
            ("ZADD", a, 1, "x", 2, "y"),
            ("BZPOPMIN", a, b, 0),
            ("BZPOPMAX", b, a, "0.01"),
            ("BZPOPMIN", a, "x"),
            ("BZPOPMIN", a, -1),
            ("BZMPOP", 0.01, 1, a, "MIN"),
            ("BZMPOP", 0.01, 2, a, b, "MAX", "COUNT", 2),
            ("BZMPOP", "x", 0, a, "MAX"),
            ("BZPOPMIN", a, "0.01"),
            ("EXISTS", a),
        ]
    )


def test_scan_randmember_encoding(pair: Pair, p: str) -> None:
    k, big, long_member = f"{p}:z", f"{p}:big", f"{p}:long"
    pair.script(
        [
            ("ZADD", k, *[x for i in range(20) for x in (i * 0.5, f"m{i}")]),
            ("ZSCAN", k, 0),
            ("ZSCAN", k, 0, "MATCH", "m1*", "COUNT", 3),
            ("ZSCAN", k, "x"),
            ("ZSCAN", k, 0, "NOVALUES"),
            ("ZSCAN", f"{p}:none", 0),
            ("ZADD", big, *[x for i in range(129) for x in (i, f"m{i}")]),
            ("OBJECT", "ENCODING", big),
            ("ZREMRANGEBYRANK", big, 0, 120),
            ("OBJECT", "ENCODING", big),
            ("ZADD", long_member, 1, "x" * 65),
            ("OBJECT", "ENCODING", long_member),
            ("OBJECT", "ENCODING", k),
            ("ZRANDMEMBER", f"{p}:none"),
            ("ZRANDMEMBER", f"{p}:none", 3),
            ("ZRANDMEMBER", k, 0),
            ("ZRANDMEMBER", k, 100, "WITHSCORES"),
            ("ZRANDMEMBER", k, 1, "WITHSCORE"),
            ("ZRANDMEMBER", k, "x"),
            ("ZRANDMEMBER", k, 1, "WITHSCORES", "x"),
            ("ZRANDMEMBER", k, -9223372036854775807, "WITHSCORES"),
        ]
    )
    mine = call(pair.memvec, "ZRANDMEMBER", k, -30, "WITHSCORES")
    assert len(mine) == (30 if pair.memvec.get_connection_kwargs().get("protocol") == 3 else 60)
    got = call(pair.memvec, "ZRANDMEMBER", k, 7)
    assert len(set(got)) == 7 and set(got) <= {f"m{i}".encode() for i in range(20)}
    assert call(pair.memvec, "ZRANDMEMBER", k) in {f"m{i}".encode() for i in range(20)}
    # documented difference: a reply of more than 10M repeated members is refused
    assert call(pair.memvec, "ZRANDMEMBER", k, -10_000_001)[0] == "ERR"


def test_multi_exec(pair: Pair, p: str) -> None:
    k = f"{p}:z"
    for r in (pair.memvec, pair.peer):
        call(r, "MULTI")
        for cmd in [
            ("ZADD", k, 1, "a", 2, "b"),
            ("ZINCRBY", k, 5, "a"),
            ("BZPOPMIN", f"{p}:none", 0),
            ("BZMPOP", 0, 1, f"{p}:none", "MIN"),
            ("ZRANGE", k, 0, -1, "WITHSCORES"),
            ("ZPOPMAX", k),
        ]:
            assert call(r, *cmd) in (b"QUEUED", "QUEUED")
    assert call(pair.memvec, "EXEC") == call(pair.peer, "EXEC")


def test_watch_sees_only_real_changes(pair: Pair, p: str) -> None:
    """A ZADD that changes nothing (NX on a member, same score, XX on a missing key) does
    not abort a transaction WATCHing the key; one that changes it does."""
    k = f"{p}:z"
    pair.same("ZADD", k, 1, "a")
    for noop, aborts in [(("ZADD", k, "NX", 5, "a"), False), (("ZADD", k, 1, "a"), False),
                         (("ZREM", k, "nope"), False), (("ZADD", k, "GT", 0, "a"), False),
                         (("ZINCRBY", k, 0, "a"), False), (("ZADD", k, 2, "a"), True)]:  # fmt: skip
        results = []
        for r in (pair.memvec, pair.peer):
            kw = r.connection_pool.connection_kwargs
            watcher = redis.Redis(host=kw["host"], port=kw["port"], protocol=kw.get("protocol"))
            try:
                assert call(watcher, "WATCH", k) in (b"OK", "OK")
                call(r, *noop)
                call(watcher, "MULTI")
                call(watcher, "ZCARD", k)
                results.append(call(watcher, "EXEC"))
            finally:
                watcher.close()
        assert results[0] == results[1], (noop, results)
        assert (results[0] is None) == aborts, (noop, results)


_MEMBERS = [f"m{i}" for i in range(8)] + ["", "é", "m10"]
_SCORES = ["0", "1", "-1", "2.5", "(1", "inf", "-inf", "1e-3", "7"]


def _random_command(rng: random.Random, keys: list[str]) -> tuple[object, ...]:
    k = rng.choice(keys)
    m = rng.choice(_MEMBERS)
    s = rng.choice([x for x in _SCORES if not x.startswith("(")])
    lo, hi = rng.choice(_SCORES), rng.choice(_SCORES)
    kind = rng.randrange(22)
    if kind == 0:
        flags = rng.sample(["NX", "XX", "GT", "LT", "CH"], rng.randrange(3))
        pairs = [
            x
            for _ in range(rng.randrange(1, 4))
            for x in (rng.choice(_SCORES[:4]), rng.choice(_MEMBERS))
        ]
        return ("ZADD", k, *flags, *pairs)
    if kind == 1:
        return ("ZINCRBY", k, s, m)
    if kind == 2:
        return ("ZREM", k, m, rng.choice(_MEMBERS))
    if kind == 3:
        return (
            "ZRANGE",
            k,
            rng.randrange(-5, 5),
            rng.randrange(-5, 5),
            *rng.sample(["REV", "WITHSCORES"], rng.randrange(3)),
        )
    if kind == 4:
        extra = ["LIMIT", rng.randrange(-1, 3), rng.randrange(-1, 4)] if rng.random() < 0.5 else []
        return (
            "ZRANGE",
            k,
            lo,
            hi,
            "BYSCORE",
            *rng.sample(["REV", "WITHSCORES"], rng.randrange(3)),
            *extra,
        )
    if kind == 5:
        return ("ZCOUNT", k, lo, hi)
    if kind == 6:
        return ("ZRANK", k, m, *(["WITHSCORE"] if rng.random() < 0.5 else []))
    if kind == 7:
        return ("ZREVRANK", k, m)
    if kind == 8:
        return ("ZPOPMIN", k, *([rng.randrange(0, 4)] if rng.random() < 0.5 else []))
    if kind == 9:
        return ("ZPOPMAX", k, *([rng.randrange(0, 4)] if rng.random() < 0.5 else []))
    if kind == 10:
        op = rng.choice(["ZUNION", "ZINTER", "ZDIFF"])
        n = rng.randrange(1, 4)
        extra: list[object] = ["WITHSCORES"] if rng.random() < 0.5 else []
        if op != "ZDIFF" and rng.random() < 0.5:
            extra += ["AGGREGATE", rng.choice(["SUM", "MIN", "MAX"])]
        if op != "ZDIFF" and rng.random() < 0.3:
            extra += ["WEIGHTS", *[rng.choice(["1", "2", "-1", "0.5"]) for _ in range(n)]]
        return (op, n, *rng.sample(keys, n), *extra)
    if kind == 11:
        op = rng.choice(["ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"])
        n = rng.randrange(1, 3)
        return (op, rng.choice(keys), n, *rng.sample(keys, n))
    if kind == 12:
        return (
            "ZMPOP",
            2,
            *rng.sample(keys, 2),
            rng.choice(["MIN", "MAX"]),
            "COUNT",
            rng.randrange(1, 4),
        )
    if kind == 13:
        return ("ZREMRANGEBYSCORE", k, lo, hi)
    if kind == 14:
        return ("ZREMRANGEBYRANK", k, rng.randrange(-4, 4), rng.randrange(-4, 4))
    if kind == 15:
        return ("ZMSCORE", k, m, rng.choice(_MEMBERS))
    if kind == 16:
        return ("ZCARD", k)
    if kind == 17:
        return ("ZRANGESTORE", rng.choice(keys), k, rng.randrange(-3, 3), rng.randrange(-3, 5))
    if kind == 18:
        return ("ZINTERCARD", 2, *rng.sample(keys, 2))
    if kind == 19:
        return ("ZSCAN", k, 0)
    if kind == 20:
        return ("BZPOPMIN", k, rng.choice(keys), "0.01")
    return ("ZSCORE", k, m)


@pytest.mark.parametrize("seed", range(3))
def test_random_sequences(pair: Pair, p: str, seed: int) -> None:
    """Random command sequences over three keys; every reply compared with the peer's."""
    rng = random.Random(seed)
    keys = [f"{p}:{i}" for i in range(3)]
    for _ in range(150):
        pair.same(*_random_command(rng, keys))
    for k in keys:
        pair.same("ZRANGE", k, 0, -1, "WITHSCORES")


def test_command_info_matches_the_peer(pair: Pair) -> None:
    """Name, arity, flags, legacy key positions and ACL categories of every sorted-set and
    geo command (key specs: see docs/compatibility.md)."""
    names = sorted(n for n in COMMANDS if n.startswith(("Z", "BZ", "GEO")))
    assert len(names) == 45
    mine, theirs = pair.both("COMMAND", "INFO", *names)
    for name, a, b in zip(names, mine, theirs, strict=True):
        assert a[:7] == b[:7], name


@pytest.mark.parametrize("score", ["1e400", "-1e400", "1e-400", "inf", "-inf", "0e5", "1e308"])
def test_scores_out_of_double_range_like_the_peer(pair: Pair, p: str, score: str) -> None:
    """strtod's ERANGE (overflow to infinity, underflow to zero) is an error for Redis;
    an explicit inf is a score."""
    k = f"{p}:range"
    pair.same("ZADD", k, score, "m")
    pair.same("ZINCRBY", k, score, "n")
    pair.same("ZRANGEBYSCORE", k, score, "+inf")
    pair.same("ZCOUNT", k, "-inf", f"({score}")
