"""``memvec ingest s3://bucket/prefix``: walk a prefix and bring the store in line with it.

:class:`Backfill` lists every object under the prefix, then hands each one to the same
:class:`~pipeline.processor.Processor` the stream workers use, as a synthesised
``ObjectCreated`` :class:`~connectors.s3_events.S3Event` (no sequencer; the listed
version and ETag; the object's last-modified time as event time). So a backfilled object
gets exactly the chunks, ids and metadata a notification would have produced.

Contract:

* **Resumable**: an object whose ETag equals the ``etag`` field of its state record
  (``<state_prefix><bucket>/<key>``, written by the processor in the same MULTI/EXEC as
  the chunks) is skipped without being fetched. Each object's write is atomic, so an
  interrupted run (Ctrl-C, ``kill -9``, a crash) rerun redoes no finished object and
  leaves no half-written one. Objects that failed (parse errors, over the size limit)
  have no matching record and are tried again by the next run.
* **Failures are data**: an error of our families (``PipelineError``, ``ConnectorError``)
  marks the object failed with its reason (logged with bucket and key) and the walk goes
  on; a ``retriable`` one is retried ``max_attempts`` times first. The store failing
  (``StoreClientError``: down, no primary, refused) after those retries, or anything else
  (a foreign error: embedder broken) stops the walk and propagates;
  :attr:`Backfill.summary` then holds the counts so far, and a rerun resumes.
* **Prune** (``prune=True``, off by default): after the walk, every state record under
  the prefix whose object was not listed and that is not already a tombstone is checked
  with a HEAD; only an object S3 confirms missing gets a synthesised ``ObjectRemoved``,
  which deletes its chunks and leaves a tombstone. Listings can lag writes (and objects
  can be created while we walk), so pruning is opt-in and never trusts the listing alone.
* **Batches**: changed objects go to ``Processor.process_many`` ``_INGEST_BATCH`` at a
  time, so their chunks share full embedder batches; an object that hit a retriable
  error there is retried alone.
* **Progress**: a tqdm bar on stderr (objects, chunks, chunks/s, ETA over objects; off
  when stderr is not a terminal unless ``progress=True``); :class:`BackfillSummary`
  renders the final report.

The object-state records are read with ``SCAN``/``HGET`` on the processor's store, so
the same code backfills the embedded engine, ``memvec server``, redis-stack, MemoryDB or
a cluster (``redis+cluster://``: SCAN walks every primary, keys carry the object's hash
tag, :mod:`pipeline.processor`).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from connectors.base import ObjectStore, ObjectSummary
from connectors.errors import ConnectorError, NotFound
from connectors.s3_events import S3Event

from .defaults import DEFAULT_INDEX
from .embedder_spec import add_embedder_option
from .errors import ParseError, PipelineError, StoreClientError
from .processor import Outcome, Processor
from .stores.base import StoreClient

__all__ = ["Backfill", "BackfillSummary", "add_ingest_parser", "main", "parse_s3_url"]

log = logging.getLogger("memvec.backfill")

_LOOKUP_BATCH = 256  # state records read per pipelined round trip
_INGEST_BATCH = 16  # changed objects processed (and embedded) together
_SCAN_COUNT = 1000
_MAX_REASONS_SHOWN = 20


@dataclass
class BackfillSummary:
    """What one run did. ``failed`` maps object key -> reason."""

    bucket: str
    prefix: str
    objects_seen: int = 0
    ingested: int = 0  # written (new or changed objects)
    unchanged: int = 0  # ETag matched the state record: not fetched
    gone: int = 0  # listed, then deleted before we fetched it
    skipped_stale: int = 0  # the store already holds a newer event for the key
    failed: dict[str, str] = field(default_factory=dict)
    pruned: int = 0  # objects no longer in the bucket whose chunks were removed
    chunks_written: int = 0
    chunks_embedded: int = 0
    chunks_deleted: int = 0
    elapsed_s: float = 0.0
    interrupted: bool = False  # stopped by Ctrl-C; rerun to finish
    limited: bool = False  # stopped at ``limit`` objects; rerun to continue

    @property
    def chunks_per_s(self) -> float:
        return self.chunks_written / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def add(self, outcome: Outcome) -> None:
        if outcome.action == "upserted":
            self.ingested += 1
        elif outcome.action == "gone":
            self.gone += 1
        elif outcome.action == "stale":
            self.skipped_stale += 1
        self.chunks_written += outcome.chunks_written
        self.chunks_embedded += outcome.chunks_embedded
        self.chunks_deleted += outcome.chunks_deleted

    def render(self) -> str:
        state = " (interrupted: rerun to finish)" if self.interrupted else ""
        if self.limited:
            state = " (stopped at --limit: rerun to continue)"
        lines = [
            f"memvec ingest s3://{self.bucket}/{self.prefix}: {self.objects_seen} objects "
            f"seen in {self.elapsed_s:.1f} s{state}",
            f"  objects: {self.ingested} ingested, {self.unchanged} unchanged, "
            f"{len(self.failed)} failed, {self.gone} gone, {self.skipped_stale} stale, "
            f"{self.pruned} pruned",
            f"  chunks: {self.chunks_written} written, {self.chunks_embedded} embedded, "
            f"{self.chunks_deleted} deleted ({self.chunks_per_s:.1f} written/s)",
        ]
        if self.failed:
            lines.append("  failed objects:")
            for key, reason in sorted(self.failed.items())[:_MAX_REASONS_SHOWN]:
                lines.append(f"    {key}: {reason}")
            if len(self.failed) > _MAX_REASONS_SHOWN:
                lines.append(f"    ... and {len(self.failed) - _MAX_REASONS_SHOWN} more")
        return "\n".join(lines)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")


def _created(obj: ObjectSummary) -> S3Event:
    """The ``ObjectCreated`` event a notification would carry for a listed object."""
    return S3Event(
        kind="put", bucket=obj.bucket, key=obj.key, version_id=obj.version_id,
        etag=obj.etag, size=obj.size, sequencer=None,
        event_time_ms=obj.last_modified_ms, event_name="Backfill:ObjectCreated",
    )  # fmt: skip


def _glob_literal(text: str) -> str:
    """``text`` as a glob matching itself in Redis and fnmatch (which lacks ``\\``
    escapes); a backslash becomes ``?``, so callers re-check matches exactly."""
    return "".join(f"[{c}]" if c in "*?[]" else "?" if c == "\\" else c for c in text)


class Backfill:
    """One walk of ``s3://bucket/prefix`` through ``processor`` (see the module contract).

    ``state``: where object-state records are read (default: ``processor.store``).
    ``progress``: ``None`` shows the bar only when stderr is a terminal.
    """

    def __init__(
        self,
        processor: Processor,
        objects: ObjectStore,
        bucket: str,
        prefix: str = "",
        state: StoreClient | None = None,
        *,
        prune: bool = False,
        progress: bool | None = None,
        max_attempts: int = 3,
        retry_backoff_s: float = 0.5,
    ) -> None:
        self.processor = processor
        self.objects = objects
        self.bucket = bucket
        self.prefix = prefix
        self.state = state if state is not None else processor.store
        self.prune = prune
        self.progress = progress
        self.max_attempts = max_attempts
        self.retry_backoff_s = retry_backoff_s
        self.summary = BackfillSummary(bucket, prefix)

    def run(self, limit: int | None = None) -> BackfillSummary:
        """Walk the prefix; ``limit``: ingest at most this many changed objects (unchanged
        ones do not count). Ctrl-C ends the walk with ``summary.interrupted`` set."""
        began = time.monotonic()
        self.summary = summary = BackfillSummary(self.bucket, self.prefix)
        self.processor.ensure_index()
        listing = list(self.objects.list(self.bucket, self.prefix))
        listed = {o.key for o in listing}
        bar = self._bar(len(listing))
        attempted = 0
        pending: list[ObjectSummary] = []

        def flush() -> None:
            if pending:
                self._ingest(pending)
                done = len(pending)
                pending.clear()
                summary.elapsed_s = time.monotonic() - began
                bar.set_postfix(
                    chunks=summary.chunks_written, rate=f"{summary.chunks_per_s:.1f}/s",
                    refresh=False,
                )  # fmt: skip
                bar.update(done)

        try:
            for obj, stored_etag in self._with_state(listing):
                unchanged = bool(obj.etag) and obj.etag == stored_etag
                if not unchanged and limit is not None and attempted >= limit:
                    summary.limited = True
                    break
                summary.objects_seen += 1
                if unchanged:
                    summary.unchanged += 1
                    bar.update(1)
                else:
                    attempted += 1
                    pending.append(obj)
                    if len(pending) >= _INGEST_BATCH:
                        flush()
            flush()
            if self.prune and not summary.limited:
                self._prune(listed)
        except KeyboardInterrupt:
            summary.interrupted = True
        finally:
            bar.close()
            summary.elapsed_s = time.monotonic() - began
        return summary

    def _bar(self, total: int) -> Any:
        from tqdm import tqdm

        disable = None if self.progress is None else not self.progress
        return tqdm(
            total=total, unit="obj", desc=f"s3://{self.bucket}/{self.prefix}",
            file=sys.stderr, disable=disable, dynamic_ncols=True,
        )  # fmt: skip

    def _with_state(self, listing: list[ObjectSummary]) -> Iterator[tuple[ObjectSummary, str]]:
        for start in range(0, len(listing), _LOOKUP_BATCH):
            block = listing[start : start + _LOOKUP_BATCH]
            replies = self.state.run(
                [["HGET", self.processor.state_key(o.bucket, o.key), "etag"] for o in block]
            )
            for obj, reply in zip(block, replies, strict=True):
                if isinstance(reply, Exception):
                    raise reply
                yield obj, _text(reply)

    def _ingest(self, objects: list[ObjectSummary]) -> None:
        events = [_created(obj) for obj in objects]
        outcomes = self.processor.process_many([(event, None) for event in events])
        for event, outcome in zip(events, outcomes, strict=True):
            if not isinstance(outcome, Exception):
                self.summary.add(outcome)
                reason = None
            elif not isinstance(outcome, PipelineError | ConnectorError):
                raise outcome
            elif outcome.retriable:
                reason = self._apply(event)  # alone, with the retries
            else:
                reason = self._failed(event, outcome)
            if reason is not None:
                self.summary.failed[event.key] = reason

    def _apply(self, event: S3Event) -> str | None:
        """Process ``event``, retrying retriable errors; the failure reason, or None."""
        attempt = 1
        while True:
            try:
                self.summary.add(self.processor.process(event))
                return None
            except (PipelineError, ConnectorError) as exc:
                if exc.retriable and attempt < self.max_attempts:
                    time.sleep(self.retry_backoff_s * 2 ** (attempt - 1))
                    attempt += 1
                    continue
                return self._failed(event, exc)

    def _failed(self, event: S3Event, exc: PipelineError | ConnectorError) -> str:
        """The object's failure reason; a store failure stops the walk instead (raised):
        every later object would fail the same way, and a rerun resumes."""
        if isinstance(exc, StoreClientError):
            raise exc
        return self._reason(event, exc)

    def _reason(self, event: S3Event, exc: Exception) -> str:
        """Why ``event``'s object failed, as the summary shows it (logged)."""
        reason = str(exc)
        if isinstance(exc, ParseError):
            reason = reason.removeprefix(f"{event.key}: ")
        log.warning(
            "object s3://%s/%s failed: %s", event.bucket, event.key, reason,
            extra={"bucket": event.bucket, "object_key": event.key},
        )  # fmt: skip
        return reason

    def _state_keys(self) -> Iterator[tuple[str, str]]:
        """(state key, object key) of every record under the prefix (on a cluster, the
        store's ``scan`` walks every primary)."""
        exact = self.processor.state_key_head(self.bucket) + self.prefix
        for raw in self.state.scan(_glob_literal(exact) + "*", _SCAN_COUNT):
            key = _text(raw)
            okey = self.processor.object_key_of(self.bucket, key)
            if okey is not None and okey.startswith(self.prefix):
                yield key, okey

    def _prune(self, listed: set[str]) -> None:
        candidates = [
            (skey, okey) for skey, okey in dict(self._state_keys()).items() if okey not in listed
        ]
        for skey, key in candidates:
            (deleted,) = self.state.run([["HGET", skey, "deleted"]])
            if _text(deleted) == "1":
                continue
            try:
                self.objects.head(self.bucket, key)
                continue  # created after (or missing from) the listing: keep it
            except NotFound:
                pass
            event = S3Event(
                kind="delete", bucket=self.bucket, key=key, version_id=None, etag=None,
                size=None, sequencer=None, event_time_ms=int(time.time() * 1000),
                event_name="Backfill:ObjectRemoved",
            )  # fmt: skip
            if self._apply(event) is None:
                self.summary.pruned += 1
                log.info("pruned s3://%s/%s: no longer in the bucket", self.bucket, key)


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` -> (bucket, prefix); the prefix may be empty."""
    if not url.startswith("s3://") or len(url) <= len("s3://"):
        raise ValueError(f"expected s3://bucket/prefix, got {url!r}")
    bucket, _, prefix = url[len("s3://") :].partition("/")
    if not bucket:
        raise ValueError(f"no bucket in {url!r}: expected s3://bucket/prefix")
    return bucket, prefix


ENV = {
    "store": "MEMVEC_STORE_URL",
    "aws_endpoint_url": "AWS_ENDPOINT_URL",
    "index": "MEMVEC_INDEX",
}


def add_ingest_parser(sub: Any) -> None:
    """Register ``memvec ingest`` on an ``argparse`` subparsers object."""
    p = sub.add_parser(
        "ingest",
        help="backfill: ingest every object under s3://bucket/prefix (resumable)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("url", metavar="s3://bucket/prefix", help="what to ingest")

    def opt(name: str, help_text: str, default: str | None) -> None:
        env = ENV[name]
        p.add_argument(
            "--" + name.replace("_", "-"), default=os.environ.get(env, default),
            help=f"{help_text} (env {env}; default {default})",
        )  # fmt: skip

    opt(
        "store",
        "store URL: redis://host:port, redis+cluster://host:port[,host:port...] (a cluster) "
        "or embedded:/dir",
        "redis://127.0.0.1:6379",
    )
    opt("aws_endpoint_url", "S3 (and SageMaker) endpoint (moto, LocalStack, MinIO)", None)
    opt("index", "index name (the same as the workers')", DEFAULT_INDEX)
    add_embedder_option(p)
    p.add_argument(
        "--prune", action="store_true",
        help="also delete the chunks of objects under the prefix that S3 no longer has "
        "(off by default: a listing may lag recent writes; each candidate is HEAD-checked)",
    )  # fmt: skip
    p.add_argument("--limit", type=int, default=None, help="ingest at most N changed objects")
    bar = p.add_mutually_exclusive_group()
    bar.add_argument("--progress", dest="progress", action="store_true", default=None,
                     help="always show the progress bar (default: only on a terminal)")  # fmt: skip
    bar.add_argument("--no-progress", dest="progress", action="store_false",
                     help="never show the progress bar")  # fmt: skip
    p.set_defaults(run=run_ingest)


def run_ingest(args: argparse.Namespace) -> int:
    """Exit status: 0 all ingested, 1 some objects failed, 2 bad arguments or no bucket,
    130 interrupted. The summary goes to stdout, the bar and logs to stderr."""
    from tqdm.contrib.logging import logging_redirect_tqdm

    from connectors.s3 import S3ObjectStore

    from .embedder_spec import open_embedder
    from .processor import IngestConfig
    from .stores import open_store

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        bucket, prefix = parse_s3_url(args.url)
    except ValueError as exc:
        print(f"memvec ingest: {exc}", file=sys.stderr)
        return 2
    objects = S3ObjectStore(endpoint_url=args.aws_endpoint_url)
    try:
        store, close_store = open_store(args.store)
    except ValueError as exc:
        print(f"memvec ingest: --store: {exc}", file=sys.stderr)
        return 2
    backfill: Backfill | None = None
    try:
        embedder = open_embedder(args.embedder, endpoint_url=args.aws_endpoint_url)
        processor = Processor(store, objects, embedder, IngestConfig(index=args.index))
        backfill = Backfill(processor, objects, bucket, prefix, prune=args.prune,
                            progress=args.progress)  # fmt: skip
        with logging_redirect_tqdm():
            summary = backfill.run(limit=args.limit)
    except NotFound as exc:
        print(f"memvec ingest: {exc}", file=sys.stderr)
        return 2
    except Exception:
        if backfill is not None:
            print(backfill.summary.render(), flush=True)
        log.exception("backfill stopped; rerun the same command to resume")
        return 1
    finally:
        close_store()
    print(summary.render(), flush=True)
    if summary.interrupted:
        return 130
    return 1 if summary.failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m pipeline.backfill ingest s3://bucket/prefix ...`` (same as memvec's)."""
    parser = argparse.ArgumentParser(prog="memvec")
    add_ingest_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
