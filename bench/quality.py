"""Retrieval quality end to end: S3 -> ``memvec ingest`` -> ``memvec server`` -> ``memvec api``.

``memvec bench --only quality``. What it does, every step on the real code path:

1. **Evaluation set** (:func:`corpus`): pairs whose relevance follows from the data's own
   structure, no labelling. A *query* is a summary line, its one relevant *document* is
   the text it summarises:

   - Python standard-library docstrings of this interpreter (modules, their submodules,
     public classes, functions and methods, C-implemented ones included): the first
     paragraph is the query, the rest the document. Source: CPython ``Lib/`` and its
     built-in modules; licence: the PSF License Agreement (Python-2.0). ~2,000 pairs.
   - Debian package descriptions from ``/var/lib/dpkg/status`` (present on every Debian
     machine; the installed packages): the synopsis line (``Description:``) is the query,
     the extended description the document. Source: each package's ``debian/control``;
     licence: each package's own (the descriptions are metadata shipped with it, read at
     run time, not redistributed). ~700 pairs here.

   Documents whose body repeats another's are dropped, so every query has exactly one
   relevant document. Nothing is downloaded; nothing from the corpus is committed.
   Sizes: ``toy`` 40 documents / 10 queries, ``quick`` 3,000 / 600 (every pair there is
   when fewer), ``full`` 10,000 / 1,000 (the same: the two corpora hold ~2.7k pairs on a
   stock machine, so ``full`` differs from ``quick`` in queries and repetitions only).
2. The documents go to S3 (a moto server process) as ``docs/<n>.txt``; ``memvec ingest``
   (a child process, ``pipeline.backfill``) chunks and embeds them (all-MiniLM-L6-v2) into
   a ``memvec server`` child process; ``memvec api`` (a child process) serves the queries.
3. **Rows** (k = 10 chunks per query; a document's rank is that of its first chunk):

   - ``exact``: FLAT (exact search) over the same chunk vectors, an index created on the
     same keys after ingest, queried with the same model's query vectors: the ceiling;
   - ``memvec default``: ``POST /v1/search {"query", "k": 10}``, no options;
   - ``memvec ef_runtime=E`` for E in :data:`EFS` (10 is RediSearch's old default);
   - ``recall=R`` for R in :data:`RECALLS`: the API's knob (``pipeline/api/recall.py``);
   - ``text (BM25)``: ``"mode": "text"``, BM25STD scored by the store;
   - ``hybrid rrf`` and ``hybrid linear alpha=A`` for A in :data:`ALPHAS`: the API's
     hybrid mode. The queries are split in two halves at random (seed 2): alpha is chosen
     on one (best recall@10, then MRR) and the chosen blend is reported on the other,
     beside vector-only, BM25-only and rrf on that same half (``hybrid_alpha``);
   - ``int8``: a second ``memvec server`` ingested and queried with ``--embedder onnx``
     (the int8 fast path on both sides), at ``recall: exact`` so only the embedder
     differs from the fp32 ``recall=exact`` row; its recall@10 ratio to fp32's is a
     target (>= 0.99x). Not run with ``--store-url``.

   Each row reports recall@1, recall@10 (the relevant document among the top 1 / 10) and
   MRR@10, and ``neighbour_recall_at_10``: the share of the exact top-10 chunks the row
   returned (what ANN tuning controls; 1.0 for ``exact``).
4. **Cost of the default** at the same index: KNN QPS straight to the server (the query
   vectors precomputed, one client, ``FT.SEARCH`` without and with ``EF_RUNTIME 10``), and
   the API's QPS per row (embedding included).

``--store-url redis://...`` (env ``MEMVEC_QUALITY_STORE``) runs the same path against a
running store instead of a ``memvec server`` child, e.g. redis-stack: until memvec's
store scores text (``WITHSCORES``/``BM25STD``, issue #15) only that run's BM25 and
hybrid rows mean anything.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import http.client
import importlib
import inspect
import json
import os
import pkgutil
import random
import re
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .common import log, target_row

REPO = Path(__file__).resolve().parents[1]
INDEX = "quality"
EXACT_INDEX = "quality_exact"
BUCKET = "quality"
K = 10
EFS = (10, 40, 100, 400)
RECALLS = ("fast", "balanced", "exact")
ALPHAS = (0.2, 0.4, 0.5, 0.6, 0.8)
DOCS = {"toy": 40, "quick": 3000, "full": 10_000}
QUERIES = {"toy": 10, "quick": 600, "full": 1000}
TARGET_RATIO = 0.98
DPKG_STATUS = Path("/var/lib/dpkg/status")
_SKIP_MODULES = {"antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo",
                 "lib2to3", "test", "tests", "ensurepip", "venv", "pydoc_data",
                 "__main__"}  # fmt: skip
_MIN_QUERY_CHARS = 20
_MIN_DOC_CHARS = 80
_READY_TIMEOUT_S = 180.0
_INGEST_TIMEOUT_S = 1800.0


@dataclass(frozen=True)
class Pair:
    """One evaluation pair: ``query`` summarises ``text``; ``origin`` names where from."""

    origin: str
    query: str
    text: str


# -- the evaluation set ---------------------------------------------------------------------
def _split_docstring(doc: str) -> tuple[str, str]:
    head, _, body = inspect.cleandoc(doc).partition("\n\n")
    return " ".join(head.split()), body.strip()


def _stdlib_modules() -> Iterator[Any]:
    tops = sorted(
        m.name
        for m in pkgutil.iter_modules()
        if m.name in sys.stdlib_module_names and m.name not in _SKIP_MODULES
    )
    for top in tops:
        module = _import(top)
        if module is None:
            continue
        yield module
        path = getattr(module, "__path__", [])
        for sub in pkgutil.walk_packages(path, top + ".", lambda _: None):
            if _SKIP_MODULES.isdisjoint(sub.name.split(".")):
                submodule = _import(sub.name)
                if submodule is not None:
                    yield submodule


def _import(name: str) -> Any:
    """The module, or None; a few stdlib modules parse ``sys.argv`` or print on import."""
    argv = sys.argv
    try:
        sys.argv = argv[:1]
        with (
            warnings.catch_warnings(),
            open(os.devnull, "w") as quiet,
            contextlib.redirect_stdout(quiet),
            contextlib.redirect_stderr(quiet),
        ):
            warnings.simplefilter("ignore")
            return importlib.import_module(name)
    except BaseException:  # SystemExit, a missing display or library: skip the module
        return None
    finally:
        sys.argv = argv


def stdlib_pairs() -> list[Pair]:
    """Docstring pairs of the standard library (module docstring, point 1), in name order."""
    found: list[Pair] = []
    for module in _stdlib_modules():
        objects: list[tuple[str, Any]] = [(module.__name__, module)]
        for name, obj in sorted(vars(module).items()):
            owner = getattr(obj, "__module__", None) or ""
            if name.startswith("_") or not (inspect.isclass(obj) or inspect.isroutine(obj)):
                continue
            if owner != module.__name__ and not owner.startswith("_"):
                continue  # imported from elsewhere: counted where it is defined
            objects.append((f"{module.__name__}.{name}", obj))
            if inspect.isclass(obj):
                for attr, member in sorted(vars(obj).items()):
                    if not attr.startswith("_") and inspect.isroutine(member):
                        objects.append((f"{module.__name__}.{name}.{attr}", member))
        for origin, obj in objects:
            doc = getattr(obj, "__doc__", None)
            if isinstance(doc, str) and doc.strip():
                query, text = _split_docstring(doc)
                found.append(Pair(f"python:{origin}", query, text))
    return found


def dpkg_pairs(path: Path = DPKG_STATUS) -> list[Pair]:
    """Synopsis / extended description of each installed Debian package (point 1)."""
    try:
        raw = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    found: list[Pair] = []
    for stanza in raw.split("\n\n"):
        package = re.search(r"^Package: (.+)$", stanza, re.M)
        desc = re.search(r"^Description: (.*)\n((?: .*\n?)*)", stanza, re.M)
        if package is None or desc is None:
            continue
        lines = [line[1:] for line in desc.group(2).splitlines()]
        body = "\n".join("" if line.strip() == "." else line for line in lines).strip()
        found.append(Pair(f"debian:{package.group(1)}", desc.group(1).strip(), body))
    return found


def corpus(limit: int, seed: int = 15) -> list[Pair]:
    """Up to ``limit`` pairs, usable ones only (long enough, one per distinct text and
    query), shuffled with ``seed`` so a smaller size is a sample of both sources."""
    seen_text: set[str] = set()
    seen_query: set[str] = set()
    usable = []
    for pair in [*stdlib_pairs(), *dpkg_pairs()]:
        if len(pair.query) < _MIN_QUERY_CHARS or len(pair.text) < _MIN_DOC_CHARS:
            continue
        if pair.text in seen_text or pair.query in seen_query:
            continue
        seen_text.add(pair.text)
        seen_query.add(pair.query)
        usable.append(pair)
    random.Random(seed).shuffle(usable)
    return usable[:limit]


# -- scoring ----------------------------------------------------------------------------------
def doc_ranking(sources: Sequence[str]) -> list[str]:
    """Documents in the order of their first chunk among the hits."""
    return list(dict.fromkeys(sources))


def score(rankings: Sequence[Sequence[str]], relevant: Sequence[str]) -> dict[str, float]:
    """recall@1, recall@10 and MRR@10 of document rankings, one relevant document each."""
    r1 = r10 = mrr = 0.0
    for ranking, want in zip(rankings, relevant, strict=True):
        top = list(ranking)[:K]
        if top[:1] == [want]:
            r1 += 1
        if want in top:
            r10 += 1
            mrr += 1 / (top.index(want) + 1)
    n = max(1, len(relevant))
    return {"recall_at_1": r1 / n, "recall_at_10": r10 / n, "mrr_at_10": mrr / n}


# -- the stack --------------------------------------------------------------------------------
def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_DEFAULT_REGION="us-east-1", PYTHONUNBUFFERED="1")  # fmt: skip
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    return env


class Child:
    """A ``python -m pipeline.cli ...`` child in its own process group, logged to a file."""

    def __init__(self, name: str, args: Sequence[str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli", *args], cwd=REPO, env=_env(),
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{self.name} exited ({self.proc.returncode}): {tail}")

    def stop(self) -> None:
        """SIGTERM to the group, SIGKILL after 20 s; idempotent."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
            except ProcessLookupError:
                pass
        self._log.close()


def wait_ready(cond: Any, timeout_s: float, what: str, child: Child | None = None) -> None:
    """Poll ``cond`` until true; raises if ``child`` exits or after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if child is not None:
            child.check_alive()
        try:
            if cond():
                return
        except Exception:  # not up yet
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{what} not ready after {timeout_s:.0f} s")


class Stack:
    """moto, ``memvec server`` and (after ingest) ``memvec api``, all on loopback."""

    def __init__(
        self,
        work: Path,
        moto: Any = None,
        *,
        store_url: str | None = None,
        embedder: str = "local",
    ) -> None:
        """``moto``: a running :class:`~tests.harness.components.MotoServer` to use (not
        stopped by :meth:`stop`); by default the stack starts its own. ``store_url``: a
        running store to use instead of a ``memvec server`` child. ``embedder``: the
        ``--embedder`` of ingest and api."""  # fmt: skip
        from tests.harness.components import MotoServer
        from tests.harness.ports import free_port

        work.mkdir(parents=True, exist_ok=True)
        self.work = work
        self._own_moto = moto is None
        self.moto = MotoServer(log_dir=work).start() if moto is None else moto
        self.children: list[Child] = []
        self.embedder = embedder
        self.external_store = store_url is not None
        self.store_port = free_port()
        self.api_port = free_port()
        self.store_url = store_url or f"redis://127.0.0.1:{self.store_port}"
        self.api_url = f"http://127.0.0.1:{self.api_port}"

    def start_server(self) -> None:
        import redis

        if self.external_store:
            return

        server = self._child("server", ["server", "--port", str(self.store_port),
                                         "--dir", str(self.work / "store")])  # fmt: skip
        wait_ready(lambda: redis.Redis(port=self.store_port).ping(), 60, "memvec server", server)

    def ingest(self, prefix: str = "docs/") -> None:
        child = self._child("ingest", [
            "ingest", f"s3://{BUCKET}/{prefix}", "--store", self.store_url,
            "--aws-endpoint-url", self.moto.endpoint_url, "--index", INDEX, "--no-progress",
            "--embedder", self.embedder,
        ])  # fmt: skip
        code = child.proc.wait(_INGEST_TIMEOUT_S)
        if code != 0:
            tail = child.log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"memvec ingest exited {code}: {tail}")

    def start_api(self) -> None:
        api = self._child("api", ["api", "--store", self.store_url, "--port", str(self.api_port),
                                  "--index", INDEX, "--embedder", self.embedder])  # fmt: skip

        def ready() -> bool:
            conn = http.client.HTTPConnection("127.0.0.1", self.api_port, timeout=5)
            try:
                conn.request("GET", "/readyz")
                return conn.getresponse().status == 200
            finally:
                conn.close()

        wait_ready(ready, _READY_TIMEOUT_S, "memvec api", api)

    def _child(self, name: str, args: list[str]) -> Child:
        child = Child(name, args, self.work)
        self.children.append(child)
        return child

    def stop(self) -> None:
        for child in reversed(self.children):
            child.stop()
        if self._own_moto:
            self.moto.stop()


def upload(s3: Any, pairs: Sequence[Pair], bucket: str = BUCKET) -> list[str]:
    """Create ``bucket`` and PUT every document as ``docs/<n>.txt``; returns each pair's
    ``source`` as the pipeline records it (``bucket/key``), the relevance id."""
    s3.create_bucket(Bucket=bucket)
    keys = [f"docs/{i:05d}.txt" for i in range(len(pairs))]

    def put(i: int) -> None:
        s3.put_object(Bucket=bucket, Key=keys[i], Body=pairs[i].text.encode())

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(put, range(len(pairs))))
    return [f"{bucket}/{key}" for key in keys]


# -- measuring --------------------------------------------------------------------------------
def request_settings() -> dict[str, dict[str, Any]]:
    """Row name -> the options sent with ``{"query", "k"}`` (module docstring, point 3)."""
    rows: dict[str, dict[str, Any]] = {"default": {}}
    rows.update({f"recall={r}": {"recall": r} for r in RECALLS})
    rows.update({f"ef_runtime={ef}": {"ef_runtime": ef} for ef in EFS})
    rows["text (BM25)"] = {"mode": "text"}
    rows["hybrid rrf"] = {"mode": "hybrid", "fusion": "rrf"}
    for alpha in ALPHAS:
        rows[f"hybrid linear alpha={alpha}"] = {"mode": "hybrid", "fusion": "linear",
                                                "alpha": alpha}  # fmt: skip
    return rows


def api_rows(
    api_url: str, queries: Sequence[str], settings: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """For each named option set: per-query hit ids and sources, and the API's QPS."""
    from .freshness import Api

    api = Api(api_url)
    out: dict[str, Any] = {}
    try:
        for name, options in settings.items():
            ids: list[list[str]] = []
            sources: list[list[str]] = []
            began = time.perf_counter()
            for q in queries:
                status, reply = api.search({"query": q, "k": K, **options})
                if status != 200:
                    raise RuntimeError(f"POST /v1/search {options} answered {status}: {reply}")
                ids.append([h["id"] for h in reply["hits"]])
                sources.append([h.get("source") or "" for h in reply["hits"]])
            elapsed = time.perf_counter() - began
            out[name] = {
                "options": options, "ids": ids, "sources": sources,
                "api_qps": round(len(queries) / elapsed, 1),
            }  # fmt: skip
    finally:
        api.close()
    return out


def _knn(client: Any, index: str, vector: np.ndarray, ef: int | None) -> list[Any]:
    # SORTBY: RediSearch returns KNN results in no defined order without it
    clause = f"*=>[KNN {K} @vec $B" + ("" if ef is None else f" EF_RUNTIME {ef}") + " AS __d]"
    reply = client.execute_command(
        "FT.SEARCH", index, clause, "RETURN", "1", "source", "SORTBY", "__d", "ASC",
        "LIMIT", "0", str(K), "PARAMS", "2", "B", vector.astype(np.float32).tobytes(),
        "DIALECT", "2",
    )  # fmt: skip
    return list(reply)


def _fully_indexed(client: Any, index: str) -> bool:
    info = client.execute_command("FT.INFO", index)
    fields = dict(zip(info[::2], info[1::2], strict=True))
    return int(fields.get(b"indexing", 0)) == 0 and float(fields.get(b"percent_indexed", 1)) >= 1


def exact_row(store_url: str, vectors: np.ndarray) -> dict[str, Any]:
    """The ceiling: a FLAT index over the same chunk keys, queried with ``vectors``."""
    import redis

    client = redis.Redis.from_url(store_url, protocol=2)
    try:
        client.execute_command(
            "FT.CREATE", EXACT_INDEX, "ON", "HASH", "PREFIX", "1", "chunk:", "SCHEMA",
            "source", "TAG", "SEPARATOR", "\x1f",
            "vec", "VECTOR", "FLAT", "6", "TYPE", "FLOAT32", "DIM", str(vectors.shape[1]),
            "DISTANCE_METRIC", "COSINE",
        )  # fmt: skip
        # RediSearch indexes the existing keys in the background: query a complete index
        wait_ready(lambda: _fully_indexed(client, EXACT_INDEX), 600, "the exact index")
        ids: list[list[str]] = []
        sources: list[list[str]] = []
        for v in vectors:
            reply = _knn(client, EXACT_INDEX, v, None)
            keys = [k.decode() for k in reply[1::2]]
            fields = [dict(zip(f[::2], f[1::2], strict=True)) for f in reply[2::2]]
            ids.append(keys)
            sources.append([f.get(b"source", b"").decode() for f in fields])
    finally:
        client.close()
    return {"ids": ids, "sources": sources}


def store_qps(store_url: str, vectors: np.ndarray, rounds: int) -> dict[str, float]:
    """KNN QPS straight to the server at the default and at EF_RUNTIME 10, interleaved."""
    import redis

    client = redis.Redis.from_url(store_url, protocol=2)
    spent = {"default": 0.0, "ef_runtime=10": 0.0}
    try:
        for _ in range(rounds):
            for name, ef in (("default", None), ("ef_runtime=10", 10)):
                began = time.perf_counter()
                for v in vectors:
                    _knn(client, INDEX, v, ef)
                spent[name] += time.perf_counter() - began
    finally:
        client.close()
    return {name: round(rounds * len(vectors) / s, 1) for name, s in spent.items()}


def indexed_chunks(store_url: str) -> int:
    """``num_docs`` of the ingest's index (FT.INFO)."""
    import redis

    client = redis.Redis.from_url(store_url, protocol=2)
    try:
        info = client.execute_command("FT.INFO", INDEX)
    finally:
        client.close()
    return int(dict(zip(info[::2], info[1::2], strict=True))[b"num_docs"])


def overlap(found: Sequence[Sequence[str]], exact: Sequence[Sequence[str]]) -> float:
    """Share of the exact top-K chunk ids that ``found`` returned, over all queries."""
    hits = sum(len(set(f) & set(e)) for f, e in zip(found, exact, strict=True))
    return hits / max(1, sum(len(e) for e in exact))


def _subset(row: dict[str, Any], keep: Sequence[int]) -> list[list[str]]:
    return [row["sources"][i] for i in keep]


def choose_alpha(
    rows: dict[str, Any], relevant: Sequence[str], tune: Sequence[int], held: Sequence[int]
) -> dict[str, Any]:
    """The linear blend's alpha with the best recall@10 (then MRR) on the ``tune`` half of
    the queries, scored on the ``held`` half, beside the other rows on that same half."""

    def on(name: str, half: Sequence[int]) -> dict[str, float]:
        rankings = [doc_ranking(s) for s in _subset(rows[name], half)]
        return score(rankings, [relevant[i] for i in half])

    tuned = {a: on(f"hybrid linear alpha={a}", tune) for a in ALPHAS}
    best = max(ALPHAS, key=lambda a: (tuned[a]["recall_at_10"], tuned[a]["mrr_at_10"], -a))
    compared = ("default", "text (BM25)", "hybrid rrf", f"hybrid linear alpha={best}")
    return {
        "alpha": best, "tune_queries": len(tune), "held_out_queries": len(held),
        "tune_recall_at_10": {str(a): round(t["recall_at_10"], 4) for a, t in tuned.items()},
        "held_out": {name: on(name, held) for name in compared},
    }  # fmt: skip


def int8_rows(
    moto: Any, work: Path, queries: Sequence[str], relevant: Sequence[str]
) -> dict[str, Any]:
    """Ingest and query both with the int8 ONNX embedder (``--embedder onnx``) on a second
    server; recall@10 at ``recall: exact`` (so only the embedder differs from the fp32 row)."""
    stack = Stack(work, moto=moto, embedder="onnx")
    try:
        stack.start_server()
        t = time.monotonic()
        stack.ingest()
        ingest_s = time.monotonic() - t
        stack.start_api()
        rows = api_rows(stack.api_url, queries, {"int8 recall=exact": {"recall": "exact"}})
    finally:
        stack.stop()
    row = rows["int8 recall=exact"]
    return {
        **score([doc_ranking(s) for s in row["sources"]], relevant),
        "api_qps": row["api_qps"], "ingest_s": round(ingest_s, 1), "embedder": "onnx (int8)",
    }  # fmt: skip


def measure(mode: str, work: Path, store_url: str | None = None) -> dict[str, Any]:
    """The whole run (module docstring); the result without the common envelope.
    ``store_url``: an already running store (e.g. redis-stack) instead of a ``memvec
    server`` child; it must be empty of the benchmark's keys."""
    from pipeline.embedding import LocalEmbedder

    began = time.monotonic()
    pairs = corpus(DOCS[mode])
    rng = random.Random(1)
    asked = sorted(rng.sample(range(len(pairs)), min(QUERIES[mode], len(pairs))))
    queries = [pairs[i].query for i in asked]
    halves = list(range(len(asked)))
    random.Random(2).shuffle(halves)
    tune, held = sorted(halves[: len(halves) // 2]), sorted(halves[len(halves) // 2 :])
    stack = Stack(work, store_url=store_url)
    int8: dict[str, Any] | None = None
    try:
        sources = upload(stack.moto.client("s3"), pairs)
        relevant = [sources[i] for i in asked]
        log(f"quality: {len(pairs)} documents in s3://{BUCKET}/docs/, {len(queries)} queries")
        stack.start_server()
        t = time.monotonic()
        stack.ingest()
        ingest_s = time.monotonic() - t
        stack.start_api()
        log(f"quality: ingested in {ingest_s:.0f} s; querying through {stack.api_url}")
        rows = api_rows(stack.api_url, queries, request_settings())
        vectors = LocalEmbedder().embed(queries)
        exact = exact_row(stack.store_url, vectors)
        qps = store_qps(stack.store_url, vectors, rounds=1 if mode == "toy" else 3)
        chunks = indexed_chunks(stack.store_url)
        if store_url is None:
            log("quality: int8 (onnx) embedder: second ingest and api")
            int8 = int8_rows(stack.moto, work / "int8", queries, relevant)
    finally:
        stack.stop()
    exact_scores = score([doc_ranking(s) for s in exact["sources"]], relevant)
    table: dict[str, Any] = {"exact": {**exact_scores, "neighbour_recall_at_10": 1.0}}
    for name, row in rows.items():
        table[name] = {
            **score([doc_ranking(s) for s in row["sources"]], relevant),
            "neighbour_recall_at_10": round(overlap(row["ids"], exact["ids"]), 4),
            "api_qps": row["api_qps"],
            "options": row["options"],
        }
    fp32 = table["recall=exact"]["recall_at_10"]
    if int8 is not None:
        int8["ratio_vs_fp32_recall_at_10"] = round(int8["recall_at_10"] / fp32, 4) if fp32 else None
    return {
        "documents": len(pairs), "queries": len(queries), "chunks": chunks,
        "origins": {o: sum(p.origin.startswith(o) for p in pairs) for o in ("python", "debian")},
        "ingest_s": round(ingest_s, 1), "elapsed_s": round(time.monotonic() - began, 1),
        "rows": table, "store_knn_qps": qps, "int8": int8,
        "hybrid_alpha": choose_alpha(rows, relevant, tune, held),
        "store": store_url or "memvec server",
        "per_query": {"relevant": relevant, "origins": [pairs[i].origin for i in asked],
                      "default_sources": rows["default"]["sources"]},
    }  # fmt: skip


HYBRID_TARGET = 1.05
INT8_TARGET = 0.99


def _extra_targets(r: dict[str, Any]) -> list[dict[str, Any]]:
    """Hybrid vs the better single ranking (held-out half) and int8 vs fp32."""
    held = r["hybrid_alpha"]["held_out"]
    alpha = r["hybrid_alpha"]["alpha"]
    single = max(held["default"]["recall_at_10"], held["text (BM25)"]["recall_at_10"])
    hybrid = max(held["hybrid rrf"]["recall_at_10"],
                 held[f"hybrid linear alpha={alpha}"]["recall_at_10"])  # fmt: skip
    h_ratio = round(hybrid / single, 4) if single else None
    out = [
        target_row(
            f"hybrid recall@10 vs the better of vector-only and BM25-only (held-out half, "
            f"linear alpha {alpha} chosen on the other half)",
            hybrid, single, "max(vector default, BM25)", f">= {HYBRID_TARGET}x",
            h_ratio is not None and h_ratio >= HYBRID_TARGET, value_ratio=h_ratio,
        ),
    ]  # fmt: skip
    int8 = r.get("int8")
    if int8 is not None:
        i_ratio = int8["ratio_vs_fp32_recall_at_10"]
        out.append(target_row(
            "int8 (onnx) embedder recall@10 vs fp32, ingest and query, recall=exact",
            int8["recall_at_10"], r["rows"]["recall=exact"]["recall_at_10"], "fp32 (torch)",
            f">= {INT8_TARGET}x", i_ratio is not None and i_ratio >= INT8_TARGET,
            value_ratio=i_ratio,
        ))  # fmt: skip
    return out


def run(size: Any, tmp: Path, store_url: str | None = None) -> dict[str, Any]:
    """The ``quality`` section of ``memvec bench`` in the common envelope (bench.common).
    ``store_url`` (or env ``MEMVEC_QUALITY_STORE``): a running store instead of a
    ``memvec server`` child, e.g. redis-stack to compare (no int8 row then)."""
    mode = size.mode
    store_url = store_url or os.environ.get("MEMVEC_QUALITY_STORE") or None
    r = measure(mode, tmp / "quality", store_url)
    rows = r["rows"]
    exact10, default10 = rows["exact"]["recall_at_10"], rows["default"]["recall_at_10"]
    ratio = round(default10 / exact10, 4) if exact10 else None
    qps = r["store_knn_qps"]
    cost = round(qps["default"] / qps["ef_runtime=10"], 3) if qps["ef_runtime=10"] else None
    return {
        "params": {
            "documents": r["documents"], "queries": r["queries"], "chunks": r["chunks"],
            "k": K, "efs": list(EFS), "embedder": "all-MiniLM-L6-v2",
            "corpus": "Python stdlib docstrings (summary -> body) + Debian package "
                      "descriptions in /var/lib/dpkg/status (synopsis -> extended)",
            "origins": r["origins"], "path": f"S3 (moto) -> memvec ingest -> {r['store']} "
                                             "-> memvec api",
            "recalls": list(RECALLS), "alphas": list(ALPHAS), "store": r["store"],
        },
        "samples": {"per_query": r["per_query"]},
        "summary": {"rows": rows, "store_knn_qps": qps, "default_qps_vs_ef10": cost,
                    "ingest_s": r["ingest_s"], "elapsed_s": r["elapsed_s"],
                    "hybrid_alpha": r["hybrid_alpha"], "int8": r["int8"]},
        "baseline": "exact search (FLAT) over the same chunk vectors with the same model",
        "targets": [
            target_row(
                f"recall@10 at defaults via memvec api vs exact (ef 10: "
                f"{rows['ef_runtime=10']['recall_at_10']:.3f}, exact {exact10:.3f})",
                default10, exact10, "exact search, same model", f">= {TARGET_RATIO}x",
                ratio is not None and ratio >= TARGET_RATIO, value_ratio=ratio,
            ),
            target_row(
                "KNN QPS at the new default vs EF_RUNTIME 10, same index (the default's cost)",
                qps["default"], qps["ef_runtime=10"], "EF_RUNTIME 10 (old default)",
                "reported", None, value_ratio=cost, unit="QPS",
            ),
            *_extra_targets(r),
        ],
    }  # fmt: skip


def plot(res: dict[str, Any], out_dir: Path) -> list[str]:
    """``quality_recall.png``: recall@1, recall@10 and MRR per row; knn QPS beside it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = dict(res["summary"]["rows"])
    int8 = res["summary"].get("int8")
    if int8:
        rows["int8 recall=exact"] = int8
    alpha = res["summary"].get("hybrid_alpha", {}).get("alpha")
    # the linear blend at the chosen alpha only; the others are in the JSON
    names = [n for n in rows if not n.startswith("hybrid linear") or n.endswith(f"={alpha}")]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(15, 5), width_ratios=(4, 1))
    width = 0.27
    for i, metric in enumerate(("recall_at_1", "recall_at_10", "mrr_at_10")):
        xs = [j + (i - 1) * width for j in range(len(names))]
        ax.bar(xs, [rows[n][metric] for n in names], width, label=metric)
    ax.set_xticks(range(len(names)), names, rotation=35, ha="right", fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("fraction of queries (MRR: mean reciprocal rank)")
    ax.set_xlabel("search")
    store = res["params"].get("store", "memvec server")
    ax.set_title(f"retrieval quality, {res['params']['documents']} documents, k={K}, {store}")
    ax.legend(fontsize=8)
    qps = res["summary"]["store_knn_qps"]
    ax2.bar(list(qps), list(qps.values()), color=["tab:blue", "tab:gray"])
    ax2.set_ylabel("KNN queries per second (one client)")
    ax2.set_xlabel("breadth")
    ax2.set_title("cost of the default")
    ax2.tick_params(axis="x", labelsize=8)
    fig.tight_layout()
    fig.savefig(out_dir / "quality_recall.png", dpi=110)
    plt.close(fig)
    return ["quality_recall.png"]


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    from .sizes import SIZES

    ap = argparse.ArgumentParser(prog="python -m bench.quality", description=__doc__)
    ap.add_argument("--size", choices=sorted(SIZES), default="quick")
    ap.add_argument("--out", type=Path, default=Path("bench/results"))
    ap.add_argument("--store-url", default=None,
                    help="a running store (e.g. redis-stack) instead of memvec server")  # fmt: skip
    args = ap.parse_args(argv)
    if args.store_url:
        os.environ["MEMVEC_QUALITY_STORE"] = args.store_url
    from .suite import run_suite

    written = run_suite(["quality"], SIZES[args.size], args.out)
    path = written["quality"]
    print(json.dumps(json.loads(path.read_text())["summary"]["rows"], indent=1) if path else "")
    return 0


if __name__ == "__main__":
    sys.exit(main())
