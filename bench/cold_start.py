"""Embedder cold start: seconds from spawning a Python process to its first vector.

What a worker restart, a Lambda cold start, ``memvec ingest`` or ``memvec api`` pays
before it embeds anything. Each case is a fresh interpreter (``sys.executable``, the
repository as working directory, ``HF_HUB_OFFLINE=1``) that imports, loads the bundled
model and embeds one text:

- ``local``: ``LocalEmbedder`` (torch alone, :mod:`pipeline.minilm`), the default;
- ``sentence-transformers``: ``load_model().encode`` (the baseline: what ``local`` ran
  before decision 0038, the same vectors);
- ``onnx``: ``OnnxEmbedder`` (int8). Its graph must already be in the cache (the
  ``pipeline`` benchmark prepares it first); otherwise the export is timed too.

Every round starts one process of each case, the order rotating, so load from other
processes hits every case alike. A process that fails raises with its stderr.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CASES = {
    "local": "from pipeline.embedding import LocalEmbedder\n"
    "LocalEmbedder().embed_one('cold start')",
    "sentence-transformers": "from pipeline.embedding import load_model\n"
    "load_model().encode(['cold start'], normalize_embeddings=True, show_progress_bar=False)",
    "onnx": "from pipeline.fast_embedding import OnnxEmbedder\n"
    "OnnxEmbedder().embed_one('cold start')",
}


def spawn_to_vector(code: str) -> float:
    """Seconds for one fresh process to run ``code`` and exit."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        raise RuntimeError(f"cold-start process failed:\n{done.stderr[-2000:]}")
    return seconds


def measure(rounds: int) -> dict[str, Any]:
    """Per case: every sample (s), the median, min and max."""
    names = list(CASES)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            samples[name].append(round(spawn_to_vector(CASES[name]), 3))
    return {
        name: {
            "seconds": xs,
            "median_s": round(statistics.median(xs), 3),
            "min_s": min(xs),
            "max_s": max(xs),
        }
        for name, xs in samples.items()
    }
