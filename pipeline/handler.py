"""AWS-Lambda-compatible entry point: ``pipeline.handler.handle(event, context)``.

Accepts the event shapes Lambda delivers and answers with the partial-batch response
Lambda defines (``{"batchItemFailures": [{"itemIdentifier": ...}]}``), so only failed
records are retried or sent to the on-failure destination:

* S3 (direct): ``Records[].s3``; no identifiers: a failure raises (Lambda's async retry).
* SQS: ``Records[].body`` holding an S3 notification (possibly SNS-wrapped, or an
  EventBridge event); identifier ``messageId``.
* Kinesis: ``Records[].kinesis.data``, base64 of an S3 notification or an inline
  document; identifier ``kinesis.sequenceNumber``.
* MSK / self-managed Kafka: ``records["<topic>-<partition>"][]`` with base64 ``value``;
  identifier ``"<topic>-<partition>@<offset>"``.
* EventBridge (direct): ``detail-type`` Object Created/Deleted; raises on failure.

An inline document is JSON ``{"id": ..., "text": ..., <metadata>...}`` (or
``{"id": ..., "delete": true}``); it is stored under bucket ``inline``.

Clients are built from the environment on first use and reused across invocations:
``MEMVEC_STORE_URL`` (``redis://host:port`` for memvec server / redis-stack / MemoryDB,
``rediss://`` for TLS; a comma-separated list of every node follows the primary),
``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL`` (moto/LocalStack; unset on AWS),
``MEMVEC_INDEX`` (default ``memvec``), ``MEMVEC_MAX_OBJECT_BYTES``, and ``MEMVEC_EMBEDDER``
(``local`` by default, ``onnx``, or ``sagemaker:<endpoint-name>``:
:mod:`pipeline.embedder_spec`; the SageMaker endpoint is reached at ``AWS_ENDPOINT_URL``
when set, in ``AWS_REGION``).
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from connectors.errors import ConnectorError, MalformedEvent
from connectors.s3_events import S3Event, parse_s3_events

from .defaults import DEFAULT_INDEX
from .errors import PipelineError
from .processor import IngestConfig, Item, Processor

log = logging.getLogger("memvec.handler")

_processor: Processor | None = None


@dataclass
class ItemResult:
    """The outcome of one record of an invocation; failures carry the reason."""

    item_id: str | None
    ok: bool
    reason: str = ""
    retriable: bool = False


def configure(processor: Processor | None) -> None:
    """Install the processor the handler uses (tests, the local runner)."""
    global _processor
    _processor = processor


def config_from_env(env: Mapping[str, str] = os.environ) -> IngestConfig:
    """The handler's ingest settings: ``MEMVEC_INDEX``, ``MEMVEC_MAX_OBJECT_BYTES``,
    ``MEMVEC_STORAGE`` (``hash`` or ``json``)."""
    return IngestConfig(
        index=env.get("MEMVEC_INDEX", DEFAULT_INDEX),
        storage=env.get("MEMVEC_STORAGE", "hash"),
        max_object_bytes=int(env.get("MEMVEC_MAX_OBJECT_BYTES", 16 * 1024 * 1024)),
    )


def _default_processor() -> Processor:
    from connectors.s3 import S3ObjectStore

    from .embedder_spec import open_embedder, spec_from_env
    from .stores import open_store

    url = os.environ.get("MEMVEC_STORE_URL")
    if not url:
        raise RuntimeError("set MEMVEC_STORE_URL (e.g. redis://store:6379) for the handler")
    spec = spec_from_env()  # a bad MEMVEC_EMBEDDER fails here, before any connection
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    config = config_from_env()
    embedder = open_embedder(spec, endpoint_url=os.environ.get("AWS_ENDPOINT_URL"))
    store, _ = open_store(url)  # lives as long as the Lambda execution environment
    return Processor(store, S3ObjectStore(endpoint_url=endpoint), embedder, config)


def processor() -> Processor:
    global _processor
    if _processor is None:
        _processor = _default_processor()
    return _processor


def _inline(doc: dict[str, Any], position: str) -> tuple[S3Event, bytes | None]:
    if "id" not in doc:
        raise MalformedEvent("inline document without an 'id' field")
    event = S3Event(
        kind="delete" if doc.get("delete") else "put", bucket="inline", key=str(doc["id"]),
        version_id=None, etag=None, size=None, sequencer=None,
        event_time_ms=int(time.time() * 1000), event_name=f"Inline:{position}",
    )  # fmt: skip
    if doc.get("delete"):
        return event, None
    # the id names the object; the rest is the record (so its chunks are <id>#<n>)
    return event, json.dumps({k: v for k, v in doc.items() if k != "id"}).encode()


def _payload_events(data: bytes, position: str) -> list[Item]:
    try:
        doc = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MalformedEvent(f"record is not JSON: {exc}") from exc
    if isinstance(doc, dict) and ("text" in doc or "delete" in doc) and "Records" not in doc:
        return [_inline(doc, position)]
    return [(e, None) for e in parse_s3_events(doc)]


Decoded = tuple[str | None, list[Item]] | ItemResult  # a record's events, or its failure


def _run(decoded: list[Decoded]) -> list[ItemResult]:
    """Process every decoded record's events in one ``process_many`` (embedding shared).

    A record fails with the first of its events that fails with a per-record error: one
    of our two families (``PipelineError``, ``ConnectorError``), whose ``retriable`` says
    whether the runner may retry it. Any other (foreign) error fails the whole batch
    (raised), as a single record's would: the runner retries and bisects, and work
    already committed is idempotent.
    """
    flat = [
        (n, pair)
        for n, entry in enumerate(decoded)
        if not isinstance(entry, ItemResult)
        for pair in entry[1]
    ]
    outcomes = processor().process_many([pair for _, pair in flat]) if flat else []
    failed: dict[int, ItemResult] = {}
    for (n, (event, _)), outcome in zip(flat, outcomes, strict=True):
        if not isinstance(outcome, Exception) or n in failed:
            continue
        entry = decoded[n]
        assert not isinstance(entry, ItemResult)
        item_id = entry[0]
        if not isinstance(outcome, PipelineError | ConnectorError):
            raise outcome
        failed[n] = ItemResult(item_id, False, str(outcome), retriable=outcome.retriable)
        log.warning("record %s object %s/%s: %s", item_id, event.bucket, event.key, outcome)
    return [
        entry if isinstance(entry, ItemResult) else failed.get(n, ItemResult(entry[0], True))
        for n, entry in enumerate(decoded)
    ]


def process_event(event: dict[str, Any]) -> list[ItemResult]:
    """Every record of a Lambda event with its outcome (the runner uses this directly)."""
    decoded: list[Decoded] = []
    if "records" in event and event.get("eventSource") in ("aws:kafka", "SelfManagedKafka"):
        for records in event["records"].values():
            for rec in records:
                item = f"{rec.get('topic')}-{rec.get('partition')}@{rec.get('offset')}"
                decoded.append(_decode_b64(item, rec.get("value"), str(rec.get("offset"))))
        return _run(decoded)
    if "detail-type" in event:
        return _run([_decode(None, functools.partial(_s3_events, event))])
    for rec in event.get("Records", []):
        source = rec.get("eventSource") or rec.get("EventSource")
        if source == "aws:sqs":
            mid = rec.get("messageId")
            body = rec.get("body", "")
            decoded.append(_decode(mid, functools.partial(_payload_events, body.encode(), mid)))
        elif source == "aws:kinesis":
            kin = rec.get("kinesis", {})
            seq = kin.get("sequenceNumber")
            decoded.append(_decode_b64(seq, kin.get("data"), seq))
        elif source == "aws:s3":
            decoded.append(_decode(None, functools.partial(_s3_events, {"Records": [rec]})))
        else:
            decoded.append(ItemResult(None, False, f"unsupported eventSource {source!r}"))
    return _run(decoded)


def _s3_events(notification: dict[str, Any]) -> list[Item]:
    return [(e, None) for e in parse_s3_events(notification)]


def process_payload(item: str | None, data: bytes) -> ItemResult:
    """One stream record's raw value (S3 notification JSON or an inline document)."""
    return process_payloads([(item, data)])[0]


def process_payloads(items: Sequence[tuple[str | None, bytes]]) -> list[ItemResult]:
    """Stream records' raw values, their objects embedded together (see ``_run``)."""
    return _run(
        [
            _decode(item, functools.partial(_payload_events, data, item or ""))
            for item, data in items
        ]
    )


def _decode_b64(item: str | None, b64: str | None, position: str) -> Decoded:
    def pairs() -> list[Item]:
        if not b64:
            raise MalformedEvent("record has no data")
        try:
            raw = base64.b64decode(b64, validate=True)
        except ValueError as exc:
            raise MalformedEvent(f"record data is not base64: {exc}") from exc
        return _payload_events(raw, position)

    return _decode(item, pairs)


def _decode(item: str | None, make: Callable[[], list[Item]]) -> Decoded:
    try:
        return item, make()
    except MalformedEvent as exc:
        return ItemResult(item, False, f"not an S3 notification or document: {exc}")


def handle(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """The Lambda handler (``pipeline.handler.handle``)."""
    results = process_event(event)
    failures = [r for r in results if not r.ok]
    if failures and any(r.item_id is None for r in failures):
        # sources without partial batch responses: fail the invocation so Lambda retries
        raise RuntimeError("; ".join(r.reason for r in failures))
    return {"batchItemFailures": [{"itemIdentifier": r.item_id} for r in failures]}
