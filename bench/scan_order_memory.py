"""Memory and build time of SCAN's key order at N keys (default 1M): the layout
:class:`store.key_order.KeyOrder` uses (key -> seq dict, ``array('q')`` of seqs, list of
keys) against a ``sortedcontainers.SortedDict`` (seq -> key) plus a key -> seq dict.

    python -m bench.scan_order_memory [N]

Prints bytes per key (tracemalloc, keys themselves excluded) and build seconds for each,
and the cost of deleting 10% of the keys then scanning them all."""

from __future__ import annotations

import sys
import time
import tracemalloc

from sortedcontainers import SortedDict

from store.keyspace import Keyspace


def build_keyspace(keys: list[bytes]) -> Keyspace:
    ks = Keyspace()
    for key in keys:
        ks.set_string(key, b"")
    return ks


def build_sorted(keys: list[bytes]) -> tuple[dict[bytes, int], SortedDict]:
    seq_of: dict[bytes, int] = {}
    order: SortedDict = SortedDict()
    for i, key in enumerate(keys, 1):
        seq_of[key] = i
        order[i] = key
    return seq_of, order


def traced(build: object, keys: list[bytes]) -> int:
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    kept = build(keys)  # type: ignore[operator]
    used = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    del kept
    return used


def measure(n: int) -> None:
    keys = [f"doc:{i}".encode() for i in range(n)]
    bare = traced(lambda ks: dict.fromkeys(ks, b""), keys)  # the data dict alone
    order = traced(build_keyspace, keys) - bare
    print(f"keyspace order (array + list + dict): {order / n:.0f} B/key")
    print(f"SortedDict + dict: {traced(build_sorted, keys) / n:.0f} B/key")
    t0 = time.perf_counter()
    ks = build_keyspace(keys)
    t1 = time.perf_counter()
    dict.fromkeys(keys, b"")
    t2 = time.perf_counter()
    build_sorted(keys)
    t3 = time.perf_counter()
    print(f"build: keyspace {t1 - t0:.2f} s (bare dict {t2 - t1:.2f} s), sorted {t3 - t2:.2f} s")
    t0 = time.perf_counter()
    for key in keys[::10]:
        ks.delete(key)
    t1 = time.perf_counter()
    cursor, total, calls = 0, 0, 0
    while True:
        cursor, batch = ks.scan(cursor, 10)
        total += len(batch)
        calls += 1
        if cursor == 0:
            break
    t2 = time.perf_counter()
    per_delete = (t1 - t0) / (n // 10) * 1e6
    per_call = (t2 - t1) / calls * 1e6
    print(f"delete: {per_delete:.2f} us each; SCAN COUNT 10: {per_call:.1f} us per call")
    print(f"  ({total} keys scanned after deleting {n // 10})")


if __name__ == "__main__":
    measure(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
