"""``store`` sets OpenBLAS's thread timeout before numpy loads OpenBLAS (store.blas_env).

OpenBLAS reads ``OPENBLAS_THREAD_TIMEOUT`` once, when numpy first loads it, so the setting
counts only if ``store.blas_env`` runs before ``numpy`` is imported. That is checked in a
fresh interpreter with ``-X importtime`` (which lists modules in import order), for the
package and for the ``memvec`` command's module, each followed by ``import numpy`` (the
package itself loads numpy only with the engine, on first use); a value the environment
already has is kept.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PRINT_SETTING = "import os; print(os.environ.get('OPENBLAS_THREAD_TIMEOUT'))"


def _run(module: str, env_value: str | None) -> tuple[str, list[str]]:
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    if env_value is not None:
        env["OPENBLAS_THREAD_TIMEOUT"] = env_value
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c",
         f"import {module}; import numpy; {PRINT_SETTING}"],
        capture_output=True, text=True, env=env, timeout=120, check=True,
    )  # fmt: skip
    order = [line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if "|" in line]
    return done.stdout.strip(), order


@pytest.mark.parametrize("module", ["store", "pipeline.cli"])
def test_the_timeout_is_set_before_numpy_loads(module: str) -> None:
    value, order = _run(module, None)
    assert value == "4"
    assert "store.blas_env" in order and "numpy" in order
    assert order.index("store.blas_env") < order.index("numpy")


def test_a_value_from_the_environment_is_kept() -> None:
    value, _ = _run("store", "10")
    assert value == "10"
