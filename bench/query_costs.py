"""Server CPU per request for the queries clients send, memvec against the peer.

The benchmarks time one query shape each (``vector_query``: KNN with ``NOCONTENT``). The
client libraries send others: RedisVL and LangChain ask for the distance and a few fields,
RAG applications filter by tag before the KNN, dashboards aggregate. This loads ``--docs``
documents (384-d COSINE HNSW + TAG + TEXT, as ``bench.vector_query``) into a memvec
server and the peer, then sends each query below from one redis-py client for
``--seconds``, alternating the servers for ``--rounds`` rounds, and prints each server's
CPU per request (its CPU seconds over the requests answered: the client's own speed does
not enter) and the ratio of the best rounds. A query where the ratio stands far above the
others is where memvec's cost grows with something the peer's does not.

    python -m bench.query_costs [--docs 20000] [--seconds 1] [--rounds 2] [--only NAME]
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .common import cpu_seconds, load_data, log
from .resp import (
    Target,
    create_args,
    create_index,
    memvec_server,
    peer_server,
    resp_load,
    server_pid,
    text_of,
    wait_indexed,
)

# EF_RUNTIME 10 on both: memvec's default search is wider than the peer's (decision 0003),
# and the same breadth compares the same work
KNN = "*=>[KNN 10 @v $B EF_RUNTIME 10]"
TAG_KNN = "(@tag:{t1})=>[KNN 10 @v $B EF_RUNTIME 10]"
TEXT_KNN = "(@text:document)=>[KNN 10 @v $B EF_RUNTIME 10]"


def queries(query: bytes, doc: bytes) -> dict[str, list[Any]]:
    """The requests measured, by name (``query`` a query vector, ``doc`` a document's)."""
    knn = ["PARAMS", 2, "B", query]
    page = ["LIMIT", 0, 10, "DIALECT", 2]
    return {
        "KNN NOCONTENT": ["FT.SEARCH", "idx", KNN, *knn, "NOCONTENT", *page],
        "KNN + distance": ["FT.SEARCH", "idx", KNN, *knn, "RETURN", 1, "__v_score", *page],
        "KNN + distance, text": [
            "FT.SEARCH", "idx", KNN, *knn, "RETURN", 2, "text", "__v_score", *page],
        "KNN, all fields": ["FT.SEARCH", "idx", KNN, *knn, *page],
        "KNN SORTBY distance": [
            "FT.SEARCH", "idx", KNN, *knn, "SORTBY", "__v_score", "RETURN", 2, "tag",
            "__v_score", *page],
        "tag-filtered KNN (10%)": [
            "FT.SEARCH", "idx", TAG_KNN, *knn, "RETURN", 2, "tag",
            "__v_score", *page],
        "text-filtered KNN": [
            "FT.SEARCH", "idx", TEXT_KNN, *knn, "RETURN", 1,
            "__v_score", *page],
        "VECTOR_RANGE 0.35": [
            "FT.SEARCH", "idx", "@v:[VECTOR_RANGE 0.35 $B]=>{$YIELD_DISTANCE_AS: d}", *knn,
            "SORTBY", "d", "RETURN", 1, "d", *page],
        "tag search (10%)": ["FT.SEARCH", "idx", "@tag:{t3}", "NOCONTENT", *page],
        "tag union (20%)": ["FT.SEARCH", "idx", "@tag:{t3|t4}", "NOCONTENT", *page],
        "text search (every doc)": [
            "FT.SEARCH", "idx", "@text:document", "RETURN", 1, "tag", *page],
        "hybrid AGGREGATE (RedisVL)": [
            "FT.AGGREGATE", "idx", f"(~@text:(document|summary))=>[{KNN[4:-1]} AS d]", *knn,
            "SCORER", "BM25", "ADDSCORES", "LOAD", 2, "@tag", "@d",
            "APPLY", "(2 - @d)/2", "AS", "vs", "APPLY", "@__score", "AS", "ts",
            "APPLY", "0.3*@ts + 0.7*@vs", "AS", "h", "SORTBY", 2, "@h", "DESC", "MAX", 10,
            "DIALECT", 2],
        "AGGREGATE GROUPBY tag": [
            "FT.AGGREGATE", "idx", "*", "GROUPBY", 1, "@tag", "REDUCE", "COUNT", 0, "AS", "n",
            "DIALECT", 2],
        "HGETALL document": ["HGETALL", "d:17"],
        "HSET document": ["HSET", "d:17", "v", doc, "tag", "t7", "text", text_of(17)],
    }  # fmt: skip


def cpu_per_request(t: Target, request: list[Any], seconds: float) -> float:
    """Microseconds of the server's CPU per request, ``request`` sent back to back."""
    with t.client() as c:
        c.execute_command(*request)  # warm: parse caches, first-use allocations
        pid = server_pid(t)
        cpu0, began, n = cpu_seconds(pid), time.monotonic(), 0
        while time.monotonic() - began < seconds:
            c.execute_command(*request)
            n += 1
        return (cpu_seconds(pid) - cpu0) / n * 1e6


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--docs", type=int, default=20_000)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--only", default="", help="measure the queries whose name holds this")
    args = ap.parse_args(argv)
    base, held_out, _ = load_data()
    requests = queries(held_out[0].tobytes(), base[17].astype(np.float32).tobytes())
    requests = {name: r for name, r in requests.items() if args.only.lower() in name.lower()}
    if not requests:
        ap.error(f"no query name holds {args.only!r}")
    costs: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        servers = [stack.enter_context(memvec_server(Path(tmp))),
                   stack.enter_context(peer_server(Path(tmp)))]  # fmt: skip
        for t in servers:
            log(f"query_costs: loading {args.docs:,} documents into {t.name}")
            create_index(t, create_args("idx", base.shape[1]))
            resp_load(t, base, 0, args.docs, 2, 100)
            wait_indexed(t, "idx", args.docs)
        for _ in range(args.rounds):
            for name, request in requests.items():
                for t in servers:
                    costs.setdefault((name, t.name), []).append(
                        cpu_per_request(t, request, args.seconds)
                    )
    print(f"server CPU per request, us (best of {args.rounds} rounds; {args.docs:,} documents)")
    print(f"{'query':26} {'memvec':>10} {'peer':>10} {'ratio':>7}")
    for name in requests:
        mine, peer = min(costs[(name, "memvec")]), min(costs[(name, "redis-stack")])
        ratio = f"{mine / peer:7.2f}x" if peer > 0 else "      -"  # CPU ticks are 10 ms
        print(f"{name:26} {mine:10,.1f} {peer:10,.1f} {ratio}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
