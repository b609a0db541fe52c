"""Each package's public names are pinned: changing them is a deliberate act."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import connectors
import pipeline
import store

REPO = Path(__file__).resolve().parents[1]


def test_store_front_door() -> None:
    assert sorted(store.__all__) == sorted(
        [
            "ArityError", "CommandError", "DurabilityError", "Engine", "EngineConfig",
            "EngineState", "ExecAbortError", "FsyncPolicy", "IndexError_", "LoadingError",
            "LogCorruptError", "LogPosition", "NoAuthError", "NoPermError", "OutOfMemoryError",
            "QuerySyntaxError", "ReadOnlyError", "RecoveryOutcome", "RecoveryReport",
            "SimpleString", "SnapshotCorruptError", "SnapshotError", "SnapshotStoreError",
            "StoreError", "Submitted", "SyntaxErr", "UnknownCommandError", "WrongTypeError",
            "atomic_write",
        ]
    )  # fmt: skip
    for name in store.__all__:
        assert hasattr(store, name)


def test_pipeline_and_connectors_front_doors() -> None:
    assert sorted(pipeline.__all__) == sorted(
        ["EMBEDDING_DIM", "MODEL_NAME", "Document", "EmbeddedStore", "Embedder",
         "IngestConfig", "ItemResult", "JsonMapping", "LocalEmbedder", "Outcome", "ParseError",
         "PipelineError", "Processor", "RespStore", "Runner", "RunnerConfig", "SearchStore",
         "StoreClient", "chunk_text", "dead_letter", "handle", "load_model", "model_path",
         "parse_object", "process_event", "stdlib_documents"]
    )  # fmt: skip
    for name in pipeline.__all__:
        assert hasattr(pipeline, name)
    # SageMakerEndpoint (was SageMakerEmbedder); EmbeddingEndpoint gave way to
    # pipeline.Embedder
    assert len(connectors.__all__) == 35 and "KafkaSource" in connectors.__all__
    assert {"AwsCredentials", "AwsEndpoint", "make_aws_client"} <= set(connectors.__all__)
    for name in connectors.__all__:
        assert hasattr(connectors, name)


def test_store_imports_neither_pipeline_nor_connectors() -> None:
    for path in (REPO / "store").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                assert not node.module.startswith(("pipeline", "connectors")), path
            if isinstance(node, ast.Import):
                for alias in node.names:
                    assert not alias.name.startswith(("pipeline", "connectors")), path


def test_the_pipeline_starts_without_the_engine() -> None:
    """The store's names load on first use: a worker, the query API, the ingest CLI and the
    Lambda handler import `store.errors` and friends, not the engine with its commands and
    indexes (~0.9 s of each start, decision 0038), and `store.blas_env` still runs before
    numpy loads."""
    script = (
        "import sys\n"
        "import pipeline.cli, pipeline.worker, pipeline.handler, pipeline.api.app\n"
        "import os\n"
        "print('store.engine' in sys.modules, os.environ.get('OPENBLAS_THREAD_TIMEOUT'))\n"
        "import store\n"
        "print(store.Engine.__module__, 'store.engine' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    first, second = done.stdout.splitlines()
    engine_loaded, blas_threads = first.split()
    assert (engine_loaded, blas_threads) == ("False", "4")
    assert second == "store.engine True"
