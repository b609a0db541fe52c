"""The core job against real parts: moto-server S3, the real model, a durable engine.

The store's chunk set must equal what the bucket implies after shrinking, growing,
deleting, out-of-order and duplicated events; poison objects fail with a reason while
good ones in the same batch land; queries find the relevant document first.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import random
from pathlib import Path
from typing import Any

import pytest

from connectors.s3 import S3ObjectStore
from connectors.s3_events import S3Event
from pipeline import handler
from pipeline.demo.corpus import stdlib_documents
from pipeline.embedding import LocalEmbedder
from pipeline.parsing import ParseError
from pipeline.processor import IngestConfig, Processor
from pipeline.stores import EmbeddedStore
from store import Engine, EngineConfig
from tests.harness import unique_name

SMALL = IngestConfig(index="t", chunk_tokens=48, overlap_tokens=8, max_object_bytes=200_000)


@pytest.fixture
def s3(moto_server: Any) -> Any:
    return moto_server.client("s3")


@pytest.fixture
def bucket(s3: Any) -> str:
    name = unique_name("bkt")
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


@pytest.fixture
def engine(tmp_path: Path):
    with Engine(EngineConfig(data_dir=tmp_path / "store")) as e:
        yield e


@pytest.fixture
def proc(engine: Engine, s3: Any, embedder: LocalEmbedder) -> Processor:
    return Processor(EmbeddedStore(engine), S3ObjectStore(client=s3), embedder, SMALL)


class Bucket:
    """Puts/deletes objects and makes the S3Event each change would notify."""

    def __init__(self, s3: Any, name: str) -> None:
        self.s3, self.name, self.seq = s3, name, 0x1000

    def _event(self, kind: str, key: str, version: str | None) -> S3Event:
        self.seq += 1
        return S3Event(
            kind=kind, bucket=self.name, key=key, version_id=version, etag=None, size=None,
            sequencer=f"{self.seq:016X}", event_time_ms=0, event_name=f"test:{kind}",
        )  # type: ignore[arg-type]  # fmt: skip

    def put(self, key: str, body: bytes) -> S3Event:
        out = self.s3.put_object(Bucket=self.name, Key=key, Body=body)
        return self._event("put", key, out.get("VersionId"))

    def delete(self, key: str) -> S3Event:
        out = self.s3.delete_object(Bucket=self.name, Key=key)
        return self._event("delete", key, out.get("VersionId"))


def chunk_keys(engine: Engine) -> set[bytes]:
    return set(engine.execute("KEYS", "chunk:*"))


def expected_chunks(proc: Processor, s3: Any, bucket: str) -> set[bytes]:
    """The chunk ids the bucket's current objects imply, computed independently."""
    out: set[bytes] = set()
    listing = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    for obj in listing:
        body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
        from pipeline.chunking import chunk_text
        from pipeline.parsing import parse_object

        for doc in parse_object(obj["Key"], body):
            n = len(
                chunk_text(doc.text, proc.embedder.count_tokens, max_tokens=48, overlap_tokens=8)
            )
            out |= {f"chunk:{bucket}/{obj['Key']}{doc.suffix}#{i}".encode() for i in range(n)}
    return out


def words(n: int, seed: int) -> bytes:
    rng = random.Random(seed)
    vocab = "alpha beta gamma delta vector store index durable stream kafka shard".split()
    sentences = [" ".join(rng.choice(vocab) for _ in range(12)) + "." for _ in range(n)]
    return " ".join(sentences).encode()


def test_shrink_grow_delete_reorder_and_duplicates(
    proc: Processor, s3: Any, bucket: str, engine: Engine
) -> None:
    b = Bucket(s3, bucket)
    events = [
        b.put("a.txt", words(30, 1)),
        b.put("b.md", words(5, 2)),
        b.put("a.txt", words(3, 3)),  # shrink
        b.put("c.txt", words(2, 4)),
        b.put("c.txt", words(40, 5)),  # grow
        b.delete("b.md"),
        b.put("d/e f+g ü.txt", words(4, 6)),  # key with space, plus, unicode
    ]
    shuffled = events * 2
    random.Random(7).shuffle(shuffled)
    for event in shuffled:
        proc.process(event)
    assert chunk_keys(engine) == expected_chunks(proc, s3, bucket)
    assert all(not k.startswith(f"chunk:{bucket}/b.md".encode()) for k in chunk_keys(engine))
    # a late, older PUT of the deleted object does not resurrect it
    assert proc.process(events[1]).action == "stale"
    # the index agrees with the documents
    info = engine.execute("FT.INFO", "t")
    assert info[info.index("num_docs") + 1] == len(chunk_keys(engine))


def test_process_many_matches_one_by_one_and_fills_embedder_batches(
    proc: Processor, s3: Any, bucket: str, engine: Engine
) -> None:
    b = Bucket(s3, bucket)
    sizes: list[int] = []

    class Counting:
        def embed(self, texts: Any) -> Any:
            sizes.append(len(texts))
            return proc.embedder.embed(texts)

        count_tokens = proc.embedder.count_tokens

    config = IngestConfig(**{**SMALL.__dict__, "embed_batch_size": 8})
    batched = Processor(proc.store, proc.objects, Counting(), config)  # type: ignore[arg-type]
    events = [b.put(f"small{i}.txt", words(3, 40 + i)) for i in range(10)]
    events.insert(4, b.put("bad.json", b"{not json"))
    events += [b.put("small1.txt", words(6, 60)), b.delete("small2.txt")]  # same keys again
    outcomes = batched.process_many([(e, None) for e in events])
    assert isinstance(outcomes[4], ParseError)
    assert [o.action for o in outcomes if not isinstance(o, Exception)] == ["upserted"] * 11 + [
        "deleted"
    ]
    s3.delete_object(Bucket=bucket, Key="bad.json")  # never had chunks; expected_chunks parses
    assert chunk_keys(engine) == expected_chunks(proc, s3, bucket)
    embedded = sum(o.chunks_embedded for o in outcomes if not isinstance(o, Exception))
    assert sum(sizes) == embedded > 8
    # about two chunks per object: full batches of 8 across objects, not a call per object
    # (the repeated small1.txt starts a second group after the first is committed)
    assert max(sizes) == 8 and len(sizes) <= -(-embedded // 8) + 1


def test_unchanged_chunks_are_not_re_embedded(proc: Processor, s3: Any, bucket: str) -> None:
    b = Bucket(s3, bucket)
    first = proc.process(b.put("x.txt", words(20, 11)))
    assert first.chunks_embedded == first.chunks_written > 1
    again = proc.process(b.put("x.txt", words(20, 11)))
    assert again.action == "upserted" and again.chunks_embedded == 0
    edited = words(20, 11) + b" A new final sentence about snapshots."
    changed = proc.process(b.put("x.txt", edited))
    assert 1 <= changed.chunks_embedded < changed.chunks_written


def test_failing_embedder_leaves_the_previous_version(
    proc: Processor, s3: Any, bucket: str, engine: Engine
) -> None:
    b = Bucket(s3, bucket)
    proc.process(b.put("y.txt", words(10, 21)))
    before = {k: engine.execute("HGETALL", k) for k in chunk_keys(engine)}

    class Broken:
        def embed(self, texts: Any) -> Any:
            raise RuntimeError("embedding endpoint down")

        count_tokens = proc.embedder.count_tokens

    broken = Processor(proc.store, proc.objects, Broken(), SMALL)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError):
        broken.process(b.put("y.txt", words(3, 22)))
    assert {k: engine.execute("HGETALL", k) for k in chunk_keys(engine)} == before


def _sqs_event(records: list[tuple[str, Any]]) -> dict[str, Any]:
    return {
        "Records": [
            {"messageId": mid, "receiptHandle": "r", "body": body if isinstance(body, str) else json.dumps(body),
             "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:q"}
            for mid, body in records
        ]
    }  # fmt: skip


def _s3_notification(bucket: str, key: str, seq: str) -> dict[str, Any]:
    return {
        "Records": [{
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventTime": "2026-11-26T00:00:00.000Z", "eventName": "ObjectCreated:Put",
            "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                   "object": {"key": key, "size": 1, "eTag": "x", "sequencer": seq}},
        }]
    }  # fmt: skip


def test_poison_records_fail_with_reasons_and_good_ones_land(
    proc: Processor, s3: Any, bucket: str, engine: Engine
) -> None:
    puts = {
        "good.txt": words(4, 31),
        "binary.txt": bytes(range(256)) * 4,
        "latin1.txt": "café au lait".encode("latin-1"),
        "bad.json": b'{"id": 1, "text": "unterminated',
        "empty.txt": b"",
        "huge.txt": b"word " * 60_000,
        "image.png": b"\x89PNG....",
        "zipped.txt.gz": gzip.compress(words(3, 32)),
    }
    for key, body in puts.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    records = [(key, _s3_notification(bucket, key, f"{i + 1:016X}")) for i, key in enumerate(puts)]
    records.append(("not-s3", {"hello": "world"}))
    records.append(("not-json", "this is not json"))
    handler.configure(proc)
    try:
        response = handler.handle(_sqs_event(records), None)
        results = {r.item_id: r for r in handler.process_event(_sqs_event(records))}
    finally:
        handler.configure(None)
    failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    assert failed == {"binary.txt", "latin1.txt", "bad.json", "empty.txt", "huge.txt",
                      "image.png", "not-s3", "not-json"}  # fmt: skip
    assert "UTF-8" in results["latin1.txt"].reason
    assert "NUL" in results["binary.txt"].reason
    assert "malformed JSON" in results["bad.json"].reason
    assert "empty" in results["empty.txt"].reason
    assert "huge.txt" in results["huge.txt"].reason or "large" in results["huge.txt"].reason.lower()
    sources = {k.split(b"#")[0] for k in chunk_keys(engine)}
    assert sources == {
        f"chunk:{bucket}/good.txt".encode(),
        f"chunk:{bucket}/zipped.txt.gz".encode(),
    }


def test_kinesis_and_kafka_event_shapes(
    proc: Processor, s3: Any, bucket: str, engine: Engine
) -> None:
    s3.put_object(Bucket=bucket, Key="k.txt", Body=words(3, 41))
    note = base64.b64encode(json.dumps(_s3_notification(bucket, "k.txt", "01")).encode()).decode()
    inline = base64.b64encode(
        json.dumps({"id": "doc-7", "text": "an inline document about vector search"}).encode()
    ).decode()
    kinesis = {"Records": [
        {"eventSource": "aws:kinesis", "eventID": "shardId-000:1",
         "kinesis": {"sequenceNumber": "1", "partitionKey": "p", "data": note, "kinesisSchemaVersion": "1.0"}},
        {"eventSource": "aws:kinesis", "eventID": "shardId-000:2",
         "kinesis": {"sequenceNumber": "2", "partitionKey": "p", "data": "!!notbase64", "kinesisSchemaVersion": "1.0"}},
    ]}  # fmt: skip
    kafka = {"eventSource": "aws:kafka", "bootstrapServers": "b:9092", "records": {"topic-0": [
        {"topic": "topic", "partition": 0, "offset": 15, "timestamp": 0, "timestampType": "CREATE_TIME",
         "key": None, "value": inline, "headers": []},
        {"topic": "topic", "partition": 0, "offset": 16, "timestamp": 0, "timestampType": "CREATE_TIME",
         "key": None, "value": base64.b64encode(b"garbage").decode(), "headers": []},
    ]}}  # fmt: skip
    handler.configure(proc)
    try:
        assert handler.handle(kinesis) == {"batchItemFailures": [{"itemIdentifier": "2"}]}
        assert handler.handle(kafka) == {"batchItemFailures": [{"itemIdentifier": "topic-0@16"}]}
    finally:
        handler.configure(None)
    keys = chunk_keys(engine)
    assert f"chunk:{bucket}/k.txt#0".encode() in keys
    assert b"chunk:inline/doc-7#0" in keys


QUERIES = {
    "parse command line options and arguments": "argparse",
    "read and write comma separated values files": "csv",
    "encode python objects as JSON": "json",
    "regular expression pattern matching": "re",
    "compute deltas between sequences of lines": "difflib",
    "shallow and deep copy of objects": "copy",
    "priority queue with a binary heap": "heapq",
    "generate pseudo-random numbers from distributions": "random",
    "create temporary files and directories safely": "tempfile",
    "send mail with the SMTP protocol": "smtplib",
    "unix shell-style filename pattern matching": "fnmatch",
    "specialized container datatypes like deque and namedtuple": "collections",
    "abstract syntax tree of python source": "ast",
    "read INI configuration files with sections": "configparser",
    "embedded SQL database interface": "sqlite3",
    "secure hash and message digest algorithms like sha256": "hashlib",
    "universally unique identifiers": "uuid",
    "low-level networking interface": "socket",
    "open files in a compressed bz2 format": "bz2",
    "logging facility for python applications": "logging",
    "sorting and calendar of months and weekdays": "calendar",
}


def test_natural_language_queries_find_the_relevant_document_first(
    proc: Processor, s3: Any, bucket: str, engine: Engine, embedder: LocalEmbedder
) -> None:
    names = sorted(set(QUERIES.values()) | {"tempfile", "uuid", "gzip", "shutil", "datetime"})
    b = Bucket(s3, bucket)
    for doc in stdlib_documents(limit=100, min_chars=0, names=names):
        proc.process(b.put(doc.doc_id.split("/")[1] + ".txt", doc.text.encode()))
    top1 = 0
    misses = []
    for query, module in QUERIES.items():
        vec = embedder.embed_one(query).tobytes()
        reply = engine.execute(
            "FT.SEARCH", "t", "*=>[KNN 10 @vec $B AS d]", "PARAMS", "2", "B", vec,
            "SORTBY", "d", "RETURN", "1", "source", "DIALECT", "2",
        )  # fmt: skip
        sources = [
            dict(zip(f[0::2], f[1::2], strict=True))[b"source"].decode() for f in reply[2::2]
        ]
        want = f"{bucket}/{module}.txt"
        if sources and sources[0] == want:
            top1 += 1
        else:
            misses.append((query, module, sources[:3]))
        assert want in sources[:5], (query, sources[:5])
    assert top1 / len(QUERIES) >= 0.9, misses


async def test_poison_through_the_runner_lands_in_the_dlq_file(
    proc: Processor, s3: Any, bucket: str, engine: Engine, tmp_path: Path
) -> None:
    from connectors.memory import MemoryLog, MemorySource
    from pipeline.destinations import FileDestination
    from pipeline.runner import Runner, RunnerConfig, pipeline_process
    from tests.harness.wait import wait_for_async

    puts = {
        "ok1.txt": words(3, 51),
        "bad.json": b"{nope",
        "ok2.md": words(2, 52),
        "bin.txt": b"\x00\x01",
    }
    log = MemoryLog(partitions=1)
    for i, (key, body) in enumerate(puts.items()):
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        log.append(json.dumps(_s3_notification(bucket, key, f"{i + 1:016X}")).encode())
    log.append(b"not an event")
    source = MemorySource(log, group="g")
    await source.start()
    dlq_path = tmp_path / "dlq.jsonl"
    runner = Runner(source, pipeline_process, FileDestination(dlq_path),
                    RunnerConfig(batch_size=2, batching_window_s=0.05, retry_backoff_s=0.01))  # fmt: skip
    handler.configure(proc)
    task = asyncio.create_task(runner.run())
    try:
        await wait_for_async(lambda: log.committed("g", 0) == 5, 60, message="runner stalled")
    finally:
        runner.stop()
        await task
        handler.configure(None)
    dead = [json.loads(line) for line in dlq_path.read_text().splitlines()]
    bodies = sorted(base64.b64decode(d["record"]["value"])[:12] for d in dead)
    assert len(dead) == 3 and b"not an event" in bodies
    assert all(d["reason"] and d["attempts"] == 1 for d in dead)
    sources = {k.split(b"#")[0] for k in chunk_keys(engine)}
    assert sources == {f"chunk:{bucket}/ok1.txt".encode(), f"chunk:{bucket}/ok2.md".encode()}


SAMPLES = Path(__file__).resolve().parents[1] / "connectors" / "data"


def test_handler_answers_the_documented_aws_sample_events(
    proc: Processor, s3: Any, engine: Engine
) -> None:
    """The AWS sample events (S3 direct, SQS-wrapped with a test event, SNS in SQS,
    EventBridge) drive the handler; the object they name exists, with a real version."""
    from urllib.parse import unquote_plus

    bucket = "amzn-s3-demo-bucket"
    if bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    key = unquote_plus("docs%2Fred+flower%2B%C3%BCn%C3%AF+%E6%9D%B1%E4%BA%AC.txt")
    version = s3.put_object(Bucket=bucket, Key=key, Body=words(3, 61))["VersionId"]
    handler.configure(proc)
    try:

        def sample(name: str) -> Any:
            text = (SAMPLES / name).read_text().replace("096fKKXTRTtl3on89fVO.nfljtsv6qko", version)
            return json.loads(text)

        chunk0 = f"chunk:{bucket}/{key}#0".encode()
        assert handler.handle(sample("s3_put.json")) == {"batchItemFailures": []}
        assert chunk0 in chunk_keys(engine)
        # put, s3:TestEvent, then a delete marker with a later sequencer: the object goes
        assert handler.handle(sample("sqs_s3_events.json")) == {"batchItemFailures": []}
        assert chunk0 not in chunk_keys(engine)
        # older events arriving after the delete are acknowledged and change nothing
        for name in ("sqs_sns_s3_put.json", "eventbridge_object_created.json"):
            assert handler.handle(sample(name)) == {"batchItemFailures": []}, name
        assert chunk0 not in chunk_keys(engine)
        broken = json.loads((SAMPLES / "sqs_s3_events.json").read_text())
        broken["Records"][0]["body"] = "{ not json"
        response = handler.handle(broken)
        assert response == {
            "batchItemFailures": [{"itemIdentifier": broken["Records"][0]["messageId"]}]
        }
    finally:
        handler.configure(None)
