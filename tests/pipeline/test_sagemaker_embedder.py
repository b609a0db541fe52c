"""A SageMaker endpoint as the pipeline's embedder, end to end against moto's runtime.

moto's ``InvokeEndpoint`` answers the literal body "body" unless results are queued
through its own API, one per request, in order. The test queues what the real endpoint
would answer: the bundled model's embeddings (computed here with ``LocalEmbedder``) of the
exact texts each request carries. Objects are then ingested by the Lambda handler, built
from the environment with ``MEMVEC_EMBEDDER=sagemaker:<endpoint>``, into a RESP store;
a query goes through the API with the same embedder, and must find the right object.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from connectors.errors import MalformedResponse
from pipeline import handler
from pipeline.api import ApiSettings, create_app
from pipeline.chunking import chunk_text
from pipeline.embedder_spec import EmbedderSpec, open_embedder, parse_embedder_spec
from pipeline.embedding import Embedder, LocalEmbedder
from pipeline.errors import EmbedderSpecError
from pipeline.sagemaker_embedding import SageMakerEmbedder
from pipeline.stores import RespStore
from pipeline.worker import add_worker_parser
from store import Engine, EngineConfig
from store.server import ServerConfig, ServerThread
from tests.harness import unique_name

# moto keeps one queue of canned results per region: a region of our own keeps this test
# from consuming results queued by another (tests/connectors/test_sagemaker.py)
REGION = "eu-south-1"
INDEX = "sm"


def queue_results(moto_server: Any, *bodies: object) -> None:
    """Queue canned InvokeEndpoint bodies (see `MotoServer.queue_sagemaker_results`)."""
    moto_server.queue_sagemaker_results(REGION, *bodies)


def model_answer(embedder: LocalEmbedder, texts: list[str]) -> list[list[float]]:
    """What an endpoint serving the same model answers (TEI ``/embed``: pooled rows)."""
    return [[float(x) for x in row] for row in embedder.embed(texts)]


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, moto_server: Any) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.endpoint_url)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)


@pytest.fixture
def store_url(tmp_path: Path) -> Iterator[str]:
    with (
        Engine(EngineConfig(data_dir=tmp_path / "store")) as engine,
        ServerThread(ServerConfig(port=0, data_dir=None), engine=engine) as server,
    ):
        yield f"redis://127.0.0.1:{server.port}"


@pytest.fixture
def fresh_handler() -> Iterator[None]:
    handler.configure(None)
    yield
    handler.configure(None)


def s3_put_event(bucket: str, key: str, seq: str) -> dict[str, Any]:
    return {
        "Records": [{
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": REGION,
            "eventTime": "2026-11-26T00:00:00.000Z", "eventName": "ObjectCreated:Put",
            "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": bucket},
                   "object": {"key": key, "size": 1, "eTag": "x", "sequencer": seq}},
        }]
    }  # fmt: skip


def test_ingest_and_query_through_a_sagemaker_endpoint(
    moto_server: Any,
    aws_env: None,
    store_url: str,
    fresh_handler: None,
    embedder: LocalEmbedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run = unique_name("run")  # moto caches answers per request body: texts of our own
    endpoint = unique_name("embed")
    docs = {
        f"{run}/paris.txt": f"Paris is the capital of France; the Eiffel Tower stands there. {run}",
        f"{run}/leaves.txt": f"Plants turn sunlight into sugar by photosynthesis in leaves. {run}",
        f"{run}/sorting.txt": f"Python sorts a list in place with list.sort and timsort. {run}",
    }
    s3 = moto_server.client("s3", region_name=REGION)
    bucket = unique_name("bkt")
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    for key, text in docs.items():
        s3.put_object(Bucket=bucket, Key=key, Body=text.encode(), ContentType="text/plain")

    monkeypatch.setenv("MEMVEC_EMBEDDER", f"sagemaker:{endpoint}")
    monkeypatch.setenv("MEMVEC_STORE_URL", store_url)
    monkeypatch.setenv("MEMVEC_INDEX", INDEX)
    try:
        for n, (key, text) in enumerate(docs.items()):
            # one invocation per object: one request carrying that object's chunks
            chunks = chunk_text(text, embedder.count_tokens, max_tokens=256, overlap_tokens=32)
            queue_results(moto_server, model_answer(embedder, chunks))
            reply = handler.handle(s3_put_event(bucket, key, f"{0x100 + n:016X}"))
            assert reply == {"batchItemFailures": []}
    finally:
        built = handler.processor()  # the handler built it from the environment
        built.store.close()
    used = built.embedder
    assert isinstance(used, SageMakerEmbedder) and used.endpoint_name == endpoint
    assert used.endpoint.attempts == len(docs)  # every vector came from the endpoint

    query = f"Where is the Eiffel Tower? {run}"
    queue_results(moto_server, model_answer(embedder, [query]))
    query_embedder = open_embedder(f"sagemaker:{endpoint}", endpoint_url=moto_server.endpoint_url)
    assert isinstance(query_embedder, Embedder)
    store = RespStore([store_url])
    try:
        app = create_app(ApiSettings(index=INDEX), store, query_embedder)
        with TestClient(app) as api:
            response = api.post("/v1/search", json={"query": query, "k": 3})
    finally:
        store.close()
    assert response.status_code == 200, response.text
    assert query_embedder.endpoint.attempts == 1
    hits = response.json()["hits"]
    assert hits[0]["source"] == f"{bucket}/{run}/paris.txt"
    assert len(hits) == 3 and hits[0]["distance"] < hits[1]["distance"]


def test_sagemaker_embedder_counts_locally_and_normalises(
    moto_server: Any, aws_env: None, embedder: LocalEmbedder
) -> None:
    sm = open_embedder(f"sagemaker:{unique_name('embed')}", endpoint_url=moto_server.endpoint_url)
    local_tokens = embedder.count_tokens("tokenised here, not on the endpoint")
    assert isinstance(sm, SageMakerEmbedder)
    assert sm.count_tokens("tokenised here, not on the endpoint") == local_tokens
    assert sm.dim == 384 and sm.max_seq_length == 256
    text = unique_name("unit")
    queue_results(moto_server, [[3.0, 4.0] + [0.0] * 382])
    vec = sm.embed_one(text)
    assert vec.shape == (384,) and abs(float(vec[0]) - 0.6) < 1e-6
    with pytest.raises(MalformedResponse, match="3-dim vectors, expected 384"):
        queue_results(moto_server, [[1.0, 0.0, 0.0]])
        sm.embed([unique_name("narrow")])


def test_one_spec_names_every_embedder() -> None:
    assert parse_embedder_spec(None) == parse_embedder_spec(" local ") == EmbedderSpec("local")
    assert parse_embedder_spec("onnx") == EmbedderSpec("onnx")
    assert parse_embedder_spec("sagemaker:my-ep") == EmbedderSpec("sagemaker", "my-ep")
    assert str(EmbedderSpec("sagemaker", "my-ep")) == "sagemaker:my-ep"
    for bad in ("torch", "sagemaker:", "sagemaker: two words", "SageMaker:x"):
        with pytest.raises(EmbedderSpecError, match=r"local \(default\), onnx, or sagemaker:"):
            parse_embedder_spec(bad)


def test_handler_refuses_a_bad_embedder_spec_before_connecting(
    monkeypatch: pytest.MonkeyPatch, fresh_handler: None
) -> None:
    monkeypatch.setenv("MEMVEC_STORE_URL", "redis://127.0.0.1:1")
    monkeypatch.setenv("MEMVEC_EMBEDDER", "sagemaker")
    with pytest.raises(
        EmbedderSpecError, match=r"unknown embedder 'sagemaker'.*sagemaker:<endpoint"
    ):
        handler.processor()


def test_commands_take_embedder_from_flag_or_env(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse

    def parse(*argv: str) -> argparse.Namespace:
        parser = argparse.ArgumentParser(prog="memvec")
        add_worker_parser(parser.add_subparsers(dest="command"))
        return parser.parse_args(["worker", *argv])

    monkeypatch.delenv("MEMVEC_EMBEDDER", raising=False)
    assert parse().embedder == EmbedderSpec("local")
    assert parse("--embedder", "sagemaker:ep").embedder == EmbedderSpec("sagemaker", "ep")
    monkeypatch.setenv("MEMVEC_EMBEDDER", "onnx")
    assert parse().embedder == EmbedderSpec("onnx")
    with pytest.raises(SystemExit):
        parse("--embedder", "gpu")
    assert "unknown embedder 'gpu'" in capsys.readouterr().err
