"""Build the client environments ahead of the suite: ``python -m tests.harness.prebuild``.

``./run test`` starts this in the background with the system Python before it installs
``.venv`` (this module and the builds need only the standard library), and waits for it
before pytest. Installing ``.venv`` (pip, and the C builds) and then mypy keep one core busy
for a minute or more on a clean clone; the pip installs of the client virtualenvs
(:mod:`tests.harness.client_venv`, ~55 s of mostly one core) and the npm install of
node-redis (:mod:`tests.harness.node_clients`) fill the other one. Without it, a fresh clone
built them inside the tests that first need them, on one of pytest's two workers (~80 s of
the suite's wall time, measured 2026-12-07).

Each build is the tests' own ``ensure_*`` function (same file locks and stamps), one after
the other so they do not compete with the install and mypy for the cores. A build that
fails is reported (exit status 1, its error on stderr) and the others still run; the tests
that need it then try again and fail with the error themselves.
"""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.harness.client_venv import CLIENTS, LLAMA, ensure_client_venv
from tests.harness.node_clients import ensure_node_clients

BUILDS: tuple[tuple[str, Callable[[], Path]], ...] = (
    (CLIENTS.name, lambda: ensure_client_venv(CLIENTS)),
    (LLAMA.name, lambda: ensure_client_venv(LLAMA)),
    (".node-clients", ensure_node_clients),
)


def main(builds: tuple[tuple[str, Callable[[], Any]], ...] = BUILDS) -> int:
    """Run every build; 0 when all succeeded, 1 otherwise. One line per build on stdout."""
    failed = 0
    for name, build in builds:
        began = time.monotonic()
        try:
            build()
        except Exception:  # reported; the tests that need it retry and fail themselves
            failed += 1
            print(f"{name}: FAILED after {time.monotonic() - began:.0f} s", flush=True)
            traceback.print_exc(file=sys.stderr)
            continue
        print(f"{name}: ready in {time.monotonic() - began:.0f} s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
