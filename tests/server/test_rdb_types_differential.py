"""DUMP/RESTORE of every type against the peer: lists, sets, sorted sets, hashes with
field TTLs and JSON documents, built from seeded random values on both servers.

* payloads are byte-identical where the peer's layout follows from the contents (see
  store/rdb/aggregates.py: not a hashtable set's or a TTL hash's hash order);
* each server restores the other's payloads to the same contents;
* a corrupted payload (a flipped byte, a truncation, with the checksum made to match)
  gets an error or a well-formed value, never a half-restored key, and the server keeps
  serving.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator

import pytest
import redis

from store.rdb.crc64 import crc64
from store.server import ServerThread
from tests.harness.components import RedisStack
from tests.server.test_differential import Pair, call, connected_pair

SEED = 1804
FAR_FUTURE_MS = 4_000_000_000_000


@pytest.fixture(scope="module")
def pair(memvec: ServerThread, redis_stack: RedisStack) -> Iterator[Pair]:
    with connected_pair(memvec.port, redis_stack, protocol=2) as pair:
        yield pair


@pytest.fixture(scope="module")
def p(pair: Pair) -> Iterator[str]:
    prefix = f"rt{uuid.uuid4().hex[:8]}"
    yield prefix
    for r in (pair.memvec, pair.peer):
        keys = call(r, "KEYS", f"{prefix}*")
        if keys:
            call(r, "DEL", *keys)


def _element(rng: random.Random) -> str:
    kind = rng.randrange(5)
    if kind == 0:
        return str(rng.randrange(-200, 200))
    if kind == 1:
        return str(rng.randrange(-(2**63), 2**63))
    if kind == 2:
        return rng.choice(["", "a", "hello", "x" * rng.randrange(60, 70)])
    if kind == 3:
        return "e" + str(rng.randrange(10**6))
    return "".join(rng.choice("abc ") for _ in range(rng.randrange(1, 40)))


def _json(rng: random.Random, depth: int = 0) -> object:
    kind = rng.randrange(8 if depth < 3 else 5)
    if kind == 0:
        return rng.randrange(-(10**12), 10**12)
    if kind == 1:
        return rng.choice([0.5, -2.25, 1e30, 3.0, 1.5e-7, 123.125])
    if kind == 2:
        return rng.choice(["", "text", 'é\n"q"', "x" * 40])
    if kind == 3:
        return rng.choice([True, False, None])
    if kind == 4:
        return {}
    if kind == 5:
        return [_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {f"k{n}": _json(rng, depth + 1) for n in range(rng.randrange(4))}


def _values(p: str) -> dict[str, list[tuple[object, ...]]]:
    """key -> the commands building it (the same on both servers)."""
    rng = random.Random(SEED)
    out: dict[str, list[tuple[object, ...]]] = {}
    for n in range(12):
        size = rng.choice([1, 3, 20, 150, 400])
        out[f"{p}:list{n}"] = [("RPUSH", f"{p}:list{n}", *[_element(rng) for _ in range(size)])]
        ints = [str(rng.randrange(-(2 ** rng.choice([8, 20, 40, 62])), 2**15)) for _ in range(size)]
        out[f"{p}:iset{n}"] = [("SADD", f"{p}:iset{n}", *ints)]
        if size <= 128:
            members = [_element(rng) for _ in range(size)]
            out[f"{p}:lset{n}"] = [("SADD", f"{p}:lset{n}", *members)]
        pairs = [x for _ in range(size) for x in (rng.randrange(-800, 800) / 8, _element(rng))]
        out[f"{p}:zset{n}"] = [("ZADD", f"{p}:zset{n}", *pairs)]
        out[f"{p}:json{n}"] = [("JSON.SET", f"{p}:json{n}", "$", json.dumps(_json(rng)))]
        stream = f"{p}:stream{n}"
        names = [f"f{k}" for k in range(rng.randrange(1, 4))]
        adds: list[tuple[object, ...]] = []
        for k in range(size):
            fields = names if rng.random() < 0.7 else [_element(rng) or "x"]
            sid = f"{1 + k // 3}-{k % 3}" if n % 2 else f"{10**12 + k * 997}-{k}"
            adds.append(("XADD", stream, sid, *[x for f in fields for x in (f, _element(rng))]))
        out[stream] = [*adds, ("XGROUP", "CREATE", stream, f"g{n}", "0", "ENTRIESREAD", 0)]
    out[f"{p}:httl"] = [
        ("HSET", f"{p}:httl", "f", "v" * 30),
        ("HPEXPIREAT", f"{p}:httl", FAR_FUTURE_MS, "FIELDS", 1, "f"),
    ]
    return out


def _hash_ordered(pair: Pair, key: str) -> bool:
    """Whether the peer writes ``key``'s elements in its hash table's order (a hashtable
    set or hash of more than one element): such payloads are compared by restoring."""
    if call(pair.peer, "OBJECT", "ENCODING", key) not in ("hashtable", b"hashtable"):
        return False
    kind = call(pair.peer, "TYPE", key)
    size = call(pair.peer, "SCARD" if kind in ("set", b"set") else "HLEN", key)
    return isinstance(size, int) and size > 1


@pytest.fixture(scope="module")
def built(pair: Pair, p: str) -> dict[str, list[tuple[object, ...]]]:
    values = _values(p)
    for commands in values.values():
        for c in commands:
            assert not isinstance(pair.same(*c), tuple)
    st = f"{p}:stream-pel"
    extra: list[tuple[object, ...]] = [
        *[("XADD", st, f"5-{k}", "a", str(k)) for k in range(8)],
        ("XDEL", st, "5-3"),
        ("XGROUP", "CREATE", st, "g", "0"),
        ("XGROUP", "CREATE", st, "h", "$"),
        ("XREADGROUP", "GROUP", "g", "c1", "COUNT", 3, "STREAMS", st, ">"),
        ("XREADGROUP", "GROUP", "g", "c2", "STREAMS", st, ">"),
        ("XACK", st, "g", "5-5"),
        ("XGROUP", "CREATECONSUMER", st, "h", "idle"),
        ("RPUSH", f"{p}:quicklist", *[f"{n:020d}x" for n in range(1200)]),  # 4 nodes
        ("SADD", f"{p}:hset", *[f"m{n}" for n in range(200)]),
        ("HSET", f"{p}:httl2", "a", "1", "b", "2", "c", "3"),
        ("HPEXPIREAT", f"{p}:httl2", FAR_FUTURE_MS, "FIELDS", 2, "a", "c"),
    ]
    pair.script(extra)
    values[f"{p}:hset"] = []
    values[st] = []
    values[f"{p}:quicklist"] = []
    values[f"{p}:httl2"] = []
    return values


def _contents(r: redis.Redis, key: str) -> list[object]:
    """What a client reads of ``key``: type, encoding (not a hash's) and every element."""
    kind = call(r, "TYPE", key)
    name = kind.decode() if isinstance(kind, bytes) else str(kind)
    reads: dict[str, list[tuple[object, ...]]] = {
        "list": [("LRANGE", key, 0, -1)],
        "set": [("SMEMBERS", key)],
        "zset": [("ZRANGE", key, 0, -1, "WITHSCORES")],
        "hash": [("HGETALL", key), ("HPEXPIRETIME", key, "FIELDS", 3, "a", "c", "f")],
        "ReJSON-RL": [("JSON.GET", key)],
        "stream": [("XINFO", "STREAM", key, "FULL")],
    }
    out: list[object] = [name]
    if name != "hash":  # a TTL hash's encoding differs: docs/compatibility.md (hashes)
        out.append(call(r, "OBJECT", "ENCODING", key))
    for c in reads[name]:
        reply = call(r, *c)
        if c[0] in ("SMEMBERS", "HGETALL"):  # hash order (see _hash_ordered)
            reply = repr(sorted(reply.items()) if isinstance(reply, dict) else sorted(reply))
        elif c[0] == "XINFO":  # radix-tree-nodes: the peer's tree internals
            info = dict(zip(reply[0::2], reply[1::2], strict=True))
            del info[b"radix-tree-nodes"]
            reply = repr(info)
        out.append(reply)
    return out


def test_dump_bytes_are_the_peers(pair: Pair, built: dict[str, list[tuple[object, ...]]]) -> None:
    for key in built:
        # stream-pel: an XDEL'd entry (memvec writes no tombstones) and delivery times
        if _hash_ordered(pair, key) or key.endswith("stream-pel"):
            continue
        mine, theirs = call(pair.memvec, "DUMP", key), call(pair.peer, "DUMP", key)
        assert mine == theirs, key


def test_payloads_cross_over(pair: Pair, built: dict[str, list[tuple[object, ...]]]) -> None:
    for key in built:
        for src, dst in ((pair.peer, pair.memvec), (pair.memvec, pair.peer)):
            payload = call(src, "DUMP", key)
            assert call(dst, "RESTORE", f"{key}:r", 0, payload, "REPLACE") == b"OK", key
            assert _contents(dst, f"{key}:r") == _contents(src, key), key
            # the value restored from the other server dumps as that server's payload
            if not _hash_ordered(pair, key) and not key.endswith("stream-pel"):
                assert call(dst, "DUMP", f"{key}:r") == payload, key


def _resign(body: bytes) -> bytes:
    return body + crc64(body).to_bytes(8, "little")


def test_corrupted_payloads(pair: Pair, p: str, built: dict[str, list[tuple[object, ...]]]) -> None:
    rng = random.Random(SEED)
    target = f"{p}:corrupt"
    for key in [k for k in built if not k.endswith(("0", "1", "2"))][:30]:
        payload = call(pair.peer, "DUMP", key)
        assert isinstance(payload, bytes)
        bad = [payload[:-1] + bytes([payload[-1] ^ 1]), payload[: len(payload) // 2]]
        body = payload[:-8]
        for _ in range(6):
            at = rng.randrange(len(body) - 2)
            bad.append(
                _resign(body[:at] + bytes([body[at] ^ (1 << rng.randrange(8))]) + body[at + 1 :])
            )
        bad.append(_resign(body[: rng.randrange(1, len(body) - 2)] + body[-2:]))
        for data in bad:
            reply = call(pair.memvec, "RESTORE", target, 0, data, "REPLACE")
            if reply == b"OK":
                # accepted: a well-formed value that dumps and restores again
                again = call(pair.memvec, "DUMP", target)
                assert call(pair.memvec, "RESTORE", target, 0, again, "REPLACE") == b"OK"
            else:
                assert reply in (
                    ("ERR", "Bad data format"),
                    ("ERR", "DUMP payload version or checksum are wrong"),
                ), (key, reply)
                assert call(pair.memvec, "EXISTS", target) == 0
            call(pair.memvec, "DEL", target)
        # the peer refuses what fails its checksum, as memvec does
        assert pair.same("RESTORE", target, 0, bad[0]) == (
            "ERR",
            "DUMP payload version or checksum are wrong",
        )
    assert call(pair.memvec, "PING") in ("PONG", b"PONG")


def _ziplist(elements: list[bytes | int]) -> bytes:
    """A Redis < 7 ziplist (store/rdb/ziplist.py's layout): strings < 64 bytes, int16s."""
    body, prev = b"", 0
    for e in elements:
        if isinstance(e, int):
            entry = b"\xc0" + e.to_bytes(2, "little", signed=True)
        else:
            entry = bytes([len(e)]) + e
        entry = bytes([prev]) + entry
        body, prev = body + entry, len(entry)
    total = 10 + len(body) + 1
    tail = total - 1 - prev
    return (
        total.to_bytes(4, "little")
        + tail.to_bytes(4, "little")
        + len(elements).to_bytes(2, "little")
        + body
        + b"\xff"
    )


def test_payloads_of_redis_6_restore_as_on_the_peer(pair: Pair, p: str) -> None:
    """Ziplist lists (10), quicklist 1 (14), ziplist sorted sets (12) and hashes (13), in an
    RDB version 9 payload: restored by both servers to the same contents."""
    from store.rdb.primitives import string_bytes

    zl = _ziplist([b"a", 300, b"hello", -2])
    bodies = {
        "zl-list": b"\x0a" + string_bytes(zl),
        "ql-list": b"\x0e\x02" + string_bytes(zl) + string_bytes(_ziplist([b"z"])),
        "zl-zset": b"\x0c" + string_bytes(_ziplist([b"n", -7, b"m", b"1.5"])),
        "zl-hash": b"\x0d" + string_bytes(_ziplist([b"f", b"v", b"g", 12])),
        "zl-bad": b"\x0a" + string_bytes(zl[:-1] + b"\x00"),
    }
    for name, body in bodies.items():
        payload = _resign(body + (9).to_bytes(2, "little"))
        key = f"{p}:{name}"
        reply = pair.same("RESTORE", key, 0, payload)
        if name == "zl-bad":
            assert reply == ("ERR", "Bad data format")
            continue
        assert _contents(pair.memvec, key) == _contents(pair.peer, key), name


def test_a_trimmed_quicklist_restores_as_a_quicklist(pair: Pair, p: str) -> None:
    """Two small nodes left by LTRIM: the payload restores as a quicklist on both servers
    (Redis converts a loaded quicklist of one node only)."""
    src = f"{p}:trimmed"
    call(pair.peer, "RPUSH", src, *[f"{n:020d}x" for n in range(1200)])
    call(pair.peer, "LTRIM", src, 300, 400)
    payload = call(pair.peer, "DUMP", src)
    assert payload[:2] == b"\x12\x02"  # two nodes
    pair.same("RESTORE", f"{p}:trimmed-r", 0, payload)
    assert _contents(pair.memvec, f"{p}:trimmed-r") == _contents(pair.peer, f"{p}:trimmed-r")
