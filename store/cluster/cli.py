"""``memvec cluster create | add-shard | reshard``: the cluster's command line.

* ``create HOST:PORT ... --topology URL [--replicas R]``:
  :func:`store.cluster.admin.create_cluster`.
* ``add-shard HOST:PORT ... --topology URL``: the nodes join as one new shard without
  slots (:func:`store.cluster.admin.add_shard`); move slots to it with ``reshard``.
* ``reshard --topology URL --slots N --from A[,B...]|all --to C``: move N slots while
  clients keep reading and writing (:class:`store.cluster.reshard.Resharder`). A, B and C
  are shard ids, node ids or node addresses (as ``redis-cli --cluster reshard``'s
  ``--cluster-from``/``--cluster-to``, which take node ids).

Every subcommand prints what it did and exits 0, or prints the reason and exits 1.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .topology import Topology

__all__ = ["add_cluster_parser"]


def add_cluster_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "cluster",
        help="create, grow and reshard a cluster of running memvec nodes (docs/cluster.md)",
        description="Cluster administration: 'create' assigns the 16384 hash slots to the "
        "given nodes (started with --cluster-enabled yes and the same --cluster-topology) "
        "and publishes the topology; 'add-shard' adds nodes as a new empty shard; "
        "'reshard' moves slots between shards online.",
    )
    sub = p.add_subparsers(dest="cluster_command", required=True)
    create = sub.add_parser(
        "create",
        help="make a new cluster of running nodes",
        description="Ask each node for its id, group the nodes into shards (file logs: the "
        "first N/(R+1) are primaries, the rest their replicas; Kafka logs: one shard per "
        "--log topic, its writer the primary), split the 16384 slots evenly over the "
        "shards, publish the topology and wait for cluster_state:ok on every node. "
        "Refuses a topology location that already holds a cluster.",
    )
    create.add_argument(
        "nodes",
        nargs="+",
        metavar="HOST:PORT",
        help="the nodes, started with --cluster-enabled yes and the same --cluster-topology",
    )
    _common(create)
    create.add_argument("--replicas", type=int, default=0, help="replicas per primary (default 0)")
    add = sub.add_parser(
        "add-shard",
        help="add running nodes as a new shard without slots",
        description="The nodes (file logs: the first is the primary, the others are attached "
        "as its replicas; a Kafka log: the node writing it is the primary) join the "
        "cluster as one shard owning no slot. Move slots to it with 'reshard --to'.",
    )
    add.add_argument("nodes", nargs="+", metavar="HOST:PORT", help="the new shard's nodes")
    _common(add)
    reshard = sub.add_parser(
        "reshard",
        help="move hash slots between shards while clients keep working",
        description="Per step of slots: publish them migrating/importing, MIGRATE their keys "
        "in batches from the source's primary to the target's (a key leaves the source only "
        "once the target's log has it), publish the target as their owner.",
    )
    _common(reshard)
    reshard.add_argument("--slots", type=int, required=True, help="how many slots to move")
    reshard.add_argument(
        "--from",
        dest="sources",
        required=True,
        help="source shard(s): shard ids, node ids or HOST:PORT, comma-separated; 'all': "
        "every other shard in proportion to the slots it owns",
    )
    reshard.add_argument("--to", dest="target", required=True, help="the target shard")
    reshard.add_argument(
        "--batch", type=int, default=200, help="keys per MIGRATE call (default 200)"
    )
    reshard.add_argument(
        "--step-slots",
        type=int,
        default=1024,
        help="slots opened (migrating/importing) at a time (default 1024)",
    )
    reshard.add_argument(
        "--timeout-ms", type=int, default=10_000, help="MIGRATE timeout (default 10000)"
    )
    p.set_defaults(run=_run)
    return p


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--topology",
        required=True,
        help="the nodes' --cluster-topology (file:/PATH or kafka://HOST:PORT/TOPIC)",
    )
    p.add_argument("--password", default=None, help="AUTH password of the nodes")
    p.add_argument("--wait", type=float, default=15.0, help="seconds to wait for the nodes")


def _run(args: argparse.Namespace) -> int:
    name = f"memvec cluster {args.cluster_command}"
    try:
        if args.cluster_command == "reshard":
            return _reshard(args)
        from .admin import add_shard, create_cluster

        if args.cluster_command == "create":
            topology = create_cluster(
                args.topology,
                args.nodes,
                replicas=args.replicas,
                password=args.password,
                wait_s=args.wait,
            )
        else:
            topology = add_shard(
                args.topology, args.nodes, password=args.password, wait_s=args.wait
            )
    except (ValueError, TimeoutError, OSError) as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # redis errors, broker errors, conflicts: say which
        print(f"{name}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    _print(topology)
    print(f"[OK] topology epoch {topology.epoch} published to {args.topology}")
    return 0


def _print(topology: Topology) -> None:
    for shard in topology.shards:
        ranges = " ".join(f"{a}-{b}" for a, b in shard.slots) or "(no slots)"
        nodes = ", ".join(f"{n.address} ({n.role})" for n in shard.nodes)
        print(f"shard {shard.id[:8]} slots {ranges}: {nodes}")


def _reshard(args: argparse.Namespace) -> int:
    from .reshard import Resharder
    from .source import open_source

    source = open_source(args.topology)
    source.start()

    def connect(host: str, port: int) -> Any:
        import redis

        return redis.Redis(host=host, port=port, password=args.password, socket_timeout=30)

    mover = Resharder(
        source,
        connect,
        batch_keys=args.batch,
        step_slots=args.step_slots,
        migrate_timeout_ms=args.timeout_ms,
        password=args.password,
        wait_s=args.wait,
    )
    try:
        report = mover.reshard(args.slots, args.sources.split(","), args.target)
        topology = source.refresh()
    finally:
        mover.close()
        source.stop()
    if topology is not None:
        _print(topology)
    print(
        f"[OK] moved {report.slots} slots ({report.keys} keys) in {report.seconds:.2f} s "
        f"({report.keys_per_s:.0f} keys/s); topology epoch {report.epoch}"
    )
    return 0
