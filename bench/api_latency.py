"""p50/p99 latency of ``POST /v1/search`` on a 100k-document store, 1, 8 and 32 clients.

A server subprocess builds an in-memory embedded store from the shared real embeddings
(``$MEMVEC_BENCH_DATA``, default ``<checkout>/../shared/data/pypi-minilm-100k.npz``:
100k x 384, COSINE HNSW M 16 EF_CONSTRUCTION 200, plus a TAG and a NUMERIC field per
document), loads the embedding model (torch threads = ``ApiSettings.embed_threads``, as
``memvec api`` sets them) and serves the API
with uvicorn on a loopback port. This process is the load generator: ``c`` asyncio
workers on one ``httpx.AsyncClient`` send back-to-back requests (closed loop) until
``--requests`` have completed per case, after a warm-up. Cases: vector queries (the held-out
query vectors) and text queries (sentences embedded by the server), k=10, ef_runtime=100.

Run from the repository root::

    .venv/bin/python -m bench.api_latency [--docs 100000] [--requests 300]
        [--out bench/results/api_latency.json]

Both processes share the machine's cores, so the numbers include the load generator's
own CPU use; compare cases within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from .common import DATA

TEXTS = [
    "parse command line arguments",
    "fast json serialization library",
    "http client with async support",
    "machine learning model training utilities",
    "read and write excel spreadsheets",
    "command line progress bar",
    "database migrations for sqlalchemy",
    "image processing and resizing",
    "test fixtures for pytest",
    "aws s3 file upload helper",
    "natural language processing toolkit",
    "plot charts in the terminal",
    "schedule periodic background jobs",
    "validate data with type hints",
    "web scraping with css selectors",
    "cryptographic hashing and signatures",
]


def serve(docs: int, port: int) -> None:
    import uvicorn

    from pipeline.api import ApiSettings, EmbeddedStore, create_app
    from pipeline.embedding import LocalEmbedder
    from store import Engine, EngineConfig

    base = np.load(DATA)["base"][:docs].astype(np.float32)
    engine = Engine(EngineConfig(data_dir=None)).start()
    engine.execute(
        "FT.CREATE", "bench", "ON", "HASH", "PREFIX", "1", "d:", "SCHEMA",
        "source", "TAG", "chunk", "NUMERIC",
        "vec", "VECTOR", "HNSW", "10", "TYPE", "FLOAT32", "DIM", "384",
        "DISTANCE_METRIC", "COSINE", "M", "16", "EF_CONSTRUCTION", "200",
    )  # fmt: skip
    began = time.perf_counter()
    for start in range(0, docs, 1000):
        engine.execute_many(
            [
                ["HSET", f"d:{i}", "vec", base[i].tobytes(), "text", f"document {i}",
                 "source", f"src{i % 100}", "chunk", str(i % 10)]
                for i in range(start, min(docs, start + 1000))
            ]
        )  # fmt: skip
    load_s = time.perf_counter() - began
    import torch

    settings = ApiSettings(index="bench")
    torch.set_num_threads(settings.embed_threads)  # as `memvec api` does
    app = create_app(settings, EmbeddedStore(engine), LocalEmbedder())
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    print(json.dumps({"ready": True, "docs": docs, "load_s": round(load_s, 1)}), flush=True)
    uvicorn.Server(config).run()


async def run_case(
    url: str, bodies: list[dict[str, Any]], clients: int, total: int
) -> dict[str, Any]:
    import httpx

    latencies: list[float] = []
    issued = 0
    errors = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:

        async def worker() -> None:
            nonlocal issued, errors
            while issued < total:
                body = bodies[issued % len(bodies)]
                issued += 1
                t0 = time.perf_counter()
                r = await http.post("/v1/search", json=body)
                latencies.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    errors += 1

        for body in bodies[: min(20, len(bodies))]:  # warm-up
            await http.post("/v1/search", json=body)
        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        wall = time.perf_counter() - began
    ms = sorted(x * 1000 for x in latencies)
    return {
        "clients": clients,
        "requests": len(ms),
        "errors": errors,
        "p50_ms": round(statistics.median(ms), 2),
        "p99_ms": round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 2),
        "qps": round(len(ms) / wall, 1),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--port", type=int, default=18080)
    ap.add_argument("--out", default="bench/results/api_latency.json")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.docs, args.port)
        return 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.api_latency", "--serve", "--docs", str(args.docs),
         "--port", str(args.port)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        ready = json.loads(proc.stdout.readline())
        url = f"http://127.0.0.1:{args.port}"
        import httpx

        for _ in range(600):
            try:
                if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        queries = np.load(DATA)["queries"].astype(np.float32)
        vector_bodies = [{"vector": q.tolist(), "k": 10, "ef_runtime": 100} for q in queries[:200]]
        text_bodies = [{"query": t, "k": 10, "ef_runtime": 100} for t in TEXTS]
        results: dict[str, Any] = {"docs": ready["docs"], "load_s": ready["load_s"], "cases": []}
        for kind, bodies in (("vector", vector_bodies), ("text", text_bodies)):
            for clients in (1, 8, 32):
                row = asyncio.run(run_case(url, bodies, clients, args.requests))
                row["kind"] = kind
                results["cases"].append(row)
                print(
                    f"{kind:6} clients={clients:2}  p50 {row['p50_ms']:7.2f} ms  "
                    f"p99 {row['p99_ms']:7.2f} ms  {row['qps']:7.1f} req/s  "
                    f"errors {row['errors']}",
                    flush=True,
                )
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    finally:
        proc.terminate()
        proc.wait(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
