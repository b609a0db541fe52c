"""``memvec cluster create``: make a cluster of running nodes and publish its topology.

As ``redis-cli --cluster create``: the nodes are started first (each with
``--cluster-enabled yes`` and the same ``--cluster-topology``); ``create`` asks each for its
node id (CLUSTER MYID, MYSHARDID), groups them into shards (the first N/(R+1) are
primaries, the others replicas, dealt to primaries in turn), splits the 16384 slots into
equal ranges exactly as redis-cli does, publishes the topology at the next epoch (a
compare-and-set: a concurrent writer makes it fail, never both win) and waits until every
node reports ``cluster_state:ok``. A replica of a file-log shard is attached to its primary
with REPLICAOF. Nodes on Kafka logs are grouped by their ``--log`` topic instead (one
topic, one shard) and the shard's primary is the node writing it: started without
``--replicaof``, or elected by the leader lease with ``--auto-failover yes``, which then
also moves the primary in the topology when it fails (:mod:`store.cluster.failover`).

``add_shard`` adds running nodes as a new shard without slots; resharding
(:mod:`store.cluster.reshard`) moves slots to it. The command line is
:mod:`store.cluster.cli`.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from dataclasses import dataclass
from typing import Any

from .slots import SLOT_COUNT
from .source import TopologyConflict, open_source
from .topology import Node, Shard, Topology

__all__ = ["add_cluster_parser", "add_shard", "create_cluster", "split_slots"]


def split_slots(shards: int) -> list[tuple[int, int]]:
    """The slot range of each of ``shards`` primaries, as redis-cli --cluster create."""
    per = SLOT_COUNT / shards
    first, cursor, out = 0, 0.0, []
    for i in range(shards):
        last = int(cursor + per - 1 + 0.5)  # lround
        if last > SLOT_COUNT or i == shards - 1:
            last = SLOT_COUNT - 1
        last = max(last, first)
        out.append((first, last))
        first, cursor = last + 1, cursor + per
    return out


def _client(address: str, password: str | None) -> Any:
    import redis

    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"{address!r} is not HOST:PORT")
    return redis.Redis(host=host, port=int(port), password=password, socket_timeout=5)


@dataclass(frozen=True)
class _Found:
    """What a running node says of itself."""

    node_id: str
    shard_id: str
    host: str
    port: int
    log: str  # its --log (a kafka:// URL) or "file"
    address: str  # as given on the command line


def _ask(address: str, client: Any) -> _Found:
    node_id = client.execute_command("CLUSTER", "MYID").decode()
    shard_id = client.execute_command("CLUSTER", "MYSHARDID").decode()
    announce = _config(client, "cluster-announce-ip")
    log = _config(client, "log") or "file"
    host, _, port_text = address.rpartition(":")
    return _Found(node_id, shard_id, announce or host, int(port_text), str(log), address)


def _is_writer(client: Any) -> bool:
    role = client.execute_command("ROLE")
    return bool(role) and role[0] in (b"master", "master")


def _group_by_log(
    found: list[_Found], clients: list[Any], replicas: int, wait_s: float
) -> list[tuple[_Found, list[_Found]]]:
    """Kafka-log nodes: one shard per log topic, its primary the node writing the log
    (with --auto-failover: the one the leader lease elected; waited for)."""
    groups: dict[str, list[int]] = {}
    for i, f in enumerate(found):
        if not f.log.startswith("kafka://"):
            raise ValueError(
                f"{f.address} uses a file log while others use Kafka logs: a cluster's "
                "shards are all on Kafka topics or all on file logs"
            )
        groups.setdefault(f.log, []).append(i)
    if replicas and any(len(g) != replicas + 1 for g in groups.values()):
        sizes = sorted({len(g) for g in groups.values()})
        raise ValueError(
            f"--replicas {replicas}: the nodes' Kafka logs make shards of {sizes} nodes; "
            "each log topic is one shard (its nodes share --log)"
        )
    out = []
    deadline = time.monotonic() + wait_s
    for log_url, members in groups.items():
        while True:
            writers = [i for i in members if _is_writer(clients[i])]
            if len(writers) == 1:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"the nodes of {log_url} did not elect one writer within {wait_s:g}s "
                    f"({len(writers)} write it): start one without --replicaof, or all with "
                    "--auto-failover yes"
                )
            time.sleep(0.05)
        primary = found[writers[0]]
        out.append((primary, [found[i] for i in members if i != writers[0]]))
    return out


def create_cluster(
    topology_url: str,
    addresses: list[str],
    *,
    replicas: int = 0,
    password: str | None = None,
    wait_s: float = 15.0,
) -> Topology:
    """Build, publish and wait for the topology of the nodes at ``addresses``.

    File-log nodes are grouped by position (the first N/(R+1) are primaries, the rest
    their replicas, dealt in turn; replicas are attached with REPLICAOF). Kafka-log nodes
    are grouped by log topic: the nodes sharing a ``--log`` are one shard, whose primary
    is the node writing the log (elected by the leader lease with ``--auto-failover``);
    the others already follow the topic.
    """
    if replicas < 0:
        raise ValueError("--replicas must be >= 0")
    if not addresses:
        raise ValueError("no nodes given")
    clients = [_client(a, password) for a in addresses]
    try:
        found = [_ask(a, c) for a, c in zip(addresses, clients, strict=True)]
        on_kafka = any(f.log.startswith("kafka://") for f in found)
        if on_kafka:
            grouped = _group_by_log(found, clients, replicas, wait_s)
        else:
            if len(addresses) % (replicas + 1):
                raise ValueError(
                    f"{len(addresses)} nodes cannot form shards of 1 primary + {replicas} replicas"
                )
            n = len(addresses) // (replicas + 1)
            grouped = [(p, found[n:][i::n]) for i, p in enumerate(found[:n])]
        ranges = split_slots(len(grouped))
        shards = []
        for i, (primary, others) in enumerate(grouped):
            nodes = [Node(primary.node_id, primary.host, primary.port, "primary")]
            nodes += [Node(o.node_id, o.host, o.port, "replica") for o in others]
            shards.append(
                Shard(
                    id=primary.shard_id,
                    nodes=tuple(nodes),
                    slots=(ranges[i],),
                    log=primary.log if on_kafka else None,
                    epoch=i + 1,
                )
            )
        topology = Topology(epoch=len(shards), shards=tuple(shards))
        source = open_source(topology_url)
        source.start()
        try:
            current = source.refresh()
            if current is not None:
                raise TopologyConflict(
                    f"{topology_url} already holds a cluster (epoch {current.epoch}); "
                    "create makes a new one: use a new topology location"
                )
            source.publish(topology)
        finally:
            source.stop()
        _attach_file_replicas(topology, found, clients)
        _wait_ok(clients, wait_s)
        return topology
    finally:
        for client in clients:
            client.close()


def _attach_file_replicas(topology: Topology, found: list[_Found], clients: list[Any]) -> None:
    ids = [f.node_id for f in found]
    for shard in topology.shards:
        if shard.log is None:
            for replica in shard.replicas:
                if replica.id in ids:
                    client = clients[ids.index(replica.id)]
                    client.execute_command("REPLICAOF", shard.primary.host, shard.primary.port)


def add_shard(
    topology_url: str,
    addresses: list[str],
    *,
    password: str | None = None,
    wait_s: float = 15.0,
) -> Topology:
    """Add the running nodes at ``addresses`` to the cluster as one new shard without
    slots (move slots to it with :class:`store.cluster.reshard.Resharder`). On file logs
    the first node is the primary and the others replicas (attached with REPLICAOF); on
    a Kafka log the node writing it is the primary."""
    if not addresses:
        raise ValueError("no nodes given")
    clients = [_client(a, password) for a in addresses]
    try:
        found = [_ask(a, c) for a, c in zip(addresses, clients, strict=True)]
        on_kafka = found[0].log.startswith("kafka://")
        if on_kafka:
            if len({f.log for f in found}) != 1:
                raise ValueError("the nodes of one shard share one --log")
            ((primary, others),) = _group_by_log(found, clients, 0, wait_s)
        else:
            primary, others = found[0], found[1:]
        nodes = [Node(primary.node_id, primary.host, primary.port, "primary")]
        nodes += [Node(o.node_id, o.host, o.port, "replica") for o in others]
        source = open_source(topology_url)
        source.start()
        try:
            for _ in range(20):
                current = source.refresh()
                if current is None:
                    raise TopologyConflict(
                        f"{topology_url} holds no cluster: run 'memvec cluster create' first"
                    )
                for node in nodes:
                    if current.find_node(node.id) is not None:
                        raise ValueError(f"node {node.id} is already in the cluster")
                shard = Shard(
                    id=primary.shard_id,
                    nodes=tuple(nodes),
                    log=primary.log if on_kafka else None,
                    epoch=current.epoch + 1,
                )
                topology = dataclasses.replace(
                    current, epoch=current.epoch + 1, shards=(*current.shards, shard)
                )
                try:
                    source.publish(topology)
                    break
                except TopologyConflict:
                    continue
            else:
                raise TopologyConflict("the topology kept changing; retry")
        finally:
            source.stop()
        _attach_file_replicas(topology, found, clients)
        _wait_ok(clients, wait_s)
        return topology
    finally:
        for client in clients:
            client.close()


def _config(client: Any, name: str) -> str:
    reply = client.execute_command("CONFIG", "GET", name)
    if isinstance(reply, dict):
        reply = [x for kv in reply.items() for x in kv]
    value = reply[1] if len(reply) >= 2 else b""
    return value.decode() if isinstance(value, bytes) else str(value)


def _wait_ok(clients: list[Any], wait_s: float) -> None:
    deadline = time.monotonic() + wait_s
    pending = list(clients)
    while pending:
        pending = [
            c for c in pending if b"cluster_state:ok" not in c.execute_command("CLUSTER", "INFO")
        ]
        if not pending:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"{len(pending)} node(s) did not report cluster_state:ok within {wait_s:g}s: "
                "are they started with the same --cluster-topology?"
            )
        time.sleep(0.05)


def add_cluster_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """``memvec cluster ...`` (:mod:`store.cluster.cli`)."""
    from .cli import add_cluster_parser as add

    return add(subparsers)
