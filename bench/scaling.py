"""The measured inputs of docs/scaling.md: memory per 768-d document, and the merge cost.

Usage: ``python -m bench.scaling [--docs 20000] [--dim 768] [--m 16,32] [--out FILE]``

1. **Memory per document**: for each ``M``, one ``memvec server`` (``--appendfsync
   everysec``) gets an HNSW index (COSINE, ``EF_CONSTRUCTION`` 200) and ``docs`` hashes
   laid out as in the memory benchmark (``bench.resp``: a ``dim``-d FLOAT32 vector, a TAG
   and ~200 bytes of TEXT), loaded pipelined from 4 connections; the ``used_memory`` and
   RSS deltas divided by ``docs`` are the bytes per document. Vectors are random (the
   graph's size does not depend on the values); an empty server's baseline is subtracted.
2. **Merge cost**: the coordinator's share of a cross-shard KNN query is merging one
   sorted top-``k`` list per shard; timed here with :func:`heapq.merge` over ``shards`` x
   ``k`` (distance, id) pairs for 1-256 shards (Python, one core), so the model's
   ``fan-out latency = max(shard latencies) + merge`` has a measured second term.

Prints one JSON object (and writes it to ``--out`` when given).
"""

from __future__ import annotations

import argparse
import heapq
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from .resp import create_args, create_index, memvec_server, resp_load, server_rss, used_memory

__all__ = ["main", "measure_memory", "measure_merge"]


def measure_memory(docs: int, dim: int, m: int, tmp: Path) -> dict[str, Any]:
    """Bytes per document (section 1) at ``dim`` dimensions and HNSW ``M`` = ``m``."""
    base = np.random.default_rng(7).standard_normal((docs, dim)).astype(np.float32)
    with memvec_server(tmp, "everysec") as t:
        used0, rss0 = used_memory(t), server_rss(t)
        create_index(t, create_args("scaling", dim, m, 200, "HNSW"))
        t0 = time.perf_counter()
        resp_load(t, base, 0, docs, 4, 200)
        load_s = time.perf_counter() - t0
        used1, rss1 = used_memory(t), server_rss(t)
    return {
        "docs": docs,
        "dim": dim,
        "m": m,
        "used_memory_bytes_per_doc": round((used1 - used0) / docs),
        "rss_bytes_per_doc": round((rss1 - rss0) / docs),
        "load_docs_per_s": round(docs / load_s),
    }


def measure_merge(k: int = 10, rounds: int = 2000) -> dict[str, float]:
    """Microseconds to merge one sorted top-``k`` list per shard (section 2)."""
    rng = np.random.default_rng(3)
    out: dict[str, float] = {}
    for shards in (1, 3, 10, 30, 100, 256):
        lists = [sorted(zip(rng.random(k).tolist(), range(k), strict=True)) for _ in range(shards)]
        t0 = time.perf_counter()
        for _ in range(rounds):
            list(heapq.merge(*lists))[:k]
        out[str(shards)] = round((time.perf_counter() - t0) / rounds * 1e6, 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--m", default="16,32", help="comma-separated HNSW M values")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    result: dict[str, Any] = {"memory": [], "merge_us_by_shards_k10": measure_merge()}
    with tempfile.TemporaryDirectory(prefix="memvec-scaling-") as tmp:
        for m in (int(x) for x in args.m.split(",")):
            result["memory"].append(measure_memory(args.docs, args.dim, m, Path(tmp)))
    text = json.dumps(result, indent=2)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
