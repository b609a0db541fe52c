"""JSON documents go through the one write path: the transaction log (kill -9 loses no
acknowledged JSON write), replication (a replica serves JSON reads and refuses JSON
writes) and the keyspace's rules (TYPE, SCAN TYPE, expiry, ACL key patterns, maxmemory).
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest
import redis

from store.engine import STARTUP_MEMORY_BYTES
from store.server import ServerThread
from tests.harness.wait import wait_for
from tests.replication.nodes import Node

KILLS = 1  # tests/store/test_engine_crash.py kills 30 times; this one checks JSON's path


def doc_for(n: int) -> dict[str, object]:
    rng = random.Random(n)
    return {"n": n, "tags": [f"t{n % 5}"], "vec": [round(rng.uniform(-1, 1), 6) for _ in range(8)]}


def write_docs(
    port: int,
    base: int,
    stop: threading.Event,
    progress: dict[int, int],
    error: list[BaseException],
) -> None:
    """Write documents from ``base`` on until the server dies; ``progress[n]`` is the
    number of steps acknowledged for ``j:<n>`` (1: SET, 2: +ARRAPPEND, 3: +NUMINCRBY)."""
    r = redis.Redis(port=port, socket_timeout=10)
    n = base
    try:
        while not stop.is_set():
            r.execute_command("JSON.SET", f"j:{n}", "$", json.dumps(doc_for(n)))
            progress[n] = 1
            r.execute_command("JSON.ARRAPPEND", f"j:{n}", "$.tags", '"more"')
            progress[n] = 2
            r.execute_command("JSON.NUMINCRBY", f"j:{n}", "$.n", 1000)
            progress[n] = 3
            n += 1
    except (redis.ConnectionError, redis.TimeoutError):
        pass  # the kill
    except BaseException as exc:  # reported by the test
        error.append(exc)
    finally:
        r.close()


def enough(progress: dict[int, int], count: int) -> bool:
    return len(progress) >= count


def test_kill9_loses_no_acknowledged_json_write(tmp_path: Path) -> None:
    """A client writes JSON.SET + JSON.ARRAPPEND + JSON.NUMINCRBY per document and counts
    acknowledgements; the server is SIGKILLed mid-stream (KILLS times: each costs a restart); after each restart
    every acknowledged change is there, exactly."""
    node = Node(tmp_path / "p")
    acked: dict[int, int] = {}  # n -> steps acknowledged (1: SET, 2: +ARRAPPEND, 3: +INCR)
    start = 0
    try:
        for round_no in range(KILLS):
            stop = threading.Event()
            progress: dict[int, int] = {}
            error: list[BaseException] = []

            t = threading.Thread(
                target=write_docs, args=(node.port, start, stop, progress, error), daemon=True
            )
            t.start()
            wait_for(partial(enough, progress, 15 + 10 * round_no), 30, message="writes")
            node.kill9()
            stop.set()
            t.join(timeout=20)
            assert not error, error
            acked.update(progress)
            start = max(acked) + 1
            node.restart()
            for n, steps in acked.items():
                raw = node.r.execute_command("JSON.GET", f"j:{n}")
                assert raw is not None, f"round {round_no}: j:{n} lost"
                got = json.loads(raw)
                want = doc_for(n)
                if steps >= 2:
                    want["tags"] = [*want["tags"], "more"]  # type: ignore[list-item]
                if steps >= 3:
                    want["n"] = n + 1000
                # one unacknowledged step may have landed too: compare the acked prefix
                if got != want:
                    later = dict(want)
                    if steps == 1:
                        later["tags"] = [*want["tags"], "more"]  # type: ignore[list-item]
                    elif steps == 2:
                        later["n"] = n + 1000
                    assert got == later, f"round {round_no}: j:{n} is {got}, acked {steps}"
    finally:
        node.stop()


def test_replica_serves_json_reads(tmp_path: Path) -> None:
    """``before`` reaches the replica in its initial sync (the primary's log, or a snapshot
    when the log no longer reaches back), ``doc`` while the link streams; the replica
    answers JSON reads and refuses JSON writes."""
    primary = Node(tmp_path / "p")
    primary.r.execute_command("JSON.SET", "before", "$", '{"v":[0.5,1e-7,18446744073709551615]}')
    replica = Node(tmp_path / "r", "--replicaof", primary.replicaof)
    try:
        wait_for(
            lambda: (
                replica.r.execute_command("JSON.GET", "before")
                == b'{"v":[0.5,1e-7,18446744073709551615]}'
            ),
            20,
            message="the initial sync carries the JSON document",
        )
        primary.r.execute_command("JSON.SET", "doc", "$", '{"a":[1,2],"o":{"x":1.5}}')
        primary.r.execute_command("JSON.ARRAPPEND", "doc", "$.a", "3")
        primary.r.execute_command("JSON.MERGE", "doc", "$.o", '{"y":null,"z":"é"}')
        primary.r.execute_command("JSON.DEL", "doc", "$.o.x")
        want = primary.r.execute_command("JSON.GET", "doc")
        assert want == '{"a":[1,2,3],"o":{"z":"é"}}'.encode()

        def caught_up() -> bool:
            return replica.r.execute_command("JSON.GET", "doc") == want

        wait_for(caught_up, 20, message="replica has the document")
        assert replica.r.execute_command("JSON.GET", "doc", "$.a[1:]") == b"[2,3]"
        assert replica.r.execute_command("JSON.TYPE", "doc", ".o") == [
            b"object"
        ]  # redis-py wraps it
        assert replica.r.type("doc") == b"ReJSON-RL"
        with pytest.raises(redis.ReadOnlyError):
            replica.r.execute_command("JSON.SET", "doc", "$.a", "1")
    finally:
        replica.stop()
        primary.stop()


@pytest.fixture
def r(server: ServerThread, client: Callable[..., redis.Redis]) -> redis.Redis:
    return client(protocol=2)


def test_type_scan_type_and_expiry(r: redis.Redis) -> None:
    r.execute_command("JSON.SET", "j1", "$", '{"a":1}')
    r.execute_command("JSON.SET", "j2", "$", "[1]")
    r.set("s", "v")
    assert r.type("j1") == b"ReJSON-RL"
    _, keys = r.scan(0, _type="ReJSON-RL", count=100)
    assert sorted(keys) == [b"j1", b"j2"]
    assert r.execute_command("OBJECT", "ENCODING", "j1") == b"raw"
    assert r.memory_usage("j1") > 0
    assert r.pexpire("j1", 60_000)
    r.execute_command("JSON.SET", "j1", "$", '{"b":2}')  # replaced in place: TTL kept
    assert 0 < r.pttl("j1") <= 60_000
    r.execute_command("JSON.SET", "j1", "$.c", "3")
    assert 0 < r.pttl("j1") <= 60_000
    assert r.pexpire("j2", 1)
    wait_for(lambda: r.execute_command("JSON.GET", "j2") is None, 10, message="expiry")
    assert r.exists("j2") == 0
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.get("j1")
    with pytest.raises(redis.ResponseError, match="Existing key has wrong Redis type"):
        r.execute_command("JSON.GET", "s")


def test_acl_key_patterns_and_categories(r: redis.Redis, server: ServerThread) -> None:
    r.execute_command("ACL", "SETUSER", "jsonly", "on", ">pw", "~ok:*", "+@json", "+@read")
    u = redis.Redis(port=server.port, username="jsonly", password="pw", protocol=2)
    try:
        assert u.execute_command("JSON.SET", "ok:1", "$", "1") == b"OK"
        with pytest.raises(redis.exceptions.NoPermissionError):
            u.execute_command("JSON.SET", "other", "$", "1")
        with pytest.raises(redis.exceptions.NoPermissionError):
            u.execute_command("JSON.MGET", "ok:1", "other", "$")
        with pytest.raises(redis.exceptions.NoPermissionError):
            u.set("ok:2", "x")  # @json does not grant string commands
    finally:
        u.close()


def test_maxmemory_refuses_json_growth(start_server: Callable[..., ServerThread]) -> None:
    srv = start_server(maxmemory_bytes=STARTUP_MEMORY_BYTES + 200_000)
    r = redis.Redis(port=srv.port, protocol=2)
    try:
        big = json.dumps({"v": [0.123456] * 2000})
        with pytest.raises(redis.exceptions.OutOfMemoryError):
            for n in range(200):
                r.execute_command("JSON.SET", f"big:{n}", "$", big)
        # reads and deletes still work past the limit
        assert r.execute_command("JSON.TYPE", "big:0") == b"object"
        assert r.execute_command("JSON.DEL", "big:0") == 1
    finally:
        r.close()
