"""Issue #19's "Done when", on real processes: a 3-shard cluster on the Kafka log through
a kill -9 and a reshard, two client libraries writing, search equal to one node throughout.

The cluster: 3 shards x (primary + replica), ``memvec server`` processes, each shard's
transaction log its own topic on the real Kafka-protocol broker (tansu), the topology in a
Kafka topic too, ``--auto-failover yes`` (bench.cluster_failover's launcher). An index
(FLAT, so every answer is exact; TEXT, TAG, NUMERIC) is created through the cluster.

Two clients run a mixed workload the whole time, each in its own key space:

* redis-py's ``RedisCluster`` (:class:`Writer`, a thread) and
* node-redis's ``createCluster`` (tests/clients/node_redis_cluster_load.cjs, a process),

each round an HSET of an indexed document with a vector, a SET and a GET (read your
write) and every fifth round a DEL. Every command is retried until acknowledged and is
idempotent, so each client's record of what was acknowledged is exactly what the cluster
must hold: nothing acknowledged lost, nothing unacknowledged half-applied.

At four checkpoints (before, after the failover, during the reshard while slots are
half-moved, after) both clients pause between commands and the test checks that (1) the
cluster holds every acknowledged write, read back through ``RedisCluster``, and (2)
cross-shard FT.SEARCH sent to every live node (primaries and replicas alike) answers what
one standalone memvec holding the same documents answers: a KNN with a tag filter, a
text and tag query sorted by a field with LIMIT, and the total count. In between:

(a) shard 0's primary is ``kill -9``ed while both clients write: its replica wins the
    shard's leader lease on the Kafka log and takes over; the time from the kill to a write
    accepted is printed. The killed node restarts on its data directory: it comes back as
    a replica, fenced: it refuses writes with ``MOVED`` to the new primary.
    (The paused-primary zombie whose queued write is refused is
    tests/cluster/test_failover_cluster.py's.)
(b) 1,000 slots move from shard 1 to shard 2 (``Resharder``, what ``memvec cluster
    reshard`` runs) while both clients write; afterwards every moved key lives on the
    target only and the source redirects it there.
"""

from __future__ import annotations

import base64
import contextlib
import json
import queue
import random
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.cluster import RedisCluster

from bench.cluster_failover import (
    ClusterProcess,
    KafkaCluster,
    failover_once,
    start_kafka_cluster,
    wait_until,
)
from store.cluster import key_slot, open_source
from store.cluster.reshard import Resharder
from store.config import FsyncPolicy
from store.resp import encode_command
from store.server import ServerConfig, ServerThread
from tests.harness.components import KafkaBroker
from tests.harness.node_clients import start_node
from tests.server.conftest import RawClient

SCRIPT = Path(__file__).resolve().parents[1] / "clients" / "node_redis_cluster_load.cjs"
INDEX = "dw-idx"
DIM = 4
KEYS = 60  # documents per client, rewritten round after round
BASE_DOCS = 150
MOVED = 1000  # slots resharded from shard 1 to shard 2, in two steps
PREFIXES = ("dw:base:doc:", "dw:py:doc:", "dw:js:doc:")
SCHEMA = [
    "title", "TEXT", "tag", "TAG", "n", "NUMERIC", "SORTABLE",
    "v", "VECTOR", "FLAT", "6", "TYPE", "FLOAT32", "DIM", str(DIM), "DISTANCE_METRIC", "L2",
]  # fmt: skip
TAGS = ["red", "blue", "green"]
WORDS = ["alpha", "beta", "gamma", "delta", "omega"]
QUERY_VEC = struct.pack(f"<{DIM}f", 0.1, -0.2, 0.3, 0.05)
QUERIES: list[list[str | bytes]] = [
    ["(@tag:{blue})=>[KNN 10 @v $vec AS dist]", "RETURN", "3", "dist", "tag", "n",
     "PARAMS", "2", "vec", QUERY_VEC, "DIALECT", "2"],
    ["@title:alpha @tag:{red|green}", "SORTBY", "n", "DESC", "LIMIT", "0", "12",
     "RETURN", "2", "n", "tag"],
    ["*", "LIMIT", "0", "0"],
]  # fmt: skip
Doc = dict[str, bytes]


def _create_index(client: Any) -> None:
    prefixes = ["PREFIX", str(len(PREFIXES)), *PREFIXES]
    assert client.execute_command("FT.CREATE", INDEX, "ON", "HASH", *prefixes, "SCHEMA", *SCHEMA)


def _search(port: int, query: list[str | bytes]) -> bytes:
    """FT.SEARCH's raw reply from the node at ``port`` (RESP2)."""
    client = RawClient(port, timeout_s=20)
    try:
        client.send(encode_command("FT.SEARCH", INDEX, *query))
        return client.read_reply()
    finally:
        client.close()


def _doc(rng: random.Random, n: int) -> Doc:
    words = [w for w in WORDS if rng.random() < 0.5] or ["omega"]
    vec = struct.pack(f"<{DIM}f", *(rng.uniform(-1, 1) for _ in range(DIM)))
    return {
        "title": " ".join(words).encode(),
        "tag": rng.choice(TAGS).encode(),
        "n": str(n).encode(),  # unique: SORTBY n never ties
        "v": vec,
    }


class Writer(threading.Thread):
    """redis-py ``RedisCluster`` writing as the node script does (see its header): each
    command retried until acknowledged; :meth:`pause` returns once no command is in
    flight. ``docs``/``strings`` hold the acknowledged state (a deleted doc is None)."""

    def __init__(self, cluster: KafkaCluster) -> None:
        super().__init__(daemon=True, name="done-when-writer")
        self.cluster = cluster
        self.docs: dict[str, Doc | None] = {}
        self.strings: dict[str, bytes] = {}
        self.rounds = self.errors = self.wrong_reads = 0
        self.halt = threading.Event()
        self.want_pause = threading.Event()
        self.paused = threading.Event()
        self.resumed = threading.Event()

    def run(self) -> None:
        rng = random.Random(19)
        client = self.cluster.client()
        try:
            while not self.halt.is_set():
                if self.want_pause.is_set():
                    self.paused.set()
                    self.resumed.wait()
                    self.resumed.clear()
                    continue
                i = self.rounds
                key, doc = f"dw:py:doc:{i % KEYS}", _doc(rng, 200_000 + i)
                client, _ = self._acked(client, "hset", key, mapping=doc)
                self.docs[key] = doc
                skey, value = f"dw:py:s:{i % KEYS}", str(i).encode()
                client, _ = self._acked(client, "set", skey, value)
                self.strings[skey] = value
                client, got = self._acked(client, "get", skey)
                self.wrong_reads += got != value
                if i % 5 == 4:
                    victim = f"dw:py:doc:{(i * 7) % KEYS}"
                    client, _ = self._acked(client, "delete", victim)
                    self.docs[victim] = None
                self.rounds += 1
        finally:
            client.close()

    def _acked(
        self, client: RedisCluster, method: str, *args: Any, **kwargs: Any
    ) -> tuple[RedisCluster, Any]:
        """``client.method(*args, **kwargs)`` until it is acknowledged: the client to go
        on with (a new one after a connection error) and the reply."""
        while True:
            try:
                return client, getattr(client, method)(*args, **kwargs)
            except Exception as exc:
                self.errors += 1
                time.sleep(0.05)
                if "TTL exhausted" in str(exc) or isinstance(exc, redis.ConnectionError):
                    with contextlib.suppress(Exception):
                        client.close()
                    client = self.cluster.client()

    def pause(self) -> None:
        self.want_pause.set()
        assert self.paused.wait(60), "the redis-py writer did not pause"

    def resume(self) -> None:
        self.want_pause.clear()
        self.paused.clear()
        self.resumed.set()


class NodeWriter:
    """The node-redis workload script, driven through its stdin (see its header)."""

    def __init__(self, root: str) -> None:
        self.proc = start_node(SCRIPT, root, "dw:js", str(KEYS), str(DIM), "7")
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.last: dict[str, Any] = {}

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def _ask(self, command: str, key: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = json.loads(self.lines.get(timeout=max(0.1, deadline - time.monotonic())))
            except queue.Empty:
                message = f"node-redis did not answer {command!r}: {self.stderr()}"
                raise AssertionError(message) from None
            if key in answer:
                return answer

    def stderr(self) -> str:
        if self.proc.poll() is None:
            return "(still running)"
        assert self.proc.stderr is not None
        return self.proc.stderr.read()[-3000:]

    def pause(self) -> dict[str, Any]:
        self.last = self._ask("pause", "paused")
        return self.last

    def resume(self) -> None:
        self._ask("resume", "resumed")

    def progress(self) -> int:
        """Rounds acknowledged so far (a pause and a resume)."""
        rounds = int(self.pause()["rounds"])
        self.resume()
        return rounds

    def state(self) -> tuple[dict[str, Doc | None], dict[str, bytes]]:
        answer = self._ask("state", "docs")
        docs: dict[str, Doc | None] = {
            key: None
            if doc is None
            else {
                "title": doc["title"].encode(),
                "tag": doc["tag"].encode(),
                "n": doc["n"].encode(),
                "v": base64.b64decode(doc["v"]),
            }
            for key, doc in answer["docs"].items()
        }
        return docs, {k: v.encode() for k, v in answer["strings"].items()}

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(Exception):
                self._ask("stop", "stopped")
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()


class Stage:
    """The cluster, the two writers, the base documents and the standalone node."""

    def __init__(self, cluster: KafkaCluster, single: ServerThread) -> None:
        self.cluster = cluster
        self.single = single
        rng = random.Random(5)
        self.base: dict[str, Doc] = {
            f"dw:base:doc:{i:03d}": _doc(rng, 100_000 + i) for i in range(BASE_DOCS)
        }
        self.py = Writer(cluster)
        self.js: NodeWriter | None = None
        self.checked: list[str] = []

    def rounds(self) -> tuple[int, int]:
        return self.py.rounds, int(self.js.last.get("rounds", 0)) if self.js else 0

    def checkpoint(self, name: str) -> None:
        """Pause both writers, check every acknowledged write and the searches, resume."""
        assert self.js is not None
        self.py.pause()
        self.js.pause()
        try:
            js_docs, js_strings = self.js.state()
            docs: dict[str, Doc | None] = {**self.base, **self.py.docs, **js_docs}
            strings = {**self.py.strings, **js_strings}
            self._check_acknowledged(name, docs, strings)
            self._check_searches(name, {k: d for k, d in docs.items() if d is not None})
            self.checked.append(name)
        finally:
            self.py.resume()
            self.js.resume()

    def _check_acknowledged(
        self, name: str, docs: dict[str, Doc | None], strings: dict[str, bytes]
    ) -> None:
        with self.cluster.client() as rc:
            pipe = rc.pipeline()
            for key in docs:
                pipe.hgetall(key)
            for key in strings:
                pipe.get(key)
            got = pipe.execute()
        lost = [
            key
            for key, want, have in zip(
                [*docs, *strings], [*docs.values(), *strings.values()], got, strict=True
            )
            if have
            != ({k.encode(): v for k, v in want.items()} if isinstance(want, dict) else want)
            and not (want is None and have == {})
        ]
        assert not lost, f"{name}: {len(lost)} acknowledged writes not read back: {lost[:5]}"

    def _check_searches(self, name: str, docs: dict[str, Doc]) -> None:
        with redis.Redis(port=self.single.port) as r:
            with contextlib.suppress(redis.ResponseError):
                r.execute_command("FT.DROPINDEX", INDEX, "DD")
            pipe = r.pipeline(transaction=False)
            for key in sorted(docs):  # no ties in these queries: the order does not matter
                pipe.hset(key, mapping=docs[key])
            pipe.execute()
            _create_index(r)
            wait_until(  # the background scan of the documents written before FT.CREATE
                lambda: r.ft(INDEX).info()["indexing"] in (0, "0", b"0"), 10, "indexed"
            )
        expected = [_search(self.single.port, q) for q in QUERIES]
        assert expected[2] == b"*1\r\n:%d\r\n" % len(docs), "the standalone indexed all"
        live = [n for n in self.cluster.nodes if n.alive]
        assert len(live) >= 5

        def differences() -> list[str]:
            out = []
            for node in live:
                for query, want in zip(QUERIES, expected, strict=True):
                    have = _search(node.port, query)
                    if have != want:
                        out.append(f"{node.address} {query[0]!r}: {have!r} != {want!r}")
            return out

        # a node reads a new topology on its own (after a failover, a move): a little time
        found: list[list[str]] = []
        with contextlib.suppress(TimeoutError):
            wait_until(lambda: not found.append(differences()) and not found[-1], 15, name)
        assert found and not found[-1], f"{name}: cross-shard search differs: {found[-1][:3]}"


@pytest.fixture(scope="module")
def stage(kafka_broker: KafkaBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stage]:
    root = tmp_path_factory.mktemp("done-when")
    cluster = start_kafka_cluster(kafka_broker.bootstrap, root, shards=3, replicas=1)
    single = ServerThread(
        ServerConfig(port=0, data_dir=root / "single", appendfsync=FsyncPolicy.EVERYSEC)
    ).start()
    stage = Stage(cluster, single)
    try:
        yield stage
    finally:
        stage.py.halt.set()
        stage.py.resume()
        if stage.js is not None:
            stage.js.stop()
        stage.py.join(30)
        single.stop()
        cluster.stop()


def _key_of(node: ClusterProcess) -> str:
    """A key of a slot ``node`` serves."""
    with node.client() as r:
        ranges = [
            (e[0], e[1]) for e in r.execute_command("CLUSTER", "SLOTS") if e[2][1] == node.port
        ]
    return next(
        key
        for i in range(1_000_000)
        if any(a <= key_slot((key := f"dw:z:{i}").encode()) <= b for a, b in ranges)
    )


def _resharded_keys_on_target(cluster: KafkaCluster, moved: list[str], src: ClusterProcess,
                              dst: ClusterProcess) -> None:  # fmt: skip
    with src.client() as s, dst.client() as d:
        for key in moved:
            slot = key_slot(key.encode())
            assert d.execute_command("CLUSTER", "COUNTKEYSINSLOT", slot) >= 1, key
            assert s.execute_command("CLUSTER", "COUNTKEYSINSLOT", slot) == 0, key
            with pytest.raises(redis.exceptions.AskError) as err:  # MovedError's base
                s.get(key)
            assert err.value.node_addr == ("127.0.0.1", dst.port)


@pytest.mark.slow
def test_kill9_and_reshard_under_two_clients_with_search_equal_to_one_node(stage: Stage) -> None:
    cluster = stage.cluster
    with cluster.client() as rc:
        pipe = rc.pipeline()
        for key, doc in stage.base.items():
            pipe.hset(key, mapping=doc)
        pipe.execute()
        _create_index(rc)  # reaches every shard; each indexes what it holds
    stage.py.start()
    stage.js = NodeWriter(cluster.shards[1][0].address)
    wait_until(lambda: stage.py.rounds > 0 and stage.js.progress() > 0, 60, "clients run")
    stage.checkpoint("before")

    # (a) kill -9 of shard 0's primary while both clients write
    before = stage.py.rounds
    result = failover_once(cluster, 0)
    old, new = result["old"], result["new"]
    print(
        f"kill -9 to a write accepted: {result['failover_s']:.2f} s; to every node naming "
        f"the new primary: {result['published_s']:.2f} s"
    )
    wait_until(lambda: stage.py.rounds > before + 20, 60, "redis-py writes after the failover")
    stage.checkpoint("after failover")
    old.restart(same_port=False)  # same node id and data: it must come back a replica
    with old.client() as r:
        wait_until(lambda: r.execute_command("ROLE")[0] == b"slave", 30, "the old one follows")
        with pytest.raises(redis.exceptions.MovedError) as err:  # fenced: writes go to the
            r.set(_key_of(new), b"zombie")  # new primary
    assert err.value.node_addr == ("127.0.0.1", new.port)

    # (b) move MOVED slots from shard 1 to shard 2 while both clients write
    src, dst = cluster.primary(1), cluster.primary(2)
    mid_move: list[BaseException | None] = []

    def during(step: list[int], moved: int) -> None:
        if mid_move:
            return
        try:
            with src.client() as s:  # really half-moved: the step's slots still hold keys
                left = sum(s.execute_command("CLUSTER", "COUNTKEYSINSLOT", x) for x in step)
            if left == 0:  # the step's last batch: try the next step
                return
            stage.checkpoint("during reshard")
            mid_move.append(None)
        except BaseException as exc:
            mid_move.append(exc)

    topology = open_source(cluster.topology_url)
    topology.start()
    mover = Resharder(
        topology,
        lambda h, p: redis.Redis(host=h, port=p, socket_timeout=30),
        batch_keys=2,
        step_slots=MOVED // 2,
        on_batch=during,
    )
    try:
        report = mover.reshard(MOVED, [src.node_id()], dst.node_id())
    finally:
        mover.close()
        topology.stop()
    assert mid_move, "no batch left keys behind in its step: no check while slots were open"
    assert mid_move[0] is None, mid_move
    assert report.slots == MOVED and report.keys > 0
    stage.checkpoint("after reshard")

    with src.client() as s:
        first = min(e[0] for e in s.execute_command("CLUSTER", "SLOTS") if e[2][1] == dst.port)
    moved_range = range(first, first + MOVED)
    # the writer pauses first: read while it runs, its state could name a document it
    # deletes next (a slot then empty on the target), or change size under the loop
    stage.py.pause()
    try:
        moved = [
            k
            for k in [*stage.base, *stage.py.docs, *stage.py.strings]
            if key_slot(k.encode()) in moved_range
            and (k in stage.base or stage.py.docs.get(k) is not None or k in stage.py.strings)
        ]
        assert moved, "no key of the moved slots"
        _resharded_keys_on_target(cluster, moved, src, dst)
    finally:
        stage.py.resume()
    print(
        f"redis-py: {stage.py.rounds} rounds, {stage.py.errors} retried; node-redis: "
        f"{stage.js.last.get('rounds')} rounds, {stage.js.last.get('errors')} retried; "
        f"reshard: {report.slots} slots, {report.keys} keys in {report.seconds:.2f} s"
    )
    assert stage.checked == ["before", "after failover", "during reshard", "after reshard"]
    assert stage.py.wrong_reads == 0 and stage.js.last.get("wrong_reads") == 0
