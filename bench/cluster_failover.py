"""Failover of a shard primary in a cluster on Kafka logs: kill -9 to writes accepted.

Usage: ``python -m bench.cluster_failover [--shards 3] [--replicas 1]``; the cluster
benchmark (``memvec bench --only cluster``) calls :func:`measure_failover`.

Starts the tansu broker of ``tests.harness`` (unless given a bootstrap address) and a
cluster of ``memvec server`` processes (:func:`start_kafka_cluster`): ``shards`` shards of
1 + ``replicas`` nodes, each shard's nodes on their own log topic with ``--auto-failover
yes`` (the leader lease elects the writer), the topology in a Kafka topic too, made with
``memvec cluster create``. A :class:`Workload` thread writes through redis-py's
``RedisCluster`` (SET, HSET, GET) and records every acknowledged write. Then shard 0's
primary is ``kill -9``ed; the measure is the time from the kill to the first write to a
key of that shard accepted again (the lease's session timeout, the promotion on the log,
the topology publish and the client following ``MOVED``), and every acknowledged write
is read back from the cluster afterwards (``lost`` must be 0).

The process launcher and the workload are shared with ``bench.cluster_reshard`` and the
tests (tests/cluster/test_failover_cluster.py, test_reshard.py).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from redis.cluster import RedisCluster

REPO = Path(__file__).resolve().parents[1]
READY = re.compile(r"memvec server ready on [^ ]*:(\d+)")

__all__ = [
    "ClusterProcess",
    "KafkaCluster",
    "Workload",
    "broker",
    "measure_failover",
    "start_kafka_cluster",
    "wait_until",
]


def wait_until(cond: Callable[[], Any], timeout_s: float, what: str) -> Any:
    """Poll ``cond`` until it returns something truthy (returned); TimeoutError naming
    ``what`` otherwise. Exceptions from ``cond`` count as not yet."""
    deadline = time.monotonic() + timeout_s
    while True:
        with contextlib.suppress(Exception):
            value = cond()
            if value:
                return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} within {timeout_s:g}s")
        time.sleep(0.02)


class ClusterProcess:
    """One ``memvec server --cluster-enabled yes`` process on a port the OS picks; its
    stderr goes to ``<data_dir>/server.log``. :meth:`restart` starts it again on the same
    directory (the same node id) and flags."""

    def __init__(self, data_dir: Path, *flags: str) -> None:
        self.data_dir = data_dir
        self.flags = flags
        self.port = 0
        self.proc: subprocess.Popen[str] | None = None
        self.paused = False
        self._node_id: str | None = None
        self.start()

    def start(self, port: int | None = None) -> None:
        """Start on ``port`` (default: one the OS picks)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = 0
        with open(self.data_dir / "server.log", "a") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "pipeline.cli", "server", "--port", str(port or "auto"),
                 "--dir", str(self.data_dir), "--appendfsync", "everysec",
                 "--cluster-enabled", "yes", *self.flags],
                cwd=REPO, stdout=subprocess.PIPE, stderr=err, text=True,
            )  # fmt: skip
        threading.Thread(target=self._read, args=(self.proc,), daemon=True).start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            m = READY.search(line)
            if m and proc is self.proc:
                self.port = int(m.group(1))

    def wait_ready(self, timeout_s: float = 60) -> None:
        proc = self.proc
        assert proc is not None
        wait_until(lambda: self.port or proc.poll() is not None, timeout_s, "node ready line")
        if not self.port:
            raise RuntimeError(f"memvec node exited: {self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        path = self.data_dir / "server.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "".join(text.splitlines(keepends=True)[-lines:])

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def client(self, **kwargs: Any) -> redis.Redis:
        kwargs.setdefault("socket_timeout", 20)
        return redis.Redis(host="127.0.0.1", port=self.port, **kwargs)

    def node_id(self) -> str:
        """Asked once: the id is kept in the data directory, restarts keep it."""
        if self._node_id is None:
            with self.client() as r:
                self._node_id = str(r.execute_command("CLUSTER", "MYID").decode())
        return self._node_id

    @property
    def alive(self) -> bool:
        """Running and not paused (SIGSTOP): it answers."""
        return self.proc is not None and self.proc.poll() is None and not self.paused

    def pause(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGCONT)
        self.paused = False

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)

    def restart(self, same_port: bool = True) -> None:
        """Start again, on the same port or (``same_port=False``) on a new one: a node
        with --cluster-announce-ip then publishes its new address."""
        port = self.port if same_port else None
        self.kill9()
        self.start(port)
        self.wait_ready()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGCONT)  # a paused node cannot exit
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


@dataclass
class KafkaCluster:
    """The processes of :func:`start_kafka_cluster`, ``shards[i]`` the nodes of shard i
    (on log ``logs[i]``)."""

    topology_url: str
    logs: list[str]
    shards: list[list[ClusterProcess]]
    extra: list[ClusterProcess] = field(default_factory=list)

    @property
    def nodes(self) -> list[ClusterProcess]:
        return [n for s in self.shards for n in s] + self.extra

    def client(self, **kwargs: Any) -> RedisCluster:
        node = next(n for n in self.nodes if n.alive)
        kwargs.setdefault("socket_timeout", 10)
        return RedisCluster(host="127.0.0.1", port=node.port, **kwargs)

    def primary(self, shard: int) -> ClusterProcess:
        """The node of ``shard`` that the topology (read from a live node) names primary."""
        live = next(n for n in self.nodes if n.alive)
        with live.client() as r:
            slots = r.execute_command("CLUSTER", "SHARDS")
        ids = {n.node_id(): n for n in self.shards[shard] if n.alive}
        for entry in slots:
            for node in entry[b"nodes"]:
                if node[b"role"] == b"master" and node[b"id"].decode() in ids:
                    return ids[node[b"id"].decode()]
        raise LookupError(f"no live primary of shard {shard} in the topology")

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def node_flags(topology_url: str, log_url: str, lease_timeout_ms: int) -> list[str]:
    return [
        "--cluster-topology", topology_url, "--log", log_url, "--auto-failover", "yes",
        "--failover-timeout-ms", str(lease_timeout_ms), "--loglevel", "warning",
        "--cluster-announce-ip", "127.0.0.1",  # re-announced after a restart on a new port
    ]  # fmt: skip


def start_kafka_cluster(
    bootstrap: str,
    root: Path,
    *,
    shards: int = 3,
    replicas: int = 1,
    lease_timeout_ms: int = 1500,
    nodes_per_shard: list[int] | None = None,
) -> KafkaCluster:
    """Start ``shards`` x (1 + ``replicas``) nodes (or ``nodes_per_shard[i]`` nodes in
    shard i) on Kafka logs with automatic failover and run ``memvec cluster create`` on
    them; returns once every node reports ``cluster_state:ok``. The caller stops it
    (:meth:`KafkaCluster.stop`)."""
    sizes = nodes_per_shard or [replicas + 1] * shards
    from store.cluster.admin import create_cluster

    name = uuid.uuid4().hex[:10]
    topology_url = f"kafka://{bootstrap}/memvec-topology-{name}"
    logs = [f"kafka://{bootstrap}/memvec-shard{i}-{name}" for i in range(len(sizes))]
    cluster = KafkaCluster(topology_url, logs, [])
    try:
        for i, log_url in enumerate(logs):
            flags = node_flags(topology_url, log_url, lease_timeout_ms)
            cluster.shards.append(
                [ClusterProcess(root / f"s{i}n{j}", *flags) for j in range(sizes[i])]
            )
        for node in cluster.nodes:  # started together, waited for together
            node.wait_ready()
            node.node_id()
        create_cluster(topology_url, [n.address for n in cluster.nodes], wait_s=60)
    except BaseException:
        cluster.stop()
        raise
    return cluster


class Workload(threading.Thread):
    """Writes and reads through ``RedisCluster`` until :attr:`stop` is set: per round a
    ``SET``, an ``HSET`` and a ``GET`` of its own keys. ``acked`` maps each key to the
    last value the cluster acknowledged; errors (a node killed, a redirection the client
    gave up on) are counted and the write is retried with the next round's value, as an
    application would. ``last_ok`` is the monotonic time of the last acknowledged write
    of each key (for the failover measure)."""

    def __init__(self, make_client: Callable[[], RedisCluster], prefix: str, keys: int = 200):
        super().__init__(daemon=True, name=f"workload-{prefix}")
        self.make_client = make_client
        self.prefix = prefix
        self.keys = keys
        self.stop = threading.Event()
        self.acked: dict[bytes, bytes] = {}
        self.hashes: dict[bytes, bytes] = {}
        self.errors: list[str] = []
        self.writes = 0
        self.reads_wrong = 0

    def run(self) -> None:
        client = self.make_client()
        i = 0
        try:
            while not self.stop.is_set():
                key = f"{self.prefix}:s:{i % self.keys}".encode()
                hkey = f"{self.prefix}:h:{i % self.keys}".encode()
                value = str(i).encode()
                try:
                    client.set(key, value)
                    self.acked[key] = value
                    client.hset(hkey, mapping={"n": value, "tag": b"t"})
                    self.hashes[hkey] = value
                    self.writes += 2
                    got = client.get(key)
                    if got != value:  # read your write, from the key's owner
                        self.reads_wrong += 1
                except Exception as exc:  # the client gave up: retried next round
                    self.errors.append(f"{type(exc).__name__}: {exc}")
                    time.sleep(0.05)
                    if "TTL exhausted" in str(exc) or isinstance(exc, redis.ConnectionError):
                        with contextlib.suppress(Exception):
                            client.close()
                        client = self.make_client()
                i += 1
        finally:
            client.close()

    def check(self, client: RedisCluster) -> list[bytes]:
        """The keys whose acknowledged value the cluster does not return now."""
        lost = [k for k, v in list(self.acked.items()) if client.get(k) != v]
        lost += [k for k, v in list(self.hashes.items()) if client.hget(k, "n") != v]
        return lost


def key_of_shard(cluster: KafkaCluster, shard: int, prefix: str) -> bytes:
    """A key whose slot shard ``shard`` owns now."""
    from store.cluster.slots import key_slot

    node = cluster.primary(shard)
    with node.client() as r:
        slots = r.execute_command("CLUSTER", "SLOTS")
    mine = [(e[0], e[1]) for e in slots if e[2][1] == node.port]
    for i in range(100_000):
        key = f"{prefix}{i}".encode()
        if any(a <= key_slot(key) <= b for a, b in mine):
            return key
    raise LookupError("no key found for the shard")


def failover_once(
    cluster: KafkaCluster, shard: int, workload: Workload | None = None
) -> dict[str, Any]:
    """``kill -9`` shard ``shard``'s primary while clients run; wait until a write
    to that shard is accepted again through ``RedisCluster`` and the topology on every
    live node names the new primary, timing both from the kill in one polling loop:
    ``failover_s`` (kill to a client's write accepted) and ``published_s`` (kill to every
    live node's CLUSTER SHARDS naming the new primary). Also returns the old and new
    primaries (``old``, ``new``) and the old one's node id (``old_id``)."""
    old = cluster.primary(shard)
    old_id = old.node_id()
    probe_key = key_of_shard(cluster, shard, f"probe{shard}:")
    probe = cluster.client()
    failover_s = published_s = None
    new = None
    try:
        old.kill9()
        killed = time.monotonic()
        deadline = killed + 60
        while failover_s is None or published_s is None:
            if time.monotonic() > deadline:
                raise TimeoutError("no failover within 60 s")
            if failover_s is None:
                with contextlib.suppress(Exception):
                    if probe.set(probe_key, b"after"):
                        failover_s = time.monotonic() - killed
            if published_s is None:
                with contextlib.suppress(Exception):
                    new = _new_primary(cluster, shard, old_id)
                    if new is not None:
                        published_s = time.monotonic() - killed
            time.sleep(0.01)
    finally:
        probe.close()
    return {
        "failover_s": failover_s,
        "published_s": published_s,
        "old": old,
        "old_id": old_id,
        "new": new,
    }


def _new_primary(cluster: KafkaCluster, shard: int, old_id: str) -> ClusterProcess | None:
    """The new primary once every live node's CLUSTER SHARDS names it, else None."""
    names = set()
    for node in cluster.nodes:
        if not node.alive:
            continue
        with node.client() as r:
            for entry in r.execute_command("CLUSTER", "SHARDS"):
                for n in entry[b"nodes"]:
                    names.add((n[b"id"].decode(), n[b"role"]))
    members = {n.node_id(): n for n in cluster.shards[shard] if n.alive}
    primaries = [members[i] for i, role in names if role == b"master" and i in members]
    if len(primaries) == 1 and (old_id, b"master") not in names:
        return primaries[0]
    return None


@contextlib.contextmanager
def broker(bootstrap: str | None) -> Iterator[str]:
    """``bootstrap`` as given, or a tansu broker started for the block."""
    if bootstrap is not None:
        yield bootstrap
        return
    from tests.harness.components import KafkaBroker

    with tempfile.TemporaryDirectory() as tmp, KafkaBroker(log_dir=Path(tmp)) as kafka:
        yield kafka.bootstrap


def measure_failover(
    bootstrap: str | None = None,
    *,
    shards: int = 3,
    replicas: int = 1,
    lease_timeout_ms: int = 1500,
    warmup_s: float = 2.0,
) -> dict[str, Any]:
    """See the module docstring. Returns ``failover_s``, ``published_s``, ``acked``
    (acknowledged keys), ``lost`` (of them, not readable afterwards: must be 0),
    ``client_errors`` and the cluster's shape."""
    with broker(bootstrap) as address, tempfile.TemporaryDirectory() as tmp:
        cluster = start_kafka_cluster(
            address, Path(tmp), shards=shards, replicas=replicas, lease_timeout_ms=lease_timeout_ms
        )
        try:
            workload = Workload(cluster.client, "fo")
            workload.start()
            wait_until(lambda: workload.writes > 50, 30, "the workload writes")
            time.sleep(warmup_s)
            result = failover_once(cluster, 0, workload)
            time.sleep(0.5)
            workload.stop.set()
            workload.join(30)
            with cluster.client() as client:
                lost = workload.check(client)
            return {
                "shards": shards,
                "replicas": replicas,
                "lease_timeout_ms": lease_timeout_ms,
                "failover_s": round(result["failover_s"], 3),
                "published_s": round(result["published_s"], 3),
                "acked": len(workload.acked) + len(workload.hashes),
                "writes": workload.writes,
                "lost": len(lost),
                "client_errors": len(workload.errors),
            }
        finally:
            cluster.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shards", type=int, default=3)
    p.add_argument("--replicas", type=int, default=1)
    p.add_argument("--lease-timeout-ms", type=int, default=1500)
    p.add_argument("--bootstrap", default=None, help="a running Kafka broker (default: tansu)")
    args = p.parse_args(argv)
    result = measure_failover(
        args.bootstrap,
        shards=args.shards,
        replicas=args.replicas,
        lease_timeout_ms=args.lease_timeout_ms,
    )
    print(json.dumps(result, indent=2))
    return 0 if result["lost"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
