"""PNG plots of benchmark results (matplotlib, Agg backend: no display needed).

:func:`plot_result` draws the plots of one result (by its ``name``) into ``out_dir`` and
returns their file names; every axis is labelled with its quantity and unit:

- ``vector_query``: ``vector_query_recall_qps.png`` (QPS, log scale, against recall@10,
  one line per server / algorithm / client count, hnswlib as the ceiling) and
  ``vector_query_latency.png`` (p50/p99 at the first EF reaching recall@10 >= 0.95);
- ``ingest``: ``ingest_throughput.png``; ``restart``, ``memory``, ``pipeline``: bars;
- ``replica_lag``: histogram of write latencies with the replica's p50/p99 lag marked;
- ``freshness``: histogram of PUT-to-visible latencies (when the result has samples);
- ``quality``: ``quality_recall.png`` (recall@1/@10 and MRR per search, KNN QPS of the
  default breadth against EF_RUNTIME 10).
- ``reliability``: bars of server RSS growth under the non-reading and reading pipeliner.
- ``concurrency``: ``concurrency_throughput.png`` (commands/s per server) and
  ``concurrency_latency.png`` (p50/p99 per operation and server).

``python -m bench.plots [--results bench/results]`` redraws them from the JSON files.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from .vector_query import at_recall


def _save(fig: Any, out_dir: Path, name: str) -> str:
    fig.tight_layout()
    fig.savefig(out_dir / name, dpi=110)
    plt.close(fig)
    return name


def _bars(out_dir: Path, name: str, labels: list[str], values: list[float], title: str,
          ylabel: str) -> str:  # fmt: skip
    fig, ax = plt.subplots(figsize=(7, 4))
    colors = ["tab:blue" if "memvec" in x else "tab:gray" for x in labels]
    bars = ax.bar(labels, values, color=colors)
    ax.bar_label(bars, fmt="%.4g", fontsize=8)
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.set_xlabel("case")
    ax.tick_params(axis="x", labelrotation=20, labelsize=8)
    return _save(fig, out_dir, name)


def _vector_query(res: dict[str, Any], out_dir: Path) -> list[str]:
    series = res["samples"]["series"]
    fig, ax = plt.subplots(figsize=(8, 5))
    for s in series:
        pts = s["points"]
        label = f"{s['server']} {s['algorithm']} c{s['clients']}"
        style = "--" if "hnswlib" in s["server"] else "-"
        ax.plot([p["recall_at_10"] for p in pts], [p["qps"] for p in pts], style, marker="o",
                label=label)  # fmt: skip
    ax.set_yscale("log")
    ax.axvline(0.95, color="k", lw=0.8, ls=":")
    ax.set_xlabel("recall@10")
    ax.set_ylabel("queries per second (log scale)")
    ax.set_title(f"KNN through RESP, {res['params']['vectors']} x {res['params']['dim']} vectors")
    ax.legend(fontsize=7)
    names = [_save(fig, out_dir, "vector_query_recall_qps.png")]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    labels, p50, p99 = [], [], []
    for s in series:
        pt = at_recall(s) if s["algorithm"] == "HNSW" else s["points"][0]
        if pt:
            ef = f" ef{pt['ef']}" if pt.get("ef") else ""
            labels.append(f"{s['server']} {s['algorithm']} c{s['clients']}{ef}")
            p50.append(pt["p50_ms"])
            p99.append(pt["p99_ms"])
    xs = range(len(labels))
    ax.bar([x - 0.2 for x in xs], p50, 0.4, label="p50")
    ax.bar([x + 0.2 for x in xs], p99, 0.4, label="p99")
    ax.set_xticks(list(xs), labels, rotation=30, ha="right", fontsize=7)
    ax.set_ylabel("latency per query (ms)")
    ax.set_xlabel("server, algorithm, clients (HNSW at the first EF with recall@10 >= 0.95)")
    ax.set_title("KNN latency percentiles")
    ax.legend()
    names.append(_save(fig, out_dir, "vector_query_latency.png"))
    return names


def _ingest(res: dict[str, Any], out_dir: Path) -> list[str]:
    runs = res["samples"]["runs"]
    labels = [f"{r['server']}\n{r['policy']} c{r['clients']}" for r in runs]
    values = [r["vectors_per_s"] for r in runs]
    title = f"Durable ingest: pipelined HSET into HNSW, {res['params']['vectors']} vectors"
    return [_bars(out_dir, "ingest_throughput.png", labels, values, title, "vectors per second")]


def _restart(res: dict[str, Any], out_dir: Path) -> list[str]:
    labels = list(res["samples"])
    values = [res["samples"][k]["restart_s"] for k in labels]
    title = f"Restart to serving, {res['params']['documents']} documents"
    return [_bars(out_dir, "restart.png", labels, values, title, "seconds (process start to KNN)")]


def _memory(res: dict[str, Any], out_dir: Path) -> list[str]:
    labels, values = [], []
    for name, run in res["samples"].items():
        labels += [f"{name} RSS", f"{name} used_memory"]
        values += [run["rss_bytes_per_doc"], run["used_memory_bytes_per_doc"]]
    title = f"Memory per document, {res['params']['documents']} documents"
    return [_bars(out_dir, "memory.png", labels, values, title, "bytes per document")]


def _pipeline(res: dict[str, Any], out_dir: Path) -> list[str]:
    s = res["summary"]
    labels = ["raw encode fp32", "fast embedder int8", "memvec pipeline (fp32)"]
    values = [s["fp32_chunks_per_s"], s["int8_chunks_per_s"], s["pipeline_chunks_per_s"]]
    title = "Embedding and pipeline throughput (S3 object -> stored chunks)"
    return [_bars(out_dir, "pipeline_throughput.png", labels, values, title, "chunks per second")]


def _histogram(out_dir: Path, name: str, values: list[float], marks: dict[str, float],
               title: str, xlabel: str) -> str:  # fmt: skip
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.hist(values, bins=40, color="tab:blue", label="samples")
    for (label, x), color in zip(marks.items(), ("tab:red", "tab:purple"), strict=False):
        ax.axvline(x, ls="--", lw=1, color=color, label=f"{label} = {x:.3g} ms")
    ax.legend(fontsize=8)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")
    return _save(fig, out_dir, name)


def _replica_lag(res: dict[str, Any], out_dir: Path) -> list[str]:
    s = res["summary"]
    marks = {"replica lag p50": s["replica_lag_ms_p50"], "replica lag p99": s["replica_lag_ms_p99"]}
    title = f"Primary write latency at {s['achieved_rate']} writes/s (replica lag marked)"
    values = res["samples"]["write_latencies_ms"]
    return [_histogram(out_dir, "replica_lag.png", values, marks, title, "milliseconds")]


def _freshness(res: dict[str, Any], out_dir: Path) -> list[str]:
    values = res["samples"].get("e2e_ms") or []
    if not values:
        return []
    e2e = res["summary"].get("e2e_s", {})
    marks = {f"p{q}": e2e[f"p{q}"] * 1000 for q in (50, 99) if e2e.get(f"p{q}") is not None}
    title = f"Freshness: S3 PUT -> visible in /v1/search ({len(values)} objects)"
    return [_histogram(out_dir, "freshness_histogram.png", values, marks, title, "milliseconds")]


def _quality(res: dict[str, Any], out_dir: Path) -> list[str]:
    from .quality import plot

    return plot(res, out_dir)


def _concurrency(res: dict[str, Any], out_dir: Path) -> list[str]:
    from .concurrency import plot

    return plot(res, out_dir)


def _cluster(res: dict[str, Any], out_dir: Path) -> list[str]:
    from .cluster import plot

    return plot(res, out_dir)


def _reliability(res: dict[str, Any], out_dir: Path) -> list[str]:
    servers = res["samples"]["servers"]
    labels, values = [], []
    for case in ("non_reader", "reader"):
        for name, r in servers.items():
            labels.append(f"{name} {case.replace('_', '-')}")
            values.append(r[case]["rss_growth_mb"])
    limit_mb = res["params"]["limit_bytes"] / 2**20
    title = f"Server RSS growth under a pipelining client (output limit {limit_mb:g} MB)"
    return [_bars(out_dir, "reliability_rss.png", labels, values, title, "MB above start")]


PLOTTERS = {
    "vector_query": _vector_query,
    "ingest": _ingest,
    "restart": _restart,
    "memory": _memory,
    "pipeline": _pipeline,
    "replica_lag": _replica_lag,
    "freshness": _freshness,
    "quality": _quality,
    "reliability": _reliability,
    "concurrency": _concurrency,
    "cluster": _cluster,
}


def plot_result(res: dict[str, Any], out_dir: Path) -> list[str]:
    """Draw the plots for ``res`` (a result envelope) into ``out_dir``; their file names."""
    plotter = PLOTTERS.get(res["name"])
    return plotter(res, out_dir) if plotter else []


def main(argv: Sequence[str] | None = None) -> int:
    """Redraw the plots of every result in ``--results`` (after a change to this module)."""
    ap = argparse.ArgumentParser(description="Redraw the PNG plots from the JSON results.")
    ap.add_argument("--results", type=Path, default=Path("bench/results"))
    args = ap.parse_args(argv)
    for path in sorted(args.results.glob("*.json")):
        res = json.loads(path.read_text())
        if res.get("name") in PLOTTERS and "error" not in res and "samples" in res:
            print(path.name, plot_result(res, args.results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
