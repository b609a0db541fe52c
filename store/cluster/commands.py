"""CLUSTER, ASKING, READONLY and READWRITE: the connection-scope handlers of cluster mode.

Replies are a valkey 9 cluster node's, byte for byte where the data agree (node ids aside):
CLUSTER SLOTS with the empty networking-metadata map, CLUSTER SHARDS maps, CLUSTER
NODES/INFO as text (RESP3 verbatim ``txt``). Without ``--cluster-enabled yes`` each of these
answers Redis's ``This instance has cluster support disabled``.

The topology is published by ``memvec cluster create`` (:mod:`store.cluster.admin`), never
by a node: the subcommands that change it in Redis (ADDSLOTS, MEET, SETSLOT, FAILOVER,
RESET, ...) are refused with a message saying so. COUNTKEYSINSLOT and GETKEYSINSLOT read
the per-slot key index (:mod:`store.cluster.slot_index`). MIGRATE is
:mod:`store.cluster.migrate`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..commands.util import parse_int
from ..errors import CommandError
from ..replies import SimpleString, Verbatim
from .migrate import cmd_migrate
from .routing import ClusterNode
from .slots import SLOT_COUNT, key_slot
from .topology import Node, Shard, Topology

if TYPE_CHECKING:
    from ..server.connection import Connection

__all__ = ["cluster_handlers"]

OK = SimpleString("OK")
DISABLED = "This instance has cluster support disabled"
BUS_PORT_OFFSET = 10000  # Redis's default cluster bus port is port + 10000

HELP = [
    "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "COUNTKEYSINSLOT <slot>",
    "    Return the number of keys in <slot>.",
    "GETKEYSINSLOT <slot> <count>",
    "    Return key names stored by current node in a slot.",
    "INFO",
    "    Return information about the cluster.",
    "KEYSLOT <key>",
    "    Return the hash slot for <key>.",
    "MYID",
    "    Return the node id.",
    "MYSHARDID",
    "    Return the node's shard id.",
    "NODES",
    "    Return cluster configuration seen by node. Output format:",
    "    <id> <ip:port@bus-port[,hostname]> <flags> <primary> <pings> <pongs> <epoch> <link> "
    "<slot> ...",
    "REPLICAS <node-id>",
    "    Return <node-id> replicas.",
    "SLOTS",
    "    Return information about slots range mappings. Each range is made of:",
    "    start, end, primary and replicas IP addresses, ports and ids",
    "SHARDS",
    "    Return information about slot range mappings and the nodes associated with them.",
    "LINKS",
    "    Return information about all network links between this node and its peers.",
    "    Output format is an array where each array element is a map containing attributes "
    "of a link",
    "HELP",
    "    Print this help.",
]

# Redis subcommands that change the topology: here the topology source does that.
_TOPOLOGY_WRITES = frozenset(
    {
        b"ADDSLOTS",
        b"ADDSLOTSRANGE",
        b"DELSLOTS",
        b"DELSLOTSRANGE",
        b"FLUSHSLOTS",
        b"MEET",
        b"FORGET",
        b"REPLICATE",
        b"SETSLOT",
        b"SET-CONFIG-EPOCH",
        b"BUMPEPOCH",
        b"FAILOVER",
        b"RESET",
        b"SAVECONFIG",
    }
)

# subcommand -> arity (Redis convention, counting CLUSTER)
_ARITY = {
    b"HELP": 2,
    b"KEYSLOT": 3,
    b"MYID": 2,
    b"MYSHARDID": 2,
    b"INFO": 2,
    b"SLOTS": 2,
    b"SHARDS": 2,
    b"NODES": 2,
    b"LINKS": 2,
    b"REPLICAS": 3,
    b"SLAVES": 3,
    b"COUNTKEYSINSLOT": 3,
    b"GETKEYSINSLOT": 4,
    b"COUNT-FAILURE-REPORTS": 3,
}


def _node(conn: Connection) -> ClusterNode:
    cluster = conn.server.cluster
    if cluster is None:
        raise CommandError(DISABLED)
    return cluster


def cmd_cluster(conn: Connection, args: list[bytes]) -> Any:
    cluster = _node(conn)
    sub = args[1].upper()
    name = args[1].decode("utf-8", "replace")
    if sub in _TOPOLOGY_WRITES:
        raise CommandError(
            f"CLUSTER {name.upper()} is not supported by memvec: the topology lives in the "
            "topology source and is changed with 'memvec cluster create|add-shard|reshard' "
            "(docs/cluster.md)"
        )
    arity = _ARITY.get(sub)
    if arity is None:
        raise CommandError(f"unknown subcommand '{name}'. Try CLUSTER HELP.")
    if len(args) != arity:
        raise CommandError(f"wrong number of arguments for 'cluster|{name.lower()}' command")
    topology = cluster.topology
    if sub == b"HELP":
        return [SimpleString(line) for line in HELP]
    if sub == b"KEYSLOT":
        return key_slot(args[2])
    if sub == b"MYID":
        return cluster.myid.encode()
    if sub == b"MYSHARDID":
        return cluster.shard_id().encode()
    if sub == b"INFO":
        return Verbatim("txt", _info(cluster))
    if sub == b"NODES":
        return Verbatim("txt", _nodes(conn, cluster))
    if sub == b"LINKS":
        return []
    if sub == b"SLOTS":
        return _slots(topology)
    if sub == b"SHARDS":
        return _shards(conn, cluster)
    if sub in (b"REPLICAS", b"SLAVES"):
        return _replicas(cluster, args[2])
    if sub == b"COUNT-FAILURE-REPORTS":
        _known(cluster, args[2])
        return 0
    if sub == b"COUNTKEYSINSLOT":
        slot = parse_int(args[2])
        if not 0 <= slot < SLOT_COUNT:
            raise CommandError("Invalid slot")
        with conn.engine.lock:
            return cluster.slot_index.count(slot)
    # GETKEYSINSLOT
    slot_raw = parse_int(args[2])
    count = parse_int(args[3])
    if count < 0 or not 0 <= slot_raw < SLOT_COUNT:
        raise CommandError("Invalid slot or number of keys")
    return _keys_in_slot(conn, slot_raw, count)


def _keys_in_slot(conn: Connection, slot: int, limit: int | None) -> list[bytes]:
    cluster = _node(conn)
    with conn.engine.lock:  # the per-slot index (store.cluster.slot_index), no scan
        return cluster.slot_index.keys(slot, limit)


def _known(cluster: ClusterNode, raw: bytes) -> tuple[Shard, Node]:
    topology = cluster.topology
    found = topology.find_node(raw.decode("utf-8", "replace")) if topology else None
    if found is None:
        raise CommandError(f"Unknown node {raw.decode('utf-8', 'replace')}")
    return found


def _replicas(cluster: ClusterNode, raw: bytes) -> list[bytes]:
    shard, node = _known(cluster, raw)
    if node.role != "primary":
        raise CommandError("The specified node is not a master")
    return [_node_line(cluster, shard, n).encode() for n in shard.replicas]


def _info(cluster: ClusterNode) -> str:
    topology = cluster.topology
    assigned = topology.assigned if topology is not None else 0
    mine = cluster.me()
    fields = [
        ("cluster_state", "ok" if cluster.healthy() else "fail"),
        ("cluster_slots_assigned", assigned),
        ("cluster_slots_ok", assigned),
        ("cluster_slots_pfail", 0),
        ("cluster_slots_fail", 0),
        ("cluster_nodes_pfail", 0),
        ("cluster_nodes_fail", 0),
        ("cluster_voting_nodes_pfail", 0),
        ("cluster_voting_nodes_fail", 0),
        ("cluster_known_nodes", len(topology.nodes) if mine and topology else 1),
        ("cluster_size", sum(1 for s in topology.shards if s.slots) if topology else 0),
        ("cluster_current_epoch", topology.epoch if topology else 0),
        ("cluster_my_epoch", mine[0].epoch if mine else 0),
        ("cluster_stats_messages_sent", 0),
        ("cluster_stats_messages_received", 0),
        ("cluster_stats_bytes_sent", 0),
        ("cluster_stats_bytes_received", 0),
        ("cluster_stats_pubsub_bytes_sent", 0),
        ("cluster_stats_pubsub_bytes_received", 0),
        ("cluster_stats_module_bytes_sent", 0),
        ("cluster_stats_module_bytes_received", 0),
        ("total_cluster_links_buffer_limit_exceeded", 0),
    ]
    return "".join(f"{k}:{v}\r\n" for k, v in fields)


def _node_line(cluster: ClusterNode, shard: Shard, node: Node) -> str:
    flags = "master" if node.role == "primary" else "slave"
    if node.id == cluster.myid:
        flags = "myself," + flags
    primary = "-" if node.role == "primary" else shard.primary.id
    parts = [
        node.id,
        f"{node.host}:{node.port}@{node.port + BUS_PORT_OFFSET}",
        flags,
        primary,
        "0",
        "0",
        str(shard.epoch),
        "connected",
    ]
    if node.role == "primary":
        parts += [f"{a}-{b}" if a != b else str(a) for a, b in shard.slots]
        if node.id == cluster.myid:
            topology = cluster.topology
            for slot, to in sorted(shard.migrating.items()):
                target = topology.shard(to) if topology else None
                if target is not None:
                    parts.append(f"[{slot}->-{target.primary.id}]")
            for slot, source in sorted(shard.importing.items()):
                origin = topology.shard(source) if topology else None
                if origin is not None:
                    parts.append(f"[{slot}-<-{origin.primary.id}]")
    return " ".join(parts)


def _alone(conn: Connection) -> tuple[str, int]:
    """(ip, port) of a node not in the topology yet: --cluster-announce-ip, else the first
    --bind address (valkey shows its announced ip the same way)."""
    config = conn.server.config
    return config.cluster_announce_ip or (config.bind[0] if config.bind else ""), conn.server.port


def _nodes(conn: Connection, cluster: ClusterNode) -> str:
    topology = cluster.topology
    if topology is None or cluster.me() is None:
        # alone, as a Redis node before CLUSTER MEET: itself, no slots
        ip, port = _alone(conn)
        bus = port + BUS_PORT_OFFSET
        return f"{cluster.myid} {ip}:{port}@{bus} myself,master - 0 0 0 connected\n"
    lines = []
    for shard in topology.shards:
        for node in shard.nodes:
            lines.append(_node_line(cluster, shard, node) + "\n")
    me = next(i for i, line in enumerate(lines) if line.startswith(cluster.myid))
    lines.insert(0, lines.pop(me))  # Redis lists itself first
    return "".join(lines)


def _slots(topology: Topology | None) -> list[Any]:
    if topology is None:
        return []
    ranges: list[tuple[int, int, Shard]] = []
    for shard in topology.shards:
        ranges += [(a, b, shard) for a, b in shard.slots]
    out: list[Any] = []
    for first, last, shard in sorted(ranges, key=lambda r: r[0]):
        entry: list[Any] = [first, last]
        for node in (shard.primary, *shard.replicas):
            entry.append([node.host.encode(), node.port, node.id.encode(), {}])
        out.append(entry)
    return out


def _shards(conn: Connection, cluster: ClusterNode) -> list[Any]:
    topology = cluster.topology
    offset = conn.server.replication.offset()
    if topology is None or cluster.me() is None:  # alone: its own shard, no slots
        ip, port = _alone(conn)
        me = {
            b"id": cluster.myid.encode(),
            b"port": port,
            b"ip": ip.encode(),
            b"endpoint": ip.encode(),
            b"role": b"master",
            b"replication-offset": offset,
            b"health": b"online",
        }
        return [{b"slots": [], b"nodes": [me], b"id": cluster.shard_id().encode()}]
    out: list[Any] = []
    for shard in topology.shards:
        flat: list[int] = []
        for a, b in shard.slots:
            flat += [a, b]
        nodes = [
            {
                b"id": node.id.encode(),
                b"port": node.port,
                b"ip": node.host.encode(),
                b"endpoint": node.host.encode(),
                b"role": b"master" if node.role == "primary" else b"replica",
                b"replication-offset": offset if node.id == cluster.myid else 0,
                b"health": b"online",
            }
            for node in (shard.primary, *shard.replicas)
        ]
        out.append({b"slots": flat, b"nodes": nodes, b"id": shard.id.encode()})
    return out


def cmd_asking(conn: Connection, args: list[bytes]) -> Any:
    _node(conn)
    conn.cluster_asking = True
    return OK


def cmd_readonly(conn: Connection, args: list[bytes]) -> Any:
    # OK on a standalone node too, as valkey 8+ (Redis 7.4 refuses: cluster support disabled)
    conn.cluster_readonly = True
    return OK


def cmd_readwrite(conn: Connection, args: list[bytes]) -> Any:
    conn.cluster_readonly = False
    return OK


def cluster_handlers() -> dict[str, Callable[[Connection, list[bytes]], Any]]:
    return {
        "CLUSTER": cmd_cluster,
        "ASKING": cmd_asking,
        "READONLY": cmd_readonly,
        "READWRITE": cmd_readwrite,
        "MIGRATE": cmd_migrate,
    }
