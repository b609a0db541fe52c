"""What the server observes about the commands it runs, and the commands that show it.

:class:`Observability` (one per :class:`store.server.app.Server`, ``server.observe``)
gathers per-command counters (:mod:`store.server.cmdstats`), the slow log
(:mod:`store.server.slowlog`), latency spikes (:mod:`store.server.latency`), MONITOR
clients (:mod:`store.server.monitor`) and the CLIENT PAUSE state
(:mod:`store.server.pause`). The connection calls :meth:`Observability.done` after every
command it executed and :meth:`Observability.refused` for every command refused before
running; both are cheap when nothing listens (no monitor, slow log threshold not met).

The MONITOR, SLOWLOG and LATENCY commands are declared here, in the one command table
(:func:`store.commands.table.command`), as connection-scope commands with Redis 7.4's
arity, flags and ACL categories; their handlers follow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..commands.table import COMMANDS, CommandSpec, command
from ..errors import CommandError, StoreError
from ..numbers import parse_int64
from ..replies import SimpleString, Verbatim
from .access_clock import AccessClock
from .cmdstats import (
    HISTOGRAM_MAX_USEC,
    SUBCOMMAND_CONTAINERS,
    CommandStats,
    command_label,
    stat_name,
)
from .handlers import sub_check
from .latency import LatencyMonitor
from .memory_usage import memory_handlers
from .monitor import Monitors
from .pause import ClientPause
from .redact import redact
from .slowlog import SlowLog

if TYPE_CHECKING:
    from .connection import Connection

__all__ = ["Observability", "observability_handlers"]

_NOT_MONITORED = frozenset({"admin", "skip_monitor"})
# Commands that look at a key without touching its access time (Redis's LOOKUP_NOTOUCH).
_NO_TOUCH = frozenset({"OBJECT", "MEMORY", "TYPE"})


class Observability:
    def __init__(self) -> None:
        self.stats: CommandStats = CommandStats()
        self.slowlog = SlowLog()
        self.latency = LatencyMonitor()
        self.monitors = Monitors()
        self.pause = ClientPause()
        self.access = AccessClock()

    def reset_stats(self) -> None:
        """CONFIG RESETSTAT: counters and error counts (the slow log stays, as in Redis)."""
        self.stats.reset()

    def done(
        self, conn: Connection, spec: CommandSpec, args: list[bytes], ns: int, error: Any
    ) -> None:
        """A command ran for ``ns`` nanoseconds; ``error`` is its error reply, if any."""
        # the hot path: every command of every client comes through here
        usec = ns // 1000
        stats = self.stats
        stat = stats.by_spec.get(spec.name)
        if stat is None and spec.name not in SUBCOMMAND_CONTAINERS:
            stat = stats.by_spec[spec.name] = stats.stat(stat_name(spec.name))
        if stat is not None:
            stat.calls += 1
            stat.usec += usec
            stat.histogram[usec.bit_length() if usec < HISTOGRAM_MAX_USEC else -1] += 1
            if error is not None:
                stat.failed_calls += 1
                stats.error(_line(error))
        else:
            self._container_done(spec, args, usec, error)
        first = spec.first_key
        if first > 0 and not conn.no_touch and spec.name not in _NO_TOUCH:
            if spec.last_key == first:
                if len(args) > first:
                    access = self.access
                    access.seen[args[first]] = access.now()
                    if len(access.seen) > access.limit:
                        access.prune()
            else:
                self.access.touch(spec.keys(args))
        cfg = conn.server.config
        slower = cfg.slowlog_log_slower_than
        if 0 <= slower <= usec and "skip_slowlog" not in spec.flags:
            self.slowlog.push(redact(args), usec, conn.addr, conn.name, cfg.slowlog_max_len)
        threshold = cfg.latency_monitor_threshold
        if threshold and usec >= threshold * 1000:
            event = "fast-command" if "fast" in spec.flags else "command"
            self.latency.add(event, usec // 1000)
        if self.monitors.clients and not (spec.flags & _NOT_MONITORED):
            self.monitors.feed(conn, args)

    def _container_done(self, spec: CommandSpec, args: list[bytes], usec: int, error: Any) -> None:
        """Count ``client|info``-style: an unknown subcommand gets no line, a subcommand's
        arity error is a rejected call (Redis checks both before running anything)."""
        stats = self.stats
        if error is not None:
            line = _line(error)
            stats.error(line)
            if line.startswith("ERR unknown subcommand"):
                return
            stat = stats.stat(command_label(spec, args))
            if line.startswith("ERR wrong number of arguments"):
                stat.rejected_calls += 1
                return
            stat.failed_calls += 1
        else:
            stat = stats.stat(command_label(spec, args))
        stat.calls += 1
        stat.usec += usec
        stat.histogram[usec.bit_length() if usec < HISTOGRAM_MAX_USEC else -1] += 1

    def refused(self, args: list[bytes], spec: CommandSpec | None, error: StoreError) -> None:
        """A command was refused before running (unknown, arity, auth, ACL, loading)."""
        self.stats.error(error.resp_line())
        if spec is None:
            spec = COMMANDS.get(args[0].decode("utf-8", "replace").upper())
        if spec is not None:
            self.stats.rejected(stat_name(spec.name))


def _line(error: Any) -> str:
    if isinstance(error, StoreError):
        return error.resp_line()
    return str(error)


# -- declarations ----------------------------------------------------------------------------
for _name, _arity, _flags, _cats, _summary in (
    ("MONITOR", 1, "admin noscript loading stale", "admin slow dangerous",
     "Listens for all requests received by the server in real-time."),
    ("SLOWLOG", -2, "admin loading stale", "admin slow dangerous",
     "A container for slow log commands."),
    ("LATENCY", -2, "admin noscript loading stale", "admin slow dangerous",
     "A container for latency diagnostics commands."),
):  # fmt: skip
    command(_name, _arity, _flags, _cats, scope="connection", summary=_summary)(
        lambda ctx, args: None
    )


def _text(arg: bytes) -> str:
    return arg.decode("utf-8", "replace")


def _help(lines: tuple[str, ...]) -> list[SimpleString]:
    return [SimpleString(line) for line in lines]


# -- MONITOR ---------------------------------------------------------------------------------
def cmd_monitor(conn: Connection, args: list[bytes]) -> Any:
    if conn.multi is not None:
        raise CommandError("MONITOR isn't allowed for DENY BLOCKING client")
    if conn.monitoring:
        return SimpleString("OK")
    conn.monitoring = True
    conn.server.observe.monitors.add(conn)
    return SimpleString("OK")


# -- SLOWLOG ---------------------------------------------------------------------------------
_SLOWLOG_ARITY = {b"GET": -2, b"LEN": 2, b"RESET": 2, b"HELP": 2}


def cmd_slowlog(conn: Connection, args: list[bytes]) -> Any:
    sub = sub_check("SLOWLOG", args, _SLOWLOG_ARITY)
    log = conn.server.observe.slowlog
    if sub == b"GET":
        if len(args) > 3:
            raise CommandError(
                f"unknown subcommand or wrong number of arguments for '{_text(args[1])}'. "
                "Try SLOWLOG HELP."
            )
        count = 10
        if len(args) == 3:
            n = parse_int64(args[2])
            if n is None or n < -1:
                raise CommandError("count should be greater than or equal to -1")
            count = len(log.entries) if n == -1 else n
        return log.get(count)
    if sub == b"LEN":
        return len(log.entries)
    if sub == b"RESET":
        log.reset()
        return SimpleString("OK")
    return _help(
        (
            "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
            "HELP",
            "    Print this help.",
        )
    )


# -- LATENCY ---------------------------------------------------------------------------------
_LATENCY_ARITY = {
    b"LATEST": 2,
    b"HISTORY": 3,
    b"RESET": -2,
    b"DOCTOR": 2,
    b"GRAPH": 3,
    b"HISTOGRAM": -2,
    b"HELP": 2,
}


def cmd_latency(conn: Connection, args: list[bytes]) -> Any:
    sub = sub_check("LATENCY", args, _LATENCY_ARITY)
    monitor = conn.server.observe.latency
    if sub == b"LATEST":
        return monitor.latest()
    if sub == b"HISTORY":
        return monitor.history(_text(args[2]))
    if sub == b"RESET":
        return monitor.reset([_text(a) for a in args[2:]])
    if sub == b"DOCTOR":
        return Verbatim("txt", monitor.doctor(conn.server.config.latency_monitor_threshold))
    if sub == b"GRAPH":
        event = _text(args[2])
        if event not in monitor.events:
            raise CommandError(f"No samples available for event '{event}'")
        raise CommandError("LATENCY GRAPH is not supported by memvec; use LATENCY HISTORY")
    if sub == b"HISTOGRAM":
        return _histogram(conn, args[2:])
    return _help(
        (
            "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "GRAPH <event>",
            "    Return an ASCII latency graph for the <event> class.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HISTOGRAM [COMMAND ...]",
            "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",  # noqa: E501
            "    If no commands are specified then all histograms are replied.",
            "HELP",
            "    Print this help.",
        )
    )


def _histogram(conn: Connection, names: list[bytes]) -> dict[bytes, Any]:
    """Per command: calls and the cumulative count of calls up to each power-of-two usec."""
    stats = conn.server.observe.stats.commands
    wanted = [_text(n) for n in names] if names else sorted(stats)
    lowered = {name.lower(): name for name in stats}
    wanted = [lowered.get(name.lower(), name) for name in wanted]
    out: dict[bytes, Any] = {}
    for name in wanted:
        stat = stats.get(name)
        if stat is None or not stat.calls:
            continue
        buckets: dict[int, int] = {}
        total = 0
        for i, n in enumerate(stat.histogram):
            total += n
            if n:
                buckets[1 << i] = total
        out[name.encode()] = {b"calls": stat.calls, b"histogram_usec": buckets}
    return out


def observability_handlers() -> dict[str, Any]:
    return {
        "MONITOR": cmd_monitor,
        "SLOWLOG": cmd_slowlog,
        "LATENCY": cmd_latency,
        **memory_handlers(),
    }
