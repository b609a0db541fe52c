"""Exactly one copy: a corpus flows S3 -> notifications on Kafka -> `memvec worker` ->
`memvec server`, while the worker is `kill -9`ed at random points. After it drains, the
store's chunk set equals the set the bucket's final state implies: no duplicate, no
missing and no stale chunk. Real broker (tansu), real moto S3, real model, real server.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pipeline.chunking import chunk_text
from pipeline.embedding import LocalEmbedder
from pipeline.parsing import parse_object
from tests.harness import FAST_GROUP_TIMEOUTS, unique_name
from tests.harness.wait import wait_for
from tests.server.test_process import ServerProcess

REPO = Path(__file__).resolve().parents[2]
KILLS = 6  # half at a random moment once up (leases, consuming, committing), half after progress


def corpus(rng: random.Random, n: int) -> dict[str, bytes]:
    vocab = ("vector index durable log shard stream replica snapshot query chunk embed "
             "kafka kinesis bucket object lambda handler token model search").split()  # fmt: skip

    def text(k: int) -> str:
        return " ".join(" ".join(rng.choice(vocab) for _ in range(10)) + "." for _ in range(k))

    out: dict[str, bytes] = {}
    for i in range(n):
        kind = i % 6
        if kind == 0:
            out[f"docs/t{i}.txt"] = text(rng.randint(1, 30)).encode()
        elif kind == 1:
            out[f"docs/m {i}+x.md"] = ("# Title\n\n" + text(rng.randint(1, 10))).encode()
        elif kind == 2:
            rows = [{"id": f"r{j}", "text": text(2)} for j in range(rng.randint(1, 3))]
            out[f"data/j{i}.jsonl"] = "\n".join(json.dumps(r) for r in rows).encode()
        elif kind == 3:
            out[f"data/c{i}.csv"] = ("text,n\n" + f"{text(2)},1\n").encode()
        elif kind == 4:
            out[f"web/h{i}.html"] = (
                f"<html><body><p>{text(3)}</p><script>x()</script></body></html>".encode()
            )
        else:
            out[f"zip/g{i}.txt.gz"] = gzip.compress(text(rng.randint(1, 6)).encode())
    return out


def notification(bucket: str, key: str, kind: str, seq: int, version: str | None) -> bytes:
    from urllib.parse import quote_plus

    obj: dict[str, Any] = {"key": quote_plus(key), "sequencer": f"{seq:016X}"}
    if version:
        obj["versionId"] = version
    name = "ObjectCreated:Put" if kind == "put" else "ObjectRemoved:Delete"
    return json.dumps({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-11-26T00:00:00.000Z", "eventName": name,
        "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
               "object": obj},
    }]}).encode()  # fmt: skip


def expected_chunks(s3: Any, bucket: str, count_tokens: Any) -> set[bytes]:
    out: set[bytes] = set()
    for obj in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
        for doc in parse_object(obj["Key"], body):
            n = len(chunk_text(doc.text, count_tokens, max_tokens=256, overlap_tokens=32))
            out |= {f"chunk:{bucket}/{obj['Key']}{doc.suffix}#{i}".encode() for i in range(n)}
    return out


class Worker:
    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log_path = log
        self.log = open(log, "ab")  # noqa: SIM115 - closed in kill()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli", "worker", *args],
            cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def up(self) -> bool:
        """Whether it printed its ready line (model loaded, source started) or exited."""
        return self.proc.poll() is not None or b" ready: " in self.log_path.read_bytes()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(30)
        self.log.close()


def bucket_history(s3: Any, rng: random.Random) -> tuple[str, list[tuple[str, bytes]]]:
    """A versioned bucket's history as notifications: puts, overwrites (shorter and
    longer), deletes, and duplicated deliveries."""
    bucket = unique_name("eoc")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    events: list[tuple[str, bytes]] = []
    seq = 0
    files = corpus(rng, 180)
    for key, body in files.items():
        seq += 1
        v = s3.put_object(Bucket=bucket, Key=key, Body=body).get("VersionId")
        events.append((key, notification(bucket, key, "put", seq, v)))
    for key in rng.sample(sorted(files), 40):
        seq += 1
        if rng.random() < 0.5:
            v = s3.delete_object(Bucket=bucket, Key=key).get("VersionId")
            events.append((key, notification(bucket, key, "delete", seq, v)))
        else:
            plain = key.endswith((".txt", ".md"))
            body = (b"rewritten. " * rng.randint(1, 400)) if plain else files[key]
            v = s3.put_object(Bucket=bucket, Key=key, Body=body).get("VersionId")
            events.append((key, notification(bucket, key, "put", seq, v)))
    events += rng.sample(events, 20)
    return bucket, events


@pytest.mark.slow
async def test_exactly_one_copy_through_kafka_with_kill9(
    tmp_path: Path, moto_server: Any, kafka_broker: Any, embedder: LocalEmbedder
) -> None:
    from aiokafka import AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    rng = random.Random(99)
    bucket, events = bucket_history(moto_server.client("s3"), rng)
    topic = unique_name("s3events")
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_broker.bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])
    await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_broker.bootstrap, acks="all")
    await producer.start()
    for key, value in events:
        await producer.send_and_wait(topic, value, key=key.encode())
    await producer.stop()
    timeouts = "&".join(f"{k}={v}" for k, v in FAST_GROUP_TIMEOUTS.items())
    source = f"kafka://{kafka_broker.bootstrap}/{topic}?group=g-{topic}&{timeouts}"
    run_with_kills(tmp_path, moto_server, embedder, bucket, source, rng)


@pytest.mark.slow
def test_exactly_one_copy_through_kinesis_with_kill9(
    tmp_path: Path, moto_server: Any, embedder: LocalEmbedder
) -> None:
    rng = random.Random(98)
    bucket, events = bucket_history(moto_server.client("s3"), rng)
    kinesis = moto_server.client("kinesis")
    stream = unique_name("s3events")
    kinesis.create_stream(StreamName=stream, ShardCount=2)
    for key, value in events:
        kinesis.put_record(StreamName=stream, Data=value, PartitionKey=key)
    source = f"kinesis://{stream}?lease_table={stream}-leases&lease_timeout_s=2&poll_interval_s=0.2"
    run_with_kills(tmp_path, moto_server, embedder, bucket, source, rng)


def run_with_kills(
    tmp_path: Path, moto_server: Any, embedder: LocalEmbedder, bucket: str, source: str,
    rng: random.Random,
) -> None:  # fmt: skip
    s3 = moto_server.client("s3")
    want = expected_chunks(s3, bucket, embedder.count_tokens)  # before anything is started
    server = ServerProcess(tmp_path / "store")
    store = server.client()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1", "HF_HUB_OFFLINE": "1"}  # fmt: skip
    args = [
        "--source", source,
        "--store", f"redis://127.0.0.1:{server.port}", "--aws-endpoint-url", moto_server.endpoint_url,
        "--dlq", str(tmp_path / "dlq.jsonl"), "--batch-size", "8", "--batching-window-ms", "100",
    ]  # fmt: skip

    def chunks() -> set[bytes]:
        return set(store.keys(f"chunk:{bucket}/*"))

    try:
        for round_no in range(KILLS):
            worker = Worker(args, env, tmp_path / f"worker{round_no}.log")
            if round_no % 2:  # killed at a random moment once up: taking its leases or
                # partitions, consuming, writing or committing. Counted from its ready line:
                # a worker takes seconds to import and load the model, so a delay counted
                # from the spawn would mostly kill it while importing.
                wait_for(worker.up, 60, message=f"round {round_no}: worker never got ready")
                try:
                    worker.proc.wait(rng.uniform(0, 3))  # the random delay is the kill point
                except subprocess.TimeoutExpired:
                    pass
                worker.kill()
                continue
            target = len(chunks()) + rng.randint(1, 25)

            def progressed(w: Worker = worker, t: int = target) -> bool:
                return len(chunks()) >= t or w.proc.poll() is not None

            try:  # kill at a random point once it made some progress
                wait_for(progressed, 60, message=f"round {round_no}: no progress")
            except TimeoutError:
                pass  # killing a worker that made no progress is a valid crash point too
            finally:
                worker.kill()
        final = Worker(args, env, tmp_path / "final.log")
        try:
            wait_for(lambda: chunks() == want, 180, interval_s=0.5,
                     message="the store never matched the bucket")  # fmt: skip
        finally:
            final.kill()
        got = chunks()
        assert got == want, (len(got - want), len(want - got))
        dlq = tmp_path / "dlq.jsonl"
        assert not dlq.exists() or dlq.read_text() == "", dlq.read_text()[:2000]
    finally:
        store.close()
        server.kill9()
