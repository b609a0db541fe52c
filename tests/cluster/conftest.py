"""Fixtures for cluster mode: memvec cluster nodes (processes or in-process) and a valkey
cluster node as the peer.

- `valkey_cluster` (module): valkey-server --cluster-enabled yes owning every slot
  (CLUSTER ADDSLOTSRANGE 0 16383), ready once it reports cluster_state:ok.
- `memvec_nodes(n, topology_url)` (module): n `memvec server` processes with
  --cluster-enabled yes sharing `topology_url`; stopped at the end of the module.
- `cluster_threads(n)` (function): n in-process servers in cluster mode sharing a
  file topology; returns (servers, topology_url).
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from store.config import FsyncPolicy
from store.server import ServerConfig, ServerThread
from tests.harness.components import ManagedProcess, valkey_server_path
from tests.harness.ports import free_port
from tests.harness.wait import wait_for

REPO = Path(__file__).resolve().parents[2]
READY = re.compile(r"memvec server ready on [^ ]*:(\d+)")


class ValkeyClusterNode(ManagedProcess):
    """valkey-server in cluster mode, alone (no modules): the peer for CLUSTER replies."""

    name = "valkey-cluster"
    ready_log_pattern = re.compile(r"Ready to accept connections")

    def _argv(self, port: int) -> list[str]:
        return [
            str(valkey_server_path()),
            "--port", str(port), "--bind", self.host, "--save", "", "--appendonly", "no",
            "--dir", str(self.work_dir), "--cluster-enabled", "yes",
            "--cluster-config-file", str(self.work_dir / "nodes.conf"),
            "--cluster-announce-ip", self.host,
        ]  # fmt: skip

    def _probe(self) -> bool:
        with redis.Redis(host=self.host, port=self.port, socket_timeout=2) as r:
            return bool(r.ping())


@pytest.fixture(scope="module")
def valkey_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ValkeyClusterNode]:
    """Started without slots; the first user adds them (``own_all_slots``)."""
    port = free_port()
    while port > 55000:  # the cluster bus listens on port + 10000
        port = free_port()
    node = ValkeyClusterNode(port=port, log_dir=tmp_path_factory.mktemp("valkey-cluster"))
    node.start()
    try:
        yield node
    finally:
        node.stop()


def own_all_slots(node: ValkeyClusterNode) -> None:
    with redis.Redis(host=node.host, port=node.port) as r:
        r.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 16383)
        wait_for(
            lambda: b"cluster_state:ok" in r.execute_command("CLUSTER", "INFO"),
            30,
            message="valkey cluster node never reported cluster_state:ok",
        )


class NodeProcess:
    """``memvec server --cluster-enabled yes`` on a port the OS picks."""

    def __init__(self, data_dir: Path, topology_url: str, *extra: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli", "server", "--port", "auto",
             "--dir", str(data_dir), "--appendfsync", "everysec", "--cluster-enabled", "yes",
             "--cluster-topology", topology_url, *extra],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.port: int | None = None
        self.stderr: list[str] = []
        threading.Thread(target=self._read, args=(self.proc.stdout, True), daemon=True).start()
        threading.Thread(target=self._read, args=(self.proc.stderr, False), daemon=True).start()

    def _read(self, stream: Any, stdout: bool) -> None:
        for line in stream:
            if stdout:
                m = READY.search(line)
                if m:
                    self.port = int(m.group(1))
            else:
                self.stderr.append(line)

    def wait_ready(self) -> None:
        wait_for(
            lambda: self.port is not None or self.proc.poll() is not None,
            60,
            message="memvec cluster node printed no ready line",
        )
        assert self.port is not None, f"node exited: {''.join(self.stderr)}"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def client(self, **kwargs: Any) -> redis.Redis:
        kwargs.setdefault("socket_timeout", 20)
        return redis.Redis(host="127.0.0.1", port=self.port or 0, **kwargs)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@pytest.fixture(scope="module")
def memvec_nodes(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[int, str], list[NodeProcess]]]:
    started: list[NodeProcess] = []
    root = tmp_path_factory.mktemp("memvec-cluster")

    def start(n: int, topology_url: str) -> list[NodeProcess]:
        nodes = [NodeProcess(root / f"node{len(started) + i}", topology_url) for i in range(n)]
        started.extend(nodes)
        for node in nodes:  # started together, waited for together (startup overlaps)
            node.wait_ready()
        return nodes

    try:
        yield start
    finally:
        for node in started:
            node.stop()


@pytest.fixture
def cluster_threads(tmp_path: Path) -> Iterator[Callable[..., tuple[list[ServerThread], str]]]:
    started: list[ServerThread] = []

    def start(n: int) -> tuple[list[ServerThread], str]:
        url = f"file:{tmp_path / 'topology.json'}"
        servers = []
        for i in range(n):
            config = ServerConfig(
                port=0,
                data_dir=tmp_path / f"node{i}",
                appendfsync=FsyncPolicy.EVERYSEC,
                cluster_enabled=True,
                cluster_topology=url,
            )
            server = ServerThread(config).start()
            started.append(server)
            servers.append(server)
        return servers, url

    try:
        yield start
    finally:
        for server in started:
            server.stop()
