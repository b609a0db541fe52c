"""The cluster form of the local stack, without starting it (that takes 30 s of 11
processes; docs/stack.md shows a run): ``memvec stack up --shards N --replicas R``'s node
names, commands and shape checks, and compose.yaml's ``cluster`` profile, which must
describe the same topology (the Compose v2 binary resolves it; every memvec command in it
parses with memvec's own parser and config validation)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pipeline.cli import build_parser
from pipeline.stack.cluster import ClusterShape, check_shape, cluster_url, node_argv
from pipeline.stores import parse_cluster_url
from store.server.cli import config_from_args
from tests.test_compose import run_compose


def test_shape_names_primaries_first_then_replicas_dealt_to_them() -> None:
    shape = ClusterShape(3, 1)
    assert shape.size == 6
    assert shape.names() == [
        "store-1", "store-2", "store-3",
        "store-1-replica-1", "store-2-replica-1", "store-3-replica-1",
    ]  # fmt: skip
    # `memvec cluster create --replicas R` deals the nodes after the N primaries to them
    # in turn: others[i::N] are primary i's replicas
    names = ClusterShape(2, 2).names()
    assert names[2:][0::2] == ["store-1-replica-1", "store-1-replica-2"]
    assert names[2:][1::2] == ["store-2-replica-1", "store-2-replica-2"]
    assert ClusterShape(1, 0).names() == ["store-1"]
    for bad in ((0, 1), (2, -1)):
        with pytest.raises(SystemExit, match=r"--shards|--replicas"):
            ClusterShape(*bad)
    assert cluster_url([7001, 7002]) == "redis+cluster://127.0.0.1:7001,127.0.0.1:7002"


def test_node_command_is_a_cluster_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEMVEC_MIN_REPLICAS_TO_ACK", raising=False)
    for replicas, acks in ((1, 1), (0, 0)):
        argv = node_argv(tmp_path, "store-2", 7002, ClusterShape(3, replicas))
        config = config_from_args(build_parser().parse_args(argv), environ={})
        assert config.cluster_enabled and config.port == 7002
        assert config.cluster_topology == f"file:{tmp_path / 'data' / 'cluster-topology.json'}"
        assert config.data_dir == tmp_path / "data" / "store-2"
        assert config.min_replicas_to_ack == acks


def test_a_directory_keeps_its_store_shape(tmp_path: Path) -> None:
    check_shape(tmp_path, ClusterShape(3, 1))
    assert json.loads((tmp_path / "data" / "cluster.json").read_text()) == {
        "shards": 3,
        "replicas": 1,
    }
    check_shape(tmp_path, ClusterShape(3, 1))  # the same shape again: fine
    with pytest.raises(SystemExit, match="cluster reshard"):
        check_shape(tmp_path, ClusterShape(4, 1))
    with pytest.raises(SystemExit, match="holds a cluster stack"):
        check_shape(tmp_path, None)
    classic = tmp_path / "classic"
    (classic / "data" / "store").mkdir(parents=True)
    check_shape(classic, None)
    with pytest.raises(SystemExit, match="single-primary stack"):
        check_shape(classic, ClusterShape(3, 1))


@pytest.fixture(scope="module")
def profile() -> dict[str, Any]:
    result = run_compose("--profile", "cluster", "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    services: dict[str, Any] = json.loads(result.stdout)["services"]
    return services


def test_compose_cluster_profile_is_the_stack_topology(profile: dict[str, Any]) -> None:
    shape = ClusterShape(3, 1)
    nodes = shape.names()
    cluster = {"cluster-create", "worker-cluster", "api-cluster", *nodes}
    assert cluster <= set(profile)
    assert not cluster & set(
        json.loads(run_compose("config", "--format", "json").stdout)["services"]
    ), "the cluster services are only in the profile"
    topologies = set()
    volumes = []
    for name in nodes:
        service = profile[name]
        args = build_parser().parse_args(service["command"])
        config = config_from_args(args, environ={})
        assert config.cluster_enabled and config.port == 6379 and "0.0.0.0" in config.bind
        assert config.min_replicas_to_ack == 1
        topologies.add(config.cluster_topology)
        mounts = {v["target"]: v["source"] for v in service["volumes"]}
        assert mounts["/topology"] == "cluster-topology"
        volumes.append(mounts["/data"])
        assert service["healthcheck"]["test"]
        primary = name.split("-replica")[0]
        if name == primary:
            assert args.replicaof is None
        else:
            assert args.replicaof == f"{primary}:6379"
            assert set(service["depends_on"]) == {primary}
    assert topologies == {"file:/topology/cluster-topology.json"}
    assert len(set(volumes)) == len(nodes), "one data volume per node"

    create = profile["cluster-create"]
    args = build_parser().parse_args(create["command"])
    assert (args.command, args.cluster_command) == ("cluster", "create")
    assert args.topology == "file:/topology/cluster-topology.json" and args.replicas == 1
    assert args.nodes == [f"{n}:6379" for n in nodes], "the order memvec stack gives create"
    assert create["entrypoint"][:2] == ["sh", "-c"] and "test -s" in create["entrypoint"][2]
    assert set(create["depends_on"]) == set(nodes)

    for name in ("worker-cluster", "api-cluster"):
        service = profile[name]
        deps = service["depends_on"]
        assert deps["cluster-create"]["condition"] == "service_completed_successfully"
        url = service["environment"]["MEMVEC_STORE_URL"]
        assert [h for h, _ in parse_cluster_url(url)["nodes"]] == shape.primaries()
    api = build_parser().parse_args(profile["api-cluster"]["command"])
    assert api.store == profile["api-cluster"]["environment"]["MEMVEC_STORE_URL"]
    assert [(p["target"], p["published"]) for p in profile["api-cluster"]["ports"]] == [
        (8080, "8081")
    ]
