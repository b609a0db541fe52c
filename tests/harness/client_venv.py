"""The virtualenv for client libraries the project's own virtualenv cannot hold.

langchain-redis pins ``hf-xet<1.5.3`` (ours is newer) and redis-om pulls in
``types-redis`` stubs (which would shadow redis-py's own types for mypy) and an older
``python-ulid``. Both therefore live in ``.venv-clients`` at the repository root,
built on first use by :func:`ensure_client_venv` (``python -m venv`` + ``pip install``,
about 30 s on a warm pip cache) and reused while :data:`REQUIREMENTS` is unchanged (a
stamp file records them), so a fresh clone's ``./run test`` builds it once. Tests run
scripts there with :func:`run_in_client_venv` against servers they started.
"""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv-clients"
REQUIREMENTS = ("langchain-redis>=0.2,<0.3", "redis-om>=1.2,<2")


def ensure_client_venv() -> Path:
    """The client virtualenv's python, built or rebuilt if its requirements changed.
    Safe to call from parallel workers (a file lock serialises the build)."""
    python = VENV / "bin" / "python"
    stamp = VENV / ".requirements"
    want = json.dumps(REQUIREMENTS)
    with open(ROOT / ".venv-clients.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if python.exists() and stamp.exists() and stamp.read_text() == want:
            return python
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
             *REQUIREMENTS],
            check=True,
        )  # fmt: skip
        stamp.write_text(want)
    return python


def run_in_client_venv(script: Path, *args: str, timeout: float = 120) -> str:
    """Run ``script`` with the client virtualenv's python; its stdout. A failure raises
    with the script's stderr."""
    python = ensure_client_venv()
    done = subprocess.run(
        [str(python), "-W", "ignore", str(script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise AssertionError(f"{script.name} {args} failed:\n{done.stderr[-4000:]}")
    return done.stdout
