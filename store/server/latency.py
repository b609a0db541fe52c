"""The latency monitor: ``LATENCY LATEST / HISTORY / RESET / DOCTOR``.

Redis 7.4's ``latency.c``, for the events memvec measures: ``command`` (a command
without the ``fast`` flag) and ``fast-command``, sampled when a command ran at least
``latency-monitor-threshold`` milliseconds (0: monitoring off). Each event keeps its last
160 samples, one per second (two spikes in the same second keep the larger), its
all-time maximum, and the time and value of the latest spike.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

__all__ = ["HISTORY_LEN", "LatencyMonitor"]

HISTORY_LEN = 160


class _Event:
    __slots__ = ("max", "samples")

    def __init__(self) -> None:
        self.samples: deque[list[int]] = deque(maxlen=HISTORY_LEN)  # [unix s, ms]
        self.max = 0


class LatencyMonitor:
    def __init__(self) -> None:
        self.events: dict[str, _Event] = {}

    def add(self, event: str, ms: int) -> None:
        now = int(time.time())
        ev = self.events.get(event)
        if ev is None:
            ev = self.events[event] = _Event()
        if ev.samples and ev.samples[-1][0] == now:
            ev.samples[-1][1] = max(ev.samples[-1][1], ms)
        else:
            ev.samples.append([now, ms])
        ev.max = max(ev.max, ms)

    def latest(self) -> list[list[Any]]:
        out: list[list[Any]] = []
        for name, ev in self.events.items():
            t, ms = ev.samples[-1]
            out.append([name.encode(), t, ms, ev.max])
        return out

    def history(self, event: str) -> list[list[int]]:
        ev = self.events.get(event)
        return [] if ev is None else [[t, ms] for t, ms in ev.samples]

    def reset(self, names: list[str]) -> int:
        """Forget the named events (all when none is named); how many there were."""
        if not names:
            n = len(self.events)
            self.events.clear()
            return n
        return sum(1 for n in names if self.events.pop(n, None) is not None)

    def doctor(self, threshold_ms: int) -> str:
        if threshold_ms == 0 and not self.events:
            return (
                "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this "
                'Redis instance. You may use "CONFIG SET latency-monitor-threshold '
                "<milliseconds>.\" in order to enable it. If we weren't in a deep space "
                "mission I'd suggest to take a look at "
                "https://redis.io/topics/latency-monitor.\n"
            )
        if not self.events:
            return (
                "Dave, no latency spike was observed during the lifetime of this Redis "
                "instance, not in the slightest bit. I honestly think you ought to sleep "
                "better.\n"
            )
        lines = [
            "Dave, I have observed latency spikes in this Redis instance. You don't mind "
            "talking about it, do you Dave?",
            "",
        ]
        for i, (name, ev) in enumerate(self.events.items(), 1):
            values = [ms for _, ms in ev.samples]
            avg = sum(values) // len(values)
            lines.append(
                f"{i}. {name}: {len(values)} latency spikes (average {avg}ms, mean deviation "
                f"{sum(abs(v - avg) for v in values) // len(values)}ms, period "
                f"{_period(ev)} sec). Worst all time event {ev.max}ms."
            )
        lines += [
            "",
            "I have a few advices for you:",
            "",
            "- Check your slow log (SLOWLOG GET) for the commands that ran longest; large "
            "FT.SEARCH / FT.AGGREGATE replies and KEYS are the usual culprits.",
        ]
        return "\n".join(lines) + "\n"


def _period(ev: _Event) -> int:
    if len(ev.samples) < 2:
        return 0
    return (ev.samples[-1][0] - ev.samples[0][0]) // (len(ev.samples) - 1)
