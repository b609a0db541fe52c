"""langchain-redis (``RedisCache``, ``RedisChatMessageHistory``) and redis-om
(``JsonModel`` with queries), unchanged, against memvec and the peer: the same script
(tests/clients/json_clients_script.py) runs in the client virtualenv
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


SCRIPT = Path(__file__).resolve().parents[1] / "clients" / "json_clients_script.py"


def test_langchain_and_redis_om(memvec: ServerProcess, redis_stack: RedisStack) -> None:
    prefix = f"lc{uuid.uuid4().hex[:6]}:"
    mine = json.loads(run_in_client_venv(SCRIPT, f"redis://127.0.0.1:{memvec.port}", prefix))
    theirs = json.loads(run_in_client_venv(SCRIPT, redis_stack.url, prefix))
    for part in theirs:
        assert mine[part] == theirs[part], part
    assert mine["langchain_cache"]["hit"] == ["a vector store"]
    assert mine["langchain_history"]["count"] == 2
    assert mine["redis_om"]["found"] == [["Ann", 34]]
    assert mine["redis_om"]["ordered"] == ["Cy", "Ann", "Bob"]
