"""Snapshots taken off the primary: a replica with ``--snapshot-to s3://...`` publishes
its own snapshots (BGSAVE here; the automatic schedule takes the same path), the primary
takes none, and ``memvec restore`` from the replica's prefix starts a fresh node whose
keys and KNN answers equal the primary's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from store.snapshot.s3 import S3SnapshotStore
from tests.harness import MotoServer, unique_name
from tests.harness.wait import wait_for
from tests.server.test_process import REPO

from .nodes import Node, converged, keyspace

DIM = 8
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def vec(n: int) -> bytes:
    return np.random.default_rng(n).standard_normal(DIM).astype(np.float32).tobytes()


def knn(node: Node, n: int) -> Any:
    return node.r.execute_command(
        "FT.SEARCH", "idx", "*=>[KNN 5 @v $B AS score]", "PARAMS", "2", "B", vec(n),
        "SORTBY", "score", "RETURN", "1", "score", "DIALECT", "2",
    )  # fmt: skip


@pytest.fixture
def bucket(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, str]:
    """A fresh bucket on the moto server (its client and name), with test credentials."""
    for key, value in AWS_ENV.items():
        monkeypatch.setenv(key, value)
    client = moto_server.client("s3")
    name = unique_name("replsnap")
    client.create_bucket(Bucket=name)
    return client, name


def test_replica_publishes_snapshots_that_restore_the_primary_state(
    moto_server: MotoServer, bucket: tuple[Any, str], tmp_path: Path
) -> None:
    s3, name = bucket
    url = f"s3://{name}/replica"
    endpoint = ("--snapshot-endpoint-url", moto_server.endpoint_url)
    nodes: list[Node] = []
    try:
        primary = Node(tmp_path / "p")
        nodes.append(primary)
        replica = Node(tmp_path / "r", "--replicaof", primary.replicaof, "--snapshot-to", url,
                       *endpoint)  # fmt: skip
        nodes.append(replica)
        primary.r.execute_command(
            "FT.CREATE", "idx", "ON", "HASH", "PREFIX", "1", "doc:", "SCHEMA", "v", "VECTOR",
            "HNSW", "6", "TYPE", "FLOAT32", "DIM", str(DIM), "DISTANCE_METRIC", "L2",
        )  # fmt: skip
        with primary.r.pipeline(transaction=False) as p:
            for n in range(300):
                p.hset(f"doc:{n}", mapping={"v": vec(n), "n": n})
            p.delete("doc:7")
            p.set("plain", "string")
            p.execute()
        wait_for(lambda: converged(primary, replica), 30, message="replica caught up")

        replica.r.bgsave()
        remote = S3SnapshotStore(url, client=s3)
        wait_for(lambda: len(remote.list()) == 1, 30, message="replica's snapshot in S3")
        assert primary.r.info("persistence")["rdb_saves"] == 0  # taken off the primary
        expected_keys = keyspace(primary)
        expected_knn = [knn(primary, n) for n in (3, 77, 250)]

        restored_dir = tmp_path / "restored"
        done = subprocess.run(
            [sys.executable, "-m", "pipeline.cli", "restore", url, "--dir", str(restored_dir),
             "--endpoint-url", moto_server.endpoint_url],
            cwd=REPO, env={**os.environ, **AWS_ENV}, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        restored = Node(restored_dir)
        nodes.append(restored)
        assert keyspace(restored) == expected_keys
        assert [knn(restored, n) for n in (3, 77, 250)] == expected_knn
        restored.r.hset("doc:new", mapping={"v": vec(999)})  # a primary of its own
    finally:
        for node in nodes:
            node.stop()
