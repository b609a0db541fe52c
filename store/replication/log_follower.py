"""Replication through the Kafka transaction log: followers tail the topic, and promotion
is an epoch marker in it.

With ``--log kafka://...`` there is no primary -> replica stream: every node reads the
same topic (:mod:`store.wal.kafka.log`), and the topic order decides who writes.

* A node started with ``--replicaof HOST:PORT`` (or told ``REPLICAOF host port``) is a
  *follower*: it refuses client writes with ``-READONLY`` and applies every record the
  topic accepts, through ``Engine.replicate`` (the same ``apply`` as replay). ``HOST:PORT``
  is only what ``ROLE`` and ``INFO replication`` report; the node never connects to it.
* A node started without ``--replicaof``, or told ``REPLICAOF NO ONE``, *promotes*: it
  writes an epoch marker one term above every epoch it has seen, keeps applying records
  until its reader reaches that marker (so every record a deposed writer got into the
  topic before it, acknowledged or not, is applied here), then accepts writes. Client
  writes answer ``-READONLY`` until then. A writer that finds a newer marker before its
  own records is fenced: those writes fail (never acknowledged) and it refuses writes
  until restarted as a follower.
* With ``--auto-failover`` (:meth:`LogFollower.start_elected`) no node is told its role:
  the leader lease (:mod:`store.replication.election`, a Kafka consumer group) picks the
  writer; it promotes, every other node follows, and when the writer stops answering
  the group gives the lease to another node, which promotes.
* ``REPLICAOF host port`` on a writer first waits until its own records are confirmed,
  then follows. ``FAILOVER TO host port`` on a writer does that and then sends
  ``REPLICAOF NO ONE`` to the target (if that fails, this node writes again).

:class:`LogFollower` is owned by :class:`store.replication.role.Replication`, which
delegates to it when the engine's log is a Kafka log. The applier thread is the only
caller of ``Engine.replicate`` here.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from ..errors import DurabilityError
from .protocol import new_epoch, term_of

if TYPE_CHECKING:
    from ..engine import Engine
    from ..wal.kafka import KafkaTransactionLog
    from .election import LeaderElection

log = logging.getLogger("memvec.replication")

TAKE_WAIT_S = 0.2
# what ROLE names as the primary until the leader lease says who it is
UNKNOWN_LEADER = ("?", 0)
PROMOTE_APPLY_TIMEOUT_S = 120.0


class LogFollower:
    """Follower/writer role of a node on the Kafka log; see the module docstring."""

    def __init__(self, engine: Engine, tlog: KafkaTransactionLog) -> None:
        self.engine = engine
        self.log = tlog
        self.following: tuple[str, int] | None = None
        self._stop = threading.Event()
        self._applier: threading.Thread | None = None
        self._last_apply_ms = 0
        self.election: LeaderElection | None = None

    @classmethod
    def for_engine(cls, engine: Engine) -> LogFollower | None:
        """A follower when ``engine`` writes a Kafka log, else None (the RESP link is used)."""
        from ..wal.kafka import KafkaTransactionLog

        tlog = engine.transaction_log
        return cls(engine, tlog) if isinstance(tlog, KafkaTransactionLog) else None

    @property
    def is_follower(self) -> bool:
        return self.following is not None

    async def start(self, replicaof: tuple[str, int] | None) -> None:
        """Start tailing; follow (``replicaof``) or promote."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.log.start_tail)
        self._applier = threading.Thread(
            target=self._apply_loop, name="memvec-log-follower", daemon=True
        )
        self._applier.start()
        if replicaof is not None:
            self.following = replicaof
            self.engine.set_read_only(True)
        else:
            await self.promote()

    async def start_elected(self, address: Callable[[], str], session_timeout_ms: int) -> None:
        """Start tailing as a follower and let the leader lease decide who writes
        (``address``: the ``host:port`` other nodes and clients reach this node on)."""
        from .election import LeaderElection, MemberInfo

        await self.start(UNKNOWN_LEADER)

        def member_info() -> MemberInfo:
            from ..wal.kafka import KafkaLogState

            writing = self.log.state is KafkaLogState.WRITER and not self.engine.config.read_only
            return MemberInfo(
                address(), self.log.epoch if writing else 0, self.engine.applied_position.seq
            )

        self.election = LeaderElection(
            self.log.bootstrap,
            self.log.topic,
            member_info,
            self._on_leader,
            session_timeout_ms=session_timeout_ms,
        )
        await self.election.start()

    async def _on_leader(self, leading: bool, leader: str | None) -> None:
        if leading:
            await self.promote()
            return
        target = _hostport(leader) if leader else UNKNOWN_LEADER
        if self.following is None:  # writing: hand over once our records are confirmed
            await self.follow(*target)
        else:
            self.following = target
            log.info("the Kafka log %s is written by %s", self.log.topic, leader)

    async def stop(self) -> None:
        if self.election is not None:
            await self.election.stop()
        self._stop.set()
        if self._applier is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._applier.join, 10)

    async def follow(self, host: str, port: int) -> None:
        """Stop writing (once this node's records are confirmed) and follow the topic."""
        from ..wal.kafka import KafkaLogState

        self.engine.set_read_only(True)
        try:
            await asyncio.get_running_loop().run_in_executor(None, self.log.become_follower)
        except BaseException:
            if self.log.state is KafkaLogState.WRITER:  # not confirmed in time: keep writing
                self.engine.set_read_only(False)
            raise
        self.following = (host, port)
        log.info("following the Kafka log %s (primary %s:%d)", self.log.topic, host, port)

    async def hand_over(
        self, host: str, port: int, send_promote: Callable[[str, int], Awaitable[None]]
    ) -> None:
        """FAILOVER TO host port: follow (once this node's records are confirmed), then
        have the target promote itself; if that fails, take the log back (a new marker)."""
        await self.follow(host, port)
        try:
            await send_promote(host, port)
        except BaseException:
            log.warning("FAILOVER to %s:%d failed; writing the Kafka log again", host, port)
            await self.promote()
            raise

    async def promote(self) -> int:
        """Write an epoch marker, apply everything before it, then accept writes."""
        from ..wal.kafka import KafkaLogState

        t0 = time.monotonic()
        if self.log.state is KafkaLogState.WRITER:
            if not self.engine.config.read_only:
                self.following = None
                return self.log.epoch
            # an earlier promotion won after its caller gave up: nothing appended since
            epoch, marker_seq = self.log.epoch, self.log.next_position.seq - 1
        else:
            self.engine.set_read_only(True)
            term = max(term_of(self.engine.last_epoch), term_of(self.log.highest_epoch)) + 1
            epoch = new_epoch(term)
            marker_seq = await asyncio.wrap_future(self.log.promote(epoch))
        deadline = time.monotonic() + PROMOTE_APPLY_TIMEOUT_S
        while self.engine.applied_position.seq <= marker_seq:
            if time.monotonic() > deadline or not self._applier_alive():
                raise DurabilityError(
                    f"promotion stalled: records up to the epoch marker (seq {marker_seq}) "
                    "were not applied; check the log above and restart the node"
                )
            await asyncio.sleep(0.002)
        self.following = None
        self.engine.set_read_only(False)
        log.info(
            "promoted to writer of the Kafka log %s at epoch %d (marker seq %d, %.0f ms)",
            self.log.topic,
            epoch,
            marker_seq,
            (time.monotonic() - t0) * 1000,
        )
        return epoch

    def _applier_alive(self) -> bool:
        return self._applier is not None and self._applier.is_alive()

    def _apply_loop(self) -> None:
        """Apply what the log delivers; on an error stop applying (a record skipped would
        leave this node's state different from the log) and say so."""
        while not self._stop.is_set():
            records = self.log.take(TAKE_WAIT_S)
            if not records:
                continue
            try:
                self.engine.replicate(records)
            except Exception:
                log.exception(
                    "applying Kafka log records seq %d..%d failed; this node stopped "
                    "following: restart it",
                    records[0].seq,
                    records[-1].seq,
                )
                return
            self._last_apply_ms = int(time.time() * 1000)

    # -- introspection ---------------------------------------------------------------------
    def role_reply(self, offset: int) -> list[object]:
        if self.following is not None:
            host, port = self.following
            return [b"slave", host.encode(), port, b"connected", offset]
        return [b"master", offset, []]

    def info_fields(self) -> list[tuple[str, object]]:
        fields: list[tuple[str, object]] = []
        if self.following is not None:
            host, port = self.following
            last_io = int(time.time() - self._last_apply_ms / 1000) if self._last_apply_ms else -1
            fields += [
                ("role", "slave"),
                ("master_host", host),
                ("master_port", port),
                ("master_link_status", "up" if self._applier_alive() else "down"),
                ("master_last_io_seconds_ago", last_io),
                ("slave_repl_offset", self.engine.applied_position.seq - 1),
                ("connected_slaves", 0),
            ]
        else:
            fields += [("role", "master"), ("connected_slaves", 0)]
        if self.election is not None:
            fields += [
                ("memvec_failover", "auto"),
                ("memvec_failover_leader", self.election.leader or ""),
                ("memvec_failover_leases_won", self.election.elections),
            ]
        fields += [
            ("memvec_log", f"kafka://{self.log.bootstrap}/{self.log.topic}"),
            ("memvec_log_state", self.log.state.value),
            ("memvec_log_read_offset", self.log.read_offset),
        ]
        return fields


def _hostport(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)
