"""llama-index's Redis vector store (``llama-index-vector-stores-redis``: add, query
with metadata filters, delete) and the legacy langchain-community ``Redis`` vector store
(scores, ``distance_threshold``, tag/numeric filters, ``similarity_search_limit_score``,
delete, drop), unchanged, against memvec and the peer: the same script
(tests/clients/llama_clients_script.py) runs in ``.venv-llama``
(tests/harness/client_venv.py) against each server and both must report the same.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.harness.client_venv import LLAMA, run_in_client_venv
from tests.harness.components import RedisStack
from tests.server.test_process import ServerProcess


@pytest.fixture(scope="module")
def memvec(memvec_process: ServerProcess) -> ServerProcess:
    """The client flows run against a real ``memvec server`` process."""
    return memvec_process


SCRIPT = Path(__file__).resolve().parents[1] / "clients" / "llama_clients_script.py"


def test_llama_index_and_langchain_community(
    memvec: ServerProcess, redis_stack: RedisStack
) -> None:
    prefix = f"ll{uuid.uuid4().hex[:6]}:"
    url = f"redis://127.0.0.1:{memvec.port}"
    mine, theirs = json.loads(run_in_client_venv(SCRIPT, prefix, url, redis_stack.url, venv=LLAMA))
    for flow in theirs:
        assert "error" not in theirs[flow], theirs[flow]
        assert mine[flow] == theirs[flow], flow
    assert [i for i, _ in mine["llama_index"]["top2"]] == [f"{prefix}llama:b", f"{prefix}llama:a"]
    assert mine["langchain_community"]["threshold"] == [
        "vectors live in memory for fast search",
        "redis stores vectors in memory",
    ]
