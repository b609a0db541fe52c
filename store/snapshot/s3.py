"""Snapshots as objects in S3 (any endpoint: AWS, moto, MinIO): ``s3://bucket/prefix``.

Layout under ``prefix/``: one object per snapshot, named as the local store names files
(``snap-<position seq:020d>-<created_at_ms:013d>.mvs``, so a listing orders them without
reading any), plus ``MANIFEST.json`` naming the newest complete snapshot::

    {"newest": "snap-...mvs", "position": <seq>, "epoch": <epoch>, "size_bytes": <n>,
     "created_at_ms": <ms>}

Publication: the snapshot is finished and verified in a local temporary file, uploaded
with one PUT (multipart for large files; S3 makes an object visible only once complete, so
a crash mid-upload publishes nothing), then the manifest is rewritten. Listing is the
truth (``open_newest_valid`` falls back past a damaged object); the manifest is for
tools and humans. ``open`` downloads to a local temporary file and returns a reader that
keeps it open after unlinking it.

Errors from botocore are translated at this seam into :class:`SnapshotStoreError`
(retriable) or ``FileNotFoundError`` for a missing object.
"""

from __future__ import annotations

import builtins
import json
import os
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from store.errors import SnapshotStoreError, StoreError
from store.wal.position import LogPosition

from .base import BuildFn, SnapshotInfo, SnapshotStore, newest_first
from .format import SnapshotReader, SnapshotWriter
from .local import parse_snapshot_name, snapshot_name

MANIFEST = "MANIFEST.json"


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ``("bucket", "some/prefix/")``; ValueError otherwise."""
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ValueError(f"{url!r} is not an s3://bucket/prefix URL")
    prefix = parsed.path.strip("/")
    return parsed.netloc, (prefix + "/") if prefix else ""


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class S3SnapshotStore(SnapshotStore):
    """See the module docstring. ``client``: a boto3 S3 client (built from
    ``endpoint_url`` and the usual AWS environment when omitted); ``cache_dir``: where
    temporary files go (the system temp dir by default)."""

    def __init__(
        self,
        url: str,
        *,
        client: Any = None,
        endpoint_url: str | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.url = url
        self.bucket, self.prefix = parse_s3_url(url)
        if client is None:
            import boto3
            from botocore.config import Config

            client = boto3.client(
                "s3", endpoint_url=endpoint_url, config=Config(s3={"addressing_style": "path"})
            )
        self.client = client
        self.cache_dir = Path(cache_dir) if cache_dir is not None else Path(tempfile.gettempdir())

    def __repr__(self) -> str:
        return f"S3SnapshotStore({self.url!r})"

    def _call(self, what: str, fn: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(**kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "404", "NotFound"):
                raise FileNotFoundError(f"{self.url}: {kwargs.get('Key')} is gone") from exc
            raise SnapshotStoreError(
                f"S3 {what} on {self.url} failed ({code}): {exc}; check the bucket, the "
                "credentials and the endpoint"
            ) from exc
        except BotoCoreError as exc:
            raise SnapshotStoreError(
                f"S3 {what} on {self.url} failed: {exc}; check the endpoint and network"
            ) from exc

    def _tmp(self) -> Path:
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self.cache_dir, prefix="s3snap-", suffix=".tmp")
        os.close(fd)
        return Path(name)

    # -- SnapshotStore ---------------------------------------------------------------------
    def publish(
        self,
        position: LogPosition,
        build: BuildFn,
        *,
        epoch: int = 0,
        meta: Mapping[str, Any] | None = None,
    ) -> SnapshotInfo:
        tmp = self._tmp()
        try:
            with open(tmp, "wb") as out:
                writer = SnapshotWriter(out, position, epoch, meta)
                build(writer)
                writer.finish()
            return self.publish_file(tmp)
        finally:
            tmp.unlink(missing_ok=True)

    def publish_file(self, path: str | os.PathLike[str]) -> SnapshotInfo:
        source = Path(path)
        with SnapshotReader(source) as reader:
            reader.verify()
            position, epoch = reader.position, reader.epoch
            created_at_ms, size = reader.created_at_ms, reader.size_bytes
        taken = {info.name for info in self.list()}
        while snapshot_name(position, created_at_ms) in taken:
            created_at_ms += 1
        name = snapshot_name(position, created_at_ms)
        self._call(
            "upload", self.client.upload_file, Filename=str(source), Bucket=self.bucket,
            Key=self.prefix + name,
        )  # fmt: skip
        manifest = {
            "newest": name,
            "position": position.seq,
            "epoch": epoch,
            "size_bytes": size,
            "created_at_ms": created_at_ms,
        }
        newest = self.list()
        if newest and newest[0].name == name:
            self._call(
                "manifest put", self.client.put_object, Bucket=self.bucket,
                Key=self.prefix + MANIFEST, Body=json.dumps(manifest).encode(),
            )  # fmt: skip
        source.unlink(missing_ok=True)
        return SnapshotInfo(name, position, size, created_at_ms)

    def list(self) -> builtins.list[SnapshotInfo]:
        infos: builtins.list[SnapshotInfo] = []
        paginator = self.client.get_paginator("list_objects_v2")
        pages = self._call("list", paginator.paginate, Bucket=self.bucket, Prefix=self.prefix)
        try:
            for page in pages:
                for obj in page.get("Contents", []):
                    name = obj["Key"][len(self.prefix) :]
                    parsed = parse_snapshot_name(name)
                    if parsed is not None:
                        infos.append(SnapshotInfo(name, parsed[0], int(obj["Size"]), parsed[1]))
        except Exception as exc:
            if isinstance(exc, StoreError):
                raise
            raise SnapshotStoreError(f"S3 list on {self.url} failed: {exc}") from exc
        return newest_first(infos)

    def open(self, info: SnapshotInfo) -> SnapshotReader:
        tmp = self._tmp()
        try:
            self._call(
                "download", self.client.download_file, Bucket=self.bucket,
                Key=self.prefix + info.name, Filename=str(tmp),
            )  # fmt: skip
            return SnapshotReader(tmp)
        finally:
            tmp.unlink(missing_ok=True)  # the reader keeps its descriptor

    def download(self, info: SnapshotInfo, path: str | os.PathLike[str]) -> None:
        """Copy ``info``'s object to the local file ``path`` (restore)."""
        self._call(
            "download", self.client.download_file, Bucket=self.bucket,
            Key=self.prefix + info.name, Filename=str(path),
        )  # fmt: skip

    def delete(self, info: SnapshotInfo) -> None:
        self._call(
            "delete", self.client.delete_object, Bucket=self.bucket, Key=self.prefix + info.name
        )

    def manifest(self) -> dict[str, Any] | None:
        """The manifest (see the module docstring), or None if none was written yet."""
        try:
            body = self._call(
                "manifest get", self.client.get_object, Bucket=self.bucket,
                Key=self.prefix + MANIFEST,
            )["Body"].read()  # fmt: skip
        except FileNotFoundError:
            return None
        return dict(json.loads(body))
