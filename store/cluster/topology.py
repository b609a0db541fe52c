"""The cluster's topology as one value: shards, their nodes, their slots, the config epoch.

A :class:`Topology` is immutable; a change publishes a new one with a higher ``epoch``
through a :class:`store.cluster.source.TopologySource`. Every node reads the same value and
answers CLUSTER SLOTS / SHARDS / NODES and routing (MOVED, ASK) from it alone.

Byte format (the value a source stores; JSON, UTF-8)::

    {"version": 1,
     "epoch": 7,                       # config epoch: bumped by every published change
     "shards": [
       {"id": "<40 hex>",              # shard id (CLUSTER MYSHARDID)
        "slots": [[0, 5460], ...],     # inclusive ranges this shard owns
        "log": "kafka://h:p/topic",    # the shard's transaction log (null: a file log)
        "epoch": 3,                    # the shard's config epoch (its last slot change)
        "migrating": {"5000": "<shard id>"},   # slot -> the shard it is moving to
        "importing": {"5001": "<shard id>"},   # slot -> the shard it comes from
        "nodes": [{"id": "<40 hex>", "host": "127.0.0.1", "port": 7001,
                   "role": "primary"|"replica"}]}],
     "search": {"indexes": {...}, "aliases": {...}}}   # optional: the FT.* catalog

``search`` (absent when empty) is the cluster's index definitions, written by cross-shard
search (:mod:`store.cluster.search_catalog` documents it); a change of it is published as
any other, at the next epoch.

Invariants (:meth:`Topology.validate`): ids are 40 lower-case hex digits and unique, each
shard has exactly one primary, no slot has two owners, migrating/importing name shards
that exist. Unknown keys are refused (a newer writer's format is not half-read).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from .slots import SLOT_COUNT

__all__ = ["FORMAT_VERSION", "Node", "Shard", "Topology", "TopologyError", "is_node_id"]

FORMAT_VERSION = 1
_SHARD_KEYS = {"id", "slots", "log", "epoch", "migrating", "importing", "nodes"}
_ID = re.compile(r"^[0-9a-f]{40}$")


class TopologyError(ValueError):
    """A topology value that breaks the format or an invariant; the message says which."""


def is_node_id(text: str) -> bool:
    """40 lower-case hex digits: the form of node and shard ids (as Redis's)."""
    return bool(_ID.match(text))


@dataclass(frozen=True)
class Node:
    id: str
    host: str
    port: int
    role: str  # "primary" | "replica"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Shard:
    id: str
    nodes: tuple[Node, ...]
    slots: tuple[tuple[int, int], ...] = ()
    log: str | None = None
    epoch: int = 0
    migrating: dict[int, str] = field(default_factory=dict)
    importing: dict[int, str] = field(default_factory=dict)

    @property
    def primary(self) -> Node:
        return next(n for n in self.nodes if n.role == "primary")

    @property
    def replicas(self) -> tuple[Node, ...]:
        return tuple(n for n in self.nodes if n.role != "primary")

    @property
    def slot_count(self) -> int:
        return sum(last - first + 1 for first, last in self.slots)


@dataclass(frozen=True)
class Topology:
    epoch: int
    shards: tuple[Shard, ...]
    # the FT.* catalog (store.cluster.search_catalog), JSON-plain; None when empty
    search: dict[str, Any] | None = None

    # -- lookups ----------------------------------------------------------------------------
    @cached_property
    def owners(self) -> tuple[int, ...]:
        """Per slot, the index of its shard in :attr:`shards`; -1 for an unowned slot."""
        table = [-1] * SLOT_COUNT
        for index, shard in enumerate(self.shards):
            for first, last in shard.slots:
                table[first : last + 1] = [index] * (last - first + 1)
        return tuple(table)

    @cached_property
    def assigned(self) -> int:
        return sum(shard.slot_count for shard in self.shards)

    def owner(self, slot: int) -> Shard | None:
        index = self.owners[slot]
        return None if index < 0 else self.shards[index]

    def shard(self, shard_id: str) -> Shard | None:
        return next((s for s in self.shards if s.id == shard_id), None)

    def find_node(self, node_id: str) -> tuple[Shard, Node] | None:
        for shard in self.shards:
            for node in shard.nodes:
                if node.id == node_id:
                    return shard, node
        return None

    @property
    def nodes(self) -> list[Node]:
        return [node for shard in self.shards for node in shard.nodes]

    # -- format -----------------------------------------------------------------------------
    def to_plain(self) -> dict[str, Any]:
        plain: dict[str, Any] = {
            "version": FORMAT_VERSION,
            "epoch": self.epoch,
            "shards": [
                {
                    "id": s.id,
                    "slots": [list(r) for r in s.slots],
                    "log": s.log,
                    "epoch": s.epoch,
                    "migrating": {str(k): v for k, v in sorted(s.migrating.items())},
                    "importing": {str(k): v for k, v in sorted(s.importing.items())},
                    "nodes": [
                        {"id": n.id, "host": n.host, "port": n.port, "role": n.role}
                        for n in s.nodes
                    ],
                }
                for s in self.shards
            ],
        }
        if self.search:
            plain["search"] = self.search
        return plain

    def to_json(self) -> bytes:
        return json.dumps(self.to_plain(), sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> Topology:
        """Parse and validate; :class:`TopologyError` on anything off-format."""
        try:
            plain = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise TopologyError(f"topology is not JSON: {exc}") from exc
        return cls.from_plain(plain)

    @classmethod
    def from_plain(cls, plain: Any) -> Topology:
        try:
            _keys(plain, {"version", "epoch", "shards"}, "topology", optional={"search"})
            if plain["version"] != FORMAT_VERSION:
                raise TopologyError(
                    f"topology format version {plain['version']!r}; this memvec reads "
                    f"{FORMAT_VERSION}: upgrade it"
                )
            shards = []
            for s in plain["shards"]:
                _keys(
                    s, {"id", "slots", "log", "epoch", "migrating", "importing", "nodes"}, "shard"
                )
                nodes = []
                for n in s["nodes"]:
                    _keys(n, {"id", "host", "port", "role"}, "node")
                    nodes.append(Node(str(n["id"]), str(n["host"]), int(n["port"]), str(n["role"])))
                shards.append(
                    Shard(
                        id=str(s["id"]),
                        nodes=tuple(nodes),
                        slots=tuple((int(a), int(b)) for a, b in s["slots"]),
                        log=s["log"],
                        epoch=int(s["epoch"]),
                        migrating={int(k): str(v) for k, v in s["migrating"].items()},
                        importing={int(k): str(v) for k, v in s["importing"].items()},
                    )
                )
            search = plain.get("search")
            if search is not None and not isinstance(search, dict):
                raise TopologyError("topology search catalog is not an object")
            topology = cls(epoch=int(plain["epoch"]), shards=tuple(shards), search=search)
        except TopologyError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise TopologyError(f"malformed topology: {type(exc).__name__}: {exc}") from exc
        topology.validate()
        return topology

    def validate(self) -> None:
        """Raise :class:`TopologyError` unless every invariant of the module docstring holds."""
        seen: set[str] = set()
        owned = [False] * SLOT_COUNT
        shard_ids = {s.id for s in self.shards}
        for shard in self.shards:
            for ident in (shard.id, *(n.id for n in shard.nodes)):
                if not is_node_id(ident):
                    raise TopologyError(f"{ident!r} is not a 40-hex-digit id")
                if ident in seen:
                    raise TopologyError(f"id {ident} appears twice")
                seen.add(ident)
            primaries = [n for n in shard.nodes if n.role == "primary"]
            if len(primaries) != 1:
                raise TopologyError(f"shard {shard.id} has {len(primaries)} primaries, not 1")
            for node in shard.nodes:
                if node.role not in ("primary", "replica"):
                    raise TopologyError(f"node {node.id} has role {node.role!r}")
                if not 0 < node.port < 65536:
                    raise TopologyError(f"node {node.id} has port {node.port}")
            for first, last in shard.slots:
                if not 0 <= first <= last < SLOT_COUNT:
                    raise TopologyError(f"slot range {first}-{last} is outside 0-16383")
                for slot in range(first, last + 1):
                    if owned[slot]:
                        raise TopologyError(f"slot {slot} has two owners")
                    owned[slot] = True
            for other in (*shard.migrating.values(), *shard.importing.values()):
                if other not in shard_ids:
                    raise TopologyError(f"shard {shard.id} names unknown shard {other}")


def _keys(
    obj: Any, expected: set[str], what: str, optional: frozenset[str] | set[str] = frozenset()
) -> None:
    if not isinstance(obj, dict):
        raise TopologyError(f"{what} is not an object")
    extra = set(obj) - expected - optional
    missing = expected - set(obj)
    if extra or missing:
        raise TopologyError(
            f"{what} keys differ from format {FORMAT_VERSION}: "
            f"unknown {sorted(extra)}, missing {sorted(missing)}"
        )
