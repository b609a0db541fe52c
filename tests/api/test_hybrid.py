"""Text (BM25) and hybrid search through the API, scored by the store.

The same chunks (the `loaded_engine` corpus: real text and real embeddings) are copied
under this module's own prefix and index into three stores: the RediSearch 2.10 peer
(`redis_stack`, over `RespStore`), a `memvec server` (over `RespStore`) and an embedded
memvec engine (`EmbeddedStore`). Every test runs against each through the API in
process.

Text scores come from the store (`FT.SEARCH ... WITHSCORES SCORER BM25STD`);
`test_text_scores_match_the_peer` checks memvec's (server and embedded) against the peer's.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from pipeline.api import ApiSettings, EmbeddedStore, RespStore, create_app
from pipeline.api.fusion import linear, rrf
from pipeline.stores.base import SearchHit
from store import Engine, EngineConfig
from store.server import ServerConfig, ServerThread
from tests.api.conftest import serve_in_thread, stop_live
from tests.harness.components import wait_index_scanned

BACKENDS = ["peer", "memvec", "embedded"]
TAG = f"hyb{uuid.uuid4().hex[:8]}"
INDEX = f"{TAG}_idx"
PREFIX = f"{TAG}:chunk:"
COPIED = ("text", "source", "chunk", "vec")
XSS_TEXT = '<img src=x onerror="document.body.dataset.pwned=1"> Tabular <b>CSV</b> rows & more'


# NOSTEM: the peer stems TEXT fields and memvec does not (docs/compatibility.md); NOSTEM
# keeps the indexed terms the same on both (the peer still expands query terms to stems)
def _create_args(dim: int) -> list[str]:
    return [
        "FT.CREATE", INDEX, "ON", "HASH", "PREFIX", "1", PREFIX, "SCHEMA",
        "text", "TEXT", "NOSTEM", "source", "TAG", "SEPARATOR", "\x1f", "chunk", "NUMERIC",
        "vec", "VECTOR", "HNSW", "6", "TYPE", "FLOAT32", "DIM", str(dim),
        "DISTANCE_METRIC", "COSINE",
    ]  # fmt: skip


@pytest.fixture(scope="module")
def chunks(loaded_engine: Engine) -> list[tuple[str, list[Any]]]:
    """(key, HSET field/value list) of every chunk of the loaded corpus, under PREFIX."""
    out = []
    for key in sorted(loaded_engine.execute("KEYS", "chunk:*")):
        name = key.decode() if isinstance(key, bytes) else key
        values = loaded_engine.execute("HMGET", name, *COPIED)
        pairs: list[Any] = []
        for field, value in zip(COPIED, values, strict=True):
            if value is not None:
                pairs += [field, value]
        out.append((PREFIX + name.removeprefix("chunk:"), pairs))
    # markup in a document must reach the page as text, never as HTML
    vec = out[0][1][out[0][1].index("vec") + 1]
    out.append((PREFIX + "xss#0", ["text", XSS_TEXT, "source", "xss", "chunk", 0, "vec", vec]))
    return out


def _load(
    run: Callable[..., Any], chunks: list[tuple[str, list[Any]]], dim: int, peer: Any = None
) -> None:
    """Create the index and write the chunks; with ``peer`` (its client), only once the
    peer's background scan is over, so each chunk is indexed once there."""
    run("FT.CREATE", *_create_args(dim)[1:])
    if peer is not None:
        wait_index_scanned(peer, INDEX)
    for key, pairs in chunks:
        run("HSET", key, *pairs)


@pytest.fixture(scope="module")
def stores(
    redis_stack: Any, chunks: list[tuple[str, list[Any]]], embedder: Any
) -> Iterator[dict[str, Any]]:
    peer = RespStore([redis_stack.url])
    peer_client = redis_stack.client()
    engine = Engine(EngineConfig(data_dir=None)).start()
    server = ServerThread(ServerConfig(port=0, data_dir=None), engine=engine).start()
    memvec = RespStore([f"redis://127.0.0.1:{server.port}"])
    try:
        _load(peer_client.execute_command, chunks, embedder.dim, peer=peer_client)
        _load(engine.execute, chunks, embedder.dim)
        yield {"peer": peer, "memvec": memvec, "embedded": EmbeddedStore(engine)}
    finally:
        peer_client.execute_command("FT.DROPINDEX", INDEX, "DD")
        peer_client.close()
        peer.close()
        memvec.close()
        server.stop()
        engine.stop()


@pytest.fixture
async def api(
    request: pytest.FixtureRequest,
    stores: dict[str, Any],
    embedder: Any,
    make_client: Callable[[Any], httpx.AsyncClient],
) -> httpx.AsyncClient:
    store = stores[request.param]
    return make_client(create_app(ApiSettings(index=INDEX), store, embedder))


async def search(api: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    r = await api.post("/v1/search", json=body)
    assert r.status_code == 200, r.text
    return dict(r.json())


def as_hits(reply: dict[str, Any]) -> list[SearchHit]:
    """The API's hits back as store hits (for fusing them again in the test)."""
    return [
        SearchHit(h["id"], h["distance"] if h["distance"] is not None else float("nan"),
                  {}, h["text_score"])
        for h in reply["hits"]
    ]  # fmt: skip


on_each_store = pytest.mark.parametrize("api", BACKENDS, indirect=True)
on_each_store_now = pytest.mark.parametrize("api", ["peer", "memvec", "embedded"], indirect=True)


@on_each_store
async def test_text_mode_ranks_by_bm25(api: httpx.AsyncClient) -> None:
    reply = await search(api, query="The argparse parser, for command-line options!", mode="text")
    assert reply["mode"] == "text"
    assert reply["terms"] == ["argparse", "parser", "command", "line", "options"]
    hits = reply["hits"]
    assert len(hits) == 10
    assert hits[0]["source"] == "stdlib/argparse", [h["source"] for h in hits]
    scores = [h["score"] for h in hits]
    assert scores == sorted(scores, reverse=True) and scores[-1] > 0
    for h in hits:
        assert h["text_score"] == h["score"]
        assert h["distance"] is None and h["vector_distance"] is None
        words = h["text"].lower()
        assert any(t in words for t in reply["terms"]), h["text"]


@on_each_store
async def test_text_mode_escapes_query_syntax(api: httpx.AsyncClient) -> None:
    nasty = 'csv @text:(*) -reader | "quoted" {tag} %fuzzy% $param ~x* \\ ) ('
    reply = await search(api, query=nasty, mode="text", k=5)
    assert reply["terms"] == ["csv", "text", "reader", "quoted", "tag", "fuzzy", "param", "x"]
    assert reply["hits"] and reply["hits"][0]["source"] == "stdlib/csv"


@on_each_store_now
async def test_stop_words_only(api: httpx.AsyncClient) -> None:
    text = await search(api, query="to be or not to be, that is the...", mode="text")
    assert text["terms"] == [] and text["hits"] == []
    # hybrid asks the vector side for 4k candidates: compare with the same breadth
    vector = await search(api, query="to be or not to be, that is the...", k=20)
    hybrid = await search(api, query="to be or not to be, that is the...", k=5, mode="hybrid")
    assert [h["id"] for h in hybrid["hits"]] == [h["id"] for h in vector["hits"][:5]]
    assert all(h["text_score"] is None for h in hybrid["hits"])


@on_each_store
async def test_text_mode_applies_the_filter(api: httpx.AsyncClient) -> None:
    query = {"query": "parse arguments", "mode": "text"}
    reply = await search(api, **query, filter={"source": "stdlib/csv"})
    assert reply["hits"] and {h["source"] for h in reply["hits"]} == {"stdlib/csv"}


@pytest.mark.parametrize("fusion", ["rrf", "linear"])
@on_each_store
async def test_hybrid_fuses_both_rankings(api: httpx.AsyncClient, fusion: str) -> None:
    query, k = "read and write comma separated values files", 5
    options: dict[str, Any] = {"fusion": fusion}
    options.update(rrf_k=30) if fusion == "rrf" else options.update(alpha=0.3)
    reply = await search(api, query=query, k=k, mode="hybrid", **options)
    vector = await search(api, query=query, k=4 * k)
    text = await search(api, query=query, k=4 * k, mode="text")
    if fusion == "rrf":
        expected = rrf(as_hits(vector), as_hits(text), 30)
    else:
        expected = linear(as_hits(vector), as_hits(text), 0.3)
    assert text["hits"][0]["source"] == "stdlib/csv"
    hits = reply["hits"]
    assert any(h["text_score"] is not None for h in hits)
    assert [h["id"] for h in hits] == [f.hit.id for f in expected[:k]]
    assert [h["score"] for h in hits] == pytest.approx([f.score for f in expected[:k]])
    assert hits[0]["source"] == "stdlib/csv"
    for h in hits:
        assert h["vector_distance"] is not None or h["text_score"] is not None
        assert h["distance"] == h["vector_distance"]


@on_each_store
async def test_linear_extremes_are_each_side(api: httpx.AsyncClient) -> None:
    query = "deep copy of an object"
    vector = await search(api, query=query, k=20)
    text = await search(api, query=query, k=20, mode="text")
    as_vector = await search(api, query=query, k=5, mode="hybrid", fusion="linear", alpha=1)
    as_text = await search(api, query=query, k=5, mode="hybrid", fusion="linear", alpha=0)
    assert [h["id"] for h in as_vector["hits"]] == [h["id"] for h in vector["hits"][:5]]
    assert [h["id"] for h in as_text["hits"]] == [h["id"] for h in text["hits"][:5]]


def test_search_page_highlights_terms(stores: dict[str, Any], embedder: Any, page: Page) -> None:
    live = serve_in_thread(create_app(ApiSettings(index=INDEX), stores["peer"], embedder))
    try:
        page.goto(f"{live.url}/?q=read+CSV+files&mode=hybrid")
        body = page.locator("body")
        expect(body).to_have_attribute("data-state", "done", timeout=30_000)
        expect(page.locator("#mode")).to_have_value("hybrid")
        hits = page.locator("#results > li.hit")
        expect(hits.first).to_have_attribute("data-source", "stdlib/csv")
        marks = page.locator("#results mark")
        assert marks.count() > 0
        assert {m.lower() for m in marks.all_inner_texts()} <= {"read", "csv", "files"}
        expect(hits.first.locator(".meta")).to_contain_text("BM25")

        page.select_option("#mode", "text")
        page.fill("#q", "tabular csv")
        page.locator("#options summary").click()
        page.fill("#source", "xss")
        page.get_by_role("button", name="Search").click()
        expect(body).to_have_attribute("data-state", "done", timeout=30_000)
        expect(page).to_have_url(re.compile(r"mode=text"))
        text = hits.first.locator(".text")
        expect(text).to_have_text(XSS_TEXT)
        expect(text.locator("mark")).to_have_text(["Tabular", "CSV"])
        assert page.locator("#results img, #results b").count() == 0
        assert body.get_attribute("data-pwned") is None
    finally:
        stop_live(live)


@pytest.mark.parametrize("store", ["memvec", "embedded"])
async def test_text_scores_match_the_peer(
    stores: dict[str, Any],
    embedder: Any,
    make_client: Callable[[Any], httpx.AsyncClient],
    store: str,
) -> None:
    peer = make_client(create_app(ApiSettings(index=INDEX), stores["peer"], embedder))
    ours = make_client(create_app(ApiSettings(index=INDEX), stores[store], embedder))
    for query in ("parse command line options", "colour RGB HSV", "deep copy", "the csv"):
        body = {"query": query, "mode": "text", "k": 20}
        want, got = await search(peer, **body), await search(ours, **body)
        assert got["terms"] == want["terms"]
        assert [(h["id"], round(h["score"], 4)) for h in got["hits"]] == [
            (h["id"], round(h["score"], 4)) for h in want["hits"]
        ], query
