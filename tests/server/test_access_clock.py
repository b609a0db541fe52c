"""``AccessClock``: keys share stamps, and pruning still halves the table.

OBJECT IDLETIME through real servers (memvec against the peer) is in
``test_observability.py``; this file holds the clock's own contract.
"""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from store.server import access_clock
from store.server.access_clock import STAMP_SECONDS, AccessClock


def test_keys_named_together_share_one_stamp_object(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]  # the clock's time.monotonic, moved by hand
    monkeypatch.setattr(access_clock, "time", SimpleNamespace(monotonic=lambda: now[0]))
    clock = AccessClock()
    now[0] += 5.0
    clock.touch([b"a", b"b"])
    now[0] += STAMP_SECONDS / 2
    clock.seen[b"c"] = clock.now()
    assert clock.seen[b"a"] is clock.seen[b"b"] is clock.seen[b"c"] == 1005.0
    now[0] = 1005.0 + 1.5 * STAMP_SECONDS
    clock.touch([b"a"])
    assert clock.seen[b"a"] is not clock.seen[b"b"]
    assert clock.seen[b"a"] == 1005.0 + 1.5 * STAMP_SECONDS


def test_idle_seconds_count_from_the_last_stamp_or_from_start() -> None:
    clock = AccessClock()
    clock.started -= 30  # as if the server had started 30 s ago
    clock.seen[b"old"] = time.monotonic() - 5
    clock.touch([b"new"])
    assert clock.idle_seconds(b"new") == 0
    assert clock.idle_seconds(b"old") == 5
    assert clock.idle_seconds(b"never") == 30


@pytest.mark.parametrize("stamps", ["all alike", "distinct"])
def test_pruning_forgets_the_least_recently_seen_half(stamps: str) -> None:
    """With every key on one stamp (a burst inside STAMP_SECONDS), a cut at the median
    stamp would forget nothing, and the table would outgrow its limit, pruning on every
    new key."""
    clock = AccessClock(limit=100)
    base = time.monotonic()
    for i in range(101):
        clock.seen[b"k%d" % i] = base if stamps == "all alike" else base + i
    clock.prune()
    assert len(clock.seen) == 51
    if stamps == "distinct":
        assert set(clock.seen) == {b"k%d" % i for i in range(50, 101)}
    clock.touch([b"k-new"])
    assert len(clock.seen) == 52
