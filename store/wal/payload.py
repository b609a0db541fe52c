"""What one log record's payload holds: one or more commands, applied as a unit.

Layout (the same bytes Redis's AOF uses, so a payload is readable with ``redis-cli``
habits): each command is a RESP multibulk array ``*<argc>\\r\\n`` followed by ``argc``
bulk strings ``$<len>\\r\\n<bytes>\\r\\n``; a payload is one or more such arrays back to
back. A MULTI/EXEC batch is one payload with several arrays, so it is durable and replayed
all together or not at all. Integrity is the record's CRC32C (``store.wal.record``); this
decoder still rejects malformed input with ``ValueError`` rather than guessing.
"""

from __future__ import annotations

from collections.abc import Sequence


def encode_commands(commands: Sequence[Sequence[bytes]]) -> bytes:
    parts: list[bytes] = []
    for args in commands:
        parts.append(b"*%d\r\n" % len(args))
        for arg in args:
            parts.append(b"$%d\r\n" % len(arg))
            parts.append(arg)
            parts.append(b"\r\n")
    return b"".join(parts)


def decode_commands(payload: bytes) -> list[list[bytes]]:
    commands: list[list[bytes]] = []
    pos, end = 0, len(payload)
    while pos < end:
        if payload[pos : pos + 1] != b"*":
            raise ValueError(f"payload: expected '*' at byte {pos}")
        nl = payload.index(b"\r\n", pos)
        argc = int(payload[pos + 1 : nl])
        pos = nl + 2
        args: list[bytes] = []
        for _ in range(argc):
            if payload[pos : pos + 1] != b"$":
                raise ValueError(f"payload: expected '$' at byte {pos}")
            nl = payload.index(b"\r\n", pos)
            size = int(payload[pos + 1 : nl])
            start = nl + 2
            if payload[start + size : start + size + 2] != b"\r\n":
                raise ValueError(f"payload: bulk string at byte {start} is not terminated")
            args.append(payload[start : start + size])
            pos = start + size + 2
        commands.append(args)
    return commands
