"""S3 (or any S3-compatible endpoint: moto server, LocalStack, MinIO) as an :class:`ObjectStore`.

Contract beyond :class:`~connectors.base.ObjectStore`:

* ``get`` streams the body in ``chunk_bytes`` pieces and raises ``ObjectTooLarge`` as soon
  as the size is known to exceed ``max_bytes``: first from ``ContentLength`` (nothing is
  read), then while reading (a body longer than announced is cut off, not buffered).
* ETags are returned without their quotes, the form S3 event notifications use, so an
  event's ``etag`` can be compared with ``head``'s.
* ``list`` walks every page with boto3's paginator (``page_size`` keys per request);
  ``list_versions`` yields each stored version (delete markers excluded).
* Every botocore error is translated with :func:`~connectors.errors.from_botocore`
  (missing bucket/key/version -> ``NotFound``, throttling -> ``Throttled``, ...).

Where it connects (endpoint, region, credentials) is an :class:`~connectors.aws.AwsEndpoint`;
unset fields fall back to boto3's usual chain, and a custom endpoint URL gets path-style
addressing (see :mod:`connectors.aws`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from typing import Any

from connectors.aws import AwsEndpoint, endpoint_or_url, make_aws_client
from connectors.base import ObjectData, ObjectStore, ObjectSummary
from connectors.errors import ConnectorError, NotFound, ObjectTooLarge, from_botocore

__all__ = ["S3ObjectStore"]

DEFAULT_CHUNK_BYTES = 1 << 20


class S3ObjectStore(ObjectStore):
    """Objects in S3 through one boto3 client (thread-safe, so one store may be shared)."""

    def __init__(
        self,
        *,
        endpoint: AwsEndpoint | None = None,
        endpoint_url: str | None = None,
        client: Any = None,
        page_size: int = 1000,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    ) -> None:
        """``endpoint`` says where to connect (``endpoint_url`` alone is shorthand for
        ``AwsEndpoint(endpoint_url)``); ``client`` (a boto3 S3 client) overrides both.

        ``page_size``: keys per ListObjectsV2 request (S3's maximum is 1000; smaller pages
        mean more requests but less latency per page). ``chunk_bytes``: read size while
        streaming a body; bounds how far past ``max_bytes`` a lying endpoint can push us.
        """
        self.client = client or make_aws_client("s3", endpoint_or_url(endpoint, endpoint_url))
        self.page_size = page_size
        self.chunk_bytes = chunk_bytes

    def create_bucket(self, bucket: str, *, versioned: bool = False) -> None:
        """Create ``bucket`` (for tests and seeding); enable versioning when asked."""
        params: dict[str, Any] = {"Bucket": bucket}
        region = self.client.meta.region_name
        if region and region != "us-east-1":
            params["CreateBucketConfiguration"] = {"LocationConstraint": region}
        self._call("create_bucket", f"bucket {bucket}", **params)
        if versioned:
            self._call(
                "put_bucket_versioning",
                f"bucket {bucket}",
                Bucket=bucket,
                VersioningConfiguration={"Status": "Enabled"},
            )

    def get(
        self, bucket: str, key: str, *, version_id: str | None = None, max_bytes: int | None = None
    ) -> ObjectData:
        what = _what(bucket, key, version_id)
        params = _params(bucket, key, version_id)
        response = self._call("get_object", what, **params)
        stream = response["Body"]
        try:
            announced = int(response.get("ContentLength", 0))
            if max_bytes is not None and announced > max_bytes:
                raise ObjectTooLarge(_too_large(what, announced, max_bytes))
            body = self._read(stream, what, max_bytes)
        finally:
            stream.close()
        return ObjectData(
            bucket=bucket,
            key=key,
            body=body,
            etag=_etag(response.get("ETag")),
            version_id=_version(response.get("VersionId")),
            content_type=response.get("ContentType"),
            content_encoding=response.get("ContentEncoding"),
            last_modified_ms=_ms(response.get("LastModified")),
            metadata=dict(response.get("Metadata") or {}),
        )

    def head(self, bucket: str, key: str, *, version_id: str | None = None) -> ObjectSummary:
        what = _what(bucket, key, version_id)
        response = self._call("head_object", what, **_params(bucket, key, version_id))
        return ObjectSummary(
            bucket=bucket,
            key=key,
            etag=_etag(response.get("ETag")),
            size=int(response.get("ContentLength", 0)),
            last_modified_ms=_ms(response.get("LastModified")),
            version_id=_version(response.get("VersionId")),
        )

    def list(self, bucket: str, prefix: str = "") -> Iterator[ObjectSummary]:
        paginator = self.client.get_paginator("list_objects_v2")
        pages = paginator.paginate(
            Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": self.page_size}
        )
        for page in self._pages(pages, f"list s3://{bucket}/{prefix}"):
            for item in page.get("Contents", ()):
                yield _summary(bucket, item)

    def list_versions(self, bucket: str, prefix: str = "") -> Iterator[ObjectSummary]:
        """Every stored version under ``prefix``: keys in order, newest version first."""
        paginator = self.client.get_paginator("list_object_versions")
        pages = paginator.paginate(
            Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": self.page_size}
        )
        for page in self._pages(pages, f"list versions s3://{bucket}/{prefix}"):
            for item in page.get("Versions", ()):
                yield _summary(bucket, item)

    def put(self, bucket: str, key: str, body: bytes, **kw: object) -> ObjectSummary:
        """Store ``body``; ``kw``: ``content_type``, ``content_encoding``, ``metadata``."""
        params: dict[str, Any] = {"Bucket": bucket, "Key": key, "Body": body}
        if kw.get("content_type"):
            params["ContentType"] = kw["content_type"]
        if kw.get("content_encoding"):
            params["ContentEncoding"] = kw["content_encoding"]
        if kw.get("metadata"):
            params["Metadata"] = kw["metadata"]
        response = self._call("put_object", _what(bucket, key, None), **params)
        return ObjectSummary(
            bucket=bucket,
            key=key,
            etag=_etag(response.get("ETag")) or hashlib.md5(body).hexdigest(),
            size=len(body),
            version_id=_version(response.get("VersionId")),
        )

    def delete(self, bucket: str, key: str, *, version_id: str | None = None) -> None:
        """Delete ``key`` (a delete marker in a versioned bucket) or one version of it."""
        self._call(
            "delete_object", _what(bucket, key, version_id), **_params(bucket, key, version_id)
        )

    def _call(self, method: str, what: str, **params: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, method)(**params)
        except (ClientError, BotoCoreError) as exc:
            raise _translate(exc, what) from exc

    def _pages(self, pages: Any, what: str) -> Iterator[Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        iterator = iter(pages)
        while True:
            try:
                page = next(iterator)
            except StopIteration:
                return
            except (ClientError, BotoCoreError) as exc:
                raise _translate(exc, what) from exc
            yield page

    def _read(self, stream: Any, what: str, max_bytes: int | None) -> bytes:
        from botocore.exceptions import BotoCoreError

        parts: list[bytes] = []
        total = 0
        while True:
            try:
                chunk = stream.read(self.chunk_bytes)
            except BotoCoreError as exc:
                raise _translate(exc, what) from exc
            if not chunk:
                return b"".join(parts)
            total += len(chunk)
            if max_bytes is not None and total > max_bytes:
                raise ObjectTooLarge(_too_large(what, total, max_bytes, partial=True))
            parts.append(chunk)


def _translate(exc: BaseException, what: str) -> ConnectorError:
    err = from_botocore(exc, what)
    if isinstance(err, NotFound):
        return NotFound(f"{err.message}; check the bucket, key and version id")
    return err


def _too_large(what: str, size: int, limit: int, *, partial: bool = False) -> str:
    seen = f"at least {size}" if partial else str(size)
    return f"{what} is {seen} bytes, over the limit of {limit}; raise max_bytes or skip it"


def _what(bucket: str, key: str, version_id: str | None) -> str:
    return f"s3://{bucket}/{key}" + (f"?versionId={version_id}" if version_id else "")


def _params(bucket: str, key: str, version_id: str | None) -> dict[str, Any]:
    params: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if version_id:
        params["VersionId"] = version_id
    return params


def _etag(value: object) -> str:
    return str(value or "").strip('"')


def _version(value: object) -> str | None:
    if not value or value == "null":
        return None
    return str(value)


def _ms(value: Any) -> int:
    if value is None:
        return 0
    return int(value.timestamp() * 1000)


def _summary(bucket: str, item: Mapping[str, Any]) -> ObjectSummary:
    """An ObjectSummary from a ListObjectsV2 ``Contents`` or ListObjectVersions ``Versions``
    entry (the former has no VersionId)."""
    return ObjectSummary(
        bucket=bucket,
        key=item["Key"],
        etag=_etag(item.get("ETag")),
        size=int(item.get("Size", 0)),
        last_modified_ms=_ms(item.get("LastModified")),
        version_id=_version(item.get("VersionId")),
    )
