"""Replication over the RESP link with the file log: read replicas, synchronous
acknowledgements (``--min-replicas-to-ack``, ``WAIT``) and failover (``REPLICAOF NO ONE``).

Modules: :mod:`.protocol` (the bytes of the link), :mod:`.primary` (backlog and feeders),
:mod:`.replica` (the link a replica runs), :mod:`.tls` (TLS on the link),
:mod:`.log_follower` (following and promotion on the Kafka log instead of the link),
:mod:`.role` (which of these a node is). The RESP commands that drive it live in the
server (:mod:`store.server.replication_handlers`); nothing here imports
:mod:`store.server`.
"""

from __future__ import annotations

from ..errors import NoReplicasError
from .role import Replication, parse_hostport

__all__ = ["NoReplicasError", "Replication", "parse_hostport"]
