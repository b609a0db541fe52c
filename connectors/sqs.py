"""SQS as a :class:`~connectors.base.Source` (long polling) and a sink (for dead letters).

:class:`SqsSource` contract:

* ``get_batch`` long-polls ``ReceiveMessage`` (``WaitTimeSeconds`` up to 20, bounded by
  the caller's timeout; a window under a second short-polls once and sleeps out the rest),
  at most 10 messages per request, more requests without waiting while full pages keep
  coming, up to ``max_records``. All records have partition ``""``:
  a standard queue has no order; a FIFO queue hands messages of one group in order.
* Received messages stay invisible to other consumers while the sink works: a background
  task calls ``ChangeMessageVisibilityBatch`` for every in-flight message
  ``extend_margin_s`` before its visibility timeout expires.
* ``ack(batch)`` deletes the batch's messages (``DeleteMessageBatch``, 10 per request).
  Entries that fail server-side are retried; if some still fail (or their receipt handle
  is no longer valid because the visibility expired and another consumer received them),
  ``CommitRejected`` names them: they will be delivered again (at-least-once).
* A message that is never acknowledged reappears after its visibility timeout. ``stop()``
  stops extending and, with ``release_on_stop`` (the default), makes the unacknowledged
  messages visible at once so a restarted consumer need not wait for the timeout.

boto3 calls run in ``asyncio.to_thread`` so the event loop never blocks on the network.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from connectors.aws import AwsEndpoint, endpoint_or_url, make_aws_client
from connectors.base import Batch, Record, Source
from connectors.errors import CommitRejected, ConnectorError, from_botocore
from store.aio import within

__all__ = ["SqsSink", "SqsSource", "SqsState"]

log = logging.getLogger(__name__)

MAX_PER_REQUEST = 10
MAX_WAIT_S = 20


class SqsState(Enum):
    NEW = "new"
    RUNNING = "running"
    STOPPED = "stopped"


@dataclass
class _InFlight:
    receipt: str
    message_id: str
    expires_at: float  # time.monotonic() when the visibility runs out


async def _call(client: Any, method: str, what: str, **params: Any) -> Any:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return await asyncio.to_thread(getattr(client, method), **params)
    except (ClientError, BotoCoreError) as exc:
        raise from_botocore(exc, what) from exc


class SqsSource(Source):
    """Messages of one queue, received in batches and deleted on ``ack``."""

    def __init__(
        self,
        queue_url: str,
        *,
        endpoint: AwsEndpoint | None = None,
        endpoint_url: str | None = None,
        client: Any = None,
        visibility_timeout_s: int = 30,
        extend_margin_s: float | None = None,
        max_wait_s: int = MAX_WAIT_S,
        release_on_stop: bool = True,
        delete_attempts: int = 3,
    ) -> None:
        """``endpoint`` says where to connect (``endpoint_url`` alone is shorthand for
        ``AwsEndpoint(endpoint_url)``); ``client`` (a boto3 SQS client) overrides both.
        ``visibility_timeout_s``: how long a received message stays hidden per grant;
        short values make a crashed consumer's messages return sooner but cost more
        extension calls. ``extend_margin_s`` (default a third of it): how long before
        expiry the grant is renewed. ``max_wait_s``: longest long-poll (SQS allows 20).
        """
        if visibility_timeout_s < 1:
            raise ValueError("visibility_timeout_s must be at least 1 second")
        self.queue_url = queue_url
        # the read timeout must outlast the longest long poll
        self.client = client or make_aws_client(
            "sqs", endpoint_or_url(endpoint, endpoint_url), read_timeout_s=MAX_WAIT_S + 10
        )
        self.visibility_timeout_s = visibility_timeout_s
        self.extend_margin_s = (
            extend_margin_s if extend_margin_s is not None else visibility_timeout_s / 3
        )
        self.max_wait_s = max(0, min(MAX_WAIT_S, max_wait_s))
        self.release_on_stop = release_on_stop
        self.delete_attempts = max(1, delete_attempts)
        self.state = SqsState.NEW
        self._in_flight: dict[str, _InFlight] = {}  # by receipt handle
        self._extender: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    @property
    def in_flight(self) -> int:
        """Messages received and neither acknowledged nor released."""
        return len(self._in_flight)

    async def start(self) -> None:
        if self.state is SqsState.RUNNING:
            return
        self.state = SqsState.RUNNING
        self._wake = asyncio.Event()
        self._extender = asyncio.create_task(self._extend_loop(), name="sqs-visibility")

    async def stop(self) -> None:
        if self.state is not SqsState.RUNNING:
            self.state = SqsState.STOPPED
            return
        self.state = SqsState.STOPPED
        if self._extender is not None:
            # Python 3.11's wait_for can swallow a cancel that races the wake-up: the state
            # check in the loop ends it either way.
            self._wake.set()
            self._extender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._extender
            self._extender = None
        pending = list(self._in_flight.values())
        self._in_flight.clear()
        if self.release_on_stop and pending:
            try:
                await self._change_visibility(pending, 0)
            except ConnectorError as exc:
                log.warning("could not release %d messages on stop: %s", len(pending), exc)

    async def get_batch(self, max_records: int, timeout_s: float) -> Batch | None:
        if self.state is not SqsState.RUNNING:
            raise RuntimeError("SqsSource.get_batch() outside start()/stop(); call start() first")
        started = time.monotonic()
        wait_s = int(min(self.max_wait_s, max(0.0, timeout_s)))
        messages = await self._receive(min(MAX_PER_REQUEST, max_records), wait_s)
        if not messages and wait_s == 0 and timeout_s > 0:
            # SQS long-polls in whole seconds: a sub-second window short-polls once, then
            # waits out the window instead of letting the caller spin on empty receives
            await asyncio.sleep(max(0.0, timeout_s - (time.monotonic() - started)))
            return None
        page = messages
        while len(page) == MAX_PER_REQUEST and len(messages) < max_records:
            page = await self._receive(min(MAX_PER_REQUEST, max_records - len(messages)), 0)
            messages.extend(page)
        if not messages:
            return None
        expires = time.monotonic() + self.visibility_timeout_s
        records = []
        for message in messages:
            record = self._record(message)
            records.append(record)
            assert record.receipt is not None
            self._in_flight[record.receipt] = _InFlight(record.receipt, record.position, expires)
        self._wake.set()
        return Batch(self.queue_url, "", tuple(records))

    async def ack(self, batch: Batch) -> None:
        pending = [r for r in batch.records if r.receipt is not None]
        for record in pending:
            assert record.receipt is not None
            self._in_flight.pop(record.receipt, None)
        failed: list[tuple[Record, str]] = []
        for start in range(0, len(pending), MAX_PER_REQUEST):
            failed.extend(await self._delete(pending[start : start + MAX_PER_REQUEST]))
        if failed:
            detail = "; ".join(f"{r.position}: {why}" for r, why in failed[:5])
            raise CommitRejected(
                f"{len(failed)} of {len(pending)} messages of {self.queue_url} were not "
                f"deleted ({detail}); they will be delivered again after their visibility "
                "timeout, which the idempotent pipeline tolerates"
            )

    async def _receive(self, count: int, wait_s: int) -> list[dict[str, Any]]:
        response = await _call(
            self.client,
            "receive_message",
            f"receive {self.queue_url}",
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=count,
            WaitTimeSeconds=wait_s,
            VisibilityTimeout=self.visibility_timeout_s,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(response.get("Messages", []))

    async def _delete(self, records: Sequence[Record]) -> list[tuple[Record, str]]:
        todo = {str(i): r for i, r in enumerate(records)}
        failed: list[tuple[Record, str]] = []
        for attempt in range(self.delete_attempts):
            if not todo:
                break
            if attempt:
                await asyncio.sleep(0.1 * 2**attempt)
            response = await _call(
                self.client,
                "delete_message_batch",
                f"delete from {self.queue_url}",
                QueueUrl=self.queue_url,
                Entries=[{"Id": i, "ReceiptHandle": r.receipt} for i, r in todo.items()],
            )
            retry: dict[str, Record] = {}
            for entry in response.get("Failed", []):
                record = todo[entry["Id"]]
                why = f"{entry.get('Code')}: {entry.get('Message', '')}".strip()
                if entry.get("SenderFault"):
                    failed.append((record, why))
                else:
                    retry[entry["Id"]] = record
            todo = retry
        failed.extend((r, "still failing after retries") for r in todo.values())
        return failed

    async def _extend_loop(self) -> None:
        while self.state is SqsState.RUNNING:
            now = time.monotonic()
            if self._in_flight:
                soonest = min(m.expires_at for m in self._in_flight.values())
                delay = max(0.0, soonest - self.extend_margin_s - now)
            else:
                delay = self.visibility_timeout_s
            self._wake.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await within(self._wake.wait(), delay)
            if self.state is not SqsState.RUNNING:
                return
            due_by = time.monotonic() + self.extend_margin_s
            due = [m for m in self._in_flight.values() if m.expires_at <= due_by]
            if not due:
                continue
            try:
                await self._change_visibility(due, self.visibility_timeout_s)
            except ConnectorError as exc:
                log.warning("visibility extension failed for %d messages: %s", len(due), exc)
                await asyncio.sleep(min(1.0, self.extend_margin_s / 2))

    async def _change_visibility(self, messages: Sequence[_InFlight], timeout_s: int) -> None:
        for start in range(0, len(messages), MAX_PER_REQUEST):
            chunk = messages[start : start + MAX_PER_REQUEST]
            granted_at = time.monotonic()
            response = await _call(
                self.client,
                "change_message_visibility_batch",
                f"change visibility in {self.queue_url}",
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m.receipt, "VisibilityTimeout": timeout_s}
                    for i, m in enumerate(chunk)
                ],
            )
            failed = {entry["Id"]: entry for entry in response.get("Failed", [])}
            for i, message in enumerate(chunk):
                if str(i) in failed:
                    entry = failed[str(i)]
                    log.warning(
                        "message %s lost its visibility grant (%s); it may be redelivered",
                        message.message_id,
                        entry.get("Code"),
                    )
                    if entry.get("SenderFault"):
                        self._in_flight.pop(message.receipt, None)
                elif message.receipt in self._in_flight:
                    message.expires_at = granted_at + timeout_s

    def _record(self, message: Mapping[str, Any]) -> Record:
        attributes = message.get("Attributes", {})
        headers = []
        for name, attr in sorted(message.get("MessageAttributes", {}).items()):
            if "BinaryValue" in attr:
                headers.append((name, bytes(attr["BinaryValue"])))
            else:
                headers.append((name, str(attr.get("StringValue", "")).encode()))
        group = attributes.get("MessageGroupId")
        return Record(
            source="sqs",
            stream=self.queue_url,
            partition="",
            position=message["MessageId"],
            value=str(message.get("Body", "")).encode("utf-8"),
            key=group.encode() if group else None,
            timestamp_ms=int(attributes.get("SentTimestamp", 0)),
            headers=tuple(headers),
            receipt=message["ReceiptHandle"],
        )


class SqsSink:
    """Sends messages to one queue (dead letters, notifications), 10 per request.

    SQS bodies are text: ``bytes`` must be UTF-8, or pass ``binary_as_base64=True`` to
    send them base64-encoded (the receiver must then decode). For a FIFO queue pass
    ``group_id``; deduplication ids default to content-based deduplication on the queue.
    """

    def __init__(
        self,
        queue_url: str,
        *,
        endpoint: AwsEndpoint | None = None,
        endpoint_url: str | None = None,
        client: Any = None,
        send_attempts: int = 3,
        binary_as_base64: bool = False,
    ) -> None:
        self.queue_url = queue_url
        self.client = client or make_aws_client("sqs", endpoint_or_url(endpoint, endpoint_url))
        self.send_attempts = max(1, send_attempts)
        self.binary_as_base64 = binary_as_base64

    async def send(
        self,
        values: Sequence[bytes | str],
        *,
        attributes: Mapping[str, str] | None = None,
        group_id: str | None = None,
        dedup_ids: Sequence[str] | None = None,
    ) -> list[str]:
        """Send ``values`` in order; the message ids. Raises if any could not be sent."""
        message_ids: list[str] = []
        for start in range(0, len(values), MAX_PER_REQUEST):
            entries = []
            for i, value in enumerate(values[start : start + MAX_PER_REQUEST]):
                entry: dict[str, Any] = {"Id": str(i), "MessageBody": self._body(value)}
                if attributes:
                    entry["MessageAttributes"] = {
                        k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()
                    }
                if group_id is not None:
                    entry["MessageGroupId"] = group_id
                if dedup_ids is not None:
                    entry["MessageDeduplicationId"] = dedup_ids[start + i]
                entries.append(entry)
            message_ids.extend(await self._send_entries(entries))
        return message_ids

    async def _send_entries(self, entries: list[dict[str, Any]]) -> list[str]:
        ids: dict[str, str] = {}
        todo = {e["Id"]: e for e in entries}
        errors: list[str] = []
        for attempt in range(self.send_attempts):
            if not todo:
                break
            if attempt:
                await asyncio.sleep(0.1 * 2**attempt)
            response = await _call(
                self.client,
                "send_message_batch",
                f"send to {self.queue_url}",
                QueueUrl=self.queue_url,
                Entries=list(todo.values()),
            )
            for ok in response.get("Successful", []):
                ids[ok["Id"]] = ok["MessageId"]
                todo.pop(ok["Id"], None)
            errors = []
            for entry in response.get("Failed", []):
                errors.append(f"{entry.get('Code')}: {entry.get('Message', '')}")
                if entry.get("SenderFault"):
                    todo.pop(entry["Id"], None)
        if len(ids) != len(entries):
            raise ConnectorError(
                f"{len(entries) - len(ids)} of {len(entries)} messages were not sent to "
                f"{self.queue_url} ({'; '.join(errors[:3])}); send them again"
            )
        return [ids[e["Id"]] for e in entries]

    def _body(self, value: bytes | str) -> str:
        if isinstance(value, str):
            return value
        if self.binary_as_base64:
            return base64.b64encode(value).decode("ascii")
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(
                "SQS bodies are text: this value is not UTF-8; pass binary_as_base64=True"
            ) from None
