"""Hash slots, the topology value and the file topology source (no servers)."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest

from store.cluster import (
    FileTopologySource,
    Node,
    Shard,
    Topology,
    TopologyConflict,
    TopologyError,
    key_slot,
)
from store.cluster.admin import split_slots
from store.cluster.identity import load_identity
from store.cluster.slots import crc16, ranges_of


def test_crc16_and_hash_tags_are_redis_cluster_s() -> None:
    assert crc16(b"123456789") == 0x31C3  # the XMODEM check value Redis's crc16.c cites
    assert key_slot(b"foo") == 12182
    assert key_slot(b"{user1000}.following") == key_slot(b"{user1000}.followers")
    assert key_slot(b"{user1000}.following") == key_slot(b"user1000")
    assert key_slot(b"foo{}{bar}") == crc16(b"foo{}{bar}") % 16384  # empty tag: whole key
    assert key_slot(b"foo{{bar}}zap") == key_slot(b"{bar")  # tag runs to the first }
    assert key_slot(b"foo{bar}{zap}") == key_slot(b"bar")
    assert key_slot(b"{") == crc16(b"{") % 16384


def test_slot_split_matches_redis_cli() -> None:
    assert split_slots(1) == [(0, 16383)]
    assert split_slots(3) == [(0, 5460), (5461, 10922), (10923, 16383)]
    assert ranges_of([5, 1, 2, 3, 9]) == [(1, 3), (5, 5), (9, 9)]


def _id() -> str:
    return secrets.token_hex(20)


def _topology(epoch: int = 1) -> Topology:
    a, b = _id(), _id()
    return Topology(
        epoch=epoch,
        shards=(
            Shard(a, (Node(_id(), "127.0.0.1", 7001, "primary"),), ((0, 8191),), epoch=1),
            Shard(
                b,
                (
                    Node(_id(), "127.0.0.1", 7002, "primary"),
                    Node(_id(), "127.0.0.1", 7003, "replica"),
                ),
                ((8192, 16383),),
                epoch=2,
                importing={100: a},
            ),
        ),
    )


def test_topology_round_trips_and_routes_slots() -> None:
    t = _topology()
    back = Topology.from_json(t.to_json())
    assert back == t
    assert back.owner(0) == t.shards[0] and back.owner(16383) == t.shards[1]
    assert back.assigned == 16384
    assert back.shards[1].primary.port == 7002 and back.shards[1].replicas[0].port == 7003


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda p: p["shards"][1].update(slots=[[8000, 16383]]), "two owners"),
        (lambda p: p["shards"][0]["nodes"][0].update(role="replica"), "0 primaries"),
        (lambda p: p["shards"][0].update(id="xyz"), "40-hex"),
        (lambda p: p.update(version=2), "format version 2"),
        (lambda p: p.update(extra=1), r"unknown \['extra'\]"),
        (lambda p: p["shards"][0].update(slots=[[0, 16384]]), "outside"),
        (lambda p: p["shards"][1].update(importing={"1": _id()}), "unknown shard"),
    ],
)
def test_topology_refuses_broken_values(mutate: object, message: str) -> None:
    plain = json.loads(_topology().to_json())
    mutate(plain)  # type: ignore[operator]
    with pytest.raises(TopologyError, match=message):
        Topology.from_json(json.dumps(plain))


def test_file_source_is_a_compare_and_set_on_the_epoch(tmp_path: Path) -> None:
    url_path = tmp_path / "t" / "topology.json"
    writer, reader = FileTopologySource(url_path), FileTopologySource(url_path)
    assert reader.refresh() is None
    writer.publish(_topology(epoch=1))
    assert reader.refresh() is not None and reader.latest().epoch == 1  # type: ignore[union-attr]
    with pytest.raises(TopologyConflict, match="holds epoch 1"):
        reader.publish(_topology(epoch=1))  # a stale writer is fenced
    reader.publish(_topology(epoch=2))
    assert writer.refresh().epoch == 2  # type: ignore[union-attr]
    url_path.write_text("{not json")  # a damaged file keeps the last good value
    assert writer.refresh().epoch == 2  # type: ignore[union-attr]


def test_node_identity_persists_and_refuses_damage(tmp_path: Path) -> None:
    first = load_identity(tmp_path)
    assert load_identity(tmp_path) == first
    (tmp_path / "cluster-node.id").write_text("node abc\n")
    with pytest.raises(ValueError, match="damaged"):
        load_identity(tmp_path)
