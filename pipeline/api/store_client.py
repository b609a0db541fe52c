"""The store as the query API sees it: a small :class:`SearchStore` interface, two backends.

- :class:`EmbeddedStore` calls an in-process :class:`store.Engine`;
- :class:`RespStore` speaks RESP through redis-py connection pools to a memvec server, its
  replicas, redis-stack-server or MemoryDB. With ``read_from=replicas`` reads rotate over
  the replicas and fall back to the primary when a replica is unreachable, still loading,
  or does not have the index yet. With ``read_from=primary`` reads go to the primary and
  fall back to the other nodes when it does not answer; after such a failure the node
  that now answers as primary (:func:`pipeline.failover.find_primary`: role master,
  highest epoch) is looked up, so the API follows a failover.

Contract shared by both (the API calls them from worker threads, never on the event loop):

- Methods are blocking and thread-safe.
- ``search`` runs one KNN query (``FT.SEARCH ... DIALECT 2``) and returns hits sorted by
  ascending distance; ``filter_expr`` is a query string already compiled by
  :mod:`pipeline.api.filters` (``*`` for none), never raw user input.
- ``get`` returns a hash's fields, or ``None`` when the key does not exist.
- ``index_info``/``indexes`` read ``FT.INFO`` (RESP2 layout); ``lag`` is the index's
  ``lag_records`` when the store reports it, else ``None``.
- Failures are :class:`StoreClientError` subclasses that carry ``http_status``:
  :class:`IndexNotFound` (404), :class:`StoreRejected` (400, the store refused the query),
  :class:`StoreUnavailable` (503, retriable). Foreign exceptions never escape.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from store import Engine, LoadingError, StoreError

from .settings import ReadFrom

__all__ = [
    "DISTANCE_ALIAS",
    "EmbeddedStore",
    "IndexInfo",
    "IndexNotFound",
    "RespStore",
    "SearchHit",
    "SearchStore",
    "StoreClientError",
    "StoreRejected",
    "StoreUnavailable",
    "build_search_args",
    "parse_index_info",
]

DISTANCE_ALIAS = "__distance"


class StoreClientError(Exception):
    """The store could not answer. ``http_status`` is what the API replies."""

    http_status = 502
    code = "store_error"
    retriable = False


class StoreUnavailable(StoreClientError):
    """No store node answered (connection refused, timeout, still loading). Retry later."""

    http_status = 503
    code = "store_unavailable"
    retriable = True


class IndexNotFound(StoreClientError):
    http_status = 404
    code = "index_not_found"


class StoreRejected(StoreClientError):
    """The store refused the command (bad query or argument); retrying will not help."""

    http_status = 400
    code = "store_rejected"


@dataclass(frozen=True)
class SearchHit:
    id: str
    distance: float
    fields: dict[str, bytes]


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

    def get(self, doc_id: str) -> dict[str, bytes] | None: ...

    def index_info(self, index: str) -> IndexInfo: ...

    def indexes(self) -> list[IndexInfo]: ...

    def ping(self) -> None:
        """Returns when the store answers; raises :class:`StoreUnavailable` otherwise."""

    def close(self) -> None: ...


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _pairs(flat: Sequence[Any]) -> dict[str, Any]:
    return {_text(flat[i]): flat[i + 1] for i in range(0, len(flat) - 1, 2)}


def _int(value: object) -> int | None:
    try:
        return int(float(_text(value)))
    except (TypeError, ValueError):
        return None


def parse_index_info(name: str, reply: Sequence[Any]) -> IndexInfo:
    """An :class:`IndexInfo` from a RESP2 ``FT.INFO`` reply (memvec or RediSearch 2.x)."""
    info = _pairs(reply)
    fields: dict[str, str] = {}
    vectors: dict[str, tuple[int | None, str | None]] = {}
    for attr in info.get("attributes") or []:
        spec = _pairs(attr)
        attr_name = _text(spec.get("attribute", spec.get("identifier", "")))
        kind = _text(spec.get("type", "")).upper()
        fields[attr_name] = kind
        if kind == "VECTOR":
            metric = spec.get("distance_metric")
            vectors[attr_name] = (_int(spec.get("dim")), _text(metric) if metric else None)
    definition = _pairs(info.get("index_definition") or [])
    prefixes = tuple(_text(p) for p in definition.get("prefixes") or [])
    first_vec = next(iter(vectors), None)
    dims, metric = vectors[first_vec] if first_vec else (None, None)
    lag = _int(info["lag_records"]) if "lag_records" in info else None
    return IndexInfo(
        name=name,
        num_docs=_int(info.get("num_docs")) or 0,
        fields=fields,
        prefixes=prefixes,
        vector_field=first_vec,
        dims=dims,
        metric=metric,
        lag=lag,
        vectors=vectors,
    )


def build_search_args(
    index: str,
    vector_bytes: bytes,
    k: int,
    filter_expr: str,
    ef_runtime: int | None,
    return_fields: Sequence[str] | None,
    vector_field: str,
) -> list[str | bytes | int]:
    """``FT.SEARCH`` arguments of a KNN query; the distance comes back as ``__distance``."""
    knn = f"KNN {int(k)} @{vector_field} $B"
    params: list[str | bytes | int] = ["B", vector_bytes]
    if ef_runtime is not None:
        knn += " EF_RUNTIME $EF"
        params += ["EF", int(ef_runtime)]
    where = "*" if filter_expr.strip() in ("", "*") else f"({filter_expr})"
    query = f"{where}=>[{knn} AS {DISTANCE_ALIAS}]"
    args: list[str | bytes | int] = ["FT.SEARCH", index, query, "PARAMS", len(params), *params]
    if return_fields is not None:
        names = [DISTANCE_ALIAS, *dict.fromkeys(return_fields)]
        args += ["RETURN", len(names), *names]
    args += ["SORTBY", DISTANCE_ALIAS, "ASC", "LIMIT", 0, int(k), "DIALECT", 2]
    return args


def parse_search_reply(reply: Sequence[Any]) -> list[SearchHit]:
    hits: list[SearchHit] = []
    for i in range(1, len(reply) - 1, 2):
        flat = reply[i + 1] or []
        fields = {_text(flat[j]): flat[j + 1] for j in range(0, len(flat) - 1, 2)}
        raw = fields.pop(DISTANCE_ALIAS, b"nan")
        try:
            distance = float(_text(raw))
        except ValueError:
            distance = float("nan")
        hits.append(SearchHit(_text(reply[i]), distance, fields))
    return hits


def _translate_message(message: str) -> StoreClientError:
    lowered = message.lower()
    if "no such index" in lowered or "unknown index" in lowered:
        return IndexNotFound(message)
    if lowered.startswith("loading"):
        return StoreUnavailable(f"the store is loading its data, retry shortly ({message})")
    if lowered.startswith(("noauth", "noperm", "wrongpass")):
        return StoreUnavailable(f"the API's store credentials were refused ({message})")
    return StoreRejected(message)


class _CommandStore:
    """The :class:`SearchStore` operations, over one ``_call(*args)`` per subclass that
    runs a command and raises the errors of this module."""

    def _call(self, *args: Any) -> Any:
        raise NotImplementedError

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
    ) -> list[SearchHit]:
        args = build_search_args(
            index, vector_bytes, k, filter_expr, ef_runtime, return_fields, vector_field
        )
        return parse_search_reply(self._call(*args))

    def get(self, doc_id: str) -> dict[str, bytes] | None:
        reply = self._call("HGETALL", doc_id)
        if not reply:
            return None
        items = reply.items() if isinstance(reply, dict) else _pairs(reply).items()
        return {_text(k): v for k, v in items}

    def index_info(self, index: str) -> IndexInfo:
        return parse_index_info(index, self._call("FT.INFO", index))

    def indexes(self) -> list[IndexInfo]:
        names = sorted(_text(n) for n in self._call("FT._LIST"))
        return [self.index_info(n) for n in names]

    def ping(self) -> None:
        self._call("PING")


class EmbeddedStore(_CommandStore):
    """A :class:`SearchStore` over an in-process engine (started and stopped by the caller)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _call(self, *args: Any) -> Any:
        try:
            return self.engine.execute(*args)
        except LoadingError as exc:
            raise StoreUnavailable(f"the store is loading its data, retry shortly ({exc})") from exc
        except StoreError as exc:
            raise _translate_message(str(exc)) from exc
        except RuntimeError as exc:  # engine stopped or not started
            raise StoreUnavailable(f"the embedded store is not running: {exc}") from exc

    def close(self) -> None:
        """The engine belongs to the caller; nothing to release."""


class RespStore(_CommandStore):
    """A :class:`SearchStore` over RESP: ``urls[0]`` is the primary, the rest replicas."""

    def __init__(
        self,
        urls: Sequence[str],
        read_from: ReadFrom = ReadFrom.PRIMARY,
        *,
        socket_timeout_s: float = 5.0,
        max_connections: int = 64,
    ) -> None:
        import redis

        if not urls:
            raise ValueError("RespStore needs at least the primary's URL (redis://host:port)")
        self._redis = redis
        self.urls = list(urls)
        self.read_from = read_from
        self._clients = [
            redis.Redis.from_url(
                url,
                protocol=2,
                socket_timeout=socket_timeout_s,
                socket_connect_timeout=socket_timeout_s,
                max_connections=max_connections,
            )
            for url in self.urls
        ]
        self._rotation = itertools.count()
        self._lock = threading.Lock()
        self._primary = 0  # index into urls; moves when a failover promotes another node

    def _read_order(self) -> list[Any]:
        primary = self._clients[self._primary]
        replicas = [c for i, c in enumerate(self._clients) if i != self._primary]
        if self.read_from is ReadFrom.PRIMARY or not replicas:
            return [primary, *replicas]
        with self._lock:
            start = next(self._rotation) % len(replicas)
        return [*replicas[start:], *replicas[:start], primary]

    def _find_primary(self) -> None:
        from ..failover import find_primary, node_info

        found = find_primary([node_info(url) for url in self.urls])
        if found is not None:
            self._primary = found

    def _call(self, *args: Any) -> Any:
        errors: list[str] = []
        order = self._read_order()
        for n, client in enumerate(order):
            last = n == len(order) - 1
            try:
                return client.execute_command(*args)
            except self._redis.ResponseError as exc:
                err = _translate_message(str(exc))
                if last or not (err.retriable or isinstance(err, IndexNotFound)):
                    raise err from exc
                errors.append(f"{_node(client)}: {exc}")
            except self._redis.RedisError as exc:  # connection refused, timeout, closed
                errors.append(f"{_node(client)}: {exc}")
                if client is self._clients[self._primary] and len(self._clients) > 1:
                    self._find_primary()
                if last:
                    raise StoreUnavailable(
                        "no store node answered; check --store and that the servers run ("
                        + "; ".join(errors)
                        + ")"
                    ) from exc
        raise StoreUnavailable("no store node configured")

    def close(self) -> None:
        for client in self._clients:
            client.close()


def _node(client: Any) -> str:
    kw = client.connection_pool.connection_kwargs
    return f"{kw.get('host', '?')}:{kw.get('port', '?')}"
