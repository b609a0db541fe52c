"""The typed-value contract (:mod:`store.datatypes.base`) through the keyspace and snapshots."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest

from store import Engine, EngineConfig, WrongTypeError
from store.datatypes import REGISTRY, TypedValue, from_tagged, to_tagged
from store.datatypes.json_doc import JsonDoc
from store.keyspace import Keyspace


class Bag(TypedValue):
    """A minimal aggregate type for these tests (a list of bytes)."""

    __slots__ = ("items",)
    type_name = "testbag"
    tag = "test-bag"

    def __init__(self, items: list[bytes] | None = None) -> None:
        self.items = items or []

    def is_empty(self) -> bool:
        return not self.items

    def encoding(self) -> str:
        return "listpack"

    def memory_usage(self) -> int:
        return 16 + sum(len(i) + 8 for i in self.items)

    def to_plain(self) -> Any:
        return list(self.items)

    @classmethod
    def from_plain(cls, plain: Any) -> Bag:
        return cls(list(plain))


def test_typed_values_are_created_read_and_deleted_when_empty() -> None:
    changed: list[bytes] = []
    ks = Keyspace(on_change=changed.append)
    bag = ks.typed_for_write(b"k", Bag)
    bag.items.append(b"x")
    ks.touched(b"k")
    assert ks.get_typed(b"k", 0, Bag) is bag
    assert ks.type_name(b"k", 0) == "testbag"
    assert ks.memory_bytes() == len(b"k") + 64 + bag.memory_usage()
    with pytest.raises(WrongTypeError):
        ks.get_string(b"k", 0)
    with pytest.raises(WrongTypeError):
        ks.get_hash(b"k", 0)
    with pytest.raises(WrongTypeError):
        ks.hash_for_write(b"k")
    ks.set_string(b"s", b"v")
    with pytest.raises(WrongTypeError):
        ks.typed_for_write(b"s", Bag)
    with pytest.raises(WrongTypeError):
        ks.get_typed(b"s", 0, Bag)
    bag.items.clear()
    ks.touched(b"k")
    assert b"k" not in ks.data
    assert ks.get_typed(b"k", 0, Bag) is None
    assert ks.scan(0, 10)[1] == [b"s"]  # the empty value's key left the SCAN order too
    assert changed == [b"k", b"s", b"k"]


def test_set_value_replaces_any_type_and_clears_the_ttl_unless_kept() -> None:
    ks = Keyspace()
    ks.set_string(b"k", b"v")
    ks.set_deadline(b"k", 10_000)
    ks.set_value(b"k", Bag([b"a"]), keep_ttl=True)
    assert ks.expires[b"k"] == 10_000 and ks.type_name(b"k", 0) == "testbag"
    ks.set_value(b"k", {b"f": b"v"})
    assert b"k" not in ks.expires and ks.type_name(b"k", 0) == "hash"


def test_tags_round_trip_and_an_unknown_tag_is_refused_clearly() -> None:
    assert REGISTRY["json"] is JsonDoc and REGISTRY["test-bag"] is Bag
    value = from_tagged(to_tagged(Bag([b"a", b"b"])))
    assert isinstance(value, Bag) and value.items == [b"a", b"b"]
    with pytest.raises(ValueError, match="does not know"):
        from_tagged(("no-such-type", []))
    with pytest.raises(RuntimeError, match="used by"):
        type("Clash", (TypedValue,), {"tag": "test-bag", "__slots__": ()})


def test_typed_values_survive_a_snapshot_and_a_restart(tmp_path: Path) -> None:
    cfg = EngineConfig(data_dir=tmp_path)
    with Engine(cfg) as e:
        e.execute("SET", "s", "1")
        e.execute("HSET", "h", "f", "v")
        with e.frozen():
            e.keyspace.set_value(b"j", JsonDoc({"a": [1, 2.5, "x", None, True]}))
            e.keyspace.set_value(b"b", Bag([b"p", b"q"]))
        e.execute("SAVE")
    with Engine(cfg) as e:
        assert e.execute("GET", "s") == b"1"
        assert e.execute("HGET", "h", "f") == b"v"
        doc = e.keyspace.get_typed(b"j", None, JsonDoc)
        assert doc is not None and doc.root == {"a": [1, 2.5, "x", None, True]}
        assert isinstance(doc.root["a"][0], int) and isinstance(doc.root["a"][1], float)
        bag = e.keyspace.get_typed(b"b", None, Bag)
        assert bag is not None and bag.items == [b"p", b"q"]
        assert e.execute("TYPE", "j") == "ReJSON-RL"


def test_a_snapshot_without_typed_values_has_no_typed_section(tmp_path: Path) -> None:
    """Old snapshots (strings and hashes only) and new ones without typed keys are the same
    file: the ``typed`` section is written only when there is something in it."""
    from store.snapshot.local import LocalSnapshotStore

    cfg = EngineConfig(data_dir=tmp_path)
    with Engine(cfg) as e:
        e.execute("SET", "s", "1")
        e.execute("SAVE")
    store = LocalSnapshotStore(tmp_path / "snapshots")
    with store.open(store.list()[0]) as reader:
        assert "typed" not in reader.section_names()
        data = pickle.loads(reader.read_bytes("keyspace"))[0]
        assert data == {b"s": b"1"}


def test_large_values_are_sized_from_a_sample() -> None:
    """``sized_by_sample``: exact up to SAMPLED_ABOVE elements, the first ones' mean times
    the count above (a set or sorted set of 500,000 summed every member per INFO, per
    maxmemory walk and per MEMORY USAGE: 13-17 ms)."""
    from store.datatypes.base import SAMPLED_ABOVE, sized_by_sample
    from store.datatypes.sets import SetValue
    from store.datatypes.zsets import ZSet

    small = [b"x" * (i % 7) for i in range(SAMPLED_ABOVE)]
    assert sized_by_sample(small, len) == sum(map(len, small))
    calls = []
    big = {b"m%07d" % i: None for i in range(100_000)}
    assert sized_by_sample(big, lambda m: calls.append(1) or len(m)) == 8 * 100_000
    assert len(calls) == SAMPLED_ABOVE
    s = SetValue.create(b"m", 1)
    z = ZSet()
    for m in big:
        s.add(m)
        z.add(m, 1.0)
    s.remove(b"m")
    assert s.memory_usage() == 112 + 100_000 * (62 + 8)
    assert z.memory_usage() == 200 + 100_000 * (8 + 175)
