"""The query API: ``create_app(settings, store, embedder) -> FastAPI``.

Routes: ``POST /v1/search``, ``GET /v1/documents/{doc_id}``, ``GET /v1/indexes`` (API key
when configured), ``GET /healthz``, ``GET /readyz``, ``GET /metrics``, the search page at
``/``, OpenAPI at ``/openapi.json`` and ``/docs``. FastAPI was chosen for the typed models
that give the OpenAPI document (and schemathesis its test cases) for free.

Contract:

- Every refused request gets a JSON body ``{"error": {"code", "message", "field", "rule"}}``
  and a 4xx status: 400 invalid request (pydantic validation included; malformed JSON is
  ``field: body, rule: json_invalid``), 401 missing/wrong API key, 404 unknown document,
  index or route, 413 body over ``max_body_bytes`` (checked before the body is parsed,
  reading at most ``max_body_bytes + 1`` bytes). Store trouble is 503 (retriable), a
  request over ``request_timeout_s`` is 504. No reply carries a stack trace.
- Query text is embedded on one dedicated worker thread (the model serialises calls
  anyway); store calls run on the default thread pool. The event loop never blocks.
- ``embedder`` may be ``None`` with ``embedder_factory`` given: the model then loads in
  the background at start-up, text queries get 503 until it is ready and ``/readyz`` says
  so; vector queries work at once.
- Index schemas (``FT.INFO``) are cached for ``schema_cache_s`` to validate filters and
  vector lengths without a second store round trip per search.
"""

from __future__ import annotations

import asyncio
import hmac
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np
import numpy.typing as npt
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

from .errors import ApiError, BodyLimitMiddleware, error_response, from_validation_error
from .filters import FilterError, compile_filter
from .metrics import CONTENT_TYPE_LATEST, ApiMetrics, MetricsMiddleware
from .models import (
    ERRORS,
    Document,
    Health,
    Hit,
    IndexList,
    IndexSummary,
    Readiness,
    SearchRequest,
    SearchResponse,
)
from .settings import ApiSettings
from .store_client import IndexInfo, IndexNotFound, SearchStore, StoreClientError

__all__ = ["ApiError", "Embedder", "create_app"]

T = TypeVar("T")
STATIC_DIR = Path(__file__).with_name("static")


class Embedder(Protocol):
    @property
    def dim(self) -> int: ...

    def embed_one(self, text: str) -> npt.NDArray[np.float32]: ...


# -- the app --------------------------------------------------------------------------------


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


def _embed_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="memvec-embed")


def create_app(
    settings: ApiSettings,
    store: SearchStore,
    embedder: Embedder | None = None,
    *,
    embedder_factory: Callable[[], Embedder] | None = None,
    metrics: ApiMetrics | None = None,
) -> FastAPI:
    """The ASGI app; ``store`` (and the embedder) belong to the caller, who closes them."""
    metrics = metrics if metrics is not None else ApiMetrics()
    state: dict[str, Any] = {"embedder": embedder, "embedder_error": None, "pool": _embed_pool()}
    schema_cache: dict[str, tuple[float, IndexInfo]] = {}
    page = (STATIC_DIR / "index.html").read_text(encoding="utf-8")

    def load_embedder() -> None:
        assert embedder_factory is not None
        try:
            state["embedder"] = embedder_factory()
        except Exception as exc:  # reported by /readyz, never crashes the app
            state["embedder_error"] = f"{type(exc).__name__}: {exc}"

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loader = None
        if state["embedder"] is None and embedder_factory is not None:
            loader = asyncio.get_running_loop().run_in_executor(state["pool"], load_embedder)
        try:
            yield
        finally:
            if loader is not None and not loader.done():
                loader.cancel()
            # a fresh (thread-less until used) pool: the app may be started again
            pool, state["pool"] = state["pool"], _embed_pool()
            pool.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(
        title="memvec query API",
        version="1",
        description="Nearest-neighbour search over a memvec (or RediSearch) vector index.",
        lifespan=lifespan,
    )
    app.state.metrics = metrics
    app.state.settings = settings
    app.state.embedder_state = state

    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type"],
        )
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(from_validation_error(exc))

    @app.exception_handler(StoreClientError)
    async def _store_error(request: Request, exc: StoreClientError) -> JSONResponse:
        return error_response(ApiError(exc.http_status, exc.code, str(exc)))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(ApiError(exc.status_code, code, str(exc.detail)))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return error_response(ApiError(500, "internal_error", "internal error; see the server log"))

    bearer = HTTPBearer(auto_error=False, description="the API key as a bearer token")
    header_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="the API key")

    # defaults, not Annotated: the postponed annotations could not see these locals
    async def require_key(
        credentials: HTTPAuthorizationCredentials | None = Depends(bearer),  # noqa: B008
        x_api_key: str | None = Depends(header_key),
    ) -> None:
        if settings.api_key is None:
            return
        given = x_api_key if x_api_key is not None else (credentials and credentials.credentials)
        expected = settings.api_key.encode()
        if not given or not hmac.compare_digest(given.encode(), expected):
            raise ApiError(
                401,
                "unauthorized",
                "missing or wrong API key: send 'Authorization: Bearer <key>' or 'X-API-Key'",
                field="Authorization",
                rule="must carry the API key",
                headers={"WWW-Authenticate": "Bearer"},
            )

    async def timed(op: str, fn: Callable[[], T]) -> T:
        began = time.perf_counter()
        try:
            return await asyncio.to_thread(fn)
        finally:
            metrics.store_seconds.labels(op).observe(time.perf_counter() - began)

    async def within_timeout(work: Awaitable[T]) -> T:
        try:
            return await asyncio.wait_for(work, settings.request_timeout_s)
        except TimeoutError:
            raise ApiError(
                504,
                "timeout",
                f"the request took longer than {settings.request_timeout_s} s; retry, or lower "
                "k or ef_runtime",
            ) from None

    async def index_schema(name: str) -> IndexInfo:
        now = time.monotonic()
        cached = schema_cache.get(name)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            info = await timed("info", lambda: store.index_info(name))
        except IndexNotFound:
            raise ApiError(
                404,
                "index_not_found",
                f"index {name!r} does not exist: create it with the pipeline (memvec demo) "
                "or start the API with --index naming an existing one",
            ) from None
        schema_cache[name] = (now + settings.schema_cache_s, info)
        return info

    async def embed(text: str) -> npt.NDArray[np.float32]:
        model = state["embedder"]
        if model is None:
            reason = state["embedder_error"] or "the embedding model is still loading"
            raise ApiError(503, "model_unavailable", f"{reason}; retry, or send a vector")
        began = time.perf_counter()
        loop = asyncio.get_running_loop()
        try:
            vec = await loop.run_in_executor(state["pool"], model.embed_one, text)
        finally:
            metrics.embed_seconds.observe(time.perf_counter() - began)
        return np.asarray(vec, dtype=np.float32)

    def shape_fields(fields: dict[str, bytes], vector_fields: set[str]) -> dict[str, Any]:
        standard = (settings.text_field, settings.source_field, settings.chunk_field)
        metadata = {
            name: value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
            for name, value in fields.items()
            if name not in standard and name not in vector_fields
        }
        return {
            "text": _text(fields.get(settings.text_field)),
            "source": _text(fields.get(settings.source_field)),
            "chunk": _chunk(fields.get(settings.chunk_field)),
            "metadata": metadata,
        }

    async def run_search(req: SearchRequest) -> SearchResponse:
        began = time.perf_counter()
        k = req.k if req.k is not None else settings.default_k
        if k > settings.max_k:
            raise ApiError(
                400, "invalid_request", f"k: at most {settings.max_k}", "k", f"<= {settings.max_k}"
            )
        if req.ef_runtime is not None and req.ef_runtime > settings.max_ef_runtime:
            rule = f"<= {settings.max_ef_runtime}"
            raise ApiError(400, "invalid_request", f"ef_runtime: {rule}", "ef_runtime", rule)
        info = await index_schema(settings.index)
        spec = info.vector(settings.vector_field)
        if spec is None:
            raise ApiError(
                503,
                "index_misconfigured",
                f"index {settings.index!r} has no vector field {settings.vector_field!r}; "
                "start the API with the right --vector-field",
            )
        dims = spec[0]
        try:
            filter_expr = compile_filter(
                req.filter,
                info.fields,
                max_fields=settings.max_filter_fields,
                max_values=settings.max_filter_values,
            )
        except FilterError as exc:
            raise ApiError(400, "invalid_filter", str(exc), exc.field, exc.rule) from None
        if req.query is not None:
            if len(req.query) > settings.max_query_chars:
                rule = f"at most {settings.max_query_chars} characters"
                raise ApiError(400, "query_too_long", f"query: {rule}", "query", rule)
            vec = await embed(req.query)
            if dims is not None and vec.shape != (dims,):
                raise ApiError(
                    503,
                    "model_mismatch",
                    f"the model gives {vec.size} dims but index {settings.index!r} holds {dims}",
                )
        else:
            assert req.vector is not None
            if dims is not None and len(req.vector) != dims:
                rule = f"must hold exactly {dims} numbers (the index's dimension)"
                raise ApiError(400, "invalid_vector", f"vector: {rule}", "vector", rule)
            with np.errstate(over="ignore"):
                vec = np.asarray(req.vector, dtype=np.float32)
            if not np.isfinite(vec).all():
                rule = "every number must be finite in float32 (|x| < 3.4e38)"
                raise ApiError(400, "invalid_vector", f"vector: {rule}", "vector", rule)
        return_fields = None
        if req.fields is not None:
            return_fields = [
                settings.text_field,
                settings.source_field,
                settings.chunk_field,
                *req.fields,
            ]
        blob = vec.astype("<f4").tobytes()
        hits = await timed(
            "search",
            lambda: store.search(
                settings.index,
                blob,
                k,
                filter_expr,
                req.ef_runtime,
                return_fields,
                vector_field=settings.vector_field,
            ),
        )
        vector_fields = set(info.vectors)
        out = [
            Hit(
                id=h.id,
                distance=h.distance if math.isfinite(h.distance) else None,
                **shape_fields(h.fields, vector_fields),
            )
            for h in hits
        ]
        took_ms = round((time.perf_counter() - began) * 1000, 3)
        return SearchResponse(hits=out, took_ms=took_ms, index=settings.index)

    @app.post(
        "/v1/search",
        response_model=SearchResponse,
        responses=ERRORS,
        dependencies=[Depends(require_key)],
        summary="nearest chunks to a text or a vector",
    )
    async def search(req: SearchRequest) -> SearchResponse:
        return await within_timeout(run_search(req))

    async def read_document(doc_id: str) -> Document:
        info = await index_schema(settings.index)
        not_found = ApiError(
            404,
            "not_found",
            f"no document {doc_id!r} in index {settings.index!r}",
            field="doc_id",
            rule="must be the id of a document of the index",
        )
        if info.prefixes and not doc_id.startswith(info.prefixes):
            raise not_found
        fields = await timed("get", lambda: store.get(doc_id))
        if fields is None:
            raise not_found
        return Document(id=doc_id, **shape_fields(fields, set(info.vectors)))

    @app.get(
        "/v1/documents/{doc_id:path}",
        response_model=Document,
        responses=ERRORS,
        dependencies=[Depends(require_key)],
        summary="one document of the index, without its vector",
    )
    async def get_document(doc_id: str) -> Document:
        return await within_timeout(read_document(doc_id))

    @app.get(
        "/v1/indexes",
        response_model=IndexList,
        responses=ERRORS,
        dependencies=[Depends(require_key)],
        summary="the store's vector indexes",
    )
    async def list_indexes() -> IndexList:
        infos = await within_timeout(timed("info", store.indexes))
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

    @app.get("/healthz", response_model=Health, summary="the process is up")
    async def healthz() -> Health:
        return Health(status="ok")

    async def readiness() -> Readiness:
        checks: dict[str, str] = {}
        model = state["embedder"]
        if model is None:
            checks["model"] = state["embedder_error"] or "loading"
            reason = f"embedding model: {checks['model']}"
            return Readiness(ready=False, reason=reason, checks=checks)
        checks["model"] = "loaded"
        try:
            await timed("ping", store.ping)
            checks["store"] = "reachable"
            info = await timed("info", lambda: store.index_info(settings.index))
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

    @app.get(
        "/readyz",
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "not ready; see reason"}},
        summary="model loaded, store reachable, index present",
    )
    async def readyz() -> Response:
        try:
            result = await within_timeout(readiness())
        except ApiError as exc:
            result = Readiness(ready=False, reason=exc.message)
        return JSONResponse(result.model_dump(), status_code=200 if result.ready else 503)

    @app.get("/metrics", include_in_schema=False)
    async def metrics_endpoint() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", include_in_schema=False)
    async def index_page() -> HTMLResponse:
        return HTMLResponse(page)

    return app
