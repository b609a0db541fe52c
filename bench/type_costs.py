"""Server CPU per command of the ``types`` mix, memvec against the peer, alone and pipelined.

The 200-client types mix of :mod:`bench.concurrency` (:mod:`bench.type_mix`: lists, sorted
sets, streams, sets, counters) is where memvec is furthest behind the peer (README). This
starts both servers as that mix does (``appendfsync always``, the mix's keys set up), then
sends each of its commands from one client for ``--seconds``: one request at a time (each
waits for its reply, as each of the mix's clients does), then ``--pipeline`` requests per
round trip. The servers alternate for ``--rounds`` rounds, in the mix's order (a list is
pushed before it is popped, a stream added to before it is read), and it prints each
server's CPU per command (its CPU seconds over the commands answered: the client's own
speed does not enter) and the ratio of the best rounds.

Each command cycles through the same ~200 requests (client 0's, from a fixed seed), so
a write that sets what is already set (``ZADD`` of the same score, ``SADD`` of a member)
changes nothing after the first pass, on both servers: no log record, no fsync.

``PING`` is the request's fixed cost. A command's cost above it is the command's own work,
with the log's write and, one request at a time, its share of an fsync. The pipelined
figures show what is left when the fixed cost is spread over ``--pipeline`` commands.

    python -m bench.type_costs [--seconds 1] [--rounds 2] [--pipeline 10] [--only NAME]
"""

from __future__ import annotations

import argparse
import contextlib
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from . import type_mix
from .common import cpu_seconds_exact, log
from .concurrency import encode
from .resp import Target, memvec_server, peer_server, server_pid


def requests(rng: random.Random, count: int) -> dict[str, list[bytes]]:
    """``count`` encoded requests per measured command, by name: ``PING``, then the
    mix's commands in its order (:data:`bench.type_mix.MIX`), as client 0 sends them."""
    build = type_mix.builders(encode)
    out = {"ping": [encode(["PING"])] * count}
    for name, _ in type_mix.MIX:
        out[name] = [build[name](rng, 0) for _ in range(count)]
    return out


def cpu_per_command(t: Target, batch: list[bytes], depth: int, seconds: float) -> float:
    """Microseconds of the server's CPU per command, ``batch`` sent ``depth`` at a time
    round after round (an error reply raises)."""
    rounds = [b"".join(batch[i : i + depth]) for i in range(0, len(batch) - depth + 1, depth)]
    with t.client() as client:
        conn = client.connection_pool.get_connection()
        try:

            def exchange(payload: bytes) -> None:
                conn.send_packed_command([payload])
                for _ in range(depth):
                    conn.read_response(disable_decoding=True)

            exchange(rounds[0])  # warm: first-use allocations
            pid = server_pid(t)
            cpu0, began, n = cpu_seconds_exact(pid), time.monotonic(), 0
            while time.monotonic() - began < seconds:
                exchange(rounds[n % len(rounds)])
                n += 1
            return (cpu_seconds_exact(pid) - cpu0) / (n * depth) * 1e6
        finally:
            client.connection_pool.release(conn)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--pipeline", type=int, default=10, help="requests per round trip")
    ap.add_argument("--only", default="", help="measure the commands whose name holds this")
    args = ap.parse_args(argv)
    if args.pipeline < 1:
        ap.error("--pipeline must be at least 1")
    batches = requests(random.Random(1), max(200, 20 * args.pipeline))
    batches = {name: b for name, b in batches.items() if args.only.lower() in name}
    if not batches:
        ap.error(f"no command name holds {args.only!r}")
    depths = sorted({1, args.pipeline})
    costs: dict[tuple[str, int, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        servers = [stack.enter_context(memvec_server(Path(tmp), "always")),
                   stack.enter_context(peer_server(Path(tmp), "always"))]  # fmt: skip
        for t in servers:
            log(f"type_costs: setting up the types mix's keys on {t.name}")
            with t.client() as c:
                type_mix.setup(c)
        for _ in range(args.rounds):
            for name, batch in batches.items():
                for depth in depths:
                    for t in servers:
                        costs.setdefault((name, depth, t.name), []).append(
                            cpu_per_command(t, batch, depth, args.seconds)
                        )
    print("server CPU per command, us (best of "
          f"{args.rounds} rounds; appendfsync always on both)")  # fmt: skip
    print(f"{'command':12} {'depth':>5} {'memvec':>10} {'peer':>10} {'ratio':>7}")
    for name in batches:
        for depth in depths:
            mine = min(costs[(name, depth, "memvec")])
            peer = min(costs[(name, depth, "redis-stack")])
            ratio = f"{mine / peer:7.2f}x" if peer > 0 else "      -"
            print(f"{name:12} {depth:5d} {mine:10,.1f} {peer:10,.1f} {ratio}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
