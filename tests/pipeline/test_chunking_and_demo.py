"""Token-aware chunking with the real tokenizer, and the embedded main job end to end."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from pipeline import LocalEmbedder, chunk_text, stdlib_documents
from tests.harness.wait import wait_for

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


def test_counting_by_sums_matches_counting_every_candidate(embedder: LocalEmbedder) -> None:
    """The model's tokenizer is additive over spaces: the linear packer gives the chunks the
    quadratic one does (so stored chunk ids and hashes do not change)."""
    from pipeline.chunking import _pack_counting, _pieces

    for doc in stdlib_documents(limit=20):
        units = _pieces(doc.text)
        if any(embedder.count_tokens(u) > 96 for u in units):
            continue
        expected = _pack_counting(units, embedder.count_tokens, 96, 16)
        assert chunk_text(doc.text, embedder.count_tokens, max_tokens=96, overlap_tokens=16) == (
            expected
        )


def test_a_tokenizer_that_is_not_additive_still_gets_chunks_within_the_limit() -> None:
    from pipeline.chunking import _pack_by_sums, _pieces

    def words_and_spaces(text: str) -> int:  # a join costs one more than its parts
        return 2 + len(text.split()) + text.count(" ")

    text = " ".join(f"Sentence number {i} has a few words in it." for i in range(60))
    units = _pieces(text)
    linear = _pack_by_sums(units, [words_and_spaces(u) for u in units], 2, 36, 8)
    assert max(words_and_spaces(chunk) for chunk in linear) > 36  # the sums underestimate
    chunks = chunk_text(text, words_and_spaces, max_tokens=36, overlap_tokens=8)
    assert all(words_and_spaces(chunk) <= 36 for chunk in chunks)
    assert " ".join(chunks).count("Sentence number 59") == 1


@pytest.mark.slow
def test_demo_serves_search_then_a_second_run_embeds_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    cmd = [str(BIN), "demo", "--data-dir", str(data), "--limit", "25", "--port", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    url: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            m = re.search(r"search page and API: (http://127\.0\.0\.1:\d+/)", line)
            if m:
                url.append(m.group(1))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        wait_for(lambda: url or proc.poll() is not None, 300, message="demo never got ready")
        assert url, "".join(lines)[-3000:]
        wait_for(lambda: _ready(url[0]), 30, message="API not ready", ignore=(httpx.HTTPError,))
        body = {"query": "parse command line options", "k": 3}
        hits = httpx.post(url[0] + "v1/search", json=body, timeout=30).json()["hits"]
        assert hits[0]["source"] == "stdlib/argparse", hits
        first = "".join(lines)
        assert re.search(r"ingested 25 objects: \d+ chunks, [1-9]\d* newly embedded", first), first
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0
        reader.join(10)
    again = subprocess.run([*cmd, "--no-serve"], capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    assert re.search(
        r"ingested 25 objects: \d+ chunks, 0 newly embedded, 0 failed", again.stdout
    ), again.stdout


def _ready(url: str) -> bool:
    return httpx.get(url + "readyz", timeout=5).status_code == 200
