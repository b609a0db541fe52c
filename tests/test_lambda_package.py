"""`memvec package lambda` and deploy/template.yaml.

- The zip holds the three code packages, `requirements.txt` (runtime deps, no test deps)
  and `lambda.json`; it is byte-for-byte reproducible; the container context builds on the
  Lambda Python base image with the handler as CMD.
- The CloudFormation template passes `cfn-lint` and wires every event source the way the
  handler expects (partial batch responses, bounded retries, bisect, on-failure DLQ).
- The packaged handler runs in a fresh interpreter as the Lambda runtime would run it:
  the unzipped archive first on `sys.path`, `importlib.import_module("pipeline.handler")`,
  `handle(event, context)` called twice in the same (warm) process, with an SQS event
  carrying the S3 notification moto itself produced for a PUT, against a `memvec server`.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.cli import main as memvec_main
from pipeline.packaging import HANDLER, build_lambda_container, build_lambda_zip
from tests.harness.components import AWS_REGION, MotoServer
from tests.harness.wait import wait_for
from tests.server.test_process import ServerProcess

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "deploy" / "template.yaml"

# Runs inside the fresh interpreter: the Lambda runtime's import of the handler string.
INVOKE = """
import importlib, json, sys
sys.path.insert(0, sys.argv[1])
module, _, name = sys.argv[2].rpartition(".")
handler = getattr(importlib.import_module(module), name)
print(json.dumps({"file": sys.modules[module].__file__}), flush=True)
for path in sys.argv[3:]:
    with open(path) as f:
        print(json.dumps(handler(json.load(f), None)), flush=True)
"""


@pytest.fixture(scope="module")
def lambda_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("lambda")
    assert memvec_main(["package", "lambda", "--out", str(out)]) == 0
    artifact = out / "memvec-lambda.zip"
    assert artifact.is_file()
    return artifact


def test_zip_contents(lambda_zip: Path) -> None:
    with zipfile.ZipFile(lambda_zip) as archive:
        names = set(archive.namelist())
        manifest = json.loads(archive.read("lambda.json"))
        requirements = archive.read("requirements.txt").decode().splitlines()
    assert {"pipeline/handler.py", "pipeline/__init__.py", "connectors/s3.py",
            "store/__init__.py", "pipeline/api/static/index.html"} <= names  # fmt: skip
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    # a module compiled for this machine would not load on Lambda's: the twins stand in
    assert "store/index/vecsim_c.c" in names
    assert not [n for n in names if n.endswith((".so", ".pyd"))]
    assert not [n for n in names if n.split("/")[0] not in ("pipeline", "connectors", "store")
                and n not in ("lambda.json", "requirements.txt")]  # fmt: skip
    assert manifest == {"handler": HANDLER, "runtime": "python3.11",
                        "packages": ["pipeline", "connectors", "store"]}  # fmt: skip
    req_names = {r.split(";")[0].split("<")[0].split(">")[0].split("=")[0] for r in requirements}
    assert {"torch", "boto3", "redis", "numpy", "sentence-transformers"} <= req_names
    assert not {"pytest", "moto", "hypothesis"} & req_names


def test_zip_is_reproducible(lambda_zip: Path, tmp_path: Path) -> None:
    again = build_lambda_zip(tmp_path)
    assert again.read_bytes() == lambda_zip.read_bytes()


def test_container_context(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert memvec_main(["package", "lambda", "--out", str(tmp_path), "--format", "container"]) == 0
    assert "pipeline.handler.handle" in capsys.readouterr().out
    context = tmp_path / "container"
    dockerfile = (context / "Dockerfile").read_text()
    assert dockerfile.splitlines()[2] == "FROM public.ecr.aws/lambda/python:3.11"
    assert dockerfile.rstrip().endswith(f'CMD ["{HANDLER}"]')
    for package in ("pipeline", "connectors", "store"):
        assert f"COPY {package} " in dockerfile
        assert (context / package / "__init__.py").is_file()
    assert "redis" in (context / "requirements.txt").read_text()
    assert build_lambda_container(tmp_path) == context  # rebuilding replaces it


def cfn_lint() -> str:
    beside = Path(sys.executable).with_name("cfn-lint")
    assert beside.is_file(), "cfn-lint is not installed in this environment: pip install cfn-lint"
    return str(beside)


def test_template_passes_cfn_lint() -> None:
    result = subprocess.run(
        [cfn_lint(), str(TEMPLATE)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_template_wires_every_event_source() -> None:
    from cfnlint.decode import cfn_yaml

    resources: dict[str, Any] = cfn_yaml.load(str(TEMPLATE))["Resources"]
    function = resources["IngestFunction"]["Properties"]
    assert function["PackageType"] == "Image"
    assert set(function["Environment"]["Variables"]) >= {"MEMVEC_STORE_URL", "MEMVEC_INDEX"}
    mappings = {
        name: r["Properties"] for name, r in resources.items()
        if r["Type"] == "AWS::Lambda::EventSourceMapping"
    }  # fmt: skip
    assert set(mappings) == {"SqsEventSource", "KinesisEventSource", "MskEventSource"}
    for props in mappings.values():
        assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    for name in ("KinesisEventSource", "MskEventSource"):
        props = mappings[name]
        assert props["BisectBatchOnFunctionError"] is True
        assert props["MaximumRetryAttempts"] == {"Ref": "MaximumRetryAttempts"}
        assert props["MaximumRecordAgeInSeconds"] == {"Ref": "MaximumRecordAgeInSeconds"}
        assert props["DestinationConfig"]["OnFailure"]["Destination"] == {
            "Fn::GetAtt": ["DeadLetterQueue", "Arn"]
        }
    queue = resources["EventsQueue"]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": ["DeadLetterQueue", "Arn"]
    }
    assert queue["VisibilityTimeout"] >= 6 * function["Timeout"]
    notifications = resources["DocumentsBucket"]["Properties"]["NotificationConfiguration"]
    events = {c["Event"] for c in notifications["QueueConfigurations"]}
    assert events == {"s3:ObjectCreated:*", "s3:ObjectRemoved:*"}


@pytest.fixture
def store_server(tmp_path: Path) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path / "store")
    try:
        yield server
    finally:
        server.ensure_dead()


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """The event Lambda's SQS event source mapping builds from received messages."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m.get("ReceiptHandle", "r"),
                "body": m["Body"],
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": AWS_REGION,
            }
            for m in messages
        ]
    }


def test_packaged_handler_runs_like_lambda(
    lambda_zip: Path, moto_server: MotoServer, store_server: ServerProcess, tmp_path: Path
) -> None:
    task_root = tmp_path / "task"
    with zipfile.ZipFile(lambda_zip) as archive:
        archive.extractall(task_root)
    s3, sqs = moto_server.client("s3"), moto_server.client("sqs")
    name = f"lambda-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    s3.put_bucket_notification_configuration(
        Bucket=name,
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    text = "Lighthouses guide ships past the rocky coast at night with a rotating beam."
    s3.put_object(
        Bucket=name, Key="notes/light house.txt", Body=text.encode(), ContentType="text/plain"
    )

    def notification() -> list[dict[str, Any]]:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        return [m for m in got if "ObjectCreated" in m["Body"]]

    messages = wait_for(notification, 15, interval_s=0.2, message="moto sent no notification")
    good = tmp_path / "good.json"
    good.write_text(json.dumps(sqs_event(messages, queue_arn)))
    poison_message = {"MessageId": "poison-1", "Body": "{not json"}
    poison = tmp_path / "poison.json"
    poison.write_text(json.dumps(sqs_event([*messages, poison_message], queue_arn)))

    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
        "MEMVEC_STORE_URL": f"redis://127.0.0.1:{store_server.port}",
        "MEMVEC_INDEX": name, "AWS_ENDPOINT_URL_S3": moto_server.endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": AWS_REGION, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
    }  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-c", INVOKE, str(task_root), HANDLER, str(good), str(poison)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [json.loads(line) for line in io.StringIO(result.stdout) if line.startswith("{")]
    loaded, first, second = lines
    assert Path(loaded["file"]).is_relative_to(task_root), "the handler came from the zip"
    assert first == {"batchItemFailures": []}
    assert second == {"batchItemFailures": [{"itemIdentifier": "poison-1"}]}

    r = store_server.client(decode_responses=True)
    try:
        fields = [r.hmget(k, "bucket", "text") for k in r.scan_iter(match="chunk:*", count=1000)]
        ours = [chunk_text for bucket, chunk_text in fields if bucket == name]
        assert ours, f"no chunk of s3://{name} in the store"
        assert all(t in text or text in t for t in ours)
        assert len(ours) == 1, "a redelivered notification must not duplicate chunks"
    finally:
        r.close()
