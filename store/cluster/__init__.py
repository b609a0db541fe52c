"""Cluster mode: hash slots, the topology and where it lives, routing, the CLUSTER commands.

Layer: server (it routes RESP clients and reads the engine's keyspace; the engine never
imports it). The design, what is built and what comes next: docs/cluster.md.

* :mod:`.slots`: CRC16 hash slots with hash tags.
* :mod:`.topology`: the :class:`Topology` value (shards, nodes, slots, config epoch).
* :mod:`.source`: :class:`TopologySource` (file) and :mod:`.kafka_source` (Kafka topic).
* :mod:`.identity`: the node id kept in the data directory.
* :mod:`.routing`: :class:`ClusterNode`, MOVED/ASK/CROSSSLOT/CLUSTERDOWN decisions.
* :mod:`.commands`: CLUSTER, ASKING, READONLY, READWRITE.
* :mod:`.admin`: ``memvec cluster create`` (assign slots, publish the topology).
* :mod:`.search`: FT.* across shards (:class:`~.search.SearchCoordinator`), with
  :mod:`.search_merge` (FT.SEARCH), :mod:`.search_aggregate` (FT.AGGREGATE),
  :mod:`.search_catalog` (index definitions in the topology) and :mod:`.fanout` (calls
  to the other nodes).
"""

from __future__ import annotations

from .identity import Identity, load_identity
from .routing import ClusterNode
from .slots import SLOT_COUNT, key_slot
from .source import FileTopologySource, TopologyConflict, TopologySource, open_source
from .topology import Node, Shard, Topology, TopologyError

__all__ = [
    "SLOT_COUNT",
    "ClusterNode",
    "FileTopologySource",
    "Identity",
    "Node",
    "Shard",
    "Topology",
    "TopologyConflict",
    "TopologyError",
    "TopologySource",
    "key_slot",
    "load_identity",
    "open_source",
]
