"""`pipeline.minilm.MiniLM` (what `LocalEmbedder` runs) against the libraries it stands in
for: sentence-transformers' `encode` (the vectors, bit for bit), transformers' `BertModel`
(the hidden states) and `BertTokenizer` (the ids). Real model files, real libraries."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pipeline import embedding
from pipeline.embedding import LocalEmbedder, load_local, load_model, load_tokenizer, model_path
from pipeline.minilm import MiniLM

REPO = Path(__file__).resolve().parents[2]


def texts() -> list[str]:
    """Prose of every length (some past the 256-piece limit, many with equal character
    counts, so the batch order's ties matter), accents, CJK, emoji, control characters,
    whitespace and the empty string."""
    rng = random.Random(7)
    words = ("vector index durable log shard stream replica snapshot query chunk embed kafka "
             "kinesis bucket object lambda handler token model search the a of and to").split()  # fmt: skip
    out = [" ".join(rng.choice(words) for _ in range(rng.randint(1, 60))) for _ in range(30)]
    out += [" ".join(rng.choice(words) for _ in range(rng.randint(200, 320))) for _ in range(4)]
    out += [" ".join(rng.choice(words[:4]) for _ in range(3)) for _ in range(12)]  # ties
    alphabet = [chr(c) for c in [*range(32, 127), *range(0xA0, 0x250), *range(0x4E00, 0x4E40)]]
    out += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 200))) for _ in range(10)]
    out += ["", " ", "Über naïve café résumé", "東京 서울 Ελληνικά 🤖🚀", "tabs\tand\r\nlines",
            "ＦＵＬＬＷＩＤＴＨ", "control\x00\x01chars", "combining e\u0301 a\u0308", "a" * 600]  # fmt: skip
    return out


def test_vectors_are_sentence_transformers_bit_for_bit(embedder: LocalEmbedder) -> None:
    sample, batch_size = texts(), 8
    want = load_model().encode(
        sample, batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=True,
        show_progress_bar=False,
    )  # fmt: skip
    got = embedder.embed(sample, batch_size=batch_size)
    assert got.dtype == np.float32 and got.shape == (len(sample), 384) and got.flags.c_contiguous
    differ = np.flatnonzero((got != want).any(axis=1))
    assert differ.size == 0, (differ.tolist(), float(np.abs(got - want).max()))
    for text in sample[:8] + sample[-9:]:  # alone, as a query is embedded
        alone = load_model().encode([text], normalize_embeddings=True, show_progress_bar=False)
        assert np.array_equal(embedder.embed_one(text), alone[0]), text[:40]


def test_hidden_states_are_bertmodels(embedder: LocalEmbedder) -> None:
    import torch
    from transformers import BertModel

    bert = BertModel.from_pretrained(str(model_path()), local_files_only=True).eval()
    model = embedder.model
    for batch in (texts()[:7], ["one text alone, nothing padded"]):
        encoded = model.tokenizer.encode_batch(batch)
        width = max(len(e) for e in encoded)
        ids = torch.tensor([e + [0] * (width - len(e)) for e in encoded])
        mask = torch.tensor([[1] * len(e) + [0] * (width - len(e)) for e in encoded])
        with torch.inference_mode():
            want = bert(input_ids=ids, attention_mask=mask).last_hidden_state
            got = model._forward(ids, mask)
        assert torch.equal(got, want), float((got - want).abs().max())


def test_token_ids_are_bert_tokenizers(embedder: LocalEmbedder) -> None:
    from transformers import AutoTokenizer

    hf = AutoTokenizer.from_pretrained(str(model_path()), local_files_only=True)
    pieces, max_len = load_tokenizer()
    sample = texts()
    assert max_len == pieces.max_length == embedder.max_seq_length == 256
    assert pieces.vocab_size == hf.vocab_size and pieces.pad_id == hf.pad_token_id == 0
    for text in sample:
        want = len(hf.encode(text, add_special_tokens=True, verbose=False))
        assert embedder.count_tokens(text) == pieces.count(text) == want, text[:40]
    batched = hf(sample, truncation=True, max_length=max_len)["input_ids"]
    assert pieces.encode_batch(sample) == embedder.model.tokenizer.encode_batch(sample) == batched
    assert max(map(len, batched)) == max_len  # some were truncated
    assert embedder.count_tokens("word " * 600) == 602  # counting never truncates


def test_refuses_a_model_it_does_not_implement(tmp_path: Path) -> None:
    copy = tmp_path / "model"
    shutil.copytree(model_path(), copy)
    config = json.loads((copy / "config.json").read_text())
    (copy / "config.json").write_text(json.dumps({**config, "hidden_act": "relu"}))
    with pytest.raises(ValueError, match=r"hidden_act='relu'.*sentence-transformers"):
        MiniLM.load(copy)
    (copy / "config.json").write_text(json.dumps(config))
    pooling = json.loads((copy / "1_Pooling" / "config.json").read_text())
    for extra in ("pooling_mode_cls_token", "pooling_mode_weightedmean_tokens"):
        (copy / "1_Pooling" / "config.json").write_text(json.dumps({**pooling, extra: True}))
        with pytest.raises(ValueError, match="not mean pooling"):
            MiniLM.load(copy)


def test_empty_input_and_a_bare_string(embedder: LocalEmbedder) -> None:
    assert embedder.embed([]).shape == (0, 384)
    with pytest.raises(TypeError, match="wrap a single text"):
        embedder.embed("a bare string")


def test_a_process_embeds_without_importing_transformers() -> None:
    """The cold-start property this module exists for (decision 0038): a process that
    embeds imports neither transformers nor sentence-transformers, and one that only counts
    tokens (the ONNX and SageMaker embedders) not even torch."""
    script = (
        "import sys\n"
        "from pipeline.embedding import LocalEmbedder, load_tokenizer\n"
        "heavy = ('transformers', 'sentence_transformers', 'scipy', 'sklearn', 'torch')\n"
        "n = load_tokenizer()[0].count('cold start')\n"
        "print(n, sorted(m for m in heavy if m in sys.modules))\n"
        "v = LocalEmbedder().embed_one('cold start')\n"
        "print(v.shape, sorted(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines() == ["4 []", "(384,) ['torch']"]


def test_shared_per_device(monkeypatch: pytest.MonkeyPatch) -> None:
    shared: Any = load_local()
    assert load_local("cpu") is shared
    monkeypatch.setattr(embedding, "_locals", {})
    assert load_local() is not shared


def test_batch_size_below_one_is_refused(embedder: LocalEmbedder) -> None:
    for size in (0, -1):
        with pytest.raises(ValueError, match="batch_size must be at least 1"):
            embedder.embed(["a", "b"], batch_size=size)
        with pytest.raises(ValueError, match="batch_size must be at least 1"):
            embedder.model.embed(["a", "b"], batch_size=size)


def test_refuses_a_pipeline_with_another_module(tmp_path: Path) -> None:
    copy = tmp_path / "model"
    shutil.copytree(model_path(), copy)
    modules = json.loads((copy / "modules.json").read_text())
    dense = {"idx": 3, "name": "3", "path": "3_Dense", "type": "sentence_transformers.models.Dense"}
    (copy / "modules.json").write_text(json.dumps([*modules, dense]))
    with pytest.raises(ValueError, match=r"Dense.*not Transformer -> Pooling -> Normalize"):
        MiniLM.load(copy)
    (copy / "modules.json").write_text(json.dumps(modules[:2]))  # no Normalize
    with pytest.raises(ValueError, match=r"modules\.json lists"):
        MiniLM.load(copy)
