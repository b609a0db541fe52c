"""`pipeline.api`'s public names are pinned; importing the CLI module loads
neither torch nor FastAPI (`memvec --help` stays fast)."""

from __future__ import annotations

import subprocess
import sys

import pipeline.api


def test_front_door() -> None:
    assert sorted(pipeline.api.__all__) == sorted(
        ["ApiError", "ApiMetrics", "ApiSettings", "EmbeddedStore", "Embedder", "FilterError",
         "IndexInfo", "IndexNotFound", "ReadFrom", "RespStore", "SearchHit", "SearchStore",
         "StoreClientError", "StoreRejected", "StoreUnavailable", "compile_filter",
         "create_app"]
    )  # fmt: skip
    for name in pipeline.api.__all__:
        assert hasattr(pipeline.api, name)


def test_cli_import_is_light() -> None:
    code = "import sys, pipeline.api.cli; print('torch' in sys.modules or 'fastapi' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
