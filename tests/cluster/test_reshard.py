"""Online resharding: the per-slot key index, MIGRATE (against the peer too), and
``memvec cluster add-shard`` + ``memvec cluster reshard`` while redis-py's
``RedisCluster`` writes.

The cluster here is three in-process servers on file logs (cheap to start, for the
suite's budget); the same resharding between real processes on Kafka logs, next to
failover, is tests/cluster/test_failover_cluster.py, and ``python -m
bench.cluster_reshard`` runs it on 3 shards x (primary + replica).
"""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from redis.cluster import RedisCluster
from redis.commands.search.query import Query

from bench.cluster_failover import Workload, wait_until
from pipeline.cli import main
from store.cluster import key_slot
from store.cluster.fanout import COORDINATOR_LIB
from store.config import FsyncPolicy
from store.server import ServerConfig, ServerThread
from tests.harness.components import RedisStack


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def memvec_cli(*args: str) -> Ran:
    """``memvec cluster ARGS`` in this process (the entry point's own ``main``; a
    subprocess would add an interpreter start per call)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["cluster", *args])
    return Ran(code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="module")
def standalone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    config = ServerConfig(
        port=0, data_dir=tmp_path_factory.mktemp("migrate"), appendfsync=FsyncPolicy.EVERYSEC
    )
    server = ServerThread(config).start()
    try:
        yield server
    finally:
        server.stop()


def test_migrate_to_and_from_the_peer(standalone: ServerThread, redis_stack: RedisStack) -> None:
    """MIGRATE's payload and RESTORE-ASKING are Redis's: keys move memvec -> peer -> memvec
    with values and TTLs; NOKEY, the KEYS rule and syntax errors as the peer answers."""
    here = redis.Redis(port=standalone.port)
    peer = redis.Redis(host=redis_stack.host, port=redis_stack.port)
    keys = ["mgr:s", "mgr:h", "mgr:l"]
    try:
        here.set("mgr:s", "v", px=600_000)
        here.hset("mgr:h", mapping={"a": "1", "b": "2"})
        here.rpush("mgr:l", "x", "y")
        args = [redis_stack.host, redis_stack.port, "", 0, 5000, "KEYS", *keys]
        assert here.execute_command("MIGRATE", *args) == b"OK"
        assert here.exists(*keys) == 0
        assert peer.get("mgr:s") == b"v" and 0 < peer.pttl("mgr:s") <= 600_000
        assert peer.hgetall("mgr:h") == {b"a": b"1", b"b": b"2"}
        assert peer.lrange("mgr:l", 0, -1) == [b"x", b"y"]
        back = ["127.0.0.1", standalone.port, "", 0, 5000, "COPY", "KEYS", *keys]
        assert peer.execute_command("MIGRATE", *back) == b"OK"  # the peer's MIGRATE, to memvec
        assert here.hgetall("mgr:h") == {b"a": b"1", b"b": b"2"} and peer.exists(*keys) == 3
        assert here.execute_command("MIGRATE", *args[:5], "REPLACE", "KEYS", *keys) == b"OK"
        for target, client in ((redis_stack.port, here), (standalone.port, peer)):
            host = "127.0.0.1" if client is peer else redis_stack.host
            assert client.execute_command("MIGRATE", host, target, "mgr:none", 0, 1000) == b"NOKEY"
        for bad in (
            ("MIGRATE", redis_stack.host, 1, "mgr:s", 0, 1000, "KEYS", "mgr:s"),
            ("MIGRATE", redis_stack.host, 1, "", 0, 1000, "BOGUS"),
        ):
            with pytest.raises(redis.ResponseError) as theirs:
                peer.execute_command(*bad)
            with pytest.raises(redis.ResponseError) as ours:
                here.execute_command(*bad)
            assert str(ours.value) == str(theirs.value)
        here.set("mgr:s", "w")
        with pytest.raises(redis.ResponseError, match=r"^IOERR"):  # nobody listens there
            here.execute_command("MIGRATE", "127.0.0.1", 1, "mgr:s", 0, 500)
        assert here.get("mgr:s") == b"w"  # kept: nothing was moved
        with pytest.raises(redis.ResponseError, match="BUSYKEY"):  # the peer has it, no REPLACE
            here.execute_command("MIGRATE", redis_stack.host, redis_stack.port, "mgr:s", 0, 1000)
        assert here.get("mgr:s") == b"w"
    finally:
        peer.delete(*keys)
        here.delete(*keys)
        here.close()
        peer.close()


def test_the_slot_index_follows_every_key_change(
    cluster_threads: Callable[..., tuple[list[ServerThread], str]],
) -> None:
    """COUNTKEYSINSLOT/GETKEYSINSLOT read the per-slot index; it follows writes, deletes,
    RENAME, expiry, FLUSHALL and a restart (snapshot + log replay)."""
    from store.cluster.admin import create_cluster

    servers, url = cluster_threads(1)
    create_cluster(url, [f"127.0.0.1:{servers[0].port}"])
    r = redis.Redis(port=servers[0].port)
    slot = key_slot(b"{ix}")

    def count() -> int:
        return int(r.execute_command("CLUSTER", "COUNTKEYSINSLOT", slot))

    def listed() -> set[bytes]:
        return set(r.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100))

    r.set("{ix}a", 1)
    r.hset("{ix}h", "f", "v")
    r.rpush("{ix}l", 1)
    assert count() == 3 and listed() == {b"{ix}a", b"{ix}h", b"{ix}l"}
    r.rename("{ix}a", "{ix}b")
    r.lpop("{ix}l")  # an emptied list is deleted
    r.hdel("{ix}h", "f")
    assert listed() == {b"{ix}b"}
    r.set("{ix}t", 1, px=30)
    wait_until(lambda: r.get("{ix}t") is None and count() == 1, 5, "the expired key leaves")
    r.set("{ix}c", 1)
    r.bgsave()
    wait_until(lambda: r.info("persistence")["rdb_bgsave_in_progress"] == 0, 10, "snapshot")
    r.set("{ix}d", 1)  # in the log only
    r.close()
    config = servers[0].server.config
    servers[0].stop()
    again = ServerThread(config).start()
    try:
        r = redis.Redis(port=again.port)
        wait_until(lambda: b"cluster_state:ok" in r.execute_command("CLUSTER", "INFO"), 10, "ok")
        assert listed() == {b"{ix}b", b"{ix}c", b"{ix}d"}
        r.flushall()
        assert count() == 0 and listed() == set()
    finally:
        r.close()
        again.stop()


@dataclass
class Member:
    """A cluster node in this process (a ServerThread: no interpreter start per node)."""

    server: ServerThread

    @property
    def port(self) -> int:
        return int(self.server.port)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=20)


@pytest.fixture(scope="module")
def file_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list[Member], str]]:
    root = tmp_path_factory.mktemp("reshard")
    url = f"file:{root / 'topology.json'}"
    nodes = []
    try:
        for i in range(3):
            config = ServerConfig(
                port=0,
                data_dir=root / f"node{i}",
                appendfsync=FsyncPolicy.EVERYSEC,
                cluster_enabled=True,
                cluster_topology=url,
            )
            nodes.append(Member(ServerThread(config).start()))
        out = memvec_cli("create", "--topology", url, nodes[0].address, nodes[1].address)
        assert out.returncode == 0, out.stdout + out.stderr
        yield nodes, url
    finally:
        for node in nodes:
            node.server.stop()


def test_add_shard_and_reshard_while_writing(file_cluster: tuple[list[Member], str]) -> None:
    nodes, url = file_cluster
    out = memvec_cli("add-shard", "--topology", url, nodes[2].address)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "(no slots)" in out.stdout
    with nodes[2].client() as r:
        new_id = r.execute_command("CLUSTER", "MYID").decode()
        assert b"cluster_size:2" in r.execute_command("CLUSTER", "INFO")  # shards with slots

    def client() -> RedisCluster:
        return RedisCluster(host="127.0.0.1", port=nodes[0].port, socket_timeout=10)

    for node in nodes:  # each shard's index (sent to each: one node may already broadcast)
        with node.client() as r:
            try:
                r.execute_command(
                    "FT.CREATE", "rsidx", "ON", "HASH", "PREFIX", "1", "doc:", "SCHEMA",
                    "n", "NUMERIC",
                )  # fmt: skip
            except redis.ResponseError as exc:
                assert "Index already exists" in str(exc)

    with client() as rc:
        pipe = rc.pipeline()
        for i in range(1000):
            pipe.hset(f"doc:{i}", mapping={"n": i})
        pipe.execute()
    workload = Workload(client, "rw", keys=100)
    workload.start()
    wait_until(lambda: workload.writes > 100, 30, "the workload writes")
    started = time.monotonic()
    out = memvec_cli(
        "reshard", "--topology", url, "--slots", "5461", "--from", "all", "--to", new_id,
        "--batch", "100",
    )  # fmt: skip
    took = time.monotonic() - started
    assert out.returncode == 0, out.stdout + out.stderr
    print(f"reshard: {out.stdout.strip().splitlines()[-1]} ({took:.1f} s)")
    wait_until(lambda: workload.writes > 400, 30, "the workload writes after the reshard")
    workload.stop.set()
    workload.join(30)
    with client() as rc:
        assert workload.check(rc) == [], "acknowledged writes lost"
        assert [rc.hget(f"doc:{i}", "n") for i in range(1000)] == [
            str(i).encode() for i in range(1000)
        ]
        counts = []
        for node in nodes:
            with node.client() as r:
                info = r.execute_command("CLUSTER", "INFO").decode()
                assert "cluster_state:ok" in info and "cluster_size:3" in info
                counts.append(r.dbsize())
        assert min(counts) > 0 and sum(counts) == 1000 + len(workload.acked) * 2
        # each shard's index follows its documents: indexed where they moved, gone where
        # they left (RESTORE and DEL go through the write path)
        indexed = []
        for node in nodes:
            with node.client() as r:
                docs = sum(1 for _ in r.scan_iter(match="doc:*", count=1000))
                # this node's own index: FT.SEARCH from a client named as the cluster's
                # coordinator runs on the node's data instead of fanning out
                r.execute_command("CLIENT", "SETINFO", "LIB-NAME", COORDINATOR_LIB)
                total = r.ft("rsidx").search(Query("*").paging(0, 0)).total
                assert total == docs
                indexed.append(total)
        assert sum(indexed) == 1000 and min(indexed) > 0
        # every key is held by the owner of its slot, and by nobody else
        for node in nodes:
            with node.client() as r:
                for key in r.scan_iter(count=1000):
                    assert r.execute_command("CLUSTER", "COUNTKEYSINSLOT", key_slot(key)) >= 1
                    r.execute_command("READWRITE")
                    assert r.exists(key) == 1  # no MOVED: served by the node holding it
    assert [e for e in workload.errors if "TTL exhausted" in e] == []


def test_reshard_refuses_bad_requests(file_cluster: tuple[list[Member], str]) -> None:
    nodes, url = file_cluster
    with nodes[0].client() as r:
        my_id = r.execute_command("CLUSTER", "MYID").decode()
    for args, message in (
        (("--slots", "1", "--from", "nope", "--to", my_id), "no shard or node 'nope'"),
        (("--slots", "1", "--from", my_id, "--to", my_id), "the target shard is also a source"),
        (("--slots", "99999", "--from", "all", "--to", my_id), "--slots must be between 1 and"),
    ):
        out = memvec_cli("reshard", "--topology", url, *args)
        assert out.returncode == 1 and message in out.stderr, out.stderr
    assert Path(url[len("file:") :]).exists()


def test_crc16_in_c_is_the_reference_crc() -> None:
    """key_slot hashes with binascii.crc_hqx (the index hashes every key added)."""
    import random

    from store.cluster.slots import crc16, crc16_reference

    rng = random.Random(7)
    samples = [b"", b"123456789", *(rng.randbytes(rng.randrange(64)) for _ in range(500))]
    assert crc16(b"123456789") == 0x31C3  # the XMODEM check value
    assert all(crc16(s) == crc16_reference(s) for s in samples)


def test_topology_changes_of_a_move_and_a_failover() -> None:
    """The pure steps: each is the next epoch and keeps every invariant; a slot moving
    elsewhere, or no longer owned by the source, is refused."""
    import secrets

    from store.cluster import Node, Shard, Topology
    from store.cluster.failover import with_address, with_primary
    from store.cluster.reshard import ReshardError, close_slots, find_shard, open_slots

    def node(role: str, port: int) -> Node:
        return Node(secrets.token_hex(20), "127.0.0.1", port, role)

    a = Shard(secrets.token_hex(20), (node("primary", 1), node("replica", 2)), ((0, 99),))
    b = Shard(secrets.token_hex(20), (node("primary", 3),), ((100, 16383),))
    c = Shard(secrets.token_hex(20), (node("primary", 4),))
    catalog = {"indexes": {"idx": ["FT.CREATE", "idx", "SCHEMA", "t", "TAG"]}}
    t0 = Topology(5, (a, b, c), search=catalog)
    t1 = open_slots(t0, [0, 1], a.id, b.id, side="importing")
    assert t1.epoch == 6 and t1.shard(b.id).importing == {0: a.id, 1: a.id}  # type: ignore[union-attr]
    assert t1.shard(a.id).migrating == {}  # type: ignore[union-attr]
    t2 = open_slots(t1, [0, 1], a.id, b.id, side="migrating")
    assert t2.shard(a.id).migrating == {0: b.id, 1: b.id}  # type: ignore[union-attr]
    with pytest.raises(ReshardError, match="already moving elsewhere"):
        open_slots(t2, [0], a.id, c.id, side="importing")
    with pytest.raises(ReshardError, match="not owned by shard"):
        open_slots(t2, [500], a.id, b.id, side="importing")
    t3 = close_slots(t2, [0, 1], a.id, b.id)
    assert t3.epoch == 8 and t3.owner(0).id == t3.owner(1).id == b.id  # type: ignore[union-attr]
    assert t3.shard(a.id).slots == ((2, 99),) and t3.shard(a.id).migrating == {}  # type: ignore[union-attr]
    assert t3.shard(b.id).importing == {} and t3.shard(b.id).epoch == 8  # type: ignore[union-attr]
    assert (
        find_shard(t3, a.nodes[1].id) is t3.shard(a.id) and find_shard(t3, "127.0.0.1:3").id == b.id
    )
    t4 = with_primary(t3, a.nodes[1].id)
    assert t4 is not None and t4.epoch == 9
    assert [n.role for n in t4.shard(a.id).nodes] == ["replica", "primary"]  # type: ignore[union-attr]
    assert with_primary(t4, a.nodes[1].id) is None  # already primary: nothing to publish
    t5 = with_address(t4, a.nodes[0].id, "127.0.0.1", 9)
    assert t5 is not None and t5.find_node(a.nodes[0].id)[1].port == 9  # type: ignore[index]
    assert with_address(t5, a.nodes[0].id, "127.0.0.1", 9) is None
    # every step keeps the FT.* catalog, so shards added later still get the indexes
    assert all(t.search == catalog for t in (t1, t2, t3, t4, t5))
