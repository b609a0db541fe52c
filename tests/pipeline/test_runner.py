"""The event-source runner's Lambda semantics, on the in-memory source (fast, exact)."""

from __future__ import annotations

import asyncio
import base64
import threading
from collections.abc import Sequence

from connectors.base import Record
from connectors.memory import MemoryLog, MemorySource
from pipeline.handler import ItemResult
from pipeline.runner import ListDestination, Runner, RunnerConfig
from tests.harness.wait import wait_for_async


class Processor:
    """Fails records whose value says so; records every call (per partition order)."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.starts: list[tuple[str, int]] = []  # (partition, first position) per call
        self.handled: list[tuple[str, int]] = []
        self.attempts: dict[str, int] = {}
        self.lock = threading.Lock()

    def __call__(self, records: Sequence[Record]) -> list[ItemResult]:
        values = [r.value.decode() for r in records]
        with self.lock:
            self.calls.append(values)
            self.starts.append((records[0].partition, int(records[0].position)))
        if any(v == "crash" for v in values):
            raise RuntimeError("the whole batch failed")
        out = []
        for r, v in zip(records, values, strict=True):
            with self.lock:
                self.attempts[v] = self.attempts.get(v, 0) + 1
            if v.startswith("poison"):
                out.append(ItemResult(r.position, False, "cannot parse", retriable=False))
            elif v.startswith("flaky") and self.attempts[v] < 2:
                out.append(ItemResult(r.position, False, "store busy", retriable=True))
            elif v.startswith("down"):
                out.append(ItemResult(r.position, False, "store down", retriable=True))
            else:
                with self.lock:
                    self.handled.append((r.partition, int(r.position)))
                out.append(ItemResult(r.position, True))
        return out


async def run_until_drained(
    log: MemoryLog, proc: Processor, cfg: RunnerConfig, total: int
) -> ListDestination:
    source = MemorySource(log, group="g")
    await source.start()
    dlq = ListDestination()
    runner = Runner(source, proc, dlq, cfg)
    task = asyncio.create_task(runner.run())
    try:
        await wait_for_async(
            lambda: sum(log.committed("g", p) for p in range(log.partitions)) == total,
            20, message="runner did not commit everything",
        )  # fmt: skip
    finally:
        runner.stop()
        await task
    return dlq


FAST = RunnerConfig(
    batch_size=4, batching_window_s=0.05, max_retry_attempts=2, retry_backoff_s=0.01
)


async def test_poison_goes_to_dlq_and_the_partition_keeps_moving() -> None:
    log = MemoryLog(partitions=2)
    values = ["a", "poison-1", "b", "flaky-1", "c", "down-1", "d", "e", "f"]
    for i, v in enumerate(values):
        log.append(v.encode(), partition=i % 2)
    proc = Processor()
    dlq = await run_until_drained(log, proc, FAST, len(values))
    reasons = {base64.b64decode(d["record"]["value"]).decode(): d["reason"] for d in dlq.items}
    assert reasons == {"poison-1": "cannot parse", "down-1": "store down"}
    assert proc.attempts["down-1"] == 3  # first try + max_retry_attempts
    assert proc.attempts["poison-1"] == 1  # not retried
    assert proc.attempts["flaky-1"] == 2
    # batches of one partition run one after another, in order (retries stay in their batch)
    for p in ("0", "1"):
        starts = [pos for part, pos in proc.starts if part == p]
        assert starts == sorted(starts)


async def test_bisect_isolates_a_batch_crash() -> None:
    log = MemoryLog(partitions=1)
    values = ["a", "b", "crash", "c"]
    for v in values:
        log.append(v.encode())
    proc = Processor()
    dlq = await run_until_drained(
        log,
        proc,
        RunnerConfig(
            batch_size=4, batching_window_s=0.05, max_retry_attempts=1, retry_backoff_s=0.01
        ),
        4,
    )
    assert [d["reason"] for d in dlq.items] == ["RuntimeError: the whole batch failed"]
    assert sorted(p for _, p in proc.handled) == [0, 1, 3]
    assert ["crash"] in proc.calls  # bisected down to the culprit


async def test_expired_records_are_not_processed() -> None:
    log = MemoryLog(partitions=1)
    log.append(b"old", timestamp_ms=1)
    log.append(b"new")
    proc = Processor()
    dlq = await run_until_drained(log, proc, FAST, 2)
    assert [d["reason"].split(":")[0] for d in dlq.items] == ["expired"]
    assert proc.handled == [("0", 1)]


async def test_no_commit_past_unacknowledged_work_when_the_destination_fails() -> None:
    log = MemoryLog(partitions=1)
    for v in ["a", "poison", "b"]:
        log.append(v.encode())

    class BrokenDLQ:
        async def send(self, payload: bytes, record: Record) -> None:
            raise ConnectionError("dlq unreachable")

    source = MemorySource(log, group="g")
    await source.start()
    runner = Runner(source, Processor(), BrokenDLQ(), FAST)
    batch = await source.get_batch(10, 1)
    assert batch is not None
    try:
        await runner.handle_batch(batch)
        raise AssertionError("handle_batch must fail when a dead letter cannot be sent")
    except ConnectionError:
        pass
    assert log.committed("g", 0) == 0
