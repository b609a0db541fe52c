"""RESP targets for benchmarks: memvec and the peer as processes, loading, KNN query runs.

- :func:`memvec_server` and :func:`peer_server` start a server process (memvec's
  ``memvec server`` and the redis-stack peer of ``tests.harness``: valkey + RediSearch
  2.10) and yield a :class:`Target` (name, port, pid); both stop the process on exit.
  Either may reuse a data directory (restart measurements).
- Documents are hashes ``d:<row>`` with ``v`` (FLOAT32 vector), ``tag`` and ~200 bytes of
  ``text`` (:func:`hset_args`); :func:`create_args` builds the ``FT.CREATE`` for an HNSW or
  FLAT index over them.
- :func:`resp_load` pipelines HSETs from several connections; :func:`query_run` sends
  ``FT.SEARCH ... KNN 10`` from one connection in this process or from ``clients`` forked
  processes at once, and returns latencies, recall@10, QPS and the server's CPU%.
"""

from __future__ import annotations

import multiprocessing
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import redis

from .common import F32, cpu_seconds, pct, rss_bytes
from .profiling import profiled

PREFIX = "d:"
TEXT_FILLER = "a short package summary padded to about two hundred bytes "
READY = re.compile(r"memvec server ready on [^ ]*:(\d+)")


def text_of(i: int) -> bytes:
    return f"document {i}: {TEXT_FILLER}".encode().ljust(200, b"x")


def hset_args(i: int, vec: F32) -> list[bytes | str]:
    return ["HSET", f"{PREFIX}{i}", "v", vec.tobytes(), "tag", f"t{i % 10}", "text", text_of(i)]


def create_args(
    index: str,
    dim: int,
    m: int = 16,
    ef_construction: int = 200,
    algorithm: str = "HNSW",
    fields: Sequence[str | int] = ("tag", "TAG", "text", "TEXT"),
    metric: str = "COSINE",
) -> list[str | int]:
    """FT.CREATE over ``d:`` hashes: vector ``v`` (``metric``) plus ``fields`` (TAG and
    TEXT)."""
    vector: list[str | int] = ["TYPE", "FLOAT32", "DIM", dim, "DISTANCE_METRIC", metric]
    if algorithm == "HNSW":
        vector += ["M", m, "EF_CONSTRUCTION", ef_construction]
    return [
        "FT.CREATE", index, "ON", "HASH", "PREFIX", 1, PREFIX, "SCHEMA",
        "v", "VECTOR", algorithm, len(vector), *vector, *fields,
    ]  # fmt: skip


@dataclass
class Target:
    name: str
    port: int
    pid: int | None

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, protocol=2, socket_timeout=300)


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def memvec_server(
    tmp: Path,
    policy: str = "everysec",
    *,
    data_dir: Path | None = None,
    extra_args: Sequence[str] = (),
    name: str = "memvec",
) -> Iterator[Target]:
    """``memvec server`` on a free port; its data dir is ``data_dir`` (kept) or a temp dir."""
    d = data_dir or Path(tempfile.mkdtemp(dir=tmp, prefix=f"memvec-{policy}-"))
    argv = [sys.executable, "-m", "pipeline.cli", "server", "--port", "auto", "--dir", str(d)]
    argv += ["--appendfsync", policy, "--loglevel", "warning", *extra_args]
    if setpriv := shutil.which("setpriv"):
        argv = [setpriv, "--pdeathsig", "KILL", "--", *argv]
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True, text=True
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if m := READY.search(line):
                break
        else:
            raise RuntimeError(f"memvec server did not start (rc {proc.wait()}): run {argv}")
        with profiled(proc.pid, f"{name}-{m.group(1)}".replace(" ", "_")):
            yield Target(name, int(m.group(1)), proc.pid)
    finally:
        _stop(proc)
        if data_dir is None:
            shutil.rmtree(d, ignore_errors=True)


@contextmanager
def peer_server(
    tmp: Path,
    policy: str | None = None,
    *,
    data_dir: Path | None = None,
    extra_args: Sequence[str] = (),
    name: str = "redis-stack",
) -> Iterator[Target]:
    """The peer (valkey + RediSearch); ``policy`` None means no AOF, else AOF with it."""
    from tests.harness.components import RedisStack

    d = data_dir or Path(tempfile.mkdtemp(dir=tmp, prefix="peer-"))
    args = ["--dir", str(d), *extra_args]
    if policy is not None:
        args = ["--appendonly", "yes", "--appendfsync", policy, *args]
    stack = RedisStack(extra_args=args, log_dir=tmp, startup_timeout_s=600)
    try:
        stack.start()
        yield Target(name, stack.port, stack.pid)
    finally:
        stack.stop()
        if data_dir is None:
            shutil.rmtree(d, ignore_errors=True)


def server_pid(t: Target) -> int:
    """The server process (the child of a wrapper when there is one)."""
    assert t.pid is not None
    try:
        children = Path(f"/proc/{t.pid}/task/{t.pid}/children").read_text().split()
        if children:
            return int(children[0])
    except OSError:
        pass
    return t.pid


def server_rss(t: Target) -> int:
    return rss_bytes(server_pid(t))


def used_memory(t: Target) -> int:
    with t.client() as c:
        return int(c.info("memory")["used_memory"])


def create_index(t: Target, args: Sequence[str | int]) -> None:
    with t.client() as c:
        c.execute_command(*args)


def ft_info(t: Target, index: str) -> dict[str, Any]:
    with t.client() as c:
        flat = c.execute_command("FT.INFO", index)
    keys = [k.decode() if isinstance(k, bytes) else str(k) for k in flat[0::2]]
    return dict(zip(keys, flat[1::2], strict=True))


def wait_indexed(t: Target, index: str, docs: int, timeout_s: float = 1800) -> None:
    """Block until ``index`` holds ``docs`` documents and reports indexing finished."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            info = ft_info(t, index)
            if int(info["num_docs"]) >= docs and float(info.get("percent_indexed", 1)) >= 1:
                return
        except redis.ResponseError as exc:
            if "LOADING" not in str(exc) and "Unknown index" not in str(exc):
                raise
        if time.monotonic() > deadline:
            raise TimeoutError(f"{t.name}: {index} did not reach {docs} documents in time")
        time.sleep(0.02)


def resp_load(t: Target, base: F32, lo: int, hi: int, clients: int, pipeline: int) -> float:
    """Pipelined HSET of rows [lo, hi) from ``clients`` connections; elapsed seconds."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(clients + 1)

    def worker(k: int) -> None:
        try:
            with t.client() as c:
                rows = list(range(lo + k, hi, clients))
                barrier.wait()
                for s in range(0, len(rows), pipeline):
                    pipe = c.pipeline(transaction=False)
                    for i in rows[s : s + pipeline]:
                        pipe.execute_command(*hset_args(i, base[i]))
                    pipe.execute()
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for th in ts:
        th.start()
    try:
        barrier.wait()
    except threading.BrokenBarrierError:
        pass
    began = time.perf_counter()
    for th in ts:
        th.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - began


# -- KNN queries -----------------------------------------------------------------------
_QUERIES: F32 = np.empty((0, 0), dtype=np.float32)


def knn_query(ef: int | None, where: str = "*") -> str:
    """The KNN 10 query string, over the documents ``where`` matches (``*``: all)."""
    return f"{where}=>[KNN 10 @v $B EF_RUNTIME {ef}]" if ef else f"{where}=>[KNN 10 @v $B]"


def _query_rows(job: tuple[int, str, str, list[int]]) -> tuple[float, float, list[float], list]:
    """One client: (start, end, latencies in s, returned row ids per query)."""
    port, index, query, rows = job
    lat: list[float] = []
    ids: list[list[int]] = []
    with redis.Redis(host="127.0.0.1", port=port, protocol=2, socket_timeout=300) as c:
        c.ping()
        began = time.monotonic()
        for j in rows:
            t0 = time.perf_counter()
            reply = c.execute_command(
                "FT.SEARCH", index, query, "PARAMS", 2, "B", _QUERIES[j].tobytes(),
                "NOCONTENT", "LIMIT", 0, 10, "DIALECT", 2,
            )  # fmt: skip
            lat.append(time.perf_counter() - t0)
            ids.append([int(k.decode()[len(PREFIX) :]) for k in reply[1:]])
        return began, time.monotonic(), lat, ids


def warm_up(t: Target, index: str, queries: int) -> None:
    """Send the first ``queries`` KNN queries once from this process, unmeasured."""
    _query_rows((t.port, index, knn_query(None), list(range(min(queries, len(_QUERIES))))))


class QueryClients:
    """``clients`` query senders: this process alone, or a pool of forked processes."""

    def __init__(self, queries: F32, clients: int) -> None:
        global _QUERIES
        _QUERIES = queries
        self.clients = clients
        self._pool = multiprocessing.get_context("fork").Pool(clients) if clients > 1 else None

    def __enter__(self) -> QueryClients:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()

    def run(
        self, t: Target, index: str, ef: int | None, gt: npt.NDArray[Any], where: str = "*"
    ) -> dict[str, Any]:
        """Every query once, split round-robin over the clients; one point of a sweep.
        ``where`` filters the documents (``gt`` is then the filtered truth)."""
        n = len(_QUERIES)
        jobs = [(t.port, index, knn_query(ef, where), list(range(k, n, self.clients)))
                for k in range(self.clients)]  # fmt: skip
        pid = server_pid(t)
        cpu0, wall0 = cpu_seconds(pid), time.monotonic()
        parts = self._pool.map(_query_rows, jobs) if self._pool else [_query_rows(jobs[0])]
        cpu1, wall1 = cpu_seconds(pid), time.monotonic()
        began, ended = min(p[0] for p in parts), max(p[1] for p in parts)
        lat_ms = [x * 1e3 for p in parts for x in p[2]]
        hits = sum(
            len(set(got) & set(gt[j, :10].tolist()))
            for (_, _, _, rows), p in zip(jobs, parts, strict=True)
            for j, got in zip(rows, p[3], strict=True)
        )
        return {
            "ef": ef,
            "clients": self.clients,
            "queries": n,
            "recall_at_10": round(hits / (10 * n), 4),
            "qps": round(n / (ended - began), 1),
            "p50_ms": pct(lat_ms, 50),
            "p99_ms": pct(lat_ms, 99),
            "server_cpu_percent": round(100 * (cpu1 - cpu0) / (wall1 - wall0), 1),
            "latencies_ms": [round(x, 3) for x in lat_ms],
        }


def write_throughput(
    start: Any, t_args: dict[str, Any], base: F32, index_args: Sequence[str | int],
    n: int, clients: int, pipeline: int, tmp: Path,
) -> float:  # fmt: skip
    """Vectors/s of ``n`` pipelined HSETs into a fresh server made by ``start``."""
    with start(tmp, **t_args) as t:
        create_index(t, index_args)
        seconds = resp_load(t, base, 0, n, clients, pipeline)
    return n / seconds
