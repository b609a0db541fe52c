"""Issue 14: the heavy reliability runs, memvec beside the peer in the same run.

- **Non-reading pipeliner**: one client sends ``GET`` of a 100 KB value ``non_reader_gets``
  times (200,000 at full size) and never reads a reply; the output buffer limit of normal
  clients is 256 MB on both servers (``CONFIG SET client-output-buffer-limit``). Measured:
  the server's peak RSS above its level before (sampled every few ms on a thread of its
  own), whether and when the client was cut, and the PING round trips of another client
  meanwhile (p50 / p99 / max). Target: RSS growth within the limit plus 64 MB.
- **Reading pipeliner**: one client sends ``reader_gets`` (3,000) such GETs at once and
  reads every reply. Measured: bytes received (target: all of them), peak RSS growth and
  the other client's PING p99.
- **kill -9 rounds** (memvec only: the peer's durability is not the question here):
  ``kill_rounds`` (30 at full size) rounds of 3 clients pipelining HSETs of 384-dim
  vectors under ``--appendfsync always``, SIGKILL at a random moment, restart, every
  acknowledged write checked; the code is the crash test's
  (:func:`tests.server.test_process.kill9_rounds`). Target: 0 acknowledged writes lost.

The peer (valkey 9 + RediSearch) queues a reply to a large string as a reference to the
stored value, not a copy, so its non-reader costs a few MB and is not cut: the run ends
after :data:`QUIET_S` without a cut. memvec copies the value into the reply it queues;
it bounds that at the limit by cutting the client.
"""

from __future__ import annotations

import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from .common import pct, target_row
from .resp import Target, memvec_server, peer_server, server_pid
from .sizes import Size

PEER = "redis-stack"
VALUE_BYTES = 100_000
LIMIT_BYTES = 256 * 1024 * 1024
RSS_SLACK_BYTES = 64 * 1024 * 1024
PING_P99_TARGET_MS = 100.0
# The non-reader run ends when the server cut the client, or took none of its requests
# (or had them all) for this long: a server that holds the client without cutting it.
# 5 s at toy size (the smoke test).
QUIET_S = 20.0
TOY_QUIET_S = 5.0
GET = b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n"
REPLY_BYTES = len(b"$%d\r\n" % VALUE_BYTES) + VALUE_BYTES + 2

# (non-reading GETs, reading GETs, kill -9 rounds) per size; toy asks 300 MB of replies,
# just past the limit.
RUNS = {
    "full": (200_000, 3000, 30),
    "quick": (200_000, 3000, 10),
    "toy": (3000, 200, 1),
}

Start = Callable[..., AbstractContextManager[Target]]
SERVERS: tuple[tuple[str, Start], ...] = (("memvec", memvec_server), (PEER, peer_server))


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


@contextmanager
def _watch(t: Target) -> Iterator[dict[str, Any]]:
    """While inside: PINGs from another connection and the server's RSS, sampled apart.

    Yields a dict filled on exit: ``rss_growth_mb`` (peak over the level at entry) and
    ``ping_ms`` (every round trip).
    """
    pid = server_pid(t)
    baseline = _rss(pid)
    stop = threading.Event()
    peak = [baseline]
    pings: list[float] = []

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _rss(pid))
            time.sleep(0.002)  # the sampling period

    def ping() -> None:
        with t.client() as c:
            while not stop.is_set():
                t0 = time.perf_counter()
                c.ping()
                pings.append((time.perf_counter() - t0) * 1000)

    threads = [threading.Thread(target=f, daemon=True) for f in (sample, ping)]
    for th in threads:
        th.start()
    out: dict[str, Any] = {}
    try:
        yield out
    finally:
        stop.set()
        for th in threads:
            th.join(60)
        out["rss_growth_mb"] = round((peak[0] - baseline) / 2**20, 1)
        out["pings"] = len(pings)
        out["ping_p50_ms"] = pct(pings, 50)
        out["ping_p99_ms"] = pct(pings, 99)
        out["ping_max_ms"] = round(max(pings), 3) if pings else 0.0


def _prepare(t: Target) -> None:
    with t.client() as c:
        c.config_set("client-output-buffer-limit", f"normal {LIMIT_BYTES} 0 0")
        c.set("big", b"v" * VALUE_BYTES)


def _cuts(t: Target) -> int:
    with t.client() as c:
        return int(c.info("stats").get("client_output_buffer_limit_disconnections", 0))


def non_reader(t: Target, gets: int, quiet_s: float = QUIET_S) -> dict[str, Any]:
    """Pipeline ``gets`` GETs without reading, until the server cut the client or stopped
    taking its requests (see :data:`QUIET_S`)."""
    _prepare(t)
    before = _cuts(t)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(300)
    sock.connect(("127.0.0.1", t.port))
    sent = [0]
    with _watch(t) as out:
        t0 = time.perf_counter()

        def send() -> None:
            try:
                for lo in range(0, gets, 1000):
                    n = min(1000, gets - lo)
                    sock.sendall(GET * n)
                    sent[0] += n
            except OSError:
                pass  # cut

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        cut, last, since = False, -1, time.monotonic()
        while time.monotonic() - since < quiet_s:  # until cut, or no request taken for quiet_s
            if _cuts(t) > before:
                cut = True
                break
            if sent[0] != last:
                last, since = sent[0], time.monotonic()
            time.sleep(0.05)  # polling a condition on another process
        elapsed = time.perf_counter() - t0
    sock.close()
    sender.join(60)
    out.update(gets=gets, sent_before_cut=sent[0], cut=cut, seconds=round(elapsed, 2))
    return out


def reader(t: Target, gets: int) -> dict[str, Any]:
    """Pipeline ``gets`` GETs at once and read every reply (or until the server cut us)."""
    _prepare(t)
    expected = REPLY_BYTES * gets
    received = 0
    with _watch(t) as out:
        t0 = time.perf_counter()
        with socket.create_connection(("127.0.0.1", t.port), timeout=300) as sock:
            sock.sendall(GET * gets)
            while received < expected:
                try:
                    chunk = sock.recv(1 << 20)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                received += len(chunk)
        elapsed = time.perf_counter() - t0
    out.update(gets=gets, expected_bytes=expected, received_bytes=received,
               seconds=round(elapsed, 2))  # fmt: skip
    return out


def kill9(rounds: int, tmp: Path) -> dict[str, Any]:
    """``rounds`` kill -9 rounds under pipelined writers (memvec only)."""
    from tests.server.test_process import kill9_rounds

    t0 = time.perf_counter()
    server, seen = kill9_rounds(tmp / "kill9", rounds, random.Random(14), snapshot_round=1)
    try:
        r = server.client()
        present = {int(k.split(b":")[1]) for k in r.keys("doc:*")}
        r.close()
        server.terminate()
    finally:
        server.ensure_dead()
    return {
        "rounds": seen.rounds,
        "acknowledged": len(seen.acked),
        "sent": len(seen.sent),
        "lost": len(seen.acked - present),
        "seconds": round(time.perf_counter() - t0, 1),
    }


def run(size: Size, tmp: Path) -> dict[str, Any]:
    from .common import log

    gets_a, gets_b, rounds = RUNS[size.mode]
    results: dict[str, dict[str, Any]] = {}
    for name, start in SERVERS:
        with start(tmp, name=name) as t:
            log(f"reliability: {name}, non-reading pipeliner of {gets_a:,} GETs")
            a = non_reader(t, gets_a, TOY_QUIET_S if size.mode == "toy" else QUIET_S)
            log(f"reliability: {name}, reading pipeliner of {gets_b:,} GETs")
            b = reader(t, gets_b)
        results[name] = {"non_reader": a, "reader": b}
    log(f"reliability: {rounds} kill -9 rounds (memvec)")
    crash = kill9(rounds, tmp)
    m, p = results["memvec"], results[PEER]
    bound_mb = (LIMIT_BYTES + RSS_SLACK_BYTES) / 2**20
    rows = [
        target_row(
            f"non-reading pipeliner ({gets_a:,} GET x 100 KB, limit 256 MB): server RSS growth",
            m["non_reader"]["rss_growth_mb"], p["non_reader"]["rss_growth_mb"], PEER,
            "<= limit + 64 MB", m["non_reader"]["rss_growth_mb"] <= bound_mb, unit="MB",
        ),
        target_row(
            "non-reading pipeliner: other client's PING p99",
            m["non_reader"]["ping_p99_ms"], p["non_reader"]["ping_p99_ms"], PEER,
            f"<= {PING_P99_TARGET_MS:g} ms",
            m["non_reader"]["ping_p99_ms"] <= PING_P99_TARGET_MS, unit="ms",
        ),
        target_row(
            f"reading pipeliner ({gets_b:,} GET x 100 KB): MB received of "
            f"{m['reader']['expected_bytes'] / 2**20:,.0f}",
            round(m["reader"]["received_bytes"] / 2**20, 1),
            round(p["reader"]["received_bytes"] / 2**20, 1), PEER, "all",
            m["reader"]["received_bytes"] == m["reader"]["expected_bytes"], unit="MB",
        ),
        target_row(
            "reading pipeliner: server RSS growth",
            m["reader"]["rss_growth_mb"], p["reader"]["rss_growth_mb"], PEER,
            "<= 64 MB", m["reader"]["rss_growth_mb"] <= RSS_SLACK_BYTES / 2**20, unit="MB",
        ),
        target_row(
            "reading pipeliner: other client's PING p99",
            m["reader"]["ping_p99_ms"], p["reader"]["ping_p99_ms"], PEER,
            f"<= {PING_P99_TARGET_MS:g} ms",
            m["reader"]["ping_p99_ms"] <= PING_P99_TARGET_MS, unit="ms",
        ),
        target_row(
            f"kill -9 rounds under pipelined writers: acknowledged writes lost "
            f"({crash['rounds']} rounds, {crash['acknowledged']:,} acknowledged)",
            crash["lost"], 0, "target bound", "0", crash["lost"] == 0,
            value_ratio=None, unit="writes",
        ),
    ]  # fmt: skip
    return {
        "params": {
            "value_bytes": VALUE_BYTES,
            "limit_bytes": LIMIT_BYTES,
            "non_reader_gets": gets_a,
            "reader_gets": gets_b,
            "kill_rounds": rounds,
            "memvec": "--appendfsync everysec (pipeliners), always (kill -9)",
        },
        "samples": {"servers": results, "kill9": crash},
        "summary": {
            name: {
                "non_reader_rss_growth_mb": r["non_reader"]["rss_growth_mb"],
                "non_reader_cut": r["non_reader"]["cut"],
                "non_reader_ping_p99_ms": r["non_reader"]["ping_p99_ms"],
                "reader_received_all": r["reader"]["received_bytes"]
                == r["reader"]["expected_bytes"],
                "reader_rss_growth_mb": r["reader"]["rss_growth_mb"],
                "reader_ping_p99_ms": r["reader"]["ping_p99_ms"],
            }
            for name, r in results.items()
        }
        | {"kill9_lost": crash["lost"], "kill9_acknowledged": crash["acknowledged"]},
        "baseline": f"{PEER} (valkey + RediSearch 2.10) in the same run; kill -9: the 0 bound",
        "targets": rows,
    }
