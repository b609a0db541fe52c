"""``memvec cluster create``: make a cluster of running nodes and publish its topology.

As ``redis-cli --cluster create``: the nodes are started first (each with
``--cluster-enabled yes`` and the same ``--cluster-topology``); ``create`` asks each for its
node id (CLUSTER MYID, MYSHARDID), groups them into shards (the first N/(R+1) are
primaries, the others replicas, dealt to primaries in turn), splits the 16384 slots into
equal ranges exactly as redis-cli does, publishes the topology at the next epoch (a
compare-and-set: a concurrent writer makes it fail, never both win) and waits until every
node reports ``cluster_state:ok``. A replica of a file-log shard is attached to its primary
with REPLICAOF; a Kafka-log shard's replicas already follow the shard's topic (start
them with ``--replicaof``).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from .slots import SLOT_COUNT
from .source import TopologyConflict, open_source
from .topology import Node, Shard, Topology

__all__ = ["add_cluster_parser", "create_cluster", "split_slots"]


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


def create_cluster(
    topology_url: str,
    addresses: list[str],
    *,
    replicas: int = 0,
    password: str | None = None,
    wait_s: float = 15.0,
) -> Topology:
    """Build, publish and wait for the topology of the nodes at ``addresses``."""
    if replicas < 0:
        raise ValueError("--replicas must be >= 0")
    if not addresses or len(addresses) % (replicas + 1):
        raise ValueError(
            f"{len(addresses)} nodes cannot form shards of 1 primary + {replicas} replicas"
        )
    clients = [_client(a, password) for a in addresses]
    try:
        found = []
        for address, client in zip(addresses, clients, strict=True):
            node_id = client.execute_command("CLUSTER", "MYID").decode()
            shard_id = client.execute_command("CLUSTER", "MYSHARDID").decode()
            announce = _config(client, "cluster-announce-ip")
            log = _config(client, "log") or "file"
            host, _, port_text = address.rpartition(":")
            found.append((node_id, shard_id, announce or host, int(port_text), str(log)))
        n_shards = len(addresses) // (replicas + 1)
        primaries, others = found[:n_shards], found[n_shards:]
        ranges = split_slots(n_shards)
        source = open_source(topology_url)
        source.start()
        try:
            current = source.refresh()
            if current is not None:
                raise TopologyConflict(
                    f"{topology_url} already holds a cluster (epoch {current.epoch}); "
                    "create makes a new one: use a new topology location"
                )
            shards = []
            for i, (node_id, shard_id, host, port, log) in enumerate(primaries):
                nodes = [Node(node_id, host, port, "primary")]
                nodes += [Node(o[0], o[2], o[3], "replica") for o in others[i::n_shards]]
                shards.append(
                    Shard(
                        id=shard_id,
                        nodes=tuple(nodes),
                        slots=(ranges[i],),
                        log=log if log.startswith("kafka://") else None,
                        epoch=i + 1,
                    )
                )
            topology = Topology(epoch=n_shards, shards=tuple(shards))
            source.publish(topology)
        finally:
            source.stop()
        for shard in topology.shards:
            if shard.log is None:
                for replica in shard.replicas:
                    client = clients[[f[0] for f in found].index(replica.id)]
                    client.execute_command("REPLICAOF", shard.primary.host, shard.primary.port)
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
    p = subparsers.add_parser(
        "cluster",
        help="create a cluster of running memvec nodes (docs/cluster.md)",
        description="Cluster administration. 'create' assigns the 16384 hash slots to the "
        "given nodes (started with --cluster-enabled yes and the same --cluster-topology) "
        "and publishes the topology.",
    )
    sub = p.add_subparsers(dest="cluster_command", required=True)
    create = sub.add_parser(
        "create",
        help="make a new cluster of running nodes",
        description="Ask each node for its id, group the nodes into shards (the first "
        "N/(R+1) are primaries, the rest their replicas), split the 16384 slots evenly "
        "over the primaries, publish the topology and wait for cluster_state:ok on every "
        "node. Refuses a topology location that already holds a cluster.",
    )
    create.add_argument(
        "nodes",
        nargs="+",
        metavar="HOST:PORT",
        help="the nodes, started with --cluster-enabled yes and the same --cluster-topology",
    )
    create.add_argument(
        "--topology",
        required=True,
        help="the nodes' --cluster-topology (file:/PATH or kafka://HOST:PORT/TOPIC)",
    )
    create.add_argument("--replicas", type=int, default=0, help="replicas per primary (default 0)")
    create.add_argument("--password", default=None, help="AUTH password of the nodes")
    create.add_argument(
        "--wait", type=float, default=15.0, help="seconds to wait for cluster_state:ok"
    )
    p.set_defaults(run=_run)
    return p


def _run(args: argparse.Namespace) -> int:
    try:
        topology = create_cluster(
            args.topology,
            args.nodes,
            replicas=args.replicas,
            password=args.password,
            wait_s=args.wait,
        )
    except (ValueError, TopologyConflict, TimeoutError, OSError) as exc:
        print(f"memvec cluster create: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # redis errors, broker errors: say which, exit non-zero
        print(f"memvec cluster create: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    for shard in topology.shards:
        ranges = " ".join(f"{a}-{b}" for a, b in shard.slots)
        nodes = ", ".join(f"{n.address} ({n.role})" for n in shard.nodes)
        print(f"shard {shard.id[:8]} slots {ranges}: {nodes}")
    print(f"[OK] topology epoch {topology.epoch} published to {args.topology}")
    return 0
