"""KinesisSource against moto server: Kinesis streams, DynamoDB lease table, checkpoint files.

moto 5.2.5 quirks these tests work around (real Kinesis behaves differently):
- after SplitShard/MergeShards, PutRecord still routes keys to the *closed* parent (its
  hash-key lookup ignores whether a shard is open), so children of a split never receive
  records; tests write only to shards untouched by the reshard once it happened;
- MergeShards copies the parents' records into the child (real Kinesis does not), which
  gives the merged child records whose handling must come after its parents';
- GetRecords never ends a closed shard with a null NextShardIterator, so the source's
  fallback (closed per ListShards and read up to EndingSequenceNumber) is what ends it;
- shard iterators never expire and nothing is throttled, so those faults are injected by
  a wrapper around the real client.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import threading
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from connectors.base import Batch
from connectors.errors import CommitRejected, Throttled
from connectors.kinesis import IteratorType, KinesisSource
from connectors.leases import SHARD_END, FileCheckpointStore, Lease, LeaseTable
from tests.harness import MotoServer, unique_name, wait_for_async


class FaultyKinesis:
    """The real moto client, raising injected error codes on the listed calls first."""

    def __init__(self, client: Any, faults: dict[str, list[str | None]]) -> None:
        self._client = client
        self._faults = faults
        self._lock = threading.Lock()
        self.calls: collections.Counter[str] = collections.Counter()

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._client, name)

        def call(**kwargs: Any) -> Any:
            with self._lock:
                self.calls[name] += 1
                queue = self._faults.get(name)
                code = queue.pop(0) if queue else None
            if code is not None:
                response: Any = {
                    "Error": {"Code": code, "Message": "injected by the test"},
                    "ResponseMetadata": {"HTTPStatusCode": 400},
                }
                raise ClientError(response, name)
            return target(**kwargs)

        return call


def _stream(moto: MotoServer, shards: int) -> str:
    name = unique_name("kin")
    moto.client("kinesis").create_stream(StreamName=name, ShardCount=shards)
    return name


def _hash_keys(kinesis: Any, stream: str) -> dict[str, str]:
    listed = kinesis.list_shards(StreamName=stream)["Shards"]
    return {s["ShardId"]: s["HashKeyRange"]["StartingHashKey"] for s in listed}


def _shard_values(kinesis: Any, stream: str, shard_id: str) -> set[str]:
    """Every value the shard holds now, read from TRIM_HORIZON."""
    iterator = kinesis.get_shard_iterator(
        StreamName=stream, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    values: set[str] = set()
    while iterator:
        out = kinesis.get_records(ShardIterator=iterator, Limit=1000)
        values.update(r["Data"].decode() for r in out["Records"])
        if not out["Records"]:
            break
        iterator = out.get("NextShardIterator")
    return values


def _put(kinesis: Any, stream: str, shard_id: str, values: list[str]) -> list[str]:
    key = _hash_keys(kinesis, stream)[shard_id]
    out = kinesis.put_records(
        StreamName=stream,
        Records=[{"Data": v.encode(), "PartitionKey": v, "ExplicitHashKey": key} for v in values],
    )
    assert out["FailedRecordCount"] == 0
    assert {r["ShardId"] for r in out["Records"]} == {shard_id}
    return [r["SequenceNumber"] for r in out["Records"]]


def _source(moto: MotoServer, stream: str, worker: str, **kwargs: Any) -> KinesisSource:
    options: dict[str, Any] = {
        "worker_id": worker,
        "kinesis_client": moto.client("kinesis"),
        "dynamodb_client": moto.client("dynamodb"),
        "poll_interval_s": 0.05,
        "lease_timeout_s": 1.5,
        "discovery_interval_s": 0.3,
        **kwargs,
    }
    return KinesisSource(stream, **options)


class Consumer:
    """Drives one source like the runner does: get a batch, handle it, ack it."""

    def __init__(self, source: KinesisSource, log: list[tuple[str, str, str]]) -> None:
        self.source = source
        self.log = log
        self.task: asyncio.Task[None] | None = None

    async def run(self, max_records: int = 10) -> None:
        while True:
            batch = await self.source.get_batch(max_records, 0.1)
            if batch is None:
                continue
            self.log.extend((r.partition, r.position, r.value.decode()) for r in batch.records)
            with contextlib.suppress(CommitRejected):
                await self.source.ack(batch)

    def start(self) -> None:
        self.task = asyncio.create_task(self.run())

    async def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


@contextlib.asynccontextmanager
async def running(*sources: KinesisSource) -> AsyncIterator[None]:
    try:
        for source in sources:
            await source.start()
        yield
    finally:
        for source in sources:
            await source.stop()


async def _drain(source: KinesisSource, want: int, max_records: int = 10) -> list[Batch]:
    batches: list[Batch] = []

    async def enough() -> bool:
        batch = await source.get_batch(max_records, 0.05)
        if batch is not None:
            batches.append(batch)
        return sum(len(b.records) for b in batches) >= want

    await wait_for_async(enough, 10, interval_s=0, message=f"{want} records")
    return batches


def _leases(moto: MotoServer, table: str) -> dict[str, Lease]:
    return {
        lease.shard_id: lease
        for lease in LeaseTable(moto.client("dynamodb"), table, "observer").list_leases()
    }


async def test_shard_order_and_resume_after_restart(moto_server: MotoServer) -> None:
    kinesis = moto_server.client("kinesis")
    stream, table = _stream(moto_server, 2), unique_name("lt")
    shards = sorted(_hash_keys(kinesis, stream))
    seqs = {s: _put(kinesis, stream, s, [f"{s}:{i}" for i in range(30)]) for s in shards}

    first = _source(moto_server, stream, "w1", lease_table=table)
    async with running(first):
        assert first.held_shards == shards
        batches = await _drain(first, 60)
        for shard in shards:
            mine = [b for b in batches if b.partition == shard]
            positions = [int(r.position) for b in mine for r in b.records]
            assert positions == sorted(positions) and len(positions) == 30
            await first.ack(mine[0])
            await first.ack(mine[2])  # not checkpointed: batch 1 is not acknowledged
    leases = _leases(moto_server, table)
    assert {s: leases[s].checkpoint for s in shards} == {s: seqs[s][9] for s in shards}
    assert all(leases[s].owner is None for s in shards)  # released by stop()

    for s in shards:
        seqs[s] += _put(kinesis, stream, s, [f"{s}:{i}" for i in range(30, 35)])
    second = _source(moto_server, stream, "w2", lease_table=table)
    async with running(second):
        batches = await _drain(second, 50)
        got: dict[str, list[str]] = collections.defaultdict(list)
        for b in batches:
            got[b.partition].extend(r.position for r in b.records)
            await second.ack(b)
        assert got == {s: seqs[s][10:] for s in shards}  # exactly the uncommitted window
        assert second.held_shards == shards
    assert {s: lease.checkpoint for s, lease in _leases(moto_server, table).items()} == {
        s: seqs[s][-1] for s in shards
    }


async def test_file_checkpoints_and_latest_position(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    kinesis = FaultyKinesis(moto_server.client("kinesis"), {})
    stream = _stream(moto_server, 1)
    (shard,) = _hash_keys(kinesis, stream)
    _put(kinesis, stream, shard, ["old-0", "old-1"])
    path = tmp_path / "kinesis.json"

    source = _source(
        moto_server,
        stream,
        "solo",
        lease_store=FileCheckpointStore(path, "solo"),
        initial_position=IteratorType.LATEST,
        kinesis_client=kinesis,
    )
    async with running(source):
        await wait_for_async(lambda: kinesis.calls["get_records"] > 0, 10)
        new = _put(kinesis, stream, shard, ["new-0", "new-1", "new-2"])
        batches = await _drain(source, 3)
        assert [r.value for b in batches for r in b.records] == [b"new-0", b"new-1", b"new-2"]
        for b in batches:
            await source.ack(b)
    assert FileCheckpointStore(path).load() == {shard: new[-1]}

    more = _put(kinesis, stream, shard, ["later"])
    again = _source(moto_server, stream, "solo", lease_store=FileCheckpointStore(path, "solo"))
    async with running(again):
        (batch,) = await _drain(again, 1)
        assert [r.position for r in batch.records] == more
        assert (await again.get_batch(10, 0.2)) is None


async def test_at_sequence_number_and_at_timestamp(moto_server: MotoServer) -> None:
    kinesis = moto_server.client("kinesis")
    stream = _stream(moto_server, 1)
    (shard,) = _hash_keys(kinesis, stream)
    seqs = _put(kinesis, stream, shard, [f"a{i}" for i in range(5)])
    time.sleep(0.05)  # arrival timestamps on both sides of `cut`
    cut = datetime.now(UTC)
    time.sleep(0.05)
    later = _put(kinesis, stream, shard, [f"b{i}" for i in range(3)])

    by_seq = _source(
        moto_server,
        stream,
        "seq",
        lease_table=unique_name("lt"),
        initial_position="AT_SEQUENCE_NUMBER",
        start_sequence_numbers={shard: seqs[3]},
    )
    by_time = _source(
        moto_server,
        stream,
        "time",
        lease_table=unique_name("lt"),
        initial_position=IteratorType.AT_TIMESTAMP,
        start_timestamp=cut,
    )
    async with running(by_seq, by_time):
        from_seq = await _drain(by_seq, 5)
        from_time = await _drain(by_time, 3)
    assert [r.position for b in from_seq for r in b.records] == seqs[3:] + later
    assert [r.position for b in from_time for r in b.records] == later


async def test_throttling_and_expired_iterators_lose_and_repeat_nothing(
    moto_server: MotoServer,
) -> None:
    throttled = "ProvisionedThroughputExceededException"
    kinesis = FaultyKinesis(
        moto_server.client("kinesis"),
        {
            "get_records": [throttled, throttled, None, "ExpiredIteratorException", throttled],
            "get_shard_iterator": [None, throttled],
        },
    )
    stream = _stream(moto_server, 1)
    (shard,) = _hash_keys(kinesis, stream)
    first = _put(kinesis, stream, shard, [f"r{i}" for i in range(20)])
    source = _source(
        moto_server,
        stream,
        "w",
        lease_table=unique_name("lt"),
        kinesis_client=kinesis,
        max_records_per_call=7,
        backoff_max_s=0.2,
    )
    async with running(source):
        await wait_for_async(lambda: kinesis.calls["get_records"] >= 5, 10)
        second = _put(kinesis, stream, shard, [f"s{i}" for i in range(5)])
        batches = await _drain(source, 25, max_records=100)
        assert (await source.get_batch(100, 0.2)) is None
    assert [r.position for b in batches for r in b.records] == first + second
    assert kinesis.calls["get_shard_iterator"] == 3  # first, throttled retry, after expiry
    assert source.last_error is None  # throttling is expected, not an error


class FailingCheckpoints:
    """A DynamoDB client whose next ``failures`` checkpoint writes are throttled."""

    def __init__(self, client: Any, failures: int) -> None:
        self._client = client
        self.failures = failures

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def update_item(self, **kwargs: Any) -> Any:
        if "checkpoint" in kwargs["UpdateExpression"] and self.failures > 0:
            self.failures -= 1
            response: Any = {
                "Error": {"Code": "ProvisionedThroughputExceededException", "Message": "test"},
                "ResponseMetadata": {"HTTPStatusCode": 400},
            }
            raise ClientError(response, "UpdateItem")
        return self._client.update_item(**kwargs)


async def test_a_failed_checkpoint_is_written_by_the_retried_ack(moto_server: MotoServer) -> None:
    kinesis = moto_server.client("kinesis")
    stream, table = _stream(moto_server, 1), unique_name("lt")
    (shard,) = _hash_keys(kinesis, stream)
    seqs = _put(kinesis, stream, shard, [f"r{i}" for i in range(6)])
    dynamodb = FailingCheckpoints(moto_server.client("dynamodb"), failures=1)
    source = _source(moto_server, stream, "w", lease_table=table, dynamodb_client=dynamodb)
    async with running(source):
        first, second = await _drain(source, 6, max_records=3)
        with pytest.raises(Throttled):
            await source.ack(first)
        assert _leases(moto_server, table)[shard].checkpoint is None
        await source.ack(first)
        assert _leases(moto_server, table)[shard].checkpoint == seqs[2]
        await source.ack(second)
        assert _leases(moto_server, table)[shard].checkpoint == seqs[5]


async def test_reshard_and_failover_hand_every_record_parents_first(
    moto_server: MotoServer,
) -> None:
    """Split and merge during consumption; two workers share four shards; one crashes."""
    kinesis = moto_server.client("kinesis")
    stream, table = _stream(moto_server, 4), unique_name("lt")
    s0, s1, s2, s3 = sorted(_hash_keys(kinesis, stream))
    log: list[tuple[str, str, str]] = []
    produced: set[str] = set()

    def put(shard: str, wave: str, n: int = 15) -> None:
        values = [f"{wave}:{shard}:{i}" for i in range(n)]
        _put(kinesis, stream, shard, values)
        produced.update(values)

    def handled() -> set[str]:
        return {value for _, _, value in log}

    a = _source(moto_server, stream, "a", lease_table=table)
    b = _source(moto_server, stream, "b", lease_table=table)
    ca, cb = Consumer(a, log), Consumer(b, log)
    try:
        await a.start()
        ca.start()
        await b.start()
        cb.start()
        await wait_for_async(
            lambda: len(a.held_shards) == 2 and len(b.held_shards) == 2, 15, message="balance"
        )
        assert sorted(a.held_shards + b.held_shards) == [s0, s1, s2, s3]

        for shard in (s0, s1, s2, s3):
            put(shard, "w1")
        await wait_for_async(lambda: handled() >= produced, 10, message="wave 1")
        for shard in (s0, s2, s3):
            put(shard, "w2")
        kinesis.split_shard(StreamName=stream, ShardToSplit=s0, NewStartingHashKey=str(2**128 // 8))
        kinesis.merge_shards(StreamName=stream, ShardToMerge=s2, AdjacentShardToMerge=s3)
        children = sorted(set(_hash_keys(kinesis, stream)) - {s0, s1, s2, s3})
        assert len(children) == 3
        merged = children[-1]

        def reshard_done() -> bool:
            leases = _leases(moto_server, table)
            if not set(children) <= set(leases):
                return False
            for child in children:
                if leases[child].owner_switches:  # taken: its parents were finished before
                    now = _leases(moto_server, table)
                    parents = leases[child].parent_shard_ids
                    assert all(now[p].checkpoint == SHARD_END for p in parents), child
            return all(leases[p].checkpoint == SHARD_END for p in (s0, s2, s3)) and all(
                leases[c].owner is not None for c in children
            )

        await wait_for_async(reshard_done, 15, message="parents at SHARD_END, children taken")
        await wait_for_async(lambda: handled() >= produced, 10, message="wave 2")
        await wait_for_async(
            lambda: len(a.held_shards) == 2 and len(b.held_shards) == 2, 15, message="rebalance"
        )

        victim, survivor, consumer = (a, b, ca) if s1 in a.held_shards else (b, a, cb)
        dead_leases = victim.held_shards
        await consumer.cancel()
        await victim.stop(release_leases=False)  # a crash: leases stay owned until they expire
        put(s1, "w3")
        await wait_for_async(
            lambda: set(survivor.held_shards) == {s1, *children}, 15, message="takeover"
        )
        await wait_for_async(lambda: handled() >= produced, 10, message="wave 3")
        # moto copies the parents' records into the merged shard (real Kinesis does not):
        # wait until those are handled too, so the ordering check below has a child to see
        in_children = {c: _shard_values(kinesis, stream, c) for c in children}

        def children_handled() -> bool:
            return all({v for shard, _, v in log if shard == c} >= in_children[c] for c in children)

        await wait_for_async(children_handled, 10, message="children's records")
    finally:
        await ca.cancel()
        await cb.cancel()
        await a.stop()
        await b.stop()

    assert handled() >= produced
    assert in_children[merged], "moto no longer copies records into a merged shard"
    leases = _leases(moto_server, table)
    assert {c: leases[c].parent_shard_ids for c in children} == {
        children[0]: (s0,),
        children[1]: (s0,),
        merged: (s2, s3),
    }
    assert all(leases[s].owner_switches >= 2 for s in dead_leases)
    parents_last = max(i for i, (shard, _, _) in enumerate(log) if shard in (s2, s3))
    merged_first = min(i for i, (shard, _, _) in enumerate(log) if shard == merged)
    assert merged_first > parents_last
