"""The store over RESP: :class:`RespStore`, one client for writes and reads over a node list.

``urls`` names every node of one store: memvec server and its replicas, redis-stack-server
or MemoryDB. redis-py talks RESP2 to them through one connection pool per node.

- **Writes** (:meth:`RespStore.run`) go to the primary. With one URL there is nobody to
  follow: the list is sent there, and a connection failure raises
  :class:`~pipeline.errors.StoreUnavailable`. With several, the
  :class:`~pipeline.stores.failover.PrimaryFollower` loop finds the primary (role
  master, highest epoch) and follows it through a failover.
- **Reads** (the :class:`~pipeline.stores.base.SearchStore` operations) go where
  ``read_from`` says. ``PRIMARY``: to the primary, falling back to the other nodes when
  it does not answer; after such a failure the follower probes the nodes once so the
  next read goes to the new primary. ``REPLICAS``: rotate over the replicas and fall back
  to the primary when a replica is unreachable, still loading, or does not have the index
  yet. Before any write found it, the first URL is taken to be the primary.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from typing import Any

from ..errors import IndexNotFound, StoreUnavailable
from .base import Command, ReadFrom, StoreClient
from .failover import PrimaryFollower
from .reads import CommandReads, translate_message

__all__ = ["RespStore"]


class RespStore(CommandReads, StoreClient):
    """A :class:`StoreClient` and :class:`SearchStore` over RESP (module docstring).

    ``socket_timeout_s``: per-command socket timeout (``None``: wait as long as the server
    takes; a failover is then noticed only when the connection breaks).
    ``failover_timeout_s``/``poll_interval_s``: how long, and how often, a write looks for
    a new primary (several URLs only).
    """

    def __init__(
        self,
        urls: Sequence[str],
        read_from: ReadFrom = ReadFrom.PRIMARY,
        *,
        socket_timeout_s: float | None = 10.0,
        failover_timeout_s: float = 60.0,
        poll_interval_s: float = 0.1,
        max_connections: int = 64,
    ) -> None:
        import redis

        if not urls:
            raise ValueError("RespStore needs at least the primary's URL (redis://host:port)")
        self._redis = redis
        self.urls = list(urls)
        self.read_from = read_from
        extra: dict[str, Any] = {}
        if len(self.urls) > 1:
            # fail fast: the follower, not redis-py, decides where to retry
            from redis.backoff import NoBackoff
            from redis.retry import Retry

            extra["retry"] = Retry(NoBackoff(), 0)
        self._clients = [
            redis.Redis.from_url(
                url,
                protocol=2,
                socket_timeout=socket_timeout_s,
                socket_connect_timeout=socket_timeout_s,
                max_connections=max_connections,
                **extra,
            )
            for url in self.urls
        ]
        self._follower: PrimaryFollower | None = None
        if len(self.urls) > 1:
            self._follower = PrimaryFollower(
                self.urls,
                failover_timeout_s=failover_timeout_s,
                poll_interval_s=poll_interval_s,
                probe_timeout_s=min(2.0, socket_timeout_s or 2.0),
            )
        self._rotation = itertools.count()
        self._lock = threading.Lock()

    @property
    def primary_url(self) -> str | None:
        """The node writes go to (None until a write or a read failure found it)."""
        if self._follower is None:
            return self.urls[0]
        index = self._follower.index
        return None if index is None else self.urls[index]

    # -- writes -----------------------------------------------------------------------------
    def _send(self, index: int, commands: Sequence[Command], atomic: bool) -> list[Any]:
        pipe = self._clients[index].pipeline(transaction=atomic)
        for cmd in commands:
            pipe.execute_command(*cmd)
        return list(pipe.execute(raise_on_error=False))

    def run(self, commands: Sequence[Command], *, atomic: bool = False) -> list[Any]:
        if self._follower is not None:
            return self._follower.run(self._send, commands, atomic)
        redis = self._redis
        try:
            return self._send(0, commands, atomic)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise StoreUnavailable(
                f"{self.urls[0]}: {type(exc).__name__}: {exc}; check the store URL and that "
                "the server runs"
            ) from exc
        except redis.ResponseError as exc:  # EXEC's own reply (EXECABORT, NOREPLICAS)
            raise translate_message(str(exc)) from exc

    # -- reads ------------------------------------------------------------------------------
    def _primary_index(self) -> int:
        known = None if self._follower is None else self._follower.index
        return 0 if known is None else known

    def _read_order(self, primary: int) -> list[int]:
        replicas = [i for i in range(len(self._clients)) if i != primary]
        if self.read_from is ReadFrom.PRIMARY or not replicas:
            return [primary, *replicas]
        with self._lock:
            start = next(self._rotation) % len(replicas)
        return [*replicas[start:], *replicas[:start], primary]

    def call(self, *args: Any) -> Any:
        errors: list[str] = []
        primary = self._primary_index()
        order = self._read_order(primary)
        for n, index in enumerate(order):
            last = n == len(order) - 1
            try:
                return self._clients[index].execute_command(*args)
            except self._redis.ResponseError as exc:
                err = translate_message(str(exc))
                if last or not (err.retriable or isinstance(err, IndexNotFound)):
                    raise err from exc
                errors.append(f"{self.urls[index]}: {exc}")
            except self._redis.RedisError as exc:  # connection refused, timeout, closed
                errors.append(f"{self.urls[index]}: {exc}")
                if self._follower is not None and index == primary:
                    self._follower.refresh()
                if last:
                    raise StoreUnavailable(
                        "no store node answered; check the store URLs and that the servers "
                        "run (" + "; ".join(errors) + ")"
                    ) from exc
        raise StoreUnavailable("no store node configured")

    def close(self) -> None:
        for client in self._clients:
            client.close()
        if self._follower is not None:
            self._follower.close()
