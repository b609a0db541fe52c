"""S3ObjectStore specifics on moto server: streaming size limit, pagination requests,
credentials from the environment, error translation."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.aws import AwsCredentials, AwsEndpoint, make_aws_client
from connectors.errors import EndpointUnavailable, NotFound, ObjectTooLarge
from connectors.s3 import S3ObjectStore
from tests.harness import free_port, unique_name


@pytest.fixture
def s3(moto_server: Any) -> S3ObjectStore:
    return S3ObjectStore(client=moto_server.client("s3"), page_size=3, chunk_bytes=64)


class _HidesContentLength:
    """A client whose get_object does not announce the size (a chunked response)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def get_object(self, **params: Any) -> Any:
        response = self._client.get_object(**params)
        response.pop("ContentLength", None)
        return response


def test_size_limit_is_enforced_while_reading(moto_server: Any) -> None:
    store = S3ObjectStore(client=_HidesContentLength(moto_server.client("s3")), chunk_bytes=64)
    bucket = unique_name("limit")
    store.create_bucket(bucket)
    store.put(bucket, "k", b"y" * 1000)
    with pytest.raises(ObjectTooLarge, match="at least"):
        store.get(bucket, "k", max_bytes=500)
    assert store.get(bucket, "k", max_bytes=1000).size == 1000


def test_list_uses_one_request_per_page(s3: S3ObjectStore) -> None:
    bucket = unique_name("pages")
    s3.create_bucket(bucket)
    for i in range(10):
        s3.put(bucket, f"k{i:02d}", b"v")
    calls: list[str] = []
    s3.client.meta.events.register(
        "before-call.s3.ListObjectsV2", lambda **kw: calls.append("list")
    )
    assert [o.key for o in s3.list(bucket)] == [f"k{i:02d}" for i in range(10)]
    assert len(calls) == 4  # 3 + 3 + 3 + 1


def test_list_versions_across_pages(s3: S3ObjectStore) -> None:
    bucket = unique_name("versions")
    s3.create_bucket(bucket, versioned=True)
    written = [s3.put(bucket, f"k{i % 2}", str(i).encode()).version_id for i in range(6)]
    listed = list(s3.list_versions(bucket))
    assert sorted(v.version_id or "" for v in listed) == sorted(v or "" for v in written)
    assert [v.key for v in listed] == ["k0"] * 3 + ["k1"] * 3


def test_credentials_and_region_from_the_environment(
    moto_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    store = S3ObjectStore(endpoint_url=moto_server.endpoint_url)
    assert store.client.meta.region_name == "eu-west-1"
    bucket = unique_name("envcreds")
    store.create_bucket(bucket)  # a LocationConstraint outside us-east-1
    store.put(bucket, "k", b"v")
    assert store.get(bucket, "k").body == b"v"


def test_missing_version_is_not_found(s3: S3ObjectStore) -> None:
    bucket = unique_name("noversion")
    s3.create_bucket(bucket, versioned=True)
    s3.put(bucket, "k", b"v")
    with pytest.raises(NotFound, match="version"):
        s3.get(bucket, "k", version_id="doesnotexist")


def test_unreachable_endpoint_is_retriable() -> None:
    endpoint = AwsEndpoint(
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        region_name="us-east-1",
        credentials=AwsCredentials(access_key_id="x", secret_access_key="x"),
    )
    client = make_aws_client("s3", endpoint, max_attempts=1)
    with pytest.raises(EndpointUnavailable, match="endpoint_url") as info:
        S3ObjectStore(client=client).head("b", "k")
    assert info.value.retriable
