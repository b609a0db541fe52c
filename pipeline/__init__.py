"""memvec's pipeline: parsing, token-aware chunking, offline embedding, the demo job.

The Lambda-compatible handlers, the event-source runner and the query API are built on
these (see the open issues). Everything not in ``__all__`` may move.
"""

from .chunking import chunk_text
from .corpus import Document, stdlib_documents
from .embedding import EMBEDDING_DIM, MODEL_NAME, LocalEmbedder, load_model, model_path

__all__ = [
    "EMBEDDING_DIM",
    "MODEL_NAME",
    "Document",
    "LocalEmbedder",
    "chunk_text",
    "load_model",
    "model_path",
    "stdlib_documents",
]
