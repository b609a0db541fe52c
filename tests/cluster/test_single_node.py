"""A one-node memvec cluster (a real process) against a one-node valkey cluster.

Every CLUSTER reply and every routing error is sent to both and compared as raw RESP2 and
RESP3 bytes, with what must differ masked: node and shard ids, ports, config epochs,
replication offsets. Then redis-py's RedisCluster and ``redis-cli -c`` use the node.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from redis.cluster import RedisCluster

from store.cluster import FileTopologySource, key_slot
from store.cluster.admin import create_cluster
from store.server import ServerConfig, ServerThread
from tests.cluster.conftest import NodeProcess, ValkeyClusterNode, own_all_slots
from tests.harness.components import RedisStack
from tests.harness.wait import wait_for
from tests.server.conftest import RawClient

KEYS = [b"clt:a", b"clt:b", b"{clt}:1", b"{clt}:2", b"x{clt}y", b"foo{}{bar}", b"", b"\xff\x00k"]


TOPOLOGY: list[str] = []  # the module's topology URL


@pytest.fixture(scope="module")
def node(
    memvec_nodes: Callable[[int, str], list[NodeProcess]],
    tmp_path_factory: pytest.TempPathFactory,
    valkey_cluster: ValkeyClusterNode,
) -> NodeProcess:
    """One memvec node owning every slot; before that, its slotless replies are compared
    with the fresh valkey node's (both alone, no slots: CLUSTERDOWN)."""
    url = f"file:{tmp_path_factory.mktemp('topology') / 'topology.json'}"
    (one,) = memvec_nodes(1, url)
    for protocol in (2, 3):
        before = Peers(one, valkey_cluster, protocol)
        for sub in ("NODES", "SHARDS", "SLOTS", "INFO", "MYSHARDID"):
            before.same("CLUSTER", sub)
        assert before.same("GET", "k") == b"-CLUSTERDOWN Hash slot not served\r\n"
        before.close()
    create_cluster(url, [one.address])
    own_all_slots(valkey_cluster)
    TOPOLOGY.append(url)
    return one


class Peers:
    """Raw sockets to memvec and valkey in one protocol; replies compared after masking."""

    def __init__(self, memvec: NodeProcess, valkey: ValkeyClusterNode, protocol: int) -> None:
        self.sides = [RawClient(memvec.port or 0), RawClient(valkey.port)]
        self.masks: list[list[tuple[bytes, bytes]]] = [[], []]
        for side in self.sides:
            if protocol == 3:
                side.send(b"*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n")
                side.read_reply()
        for i, side in enumerate(self.sides):
            myid = self._call(side, [b"CLUSTER", b"MYID"])
            shard = self._call(side, [b"CLUSTER", b"MYSHARDID"])
            port = (memvec.port, valkey.port)[i]
            self.masks[i] = [
                (myid.split(b"\r\n")[1], b"N" * 40),
                (shard.split(b"\r\n")[1], b"S" * 40),
                (str(port).encode(), b"PORT"),
                (str(port + 10000).encode(), b"BUS"),
            ]

    @staticmethod
    def _call(side: RawClient, args: list[bytes]) -> bytes:
        side.send(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args))
        return side.read_reply()

    def replies(self, *args: bytes | str | int) -> list[bytes]:
        wire = [a if isinstance(a, bytes) else str(a).encode() for a in args]
        out = []
        for side, masks in zip(self.sides, self.masks, strict=True):
            reply = self._call(side, wire)
            for old, new in masks:
                reply = reply.replace(old, new)
            reply = re.sub(rb"(cluster_(?:current|my)_epoch:)\d+", rb"\1E", reply)
            reply = re.sub(rb"(replication-offset\r\n:)\d+", rb"\1O", reply)
            reply = re.sub(rb"(master - 0 0 )\d+", rb"\1E", reply)  # NODES config epoch
            reply = re.sub(rb"(?m)^([$=])\d+\r\n", rb"\1LEN\r\n", reply)  # lengths follow masks
            out.append(reply)
        return out

    def close(self) -> None:
        for side in self.sides:
            side.close()

    def same(self, *args: bytes | str | int) -> bytes:
        mine, theirs = self.replies(*args)
        assert mine == theirs, f"{args}: memvec {mine!r} != valkey {theirs!r}"
        return mine


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def peers(
    node: NodeProcess, valkey_cluster: ValkeyClusterNode, request: pytest.FixtureRequest
) -> Iterator[Peers]:
    p = Peers(node, valkey_cluster, request.param)
    for key in KEYS:
        p.same(b"SET", key, b"v")
    try:
        yield p
    finally:
        for key in KEYS:
            p.same(b"DEL", key)
        for side in p.sides:
            side.close()


def test_cluster_replies_are_valkey_s(peers: Peers) -> None:
    for sub in ("SLOTS", "SHARDS", "NODES", "INFO", "MYID", "MYSHARDID", "LINKS"):
        peers.same("CLUSTER", sub)
    for key in KEYS:
        peers.same(b"CLUSTER", b"KEYSLOT", key)
    slot = int(peers.replies(b"CLUSTER", b"KEYSLOT", b"{clt}:1")[0][1:-2])
    assert peers.same("CLUSTER", "COUNTKEYSINSLOT", slot) == b":3\r\n"
    peers.same("CLUSTER", "GETKEYSINSLOT", slot, 0)
    peers.same("CLUSTER", "GETKEYSINSLOT", slot + 1, 5)
    peers.same(
        "CLUSTER", "GETKEYSINSLOT", int(peers.replies(b"CLUSTER", b"KEYSLOT", b"clt:a")[0][1:-2]), 5
    )


@pytest.mark.parametrize(
    "args",
    [
        ("CLUSTER",),
        ("CLUSTER", "NOPE"),
        ("CLUSTER", "KEYSLOT"),
        ("CLUSTER", "KEYSLOT", "a", "b"),
        ("CLUSTER", "INFO", "x"),
        ("CLUSTER", "COUNTKEYSINSLOT", "16384"),
        ("CLUSTER", "COUNTKEYSINSLOT", "-1"),
        ("CLUSTER", "COUNTKEYSINSLOT", "x"),
        ("CLUSTER", "GETKEYSINSLOT", "1", "-1"),
        ("CLUSTER", "GETKEYSINSLOT", "16384", "1"),
        ("CLUSTER", "GETKEYSINSLOT", "x", "1"),
        ("CLUSTER", "REPLICAS", "0" * 40),
        ("MSET", "clt:a", "1", "clt:b", "2"),
        ("MGET", "clt:a", "clt:b"),
        ("DEL", "clt:a", "clt:b"),
        ("SUNIONSTORE", "{clt}:d", "clt:a"),
        ("EVAL", "return 1", "2", "clt:a", "clt:b"),
        ("EVAL", "return redis.call('GET', KEYS[1])", "2", "{clt}:1", "{clt}:2"),
        ("MSET", "{clt}:1", "1", "{clt}:2", "2"),
        ("XREAD", "STREAMS", "clt:a", "clt:b", "0", "0"),
        ("ZUNIONSTORE", "clt:a", "2", "{clt}:1", "{clt}:2"),
        ("ZINTERCARD", "2", "clt:a", "clt:b"),
        ("LMPOP", "2", "clt:a", "clt:b", "LEFT"),
        ("SINTERCARD", "2", "clt:a", "clt:b"),
        ("BLMPOP", "0.01", "2", "clt:a", "clt:b", "LEFT"),
        ("PFCOUNT", "clt:a", "clt:b"),
        ("RENAME", "clt:a", "clt:b"),
        ("COPY", "clt:a", "clt:b"),
        ("SMOVE", "clt:a", "clt:b", "m"),
        ("LMOVE", "clt:a", "clt:b", "LEFT", "LEFT"),
        ("BITOP", "AND", "clt:d", "clt:a"),
        ("OBJECT", "ENCODING", "clt:a"),
        ("EXISTS", "clt:a", "clt:b"),
        ("WATCH", "clt:a", "clt:b"),
        ("FCALL", "nofunc", "2", "clt:a", "clt:b"),
        ("GEORADIUS", "{clt}:g", "0", "0", "1", "km", "STORE", "clt:b"),
        ("GEORADIUSBYMEMBER", "{clt}:g", "m", "1", "km", "STOREDIST", "clt:b"),
        ("GEORADIUS", "{clt}:g", "0", "0", "1", "km", "STORE", "{clt}:b"),
        ("EVAL", "return 1", "x"),
        ("READONLY",),
        ("READWRITE",),
        ("ASKING",),
        ("SELECT", "0"),
    ],
    ids=lambda a: " ".join(a),
)
def test_routing_errors_are_valkey_s(peers: Peers, args: tuple[str, ...]) -> None:
    peers.same(*args)


def test_crossslot_inside_multi_discards_it(peers: Peers) -> None:
    peers.same("MULTI")
    peers.same("SET", "clt:a", "1")
    peers.same("SET", "clt:b", "2")
    peers.same("EXEC")  # CROSSSLOT, and the transaction is gone
    peers.same("EXEC")
    peers.same("MULTI")
    peers.same("SET", "{clt}:1", "1")
    peers.same("GET", "{clt}:2")
    peers.same("EXEC")


def _set_slots(peers: Peers, valkey: ValkeyClusterNode, first: int) -> None:
    """Own slots ``first``-16383 on both sides (memvec: publish; valkey: DEL/ADDSLOTSRANGE)."""
    source = FileTopologySource(TOPOLOGY[0][len("file:") :])
    current = source.refresh()
    assert current is not None
    (shard,) = current.shards
    source.publish(
        dataclasses.replace(
            current,
            epoch=current.epoch + 1,
            shards=(dataclasses.replace(shard, slots=((first, 16383),)),),
        )
    )
    with redis.Redis(port=valkey.port) as r:
        if first:
            r.execute_command("CLUSTER", "DELSLOTSRANGE", 0, first - 1)
        else:
            r.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 99)
    state = b"cluster_state:fail" if first else b"cluster_state:ok"
    wait_for(
        lambda: all(state in reply for reply in peers.replies("CLUSTER", "INFO")),
        10,
        message="the nodes did not see the slot change",
    )


def test_partial_coverage_is_clusterdown(peers: Peers, valkey_cluster: ValkeyClusterNode) -> None:
    low = next(k for k in (f"low{i}".encode() for i in range(10_000)) if key_slot(k) < 100)
    _set_slots(peers, valkey_cluster, 100)
    try:
        for sub in ("SLOTS", "SHARDS", "NODES", "INFO"):
            peers.same("CLUSTER", sub)
        assert peers.same("GET", low) == b"-CLUSTERDOWN Hash slot not served\r\n"
        assert peers.same("GET", "clt:a") == b"-CLUSTERDOWN The cluster is down\r\n"
        peers.same("PING")
    finally:
        _set_slots(peers, valkey_cluster, 0)


def test_redis_py_cluster_client(node: NodeProcess) -> None:
    rc = RedisCluster(host="127.0.0.1", port=node.port or 0, socket_timeout=20)
    try:
        assert rc.set("clt:rc", "v") and rc.get("clt:rc") == b"v"
        assert rc.mset({"{clt}:m1": "1", "{clt}:m2": "2"})
        assert rc.mget("{clt}:m1", "{clt}:m2") == [b"1", b"2"]
        pipe = rc.pipeline()
        for i in range(10):
            pipe.set(f"clt:p{i}", i)
        pipe.get("clt:p3")
        assert pipe.execute()[-1] == b"3"
        assert rc.cluster_info()["cluster_state"] == "ok"
        with pytest.raises(redis.exceptions.ClusterCrossSlotError):
            rc.execute_command(
                "MSET", "clt:x", "1", "clt:y", "2", target_nodes=RedisCluster.DEFAULT_NODE
            )
        rc.delete("clt:rc", "{clt}:m1", "{clt}:m2", *[f"clt:p{i}" for i in range(10)])
        # FT.* have no keys: served by the node that gets them (one shard here: all data)
        rc.execute_command(
            "FT.CREATE", "clt-idx", "ON", "HASH", "PREFIX", "1", "clt:doc:", "SCHEMA", "tag", "TAG"
        )
        rc.hset("clt:doc:1", mapping={"tag": "a"})
        rc.hset("clt:doc:2", mapping={"tag": "b"})
        found = rc.execute_command("FT.SEARCH", "clt-idx", "@tag:{a}", "NOCONTENT")
        assert found[b"total_results"] == 1  # redis-py 8's cluster client speaks RESP3
        assert [r[b"id"] for r in found[b"results"]] == [b"clt:doc:1"]
        rc.execute_command("FT.DROPINDEX", "clt-idx", "DD")
    finally:
        rc.close()


def test_redis_cli_cluster_mode(node: NodeProcess, tmp_path: Path) -> None:
    cli = shutil.which("redis-cli")
    assert cli is not None, "redis-cli (Debian redis-tools) is needed"
    run = [cli, "-c", "-p", str(node.port)]
    out = subprocess.run([*run, "SET", "clt:cli", "v"], capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "OK"
    out = subprocess.run([*run, "GET", "clt:cli"], capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "v"
    out = subprocess.run(
        [cli, "-p", str(node.port), "--cluster", "check", f"127.0.0.1:{node.port}"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert "[OK] All 16384 slots covered." in out.stdout, out.stdout + out.stderr


def test_cluster_mode_shows_in_hello_info_and_select(node: NodeProcess) -> None:
    with node.client(protocol=3) as r:
        assert r.execute_command("HELLO", "3")[b"mode"] == b"cluster"
        assert r.info("cluster") == {"cluster_enabled": 1}
        with pytest.raises(redis.ResponseError, match=r"^SELECT is not allowed in cluster mode$"):
            r.execute_command("SELECT", "1")  # Redis 7.4's text (valkey 9: DB index out of range)
        with pytest.raises(redis.ResponseError, match="memvec cluster create"):
            r.execute_command("CLUSTER", "ADDSLOTS", "1")


def test_standalone_refuses_cluster_commands_as_the_peer(
    redis_stack: RedisStack, tmp_path: Path
) -> None:
    server = ServerThread(ServerConfig(port=0, data_dir=tmp_path / "standalone")).start()
    try:
        with redis.Redis(port=server.port) as mine, redis.Redis(port=redis_stack.port) as peer:
            for args in (("CLUSTER", "INFO"), ("CLUSTER", "SLOTS"), ("ASKING",)):
                replies = []
                for r in (mine, peer):
                    with pytest.raises(redis.ResponseError) as err:
                        r.execute_command(*args)
                    replies.append(str(err.value))
                assert replies[0] == replies[1] == "This instance has cluster support disabled"
            for command in ("READONLY", "READWRITE"):  # valkey 8+ answers OK standalone
                assert mine.execute_command(command) == peer.execute_command(command)
    finally:
        server.stop()
