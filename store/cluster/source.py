"""Where the topology lives: the :class:`TopologySource` interface and its file version.

The topology is never agreed by the nodes among themselves (no gossip, no voting of our
own): it is a value kept by a store that orders writes for us. Implementations:

* :class:`FileTopologySource` (``file:/path/topology.json``): one JSON file, for a single
  machine (development, tests, one node). Writers serialise on an ``flock`` of a side
  file and publish atomically (tmp, fsync, rename, fsync dir).
* :class:`store.cluster.kafka_source.KafkaTopologySource` (``kafka://host:port/topic``): a
  compacted single-partition Kafka topic; the broker's log order is the arbiter.

Contract of every source:

* :meth:`TopologySource.latest` is cheap (no I/O) and returns the newest topology read
  so far, or None before one was ever published. It never goes back to a lower epoch.
* :meth:`TopologySource.refresh` reads the store now (blocking I/O; called off the event
  loop) and returns :meth:`latest`. Nodes call it every ``poll_s`` unless the source is
  ``live`` (it follows the store on its own, as the Kafka source's reader does).
* :meth:`TopologySource.publish` is a compare-and-set on the config epoch: it publishes
  ``topology`` only if its epoch is higher than every epoch the store holds, and raises
  :class:`TopologyConflict` otherwise (someone else published first: re-read, rebuild,
  retry). A publish that returned is what every reader will see next.
"""

from __future__ import annotations

import fcntl
import logging
import os
from abc import ABC, abstractmethod
from pathlib import Path

from ..files import atomic_write_bytes
from .topology import Topology, TopologyError

__all__ = ["FileTopologySource", "TopologyConflict", "TopologySource", "open_source"]

log = logging.getLogger(__name__)


class TopologyConflict(RuntimeError):
    """A publish lost the compare-and-set: the store holds an epoch at least as high."""


class TopologySource(ABC):
    """See the module docstring for the contract."""

    url: str
    # True when latest() follows the store by itself (a background reader): nodes then need
    # not call refresh() on a timer.
    live = False

    def start(self) -> None:  # noqa: B027 (optional hook: the file source has nothing to do)
        """Connect (idempotent)."""

    def stop(self) -> None:  # noqa: B027 (optional hook)
        """Release connections and threads (idempotent)."""

    @abstractmethod
    def latest(self) -> Topology | None: ...

    @abstractmethod
    def refresh(self) -> Topology | None: ...

    @abstractmethod
    def publish(self, topology: Topology) -> None: ...


class FileTopologySource(TopologySource):
    """The topology in one local JSON file (``file:/path``)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.url = f"file:{self.path}"
        self._latest: Topology | None = None
        self._seen: tuple[int, int] | None = None  # (mtime_ns, size) of the last read

    def latest(self) -> Topology | None:
        return self._latest

    def refresh(self) -> Topology | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return self._latest
        mark = (st.st_mtime_ns, st.st_size)
        if mark == self._seen:
            return self._latest
        try:
            topology = Topology.from_json(self.path.read_bytes())
        except (OSError, TopologyError) as exc:
            log.warning(
                "cannot read the cluster topology %s (keeping the last one): %s", self.path, exc
            )
            return self._latest
        self._seen = mark
        if self._latest is None or topology.epoch > self._latest.epoch:
            self._latest = topology
        return self._latest

    def publish(self, topology: Topology) -> None:
        topology.validate()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            current = None
            if self.path.exists():
                current = Topology.from_json(self.path.read_bytes())
            if current is not None and topology.epoch <= current.epoch:
                raise TopologyConflict(
                    f"{self.url} holds epoch {current.epoch}; publish epoch "
                    f"{current.epoch + 1} or higher (re-read the topology first)"
                )
            atomic_write_bytes(self.path, topology.to_json())
        self.refresh()


def open_source(url: str) -> TopologySource:
    """``file:/path`` or ``kafka://host:port[,host:port]/topic``; ValueError otherwise."""
    if url.startswith("file:"):
        path = url[len("file:") :]
        if not path:
            raise ValueError("file: topology URL needs a path, e.g. file:/var/memvec/topology.json")
        return FileTopologySource(path)
    if url.startswith("kafka://"):
        from .kafka_source import KafkaTopologySource

        return KafkaTopologySource(url)
    raise ValueError(f"{url!r} is not a topology URL: file:/PATH or kafka://HOST:PORT/TOPIC")
