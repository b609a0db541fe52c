"""The ObjectStore contract, run against MemoryObjectStore and S3ObjectStore on moto server."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from connectors.base import ObjectStore
from connectors.errors import NotFound, ObjectTooLarge
from connectors.memory import MemoryObjectStore
from connectors.s3 import S3ObjectStore
from tests.harness import unique_name


@pytest.fixture(params=["memory", "s3"])
def store(request: pytest.FixtureRequest) -> Any:
    if request.param == "memory":
        return MemoryObjectStore()
    moto = request.getfixturevalue("moto_server")
    return S3ObjectStore(client=moto.client("s3"), page_size=2)


def new_bucket(store: Any, versioned: bool = False) -> str:
    name = unique_name("contract")
    store.create_bucket(name, versioned=versioned)
    return name


def test_put_get_head_roundtrip(store: Any) -> None:
    bucket = new_bucket(store)
    body = "héllo wörld\n".encode()
    put = store.put(
        bucket, "dir/a b+ü.txt", body, content_type="text/plain", metadata={"origin": "t"}
    )
    assert put.etag == hashlib.md5(body).hexdigest()
    assert put.size == len(body)
    got = store.get(bucket, "dir/a b+ü.txt")
    assert (got.body, got.etag, got.content_type) == (body, put.etag, "text/plain")
    assert got.metadata == {"origin": "t"}
    assert got.last_modified_ms > 0
    head = store.head(bucket, "dir/a b+ü.txt")
    assert (head.etag, head.size, head.version_id) == (put.etag, len(body), None)


def test_missing_key_and_bucket_are_not_found(store: ObjectStore) -> None:
    bucket = new_bucket(store)
    with pytest.raises(NotFound):
        store.get(bucket, "nope")
    with pytest.raises(NotFound):
        store.head(bucket, "nope")
    with pytest.raises(NotFound):
        store.get(unique_name("missing"), "k")
    with pytest.raises(NotFound):
        list(store.list(unique_name("missing")))


def test_max_bytes(store: ObjectStore) -> None:
    bucket = new_bucket(store)
    store.put(bucket, "big", b"x" * 100)
    assert store.get(bucket, "big", max_bytes=100).size == 100
    with pytest.raises(ObjectTooLarge, match="over the limit of 99") as info:
        store.get(bucket, "big", max_bytes=99)
    assert info.value.retriable is False


def test_list_is_ordered_filtered_and_crosses_pages(store: ObjectStore) -> None:
    bucket = new_bucket(store)
    keys = [f"p/{i:02d}" for i in range(7)] + ["q/0", "p"]
    for key in reversed(keys):
        store.put(bucket, key, key.encode())
    listed = [s.key for s in store.list(bucket, "p/")]
    assert listed == sorted(k for k in keys if k.startswith("p/"))
    assert [s.key for s in store.list(bucket)] == sorted(keys)
    assert all(s.size == len(s.key) for s in store.list(bucket))


def test_overwrite_and_delete(store: ObjectStore) -> None:
    bucket = new_bucket(store)
    store.put(bucket, "k", b"one")
    second = store.put(bucket, "k", b"two")
    assert store.get(bucket, "k").body == b"two"
    assert store.head(bucket, "k").etag == second.etag
    store.delete(bucket, "k")
    with pytest.raises(NotFound):
        store.get(bucket, "k")
    assert list(store.list(bucket)) == []
    store.delete(bucket, "k")  # deleting a missing key is not an error, as in S3


def test_versions(store: Any) -> None:
    bucket = new_bucket(store, versioned=True)
    v1 = store.put(bucket, "doc", b"v1")
    v2 = store.put(bucket, "doc", b"v2")
    assert v1.version_id and v2.version_id and v1.version_id != v2.version_id
    assert store.get(bucket, "doc", version_id=v1.version_id).body == b"v1"
    assert store.get(bucket, "doc").version_id == v2.version_id
    assert store.head(bucket, "doc", version_id=v1.version_id).etag == v1.etag
    assert [s.version_id for s in store.list_versions(bucket)] == [v2.version_id, v1.version_id]

    store.delete(bucket, "doc")  # a delete marker: the latest is gone, versions stay
    with pytest.raises(NotFound):
        store.get(bucket, "doc")
    assert list(store.list(bucket)) == []
    assert store.get(bucket, "doc", version_id=v1.version_id).body == b"v1"

    store.delete(bucket, "doc", version_id=v1.version_id)
    with pytest.raises(NotFound):
        store.get(bucket, "doc", version_id=v1.version_id)
    assert [s.version_id for s in store.list_versions(bucket)] == [v2.version_id]
