"""Cluster mode on one node: who it is, the topology it follows, and where a request goes.

:class:`ClusterNode` is what the RESP server holds when ``--cluster-enabled yes``. The
server calls :meth:`ClusterNode.route` once per client command (before running or
queueing it); it returns to serve the command here or raises one of the
:class:`store.errors.ClusterError` replies, deciding exactly as Redis 7.4's
``getNodeByQuery`` does:

1. Commands without keys (and ``pubsub`` ones) are served here: keyless commands and
   FT.* run on this node's data only (cross-shard search is not built yet).
2. Every key of the request (for EXEC: of every queued command) must hash to one slot,
   else ``CROSSSLOT``. The first key's slot with no owner: ``CLUSTERDOWN Hash slot not
   served``; some slot of the cluster has no owner: ``CLUSTERDOWN The cluster is down``.
3. The slot is migrating away from this shard and some key is missing here: ``ASK`` the
   target (``TRYAGAIN`` when only some keys are missing). The slot is importing and the
   client sent ``ASKING`` (or the command is ``RESTORE-ASKING``, as MIGRATE sends):
   served here (``TRYAGAIN`` if a multi-key request misses keys). A write to a key that
   MIGRATE is moving right now (:attr:`ClusterNode.moving`) is ``TRYAGAIN``: it would
   change a value already copied (reads are served: the value is here until it moves).
   MIGRATE itself is always served here (as Redis: it moves keys of open slots).
4. A replica of the owning shard serves reads of a ``READONLY`` client.
5. Otherwise another node owns it: ``MOVED <slot> <primary host>:<port>``; for a slot
   this shard was migrating until the topology just read handed it over, ``ASK`` the new
   owner for a short grace instead (``ClusterNode._note_handoffs``: the new owner may
   read that topology later than this node).

The topology comes from a :class:`store.cluster.source.TopologySource`; the watch task
re-reads it every ``poll_s`` off the event loop. Routing reads only the last value read.
The same task publishes this node as its shard's primary when it leads the shard's log
but the topology names another node (automatic failover, :mod:`store.cluster.failover`),
and, with ``--cluster-announce-ip``, its address when the topology names it at another
one (restarted on another port).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Protocol

from ..commands.table import CommandSpec, resolve
from ..errors import (
    AskError,
    ClusterDownError,
    CrossSlotError,
    MovedError,
    StoreError,
    TryAgainError,
)
from .failover import publish_address, publish_primary
from .identity import Identity
from .slot_index import SlotIndex
from .slots import SLOT_COUNT, key_slot
from .source import TopologySource
from .topology import Node, Shard, Topology

__all__ = ["ClusterClient", "ClusterNode"]

log = logging.getLogger(__name__)

# how long a node answers ASK rather than MOVED for a slot it just handed over: well
# above the time every node takes to read a topology (one poll, 100 ms, of a file source)
HANDOFF_GRACE_S = 2.0


# Scripts declare their keys as ``numkeys key ...`` after the script (Redis routes by them;
# the table has no key spec for them since ACL checks them apart).
_SCRIPT_KEYS = frozenset({"EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO"})
_ROUTED_APART = _SCRIPT_KEYS | {"WATCH"}
# where the options of these begin (their STORE/STOREDIST key is a key too)
_GEO_STORES = {"GEORADIUS": 6, "GEORADIUSBYMEMBER": 5}


def keys_of(spec: CommandSpec, args: list[bytes]) -> list[bytes]:
    """The keys a request is routed by: the table's key finder, a script's KEYS, or WATCH's
    arguments (a connection command, declared without a key spec)."""
    if spec.name == "WATCH":
        return args[1:]
    if spec.name in _GEO_STORES:  # the table does not find the STORE key yet
        keys = list(spec.keys(args))
        options = _GEO_STORES[spec.name]
        for i in range(options, len(args) - 1):
            if args[i].upper() in (b"STORE", b"STOREDIST"):
                keys.append(args[i + 1])
        return keys
    if spec.name in _SCRIPT_KEYS:
        try:
            numkeys = int(args[2])
        except ValueError:
            return []  # the command refuses it itself
        if numkeys < 0 or numkeys > len(args) - 3:
            return []
        return args[3 : 3 + numkeys]
    return spec.keys(args)


class ClusterClient(Protocol):
    """The per-connection state routing reads (the RESP server's connection has it)."""

    cluster_asking: bool
    cluster_readonly: bool
    multi: list[list[bytes]] | None

    def end_multi(self) -> None: ...


class ClusterNode:
    """This node in cluster mode. ``exists(key)`` tells whether a key is held here (for
    ASK during a migration). ``leads_log()`` (None: never) tells whether this node writes
    its shard's log now, promotion done (``--auto-failover``: it won the leader lease);
    the watch task then makes the topology name it the shard's primary.

    :attr:`slot_index` is the per-slot key index the server installs in the keyspace
    (``Keyspace.track``); :attr:`moving` the keys MIGRATE is moving (routing answers
    ``TRYAGAIN`` to writes of them)."""

    def __init__(
        self,
        identity: Identity,
        source: TopologySource,
        exists: Callable[[bytes], bool],
        *,
        poll_s: float = 0.1,
        leads_log: Callable[[], bool] | None = None,
        announce: Callable[[], tuple[str | None, int]] | None = None,
    ) -> None:
        self.identity = identity
        self.source = source
        self.exists = exists
        self.poll_s = poll_s
        self.leads_log = leads_log
        self.announce = announce
        self.slot_index = SlotIndex()
        self.moving: set[bytes] = set()
        self.claims = 0  # topologies this node published naming itself primary (failover)
        # slot -> (new owner's address, until): see _note_handoffs
        self._handoffs: dict[int, tuple[str, float]] = {}
        self._handoff_seen: Topology | None = None
        self._task: asyncio.Task[None] | None = None
        # (topology, this node's place in it): found once per topology, not per command
        self._me: tuple[Topology | None, tuple[Shard, Node] | None] = (None, None)

    @property
    def myid(self) -> str:
        return self.identity.node_id

    @property
    def topology(self) -> Topology | None:
        return self.source.latest()

    def me(self) -> tuple[Shard, Node] | None:
        """This node's shard and entry in the topology, None while it is not in it."""
        topology = self.topology
        cached, found = self._me
        if cached is not topology:
            found = None if topology is None else topology.find_node(self.myid)
            self._me = (topology, found)
        return found

    def shard_id(self) -> str:
        found = self.me()
        return found[0].id if found is not None else self.identity.shard_id

    def healthy(self) -> bool:
        """cluster_state:ok: every slot has an owner (cluster-require-full-coverage yes)."""
        topology = self.topology
        return topology is not None and topology.assigned == SLOT_COUNT

    # -- lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        """Connect the source, read it once, then keep re-reading it in the background."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.source.start)
        await loop.run_in_executor(None, self.source.refresh)
        self._task = loop.create_task(self._watch())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await asyncio.get_running_loop().run_in_executor(None, self.source.stop)

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        seen = self.topology.epoch if self.topology is not None else -1
        while True:
            await asyncio.sleep(self.poll_s)
            if self.source.live:
                topology = self.source.latest()
            else:
                try:
                    topology = await loop.run_in_executor(None, self.source.refresh)
                except Exception:
                    log.exception("re-reading the topology from %s failed", self.source.url)
                    continue
            if topology is not None and topology.epoch != seen:
                seen = topology.epoch
                log.info("cluster topology epoch %d (%d shards)", seen, len(topology.shards))
            address = self._moved_address()
            if address is not None:
                await self._publish("this node's address", publish_address, *address)
            primary = "this node as its shard's primary"
            if self._should_claim() and await self._publish(primary, publish_primary):
                self.claims += 1

    async def _publish(
        self, what: str, publish: Callable[..., Topology | None], *args: object
    ) -> bool:
        """Run ``publish(source, myid, *args)`` off the loop; True if it published."""
        loop = asyncio.get_running_loop()
        try:
            done = await loop.run_in_executor(None, publish, self.source, self.myid, *args)
        except Exception:
            log.exception("publishing %s failed; retrying", what)
            await asyncio.sleep(1.0)  # the topology source is down: do not spin
            return False
        if done is not None:
            log.warning("published topology epoch %d: %s", done.epoch, what)
        return done is not None

    def _moved_address(self) -> tuple[str, int] | None:
        """(announced ip, bound port) to publish when this node announces an ip
        (``--cluster-announce-ip``) and the topology names it at another address (it
        restarted on another port or ip), else None. Without an announced ip the address
        ``memvec cluster create`` published stays: it may be a mapped one (a container's
        published port) that the node cannot know."""
        mine = self.me()
        if self.announce is None or mine is None:
            return None
        host, port = self.announce()
        if not host or not port:
            return None
        node = mine[1]
        return (host, port) if (host, port) != (node.host, node.port) else None

    def _should_claim(self) -> bool:
        """This node leads its shard's log but the topology names another primary."""
        if self.leads_log is None or not self.leads_log():
            return False
        mine = self.me()
        return mine is not None and mine[1].role != "primary"

    # -- routing ----------------------------------------------------------------------------
    def route(self, client: ClusterClient, spec: CommandSpec, args: list[bytes]) -> None:
        """Serve here (return) or raise the redirection; see the module docstring."""
        self._note_handoffs()
        if spec.name == "MIGRATE":
            return  # moves keys of this node's open slots (Redis serves it locally too)
        asking = client.cluster_asking or "asking" in spec.flags
        if client.multi is None and spec.name not in ("ASKING", "MULTI"):
            client.cluster_asking = False  # the next command only (or a whole MULTI)
        if spec.name == "EXEC" and client.multi is not None:
            calls = []
            for queued in client.multi:
                try:
                    calls.append((resolve(queued), queued))
                except StoreError:
                    continue  # EXEC answers it (the transaction was flagged when queued)
            try:
                self._route(calls, asking, client.cluster_readonly)
            except StoreError:
                client.end_multi()  # Redis discards the transaction, then redirects
                raise
            return
        if "pubsub" in spec.flags:
            return
        if spec.first_key <= 0 and spec.find_keys is None and spec.name not in _ROUTED_APART:
            return  # keyless: served here
        self._route([(spec, args)], asking, client.cluster_readonly)

    def _route(
        self, calls: list[tuple[CommandSpec, list[bytes]]], asking: bool, readonly: bool
    ) -> None:
        topology = self.topology
        slot = -1
        owner: Shard | None = None
        mine = self.me()
        my_shard = mine[0] if mine is not None else None
        migrating = importing = False
        keys_seen = missing = 0
        write = moving = False
        in_motion = self.moving
        for spec, args in calls:
            keys = keys_of(spec, args)
            if keys and spec.is_write:
                write = True
            for key in keys:
                s = key_slot(key)
                if slot < 0:
                    slot = s
                    owner = topology.owner(s) if topology is not None else None
                    if owner is None:
                        raise ClusterDownError("Hash slot not served")
                    if my_shard is not None and owner.id == my_shard.id:
                        migrating = s in my_shard.migrating
                    if my_shard is not None:
                        importing = s in my_shard.importing
                elif s != slot:
                    raise CrossSlotError()
                keys_seen += 1
                if (migrating or importing) and not self.exists(key):
                    missing += 1
                if in_motion and key in in_motion:
                    moving = True
        if owner is None:
            return  # no keys at all
        if not self.healthy():
            raise ClusterDownError("The cluster is down")
        if moving and write:
            raise TryAgainError("Key being migrated to another shard, retry")
        if migrating and missing and my_shard is not None:
            if keys_seen > missing:
                raise TryAgainError()
            target = topology.shard(my_shard.migrating[slot]) if topology else None
            if target is not None:
                raise AskError(f"{slot} {target.primary.address}")
        if importing and asking:
            if keys_seen > 1 and missing:
                raise TryAgainError()
            return
        if my_shard is not None and owner.id == my_shard.id:
            assert mine is not None
            if mine[1].role == "primary" or (readonly and not write):
                return
        handed = self._handoffs.get(slot) if self._handoffs else None
        if handed is not None:
            if handed[1] >= time.monotonic():
                raise AskError(f"{slot} {handed[0]}")
            del self._handoffs[slot]
        raise MovedError(f"{slot} {owner.primary.address}")

    def _note_handoffs(self) -> None:
        """Remember the slots this shard was migrating until the topology just read made
        their target the owner (a migration closed): slot -> (the new owner's primary,
        until when) in ``_handoffs``; routing answers ``ASK`` to it rather than ``MOVED``
        for :data:`HANDOFF_GRACE_S`.

        "Just read" is relative to the topology the previous command saw: :meth:`route`
        calls this for every command (keyless ones too, so the resharder's own CLUSTER
        INFO / GETKEYSINSLOT / MIGRATE calls make this node see the migrating epoch
        before the closing one).

        The slot's new owner may read that topology after this node does; meanwhile it
        still imports the slot and answers a client without ``ASKING`` with ``MOVED``
        back here, and ``MOVED`` from here would bounce the client between the two until
        it gives up. ``ASK`` reaches the target either way (importing: ``ASKING`` serves;
        owner: served), as during the migration; then ``MOVED`` as usual."""
        topology = self.topology
        if topology is self._handoff_seen:
            return
        previous, self._handoff_seen = self._handoff_seen, topology
        old = previous.find_node(self.myid) if previous is not None else None
        if old is None or topology is None:
            return
        now = time.monotonic()
        handed = {s: h for s, h in self._handoffs.items() if h[1] >= now}  # drop stale
        for slot, target in old[0].migrating.items():
            owner = topology.owner(slot)
            if owner is not None and owner.id == target:
                handed[slot] = (owner.primary.address, now + HANDOFF_GRACE_S)
        self._handoffs = handed
