"""End to end: ``memvec stack up`` as a subprocess, S3 PUTs become ``/v1/search`` hits.

Real processes throughout (tansu, moto server, two ``memvec server``, two workers loading
the real embedding model, the API). Overwrites and deletes are reflected, a ``kill -9`` of
one worker does not stop ingestion, ``status`` reports every process healthy, and
``down`` leaves none of the recorded pids alive. The stack is always brought down.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from pipeline.stack import Proc, is_alive, load_state
from tests.harness.wait import wait_for

pytestmark = pytest.mark.slow

_INGEST_TIMEOUT_S = 90.0

DOCS = {
    "notes/lighthouse.md": "The lighthouse keeper climbed the tower every evening to light "
    "the great lamp that warned ships away from the rocky coast.",
    "notes/baking.md": "To bake sourdough bread, feed the starter, mix flour and water, "
    "let the dough rise overnight and bake it in a hot Dutch oven.",
    "notes/volcano.md": "Volcanoes erupt when magma from deep inside the earth rises "
    "through the crust and pours out as lava and ash.",
}


def _stack(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.stack", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=Path(__file__).resolve().parents[1],
    )


def _search(api: str, query: str, k: int = 5) -> list[dict[str, Any]]:
    request = urllib.request.Request(
        f"{api}/v1/search",
        data=json.dumps({"query": query, "k": k}).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        hits: list[dict[str, Any]] = json.loads(response.read())["hits"]
    return hits


def _hit_for(api: str, query: str, key: str, contains: str) -> bool:
    hits = _search(api, query)
    return any(
        key in (h.get("source") or h["id"]) and contains in (h.get("text") or "") for h in hits
    )


def _sources(api: str, query: str) -> list[str]:
    return [str(h.get("source") or h["id"]) for h in _search(api, query, k=20)]


def test_stack_up_ingest_overwrite_delete_kill_down(tmp_path: Path) -> None:
    stack_dir = tmp_path / "stack"
    procs: list[Proc] = []
    try:
        up = _stack("up", "--dir", str(stack_dir))
        state = load_state(stack_dir)
        assert state is not None, up.stderr
        procs = [Proc(**p) for p in state["processes"]]
        assert up.returncode == 0, up.stdout + up.stderr
        names = {p.name for p in procs}
        assert names == {"kafka", "moto", "store", "store-replica", "worker-1", "worker-2", "api"}

        again = _stack("up", "--dir", str(stack_dir))
        assert again.returncode != 0 and "already running" in again.stderr

        api = state["endpoints"]["api"]
        s3 = boto3.client(
            "s3",
            endpoint_url=state["endpoints"]["s3"],
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(s3={"addressing_style": "path"}),
        )
        bucket = state["bucket"]
        for key, text in DOCS.items():
            s3.put_object(Bucket=bucket, Key=key, Body=text.encode())

        ignore = (OSError,)
        wait_for(
            lambda: _hit_for(api, "who lights the lamp in the tower?", "lighthouse", "keeper"),
            _INGEST_TIMEOUT_S,
            interval_s=0.5,
            message="lighthouse document never searchable",
            ignore=ignore,
        )
        wait_for(
            lambda: _hit_for(api, "how do I make bread?", "baking", "sourdough"),
            _INGEST_TIMEOUT_S,
            interval_s=0.5,
            message="baking document never searchable",
            ignore=ignore,
        )

        s3.put_object(
            Bucket=bucket,
            Key="notes/baking.md",
            Body=b"Penguins live in Antarctica, huddle together against the cold wind "
            b"and dive into icy water to catch fish.",
        )
        wait_for(
            lambda: _hit_for(api, "where do penguins live?", "baking", "Penguins"),
            _INGEST_TIMEOUT_S,
            interval_s=0.5,
            message="overwrite of notes/baking.md not reflected",
            ignore=ignore,
        )
        wait_for(
            lambda: not _hit_for(api, "how do I make bread?", "baking", "sourdough"),
            _INGEST_TIMEOUT_S,
            interval_s=0.5,
            message="old text of notes/baking.md still searchable",
            ignore=ignore,
        )

        s3.delete_object(Bucket=bucket, Key="notes/volcano.md")
        wait_for(
            lambda: not any("volcano" in s for s in _sources(api, "volcano lava eruption")),
            _INGEST_TIMEOUT_S,
            interval_s=0.5,
            message="deleted notes/volcano.md still searchable",
            ignore=ignore,
        )

        status = _stack("status", "--dir", str(stack_dir), timeout=60)
        assert status.returncode == 0, status.stdout + status.stderr
        for name in names:
            line = next(ln for ln in status.stdout.splitlines() if ln.startswith(name + " "))
            assert " yes " in line and "healthy" in line, status.stdout

        worker = next(p for p in procs if p.name == "worker-1")
        os.kill(worker.pid, signal.SIGKILL)
        wait_for(lambda: not is_alive(worker), 10, message="worker-1 survived kill -9")
        s3.put_object(
            Bucket=bucket,
            Key="notes/chess.md",
            Body=b"In chess the knight moves in an L shape and can jump over other pieces.",
        )
        wait_for(
            lambda: _hit_for(api, "how does the knight move?", "chess", "knight"),
            _INGEST_TIMEOUT_S,
            interval_s=0.5,
            message="ingestion stopped after kill -9 of worker-1",
            ignore=ignore,
        )
        status = _stack("status", "--dir", str(stack_dir), timeout=60)
        assert status.returncode == 1 and "worker-1" in status.stdout
    finally:
        down = _stack("down", "--dir", str(stack_dir), timeout=60)
    assert down.returncode == 0, down.stdout + down.stderr
    assert procs, "stack.json recorded no processes"
    left = [p for p in procs if is_alive(p)]
    assert not left, f"processes left behind: {left}"
    assert load_state(stack_dir) is None
