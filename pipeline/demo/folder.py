"""``memvec demo --from DIR``: the user's own files, through S3 and ``memvec ingest``.

Each run mirrors DIR into the store:

1. **Scan** DIR recursively, in name order. Hidden files and directories (a name starting
   with ``.``) are skipped, and so is every file the pipeline cannot read as text: an
   unsupported suffix, an unreadable file, corrupt gzip, binary content (NUL bytes). Each
   skip is one line with its reason, listed after the run; nothing else is read from it.
2. **Upload** every other file to the embedded S3 endpoint as object ``<relative path>``
   (``/`` separated) in bucket :data:`BUCKET`, so a hit's ``source`` is
   ``files/<relative path>``, and delete the bucket's other objects: the bucket mirrors
   DIR (the demo's S3 is in memory and starts empty; this matters when it is not).
3. **Ingest** the bucket with :class:`pipeline.backfill.Backfill`, the code, progress bar
   and summary of ``memvec ingest s3://files --prune``: a file whose ETag (MD5 of its
   bytes) matches its state record in the store is not even fetched; a changed file is
   re-parsed and re-chunked, and only chunks whose SHA-256 content hash changed are
   embedded (the processor's rule); a file that is gone from DIR has its chunks deleted
   (prune). A file that fails to parse (broken JSON) is reported and does not stop the
   rest; its old chunks are removed, since they no longer describe it.

Structured files use the parser's opt-in switches (:mod:`pipeline.parsing`): JSON records
use their ``text`` field when they have one, else all their values as ``key.path: value``
lines; a JSON array and a ``.jsonl`` file give one document per element/line; a CSV file
gives one document per row with ``header: value`` lines.

The store lives in the demo's data directory, so the run after an edit does only the work
the edit requires. The data directory mirrors the last DIR ingested into it: a run with
another DIR prunes the previous one's files (use one data directory per folder).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors.base import ObjectStore

from ..backfill import Backfill, BackfillSummary
from ..errors import ParseError
from ..parsing import JsonMapping, decompress, detect_type
from ..processor import IngestConfig, Processor
from ..stores.base import StoreClient
from . import INDEX

__all__ = ["BUCKET", "FILE_MAPPING", "FolderSummary", "scan_folder", "sync_folder"]

BUCKET = "files"
FILE_MAPPING = JsonMapping(strings_fallback=True, csv_rows=True)
_SNIFF_BYTES = 8192


@dataclass
class FolderSummary:
    """What one ``--from`` run did, per file and per chunk."""

    new: int = 0
    changed: int = 0
    unchanged: int = 0
    deleted: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # relative path -> reason
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (relative path, reason)
    backfill: BackfillSummary | None = None

    @property
    def chunks_embedded(self) -> int:
        return self.backfill.chunks_embedded if self.backfill else 0

    @property
    def chunks_written(self) -> int:
        return self.backfill.chunks_written if self.backfill else 0

    @property
    def chunks_deleted(self) -> int:
        return self.backfill.chunks_deleted if self.backfill else 0

    def render(self) -> str:
        lines = [f"  skipped {path}: {reason}" for path, reason in self.skipped]
        lines += [f"  failed {path}: {reason}" for path, reason in sorted(self.failed.items())]
        lines.append(
            f"files: {self.new} new, {self.changed} changed, {self.unchanged} unchanged, "
            f"{self.deleted} deleted, {len(self.failed)} failed, {len(self.skipped)} skipped"
        )
        lines.append(
            f"chunks: {self.chunks_embedded} embedded, {self.chunks_written} written, "
            f"{self.chunks_deleted} deleted"
        )
        return "\n".join(lines)


def _hidden(name: str) -> bool:
    return name.startswith(".")


def _refusal(rel: str, body: bytes) -> str | None:
    """Why ``body`` is not text at all (corrupt gzip, binary), or None. Text that is
    merely malformed (not UTF-8, broken JSON) is left to the parser: it fails in the
    ingest and is reported there, with the parser's reason."""
    try:
        data = decompress(rel, body)
    except ParseError as exc:
        return str(exc).removeprefix(f"{rel}: ")
    if b"\x00" in data[:_SNIFF_BYTES]:
        return "binary content (NUL bytes)"
    return None


def scan_folder(root: Path) -> Iterator[tuple[str, bytes | None, str | None]]:
    """``(relative path, bytes, None)`` for each ingestible file under ``root`` and
    ``(relative path, None, reason)`` for each skipped one, in name order. A hidden
    directory is reported once (as ``path/``) and not entered."""
    unreadable: list[OSError] = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable.append):
        yield from _listing_failures(root, unreadable)
        here = Path(dirpath)
        for name in sorted(d for d in dirnames if _hidden(d)):
            yield (here / name).relative_to(root).as_posix() + "/", None, "hidden directory"
        dirnames[:] = sorted(d for d in dirnames if not _hidden(d))
        for name in sorted(filenames):
            rel = (here / name).relative_to(root).as_posix()
            if _hidden(name):
                yield rel, None, "hidden file"
                continue
            try:
                detect_type(rel)
            except ParseError:
                yield rel, None, "unsupported file type (txt, md, html, json, jsonl, csv, .gz)"
                continue
            try:
                body = (here / name).read_bytes()
            except OSError as exc:
                yield rel, None, f"unreadable: {exc.strerror or exc}"
                continue
            reason = _refusal(rel, body)
            yield (rel, None, reason) if reason else (rel, body, None)
    yield from _listing_failures(root, unreadable)  # the last directory listed


def _listing_failures(
    root: Path, failures: list[OSError]
) -> Iterator[tuple[str, bytes | None, str | None]]:
    """One skip line per directory ``os.walk`` could not list; empties ``failures``."""
    for failure in failures:
        where = Path(failure.filename or root).relative_to(root).as_posix() + "/"
        yield where, None, f"unreadable directory: {failure.strerror or failure}"
    failures.clear()


def _states(
    store: StoreClient, processor: Processor, bucket: str, keys: list[str]
) -> list[tuple[str, str]]:
    """(etag, deleted flag) of each key's state record ("" when it has none)."""
    commands = [["HMGET", processor.state_key(bucket, k), "etag", "deleted"] for k in keys]
    out = []
    for reply in store.run(commands) if commands else []:
        if isinstance(reply, Exception):
            raise reply
        etag, deleted = (v.decode() if isinstance(v, bytes) else str(v or "") for v in reply)
        out.append((etag, deleted))
    return out


def sync_folder(
    root: Path,
    store: StoreClient,
    objects: ObjectStore,
    embedder: Any,
    *,
    bucket: str = BUCKET,
    progress: bool | None = None,
) -> FolderSummary:
    """Mirror ``root`` into ``store`` through ``objects``, whose ``bucket`` must exist
    (module contract). ``progress`` as :class:`~pipeline.backfill.Backfill`'s."""
    summary = FolderSummary()
    processor = Processor(
        store, objects, embedder, IngestConfig(index=INDEX, json_mapping=FILE_MAPPING)
    )
    uploaded: dict[str, str] = {}  # key -> etag
    for rel, body, reason in scan_folder(root):
        if body is None:
            summary.skipped.append((rel, reason or "skipped"))
            continue
        uploaded[rel] = objects.put(bucket, rel, body).etag
    for obj in list(objects.list(bucket)):
        if obj.key not in uploaded:  # gone from DIR (or now skipped): gone from S3 too
            objects.delete(bucket, obj.key)
    keys = sorted(uploaded)
    before = dict(zip(keys, _states(store, processor, bucket, keys), strict=True))
    backfill = Backfill(processor, objects, bucket, prune=True, progress=progress)
    summary.backfill = result = backfill.run()
    summary.failed = dict(result.failed)
    summary.deleted = result.pruned
    for key, (etag, deleted) in before.items():
        if key in summary.failed:
            continue
        if not etag or deleted == "1":
            summary.new += 1
        elif etag == uploaded[key]:
            summary.unchanged += 1
        else:
            summary.changed += 1
    return summary
