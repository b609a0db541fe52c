"""The request path's choices that only change speed must not change what clients see.

Where a search runs (inline on the event loop or on the search pool,
``Connection._offloads``): on the pool only while other clients have work and no engine
write ran in the last ``WRITE_QUIET_NS``; the replies are the same either way.
Durability waits go through one ``DurableGate`` per server: coalesced, never early.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import redis
from redis.commands.search.query import Query

from store.aio import within
from store.commands.table import resolve
from store.config import EngineConfig, FsyncPolicy
from store.engine import Engine
from store.server.connection import WRITE_QUIET_NS
from store.server.durable_gate import DurableGate
from store.server.thread import ServerThread
from store.wal import file_log as file_log_module
from store.wal.position import LogPosition
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
        # HNSW: a small FLAT index's searches never go to the pool (short_scans)
        r.execute_command(
            "FT.CREATE", "fp", "ON", "HASH", "PREFIX", "1", "fp:", "SCHEMA",
            "v", "VECTOR", "HNSW", "6", "TYPE", "FLOAT32", "DIM", "4", "DISTANCE_METRIC", "L2",
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


def test_durable_gate_answers_every_waiter_when_the_log_has_its_record(tmp_path: Path) -> None:
    """Many clients' waits, coalesced: each returns only once the log says its seq is durable;
    a seq the log never had raises what the log's own future raises."""
    engine = Engine(EngineConfig(data_dir=tmp_path, appendfsync=FsyncPolicy.ALWAYS)).start()
    try:
        gate = DurableGate(engine)
        spec = resolve([b"SET", b"k", b"v"])

        async def client(n: int) -> int:
            seqs = []
            for i in range(5):
                done = engine.submit(spec, [b"SET", b"gate:%d:%d" % (n, i), b"v"])
                assert done.seq is not None
                seqs.append(done.seq)
                await gate.wait(done.seq)
                log_future = engine.durable_future(done.seq)
                assert log_future.done() and log_future.exception() is None
            return max(seqs)

        async def run() -> None:
            last = max(await asyncio.gather(*(client(n) for n in range(20))))
            await gate.wait(last)  # known durable: returns at once
            never = last + 1000
            with pytest.raises(ValueError) as from_gate:
                await gate.wait(never)
            with pytest.raises(ValueError) as from_log:
                engine.durable_future(never)
            assert str(from_gate.value) == str(from_log.value)
            await gate.wait(last)  # still serving after a refusal

        asyncio.run(run())
        gate.close()
    finally:
        engine.stop()


def test_durable_gate_fsyncs_once_per_loop_iteration_for_every_client(tmp_path: Path) -> None:
    """With a log that syncs locally (``appendfsync always``), the writes of all the clients
    that ran in one loop iteration share one fsync, started by the gate at the next
    iteration (on its fsync thread); nobody is answered before it."""
    engine = Engine(EngineConfig(data_dir=tmp_path, appendfsync=FsyncPolicy.ALWAYS)).start()
    try:
        gate = DurableGate(engine)
        spec = resolve([b"SET", b"k", b"v"])
        log = engine.transaction_log
        assert log is not None and log.syncs_locally

        async def client(n: int) -> None:
            done = engine.submit(spec, [b"SET", b"once:%d" % n, b"v"])
            assert done.seq is not None
            await gate.wait(done.seq)
            assert log.durable_position.seq > done.seq

        async def run() -> int:
            before = log.fsync_count
            await asyncio.gather(*(client(n) for n in range(50)))
            return log.fsync_count - before

        assert asyncio.run(run()) == 1
        gate.close()
    finally:
        engine.stop()


def test_durable_gate_fsync_overlaps_the_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the gate's fsync runs, the loop keeps executing and appending other clients'
    writes (docs/decisions/0010); none is answered before a round that covers it ends."""
    engine = Engine(EngineConfig(data_dir=tmp_path, appendfsync=FsyncPolicy.ALWAYS)).start()
    gate = DurableGate(engine)
    try:
        spec = resolve([b"SET", b"k", b"v"])
        log = engine.transaction_log
        assert log is not None
        real_fsync = os.fsync
        entered, release = threading.Event(), threading.Event()

        def held_fsync(fd: int) -> None:
            entered.set()
            assert release.wait(10)
            real_fsync(fd)

        monkeypatch.setattr(file_log_module.os, "fsync", held_fsync)

        def write(n: int) -> int:
            done = engine.submit(spec, [b"SET", b"overlap:%d" % n, b"v"])
            assert done.seq is not None
            return done.seq

        async def run() -> None:
            first = asyncio.ensure_future(gate.wait(write(1)))
            await within(asyncio.to_thread(entered.wait, 10), 10)
            second_seq = write(2)  # the loop appends while the fsync is held
            second = asyncio.ensure_future(gate.wait(second_seq))
            await asyncio.sleep(0.05)
            assert not first.done() and not second.done()
            release.set()
            await within(asyncio.gather(first, second), 10)
            assert log.durable_position.seq > second_seq

        asyncio.run(run())
    finally:
        gate.close()
        engine.stop()


def test_durable_gate_follows_a_log_that_went_back(tmp_path: Path) -> None:
    """After a reset to a lower position (a replica's full resync), waits on the new seqs
    are answered once those are durable, not held by requests made of the old history."""
    engine = Engine(EngineConfig(data_dir=tmp_path, appendfsync=FsyncPolicy.ALWAYS)).start()
    try:
        gate = DurableGate(engine)
        spec = resolve([b"SET", b"k", b"v"])
        log = engine.transaction_log
        assert log is not None

        def write(n: int) -> int:
            done = engine.submit(spec, [b"SET", b"back:%d" % n, b"v"])
            assert done.seq is not None
            return done.seq

        async def run() -> None:
            high = max(write(n) for n in range(10))
            await gate.wait(high)
            log.reset(LogPosition(3))
            seq = write(99)
            assert seq == 3
            await within(gate.wait(seq), 10)
            assert log.durable_position.seq > seq

        asyncio.run(run())
        gate.close()
    finally:
        engine.stop()


def test_durable_gate_asks_again_after_a_failed_request() -> None:
    """A failed request (a fenced log) answers its waiters and is forgotten: a later wait
    for the same seq (a batch that read the failed record) gets the log's failure too
    instead of waiting forever (it hung a fenced Kafka-log writer's next client)."""
    from concurrent.futures import Future
    from types import SimpleNamespace

    from store.errors import DurabilityError

    asked: list[int] = []

    def durable_future(seq: int) -> Future[None]:
        asked.append(seq)
        failed: Future[None] = Future()
        failed.set_exception(DurabilityError("the Kafka log failed (fenced)"))
        return failed

    log = SimpleNamespace(
        durable_position=LogPosition(1), next_position=LogPosition(11), syncs_locally=False
    )
    engine = SimpleNamespace(transaction_log=log, durable_future=durable_future)
    gate = DurableGate(engine)  # type: ignore[arg-type]

    async def run() -> None:
        for _ in range(2):
            with pytest.raises(DurabilityError, match="fenced"):
                await within(gate.wait(10), 5)

    asyncio.run(run())
    assert asked.count(10) >= 3  # the gate's request, then each waiter's own, twice


def test_durable_gate_answers_when_a_local_sync_round_raises() -> None:
    """A local sync round that raises (a bug, not a disk error the log records) still
    answers its waiters, from the log's futures (here: failed, as nothing became
    durable); the next wait starts a new round on the same helper thread, and close()
    ends that thread."""
    import threading
    from concurrent.futures import Future

    from store.errors import DurabilityError

    state = {"durable": 1, "raises": True}

    def sync() -> bool:
        if state["raises"]:
            state["raises"] = False
            raise RuntimeError("a bug in the sync round")
        state["durable"] = 11
        return True

    def durable_future(seq: int) -> Future[None]:
        f: Future[None] = Future()
        if seq < state["durable"]:
            f.set_result(None)
        else:
            f.set_exception(DurabilityError("not durable: the sync round failed"))
        return f

    class Log:
        syncs_locally = True
        next_position = LogPosition(11)

        @property
        def durable_position(self) -> LogPosition:
            return LogPosition(state["durable"])

        def sync(self) -> bool:
            return sync()

    engine = type(
        "E", (), {"transaction_log": Log(), "durable_future": staticmethod(durable_future)}
    )
    gate = DurableGate(engine)  # type: ignore[arg-type]

    async def run() -> None:
        with pytest.raises(DurabilityError, match="sync round failed"):
            await within(gate.wait(10), 5)
        await within(gate.wait(10), 5)  # a new round: now durable

    asyncio.run(run())
    assert state["durable"] == 11
    assert any(t.name == "memvec-gate-fsync" for t in threading.enumerate())
    gate.close()
    assert not any(t.name == "memvec-gate-fsync" for t in threading.enumerate())
    gate.close()  # idempotent


def _request(*args: bytes) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


def test_key_writes_of_many_clients_are_combined_as_if_run_one_by_one(
    start_server: Callable[..., ServerThread],
) -> None:
    """HSET/DEL from clients that send at the same time go to the engine together
    (``WriteCombiner``): every reply, the keys and the index end as the same commands run
    one at a time would leave them, and every reply comes after its write is durable."""
    srv = start_server()
    combiner = srv.server.write_combiner
    r = redis.Redis(port=srv.port)
    dim = 4
    r.execute_command(
        "FT.CREATE", "wc", "ON", "HASH", "PREFIX", "1", "wc:", "SCHEMA", "tag", "TAG",
        "v", "VECTOR", "HNSW", "6", "TYPE", "FLOAT32", "DIM", str(dim), "DISTANCE_METRIC", "L2",
    )  # fmt: skip
    clients = [socket.create_connection(("127.0.0.1", srv.port)) for _ in range(24)]
    try:
        rounds = 4
        for rnd in range(rounds):
            sent = []
            for n in range(len(clients)):
                key = b"wc:%d" % (n % 8)  # clients share keys: the order matters
                if (n + rnd) % 5 == 4:
                    request = _request(b"DEL", key)
                else:
                    vec = np.full(dim, n + rnd * 100, dtype=np.float32).tobytes()
                    request = _request(b"HSET", key, b"tag", b"t%d" % n, b"v", vec)
                sent.append(request)
            for sock, request in zip(clients, sent, strict=True):
                sock.sendall(request)
            for sock in clients:
                reply = sock.recv(100)
                assert reply.startswith(b":"), reply  # HSET: fields added; DEL: keys removed
        assert combiner.batches < combiner.combined  # some went to the engine together
        stats = r.info("stats")
        assert stats["memvec_combined_writes"] == combiner.combined
        assert stats["memvec_combined_write_batches"] == combiner.batches
        log = srv.server.engine.transaction_log
        assert log is not None
        assert log.durable_position == log.next_position  # nothing answered before durable
        keys = [b"wc:%d" % i for i in range(8)]
        live = [k for k in keys if r.exists(k)]
        assert int(r.ft("wc").info()["num_docs"]) == len(live)
        for key in live:  # the index holds each key's last vector
            vec = r.hget(key, "v")
            assert vec is not None
            found = r.ft("wc").search(Query("*=>[KNN 1 @v $B]").dialect(2), {"B": vec})
            assert found.docs[0].id == key.decode()  # type: ignore[attr-defined]
        before = {k: r.hgetall(k) for k in keys}
        data_dir = srv.server.config.data_dir
        r.close()
        srv.stop(save=False)
        # the log, replayed one command at a time, gives the state the clients saw
        again = start_server(data_dir=data_dir)
        r = redis.Redis(port=again.port)
        assert {k: r.hgetall(k) for k in keys} == before
    finally:
        for sock in clients:
            sock.close()
        r.close()


def test_long_flat_scans_of_concurrent_clients_share_passes(
    start_server: Callable[..., ServerThread], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A FLAT index past ``SHORT_SCAN_FLOATS``: one client's searches run inline; with
    several clients they go to the scan pool, where queries that arrive during a pass share
    the next one, and every client gets the reply it gets alone (docs/decisions/0034)."""
    from store.index import manager
    from store.index.flat import FlatIndex

    dim, count = 32, 1500
    monkeypatch.setattr(manager, "SHORT_SCAN_FLOATS", dim * count // 2)  # this index: long
    batches: list[int] = []
    scan = FlatIndex._scan

    def slow_scan(self: FlatIndex, items: list) -> list:  # type: ignore[type-arg]
        batches.append(len(items))
        time.sleep(0.004)  # a pass as long as a large index's: others arrive meanwhile
        return scan(self, items)

    monkeypatch.setattr(FlatIndex, "_scan", slow_scan)
    # the search pool's 2 threads could pair two searches at most: more share a pass only
    # on the scan pool
    srv = start_server(appendfsync=FsyncPolicy.EVERYSEC, search_threads=2)
    r = redis.Redis(port=srv.port)
    try:
        r.execute_command(
            "FT.CREATE", "fs", "ON", "HASH", "PREFIX", "1", "fs:", "SCHEMA",
            "v", "VECTOR", "FLAT", "6", "TYPE", "FLOAT32", "DIM", dim, "DISTANCE_METRIC", "COSINE",
        )  # fmt: skip
        rng = np.random.default_rng(9)
        pipe = r.pipeline(transaction=False)
        for i, v in enumerate(rng.standard_normal((count, dim)).astype(np.float32)):
            pipe.hset(f"fs:{i}", "v", v.tobytes())
        pipe.execute()
        queries = [
            ["FT.SEARCH", "fs", "*=>[KNN 5 @v $B AS d]", "PARAMS", "2", "B", q.tobytes(),
             "RETURN", "1", "d", "DIALECT", "2"]
            for q in rng.standard_normal((48, dim)).astype(np.float32)
        ]  # fmt: skip
        time.sleep(2 * WRITE_QUIET_NS / 1e9)  # searches leave the loop only after writes
        before = _offloaded(r)
        alone = [r.execute_command(*q) for q in queries]
        assert _offloaded(r) == before  # one client: inline
        assert batches and max(batches) == 1
        batches.clear()

        clients = 8
        got: list[list[object]] = [[] for _ in range(clients)]

        def query(k: int) -> None:
            with redis.Redis(port=srv.port) as c:
                got[k] = [c.execute_command(*q) for q in queries[k::clients]]

        threads = [threading.Thread(target=query, args=(k,)) for k in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        for k in range(clients):
            assert got[k] == alone[k::clients]
        assert _offloaded(r) > before
        assert sum(batches) == len(queries)
        assert max(batches) > 2, f"no three searches shared a pass: {batches}"
    finally:
        r.close()
