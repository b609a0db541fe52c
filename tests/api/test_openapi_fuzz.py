"""schemathesis against /openapi.json, in process: no 5xx, and every response (status code,
content type, body) matches the documented schema. Examples are capped to stay fast."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from pipeline.api import ApiSettings, EmbeddedStore, create_app


class _Bound:
    """Stands in for the store or the embedder until the fixture below binds the real one.

    schemathesis builds its test cases at import time (its lazy ``from_fixture`` loader does
    not work with pytest 9), so the app exists before the session fixtures do.
    """

    target: Any = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.target, name)


_store, _embedder = _Bound(), _Bound()
schema = schemathesis.openapi.from_asgi(
    "/openapi.json", create_app(ApiSettings(), _store, _embedder)
)


@pytest.fixture(autouse=True)
def _bind(loaded_engine: Any, embedder: Any) -> None:
    _store.target = EmbeddedStore(loaded_engine)
    _embedder.target = embedder


@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
def test_api_conforms_to_its_schema(case: Any) -> None:
    case.call_and_validate(
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ]
    )
