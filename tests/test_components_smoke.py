"""Smoke tests: each real component answers real requests, and the harness keeps its contract.

Kafka (tansu): produce, consume in a group with manual commits, resume from the committed
offset in a second consumer. moto: S3 put/get and an S3 -> SQS notification delivered.
Peer (valkey + RediSearch): an HNSW index over 384-dim FLOAT32 hashes answers KNN with
DIALECT 2. Harness: `wait_for`, loud start failures with the log tail, no leftover process.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from redis.commands.search.field import TagField, VectorField
from redis.commands.search.index_definition import IndexDefinition, IndexType
from redis.commands.search.query import Query

from tests.harness import (
    FAST_GROUP_TIMEOUTS,
    ComponentError,
    ComponentState,
    KafkaBroker,
    MotoServer,
    RedisStack,
    components,
    unique_name,
    wait_for,
    wait_for_async,
)

RECORDS = 100
FIRST_CONSUMER_TAKES = 60
DIM = 384


def _process_gone(pid: int) -> bool:
    """True once `pid` no longer runs (a zombie awaiting its reaper counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


async def _create_topic(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()


async def _consume(consumer: AIOKafkaConsumer, want: int) -> list[ConsumerRecord[Any, Any]]:
    got: list[ConsumerRecord[Any, Any]] = []

    async def enough() -> bool:
        batches = await consumer.getmany(timeout_ms=200)
        for records in batches.values():
            got.extend(records)
        return len(got) >= want

    await wait_for_async(enough, 30, interval_s=0, message=f"consumed {len(got)}/{want}")
    return got


async def test_kafka_group_commit_and_resume(kafka_broker: KafkaBroker) -> None:
    topic = unique_name("smoke")
    group = unique_name("group")
    await _create_topic(kafka_broker.bootstrap, topic)

    producer = AIOKafkaProducer(bootstrap_servers=kafka_broker.bootstrap, acks="all")
    await producer.start()
    try:
        for i in range(RECORDS):
            await producer.send(topic, key=f"k{i}".encode(), value=f"v{i}".encode())
        await producer.flush()
    finally:
        await producer.stop()

    tp = TopicPartition(topic, 0)

    def consumer() -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            topic,
            bootstrap_servers=kafka_broker.bootstrap,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **FAST_GROUP_TIMEOUTS,
        )

    first = consumer()
    await first.start()
    try:
        taken = (await _consume(first, FIRST_CONSUMER_TAKES))[:FIRST_CONSUMER_TAKES]
        await first.commit({tp: taken[-1].offset + 1})
    finally:
        await first.stop()
    assert [r.value for r in taken] == [f"v{i}".encode() for i in range(FIRST_CONSUMER_TAKES)]

    second = consumer()
    await second.start()
    try:
        rest = await _consume(second, RECORDS - FIRST_CONSUMER_TAKES)
    finally:
        await second.stop()
    assert rest[0].offset == taken[-1].offset + 1
    assert [r.value for r in rest] == [
        f"v{i}".encode() for i in range(FIRST_CONSUMER_TAKES, RECORDS)
    ]


def test_moto_s3_put_get(aws_client: Callable[..., Any]) -> None:
    s3 = aws_client("s3")
    bucket = unique_name("smoke")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="a/b.txt", Body=b"hello moto")
    assert s3.get_object(Bucket=bucket, Key="a/b.txt")["Body"].read() == b"hello moto"


def test_moto_s3_notification_reaches_sqs(aws_client: Callable[..., Any]) -> None:
    s3, sqs = aws_client("s3"), aws_client("sqs")
    bucket = unique_name("notify")
    queue_url = sqs.create_queue(QueueName=unique_name("events"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    key = "docs/hello world.txt"
    s3.put_object(Bucket=bucket, Key=key, Body=b"x")

    def object_created_event() -> dict[str, Any] | None:
        reply = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in reply.get("Messages", []):
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            for record in json.loads(message["Body"]).get("Records", []):
                if record["eventName"].startswith("ObjectCreated"):
                    return dict(record)
        return None

    record = wait_for(object_created_event, 20, message="no ObjectCreated event on the queue")
    assert record["s3"]["bucket"]["name"] == bucket
    assert urllib.parse.unquote_plus(record["s3"]["object"]["key"]) == key


def _unit(vector: np.ndarray) -> np.ndarray:
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def test_redis_stack_hnsw_knn(redis_stack: RedisStack) -> None:
    client = redis_stack.client()
    index = unique_name("idx")
    prefix = f"{unique_name('doc')}:"
    client.ft(index).create_index(
        [
            TagField("tag"),
            VectorField(
                "vec",
                "HNSW",
                {"TYPE": "FLOAT32", "DIM": DIM, "DISTANCE_METRIC": "COSINE"},
            ),
        ],
        definition=IndexDefinition(prefix=[prefix], index_type=IndexType.HASH),
    )
    try:
        rng = np.random.default_rng(7)
        vectors = [_unit(rng.standard_normal(DIM)) for _ in range(8)]
        for i, vector in enumerate(vectors):
            client.hset(f"{prefix}{i}", mapping={"tag": "a", "vec": vector.tobytes()})
        target = 3
        query_vector = _unit(vectors[target] + 0.1 * rng.standard_normal(DIM))
        query = (
            Query("(@tag:{a})=>[KNN 3 @vec $B AS score]")
            .sort_by("score")
            .return_fields("score")
            .dialect(2)
        )
        result = client.ft(index).search(query, query_params={"B": query_vector.tobytes()})
        assert result.total == 3
        assert result.docs[0].id == f"{prefix}{target}"
        assert float(result.docs[0].score) < float(result.docs[1].score)
    finally:
        client.ft(index).dropindex(delete_documents=True)
        client.close()


def test_redis_stack_factory_aof_survives_restart(
    redis_stack_factory: Callable[..., RedisStack],
) -> None:
    peer = redis_stack_factory(["--appendonly", "yes", "--appendfsync", "always"])
    with peer.client() as client:
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        client.set("durable", "yes")
    pid = peer.pid
    assert pid is not None
    peer.stop()
    assert _process_gone(pid)
    peer.start()
    with peer.client() as client:
        assert client.get("durable") == b"yes"


def test_start_failure_names_component_and_log_tail(tmp_path: Any) -> None:
    broken = RedisStack(extra_args=["--no-such-option", "1"], log_dir=tmp_path)
    with pytest.raises(ComponentError) as caught:
        broken.start()
    message = str(caught.value)
    assert RedisStack.name in message
    assert "exited with code" in message
    assert "no-such-option" in message.lower()
    assert broken.state is ComponentState.FAILED
    broken.stop()


def test_port_taken_before_bind_is_retried(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """tansu keeps running after a failed bind; the launcher must notice and move on."""
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen()
    taken = squatter.getsockname()[1]
    ports = iter([taken])
    real_free_port = components.free_port
    monkeypatch.setattr(
        components, "free_port", lambda host: next(ports, None) or real_free_port(host)
    )
    try:
        with KafkaBroker(log_dir=tmp_path) as broker:
            assert broker.port != taken
            assert "in use" in broker.log_path.read_text()
    finally:
        squatter.close()


def test_children_die_with_their_parent(tmp_path: Any) -> None:
    """Even a parent killed with SIGKILL (no atexit, no finally) leaves no server behind."""
    script = (
        "import sys, time; sys.path.insert(0, sys.argv[1]);"
        "from tests.harness import RedisStack;"
        "r = RedisStack(log_dir=sys.argv[2]).start();"
        "print(r.pid, flush=True); time.sleep(60)"
    )
    root = str(Path(__file__).resolve().parents[1])
    parent = subprocess.Popen(
        [sys.executable, "-c", script, root, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        server_pid = int(parent.stdout.readline())
        assert not _process_gone(server_pid)
    finally:
        parent.kill()
        parent.wait()
    wait_for(lambda: _process_gone(server_pid), 10, message="server outlived its parent")


def test_stop_is_idempotent_and_leaves_nothing(tmp_path: Any) -> None:
    with MotoServer(log_dir=tmp_path) as moto:
        pid = moto.pid
        assert pid is not None
        assert moto.state is ComponentState.RUNNING
    assert moto.state is ComponentState.STOPPED
    assert _process_gone(pid)
    moto.stop()
    assert moto.state is ComponentState.STOPPED


def test_wait_for_returns_value_or_times_out() -> None:
    calls = iter([0, None, "ready"])
    assert wait_for(lambda: next(calls), 5, interval_s=0) == "ready"
    with pytest.raises(TimeoutError, match="never true"):
        wait_for(lambda: False, 0.05, interval_s=0.01, message="never true")
    with pytest.raises(TimeoutError) as caught:
        wait_for(lambda: 1 / 0, 0.05, interval_s=0.01, ignore=(ZeroDivisionError,))
    assert isinstance(caught.value.__cause__, ZeroDivisionError)
    with pytest.raises(ZeroDivisionError):
        wait_for(lambda: 1 / 0, 1)


def test_prebuild_runs_every_build_and_reports_a_failure(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tests.harness import prebuild

    ran: list[str] = []

    def broken() -> None:
        ran.append("b")
        raise subprocess.CalledProcessError(1, ["pip", "install", "x"])

    builds = (("a", lambda: ran.append("a")), ("b", broken), ("c", lambda: ran.append("c")))
    assert prebuild.main(builds) == 1
    assert ran == ["a", "b", "c"]  # a failure does not stop the builds after it
    out, err = capsys.readouterr()
    assert "a: ready" in out and "b: FAILED" in out and "c: ready" in out
    assert "CalledProcessError" in err
    assert prebuild.main(builds[:1]) == 0
    # the real builds are the tests' own (same locks and stamps), all three of them
    assert [name for name, _ in prebuild.BUILDS] == [
        ".venv-clients",
        ".venv-llama",
        ".node-clients",
    ]


def test_prebuild_imports_with_the_standard_library_alone() -> None:
    """`./run test` starts the prebuild with the system Python before `.venv` exists; `-S`
    leaves site-packages (memvec's dependencies) out."""
    done = subprocess.run(
        [sys.executable, "-S", "-c", "import tests.harness.prebuild"],
        cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_the_harness_names_load_on_first_use() -> None:
    import tests.harness as harness
    from tests.harness import components, ports, wait

    for name in harness.__all__:
        home = {"ports": ports, "wait": wait}.get(harness._HOME[name], components)
        assert getattr(harness, name) is getattr(home, name), name
    assert sorted(harness._HOME) == sorted(harness.__all__)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = harness.nope  # type: ignore[attr-defined]


def test_files_with_a_slow_test_are_handed_out_first() -> None:
    from tests.conftest import pytest_collection_modifyitems

    class Item:
        def __init__(self, path: str, slow: bool) -> None:
            self.path, self.slow = Path(path), slow

        def get_closest_marker(self, name: str) -> object | None:
            return object() if name == "slow" and self.slow else None

    order = [("a.py", False), ("a.py", False), ("b.py", False), ("b.py", True),
             ("c.py", False), ("d.py", True)]  # fmt: skip
    items: list[Any] = [Item(path, slow) for path, slow in order]
    named = {id(item): f"{item.path}{i}" for i, item in enumerate(items)}
    pytest_collection_modifyitems(None, items)  # type: ignore[arg-type]
    # b.py and d.py hold a slow test: whole files first, every file's tests in their order
    assert [named[id(item)] for item in items] == [
        "b.py2",
        "b.py3",
        "d.py5",
        "a.py0",
        "a.py1",
        "c.py4",
    ]
