"""Model-based test: random writes, deletes, index creations, snapshots and restarts.

After every restart the engine's state must equal a plain-dict model of the acknowledged
writes, and KNN answers must equal an exact numpy computation over the model.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from store import Engine, EngineConfig, FsyncPolicy

DIM = 4
KEYS = [f"doc:{i}".encode() for i in range(12)] + [b"other:1", b"other:2"]
TAGS = ["red", "green", "blue"]

vectors = st.lists(
    st.floats(-4, 4, allow_nan=False, width=32).filter(lambda x: abs(x) > 1e-3),
    min_size=DIM,
    max_size=DIM,
).map(lambda xs: np.array(xs, dtype=np.float32).tobytes())


def create_args(name: str, algo: str, metric: str, prefix: str, strict: bool = False) -> list[str]:
    params = ["TYPE", "FLOAT32", "DIM", str(DIM), "DISTANCE_METRIC", metric]
    if algo == "HNSW":
        params += ["EF_RUNTIME", "400"]
    return [
        "FT.CREATE", name, "ON", "HASH", "PREFIX", "1", prefix, *(["STRICT"] if strict else []),
        "SCHEMA",
        "tag", "TAG", "n", "NUMERIC",
        "vec", "VECTOR", algo, str(len(params)), *params,
    ]  # fmt: skip


def exact_knn(
    model: dict[bytes, dict[bytes, bytes]],
    prefix: bytes,
    metric: str,
    query: np.ndarray,
    k: int,
    tag: str | None,
) -> tuple[list[bytes], list[float]]:
    scored = []
    for key, h in model.items():
        if not key.startswith(prefix) or len(h.get(b"vec", b"")) != DIM * 4:
            continue
        if tag is not None and h.get(b"tag") != tag.encode():
            continue
        v = np.frombuffer(h[b"vec"], dtype=np.float32)
        if metric == "L2":
            d = float(np.sum((v - query) ** 2))
        elif metric == "IP":
            d = 1 - float(np.dot(v, query))
        else:
            d = 1 - float(np.dot(v, query) / (np.linalg.norm(v) * np.linalg.norm(query)))
        scored.append((d, key))
    scored.sort()
    return [key for _, key in scored[:k]], [d for d, _ in scored[:k]]


class EngineMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="memvec-prop-"))
        self.engine = self._open()
        self.model: dict[bytes, dict[bytes, bytes]] = {}
        self.indexes: dict[str, tuple[str, str, bytes, bool]] = {}

    def _open(self) -> Engine:
        return Engine(
            EngineConfig(data_dir=self.dir, appendfsync=FsyncPolicy.EVERYSEC, snapshot_keep=2)
        ).start()

    def teardown(self) -> None:
        self.engine.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    @rule(key=st.sampled_from(KEYS), vec=vectors, tag=st.sampled_from(TAGS), n=st.integers(-5, 5))
    def hset(self, key: bytes, vec: bytes, tag: str, n: int) -> None:
        self.engine.execute("HSET", key, "vec", vec, "tag", tag, "n", n)
        self.model.setdefault(key, {}).update(
            {b"vec": vec, b"tag": tag.encode(), b"n": str(n).encode()}
        )

    @rule(key=st.sampled_from(KEYS), field=st.sampled_from([b"vec", b"tag", b"n"]))
    def hdel(self, key: bytes, field: bytes) -> None:
        removed = self.engine.execute("HDEL", key, field)
        h = self.model.get(key, {})
        assert removed == int(field in h)
        h.pop(field, None)
        if key in self.model and not h:
            del self.model[key]

    @rule(key=st.sampled_from(KEYS))
    def delete(self, key: bytes) -> None:
        assert self.engine.execute("DEL", key) == int(key in self.model)
        self.model.pop(key, None)

    @rule(key=st.sampled_from(KEYS), bad=st.binary(max_size=DIM * 4 - 1))
    def bad_blob_is_stored_unless_a_strict_index_covers_it(self, key: bytes, bad: bytes) -> None:
        """A wrong-size vector is stored (and left out of the indexes) unless a STRICT
        index covers the key: then the write is refused and changes nothing."""
        strict = any(key.startswith(p) and st for _, _, p, st in self.indexes.values())
        try:
            self.engine.execute("HSET", key, "vec", bad, "tag", "red")
        except Exception:
            assert strict
            return
        assert not strict
        self.model.setdefault(key, {}).update({b"vec": bad, b"tag": b"red"})

    @precondition(lambda self: len(self.indexes) < 3)
    @rule(algo=st.sampled_from(["FLAT", "HNSW"]), metric=st.sampled_from(["L2", "COSINE", "IP"]),
          prefix=st.sampled_from(["doc:", "doc:1", "other:"]), strict=st.booleans())  # fmt: skip
    def create_index(self, algo: str, metric: str, prefix: str, strict: bool) -> None:
        name = f"idx{len(self.indexes)}"
        self.engine.execute(*create_args(name, algo, metric, prefix, strict))
        self.indexes[name] = (algo, metric, prefix.encode(), strict)

    @rule()
    def snapshot(self) -> None:
        self.engine.execute("SAVE")

    @rule()
    def restart(self) -> None:
        self.engine.stop()
        self.engine = self._open()
        self.check_state()

    @invariant()
    def check_state(self) -> None:
        keys = sorted(self.engine.execute("KEYS", "*"))
        assert keys == sorted(self.model)
        for key, h in self.model.items():
            assert self.engine.execute("HGETALL", key) == h

    @invariant()
    def check_knn(self) -> None:
        query = np.array([1.0, -0.5, 0.25, 2.0], dtype=np.float32)
        for name, (_algo, metric, prefix, _strict) in self.indexes.items():
            for tag in (None, "red"):
                filt = "*" if tag is None else f"(@tag:{{{tag}}})"
                reply = self.engine.execute(
                    "FT.SEARCH",
                    name,
                    f"{filt}=>[KNN 5 @vec $B AS d]",
                    "PARAMS",
                    "2",
                    "B",
                    query.tobytes(),
                    "RETURN",
                    "1",
                    "d",
                    "DIALECT",
                    "2",
                )
                got = reply[1::2]
                got_d = [float(f[1]) for f in reply[2::2]]
                want, want_d = exact_knn(self.model, prefix, metric, query, 5, tag)
                assert len(got) == len(want), (name, got, want)
                # same distances in the same order; ids equal up to ties in distance
                assert np.allclose(got_d, want_d, rtol=1e-4, atol=1e-4), (name, got, want)
                for key, d in zip(got, got_d, strict=True):
                    assert key in want or any(abs(d - w) < 1e-4 for w in want_d)


EngineMachine.TestCase.settings = settings(
    max_examples=25,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestEngineModel = EngineMachine.TestCase
