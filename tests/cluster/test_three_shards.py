"""Three memvec processes sharing one file topology: a 3-shard cluster made with
``memvec cluster create``, used by redis-py's RedisCluster and ``redis-cli -c``."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
from collections.abc import Callable

import pytest
import redis
from redis.cluster import RedisCluster

from store.cluster import FileTopologySource, Topology, TopologyConflict, key_slot
from store.cluster.admin import create_cluster
from store.cluster.slots import ranges_of
from tests.cluster.conftest import REPO, NodeProcess
from tests.harness.wait import wait_for


@pytest.fixture(scope="module")
def cluster(
    memvec_nodes: Callable[[int, str], list[NodeProcess]], tmp_path_factory: pytest.TempPathFactory
) -> tuple[list[NodeProcess], str]:
    url = f"file:{tmp_path_factory.mktemp('topology3') / 'topology.json'}"
    nodes = memvec_nodes(3, url)
    with nodes[0].client() as r:  # before any topology: no slot is served
        assert b"cluster_state:fail" in r.execute_command("CLUSTER", "INFO")
        assert r.execute_command("CLUSTER", "SLOTS") == []
        with pytest.raises(redis.ResponseError, match=r"^Hash slot not served"):
            r.set("k", "v")
    out = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "cluster", "create", "--topology", url]
        + [n.address for n in nodes],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert "[OK] topology epoch 3 published" in out.stdout
    return nodes, url


def owner_of(nodes: list[NodeProcess], key: bytes) -> NodeProcess:
    return nodes[next(i for i, (a, b) in enumerate(_RANGES) if a <= key_slot(key) <= b)]


_RANGES = [(0, 5460), (5461, 10922), (10923, 16383)]


def test_every_node_answers_the_same_topology(cluster: tuple[list[NodeProcess], str]) -> None:
    nodes, _ = cluster
    slots = []
    for node in nodes:
        with node.client() as r:
            slots.append(r.execute_command("CLUSTER", "SLOTS"))
            lines = r.execute_command("CLUSTER", "NODES").decode().splitlines()
            myid = r.execute_command("CLUSTER", "MYID").decode()
            assert lines[0].startswith(myid) and "myself,master" in lines[0]
            assert len(lines) == 3 and b"cluster_size:3" in r.execute_command("CLUSTER", "INFO")
    assert slots[0] == slots[1] == slots[2]
    assert [(s[0], s[1], s[2][1]) for s in slots[0]] == [
        (a, b, n.port) for (a, b), n in zip(_RANGES, nodes, strict=True)
    ]


def test_moved_and_crossslot(cluster: tuple[list[NodeProcess], str]) -> None:
    nodes, _ = cluster
    key = next(k for k in (b"a", b"b", b"c", b"d", b"e") if owner_of(nodes, k) is not nodes[0])
    owner = owner_of(nodes, key)
    with nodes[0].client() as r:
        with pytest.raises(redis.exceptions.MovedError) as err:
            r.execute_command("GET", key)
        assert (err.value.slot_id, err.value.node_addr) == (
            key_slot(key),
            ("127.0.0.1", owner.port),
        )
        with pytest.raises(redis.ResponseError, match="don't hash to the same slot"):
            r.execute_command("MSET", "{x}1", "1", "{y}1", "1")
    with owner.client() as r:
        assert r.set(key, "here")
        assert r.get(key) == b"here"
        assert r.delete(key) == 1


def test_redis_py_cluster_spreads_keys_and_follows_redirections(
    cluster: tuple[list[NodeProcess], str],
) -> None:
    nodes, _ = cluster
    rc = RedisCluster(host="127.0.0.1", port=nodes[1].port or 0, socket_timeout=20)
    try:
        keys = [f"c3:{i}" for i in range(60)]
        pipe = rc.pipeline()
        for i, k in enumerate(keys):
            pipe.set(k, i)
        assert all(pipe.execute())
        assert rc.mget_nonatomic(keys) == [str(i).encode() for i in range(60)]
        assert rc.mset({"{c3}:a": "1", "{c3}:b": "2"}) and rc.mget("{c3}:a", "{c3}:b") == [
            b"1",
            b"2",
        ]
        per_node = []
        for node in nodes:
            with node.client() as r:
                held = [
                    k
                    for k in keys
                    if r.execute_command("CLUSTER", "COUNTKEYSINSLOT", key_slot(k.encode()))
                ]
                per_node.append(len(held))
                assert all(owner_of(nodes, k.encode()) is node for k in held)
        assert sum(per_node) == 60 and min(per_node) > 0
        assert rc.delete(*keys) == 60
        assert rc.delete("{c3}:a", "{c3}:b") == 2
    finally:
        rc.close()


def test_redis_cli_follows_moved(cluster: tuple[list[NodeProcess], str]) -> None:
    nodes, _ = cluster
    cli = shutil.which("redis-cli")
    assert cli is not None, "redis-cli (Debian redis-tools) is needed"
    run = [cli, "-c", "-p", str(nodes[0].port)]
    for key in ("a", "b", "c"):  # at least one owned by another node
        out = subprocess.run([*run, "SET", key, "v"], capture_output=True, text=True, timeout=30)
        assert out.stdout.strip() == "OK", out.stdout + out.stderr
        out = subprocess.run([*run, "DEL", key], capture_output=True, text=True, timeout=30)
        assert out.stdout.strip() == "1"
    check = subprocess.run(
        [cli, "--cluster", "check", nodes[2].address], capture_output=True, text=True, timeout=30
    )
    assert "[OK] All 16384 slots covered." in check.stdout, check.stdout + check.stderr


def test_clients_follow_a_topology_change(cluster: tuple[list[NodeProcess], str]) -> None:
    """A newly published epoch moves an empty slot to another shard: a client with the old
    map gets MOVED and follows it; the old owner refuses the slot from then on."""
    nodes, url = cluster
    key = b"moving{c3m}"
    slot = key_slot(key)
    rc = RedisCluster(host="127.0.0.1", port=nodes[0].port or 0, socket_timeout=20)
    try:
        old = owner_of(nodes, key)
        new = next(n for n in nodes if n is not old)
        source = FileTopologySource(url[len("file:") :])
        current = source.refresh()
        assert current is not None
        with new.client() as r:
            new_id = r.execute_command("CLUSTER", "MYID").decode()
        shards = []
        for shard in current.shards:
            owned = {s for a, b in shard.slots for s in range(a, b + 1)} - {slot}
            if shard.primary.id == new_id:
                owned.add(slot)
            shards.append(
                dataclasses.replace(shard, slots=tuple(ranges_of(owned)), epoch=current.epoch + 1)
            )
        source.publish(Topology(epoch=current.epoch + 1, shards=tuple(shards)))
        epoch = f"cluster_current_epoch:{current.epoch + 1}\r".encode()
        for node in nodes:  # each node polls on its own: wait until all read it
            with node.client() as r:
                wait_for(
                    lambda r=r: epoch in r.execute_command("CLUSTER", "INFO"),
                    10,
                    message="a node did not read the new topology",
                )
        with old.client() as r:
            with pytest.raises(redis.exceptions.MovedError) as err:
                r.execute_command("GET", key)
            assert err.value.node_addr == ("127.0.0.1", new.port)
        assert rc.set(key, "v")  # the client's map says `old`: MOVED, refresh, retry
        with new.client() as r:
            assert r.get(key) == b"v"
        assert rc.delete(key) == 1
    finally:
        rc.close()


def test_create_refuses_a_second_cluster_and_bad_groupings(
    cluster: tuple[list[NodeProcess], str],
) -> None:
    nodes, url = cluster
    addresses = [n.address for n in nodes]
    with pytest.raises(TopologyConflict, match="already holds a cluster"):
        create_cluster(url, addresses)
    with pytest.raises(ValueError, match="cannot form shards of 1 primary \\+ 1 replicas"):
        create_cluster(url, addresses, replicas=1)
