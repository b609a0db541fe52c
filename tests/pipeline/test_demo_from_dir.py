"""``memvec demo --from DIR``: a folder of every file kind through moto-server S3, the
backfill and the real model into a durable engine; a second run after an edit, an addition
and a deletion embeds only what changed and removes the deleted file's chunks."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from connectors.s3 import S3ObjectStore
from pipeline.api import ApiSettings, create_app
from pipeline.cli import main
from pipeline.demo import INDEX
from pipeline.demo.folder import FolderSummary, sync_folder
from pipeline.embedding import LocalEmbedder
from pipeline.stores import EmbeddedStore
from store import Engine, EngineConfig
from tests.harness import unique_name


def _write(root: Path, rel: str, body: str | bytes) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body.encode() if isinstance(body, str) else body)


def _folder(root: Path) -> None:
    _write(root, "a.txt", "Lighthouses guide ships along the rocky northern coast at night.")
    _write(root, "notes/b.md", "# Sourdough\n\nFeed the starter with flour and water daily.")
    _write(
        root, "notes/deep/c.html",
        "<html><head><title>t</title><style>p{color:red}</style></head><body>"
        "<script>var SCRIPTMARK = 1;</script><p>Volcanoes erupt molten basalt lava.</p>"
        "</body></html>",
    )  # fmt: skip
    _write(root, "data/d.json", json.dumps({"planet": {"name": "Mars", "moons": 2}}))
    _write(root, "data/e.jsonl", '{"text": "Penguins live in Antarctica."}\n{"note": "Owls hunt at night."}\n')  # fmt: skip
    _write(root, "data/f.csv", "city,river\nParis,Seine\nCairo,Nile\n")
    _write(root, "g.txt.gz", gzip.compress(b"Glaciers carve deep valleys into granite."))
    _write(root, "broken.json", '{"text": "unterminated')
    _write(root, ".hidden.txt", "secret")
    _write(root, ".git/config", "[core]")
    _write(root, "blob.txt", b"\x00\x01\x02binary")
    _write(root, "photo.png", b"\x89PNG\r\n")


def _sources(engine: Engine) -> dict[str, list[str]]:
    """source -> the texts of its chunks, from the index."""
    reply = engine.execute("FT.SEARCH", INDEX, "*", "RETURN", "2", "source", "text",
                           "LIMIT", "0", "100")  # fmt: skip
    out: dict[str, list[str]] = {}
    for fields in reply[2::2]:
        f = dict(zip(fields[0::2], fields[1::2], strict=True))
        out.setdefault(f[b"source"].decode(), []).append(f[b"text"].decode())
    return out


def _top_source(engine: Engine, embedder: LocalEmbedder, query: str) -> str:
    reply = engine.execute(
        "FT.SEARCH", INDEX, "*=>[KNN 1 @vec $B AS d]", "PARAMS", "2", "B",
        embedder.embed_one(query).tobytes(), "RETURN", "1", "source", "DIALECT", "2",
    )  # fmt: skip
    return str(reply[2][1].decode())


def test_a_folder_is_mirrored_and_a_rerun_embeds_only_what_changed(
    tmp_path: Path, moto_server: Any, embedder: LocalEmbedder
) -> None:
    s3 = moto_server.client("s3")
    bucket = unique_name("files")
    s3.create_bucket(Bucket=bucket)
    objects = S3ObjectStore(client=s3)
    root = tmp_path / "mine"
    _folder(root)

    with Engine(EngineConfig(data_dir=tmp_path / "store")) as engine:
        store = EmbeddedStore(engine)

        def run() -> FolderSummary:
            return sync_folder(root, store, objects, embedder, bucket=bucket, progress=False)

        first = run()
        assert (first.new, first.changed, first.unchanged, first.deleted) == (7, 0, 0, 0)
        assert (
            list(first.failed) == ["broken.json"]
            and "malformed JSON" in first.failed["broken.json"]
        )
        assert dict(first.skipped) == {
            ".git/": "hidden directory",
            ".hidden.txt": "hidden file",
            "blob.txt": "binary content (NUL bytes)",
            "photo.png": "unsupported file type (txt, md, html, json, jsonl, csv, .gz)",
        }
        assert first.chunks_embedded == first.chunks_written == 9  # e: 2 lines, f: 2 rows
        texts = _sources(engine)
        assert sorted(texts) == sorted(
            f"{bucket}/{p}" for p in ("a.txt", "notes/b.md", "notes/deep/c.html",
                                      "data/d.json", "data/e.jsonl", "data/f.csv", "g.txt.gz")
        )  # fmt: skip
        html = " ".join(texts[f"{bucket}/notes/deep/c.html"])
        assert "Volcanoes" in html and "SCRIPTMARK" not in html and "color" not in html
        assert texts[f"{bucket}/data/d.json"] == [
            "planet.name: Mars planet.moons: 2"
        ]  # the chunker joins lines
        assert sorted(texts[f"{bucket}/data/f.csv"]) == [
            "city: Cairo river: Nile",
            "city: Paris river: Seine",
        ]
        assert sorted(texts[f"{bucket}/data/e.jsonl"]) == [
            "Penguins live in Antarctica.",
            "note: Owls hunt at night.",
        ]
        assert _top_source(engine, embedder, "glacial valleys") == f"{bucket}/g.txt.gz"

        _write(root, "a.txt", "Lighthouse keepers trimmed the lamp wicks every evening.")
        _write(root, "notes/new.md", "Honeybees dance to tell the hive where flowers are.")
        (root / "notes/b.md").unlink()
        second = run()
        assert (second.new, second.changed, second.unchanged, second.deleted) == (1, 1, 5, 1)
        assert second.chunks_embedded == 2 and second.chunks_deleted == 1
        texts = _sources(engine)
        assert f"{bucket}/notes/b.md" not in texts and f"{bucket}/notes/new.md" in texts
        assert engine.execute("KEYS", f"chunk:{bucket}/notes/b.md*") == []
        assert _top_source(engine, embedder, "bees and flowers") == f"{bucket}/notes/new.md"

        third = run()
        assert (third.new, third.changed, third.unchanged, third.deleted) == (0, 0, 7, 0)
        assert third.chunks_embedded == 0

        # what the search page shows: each hit's source, and its full document by id
        app = create_app(ApiSettings(index=INDEX), store, embedder)
        with TestClient(app) as api:
            reply = api.post("/v1/search", json={"query": "bees and flowers", "k": 1})
            hit = reply.json()["hits"][0]
            assert hit["source"] == f"{bucket}/notes/new.md", reply.text
            doc = api.get(f"/v1/documents/{quote(hit['id'], safe='')}").json()
            assert doc["source"] == f"{bucket}/notes/new.md" and "Honeybees" in doc["text"]


def test_the_command_line_ingests_a_folder_and_answers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "mine"
    _write(root, "sub/ocean.md", "Coral reefs grow in warm shallow tropical seas.")
    _write(root, ".cache/x.txt", "hidden")
    argv = ["demo", "--from", str(root), "--data-dir", str(tmp_path / "data"), "--no-serve",
            "--query", "tropical reefs"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "skipped .cache/: hidden directory" in out
    assert "files: 1 new, 0 changed, 0 unchanged, 0 deleted, 0 failed, 1 skipped" in out
    assert "chunks: 1 embedded, 1 written, 0 deleted" in out
    assert "files/sub/ocean.md" in out  # the query's top hit names its source


def test_the_command_line_refuses_what_it_cannot_apply(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--from", str(tmp_path / "nope"), "--no-serve"]) == 2
    assert "not a directory" in capsys.readouterr().out
    argv = ["demo", "--from", str(tmp_path), "--limit", "5", "--no-serve"]
    assert main(argv) == 2
    assert "not with --from" in capsys.readouterr().out
