"""The core job: one S3 object event becomes the object's exact set of chunks in the store.

For an ``ObjectCreated`` event the processor fetches the object (size-limited), parses
it, chunks it by the model's tokenizer, embeds only chunks whose content hash changed,
and writes everything in **one MULTI/EXEC**: the new and changed chunks, the deletion of
chunks the previous version had and this one does not, and the object's state record.
For ``ObjectRemoved`` it deletes every chunk the state record lists. The store therefore
moves from one version's chunk set to the next atomically: no duplicates after re-runs,
no stale chunks after an object shrinks, no orphans after a delete, and a failing
embedder leaves the previous version fully in place.

Ordering: the state record (``<state_prefix><bucket>/<key>``) keeps the S3 ``sequencer``
of the last applied event, so an older or repeated event is skipped; a delete leaves a
tombstone so a late, older PUT does not resurrect the object. Chunk ids are stable:
``<chunk_prefix><bucket>/<key><record suffix>#<n>``.

On a Redis Cluster (the store's ``slot_routed``) one MULTI/EXEC must stay in one hash
slot, so the object's reference is a hash tag in every key it commits together:
``<state_prefix>{<bucket>/<key>}`` and ``<chunk_prefix>{<bucket>/<key>}<suffix>#<n>``. The
tag is the text between the first ``{`` and the next ``}``, which is the same prefix of
``<bucket>/<key>`` in both forms even when the object key holds braces (bucket names
cannot), so an object's keys always share a slot; prefixes holding a brace are refused.
A store written without tags and then moved to a cluster keeps its old ids only if the
data is loaded as it was: the ingestion path of a cluster always writes tagged ids.

Batches: :meth:`Processor.process_many` runs a sequence of events with the same result as
one by one, but prepares every object first and embeds the chunks of all of them together
(sorted by length, full ``embed_batch_size`` batches), then commits each object in its own
MULTI/EXEC. Small objects no longer mean small, padded embedder batches. An object whose
key comes again later in the sequence is committed before the later event is read.

Observability: with a :class:`~pipeline.metrics.PipelineMetrics` the processor times every
object fetch, embedder call and store round trip, counts chunks written/embedded/deleted
and observes freshness (store acknowledgement minus ``event_time_ms``). An error outside
the ``PipelineError``/``ConnectorError`` families (which the caller reports per record)
is logged with the object's bucket and key (``extra``: ``bucket``, ``object_key``) before
it propagates.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, cast

import numpy as np
import numpy.typing as npt

from connectors.base import ObjectData, ObjectStore
from connectors.errors import ConnectorError, NotFound
from connectors.s3_events import S3Event, is_older

from . import json_storage
from .chunking import chunk_text
from .defaults import DEFAULT_INDEX
from .embedding import Embedder
from .errors import ParseError, PipelineError
from .parsing import JsonMapping, parse_object
from .stores.base import StoreClient

if TYPE_CHECKING:
    from .metrics import PipelineMetrics

log = logging.getLogger("memvec.processor")


@dataclass(frozen=True)
class IngestConfig:
    index: str = DEFAULT_INDEX
    chunk_prefix: str = "chunk:"
    state_prefix: str = "objstate:"
    dim: int = 384
    metric: str = "COSINE"
    max_object_bytes: int = 16 * 1024 * 1024
    chunk_tokens: int = 256
    overlap_tokens: int = 32
    embed_batch_size: int = 32
    json_mapping: JsonMapping = field(default_factory=JsonMapping)
    tag_metadata: tuple[str, ...] = ()
    numeric_metadata: tuple[str, ...] = ()
    storage: str = "hash"
    """``hash`` (one hash per chunk, metadata as strings) or ``json`` (one JSON document
    per chunk, nested metadata kept: :mod:`pipeline.json_storage`)."""

    def __post_init__(self) -> None:
        if self.storage not in ("hash", "json"):
            raise ValueError(f"storage must be 'hash' or 'json', not {self.storage!r}")

    def create_index_command(self) -> list[str]:
        if self.storage == "json":
            return json_storage.create_index_command(self)
        schema = [
            "text", "TEXT", "bucket", "TAG", "source", "TAG", "SEPARATOR", "\x1f",
            "chunk", "NUMERIC", "content_hash", "TAG", "ingested_at", "NUMERIC",
        ]  # fmt: skip
        for name in self.tag_metadata:
            schema += [name, "TAG"]
        for name in self.numeric_metadata:
            schema += [name, "NUMERIC"]
        schema += [
            "vec", "VECTOR", "HNSW", "6", "TYPE", "FLOAT32", "DIM", str(self.dim),
            "DISTANCE_METRIC", self.metric,
        ]  # fmt: skip
        return ["FT.CREATE", self.index, "ON", "HASH", "PREFIX", "1", self.chunk_prefix,
                "SCHEMA", *schema]  # fmt: skip


@dataclass
class _Prepared:
    """An upsert between reading the object and embedding it (see ``process_many``)."""

    event: S3Event
    obj: ObjectData
    old_chunks: list[str]
    chunks: list[tuple[str, str, dict[str, Any]]]
    digests: list[str]
    todo: list[int]  # chunks whose content hash changed: they need a vector


Item = tuple[S3Event, bytes | None]  # an event, and the inline document body if any


@dataclass
class Outcome:
    action: str  # "upserted" | "deleted" | "stale" | "gone"
    chunks_written: int = 0
    chunks_embedded: int = 0
    chunks_deleted: int = 0


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


_Method = TypeVar("_Method", bound=Callable[..., Outcome])


def _logged(event: S3Event, exc: Exception) -> Exception:
    """``exc``, logged with the object's key unless the caller reports it per record
    (our two error families, which carry ``retriable``)."""
    if not isinstance(exc, (PipelineError, ConnectorError)):
        log.warning(
            "object s3://%s/%s (%s) failed: %s: %s", event.bucket, event.key,
            event.event_name, type(exc).__name__, exc,
            extra={"bucket": event.bucket, "object_key": event.key},
        )  # fmt: skip
    return exc


def _logs_object_key(method: _Method) -> _Method:
    """Log errors the caller does not report per record with the object's key."""

    @functools.wraps(method)
    def wrapper(self: Any, event: S3Event, *args: Any) -> Outcome:
        try:
            result: Outcome = method(self, event, *args)
            return result
        except Exception as exc:
            raise _logged(event, exc)  # noqa: B904 - the same exception, re-raised

    return cast(_Method, wrapper)


class Processor:
    def __init__(
        self,
        store: StoreClient,
        objects: ObjectStore,
        embedder: Embedder,
        config: IngestConfig | None = None,
        metrics: PipelineMetrics | None = None,
    ) -> None:
        self.store = store
        self.objects = objects
        self.embedder = embedder
        self.config = config or IngestConfig()
        self.metrics = metrics
        self._index_ready = False
        self._tagged = bool(getattr(store, "slot_routed", False))
        if self._tagged:
            for name in ("chunk_prefix", "state_prefix"):
                if any(c in getattr(self.config, name) for c in "{}"):
                    raise ValueError(
                        f"{name} {getattr(self.config, name)!r} holds a brace: on a cluster "
                        "the object's hash tag must be the first {...} of its keys"
                    )

    def ensure_index(self) -> None:
        if self._index_ready:
            return
        (reply,) = self.store.run([self.config.create_index_command()])
        if isinstance(reply, Exception) and "already exists" not in str(reply):
            raise reply
        self._index_ready = True

    def object_ref(self, bucket: str, key: str) -> str:
        """``bucket/key``, as a hash tag (``{bucket/key}``) on a cluster (module docstring)."""
        return f"{{{bucket}/{key}}}" if self._tagged else f"{bucket}/{key}"

    def state_key(self, bucket: str, key: str) -> str:
        return f"{self.config.state_prefix}{self.object_ref(bucket, key)}"

    def state_key_head(self, bucket: str) -> str:
        """What every state key of ``bucket`` starts with (the object key follows it)."""
        return self.state_key(bucket, "")[: -1 if self._tagged else None]

    def object_key_of(self, bucket: str, state_key: str) -> str | None:
        """The object key a state key of ``bucket`` records, or None for another key."""
        head = self.state_key_head(bucket)
        if not state_key.startswith(head):
            return None
        rest = state_key[len(head) :]
        if self._tagged:
            return rest[:-1] if rest.endswith("}") else None
        return rest

    def _state(self, bucket: str, key: str) -> dict[str, str]:
        (reply,) = self._run([["HGETALL", self.state_key(bucket, key)]])
        if isinstance(reply, Exception):
            raise reply
        if isinstance(reply, list):  # RESP2 flat list
            reply = dict(zip(reply[0::2], reply[1::2], strict=True))
        return {_text(k): _text(v) for k, v in (reply or {}).items()}

    @_logs_object_key
    def process(self, event: S3Event) -> Outcome:
        return self._one(self._begin(event, None))

    @_logs_object_key
    def process_inline(self, event: S3Event, body: bytes) -> Outcome:
        """An inline JSON document (from a stream record) instead of an S3 object."""
        return self._one(self._begin(event, body))

    def process_many(self, items: Sequence[Item]) -> list[Outcome | Exception]:
        """Each ``(event, inline body or None)`` as ``process``/``process_inline`` would, in
        order, with the embedding shared (module docstring). An error is returned in its
        item's place, after being logged as ``process`` logs it; the other items proceed."""
        results: list[Outcome | Exception | None] = [None] * len(items)
        group: list[tuple[int, _Prepared]] = []
        for n, (event, body) in enumerate(items):
            if any((p.event.bucket, p.event.key) == (event.bucket, event.key) for _, p in group):
                self._finish(group, results)
                group = []
            try:
                begun = self._begin(event, body)
            except Exception as exc:
                results[n] = _logged(event, exc)
                continue
            if isinstance(begun, Outcome):
                results[n] = begun
            else:
                group.append((n, begun))
        self._finish(group, results)
        return [r if r is not None else RuntimeError("not processed") for r in results]

    def _begin(self, event: S3Event, body: bytes | None) -> Outcome | _Prepared:
        """Everything before embedding: ordering, deletes, fetch, parse, chunk, hashes."""
        self.ensure_index()
        state = self._state(event.bucket, event.key)
        old_chunks = [c for c in state.get("chunks", "").split("\n") if c]
        if body is not None:
            inline = ObjectData(
                bucket=event.bucket, key=event.key, body=body, etag="",
                content_type="application/json",
            )  # fmt: skip
            return self._prepare(event, inline, old_chunks)
        if state and is_older(event, state.get("sequencer") or None):
            return Outcome("stale")
        if event.sequencer is None and state.get("sequencer"):
            # an event without ordering (backfill, inline) keeps the applied sequencer, so
            # a late, older notification for the key is still recognised as stale
            event = dataclasses.replace(event, sequencer=state["sequencer"])
        if event.kind == "delete":
            return self._delete(event, old_chunks)
        try:
            obj = self._fetch(event)
        except NotFound:
            return Outcome("gone")  # deleted since; its delete event follows
        return self._prepare(event, obj, old_chunks)

    def _one(self, begun: Outcome | _Prepared) -> Outcome:
        if isinstance(begun, Outcome):
            return begun
        return self._commit_upsert(begun, self._vectors([begun.chunks[i][1] for i in begun.todo]))

    def _finish(
        self, group: list[tuple[int, _Prepared]], results: list[Outcome | Exception | None]
    ) -> None:
        """Embed the group's changed chunks together, then commit each object."""
        if not group:
            return
        texts = [p.chunks[i][1] for _, p in group for i in p.todo]
        try:
            vectors = self._vectors(texts)
        except Exception as exc:
            for n, prepared in group:
                results[n] = _logged(prepared.event, exc)
            return
        start = 0
        for n, prepared in group:
            mine = vectors[start : start + len(prepared.todo)]
            start += len(prepared.todo)
            try:
                results[n] = self._commit_upsert(prepared, mine)
            except Exception as exc:
                results[n] = _logged(prepared.event, exc)

    def _vectors(self, texts: list[str]) -> list[bytes]:
        """Embed ``texts`` in ``embed_batch_size`` batches of similar length; in order."""
        out: list[bytes] = [b""] * len(texts)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        size = self.config.embed_batch_size
        for start in range(0, len(order), size):
            batch = order[start : start + size]
            embedded = self._embed([texts[i] for i in batch])
            for i, row in zip(batch, embedded, strict=True):
                out[i] = np.asarray(row, dtype=np.float32).tobytes()
        return out

    def _run(self, commands: list[list[Any]], *, atomic: bool = False) -> list[Any]:
        if self.metrics is None:
            return self.store.run(commands, atomic=atomic)
        with self.metrics.time_store("commit" if atomic else "read"):
            return self.store.run(commands, atomic=atomic)

    def _fetch(self, event: S3Event) -> ObjectData:
        get = functools.partial(
            self.objects.get, event.bucket, event.key, version_id=event.version_id,
            max_bytes=self.config.max_object_bytes,
        )  # fmt: skip
        if self.metrics is None:
            return get()
        with self.metrics.time_fetch():
            return get()

    def _embed(self, texts: list[str]) -> npt.NDArray[np.float32]:
        if self.metrics is None:
            return self.embedder.embed(texts)
        with self.metrics.time_embed():
            return self.embedder.embed(texts)

    def _observed(self, event: S3Event, outcome: Outcome) -> Outcome:
        if self.metrics is not None:
            self.metrics.observe_freshness(event.event_time_ms)
            self.metrics.observe_chunks(
                outcome.chunks_written, outcome.chunks_embedded, outcome.chunks_deleted
            )
        return outcome

    def _prepare(self, event: S3Event, obj: ObjectData, old_chunks: list[str]) -> _Prepared:
        try:
            docs = parse_object(
                event.key, obj.body, content_type=obj.content_type,
                content_encoding=obj.content_encoding, mapping=self.config.json_mapping,
            )  # fmt: skip
        except ParseError:
            # the object now holds something we cannot ingest: its old chunks no longer
            # describe it, so they go; the error goes to the dead-letter destination
            self._delete(event, old_chunks)
            raise
        cfg = self.config
        chunks: list[tuple[str, str, dict[str, Any]]] = []
        for doc in docs:
            pieces = chunk_text(
                doc.text, self.embedder.count_tokens,
                max_tokens=cfg.chunk_tokens, overlap_tokens=cfg.overlap_tokens,
            )  # fmt: skip
            for n, text in enumerate(pieces):
                ref = self.object_ref(event.bucket, event.key)
                cid = f"{cfg.chunk_prefix}{ref}{doc.suffix}#{n}"
                chunks.append((cid, text, {**obj.metadata, **doc.metadata, "chunk": n}))
        digests = [hashlib.sha256(text.encode()).hexdigest() for _, text, _ in chunks]
        if cfg.storage == "json":
            replies = self._run([json_storage.content_hash_command(cid) for cid, _, _ in chunks])
            existing = [json_storage.parse_content_hash(r) for r in replies]
        else:
            replies = self._run([["HGET", cid, "content_hash"] for cid, _, _ in chunks])
            existing = [_text(r or b"") for r in replies]
        todo = [i for i, d in enumerate(digests) if existing[i] != d]
        return _Prepared(event, obj, old_chunks, chunks, digests, todo)

    def _commit_upsert(self, prepared: _Prepared, embedded: list[bytes]) -> Outcome:
        """Write the object's chunks (``embedded``: the vectors of ``todo``, in order)."""
        event, obj = prepared.event, prepared.obj
        chunks, digests = prepared.chunks, prepared.digests
        vectors = dict(zip(prepared.todo, embedded, strict=True))
        now = int(time.time() * 1000)
        commands: list[list[Any]] = []
        for i, (cid, text, meta) in enumerate(chunks):
            if self.config.storage == "json":
                doc = {
                    "text": text, "bucket": event.bucket, "source": f"{event.bucket}/{event.key}",
                    "chunk": meta.get("chunk", 0), "content_hash": digests[i], "ingested_at": now,
                    "etag": obj.etag, "version": obj.version_id or "",
                    "metadata": {k: v for k, v in meta.items() if k != "chunk"},
                }  # fmt: skip
                commands.append(json_storage.write_command(cid, doc, vectors.get(i)))
                continue
            fields: list[Any] = [
                "text", text, "bucket", event.bucket, "source", f"{event.bucket}/{event.key}",
                "content_hash", digests[i], "ingested_at", now, "etag", obj.etag,
                "version", obj.version_id or "",
            ]  # fmt: skip
            for name, value in meta.items():
                fields += [name, value if isinstance(value, (int, float)) else str(value)]
            if i in vectors:
                fields += ["vec", vectors[i]]
            commands.append(["HSET", cid, *fields])
        new_ids = {cid for cid, _, _ in chunks}
        stale = [c for c in prepared.old_chunks if c not in new_ids]
        if stale:
            commands.append(["DEL", *stale])
        commands.append(self._state_command(event, obj.etag, [c for c, _, _ in chunks], False))
        self._commit(commands)
        return self._observed(event, Outcome("upserted", len(chunks), len(vectors), len(stale)))

    def _delete(self, event: S3Event, old_chunks: list[str]) -> Outcome:
        commands: list[list[Any]] = []
        if old_chunks:
            commands.append(["DEL", *old_chunks])
        commands.append(self._state_command(event, "", [], True))
        self._commit(commands)
        return self._observed(event, Outcome("deleted", chunks_deleted=len(old_chunks)))

    def _state_command(
        self, event: S3Event, etag: str, chunk_ids: list[str], deleted: bool
    ) -> list[Any]:
        return [
            "HSET", self.state_key(event.bucket, event.key),
            "sequencer", event.sequencer or "", "version", event.version_id or "",
            "etag", etag, "event_time", event.event_time_ms, "deleted", int(deleted),
            "chunks", "\n".join(chunk_ids),
        ]  # fmt: skip

    def _commit(self, commands: list[list[Any]]) -> None:
        replies = self._run(commands, atomic=True)
        errors = [r for r in replies if isinstance(r, Exception)]
        if errors:
            raise errors[0]
