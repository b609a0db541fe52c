"""``memvec api``: the HTTP query endpoint and search page over a memvec vector index.

    from pipeline.api import ApiSettings, EmbeddedStore, create_app

    app = create_app(ApiSettings(), EmbeddedStore(engine), LocalEmbedder())

The store clients, their errors and the ``Embedder`` protocol live in :mod:`pipeline.stores`,
:mod:`pipeline.errors` and :mod:`pipeline.embedding`; they are re-exported here for the
API's users.

Everything not listed in ``__all__`` is an implementation detail and may move.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..embedding import Embedder
    from ..errors import IndexNotFound, StoreClientError, StoreRejected, StoreUnavailable
    from ..stores import EmbeddedStore, IndexInfo, RespStore, SearchHit, SearchStore
    from .app import create_app
    from .errors import ApiError
    from .filters import FilterError, compile_filter
    from .metrics import ApiMetrics
    from .settings import ApiSettings, ReadFrom

_HOME = {
    "ApiError": ".errors",
    "create_app": ".app",
    "FilterError": ".filters",
    "compile_filter": ".filters",
    "ApiMetrics": ".metrics",
    "ApiSettings": ".settings",
    "ReadFrom": ".settings",
    "Embedder": "..embedding",
    "IndexNotFound": "..errors",
    "StoreClientError": "..errors",
    "StoreRejected": "..errors",
    "StoreUnavailable": "..errors",
    "EmbeddedStore": "..stores",
    "IndexInfo": "..stores",
    "RespStore": "..stores",
    "SearchHit": "..stores",
    "SearchStore": "..stores",
}


def __getattr__(name: str) -> Any:
    """Imported on first use, so ``memvec --help`` does not load FastAPI (PEP 562)."""
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)


__all__ = [
    "ApiError",
    "ApiMetrics",
    "ApiSettings",
    "EmbeddedStore",
    "Embedder",
    "FilterError",
    "IndexInfo",
    "IndexNotFound",
    "ReadFrom",
    "RespStore",
    "SearchHit",
    "SearchStore",
    "StoreClientError",
    "StoreRejected",
    "StoreUnavailable",
    "compile_filter",
    "create_app",
]
