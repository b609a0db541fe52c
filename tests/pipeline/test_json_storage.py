"""Chunks stored as JSON documents (``IngestConfig(storage="json")``, the worker's
``--storage json``, the handler's ``MEMVEC_STORAGE``), against real parts: moto-server
S3, the real model, an engine. Nested metadata stays JSON, the ON JSON index answers KNN
and metadata filters, unchanged chunks keep their vectors without re-embedding, a delete
leaves nothing behind.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from connectors.s3 import S3ObjectStore
from pipeline import handler
from pipeline.embedding import LocalEmbedder
from pipeline.parsing import JsonMapping
from pipeline.processor import IngestConfig, Processor
from pipeline.stores import EmbeddedStore
from pipeline.worker import add_worker_parser
from store import Engine, EngineConfig
from tests.harness import unique_name
from tests.pipeline.test_processor import Bucket

CONFIG = IngestConfig(
    index="tj", chunk_prefix="jchunk:", chunk_tokens=48, overlap_tokens=8,
    json_mapping=JsonMapping(metadata_fields=("lang", "author", "stars")),
    tag_metadata=("lang",), numeric_metadata=("stars",), storage="json",
)  # fmt: skip

RECORDS = [
    {"id": "a", "text": "Snapshots are written atomically with fsync and rename.",
     "lang": "en", "stars": 5, "author": {"name": "Ann", "tags": ["storage", "wal"]}},
    {"id": "b", "text": "Les vecteurs sont indexés avec HNSW pour la recherche.",
     "lang": "fr", "stars": 3, "author": {"name": "Luc", "tags": []}},
]  # fmt: skip


@pytest.fixture
def engine(tmp_path: Path):
    with Engine(EngineConfig(data_dir=tmp_path / "store")) as e:
        yield e


def test_chunks_as_json_documents(
    engine: Engine, moto_server: Any, embedder: LocalEmbedder
) -> None:
    s3 = moto_server.client("s3")
    name = unique_name("bkt")
    s3.create_bucket(Bucket=name)
    store = EmbeddedStore(engine)
    proc = Processor(store, S3ObjectStore(client=s3), embedder, CONFIG)
    b = Bucket(s3, name)
    body = "\n".join(json.dumps(r) for r in RECORDS).encode()
    first = proc.process(b.put("docs.jsonl", body))
    assert first.action == "upserted" and first.chunks_embedded == first.chunks_written == 2
    key = f"jchunk:{name}/docs.jsonl/a#0"
    assert engine.execute("TYPE", key) == "ReJSON-RL"
    doc = json.loads(engine.execute("JSON.GET", key))
    assert doc["metadata"]["author"] == {"name": "Ann", "tags": ["storage", "wal"]}
    assert doc["source"] == f"{name}/docs.jsonl" and len(doc["vec"]) == CONFIG.dim

    fields = store.get(key)  # the API's document read, over a JSON chunk
    assert fields is not None and fields["text"] == RECORDS[0]["text"].encode()
    assert len(fields["vec"]) == 4 * CONFIG.dim
    assert json.loads(fields["metadata"])["author"]["name"] == "Ann"

    query = embedder.embed(["how are snapshots made durable?"])[0]
    blob = np.asarray(query, dtype=np.float32).tobytes()

    def knn(filter_: str) -> list[Any]:
        return engine.execute(
            "FT.SEARCH", "tj", f"({filter_})=>[KNN 2 @vec $B AS d]", "PARAMS", "2", "B", blob,
            "SORTBY", "d", "RETURN", "3", "d", "lang", "$.metadata.author.name", "DIALECT", "2",
        )  # fmt: skip

    found = knn("*")
    assert found[0] == 2 and found[1] == key.encode()
    assert found[2][2:] == [b"lang", b"en", b"$.metadata.author.name", b"Ann"]
    assert knn("@lang:{fr}")[1] == f"jchunk:{name}/docs.jsonl/b#0".encode()
    assert knn("@stars:[4 5]")[0] == 1

    again = proc.process(b.put("docs.jsonl", body))
    assert again.chunks_embedded == 0 and again.chunks_written == 2
    assert len(json.loads(engine.execute("JSON.GET", key))["vec"]) == CONFIG.dim
    assert knn("*")[1] == key.encode()  # the vector stayed indexed

    proc.process(b.delete("docs.jsonl"))
    assert engine.execute("FT.SEARCH", "tj", "*", "NOCONTENT") == [0]
    info = engine.execute("FT.INFO", "tj")
    assert info[info.index("hash_indexing_failures") + 1] == 0


def test_storage_option_from_flag_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    def parse(argv: list[str]) -> argparse.Namespace:
        parser = argparse.ArgumentParser(prog="memvec")
        add_worker_parser(parser.add_subparsers())
        return parser.parse_args(argv)

    assert parse(["worker"]).storage == "hash"
    assert parse(["worker", "--storage", "json"]).storage == "json"
    with pytest.raises(SystemExit):
        parse(["worker", "--storage", "xml"])
    monkeypatch.setenv("MEMVEC_STORAGE", "json")
    assert parse(["worker"]).storage == "json"
    assert handler.config_from_env({"MEMVEC_STORAGE": "json"}).storage == "json"
    assert handler.config_from_env({}).storage == "hash"
    with pytest.raises(ValueError, match="storage must be 'hash' or 'json'"):
        IngestConfig(storage="xml")
    assert IngestConfig(storage="json").create_index_command()[2:4] == ["ON", "JSON"]
