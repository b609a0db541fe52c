"""memvec's pipeline: Lambda-compatible handler, event-source runner, parsing, chunking,
embedding, idempotent upserts and deletes, the demo job and the query API.

Everything not in ``__all__`` may move.
"""

import store.blas_env  # noqa: F401  (first: it sets what numpy's OpenBLAS reads at load)

from .chunking import chunk_text
from .demo.corpus import Document, stdlib_documents
from .embedding import EMBEDDING_DIM, MODEL_NAME, Embedder, LocalEmbedder, load_model, model_path
from .errors import PipelineError
from .handler import ItemResult, handle, process_event
from .parsing import JsonMapping, ParseError, parse_object
from .processor import IngestConfig, Outcome, Processor
from .runner import Runner, RunnerConfig, dead_letter
from .stores import EmbeddedStore, RespStore, SearchStore, StoreClient

__all__ = [
    "EMBEDDING_DIM",
    "MODEL_NAME",
    "Document",
    "EmbeddedStore",
    "Embedder",
    "IngestConfig",
    "ItemResult",
    "JsonMapping",
    "LocalEmbedder",
    "Outcome",
    "ParseError",
    "PipelineError",
    "Processor",
    "RespStore",
    "Runner",
    "RunnerConfig",
    "SearchStore",
    "StoreClient",
    "chunk_text",
    "dead_letter",
    "handle",
    "load_model",
    "model_path",
    "parse_object",
    "process_event",
    "stdlib_documents",
]
