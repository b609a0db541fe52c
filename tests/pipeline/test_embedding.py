"""The offline embedder: shape, normalisation, semantic ordering, token counting, no network."""

from __future__ import annotations

import os
import socket
from typing import Any

import numpy as np
import pytest

from pipeline import embedding
from pipeline.embedding import EMBEDDING_DIM, LocalEmbedder, load_model, model_path

TRIPLETS = [
    (
        "How do I reset my account password?",
        "Steps to change a forgotten login password",
        "The recipe needs two cups of flour and an egg.",
    ),
    (
        "The cat is sleeping on the sofa.",
        "A kitten naps on the couch.",
        "Interest rates rose by half a percent this quarter.",
    ),
    (
        "Kafka consumers commit offsets after processing.",
        "A stream consumer records its position once records are handled.",
        "The mountain trail was covered in fresh snow.",
    ),
    (
        "Vector search finds the nearest embeddings.",
        "Similarity search over dense vectors returns close neighbours.",
        "She played a violin concerto at the festival.",
    ),
]


def test_offline_environment_is_set() -> None:
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert os.environ["TRANSFORMERS_OFFLINE"] == "1"


def test_model_path_holds_the_bundled_model() -> None:
    path = model_path()
    assert (path / "model.safetensors").is_file()
    assert (path / "modules.json").is_file()


def test_vectors_are_384_dim_unit_float32(embedder: LocalEmbedder) -> None:
    vectors = embedder.embed(["hello world", "a second sentence", ""])
    assert embedder.dim == EMBEDDING_DIM == 384
    assert embedder.model_name == "sentence-transformers/all-MiniLM-L6-v2"
    assert vectors.shape == (3, 384)
    assert vectors.dtype == np.float32
    assert vectors.flags["C_CONTIGUOUS"]
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_empty_input_and_bare_string(embedder: LocalEmbedder) -> None:
    assert embedder.embed([]).shape == (0, 384)
    assert embedder.embed([]).dtype == np.float32
    with pytest.raises(TypeError, match="sequence of texts"):
        embedder.embed("not a list")


def test_embedding_is_deterministic_and_order_preserving(embedder: LocalEmbedder) -> None:
    texts = [t for triplet in TRIPLETS for t in triplet]
    batched = embedder.embed(texts, batch_size=4)
    one_by_one = np.stack([embedder.embed_one(t) for t in texts[:3]])
    np.testing.assert_allclose(batched[:3], one_by_one, atol=1e-5)


@pytest.mark.parametrize(("anchor", "related", "unrelated"), TRIPLETS)
def test_related_sentences_score_closer(
    embedder: LocalEmbedder, anchor: str, related: str, unrelated: str
) -> None:
    a, r, u = embedder.embed([anchor, related, unrelated])
    assert float(a @ r) > float(a @ u) + 0.2


def test_token_counting_matches_model_limit(embedder: LocalEmbedder) -> None:
    assert embedder.max_seq_length == 256
    assert embedder.count_tokens("hello world") == 4
    long_text = "word " * 600
    assert embedder.count_tokens(long_text) == 602
    assert embedder.tokenizer is embedder.model.tokenizer


def test_shared_model_is_cached_and_threads_capped() -> None:
    import torch

    assert load_model() is load_model("cpu")
    assert embedding.load_local() is embedding.load_local("cpu")
    assert embedding.load_local(fresh=True) is not embedding.load_local()
    assert torch.get_num_threads() <= len(os.sched_getaffinity(0))


def test_loads_with_network_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[Any] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        attempts.append(args)
        raise OSError("network disabled by test")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    model = embedding.load_model(fresh=True)
    assert model.encode(["offline works"]).shape == (1, 384)
    vector = LocalEmbedder(model=embedding.load_local(fresh=True)).embed_one("offline works")
    assert vector.shape == (384,)
    assert attempts == []
