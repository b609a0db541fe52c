"""langchain-redis ``RedisVectorStore`` (with ``distance_threshold``, filters, MMR) and
``RedisSemanticCache``, and a redis-om ``HashModel`` with a vector field queried by KNN,
unchanged, against memvec and the peer: the same script
(tests/clients/vector_clients_script.py) runs in the client virtualenv
(tests/harness/client_venv.py) against each server and both must report the same.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.harness.client_venv import run_in_client_venv
from tests.harness.components import RedisStack
from tests.server.test_process import ServerProcess


@pytest.fixture(scope="module")
def memvec(memvec_process: ServerProcess) -> ServerProcess:
    """The client flows run against a real ``memvec server`` process."""
    return memvec_process


SCRIPT = Path(__file__).resolve().parents[1] / "clients" / "vector_clients_script.py"


def test_langchain_vector_store_cache_and_redis_om(
    memvec: ServerProcess, redis_stack: RedisStack
) -> None:
    prefix = f"lv{uuid.uuid4().hex[:6]}:"
    mine, theirs = json.loads(
        run_in_client_venv(SCRIPT, prefix, f"redis://127.0.0.1:{memvec.port}", redis_stack.url)
    )
    for flow in theirs:
        assert "error" not in theirs[flow], theirs[flow]
        assert mine[flow] == theirs[flow], flow
    assert mine["langchain_semantic_cache"]["hit"] == ["a database"]
    # redis-om 1.2 stores a HashModel vector as base64 text, which no VECTOR field takes:
    # both servers count an indexing failure and find nothing (docs/compatibility.md)
    assert mine["redis_om_vectors"] == {"count": 0, "filtered": [], "nearest": []}
    assert mine["langchain_vector_store"]["threshold"] == [
        "vectors live in memory for fast search",
        "redis stores vectors in memory",
    ]
