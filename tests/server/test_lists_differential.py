"""Lists against the peer: the same commands to `memvec server` and Redis, raw RESP2 and
RESP3 replies compared (scripted edge cases, random sequences, MULTI/EXEC, COMMAND INFO).
"""

from __future__ import annotations

import random
import uuid

import pytest
import redis

from store.server import ServerThread
from tests.server.test_differential import Pair, call

LIST_COMMANDS = [
    "lpush", "rpush", "lpushx", "rpushx", "lpop", "rpop", "llen", "lrange", "lindex", "lset",
    "linsert", "lrem", "ltrim", "lpos", "lmove", "rpoplpush", "lmpop", "blpop", "brpop",
    "blmove", "brpoplpush", "blmpop",
]  # fmt: skip


def test_list_commands_and_errors(pair: Pair, p: str) -> None:
    k, d, s = f"{p}:k", f"{p}:d", f"{p}:s"
    pair.script(
        [
            ("RPUSH", k, "a", "b", "c", "1", "2", "b"),
            ("LPUSH", k, "z", "y"),
            ("LPUSHX", f"{p}:none", "x"),
            ("RPUSHX", k, "tail"),
            ("LLEN", k),
            ("LRANGE", k, 0, -1),
            ("LRANGE", k, -3, 100),
            ("LRANGE", k, 5, 2),
            ("LRANGE", k, -100, -50),
            ("LRANGE", k, "x", 1),
            ("LINDEX", k, -1),
            ("LINDEX", k, 100),
            ("LINDEX", k, "nope"),
            ("LSET", k, 1, "Y"),
            ("LSET", k, 100, "Y"),
            ("LSET", f"{p}:none", 0, "Y"),
            ("LINSERT", k, "BEFORE", "b", "before-b"),
            ("LINSERT", k, "after", "tail", "end"),
            ("LINSERT", k, "AROUND", "b", "x"),
            ("LINSERT", k, "BEFORE", "missing", "x"),
            ("LINSERT", f"{p}:none", "BEFORE", "b", "x"),
            ("LPOS", k, "b"),
            ("LPOS", k, "b", "RANK", -1),
            ("LPOS", k, "b", "RANK", 2),
            ("LPOS", k, "b", "COUNT", 0),
            ("LPOS", k, "b", "COUNT", 1, "MAXLEN", 3),
            ("LPOS", k, "b", "RANK", 0),
            ("LPOS", k, "b", "COUNT", -1),
            ("LPOS", k, "b", "MAXLEN", -1),
            ("LPOS", k, "b", "BOGUS", 1),
            ("LPOS", k, "b", "COUNT", "x"),
            ("LPOS", k, "b", "RANK", "x"),
            ("LPOS", k, "b", "RANK", -(2**63)),
            ("LPOS", k, "b", "RANK"),
            ("LPOS", f"{p}:none", "b"),
            ("LPOS", f"{p}:none", "b", "COUNT", 2),
            ("LREM", k, 1, "b"),
            ("LREM", k, -5, "b"),
            ("LREM", k, 0, "nothing"),
            ("LRANGE", k, 0, -1),
            ("LTRIM", k, 1, -2),
            ("LRANGE", k, 0, -1),
            ("LPOP", k),
            ("RPOP", k, 2),
            ("LPOP", k, 0),
            ("LPOP", k, -1),
            ("LPOP", k, "x"),
            ("LPOP", s, 0),
            ("LPOP", f"{p}:none", 0),
            ("LPOP", f"{p}:none", 2),
            ("RPOP", f"{p}:none"),
            ("LPOP", k, 1, 2),
            ("LMOVE", k, d, "LEFT", "RIGHT"),
            ("LMOVE", k, d, "RIGHT", "LEFT"),
            ("LMOVE", k, k, "LEFT", "RIGHT"),
            ("LMOVE", k, d, "UP", "LEFT"),
            ("LMOVE", f"{p}:none", d, "LEFT", "LEFT"),
            ("RPOPLPUSH", k, d),
            ("LRANGE", d, 0, -1),
            ("SET", s, "str"),
            ("LPUSH", s, "x"),
            ("LRANGE", s, 0, 1),
            ("LMOVE", k, s, "LEFT", "LEFT"),
            ("LMOVE", f"{p}:none", s, "LEFT", "LEFT"),
            ("LMPOP", 2, f"{p}:none", d, "LEFT"),
            ("LMPOP", 2, f"{p}:none", d, "RIGHT", "COUNT", 10),
            ("LMPOP", 1, f"{p}:none", "LEFT"),
            ("LMPOP", 0, k, "LEFT"),
            ("LMPOP", "x", k, "LEFT"),
            ("LMPOP", 3, k, "LEFT"),
            ("LMPOP", 1, k, "LEFT", "COUNT", 0),
            ("LMPOP", 1, k, "LEFT", "COUNT", 1, "COUNT", 1),
            ("LMPOP", 1, k, "MIDDLE"),
            ("LMPOP", 1, s, "LEFT"),
            ("LLEN", s),
            ("EXISTS", k, d),
            ("TYPE", k),
            # the blocking commands answer at once when they can, or inside MULTI
            ("RPUSH", k, "p", "q", "r", "s", "t"),
            ("RPUSH", d, "d1", "d2", "d3"),
            ("BLPOP", f"{p}:none", k, 0),
            ("BRPOP", k, 0.5),
            ("BLMOVE", k, d, "LEFT", "LEFT", 0),
            ("BLMPOP", 0, 2, f"{p}:none", d, "LEFT", "COUNT", 2),
            ("BRPOPLPUSH", d, k, 0),
            ("BLPOP", k, -1),
            ("BLPOP", k, "abc"),
            ("BLPOP", s, 0),
            ("BLMPOP", "x", 1, k, "LEFT"),
            ("BLMOVE", k, d, "LEFT", "NOWHERE", 0),
            ("LPUSH", k),
        ]
    )


def test_encodings_follow_redis(pair: Pair, p: str) -> None:
    k, n = f"{p}:k", f"{p}:n"
    pair.same("RPUSH", k, *(["x" * 60] * 130))
    pair.same("OBJECT", "ENCODING", k)
    pair.same("RPUSH", k, "y" * 100)
    pair.same("OBJECT", "ENCODING", k)
    pair.same("LTRIM", k, 0, 10)
    pair.same("OBJECT", "ENCODING", k)
    pair.same("RPUSH", n, *range(200))
    pair.same("OBJECT", "ENCODING", n)
    pair.same("RPUSH", n, "z" * 9000)
    pair.same("OBJECT", "ENCODING", n)
    pair.same("RPOP", n)
    pair.same("OBJECT", "ENCODING", n)


def test_transactions(pair: Pair, p: str) -> None:
    k, d = f"{p}:k", f"{p}:d"
    for r in (pair.memvec, pair.peer):
        assert call(r, "MULTI") == b"OK"
        for args in [
            ("RPUSH", k, "a", "b"),
            ("BLPOP", f"{p}:none", 0),
            ("BLMOVE", f"{p}:none", d, "LEFT", "LEFT", 0),
            ("BLMPOP", 0, 1, f"{p}:none", "LEFT"),
            ("LMOVE", k, d, "LEFT", "LEFT"),
            ("LPOP", f"{p}:none", 3),
            ("LSET", k, 9, "x"),
            ("LRANGE", d, 0, -1),
        ]:
            call(r, *args)
    mine, theirs = call(pair.memvec, "EXEC"), call(pair.peer, "EXEC")
    assert mine == theirs


def _random_command(rng: random.Random, keys: list[str]) -> tuple[object, ...]:
    k = rng.choice(keys)
    o = rng.choice(keys)
    v = rng.choice(["a", "b", "c", "1", "22", "-3", "x" * rng.randint(0, 70)])
    i = rng.randint(-6, 6)
    j = rng.randint(-6, 6)
    side = rng.choice(["LEFT", "RIGHT"])
    choices: list[tuple[object, ...]] = [
        ("LPUSH", k, v, rng.choice(["a", "b", "9"])),
        ("RPUSH", k, v),
        ("LPUSHX", k, v),
        ("RPUSHX", k, v),
        ("LPOP", k),
        ("RPOP", k, rng.randint(0, 3)),
        ("LLEN", k),
        ("LRANGE", k, i, j),
        ("LINDEX", k, i),
        ("LSET", k, i, v),
        ("LINSERT", k, rng.choice(["BEFORE", "AFTER"]), v, "ins"),
        ("LREM", k, i, v),
        ("LTRIM", k, i, j),
        ("LPOS", k, v, "RANK", rng.choice([1, 2, -1, -2]), "COUNT", rng.randint(0, 2)),
        ("LMOVE", k, o, side, rng.choice(["LEFT", "RIGHT"])),
        ("RPOPLPUSH", k, o),
        ("LMPOP", 2, k, o, side, "COUNT", rng.randint(1, 3)),
        ("BLPOP", k, o, 0),
        ("BLMOVE", k, o, side, side, 0),
        ("SET", k, v) if rng.random() < 0.03 else ("DEL", k),
    ]
    return rng.choice(choices)


@pytest.mark.parametrize("seed", [1, 2])
def test_random_sequences(pair: Pair, p: str, seed: int) -> None:
    rng = random.Random(seed)
    keys = [f"{p}:{n}" for n in "abc"]
    for _ in range(250):
        args = _random_command(rng, keys)
        # a blocking call on an empty list would block the peer's client: only if served
        if args[0] in ("BLPOP", "BLMOVE") and not call(pair.peer, "LLEN", args[1]):
            continue
        pair.same(*args)
    for key in keys:
        pair.same("LRANGE", key, 0, -1)
        pair.same("TYPE", key)


def test_command_info_matches_peer(pair: Pair) -> None:
    for name in LIST_COMMANDS:
        mine, theirs = pair.both("COMMAND", "INFO", name)
        mine, theirs = mine[0], theirs[0]
        assert mine[:6] == theirs[:6] or (
            # flags are a RESP3 set: order differs
            mine[:2] == theirs[:2] and mine[3:6] == theirs[3:6] and set(mine[2]) == set(theirs[2])
        ), name
        assert set(mine[6]) == set(theirs[6]), name


def test_movable_keys_are_found(pair: Pair, memvec: ServerThread) -> None:
    for args in [
        ("LMPOP", 2, "a", "b", "LEFT"),
        ("BLMPOP", 0, 1, "a", "RIGHT", "COUNT", 2),
        ("SINTERCARD", 2, "a", "b", "LIMIT", 1),
        ("BLPOP", "a", "b", 0),
        ("LMOVE", "a", "b", "LEFT", "LEFT"),
    ]:
        pair.same("COMMAND", "GETKEYS", *args)
    # ACL key patterns reach the keys of LMPOP and SINTERCARD
    admin = pair.memvec
    user = f"u{uuid.uuid4().hex[:6]}"
    call(admin, "ACL", "SETUSER", user, "on", ">pw", "~mine:*", "+@all")
    try:
        with redis.Redis(host="127.0.0.1", port=memvec.port, protocol=2) as r:
            assert call(r, "AUTH", user, "pw") == b"OK"
            denied = call(r, "LMPOP", 2, "mine:a", "theirs:b", "LEFT")
            assert denied[0] == "ERR" and "No permissions to access a key" in denied[1]
            assert call(r, "LMPOP", 1, "mine:a", "LEFT") is None
            denied = call(r, "SINTERCARD", 2, "mine:a", "theirs:b")
            assert denied[0] == "ERR" and "No permissions" in denied[1]
    finally:
        call(admin, "ACL", "DELUSER", user)


def test_lookup_order_and_conversions(pair: Pair, p: str) -> None:
    k = f"{p}:k"
    pair.script(
        [
            ("RPUSH", f"{p}:one", "only"),
            ("EXPIRE", f"{p}:one", 1000),
            ("LMOVE", f"{p}:one", f"{p}:one", "LEFT", "RIGHT"),
            ("TTL", f"{p}:one"),
            ("LINDEX", f"{p}:none", "x"),
            ("LSET", f"{p}:none", "x", "v"),
            ("RPUSH", k, "a", "b"),
            ("LSET", k, "x", "v"),
            ("LINSERT", k, "BEFORE", "missing", "y" * 9000),
            ("OBJECT", "ENCODING", k),
            ("LSET", k, 5, "z" * 9000),
            ("OBJECT", "ENCODING", k),
        ]
    )


def _doc_group(reply: object) -> object:
    if isinstance(reply, dict):
        (doc,) = reply.values()
    else:
        assert isinstance(reply, list)
        doc = dict(zip(reply[1][0::2], reply[1][1::2], strict=True))
    return doc[b"group"]


def test_command_docs_group(pair: Pair) -> None:
    for name in ("lpush", "blmpop", "sadd", "sintercard"):
        mine, theirs = pair.both("COMMAND", "DOCS", name)
        assert _doc_group(mine) == _doc_group(theirs), name


def test_random_encoding_transitions(pair: Pair, p: str) -> None:
    """Big elements cross the 8 KB listpack limit both ways; OBJECT ENCODING compared."""
    rng = random.Random(7)
    k = f"{p}:big"
    for _ in range(120):
        size = rng.choice([10, 500, 1500, 3000])
        choice = rng.random()
        if choice < 0.45:
            pair.same("RPUSH", k, *["e" * size] * rng.randint(1, 3))
        elif choice < 0.7:
            pair.same("LPOP", k, rng.randint(1, 3))
        elif choice < 0.8:
            pair.same("LTRIM", k, rng.randint(0, 2), rng.randint(-3, -1))
        elif choice < 0.9:
            pair.same("LREM", k, 1, "e" * size)
        elif call(pair.peer, "EXISTS", k):
            pair.same("LSET", k, 0, "s" * size)
        pair.same("OBJECT", "ENCODING", k)
