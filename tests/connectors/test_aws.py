"""connectors.aws: one endpoint value for every AWS connector, and the client it builds."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from connectors.aws import AwsCredentials, AwsEndpoint, endpoint_or_url, make_aws_client
from connectors.s3 import S3ObjectStore
from connectors.sqs import SqsSink
from tests.harness import unique_name

CREDENTIALS = AwsCredentials(access_key_id="testing", secret_access_key="testing")


class _Sent(Exception):
    """Raised from a before-send hook: the request was signed, nothing went out."""


def test_endpoint_is_a_frozen_value_and_hides_the_secret() -> None:
    endpoint = AwsEndpoint("http://127.0.0.1:1", "eu-west-1", AwsCredentials("id", "s3cret"))
    assert endpoint == AwsEndpoint(
        "http://127.0.0.1:1", "eu-west-1", AwsCredentials("id", "s3cret")
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        endpoint.region_name = "us-east-1"  # type: ignore[misc]
    assert "s3cret" not in repr(endpoint)


def test_endpoint_url_is_shorthand_and_both_at_once_is_refused() -> None:
    assert endpoint_or_url(None, "http://x") == AwsEndpoint(endpoint_url="http://x")
    assert endpoint_or_url(None, None) == AwsEndpoint()
    given = AwsEndpoint(region_name="eu-west-1")
    assert endpoint_or_url(given, None) is given
    with pytest.raises(ValueError, match="not both"):
        endpoint_or_url(given, "http://x")
    with pytest.raises(ValueError, match="not both"):
        S3ObjectStore(endpoint=given, endpoint_url="http://x")


def test_client_takes_region_credentials_and_path_style() -> None:
    endpoint = AwsEndpoint("http://127.0.0.1:1", "ap-south-1", CREDENTIALS)
    s3 = make_aws_client("s3", endpoint, max_attempts=1, read_timeout_s=3)
    assert s3.meta.region_name == "ap-south-1"
    assert s3.meta.endpoint_url == "http://127.0.0.1:1"
    assert s3.meta.config.s3 == {"addressing_style": "path"}
    assert s3.meta.config.read_timeout == 3
    assert s3.meta.config.retries["total_max_attempts"] == 1
    seen: list[str] = []

    def capture(request: Any, **_: Any) -> None:
        seen.append(request.headers["Authorization"].decode())
        raise _Sent

    s3.meta.events.register("before-send", capture)
    with pytest.raises(_Sent):
        s3.head_bucket(Bucket="b")
    assert "Credential=testing/" in seen[0] and "/ap-south-1/s3/" in seen[0]


def test_connectors_reach_moto_through_one_endpoint(moto_server: Any) -> None:
    endpoint = AwsEndpoint(moto_server.endpoint_url, "eu-west-2", CREDENTIALS)
    store = S3ObjectStore(endpoint=endpoint)
    bucket = unique_name("endpoint")
    store.create_bucket(bucket)
    store.put(bucket, "k", b"v")
    assert store.get(bucket, "k").body == b"v"
    sink = SqsSink("http://unused", endpoint=endpoint)
    assert sink.client.meta.region_name == "eu-west-2"
