"""A node's cluster identity: its node id and the shard id it founds, kept across restarts.

Byte format of ``<data dir>/cluster-node.id`` (ASCII, written atomically)::

    node <40 hex>\\n
    shard <40 hex>\\n

The node id is made once (random 160 bits, as Redis's) and never changes, so the topology
can name the node. The shard id is the one this node's shard gets when ``memvec cluster
create`` makes it a primary (a replica joins its primary's shard). Without a data
directory the identity lives for the process only.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from ..files import atomic_write_bytes
from .topology import is_node_id

__all__ = ["IDENTITY_FILE", "Identity", "load_identity"]

IDENTITY_FILE = "cluster-node.id"


@dataclass(frozen=True)
class Identity:
    node_id: str
    shard_id: str


def load_identity(data_dir: Path | None) -> Identity:
    """Read ``data_dir``'s identity, or make and persist a new one.

    ValueError if the file exists but is damaged (the node must not silently become
    another node: fix or delete the file knowingly).
    """
    path = data_dir / IDENTITY_FILE if data_dir is not None else None
    if path is not None and path.exists():
        fields = dict(line.split(" ", 1) for line in path.read_text("ascii").splitlines() if line)
        node, shard = fields.get("node", ""), fields.get("shard", "")
        if not (is_node_id(node) and is_node_id(shard)):
            raise ValueError(f"{path} is damaged: expected 'node <40 hex>' and 'shard <40 hex>'")
        return Identity(node, shard)
    identity = Identity(secrets.token_hex(20), secrets.token_hex(20))
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, f"node {identity.node_id}\nshard {identity.shard_id}\n".encode())
    return identity
