"""HSCAN, SSCAN and ZSCAN page a large value (store/commands/element_scan.py).

Held here, on an embedded engine:
- SCAN's guarantee under random interleaved writes: every element present from a scan's
  first call to its last is returned, each call returns at most COUNT elements of a large
  value, and every scan ends;
- compact values (and small pages) still come in one reply with cursor 0;
- a cursor whose snapshot is gone answers everything with cursor 0;
- the snapshots stay within their bounds.
The server-level comparison with the peer is in tests/server/test_scan_and_hash_ttl.py.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from store import Engine, EngineConfig
from store.commands import element_scan
from store.commands.element_scan import ONE_REPLY_MAX, ElementScans

POOL = [f"e{i:04d}".encode() for i in range(900)]


def _write(e: Engine, kind: str, key: bytes, member: bytes, add: bool) -> None:
    if kind == "hash":
        e.execute(*(("HSET", key, member, b"v" + member) if add else ("HDEL", key, member)))
    elif kind == "set":
        e.execute(*(("SADD", key, member) if add else ("SREM", key, member)))
    else:
        e.execute(*(("ZADD", key, str(len(member)), member) if add else ("ZREM", key, member)))


def _members(e: Engine, kind: str, key: bytes) -> set[bytes]:
    if kind == "hash":
        return set(e.execute("HKEYS", key))
    if kind == "set":
        return set(e.execute("SMEMBERS", key))
    return set(e.execute("ZRANGE", key, "0", "-1"))


def _scan(e: Engine, kind: str, key: bytes, cursor: bytes, count: int) -> tuple[bytes, list[Any]]:
    command = {"hash": "HSCAN", "set": "SSCAN", "zset": "ZSCAN"}[kind]
    got, flat = e.execute(command, key, cursor, "COUNT", str(count))
    names = flat if kind == "set" else flat[0::2]
    if kind != "set":
        values = dict(zip(flat[0::2], flat[1::2], strict=True))
        for name, value in values.items():  # values are the current ones
            want = b"v" + name if kind == "hash" else str(len(name)).encode()
            assert value == want, (name, value)
    return got, names


@pytest.mark.parametrize("kind", ["hash", "set", "zset"])
def test_the_guarantee_holds_under_writes(kind: str) -> None:
    rng = random.Random(kind)
    with Engine(EngineConfig(data_dir=None)) as e:
        key = b"big"
        for round_ in range(12):
            for member in rng.sample(POOL, 700):  # well past ONE_REPLY_MAX
                _write(e, kind, key, member, True)
            count = rng.choice([3, 7, 10, 50])
            start = _members(e, kind, key)
            steady = set(start)
            seen: list[bytes] = []
            cursor, calls = b"0", 0
            while True:
                cursor, names = _scan(e, kind, key, cursor, count)
                calls += 1
                assert len(names) <= count, (round_, count, len(names))
                seen += names
                for _ in range(rng.randrange(0, 6)):
                    member = rng.choice(POOL)
                    add = rng.random() < 0.5
                    _write(e, kind, key, member, add)
                    if not add:
                        steady.discard(member)
                if cursor == b"0":
                    break
                assert calls <= len(start) // count + 2, "the scan does not end"
            assert steady <= set(seen), (round_, sorted(steady - set(seen))[:5])
            assert len(seen) == len(set(seen))  # from one snapshot: no duplicates
            assert calls >= len(start) // count  # paged, not one reply
        assert len(element_scan.ELEMENT_SCANS) <= element_scan.SNAPSHOTS_KEPT


def test_values_of_up_to_one_reply_max_come_in_one_reply() -> None:
    n = ONE_REPLY_MAX
    with Engine(EngineConfig(data_dir=None)) as e:
        e.execute("HSET", "h", *[x for i in range(n) for x in (f"f{i}", "v")])
        e.execute("SADD", "s", *[f"m{i}" for i in range(n)])
        e.execute("ZADD", "z", *[x for i in range(n) for x in (str(i), f"m{i}")])
        for command, key, width in (("HSCAN", "h", 2), ("SSCAN", "s", 1), ("ZSCAN", "z", 2)):
            cursor, flat = e.execute(command, key, "0", "COUNT", "5")
            assert cursor == b"0" and len(flat) == n * width
        e.execute("HSET", "h", "one-more", "v")
        e.execute("SADD", "s", "one-more")
        e.execute("ZADD", "z", "1", "one-more")
        for command, key, width in (("HSCAN", "h", 2), ("SSCAN", "s", 1), ("ZSCAN", "z", 2)):
            cursor, flat = e.execute(command, key, "0", "COUNT", "5")
            assert cursor != b"0" and len(flat) == 5 * width


def test_an_unknown_cursor_answers_everything() -> None:
    with Engine(EngineConfig(data_dir=None)) as e:
        e.execute("HSET", "h", *[x for i in range(600) for x in (f"f{i}", "v")])
        cursor, flat = e.execute("HSCAN", "h", str((12345 << 32) | 7), "NOVALUES")
        assert cursor == b"0" and len(flat) == 600
        first, page = e.execute("HSCAN", "h", "0", "NOVALUES")
        assert len(page) == 10
        e.execute("HSET", "other", *[x for i in range(600) for x in (f"f{i}", "v")])
        cursor, flat = e.execute("HSCAN", "other", first, "NOVALUES")  # another key's cursor
        assert cursor == b"0" and len(flat) == 600


def test_snapshots_are_bounded() -> None:
    names = [b"a", b"b", b"c", b"d"]
    scans = ElementScans(kept=2, names_kept=1000, one_reply_max=0)
    first, _ = scans.page(b"k1", 0, 1, lambda: list(names))
    scans.page(b"k2", 0, 1, lambda: list(names))
    scans.page(b"k3", 0, 1, lambda: list(names))
    assert len(scans) == 2  # by count: k1 dropped
    assert scans.page(b"k1", first, 1, lambda: [b"all"]) == (0, [b"all"])

    scans = ElementScans(kept=10, names_kept=1000, one_reply_max=0)
    first, _ = scans.page(b"k1", 0, 1, lambda: list(names))
    second, _ = scans.page(b"k2", 0, 1, lambda: list(names))
    big = [str(i).encode() for i in range(995)]
    cursor, _ = scans.page(b"k3", 0, 10, lambda: list(big))
    assert len(scans) == 2  # by names: 1,003 > 1,000, the least recently used dropped
    assert scans.page(b"k1", first, 1, lambda: [b"all"]) == (0, [b"all"])
    assert scans.page(b"k2", second, 1, lambda: [b"all"]) == (second + 1, [b"b"])
    following, page = scans.page(b"k3", cursor, 10, lambda: [])
    assert page == big[10:20] and following == cursor + 10
