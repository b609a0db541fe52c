"""The store engine and the RESP server measured against the peer (valkey + RediSearch 2.10).

One invocation measures, on this machine, with the shared embeddings (``$MEMVEC_BENCH_DATA``,
default ``<checkout>/../shared/data/pypi-minilm-100k.npz``, 384 dims, COSINE HNSW M 16
EF_CONSTRUCTION 200):

1. ``engine_write``: embedded HSET throughput (vector + TAG + ~200 bytes TEXT) through
   ``Engine.execute_many`` in batches of 100 and through 8 threads doing single ``execute``,
   with ``appendfsync`` always and everysec.
2. ``restart``: ``Engine(...).start()`` until ``FT.SEARCH`` answers, from a snapshot and
   from a full log replay (the graph rebuilt), same data directory.
3. ``memory``: bytes per document, embedded (RSS delta and ``used_memory()``) and for both
   servers (``INFO memory`` ``used_memory`` delta, plus the memvec process RSS delta).
4. ``resp_write``: pipelined HSET (pipelines of 100, 1 and 4 clients) into a memvec server
   subprocess and into the peer, both with an append-only log fsynced always, then everysec.
5. ``knn``: single-client KNN QPS, recall@10 and p50/p99 latency over an EF_RUNTIME sweep
   with 1,000 queries (RESP2 ``FT.SEARCH ... NOCONTENT DIALECT 2``).

Run from the repository root; writes JSON and prints a table::

    .venv/bin/python -m bench.store_bench [--quick] [--out bench/results/store.json]

``--quick`` uses a few thousand vectors (< 1-2 minutes); the default full mode uses 20k
vectors for the write cases and 100k for restart and KNN (~10-15 minutes on 2 cores).
Numbers from a shared, noisy machine vary between runs; compare cases within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy.typing as npt

from store import Engine, EngineConfig, FsyncPolicy

from .common import F32, ground_truth, load_data, log, machine_info, rss_bytes
from .resp import (
    QueryClients,
    Target,
    create_index,
    hset_args,
    memvec_server,
    peer_server,
    resp_load,
    server_rss,
    used_memory,
    write_throughput,
)
from .resp import create_args as resp_create_args

DIM = 384
INDEX = "idx"


@dataclass(frozen=True)
class Params:
    write_n: int
    resp_write_n: int
    restart_n: int
    knn_n: int
    queries: int
    efs: tuple[int, ...]
    threads: int = 8
    batch: int = 100
    resp_pipeline: int = 100
    load_pipeline: int = 500
    m: int = 16
    ef_construction: int = 200


FULL = Params(
    write_n=20_000,
    resp_write_n=10_000,
    restart_n=100_000,
    knn_n=100_000,
    queries=1000,
    efs=(10, 20, 40, 80, 160),
)
QUICK = Params(
    write_n=2_000,
    resp_write_n=2_000,
    restart_n=10_000,
    knn_n=10_000,
    queries=1000,
    efs=(10, 20, 40, 80, 160),
)


def create_args(p: Params) -> list[str | int]:
    return resp_create_args(INDEX, DIM, p.m, p.ef_construction)


# -- 1. embedded writes ----------------------------------------------------------------
def engine_write(p: Params, base: F32, policy: FsyncPolicy, mode: str, tmp: Path) -> dict[str, Any]:
    d = Path(tempfile.mkdtemp(dir=tmp, prefix=f"ew-{policy.value}-{mode}-"))
    n = p.write_n
    with Engine(EngineConfig(data_dir=d, appendfsync=policy)) as eng:
        eng.execute(*create_args(p))
        began = time.perf_counter()
        if mode == "batch":
            for s in range(0, n, p.batch):
                replies = eng.execute_many(
                    [hset_args(i, base[i]) for i in range(s, min(n, s + p.batch))]
                )
                if any(isinstance(r, Exception) for r in replies):
                    raise RuntimeError(f"HSET failed: {replies[0]!r}")
        else:
            errors: list[BaseException] = []

            def worker(t: int) -> None:
                try:
                    for i in range(t, n, p.threads):
                        eng.execute(*hset_args(i, base[i]))
                except BaseException as exc:
                    errors.append(exc)

            ts = [threading.Thread(target=worker, args=(t,)) for t in range(p.threads)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            if errors:
                raise errors[0]
        elapsed = time.perf_counter() - began
    shutil.rmtree(d, ignore_errors=True)
    return {
        "case": f"engine {mode} {policy.value}",
        "n": n,
        "seconds": round(elapsed, 3),
        "vectors_per_s": round(n / elapsed),
    }


# -- 2 + 3. restart and embedded memory ------------------------------------------------
def search_ready(eng: Engine, q: F32) -> None:
    eng.execute(
        "FT.SEARCH", INDEX, "*=>[KNN 10 @v $B]", "PARAMS", 2, "B", q.tobytes(),
        "NOCONTENT", "DIALECT", 2,
    )  # fmt: skip


def timed_start(d: Path, q: F32) -> tuple[float, Engine]:
    began = time.perf_counter()
    eng = Engine(EngineConfig(data_dir=d, appendfsync=FsyncPolicy.EVERYSEC)).start()
    search_ready(eng, q)
    return time.perf_counter() - began, eng


def restart_and_memory(p: Params, base: F32, q: F32, tmp: Path) -> dict[str, Any]:
    d = Path(tempfile.mkdtemp(dir=tmp, prefix="restart-"))
    n = p.restart_n
    rss0 = rss_bytes()
    eng = Engine(EngineConfig(data_dir=d, appendfsync=FsyncPolicy.EVERYSEC)).start()
    try:
        eng.execute(*create_args(p))
        used0 = eng.used_memory()  # the fixed startup part and the empty index
        began = time.perf_counter()
        for s in range(0, n, 1000):
            eng.execute_many([hset_args(i, base[i]) for i in range(s, min(n, s + 1000))])
        load_s = time.perf_counter() - began
        rss1 = rss_bytes()
        used = eng.used_memory() - used0
    finally:
        eng.stop()
    del eng
    log_bytes = sum(f.stat().st_size for f in (d / "log").rglob("*") if f.is_file())
    replay_s, eng = timed_start(d, q)
    try:
        began = time.perf_counter()
        eng.execute("SAVE")
        save_s = time.perf_counter() - began
    finally:
        eng.stop()
    del eng
    snap_bytes = sum(f.stat().st_size for f in (d / "snapshots").rglob("*") if f.is_file())
    snapshot_s, eng = timed_start(d, q)
    eng.stop()
    del eng
    shutil.rmtree(d, ignore_errors=True)
    return {
        "restart": {
            "n": n,
            "load_s_everysec_batch1000": round(load_s, 2),
            "log_bytes": log_bytes,
            "save_s": round(save_s, 2),
            "snapshot_bytes": snap_bytes,
            "start_from_snapshot_s": round(snapshot_s, 3),
            "start_from_log_replay_s": round(replay_s, 3),
            "replay_over_snapshot": round(replay_s / snapshot_s, 1),
        },
        "memory_embedded": {
            "n": n,
            "rss_delta_bytes_per_doc": round((rss1 - rss0) / n),
            "used_memory_bytes_per_doc": round(used / n),
        },
    }


# -- 4. writes over RESP ---------------------------------------------------------------
def resp_write(p: Params, base: F32, tmp: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    starters: dict[str, Callable[..., Any]] = {"memvec": memvec_server, "peer": peer_server}
    for policy in ("always", "everysec"):
        for clients in (1, 4):
            for name, start in starters.items():
                log(f"resp write {name} {policy} clients={clients}")
                rate = write_throughput(
                    start, {"policy": policy}, base, create_args(p),
                    p.resp_write_n, clients, p.resp_pipeline, tmp,
                )  # fmt: skip
                rows.append(
                    {
                        "case": f"resp {name} {policy} c{clients}",
                        "n": p.resp_write_n,
                        "seconds": round(p.resp_write_n / rate, 3),
                        "vectors_per_s": round(rate),
                    }
                )
    return rows


# -- 5. KNN ----------------------------------------------------------------------------
def knn_sweep(t: Target, queries: F32, gt: npt.NDArray[Any], efs: Sequence[int]) -> list[dict]:
    with QueryClients(queries, 1) as clients:
        points = [clients.run(t, INDEX, ef, gt) for ef in efs]
    keep = ("ef", "recall_at_10", "qps", "p50_ms", "p99_ms")
    return [{k: pt[k] for k in keep} for pt in points]


def knn_and_server_memory(
    p: Params, base: F32, queries: F32, gt: npt.NDArray[Any], tmp: Path
) -> dict[str, Any]:
    n = p.knn_n
    result: dict[str, Any] = {"n": n, "queries": len(queries)}
    servers: tuple[tuple[str, Callable[..., Any], str | None], ...] = (
        ("memvec", memvec_server, "everysec"),
        ("peer", peer_server, None),
    )
    for name, start, policy in servers:
        with start(tmp, policy) as t:
            create_index(t, create_args(p))
            time.sleep(0.2)
            used0, rss0 = used_memory(t), server_rss(t)
            log(f"knn: loading {n} into {t.name}")
            load_s = resp_load(t, base, 0, n, 2, p.load_pipeline)
            used1, rss1 = used_memory(t), server_rss(t)
            log(f"knn: sweeping {t.name}")
            sweep = knn_sweep(t, queries, gt, p.efs)
        ok = [r for r in sweep if r["recall_at_10"] >= 0.95]
        result[name] = {
            "load_s_2clients_pipe500": round(load_s, 2),
            "used_memory_bytes_per_doc": round((used1 - used0) / n),
            "rss_delta_bytes_per_doc": round((rss1 - rss0) / n),
            "sweep": sweep,
            "at_recall_095": ok[0] if ok else None,
        }
    m, r = result["memvec"]["at_recall_095"], result["peer"]["at_recall_095"]
    if m and r:
        result["qps_ratio_memvec_over_peer"] = round(m["qps"] / r["qps"], 2)
    return result


# -- report ----------------------------------------------------------------------------
def print_table(res: dict[str, Any]) -> None:
    print(f"\n{'case':40} {'n':>7} {'vectors/s':>10}")
    for row in res["engine_write"] + res["resp_write"]:
        print(f"{row['case']:40} {row['n']:>7} {row['vectors_per_s']:>10}")
    by = {r["case"]: r["vectors_per_s"] for r in res["resp_write"]}
    for policy in ("always", "everysec"):
        for c in (1, 4):
            m, pr = by[f"resp memvec {policy} c{c}"], by[f"resp peer {policy} c{c}"]
            print(f"  resp write {policy} c{c}: memvec/peer = {m / pr:.2f}")
    rs = res["restart"]
    print(
        f"\nrestart n={rs['n']}: snapshot {rs['start_from_snapshot_s']} s, "
        f"log replay {rs['start_from_log_replay_s']} s (x{rs['replay_over_snapshot']}), "
        f"SAVE {rs['save_s']} s"
    )
    me, k = res["memory_embedded"], res["knn"]
    print(
        f"memory bytes/doc: embedded rss {me['rss_delta_bytes_per_doc']} "
        f"used_memory {me['used_memory_bytes_per_doc']} (n={me['n']}); "
        f"memvec server used_memory {k['memvec']['used_memory_bytes_per_doc']} "
        f"rss {k['memvec']['rss_delta_bytes_per_doc']}; "
        f"peer used_memory {k['peer']['used_memory_bytes_per_doc']} "
        f"rss {k['peer']['rss_delta_bytes_per_doc']} (n={k['n']})"
    )
    print(f"\nknn n={k['n']} {'ef':>5} {'recall@10':>10} {'qps':>7} {'p50 ms':>8} {'p99 ms':>8}")
    for name in ("memvec", "peer"):
        for r in k[name]["sweep"]:
            print(
                f"  {name:8} {r['ef']:>8} {r['recall_at_10']:>10} {r['qps']:>7} "
                f"{r['p50_ms']:>8} {r['p99_ms']:>8}"
            )
    print(f"  at recall>=0.95: memvec {k['memvec']['at_recall_095']}")
    print(f"                   peer   {k['peer']['at_recall_095']}")
    print(f"  qps ratio memvec/peer: {k.get('qps_ratio_memvec_over_peer')}")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="a few thousand vectors, < 2 min")
    ap.add_argument("--out", type=Path, default=Path("bench/results/store.json"))
    ap.add_argument("--only", nargs="*", default=None,
                    help="sections: engine_write restart resp_write knn")  # fmt: skip
    args = ap.parse_args(argv)
    p = QUICK if args.quick else FULL
    sections = set(args.only or ("engine_write", "restart", "resp_write", "knn"))
    base, queries, gt100 = load_data()
    queries = queries[: p.queries]
    gt = ground_truth(base, queries, gt100, p.knn_n)
    res: dict[str, Any] = {
        "machine": machine_info(),
        "params": asdict(p),
        "mode": "quick" if args.quick else "full",
    }
    try:
        run_sections(p, sections, res, base, queries, gt)
    finally:
        res["machine"]["loadavg_at_end"] = os.getloadavg()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(res, indent=2) + "\n")
    if sections == {"engine_write", "restart", "resp_write", "knn"}:
        print_table(res)
    else:
        print(
            json.dumps({k: v for k, v in res.items() if k not in ("machine", "params")}, indent=1)
        )
    log(f"wrote {args.out}")
    return 0


def run_sections(
    p: Params,
    sections: set[str],
    res: dict[str, Any],
    base: F32,
    queries: F32,
    gt: npt.NDArray[Any],
) -> None:
    """Run the chosen sections in order, filling ``res`` as each finishes."""
    with tempfile.TemporaryDirectory(prefix="memvec-bench-") as tmp_s:
        tmp = Path(tmp_s)
        # restart first: its RSS delta must not land in heap that earlier engines freed
        if "restart" in sections:
            log(f"restart: loading {p.restart_n}")
            res.update(restart_and_memory(p, base, queries[0], tmp))
        if "engine_write" in sections:
            res["engine_write"] = []
            for policy in (FsyncPolicy.ALWAYS, FsyncPolicy.EVERYSEC):
                for mode in ("batch", "threads"):
                    log(f"engine write {mode} {policy.value}")
                    res["engine_write"].append(engine_write(p, base, policy, mode, tmp))
        if "resp_write" in sections:
            res["resp_write"] = resp_write(p, base, tmp)
        if "knn" in sections:
            res["knn"] = knn_and_server_memory(p, base[: p.knn_n], queries, gt, tmp)


if __name__ == "__main__":
    sys.exit(main())
