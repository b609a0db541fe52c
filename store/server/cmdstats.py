"""Per-command and per-error counters: ``INFO commandstats``, ``errorstats``, ``latencystats``.

As in Redis 7.4 (``server.c`` ``call()`` / ``afterErrorReply()``):

* ``calls`` and ``usec`` count executions; ``usec`` is the time the command itself ran
  (for a search offloaded to the pool, until its reply is ready), not network I/O.
* ``rejected_calls``: refused before running (arity, NOAUTH, NOPERM, LOADING);
  ``failed_calls``: ran and answered an error. Unknown commands and unknown subcommands
  have no ``cmdstat_`` line; their error counts in errorstats only.
* Container commands count per subcommand: ``cmdstat_client|info``, ``cmdstat_config|get``.
* ``errorstat_<PREFIX>``: every error reply by its first word (``ERR``, ``WRONGTYPE``).
* ``latencystats``: p50/p99/p99.9 per command from a log2 histogram of microseconds
  (Redis uses an HDR histogram; percentiles are reported at the bucket's upper bound,
  so they are within a factor of 2 of the exact value).

``CONFIG RESETSTAT`` empties everything (:meth:`CommandStats.reset`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..commands.table import CONTAINERS, CommandSpec

__all__ = [
    "HISTOGRAM_MAX_USEC",
    "SUBCOMMAND_CONTAINERS",
    "CommandStat",
    "CommandStats",
    "command_label",
    "error_prefix",
    "stat_name",
]

# Commands counted and shown per subcommand (``client|info``), as Redis 7's containers.
SUBCOMMAND_CONTAINERS = CONTAINERS | {"SLOWLOG", "LATENCY"}


def stat_name(table_name: str) -> str:
    """``HSET`` -> ``hset``; module commands keep their registered case (``FT.SEARCH``)."""
    return table_name if table_name.startswith("FT.") else table_name.lower()


def command_label(spec: CommandSpec | None, args: list[bytes]) -> str:
    """``get``, ``client|info``: the name INFO commandstats and CLIENT LIST ``cmd=`` use
    (``NULL`` before any command, as in CLIENT LIST)."""
    if spec is None:
        return "NULL"
    name = stat_name(spec.name)
    if spec.name in SUBCOMMAND_CONTAINERS and len(args) > 1:
        return f"{name}|{args[1].decode('utf-8', 'replace').lower()}"
    return name


# Histogram buckets: bucket i counts durations in [2**(i-1), 2**i) microseconds; the last
# one everything from HISTOGRAM_MAX_USEC on.
_BUCKETS = 40
HISTOGRAM_MAX_USEC = 1 << (_BUCKETS - 1)


@dataclass
class CommandStat:
    calls: int = 0
    usec: int = 0
    rejected_calls: int = 0
    failed_calls: int = 0
    histogram: list[int] = field(default_factory=lambda: [0] * _BUCKETS)

    def percentile(self, p: float) -> float:
        """Upper bound (usec) of the bucket holding the ``p``-th percentile of calls."""
        total = sum(self.histogram)
        if not total:
            return 0.0
        rank = p / 100 * total
        seen = 0
        for i, n in enumerate(self.histogram):
            seen += n
            if seen >= rank:
                return float(1 << i)
        return float(1 << (_BUCKETS - 1))


def error_prefix(line: str) -> str:
    """``WRONGTYPE Operation ...`` -> ``WRONGTYPE`` (Redis's errorstat key)."""
    word = line.split(" ", 1)[0]
    return word or "ERR"


class CommandStats:
    """Counters keyed by :func:`stat_name` (``hset``, ``FT.SEARCH``, ``client|info``)."""

    def __init__(self) -> None:
        self.commands: dict[str, CommandStat] = {}
        # the same objects by table name (``HSET``): the per-command path skips lower()
        self.by_spec: dict[str, CommandStat] = {}
        self.errors: dict[str, int] = {}
        self.total_error_replies = 0

    def stat(self, name: str) -> CommandStat:
        stat = self.commands.get(name)
        if stat is None:
            stat = self.commands[name] = CommandStat()
        return stat

    def call(self, name: str, usec: int, failed: bool) -> None:
        stat = self.stat(name)
        stat.calls += 1
        stat.usec += usec
        stat.histogram[min(usec.bit_length(), _BUCKETS - 1)] += 1
        if failed:
            stat.failed_calls += 1

    def rejected(self, name: str | None) -> None:
        if name is not None:
            self.stat(name).rejected_calls += 1

    def error(self, line: str) -> None:
        prefix = error_prefix(line)
        self.errors[prefix] = self.errors.get(prefix, 0) + 1
        self.total_error_replies += 1

    def reset(self) -> None:
        self.commands.clear()
        self.by_spec.clear()
        self.errors.clear()
        self.total_error_replies = 0

    # -- INFO ---------------------------------------------------------------------------------
    def commandstats_fields(self) -> list[tuple[str, object]]:
        out: list[tuple[str, object]] = []
        for name in sorted(self.commands):
            s = self.commands[name]
            per_call = s.usec / s.calls if s.calls else 0.0
            out.append(
                (
                    f"cmdstat_{name}",
                    f"calls={s.calls},usec={s.usec},usec_per_call={per_call:.2f},"
                    f"rejected_calls={s.rejected_calls},failed_calls={s.failed_calls}",
                )
            )
        return out

    def errorstats_fields(self) -> list[tuple[str, object]]:
        return [(f"errorstat_{p}", f"count={n}") for p, n in sorted(self.errors.items())]

    def latencystats_fields(self) -> list[tuple[str, object]]:
        out: list[tuple[str, object]] = []
        for name in sorted(self.commands):
            s = self.commands[name]
            if not s.calls:
                continue
            out.append(
                (
                    f"latency_percentiles_usec_{name}",
                    f"p50={s.percentile(50):.3f},p99={s.percentile(99):.3f},"
                    f"p99.9={s.percentile(99.9):.3f}",
                )
            )
        return out
