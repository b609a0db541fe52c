"""``memvec api``: command-line options (each also a ``MEMVEC_API_*`` variable) and the runner.

A flag wins over its environment variable, the variable over the default; ``--help``
shows each variable. ``--store`` picks the backend:

- ``embedded:<dir>``: open the durable store in ``<dir>`` in this process (the files
  ``memvec demo`` writes);
- ``redis://host:port[,redis://replica:port...]``: every node of the store; the first
  is taken to be the primary until a failure says otherwise (the API then follows the
  node that answers as primary), and ``--read-from replicas`` spreads searches over the
  others;
- ``redis+cluster://host:port[,host:port...]`` (``rediss+cluster://`` for TLS): a Redis
  Cluster; keys are routed by slot and searches go to any node, which answers for every
  shard (``--read-from replicas`` sends keyed reads to replicas).

``--embedder`` (``MEMVEC_EMBEDDER``) chooses what embeds query text: ``local`` (default),
``onnx`` or ``sagemaker:<endpoint-name>`` (:mod:`pipeline.embedder_spec`), the SageMaker
endpoint reached at ``--aws-endpoint-url`` (``AWS_ENDPOINT_URL``) when given. It must be
the model the index was written with.

uvicorn runs with :func:`pipeline.api.protocol.with_read_timeouts`: a connection whose
request header (``--header-timeout``) or body (``--body-timeout``) has not arrived in time
is closed. With ``--api-key``, ``/metrics`` needs the key unless ``--metrics-public``.

The runner prints ``memvec api ready on http://HOST:PORT`` once uvicorn listens, loads
the embedding model in the background (``/readyz`` answers 503 until it is loaded), and
stops gracefully on SIGINT (exit status 0) or SIGTERM (uvicorn re-raises the signal after
its graceful stop, so the status is the signal's, 143); 1 if it could not start.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from ..defaults import DEFAULT_INDEX
from ..embedder_spec import add_embedder_option
from .settings import ApiSettings, env_name

__all__ = ["add_api_parser", "run"]

STORE_ENV = "MEMVEC_API_STORE"
AWS_ENDPOINT_ENV = "AWS_ENDPOINT_URL"
STORE_SOCKET_TIMEOUT_S = 5.0
"""A store node that does not answer within this is skipped for the next (or a 503)."""

_OPTIONS: tuple[tuple[str, str, str, str], ...] = (
    ("--bind", "bind", "ADDR", "listen address (default 127.0.0.1)"),
    ("--port", "port", "PORT", "TCP port (default 8080)"),
    ("--api-key", "api_key", "KEY", "require this key on /v1/* (Bearer or X-API-Key)"),
    ("--read-from", "read_from", "primary|replicas", "where searches go (default primary)"),
    ("--index", "index", "NAME", f"index to search (default {DEFAULT_INDEX})"),
    ("--vector-field", "vector_field", "FIELD", "vector attribute (default vec)"),
    ("--text-field", "text_field", "FIELD", "text field (default text)"),
    ("--source-field", "source_field", "FIELD", "source field (default source)"),
    ("--chunk-field", "chunk_field", "FIELD", "chunk number field (default chunk)"),
    ("--max-k", "max_k", "N", "largest k accepted (default and ceiling 1000)"),
    ("--max-body-bytes", "max_body_bytes", "BYTES", "largest request body (default 262144)"),
    ("--max-query-chars", "max_query_chars", "N", "longest query text (default 2000)"),
    ("--request-timeout", "request_timeout_s", "SECONDS", "504 after this (default 10)"),
    (
        "--header-timeout",
        "header_timeout_s",
        "SECONDS",
        "close a connection whose request header is not in after this (default 10)",
    ),
    (
        "--body-timeout",
        "body_timeout_s",
        "SECONDS",
        "close a connection whose request body is not in after this (default 30)",
    ),
    ("--embed-threads", "embed_threads", "N", "torch threads for query embedding (default 1)"),
    ("--cors-origins", "cors_origins", "ORIGINS", "browser origins allowed, comma separated"),
)


def add_api_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Add ``api`` to the ``memvec`` command line; sets ``run`` via ``set_defaults``."""
    p = subparsers.add_parser(
        "api",
        help="serve the HTTP query API and search page",
        description="Serve POST /v1/search (text or vector, k, filter), documents, indexes, "
        "health, readiness, Prometheus metrics, OpenAPI (/docs) and a search page at /. "
        "Every option can also be set with the environment variable shown; a flag wins.",
    )
    p.add_argument(
        "--store",
        default=None,
        metavar="embedded:DIR|redis://HOST:PORT[,redis://REPLICA...]|redis+cluster://HOST:PORT[,...]",
        help=f"the store to query (default embedded:./data) [env {STORE_ENV}]",
    )
    add_embedder_option(p)
    p.add_argument(
        "--aws-endpoint-url",
        default=os.environ.get(AWS_ENDPOINT_ENV),
        metavar="URL",
        help=f"SageMaker endpoint URL for --embedder sagemaker:... (moto, LocalStack; unset "
        f"on AWS) [env {AWS_ENDPOINT_ENV}]",
    )
    for flag, dest, metavar, text in _OPTIONS:
        p.add_argument(
            flag, dest=dest, default=None, metavar=metavar, help=f"{text} [env {env_name(dest)}]"
        )
    p.add_argument(
        "--metrics-public",
        dest="metrics_public",
        action="store_const",
        const=True,
        default=None,
        help="serve /metrics without the API key (by default it needs the key when one is "
        f"set) [env {env_name('metrics_public')}=true]",
    )
    p.set_defaults(run=run)
    return p


def settings_from_args(args: argparse.Namespace, environ: Any = None) -> ApiSettings:
    """Flags over ``MEMVEC_API_*`` over defaults; ``ValueError`` names the bad value."""
    env = dict(os.environ if environ is None else environ)
    for dest in [o[1] for o in _OPTIONS] + ["metrics_public"]:
        value = getattr(args, dest, None)
        if value is not None:
            env[env_name(dest)] = str(value)
    return ApiSettings.from_env(env)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from ..embedder_spec import open_embedder, parse_embedder_spec
    from ..stores import open_store
    from .app import create_app
    from .protocol import with_read_timeouts

    try:
        settings = settings_from_args(args)
        store, close = open_store(
            args.store or os.environ.get(STORE_ENV) or "embedded:./data",
            settings.read_from,
            socket_timeout_s=STORE_SOCKET_TIMEOUT_S,
        )
    except (ValueError, OSError) as exc:
        print(f"memvec api: {exc}", file=sys.stderr)
        return 1
    spec = parse_embedder_spec(str(getattr(args, "embedder", None) or ""))
    aws_endpoint_url = getattr(args, "aws_endpoint_url", None)

    def load_embedder() -> Any:
        if spec.kind == "local":
            import torch

            torch.set_num_threads(max(1, settings.embed_threads))
        return open_embedder(spec, endpoint_url=aws_endpoint_url)

    class Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            if self.started:
                print(f"memvec api ready on http://{settings.bind}:{settings.port}", flush=True)

    try:
        app = create_app(settings, store, embedder_factory=load_embedder)
        config = uvicorn.Config(
            app,
            host=settings.bind,
            port=settings.port,
            log_level="info",
            access_log=False,
            http=with_read_timeouts(settings.header_timeout_s, settings.body_timeout_s),
        )
        server = Server(config)
        try:
            server.run()
        except KeyboardInterrupt:  # uvicorn re-raises the signal after its graceful stop
            pass
        return 0 if server.started else 1
    finally:
        close()
