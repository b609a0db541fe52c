"""Load the sample corpus into an engine through the real pipeline, without S3 or a stream.

Tests and benchmarks that need a store "as the demo leaves it" call :func:`ingest`: every
standard-library module becomes an object ``stdlib/<module>`` in an in-memory object store
and goes through :class:`pipeline.processor.Processor` (chunk, embed only changed chunks,
atomic upsert), so the documents have exactly the layout ``memvec demo`` produces (index
``demo``, prefix ``chunk:``, fields ``text``, ``vec``, ``source`` = ``stdlib/<module>``,
``chunk``, ...). ``memvec demo`` itself is :mod:`pipeline.demo.job`.
"""

from __future__ import annotations

from typing import Any

from connectors.memory import MemoryObjectStore
from connectors.s3_events import S3Event

from ..processor import IngestConfig, Processor
from ..stores import EmbeddedStore
from . import BUCKET, INDEX
from .corpus import stdlib_documents


def _processor(engine: Any, embedder: Any, objects: Any = None) -> Processor:
    return Processor(
        EmbeddedStore(engine), objects or MemoryObjectStore(), embedder, IngestConfig(index=INDEX)
    )


def ensure_index(engine: Any) -> None:
    """Create the demo index if it does not exist yet."""
    _processor(engine, None).ensure_index()


def ingest(engine: Any, embedder: Any, limit: int) -> tuple[int, int]:
    """Ingest ``limit`` modules; returns (chunks written, chunks embedded)."""
    objects = MemoryObjectStore()
    objects.create_bucket(BUCKET)
    processor = _processor(engine, embedder, objects)
    written = embedded = 0
    for doc in stdlib_documents(limit):
        key = doc.doc_id.split("/", 1)[1]
        summary = objects.put(BUCKET, key, doc.text.encode(), content_type="text/plain")
        outcome = processor.process(
            S3Event(
                kind="put",
                bucket=BUCKET,
                key=key,
                version_id=summary.version_id,
                etag=summary.etag,
                size=summary.size,
                sequencer=None,
                event_time_ms=0,
                event_name="demo:put",
            )
        )
        written += outcome.chunks_written
        embedded += outcome.chunks_embedded
    return written, embedded
