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
- Thread safety: token counting is serialised by the embedder's lock; endpoint calls are
  independent requests.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from .embedding import EMBEDDING_DIM, ModelEmbedder, load_tokenizer, text_list, unit_rows
from .wordpieces import WordPieces

__all__ = ["SageMakerEmbedder"]


class _Endpoint(Protocol):
    endpoint_name: str

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]: ...


class SageMakerEmbedder(ModelEmbedder):
    """An `Embedder` over a SageMaker endpoint serving all-MiniLM-L6-v2 (module contract)."""

    def __init__(
        self, endpoint: _Endpoint, *, tokenizer: tuple[WordPieces, int] | None = None
    ) -> None:
        """`tokenizer`: a `(tokenizer, max_seq_length)` pair to share; loaded if None."""
        self.endpoint = endpoint
        pieces, max_seq_length = tokenizer if tokenizer is not None else load_tokenizer()
        super().__init__(pieces, max_seq_length, EMBEDDING_DIM)

    @property
    def endpoint_name(self) -> str:
        return self.endpoint.endpoint_name

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Embed `texts` in order on the endpoint; float32 `(n, dim)`, unit rows."""
        items = text_list(texts)
        if not items:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        return unit_rows(self.endpoint.embed(items))
