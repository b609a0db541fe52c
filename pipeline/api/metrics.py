"""Prometheus metrics of the query API, one registry per app (tests build many apps).

Metrics (all in seconds):

- ``memvec_api_request_duration_seconds{method,route,status}``: histogram; ``route`` is the
  route template (``/v1/documents/{doc_id}``), ``unmatched`` for unknown paths, so user
  input never becomes a label value;
- ``memvec_api_requests_in_flight``: gauge;
- ``memvec_api_embed_duration_seconds``: histogram of query-text embedding;
- ``memvec_api_store_duration_seconds{op}``: histogram of store calls (search, get, info).

:class:`MetricsMiddleware` is a pure ASGI middleware, so it also times requests refused
by the other middlewares (413, 401) and never buffers bodies.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "ApiMetrics", "MetricsMiddleware"]

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ApiMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.request_seconds = Histogram(
            "memvec_api_request_duration_seconds",
            "HTTP request latency by route template and status",
            ["method", "route", "status"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "memvec_api_requests_in_flight", "HTTP requests being served", registry=self.registry
        )
        self.embed_seconds = Histogram(
            "memvec_api_embed_duration_seconds",
            "time to embed one query text",
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.store_seconds = Histogram(
            "memvec_api_store_duration_seconds",
            "time of one store call",
            ["op"],
            buckets=_BUCKETS,
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    def __init__(self, app: Any, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        began = time.perf_counter()

        async def send_wrapper(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.metrics.in_flight.dec()
            route = scope.get("route")
            label = getattr(route, "path", None) or "unmatched"
            self.metrics.request_seconds.labels(scope["method"], label, str(status)).observe(
                time.perf_counter() - began
            )
