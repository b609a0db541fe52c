"""The request path's choices that only change speed must not change what clients see.

Where a search runs (inline on the event loop or on the search pool,
``Connection._offloads``): on the pool only while other clients have work and no engine
write ran in the last ``WRITE_QUIET_NS``; the replies are the same either way.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import numpy as np
import redis

from store.server.connection import WRITE_QUIET_NS
from store.server.thread import ServerThread
from tests.harness.wait import wait_for

KNN = ["FT.SEARCH", "fp", "*=>[KNN 3 @v $B]", "PARAMS", "2", "B"]


def _offloaded(r: redis.Redis) -> int:
    return int(r.info("stats")["memvec_searches_offloaded"])


def test_search_runs_inline_right_after_a_write(
    start_server: Callable[..., ServerThread],
) -> None:
    srv = start_server()
    r = redis.Redis(port=srv.port)
    blocked = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    try:
        r.execute_command(
            "FT.CREATE", "fp", "ON", "HASH", "PREFIX", "1", "fp:", "SCHEMA",
            "v", "VECTOR", "FLAT", "6", "TYPE", "FLOAT32", "DIM", "4", "DISTANCE_METRIC", "L2",
        )  # fmt: skip
        rng = np.random.default_rng(3)
        vecs = rng.random((5, 4), dtype=np.float32)
        for i, v in enumerate(vecs):
            r.hset(f"fp:{i}", "v", v.tobytes())
        # a second client with a command in flight: the server has more than one active
        # client, the condition for using the pool at all
        blocked.sendall(b"*3\r\n$5\r\nBLPOP\r\n$7\r\nfp:list\r\n$1\r\n0\r\n")
        wait_for(lambda: r.info("clients")["blocked_clients"] == 1, 10)
        query = [*KNN, vecs[0].tobytes(), "NOCONTENT", "DIALECT", "2"]

        time.sleep(2 * WRITE_QUIET_NS / 1e9)  # the rule is about time since the last write
        before = _offloaded(r)
        quiet = r.execute_command(*query)
        assert _offloaded(r) == before + 1  # no write lately: the pool

        pipe = r.pipeline(transaction=False)
        pipe.set("fp-other", "x")  # a write outside the index: same results
        pipe.execute_command(*query)
        _, after_write = pipe.execute()
        assert _offloaded(r) == before + 1  # a write just ran: inline
        assert after_write == quiet  # the same reply either way

        r.lpush("fp:list", "x")
        want = b"*2\r\n$7\r\nfp:list\r\n$1\r\nx\r\n"
        got = b""
        while len(got) < len(want):
            got += blocked.recv(100)
        assert got == want
        r.execute_command("FT.DROPINDEX", "fp", "DD")
        r.delete("fp-other")
    finally:
        r.close()
        blocked.close()
