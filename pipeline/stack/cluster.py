"""The store of a local stack as a Redis Cluster: ``memvec stack up --shards N --replicas R``.

Instead of one primary and its replica, the stack starts ``N * (R + 1)`` ``memvec server``
processes with ``--cluster-enabled yes`` sharing the file topology
``<dir>/data/cluster-topology.json``, then runs ``memvec cluster create --replicas R`` on
them (its output in ``<dir>/logs/cluster-create.log``), as an operator would with
``redis-cli --cluster create``. The workers and the API get the cluster URL
``redis+cluster://`` of every primary (:mod:`pipeline.stores.cluster`).

Names and order (the order ``cluster create`` is given, so its dealing makes them true):
primaries ``store-1`` .. ``store-N`` (slots split as redis-cli does: 0-5460, 5461-10922,
10923-16383 for three), then replicas ``store-<i>-replica-<r>`` for r = 1..R, i = 1..N;
each has ``--dir <dir>/data/<name>``.

A second ``up`` of the same directory rebuilds the topology from the same names in the
same order: each node keeps its id (``<dir>/data/<name>/cluster-node.id``) and data, so
every shard owns the slots whose keys its directory holds. The topology file is re-made
(the nodes' ports may differ from the last run). ``<dir>/data/cluster.json`` records the
shape (``{"shards": N, "replicas": R}``); an ``up`` with another shape, or a classic
stack's directory, is refused: moving slots between shards is resharding, not a restart.

Failover: a cluster shard is not failed over by ``memvec stack failover`` (that command
swaps the classic stack's two nodes); it refuses with a pointer to docs/cluster.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .state import HOST, publish_text

__all__ = ["SHAPE_FILE", "TOPOLOGY_FILE", "ClusterShape", "check_shape", "create_cluster_of"]

SHAPE_FILE = "cluster.json"
TOPOLOGY_FILE = "cluster-topology.json"
_CREATE_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class ClusterShape:
    """``shards`` primaries, each with ``replicas`` replicas."""

    shards: int
    replicas: int

    def __post_init__(self) -> None:
        if self.shards < 1:
            raise SystemExit(f"memvec stack: --shards {self.shards}: a cluster needs >= 1 shard")
        if self.replicas < 0:
            raise SystemExit(f"memvec stack: --replicas {self.replicas}: use 0 or more")

    @property
    def size(self) -> int:
        return self.shards * (self.replicas + 1)

    def names(self) -> list[str]:
        """Every store node, primaries first (module docstring)."""
        primaries = [f"store-{i + 1}" for i in range(self.shards)]
        replicas = [
            f"store-{i + 1}-replica-{r + 1}"
            for r in range(self.replicas)
            for i in range(self.shards)
        ]
        return primaries + replicas

    def primaries(self) -> list[str]:
        return self.names()[: self.shards]

    def min_replicas_to_ack(self) -> str:
        """``MEMVEC_MIN_REPLICAS_TO_ACK`` or, by default, 1 when shards have a replica (a
        write is acknowledged once its shard's replica has it) and 0 when they have none."""
        return os.environ.get("MEMVEC_MIN_REPLICAS_TO_ACK", "1" if self.replicas else "0")


def topology_url(stack_dir: Path) -> str:
    return f"file:{stack_dir / 'data' / TOPOLOGY_FILE}"


def check_shape(stack_dir: Path, shape: ClusterShape | None) -> None:
    """Refuse an ``up`` whose store differs from the one ``stack_dir`` holds (module
    docstring); record ``shape`` for the next ``up``."""
    data = stack_dir / "data"
    recorded_path = data / SHAPE_FILE
    recorded = json.loads(recorded_path.read_text()) if recorded_path.exists() else None
    classic = (data / "store").exists() or (data / "store-replica").exists()
    if shape is None:
        if recorded is not None:
            raise SystemExit(
                f"memvec stack: {stack_dir} holds a cluster stack ({recorded['shards']} shards, "
                f"{recorded['replicas']} replicas): run 'memvec stack up --shards "
                f"{recorded['shards']} --replicas {recorded['replicas']}' or use another --dir"
            )
        return
    if classic:
        raise SystemExit(
            f"memvec stack: {stack_dir} holds a single-primary stack's data: use another "
            "--dir for a cluster stack"
        )
    want = {"shards": shape.shards, "replicas": shape.replicas}
    if recorded is not None and recorded != want:
        raise SystemExit(
            f"memvec stack: {stack_dir} holds a cluster of {recorded['shards']} shards x "
            f"{recorded['replicas']} replicas, not {shape.shards} x {shape.replicas}: moving "
            "slots is 'memvec cluster reshard'; use another --dir for a new cluster"
        )
    data.mkdir(parents=True, exist_ok=True)
    publish_text(recorded_path, json.dumps(want) + "\n")


def node_argv(stack_dir: Path, name: str, port: int, shape: ClusterShape) -> list[str]:
    """The ``memvec server`` arguments of cluster node ``name`` (without the interpreter)."""
    return [
        "server", "--port", str(port), "--dir", str(stack_dir / "data" / name),
        "--min-replicas-to-ack", shape.min_replicas_to_ack(),
        "--cluster-enabled", "yes", "--cluster-topology", topology_url(stack_dir),
    ]  # fmt: skip


def cluster_url(ports: list[int]) -> str:
    """The cluster URL of the primaries listening on ``ports``."""
    return "redis+cluster://" + ",".join(f"{HOST}:{p}" for p in ports)


def create_cluster_of(stack_dir: Path, shape: ClusterShape, ports: list[int]) -> None:
    """Run ``memvec cluster create`` on the started nodes (``ports`` in :meth:`names`
    order) over a fresh topology file; ``SystemExit`` with its output if it fails."""
    topology = stack_dir / "data" / TOPOLOGY_FILE
    topology.unlink(missing_ok=True)
    argv = [sys.executable, "-P", "-m", "pipeline.cli", "cluster", "create",
            "--topology", topology_url(stack_dir), "--replicas", str(shape.replicas),
            "--wait", "60", *(f"{HOST}:{p}" for p in ports)]  # fmt: skip
    log = stack_dir / "logs" / "cluster-create.log"
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=_CREATE_TIMEOUT_S, cwd=stack_dir
    )
    log.write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        raise SystemExit(f"memvec stack: memvec cluster create failed ({log}):\n{log.read_text()}")
