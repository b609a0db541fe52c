"""MONITOR: every command executed, streamed to the clients that asked for it.

Redis 7.4's ``replicationFeedMonitors``: after a command ran (refused ones, for arity,
auth or ACL, are not shown) each monitor receives
``+<unix s>.<us> [0 <client addr>] "arg" "arg"...`` with the arguments quoted as
``sdscatrepr`` quotes them. Commands flagged ``admin`` or ``skip_monitor`` (CONFIG, ACL,
SLOWLOG, ...) are not shown at all, and secrets are redacted
(:mod:`store.server.redact`). A monitor is an ordinary ``normal``-class client for
``client-output-buffer-limit`` (as in Redis): one that stops reading is disconnected at
the limit, one that reads slowly keeps up within it.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from .redact import redact

if TYPE_CHECKING:
    from .connection import Connection

__all__ = ["Monitors", "quote"]

_ESCAPES = {
    ord("\\"): b"\\\\",
    ord('"'): b'\\"',
    ord("\n"): b"\\n",
    ord("\r"): b"\\r",
    ord("\t"): b"\\t",
    7: b"\\a",
    8: b"\\b",
}


def quote(arg: bytes) -> bytes:
    """``arg`` as Redis's ``sdscatrepr`` writes it: in double quotes, escaped."""
    if all(0x20 <= c < 0x7F and c not in (0x5C, 0x22) for c in arg):
        return b'"' + arg + b'"'
    out = bytearray(b'"')
    for c in arg:
        esc = _ESCAPES.get(c)
        if esc is not None:
            out += esc
        elif 0x20 <= c < 0x7F:
            out.append(c)
        else:
            out += b"\\x%02x" % c
    out.append(0x22)
    return bytes(out)


class Monitors:
    """The connections in MONITOR mode."""

    def __init__(self) -> None:
        self.clients: set[Connection] = set()

    def __bool__(self) -> bool:
        return bool(self.clients)

    def add(self, conn: Connection) -> None:
        self.clients.add(conn)

    def discard(self, conn: Connection) -> None:
        self.clients.discard(conn)

    def feed(self, source: Connection, args: list[bytes]) -> None:
        now = time.time()
        sec = int(now)
        head = b"+%d.%06d [0 %s]" % (sec, int((now - sec) * 1_000_000), source.addr.encode())
        line = head + b"".join(b" " + quote(a) for a in redact(args)) + b"\r\n"
        for conn in tuple(self.clients):
            if conn.closing:
                self.clients.discard(conn)
            else:
                conn.push(line)
