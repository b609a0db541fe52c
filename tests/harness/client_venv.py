"""Virtualenvs for client libraries the project's own virtualenv cannot hold.

* ``.venv-clients`` (:data:`CLIENTS`): langchain-redis pins ``hf-xet<1.5.3`` (ours is
  newer) and redis-om pulls in ``types-redis`` stubs (which would shadow redis-py's own
  types for mypy) and an older ``python-ulid``.
* ``.venv-llama`` (:data:`LLAMA`): llama-index-vector-stores-redis pins ``redisvl`` 0.4
  and ``redis`` 5, which conflict with langchain-redis and redis-om (both need newer
  ones); the legacy langchain-community ``Redis`` vector store lives here too.

Each is built at the repository root on first use by :func:`ensure_client_venv`
(``python -m venv`` + ``pip install``; about 30 s and 45 s on a warm pip cache) and
reused while its requirements are unchanged (a stamp file records them), so a fresh
clone's ``./run test`` builds them once: in the background while ``.venv`` installs
(:mod:`tests.harness.prebuild`), else in the first test that needs one. Tests run
scripts there with :func:`run_in_client_venv` against servers they started.
"""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class ClientVenv:
    """A virtualenv directory at the repository root and the packages it holds."""

    name: str
    requirements: tuple[str, ...]

    @property
    def path(self) -> Path:
        return ROOT / self.name


CLIENTS = ClientVenv(".venv-clients", ("langchain-redis>=0.2,<0.3", "redis-om>=1.2,<2"))
LLAMA = ClientVenv(
    ".venv-llama",
    ("llama-index-vector-stores-redis>=0.9,<0.10", "langchain-community>=0.4,<0.5"),
)
VENV = CLIENTS.path
REQUIREMENTS = CLIENTS.requirements


def ensure_client_venv(venv: ClientVenv = CLIENTS) -> Path:
    """The virtualenv's python, built or rebuilt if its requirements changed.
    Safe to call from parallel workers (a file lock serialises the build)."""
    python = venv.path / "bin" / "python"
    stamp = venv.path / ".requirements"
    want = json.dumps(venv.requirements)
    with open(ROOT / f"{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if python.exists() and stamp.exists() and stamp.read_text() == want:
            return python
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv.path)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
             *venv.requirements],
            check=True,
        )  # fmt: skip
        stamp.write_text(want)
    return python


def run_in_client_venv(
    script: Path, *args: str, timeout: float = 120, venv: ClientVenv = CLIENTS
) -> str:
    """Run ``script`` (a file of this tree) as a module (``-m tests.clients.x``, so it
    imports ``tests.clients.flows``) with the virtualenv's python; its stdout. A failure
    raises with the script's stderr."""
    python = ensure_client_venv(venv)
    module = ".".join(script.resolve().relative_to(ROOT).with_suffix("").parts)
    done = subprocess.run(
        [str(python), "-W", "ignore", "-m", module, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise AssertionError(f"{script.name} {args} failed:\n{done.stderr[-4000:]}")
    return done.stdout
