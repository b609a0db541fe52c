"""The embedder on both sides is the same: the vector the pipeline stores for a chunk (the
processor's batched ``embed``, as the handler, worker, backfill and demo run it) and the
vector ``memvec api`` computes for the same text as a query (``SearchService.embed``, one
text per call) agree to 1e-6, for every embedder kind that runs here: ``local``, ``onnx``
(the int8 fast path) and ``sagemaker:`` (moto's runtime, canned model answers). Both sides
get their embedder from ``open_embedder`` with the same spec, truncate text beyond
``max_seq_length`` the same way, and return unit vectors.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from connectors.memory import MemoryObjectStore
from connectors.s3_events import S3Event
from pipeline.api.metrics import ApiMetrics
from pipeline.api.service import SearchService
from pipeline.api.settings import ApiSettings
from pipeline.embedder_spec import open_embedder
from pipeline.embedding import Embedder, LocalEmbedder
from pipeline.processor import IngestConfig, Processor
from pipeline.stores import EmbeddedStore
from store import Engine, EngineConfig
from tests.harness import unique_name

REGION = "eu-south-2"  # moto queues canned SageMaker answers per region: one of our own
BUCKET = "identity"
DOCS = {
    "short.txt": "Tides follow the moon.",
    "medium.md": "Lighthouse keepers trimmed the lamp wicks every evening and logged the "
    "passing ships, the weather and the state of the sea in a leather-bound book.",
    # far beyond 256 word pieces: several chunks of different lengths share batches
    "long.txt": " ".join(f"Sentence {i} tells of rivers, glaciers and granite." for i in range(90)),
}


def _ingest(embedder: Embedder, tmp_path: Path) -> dict[str, npt.NDArray[np.float32]]:
    """Every chunk's text -> the vector the processor stored for it (one batch for all)."""
    objects = MemoryObjectStore()
    objects.create_bucket(BUCKET)
    index = unique_name("ident")
    items: list[tuple[S3Event, bytes | None]] = []
    for key, text in DOCS.items():
        summary = objects.put(BUCKET, key, text.encode(), content_type="text/plain")
        event = S3Event(
            kind="put", bucket=BUCKET, key=key, version_id=summary.version_id,
            etag=summary.etag, size=summary.size, sequencer=None, event_time_ms=0,
            event_name="test:put",
        )  # fmt: skip
        items.append((event, None))
    with Engine(EngineConfig(data_dir=tmp_path / index)) as engine:
        config = IngestConfig(index=index, chunk_prefix=f"{index}:")
        processor = Processor(EmbeddedStore(engine), objects, embedder, config)
        outcomes = processor.process_many(items)
        assert all(not isinstance(o, Exception) for o in outcomes), outcomes
        out = {}
        for key in engine.execute("KEYS", f"{index}:*"):
            text, vec = engine.execute("HMGET", key, "text", "vec")
            out[text.decode()] = np.frombuffer(vec, dtype=np.float32)
    assert len(out) > len(DOCS)  # the long document became several chunks
    return out


def _query(embedder: Embedder, text: str) -> npt.NDArray[np.float32]:
    """What ``memvec api`` embeds for query ``text``."""
    service = SearchService(ApiSettings(), store=None, metrics=ApiMetrics(), embedder=embedder)  # type: ignore[arg-type]
    try:
        return asyncio.run(service.embed(text))
    finally:
        service.stop()


def _assert_same_both_sides(ingest: Embedder, query: Embedder, tmp_path: Path) -> None:
    stored = _ingest(ingest, tmp_path)
    for text, vec in stored.items():
        q = _query(query, text)
        assert q.dtype == np.float32 and q.shape == vec.shape == (384,)
        assert abs(float(np.linalg.norm(q)) - 1.0) < 1e-6
        assert abs(float(np.linalg.norm(vec)) - 1.0) < 1e-6
        assert np.max(np.abs(q - vec)) <= 1e-6, text[:60]
    # text longer than the model reads: both sides truncate it at max_seq_length
    long_text = DOCS["long.txt"]
    assert ingest.count_tokens(long_text) > ingest.max_seq_length
    batched = ingest.embed([DOCS["short.txt"], long_text, DOCS["medium.md"]])[1]
    alone = _query(query, long_text)
    assert np.max(np.abs(alone - batched)) <= 1e-6
    tail_ignored = _query(query, long_text + " A tail about volcanoes the model never reads.")
    assert np.max(np.abs(tail_ignored - alone)) <= 1e-6


def test_local_embedder_is_the_same_at_ingest_and_query(
    embedder: LocalEmbedder, tmp_path: Path
) -> None:
    # one loaded model serves both sides here; `memvec api` and the workers each load the
    # same bundled model through open_embedder("local") (a second load costs ~5 s)
    _assert_same_both_sides(embedder, embedder, tmp_path)


def test_int8_fast_path_is_the_same_at_ingest_and_query(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")  # an optional extra: absent, the kind does not run
    ingest = open_embedder("onnx")
    query = open_embedder("onnx")
    _assert_same_both_sides(ingest, query, tmp_path)


def test_sagemaker_embedder_is_the_same_at_ingest_and_query(
    moto_server: Any, embedder: LocalEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    name = f"sagemaker:{unique_name('ident')}"
    ingest = open_embedder(name, endpoint_url=moto_server.endpoint_url)
    query = open_embedder(name, endpoint_url=moto_server.endpoint_url)
    texts = [
        unique_name("t") + " " + text for text in ("Tides follow the moon.", DOCS["medium.md"])
    ]
    # the endpoint answers unnormalised rows (a TEI /embed without normalize): both sides
    # must scale them the same way; moto answers queued bodies in order, one per request
    raw = [[float(x) * 3.5 for x in row] for row in embedder.embed(texts)]
    moto_server.queue_sagemaker_results(REGION, raw, [raw[0]], [raw[1]])
    stored = ingest.embed(texts)
    for n, text in enumerate(texts):
        q = _query(query, text)
        assert abs(float(np.linalg.norm(q)) - 1.0) < 1e-6
        assert np.max(np.abs(q - stored[n])) <= 1e-6
    assert ingest.count_tokens(DOCS["long.txt"]) == embedder.count_tokens(DOCS["long.txt"])
    assert ingest.max_seq_length == query.max_seq_length == embedder.max_seq_length
