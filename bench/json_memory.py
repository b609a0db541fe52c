"""Memory per JSON document with a 384-d vector: memvec against the peer (RedisJSON 2.8 in
redis-stack), and against the same document as a hash with the vector as FLOAT32 bytes.

Usage: python -m bench.json_memory [N]   (default 5000 documents per case)

For each case the script loads N documents into a fresh memvec server process and into
the peer, and reports the delta of ``INFO memory`` ``used_memory`` (memvec: its dataset
estimate; the peer: allocator bytes) and of ``used_memory_rss`` (resident memory of the
process: the number that is real for memvec, whose estimate is a formula) divided by N.
The document is ``{"id": n, "tag": "t<n%10>", "vec": [384 floats]}``; the hash holds the
same fields with ``vec`` as 1,536 FLOAT32 bytes. Results go to stdout as a table.
"""

from __future__ import annotations

import json
import random
import struct
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

DIM = 384


def vector(n: int) -> list[float]:
    rng = random.Random(n)
    # float32 values, as an embedding would hold them
    return [struct.unpack("<f", struct.pack("<f", rng.uniform(-1, 1)))[0] for _ in range(DIM)]


def as_json(n: int) -> str:
    return json.dumps({"id": n, "tag": f"t{n % 10}", "vec": vector(n)})


def as_hash(n: int) -> dict[str, Any]:
    return {"id": n, "tag": f"t{n % 10}", "vec": struct.pack(f"<{DIM}f", *vector(n))}


def memory(r: redis.Redis) -> tuple[int, int]:
    info = r.info("memory")
    return int(info["used_memory"]), int(info["used_memory_rss"])


def load(
    r: redis.Redis, n_docs: int, prefix: str, write: Callable[[Any, int, str], None]
) -> tuple[float, float]:
    before = memory(r)
    pipe = r.pipeline(transaction=False)
    for n in range(n_docs):
        write(pipe, n, f"{prefix}:{n}")
        if n % 200 == 199:
            pipe.execute()
    pipe.execute()
    after = memory(r)
    return (after[0] - before[0]) / n_docs, (after[1] - before[1]) / n_docs


def write_json(pipe: Any, n: int, key: str) -> None:
    pipe.execute_command("JSON.SET", key, "$", as_json(n))


def write_hash(pipe: Any, n: int, key: str) -> None:
    pipe.hset(key, mapping=as_hash(n))


def main() -> None:
    n_docs = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    from tests.harness.components import RedisStack
    from tests.server.test_process import ServerProcess

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for case, write in (("json", write_json), ("hash", write_hash)):
            proc = ServerProcess(Path(tmp) / case)
            try:
                r = redis.Redis(port=proc.port)
                rows.append(("memvec", case, *load(r, n_docs, f"m{case}", write)))
                r.close()
            finally:
                proc.ensure_dead()
            with RedisStack(log_dir=Path(tmp) / f"peer-{case}") as peer:
                r = peer.client()
                rows.append(("peer", case, *load(r, n_docs, f"p{case}", write)))
                r.close()
    print(f"{n_docs} documents, 384-d vector; bytes per document")
    print(f"{'server':8} {'as':5} {'used_memory':>12} {'rss':>12}")
    for server, case, used, rss in rows:
        print(f"{server:8} {case:5} {used:12.0f} {rss:12.0f}")


if __name__ == "__main__":
    main()
