"""Chunks stored as JSON documents (``IngestConfig(storage="json")``), the store writer's
commands for them.

The hash layout (the default) flattens every metadata value to a string. With JSON
storage a chunk is one RedisJSON document, so JSON clients (``JSON.GET``, RedisVL with
JSON storage, redis-om) see nested metadata as JSON::

    {"text": ..., "bucket": ..., "source": "<bucket>/<key>", "chunk": n,
     "content_hash": ..., "ingested_at": ms, "etag": ..., "version": ...,
     "metadata": {<the object's and the record's metadata, values as parsed>},
     "vec": [DIM numbers]}

The index is ``ON JSON`` over the same prefix with the hash layout's attribute names
(``text``, ``bucket``, ``source``, ``chunk``, ``content_hash``, ``ingested_at``, ``vec``;
``tag_metadata``/``numeric_metadata`` read ``$.metadata.<name>``), so queries are the same
for both layouts. A chunk whose content did not change is written with ``JSON.MERGE``
without ``vec``, keeping its vector as ``HSET`` keeps the hash's ``vec`` field.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .processor import IngestConfig

__all__ = ["content_hash_command", "create_index_command", "parse_content_hash", "write_command"]


def create_index_command(config: IngestConfig) -> list[str]:
    """``FT.CREATE ... ON JSON`` for the chunk documents (module docstring)."""
    schema = [
        "$.text", "AS", "text", "TEXT", "$.bucket", "AS", "bucket", "TAG",
        "$.source", "AS", "source", "TAG", "$.chunk", "AS", "chunk", "NUMERIC",
        "$.content_hash", "AS", "content_hash", "TAG",
        "$.ingested_at", "AS", "ingested_at", "NUMERIC",
    ]  # fmt: skip
    for name in config.tag_metadata:
        schema += [f"$.metadata.{name}", "AS", name, "TAG"]
    for name in config.numeric_metadata:
        schema += [f"$.metadata.{name}", "AS", name, "NUMERIC"]
    schema += [
        "$.vec", "AS", "vec", "VECTOR", "HNSW", "6", "TYPE", "FLOAT32", "DIM", str(config.dim),
        "DISTANCE_METRIC", config.metric,
    ]  # fmt: skip
    return ["FT.CREATE", config.index, "ON", "JSON", "PREFIX", "1", config.chunk_prefix,
            "SCHEMA", *schema]  # fmt: skip


def content_hash_command(chunk_id: str) -> list[str]:
    return ["JSON.GET", chunk_id, "$.content_hash"]


def parse_content_hash(reply: Any) -> str:
    """The stored content hash from :func:`content_hash_command`'s reply ('' if none)."""
    if not reply or isinstance(reply, Exception):
        return ""
    found = json.loads(reply)
    return str(found[0]) if found else ""


def write_command(chunk_id: str, fields: dict[str, Any], vector: bytes | None) -> list[Any]:
    """The command writing one chunk document: ``JSON.SET`` with its new vector, else
    ``JSON.MERGE`` (the stored vector stays)."""
    if vector is None:
        return ["JSON.MERGE", chunk_id, "$", json.dumps(fields, ensure_ascii=False)]
    doc = {**fields, "vec": np.frombuffer(vector, dtype="<f4").tolist()}
    return ["JSON.SET", chunk_id, "$", json.dumps(doc, ensure_ascii=False)]
