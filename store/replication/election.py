"""Automatic failover on the Kafka log: a Kafka consumer group is the leader lease.

With ``--log kafka://.../TOPIC --auto-failover`` no node is told its role. Every node
joins the consumer group ``memvec-leader.TOPIC`` on the one-partition topic
``TOPIC.leader`` (created if missing); whichever member the group assigns partition 0 to
is the leader and promotes itself on the log (an epoch marker, see
:mod:`store.replication.log_follower`); every other member follows. Kafka's group
protocol does the detection and the election (as Kafka Connect's workers elect their
leader): a member that stops heartbeating for ``session_timeout_ms`` (a ``kill -9``, a
pause, a partition) is dropped by the group coordinator, the group rebalances, and the
partition goes to a surviving member, which promotes. No timer or vote of our own.

Safety does not rest on the lease. Two nodes may briefly both believe they lead (a paused
leader resumes before it learns it was dropped); only one can write: the new leader's
marker is in the topic, so every record the old one appends after it is refused and
never acknowledged (the log's fencing). The lease only decides who *tries* to write.

**Who wins** (:class:`LeaseAssignor`, run by the group's elected consumer leader on each
rebalance, from what every member put in its join metadata): the member already leading
at the highest epoch keeps the partition (a member joining or leaving does not move the
leadership); otherwise the member that has applied the most of the log (it has the least
to replay before its marker takes effect), ties broken by member id. The assignment
tells every member the leader's address, which followers report in ``ROLE`` and
``INFO replication`` and cluster clients will be redirected to.

A node whose promotion fails (its log fenced, its applier stopped) leaves the group so
another can lead; it must be restarted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from aiokafka.coordinator.assignors.abstract import AbstractPartitionAssignor
from aiokafka.coordinator.protocol import (
    ConsumerProtocolMemberAssignment,
    ConsumerProtocolMemberMetadata,
)

log = logging.getLogger("memvec.replication")

PROTOCOL = "memvec-lease"
DEFAULT_SESSION_TIMEOUT_MS = 6000


@dataclass(frozen=True)
class MemberInfo:
    """What a member tells the group when it joins."""

    address: str  # host:port clients reach it on
    leading_epoch: int  # the epoch it writes at, 0 if it does not write
    applied_seq: int  # how far it has applied the log

    def encode(self) -> bytes:
        return json.dumps(
            {"address": self.address, "epoch": self.leading_epoch, "applied": self.applied_seq}
        ).encode()

    @staticmethod
    def decode(data: bytes | None) -> MemberInfo | None:
        try:
            d = json.loads(data or b"")
            return MemberInfo(str(d["address"]), int(d["epoch"]), int(d["applied"]))
        except (ValueError, KeyError, TypeError):
            return None  # a member of another kind (or version): never chosen


def choose_leader(members: Mapping[str, MemberInfo | None]) -> str | None:
    """The member id that gets the lease (see the module docstring), or None if no
    member is one of ours."""
    ours = {m: i for m, i in members.items() if i is not None}
    if not ours:
        return None
    return min(ours, key=lambda m: (-ours[m].leading_epoch, -ours[m].applied_seq, m))


class LeaseAssignor(AbstractPartitionAssignor):
    """The group's assignment strategy: partition 0 of the lease topic to
    :func:`choose_leader`'s member, the leader's address to everyone. aiokafka calls
    assignors as classes, so each :class:`LeaderElection` makes a subclass bound to it."""

    name = PROTOCOL
    version = 0
    election: ClassVar[LeaderElection]

    @classmethod
    def assign(
        cls, cluster: Any, members: Mapping[str, ConsumerProtocolMemberMetadata]
    ) -> dict[str, ConsumerProtocolMemberAssignment]:
        infos = {m: MemberInfo.decode(meta.user_data) for m, meta in members.items()}
        winner = choose_leader(infos)
        leader = infos[winner] if winner is not None else None
        note = json.dumps({"leader": leader.address if leader else None}).encode()
        out = {}
        for member, meta in members.items():
            parts = [(t, [0] if member == winner else []) for t in meta.subscription]
            out[member] = ConsumerProtocolMemberAssignment(cls.version, parts, note)
        return out

    @classmethod
    def metadata(cls, topics: Iterable[str]) -> ConsumerProtocolMemberMetadata:
        info = cls.election.member_info()
        return ConsumerProtocolMemberMetadata(cls.version, sorted(topics), info.encode())

    @classmethod
    def on_assignment(cls, assignment: ConsumerProtocolMemberAssignment) -> None:
        try:
            leader = json.loads(assignment.user_data or b"{}").get("leader")
        except ValueError:
            leader = None
        cls.election.assigned(bool(assignment.partitions()), leader)


class LeaderElection:
    """One node's membership of the lease group (see the module docstring).

    ``member_info`` is called at every join; ``on_leader(True, None)`` when this node got
    the lease, ``on_leader(False, "host:port")`` when another node has it (or None if the
    group has no leader). Calls are made one at a time, latest state only.
    """

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        member_info: Callable[[], MemberInfo],
        on_leader: Callable[[bool, str | None], Awaitable[None]],
        *,
        session_timeout_ms: int = DEFAULT_SESSION_TIMEOUT_MS,
        client_options: dict[str, Any] | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.lease_topic = f"{topic}.leader"
        self.group = f"memvec-leader.{topic}"
        self.member_info = member_info
        self.on_leader = on_leader
        self.session_timeout_ms = session_timeout_ms
        self.options = dict(client_options or {})
        self.leading = False
        self.leader: str | None = None
        self.elections = 0
        self._consumer: Any = None
        self._poller: asyncio.Task[None] | None = None
        self._actor: asyncio.Task[None] | None = None
        self._wanted: tuple[bool, str | None] | None = None
        self._changed = asyncio.Event()
        self.assignor = type("BoundLeaseAssignor", (LeaseAssignor,), {"election": self})

    async def start(self) -> None:
        """Create the lease topic if needed, join the group, start acting on results."""
        from aiokafka import AIOKafkaConsumer
        from aiokafka.admin import AIOKafkaAdminClient, NewTopic
        from aiokafka.errors import TopicAlreadyExistsError

        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, **self.options)
        await admin.start()
        try:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics([NewTopic(self.lease_topic, 1, 1)])
        finally:
            await admin.close()
        heartbeat = max(100, self.session_timeout_ms // 5)
        self._consumer = AIOKafkaConsumer(
            self.lease_topic,
            bootstrap_servers=self.bootstrap,
            group_id=self.group,
            enable_auto_commit=False,
            partition_assignment_strategy=(self.assignor,),
            session_timeout_ms=self.session_timeout_ms,
            heartbeat_interval_ms=heartbeat,
            rebalance_timeout_ms=self.session_timeout_ms,
            max_poll_interval_ms=max(self.session_timeout_ms, 10_000),
            **self.options,
        )
        await self._consumer.start()
        self._actor = asyncio.create_task(self._act(), name="memvec-election-actor")
        self._poller = asyncio.create_task(self._poll(), name="memvec-election-poll")

    async def stop(self) -> None:
        """Leave the group (another member gets the lease at once)."""
        for task in (self._poller, self._actor):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self._consumer is not None:
            consumer, self._consumer = self._consumer, None
            with contextlib.suppress(Exception):
                await consumer.stop()

    def assigned(self, leading: bool, leader: str | None) -> None:
        """The group's verdict after a rebalance (from aiokafka, on the event loop)."""
        if leading:
            leader = self.member_info().address
        self._wanted = (leading, leader)
        self._changed.set()

    async def _poll(self) -> None:
        # the consumer takes part in rebalances while it polls; the lease topic carries
        # no records, so this only keeps the membership alive
        while True:
            try:
                await self._consumer.getmany(timeout_ms=1000)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("the leader lease's consumer failed; retrying")
                await asyncio.sleep(1)

    async def _act(self) -> None:
        while True:
            await self._changed.wait()
            self._changed.clear()
            wanted = self._wanted
            if wanted is None:
                continue
            leading, leader = wanted
            changed = leading != self.leading or leader != self.leader
            self.leading, self.leader = leading, leader
            if not changed:
                continue
            if leading:
                self.elections += 1
                log.warning("won the leader lease of %s: promoting", self.lease_topic)
            try:
                await self.on_leader(leading, leader)
            except Exception:
                log.exception("acting on the leader lease failed; leaving the group")
                self.leading = False
                await self.stop()
                return
