"""Each package's public names are pinned: changing them is a deliberate act."""

from __future__ import annotations

import ast
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
