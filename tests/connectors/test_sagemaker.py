"""SageMakerEndpoint against moto's sagemaker-runtime with canned bodies queued through moto's
own API, plus throttling retries (botocore's Stubber: moto cannot throttle)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from botocore.stub import Stubber

from connectors.aws import AwsCredentials, AwsEndpoint
from connectors.errors import MalformedResponse, Throttled
from connectors.sagemaker import SageMakerEndpoint, parse_embeddings
from tests.harness import unique_name

# moto keeps one queue of canned results per region; a region of our own keeps these tests
# from consuming (or leaving) results for anybody else on the same server.
REGION = "eu-west-3"


def queue_results(moto_server: Any, *bodies: object) -> None:
    """Queue canned InvokeEndpoint bodies (see `MotoServer.queue_sagemaker_results`)."""
    moto_server.queue_sagemaker_results(REGION, *bodies)


def texts(n: int) -> list[str]:
    return [unique_name("text") for _ in range(n)]


@pytest.fixture
def make_embedder(moto_server: Any) -> Any:
    def make(**kwargs: Any) -> SageMakerEndpoint:
        return SageMakerEndpoint(
            unique_name("embed"),
            endpoint=AwsEndpoint(
                endpoint_url=moto_server.endpoint_url,
                region_name=REGION,
                credentials=AwsCredentials(access_key_id="testing", secret_access_key="testing"),
            ),
            **kwargs,
        )

    return make


def test_pooled_vectors_are_normalised(moto_server: Any, make_embedder: Any) -> None:
    queue_results(moto_server, [[3.0, 4.0, 0.0], [0.0, 0.0, 2.0]])
    embedder = make_embedder()
    vectors = embedder.embed(texts(2))
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(vectors, [[0.6, 0.8, 0.0], [0.0, 0.0, 1.0]], rtol=1e-6)
    assert embedder.dim == 3


def test_token_embeddings_are_mean_pooled_in_batches(moto_server: Any, make_embedder: Any) -> None:
    queue_results(
        moto_server,
        [[[1.0, 0.0], [3.0, 2.0]], [[2.0, 2.0]]],  # batch 1: 2 and 1 tokens
        {"embeddings": [[[5.0, 1.0], [1.0, 1.0], [3.0, 1.0]]]},  # batch 2, wrapped
    )
    embedder = make_embedder(normalize=False, batch_size=2)
    vectors = embedder.embed(texts(3))
    np.testing.assert_allclose(vectors, [[2.0, 1.0], [2.0, 2.0], [3.0, 1.0]])


def test_vectors_wrapper(moto_server: Any, make_embedder: Any) -> None:
    queue_results(moto_server, {"vectors": [[1.0, 1.0]]})
    np.testing.assert_allclose(make_embedder(normalize=False).embed(texts(1)), [[1.0, 1.0]])


def test_moto_default_body_is_a_clear_malformed_response(make_embedder: Any) -> None:
    # Nothing queued: moto answers the literal text "body".
    with pytest.raises(MalformedResponse, match=r"not JSON.*body starts b'body'.*expected"):
        make_embedder().embed(texts(1))


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"data": [[1.0]]}, "object with keys \\['data'\\]"),
        ([[1.0, 2.0]], "1 embeddings for 2 inputs"),
        ([[1.0, 2.0], [1.0]], "different lengths"),
        ([["a", "b"], [1.0, 2.0]], "not numbers"),
        ('"just a string"', "got a str"),
    ],
)
def test_malformed_shapes_from_the_endpoint(
    moto_server: Any, make_embedder: Any, body: object, reason: str
) -> None:
    queue_results(moto_server, body)
    with pytest.raises(MalformedResponse, match=reason) as info:
        make_embedder().embed(texts(2))
    assert "expected [[float]*dim]*n" in str(info.value)
    assert not info.value.retriable


def test_dimension_change_is_rejected(moto_server: Any, make_embedder: Any) -> None:
    queue_results(moto_server, [[1.0, 0.0, 0.0]])
    with pytest.raises(MalformedResponse, match="3-dim vectors, expected 4"):
        make_embedder(dim=4).embed(texts(1))


def test_parse_embeddings_rejects_nan() -> None:
    with pytest.raises(MalformedResponse, match="NaN"):
        parse_embeddings(b"[[1.0, NaN]]", 1)


def test_throttling_is_retried_with_backoff(moto_server: Any) -> None:
    client = moto_server.client("sagemaker-runtime", region_name=REGION)
    sleeps: list[float] = []
    embedder = SageMakerEndpoint(
        "throttled", client=client, sleep=sleeps.append, backoff_base_s=0.5, normalize=False
    )
    body = json.dumps([[1.0, 2.0]]).encode()
    with Stubber(client) as stub:
        for _ in range(2):
            stub.add_client_error(
                "invoke_endpoint", service_error_code="ThrottlingException", http_status_code=400
            )
        stub.add_response(
            "invoke_endpoint", {"Body": _StreamLike(body), "ContentType": "application/json"}
        )
        vectors = embedder.embed(["x"])
    np.testing.assert_allclose(vectors, [[1.0, 2.0]])
    assert embedder.attempts == 3
    assert len(sleeps) == 2 and 0 <= sleeps[0] <= 1.0 and 0 <= sleeps[1] <= 2.0


def test_throttling_gives_up_after_max_attempts(moto_server: Any) -> None:
    client = moto_server.client("sagemaker-runtime", region_name=REGION)
    embedder = SageMakerEndpoint("throttled", client=client, sleep=lambda s: None, max_attempts=3)
    with Stubber(client) as stub:
        for _ in range(3):
            stub.add_client_error(
                "invoke_endpoint", service_error_code="ThrottlingException", http_status_code=400
            )
        with pytest.raises(Throttled, match="gave up after 3 attempts") as info:
            embedder.embed(["x"])
    assert info.value.retriable


class _StreamLike:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def read(self) -> bytes:
        return self._data
