"""One way to choose an embedder: a spec string, parsed here and nowhere else.

Accepted forms (``--embedder`` on ``memvec worker``, ``memvec ingest`` and ``memvec api``;
``MEMVEC_EMBEDDER`` for those and for the Lambda handler):

- ``local`` (the default): :class:`~pipeline.embedding.LocalEmbedder`, all-MiniLM-L6-v2
  run by torch in this process (`pipeline.minilm`: sentence-transformers' vectors, bit for
  bit, without importing it);
- ``onnx``: :class:`~pipeline.fast_embedding.OnnxEmbedder`, the same model as int8 ONNX
  Runtime (the fast CPU path; exported to a cache on first use);
- ``sagemaker:<endpoint-name>``: :class:`~pipeline.sagemaker_embedding.SageMakerEmbedder`,
  a SageMaker real-time endpoint serving the same model. It uses the AWS endpoint URL the
  command already takes (``--aws-endpoint-url`` / ``AWS_ENDPOINT_URL``; unset on AWS),
  the region and credentials of boto3's chain (``AWS_REGION``, ...).

All three give unit vectors of the same 384-dim space and the same chunking (token
counts come from the same tokenizer), so a store written with one can be queried with
another. Anything else raises :class:`~pipeline.errors.EmbedderSpecError` naming these
forms.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors.aws import AwsEndpoint

from .embedding import Embedder
from .errors import EmbedderSpecError

__all__ = [
    "ACCEPTED_FORMS",
    "EMBEDDER_ENV",
    "EmbedderSpec",
    "add_embedder_option",
    "open_embedder",
    "parse_embedder_spec",
    "spec_from_env",
]

EMBEDDER_ENV = "MEMVEC_EMBEDDER"
ACCEPTED_FORMS = "local (default), onnx, or sagemaker:<endpoint-name>"
_SAGEMAKER = "sagemaker:"


@dataclass(frozen=True)
class EmbedderSpec:
    """A parsed spec: ``kind`` is ``local``, ``onnx`` or ``sagemaker`` (with its endpoint)."""

    kind: str = "local"
    endpoint_name: str | None = None

    def __str__(self) -> str:
        return f"{_SAGEMAKER}{self.endpoint_name}" if self.kind == "sagemaker" else self.kind


def parse_embedder_spec(text: str | None) -> EmbedderSpec:
    """The spec ``text`` names; ``None`` or blank is ``local``."""
    value = (text or "").strip()
    if value in ("", "local"):
        return EmbedderSpec("local")
    if value == "onnx":
        return EmbedderSpec("onnx")
    if value.startswith(_SAGEMAKER):
        name = value.removeprefix(_SAGEMAKER).strip()
        if name and not any(c.isspace() for c in name):
            return EmbedderSpec("sagemaker", name)
        raise EmbedderSpecError(
            f"embedder {text!r}: sagemaker:<endpoint-name> needs the endpoint's name "
            f"(accepted: {ACCEPTED_FORMS})"
        )
    raise EmbedderSpecError(f"unknown embedder {text!r}: use {ACCEPTED_FORMS}")


def spec_from_env(environ: Mapping[str, str] | None = None) -> EmbedderSpec:
    """The spec in ``MEMVEC_EMBEDDER`` (``local`` when unset)."""
    env = os.environ if environ is None else environ
    return parse_embedder_spec(env.get(EMBEDDER_ENV))


def open_embedder(
    spec: EmbedderSpec | str | None,
    *,
    endpoint: AwsEndpoint | None = None,
    endpoint_url: str | None = None,
    **sagemaker_options: Any,
) -> Embedder:
    """The embedder ``spec`` names, ready to use. ``endpoint`` (where the SageMaker runtime
    is; ``endpoint_url`` alone is shorthand for ``AwsEndpoint(endpoint_url)``; boto3's
    defaults when neither is given) and ``sagemaker_options`` (e.g. ``batch_size``,
    ``client``) apply to ``sagemaker:`` only."""
    if not isinstance(spec, EmbedderSpec):
        spec = parse_embedder_spec(spec)
    if spec.kind == "onnx":
        from .fast_embedding import OnnxEmbedder

        return OnnxEmbedder()
    if spec.kind == "sagemaker":
        from connectors.sagemaker import SageMakerEndpoint

        from .embedding import EMBEDDING_DIM
        from .sagemaker_embedding import SageMakerEmbedder

        assert spec.endpoint_name is not None
        client = SageMakerEndpoint(
            spec.endpoint_name, dim=EMBEDDING_DIM, endpoint=endpoint,
            endpoint_url=endpoint_url, **sagemaker_options,
        )  # fmt: skip
        return SageMakerEmbedder(client)
    from .embedding import LocalEmbedder

    return LocalEmbedder()


def _spec_type(text: str) -> EmbedderSpec:
    try:
        return parse_embedder_spec(text)
    except EmbedderSpecError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_embedder_option(parser: argparse.ArgumentParser) -> None:
    """``--embedder SPEC`` (default ``$MEMVEC_EMBEDDER``, else ``local``) as an
    :class:`EmbedderSpec` on ``args.embedder``; a bad spec is a usage error."""
    parser.add_argument(
        "--embedder", type=_spec_type, default=os.environ.get(EMBEDDER_ENV) or "local",
        metavar="local|onnx|sagemaker:ENDPOINT",
        help=f"what embeds chunks and queries: {ACCEPTED_FORMS} "
        f"(env {EMBEDDER_ENV}; default local)",
    )  # fmt: skip
