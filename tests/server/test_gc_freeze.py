"""The server process takes what lives as long as it does out of the garbage collector's
walks (``store.server.cli.freeze_startup_objects``): dead cycles are collected first,
the rest is frozen, and objects made afterwards stay collectable. Run in a fresh
interpreter, with automatic collection off, so nothing but the call collects."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

PROBE = """
import gc, weakref
gc.disable()
from store.server.cli import freeze_startup_objects

class Node:
    pass

dead = Node()
dead.me = dead
dead_ref = weakref.ref(dead)
del dead
freeze_startup_objects()
assert dead_ref() is None, "a dead cycle was frozen instead of collected"
frozen = gc.get_freeze_count()
assert frozen > 10_000, f"only {frozen} objects frozen"
later = Node()
later.me = later
later_ref = weakref.ref(later)
del later
gc.collect()
assert later_ref() is None, "a cycle made after the freeze was not collected"
print("frozen", frozen)
"""


def test_startup_objects_are_frozen_after_dead_cycles_are_collected() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("frozen "), done.stdout
