"""The store as a Redis Cluster: :class:`ClusterStore` over redis-py's ``RedisCluster``.

A cluster URL names some nodes of one cluster (any node will do: the client reads the
slot map from the first that answers and follows ``MOVED``/``ASK`` from then on)::

    redis+cluster://HOST:PORT[,HOST:PORT...]        plain RESP
    rediss+cluster://HOST:PORT[,HOST:PORT...]       TLS
    redis+cluster://USER:PASSWORD@HOST:PORT,...     AUTH (the first node's credentials)

Each later node may repeat the scheme (``redis+cluster://a:1,redis+cluster://b:2``). A
path, query string or fragment is refused: nothing in the URL is silently ignored.

What changes against one node (:class:`~pipeline.stores.resp.RespStore`):

- **Keys are routed by slot.** A pipelined :meth:`ClusterStore.run` is split by redis-py
  into one round trip per owning node, replies back in order. An atomic run is one
  MULTI/EXEC on the node owning the slot, so *every key of it must hash to one slot*:
  the pipeline's writers put a hash tag in the keys they write together
  (:attr:`~pipeline.stores.base.StoreClient.slot_routed`, :mod:`pipeline.processor`); a
  transaction across slots raises :class:`~pipeline.errors.StoreRejected` (a bug of the
  caller, not retriable).
- **FT.CREATE goes to every primary**, one at a time; "Index already exists" from a node
  counts as created there. With a server that broadcasts FT.CREATE itself the first call
  creates the index everywhere and the others answer "already exists"; with one that does
  not, every shard still gets the index, so writes to any slot are indexed. The reply is
  ``OK`` if any node created it, else the "already exists" error (what one node answers).
- **Other FT.* commands** (FT.SEARCH, FT.INFO, FT._LIST) have no key: redis-py sends them
  to one node, and a memvec cluster answers from every shard (the node fans the query out;
  docs/cluster.md). Against a server without that fan-out the answer is the receiving
  shard's alone.
- **SCAN** walks every primary (:meth:`ClusterStore.scan`), since a cursor belongs to one
  node.
- ``read_from=REPLICAS`` sends keyed reads to replicas (redis-py ``READONLY`` connections,
  round robin over a shard's nodes); FT.* go where redis-py sends keyless commands.

Errors: an unreachable cluster, ``CLUSTERDOWN``, a slot map that cannot be read, or a
transaction that met a moving slot (``MOVED``/``ASK``/``TRYAGAIN`` past redis-py's own
retries) raise :class:`~pipeline.errors.StoreUnavailable` (retriable: the worker retries
and recomputes the write); error replies are translated as for one node
(:func:`~pipeline.stores.reads.translate_message`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

from ..errors import StoreRejected, StoreUnavailable
from .base import Command, ReadFrom, StoreClient
from .reads import CommandReads, translate_message

__all__ = ["CLUSTER_SCHEMES", "ClusterStore", "is_cluster_url", "parse_cluster_url"]

CLUSTER_SCHEMES = ("redis+cluster://", "rediss+cluster://")
_BROADCAST = frozenset({"FT.CREATE"})


def is_cluster_url(spec: str) -> bool:
    """Whether ``spec`` names a Redis Cluster (``redis+cluster://``, ``rediss+cluster://``)."""
    return spec.startswith(CLUSTER_SCHEMES)


def parse_cluster_url(spec: str) -> dict[str, Any]:
    """``{"nodes": [(host, port), ...], "ssl": bool, "username", "password"}`` of a cluster
    URL (module docstring); ``ValueError`` saying what is wrong otherwise."""
    if not is_cluster_url(spec):
        raise ValueError(f"{spec!r} is not a cluster URL: use redis+cluster://HOST:PORT[,...]")
    scheme = spec.split("://", 1)[0]
    nodes: list[tuple[str, int]] = []
    username = password = None
    for n, part in enumerate(p.strip() for p in spec[len(scheme) + 3 :].split(",")):
        if not part:
            continue
        if "://" in part:
            other, _, part = part.partition("://")
            if other != scheme:
                raise ValueError(f"{spec!r}: every node must use {scheme}://, not {other}://")
        parsed = urlsplit(f"{scheme}://{part}")
        if parsed.path or parsed.query or parsed.fragment:
            raise ValueError(
                f"{spec!r}: a cluster URL takes no path, query or fragment "
                f"({part!r}); a cluster has one database (0)"
            )
        try:
            port = parsed.port
        except ValueError as exc:
            raise ValueError(f"{spec!r}: {part!r} has no valid port") from exc
        if not parsed.hostname or port is None:
            raise ValueError(f"{spec!r}: {part!r} is not HOST:PORT")
        if n == 0 and (parsed.username or parsed.password):
            username = unquote(parsed.username) if parsed.username else None
            password = unquote(parsed.password) if parsed.password else None
        nodes.append((parsed.hostname, port))
    if not nodes:
        raise ValueError(f"{spec!r} names no node: redis+cluster://HOST:PORT[,HOST:PORT...]")
    return {
        "nodes": nodes,
        "ssl": scheme == "rediss+cluster",
        "username": username,
        "password": password,
    }


def _name(command: Command) -> str:
    first = command[0]
    return (first.decode() if isinstance(first, bytes) else str(first)).upper()


class ClusterStore(CommandReads, StoreClient):
    """A :class:`StoreClient` and :class:`SearchStore` over a Redis Cluster (module
    docstring). ``socket_timeout_s`` applies to every node's connections (``None``: wait
    as long as a node takes)."""

    slot_routed = True

    def __init__(
        self,
        url: str,
        read_from: ReadFrom = ReadFrom.PRIMARY,
        *,
        socket_timeout_s: float | None = 10.0,
        max_connections: int = 64,
    ) -> None:
        import redis
        from redis.cluster import ClusterNode, RedisCluster

        parsed = parse_cluster_url(url)
        self._redis = redis
        self.url = url
        self.read_from = read_from
        options: dict[str, Any] = {}
        if read_from is ReadFrom.REPLICAS:
            from redis.cluster import LoadBalancingStrategy

            options["load_balancing_strategy"] = LoadBalancingStrategy.ROUND_ROBIN_REPLICAS
        self._options = dict(
            startup_nodes=[ClusterNode(h, p) for h, p in parsed["nodes"]],
            protocol=2,
            ssl=parsed["ssl"],
            username=parsed["username"],
            password=parsed["password"],
            socket_timeout=socket_timeout_s,
            socket_connect_timeout=socket_timeout_s,
            max_connections=max_connections,
            **options,
        )
        self._cluster_class = RedisCluster
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def _rc(self) -> Any:
        """The ``RedisCluster``, made on first use (it reads the slot map when made, so a
        cluster that is not up yet fails a command, retriably, not the constructor)."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._cluster_class(**self._options)
        return self._client

    def _unavailable(self, exc: Exception) -> StoreUnavailable:
        return StoreUnavailable(
            f"{self.url}: {type(exc).__name__}: {exc}; check that the cluster's nodes run"
        )

    # -- writes -----------------------------------------------------------------------------
    def run(self, commands: Sequence[Command], *, atomic: bool = False) -> list[Any]:
        if not atomic and any(_name(c) in _BROADCAST for c in commands):
            return [self._broadcast(c) if _name(c) in _BROADCAST else self._one(c)
                    for c in commands]  # fmt: skip
        redis = self._redis
        # redirections redis-py gives up on inside a transaction: retried, not refused
        moving = (redis.exceptions.AskError, redis.exceptions.MovedError,
                  redis.exceptions.TryAgainError, redis.exceptions.ClusterDownError)  # fmt: skip
        try:
            pipe = self._rc.pipeline(transaction=atomic)
            for cmd in commands:
                pipe.execute_command(*cmd)
            return list(pipe.execute(raise_on_error=False))
        except redis.exceptions.CrossSlotTransactionError as exc:
            raise StoreRejected(
                f"a transaction's keys are in different hash slots ({exc}): keys written "
                "together need one hash tag, e.g. chunk:{bucket/key}#0"
            ) from exc
        except moving as exc:  # a slot moved or is moving under a transaction: retry
            raise StoreUnavailable(
                f"{self.url}: {type(exc).__name__}: {exc}; the slot is moving (resharding "
                "or failover): retry the write"
            ) from exc
        except redis.ResponseError as exc:  # EXEC's own reply (EXECABORT)
            raise translate_message(str(exc)) from exc
        except (redis.RedisError, redis.exceptions.RedisClusterException) as exc:
            raise self._unavailable(exc) from exc

    def _one(self, command: Command) -> Any:
        try:
            return self.call(*command)
        except StoreRejected as exc:
            return exc

    def _broadcast(self, command: Command) -> Any:
        """``command`` on every primary in turn (module docstring, FT.CREATE)."""
        redis = self._redis
        created = False
        exists: Exception | None = None
        try:
            primaries = self._rc.get_primaries()
        except (redis.RedisError, redis.exceptions.RedisClusterException) as exc:
            raise self._unavailable(exc) from exc
        for node in primaries:
            try:
                self._rc.execute_command(*command, target_nodes=node)
                created = True
            except redis.ResponseError as exc:
                if "already exists" not in str(exc).lower():
                    return translate_message(str(exc))
                exists = translate_message(str(exc))
            except (redis.RedisError, redis.exceptions.RedisClusterException) as exc:
                raise self._unavailable(exc) from exc
        return b"OK" if created or exists is None else exists

    # -- reads ------------------------------------------------------------------------------
    def call(self, *args: Any) -> Any:
        redis = self._redis
        try:
            return self._rc.execute_command(*args)
        except redis.ResponseError as exc:
            raise translate_message(str(exc)) from exc
        except (redis.RedisError, redis.exceptions.RedisClusterException) as exc:
            raise self._unavailable(exc) from exc

    def scan(self, match: str, count: int = 1000) -> Iterator[bytes]:
        """Every key matching ``match`` on every primary (each node's SCAN to its end)."""
        redis = self._redis
        try:
            yield from self._rc.scan_iter(match=match, count=count)
        except (redis.RedisError, redis.exceptions.RedisClusterException) as exc:
            raise self._unavailable(exc) from exc

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
