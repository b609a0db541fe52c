"""The pipeline's store clients: one interface per direction, two backends.

::

    base.py       StoreClient (writes), SearchStore (reads), SearchHit, IndexInfo, ReadFrom
    reads.py      the SearchStore operations as FT.SEARCH / FT.INFO / HGETALL commands
    embedded.py   EmbeddedStore: an in-process store.Engine
    resp.py       RespStore: a RESP node list (primary + replicas), read_from
    cluster.py    ClusterStore: a Redis Cluster (redis+cluster://), routed by slot
    failover.py   PrimaryFollower: the one primary-following loop; promote(), node_info()

Errors are the ``StoreClientError`` family of :mod:`pipeline.errors`. :func:`open_store`
turns a store spec (``embedded:<dir>``, ``redis://a:6379[,redis://b:6379...]``) into a
client, the same way for ``memvec worker``, ``memvec ingest`` and ``memvec api``;
``redis+cluster://host:port[,host:port...]`` (``rediss+cluster://`` for TLS) opens a
:class:`ClusterStore`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .base import Command, IndexInfo, ReadFrom, SearchHit, SearchStore, StoreClient
from .cluster import ClusterStore, is_cluster_url, parse_cluster_url
from .embedded import EmbeddedStore
from .failover import PrimaryFollower, find_primary, node_info, promote, split_urls
from .resp import RespStore

__all__ = [
    "ClusterStore",
    "Command",
    "EmbeddedStore",
    "IndexInfo",
    "PrimaryFollower",
    "ReadFrom",
    "RespStore",
    "SearchHit",
    "SearchStore",
    "StoreClient",
    "find_primary",
    "is_cluster_url",
    "node_info",
    "open_store",
    "parse_cluster_url",
    "promote",
    "split_urls",
]

STORE_SPECS = (
    "embedded:<dir>, redis://host:port[,redis://host:port...] (rediss:// for TLS) or "
    "redis+cluster://host:port[,host:port...] (rediss+cluster:// for TLS)"
)


def open_store(
    spec: str, read_from: ReadFrom = ReadFrom.PRIMARY, *, socket_timeout_s: float | None = None
) -> tuple[EmbeddedStore | RespStore | ClusterStore, Callable[[], None]]:
    """``(store, close)`` for a store spec; ``close()`` releases what was opened (for
    ``embedded:`` it also stops the engine this call started). ``ValueError`` on a spec of
    another form. ``socket_timeout_s`` applies to RESP nodes (``None``: no timeout with
    one node, 10 s with several, so that a dead primary is noticed; 10 s for a cluster)."""
    if spec.startswith("embedded:"):
        from store import Engine, EngineConfig

        engine = Engine(EngineConfig(data_dir=Path(spec.removeprefix("embedded:")))).start()
        embedded = EmbeddedStore(engine)
        return embedded, engine.stop
    if is_cluster_url(spec):
        cluster = ClusterStore(
            spec, read_from, socket_timeout_s=10.0 if socket_timeout_s is None else socket_timeout_s
        )
        return cluster, cluster.close
    if spec.startswith(("redis://", "rediss://", "unix://")):
        urls = split_urls(spec)
        if socket_timeout_s is None and len(urls) > 1:
            socket_timeout_s = 10.0
        resp = RespStore(urls, read_from, socket_timeout_s=socket_timeout_s)
        return resp, resp.close
    raise ValueError(f"store {spec!r}: use {STORE_SPECS}")
