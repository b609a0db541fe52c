"""The pipeline's exceptions: one tree, and what each one tells a retry loop.

::

    PipelineError                 retriable: class attribute, read by the handler/runner
    ├── ParseError                an object that cannot become documents (never retriable)
    ├── StackStartError           a local-stack process did not become healthy
    ├── EmbedderSpecError         a --embedder / MEMVEC_EMBEDDER value names no embedder
    ├── ApiError                  the query API refuses a request: status, code, field, rule
    ├── FilterError               an API filter it cannot compile (also a ValueError)
    └── StoreClientError          the store could not answer; http_status, code for the API
        ├── StoreUnavailable      retriable (503): no node answered, loading, refused creds
        │   ├── PrimaryUnavailable  no node became primary within the failover timeout
        │   └── PrimaryChanged      the primary changed under a MULTI/EXEC: recompute it
        ├── IndexNotFound         404: the index does not exist
        └── StoreRejected         400: the store refused the command; retrying won't help

Connector failures keep their own tree (:mod:`connectors.errors`, ``ConnectorError``),
because connectors sit below the pipeline; they carry ``retriable`` the same way, so a
retry loop reads ``exc.retriable`` whatever the family and never tests types. Foreign
exceptions (redis-py, the engine's ``StoreError``) are translated into this tree by the
store clients (:mod:`pipeline.stores`), raised ``from`` the original. An *error reply*
to one command of a pipelined list is not raised: it stays in its place in the reply
list (:meth:`pipeline.stores.StoreClient.run`).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ApiError",
    "EmbedderSpecError",
    "FilterError",
    "IndexNotFound",
    "ParseError",
    "PipelineError",
    "PrimaryChanged",
    "PrimaryUnavailable",
    "StackStartError",
    "StoreClientError",
    "StoreRejected",
    "StoreUnavailable",
]


class PipelineError(Exception):
    """Base of the pipeline's errors. ``retriable``: the same input may succeed later."""

    retriable: bool = False


class ParseError(PipelineError):
    """An object that cannot become documents; ``reason`` says why and what to do."""

    retriable = False

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


class StackStartError(PipelineError):
    """A process of the local stack exited or did not become healthy in time."""

    def __init__(self, proc: Any, reason: str) -> None:
        super().__init__(f"{proc.name} (pid {proc.pid}, port {proc.port}) {reason}")
        self.proc = proc


class EmbedderSpecError(PipelineError, ValueError):
    """An embedder spec (``--embedder``, ``MEMVEC_EMBEDDER``) that names no embedder; the
    message lists the accepted forms."""


class StoreClientError(PipelineError):
    """The store could not answer. ``http_status`` and ``code`` are what the API replies."""

    http_status = 502
    code = "store_error"


class StoreUnavailable(StoreClientError):
    """No store node answered (connection refused, timeout, still loading). Retry later."""

    http_status = 503
    code = "store_unavailable"
    retriable = True


class PrimaryUnavailable(StoreUnavailable):
    """No store node answered as primary within the failover timeout: promote a replica
    (``memvec stack failover``) or bring the primary back, and the write is retried."""


class PrimaryChanged(StoreUnavailable):
    """The primary changed under an atomic write; recompute it against the new primary."""


class IndexNotFound(StoreClientError):
    """The index named in the command does not exist."""

    http_status = 404
    code = "index_not_found"


class StoreRejected(StoreClientError):
    """The store refused the command (bad query or argument); retrying will not help."""

    http_status = 400
    code = "store_rejected"


class ApiError(PipelineError):
    """A refused API request: becomes ``{"error": {...}}`` with ``status``
    (:mod:`pipeline.api.errors` renders it)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        rule: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.rule = rule
        self.headers = headers


class FilterError(PipelineError, ValueError):
    """A filter the API refuses; ``field`` is the JSON path, ``rule`` what it must satisfy."""

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}")
        self.field = field
        self.rule = rule
