"""The search walker: kept KNN plans' walks on a thread of the graph's own (0044).

Two real servers (``appendfsync always``), one with the walker (the default) and one
without (``search_walker_threads=0``: every walk on the loop). Held here: concurrent clients
get the same raw reply bytes from both, and the walker took their searches; a lone
client's search never goes there; while another client shares the server, a client's
searches keep their order among its other commands, pipelined or not, and a client gone
before its answer stops nothing; writes from other clients while searches walk (new
documents, deletions, updates of the vectors) leave every reply well formed and the
documents' final state the same on both servers.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from store.index import blob_graph
from store.resp import encode_command
from store.server import ServerConfig, ServerThread
from store.server.search_lane import COSTS_KEPT, QUERY_TEXT_MAX
from store.server.search_walker import REPROBE_EVERY, SearchWalker
from tests.server.conftest import RawClient, info_stat
from tests.server.test_search_lane import (
    Pinger,
    _knn,
    _vector,
    durable_server,
    load,
    loaded_pair,
    lone_searches_stay_on_the_loop,
    same_bytes_as_on_the_loop,
    searches_among_reads,
)

pytestmark = pytest.mark.skipif(
    not blob_graph.AVAILABLE, reason="needs store.index.hnsw_graph (test_hnsw_graph fails then)"
)


def _server(tmp_path: Path, name: str, walker: bool, min_us: int = 0) -> ServerThread:
    # min_us 0: every walk there, however short (these take a few us; by default only
    # walks of 250 us or more go: test_a_short_walk_stays_on_the_loop)
    return durable_server(
        tmp_path,
        name,
        search_walker_threads=2 if walker else 0,
        search_walker_min_us=min_us,
    )


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[ServerThread, ServerThread]]:
    """(with the walker, without); both with the 200 documents of ``d:``."""
    with loaded_pair(_server(tmp_path, "walker", True), _server(tmp_path, "loop", False)) as pair:
        yield pair


def test_concurrent_clients_get_the_same_bytes_with_the_walker(
    servers: tuple[ServerThread, ServerThread],
) -> None:
    same_bytes_as_on_the_loop(servers, "memvec_walker_searches")


def test_a_lone_clients_search_stays_on_the_loop(
    servers: tuple[ServerThread, ServerThread],
) -> None:
    lone_searches_stay_on_the_loop(servers[0], "memvec_walker_searches")


def test_a_short_walk_stays_on_the_loop(tmp_path: Path) -> None:
    """With the default threshold (250 us), a query whose walk was measured shorter stays
    on the loop while another client shares the server, except once in REPROBE_EVERY
    searches, which measures it again; its replies are the same either way."""
    server = _server(tmp_path, "short", True, ServerConfig().search_walker_min_us)
    load(server)
    pinger = Pinger(server.port)
    c = RawClient(server.port)
    try:
        pinger.start()
        replies = []
        for _ in range(2 + 2 * REPROBE_EVERY):  # the same query: one plan, one walk time
            c.send(encode_command(*_knn(3, k=4, ef=20)))
            replies.append(c.read_reply())
        assert len(set(replies)) == 1 and replies[0].startswith(b"*9\r\n:4\r\n")
        # the first search learns the plan, the second is walked and measured (~10 us
        # here), then one in REPROBE_EVERY (two in a row when a cold walk measured long)
        walked = info_stat(server.port, "memvec_walker_searches")
        assert 2 <= walked <= 2 + 2 * 2, walked
    finally:
        pinger.stop()
        c.close()
        server.stop()


def test_walked_replies_keep_the_order_of_each_clients_commands(
    servers: tuple[ServerThread, ServerThread],
) -> None:
    """While another client shares the server: walked searches between the client's
    other reads, a search pipelined with other commands, a search sent last after a GET,
    all in order and as the loop answers them; a client gone before its answer stops
    nothing."""
    answers = []
    for server in servers:
        pinger = Pinger(server.port)
        c = RawClient(server.port)
        gone = RawClient(server.port)
        try:
            c.send(encode_command("SET", "n", "7"))
            assert c.read_reply() == b"+OK\r\n"
            pinger.start()
            seen = searches_among_reads(c)
            # a search, then at once (before its answer, likely) a write, then a read
            c.send(encode_command(*_knn(8, k=2)))
            c.send(encode_command("SET", "n", "8"))
            c.send(encode_command("GET", "n"))
            seen += [c.read_reply() for _ in range(3)]
            assert seen[-3].startswith(b"*5\r\n:2\r\n")
            assert seen[-2:] == [b"+OK\r\n", b"$1\r\n8\r\n"]
            gone.send(encode_command(*_knn(5, ef=200)))
            gone.close()
            c.send(encode_command(*_knn(0, k=2)))
            assert c.read_reply() == seen[0]
            assert pinger.pongs > 0
            answers.append(seen)
        finally:
            pinger.stop()
            c.close()
    assert answers[0] == answers[1]
    assert info_stat(servers[0].port, "memvec_walker_searches") >= 10
    assert info_stat(servers[1].port, "memvec_walker_searches") == 0


def _search_many(port: int, pages: list[bytes], failures: list[BaseException], k: int) -> None:
    """60 KNN 4 searches, one at a time, their replies into ``pages``."""
    c = RawClient(port)
    try:
        for i in range(60):
            c.send(encode_command(*_knn(k * 60 + i, k=4, ef=40)))
            pages.append(c.read_reply())
    except BaseException as exc:
        failures.append(exc)
    finally:
        c.close()


def test_writes_while_searches_walk(servers: tuple[ServerThread, ServerThread]) -> None:
    """Four clients search while one adds documents, deletes some and moves the vectors
    of others: every search is answered with a well-formed page of existing or recently
    deleted ids, and both servers end with the same documents and the same answers."""
    rng = np.random.default_rng(3)
    writes = []
    for i in range(300):
        if i % 3 == 0:
            writes.append(encode_command("DEL", f"d:{i % 200}"))
        elif i % 3 == 1:
            writes.append(encode_command("HSET", f"d:{1000 + i}", "v", _vector(5000 + i)))
        else:
            vector = rng.standard_normal(8).astype(np.float32).tobytes()
            writes.append(encode_command("HSET", f"d:{(i * 7) % 200}", "v", vector))
    finals = []
    for server in servers:
        failures: list[BaseException] = []
        pages: list[bytes] = []
        search = functools.partial(_search_many, server.port, pages, failures)
        threads = [threading.Thread(target=search, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        w = RawClient(server.port)
        try:
            for command in writes:
                w.send(command)
                assert not w.read_reply().startswith(b"-")
            for t in threads:
                t.join(60)
            assert not failures, failures
            assert len(pages) == 240
            for page in pages:
                assert page.startswith(b"*") and b"d:" in page and b"-ERR" not in page
            w.send(encode_command("FT.INFO", "idx"))
            assert b"num_docs" in w.read_reply()
            final = []
            for i in range(20):
                w.send(encode_command(*_knn(900 + i, k=10)))
                final.append(w.read_reply())
            w.send(encode_command("DBSIZE"))
            final.append(w.read_reply())
            finals.append(final)
        finally:
            w.close()
    assert finals[0] == finals[1]
    assert info_stat(servers[0].port, "memvec_walker_searches") > 0


def test_which_queries_the_walker_takes() -> None:
    """SearchWalker.takes: an unknown query, or one whose last walk took at least
    ``min_walk_ns``; a shorter one once in REPROBE_EVERY searches; a query text too long
    to remember is never counted (so always taken); the table is bounded."""
    walker = SearchWalker(engine=None, threads=0, min_walk_ns=70_000)  # type: ignore[arg-type]
    short, long = [b"FT.SEARCH", b"idx", b"short"], [b"FT.SEARCH", b"idx", b"long"]
    assert walker.takes(short) and walker.takes(long)
    assert not walker.takes([b"FT.SEARCH", b"idx"])
    walker.note((b"idx", b"short"), 20_000)
    walker.note((b"idx", b"long"), 70_000)
    taken = [walker.takes(short) for _ in range(3 * REPROBE_EVERY)]
    assert taken.count(True) == 3 and taken[REPROBE_EVERY - 1]
    assert all(walker.takes(long) for _ in range(10))
    walker.note((b"idx", b"short"), 90_000)  # measured again, longer now (a slow phase)
    assert all(walker.takes(short) for _ in range(10))
    huge = b"x" * (QUERY_TEXT_MAX + 1)
    walker.note((b"idx", huge), 1)
    assert walker.takes([b"FT.SEARCH", b"idx", huge])
    for i in range(COSTS_KEPT + 1):
        walker.note((b"idx", b"q%d" % i), 1)
    assert len(walker._walks) <= COSTS_KEPT
