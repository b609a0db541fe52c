"""Settings of ``memvec api``: one frozen dataclass with every default and its trade-off.

:class:`ApiSettings` is built by the command line (:mod:`pipeline.api.cli`) from flags,
``MEMVEC_API_*`` environment variables and these defaults, in that order of precedence.
The API key never appears in ``repr()`` (so not in logs).

The index layout (``index``, ``vector_field``, ``text_field``, ``source_field``,
``chunk_field``) defaults to what ``memvec demo`` writes (index ``demo`` over ``chunk:``);
every other field of a returned document is reported as metadata.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..defaults import DEFAULT_INDEX
from ..stores.base import ReadFrom

__all__ = ["HARD_MAX_K", "MAX_EF_RUNTIME", "ApiSettings", "ReadFrom", "env_name"]

ENV_PREFIX = "MEMVEC_API_"
HARD_MAX_K = 1000
"""No setting may raise ``k`` above this: the reply of one search must stay small."""
MAX_EF_RUNTIME = 10_000
"""The largest ``ef_runtime`` a search may ask for: the one number the request model, the
OpenAPI document and the endpoint use. HNSW search work grows with it; past ~10,000 a
query visits most of a small index and only costs time (a brute-force scan is cheaper)."""


def env_name(setting: str) -> str:
    """``api_key`` -> ``MEMVEC_API_KEY``, ``max_k`` -> ``MEMVEC_API_MAX_K``."""
    name = setting.upper().replace("-", "_")
    if name.startswith("API_"):
        name = name[4:]
    return ENV_PREFIX + name


@dataclass(frozen=True)
class ApiSettings:
    """Everything ``create_app`` needs besides the store and the embedder."""

    bind: str = "127.0.0.1"
    """Listen address. Loopback by default: exposing the API is an explicit choice."""
    port: int = 8080
    api_key: str | None = field(default=None, repr=False)
    """When set, /v1/* requires ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``."""
    index: str = DEFAULT_INDEX
    vector_field: str = "vec"
    text_field: str = "text"
    source_field: str = "source"
    chunk_field: str = "chunk"
    default_k: int = 10
    """k when a request gives none; lowered to max_k when that is smaller."""
    max_k: int = HARD_MAX_K
    """Larger k costs the store and the reply size linearly; capped at HARD_MAX_K."""
    max_body_bytes: int = 256 * 1024
    """A 1,000-dim vector in JSON is ~20 KB; the default leaves room without inviting abuse."""
    max_query_chars: int = 2_000
    """The model reads ~256 word pieces (~1,000 chars); longer text only costs tokenizing."""
    max_filter_fields: int = 16
    max_filter_values: int = 100
    request_timeout_s: float = 10.0
    """Past this a request gets 504; the embedder/store call finishes in the background."""
    header_timeout_s: float = 10.0
    """A connection must deliver a request's whole header within this, counted from when it
    opened (or the previous reply was sent); then it is closed. Cuts slowloris clients that
    hold sockets open with half a header; too low would cut clients on slow links."""
    body_timeout_s: float = 30.0
    """Once the header is in, the whole body must arrive within this (the body is at most
    ``max_body_bytes``); then the connection is closed. Trickling bytes does not extend it."""
    metrics_public: bool = False
    """When an ``api_key`` is set, /metrics needs it too unless this is true (a Prometheus
    scraper without the key). Without an ``api_key`` /metrics is always open."""
    cors_origins: tuple[str, ...] = ()
    """Browser origins allowed to call the API; empty (default) sends no CORS headers."""
    read_from: ReadFrom = ReadFrom.PRIMARY
    """replicas: spread searches over replicas (may lag a little); primary is the fallback."""
    embed_threads: int = 1
    """torch threads of the ``memvec api`` process. One query text is tiny: on 2 busy cores
    one thread embedded it in ~20 ms where two took ~290 ms (threads spinning against each
    other and the event loop). Applied by the command line, which owns the process."""
    schema_cache_s: float = 5.0
    """How long an index's schema (FT.INFO) is reused to validate filters and vectors."""

    def __post_init__(self) -> None:
        if not 1 <= self.max_k <= HARD_MAX_K:
            raise ValueError(f"max_k must be between 1 and {HARD_MAX_K}, got {self.max_k}")
        if self.default_k < 1:
            raise ValueError(f"default_k must be at least 1, got {self.default_k}")
        if self.default_k > self.max_k:
            object.__setattr__(self, "default_k", self.max_k)
        for name in ("max_body_bytes", "max_query_chars", "port"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        for name in ("request_timeout_s", "header_timeout_s", "body_timeout_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")

    def replace(self, **changes: object) -> ApiSettings:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> ApiSettings:
        """Defaults, then ``MEMVEC_API_*`` variables, then ``overrides`` (non-None ones).

        Raises ``ValueError`` naming the variable whose value does not parse.
        """
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in dataclasses.fields(cls):
            raw = env.get(env_name(f.name))
            if raw is None:
                continue
            try:
                values[f.name] = _parse(f.name, raw)
            except ValueError as exc:
                raise ValueError(f"{env_name(f.name)}={raw!r}: {exc}") from exc
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]


_INTS = {
    "port",
    "default_k",
    "max_k",
    "max_body_bytes",
    "max_query_chars",
    "max_filter_fields",
    "max_filter_values",
    "embed_threads",
}
_FLOATS = {"request_timeout_s", "schema_cache_s", "header_timeout_s", "body_timeout_s"}
_BOOLS = {"metrics_public"}
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}


def _parse(name: str, raw: str) -> object:
    if name in _INTS:
        return int(raw)
    if name in _FLOATS:
        return float(raw)
    if name in _BOOLS:
        word = raw.strip().lower()
        if word not in _TRUE | _FALSE:
            raise ValueError("expected true or false")
        return word in _TRUE
    if name == "cors_origins":
        return tuple(o for o in raw.replace(",", " ").split() if o)
    if name == "read_from":
        return ReadFrom(raw.strip().lower())
    if name == "api_key":
        return raw or None
    return raw
