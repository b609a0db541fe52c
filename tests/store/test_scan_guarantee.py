"""SCAN's guarantee at the store level (issue #20 item 6): a hypothesis state machine
interleaves SCAN calls with creations, rewrites and deletions of keys from a small pool
(so keys come and go and come back), and checks that every key present from a scan's
first call to its last was returned, and that a scan ends."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from store.engine import Engine

POOL = [f"k{i}".encode() for i in range(40)]


class ScanMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.engine = Engine().start()
        self.live: set[bytes] = set()
        self.cursor: bytes | None = None  # None: no scan running
        self.steady: set[bytes] = set()  # present since the running scan began
        self.seen: set[bytes] = set()

    @initialize(keys=st.sets(st.sampled_from(POOL)))
    def fill(self, keys: set[bytes]) -> None:
        for key in keys:
            self.engine.execute("SET", key, "v")
        self.live = set(keys)

    @rule(key=st.sampled_from(POOL), as_hash=st.booleans())
    def write(self, key: bytes, as_hash: bool) -> None:
        if as_hash:  # a string cannot become a hash: delete first (a new key)
            self.engine.execute("DEL", key)
            self.steady.discard(key)
            self.engine.execute("HSET", key, "f", "v")
        else:
            self.engine.execute("SET", key, "v")
        self.live.add(key)

    @rule(key=st.sampled_from(POOL))
    def delete(self, key: bytes) -> None:
        self.engine.execute("DEL", key)
        self.live.discard(key)
        self.steady.discard(key)

    @rule(count=st.integers(1, 15))
    def scan_step(self, count: int) -> None:
        if self.cursor is None:
            self.cursor, self.steady, self.seen = b"0", set(self.live), set()
        cursor, batch = self.engine.execute("SCAN", self.cursor, "COUNT", count)
        assert set(batch) <= self.live, "SCAN returned a key that does not exist"
        self.seen.update(batch)
        self.cursor = cursor
        if cursor == b"0":
            assert self.steady <= self.seen, f"missed {sorted(self.steady - self.seen)}"
            self.cursor = None

    @invariant()
    def dbsize(self) -> None:
        assert self.engine.execute("DBSIZE") == len(self.live)

    def teardown(self) -> None:
        # with no more writes the running scan ends within one call per key (+1)
        cursor = self.cursor
        for _ in range(len(POOL) + 1):
            if cursor is None or cursor == b"0":
                break
            cursor, batch = self.engine.execute("SCAN", cursor)
            self.seen.update(batch)
        else:
            raise AssertionError("SCAN did not end")
        if self.cursor is not None:
            assert self.steady <= self.seen
        self.engine.stop()


ScanMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
TestScanGuarantee = ScanMachine.TestCase


def test_scan_survives_compaction() -> None:
    """Deleting most keys compacts the order arrays; a scan in progress keeps its place."""
    with Engine() as engine:
        keys = [f"c{i}".encode() for i in range(1000)]
        engine.execute_many([("SET", k, "v") for k in keys])
        cursor, first = engine.execute("SCAN", "0", "COUNT", "100")
        engine.execute("DEL", *keys[100:900])  # > half are tombstones: compacted
        seen = set(first)
        while cursor != b"0":
            cursor, batch = engine.execute("SCAN", cursor, "COUNT", "100")
            seen.update(batch)
        assert set(keys[900:]) <= seen
        assert not seen & set(keys[100:900])


def test_hscan_returns_every_field_with_options() -> None:
    with Engine() as engine:
        fields = {f"f{i}": str(i) for i in range(300)}
        engine.execute("HSET", "h", *[x for kv in fields.items() for x in kv])
        cursor, flat = engine.execute("HSCAN", "h", "0", "COUNT", "10")
        assert cursor == b"0"
        assert dict(zip(flat[0::2], flat[1::2], strict=True)) == {
            k.encode(): v.encode() for k, v in fields.items()
        }
        _, names = engine.execute("HSCAN", "h", "0", "MATCH", "f1?", "NOVALUES")
        assert sorted(names) == sorted(f"f1{i}".encode() for i in range(10))


def test_randomkey_picks_live_keys_from_the_scan_order() -> None:
    """RANDOMKEY picks slots of the SCAN order (O(1)), skipping tombstones and expired
    keys: every pick is a live key, every key gets picked, and it answers nil when the
    only keys left are logically expired."""
    engine = Engine().start()
    try:
        for i in range(300):
            engine.execute("SET", f"k{i}", "v")
        for i in range(0, 300, 3):
            engine.execute("DEL", f"k{i}")  # tombstones in the order
        live = {f"k{i}".encode() for i in range(300) if i % 3}
        seen = {engine.execute("RANDOMKEY") for _ in range(4000)}
        assert seen == live
        engine.execute("FLUSHALL")
        engine.execute("SET", "gone", "v", "PX", "1")
        engine.keyspace.set_deadline(b"gone", 1)  # logically expired, not yet swept
        assert engine.execute("RANDOMKEY") is None
    finally:
        engine.stop()
