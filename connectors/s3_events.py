"""S3 event notifications, parsed exactly as AWS sends them, into :class:`S3Event`.

Accepted shapes (nesting allowed, e.g. S3 -> SNS -> SQS -> Lambda):

* **S3 direct** (``Records[].eventSource == "aws:s3"``, ``eventVersion`` 2.x): the key in
  ``s3.object.key`` is form-encoded ("red flower.jpg" arrives as "red+flower.jpg", a ``+``
  as ``%2B``, non-ASCII as UTF-8 percent escapes) and is decoded with ``unquote_plus``.
* **SNS** (Lambda: ``Records[].Sns.Message``; SQS body of a non-raw SNS subscription:
  ``{"Type": "Notification", "Message": ...}``): ``Message`` is the JSON text of one of
  these shapes.
* **SQS** (Lambda: ``Records[].body``): ``body`` is the JSON text of one of these shapes.
* **EventBridge** (``source == "aws.s3"``, ``detail-type`` "Object Created" / "Object
  Deleted"): ``detail.object.key`` is *not* url-encoded.

``ObjectCreated:*`` gives ``kind="put"``; ``ObjectRemoved:*`` (``Delete`` and
``DeleteMarkerCreated``) and ``LifecycleExpiration:*`` give ``kind="delete"``. Other S3
event types (restore, tagging, ACL, replication, storage-class changes) and the
``s3:TestEvent`` that S3 sends when a notification configuration is saved yield nothing.
Anything that is not one of these shapes raises :class:`MalformedEvent` naming the path
of the offending field.

Ordering: S3 does not deliver notifications in order. ``sequencer`` is a hex string; of
two events *for the same key*, the one with the greater value (compared as equal-length,
zero-left-padded strings, i.e. as integers) happened later. :func:`is_older` and
:class:`SequencerLog` use it to drop events older than one already applied.
Sequencers of different keys are not comparable.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import unquote_plus

from connectors.errors import MalformedEvent

__all__ = [
    "S3Event",
    "SequencerLog",
    "compare_sequencers",
    "is_older",
    "parse_s3_events",
]

_MAX_NESTING = 4

_EVENTBRIDGE_CREATED_REASONS = {
    "PutObject": "ObjectCreated:Put",
    "POST Object": "ObjectCreated:Post",
    "CopyObject": "ObjectCreated:Copy",
    "CompleteMultipartUpload": "ObjectCreated:CompleteMultipartUpload",
}


@dataclass(frozen=True)
class S3Event:
    """One object change. ``key`` is decoded; ``etag`` has no quotes; ``size`` and ``etag``
    are None for deletes; ``sequencer`` is None when the sender gave none (moto)."""

    kind: Literal["put", "delete"]
    bucket: str
    key: str
    version_id: str | None
    etag: str | None
    size: int | None
    sequencer: str | None
    event_time_ms: int
    event_name: str  # "ObjectCreated:Put", "ObjectRemoved:DeleteMarkerCreated", ...


def parse_s3_events(payload: bytes | str | Mapping[str, Any]) -> list[S3Event]:
    """Every object change in ``payload`` (any envelope above), in the order given."""
    return list(_parse(_load(payload, "$"), "$", 0))


def compare_sequencers(a: str, b: str) -> int:
    """-1, 0 or 1 as ``a`` is earlier than, the same as, or later than ``b`` (same key)."""
    va, vb = _sequencer_value(a), _sequencer_value(b)
    return (va > vb) - (va < vb)


def is_older(event: S3Event, applied_sequencer: str | None) -> bool:
    """True when ``event`` happened before the event already applied for its key.

    False when either sequencer is unknown (nothing to compare: apply it) and for the
    same sequencer (a redelivery of the applied event; applying again is idempotent).
    """
    if event.sequencer is None or applied_sequencer is None:
        return False
    return compare_sequencers(event.sequencer, applied_sequencer) < 0


class SequencerLog:
    """The latest applied sequencer per (bucket, key), in memory.

    ``should_apply(event)`` is False for an event older than (or identical to) the one
    recorded for its key; ``record(event)`` is called after the event was applied.
    """

    def __init__(self) -> None:
        self._latest: dict[tuple[str, str], str] = {}

    def should_apply(self, event: S3Event) -> bool:
        applied = self._latest.get((event.bucket, event.key))
        if event.sequencer is None or applied is None:
            return True
        return compare_sequencers(event.sequencer, applied) > 0

    def record(self, event: S3Event) -> None:
        if event.sequencer is None:
            return
        slot = (event.bucket, event.key)
        applied = self._latest.get(slot)
        if applied is None or compare_sequencers(event.sequencer, applied) > 0:
            self._latest[slot] = event.sequencer

    def get(self, bucket: str, key: str) -> str | None:
        return self._latest.get((bucket, key))


def _sequencer_value(sequencer: str) -> int:
    try:
        return int(sequencer, 16)
    except (TypeError, ValueError):
        raise MalformedEvent(
            f"sequencer {sequencer!r} is not a hexadecimal string as S3 sends it"
        ) from None


def _load(payload: Any, path: str) -> Any:
    if isinstance(payload, (bytes, bytearray, memoryview)):
        try:
            payload = bytes(payload).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedEvent(f"{path}: not UTF-8 text ({exc})") from exc
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except json.JSONDecodeError as exc:
            raise MalformedEvent(
                f"{path}: not JSON ({exc.msg} at char {exc.pos}): {payload[:80]!r}"
            ) from exc
    if not isinstance(payload, Mapping):
        raise MalformedEvent(
            f"{path}: expected a JSON object (S3, SNS, SQS or EventBridge event), "
            f"got {type(payload).__name__}"
        )
    return payload


def _parse(doc: Mapping[str, Any], path: str, depth: int) -> Iterator[S3Event]:
    if depth > _MAX_NESTING:
        raise MalformedEvent(f"{path}: envelopes nested more than {_MAX_NESTING} deep")
    if doc.get("Event") == "s3:TestEvent":
        return
    if "Records" in doc:
        records = doc["Records"]
        if not isinstance(records, list):
            raise MalformedEvent(f"{path}.Records: expected a list, got {type(records).__name__}")
        for i, record in enumerate(records):
            yield from _parse_record(record, f"{path}.Records[{i}]", depth)
        return
    if doc.get("Type") == "Notification" and "Message" in doc:
        yield from _parse(_load(doc["Message"], f"{path}.Message"), f"{path}.Message", depth + 1)
        return
    if "detail-type" in doc:
        event = _parse_eventbridge(doc, path)
        if event is not None:
            yield event
        return
    raise MalformedEvent(
        f"{path}: not an S3 notification (no Records, Event, SNS Message or EventBridge "
        f"detail-type; keys: {sorted(doc)[:8]})"
    )


def _parse_record(record: object, path: str, depth: int) -> Iterator[S3Event]:
    if not isinstance(record, Mapping):
        raise MalformedEvent(f"{path}: expected an object, got {type(record).__name__}")
    source = record.get("eventSource") or record.get("EventSource")
    if source == "aws:s3" or (source is None and "s3" in record):
        event = _parse_s3_record(record, path)
        if event is not None:
            yield event
    elif source == "aws:sns" or "Sns" in record:
        sns = record.get("Sns")
        if not isinstance(sns, Mapping) or "Message" not in sns:
            raise MalformedEvent(f"{path}.Sns.Message: missing in an SNS record")
        inner = f"{path}.Sns.Message"
        yield from _parse(_load(sns["Message"], inner), inner, depth + 1)
    elif source == "aws:sqs" or "body" in record:
        if "body" not in record:
            raise MalformedEvent(f"{path}.body: missing in an SQS record")
        inner = f"{path}.body"
        yield from _parse(_load(record["body"], inner), inner, depth + 1)
    else:
        raise MalformedEvent(f"{path}.eventSource: {source!r} is not aws:s3, aws:sns or aws:sqs")


def _parse_s3_record(record: Mapping[str, Any], path: str) -> S3Event | None:
    version = str(record.get("eventVersion", "2.1"))
    if not version.startswith("2."):
        raise MalformedEvent(f"{path}.eventVersion: {version!r} unsupported (major version 2)")
    event_name = _str(record, "eventName", path)
    kind = _kind(event_name)
    if kind is None:
        return None
    s3 = _obj(record, "s3", path)
    bucket = _obj(s3, "bucket", f"{path}.s3")
    obj = _obj(s3, "object", f"{path}.s3")
    opath = f"{path}.s3.object"
    return S3Event(
        kind=kind,
        bucket=_str(bucket, "name", f"{path}.s3.bucket"),
        key=unquote_plus(_str(obj, "key", opath)),
        version_id=_opt_str(obj, "versionId", opath),
        etag=_etag(obj.get("eTag"), opath) if kind == "put" else None,
        size=_size(obj.get("size"), opath) if kind == "put" else None,
        sequencer=_sequencer(obj.get("sequencer"), opath),
        event_time_ms=_time_ms(record.get("eventTime"), f"{path}.eventTime"),
        event_name=event_name,
    )


def _parse_eventbridge(doc: Mapping[str, Any], path: str) -> S3Event | None:
    if doc.get("source") != "aws.s3":
        raise MalformedEvent(f"{path}.source: {doc.get('source')!r} is not aws.s3")
    detail_type = doc["detail-type"]
    detail = _obj(doc, "detail", path)
    dpath = f"{path}.detail"
    reason = str(detail.get("reason", ""))
    kind: Literal["put", "delete"]
    if detail_type == "Object Created":
        kind = "put"
        event_name = _EVENTBRIDGE_CREATED_REASONS.get(reason, "ObjectCreated:Put")
    elif detail_type == "Object Deleted":
        kind = "delete"
        marker = detail.get("deletion-type") == "Delete Marker Created"
        prefix = "LifecycleExpiration" if reason == "Lifecycle Expiration" else "ObjectRemoved"
        event_name = f"{prefix}:{'DeleteMarkerCreated' if marker else 'Delete'}"
    else:
        return None
    obj = _obj(detail, "object", dpath)
    opath = f"{dpath}.object"
    etag = obj.get("etag", obj.get("eTag"))
    return S3Event(
        kind=kind,
        bucket=_str(_obj(detail, "bucket", dpath), "name", f"{dpath}.bucket"),
        key=_str(obj, "key", opath),
        version_id=_opt_str(obj, "version-id", opath),
        etag=_etag(etag, opath) if kind == "put" else None,
        size=_size(obj.get("size"), opath) if kind == "put" else None,
        sequencer=_sequencer(obj.get("sequencer"), opath),
        event_time_ms=_time_ms(doc.get("time"), f"{path}.time"),
        event_name=event_name,
    )


def _kind(event_name: str) -> Literal["put", "delete"] | None:
    family = event_name.removeprefix("s3:").split(":", 1)[0]
    if family == "ObjectCreated":
        return "put"
    if family in ("ObjectRemoved", "LifecycleExpiration"):
        return "delete"
    return None


def _obj(doc: Mapping[str, Any], name: str, path: str) -> Mapping[str, Any]:
    value = doc.get(name)
    if not isinstance(value, Mapping):
        raise MalformedEvent(f"{path}.{name}: expected an object, got {type(value).__name__}")
    return value


def _str(doc: Mapping[str, Any], name: str, path: str) -> str:
    value = doc.get(name)
    if not isinstance(value, str) or not value:
        raise MalformedEvent(f"{path}.{name}: expected a non-empty string, got {value!r}")
    return value


def _opt_str(doc: Mapping[str, Any], name: str, path: str) -> str | None:
    value = doc.get(name)
    if value is None or value == "" or value == "null":
        return None
    if not isinstance(value, str):
        raise MalformedEvent(f"{path}.{name}: expected a string, got {value!r}")
    return value


def _etag(value: object, path: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedEvent(f"{path}.eTag: expected a string, got {value!r}")
    return value.strip('"')


def _size(value: object, path: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise MalformedEvent(f"{path}.size: expected a byte count, got {value!r}")
    try:
        size = int(value)
    except ValueError:
        raise MalformedEvent(f"{path}.size: expected a byte count, got {value!r}") from None
    if size < 0:
        raise MalformedEvent(f"{path}.size: negative byte count {size}")
    return size


def _sequencer(value: object, path: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise MalformedEvent(f"{path}.sequencer: expected a hex string, got {value!r}")
    _sequencer_value(value)
    return value


def _time_ms(value: object, path: str) -> int:
    if value is None:
        return 0
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value * 1000)
    if isinstance(value, str):
        try:
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            return int(when.timestamp() * 1000)
    raise MalformedEvent(f"{path}: expected an ISO-8601 time, got {value!r}")
