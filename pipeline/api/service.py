"""What the query API does, apart from HTTP: :class:`SearchService`.

The app (:mod:`pipeline.api.app`) wires routes, auth, limits and error replies; each
route awaits one method here. The service validates a request against the settings and
the index's schema, embeds query text, calls the store and shapes the reply models.

Contract:

- Refusals are :class:`~pipeline.api.errors.ApiError` (status, code, field, rule); store
  failures are the :class:`~pipeline.errors.StoreClientError` family, which the app maps
  to their ``http_status``. Time limits are the app's (``request_timeout_s``).
- Query text is embedded on one dedicated worker thread (the model serialises calls
  anyway); store calls run on the default thread pool. The event loop never blocks.
- With no embedder but an ``embedder_factory``, :meth:`SearchService.start` loads the
  model in the background: text queries get 503 until it is ready and
  :meth:`~SearchService.readiness` says so; vector queries work at once.
- Index schemas (``FT.INFO``) are cached for ``schema_cache_s`` to validate filters and
  vector lengths without a second store round trip per search.
- ``start``/``stop`` may run again after ``stop`` (the app may be started again).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from ..embedding import Embedder
from ..errors import IndexNotFound, StoreClientError
from ..stores.base import IndexInfo, SearchHit, SearchStore
from ..stores.text_query import query_terms
from .errors import ApiError
from .filters import FilterError, compile_filter
from .fusion import DEFAULT_ALPHA, DEFAULT_RRF_K, linear, rrf
from .metrics import ApiMetrics
from .models import Document, Hit, IndexList, IndexSummary, Readiness, SearchRequest, SearchResponse
from .recall import ef_for_recall
from .settings import HARD_MAX_K, ApiSettings

__all__ = ["HYBRID_CANDIDATES", "SearchService", "check_mode_options"]

HYBRID_CANDIDATES = 4
"""Hybrid mode asks each side for this many times k candidates (at most HARD_MAX_K): a
document ranked low by one side and high by the other must be in both lists to fuse."""

T = TypeVar("T")


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("utf-8", "replace")


def _chunk(value: bytes | None) -> int | None:
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return int(number) if math.isfinite(number) and number == int(number) else None


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


@dataclass(frozen=True)
class _Search:
    """One store query's size, filter and returned fields."""

    k: int
    filter_expr: str
    return_fields: list[str] | None


def check_mode_options(req: SearchRequest) -> None:
    """Refuse options the request's mode would not use (a parsed option is applied or
    refused, never ignored)."""

    def refuse(field: str, rule: str) -> ApiError:
        return ApiError(400, "invalid_request", f"{field}: {rule}", field, rule)

    if req.recall is not None and req.ef_runtime is not None:
        raise refuse("recall", "give recall or ef_runtime, not both (they set the same breadth)")
    if req.mode != "vector" and req.query is None:
        raise refuse("query", f"mode {req.mode} searches text: give query, not vector")
    if req.mode == "text":
        for name in ("ef_runtime", "recall"):
            if getattr(req, name) is not None:
                raise refuse(name, "only in modes vector and hybrid (text mode has no breadth)")
    if req.mode != "hybrid":
        for name in ("fusion", "alpha", "rrf_k"):
            if getattr(req, name) is not None:
                raise refuse(name, "only with mode hybrid")
        return
    if req.alpha is not None and req.fusion != "linear":
        raise refuse("alpha", "only with fusion linear")
    if req.rrf_k is not None and req.fusion == "linear":
        raise refuse("rrf_k", "only with fusion rrf")


def _embed_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="memvec-embed")


class SearchService:
    """Search, documents, indexes and readiness over one store and one embedder."""

    def __init__(
        self,
        settings: ApiSettings,
        store: SearchStore,
        metrics: ApiMetrics,
        embedder: Embedder | None = None,
        embedder_factory: Callable[[], Embedder] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.metrics = metrics
        self.embedder = embedder
        self.embedder_error: str | None = None
        self._factory = embedder_factory
        self._pool = _embed_pool()
        self._loader: asyncio.Future[None] | Future[None] | None = None
        self._schemas: dict[str, tuple[float, IndexInfo]] = {}

    # -- lifecycle --------------------------------------------------------------------------
    def _load_embedder(self) -> None:
        assert self._factory is not None
        try:
            self.embedder = self._factory()
        except Exception as exc:  # reported by /readyz, never crashes the app
            self.embedder_error = f"{type(exc).__name__}: {exc}"

    def start(self) -> None:
        """Begin loading the embedder in the background, if it is to be made here."""
        if self.embedder is None and self._factory is not None:
            self._loader = asyncio.get_running_loop().run_in_executor(
                self._pool, self._load_embedder
            )

    def stop(self) -> None:
        """Cancel a load in progress and drop the embedding thread (idempotent)."""
        if self._loader is not None and not self._loader.done():
            self._loader.cancel()
        self._loader = None
        # a fresh (thread-less until used) pool: the app may be started again
        pool, self._pool = self._pool, _embed_pool()
        pool.shutdown(wait=False, cancel_futures=True)

    # -- helpers ----------------------------------------------------------------------------
    async def timed(self, op: str, fn: Callable[[], T]) -> T:
        """``fn()`` on a worker thread, its duration observed as store operation ``op``."""
        began = time.perf_counter()
        try:
            return await asyncio.to_thread(fn)
        finally:
            self.metrics.store_seconds.labels(op).observe(time.perf_counter() - began)

    async def index_schema(self, name: str) -> IndexInfo:
        now = time.monotonic()
        cached = self._schemas.get(name)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            info = await self.timed("info", lambda: self.store.index_info(name))
        except IndexNotFound:
            raise ApiError(
                404,
                "index_not_found",
                f"index {name!r} does not exist: create it with the pipeline (memvec demo) "
                "or start the API with --index naming an existing one",
            ) from None
        self._schemas[name] = (now + self.settings.schema_cache_s, info)
        return info

    async def embed(self, text: str) -> npt.NDArray[np.float32]:
        model = self.embedder
        if model is None:
            reason = self.embedder_error or "the embedding model is still loading"
            raise ApiError(503, "model_unavailable", f"{reason}; retry, or send a vector")
        began = time.perf_counter()
        loop = asyncio.get_running_loop()
        try:
            vec = await loop.run_in_executor(self._pool, model.embed_one, text)
        finally:
            self.metrics.embed_seconds.observe(time.perf_counter() - began)
        return np.asarray(vec, dtype=np.float32)

    def shape_fields(self, fields: dict[str, bytes], vector_fields: set[str]) -> dict[str, Any]:
        s = self.settings
        standard = (s.text_field, s.source_field, s.chunk_field)
        metadata = {
            name: value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
            for name, value in fields.items()
            if name not in standard and name not in vector_fields
        }
        return {
            "text": _text(fields.get(s.text_field)),
            "source": _text(fields.get(s.source_field)),
            "chunk": _chunk(fields.get(s.chunk_field)),
            "metadata": metadata,
        }

    # -- operations -------------------------------------------------------------------------
    async def search(self, req: SearchRequest) -> SearchResponse:
        """The request's best chunks by ``req.mode``; ``ApiError`` for anything the request
        got wrong."""
        settings = self.settings
        began = time.perf_counter()
        k = req.k if req.k is not None else settings.default_k
        if k > settings.max_k:
            raise ApiError(
                400, "invalid_request", f"k: at most {settings.max_k}", "k", f"<= {settings.max_k}"
            )
        check_mode_options(req)
        info = await self.index_schema(settings.index)
        try:
            filter_expr = compile_filter(
                req.filter,
                info.fields,
                max_fields=settings.max_filter_fields,
                max_values=settings.max_filter_values,
            )
        except FilterError as exc:
            raise ApiError(400, "invalid_filter", str(exc), exc.field, exc.rule) from None
        return_fields = None
        if req.fields is not None:
            return_fields = [
                settings.text_field,
                settings.source_field,
                settings.chunk_field,
                *req.fields,
            ]
        search = _Search(k, filter_expr, return_fields)
        terms: list[str] | None = None
        if req.mode == "vector":
            hits = await self._vector_hits(req, info, search)
            out = [self._hit(h, h.distance, None, None, info) for h in hits]
        elif req.mode == "text":
            terms = self._text_terms(req, info)
            hits = await self._text_hits(terms, search)
            out = [self._hit(h, None, h.score, h.score, info) for h in hits]
        else:
            terms = self._text_terms(req, info)
            wide = _Search(min(HARD_MAX_K, HYBRID_CANDIDATES * k), filter_expr, return_fields)
            vector_hits, text_hits = await asyncio.gather(
                self._vector_hits(req, info, wide), self._text_hits(terms, wide)
            )
            if req.fusion == "linear":
                alpha = DEFAULT_ALPHA if req.alpha is None else req.alpha
                fused = linear(vector_hits, text_hits, alpha)
            else:
                fused = rrf(vector_hits, text_hits, req.rrf_k or DEFAULT_RRF_K)
            out = [
                self._hit(f.hit, f.vector_distance, f.score, f.text_score, info) for f in fused[:k]
            ]
        took_ms = round((time.perf_counter() - began) * 1000, 3)
        return SearchResponse(
            hits=out, took_ms=took_ms, index=settings.index, mode=req.mode, terms=terms
        )

    def _hit(
        self,
        hit: SearchHit,
        distance: float | None,
        score: float | None,
        text_score: float | None,
        info: IndexInfo,
    ) -> Hit:
        distance = distance if distance is not None and math.isfinite(distance) else None
        return Hit(
            id=hit.id,
            distance=distance,
            score=_finite(score),
            vector_distance=distance,
            text_score=_finite(text_score),
            **self.shape_fields(hit.fields, set(info.vectors)),
        )

    async def _vector_hits(
        self, req: SearchRequest, info: IndexInfo, search: _Search
    ) -> list[SearchHit]:
        settings = self.settings
        spec = info.vector(settings.vector_field)
        if spec is None:
            raise ApiError(
                503,
                "index_misconfigured",
                f"index {settings.index!r} has no vector field {settings.vector_field!r}; "
                "start the API with the right --vector-field",
            )
        vec = await self._query_vector(req, spec[0])
        ef = req.ef_runtime
        if ef is None:
            ef = ef_for_recall(req.recall, search.k, info.num_docs)
        blob = vec.astype("<f4").tobytes()
        return await self.timed(
            "search",
            lambda: self.store.search(
                settings.index,
                blob,
                search.k,
                search.filter_expr,
                ef,
                search.return_fields,
                vector_field=settings.vector_field,
            ),
        )

    def _text_terms(self, req: SearchRequest, info: IndexInfo) -> list[str]:
        settings = self.settings
        if info.fields.get(settings.text_field) != "TEXT":
            raise ApiError(
                400,
                "text_search_unavailable",
                f"mode: {req.mode} needs a TEXT field {settings.text_field!r} in index "
                f"{settings.index!r}; use mode vector, or start the API with the right "
                "--text-field",
                "mode",
                "the index must have a TEXT field to search text",
            )
        assert req.query is not None  # check_mode_options
        if len(req.query) > settings.max_query_chars:
            rule = f"at most {settings.max_query_chars} characters"
            raise ApiError(400, "query_too_long", f"query: {rule}", "query", rule)
        return query_terms(req.query)

    async def _text_hits(self, terms: list[str], search: _Search) -> list[SearchHit]:
        if not terms:  # only stop words or punctuation: nothing can match
            return []
        settings = self.settings
        return await self.timed(
            "text_search",
            lambda: self.store.text_search(
                settings.index,
                terms,
                search.k,
                search.filter_expr,
                search.return_fields,
                text_field=settings.text_field,
            ),
        )

    async def _query_vector(self, req: SearchRequest, dims: int | None) -> npt.NDArray[np.float32]:
        settings = self.settings
        if req.query is not None:
            if len(req.query) > settings.max_query_chars:
                rule = f"at most {settings.max_query_chars} characters"
                raise ApiError(400, "query_too_long", f"query: {rule}", "query", rule)
            vec = await self.embed(req.query)
            if dims is not None and vec.shape != (dims,):
                raise ApiError(
                    503,
                    "model_mismatch",
                    f"the model gives {vec.size} dims but index {settings.index!r} holds {dims}",
                )
            return vec
        assert req.vector is not None
        if dims is not None and len(req.vector) != dims:
            rule = f"must hold exactly {dims} numbers (the index's dimension)"
            raise ApiError(400, "invalid_vector", f"vector: {rule}", "vector", rule)
        with np.errstate(over="ignore"):
            vec = np.asarray(req.vector, dtype=np.float32)
        if not np.isfinite(vec).all():
            rule = "every number must be finite in float32 (|x| < 3.4e38)"
            raise ApiError(400, "invalid_vector", f"vector: {rule}", "vector", rule)
        return vec

    async def document(self, doc_id: str) -> Document:
        """One document of the index without its vector; 404 ``ApiError`` when absent."""
        settings = self.settings
        info = await self.index_schema(settings.index)
        not_found = ApiError(
            404,
            "not_found",
            f"no document {doc_id!r} in index {settings.index!r}",
            field="doc_id",
            rule="must be the id of a document of the index",
        )
        if info.prefixes and not doc_id.startswith(info.prefixes):
            raise not_found
        fields = await self.timed("get", lambda: self.store.get(doc_id))
        if fields is None:
            raise not_found
        return Document(id=doc_id, **self.shape_fields(fields, set(info.vectors)))

    async def indexes(self) -> IndexList:
        infos = await self.timed("info", self.store.indexes)
        return IndexList(
            indexes=[
                IndexSummary(
                    name=i.name,
                    dims=i.dims,
                    metric=i.metric,
                    num_docs=i.num_docs,
                    lag=i.lag,
                    vector_field=i.vector_field,
                    prefixes=list(i.prefixes),
                    fields=i.fields,
                )
                for i in infos
            ]
        )

    async def readiness(self) -> Readiness:
        """Model loaded, store reachable, index present with a vector field of the model's
        width; ``reason`` says what is missing."""
        settings = self.settings
        checks: dict[str, str] = {}
        model = self.embedder
        if model is None:
            checks["model"] = self.embedder_error or "loading"
            reason = f"embedding model: {checks['model']}"
            return Readiness(ready=False, reason=reason, checks=checks)
        checks["model"] = "loaded"
        try:
            await self.timed("ping", self.store.ping)
            checks["store"] = "reachable"
            info = await self.timed("info", lambda: self.store.index_info(settings.index))
        except IndexNotFound:
            checks["index"] = "missing"
            reason = f"index {settings.index!r} does not exist; run the pipeline to create it"
            return Readiness(ready=False, reason=reason, checks=checks)
        except StoreClientError as exc:
            checks.setdefault("store", "unreachable")
            return Readiness(ready=False, reason=f"store: {exc}", checks=checks)
        spec = info.vector(settings.vector_field)
        if spec is None or (spec[0] is not None and spec[0] != model.dim):
            reason = (
                f"index {settings.index!r} has no {model.dim}-dim vector field "
                f"{settings.vector_field!r}"
            )
            return Readiness(ready=False, reason=reason, checks={**checks, "index": "mismatch"})
        checks["index"] = f"{info.num_docs} documents"
        return Readiness(ready=True, checks=checks)
