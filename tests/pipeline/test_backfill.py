"""`memvec ingest` (pipeline.backfill) against moto-server S3, the real model and a durable
embedded engine: resumable after interruption, identical to an uninterrupted run, prune
only on request and only what S3 confirms gone, and the command line in a subprocess."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from connectors.base import ObjectSummary
from connectors.errors import Throttled
from connectors.s3 import S3ObjectStore
from pipeline.backfill import _INGEST_BATCH, Backfill, BackfillSummary, main, parse_s3_url
from pipeline.embedding import LocalEmbedder
from pipeline.errors import PrimaryChanged
from pipeline.processor import IngestConfig, Outcome, Processor
from pipeline.stores import EmbeddedStore
from store import Engine, EngineConfig
from tests.harness import unique_name

SMALL = IngestConfig(index="t", chunk_tokens=48, overlap_tokens=8, max_object_bytes=200_000)
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def s3(moto_server: Any) -> Any:
    return moto_server.client("s3")


@pytest.fixture
def bucket(s3: Any) -> str:
    name = unique_name("bkt")
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def objects(s3: Any) -> S3ObjectStore:
    return S3ObjectStore(client=s3)


def _engine(path: Path) -> Iterator[Engine]:
    with Engine(EngineConfig(data_dir=path)) as e:
        yield e


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    yield from _engine(tmp_path / "store")


@pytest.fixture
def reference_engine(tmp_path: Path) -> Iterator[Engine]:
    yield from _engine(tmp_path / "reference")


@pytest.fixture
def proc(engine: Engine, objects: S3ObjectStore, embedder: LocalEmbedder) -> Processor:
    return Processor(EmbeddedStore(engine), objects, embedder, SMALL)


def words(n: int, seed: int) -> str:
    rng = random.Random(seed)
    vocab = "alpha beta gamma delta vector store index durable stream kafka shard".split()
    return " ".join(" ".join(rng.choice(vocab) for _ in range(12)) + "." for _ in range(n))


def seed_corpus(s3: Any, bucket: str, n: int = 30) -> list[str]:
    """``n`` good objects under ``docs/`` (txt, md, html), one poison, two outside."""
    keys = []
    for i in range(n):
        ext = ("txt", "md", "html")[i % 3]
        text = words(2 + i % 4, i)
        body = f"<html><body><p>{text}</p></body></html>" if ext == "html" else text
        key = f"docs/doc-{i:02d}.{ext}"
        s3.put_object(Bucket=bucket, Key=key, Body=body.encode())
        keys.append(key)
    s3.put_object(Bucket=bucket, Key="docs/bad.json", Body=b'{"text": "unterminated')
    for key in ("other/x.txt", "docs-sibling.txt"):
        s3.put_object(Bucket=bucket, Key=key, Body=words(2, 99).encode())
    return keys


def dump(engine: Engine) -> dict[bytes, dict[bytes, bytes]]:
    """Every chunk and state record, minus the wall-clock ``ingested_at``."""
    out = {}
    for key in engine.execute("KEYS", "*"):
        if key.startswith((b"chunk:", b"objstate:")):
            fields = dict(engine.execute("HGETALL", key))
            fields.pop(b"ingested_at", None)
            out[key] = fields
    return out


class MemoEmbedder:
    """The real model, each distinct text embedded once per test: the reference run and
    the interrupted runs then cost one model pass (the processor's ``chunks_embedded``
    still counts every vector it asked for, which is what the assertions use)."""

    def __init__(self, inner: LocalEmbedder) -> None:
        self.inner = inner
        self.cache: dict[str, npt.NDArray[np.float32]] = {}
        self.count_tokens = inner.count_tokens

    def embed(self, texts: Any) -> npt.NDArray[np.float32]:
        missing = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if missing:
            self.cache.update(zip(missing, self.inner.embed(missing), strict=True))
        return np.stack([self.cache[t] for t in texts])


class InterruptAfter:
    """Stands in for ``Processor.process_many``: Ctrl-C arrives before the ``n+1``-th batch."""

    def __init__(self, process_many: Any, n: int) -> None:
        self.process_many, self.n, self.calls = process_many, n, 0

    def __call__(self, items: Any) -> list[Outcome | Exception]:
        if self.calls == self.n:
            raise KeyboardInterrupt
        self.calls += 1
        result: list[Outcome | Exception] = self.process_many(items)
        return result


def test_interrupted_runs_resume_and_end_identical_to_one_run(
    s3: Any, bucket: str, objects: S3ObjectStore, proc: Processor, engine: Engine,
    reference_engine: Engine, embedder: LocalEmbedder, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    good = seed_corpus(s3, bucket)
    total = len(good) + 1  # the poison object is listed and fails every time
    memo = MemoEmbedder(embedder)
    proc = Processor(proc.store, objects, memo, SMALL)
    ref_proc = Processor(EmbeddedStore(reference_engine), objects, memo, SMALL)
    ref = Backfill(ref_proc, objects, bucket, "docs/", progress=False).run()
    assert (ref.objects_seen, ref.ingested, ref.unchanged) == (total, len(good), 0)
    assert list(ref.failed) == ["docs/bad.json"] and "JSON" in ref.failed["docs/bad.json"]
    assert ref.chunks_embedded == ref.chunks_written >= len(good)

    first = Backfill(proc, objects, bucket, "docs/", progress=False).run(limit=7)
    assert first.limited and first.ingested + len(first.failed) == 7

    monkeypatch.setattr(proc, "process_many", InterruptAfter(proc.process_many, 1))
    second = Backfill(proc, objects, bucket, "docs/", progress=False).run()
    monkeypatch.undo()
    one_batch = min(_INGEST_BATCH, total - 7)
    assert second.interrupted and second.ingested + len(second.failed) == one_batch
    assert second.unchanged == first.ingested  # finished objects are not even fetched
    assert "interrupted" in second.render()

    third = Backfill(proc, objects, bucket, "docs/", progress=False).run()
    assert not third.interrupted and not third.limited
    assert third.unchanged == first.ingested + second.ingested
    assert third.ingested == len(good) - third.unchanged
    assert list(third.failed) == ["docs/bad.json"]  # failures are retried by every run
    # no object was embedded twice across the three runs
    runs = (first, second, third)
    assert sum(r.chunks_embedded for r in runs) == ref.chunks_embedded
    assert sum(r.chunks_written for r in runs) == ref.chunks_written

    again = Backfill(proc, objects, bucket, "docs/", progress=False).run()
    assert (again.ingested, again.unchanged, again.chunks_embedded) == (0, len(good), 0)

    assert dump(engine) == dump(reference_engine)
    assert not any(b"other/" in k or b"docs-sibling" in k for k in dump(engine))
    info = engine.execute("FT.INFO", "t")
    assert info[info.index("num_docs") + 1] == ref.chunks_written


class LaggingListing(S3ObjectStore):
    """S3 whose listing does not show some keys yet (eventual consistency, late writes)."""

    def __init__(self, hidden: set[str], **kw: Any) -> None:
        super().__init__(**kw)
        self.hidden = hidden

    def list(self, bucket: str, prefix: str = "") -> Iterator[ObjectSummary]:
        return (o for o in super().list(bucket, prefix) if o.key not in self.hidden)


def chunk_sources(engine: Engine) -> set[str]:
    return {k.decode().split("#")[0] for k in engine.execute("KEYS", "chunk:*")}


def test_prune_removes_only_objects_s3_confirms_gone(
    s3: Any, bucket: str, objects: S3ObjectStore, proc: Processor, engine: Engine
) -> None:
    for name in ("a", "b", "c", "d"):
        s3.put_object(Bucket=bucket, Key=f"docs/{name}.txt", Body=words(3, ord(name)).encode())
    s3.put_object(Bucket=bucket, Key="other/z.txt", Body=words(3, 1).encode())
    assert Backfill(proc, objects, bucket, "", progress=False).run().ingested == 5
    for key in ("docs/a.txt", "docs/b.txt", "other/z.txt"):
        s3.delete_object(Bucket=bucket, Key=key)

    kept = Backfill(proc, objects, bucket, "docs/", progress=False).run()
    assert kept.pruned == 0 and kept.unchanged == 2  # pruning is off by default
    assert f"chunk:{bucket}/docs/a.txt" in chunk_sources(engine)

    lagging = LaggingListing({"docs/c.txt"}, client=s3)
    pruned = Backfill(proc, lagging, bucket, "docs/", prune=True, progress=False).run()
    assert pruned.pruned == 2 and pruned.chunks_deleted >= 2
    assert chunk_sources(engine) == {
        f"chunk:{bucket}/docs/c.txt",  # unlisted but still in S3: kept
        f"chunk:{bucket}/docs/d.txt",
        f"chunk:{bucket}/other/z.txt",  # outside the prefix: not ours to prune
    }
    assert engine.execute("HGET", f"objstate:{bucket}/docs/a.txt", "deleted") == b"1"
    rerun = Backfill(proc, objects, bucket, "docs/", prune=True, progress=False).run()
    assert (rerun.pruned, rerun.unchanged, rerun.ingested) == (0, 2, 0)


class FlakyGets(S3ObjectStore):
    """S3 that throttles the first ``get`` of each key in ``flaky``."""

    def __init__(self, flaky: set[str], **kw: Any) -> None:
        super().__init__(**kw)
        self.flaky = flaky
        self.gets: list[str] = []

    def get(self, bucket: str, key: str, **kw: Any) -> Any:
        self.gets.append(key)
        if key in self.flaky:
            self.flaky.discard(key)
            raise Throttled(f"s3://{bucket}/{key}: SlowDown")
        return super().get(bucket, key, **kw)


def test_retriable_errors_are_retried_and_the_rest_reported(
    s3: Any, bucket: str, engine: Engine, embedder: LocalEmbedder
) -> None:
    s3.put_object(Bucket=bucket, Key="flaky.txt", Body=words(2, 5).encode())
    s3.put_object(Bucket=bucket, Key="huge.txt", Body=b"word " * 50_000)
    flaky = FlakyGets({"flaky.txt"}, client=s3)
    proc = Processor(EmbeddedStore(engine), flaky, embedder, SMALL)
    summary = Backfill(proc, flaky, bucket, "", progress=False, retry_backoff_s=0.01).run()
    assert summary.ingested == 1 and flaky.gets.count("flaky.txt") == 2
    assert list(summary.failed) == ["huge.txt"] and "over the limit" in summary.failed["huge.txt"]
    assert flaky.gets.count("huge.txt") == 1  # not retriable: tried once


class MovingPrimary(EmbeddedStore):
    """Fails the next ``failures`` commits as a failover would."""

    def __init__(self, engine: Engine, failures: int) -> None:
        super().__init__(engine)
        self.failures = failures

    def run(self, commands: Any, *, atomic: bool = False) -> list[Any]:
        if atomic and self.failures > 0:
            self.failures -= 1
            raise PrimaryChanged("the store primary failed during a write")
        return super().run(commands, atomic=atomic)


def test_a_retriable_store_error_is_retried_and_a_lasting_one_stops_the_walk(
    s3: Any, bucket: str, engine: Engine, objects: S3ObjectStore, embedder: LocalEmbedder
) -> None:
    s3.put_object(Bucket=bucket, Key="a.txt", Body=words(2, 6).encode())
    store = MovingPrimary(engine, failures=1)
    proc = Processor(store, objects, embedder, SMALL)
    summary = Backfill(proc, objects, bucket, "", progress=False, retry_backoff_s=0.01).run()
    assert summary.ingested == 1 and not summary.failed and store.failures == 0

    s3.put_object(Bucket=bucket, Key="b.txt", Body=words(2, 7).encode())
    store.failures = 100
    walk = Backfill(proc, objects, bucket, "", progress=False, retry_backoff_s=0.01)
    with pytest.raises(PrimaryChanged):  # every later object would fail the same way
        walk.run()
    assert store.failures == 100 - 1 - 3  # the batch's commit, then max_attempts alone


def test_state_scan_treats_the_prefix_literally(proc: Processor, engine: Engine) -> None:
    for key in ("p[1]*/x", "p1-other/y", "p[1]*", "p\\q/z", "pXq/w"):
        engine.execute("HSET", f"objstate:b/{key}", "etag", "e")
    found = dict(Backfill(proc, proc.objects, "b", "p[1]*/")._state_keys())
    assert found == {"objstate:b/p[1]*/x": "p[1]*/x"}
    found = dict(Backfill(proc, proc.objects, "b", "p\\q/")._state_keys())
    assert found == {"objstate:b/p\\q/z": "p\\q/z"}


def test_parse_s3_url_and_summary_rendering() -> None:
    assert parse_s3_url("s3://bkt/a/b/") == ("bkt", "a/b/")
    assert parse_s3_url("s3://bkt") == ("bkt", "")
    for bad in ("bkt/a", "s3://", "s3:///a", "http://bkt/a"):
        with pytest.raises(ValueError):
            parse_s3_url(bad)
    summary = BackfillSummary("bkt", "p/", objects_seen=3, ingested=1, chunks_written=4)
    summary.failed = {f"k{i}": "bad" for i in range(25)}
    summary.elapsed_s = 2.0
    text = summary.render()
    assert "3 objects seen" in text and "2.0 written/s" in text and "... and 5 more" in text


def _aws_env(moto_server: Any) -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": moto_server.endpoint_url,
    }  # fmt: skip


def test_cli_in_a_subprocess(moto_server: Any, s3: Any, bucket: str, tmp_path: Path) -> None:
    for i in range(3):
        s3.put_object(Bucket=bucket, Key=f"cli/{i}.txt", Body=words(3, i).encode())
    s3.put_object(Bucket=bucket, Key="elsewhere.txt", Body=words(3, 9).encode())
    data = tmp_path / "cli-store"
    env = {**os.environ, **_aws_env(moto_server), "PYTHONPATH": str(REPO)}
    # `memvec ingest` once pipeline.cli registers add_ingest_parser; the same parser
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "ingest", f"s3://{bucket}/cli/",
         "--store", f"embedded:{data}", "--index", "t", "--progress"],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "3 objects seen" in done.stdout and "3 ingested, 0 unchanged" in done.stdout
    assert "obj" in done.stderr  # the tqdm bar
    with Engine(EngineConfig(data_dir=data)) as reopened:
        sources = {k.decode().split("#")[0] for k in reopened.execute("KEYS", "chunk:*")}
        assert sources == {f"chunk:{bucket}/cli/{i}.txt" for i in range(3)}


def test_cli_exit_codes(
    moto_server: Any, bucket: str, s3: Any, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    embedder: LocalEmbedder,
) -> None:  # fmt: skip
    for name, value in _aws_env(moto_server).items():
        monkeypatch.setenv(name, value)
    store = f"embedded:{tmp_path / 'exit-codes'}"
    assert main(["ingest", "not-a-url", "--store", store]) == 2
    missing = unique_name("missing")
    assert main(["ingest", f"s3://{missing}/", "--store", store, "--no-progress"]) == 2
    assert missing in capsys.readouterr().err
    s3.put_object(Bucket=bucket, Key="p/ok.txt", Body=words(2, 1).encode())
    s3.put_object(Bucket=bucket, Key="p/empty.txt", Body=b"")
    args = ["ingest", f"s3://{bucket}/p/", "--store", store, "--index", "t", "--no-progress"]
    assert main(args) == 1  # one object failed
    out = capsys.readouterr().out
    assert "1 ingested" in out and "p/empty.txt: " in out and "empty" in out
