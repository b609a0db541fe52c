"""The cluster's index definitions, kept in the topology so a shard added later gets them.

Format (the topology's optional ``search`` value; JSON; arguments as text, bytes decoded
as UTF-8 with ``surrogateescape`` so any byte round-trips)::

    {"indexes": {"<name>": [["FT.CREATE", "<name>", "ON", "HASH", ...],
                            ["FT.ALTER", "<name>", "SCHEMA", "ADD", ...]]},
     "aliases": {"<alias>": "<index name>"}}

Each index keeps the commands that made it, in order (its FT.CREATE, then its FT.ALTERs):
replaying them makes the same index. FT.DROPINDEX removes the index and its aliases;
FT.ALIASADD/UPDATE set an alias, FT.ALIASDEL removes it; FT.SYNUPDATE records nothing
(memvec refuses it). A change is published with the topology's compare-and-set at the next
epoch (:func:`record_catalog`, retried on a lost race), after the shards accepted it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .source import TopologyConflict, TopologySource
from .topology import Topology

__all__ = ["Catalog", "record", "record_catalog"]

PUBLISH_ATTEMPTS = 10


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _raw(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


@dataclass
class Catalog:
    indexes: dict[str, list[list[str]]] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_topology(cls, topology: Topology) -> Catalog:
        plain = topology.search or {}
        return cls(
            {str(k): [list(map(str, c)) for c in v] for k, v in plain.get("indexes", {}).items()},
            {str(k): str(v) for k, v in plain.get("aliases", {}).items()},
        )

    def to_plain(self) -> dict[str, Any] | None:
        if not self.indexes and not self.aliases:
            return None
        return {"indexes": self.indexes, "aliases": self.aliases}

    def missing(self, have: set[str], aliases: Mapping[str, str]) -> Iterator[list[list[bytes]]]:
        """The commands that give a node holding ``have`` and ``aliases`` what it lacks:
        per missing index its commands, then one FT.ALIASADD per missing alias."""
        for name, commands in self.indexes.items():
            if name not in have:
                yield [[_raw(a) for a in c] for c in commands]
        for alias, index in self.aliases.items():
            if alias not in aliases and (index in have or index in self.indexes):
                yield [[b"FT.ALIASADD", _raw(alias), _raw(index)]]


def record(catalog: Catalog, args: Sequence[bytes]) -> Catalog:
    """``catalog`` after the definition command ``args`` (see the module docstring)."""
    name = args[0].upper()
    text = [_text(a) for a in args]
    text[0] = _text(name)
    indexes = {k: list(v) for k, v in catalog.indexes.items()}
    aliases = dict(catalog.aliases)
    if name == b"FT.CREATE":
        indexes[text[1]] = [text]
    elif name == b"FT.ALTER":
        target = aliases.get(text[1], text[1])
        if target in indexes:
            indexes[target].append([text[0], target, *text[2:]])
    elif name == b"FT.DROPINDEX":
        target = aliases.get(text[1], text[1])
        indexes.pop(target, None)
        aliases = {a: i for a, i in aliases.items() if i != target}
    elif name in (b"FT.ALIASADD", b"FT.ALIASUPDATE"):
        aliases[text[1]] = text[2]
    elif name == b"FT.ALIASDEL":
        aliases.pop(text[1], None)
    return Catalog(indexes, aliases)


def record_catalog(source: TopologySource, args: Sequence[bytes]) -> Topology:
    """Publish the current topology with ``args`` recorded in its catalog (blocking I/O:
    call it off the event loop); retried when another writer published first."""
    for _ in range(PUBLISH_ATTEMPTS):
        current = source.refresh()
        if current is None:
            raise TopologyConflict("no topology is published: create the cluster first")
        catalog = record(Catalog.from_topology(current), args)
        updated = dataclasses.replace(current, epoch=current.epoch + 1, search=catalog.to_plain())
        try:
            source.publish(updated)
        except TopologyConflict:
            continue
        return updated
    raise TopologyConflict(
        f"the topology changed {PUBLISH_ATTEMPTS} times while recording {_text(args[0])}"
    )
