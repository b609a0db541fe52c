"""How many CPUs this process may run on: its affinity mask where the OS has one (Linux),
else ``os.cpu_count()``, at least 1. FLAT scans size their threads by it
(:mod:`store.index.flat_scan`), the embedders their torch and onnx threads."""

from __future__ import annotations

import os

__all__ = ["available_cpus"]


def available_cpus() -> int:
    """The CPUs this process may run on (see the module docstring)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not Linux
        return os.cpu_count() or 1
