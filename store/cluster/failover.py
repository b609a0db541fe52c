"""Automatic failover in the cluster topology: the leader of a shard's log becomes the
shard's primary for every client.

A shard whose nodes run ``--log kafka://.../shard-N --auto-failover yes`` elects its writer
with the leader lease (:mod:`store.replication.election`): when the writer stops
heartbeating, the group gives the lease to another node, which promotes on the log (its
epoch marker fences the old writer: every later record of the old one is refused, never
acknowledged). That node's cluster watch task (:class:`store.cluster.routing.ClusterNode`)
then sees that it leads the log while the topology names another primary, and calls
:func:`publish_primary`: the topology at the next config epoch with itself as primary and
the old primary as a replica (a replica is what the old node is if it comes back: it
follows the log). The publish is the source's compare-and-set; on a conflict it re-reads
and rebuilds, so a concurrent change (a reshard step, another shard's failover) is never
overwritten. Every node then answers ``MOVED`` to the new primary and CLUSTER SLOTS /
SHARDS / NODES show it.

Order matters: the topology names the new primary only after its promotion completed
(``leads_log`` is true once the node applied every record before its marker and accepts
writes), so a client redirected there is served, never refused with READONLY.
Between the promotion and the publish (one watch tick, ~100 ms, plus the publish),
clients redirected by the old map get a connection error (the old primary is gone) or
``MOVED`` back to it from the nodes that did not read the new epoch yet, and retry.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

from .source import TopologyConflict, TopologySource
from .topology import Topology

__all__ = ["publish_address", "publish_primary", "with_address", "with_primary"]

log = logging.getLogger(__name__)

PUBLISH_ATTEMPTS = 20


def with_primary(topology: Topology, node_id: str) -> Topology | None:
    """``topology`` at the next epoch with ``node_id`` as its shard's primary (the old
    primary a replica), or None if the node is not in it or already is the primary."""
    found = topology.find_node(node_id)
    if found is None or found[1].role == "primary":
        return None
    shard, _ = found
    epoch = topology.epoch + 1
    nodes = tuple(
        dataclasses.replace(n, role="primary" if n.id == node_id else "replica")
        for n in shard.nodes
    )
    promoted = dataclasses.replace(shard, nodes=nodes, epoch=epoch)
    return dataclasses.replace(
        topology,
        epoch=epoch,
        shards=tuple(promoted if s.id == shard.id else s for s in topology.shards),
    )


def with_address(topology: Topology, node_id: str, host: str, port: int) -> Topology | None:
    """``topology`` at the next epoch with node ``node_id`` at ``host:port``, or None if
    it is not in it or already there (a node restarted on another address re-announces
    itself, as a Redis node's gossip carries its new address)."""
    found = topology.find_node(node_id)
    if found is None or (found[1].host, found[1].port) == (host, port):
        return None
    shard, _ = found
    nodes = tuple(
        dataclasses.replace(n, host=host, port=port) if n.id == node_id else n for n in shard.nodes
    )
    moved = dataclasses.replace(shard, nodes=nodes)
    epoch = topology.epoch + 1
    return dataclasses.replace(
        topology,
        epoch=epoch,
        shards=tuple(moved if s.id == shard.id else s for s in topology.shards),
    )


def publish_primary(source: TopologySource, node_id: str) -> Topology | None:
    """Publish the topology naming ``node_id`` its shard's primary (blocking I/O).

    Returns what was published, or None when nothing was needed (the node is already the
    primary, or not in the topology). Re-reads and retries on :class:`TopologyConflict`;
    raises it after :data:`PUBLISH_ATTEMPTS` lost races.
    """
    return _publish(source, lambda t: with_primary(t, node_id))


def publish_address(source: TopologySource, node_id: str, host: str, port: int) -> Topology | None:
    """Publish ``node_id``'s new address, as :func:`publish_primary` publishes."""
    return _publish(source, lambda t: with_address(t, node_id, host, port))


def _publish(
    source: TopologySource, change: Callable[[Topology], Topology | None]
) -> Topology | None:
    for _ in range(PUBLISH_ATTEMPTS):
        current = source.refresh()
        if current is None:
            return None
        changed = change(current)
        if changed is None:
            return None
        try:
            source.publish(changed)
        except TopologyConflict as exc:
            log.info("topology changed while publishing the new primary (%s); re-reading", exc)
            continue
        return changed
    raise TopologyConflict(
        f"could not publish a change in {PUBLISH_ATTEMPTS} attempts: the topology keeps changing"
    )
