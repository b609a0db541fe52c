"""Token-aware chunking with the real tokenizer, and the embedded main job end to end."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from pipeline import LocalEmbedder, chunk_text, stdlib_documents

BIN = Path(sys.executable).parent / "memvec"


def test_no_chunk_exceeds_the_model_limit(embedder: LocalEmbedder) -> None:
    docs = list(stdlib_documents(limit=30))
    assert len(docs) == 30
    long_word = "x" * 3000
    texts = [d.text for d in docs] + [f"A sentence. {long_word} Another sentence."]
    for text in texts:
        chunks = chunk_text(text, embedder.count_tokens, max_tokens=64, overlap_tokens=8)
        assert chunks
        for chunk in chunks:
            assert embedder.count_tokens(chunk) <= 64, chunk[:80]
        # nothing is lost: every word of the text appears in some chunk
        words = set(text.split())
        covered = set(" ".join(chunks).split())
        assert {w for w in words if len(w) < 200} <= covered


def test_demo_ingests_once_and_answers(tmp_path: Path) -> None:
    data = tmp_path / "data"
    cmd = [
        str(BIN),
        "demo",
        "--data-dir",
        str(data),
        "--limit",
        "25",
        "--query",
        "parse command line options",
    ]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-2000:]
    written = int(re.search(r"ingested (\d+) new chunks", first.stdout).group(1))  # type: ignore[union-attr]
    assert written > 25
    assert "query: parse command line options" in first.stdout
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "ingested 0 new chunks" in second.stdout
    top = second.stdout.split("query: parse command line options", 1)[1].strip().splitlines()[0]
    assert "stdlib/argparse" in top, top
