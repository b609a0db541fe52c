"""Embedding and ingest throughput on real chunks, written as JSON.

In one run, on the same chunks (stdlib module docs with their classes' and functions'
docstrings, chunked at 256 word pieces with the model's own token counter, 32 overlap, as
the pipeline does; up to ``--chunks``, the stdlib gives about 720) and one batch size:

1. ``fp32``: ``LocalEmbedder.embed`` (the vectors of sentence-transformers' ``encode``,
   run by ``pipeline.minilm``), sentences/s;
2. ``int8``: ``OnnxEmbedder`` (ONNX Runtime, dynamic int8), sentences/s, speedup over fp32,
   cosine to fp32 per chunk (mean, min), and top-10 neighbour overlap: for 100 query
   sentences from held-out documents (every sixth, never chunked), the share of the fp32
   top-10 chunks that the int8 top-10 also returns;
3. ``pipeline``: the same documents put as objects into a moto server bucket and turned
   into chunks by ``pipeline.processor.Processor.process_many`` (fp32 embedder, same batch
   size; ``OBJECTS_PER_CALL`` objects per call, as a runner batch hands them) into an
   embedded durable ``store.Engine`` (``appendfsync always``, temp dir) through
   ``EmbeddedStore``; chunks/s and its ratio to the raw fp32 rate.

The documents are split into ``--rounds`` groups and the three cases take turns on each
group (order alternating), so load from other processes on a shared machine hits every
case alike; each rate is total chunks over the case's total seconds.

Run from the repository root (about 3-5 minutes on 2 cores; the ONNX export on first use
adds ~15 s and is cached under ``$MEMVEC_ONNX_CACHE``)::

    .venv/bin/python -m bench.pipeline_throughput [--chunks 1000] [--batch-size 32]

The JSON goes to ``bench/results/pipeline_throughput.json`` (``--out``) and stdout. Numbers
from a shared, noisy machine vary between runs; compare cases within one run.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import os
import platform
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from pipeline.chunking import chunk_text
from pipeline.demo.corpus import Document, stdlib_documents
from pipeline.embedding import LocalEmbedder
from pipeline.fast_embedding import OnnxEmbedder

DEFAULT_OUT = Path(__file__).parent / "results" / "pipeline_throughput.json"
CHUNK_TOKENS = 256
OVERLAP_TOKENS = 32
QUERIES = 100
TOP_K = 10
OBJECTS_PER_CALL = 16  # objects per process_many call (a runner batch of notifications)


def documents() -> list[Document]:
    """Stdlib module docs, each followed by its public classes' and functions' docstrings.

    Module docstrings alone give only ~200 chunks; with member docstrings there are several
    thousand, still real English technical prose.
    """
    out: list[Document] = []
    for doc in stdlib_documents(limit=10_000, min_chars=1):
        name = doc.doc_id.removeprefix("stdlib/")
        parts = [doc.text]
        for member in _members(sys.modules.get(name), name):
            text = inspect.getdoc(member) or ""
            if len(text) >= 60:
                parts.append(f"{getattr(member, '__qualname__', '')}: {text}")
        text = "\n\n".join(parts)
        if len(text) >= 200:
            out.append(Document(doc.doc_id, doc.title, text))
    return out


def _members(module: Any, module_name: str) -> list[Any]:
    """Public classes and functions defined in `module`, then the classes' methods."""
    found: list[Any] = []
    for name, member in inspect.getmembers(module or object()):
        if name.startswith("_") or getattr(member, "__module__", None) != module_name:
            continue
        if inspect.isfunction(member):
            found.append(member)
        elif inspect.isclass(member):
            found.append(member)
            for attr, method in vars(member).items():
                if not attr.startswith("_") and inspect.isfunction(method):
                    found.append(method)
    return found


def corpus(
    embedder: LocalEmbedder, want_chunks: int, want_queries: int = QUERIES
) -> tuple[list[Document], list[str]]:
    """Documents whose chunks number about `want_chunks`, and held-out query sentences.

    Every sixth document is held out: queries are sentences from those, never chunked.
    """
    docs: list[Document] = []
    queries: list[str] = []
    total = 0
    for n, doc in enumerate(documents()):
        if n % 6 == 5:
            sentences = re.split(r"(?<=[.!?])\s+", " ".join(doc.text.split()))
            queries += [s for s in sentences if 40 <= len(s) <= 300][:5]
        elif total < want_chunks:
            docs.append(doc)
            total += len(chunks_of(doc, embedder))
        if total >= want_chunks and len(queries) >= want_queries:
            break
    return docs, queries[:want_queries]


def chunks_of(doc: Document, embedder: LocalEmbedder) -> list[str]:
    return chunk_text(
        doc.text, embedder.count_tokens, max_tokens=CHUNK_TOKENS, overlap_tokens=OVERLAP_TOKENS
    )


def top_k(queries: npt.NDArray[np.float32], chunks: npt.NDArray[np.float32]) -> Any:
    scores = queries @ chunks.T
    return np.argsort(-scores, axis=1)[:, :TOP_K]


class Ingest:
    """Objects in a moto server bucket, a durable engine, and a Processor over both."""

    def __init__(self, docs: list[Document], embedder: LocalEmbedder, batch_size: int) -> None:
        self.docs, self.embedder, self.batch_size = docs, embedder, batch_size
        self._stack = contextlib.ExitStack()
        self.events: dict[str, Any] = {}
        self.chunks_written = self.chunks_embedded = 0

    def __enter__(self) -> Ingest:
        from connectors.s3 import S3ObjectStore
        from connectors.s3_events import S3Event
        from pipeline.processor import IngestConfig, Processor
        from pipeline.stores import EmbeddedStore
        from store import Engine, EngineConfig, FsyncPolicy
        from tests.harness.components import MotoServer

        tmp = self._stack.enter_context(tempfile.TemporaryDirectory(prefix="memvec-bench-"))
        moto = self._stack.enter_context(MotoServer())
        s3 = moto.client("s3")
        s3.create_bucket(Bucket="bench")
        for n, doc in enumerate(self.docs):
            key = f"{doc.doc_id}.txt"
            s3.put_object(Bucket="bench", Key=key, Body=doc.text.encode())
            self.events[doc.doc_id] = S3Event(
                kind="put", bucket="bench", key=key, version_id=None, etag=None, size=None,
                sequencer=f"{n + 1:016X}", event_time_ms=0, event_name="ObjectCreated:Put",
            )  # fmt: skip
        config = EngineConfig(data_dir=Path(tmp) / "store", appendfsync=FsyncPolicy.ALWAYS)
        self.engine = self._stack.enter_context(Engine(config))
        ingest = IngestConfig(
            index="bench", chunk_tokens=CHUNK_TOKENS, overlap_tokens=OVERLAP_TOKENS,
            embed_batch_size=self.batch_size,
        )  # fmt: skip
        self.processor = Processor(
            EmbeddedStore(self.engine), S3ObjectStore(client=s3), self.embedder, ingest
        )
        self.processor.ensure_index()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def process(self, docs: list[Document]) -> float:
        """Seconds to turn these documents' objects into stored chunks."""
        start = time.perf_counter()
        for first in range(0, len(docs), OBJECTS_PER_CALL):
            part = docs[first : first + OBJECTS_PER_CALL]
            outcomes = self.processor.process_many([(self.events[d.doc_id], None) for d in part])
            for outcome in outcomes:
                if isinstance(outcome, Exception):
                    raise outcome
                self.chunks_written += outcome.chunks_written
                self.chunks_embedded += outcome.chunks_embedded
        return time.perf_counter() - start

    def stored(self) -> int:
        return len(self.engine.execute("KEYS", "chunk:*"))


def measure(
    want_chunks: int,
    batch_size: int,
    rounds: int,
    skip_pipeline: bool = False,
    want_queries: int = QUERIES,
) -> dict[str, Any]:
    """Run the three cases once (see the module docstring); the result as a dict."""
    fp32 = LocalEmbedder()
    docs, queries = corpus(fp32, want_chunks, want_queries)
    groups = [docs[i::rounds] for i in range(rounds)]

    began = time.perf_counter()
    int8 = OnnxEmbedder().prepare()
    prepare_s = time.perf_counter() - began
    warm = [c for doc in docs[:4] for c in chunks_of(doc, fp32)][:batch_size]
    fp32.embed(warm, batch_size=batch_size)
    int8.embed(warm, batch_size=batch_size)

    # interleaved rounds, so load from other processes hits every case alike
    chunks: list[str] = []
    fp32_parts: list[npt.NDArray[np.float32]] = []
    int8_parts: list[npt.NDArray[np.float32]] = []
    seconds = {"fp32": 0.0, "int8": 0.0, "pipeline": 0.0}
    per_round: list[dict[str, float]] = []
    with contextlib.ExitStack() as stack:
        ingest = None if skip_pipeline else stack.enter_context(Ingest(docs, fp32, batch_size))
        for n, group in enumerate(groups):
            texts = [c for doc in group for c in chunks_of(doc, fp32)]
            chunks += texts
            cases = ["fp32", "int8", "pipeline"]
            per_round.append({"chunks": len(texts)})
            for case in cases if n % 2 == 0 else cases[::-1]:
                start = time.perf_counter()
                if case == "fp32":
                    fp32_parts.append(fp32.embed(texts, batch_size=batch_size))
                elif case == "int8":
                    int8_parts.append(int8.embed(texts, batch_size=batch_size))
                elif ingest is not None:
                    ingest.process(group)
                seconds[case] += time.perf_counter() - start
                per_round[-1][case] = round(time.perf_counter() - start, 3)
        pipeline_stats = None
        if ingest is not None:
            pipeline_stats = {
                "objects": len(docs),
                "chunks_written": ingest.chunks_written,
                "chunks_embedded": ingest.chunks_embedded,
                "chunks_in_store": ingest.stored(),
            }

    fp32_vecs, int8_vecs = np.concatenate(fp32_parts), np.concatenate(int8_parts)
    lengths = [fp32.count_tokens(c) for c in chunks]
    cosines = np.sum(fp32_vecs * int8_vecs, axis=1)
    exact = top_k(fp32.embed(queries), fp32_vecs)
    approx = top_k(int8.embed(queries), int8_vecs)
    overlap = [len(set(a) & set(b)) / TOP_K for a, b in zip(exact, approx, strict=True)]
    fp32_s, int8_s = seconds["fp32"], seconds["int8"]
    fp32_rate = len(chunks) / fp32_s
    int8_rate = len(chunks) / int8_s

    result: dict[str, Any] = {
        "machine": {
            "cpus": len(os.sched_getaffinity(0)),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "corpus": {
            "documents": len(docs),
            "chunks": len(chunks),
            "queries": len(queries),
            "tokens_mean": round(float(np.mean(lengths)), 1),
            "tokens_max": int(max(lengths)),
            "batch_size": batch_size,
            "rounds": rounds,
        },
        "rounds_seconds": per_round,
        "fp32": {"seconds": round(fp32_s, 2), "sentences_per_s": round(fp32_rate, 1)},
        "int8": {
            "prepare_s": round(prepare_s, 2),
            "model_file": str(int8.model_file),
            "seconds": round(int8_s, 2),
            "sentences_per_s": round(int8_rate, 1),
            "speedup_vs_fp32": round(int8_rate / fp32_rate, 2),
            "cosine_to_fp32_mean": round(float(cosines.mean()), 4),
            "cosine_to_fp32_min": round(float(cosines.min()), 4),
            "top10_overlap_mean": round(float(np.mean(overlap)), 3),
            "top10_overlap_min": round(float(np.min(overlap)), 2),
        },
    }
    if pipeline_stats is not None:
        rate = pipeline_stats["chunks_written"] / seconds["pipeline"]
        result["pipeline"] = {
            **pipeline_stats,
            "seconds": round(seconds["pipeline"], 2),
            "chunks_per_s": round(rate, 1),
            "ratio_to_raw_fp32": round(rate / fp32_rate, 3),
        }
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=1000, help="about this many chunks")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=8, help="interleaved rounds")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--skip-pipeline", action="store_true", help="embedders only")
    args = parser.parse_args(argv)
    result = measure(args.chunks, args.batch_size, args.rounds, args.skip_pipeline)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
