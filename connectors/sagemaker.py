"""A SageMaker real-time endpoint that embeds texts: :class:`SageMakerEndpoint`.

A plain endpoint client: texts in, float32 rows out. The pipeline's
:class:`pipeline.sagemaker_embedding.SageMakerEmbedder` wraps it into an ``Embedder``
(token counting with the local tokenizer of the same model).

Request: ``InvokeEndpoint`` with ``ContentType: application/json``, ``Accept:
application/json`` and the body ``{"inputs": ["text", ...]}``, which the Hugging Face
inference containers (TEI, and the HF inference toolkit's ``feature-extraction`` task)
accept. Texts are sent ``batch_size`` at a time.

Accepted response bodies (JSON):

* ``[[float] * dim] * n``: one pooled vector per input (TEI ``/embed``);
* ``[[[float] * dim] * tokens] * n``: token embeddings (``feature-extraction``), mean-pooled
  over the tokens of each input (token counts may differ between inputs);
* ``{"embeddings": <one of the above>}`` or ``{"vectors": <one of the above>}``.

Anything else raises :class:`MalformedResponse` saying what shape arrived and what was
expected. Retriable failures (``Throttled``, ``EndpointUnavailable``) are retried with
exponential backoff and full jitter up to ``max_attempts`` calls; the client made here has
botocore's own retries off so the two loops do not multiply.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from connectors.aws import AwsEndpoint, endpoint_or_url, make_aws_client
from connectors.errors import ConnectorError, MalformedResponse, from_botocore

__all__ = ["SageMakerEndpoint", "parse_embeddings"]

_WRAPPER_KEYS = ("embeddings", "vectors")
_EXPECTED = (
    'expected [[float]*dim]*n, [[[float]*dim]*tokens]*n, or either under "embeddings"/"vectors"'
)


class SageMakerEndpoint:
    """Texts -> float32 rows from a SageMaker endpoint; ``dim`` is learned on first use
    when not given, and every later response must match it."""

    def __init__(
        self,
        endpoint_name: str,
        *,
        dim: int | None = None,
        endpoint: AwsEndpoint | None = None,
        endpoint_url: str | None = None,
        client: Any = None,
        normalize: bool = True,
        batch_size: int = 32,
        max_attempts: int = 5,
        backoff_base_s: float = 0.1,
        backoff_max_s: float = 5.0,
        target_variant: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """``endpoint``: where the SageMaker runtime is (``endpoint_url`` alone is shorthand
        for ``AwsEndpoint(endpoint_url)``); ``client`` overrides both. ``normalize``:
        L2-normalise rows (cosine search on the store side then equals inner product).
        ``batch_size``: texts per request; larger is faster until the endpoint's payload
        limit (6 MB) or its max batch. ``max_attempts``: calls per
        batch before a retriable error is raised; the wait before attempt k is uniform in
        [0, min(backoff_max_s, backoff_base_s * 2**k)].
        """
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.endpoint_name = endpoint_name
        # botocore's retries off: embed() retries with its own backoff
        self.client = client or make_aws_client(
            "sagemaker-runtime", endpoint_or_url(endpoint, endpoint_url), max_attempts=1
        )
        self.dim = dim or 0
        self.normalize = normalize
        self.batch_size = batch_size
        self.max_attempts = max(1, max_attempts)
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.target_variant = target_variant
        self._sleep = sleep
        self.attempts = 0  # calls made, retries included (for metrics and tests)

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """``(len(texts), dim)`` float32, rows in input order; ``ConnectorError`` on failure."""
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not one str")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        rows = []
        for start in range(0, len(texts), self.batch_size):
            chunk = list(texts[start : start + self.batch_size])
            rows.append(self._embed_batch(chunk))
        return np.concatenate(rows, axis=0)

    def _embed_batch(self, texts: list[str]) -> npt.NDArray[np.float32]:
        body, content_type = self._invoke(json.dumps({"inputs": texts}).encode("utf-8"))
        vectors = parse_embeddings(body, len(texts), content_type=content_type)
        if self.dim and vectors.shape[1] != self.dim:
            raise MalformedResponse(
                f"endpoint {self.endpoint_name} returned {vectors.shape[1]}-dim vectors, "
                f"expected {self.dim}; is it serving the same model?"
            )
        self.dim = int(vectors.shape[1])
        if self.normalize:
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors = (vectors / np.where(norms == 0, 1.0, norms)).astype(np.float32)
        return vectors

    def _invoke(self, payload: bytes) -> tuple[bytes, str]:
        from botocore.exceptions import BotoCoreError, ClientError

        params: dict[str, Any] = {
            "EndpointName": self.endpoint_name,
            "ContentType": "application/json",
            "Accept": "application/json",
            "Body": payload,
        }
        if self.target_variant:
            params["TargetVariant"] = self.target_variant
        for attempt in range(1, self.max_attempts + 1):
            self.attempts += 1
            try:
                response = self.client.invoke_endpoint(**params)
                return response["Body"].read(), str(response.get("ContentType", ""))
            except (ClientError, BotoCoreError) as exc:
                err: ConnectorError = from_botocore(exc, f"endpoint {self.endpoint_name}")
                if not err.retriable or attempt == self.max_attempts:
                    if err.retriable:
                        err = type(err)(f"{err.message} (gave up after {attempt} attempts)")
                    raise err from exc
            cap = min(self.backoff_max_s, self.backoff_base_s * 2**attempt)
            self._sleep(random.uniform(0, cap))
        raise AssertionError("unreachable")


def parse_embeddings(
    body: bytes | str, n: int, *, content_type: str = ""
) -> npt.NDArray[np.float32]:
    """The ``(n, dim)`` float32 matrix in a response body; ``MalformedResponse`` otherwise."""
    try:
        doc = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        preview = body[:60] if isinstance(body, (bytes, str)) else body
        raise MalformedResponse(
            f"response is not JSON (content type {content_type or 'unknown'!r}, body starts "
            f"{preview!r}); {_EXPECTED}"
        ) from exc
    if isinstance(doc, dict):
        key = next((k for k in _WRAPPER_KEYS if k in doc), None)
        if key is None:
            raise MalformedResponse(f"got an object with keys {sorted(doc)[:6]}; {_EXPECTED}")
        doc = doc[key]
    if not isinstance(doc, list):
        raise MalformedResponse(f"got {_describe(doc)}; {_EXPECTED}")
    if len(doc) != n:
        raise MalformedResponse(f"got {len(doc)} embeddings for {n} inputs; {_EXPECTED}")
    rows = [_row(item, i) for i, item in enumerate(doc)]
    if len({len(r) for r in rows}) > 1:
        raise MalformedResponse(
            f"got rows of different lengths {sorted({len(r) for r in rows})}; {_EXPECTED}"
        )
    matrix = np.stack(rows).astype(np.float32) if rows else np.zeros((0, 0), np.float32)
    if matrix.shape[1] == 0:
        raise MalformedResponse(f"got empty vectors; {_EXPECTED}")
    if not np.all(np.isfinite(matrix)):
        raise MalformedResponse("got NaN or infinite values in the embeddings")
    return matrix


def _row(item: object, i: int) -> npt.NDArray[np.float64]:
    try:
        array = np.asarray(item, dtype=np.float64)
    except (ValueError, TypeError):
        raise MalformedResponse(
            f"embedding {i} is {_describe(item)}, not numbers; {_EXPECTED}"
        ) from None
    if array.ndim == 1:
        return array
    if array.ndim == 2 and array.shape[0] > 0:
        return array.mean(axis=0)
    raise MalformedResponse(f"embedding {i} has shape {array.shape}; {_EXPECTED}")


def _describe(value: object) -> str:
    if isinstance(value, list):
        inner = _describe(value[0]) if value else "nothing"
        return f"a list of {len(value)} x {inner}"
    if isinstance(value, dict):
        return f"an object with keys {sorted(value)[:6]}"
    return f"a {type(value).__name__} ({str(value)[:30]!r})"
