"""``memvec demo``: the whole topology in one process, on embedded defaults.

1. an embedded S3 endpoint (moto server on a loopback port) seeded with the sample corpus
   (standard-library module documentation: real text, no download), one object per module
   in bucket ``stdlib``;
2. an S3 notification per object on an in-process event stream (``MemoryLog``);
3. the event-source runner with the pipeline (parse, chunk, embed, atomic upsert), failures
   to ``<data-dir>/dlq.jsonl``;
4. the embedded durable store under ``<data-dir>`` (``appendfsync always``);
5. the HTTP API and search page on ``http://127.0.0.1:<port>/``.

It prints a progress bar while ingesting, the URL, and three example queries with their
top hits, then serves until Ctrl-C (which stops everything cleanly). A second run over the
same data directory re-seeds the in-memory S3 but embeds nothing new: every chunk's
content hash is already in the store.

With ``--from DIR`` the user's own files replace the sample corpus in steps 1-3: they are
uploaded to bucket ``files`` and ingested by ``memvec ingest``'s own code (its progress
bar, resumability and prune), see :mod:`pipeline.demo.folder`; example queries then run
only when given with ``--query``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import socket
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from store import Engine, EngineConfig

from . import BUCKET, INDEX

EXAMPLE_QUERIES = [
    "how do I parse command line arguments",
    "read and write CSV files",
    "send an email message over SMTP",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _notification(key: str, etag: str) -> bytes:
    return json.dumps({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "object": {"key": key, "eTag": etag},
               "bucket": {"name": BUCKET, "arn": f"arn:aws:s3:::{BUCKET}"}},
    }]}).encode()  # fmt: skip


def _object_store(endpoint: str) -> Any:
    from connectors.aws import AwsCredentials, AwsEndpoint
    from connectors.s3 import S3ObjectStore

    credentials = AwsCredentials(access_key_id="demo", secret_access_key="demo")
    return S3ObjectStore(endpoint=AwsEndpoint(endpoint, "us-east-1", credentials))


async def _ingest(
    engine: Engine, embedder: Any, endpoint: str, data_dir: Path, limit: int
) -> dict[str, int]:
    from connectors.memory import MemoryLog, MemorySource

    from .. import handler
    from ..destinations import FileDestination
    from ..processor import IngestConfig, Item, Outcome, Processor
    from ..runner import Runner, RunnerConfig, pipeline_process
    from ..stores import EmbeddedStore
    from .corpus import stdlib_documents

    objects = _object_store(endpoint)
    objects.create_bucket(BUCKET)
    stream = MemoryLog(stream="s3-notifications")
    total = 0
    for doc in stdlib_documents(limit):
        key = doc.doc_id.split("/", 1)[1]
        summary = objects.put(BUCKET, key, doc.text.encode(), content_type="text/plain")
        stream.append(_notification(key, summary.etag))
        total += 1
    counts = {"objects": total, "chunks": 0, "embedded": 0, "failed": 0}
    bar = tqdm(total=total, desc="ingesting", unit="obj")

    class CountingProcessor(Processor):
        def process_many(self, items: Sequence[Item]) -> list[Outcome | Exception]:
            outcomes = super().process_many(items)
            for outcome in outcomes:
                if isinstance(outcome, Outcome):
                    counts["chunks"] += outcome.chunks_written
                    counts["embedded"] += outcome.chunks_embedded
            bar.update(len(outcomes))
            bar.set_postfix(chunks=counts["chunks"], embedded=counts["embedded"])
            return outcomes

    handler.configure(
        CountingProcessor(EmbeddedStore(engine), objects, embedder, IngestConfig(index=INDEX))
    )
    source = MemorySource(stream, group="demo")
    await source.start()
    runner = Runner(source, pipeline_process, FileDestination(data_dir / "dlq.jsonl"),
                    RunnerConfig(batch_size=16, batching_window_s=0.05))  # fmt: skip
    task = asyncio.create_task(runner.run())
    try:
        while stream.committed("demo", 0) < total:
            await asyncio.sleep(0.05)
    finally:
        runner.stop()
        await task
        bar.close()
        handler.configure(None)
    counts["failed"] = runner.stats.dead_lettered
    return counts


def _top_hits(
    engine: Engine, embedder: Any, query: str, k: int = 3
) -> list[tuple[str, float, str]]:
    reply = engine.execute(
        "FT.SEARCH", INDEX, f"*=>[KNN {k} @vec $B AS distance]", "PARAMS", "2", "B",
        embedder.embed_one(query).tobytes(), "SORTBY", "distance",
        "RETURN", "3", "distance", "source", "text", "DIALECT", "2",
    )  # fmt: skip
    hits = []
    for fields in reply[2::2]:
        f = dict(zip(fields[0::2], fields[1::2], strict=True))
        hits.append((f[b"source"].decode(), float(f[b"distance"]), f[b"text"].decode()[:90]))
    return hits


async def _serve(engine: Engine, embedder: Any, port: int) -> None:
    import uvicorn

    from ..api.app import create_app
    from ..api.protocol import with_read_timeouts
    from ..api.settings import ApiSettings
    from ..stores import EmbeddedStore

    settings = ApiSettings(index=INDEX, port=port)
    app = create_app(settings, EmbeddedStore(engine), embedder)
    http = with_read_timeouts(settings.header_timeout_s, settings.body_timeout_s)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", http=http)
    server = uvicorn.Server(config)
    await server.serve()  # returns on SIGINT/SIGTERM (uvicorn installs the handlers)


def quiet_moto_request_log() -> None:
    """Silence the embedded moto server's per-request lines (werkzeug's logger, INFO).

    Only that logger: warnings and errors from it still show, and the product's own logs
    are untouched. werkzeug attaches its own stderr handler unless the level is set first.
    """
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


def _ingest_folder(engine: Engine, embedder: Any, endpoint: str, root: Path) -> None:
    from tqdm.contrib.logging import logging_redirect_tqdm

    from ..stores import EmbeddedStore
    from .folder import BUCKET as FILES_BUCKET
    from .folder import sync_folder

    t0 = time.perf_counter()
    objects = _object_store(endpoint)
    objects.create_bucket(FILES_BUCKET)
    with logging_redirect_tqdm():
        summary = sync_folder(root, EmbeddedStore(engine), objects, embedder)
    print(summary.render(), f"({time.perf_counter() - t0:.1f} s)", flush=True)


def run_demo_job(args: argparse.Namespace) -> int:
    from moto.server import ThreadedMotoServer

    from ..embedding import LocalEmbedder

    if args.from_dir is not None and not Path(args.from_dir).is_dir():
        print(f"memvec demo: --from {args.from_dir}: not a directory", flush=True)
        return 2
    if args.from_dir is not None and args.limit is not None:
        print("memvec demo: --limit counts sample-corpus modules; not with --from", flush=True)
        return 2
    limit = 200 if args.limit is None else args.limit
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "demo")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "demo")
    data_dir = Path(args.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    port = args.port or _free_port()
    print(f"memvec demo: store in {data_dir.resolve()}", flush=True)
    quiet_moto_request_log()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
    moto.start()
    endpoint = f"http://127.0.0.1:{moto._port}"  # moto exposes no getter for the port
    try:
        embedder = LocalEmbedder()
        with Engine(EngineConfig(data_dir=data_dir)) as engine:
            t0 = time.perf_counter()
            if args.from_dir is not None:
                _ingest_folder(engine, embedder, endpoint, Path(args.from_dir))
            else:
                counts = asyncio.run(_ingest(engine, embedder, endpoint, data_dir, limit))
                print(
                    f"ingested {counts['objects']} objects: {counts['chunks']} chunks, "
                    f"{counts['embedded']} newly embedded, {counts['failed']} failed "
                    f"({time.perf_counter() - t0:.1f} s)",
                    flush=True,
                )
            examples = EXAMPLE_QUERIES if args.from_dir is None else []
            for query in args.query or examples:
                print(f"\nquery: {query}")
                for source, distance, text in _top_hits(engine, embedder, query):
                    print(f"  {distance:.3f}  {source:<24} {text}")
            print(f"\nsearch page and API: http://127.0.0.1:{port}/  (Ctrl-C stops)", flush=True)
            if not args.no_serve:
                try:
                    asyncio.run(_serve(engine, embedder, port))
                except KeyboardInterrupt:
                    pass  # uvicorn re-raises Ctrl-C after its clean shutdown; ours follows
    finally:
        moto.stop()
    print("memvec demo stopped", flush=True)
    return 0
