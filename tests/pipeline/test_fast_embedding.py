"""The ONNX int8 embedder against the fp32 model: same interface, same tokens, close vectors.

The graph is exported and quantized once per session into a temporary cache (~15 s), the
same path a worker takes on its first `embed`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

from pipeline.demo.corpus import stdlib_documents
from pipeline.embedding import EMBEDDING_DIM, LocalEmbedder
from pipeline.fast_embedding import FP32_FILE, INT8_FILE, OnnxEmbedder, default_cache_dir


@pytest.fixture(scope="session")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="session")
def fast(onnx_cache: Path) -> OnnxEmbedder:
    return OnnxEmbedder(cache_dir=onnx_cache).prepare()


@pytest.fixture(scope="session")
def sentences() -> list[str]:
    """About 50 real sentences of 50-300 characters from stdlib module docs."""
    out: list[str] = []
    for doc in stdlib_documents(limit=40):
        for sentence in re.split(r"(?<=[.!?])\s+", " ".join(doc.text.split())):
            if 50 <= len(sentence) <= 300:
                out.append(sentence)
                break
        for sentence in re.split(r"(?<=[.!?])\s+", " ".join(doc.text.split()))[3:5]:
            if 50 <= len(sentence) <= 300 and len(out) < 50:
                out.append(sentence)
    assert len(out) >= 40
    return out[:50]


def test_cache_holds_both_graphs_published_whole(fast: OnnxEmbedder, onnx_cache: Path) -> None:
    names = sorted(p.name for p in onnx_cache.iterdir())
    assert names == sorted([FP32_FILE, INT8_FILE])  # no tmp leftovers
    assert fast.model_file == onnx_cache / INT8_FILE
    before = {p.name: p.stat().st_mtime_ns for p in onnx_cache.iterdir()}
    again = OnnxEmbedder(cache_dir=onnx_cache).prepare()  # reuses, does not re-export
    assert again.embed(["reuse"]).shape == (1, EMBEDDING_DIM)
    assert {p.name: p.stat().st_mtime_ns for p in onnx_cache.iterdir()} == before


def test_default_cache_dir_follows_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MEMVEC_ONNX_CACHE", str(tmp_path))
    chosen = default_cache_dir()
    assert chosen.parent == tmp_path
    assert chosen.name.startswith("all-MiniLM-L6-v2-")


def test_shape_dtype_and_unit_norms(fast: OnnxEmbedder, sentences: list[str]) -> None:
    vectors = fast.embed(sentences)
    assert vectors.shape == (len(sentences), EMBEDDING_DIM) == (len(sentences), fast.dim)
    assert vectors.dtype == np.float32 and vectors.flags["C_CONTIGUOUS"]
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert fast.embed_one(sentences[0]).shape == (EMBEDDING_DIM,)
    assert fast.embed([]).shape == (0, EMBEDDING_DIM)
    with pytest.raises(TypeError):
        fast.embed("a bare string")


def test_close_to_fp32(fast: OnnxEmbedder, embedder: LocalEmbedder, sentences: list[str]) -> None:
    cosines = np.sum(fast.embed(sentences) * embedder.embed(sentences), axis=1)
    assert float(cosines.mean()) >= 0.99, cosines
    assert float(cosines.min()) >= 0.97, cosines


def test_fp32_graph_matches_sentence_transformers(
    onnx_cache: Path, embedder: LocalEmbedder, sentences: list[str]
) -> None:
    exact = OnnxEmbedder(cache_dir=onnx_cache, quantize=False)
    cosines = np.sum(exact.embed(sentences[:10]) * embedder.embed(sentences[:10]), axis=1)
    assert float(cosines.min()) >= 0.9999


def test_order_preserved_across_length_sorting(fast: OnnxEmbedder, sentences: list[str]) -> None:
    # lengths deliberately out of order, so the length sort reorders them across batches
    texts = sorted(sentences[:12], key=lambda s: (len(s) * 7919) % 101)
    together = fast.embed(texts, batch_size=4)
    alone = np.stack([fast.embed_one(t) for t in texts])
    similarity = together @ alone.T
    assert list(similarity.argmax(axis=1)) == list(range(len(texts)))
    # int8 activation scales are computed per batch, so batchmates move a vector slightly
    assert float(np.diag(similarity).min()) >= 0.98


def test_count_tokens_and_tokenizer_match_local(
    fast: OnnxEmbedder, embedder: LocalEmbedder, sentences: list[str]
) -> None:
    long_text = " ".join(sentences)
    for text in [*sentences[:20], long_text, "", "naïve café — 東京"]:
        assert fast.count_tokens(text) == embedder.count_tokens(text)
    assert fast.count_tokens(long_text) > fast.max_seq_length == embedder.max_seq_length == 256
    assert fast.model_name == embedder.model_name
    assert fast.tokenizer.vocab_size == embedder.tokenizer.vocab_size == 30522


def test_truncates_long_texts_like_the_model(
    fast: OnnxEmbedder, embedder: LocalEmbedder, sentences: list[str]
) -> None:
    long_text = " ".join(sentences)
    cosine = float(fast.embed_one(long_text) @ embedder.embed_one(long_text))
    assert cosine >= 0.98
    assert os.environ["HF_HUB_OFFLINE"] == "1"
