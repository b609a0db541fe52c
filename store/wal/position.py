"""Log positions: the value type shared by the log, snapshots, replication and connectors.

A position names the *next* record to read. Record sequence numbers start at 1 and grow by
one per record, across segments and restarts, so ``LogPosition(1)`` is "from the very
beginning" and a snapshot that covers records 1..N carries ``LogPosition(N + 1)``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True, slots=True)
class LogPosition:
    """The sequence number of the next record to read (never of the last one applied)."""

    seq: int

    def __post_init__(self) -> None:
        if self.seq < 1:
            raise ValueError(f"log positions start at 1, got {self.seq}")

    @classmethod
    def start(cls) -> LogPosition:
        return cls(1)

    def after(self, seq: int) -> LogPosition:
        """The position that follows record ``seq`` (max with self, so it never moves back)."""
        return LogPosition(max(self.seq, seq + 1))

    def __str__(self) -> str:
        return f"seq:{self.seq}"
