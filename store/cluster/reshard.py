"""Online resharding: move hash slots between shards while clients read and write.

``memvec cluster reshard --slots N --from A --to B`` (as ``redis-cli --cluster
reshard``; A and B are shard ids or the id of any node of the shard; ``--from all`` takes
the slots from every other shard in proportion to what each owns) calls
:meth:`Resharder.reshard`. Slots move in steps of ``step_slots``; each step:

1. **Open** the slots: publish the topology at the next config epoch with each slot
   ``migrating`` on the source shard and ``importing`` on the target (the source's
   compare-and-set; on a conflict re-read, re-check, retry), then wait until both
   primaries read that epoch. From then on the source serves the keys it still holds,
   answers ``ASK`` for the ones it does not (a key created now is created on the
   target), and the target serves ``ASKING`` clients.
2. **Copy**: ``CLUSTER GETKEYSINSLOT slot batch`` for every slot of the step (pipelined;
   the per-slot index, no scan) on the source, and ``MIGRATE target "" 0 timeout REPLACE
   KEYS ...`` in batches (a key is deleted on the source only once the target's log has
   it; writes of a key in flight are ``TRYAGAIN``, see :mod:`store.cluster.migrate`),
   until every slot of the step is empty.
3. **Close**: publish the slots as the target's (both shards' config epochs bumped,
   migrating/importing cleared), and wait until both primaries read it.

No acknowledged write is lost and no key has two owners: a key lives on the source until
the target's copy is durable, and is deleted on the source in the same step that makes it
missing there; from that moment the source sends clients to the target (ASK), and the
target is the only one holding it. An empty slot cannot gain a key on the source once
open (a missing key is ASKed away), so the slot is empty on the source when it closes.

Addresses are read from the latest topology before each batch, so a shard's primary
that fails over mid-reshard (:mod:`store.cluster.failover`) is followed; a MIGRATE that
failed with the old primary is retried against the new one. A reshard interrupted
midway leaves slots open (still served correctly); running it again with the same
arguments continues (open slots of the same pair are reused and their keys copied,
``REPLACE`` makes a repeated copy harmless).
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from .slots import ranges_of
from .source import TopologyConflict, TopologySource
from .topology import Shard, Topology

__all__ = ["ReshardError", "ReshardReport", "Resharder", "close_slots", "find_shard", "open_slots"]

log = logging.getLogger(__name__)

PUBLISH_ATTEMPTS = 20
_EPOCH = re.compile(rb"cluster_current_epoch:(\d+)")


class ReshardError(RuntimeError):
    """A reshard that cannot go on; the message says why and what to do."""


@dataclass(frozen=True)
class ReshardReport:
    slots: int  # slots moved
    keys: int  # keys moved
    seconds: float
    epoch: int  # the topology epoch at the end

    @property
    def keys_per_s(self) -> float:
        return self.keys / self.seconds if self.seconds > 0 else 0.0


def find_shard(topology: Topology, ident: str) -> Shard:
    """The shard with id ``ident``, or holding node ``ident``, or the node at
    ``host:port`` ``ident``; :class:`ReshardError` otherwise."""
    shard = topology.shard(ident)
    if shard is not None:
        return shard
    found = topology.find_node(ident)
    if found is not None:
        return found[0]
    for shard in topology.shards:
        if any(n.address == ident for n in shard.nodes):
            return shard
    raise ReshardError(f"no shard or node {ident!r} in the topology (epoch {topology.epoch})")


def _slots_of(shard: Shard) -> set[int]:
    return {s for a, b in shard.slots for s in range(a, b + 1)}


def open_slots(
    topology: Topology, slots: list[int], source: str, target: str, *, side: str
) -> Topology:
    """``topology`` at the next epoch with ``slots`` importing on shard ``target``
    (``side="importing"``, published first) or also migrating on shard ``source``
    (``side="migrating"``, once the target read the first); open ones are kept."""
    src, dst = topology.shard(source), topology.shard(target)
    if src is None or dst is None:
        raise ReshardError("the source or target shard left the topology")
    owned = _slots_of(src)
    for slot in slots:
        if slot not in owned:
            raise ReshardError(f"slot {slot} is not owned by shard {source} any more")
        if src.migrating.get(slot, target) != target or dst.importing.get(slot, source) != source:
            raise ReshardError(f"slot {slot} is already moving elsewhere")
    epoch = topology.epoch + 1
    new_dst = dataclasses.replace(dst, importing={**dst.importing, **dict.fromkeys(slots, source)})
    if side == "importing":
        return _with(topology, epoch, new_dst)
    new_src = dataclasses.replace(src, migrating={**src.migrating, **dict.fromkeys(slots, target)})
    return _with(topology, epoch, new_src, new_dst)


def close_slots(topology: Topology, slots: list[int], source: str, target: str) -> Topology:
    """``topology`` at the next epoch with ``slots`` owned by shard ``target``."""
    src, dst = topology.shard(source), topology.shard(target)
    if src is None or dst is None:
        raise ReshardError("the source or target shard left the topology")
    moving = set(slots)
    epoch = topology.epoch + 1
    new_src = dataclasses.replace(
        src,
        slots=tuple(ranges_of(_slots_of(src) - moving)),
        migrating={s: t for s, t in src.migrating.items() if s not in moving},
        epoch=epoch,
    )
    new_dst = dataclasses.replace(
        dst,
        slots=tuple(ranges_of(_slots_of(dst) | moving)),
        importing={s: f for s, f in dst.importing.items() if s not in moving},
        epoch=epoch,
    )
    return _with(topology, epoch, new_src, new_dst)


def _with(topology: Topology, epoch: int, *changed: Shard) -> Topology:
    by_id = {s.id: s for s in changed}
    out = dataclasses.replace(
        topology, epoch=epoch, shards=tuple(by_id.get(s.id, s) for s in topology.shards)
    )
    out.validate()
    return out


class Resharder:
    """Moves slots between the shards of the cluster whose topology ``source`` holds
    (started by the caller). ``connect(host, port)`` returns a redis-py client.
    ``on_batch(step, moved)``, if given, is called after each MIGRATE batch with the
    step's slots (still open: migrating on the source, importing on the target) and the
    keys moved so far in the step (progress; tests check the cluster mid-move)."""

    def __init__(
        self,
        source: TopologySource,
        connect: Callable[[str, int], Any],
        *,
        batch_keys: int = 200,
        step_slots: int = 1024,
        migrate_timeout_ms: int = 10_000,
        password: str | None = None,
        wait_s: float = 30.0,
        on_batch: Callable[[list[int], int], None] | None = None,
    ) -> None:
        self.source = source
        self.connect = connect
        self.batch_keys = batch_keys
        self.step_slots = step_slots
        self.migrate_timeout_ms = migrate_timeout_ms
        self.password = password
        self.wait_s = wait_s
        self.on_batch = on_batch
        self._clients: dict[tuple[str, int], Any] = {}

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    # -- the plan ---------------------------------------------------------------------------
    def plan(self, count: int, sources: list[str], target: str) -> list[tuple[str, list[int]]]:
        """(source shard id, its slots to move) for ``count`` slots; ``sources`` may be
        ``["all"]``: every shard but the target, in proportion to the slots it owns."""
        topology = self._current()
        dst = find_shard(topology, target)
        if sources == ["all"]:
            shards = [s for s in topology.shards if s.id != dst.id and s.slots]
        else:
            shards = [find_shard(topology, ident) for ident in sources]
        if any(s.id == dst.id for s in shards):
            raise ReshardError("the target shard is also a source")
        total = sum(s.slot_count for s in shards)
        if count <= 0 or count > total:
            raise ReshardError(f"--slots must be between 1 and {total} (what the sources own)")
        out, left = [], count
        for i, shard in enumerate(shards):
            share = left if i == len(shards) - 1 else round(count * shard.slot_count / total)
            share = min(share, shard.slot_count, left)
            if share:
                # slots already open towards the target first (an interrupted reshard)
                owned = sorted(
                    _slots_of(shard), key=lambda s: (shard.migrating.get(s) != dst.id, s)
                )
                out.append((shard.id, owned[:share]))
                left -= share
        return out

    # -- moving -----------------------------------------------------------------------------
    def reshard(self, count: int, sources: list[str], target: str) -> ReshardReport:
        t0 = time.monotonic()
        dst_id = find_shard(self._current(), target).id
        moved_slots = moved_keys = 0
        for src_id, slots in self.plan(count, sources, target):
            for i in range(0, len(slots), self.step_slots):
                step = slots[i : i + self.step_slots]
                for side, reader in (("importing", dst_id), ("migrating", src_id)):
                    opened = partial(open_slots, slots=step, source=src_id, target=dst_id)
                    self._publish(partial(opened, side=side), reader)
                moved_keys += self._drain(step, src_id, dst_id)
                final = self._publish(
                    partial(close_slots, slots=step, source=src_id, target=dst_id),
                    dst_id,
                    src_id,
                )
                moved_slots += len(step)
                log.info("moved %d slots to shard %s (epoch %d)", moved_slots, dst_id, final.epoch)
        return ReshardReport(moved_slots, moved_keys, time.monotonic() - t0, self._current().epoch)

    def _current(self) -> Topology:
        topology = self.source.refresh()
        if topology is None:
            raise ReshardError(f"{self.source.url} holds no cluster: run 'memvec cluster create'")
        return topology

    def _publish(self, change: Callable[[Topology], Topology], *readers: str) -> Topology:
        """Publish ``change(latest)`` (compare-and-set, re-read on conflict), then wait
        until the primaries of the shards ``readers`` read it, in that order."""
        for _ in range(PUBLISH_ATTEMPTS):
            current = self._current()
            changed = change(current)
            try:
                self.source.publish(changed)
            except TopologyConflict:
                continue
            for shard_id in readers:
                self._wait_read(changed, shard_id)
            return changed
        raise ReshardError(f"the topology kept changing: {PUBLISH_ATTEMPTS} publishes lost")

    def _wait_read(self, topology: Topology, shard_id: str) -> None:
        deadline = time.monotonic() + self.wait_s
        shard = topology.shard(shard_id)
        if shard is None:
            return
        node = shard.primary
        while True:
            try:
                info = self._client(node.host, node.port).execute_command("CLUSTER", "INFO")
                m = _EPOCH.search(info if isinstance(info, bytes) else str(info).encode())
                if m and int(m.group(1)) >= topology.epoch:
                    break
            except Exception as exc:  # a primary failing over: the next read names another
                log.info("waiting for %s to read epoch %d: %s", node.address, topology.epoch, exc)
                latest = self.source.refresh()
                again = latest.shard(shard.id) if latest is not None else None
                if again is not None:
                    node = again.primary
            if time.monotonic() > deadline:
                raise ReshardError(
                    f"{node.address} did not read topology epoch {topology.epoch} within "
                    f"{self.wait_s:g}s: is it running with the cluster's --cluster-topology?"
                )
            time.sleep(0.02)

    def _drain(self, slots: list[int], src_id: str, dst_id: str) -> int:
        """MIGRATE every key of ``slots`` from the source's primary to the target's: one
        pipelined GETKEYSINSLOT per slot, then MIGRATE in batches of ``batch_keys``
        (keys of several slots may share one call: MIGRATE is served by the source for
        its open slots whatever their number), until every slot is empty."""
        moved = 0
        left = list(slots)
        deadline = time.monotonic() + self.wait_s
        while left:
            topology = self.source.latest() if self.source.live else None
            topology = topology or self._current()
            src, dst = topology.shard(src_id), topology.shard(dst_id)
            if src is None or dst is None:
                raise ReshardError("the source or target shard left the topology")
            try:
                client = self._client(src.primary.host, src.primary.port)
                pipe = client.pipeline(transaction=False)
                for slot in left:
                    pipe.execute_command("CLUSTER", "GETKEYSINSLOT", slot, self.batch_keys)
                found = pipe.execute()
                left = [slot for slot, keys in zip(left, found, strict=True) if keys]
                keys = [k for batch in found for k in batch]
                for i in range(0, len(keys), self.batch_keys):
                    args: list[Any] = [dst.primary.host, dst.primary.port, "", 0]
                    args += [self.migrate_timeout_ms, "REPLACE"]
                    if self.password is not None:
                        args += ["AUTH", self.password]
                    batch = keys[i : i + self.batch_keys]
                    client.execute_command("MIGRATE", *args, "KEYS", *batch)
                    moved += len(batch)
                    if self.on_batch is not None:
                        self.on_batch(slots, moved)
                deadline = time.monotonic() + self.wait_s
            except Exception as exc:  # a failover, a busy key: re-read the topology, retry
                if time.monotonic() > deadline:
                    raise ReshardError(f"moving slots {left[:5]}...: {exc}") from exc
                log.info("moving slots: %s; retrying", exc)
                self._forget(src.primary.host, src.primary.port)
                time.sleep(0.1)
                self._current()
        return moved

    def _client(self, host: str, port: int) -> Any:
        client = self._clients.get((host, port))
        if client is None:
            client = self._clients[(host, port)] = self.connect(host, port)
        return client

    def _forget(self, host: str, port: int) -> None:
        client = self._clients.pop((host, port), None)
        if client is not None:
            client.close()
