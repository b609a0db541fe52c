"""Kept ids pages answered from the request's bytes, in a real server (decision 0045).

Two servers (``appendfsync always``), one answering ``FT.SEARCH ... NOCONTENT`` requests
of a kept plan from their bytes (the default) and one without (``kept_page_bytes=False``:
parsed and run as any request). Held here: a lone client and concurrent clients (whose
walks go to the search walker) get the same raw bytes from both, and only the first took
requests from their bytes (INFO ``memvec_kept_page_bytes``); a client's other commands
keep their order around such requests, pipelined or not; RESP3 pages are answered so too,
requests seen by a MONITOR are not; the command is counted (``INFO commandstats``) and a slow one logged whole
(``SLOWLOG``); a write is visible to the next search.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from store.index import blob_graph
from store.resp import encode_command
from store.server import ServerThread
from tests.server.conftest import RawClient, info_stat
from tests.server.test_search_lane import (
    DIM,
    Pinger,
    _vector,
    concurrent_requests,
    durable_server,
    loaded_pair,
)

pytestmark = pytest.mark.skipif(
    not blob_graph.AVAILABLE, reason="needs store.index.hnsw_graph (test_hnsw_graph fails then)"
)

STAT = "memvec_kept_page_bytes"


def _server(tmp_path: Path, name: str, kept_bytes: bool) -> ServerThread:
    return durable_server(
        tmp_path,
        name,
        kept_page_bytes=kept_bytes,
        search_walker_min_us=0,  # every shared search's walk to the walker, however short
    )


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[ServerThread, ServerThread]]:
    """(answering from the bytes, not); both with the 200 documents of ``d:``."""
    with loaded_pair(_server(tmp_path, "bytes", True), _server(tmp_path, "parsed", False)) as pair:
        yield pair


def _ids(i: int, k: int = 5, *tail: bytes) -> bytes:
    """A KNN ids page request (EF_RUNTIME 400: the walk reaches all 200 documents, so two
    servers whose graphs were built apart give the same hits)."""
    return encode_command(b"FT.SEARCH", b"idx", b"*=>[KNN %d @v $q EF_RUNTIME 400]" % k,
                          b"PARAMS", b"2", b"q", _vector(10_000 + i), b"NOCONTENT",
                          *tail)  # fmt: skip


def _lone(port: int) -> list[bytes]:
    c = RawClient(port)
    try:
        replies = []
        for i in range(30):
            c.send(_ids(i % 10, 5 + i % 3, b"LIMIT", b"%d" % (i % 4), b"10"))
            replies.append(c.read_reply())
        return replies
    finally:
        c.close()


def test_a_lone_client_gets_the_same_bytes(servers: tuple[ServerThread, ServerThread]) -> None:
    fast, parsed = servers
    assert _lone(fast.port) == _lone(parsed.port)
    # the first of each of the 12 shapes (k 5, 6, 7; LIMIT offset 0-3) learns its plan;
    # the other 18 are read from their bytes
    assert info_stat(fast.port, STAT) == 18
    assert info_stat(parsed.port, STAT) == 0
    assert info_stat(fast.port, "memvec_walker_searches") == 0  # alone: on the loop


@pytest.mark.parametrize("protocol", [2, 3])
def test_concurrent_clients_get_the_same_bytes(
    servers: tuple[ServerThread, ServerThread], protocol: int
) -> None:
    fast, parsed = servers
    from_fast, from_parsed = (
        concurrent_requests(server.port, 6, 40, lambda k, i: _ids(k * 40 + i), protocol)
        for server in (fast, parsed)
    )
    assert from_fast == from_parsed and len(from_fast) == 240
    start = b"*6\r\n:5\r\n" if protocol == 2 else b"%5\r\n+attributes\r\n*0\r\n+total_results\r\n:5"
    assert all(r.startswith(start) for r in from_fast.values())
    assert info_stat(fast.port, STAT) > 100
    assert info_stat(fast.port, "memvec_walker_searches") > 0  # walks on the walker too
    assert info_stat(parsed.port, STAT) == 0


def test_other_commands_keep_their_order(servers: tuple[ServerThread, ServerThread]) -> None:
    """While another client shares the server (the walks go to the walker): a request
    pipelined with others, a GET sent right behind one, and one alone, in order."""
    answers = []
    for server in servers:
        pinger = Pinger(server.port)
        c = RawClient(server.port)
        try:
            pinger.start()
            got = []
            for i in range(10):
                c.send(_ids(i))  # learns the plan, then from the bytes
                got.append(c.read_reply())
            c.send(_ids(1) + encode_command("GET", "d:1") + _ids(2))  # one packet: parsed
            got += [c.read_reply() for _ in range(3)]
            for i in range(5):
                c.send(_ids(i))
                c.send(encode_command("HGET", f"d:{i}", "n"))
                got += [c.read_reply(), c.read_reply()]
            assert pinger.pongs > 0
            answers.append(got)
        finally:
            pinger.stop()
            c.close()
    assert answers[0] == answers[1]
    assert answers[0][11].startswith(b"-WRONGTYPE")
    assert answers[0][-1] == b"$1\r\n4\r\n"
    assert info_stat(servers[0].port, STAT) >= 10


def test_resp3_pages_and_monitor(servers: tuple[ServerThread, ServerThread]) -> None:
    """A RESP3 client's pages are read from their bytes too (the same bytes as the
    general path's); while a client MONITORs, requests take the general path (it shows
    them)."""
    fast, parsed = servers
    replies = []
    for server in (fast, parsed):
        c = RawClient(server.port)
        try:
            c.send(encode_command("HELLO", "3"))
            c.read_reply()
            for i in range(4):
                c.send(_ids(i))
                replies.append(c.read_reply())
        finally:
            c.close()
    assert replies[:4] == replies[4:] and replies[0].startswith(b"%5\r\n")
    assert info_stat(fast.port, STAT) == 3
    monitor = RawClient(fast.port)
    c = RawClient(fast.port)
    try:
        monitor.send(encode_command("MONITOR"))
        assert monitor.read_reply() == b"+OK\r\n"
        c.send(_ids(2))
        c.read_reply()
        assert b"FT.SEARCH" in monitor.read_reply()
        assert info_stat(fast.port, STAT) == 3
    finally:
        monitor.close()
        c.close()


def test_counted_and_logged_whole(servers: tuple[ServerThread, ServerThread]) -> None:
    fast = servers[0]
    c = RawClient(fast.port)
    try:
        c.send(encode_command("CONFIG", "SET", "slowlog-log-slower-than", "0"))
        assert c.read_reply() == b"+OK\r\n"
        for i in range(3):
            c.send(_ids(i))
            c.read_reply()
        c.send(encode_command("SLOWLOG", "GET", "1"))
        entry = c.read_reply()
        assert b"FT.SEARCH" in entry and b"NOCONTENT" in entry and b"PARAMS" in entry
        assert _vector(10_002)[:8] in entry  # the vector too (the log keeps 128 bytes)
        assert info_stat(fast.port, STAT) == 2
        c.send(encode_command("INFO", "commandstats"))
        stats = c.read_reply()
        # (module commands keep their case, as in Redis)
        assert b"cmdstat_FT.SEARCH:calls=3," in stats
    finally:
        c.close()


def test_a_write_is_seen_by_the_next_search(servers: tuple[ServerThread, ServerThread]) -> None:
    """appendfsync always: a document written by another client, then searched for with
    its own vector, is the nearest hit; one deleted is gone."""
    fast = servers[0]
    c, writer = RawClient(fast.port), RawClient(fast.port)
    try:
        c.send(_ids(0))
        c.read_reply()
        for n in range(20):
            vector = np.random.default_rng(500 + n).standard_normal(DIM).astype(np.float32)
            writer.send(encode_command("HSET", f"d:new{n}", "v", vector.tobytes()))
            assert writer.read_reply() == b":1\r\n"
            c.send(encode_command(b"FT.SEARCH", b"idx", b"*=>[KNN 5 @v $q EF_RUNTIME 400]",
                                  b"PARAMS", b"2", b"q", vector.tobytes(), b"NOCONTENT"))  # fmt: skip
            assert c.read_reply().startswith(
                b"*6\r\n:5\r\n$%d\r\nd:new%d\r\n" % (5 + len(str(n)), n)
            )
            writer.send(encode_command("DEL", f"d:new{n}"))
            assert writer.read_reply() == b":1\r\n"
            c.send(encode_command(b"FT.SEARCH", b"idx", b"*=>[KNN 5 @v $q EF_RUNTIME 400]",
                                  b"PARAMS", b"2", b"q", vector.tobytes(), b"NOCONTENT"))  # fmt: skip
            assert b"d:new" not in c.read_reply()
        assert info_stat(fast.port, STAT) >= 20
    finally:
        c.close()
        writer.close()
