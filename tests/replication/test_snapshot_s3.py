"""Snapshots to S3 (moto server): a node copies each snapshot to s3://bucket/prefix, its
directory is wiped, ``restore`` rebuilds it and the restarted node has the same state and
KNN answers; a corrupt newest snapshot falls back to the previous one."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from store.config import EngineConfig
from store.engine import Engine
from store.snapshot.restore import restore
from store.snapshot.s3 import S3SnapshotStore, parse_s3_url
from tests.harness import MotoServer, unique_name
from tests.harness.wait import wait_for

from .nodes import Node, keyspace

DIM = 16


def vec(n: int) -> bytes:
    return np.random.default_rng(n).standard_normal(DIM).astype(np.float32).tobytes()


def knn(engine: Engine, n: int) -> Any:
    return engine.execute(
        "FT.SEARCH", "idx", "*=>[KNN 5 @v $B AS score]", "PARAMS", "2", "B", vec(n),
        "SORTBY", "score", "RETURN", "1", "score", "DIALECT", "2",
    )  # fmt: skip


def state(engine: Engine) -> tuple[dict[bytes, Any], list[Any]]:
    return dict(engine.keyspace.data), [knn(engine, n) for n in (3, 77, 150)]


def test_parse_s3_url() -> None:
    assert parse_s3_url("s3://b/a/b/") == ("b", "a/b/")
    assert parse_s3_url("s3://b") == ("b", "")
    with pytest.raises(ValueError):
        parse_s3_url("http://b/x")


def test_snapshot_to_s3_restore_and_fallback(
    moto_server: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                       ("AWS_DEFAULT_REGION", "us-east-1")):  # fmt: skip
        monkeypatch.setenv(key, value)
    s3 = moto_server.client("s3")
    bucket = unique_name("snap")
    s3.create_bucket(Bucket=bucket)
    url = f"s3://{bucket}/node1"
    config = EngineConfig(
        data_dir=tmp_path / "node", snapshot_to=url, snapshot_endpoint_url=moto_server.endpoint_url
    )
    with Engine(config) as engine:
        engine.execute(
            "FT.CREATE", "idx", "ON", "HASH", "PREFIX", "1", "doc:", "SCHEMA", "v", "VECTOR",
            "HNSW", "6", "TYPE", "FLOAT32", "DIM", str(DIM), "DISTANCE_METRIC", "L2",
        )  # fmt: skip
        for n in range(100):
            engine.execute("HSET", f"doc:{n}", "v", vec(n), "n", n)
        engine.execute("SAVE")
        first = state(engine)
        for n in range(100, 200):
            engine.execute("HSET", f"doc:{n}", "v", vec(n), "n", n)
        engine.execute("DEL", "doc:5")
        engine.execute("SAVE")
        final = state(engine)
    remote = S3SnapshotStore(url, client=s3)
    infos = remote.list()
    assert len(infos) == 2
    manifest = remote.manifest()
    assert manifest is not None and manifest["newest"] == infos[0].name

    shutil.rmtree(tmp_path / "node")
    restore(remote, tmp_path / "node")
    with Engine(EngineConfig(data_dir=tmp_path / "node")) as restored:
        assert state(restored) == final
        restored.execute("HSET", "doc:new", "v", vec(999))  # the restored node takes writes
    with Engine(EngineConfig(data_dir=tmp_path / "node")) as again:
        assert again.execute("HEXISTS", "doc:new", "v") == 1

    s3.put_object(Bucket=bucket, Key=f"node1/{infos[0].name}", Body=b"not a snapshot")
    restore(remote, tmp_path / "other")
    with Engine(EngineConfig(data_dir=tmp_path / "other")) as fallback:
        assert state(fallback) == first


def test_server_snapshots_to_s3_and_restores_from_it(
    moto_server: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                       ("AWS_DEFAULT_REGION", "us-east-1")):  # fmt: skip
        monkeypatch.setenv(key, value)
    s3 = moto_server.client("s3")
    bucket = unique_name("snap")
    s3.create_bucket(Bucket=bucket)
    url = f"s3://{bucket}/srv"
    endpoint = ("--snapshot-endpoint-url", moto_server.endpoint_url)
    node = Node(tmp_path / "a", "--snapshot-to", url, *endpoint)
    try:
        for n in range(50):
            node.r.hset(f"doc:{n}", mapping={"v": vec(n), "n": n})
        node.r.bgsave()
        remote = S3SnapshotStore(url, client=s3)
        wait_for(lambda: len(remote.list()) == 1, 30, message="snapshot uploaded by BGSAVE")
        before = keyspace(node)
    finally:
        node.stop()
    restored = Node(tmp_path / "b", "--restore-from", url, *endpoint)
    try:
        assert keyspace(restored) == before
    finally:
        restored.stop()
