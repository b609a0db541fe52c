"""Issue 16: many clients at once, mixing vector writes, KNN queries and deletes.

``memvec bench --only concurrency``. memvec and the peer (valkey + RediSearch 2.10) run
the same load in the same invocation, one after the other, both with ``appendfsync
always`` (memvec ``--appendfsync always``; the peer ``--appendonly yes --appendfsync
always``):

1. An HNSW index (COSINE, M 16, EF_CONSTRUCTION 200, TAG and TEXT fields: the
   ``bench.resp`` document layout) is preloaded with ``docs`` rows of the shared
   embeddings (pipelined, four connections) and waited for.
2. ``clients`` connections (200 at quick and full size) each loop until ``seconds`` are up:
   pick an operation by weight (:data:`MIX`: 50% ``HSET`` of a whole document with its
   384-d vector, 35% ``FT.SEARCH ... KNN 10`` of a held-out query vector, 15% ``DEL``), send
   it, wait for its reply, record the round trip. Keys are drawn uniformly from the preloaded
   ids, so writes overwrite and re-create documents and deletes hit live and dead keys
   alike. Each connection has its own seeded random stream: both servers get the same
   sequence of choices per connection (their counts differ only by how many each
   completes).
3. The KNN queries pass ``EF_RUNTIME`` explicitly (:data:`EF_RUNTIME`, RediSearch's default
   breadth), so both servers do the same graph work whatever their defaults are.

The load generator is one asyncio process (this one) with pre-encoded requests and a
minimal reply reader: at these rates it needs well under one core (its own CPU% is
reported, so a saturated generator would show). Measured per server: completed commands
per second, per-operation p50/p99 and count, errors (with the first texts), the server's
CPU% over the run and its RSS at the end.

Targets (issue 16): throughput >= 1.0x the peer's, p99 over all operations <= the peer's,
0 errors.

A second mix, ``types`` (issue 18, :mod:`bench.type_mix`), runs the same way on a fresh
pair of servers: the same clients and seconds over lists (queue), sorted sets
(leaderboard), streams with a consumer group (XADD MAXLEN ~ / XREADGROUP + XACK), sets and
an INCR + EXPIRE rate limiter. Its results sit under ``types`` in the JSON (params,
summary, samples) and add three target rows to the README table.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import numpy as np

from . import type_mix
from .common import F32, cpu_seconds, latency_histogram, log, pct, target_row
from .resp import (
    PREFIX,
    Target,
    create_args,
    create_index,
    hset_args,
    memvec_server,
    peer_server,
    resp_load,
    server_pid,
    server_rss,
    wait_indexed,
)
from .sizes import Size

INDEX = "conc"
EF_RUNTIME = 10
MIX: tuple[tuple[str, int], ...] = (("hset", 50), ("knn", 35), ("del", 15))
# (clients, seconds, preloaded documents) per size
RUNS = {
    "full": (200, 20.0, 10_000),
    "quick": (200, 10.0, 5_000),
    "toy": (20, 1.5, 300),
}
# (clients, seconds) of the types mix per size
TYPE_RUNS = {"full": (200, 20.0), "quick": (200, 10.0), "toy": (20, 1.0)}
PEER = "redis-stack"
Start = Callable[..., AbstractContextManager[Target]]
Builder = Callable[[random.Random, int], bytes]
FollowUps = dict[str, tuple[str, type_mix.FollowUp]]
SERVERS: tuple[tuple[str, Start], ...] = (("memvec", memvec_server), (PEER, peer_server))


def encode(args: Sequence[bytes | str | int]) -> bytes:
    """One RESP request array."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


class ReplyError(Exception):
    """An error reply (``-ERR ...``) from the server."""


async def read_reply(reader: asyncio.StreamReader) -> Any:
    """One RESP2 reply; an error reply raises :class:`ReplyError` after it is fully read."""
    line = await reader.readline()
    if not line:
        raise ConnectionError("the server closed the connection")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest
    if kind == b"-":
        raise ReplyError(rest.decode(errors="replace"))
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        return None if n < 0 else (await reader.readexactly(n + 2))[:-2]
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [await read_reply(reader) for _ in range(n)]
    raise ConnectionError(f"unexpected reply line {line[:40]!r}")


def requests(base: F32, queries: F32, docs: int) -> dict[str, Builder]:
    """Builders of one request per operation of :data:`MIX`, drawing from ``rng``."""
    knn = f"*=>[KNN 10 @v $B EF_RUNTIME {EF_RUNTIME}]"
    hsets = [encode(hset_args(i, base[i])) for i in range(docs)]
    dels = [encode(["DEL", f"{PREFIX}{i}"]) for i in range(docs)]
    searches = [
        encode(["FT.SEARCH", INDEX, knn, "PARAMS", 2, "B", q.tobytes(), "NOCONTENT",
                "LIMIT", 0, 10, "DIALECT", 2])
        for q in queries
    ]  # fmt: skip
    return {
        "hset": lambda rng, k: hsets[rng.randrange(docs)],
        "knn": lambda rng, k: searches[rng.randrange(len(searches))],
        "del": lambda rng, k: dels[rng.randrange(docs)],
    }


async def drive(
    port: int,
    clients: int,
    seconds: float,
    build: dict[str, Builder],
    mix: tuple[tuple[str, int], ...] = MIX,
    follow: FollowUps | None = None,
) -> dict[str, Any]:
    """Run the mixed load from ``clients`` connections for ``seconds``; raw measurements.
    ``follow``: operation -> (follow-up name, request from its reply), sent next by the
    same client and timed as its own operation."""
    follow = follow or {}
    names = [name for name, _ in mix]
    weights = [w for _, w in mix]
    latencies: dict[str, list[float]] = {name: [] for name in names}
    latencies |= {name: [] for name, _ in follow.values()}
    errors: list[str] = []
    error_count = 0
    conns = [await asyncio.open_connection("127.0.0.1", port) for _ in range(clients)]
    began = time.perf_counter()
    deadline = began + seconds

    async def client(k: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal error_count
        rng = random.Random(k)
        pending: tuple[str, bytes] | None = None
        while time.perf_counter() < deadline:
            if pending is not None:
                op, request = pending
                pending = None
            else:
                op = rng.choices(names, weights)[0]
                request = build[op](rng, k)
            t0 = time.perf_counter()
            writer.write(request)
            try:
                reply = await read_reply(reader)
            except ReplyError as exc:
                error_count += 1
                if len(errors) < 5:
                    errors.append(f"{op}: {exc}")
                continue
            latencies[op].append(time.perf_counter() - t0)
            if op in follow:
                name, make = follow[op]
                nxt = make(reply, request)
                if nxt is not None:
                    pending = (name, nxt)

    try:
        await asyncio.gather(*(client(k, r, w) for k, (r, w) in enumerate(conns)))
    finally:
        elapsed = time.perf_counter() - began
        for _, w in conns:
            w.close()
    return {"elapsed_s": elapsed, "latencies": latencies, "errors": errors,
            "error_count": error_count}  # fmt: skip


def measure_one(
    start: Start, name: str, tmp: Path, base: F32, queries: F32, size: Size
) -> dict[str, Any]:
    clients, seconds, docs = RUNS[size.mode]
    docs = min(docs, len(base))
    build = requests(base, queries, docs)
    with start(tmp, "always", name=name) as t:
        create_index(t, create_args(INDEX, base.shape[1]))
        resp_load(t, base, 0, docs, 4, 100)
        wait_indexed(t, INDEX, docs)
        return measured(t, name, lambda: drive(t.port, clients, seconds, build))


def measure_types(start: Start, name: str, tmp: Path, size: Size) -> dict[str, Any]:
    """The ``types`` mix (:mod:`bench.type_mix`) on a fresh server."""
    clients, seconds = TYPE_RUNS[size.mode]
    build = type_mix.builders(encode)
    follow = type_mix.follow_ups(encode)
    with start(tmp, "always", name=f"{name}-types") as t:
        with t.client() as c:
            type_mix.setup(c)
        return measured(
            t,
            f"{name} types",
            lambda: drive(t.port, clients, seconds, build, type_mix.MIX, follow),
        )


def measured(t: Target, name: str, load: Callable[[], Any]) -> dict[str, Any]:
    """Run ``load`` (a coroutine factory for :func:`drive`) against ``t``; its summary
    (throughput, per-operation p50/p99, errors, server CPU and RSS) and samples: each
    operation's round trips as a :func:`~bench.common.latency_histogram`."""
    pid = server_pid(t)
    cpu0, own0, wall0 = cpu_seconds(pid), cpu_seconds(os.getpid()), time.monotonic()
    raw = asyncio.run(load())
    cpu1, own1, wall1 = cpu_seconds(pid), cpu_seconds(os.getpid()), time.monotonic()
    rss = server_rss(t)
    lat = raw["latencies"]
    done = sum(len(v) for v in lat.values())
    every = [x * 1e3 for v in lat.values() for x in v]
    per_op = {
        op: {"count": len(v), "p50_ms": pct([x * 1e3 for x in v], 50),
             "p99_ms": pct([x * 1e3 for x in v], 99)}
        for op, v in lat.items()
    }  # fmt: skip
    summary = {
        "commands_per_s": round(done / raw["elapsed_s"], 1),
        "completed": done,
        "p50_ms": pct(every, 50),
        "p99_ms": pct(every, 99),
        "ops": per_op,
        "errors": raw["error_count"],
        "first_errors": raw["errors"],
        "server_cpu_percent": round(100 * (cpu1 - cpu0) / (wall1 - wall0), 1),
        "generator_cpu_percent": round(100 * (own1 - own0) / (wall1 - wall0), 1),
        "server_rss_mb": round(rss / 2**20, 1),
    }
    log(f"concurrency {name}: {summary['commands_per_s']} cmd/s, p99 {summary['p99_ms']} ms, "
        f"{summary['errors']} errors, server CPU {summary['server_cpu_percent']}%")  # fmt: skip
    # per-operation round trips as 1%-wide bins: every sample of a full run was ~23 MB
    samples = {op: latency_histogram([x * 1e3 for x in v]) for op, v in lat.items()}
    return {"summary": summary, "samples": samples}


def run(size: Size, data: tuple[F32, F32, Any], tmp: Path) -> dict[str, Any]:
    """The benchmark envelope (see :mod:`bench.common`) for ``memvec bench``."""
    base, queries, _ = data
    clients, seconds, docs = RUNS[size.mode]
    results = {name: measure_one(start, name, tmp, base, queries, size)
               for name, start in SERVERS}  # fmt: skip
    typed = {name: measure_types(start, name, tmp, size) for name, start in SERVERS}
    m, p = results["memvec"]["summary"], results[PEER]["summary"]
    tm, tp = typed["memvec"]["summary"], typed[PEER]["summary"]
    type_clients, type_seconds = TYPE_RUNS[size.mode]
    return {
        "params": {"clients": clients, "seconds": seconds, "preloaded_docs": min(docs, len(base)),
                   "dim": int(base.shape[1]), "mix_percent": dict(MIX), "k": 10,
                   "ef_runtime": EF_RUNTIME, "index": "HNSW M 16 EF_CONSTRUCTION 200 COSINE",
                   "appendfsync": "always"},
        "samples": {name: r["samples"] for name, r in results.items()},
        "summary": {name: r["summary"] for name, r in results.items()},
        "types": {
            "params": {"clients": type_clients, "seconds": type_seconds,
                       "keys_per_app": type_mix.KEYS, "mix_percent": dict(type_mix.MIX),
                       "follow_ups": list(type_mix.FOLLOW_UPS), "appendfsync": "always"},
            "summary": {name: r["summary"] for name, r in typed.items()},
            "samples": {name: r["samples"] for name, r in typed.items()},
        },
        "baseline": f"{PEER} (valkey + RediSearch 2.10), same load, same run",
        "targets": [
            target_row(
                f"{clients}-client mix (HSET 50% / KNN 35% / DEL 15%) throughput",
                m["commands_per_s"], p["commands_per_s"], PEER, ">= 1.0x",
                m["commands_per_s"] >= p["commands_per_s"], unit="cmd/s",
            ),
            target_row(
                f"{clients}-client mix p99 (p50 {m['p50_ms']} vs {p['p50_ms']} ms)",
                m["p99_ms"], p["p99_ms"], PEER, "<= 1.0x", m["p99_ms"] <= p["p99_ms"],
                unit="ms",
            ),
            target_row(
                f"{clients}-client mix errors", m["errors"], p["errors"], PEER, "0",
                m["errors"] == 0, value_ratio=None, unit="errors",
            ),
            target_row(
                f"{type_clients}-client types mix (lists/zsets/streams/sets/INCR) throughput",
                tm["commands_per_s"], tp["commands_per_s"], PEER, ">= 1.0x",
                tm["commands_per_s"] >= tp["commands_per_s"], unit="cmd/s",
            ),
            target_row(
                f"{type_clients}-client types mix p99 (p50 {tm['p50_ms']} vs {tp['p50_ms']} ms)",
                tm["p99_ms"], tp["p99_ms"], PEER, "<= 1.0x", tm["p99_ms"] <= tp["p99_ms"],
                unit="ms",
            ),
            target_row(
                f"{type_clients}-client types mix errors", tm["errors"], tp["errors"], PEER,
                "0", tm["errors"] == 0, value_ratio=None, unit="errors",
            ),
        ],
    }  # fmt: skip


def plot(res: dict[str, Any], out_dir: Path) -> list[str]:
    """``concurrency_throughput.png`` and ``concurrency_latency.png`` (p50/p99 per op)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def save(fig: Any, name: str) -> str:
        fig.tight_layout()
        fig.savefig(out_dir / name, dpi=110)
        plt.close(fig)
        return name

    summary = res["summary"]
    names = list(summary)
    fig, ax = plt.subplots(figsize=(6, 4))
    bars = ax.bar(names, [summary[n]["commands_per_s"] for n in names],
                  color=["tab:blue" if n == "memvec" else "tab:gray" for n in names])  # fmt: skip
    ax.bar_label(bars, fmt="%.0f", fontsize=8)
    ax.set_title(f"{res['params']['clients']} clients, mixed load ({res['mode']})")
    ax.set_ylabel("completed commands per second")
    ax.set_xlabel("server")
    first = save(fig, "concurrency_throughput.png")

    ops = [name for name, _ in MIX]
    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.8 / (2 * len(names))
    xs = np.arange(len(ops))
    for i, name in enumerate(names):
        for j, q in enumerate(("p50_ms", "p99_ms")):
            vals = [summary[name]["ops"][op][q] for op in ops]
            ax.bar(xs + (2 * i + j) * width, vals, width, label=f"{name} {q[:3]}")
    ax.set_xticks(xs + width * (len(names) - 0.5), ops)
    ax.set_ylabel("round trip (ms)")
    ax.set_xlabel("operation")
    ax.set_title("Per-operation latency under the mixed load")
    ax.legend(fontsize=8)
    return [first, save(fig, "concurrency_latency.png")]
