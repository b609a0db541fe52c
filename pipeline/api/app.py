"""The query API: ``create_app(settings, store, embedder) -> FastAPI``.

Routes: ``POST /v1/search``, ``GET /v1/documents/{doc_id}``, ``GET /v1/indexes`` (API key
when configured), ``GET /metrics`` (API key when configured, unless ``metrics_public``),
``GET /healthz``, ``GET /readyz``, the search page at
``/``, OpenAPI at ``/openapi.json`` and ``/docs``. FastAPI was chosen for the typed models
that give the OpenAPI document (and schemathesis its test cases) for free.

Contract:

- Every refused request gets a JSON body ``{"error": {"code", "message", "field", "rule"}}``
  and a 4xx status: 400 invalid request (pydantic validation included; malformed JSON is
  ``field: body, rule: json_invalid``), 401 missing/wrong API key, 404 unknown document,
  index or route, 413 body over ``max_body_bytes`` (checked before the body is parsed,
  reading at most ``max_body_bytes + 1`` bytes); a string holding a lone surrogate is 400.
  Store trouble is 503 (retriable), a
  request over ``request_timeout_s`` is 504. No reply carries a stack trace.
- ``embedder`` may be ``None`` with ``embedder_factory`` given: the model then loads in
  the background at start-up, text queries get 503 until it is ready and ``/readyz`` says
  so; vector queries work at once.
- What each route does (validation, embedding, the store calls, caching of index
  schemas) is :class:`~pipeline.api.service.SearchService`'s; this module wires routes,
  auth, limits and error replies to it.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from html import escape
from pathlib import Path
from typing import TypeVar

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

from store.aio import within

from ..embedding import Embedder
from ..errors import StoreClientError
from ..stores.base import SearchStore
from .errors import ApiError, BodyLimitMiddleware, error_response, from_validation_error
from .metrics import CONTENT_TYPE_LATEST, ApiMetrics, MetricsMiddleware
from .models import ERRORS, Document, Health, IndexList, Readiness, SearchRequest, SearchResponse
from .service import SearchService
from .settings import ApiSettings

__all__ = ["ApiError", "create_app"]

T = TypeVar("T")
STATIC_DIR = Path(__file__).with_name("static")


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
    service = SearchService(settings, store, metrics, embedder, embedder_factory)
    # The page names the index it searches: ingest-then-serve into different indexes shows
    # nothing, and the title is where a user looks first.
    heading = f"memvec search: {escape(settings.index)}"
    page = (
        (STATIC_DIR / "index.html")
        .read_text(encoding="utf-8")
        .replace("<title>memvec search</title>", f"<title>{heading}</title>")
        .replace("<h1>memvec search</h1>", f"<h1>{heading}</h1>")
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.start()
        try:
            yield
        finally:
            service.stop()

    app = FastAPI(
        title="memvec query API",
        version="1",
        description="Nearest-neighbour, BM25 and hybrid search over a memvec (or RediSearch) "
        "index. `POST /v1/search` takes `mode` (vector | text | hybrid), `recall` (fast | "
        "balanced | exact) or `ef_runtime`, and for hybrid `fusion` (rrf | linear) with "
        "`rrf_k` or `alpha`; each option's field says what it does and what it costs.",
        lifespan=lifespan,
    )
    app.state.metrics = metrics
    app.state.settings = settings
    app.state.service = service

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

    async def within_timeout(work: Awaitable[T]) -> T:
        try:
            return await within(work, settings.request_timeout_s)
        except TimeoutError:
            raise ApiError(
                504,
                "timeout",
                f"the request took longer than {settings.request_timeout_s} s; retry, or lower "
                "k or ef_runtime",
            ) from None

    @app.post(
        "/v1/search",
        response_model=SearchResponse,
        responses=ERRORS,
        dependencies=[Depends(require_key)],
        summary="nearest chunks to a text or a vector",
    )
    async def search(req: SearchRequest) -> SearchResponse:
        return await within_timeout(service.search(req))

    @app.get(
        "/v1/documents/{doc_id:path}",
        response_model=Document,
        responses=ERRORS,
        dependencies=[Depends(require_key)],
        summary="one document of the index, without its vector",
    )
    async def get_document(doc_id: str) -> Document:
        return await within_timeout(service.document(doc_id))

    @app.get(
        "/v1/indexes",
        response_model=IndexList,
        responses=ERRORS,
        dependencies=[Depends(require_key)],
        summary="the store's vector indexes",
    )
    async def list_indexes() -> IndexList:
        return await within_timeout(service.indexes())

    @app.get("/healthz", response_model=Health, summary="the process is up")
    async def healthz() -> Health:
        return Health(status="ok")

    @app.get(
        "/readyz",
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "not ready; see reason"}},
        summary="model loaded, store reachable, index present",
    )
    async def readyz() -> Response:
        try:
            result = await within_timeout(service.readiness())
        except ApiError as exc:
            result = Readiness(ready=False, reason=exc.message)
        result = result.model_copy(update={"index": settings.index})
        return JSONResponse(result.model_dump(), status_code=200 if result.ready else 503)

    metrics_guard = [] if settings.metrics_public else [Depends(require_key)]

    @app.get("/metrics", include_in_schema=False, dependencies=metrics_guard)
    async def metrics_endpoint() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", include_in_schema=False)
    async def index_page() -> HTMLResponse:
        return HTMLResponse(page, headers={"X-Memvec-Index": settings.index})

    return app
