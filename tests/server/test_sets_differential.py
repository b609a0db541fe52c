"""Sets against the peer: the same commands to `memvec server` and Redis, raw RESP2 and
RESP3 replies compared. Orders are compared exactly where Redis's order is deterministic
(intset and listpack sets, unions of intsets, RESP2 arrays) and as sorted lists where it
is a hash order (hashtable sets; RESP3 sets, which redis-py parses unordered).
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from tests.server.test_differential import Pair, call

SET_COMMANDS = [
    "sadd", "srem", "smembers", "sismember", "smismember", "scard", "spop", "srandmember",
    "smove", "sinter", "sintercard", "sinterstore", "sunion", "sunionstore", "sdiff",
    "sdiffstore", "sscan",
]  # fmt: skip
UNORDERED = {"SMEMBERS", "SINTER", "SUNION", "SDIFF", "SPOP", "SSCAN", "SRANDMEMBER"}


def _sorted(reply: Any) -> Any:
    if isinstance(reply, (set, list)) and all(isinstance(x, bytes) for x in reply):
        return sorted(reply)
    if isinstance(reply, list) and len(reply) == 2 and isinstance(reply[1], list):  # SSCAN
        return [reply[0], sorted(reply[1])]
    return reply


def _scanned(client: Any, args: tuple[object, ...]) -> Any:
    """Every member an SSCAN iteration from cursor 0 returns, sorted (``args`` is an
    ``SSCAN key 0 ...`` command), or the error reply of its first call."""
    found: list[bytes] = []
    cursor: object = 0
    for _ in range(10_000):
        reply = call(client, args[0], args[1], cursor, *args[3:])
        if not isinstance(reply, list):
            return reply  # an error (WRONGTYPE): compared as it is
        cursor, page = reply
        found += page
        if cursor in (b"0", 0):
            return sorted(found)
    raise AssertionError(f"{args}: the iteration did not end")


def same_unordered(pair: Pair, *args: object) -> Any:
    mine, theirs = pair.both(*args)
    assert _sorted(mine) == _sorted(theirs), f"{args}: memvec {mine!r} != peer {theirs!r}"
    return mine


def test_set_commands_and_errors(pair: Pair, p: str) -> None:
    i, s, h, x, d, st = (f"{p}:{n}" for n in ("i", "s", "h", "x", "d", "str"))
    pair.script(
        [
            ("SADD", i, 5, 3, 10, -2, 3),
            ("SMEMBERS", i),  # intset: ascending
            ("OBJECT", "ENCODING", i),
            ("SADD", s, "b", "a", 7, "c"),
            ("SREM", s, "a", "zz"),
            ("SMEMBERS", s),  # listpack: insertion order
            ("OBJECT", "ENCODING", s),
            ("SADD", i, "word"),
            ("SMEMBERS", i),  # intset -> listpack keeps the sorted integers first
            ("OBJECT", "ENCODING", i),
            ("SADD", h, *[f"m{n}" for n in range(130)]),
            ("OBJECT", "ENCODING", h),
            ("SADD", x, "y" * 65),
            ("OBJECT", "ENCODING", x),
            ("SCARD", h),
            ("SCARD", f"{p}:none"),
            ("SISMEMBER", s, "b"),
            ("SISMEMBER", s, "nope"),
            ("SMISMEMBER", s, "b", "nope", "c"),
            ("SMISMEMBER", f"{p}:none", "b"),
            ("SMOVE", s, d, "b"),
            ("SMOVE", s, d, "nope"),
            ("SMOVE", f"{p}:none", d, "b"),
            ("SMOVE", s, s, "c"),
            ("OBJECT", "ENCODING", d),
            ("SET", st, "v"),
            ("SADD", st, "a"),
            ("SMEMBERS", st),
            ("SMOVE", s, st, "c"),
            ("SMOVE", st, s, "c"),
            ("SINTER", i, f"{p}:none", st),
            ("SINTER", st, i),
            ("SUNION", f"{p}:none", st),
            ("SDIFF", i, st),
            ("SINTERCARD", 0, i),
            ("SINTERCARD", 3, i),
            ("SINTERCARD", "x", i),
            ("SINTERCARD", 1, i, "LIMIT", -1),
            ("SINTERCARD", 1, i, "LIMIT", 2),
            ("SINTERCARD", 1, i, "LIMIT"),
            ("SINTERCARD", 2, i, s),
            ("SPOP", f"{p}:none"),
            ("SPOP", s, -1),
            ("SPOP", s, "x"),
            ("SPOP", st, 0),
            ("SRANDMEMBER", st, 0),
            ("SPOP", s, 1, 2),
            ("SRANDMEMBER", f"{p}:none"),
            ("SRANDMEMBER", f"{p}:none", 5),
            ("SRANDMEMBER", s, 0),
            ("SRANDMEMBER", s, "x"),
            ("SRANDMEMBER", s, 1, 2),
            ("SSCAN", i, 0),
            ("SSCAN", i, 0, "MATCH", "1*", "COUNT", 100),
            ("SSCAN", i, "x"),
            ("SSCAN", i, 0, "TYPE", "set"),
            ("SSCAN", i, 0, "NOVALUES"),
            ("SSCAN", f"{p}:none", 0),
            ("SADD", i),
            ("TYPE", i),
        ]
    )
    # SCAN's order is each server's hash order of the key names: compared as sets
    same_unordered(pair, "SCAN", 0, "MATCH", f"{p}:*", "TYPE", "set", "COUNT", 1000)
    # integer sets: every algebra answer is in ascending order, in RESP2 exactly
    pair.script(
        [
            ("SADD", f"{p}:n1", 9, 1, 5, 3),
            ("SADD", f"{p}:n2", 3, 9, 100),
            ("SINTER", f"{p}:n1", f"{p}:n2"),
            ("SUNION", f"{p}:n1", f"{p}:n2"),
            ("SDIFF", f"{p}:n1", f"{p}:n2"),
            ("SINTERSTORE", f"{p}:o", f"{p}:n1", f"{p}:n2"),
            ("SMEMBERS", f"{p}:o"),
            ("SUNIONSTORE", f"{p}:o", f"{p}:n1", s),
            ("SMEMBERS", f"{p}:o"),
            ("OBJECT", "ENCODING", f"{p}:o"),
            ("SDIFFSTORE", f"{p}:o", f"{p}:n1", f"{p}:n1"),
            ("EXISTS", f"{p}:o"),
            ("SDIFFSTORE", st, f"{p}:n1", f"{p}:none"),
            ("TYPE", st),
            ("SPOP", f"{p}:n2", 5),  # the whole set: no randomness
            ("EXISTS", f"{p}:n2"),
            ("SRANDMEMBER", f"{p}:n1", 10),
        ]
    )
    for args in [("SMEMBERS", h), ("SUNION", h, s), ("SDIFF", h, s), ("SINTER", h, h)]:
        same_unordered(pair, *args)
    pop_mine, pop_peer = pair.both("SPOP", h, 3)
    assert len(pop_mine) == len(pop_peer) == 3
    pair.same("SCARD", h)
    for r in (pair.memvec, pair.peer):
        assert len(call(r, "SRANDMEMBER", h, -200)) == 200


def test_transactions(pair: Pair, p: str) -> None:
    a, b = f"{p}:a", f"{p}:b"
    for r in (pair.memvec, pair.peer):
        assert call(r, "MULTI") == b"OK"
        for args in [
            ("SADD", a, 1, 2, 3),
            ("SADD", b, 2, 3, 4),
            ("SINTERSTORE", f"{p}:c", a, b),
            ("SPOP", a, 10),
            ("SMOVE", b, a, 4),
            ("SMEMBERS", a),
            ("SCARD", f"{p}:c"),
            ("LPUSH", a, "x"),
        ]:
            call(r, *args)
    mine, theirs = call(pair.memvec, "EXEC"), call(pair.peer, "EXEC")
    assert [_sorted(x) for x in mine] == [_sorted(x) for x in theirs]


def _random_command(rng: random.Random, keys: list[str]) -> tuple[object, ...]:
    k, o, q = rng.choice(keys), rng.choice(keys), rng.choice(keys)
    members = [str(rng.randint(-5, 40)) if rng.random() < 0.7 else rng.choice("abcdef")
               for _ in range(rng.randint(1, 6))]  # fmt: skip
    if rng.random() < 0.05:
        members.append("w" * rng.randint(60, 70))
    choices: list[tuple[object, ...]] = [
        ("SADD", k, *members),
        ("SADD", k, *members),
        ("SREM", k, *members[:2]),
        ("SMEMBERS", k),
        ("SISMEMBER", k, members[0]),
        ("SMISMEMBER", k, *members),
        ("SCARD", k),
        ("SMOVE", k, o, members[0]),
        ("SINTER", k, o),
        ("SINTERCARD", 2, k, o, "LIMIT", rng.randint(0, 3)),
        ("SINTERSTORE", q, k, o),
        ("SUNION", k, o),
        ("SUNIONSTORE", q, k, o),
        ("SDIFF", k, o, q),
        ("SDIFFSTORE", q, k, o),
        ("SPOP", k, 1000),
        ("SSCAN", k, 0, "MATCH", rng.choice(["*", "1*", "[a-c]"])),
        ("OBJECT", "ENCODING", k),
        ("DEL", k) if rng.random() < 0.3 else ("SET", k, "s"),
    ]
    return rng.choice(choices)


@pytest.mark.parametrize("seed", [1, 2])
def test_random_sequences(pair: Pair, p: str, seed: int) -> None:
    rng = random.Random(seed)
    keys = [f"{p}:{n}" for n in "abcd"]
    for _ in range(300):
        args = _random_command(rng, keys)
        if args[0] in UNORDERED:
            enc = call(pair.peer, "OBJECT", "ENCODING", args[1])
            if args[0] in ("SMEMBERS", "SSCAN") and enc in (b"intset", b"listpack"):
                pair.same(*args)  # Redis's order is deterministic here
            elif args[0] == "SSCAN":
                # a hashtable's page ends where its buckets do: the peer does not shrink a
                # table while it has a child process (an AOF rewrite, a BGSAVE), so one
                # page's cursor and members depend on timing; a whole iteration does not
                mine, theirs = _scanned(pair.memvec, args), _scanned(pair.peer, args)
                assert mine == theirs, f"{args}: memvec {mine!r} != peer {theirs!r}"
            else:
                same_unordered(pair, *args)
        else:
            pair.same(*args)
    for key in keys:
        pair.same("TYPE", key)
        if call(pair.peer, "TYPE", key) == b"set":
            same_unordered(pair, "SMEMBERS", key)


def test_command_info_matches_peer(pair: Pair) -> None:
    for name in SET_COMMANDS:
        mine, theirs = pair.both("COMMAND", "INFO", name)
        mine, theirs = mine[0], theirs[0]
        assert mine[:2] == theirs[:2] and mine[3:6] == theirs[3:6], name
        assert set(mine[2]) == set(theirs[2]), name
        assert set(mine[6]) == set(theirs[6]), name
