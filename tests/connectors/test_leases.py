"""Lease table on moto's DynamoDB (conditional writes) and the file checkpoint store."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import pytest

from connectors.errors import CommitRejected, ConnectorError
from connectors.leases import SHARD_END, FileCheckpointStore, Lease, LeaseTable, plan_takes
from tests.harness import MotoServer, unique_name


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def table_name(moto_server: MotoServer) -> str:
    return unique_name("leases")


def _table(moto_server: MotoServer, name: str, worker: str, clock: Any = None) -> LeaseTable:
    kwargs: dict[str, Any] = {"lease_timeout_s": 2.0}
    if clock is not None:
        kwargs["clock"] = clock
    return LeaseTable(moto_server.client("dynamodb"), name, worker, **kwargs)


def test_table_and_leases_are_created_once(moto_server: MotoServer, table_name: str) -> None:
    a = _table(moto_server, table_name, "a")
    b = _table(moto_server, table_name, "b")
    a.ensure()
    b.ensure()
    a.create_if_missing("shard-1", ["shard-0"])
    taken = a.take(a.list_leases()[0])
    b.create_if_missing("shard-1", [])
    (lease,) = b.list_leases()
    assert lease == taken
    assert lease.owner == "a" and lease.counter == 1 and lease.owner_switches == 1
    assert lease.parent_shard_ids == ("shard-0",) and lease.checkpoint is None


def test_conditional_writes_reject_a_worker_that_lost_its_lease(
    moto_server: MotoServer, table_name: str
) -> None:
    a = _table(moto_server, table_name, "a")
    b = _table(moto_server, table_name, "b")
    a.ensure()
    a.create_if_missing("s", [])
    (free,) = b.list_leases()
    mine = a.take(free)
    with pytest.raises(CommitRejected):
        b.take(free)  # stale counter: a took it first
    with pytest.raises(CommitRejected):
        b.checkpoint(mine, "5")  # not the owner
    mine = a.checkpoint(a.renew(mine), "7")
    (seen,) = b.list_leases()
    assert (seen.owner, seen.counter, seen.checkpoint) == ("a", 3, "7")

    stolen = b.take(seen)
    assert stolen.owner == "b" and stolen.owner_switches == 2
    with pytest.raises(CommitRejected):
        a.checkpoint(mine, "9")
    with pytest.raises(CommitRejected):
        a.renew(mine)
    b.release(b.checkpoint(stolen, SHARD_END))
    (final,) = a.list_leases()
    assert final.owner is None and final.finished and final.checkpoint == SHARD_END


def test_a_lease_expires_when_its_counter_stops_moving(
    moto_server: MotoServer, table_name: str
) -> None:
    clock = FakeClock()
    a = _table(moto_server, table_name, "a")
    b = _table(moto_server, table_name, "b", clock)
    a.ensure()
    a.create_if_missing("s", [])
    (free,) = b.list_leases()
    assert b.is_expired(free)  # free leases may be taken at once
    held = a.take(free)

    (seen,) = b.list_leases()
    clock.now += 1.9
    assert not b.is_expired(seen)
    held = a.renew(held)  # heartbeat: b must see the counter move and restart its timer
    clock.now += 0.5
    (seen,) = b.list_leases()
    clock.now += 1.9
    assert not b.is_expired(b.list_leases()[0])
    clock.now += 0.2
    (seen,) = b.list_leases()
    assert b.is_expired(seen)
    assert b.take(seen).owner == "b"


def test_file_store_resumes_from_the_published_checkpoints(tmp_path: Path) -> None:
    path = tmp_path / "ckpt" / "kinesis.json"
    store = FileCheckpointStore(path)
    store.ensure()
    assert store.get("s0") is None
    store.put("s0", "41")
    store.create_if_missing("s1", ["s0"])
    lease = store.take(store.list_leases()[0])
    store.checkpoint(lease, SHARD_END)

    assert json.loads(path.read_text()) == {
        "version": 1,
        "checkpoints": {"s0": "41", "s1": SHARD_END},
    }
    assert [p.name for p in path.parent.iterdir()] == ["kinesis.json"]  # no temp left over

    again = FileCheckpointStore(path)
    again.ensure()
    assert again.get("s0") == "41" and again.get("s1") == SHARD_END
    again.create_if_missing("s1", ["s0"])
    (lease,) = again.list_leases()
    assert lease.checkpoint == SHARD_END and lease.parent_shard_ids == ("s0",)


def test_file_store_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "kinesis.json"
    store = FileCheckpointStore(path)
    store.ensure()
    store.put("s0", "1")
    before = path.read_bytes()

    def crash(src: Any, dst: Any) -> None:
        raise OSError("power cut before rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        store.put("s0", "2")
    monkeypatch.undo()
    assert path.read_bytes() == before
    reopened = FileCheckpointStore(path)
    reopened.ensure()
    assert reopened.get("s0") == "1"


def test_file_store_refuses_a_corrupt_file(tmp_path: Path) -> None:
    path = tmp_path / "kinesis.json"
    path.write_text('{"checkpoints": {"s0": "1"')
    with pytest.raises(ConnectorError, match="delete it"):
        FileCheckpointStore(path).ensure()


def _plan(leases: list[Lease], worker: str, expired: frozenset[str] = frozenset()) -> list[str]:
    held = {lease.shard_id for lease in leases if lease.owner == worker}
    taken = plan_takes(
        leases,
        worker,
        held,
        lambda lease: lease.owner is None or lease.shard_id in expired,
        random.Random(7),
    )
    return sorted(lease.shard_id for lease in taken)


def test_children_wait_until_every_parent_reached_shard_end() -> None:
    parent_a = Lease("p-a", owner="a", counter=3, checkpoint="10")
    parent_b = Lease("p-b", checkpoint=SHARD_END)
    child = Lease("c", parent_shard_ids=("p-a", "p-b"))
    orphan = Lease("o", parent_shard_ids=("trimmed-away",))
    assert _plan([parent_a, parent_b, child, orphan], "b") == ["o"]
    done = Lease("p-a", checkpoint=SHARD_END)
    assert _plan([done, parent_b, child, orphan], "b") == ["c", "o"]


def test_an_even_share_is_taken_and_one_lease_stolen_per_round() -> None:
    four = [Lease(f"s{i}", owner="a", counter=1) for i in range(4)]
    (stolen,) = _plan(four, "b")
    assert stolen in {"s0", "s1", "s2", "s3"}
    two_each = [Lease(f"s{i}", owner="a" if i < 2 else "b", counter=1) for i in range(4)]
    assert _plan(two_each, "b") == [] and _plan(two_each, "a") == []
    free = [Lease(f"s{i}") for i in range(4)] + [Lease("s4", owner="a", counter=1)]
    assert len(_plan(free, "b")) == 3  # ceil(5 / 2) = 3


def test_expired_and_own_unheld_leases_are_taken_back() -> None:
    leases = [Lease("s0", owner="dead", counter=9), Lease("s1", owner="dead", counter=4)]
    assert _plan(leases, "b", expired=frozenset({"s0", "s1"})) == ["s0", "s1"]
    assert _plan(leases, "b", expired=frozenset({"s0"})) == ["s0"]
    restarted = [Lease("s0", owner="b", counter=2)]
    taken = plan_takes(restarted, "b", set(), lambda lease: False)
    assert [lease.shard_id for lease in taken] == ["s0"]
