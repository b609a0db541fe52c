"""How big each benchmark runs: ``toy`` (the smoke test), ``quick`` (minutes) and ``full``.

One frozen :class:`Size` per mode; every benchmark reads only its own fields. ``full``
matches the issue (100k vectors, 1,000 queries; tens of minutes on 2 cores), ``quick``
keeps every case but shrinks the data (a few minutes), ``toy`` proves the code runs.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Size:
    mode: str
    vectors: int
    """Documents loaded for vector_query, restart and memory."""
    queries: int
    efs: tuple[int, ...]
    ingest_vectors: int
    ingest_clients: tuple[int, ...]
    pipeline_chunks: int
    pipeline_rounds: int
    pipeline_queries: int
    cold_start_rounds: int
    """Held-out sentences for the int8-vs-fp32 top-10 overlap."""
    replica_rate: int
    """Writes per second offered to the primary during the replica lag run."""
    replica_seconds: float
    clients: tuple[int, ...] = (1, 8)
    query_rounds: int = 3
    """Times vector_query measures each point on each server, the two taking turns (the
    median is reported: one server's sweep after the other's read ratios that moved by
    20% between runs with the machine's speed)."""
    m: int = 16
    ef_construction: int = 200
    restart_tail: float = 0.01
    """Share of the documents rewritten after the snapshot (the log tail replayed)."""


FULL = Size(
    mode="full",
    vectors=100_000,
    queries=1000,
    efs=(10, 20, 40, 80, 160, 320),
    ingest_vectors=10_000,
    ingest_clients=(1, 4),
    pipeline_chunks=720,
    pipeline_rounds=8,
    pipeline_queries=100,
    cold_start_rounds=5,
    replica_rate=500,
    replica_seconds=20,
)
QUICK = Size(
    mode="quick",
    vectors=20_000,
    queries=1000,
    efs=(10, 40, 80, 160),
    ingest_vectors=3000,
    ingest_clients=(1,),
    pipeline_chunks=100,
    pipeline_rounds=4,
    pipeline_queries=100,
    cold_start_rounds=3,
    replica_rate=200,
    replica_seconds=5,
)
TOY = Size(
    mode="toy",
    vectors=500,
    queries=40,
    efs=(10, 40),
    ingest_vectors=300,
    ingest_clients=(1,),
    pipeline_chunks=6,
    pipeline_rounds=2,
    pipeline_queries=5,
    cold_start_rounds=1,
    replica_rate=50,
    replica_seconds=1,
    query_rounds=2,
)
SIZES = {s.mode: s for s in (FULL, QUICK, TOY)}
