"""Sampling profiles of memvec during a benchmark, with py-spy (speedscope JSON).

When :data:`PROFILE_DIR` is set (``memvec bench --profile``), every memvec server that
``bench.resp.memvec_server`` starts is recorded from ready to stop, and in-process
benchmarks (the pipeline) record this process. Open the files at https://www.speedscope.app
or with ``py-spy``'s own viewer. py-spy needs ptrace rights over the target (root, or
``kernel.yama.ptrace_scope`` 0); when it cannot attach the benchmark still runs.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PROFILE_DIR: Path | None = None
TAG = ""
"""Prefix of the profile file names (``memvec bench`` sets it to the benchmark's name)."""


@contextmanager
def profiled(pid: int, label: str) -> Iterator[Path | None]:
    """Record ``pid`` (all threads, native frames off) while the block runs, if enabled."""
    spy = Path(sys.executable).parent / "py-spy"
    if not spy.exists():
        spy = Path(shutil.which("py-spy") or "py-spy")
    if PROFILE_DIR is None or not spy.exists():
        yield None
        return
    PROFILE_DIR.mkdir(parents=True, exist_ok=True)
    out = PROFILE_DIR / f"{TAG}{'-' if TAG else ''}{label}.speedscope.json"
    proc = subprocess.Popen(
        [str(spy), "record", "--pid", str(pid), "--format", "speedscope", "--output", str(out),
         "--rate", "200", "--threads", "--nonblocking"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield out
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
