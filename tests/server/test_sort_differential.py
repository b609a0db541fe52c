"""SORT and SORT_RO against the peer: the same commands to `memvec server` and Redis, raw
RESP2 and RESP3 replies compared (lists, intset/listpack sets, sorted sets; BY with `*`,
`->field` and `nosort`; GET; LIMIT; ALPHA; DESC; STORE; the errors). Hashtable sets are
left out of `BY nosort` without STORE: their order is a hash order (docs/compatibility.md).
"""

from __future__ import annotations

from pathlib import Path

import redis

from store.server import ServerConfig, ServerThread
from tests.server.test_differential import Pair


def test_sort_options(pair: Pair, p: str) -> None:
    lst, iset, lset, z = (f"{p}:{n}" for n in ("l", "i", "s", "z"))
    pair.script(
        [
            ("RPUSH", lst, 3, 1, 2, "10", "-5", "2.5", "1e3"),
            ("SADD", iset, 9, -1, 4, 0),
            ("SADD", lset, "pear", "apple", "fig", "Banana"),
            ("ZADD", z, 3, "c", 1, "a", 2, "b", 0, "d"),
            *[("MSET", f"{p}:w_{v}", w) for v, w in (("3", 1), ("1", 9), ("2", 5), ("10", 0))],
            *[("HSET", f"{p}:h_{v}", "f", w, "n", f"name{v}") for v, w in (("a", 4), ("b", 2))],
        ]
    )
    for cmd in ("SORT", "SORT_RO"):
        pair.script(
            [
                (cmd, lst),
                (cmd, lst, "DESC"),
                (cmd, lst, "LIMIT", 1, 3),
                (cmd, lst, "LIMIT", -2, 2),
                (cmd, lst, "LIMIT", 5, -1),
                (cmd, lst, "LIMIT", 99, 3),
                (cmd, lst, "LIMIT", 0, 0),
                (cmd, lst, "ALPHA"),
                (cmd, lst, "ALPHA", "DESC", "LIMIT", 2, 2),
                (cmd, lst, "BY", f"{p}:w_*"),
                (cmd, lst, "BY", f"{p}:w_*", "DESC", "GET", "#", "GET", f"{p}:w_*"),
                (cmd, lst, "BY", "nosort"),
                (cmd, lst, "BY", "nosort", "DESC", "LIMIT", 1, 2),
                (cmd, lst, "BY", "nosort", "LIMIT", 5, 9),
                (cmd, lst, "GET", f"{p}:missing_*"),
                (cmd, iset),
                (cmd, iset, "DESC", "GET", "#"),
                (cmd, iset, "BY", "nosort"),  # intset: ascending on both
                (cmd, lset, "ALPHA"),
                (cmd, lset, "ALPHA", "DESC", "LIMIT", 0, 2),
                (cmd, lset, "BY", "nosort"),  # listpack: insertion order on both
                (cmd, z),
                (cmd, z, "ALPHA", "DESC"),
                (cmd, z, "BY", "nosort"),
                (cmd, z, "BY", "nosort", "DESC", "LIMIT", 1, 2),
                (cmd, z, "BY", f"{p}:h_*->f", "GET", "#", "GET", f"{p}:h_*->n"),
                (cmd, z, "BY", f"{p}:h_*->f", "ALPHA", "GET", f"{p}:h_*->missing"),
                (cmd, z, "BY", f"{p}:h_*->"),  # "->" with no field: a plain key
                (cmd, f"{p}:nokey"),
                (cmd, f"{p}:nokey", "GET", "#", "LIMIT", 0, 1),
            ]
        )
    pair.same("OBJECT", "ENCODING", z)  # SORT converts a sorted set to a skiplist


def test_sort_store(pair: Pair, p: str) -> None:
    lst, s, dest = f"{p}:l", f"{p}:s", f"{p}:d"
    pair.script(
        [
            ("RPUSH", lst, "b", "c", "a"),
            ("SADD", s, "z", "x", "y"),
            ("SET", f"{p}:g_a", "A"),
            ("SORT", lst, "ALPHA", "STORE", dest),
            ("LRANGE", dest, 0, -1),
            ("OBJECT", "ENCODING", dest),
            ("SORT", lst, "ALPHA", "GET", f"{p}:g_*", "GET", "#", "STORE", dest),
            ("LRANGE", dest, 0, -1),
            ("SORT", s, "BY", "nosort", "STORE", dest),  # a set STORE'd is sorted ALPHA
            ("LRANGE", dest, 0, -1),
            ("EXPIRE", dest, 100),
            ("SORT", lst, "ALPHA", "LIMIT", 0, 1, "STORE", dest),
            ("TTL", dest),
            ("SORT", lst, "LIMIT", 0, 0, "STORE", dest),  # empty: the destination goes
            ("EXISTS", dest),
            ("SORT", f"{p}:nokey", "STORE", dest),
            ("SET", dest, "x"),
            ("SORT", lst, "ALPHA", "STORE", dest, "STORE", f"{p}:d2"),  # the last STORE
            ("TYPE", dest),
            ("LRANGE", f"{p}:d2", 0, -1),
            ("SORT", lst, "STORE", dest),  # not numbers: nothing stored
            ("GET", dest),
        ]
    )


def test_sort_errors(pair: Pair, p: str) -> None:
    lst, h = f"{p}:l", f"{p}:h"
    pair.script(
        [
            ("RPUSH", lst, "1", "x", "2"),
            ("HSET", h, "f", "v"),
            ("SORT", lst),
            ("SORT", lst, "ALPHA"),
            ("SORT", h),
            ("SORT", h, "BADOPT"),  # syntax before type
            ("SORT", lst, "LIMIT", "a", 1),
            ("SORT", lst, "LIMIT", 1),
            ("SORT", lst, "BY"),
            ("SORT", lst, "GET"),
            ("SORT", lst, "STORE"),
            ("SORT_RO", lst, "ALPHA", "STORE", f"{p}:d"),
            ("SORT_RO", h),
            ("SORT",),
            ("RPUSH", f"{p}:n", "1.5", " 2", "nan", "inf"),
            ("SORT", f"{p}:n"),
            ("RPUSH", f"{p}:m", "1.5", " 2", "-inf", "", "0x10", "1e400"),
            ("SORT", f"{p}:m"),
            ("LPOP", f"{p}:m"),
            ("RPOP", f"{p}:m"),
            ("SORT", f"{p}:m"),
            ("COMMAND", "GETKEYS", "SORT", lst, "BY", "x", "STORE", "d1", "LIMIT", 0, 1),
        ]
    )


def test_sort_command_info(pair: Pair) -> None:
    for name in ("SORT", "SORT_RO"):
        mine, theirs = pair.both("COMMAND", "INFO", name)
        assert mine == theirs


def test_sort_store_survives_replay(tmp_path: Path) -> None:
    """STORE is logged as its effect (DEL + RPUSH): a restart replays the stored list,
    and an empty result's DEL."""
    items = ["3", "1", "2"]
    for restart in (False, True):
        thread = ServerThread(ServerConfig(port=0, data_dir=tmp_path)).start()
        try:
            r = redis.Redis(host="127.0.0.1", port=thread.port)
            if not restart:
                r.rpush("l", *items)
                r.set("w_1", 9)
                assert r.sort("l", by="w_*", store="d") == 3
                assert r.sort("l", start=0, num=0, store="gone") == 0
                r.set("e", "x")
                assert r.sort("nokey", store="e") == 0
            assert r.lrange("d", 0, -1) == [b"2", b"3", b"1"]
            assert r.exists("e", "gone") == 0
            r.close()
        finally:
            thread.stop()
