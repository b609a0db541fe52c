"""`SageMakerEmbedder`: an `Embedder` whose vectors come from a SageMaker endpoint.

The endpoint (`connectors.sagemaker.SageMakerEndpoint`) must serve the same model as
`LocalEmbedder` (all-MiniLM-L6-v2, e.g. a TEI or Hugging Face inference container), so
that chunks embedded there and queries embedded anywhere else land in one vector space.

Contract (the `pipeline.embedding.Embedder` protocol):

- `count_tokens` and `max_seq_length` come from the bundled model's own tokenizer, run
  locally: chunk sizes are decided here without a round trip, exactly as the local
  embedders decide them, so the same object gives the same chunks whichever embeds it.
- `embed` sends the texts to the endpoint (batched, retried with backoff by the
  connector) and L2-normalises the rows here, as `LocalEmbedder` does, whatever the
  container returns; a zero row stays zero. `dim` is the model's (384); a response of
  another width raises `MalformedResponse` (a `ConnectorError`, not retriable).
- Failures are the connector's errors (`connectors.errors`), each carrying `retriable`.
- Thread safety: token counting is serialised by a lock (the fast tokenizer is not
  thread-safe); endpoint calls are independent requests.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from .embedding import EMBEDDING_DIM, MODEL_NAME, load_tokenizer

__all__ = ["SageMakerEmbedder"]


class _Endpoint(Protocol):
    endpoint_name: str

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]: ...


class SageMakerEmbedder:
    """An `Embedder` over a SageMaker endpoint serving all-MiniLM-L6-v2 (module contract)."""

    model_name: str = MODEL_NAME

    def __init__(self, endpoint: _Endpoint, *, tokenizer: tuple[Any, int] | None = None) -> None:
        """`tokenizer`: a `(tokenizer, max_seq_length)` pair to share; loaded if None."""
        self.endpoint = endpoint
        loaded = tokenizer if tokenizer is not None else load_tokenizer()
        self._tokenizer: Any = loaded[0]
        self._max_seq_length = int(loaded[1])
        self._lock = threading.Lock()

    @property
    def dim(self) -> int:
        return EMBEDDING_DIM

    @property
    def max_seq_length(self) -> int:
        """Word pieces the model reads per text, `[CLS]` and `[SEP]` included (256)."""
        return self._max_seq_length

    @property
    def endpoint_name(self) -> str:
        return self.endpoint.endpoint_name

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Embed `texts` in order on the endpoint; float32 `(n, dim)`, unit rows."""
        if isinstance(texts, str | bytes):
            raise TypeError("embed() takes a sequence of texts; wrap a single text in a list")
        items = list(texts)
        if not items:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        vectors = np.asarray(self.endpoint.embed(items), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return np.ascontiguousarray(vectors / np.where(norms == 0, 1.0, norms), dtype=np.float32)

    def embed_one(self, text: str) -> npt.NDArray[np.float32]:
        """Embed one text (e.g. a query); float32 `(dim,)`, unit length."""
        return self.embed([text])[0]

    def count_tokens(self, text: str) -> int:
        """Word pieces the model would see for `text` before truncation, specials included."""
        with self._lock:
            ids = self._tokenizer.encode(text, add_special_tokens=True, verbose=False)
        return len(ids)
