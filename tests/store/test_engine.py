"""Engine behaviour through its front door: commands, expiry, indexes, durability."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from store import (
    ArityError,
    Engine,
    EngineConfig,
    FsyncPolicy,
    IndexError_,
    RecoveryOutcome,
    UnknownCommandError,
    WrongTypeError,
)
from store.commands.context import ExecContext
from store.commands.table import resolve
from store.replies import SimpleString
from tests.harness.wait import wait_for

DIM = 8


def vec(*xs: float) -> bytes:
    v = np.zeros(DIM, dtype=np.float32)
    v[: len(xs)] = xs
    return v.tobytes()


def create_index(
    engine: Engine,
    algo: str = "HNSW",
    metric: str = "L2",
    prefix: str = "doc:",
    options: tuple[str, ...] = (),
) -> None:
    engine.execute(
        "FT.CREATE", "idx", "ON", "HASH", "PREFIX", "1", prefix, *options, "SCHEMA",
        "tag", "TAG", "n", "NUMERIC",
        "vec", "VECTOR", algo, "6", "TYPE", "FLOAT32", "DIM", str(DIM), "DISTANCE_METRIC", metric,
    )  # fmt: skip


@pytest.fixture
def engine(tmp_path: Path):
    with Engine(EngineConfig(data_dir=tmp_path / "data")) as e:
        yield e


def test_strings_and_hashes(engine: Engine) -> None:
    assert engine.execute("SET", "a", "1") == SimpleString("OK")
    assert engine.execute("GET", "a") == b"1"
    assert engine.execute("INCR", "a") == 2
    assert engine.execute("HSET", "h", "f", "v", "g", "w") == 2
    assert engine.execute("HGETALL", "h") == {b"f": b"v", b"g": b"w"}
    assert engine.execute("TYPE", "h") == "hash"
    with pytest.raises(WrongTypeError):
        engine.execute("GET", "h")
    assert engine.execute("HDEL", "h", "f", "g") == 2
    assert engine.execute("EXISTS", "h") == 0
    assert engine.execute("DEL", "a", "missing") == 1


def test_unknown_command_and_arity_errors_match_redis(engine: Engine) -> None:
    with pytest.raises(UnknownCommandError) as exc:
        engine.execute("NOPE", "x")
    assert exc.value.resp_line() == "ERR unknown command 'NOPE', with args beginning with: 'x' "
    with pytest.raises(ArityError) as exc2:
        engine.execute("GET")
    assert exc2.value.resp_line() == "ERR wrong number of arguments for 'get' command"


def test_submit_takes_the_spec_resolved_once(engine: Engine) -> None:
    args = [b"HSET", b"h", b"f", b"v"]
    spec = resolve(args)
    done = engine.submit(spec, args)
    assert (done.reply, done.error) == (1, None)
    assert done.seq is not None
    engine.wait_durable(done.seq)
    replies, seq = engine.submit_transaction([(spec, [b"HSET", b"h", b"g", b"w"])])
    assert replies == [1] and seq is not None and seq > done.seq
    assert engine.execute("HLEN", "h") == 2


def test_snapshot_commands_reach_persistence_through_the_context(engine: Engine) -> None:
    assert engine.execute("LASTSAVE") == 0
    engine.execute("SET", "a", "1")
    assert engine.execute("SAVE") == SimpleString("OK")
    assert engine.execute("LASTSAVE") == engine.persistence.last_save_ms // 1000 > 0
    assert not hasattr(ExecContext, "engine")  # handlers see state and services, not the engine


def test_expired_keys_leave_every_index(engine: Engine) -> None:
    create_index(engine)
    engine.execute("HSET", "doc:1", "vec", vec(1), "tag", "a")
    engine.execute("HSET", "doc:2", "vec", vec(2), "tag", "a")
    engine.execute("PEXPIRE", "doc:1", 50)
    assert engine.execute("PTTL", "doc:1") > 0

    def gone() -> bool:
        info = engine.execute("FT.INFO", "idx")
        return info[info.index("num_docs") + 1] == 1

    wait_for(gone, 5, message="expired doc:1 still indexed")
    assert engine.execute("EXISTS", "doc:1") == 0
    reply = engine.execute("FT.SEARCH", "idx", "@tag:{a}", "NOCONTENT", "DIALECT", "2")
    assert reply == [1, b"doc:2"]


def test_expiry_survives_restart_exactly(tmp_path: Path) -> None:
    cfg = EngineConfig(data_dir=tmp_path)
    with Engine(cfg) as e:
        e.execute("SET", "k", "v")
        e.execute("EXPIRE", "k", 1000)
        deadline = e.keyspace.expires[b"k"]
    with Engine(cfg) as e:
        assert e.keyspace.expires[b"k"] == deadline


def test_index_read_your_writes_overwrite_and_delete(engine: Engine) -> None:
    create_index(engine, algo="FLAT")
    engine.execute("HSET", "doc:1", "vec", vec(1, 0), "tag", "a", "n", 1)
    q = vec(1, 0)
    knn = [
        "FT.SEARCH",
        "idx",
        "*=>[KNN 2 @vec $B]",
        "PARAMS",
        "2",
        "B",
        q,
        "NOCONTENT",
        "DIALECT",
        "2",
    ]
    assert engine.execute(*knn) == [1, b"doc:1"]
    engine.execute("HSET", "doc:2", "vec", vec(0.9, 0), "tag", "b", "n", 2)
    assert engine.execute(*knn) == [2, b"doc:1", b"doc:2"]
    engine.execute("HSET", "doc:1", "vec", vec(50, 50))  # overwrite moves it away
    assert engine.execute(*knn) == [2, b"doc:2", b"doc:1"]
    engine.execute("DEL", "doc:2")
    assert engine.execute(*knn) == [1, b"doc:1"]


def test_strict_index_rejects_wrong_blob_length_and_changes_nothing(engine: Engine) -> None:
    create_index(engine, options=("STRICT",))
    engine.execute("HSET", "doc:1", "vec", vec(1), "tag", "a")
    with pytest.raises(IndexError_) as exc:
        engine.execute("HSET", "doc:1", "vec", b"\x00" * 7, "tag", "changed")
    assert "blob size 7" in str(exc.value) and f"DIM={DIM}" in str(exc.value)
    assert engine.execute("HGETALL", "doc:1") == {b"vec": vec(1), b"tag": b"a"}


def test_wrong_blob_length_is_stored_and_counted(engine: Engine) -> None:
    create_index(engine)
    engine.execute("HSET", "doc:1", "vec", vec(1), "tag", "a")
    engine.execute("HSET", "doc:1", "vec", b"\x00" * 7, "tag", "changed")
    assert engine.execute("HGETALL", "doc:1") == {b"vec": b"\x00" * 7, b"tag": b"changed"}
    index = engine.indexes.get("idx")
    assert index.num_docs == 0 and index.stats.hash_indexing_failures == 1
    assert index.stats.last_indexing_error_key == b"doc:1"


def test_create_index_backfills_existing_keys(engine: Engine) -> None:
    for i in range(20):
        engine.execute(
            "HSET", f"doc:{i}", "vec", vec(i), "tag", "even" if i % 2 == 0 else "odd", "n", i
        )
    engine.execute("HSET", "other:1", "vec", vec(1))
    create_index(engine)
    reply = engine.execute(
        "FT.SEARCH", "idx", "(@tag:{odd} @n:[5 11])=>[KNN 3 @vec $B]", "PARAMS", "2", "B", vec(8),
        "NOCONTENT", "DIALECT", "2",
    )  # fmt: skip
    assert reply == [3, b"doc:7", b"doc:9", b"doc:5"]


def test_dropindex_with_and_without_dd(engine: Engine) -> None:
    create_index(engine)
    engine.execute("HSET", "doc:1", "vec", vec(1))
    engine.execute("FT.DROPINDEX", "idx")
    assert engine.execute("EXISTS", "doc:1") == 1
    create_index(engine)
    engine.execute("FT.DROPINDEX", "idx", "DD")
    assert engine.execute("EXISTS", "doc:1") == 0
    assert engine.execute("FT._LIST") == []


def test_transaction_is_one_log_record(engine: Engine) -> None:
    log = engine.transaction_log
    assert log is not None
    before = log.next_position.seq
    replies = engine.transaction([["SET", "a", "1"], ["HSET", "a", "f", "v"], ["SET", "b", "2"]])
    assert replies[0] == "OK" and isinstance(replies[1], WrongTypeError) and replies[2] == "OK"
    assert log.next_position.seq == before + 1


def test_restart_replays_log_and_snapshot(tmp_path: Path) -> None:
    cfg = EngineConfig(data_dir=tmp_path)
    with Engine(cfg) as e:
        create_index(e)
        for i in range(50):
            e.execute("HSET", f"doc:{i}", "vec", vec(i, 1), "n", i)
        e.execute("SAVE")
        for i in range(50, 80):
            e.execute("HSET", f"doc:{i}", "vec", vec(i, 1), "n", i)
        e.execute("DEL", "doc:3")
    with Engine(cfg) as e:
        assert e.stats.loaded_snapshot is not None
        assert e.stats.recovery is not None
        assert e.stats.recovery.outcome is RecoveryOutcome.CLEAN
        assert e.execute("DBSIZE") == 79
        reply = e.execute(
            "FT.SEARCH", "idx", "*=>[KNN 1 @vec $B]", "PARAMS", "2", "B", vec(3, 1),
            "NOCONTENT", "DIALECT", "2",
        )  # fmt: skip
        assert reply[1] in (b"doc:2", b"doc:4")


def test_bgsave_does_not_block_writers_and_restores(tmp_path: Path) -> None:
    cfg = EngineConfig(data_dir=tmp_path, appendfsync=FsyncPolicy.EVERYSEC)
    with Engine(cfg) as e:
        create_index(e)
        e.execute_many(
            [["HSET", f"doc:{i}", "vec", vec(i % 97, i % 13), "n", i] for i in range(3000)]
        )
        assert e.execute("BGSAVE") == "Background saving started"
        e.execute("HSET", "doc:late", "vec", vec(1, 2))
        wait_for(lambda: e.stats.snapshots_taken == 1, 30, message="bgsave never published")
        assert e.stats.last_snapshot_ok
        assert e.stats.last_fork_ms < 500
    with Engine(cfg) as e:
        assert e.stats.loaded_snapshot is not None
        assert e.execute("DBSIZE") == 3001


def test_group_commit_under_concurrency(tmp_path: Path) -> None:
    with Engine(EngineConfig(data_dir=tmp_path)) as e:

        def writer(t: int) -> None:
            for i in range(40):
                e.execute("SET", f"k{t}:{i}", "v")

        threads = [threading.Thread(target=writer, args=(t,)) for t in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert e.execute("DBSIZE") == 320
        log = e.transaction_log
        assert log is not None and log.fsync_count < 320  # type: ignore[attr-defined]


def test_empty_hnsw_index_survives_snapshot_and_grows(tmp_path: Path) -> None:
    cfg = EngineConfig(data_dir=tmp_path)
    with Engine(cfg) as e:
        create_index(e)
        e.execute("SAVE")
    with Engine(cfg) as e:  # the graph is loaded empty (capacity 0) and must still grow
        for i in range(40):
            e.execute("HSET", f"doc:{i}", "vec", vec(i))
        reply = e.execute(
            "FT.SEARCH", "idx", "*=>[KNN 1 @vec $B]", "PARAMS", "2", "B", vec(7),
            "NOCONTENT", "DIALECT", "2",
        )  # fmt: skip
        assert reply == [1, b"doc:7"]


def test_alter_keeps_labels_and_vector_graph(engine: Engine) -> None:
    """FT.ALTER re-indexes attributes but carries the HNSW graph over (no rebuild)."""
    create_index(engine)
    for i in range(30):
        engine.execute("HSET", f"doc:{i}", "vec", vec(i, 1), "m", i % 3)
    before = engine.indexes.get("idx")
    graph, labels = before.vectors[b"vec"], dict(before.key_to_label)
    engine.execute("FT.ALTER", "idx", "SCHEMA", "ADD", "m", "NUMERIC")
    after = engine.indexes.get("idx")
    assert after is not before and after.vectors[b"vec"] is graph
    assert after.key_to_label == labels
    reply = engine.execute(
        "FT.SEARCH", "idx", "@m:[2 2]=>[KNN 2 @vec $B]", "PARAMS", "2", "B", vec(7, 1),
        "NOCONTENT", "DIALECT", "2",
    )  # fmt: skip
    assert reply == [2, b"doc:8", b"doc:5"]


def test_snapshot_after_alter_skipinitialscan_with_an_unparsable_value(tmp_path: Path) -> None:
    """A document kept by FT.ALTER SKIPINITIALSCAN whose value the new field refuses does
    not stop a restart from its snapshot: it becomes an indexing failure."""
    cfg = EngineConfig(data_dir=tmp_path)
    with Engine(cfg) as e:
        create_index(e, algo="FLAT")
        e.execute("HSET", "doc:1", "vec", vec(1), "x", "abc")
        e.execute("HSET", "doc:2", "vec", vec(2), "x", "5")
        e.execute("FT.ALTER", "idx", "SKIPINITIALSCAN", "SCHEMA", "ADD", "x", "NUMERIC")
        assert e.indexes.get("idx").num_docs == 2
        e.execute("SAVE")
    with Engine(cfg) as e:
        assert e.stats.loaded_snapshot is not None
        index = e.indexes.get("idx")
        assert sorted(index.key_to_label) == [b"doc:2"]
        assert index.stats.last_indexing_error == "Invalid numeric value: 'abc'"
        reply = e.execute("FT.SEARCH", "idx", "@x:[5 5]", "NOCONTENT")
        assert reply == [1, b"doc:2"]
