"""Following the store's primary through a failover, and making one happen.

A deployment names every store node (``redis://a:6379,redis://b:6379``, the same list for
workers and the API); which node is the primary changes when a replica is promoted
(``REPLICAOF NO ONE``, or ``FAILOVER`` run on a healthy primary). Clients follow it the
way Sentinel-aware Redis clients do, without a Sentinel:

- :func:`node_info` reads ``INFO replication``; :func:`find_primary` picks, among the
  nodes that answer ``role:master``, the one with the highest ``memvec_epoch``. A deposed
  primary that comes back (restarted without ``--replicaof``) also says master, but with
  an older epoch, so it is never chosen over the promoted node (servers that report no
  epoch count as 0; with two such masters the first listed wins).
- :class:`PrimaryFollower` is the one place a client tracks the primary; the RESP client
  (:class:`pipeline.stores.resp.RespStore`) uses it for writes and reads. Its
  :meth:`~PrimaryFollower.run` loop sends a command list to the current primary. When
  it is unreachable, refuses writes (``READONLY``: it was demoted) or is loading, the
  loop polls the nodes every ``poll_interval_s`` until one is primary again, for at
  most ``failover_timeout_s``. Then a *non-atomic* list is re-sent to the new primary,
  while an *atomic* one (the processor's MULTI/EXEC commit) raises
  :class:`~pipeline.errors.PrimaryChanged` (retriable): it was computed from reads of
  the old primary, so the caller must recompute it. A ``NOREPLICAS`` reply (applied on
  the primary, but fewer than ``--min-replicas-to-ack`` replicas have it yet) is re-sent
  to the *same* primary until acknowledged: re-applying the same absolute ``HSET``/``DEL``
  writes on the node that already applied them changes nothing. Past the timeout the
  replies are returned as they are (errors in place), or
  :class:`~pipeline.errors.PrimaryUnavailable` is raised when no node is primary. Reads
  that find the primary gone call :meth:`~PrimaryFollower.refresh` (one probe round, no
  waiting) and fall back to the other nodes themselves.
- :func:`promote` is what an operator runs after losing the primary (``memvec stack
  failover``): a healthy primary hands over with ``FAILOVER`` (no write lost, the old
  primary follows the new one); otherwise the reachable replica with the highest offset
  gets ``REPLICAOF NO ONE``. Every other reachable node is then pointed at the new
  primary with ``REPLICAOF``. With ``--min-replicas-to-ack 1`` on the old primary, the
  promoted replica holds every write that was acknowledged (docs/replication.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from ..errors import PrimaryChanged, PrimaryUnavailable, StoreUnavailable
from .base import Command
from .reads import translate_message

log = logging.getLogger("memvec.failover")

__all__ = [
    "NodeInfo",
    "PrimaryFollower",
    "find_primary",
    "node_info",
    "promote",
    "split_urls",
]

Send = Callable[[int, Sequence[Command], bool], list[Any]]
"""``send(node index, commands, atomic)``: one pipelined round trip, errors in place."""


@dataclass(frozen=True)
class NodeInfo:
    """One node's answer to ``INFO replication`` (``reachable=False``: no answer)."""

    url: str
    reachable: bool
    role: str = ""  # "master" | "slave"
    epoch: int = 0
    offset: int = 0  # master_repl_offset / slave_repl_offset: the node's last log seq
    link_up: bool = False  # replicas: master_link_status:up
    replicas: int = 0  # primaries: connected_slaves

    @property
    def address(self) -> tuple[str, int]:
        parsed = urlparse(self.url)
        return parsed.hostname or "127.0.0.1", parsed.port or 6379


def split_urls(text: str) -> list[str]:
    """``"redis://a:1, redis://b:2"`` -> ``["redis://a:1", "redis://b:2"]``."""
    return [u.strip() for u in text.split(",") if u.strip()]


def _probe_client(url: str, timeout_s: float) -> Any:
    """A redis-py client that fails at once (no retries): failures are what we look for."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis.from_url(
        url, protocol=2, socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
        retry=Retry(NoBackoff(), 0),
    )  # fmt: skip


def _read_node_info(client: Any, url: str) -> NodeInfo:
    """``INFO replication`` over ``client``; an unreachable node is ``reachable=False``."""
    import redis

    try:
        fields: dict[str, Any] = client.info("replication")
    except redis.RedisError:
        return NodeInfo(url, False)
    role = str(fields.get("role", ""))
    offset = fields.get("master_repl_offset" if role == "master" else "slave_repl_offset", 0)
    return NodeInfo(
        url, True, role, int(fields.get("memvec_epoch", 0) or 0), int(offset or 0),
        fields.get("master_link_status") == "up", int(fields.get("connected_slaves", 0) or 0),
    )  # fmt: skip


def node_info(url: str, timeout_s: float = 2.0) -> NodeInfo:
    """``INFO replication`` of one node, over a short-lived connection."""
    client = _probe_client(url, timeout_s)
    try:
        return _read_node_info(client, url)
    finally:
        client.close()


def find_primary(infos: Sequence[NodeInfo]) -> int | None:
    """Index of the master with the highest epoch (first listed on a tie), or None."""
    best: int | None = None
    for i, info in enumerate(infos):
        master = info.reachable and info.role == "master"
        if master and (best is None or info.epoch > infos[best].epoch):
            best = i
    return best


def _is_noreplicas(reply: Any) -> bool:
    """An error reply saying too few replicas acknowledged a write (it was applied)."""
    return isinstance(reply, Exception) and str(reply).startswith("NOREPLICAS")


class PrimaryFollower:
    """Which of ``urls`` is the primary, and the loop that follows it (module docstring).

    ``index`` is ``None`` until the first :meth:`run` (or :meth:`refresh`) finds it.
    Thread-safety: ``index`` is one attribute, replaced whole; concurrent callers may
    both probe after a failure, and both find the same primary.
    """

    def __init__(
        self,
        urls: Sequence[str],
        *,
        failover_timeout_s: float = 60.0,
        poll_interval_s: float = 0.1,
        probe_timeout_s: float = 2.0,
    ) -> None:
        if not urls:
            raise ValueError("the store nodes' URLs are needed (redis://host:port,...)")
        self.urls = list(urls)
        self.failover_timeout_s = failover_timeout_s
        self.poll_interval_s = poll_interval_s
        self.index: int | None = None
        self._probes = [_probe_client(u, probe_timeout_s) for u in self.urls]

    def _infos(self) -> list[NodeInfo]:
        return [_read_node_info(c, u) for c, u in zip(self._probes, self.urls, strict=True)]

    def refresh(self) -> None:
        """One probe round: remember the primary if a node answers as one."""
        found = find_primary(self._infos())
        if found is not None:
            self.index = found

    def wait(self, deadline: float, why: str) -> int:
        """Poll until a node is primary (its index); ``PrimaryUnavailable`` past ``deadline``."""
        while True:
            infos = self._infos()
            found = find_primary(infos)
            if found is not None:
                log.info("store primary: %s (%s)", self.urls[found], why)
                self.index = found
                return found
            if time.monotonic() >= deadline:
                seen = ", ".join(f"{i.url} {i.role or 'unreachable'}" for i in infos)
                raise PrimaryUnavailable(
                    f"no store node is primary after {self.failover_timeout_s:g} s ({why}; "
                    f"{seen}): promote a replica (memvec stack failover) or restart the primary"
                )
            time.sleep(self.poll_interval_s)

    def run(self, send: Send, commands: Sequence[Command], atomic: bool) -> list[Any]:
        """``commands`` on the primary through ``send``, following it (module docstring)."""
        import redis

        deadline = time.monotonic() + self.failover_timeout_s
        index = self.index
        if index is None:
            index = self.wait(deadline, "looking for the primary")
        while True:
            try:
                replies = send(index, commands, atomic)
            except (redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError) as exc:
                why = f"{self.urls[index]}: {type(exc).__name__}: {exc}"
            except redis.ResponseError as exc:  # EXEC's own reply: -NOREPLICAS
                if not _is_noreplicas(exc):
                    raise translate_message(str(exc)) from exc
                if time.monotonic() >= deadline:
                    raise StoreUnavailable(
                        f"{self.urls[index]}: {exc} (for {self.failover_timeout_s:g} s): "
                        "is the replica linked?"
                    ) from exc
                time.sleep(self.poll_interval_s)
                continue
            else:
                moved = (redis.ReadOnlyError, redis.BusyLoadingError)
                demoted = next((r for r in replies if isinstance(r, moved)), None)
                if demoted is None:
                    if not any(map(_is_noreplicas, replies)) or time.monotonic() >= deadline:
                        return replies
                    time.sleep(self.poll_interval_s)
                    continue
                why = f"{self.urls[index]}: {demoted}"
            self.index = None
            new = self.wait(deadline, why)
            if atomic:
                raise PrimaryChanged(
                    f"the store primary failed during a write ({why}); now {self.urls[new]}: "
                    "the write is recomputed and retried there"
                )
            index = new

    def close(self) -> None:
        for client in self._probes:
            client.close()


def _command(url: str, *args: str | int, timeout_s: float = 30.0) -> Any:
    client = _probe_client(url, timeout_s)
    try:
        return client.execute_command(*args)
    finally:
        client.close()


def _follow(urls: Sequence[str], infos: Sequence[NodeInfo], primary: int) -> None:
    host, port = infos[primary].address
    for i, info in enumerate(infos):
        if i != primary and info.reachable:
            _command(urls[i], "REPLICAOF", host, port)


def promote(urls: Sequence[str], timeout_s: float = 30.0) -> str:
    """Make one node the primary and the others its replicas; returns its URL.

    - A reachable primary with a connected replica hands over with ``FAILOVER`` (nothing
      is lost; the old primary follows the new one).
    - No reachable primary: the reachable replica with the highest offset is promoted.
    - A primary without connected replicas stays primary (there is nothing to hand over
      to): the other reachable nodes, deposed primaries included, are pointed at it.

    Raises ``RuntimeError`` when no node can become primary.
    """
    infos = [node_info(u) for u in urls]
    current = find_primary(infos)
    if current is not None and infos[current].replicas > 0:
        _command(urls[current], "FAILOVER", "TIMEOUT", int(timeout_s * 1000), timeout_s=timeout_s)
        deadline = time.monotonic() + timeout_s
        while True:
            infos = [node_info(u) for u in urls]
            found = find_primary(infos)
            if found is not None and found != current:
                _follow(urls, infos, found)
                return urls[found]
            if time.monotonic() > deadline:
                raise RuntimeError(f"FAILOVER on {urls[current]} promoted no replica")
            time.sleep(0.1)
    if current is None:
        candidates = [i for i, info in enumerate(infos) if info.reachable and info.role == "slave"]
        if not candidates:
            seen = ", ".join(f"{i.url} {i.role or 'unreachable'}" for i in infos)
            raise RuntimeError(f"no replica to promote ({seen}); restart a store node")
        current = max(candidates, key=lambda i: infos[i].offset)
        _command(urls[current], "REPLICAOF", "NO", "ONE")
    _follow(urls, infos, current)
    return urls[current]
