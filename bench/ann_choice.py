"""Measure the ANN engine candidates behind docs/decisions/0001-ann-engine.md.

For each engine (hnswlib, faiss ``IndexHNSWFlat``, usearch; ``memvec-hnsw``, the store's
own ``HnswIndex``, on request to show what the wrapper costs) on the shared real embeddings
(all-MiniLM-L6-v2, 384 dims, cosine), with M=16 and EF_CONSTRUCTION=200:

* build time with ``--build-threads`` threads;
* recall@k and QPS at each ``--ef``, one query per call on one thread (the way the store
  serves a request: one KNN per FT.SEARCH, parallelism comes from concurrent requests);
* serialized size and save/load time;
* probes of what the Python API supports: delete, in-place update, slot reuse after
  delete, a filter during the graph search.

Ground truth: the file's ``gt_cosine_top100`` when ``--n`` is the whole base, otherwise exact
cosine top-k over the first ``--n`` base vectors. Prints one JSON document on stdout.

Run (faiss-cpu and usearch are measurement-only extras, not project dependencies)::

    .venv/bin/pip install faiss-cpu usearch
    .venv/bin/python -m bench.ann_choice --n 100000 --ef 10 20 40 80 160 320 > ann.json
    .venv/bin/python -m bench.ann_choice --engines faiss usearch --n 50000
    .venv/bin/python -m bench.ann_choice --engines hnswlib memvec-hnsw
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from .common import DATA

ENGINES = ("hnswlib", "faiss", "usearch", "memvec-hnsw")

F32 = npt.NDArray[np.float32]


class Engine(Protocol):
    """One candidate: build, tune ef, query one vector, save, load, capability probes."""

    name: str

    def build(self, base: F32, m: int, ef_construction: int, threads: int) -> None: ...
    def set_ef(self, ef: int) -> None: ...
    def query(self, q: F32, k: int) -> npt.NDArray[np.int64]: ...
    def save(self, path: str) -> None: ...
    def load(self, path: str, dim: int) -> None: ...
    def probes(self) -> dict[str, str]: ...
    def version(self) -> str: ...


class Hnswlib:
    name = "hnswlib"

    def __init__(self) -> None:
        import hnswlib

        self.lib: Any = hnswlib
        self.index: Any = None

    def version(self) -> str:
        from importlib.metadata import version

        return version("hnswlib")

    def build(self, base: F32, m: int, ef_construction: int, threads: int) -> None:
        self.index = self.lib.Index(space="cosine", dim=base.shape[1])
        self.index.init_index(max_elements=base.shape[0], M=m, ef_construction=ef_construction)
        self.index.add_items(base, np.arange(base.shape[0]), num_threads=threads)

    def set_ef(self, ef: int) -> None:
        self.index.set_ef(ef)

    def query(self, q: F32, k: int) -> npt.NDArray[np.int64]:
        labels, _ = self.index.knn_query(q, k=k, num_threads=1)
        return labels[0].astype(np.int64)

    def save(self, path: str) -> None:
        self.index.save_index(path)

    def load(self, path: str, dim: int) -> None:
        self.index = self.lib.Index(space="cosine", dim=dim)
        self.index.load_index(path)

    def probes(self) -> dict[str, str]:
        rng = np.random.default_rng(0)
        x = rng.standard_normal((64, 8)).astype(np.float32)
        ix = self.lib.Index(space="cosine", dim=8)
        ix.init_index(max_elements=64, allow_replace_deleted=True)
        ix.add_items(x, np.arange(64))
        ix.add_items(x[6], [5])
        live = list(range(64))
        for round_ in range(10):
            for label in live[:32]:
                ix.mark_deleted(label)
            fresh = list(range(64 + round_ * 32, 96 + round_ * 32))
            ix.add_items(x[:32], fresh, replace_deleted=True)
            live = live[32:] + fresh
        hits, _ = ix.knn_query(x[0], k=5, filter=lambda label: label % 2 == 0)
        slots = f"{ix.element_count} of max_elements {ix.get_max_elements()}"
        return {
            "delete": "yes: mark_deleted (tombstone, excluded from results)",
            "update": "yes: add_items with an existing label updates in place",
            "slot_reuse": f"yes: replace_deleted=True ({slots} after 10 rounds of 50% churn)",
            "filter": f"yes: Python predicate in knn_query (even labels -> {hits[0].tolist()})",
            "save_load": "yes: save_index/load_index keep the graph and delete marks",
        }


class Faiss:
    name = "faiss"

    def __init__(self) -> None:
        import faiss

        self.lib: Any = faiss
        self.index: Any = None

    def version(self) -> str:
        return str(self.lib.__version__)

    def build(self, base: F32, m: int, ef_construction: int, threads: int) -> None:
        self.lib.omp_set_num_threads(threads)
        self.index = self.lib.IndexHNSWFlat(base.shape[1], m, self.lib.METRIC_INNER_PRODUCT)
        self.index.hnsw.efConstruction = ef_construction
        self.index.add(_normalise(base))
        self.lib.omp_set_num_threads(1)

    def set_ef(self, ef: int) -> None:
        self.index.hnsw.efSearch = ef

    def query(self, q: F32, k: int) -> npt.NDArray[np.int64]:
        _, labels = self.index.search(_normalise(q[None, :]), k)
        return np.asarray(labels[0], dtype=np.int64)

    def save(self, path: str) -> None:
        self.lib.write_index(self.index, path)

    def load(self, path: str, dim: int) -> None:
        self.index = self.lib.read_index(path)

    def probes(self) -> dict[str, str]:
        rng = np.random.default_rng(0)
        x = _normalise(rng.standard_normal((64, 8)).astype(np.float32))
        ix = self.lib.IndexHNSWFlat(8, 16, self.lib.METRIC_INNER_PRODUCT)
        ix.add(x)
        try:
            ix.remove_ids(np.array([3], dtype=np.int64))
            delete = "yes"
        except RuntimeError:
            delete = "no: IndexHNSWFlat.remove_ids raises (not implemented)"
        sel = self.lib.IDSelectorBatch(np.arange(0, 64, 2, dtype=np.int64))
        params = self.lib.SearchParametersHNSW(sel=sel, efSearch=16)
        _, hits = ix.search(x[:1], 5, params=params)
        return {
            "delete": delete,
            "update": "no: vectors cannot be replaced (no delete, ids are positions)",
            "slot_reuse": "no",
            "filter": f"partial: IDSelector (set/bitmap/range), no callback ({hits[0].tolist()})",
            "save_load": "yes: write_index/read_index",
        }


class Usearch:
    name = "usearch"

    def __init__(self) -> None:
        from usearch.index import Index

        self.cls = Index
        self.index: Any = None

    def version(self) -> str:
        import usearch

        return str(usearch.__version__)

    def build(self, base: F32, m: int, ef_construction: int, threads: int) -> None:
        self.index = self.cls(
            ndim=base.shape[1],
            metric="cos",
            dtype="f32",
            connectivity=m,
            expansion_add=ef_construction,
        )
        self.index.add(np.arange(base.shape[0]), base, threads=threads)

    def set_ef(self, ef: int) -> None:
        self.index.expansion_search = ef

    def query(self, q: F32, k: int) -> npt.NDArray[np.int64]:
        return np.asarray(self.index.search(q, k, threads=1).keys, dtype=np.int64)

    def save(self, path: str) -> None:
        self.index.save(path)

    def load(self, path: str, dim: int) -> None:
        self.index = self.cls.restore(path)

    def probes(self) -> dict[str, str]:
        rng = np.random.default_rng(0)
        x = rng.standard_normal((64, 8)).astype(np.float32)
        x = rng.standard_normal((128, 8)).astype(np.float32)
        ix = self.cls(ndim=8, metric="cos", dtype="f32")
        ix.add(np.arange(64), x[:64])
        capacity = ix.capacity
        for round_ in range(10):
            ix.remove(np.arange(round_ * 32, round_ * 32 + 32))
            ix.add(np.arange(64 + round_ * 32, 96 + round_ * 32), x[64:96])
        try:
            ix.add(int(ix.keys[0]), x[0])
            update = "yes: add over an existing key"
        except RuntimeError:
            update = "remove + add (add over an existing key raises)"
        reuse = f"capacity {capacity} -> {ix.capacity} after 10 rounds of 50% churn"
        import inspect

        has_filter = "filter" in inspect.signature(ix.search).parameters
        return {
            "delete": "yes: remove (tombstone)",
            "update": update,
            "slot_reuse": f"yes: removed slots are reused ({reuse})",
            "filter": "yes" if has_filter else "no: Python search() takes no predicate",
            "save_load": "yes: save/restore (or view a memory-mapped file)",
        }


class Memvec:
    """The store's own HnswIndex: hnswlib plus validation, locking and the label bookkeeping."""

    name = "memvec-hnsw"

    def __init__(self) -> None:
        from store.index.hnsw import HnswIndex
        from store.index.vector import Metric

        self.cls = HnswIndex
        self.metric = Metric.COSINE
        self.index: Any = None

    def version(self) -> str:
        from importlib.metadata import version

        return f"HnswIndex on hnswlib {version('hnswlib')}"

    def build(self, base: F32, m: int, ef_construction: int, threads: int) -> None:
        self.index = self.cls(
            base.shape[1],
            self.metric,
            m=m,
            ef_construction=ef_construction,
            initial_cap=base.shape[0],
            build_threads=threads,
        )
        self.index.add_batch(np.arange(base.shape[0]), base)

    def set_ef(self, ef: int) -> None:
        self.index.ef_runtime = ef

    def query(self, q: F32, k: int) -> npt.NDArray[np.int64]:
        return np.array([label for label, _ in self.index.search(q, k)], dtype=np.int64)

    def save(self, path: str) -> None:
        self.index.save(path)

    def load(self, path: str, dim: int) -> None:
        self.index = self.cls.load(path)

    def probes(self) -> dict[str, str]:
        return {
            "delete": "yes",
            "update": "yes (in place)",
            "slot_reuse": "yes",
            "filter": "yes (predicate; exact fallback when the graph finds < k)",
            "save_load": "yes (one file, CRC32C)",
        }


def _normalise(x: F32) -> F32:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def exact_topk(base: F32, queries: F32, k: int) -> npt.NDArray[np.int64]:
    """Exact cosine top-k row numbers of ``base`` for each query, best first."""
    nb, nq = _normalise(base), _normalise(queries)
    out = np.empty((nq.shape[0], k), dtype=np.int64)
    for start in range(0, nq.shape[0], 100):
        sims = nq[start : start + 100] @ nb.T
        part = np.argpartition(-sims, k, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(sims, part, axis=1), axis=1, kind="stable")
        out[start : start + 100] = np.take_along_axis(part, order, axis=1)
    return out


def measure(
    engine: Engine,
    base: F32,
    queries: F32,
    truth: npt.NDArray[np.int64],
    *,
    k: int,
    efs: list[int],
    m: int,
    ef_construction: int,
    build_threads: int,
    log: Callable[[str], None],
) -> dict[str, Any]:
    t0 = time.perf_counter()
    engine.build(base, m, ef_construction, build_threads)
    build_s = time.perf_counter() - t0
    log(f"{engine.name}: built {base.shape[0]} in {build_s:.1f} s")
    rows = []
    for ef in efs:
        engine.set_ef(ef)
        for q in queries[:20]:
            engine.query(q, k)
        found = np.empty((queries.shape[0], k), dtype=np.int64)
        t0 = time.perf_counter()
        for i, q in enumerate(queries):
            found[i] = engine.query(q, k)
        elapsed = time.perf_counter() - t0
        hits = sum(len(set(found[i]) & set(truth[i, :k])) for i in range(queries.shape[0]))
        row = {
            "ef": ef,
            "recall": round(hits / (k * queries.shape[0]), 4),
            "qps": round(queries.shape[0] / elapsed),
        }
        rows.append(row)
        log(f"{engine.name}: {row}")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "index.bin")
        t0 = time.perf_counter()
        engine.save(path)
        save_s = time.perf_counter() - t0
        size = os.path.getsize(path)
        t0 = time.perf_counter()
        engine.load(path, base.shape[1])
        load_s = time.perf_counter() - t0
    engine.set_ef(efs[-1])
    reloaded_ok = bool(np.array_equal(engine.query(queries[0], k)[:1], found[0][:1]))
    return {
        "engine": engine.name,
        "version": engine.version(),
        "n": base.shape[0],
        "build_s": round(build_s, 1),
        "build_threads": build_threads,
        "search": rows,
        "file_bytes": size,
        "save_s": round(save_s, 2),
        "load_s": round(load_s, 2),
        "reload_same_top1": reloaded_ok,
        "capabilities": engine.probes(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help=f"npz file (default {DATA})")
    parser.add_argument("--n", type=int, default=100_000, help="base vectors used (first n)")
    parser.add_argument("--queries", type=int, default=1000, help="queries used (first q)")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--ef", type=int, nargs="+", default=[10, 20, 40, 80, 160, 320])
    parser.add_argument("--m", type=int, default=16)
    parser.add_argument("--ef-construction", type=int, default=200)
    parser.add_argument("--build-threads", type=int, default=2)
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES[:3]))
    args = parser.parse_args(argv)

    if not args.data.exists():
        parser.error(f"{args.data} not found: pass --data (see shared/data/README.md)")
    with np.load(args.data) as data:
        base = data["base"][: args.n].astype(np.float32)
        queries = data["queries"][: args.queries].astype(np.float32)
        gt = data["gt_cosine_top100"][: args.queries]
    full = base.shape[0] == 100_000
    truth = gt.astype(np.int64) if full else exact_topk(base, queries, args.k)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    classes: dict[str, Callable[[], Engine]] = {
        "hnswlib": Hnswlib,
        "faiss": Faiss,
        "usearch": Usearch,
        "memvec-hnsw": Memvec,
    }
    results = []
    for name in args.engines:
        results.append(
            measure(
                classes[name](),
                base,
                queries,
                truth,
                k=args.k,
                efs=args.ef,
                m=args.m,
                ef_construction=args.ef_construction,
                build_threads=args.build_threads,
                log=log,
            )
        )
    report = {
        "data": args.data.name,
        "n": base.shape[0],
        "queries": queries.shape[0],
        "k": args.k,
        "m": args.m,
        "ef_construction": args.ef_construction,
        "ground_truth": "gt_cosine_top100" if full else "exact over the subset",
        "query_threads": 1,
        "results": results,
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
