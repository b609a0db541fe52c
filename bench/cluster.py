"""Issue 19: a memvec cluster at 1 and 3 shards, through redis-py's ``RedisCluster``.

``memvec bench --only cluster``. For each shard count in :data:`SHARDS` a cluster of that
many ``memvec server --cluster-enabled yes`` processes (``--appendfsync everysec``, one
file topology, made with ``memvec cluster create``'s :func:`create_cluster`) is measured
through ``redis.cluster.RedisCluster``, the client every application uses:

1. **Mixed throughput**: ``clients`` threads, each with its own seeded random stream and
   one shared ``RedisCluster`` (its per-node connection pools), loop for ``seconds``:
   40% ``GET``, 30% ``SET`` of a 100-byte value, 30% ``HSET`` of a document with its 384-d
   FLOAT32 vector (the ``bench.resp`` layout, indexed by the KNN index); keys are spread
   over the slots (no hash tags). Reported: commands/s, per-operation p50/p99, errors. The
   documents it writes are rows of the data set under their own ids, the same bytes the
   KNN load writes next, so they do not disturb the index.
2. **KNN QPS**: ``docs`` rows of the shared embeddings are loaded (pipelined, routed by
   slot), the HNSW index is created on every primary first (what ``FT.CREATE`` does
   through the pipeline's ``ClusterStore``), then ``queries`` held-out vectors are sent as
   ``FT.SEARCH ... KNN 10`` through the cluster client by ``clients`` threads. redis-py
   sends a keyless command to one node; a memvec node fans the query out to every shard
   and merges (docs/cluster.md). The run checks what it got: ``recall_at_10`` against
   exact search over all ``docs``, and ``view`` = ``cluster`` when the answers cover every
   shard (a match-all query counts every document) or ``one shard`` when the server does
   not fan out (recall then drops to about 1/shards: the numbers are one shard's).
3. **Failover time and resharding rate**: ``bench.cluster_failover.measure_failover`` and
   ``bench.cluster_reshard.measure_reshard_rate`` (written with the failover work) are
   called when they exist, with the keyword arguments they accept among ``size``,
   ``mode``, ``tmp``, ``toy`` and ``quick``; otherwise, or when they fail, the summary says
   "not measured" and why. They are not run at toy size unless they take ``toy``.

On a 2-core machine three shards share the cores the one shard had, with the load
generator: scaling is bounded by the machine (docs/scaling.md models larger machines from
these per-shard figures). No peer runs here: valkey has no vector search and the RediSearch
coordinator is not available, so the baseline of each ratio is the 1-shard cluster.
"""

from __future__ import annotations

import importlib
import inspect
import random
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from .common import F32, exact_gt, log, pct, target_row
from .resp import PREFIX, create_args, hset_args
from .sizes import Size

__all__ = ["SHARDS", "measure_shards", "plot", "run"]

SHARDS = (1, 3)
INDEX = "clbench"
EF_RUNTIME = 10
MIX: tuple[tuple[str, int], ...] = (("get", 40), ("set", 30), ("hset", 30))
# (clients, seconds of mixed load, preloaded documents, KNN queries) per size
RUNS = {
    "full": (16, 20.0, 20_000, 1000),
    "quick": (16, 8.0, 5_000, 300),
    "toy": (4, 0.5, 200, 20),
}
READY = re.compile(r"memvec server ready on [^ ]*:(\d+)")


@contextmanager
def memvec_clusters(tmp: Path, sizes: Sequence[int]) -> Iterator[dict[int, list[int]]]:
    """One cluster per entry of ``sizes`` (its shard count), every node started at once
    (startup overlaps), each made a cluster on its own topology; yields shards -> ports."""
    from store.cluster.admin import create_cluster

    procs: list[subprocess.Popen[str]] = []
    try:
        urls = []
        for shards in sizes:
            root = tmp / f"cluster-{shards}"
            urls.append(f"file:{root / 'topology.json'}")
            for i in range(shards):
                argv = [sys.executable, "-m", "pipeline.cli", "server", "--port", "auto",
                        "--dir", str(root / f"n{i}"), "--appendfsync", "everysec",
                        "--loglevel", "warning", "--cluster-enabled", "yes",
                        "--cluster-topology", urls[-1]]  # fmt: skip
                if setpriv := shutil.which("setpriv"):
                    argv = [setpriv, "--pdeathsig", "KILL", "--", *argv]
                procs.append(subprocess.Popen(
                    argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                    start_new_session=True,
                ))  # fmt: skip
        ports = []
        for proc in procs:
            assert proc.stdout is not None
            for line in proc.stdout:
                if m := READY.search(line):
                    ports.append(int(m.group(1)))
                    break
            else:
                raise RuntimeError(f"a cluster node did not start (rc {proc.wait()})")
        clusters: dict[int, list[int]] = {}
        for shards, url in zip(sizes, urls, strict=True):
            clusters[shards], ports = ports[:shards], ports[shards:]
            create_cluster(url, [f"127.0.0.1:{p}" for p in clusters[shards]], wait_s=60)
        yield clusters
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _client(ports: list[int]) -> Any:
    from redis.cluster import ClusterNode, RedisCluster

    nodes = [ClusterNode("127.0.0.1", p) for p in ports]
    return RedisCluster(startup_nodes=nodes, protocol=2, socket_timeout=120, max_connections=256)


def _threads(clients: int, body: Callable[[int], None]) -> float:
    """Run ``body(i)`` in ``clients`` threads started together; elapsed seconds."""
    errors: list[BaseException] = []

    def guarded(i: int) -> None:
        try:
            body(i)
        except BaseException as exc:  # surfaced below: a benchmark never hides a failure
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - t0


def _mixed(rc: Any, base: F32, clients: int, seconds: float) -> dict[str, Any]:
    """Section 1 of the module docstring."""
    import redis

    value = b"x" * 100
    lat: dict[str, list[float]] = {op: [] for op, _ in MIX}
    errors: list[str] = []
    lock = threading.Lock()
    ops, weights = zip(*MIX, strict=True)
    keyspace = 10_000

    def body(i: int) -> None:
        rng = random.Random(1000 + i)
        mine: dict[str, list[float]] = {op: [] for op in ops}
        failed: list[str] = []
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            op = rng.choices(ops, weights)[0]
            n = rng.randrange(keyspace)
            t = time.perf_counter()
            try:
                if op == "get":
                    rc.execute_command("GET", f"kv:{n}")
                elif op == "set":
                    rc.execute_command("SET", f"kv:{n}", value)
                else:
                    rc.execute_command(*hset_args(n % len(base), base[n % len(base)]))
            except redis.RedisError as exc:
                failed.append(f"{op}: {exc}")
                continue
            mine[op].append((time.perf_counter() - t) * 1000)
        with lock:
            for op in ops:
                lat[op].extend(mine[op])
            errors.extend(failed)

    elapsed = _threads(clients, body)
    every = [x for op in ops for x in lat[op]]
    per_op = {
        op: {"count": len(v), "p50_ms": round(pct(v, 50), 3) if v else None,
             "p99_ms": round(pct(v, 99), 3) if v else None}
        for op, v in lat.items()
    }  # fmt: skip
    return {
        "commands_per_s": round(len(every) / elapsed, 1),
        "p50_ms": round(pct(every, 50), 3) if every else None,
        "p99_ms": round(pct(every, 99), 3) if every else None,
        "per_op": per_op,
        "errors": len(errors),
        "first_errors": errors[:3],
    }


def _load(rc: Any, ports: list[int], base: F32, docs: int) -> float:
    """The HNSW index on every primary, then ``docs`` rows; seconds to load and index."""
    args = create_args(INDEX, int(base.shape[1]), 16, 200, "HNSW")
    for node in rc.get_primaries():
        try:
            rc.execute_command(*args, target_nodes=node)
        except Exception as exc:  # a server that broadcasts FT.CREATE already made it
            if "already exists" not in str(exc).lower():
                raise
    t0 = time.perf_counter()
    for lo in range(0, docs, 500):
        pipe = rc.pipeline(transaction=False)
        for i in range(lo, min(lo + 500, docs)):
            pipe.execute_command(*hset_args(i, base[i]))
        pipe.execute()
    _wait_indexed(ports)
    return time.perf_counter() - t0


def _wait_indexed(ports: list[int], timeout_s: float = 600) -> None:
    """Every node's index has applied every write it received (``lag_records`` 0)."""
    import redis

    deadline = time.monotonic() + timeout_s
    for port in ports:
        with redis.Redis(port=port, protocol=2) as r:
            while True:
                flat = r.execute_command("FT.INFO", INDEX)
                info = {(k.decode() if isinstance(k, bytes) else str(k)): v
                        for k, v in zip(flat[0::2], flat[1::2], strict=True)}  # fmt: skip
                if int(info.get("lag_records", 0) or 0) == 0:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"node {port}: {INDEX} still lags")
                time.sleep(0.02)


def _knn(rc: Any, base: F32, queries: F32, docs: int, clients: int) -> dict[str, Any]:
    """Section 2 of the module docstring."""
    knn = f"*=>[KNN 10 @v $B EF_RUNTIME {EF_RUNTIME}]"
    found: list[list[int]] = [[] for _ in range(len(queries))]
    lat: list[float] = []
    lock = threading.Lock()

    def body(i: int) -> None:
        mine = []
        for q in range(i, len(queries), clients):
            t = time.perf_counter()
            reply = rc.execute_command(
                "FT.SEARCH", INDEX, knn, "PARAMS", 2, "B", queries[q].tobytes(),
                "NOCONTENT", "LIMIT", 0, 10, "DIALECT", 2,
            )  # fmt: skip
            mine.append((time.perf_counter() - t) * 1000)
            found[q] = [int(k.decode()[len(PREFIX) :]) for k in reply[1:]]
        with lock:
            lat.extend(mine)

    elapsed = _threads(clients, body)
    gt = exact_gt(base[:docs], queries, 10)
    hits = [len(set(f) & set(g.tolist())) / 10 for f, g in zip(found, gt, strict=True)]
    recall = float(np.mean(hits))
    total = int(rc.execute_command("FT.SEARCH", INDEX, "*", "LIMIT", 0, 0)[0])
    return {
        "qps": round(len(queries) / elapsed, 1),
        "p50_ms": round(pct(lat, 50), 3),
        "p99_ms": round(pct(lat, 99), 3),
        "recall_at_10": round(recall, 4),
        "match_all_total": total,
        "view": "cluster" if total == docs else "one shard",
    }


def measure_shards(ports: list[int], size: Size, data: tuple[F32, F32, Any]) -> dict[str, Any]:
    """Sections 1 and 2 on the fresh cluster whose primaries listen on ``ports``."""
    base, queries, _ = data
    clients, seconds, docs, n_queries = RUNS[size.mode]
    docs, shards = min(docs, len(base)), len(ports)
    rc = _client(ports)
    try:
        mixed = _mixed(rc, base[:docs], clients, seconds)
        load_s = _load(rc, ports, base, docs)
        knn = _knn(rc, base, queries[:n_queries], docs, clients)
    finally:
        rc.close()
    log(f"cluster {shards} shard(s): {mixed['commands_per_s']} cmd/s, KNN {knn['qps']} q/s "
        f"({knn['view']}, recall@10 {knn['recall_at_10']})")  # fmt: skip
    return {"shards": shards, "mixed": mixed, "load_s": round(load_s, 3), "knn": knn}


def _optional(module: str, function: str, size: Size, tmp: Path) -> dict[str, Any]:
    """``module.function(...)`` (section 3) or ``{"measured": False, "why": ...}``."""
    try:
        fn = getattr(importlib.import_module(module), function)
    except (ImportError, AttributeError) as exc:
        return {"measured": False, "why": f"{module}.{function} is not there ({exc})"}
    offered = {"size": size, "mode": size.mode, "tmp": tmp, "toy": size.mode == "toy",
               "quick": size.mode != "full"}  # fmt: skip
    params = inspect.signature(fn).parameters
    if size.mode == "toy" and "toy" not in params:
        return {"measured": False, "why": "not run at toy size (it kills and moves shards)"}
    try:
        got = fn(**{k: v for k, v in offered.items() if k in params})
    except Exception as exc:
        log(f"{module}.{function} failed: {exc!r}")
        return {"measured": False, "why": f"{module}.{function} failed: {exc!r}"}
    return {"measured": True, **(got if isinstance(got, dict) else {"value": got})}


def _seconds(result: dict[str, Any], *names: str) -> float | None:
    for name in names:
        if isinstance(result.get(name), int | float):
            return float(result[name])
    return None


def run(size: Size, data: tuple[F32, F32, Any], tmp: Path) -> dict[str, Any]:
    """The benchmark envelope (see :mod:`bench.common`) for ``memvec bench``."""
    base, _, _ = data
    clients, seconds, docs, n_queries = RUNS[size.mode]
    with memvec_clusters(tmp, SHARDS) as clusters:
        runs = {str(n): measure_shards(clusters[n], size, data) for n in SHARDS}
    failover = _optional("bench.cluster_failover", "measure_failover", size, tmp)
    reshard = _optional("bench.cluster_reshard", "measure_reshard_rate", size, tmp)
    one, three = runs["1"], runs["3"]
    view = three["knn"]["view"]
    targets = [
        target_row(
            f"{clients}-client GET/SET/HSET+vector mix through RedisCluster, 3 shards vs 1",
            three["mixed"]["commands_per_s"], one["mixed"]["commands_per_s"], "1 shard",
            "report (2 cores: bounded by the machine)", None, unit="cmd/s",
        ),
        target_row(
            f"KNN 10 QPS through RedisCluster, 3 shards vs 1 ({view} view, recall@10 "
            f"{three['knn']['recall_at_10']} vs {one['knn']['recall_at_10']})",
            three["knn"]["qps"], one["knn"]["qps"], "1 shard",
            "report (2 cores: bounded by the machine)", None, unit="q/s",
        ),
    ]  # fmt: skip
    failover_s = _seconds(failover, "failover_s", "seconds", "value")
    if failover["measured"] and failover_s is not None:
        targets.append(target_row("failover: kill -9 of a primary -> writes accepted",
                                  failover_s, None, "none", "report", None, unit="s"))  # fmt: skip
    rate = _seconds(reshard, "keys_per_s", "slots_per_s", "value")
    if reshard["measured"] and rate is not None:
        unit = "keys/s" if "keys_per_s" in reshard else "slots/s"
        targets.append(target_row("online resharding rate", rate, None, "none", "report",
                                  None, unit=unit))  # fmt: skip
    return {
        "params": {"shards": list(SHARDS), "clients": clients, "mixed_seconds": seconds,
                   "docs": min(docs, len(base)), "queries": n_queries,
                   "dim": int(base.shape[1]), "mix_percent": dict(MIX), "k": 10,
                   "ef_runtime": EF_RUNTIME, "index": "HNSW M 16 EF_CONSTRUCTION 200 COSINE",
                   "appendfsync": "everysec", "client": "redis-py RedisCluster, threads"},
        "samples": runs,
        "summary": {
            "mixed_commands_per_s": {n: r["mixed"]["commands_per_s"] for n, r in runs.items()},
            "knn_qps": {n: r["knn"]["qps"] for n, r in runs.items()},
            "knn_p50_ms": {n: r["knn"]["p50_ms"] for n, r in runs.items()},
            "knn_view": {n: r["knn"]["view"] for n, r in runs.items()},
            "knn_recall_at_10": {n: r["knn"]["recall_at_10"] for n, r in runs.items()},
            "failover": failover,
            "reshard": reshard,
        },
        "baseline": "the same benchmark on a 1-shard cluster (no peer here has cluster "
        "vector search)",
        "targets": targets,
    }  # fmt: skip


def plot(res: dict[str, Any], out_dir: Path) -> list[str]:
    """Mixed throughput and KNN QPS per shard count, side by side."""
    import matplotlib.pyplot as plt

    runs = res["samples"]
    labels = [f"{n} shard{'s' if n != '1' else ''}" for n in runs]
    fig, axes = plt.subplots(1, 2, figsize=(9, 4))
    for ax, values, title, unit in (
        (axes[0], [r["mixed"]["commands_per_s"] for r in runs.values()],
         "GET/SET/HSET mix (memvec cluster)", "commands/s"),
        (axes[1], [r["knn"]["qps"] for r in runs.values()],
         "KNN 10 via RedisCluster (memvec)", "queries/s"),
    ):  # fmt: skip
        bars = ax.bar(labels, values, color="tab:blue")
        ax.bar_label(bars, fmt="%.4g", fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.set_ylabel(unit)
    fig.tight_layout()
    fig.savefig(out_dir / "cluster.png", dpi=110)
    plt.close(fig)
    return ["cluster.png"]
