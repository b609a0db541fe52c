"""The search lane: long searches of the inline path answered from worker threads.

First :class:`SearchLane` itself, with a real engine and index: what it answers on the
loop is what ``Engine.submit`` returns, which searches it takes, and its failures. Then
two real servers (``appendfsync always``), one sending every search of a client that
shares the server to the lane (``search_lane_min_us=0``) and one never
(``search_lane_min_us=None``): concurrent clients get the same raw reply bytes from both,
a lone client's search never takes the lane, a pipelined one keeps its order, a client
gone before its answer does not stop the server, and under the default threshold only a
query seen to be long goes there.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import struct
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from store.aio import within
from store.commands.table import resolve
from store.config import EngineConfig, FsyncPolicy
from store.engine import Engine, Submitted
from store.errors import StoreError
from store.resp import encode_command
from store.server import ServerConfig, ServerThread
from store.server.app import SHARED_WINDOW_S
from store.server.connection import WRITE_QUIET_NS
from store.server.search_lane import COSTS_KEPT, QUERY_TEXT_MAX, SearchLane
from tests.harness.wait import wait_for
from tests.server.conftest import RawClient, info_stat

DIM = 8


def _vector(i: int) -> bytes:
    return np.random.default_rng(i).standard_normal(DIM).astype(np.float32).tobytes()


def _create(dim: int = DIM) -> list[bytes]:
    return [b"FT.CREATE", b"idx", b"ON", b"HASH", b"PREFIX", b"1", b"d:", b"SCHEMA", b"v",
            b"VECTOR", b"HNSW", b"6", b"TYPE", b"FLOAT32", b"DIM", b"%d" % dim,
            b"DISTANCE_METRIC", b"COSINE"]  # fmt: skip


def _knn(i: int, k: int = 5, ef: int = 400) -> list[bytes]:
    """A KNN query; at the default EF_RUNTIME the walk reaches all 200 documents, so two
    servers whose graphs were built apart (a pipelined load inserts on two threads) give
    the same hits."""
    return [b"FT.SEARCH", b"idx", b"*=>[KNN %d @v $q EF_RUNTIME %d]" % (k, ef), b"PARAMS",
            b"2", b"q", _vector(10_000 + i), b"DIALECT", b"2"]  # fmt: skip


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    """The lane's executor (the server gives it its search pool)."""
    executor = ThreadPoolExecutor(max_workers=2)
    yield executor
    executor.shutdown(wait=True)


def _enqueued(
    lane: SearchLane, loop: asyncio.AbstractEventLoop, spec: Any, args: list[bytes]
) -> asyncio.Future[tuple[Submitted, int, int]]:
    """Queue ``args`` on ``lane``; the future of its answer: (outcome, ns it took, the
    thread that answered)."""
    answered: asyncio.Future[tuple[Submitted, int, int]] = loop.create_future()

    def answer(done: Submitted, took: int) -> None:
        answered.set_result((done, took, threading.get_ident()))

    lane.enqueue(spec, args, 2, answer)
    return answered


@pytest.fixture
def engine() -> Iterator[Engine]:
    e = Engine(EngineConfig(data_dir=None)).start()
    try:
        e.execute(*_create())
        for i in range(200):
            e.execute("HSET", f"d:{i}", "v", _vector(i), "n", str(i))
        yield e
    finally:
        e.stop()


# -- SearchLane ---------------------------------------------------------------------------


@pytest.fixture
async def every_search(engine: Engine, pool: ThreadPoolExecutor) -> AsyncIterator[SearchLane]:
    """A started lane that takes every search (``min_cost_ns`` 0), closed after the test."""
    lane = SearchLane(engine, pool, min_cost_ns=0)
    lane.start(asyncio.get_running_loop())
    yield lane
    lane.close()


async def test_the_lane_answers_on_the_loop_what_submit_returns(
    engine: Engine, every_search: SearchLane
) -> None:
    loop = asyncio.get_running_loop()
    answers = [_enqueued(every_search, loop, resolve(_knn(i)), _knn(i)) for i in range(12)]
    got = await within(asyncio.gather(*answers), 10)
    for i, (done, took, thread) in enumerate(got):
        args = _knn(i)
        assert done.error is None and done.seq is None
        assert done.reply == engine.submit(resolve(args), args).reply
        assert took > 0
        assert thread == threading.get_ident()  # answered on the loop's thread
    assert every_search.searches == 12


async def test_errors_and_internal_failures_are_answered(every_search: SearchLane) -> None:
    loop = asyncio.get_running_loop()
    missing = [b"FT.SEARCH", b"nosuch", b"*"]
    spec = resolve(_knn(0))

    def broken(ctx: Any, args: list[bytes]) -> Any:
        raise RuntimeError("a bug")

    for s, args, said in (
        (resolve(missing), missing, "no such index"),
        (
            dataclasses.replace(spec, handler=broken),
            _knn(0),
            "internal error in ft.search: runtimeerror",
        ),
    ):
        done, _, _ = await within(_enqueued(every_search, loop, s, args), 10)
        assert isinstance(done.error, StoreError)
        assert said in str(done.error).lower()
    # the lane still answers after a failure
    done, _, _ = await within(_enqueued(every_search, loop, spec, _knn(1)), 10)
    assert done.error is None


async def test_which_searches_the_lane_takes(engine: Engine, pool: ThreadPoolExecutor) -> None:
    args = _knn(0)
    assert not SearchLane(engine, pool, 0).takes(args)  # not started
    lanes = [SearchLane(engine, pool, least) for least in (None, 0, 450_000)]
    for lane in lanes:
        lane.start(asyncio.get_running_loop())
    off, every, lane = lanes
    assert not off.takes(args)
    assert every.takes(args)
    every.close()
    assert not every.takes(args)  # closed
    assert not lane.takes(args)  # never seen
    lane.note(args, 900_000)
    assert not lane.takes(args)  # one long run (the first parses the query) is not enough
    lane.note(args, 500_000)
    assert lane.takes(args)  # two
    assert not lane.takes(_knn(0, k=3))  # another query text
    lane.note(args, 100_000)
    assert not lane.takes(args)  # one short run brings it back
    lane.note(args, 600_000)
    assert not lane.takes(args)
    lane.note(args, 450_000)
    assert lane.takes(args)
    long_text = [b"FT.SEARCH", b"idx", b"*" + b" " * QUERY_TEXT_MAX]
    lane.note(long_text, 900_000)
    lane.note(long_text, 900_000)
    assert not lane.takes(long_text)  # a text that long is not remembered
    for n in range(COSTS_KEPT):  # bounded: past COSTS_KEPT texts it forgets them all
        lane.note([b"FT.SEARCH", b"idx", b"q%d" % n], 600_000)
    assert not lane.takes(args)
    off.close()
    lane.close()


async def test_only_open_lanes_take_lockfree_commands(
    engine: Engine, pool: ThreadPoolExecutor
) -> None:
    lane = SearchLane(engine, pool, 0)
    with pytest.raises(RuntimeError, match="not started"):
        lane.enqueue(resolve(_knn(0)), _knn(0), 2, lambda done, took: None)
    with pytest.raises(ValueError, match="GET cannot run on the search lane"):
        lane.enqueue(resolve([b"GET", b"k"]), [b"GET", b"k"], 2, lambda done, took: None)
    lane.start(asyncio.get_running_loop())
    lane.close()
    with pytest.raises(RuntimeError, match="closed"):
        lane.enqueue(resolve(_knn(0)), _knn(0), 2, lambda done, took: None)


# -- through the server -------------------------------------------------------------------


def durable_server(tmp_path: Path, name: str, **settings: Any) -> ServerThread:
    """A started server on a free port, data in ``tmp_path / name``, ``appendfsync
    always``, and ``settings`` (``ServerConfig`` fields) for what the test compares."""
    config = ServerConfig(
        port=0, data_dir=tmp_path / name, appendfsync=FsyncPolicy.ALWAYS, **settings
    )
    return ServerThread(config).start()


def _server(tmp_path: Path, name: str, lane_min_us: int | None) -> ServerThread:
    # without the search walker, which would take the kept plans' walks from the lane
    # (tests/server/test_search_walker.py)
    return durable_server(tmp_path, name, search_lane_min_us=lane_min_us, search_walker_threads=0)


def load(server: ServerThread) -> None:
    """The index ``idx`` and its 200 documents ``d:0`` .. ``d:199``."""
    c = RawClient(server.port)
    try:
        c.send(encode_command(*_create()))
        assert c.read_reply() == b"+OK\r\n"
        c.send(b"".join(encode_command("HSET", f"d:{i}", "v", _vector(i), "n", str(i))
                        for i in range(200)))  # fmt: skip
        assert [c.read_reply() for _ in range(200)] == [b":2\r\n"] * 200
    finally:
        c.close()


@contextlib.contextmanager
def loaded_pair(
    first: ServerThread, second: ServerThread
) -> Iterator[tuple[ServerThread, ServerThread]]:
    """Both servers with the 200 documents of ``d:`` (:func:`load`); stopped after."""
    try:
        for server in (first, second):
            load(server)
        yield first, second
    finally:
        first.stop()
        second.stop()


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[ServerThread, ServerThread]]:
    """(every shared search on the lane, none); both with the 200 documents of ``d:``."""
    with loaded_pair(_server(tmp_path, "lane", 0), _server(tmp_path, "loop", None)) as pair:
        yield pair


def concurrent_requests(
    port: int,
    clients: int,
    each: int,
    request: Callable[[int, int], bytes],
    protocol: int = 2,
) -> dict[tuple[int, int], bytes]:
    """``clients`` threads (in ``protocol``), each sending ``each`` requests one at a
    time, client ``k``'s ``i``-th ``request(k, i)``; the raw replies by ``(k, i)``."""
    replies: dict[tuple[int, int], bytes] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(clients)

    def run(k: int) -> None:
        c = RawClient(port, timeout_s=30)
        try:
            if protocol == 3:
                c.send(encode_command("HELLO", "3"))
                c.read_reply()
            barrier.wait(10)
            for i in range(each):
                c.send(request(k, i))
                replies[(k, i)] = c.read_reply()
        except BaseException as exc:
            errors.append(exc)
        finally:
            c.close()

    threads = [threading.Thread(target=run, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    return replies


def _concurrent_searches(port: int, clients: int, each: int) -> dict[tuple[int, int], bytes]:
    """``clients`` threads, each sending ``each`` KNN queries one at a time; raw replies."""
    return concurrent_requests(
        port, clients, each, lambda k, i: encode_command(*_knn(k * each + i, k=1 + i % 7))
    )


def same_bytes_as_on_the_loop(servers: tuple[ServerThread, ServerThread], stat: str) -> None:
    """6 concurrent clients get the same raw replies from ``servers[0]``, whose searches
    are answered later (INFO ``stat`` counts them), as from ``servers[1]``, where none is;
    the clients waiting meanwhile are not "active", so no search goes to the pool."""
    deferring, loop = servers
    from_deferring = _concurrent_searches(deferring.port, 6, 40)
    from_loop = _concurrent_searches(loop.port, 6, 40)
    assert from_deferring == from_loop
    assert len(from_deferring) == 240
    assert info_stat(deferring.port, stat) > 0
    assert info_stat(loop.port, stat) == 0
    assert info_stat(deferring.port, "memvec_searches_offloaded") == 0


def lone_searches_stay_on_the_loop(server: ServerThread, stat: str) -> None:
    """A client alone (past the fixture's writes and the sharing window) has its 20
    searches answered on the loop: INFO ``stat`` stays 0."""
    c = RawClient(server.port)
    # past WRITE_QUIET_NS after the fixture's writes, and SHARED_WINDOW_S after its reads
    time.sleep(2 * max(WRITE_QUIET_NS / 1e9, SHARED_WINDOW_S))
    try:
        for i in range(20):
            c.send(encode_command(*_knn(i)))
            assert c.read_reply().startswith(b"*11\r\n:5\r\n")
    finally:
        c.close()
    assert info_stat(server.port, stat) == 0


def test_concurrent_clients_get_the_same_bytes_from_the_lane(
    servers: tuple[ServerThread, ServerThread],
) -> None:
    same_bytes_as_on_the_loop(servers, "memvec_lane_searches")


def test_a_lone_clients_search_stays_on_the_loop(
    servers: tuple[ServerThread, ServerThread],
) -> None:
    lone_searches_stay_on_the_loop(servers[0], "memvec_lane_searches")


class Pinger(threading.Thread):
    """Another client that shares the server: PING after PING until stopped. ``start``
    returns once the first PONG came back: from then on the server sees it (a search
    sent before, on a loaded machine, could find the server not shared yet)."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.client = RawClient(port)
        self.stopped = threading.Event()
        self.pongs = 0

    def run(self) -> None:
        while not self.stopped.is_set():
            self.client.send(encode_command("PING"))
            assert self.client.read_reply() == b"+PONG\r\n"
            self.pongs += 1

    def start(self) -> None:
        super().start()
        wait_for(lambda: self.pongs > 0 or not self.is_alive(), 10, 0.001, "a first PONG")

    def stop(self) -> None:
        self.stopped.set()
        self.join(10)
        self.client.close()


def searches_among_reads(c: RawClient) -> list[bytes]:
    """Through ``c`` (after ``SET n 7``): searches between GETs one at a time, a search
    pipelined before a PING and a GET, a GET and then a search sent together; the 25
    replies, each checked where it is not a search's."""
    seen = []
    for i in range(10):
        c.send(encode_command(*_knn(i, k=2)))
        seen.append(c.read_reply())
        c.send(encode_command("GET", "n"))
        seen.append(c.read_reply())
    c.send(b"".join([encode_command(*_knn(99, k=1)), encode_command("PING"),
                     encode_command("GET", "n")]))  # fmt: skip
    seen += [c.read_reply() for _ in range(3)]
    # the search last: the GET inline, the search (deferred) answered after it
    c.send(encode_command("GET", "n") + encode_command(*_knn(7, k=3)))
    seen += [c.read_reply() for _ in range(2)]
    assert seen[-2] == b"$1\r\n7\r\n" and seen[-1].startswith(b"*7\r\n:3\r\n")
    assert seen[1:20:2] == [b"$1\r\n7\r\n"] * 10
    assert seen[21:23] == [b"+PONG\r\n", b"$1\r\n7\r\n"]
    return seen


def test_lane_replies_keep_the_order_of_each_clients_commands(
    servers: tuple[ServerThread, ServerThread],
) -> None:
    """While another client shares the server: searches on the lane between the client's
    other reads, a search pipelined with other commands (the task path), all in order and
    as the loop answers them; a client gone before its answer stops nothing."""
    answers = []
    for server in servers:
        pinger = Pinger(server.port)
        c = RawClient(server.port)
        gone = RawClient(server.port)
        try:
            c.send(encode_command("SET", "n", "7"))
            assert c.read_reply() == b"+OK\r\n"
            time.sleep(0.1)  # past WRITE_QUIET_NS: a search right after a write stays inline
            pinger.start()
            seen = searches_among_reads(c)
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
    assert info_stat(servers[0].port, "memvec_lane_searches") >= 10
    assert info_stat(servers[1].port, "memvec_lane_searches") == 0


def test_only_a_query_seen_to_be_long_takes_the_lane(tmp_path: Path) -> None:
    """With a threshold of 500 us of CPU: a search that walks a 6,000-vector graph at
    EF_RUNTIME 6,000 (~1.2 ms) goes to the lane once two runs measured it, while a client
    shares the server; an EF_RUNTIME 10 search of the same index never does. In this
    process (the server shares the GIL with the test and the pinger) the short search
    measures 70-100 us, single runs up to ~270 (a 200 us threshold sent it to the lane
    about once in 50 runs of this test, after two such runs in a row); the long one
    1.2-1.4 ms."""
    server = _server(tmp_path, "measured", 500)
    dim = 128
    c = RawClient(server.port, timeout_s=30)
    pinger = Pinger(server.port)
    try:
        c.send(encode_command(*_create(dim)))
        assert c.read_reply() == b"+OK\r\n"
        rng = np.random.default_rng(1)
        vectors = rng.standard_normal((6000, dim)).astype(np.float32)
        c.send(b"".join(encode_command("HSET", f"d:{i}", "v", vectors[i].tobytes())
                        for i in range(6000)))  # fmt: skip
        assert [c.read_reply() for _ in range(6000)] == [b":1\r\n"] * 6000
        time.sleep(0.1)  # past WRITE_QUIET_NS: a search right after a write stays inline
        query = struct.pack(f"{dim}f", *rng.standard_normal(dim))

        def search(ef: int) -> bytes:
            c.send(encode_command("FT.SEARCH", "idx", f"*=>[KNN 10 @v $q EF_RUNTIME {ef}]",
                                  "PARAMS", "2", "q", query, "NOCONTENT", "DIALECT", "2"))  # fmt: skip
            return c.read_reply()

        # alone: the first run parses the query and keeps its plan; nothing is measured
        short = [search(10) for _ in range(5)]
        pinger.start()  # shares the server from now
        short += [search(10) for _ in range(30)]
        assert info_stat(server.port, "memvec_lane_searches") == 0
        long = [search(6000) for _ in range(10)]
        assert info_stat(server.port, "memvec_lane_searches") >= 5
        assert len(set(long)) == 1 and long[0].startswith(b"*11\r\n:10\r\n")
        assert len(set(short)) == 1
        # right after a write it stays on the loop (it would convoy with writes)
        taken = info_stat(server.port, "memvec_lane_searches")
        c.send(encode_command("HSET", "other:1", "f", "v"))
        assert c.read_reply() == b":1\r\n"
        assert search(6000) == long[0]
        assert info_stat(server.port, "memvec_lane_searches") == taken
    finally:
        pinger.stop()
        c.close()
        server.stop()
