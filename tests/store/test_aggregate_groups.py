"""GROUPBY's groups: the one-property loop equals the general expansion, and reads of many
keys at once equal reads one key at a time.

``pipeline._group_stage`` takes rows grouped on one property without the expansion tuple
of the general path. A row's value can be a string, a number, null, or an array (a JSON
multi-value: one group per element, an empty array counting as null). Grouping on
``@x`` must give the groups, counts and order that grouping on ``@x`` and a property every
row holds alike gives through the general path.
"""

from __future__ import annotations

import random
import time

import pytest

from store.aggregate.pipeline import Row, RunState, _group_stage
from store.aggregate.reducers import make_reducer
from store.aggregate.request import GroupBy, Reduce
from store.aggregate.values import Value
from store.keyspace import Keyspace

VALUES: list[Value] = [b"a", b"b", b"1", 1.0, 2.5, -0.0, 0.0, None, [], [b"a", b"c"], [b"1"]]


def groups(properties: tuple[bytes, ...], rows: list[Row]) -> list[tuple[object, ...]]:
    step = GroupBy(
        properties,
        (
            Reduce(make_reducer(b"COUNT", []), b"n"),
            Reduce(make_reducer(b"TOLIST", [b"@i"]), b"ids"),
        ),
    )
    out = _group_stage(step)(iter((row, None) for row in rows), RunState())
    return [(row[b"x"], row[b"n"], sorted(row[b"ids"])) for row, _ in out]  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", range(12))
def test_one_property_groups_equal_the_general_path(seed: int) -> None:
    rng = random.Random(seed)
    rows: list[Row] = []
    for i in range(rng.randint(0, 60)):
        row: Row = {b"i": str(i).encode(), b"same": b"s"}
        value = rng.choice(VALUES)
        if value is not None or rng.random() < 0.5:  # null: absent or held as None
            row[b"x"] = value
        rows.append(row)
    assert groups((b"x",), rows) == groups((b"x", b"same"), rows)


def test_reads_of_many_keys_equal_reads_one_at_a_time() -> None:
    ks = Keyspace()
    now = int(time.time() * 1000)
    ks.data[b"h"] = {b"f": b"1"}
    ks.data[b"s"] = bytearray(b"in place")
    keys = [b"h", None, b"s", b"missing"]
    assert ks.get_many(keys, now) == [ks.get(k, now) if k else None for k in keys]
    ks.data[b"gone"] = {b"f": b"2"}
    ks.expires[b"gone"] = now - 1  # expired: the fast path must not answer
    keys.append(b"gone")
    got = ks.get_many(keys, now)
    assert got == [ks.get(k, now) if k else None for k in keys] and got[-1] is None
    assert ks.get_many(keys, None)[-1] == {b"f": b"2"}  # replay reads ignore deadlines
