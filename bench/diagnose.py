"""Diagnostics behind the benchmark notes: where a restart's time and a document's bytes go.

- ``restart``: a memvec server loads ``--docs`` documents (HNSW + TAG + TEXT, as
  ``bench.durability`` does), takes a snapshot, gets a 1% log tail and is SIGKILLed; the
  restart then runs under ``py-spy record`` from process start until FT.INFO shows every
  document and a KNN answers. Writes ``<out>/restart-memvec-<docs>.speedscope.json``.
- ``memory``: an embedded engine (no server, no log) loads ``--docs`` documents for each
  schema (no index, vector, vector + TAG, vector + TAG + TEXT) in a fresh process each, and
  prints RSS and ``used_memory()`` per document: what each part of a document costs.
- ``dump``: DUMP and RESTORE of one string of 1 MB to 512 MB (``SETRANGE``, mostly zeros,
  so LZF-compressed) on a memvec server and on the peer, one after the other: seconds
  each (the event loop is busy that long) and whether the payloads are byte-identical
  (decision 0020).
- ``strings``: APPEND, SETRANGE, SETBIT, GETBIT and STRLEN on a 1 MB and a 64 MB string,
  one client, microseconds per call; then 100,000 APPENDs of 100 bytes building one
  10 MB string: seconds. memvec then the peer (decision 0022: strings written in place).

    python -m bench.diagnose restart [--docs 20000] [--out bench/results/profiles]
    python -m bench.diagnose memory [--docs 10000]
    python -m bench.diagnose dump
    python -m bench.diagnose strings
    python -m bench.diagnose big-values [--docs 200000]

- ``big-values``: per-call microseconds of commands whose cost once grew with the size
  of the value (a hash, set, sorted set and list of ``--docs`` elements; as many keys
  for RANDOMKEY), memvec then the peer; then an idle server's CPU with ``--docs`` keys
  holding a TTL none of which is due, and SET per second under ``maxmemory``.
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import redis

from .common import cpu_seconds, load_data, log, rss_bytes
from .durability import ready_after_restart
from .resp import (
    Target,
    create_args,
    create_index,
    hset_args,
    memvec_server,
    peer_server,
    resp_load,
    server_pid,
)

SCHEMAS: dict[str, list[str] | None] = {
    "none": None,
    "vector": [],
    "vector+tag": ["tag", "TAG"],
    "vector+tag+text": ["tag", "TAG", "text", "TEXT"],
}


def restart_profile(docs: int, out: Path) -> Path:
    base, queries, _ = load_data()
    path = out / f"restart-memvec-{docs}.speedscope.json"
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="memvec-diagnose-") as tmp_s:
        tmp = Path(tmp_s)
        d = tmp / "data"
        d.mkdir()
        with memvec_server(tmp, data_dir=d) as t:
            create_index(t, create_args("idx", base.shape[1]))
            resp_load(t, base, 0, docs, 2, 500)
            with t.client() as c:
                c.execute_command("SAVE")
            resp_load(t, base, 0, max(1, docs // 100), 1, 100)
            time.sleep(1.5)
            os.kill(server_pid(t), signal.SIGKILL)
        spy = Path(sys.executable).parent / "py-spy"
        argv = [str(spy), "record", "--format", "speedscope", "--output", str(path),
                "--rate", "500", "--", sys.executable, "-m", "pipeline.cli", "server",
                "--port", "auto", "--dir", str(d), "--loglevel", "warning"]  # fmt: skip
        began = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        port = next(int(m.group(1)) for line in proc.stdout
                    if (m := re.search(r"ready on [^ ]*:(\d+)", line)))  # fmt: skip
        ready_after_restart(Target("memvec", port, None), docs, queries[0])
        log(f"restart of {docs} documents under py-spy: {time.perf_counter() - began:.2f} s")
        server = Target("memvec", port, proc.pid)
        os.kill(server_pid(server), signal.SIGTERM)
        proc.wait(120)
    return path


def memory_row(schema: str, docs: int) -> str:
    """RSS and used_memory per document for one schema (run in a fresh process)."""
    from store import Engine, EngineConfig

    base = load_data()[0][:docs]
    fields = SCHEMAS[schema]
    eng = Engine(EngineConfig(data_dir=None)).start()
    if fields is not None:
        eng.execute(*create_args("idx", base.shape[1], fields=fields))
    gc.collect()
    rss0, used0 = rss_bytes(), eng.used_memory()  # used0: the fixed startup part
    for s in range(0, docs, 500):
        eng.execute_many([hset_args(i, base[i]) for i in range(s, min(docs, s + 500))])
    gc.collect()
    rss, used = (rss_bytes() - rss0) / docs, (eng.used_memory() - used0) / docs
    return f"{schema:18} RSS bytes/doc {rss:6.0f}  used_memory bytes/doc {used:6.0f}"


def dump_restore_rows(sizes: Sequence[int] = (1 << 20, 1 << 24, 1 << 27, 1 << 29)) -> None:
    """Print DUMP/RESTORE seconds per string size, memvec then the peer."""
    payloads: dict[int, bytes] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for start in (memvec_server, peer_server):
            with start(Path(tmp)) as t:
                client = t.client()
                for size in sizes:
                    client.setrange("k", size - 1, "v")
                    began = time.perf_counter()
                    payload = client.dump("k")
                    assert isinstance(payload, bytes)
                    dumped = time.perf_counter()
                    client.restore("k2", 0, payload)
                    restored = time.perf_counter()
                    same = payloads.setdefault(size, payload) == payload
                    print(f"{t.name:12} {size >> 20:4} MB  DUMP {dumped - began:7.3f} s  "
                          f"RESTORE {restored - dumped:7.3f} s  payload {len(payload):,} B"
                          f"{'' if same else '  DIFFERS from memvec'}", flush=True)  # fmt: skip
                    client.delete("k", "k2")


def _string_call_timings(c: redis.Redis, calls: int) -> dict[str, float]:
    """Microseconds per call of each string command on the key ``k``."""
    return {
        "SETBIT": _per_call_us(lambda i: c.setbit("k", i * 8 + 1, i & 1), calls),
        "APPEND": _per_call_us(lambda i: c.append("k", b"0123456789"), calls),
        "SETRANGE": _per_call_us(lambda i: c.setrange("k", 1000 + i, b"ab"), calls),
        "GETBIT": _per_call_us(lambda i: c.getbit("k", i), calls),
        "STRLEN": _per_call_us(lambda i: c.strlen("k"), calls),
    }


def string_write_rows(sizes: Sequence[int] = (1 << 20, 1 << 26), calls: int = 50) -> None:
    """Print per-call microseconds of string writes and reads, memvec then the peer."""
    with tempfile.TemporaryDirectory() as tmp:
        for start in (memvec_server, peer_server):
            with start(Path(tmp)) as t:
                c = t.client()
                row = [f"{t.name:12}"]
                for size in sizes:
                    c.delete("k")
                    c.setrange("k", size - 1, "v")
                    timings = _string_call_timings(c, calls)
                    row.append(f"{size >> 20} MB: " + " ".join(
                        f"{name} {us:,.0f} us" for name, us in timings.items()))  # fmt: skip
                c.delete("log")
                began = time.perf_counter()
                for _ in range(100_000):
                    c.append("log", b"x" * 100)
                row.append(f"100,000 APPENDs -> {c.strlen('log') / 1e6:.0f} MB: "
                           f"{time.perf_counter() - began:.2f} s")  # fmt: skip
                print("  ".join(row), flush=True)


def _per_call_us(run: Callable[[int], object], calls: int = 50) -> float:
    """Mean microseconds of ``calls`` calls after one warm-up call (which builds a set's
    random pool, for one)."""
    run(0)
    began = time.perf_counter()
    for i in range(calls):
        run(i)
    return (time.perf_counter() - began) / calls * 1e6


def _fill(c: redis.Redis, n: int) -> None:
    """A hash, a set, a sorted set and a list of ``n`` elements, and ``n`` keys with a TTL."""
    pipe = c.pipeline(transaction=False)
    for s in range(0, n, 2000):
        names = [f"m{i}" for i in range(s, min(n, s + 2000))]
        pipe.hset("h", mapping=dict.fromkeys(names, "v"))
        pipe.sadd("s", *names)
        pipe.zadd("z", {m: i for i, m in enumerate(names, s)})
        pipe.rpush("l", *names)
        for m in names:
            pipe.set(f"k:{m}", "v", ex=1_000_000)
        pipe.execute()


def _big_value_timings(c: redis.Redis, n: int) -> dict[str, float]:
    cursor = c.hscan("h", 0, count=10)[0]
    return {
        "HSCAN page": _per_call_us(lambda i: c.hscan("h", cursor, count=10)),
        "SPOP": _per_call_us(lambda i: c.spop("s")),
        "SRANDMEMBER 5": _per_call_us(lambda i: c.srandmember("s", 5)),
        "ZRANDMEMBER": _per_call_us(lambda i: c.zrandmember("z")),
        "LPUSH+LTRIM": _per_call_us(lambda i: (c.lpush("l", "x"), c.ltrim("l", 0, n - 1))),
        "LREM 1": _per_call_us(lambda i: c.lrem("l", 1, "x")),
        "LPOS miss": _per_call_us(lambda i: c.lpos("l", "nope"), 3),
        "RANDOMKEY": _per_call_us(lambda i: c.randomkey()),
        "MEMORY USAGE z": _per_call_us(lambda i: c.memory_usage("z")),
    }


def big_value_rows(n: int) -> None:
    """Print the big-values rows (module docstring), memvec then the peer."""
    with tempfile.TemporaryDirectory() as tmp:
        for start in (memvec_server, peer_server):
            with start(Path(tmp)) as t:
                c = t.client()
                _fill(c, n)
                timings = _big_value_timings(c, n)
                pid = server_pid(t)
                time.sleep(0.5)
                cpu0, wall0 = cpu_seconds(pid), time.perf_counter()
                time.sleep(3)
                idle = (cpu_seconds(pid) - cpu0) / (time.perf_counter() - wall0) * 100
                c.config_set("maxmemory", str(64 << 30))
                began, sets = time.perf_counter(), 0
                while time.perf_counter() - began < 2:
                    c.set("probe", "v")
                    sets += 1
                rate = sets / (time.perf_counter() - began)
                c.config_set("maxmemory", "0")
                print(f"{t.name:12} {n:,} elements: " + "  ".join(
                    f"{name} {us:,.0f} us" for name, us in timings.items())
                    + f"  idle CPU with {n:,} TTLs {idle:.1f}%  SET/s under maxmemory {rate:,.0f}",
                    flush=True)  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument(
        "what", choices=("restart", "memory", "memory-row", "dump", "strings", "big-values")
    )
    ap.add_argument("--docs", type=int, default=None)
    ap.add_argument("--schema", choices=sorted(SCHEMAS), default="vector+tag+text")
    ap.add_argument("--out", type=Path, default=Path("bench/results/profiles"))
    args = ap.parse_args(argv)
    if args.what == "restart":
        print(restart_profile(args.docs or 20_000, args.out))
    elif args.what == "dump":
        dump_restore_rows()
    elif args.what == "strings":
        string_write_rows()
    elif args.what == "big-values":
        big_value_rows(args.docs or 200_000)
    elif args.what == "memory-row":
        print(memory_row(args.schema, args.docs or 10_000), flush=True)
    else:
        for schema in SCHEMAS:
            cmd = [sys.executable, "-m", "bench.diagnose", "memory-row", "--schema", schema,
                   "--docs", str(args.docs or 10_000)]  # fmt: skip
            subprocess.run(cmd, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
