"""The slow log: commands that ran longer than ``slowlog-log-slower-than`` microseconds.

Redis 7.4's ``slowlog.c``: an entry is ``[id, unix time (s), duration (us), args, client
address, client name]``, newest first, at most ``slowlog-max-len`` kept. Arguments are cut
as Redis cuts them: at most 32 (the last of them then reads ``... (N more arguments)``),
each at most 128 bytes (``... (N more bytes)`` appended). A negative threshold disables
the log, 0 logs every command. Secrets are redacted (:mod:`store.server.redact`).
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

__all__ = ["MAX_ARGC", "MAX_STRING", "SlowLog", "SlowLogEntry"]

MAX_ARGC = 32
MAX_STRING = 128


def _trim(args: list[bytes]) -> list[bytes]:
    argc = min(len(args), MAX_ARGC)
    out: list[bytes] = []
    for j in range(argc):
        if argc != len(args) and j == argc - 1:
            out.append(b"... (%d more arguments)" % (len(args) - argc + 1))
            break
        arg = args[j]
        if len(arg) > MAX_STRING:
            arg = arg[:MAX_STRING] + b"... (%d more bytes)" % (len(arg) - MAX_STRING)
        out.append(arg)
    return out


class SlowLogEntry:
    __slots__ = ("args", "client_name", "duration_us", "id", "peer", "time")

    def __init__(
        self, id: int, args: list[bytes], duration_us: int, peer: str, name: bytes | None
    ) -> None:
        self.id = id
        self.time = int(time.time())
        self.duration_us = duration_us
        self.args = _trim(args)
        self.peer = peer
        self.client_name = name or b""

    def reply(self) -> list[Any]:
        return [
            self.id,
            self.time,
            self.duration_us,
            self.args,
            self.peer.encode(),
            self.client_name,
        ]


class SlowLog:
    """Newest-first bounded list of :class:`SlowLogEntry`."""

    def __init__(self) -> None:
        self.entries: deque[SlowLogEntry] = deque()
        self.next_id = 0

    def push(
        self, args: list[bytes], duration_us: int, peer: str, name: bytes | None, max_len: int
    ) -> None:
        self.entries.appendleft(SlowLogEntry(self.next_id, args, duration_us, peer, name))
        self.next_id += 1
        while len(self.entries) > max_len:
            self.entries.pop()

    def get(self, count: int) -> list[list[Any]]:
        return [e.reply() for e, _ in zip(self.entries, range(count), strict=False)]

    def reset(self) -> None:
        self.entries.clear()
