"""Request and response bodies of the query API (pydantic), and the error responses every
route documents. The OpenAPI document, and so schemathesis's test cases, come from here."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .fusion import DEFAULT_ALPHA, DEFAULT_RRF_K
from .recall import RECALL_DESCRIPTION
from .settings import HARD_MAX_K, MAX_EF_RUNTIME

__all__ = [
    "ERRORS",
    "MAX_VECTOR_DIMS",
    "Document",
    "ErrorBody",
    "ErrorDetail",
    "Health",
    "Hit",
    "IndexList",
    "IndexSummary",
    "Readiness",
    "SearchRequest",
    "SearchResponse",
    "has_lone_surrogate",
]

MAX_VECTOR_DIMS = 4096

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
FieldName = Annotated[str, Field(min_length=1, max_length=256)]


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None
    rule: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str | None = Field(
        None, min_length=1, description="text to embed with the documents' model"
    )
    vector: list[FiniteFloat] | None = Field(
        None, min_length=1, max_length=MAX_VECTOR_DIMS, description="a query vector"
    )
    k: int | None = Field(None, ge=1, le=HARD_MAX_K, description="hits to return (default 10)")
    filter: dict[str, Any] | None = Field(
        None,
        description='ANDed conditions: {"source": "x"} tag equality, {"source": ["a", "b"]} '
        'tag set, {"chunk": 3} or {"chunk": {"gte": 1, "lt": 5}} numeric (gt|gte|lt|lte|eq)',
        examples=[{"source": ["stdlib/gzip", "stdlib/zlib"], "chunk": {"lt": 3}}],
    )
    ef_runtime: int | None = Field(
        None,
        ge=1,
        le=MAX_EF_RUNTIME,
        description="HNSW search breadth (default: the index's); not with `recall`",
    )
    recall: Literal["fast", "balanced", "exact"] | None = Field(
        None, description=RECALL_DESCRIPTION
    )
    mode: Literal["vector", "text", "hybrid"] = Field(
        "vector",
        description="`vector`: nearest chunks to the query's embedding (or `vector`). "
        "`text`: BM25 over the index's text field, scored by the store (`FT.SEARCH "
        "@text:(t1|t2|...) WITHSCORES SCORER BM25STD`); the query is split into words, "
        "lower-cased, RediSearch's stop words dropped, every term escaped; a query of stop "
        "words only matches nothing. `hybrid`: both rankings (4k candidates each, at most "
        f"{HARD_MAX_K}) fused by `fusion`. `text` and `hybrid` need `query`, not `vector`.",
    )
    fusion: Literal["rrf", "linear"] | None = Field(
        None,
        description="hybrid only (default `rrf`). `rrf`: reciprocal rank fusion, score = "
        "sum of 1/(rrf_k + rank) over the two rankings. `linear`: alpha * similarity + "
        "(1 - alpha) * BM25 score, each min-max normalised over the candidates.",
    )
    alpha: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        allow_inf_nan=False,
        description="`fusion: linear` only: weight of the vector side (default "
        f"{DEFAULT_ALPHA}, chosen on the quality benchmark); 1 = vector only, 0 = text only",
    )
    rrf_k: int | None = Field(
        None,
        ge=1,
        le=10_000,
        description=f"`fusion: rrf` only: rank damping constant (default {DEFAULT_RRF_K})",
    )
    fields: list[FieldName] | None = Field(
        None, max_length=64, description="metadata fields to return (default: all)"
    )

    @field_validator("query", "filter", "fields")
    @classmethod
    def _encodable(cls, value: Any) -> Any:
        # JSON may spell a lone surrogate ("\ud800"); such a str has no UTF-8 form, so the
        # store call (and any reply echoing it) would fail: refuse it here, as a 400.
        if has_lone_surrogate(value):
            raise ValueError("holds a lone surrogate (\\ud800-\\udfff); send valid Unicode")
        return value

    @model_validator(mode="after")
    def _one_of(self) -> SearchRequest:
        if (self.query is None) == (self.vector is None):
            raise ValueError("give exactly one of query and vector")
        return self


def has_lone_surrogate(value: Any) -> bool:
    """Whether any str in ``value`` (nested lists and dict keys and values) cannot be
    encoded as UTF-8."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(has_lone_surrogate(k) or has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(has_lone_surrogate(v) for v in value)
    return False


class Hit(BaseModel):
    id: str
    distance: float | None = Field(
        description="vector distance (the index's metric); null in text mode or when the "
        "vector side did not return the hit"
    )
    score: float | None = Field(
        None,
        description="what hits are ranked by, higher first: the BM25 score in text mode, "
        "the fused score in hybrid mode; null in vector mode (ranked by distance)",
    )
    vector_distance: float | None = Field(None, description="same as distance")
    text_score: float | None = Field(
        None, description="the store's BM25STD score, when the text side returned the hit"
    )
    text: str | None = None
    source: str | None = None
    chunk: int | None = None
    metadata: dict[str, str] = Field(default_factory=dict)


class SearchResponse(BaseModel):
    hits: list[Hit]
    took_ms: float
    index: str
    mode: str = "vector"
    terms: list[str] | None = Field(
        None, description="text and hybrid modes: the query terms searched (to highlight)"
    )


class Document(BaseModel):
    id: str
    text: str | None = None
    source: str | None = None
    chunk: int | None = None
    metadata: dict[str, str] = Field(default_factory=dict)


class IndexSummary(BaseModel):
    name: str
    dims: int | None
    metric: str | None
    num_docs: int
    lag: int | None
    vector_field: str | None
    prefixes: list[str]
    fields: dict[str, str]


class IndexList(BaseModel):
    indexes: list[IndexSummary]


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    ready: bool
    index: str | None = None
    """The index this API serves, so an empty result is not mistaken for a wrong name."""
    reason: str | None = None
    checks: dict[str, str] = Field(default_factory=dict)


_ERR = {"model": ErrorBody}
ERRORS: dict[int | str, dict[str, Any]] = {
    "4XX": {**_ERR, "description": "refused: the error names the field and the rule"},
    503: {**_ERR, "description": "the store or the model is not available; retry"},
    504: {**_ERR, "description": "the request took longer than the timeout"},
}
