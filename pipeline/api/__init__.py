"""``memvec api``: the HTTP query endpoint and search page over a memvec vector index.

    from pipeline.api import ApiSettings, EmbeddedStore, create_app

    app = create_app(ApiSettings(index="demo"), EmbeddedStore(engine), LocalEmbedder())

Everything not listed in ``__all__`` is an implementation detail and may move.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import Embedder, create_app
    from .errors import ApiError
    from .filters import FilterError, compile_filter
    from .metrics import ApiMetrics
    from .settings import ApiSettings, ReadFrom
    from .store_client import (
        EmbeddedStore,
        IndexInfo,
        IndexNotFound,
        RespStore,
        SearchHit,
        SearchStore,
        StoreClientError,
        StoreRejected,
        StoreUnavailable,
    )

_HOME = {
    "ApiError": "errors",
    "Embedder": "app",
    "create_app": "app",
    "FilterError": "filters",
    "compile_filter": "filters",
    "ApiMetrics": "metrics",
    "ApiSettings": "settings",
    "ReadFrom": "settings",
    "EmbeddedStore": "store_client",
    "IndexInfo": "store_client",
    "IndexNotFound": "store_client",
    "RespStore": "store_client",
    "SearchHit": "store_client",
    "SearchStore": "store_client",
    "StoreClientError": "store_client",
    "StoreRejected": "store_client",
    "StoreUnavailable": "store_client",
}


def __getattr__(name: str) -> Any:
    """Imported on first use, so ``memvec --help`` does not load FastAPI (PEP 562)."""
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


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
