"""The store as the pipeline sees it: :class:`StoreClient` for writes, :class:`SearchStore`
for the query API's reads, one :class:`SearchHit` and one :class:`IndexInfo`.

Both interfaces are implemented by the same two classes, so a deployment opens one
client per store whatever it does with it:

- :class:`~pipeline.stores.embedded.EmbeddedStore` over an in-process ``store.Engine``;
- :class:`~pipeline.stores.resp.RespStore` over RESP (memvec server and its replicas,
  redis-stack-server, MemoryDB), following the primary through a failover
  (:mod:`pipeline.stores.failover`).

Errors are the :class:`~pipeline.errors.StoreClientError` family of
:mod:`pipeline.errors`; foreign exceptions never escape either interface.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["Command", "IndexInfo", "ReadFrom", "SearchHit", "SearchStore", "StoreClient"]

Command = Sequence[bytes | str | int | float]


class ReadFrom(enum.Enum):
    """Where reads go when the store has replicas."""

    PRIMARY = "primary"
    REPLICAS = "replicas"


class StoreClient(ABC):
    """Runs lists of commands: the worker's, the handler's and the backfill's write path.

    ``run(commands, atomic=False)`` sends them pipelined (one round trip, each reply or
    error in place); ``atomic=True`` sends one MULTI/EXEC transaction (all applied or
    none, one log record on memvec). An error *reply* comes back as an ``Exception``
    instance in its command's place, never raised half-way, so the caller decides per
    command. A store that cannot be reached raises
    :class:`~pipeline.errors.StoreUnavailable` (retriable), and an atomic list whose
    primary changed under it raises :class:`~pipeline.errors.PrimaryChanged`.

    ``slot_routed`` is True for a Redis Cluster: an atomic list must keep every key in one
    hash slot, so writers that commit several keys together give them one hash tag.
    """

    slot_routed: bool = False

    @abstractmethod
    def run(self, commands: Sequence[Command], *, atomic: bool = False) -> list[Any]:
        """Replies in order; an error reply is an ``Exception`` instance in its place."""

    def scan(self, match: str, count: int = 1000) -> Iterator[bytes]:
        """Every key matching the glob ``match`` (``SCAN`` to its end; a cluster walks
        every primary). Keys written meanwhile may or may not be seen, as with SCAN."""
        cursor: bytes | str | int = 0
        while True:
            (reply,) = self.run([["SCAN", cursor, "MATCH", match, "COUNT", count]])
            if isinstance(reply, Exception):
                raise reply
            cursor = reply[0]
            for key in reply[1]:
                yield key if isinstance(key, bytes) else str(key).encode()
            if cursor in (0, b"0", "0"):
                return

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections. Idempotent."""


@dataclass(frozen=True)
class SearchHit:
    """One result of a KNN query (``distance``; ``score`` None) or of a text query
    (``score``, the store's BM25STD score; ``distance`` NaN); ``fields`` holds the
    returned hash fields, raw."""

    id: str
    distance: float
    fields: dict[str, bytes]
    score: float | None = None


@dataclass(frozen=True)
class IndexInfo:
    name: str
    num_docs: int
    fields: dict[str, str]
    """Attribute name -> type (``TAG``, ``NUMERIC``, ``TEXT``, ``VECTOR``, ...)."""
    prefixes: tuple[str, ...] = ()
    vector_field: str | None = None
    dims: int | None = None
    metric: str | None = None
    lag: int | None = None
    vectors: dict[str, tuple[int | None, str | None]] = field(default_factory=dict)
    """Vector attribute -> (dims, metric)."""

    def vector(self, name: str) -> tuple[int | None, str | None] | None:
        return self.vectors.get(name)


class SearchStore(Protocol):
    """The query API's reads. Contract (the API calls them from worker threads):

    - Methods are blocking and thread-safe.
    - ``search`` runs one KNN query (``FT.SEARCH ... DIALECT 2``) and returns hits sorted
      by ascending distance; ``filter_expr`` is a query string already compiled by
      :mod:`pipeline.api.filters` (``*`` for none), never raw user input.
    - ``text_search`` runs one full-text query (``FT.SEARCH ... WITHSCORES SCORER
      BM25STD``): documents whose ``text_field`` holds any of ``terms`` (already
      tokenised, non-empty; escaped by the store side), best ``k`` first, each with its
      ``score``.
    - ``get`` returns a hash's fields, or ``None`` when the key does not exist.
    - ``index_info``/``indexes`` read ``FT.INFO`` (RESP2 layout); ``lag`` is the index's
      ``lag_records`` when the store reports it, else ``None``.
    - Failures are :class:`~pipeline.errors.StoreClientError` subclasses carrying
      ``http_status``: ``IndexNotFound`` (404), ``StoreRejected`` (400, the store refused
      the query), ``StoreUnavailable`` (503, retriable).
    """

    def search(
        self,
        index: str,
        vector_bytes: bytes,
        k: int,
        filter_expr: str = "*",
        ef_runtime: int | None = None,
        return_fields: Sequence[str] | None = None,
        *,
        vector_field: str = "vec",
    ) -> list[SearchHit]: ...

    def text_search(
        self,
        index: str,
        terms: Sequence[str],
        k: int,
        filter_expr: str = "*",
        return_fields: Sequence[str] | None = None,
        *,
        text_field: str = "text",
    ) -> list[SearchHit]: ...

    def get(self, doc_id: str) -> dict[str, bytes] | None: ...

    def index_info(self, index: str) -> IndexInfo: ...

    def indexes(self) -> list[IndexInfo]: ...

    def ping(self) -> None:
        """Returns when the store answers; raises ``StoreUnavailable`` otherwise."""

    def close(self) -> None: ...
