"""The issue-10 benchmark set: run the chosen benchmarks, write one JSON and its PNGs each.

:func:`run_suite` runs, in this order, each name of :data:`BENCHMARKS` that was chosen:

- ``vector_query`` (item 1, :mod:`bench.vector_query`): recall@10 vs QPS, p50/p99, 1 and 8
  clients, memvec and the peer, HNSW and FLAT, hnswlib in-process as the ceiling;
- ``ingest`` (item 2), ``restart`` (item 3) and ``memory`` (item 4)
  (:mod:`bench.durability`; restart and memory share one load per server);
- ``pipeline`` (item 5, :mod:`bench.pipeline_throughput`): chunks/s from S3 object to
  stored chunk vs raw ``encode()``, the int8 embedder vs fp32, and each embedder's cold
  start (process spawn to first vector, :mod:`bench.cold_start`);
- ``replica_lag`` (item 7, :mod:`bench.replica_lag`): primary + replica at a steady rate;
- ``freshness`` (item 6): ``bench.freshness.run`` when that module exists, else skipped
  with a note in the log (the hook is :func:`freshness`);
- ``quality`` (:mod:`bench.quality`): recall@1/@10 and MRR through the real
  S3 -> ingest -> server -> API path against exact search, and the default breadth's QPS.
- ``reliability`` (:mod:`bench.reliability`): the non-reading and the reading
  pipeliner against memvec and the peer (RSS growth, other clients' PING p99) and kill -9
  rounds under pipelined writers.
- ``concurrency`` (:mod:`bench.concurrency`): 200 clients mixing HSET with a vector, KNN
  queries and DEL, memvec and the peer, throughput and per-operation p50/p99, server CPU
  and RSS.
- ``cluster`` (:mod:`bench.cluster`): a memvec cluster at 1 and 3 shards through redis-py's
  RedisCluster (GET/SET/HSET-with-vector throughput, KNN QPS and what the KNN answers
  cover), failover time and resharding rate when ``bench.cluster_failover`` /
  ``bench.cluster_reshard`` provide them.

Each writes ``<out_dir>/<name>.json`` (layout in :mod:`bench.common`) and its plots
(:mod:`bench.plots`). A benchmark that fails writes ``{"name", "error"}`` and the others
still run; the returned dict maps each name to its file (None when skipped).
"""

from __future__ import annotations

import importlib
import inspect
import os
import tempfile
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from . import profiling
from .common import F32, ensure_harness, load_data, log, machine_info, target_row, write_result
from .sizes import Size

BENCHMARKS = (
    "vector_query",
    "ingest",
    "restart",
    "memory",
    "pipeline",
    "replica_lag",
    "freshness",
    "quality",
    "reliability",
    "concurrency",
    "cluster",
)
NEEDS_DATA = {"vector_query", "ingest", "restart", "memory", "concurrency", "cluster"}
REPLICA_LAG_TARGET_MS = 50.0


def pipeline(size: Size, tmp: Path) -> dict[str, Any]:
    from . import cold_start
    from .pipeline_throughput import measure

    with profiling.profiled(os.getpid(), "inprocess"):
        r = measure(
            size.pipeline_chunks, 32, size.pipeline_rounds, want_queries=size.pipeline_queries
        )
    starts = cold_start.measure(size.cold_start_rounds)  # after measure(): the ONNX graph exists
    local_s, st_s = starts["local"]["median_s"], starts["sentence-transformers"]["median_s"]
    fp32, int8, pipe = r["fp32"], r["int8"], r["pipeline"]
    ratio = pipe["ratio_to_raw_fp32"]
    speedup, cosine = int8["speedup_vs_fp32"], int8["cosine_to_fp32_mean"]
    return {
        "params": {**r["corpus"], "embedder": "all-MiniLM-L6-v2", "store": "embedded, always"},
        "samples": {"rounds_seconds": r["rounds_seconds"]},
        "summary": {
            "fp32_chunks_per_s": fp32["sentences_per_s"],
            "int8_chunks_per_s": int8["sentences_per_s"],
            "pipeline_chunks_per_s": pipe["chunks_per_s"],
            "pipeline_ratio_to_raw_fp32": ratio,
            "int8_speedup_vs_fp32": speedup,
            "int8_cosine_to_fp32_mean": cosine,
            "int8_top10_overlap_mean": int8["top10_overlap_mean"],
            "cold_start_local_s": local_s,
            "cold_start_sentence_transformers_s": st_s,
            "cold_start_onnx_s": starts["onnx"]["median_s"],
            "detail": {**r, "cold_start": starts},
        },
        "baseline": "raw encode() of the fp32 model, same chunks and batch size, same run",
        "targets": [
            target_row(
                "pipeline chunks/s (S3 object -> stored) vs raw encode()",
                pipe["chunks_per_s"], fp32["sentences_per_s"], "raw encode() fp32",
                ">= 0.95x", ratio >= 0.95, value_ratio=ratio, unit="chunks/s",
            ),
            target_row(
                f"fast embedder (int8) chunks/s vs fp32, mean cosine {cosine}",
                int8["sentences_per_s"], fp32["sentences_per_s"], "fp32 encode()",
                ">= 2x at mean cosine >= 0.99", speedup >= 2 and cosine >= 0.99,
                value_ratio=speedup, unit="chunks/s",
            ),
            target_row(
                "embedder cold start, process spawn -> first vector (median of "
                f"{size.cold_start_rounds}): local vs sentence-transformers",
                local_s, st_s, "sentence-transformers encode()", "<= 0.5x",
                local_s <= 0.5 * st_s, unit="s",
            ),
        ],
    }  # fmt: skip


def replica_lag(size: Size, tmp: Path) -> dict[str, Any]:
    from .replica_lag import measure

    r = measure(size.replica_rate, size.replica_seconds, 384, 0, tmp)
    latencies = r.pop("write_latencies_ms")
    p99 = r["replica_lag_ms_p99"]
    return {
        "params": {"rate_per_s": size.replica_rate, "seconds": size.replica_seconds,
                   "dim": 384, "clients": 4, "appendfsync": "always", "min_replicas_to_ack": 0},
        "samples": {"write_latencies_ms": latencies},
        "summary": r,
        "baseline": f"the {REPLICA_LAG_TARGET_MS:g} ms target (the peer has no per-record lag)",
        "targets": [
            target_row(
                f"replica lag p99 at {r['achieved_rate']} writes/s (p50 {r['replica_lag_ms_p50']})",
                p99, REPLICA_LAG_TARGET_MS, "target bound", "<= 50 ms",
                p99 <= REPLICA_LAG_TARGET_MS, unit="ms",
            )
        ],
    }  # fmt: skip


def freshness(size: Size, tmp: Path, out_dir: Path) -> dict[str, Any] | None:
    """Item 6: ``bench.freshness.run(quick, out_dir)`` (the local stack) when it exists.

    Not run at toy size unless ``run`` takes ``toy`` (it brings up the whole stack, too
    slow for the smoke test). Its result (``e2e_s`` percentiles, ``breakdown_s``, per-object
    ``samples``) is wrapped into the common envelope; ``samples.e2e_ms`` feeds the histogram.
    """
    try:
        mod = importlib.import_module("bench.freshness")
    except ImportError:
        log("freshness: bench/freshness.py is not there; skipped (hook: bench.suite.freshness)")
        return None
    params = inspect.signature(mod.run).parameters
    kwargs: dict[str, Any] = {"quick": size.mode != "full", "out_dir": out_dir}
    if "toy" in params:
        kwargs["toy"] = size.mode == "toy"
    elif size.mode == "toy":
        log("freshness: skipped at toy size (it starts the whole local stack)")
        return None
    raw = dict(mod.run(**kwargs))
    objects = raw.pop("samples", [])
    e2e = raw.get("e2e_s", {})
    p99_ms = None if e2e.get("p99") is None else round(e2e["p99"] * 1000, 1)
    p50 = None if e2e.get("p50") is None else round(e2e["p50"] * 1000, 1)
    return {
        "params": raw.pop("config", {}),
        "samples": {
            "e2e_ms": [round(o["e2e_s"] * 1000, 2) for o in objects if o.get("e2e_s") is not None],
            "objects": objects,
        },
        "summary": raw,
        "baseline": "the 1 s target (no peer equivalent: the pipeline is memvec's own)",
        "targets": [
            target_row(
                f"freshness p99, S3 PUT -> visible in /v1/search (p50 {p50} ms, "
                f"{raw.get('visible')}/{raw.get('objects')} visible)",
                p99_ms, 1000.0, "target bound", "<= 1 s", bool(raw.get("meets_target")),
                unit="ms",
            )
        ],
    }  # fmt: skip


def run_suite(
    names: Sequence[str], size: Size, out_dir: Path, *, profile: bool = False
) -> dict[str, Path | None]:
    """Run ``names`` (a subset of :data:`BENCHMARKS`) at ``size``; result file per name."""
    from .cluster import run as cluster
    from .concurrency import run as concurrency
    from .durability import ingest, restart_memory
    from .plots import plot_result
    from .quality import run as quality
    from .reliability import run as reliability
    from .vector_query import run as vector_query

    unknown = set(names) - set(BENCHMARKS)
    if unknown:
        raise ValueError(f"unknown benchmark(s) {sorted(unknown)}: choose from {BENCHMARKS}")
    ensure_harness()
    if profile:
        profiling.PROFILE_DIR = out_dir / "profiles"
    data: tuple[F32, F32, Any] | None = load_data() if NEEDS_DATA & set(names) else None
    written: dict[str, Path | None] = {}
    with tempfile.TemporaryDirectory(prefix="memvec-bench-") as tmp_s:
        tmp = Path(tmp_s)
        shared: dict[str, dict[str, Any]] = {}
        runners: dict[str, Callable[[], dict[str, Any] | None]] = {
            "vector_query": lambda: vector_query(size, _need(data), tmp),
            "ingest": lambda: ingest(size, _need(data), tmp),
            "restart": lambda: _shared(shared, "restart", size, _need(data), tmp, restart_memory),
            "memory": lambda: _shared(shared, "memory", size, _need(data), tmp, restart_memory),
            "pipeline": lambda: pipeline(size, tmp),
            "replica_lag": lambda: replica_lag(size, tmp),
            "freshness": lambda: freshness(size, tmp, out_dir),
            "quality": lambda: quality(size, tmp),
            "reliability": lambda: reliability(size, tmp),
            "concurrency": lambda: concurrency(size, _need(data), tmp),
            "cluster": lambda: cluster(size, _need(data), tmp),
        }
        for name in BENCHMARKS:
            if name not in names:
                continue
            log(f"== {name} ({size.mode})")
            profiling.TAG = name
            machine = machine_info()
            try:
                result = runners[name]()
            except Exception as exc:
                log(f"{name} failed: {exc!r}")
                result = {"error": repr(exc), "traceback": traceback.format_exc()}
            if result is None:
                written[name] = None
                continue
            result = {"name": name, "mode": size.mode, "machine": machine, **result}
            out_dir.mkdir(parents=True, exist_ok=True)
            if "error" not in result:
                result["plots"] = plot_result(result, out_dir)
            written[name] = write_result(out_dir, name, result)
    profiling.PROFILE_DIR, profiling.TAG = None, ""
    return written


def _need(data: tuple[F32, F32, Any] | None) -> tuple[F32, F32, Any]:
    assert data is not None
    return data


def _shared(
    cache: dict[str, dict[str, Any]], name: str, size: Size, data: tuple[F32, F32, Any],
    tmp: Path, fn: Callable[[Size, tuple[F32, F32, Any], Path], dict[str, dict[str, Any]]],
) -> dict[str, Any]:  # fmt: skip
    """Restart and memory come from one load per server; run it once for both."""
    if not cache:
        cache.update(fn(size, data, tmp))
    return cache[name]
