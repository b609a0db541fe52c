"""S3 notification parsing: AWS's documented samples, every envelope, sequencers, and a real
notification delivered by moto server to SQS parsed into the same event as the sample."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from connectors.errors import MalformedEvent
from connectors.s3_events import (
    S3Event,
    SequencerLog,
    compare_sequencers,
    is_older,
    parse_s3_events,
)
from tests.harness import unique_name, wait_for

DATA = Path(__file__).parent / "data"
KEY = "docs/red flower+ünï 東京.txt"

SAMPLE_PUT = S3Event(
    kind="put",
    bucket="amzn-s3-demo-bucket",
    key=KEY,
    version_id="096fKKXTRTtl3on89fVO.nfljtsv6qko",
    etag="0123456789abcdef0123456789abcdef",
    size=1024,
    sequencer="0A1B2C3D4E5F678901",
    event_time_ms=1795162530123,
    event_name="ObjectCreated:Put",
)
SAMPLE_DELETE = S3Event(
    kind="delete",
    bucket="amzn-s3-demo-bucket",
    key=KEY,
    version_id="1i7Dt3Tr5qGqX.T4Wc2Ezd6F4cF8BFYZ",
    etag=None,
    size=None,
    sequencer="0A1B2C3D4E5F678902",
    event_time_ms=1795162560000,
    event_name="ObjectRemoved:DeleteMarkerCreated",
)


def load(name: str) -> Any:
    return json.loads((DATA / name).read_text("utf-8"))


def test_direct_s3_put_decodes_the_form_encoded_key() -> None:
    raw = load("s3_put.json")
    assert raw["Records"][0]["s3"]["object"]["key"] != KEY
    assert parse_s3_events(raw) == [SAMPLE_PUT]
    assert parse_s3_events((DATA / "s3_put.json").read_bytes()) == [SAMPLE_PUT]


def test_delete_marker_is_a_delete() -> None:
    assert parse_s3_events(load("s3_delete_marker.json")) == [SAMPLE_DELETE]


def test_test_event_is_ignored() -> None:
    assert parse_s3_events(load("s3_test_event.json")) == []


def test_sns_envelope() -> None:
    assert parse_s3_events(load("sns_s3_put.json")) == [SAMPLE_PUT]


def test_sqs_envelope_keeps_order_and_skips_the_test_event() -> None:
    assert parse_s3_events(load("sqs_s3_events.json")) == [SAMPLE_PUT, SAMPLE_DELETE]


def test_sqs_body_holding_an_sns_notification() -> None:
    assert parse_s3_events(load("sqs_sns_s3_put.json")) == [SAMPLE_PUT]
    body = load("sqs_sns_s3_put.json")["Records"][0]["body"]
    assert parse_s3_events(body) == [SAMPLE_PUT]


def test_eventbridge_created_and_deleted() -> None:
    (created,) = parse_s3_events(load("eventbridge_object_created.json"))
    assert created == S3Event(
        kind="put",
        bucket="amzn-s3-demo-bucket1",
        key="example-key",
        version_id="IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
        etag="b1946ac92492d2347c6235b4d2611184",
        size=5,
        sequencer="617f08299329d189",
        event_time_ms=1636675200000,
        event_name="ObjectCreated:Put",
    )
    (deleted,) = parse_s3_events(load("eventbridge_object_deleted.json"))
    assert deleted.kind == "delete"
    assert deleted.event_name == "ObjectRemoved:DeleteMarkerCreated"
    assert (deleted.etag, deleted.size) == (None, None)


def test_eventbridge_key_is_not_url_decoded() -> None:
    doc = load("eventbridge_object_created.json")
    doc["detail"]["object"]["key"] = "a+b%20c"
    assert parse_s3_events(doc)[0].key == "a+b%20c"


def test_eventbridge_through_sqs() -> None:
    body = json.dumps(load("eventbridge_object_created.json"))
    events = parse_s3_events({"Records": [{"eventSource": "aws:sqs", "body": body}]})
    assert events[0].key == "example-key"


def test_other_event_types_yield_nothing() -> None:
    doc = load("s3_put.json")
    doc["Records"][0]["eventName"] = "ObjectTagging:Put"
    assert parse_s3_events(doc) == []
    eb = load("eventbridge_object_created.json")
    eb["detail-type"] = "Object Tags Added"
    assert parse_s3_events(eb) == []


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"not json", "not JSON"),
        (b"\xff\xfe", "not UTF-8"),
        ("[1, 2]", "expected a JSON object"),
        ({"hello": 1}, "not an S3 notification"),
        ({"Records": {}}, "$.Records: expected a list"),
        ({"Records": [{"eventSource": "aws:kinesis"}]}, "eventSource"),
        (
            {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put"}]},
            "$.Records[0].s3",
        ),
        ({"Records": [{"eventSource": "aws:sqs", "body": "{oops"}]}, "$.Records[0].body: not JSON"),
        ({"Records": [{"Sns": {}}]}, "Sns.Message"),
    ],
)
def test_malformed_input_names_the_reason(payload: Any, reason: str) -> None:
    with pytest.raises(MalformedEvent) as info:
        parse_s3_events(payload)
    assert reason in str(info.value)
    assert info.value.retriable is False


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("key", "", "s3.object.key"),
        ("size", "big", "s3.object.size"),
        ("sequencer", "xyz", "not a hexadecimal string"),
        ("eTag", 5, "s3.object.eTag"),
    ],
)
def test_malformed_object_fields(field: str, value: object, reason: str) -> None:
    doc = load("s3_put.json")
    doc["Records"][0]["s3"]["object"][field] = value
    with pytest.raises(MalformedEvent) as info:
        parse_s3_events(doc)
    assert reason in str(info.value)


def test_bad_event_time_and_version() -> None:
    doc = load("s3_put.json")
    doc["Records"][0]["eventTime"] = "yesterday"
    with pytest.raises(MalformedEvent, match="eventTime"):
        parse_s3_events(doc)
    doc = load("s3_put.json")
    doc["Records"][0]["eventVersion"] = "3.0"
    with pytest.raises(MalformedEvent, match="eventVersion"):
        parse_s3_events(doc)


def test_sequencers_compare_as_zero_padded_hex() -> None:
    assert compare_sequencers("0A1D", "A1C") == 1  # "0A1D" vs "0A1C" after padding
    assert compare_sequencers("00FF", "FF") == 0
    assert compare_sequencers("FF", "100") == -1  # a string compare would say the opposite
    assert compare_sequencers("0055B9F2C8E2E29A59", "0055B9F2C8E2E29A5A") == -1


def test_is_older_and_sequencer_log() -> None:
    assert is_older(SAMPLE_PUT, SAMPLE_DELETE.sequencer)
    assert not is_older(SAMPLE_DELETE, SAMPLE_PUT.sequencer)
    assert not is_older(SAMPLE_PUT, SAMPLE_PUT.sequencer)
    assert not is_older(SAMPLE_PUT, None)
    assert not is_older(dataclasses.replace(SAMPLE_PUT, sequencer=None), "FF")

    applied = SequencerLog()
    assert applied.should_apply(SAMPLE_DELETE)
    applied.record(SAMPLE_DELETE)
    assert not applied.should_apply(SAMPLE_PUT)  # arrived late: older than the delete
    assert not applied.should_apply(SAMPLE_DELETE)  # redelivery
    other_key = dataclasses.replace(SAMPLE_PUT, key="other")
    assert applied.should_apply(other_key)
    applied.record(SAMPLE_PUT)
    assert applied.get(SAMPLE_PUT.bucket, KEY) == SAMPLE_DELETE.sequencer


def _drain(sqs: Any, queue_url: str, want: int) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []

    def got_all() -> bool:
        response = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        )
        for message in response.get("Messages", []):
            seen.append(message)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return len(seen) >= want

    wait_for(got_all, timeout_s=10, message=f"{want} notifications on {queue_url}")
    return seen


def test_moto_notification_to_sqs_matches_the_documented_sample(aws_client: Any) -> None:
    s3, sqs = aws_client("s3"), aws_client("sqs")
    bucket, queue = unique_name("notify"), unique_name("notify")
    queue_url = sqs.create_queue(QueueName=queue)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "Id": "testConfigRule",
                    "QueueArn": queue_arn,
                    "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
                }
            ]
        },
    )
    body = b"x" * 1024
    etag = s3.put_object(Bucket=bucket, Key=KEY, Body=body)["ETag"].strip('"')
    s3.delete_object(Bucket=bucket, Key=KEY)

    messages = _drain(sqs, queue_url, want=3)
    bodies = [json.loads(m["Body"]) for m in messages]
    assert bodies[0]["Event"] == "s3:TestEvent"
    events = [e for m in messages for e in parse_s3_events(m["Body"])]

    # moto sends no sequencer or versionId (unversioned bucket) and its own clock: compare
    # everything else with the documented sample.
    def comparable(event: S3Event) -> S3Event:
        return dataclasses.replace(
            event, bucket="b", sequencer=None, version_id=None, event_time_ms=0
        )

    expected_put = dataclasses.replace(SAMPLE_PUT, etag=etag)
    expected_delete = dataclasses.replace(SAMPLE_DELETE, event_name="ObjectRemoved:Delete")
    assert [comparable(e) for e in events] == [
        comparable(expected_put),
        comparable(expected_delete),
    ]
    assert all(e.bucket == bucket and e.event_time_ms > 0 for e in events)

    # The same bodies as a Lambda SQS event (the shape the pipeline's handler receives).
    lambda_event = {"Records": [{"eventSource": "aws:sqs", "body": m["Body"]} for m in messages]}
    assert parse_s3_events(lambda_event) == events
