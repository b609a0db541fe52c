"""Shard leases and checkpoints for the Kinesis source: DynamoDB for many workers, a file for one.

A lease says which worker reads a shard and where reading resumes. Two stores implement
:class:`LeaseStore`:

* :class:`LeaseTable`: a DynamoDB table shared by every worker of an application, the
  layout the Kinesis Client Library uses. One item per shard::

      leaseKey        S   shard id (the hash key)
      leaseOwner      S   worker id; absent when the lease is free
      leaseCounter    N   bumped by every write (take, renew, checkpoint, release)
      checkpoint      S   last acknowledged sequence number, "SHARD_END", absent = none yet
      parentShardIds  L   of S, the shard's parent and adjacent parent (split/merge)
      ownerSwitches   N   how many times the lease changed hands

  Every write is conditional on the ``leaseCounter`` the writer last saw (and, except for
  ``take``, on ``leaseOwner`` being the writer), so a worker that lost its lease cannot
  checkpoint past another worker's work: the write fails with
  :class:`~connectors.errors.CommitRejected`. Expiry needs no synchronised clocks: a
  worker records, on its own monotonic clock, when it last saw each lease's counter
  change; a lease whose counter has not moved for ``lease_timeout_s`` is expired and may
  be taken (its owner stopped heartbeating).

* :class:`FileCheckpointStore`: the embedded case, one worker, no DynamoDB. Checkpoints
  live in a JSON file published with :func:`store.atomic_write` (temp file, fsync,
  ``os.replace``, fsync of the directory)::

      {"version": 1, "checkpoints": {"shardId-000000000000": "49590...", ...}}

  Leases are held in memory and never expire; two processes on one file are not
  detected and must not be run.

:func:`plan_takes` decides, from a snapshot of the leases, which ones a worker takes next
(an even share, children after their parents, one steal per round from the busiest).

All store methods block (boto3 / file I/O); the Kinesis source calls them through
``asyncio.to_thread`` and serialises its own writes, so one store object is used by one
thread at a time.
"""

from __future__ import annotations

import collections
import json
import math
import os
import random
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO

from connectors.errors import CommitRejected, ConnectorError, from_botocore
from store import atomic_write

__all__ = ["SHARD_END", "FileCheckpointStore", "Lease", "LeaseStore", "LeaseTable", "plan_takes"]

SHARD_END = "SHARD_END"
_CONDITION_FAILED = "ConditionalCheckFailedException"


@dataclass(frozen=True)
class Lease:
    """One shard's lease as last read or written by this worker."""

    shard_id: str
    owner: str | None = None
    counter: int = 0
    checkpoint: str | None = None
    parent_shard_ids: tuple[str, ...] = ()
    owner_switches: int = 0

    @property
    def finished(self) -> bool:
        return self.checkpoint == SHARD_END


class LeaseStore(ABC):
    """Leases and checkpoints of one application (one lease table or file)."""

    worker_id: str

    @abstractmethod
    def ensure(self) -> None:
        """Create the table (or load the file) if needed; safe to call from many workers."""

    @abstractmethod
    def create_if_missing(self, shard_id: str, parent_shard_ids: Sequence[str]) -> None:
        """A free lease with no checkpoint for a newly discovered shard; no-op if present."""

    @abstractmethod
    def list_leases(self) -> list[Lease]:
        """Every lease, read consistently; also records counter changes for expiry."""

    @abstractmethod
    def is_expired(self, lease: Lease) -> bool:
        """Free (no owner), or its counter unchanged for the lease timeout."""

    @abstractmethod
    def take(self, lease: Lease) -> Lease:
        """Own ``lease`` if its counter is still ``lease.counter``; else CommitRejected."""

    @abstractmethod
    def renew(self, lease: Lease) -> Lease:
        """Heartbeat: bump the counter if we still own it; else CommitRejected."""

    @abstractmethod
    def checkpoint(self, lease: Lease, checkpoint: str) -> Lease:
        """Record ``checkpoint`` (a sequence number or SHARD_END) if we still own it."""

    @abstractmethod
    def release(self, lease: Lease) -> Lease:
        """Give the lease up (owner removed) so another worker takes it without waiting."""


def plan_takes(
    leases: Sequence[Lease],
    worker_id: str,
    held: Collection[str],
    is_expired: Callable[[Lease], bool],
    rng: random.Random | None = None,
) -> list[Lease]:
    """The leases ``worker_id`` should try to take this round (KCL-like balancing).

    Eligible leases are unfinished ones whose parents (when they have a lease) are at
    SHARD_END: children wait for their parents. Live workers are the owners of unexpired
    eligible leases, plus ``worker_id``. The target share is ``ceil(eligible / live)``;
    below it, take free, expired or own-but-not-held leases, in random order so workers
    starting together do not race for the same ones; if there are none, steal one lease
    from the worker holding the most, provided it holds more than the target.
    """
    rng = rng or random.Random()
    by_id = {lease.shard_id: lease for lease in leases}
    eligible = [
        lease
        for lease in leases
        if not lease.finished
        and all(by_id[p].finished for p in lease.parent_shard_ids if p in by_id)
    ]
    if not eligible:
        return []
    live: collections.Counter[str] = collections.Counter()
    for lease in eligible:
        if lease.owner is not None and not is_expired(lease):
            live[lease.owner] += 1
    live[worker_id] = len(held)
    target = math.ceil(len(eligible) / len(live))
    wanted = target - len(held)
    if wanted <= 0:
        return []
    free = [
        lease
        for lease in eligible
        if lease.shard_id not in held and (lease.owner in (None, worker_id) or is_expired(lease))
    ]
    if free:
        rng.shuffle(free)
        return free[:wanted]
    overloaded = [w for w, n in live.items() if w != worker_id and n > target]
    if not overloaded:
        return []
    victim = max(overloaded, key=lambda w: (live[w], w))
    return [rng.choice([lease for lease in eligible if lease.owner == victim])]


class LeaseTable(LeaseStore):
    """Leases in DynamoDB with conditional writes; see the module docstring."""

    def __init__(
        self,
        client: Any,
        table_name: str,
        worker_id: str,
        *,
        lease_timeout_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.table_name = table_name
        self.worker_id = worker_id
        self.lease_timeout_s = lease_timeout_s
        self._clock = clock
        self._seen: dict[str, tuple[int, float]] = {}

    def ensure(self) -> None:
        import botocore.exceptions as bx

        try:
            self.client.describe_table(TableName=self.table_name)
        except bx.ClientError as exc:
            if _code(exc) != "ResourceNotFoundException":
                raise from_botocore(exc, f"describe lease table {self.table_name}") from exc
            try:
                self.client.create_table(
                    TableName=self.table_name,
                    KeySchema=[{"AttributeName": "leaseKey", "KeyType": "HASH"}],
                    AttributeDefinitions=[{"AttributeName": "leaseKey", "AttributeType": "S"}],
                    BillingMode="PAY_PER_REQUEST",
                )
            except bx.ClientError as exc2:
                if _code(exc2) != "ResourceInUseException":
                    raise from_botocore(exc2, f"create lease table {self.table_name}") from exc2
        deadline = self._clock() + 60.0
        while True:
            status = self._call("describe_table", TableName=self.table_name)["Table"]
            if status.get("TableStatus") == "ACTIVE":
                return
            if self._clock() > deadline:
                raise ConnectorError(
                    f"lease table {self.table_name} not ACTIVE after 60 s; check DynamoDB"
                )
            time.sleep(0.2)

    def create_if_missing(self, shard_id: str, parent_shard_ids: Sequence[str]) -> None:
        import botocore.exceptions as bx

        item: dict[str, Any] = {
            "leaseKey": {"S": shard_id},
            "leaseCounter": {"N": "0"},
            "ownerSwitches": {"N": "0"},
            "parentShardIds": {"L": [{"S": p} for p in parent_shard_ids]},
        }
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=item,
                ConditionExpression="attribute_not_exists(leaseKey)",
            )
        except bx.ClientError as exc:
            if _code(exc) != _CONDITION_FAILED:
                raise from_botocore(exc, f"create lease {shard_id}") from exc

    def list_leases(self) -> list[Lease]:
        leases: list[Lease] = []
        kwargs: dict[str, Any] = {"TableName": self.table_name, "ConsistentRead": True}
        while True:
            page = self._call("scan", **kwargs)
            leases.extend(_lease_from_item(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        now = self._clock()
        for lease in leases:
            seen = self._seen.get(lease.shard_id)
            if seen is None or seen[0] != lease.counter:
                self._seen[lease.shard_id] = (lease.counter, now)
        return sorted(leases, key=lambda lease: lease.shard_id)

    def is_expired(self, lease: Lease) -> bool:
        if lease.owner is None:
            return True
        seen = self._seen.get(lease.shard_id)
        if seen is None or seen[0] != lease.counter:
            return False
        return self._clock() - seen[1] >= self.lease_timeout_s

    def take(self, lease: Lease) -> Lease:
        switches = lease.owner_switches + (1 if lease.owner != self.worker_id else 0)
        self._update(
            lease,
            "SET leaseOwner = :me, leaseCounter = :next, ownerSwitches = :switches",
            "leaseCounter = :expected",
            {":me": {"S": self.worker_id}, ":switches": {"N": str(switches)}},
            "take",
        )
        return replace(
            lease, owner=self.worker_id, counter=lease.counter + 1, owner_switches=switches
        )

    def renew(self, lease: Lease) -> Lease:
        self._update(
            lease, "SET leaseCounter = :next", _OWNED, {":me": _s(self.worker_id)}, "renew"
        )
        return replace(lease, counter=lease.counter + 1)

    def checkpoint(self, lease: Lease, checkpoint: str) -> Lease:
        self._update(
            lease,
            "SET leaseCounter = :next, checkpoint = :cp",
            _OWNED,
            {":me": _s(self.worker_id), ":cp": _s(checkpoint)},
            f"checkpoint {checkpoint}",
        )
        return replace(lease, counter=lease.counter + 1, checkpoint=checkpoint)

    def release(self, lease: Lease) -> Lease:
        self._update(
            lease,
            "SET leaseCounter = :next REMOVE leaseOwner",
            _OWNED,
            {":me": _s(self.worker_id)},
            "release",
        )
        return replace(lease, owner=None, counter=lease.counter + 1)

    def _update(
        self, lease: Lease, update: str, condition: str, values: dict[str, Any], what: str
    ) -> None:
        import botocore.exceptions as bx

        values = {
            **values,
            ":expected": {"N": str(lease.counter)},
            ":next": {"N": str(lease.counter + 1)},
        }
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"leaseKey": _s(lease.shard_id)},
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
            )
        except bx.ClientError as exc:
            if _code(exc) == _CONDITION_FAILED:
                raise CommitRejected(
                    f"{what} of the lease on {lease.shard_id} by {self.worker_id} rejected: "
                    f"another worker took it (counter is no longer {lease.counter}); "
                    "drop the shard and resume from its last checkpoint"
                ) from exc
            raise from_botocore(exc, f"{what} lease {lease.shard_id}") from exc

    def _call(self, method: str, **kwargs: Any) -> Any:
        import botocore.exceptions as bx

        try:
            return getattr(self.client, method)(**kwargs)
        except (bx.ClientError, bx.BotoCoreError) as exc:
            raise from_botocore(exc, f"{method} {self.table_name}") from exc


_OWNED = "leaseCounter = :expected AND leaseOwner = :me"


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _lease_from_item(item: dict[str, Any]) -> Lease:
    return Lease(
        shard_id=item["leaseKey"]["S"],
        owner=item["leaseOwner"]["S"] if "S" in item.get("leaseOwner", {}) else None,
        counter=int(item.get("leaseCounter", {}).get("N", "0")),
        checkpoint=item["checkpoint"]["S"] if "S" in item.get("checkpoint", {}) else None,
        parent_shard_ids=tuple(p["S"] for p in item.get("parentShardIds", {}).get("L", [])),
        owner_switches=int(item.get("ownerSwitches", {}).get("N", "0")),
    )


class FileCheckpointStore(LeaseStore):
    """Checkpoints in one JSON file for a single embedded worker; see the module docstring."""

    VERSION = 1

    def __init__(self, path: str | os.PathLike[str], worker_id: str = "embedded") -> None:
        self.path = Path(path)
        self.worker_id = worker_id
        self._lock = threading.Lock()
        self._checkpoints: dict[str, str] = {}
        self._leases: dict[str, Lease] = {}

    def load(self) -> dict[str, str]:
        """The checkpoints on disk (empty if the file does not exist yet)."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        try:
            doc = json.loads(raw)
            if doc.get("version") != self.VERSION:
                raise ValueError(f"version {doc.get('version')!r}")
            return {str(k): str(v) for k, v in doc["checkpoints"].items()}
        except (ValueError, KeyError, AttributeError) as exc:
            raise ConnectorError(
                f"checkpoint file {self.path} is unreadable ({exc}); "
                "restore it or delete it to start from the configured position"
            ) from exc

    def ensure(self) -> None:
        with self._lock:
            self._checkpoints = self.load()

    def get(self, shard_id: str) -> str | None:
        with self._lock:
            return self._checkpoints.get(shard_id)

    def put(self, shard_id: str, checkpoint: str) -> None:
        """Record ``checkpoint`` for ``shard_id`` and publish the whole map atomically."""
        with self._lock:
            self._checkpoints[shard_id] = checkpoint
            self._publish(dict(self._checkpoints))

    def create_if_missing(self, shard_id: str, parent_shard_ids: Sequence[str]) -> None:
        with self._lock:
            if shard_id not in self._leases:
                self._leases[shard_id] = Lease(shard_id, parent_shard_ids=tuple(parent_shard_ids))

    def list_leases(self) -> list[Lease]:
        with self._lock:
            return [
                replace(lease, checkpoint=self._checkpoints.get(shard_id))
                for shard_id, lease in sorted(self._leases.items())
            ]

    def is_expired(self, lease: Lease) -> bool:
        return lease.owner is None

    def take(self, lease: Lease) -> Lease:
        return self._set(replace(lease, owner=self.worker_id, counter=lease.counter + 1))

    def renew(self, lease: Lease) -> Lease:
        return lease

    def checkpoint(self, lease: Lease, checkpoint: str) -> Lease:
        self.put(lease.shard_id, checkpoint)
        return replace(lease, checkpoint=checkpoint)

    def release(self, lease: Lease) -> Lease:
        return self._set(replace(lease, owner=None, counter=lease.counter + 1))

    def _set(self, lease: Lease) -> Lease:
        with self._lock:
            self._leases[lease.shard_id] = lease
        return lease

    def _publish(self, checkpoints: dict[str, str]) -> None:
        body = json.dumps(
            {"version": self.VERSION, "checkpoints": checkpoints}, sort_keys=True, indent=1
        ).encode()
        self.path.parent.mkdir(parents=True, exist_ok=True)

        def write(f: BinaryIO) -> None:
            f.write(body)

        atomic_write(self.path, write)
