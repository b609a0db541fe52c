"""`memvec server` on a full disk: a refused write is never visible, a visible write is
durable, writes resume by themselves once space is back (issue #14 item 5).

The data directory is on a small tmpfs the test mounts (root only; skipped otherwise), so
the transaction log meets a real ``ENOSPC`` from ``write(2)``. While a filler file holds
every free page, several clients write (single SETs and HSETs, pipelined HSETs) and others read
the same keys. Then:

* every write a reader saw was acknowledged: no refused write is ever read;
* ``SAVE`` answers a clear error and ``INFO persistence`` reports the failed save;
* once the filler is deleted, writes succeed again without a restart;
* after ``kill -9`` and a restart every acknowledged write is there with its value and
  no refused write is.
"""

from __future__ import annotations

import contextlib
import errno
import os
import struct
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.harness.wait import wait_for
from tests.server.test_process import ServerProcess

TMPFS_BYTES = 4 << 20
VALUE_BYTES = 1500
WRITERS = 4
WRITES_EACH = 12


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "disk"
    mnt.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_BYTES}", "tmpfs", str(mnt)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True, timeout=30)


def fill(path: Path) -> None:
    """Write ``path`` until the file system has no free page left."""
    chunk = b"\0" * 65536
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            try:
                os.write(fd, chunk)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                if len(chunk) == 1:
                    return
                chunk = chunk[: len(chunk) // 2]
    finally:
        os.close(fd)


def value_for(key: str) -> bytes:
    return (key.encode() * (VALUE_BYTES // len(key) + 1))[:VALUE_BYTES]


class Writer(threading.Thread):
    """Writes its keys one by one (SET, or HSET: other clients being active, those join the
    WriteCombiner from the inline path) or as one pipeline of HSETs; records outcomes."""

    def __init__(
        self, server: ServerProcess, name: str, pipelined: bool, hashes: bool = False
    ) -> None:
        super().__init__(daemon=True)
        self.r = server.client()
        self.keys = [f"w:{name}:{i}" for i in range(WRITES_EACH)]
        self.pipelined = pipelined
        self.hashes = hashes
        self.acked: set[str] = set()
        self.refused: set[str] = set()

    def run(self) -> None:
        if self.pipelined:
            pipe = self.r.pipeline(transaction=False)
            for key in self.keys:
                pipe.hset(key, "v", value_for(key))
            for key, outcome in zip(self.keys, pipe.execute(raise_on_error=False), strict=True):
                (self.refused if isinstance(outcome, Exception) else self.acked).add(key)
            return
        for key in self.keys:
            try:
                if self.hashes:
                    self.r.hset(key, "v", value_for(key))
                else:
                    self.r.set(key, value_for(key))
            except redis.ResponseError:
                self.refused.add(key)
            else:
                self.acked.add(key)


class Reader(threading.Thread):
    """Reads every writer's keys until told to stop; records each key it saw a value of."""

    def __init__(self, server: ServerProcess, keys: list[str]) -> None:
        super().__init__(daemon=True)
        self.r = server.client()
        self.keys = keys
        self.seen: set[str] = set()
        self.stop = threading.Event()

    def run(self) -> None:
        while True:
            last = self.stop.is_set()  # one more full pass after the writers finished
            for key in self.keys:
                with contextlib.suppress(redis.ResponseError):
                    if self.r.exists(key) and self.read(key) is not None:
                        self.seen.add(key)
            if last:
                return

    def read(self, key: str) -> object:
        try:
            return self.r.get(key)
        except redis.ResponseError:  # a HSET key: WRONGTYPE for GET
            return self.r.hget(key, "v")


def knn(r: redis.Redis) -> list[bytes]:
    reply = r.execute_command(
        "FT.SEARCH", "idx", "*=>[KNN 2 @v $B]", "PARAMS", "2", "B",
        struct.pack("4f", 0, 0, 0, 0), "NOCONTENT", "DIALECT", "2",
    )  # fmt: skip
    if isinstance(reply, dict):  # RESP3
        return [row[b"id"] for row in reply[b"results"]]  # type: ignore[no-any-return]
    return list(reply[1:])


def read_value(r: redis.Redis, key: str) -> bytes | None:
    kind = r.type(key)
    if kind == b"hash":
        return r.hget(key, "v")  # type: ignore[return-value]
    return r.get(key)  # type: ignore[return-value]


def test_refused_writes_stay_invisible_and_writes_resume(small_disk: Path) -> None:
    data = small_disk / "data"
    server = ServerProcess(data)
    try:
        r = server.client()
        before = [f"before:{i}" for i in range(5)]
        for key in before:
            assert r.set(key, value_for(key))
        # an HNSW graph in the snapshot: undoing a refused write reloads it, which needs
        # scratch space the full disk does not have
        r.execute_command(
            "FT.CREATE", "idx", "ON", "HASH", "PREFIX", "1", "doc:", "SCHEMA",
            "v", "VECTOR", "HNSW", "6", "TYPE", "FLOAT32", "DIM", "4", "DISTANCE_METRIC", "L2",
        )  # fmt: skip
        for i in range(4):
            r.hset(f"doc:{i}", "v", struct.pack("4f", i, 0, 0, 0))
        assert r.save()

        filler = small_disk / "filler"
        fill(filler)

        writers = [Writer(server, f"c{i}", i == 0, hashes=i == 1) for i in range(WRITERS)]
        every_key = [k for w in writers for k in w.keys]
        readers = [Reader(server, every_key) for _ in range(2)]
        for t in [*readers, *writers]:
            t.start()
        for w in writers:
            w.join(120)
            assert not w.is_alive()
        for reader in readers:
            reader.stop.set()
            reader.join(60)
        acked = set().union(*(w.acked for w in writers))
        refused = set().union(*(w.refused for w in writers))
        assert refused, "the disk was never full: nothing was refused"
        seen = set().union(*(reader.seen for reader in readers))
        assert not seen & refused, f"refused writes were read by other clients: {seen & refused}"

        # reads keep working while the disk is full, and show only acknowledged writes
        for key in sorted(acked | set(before)):
            value = wait_for(
                lambda key=key: read_value(r, key),
                30,
                ignore=(redis.ResponseError,),
                message=f"{key} (acked: {key in acked}); server log: {''.join(server.stderr)[-4000:]}",
            )
            assert value == value_for(key)
        for key in sorted(refused):
            assert not r.exists(key), key
        assert knn(r) == [b"doc:0", b"doc:1"]

        # BGSAVE on a full disk starts (as in Redis); INFO then reports the failed child
        assert r.bgsave()
        done = wait_for(
            lambda: (i := r.info("persistence"))["rdb_bgsave_in_progress"] == 0 and i, 30
        )
        assert done["rdb_last_bgsave_status"] == "err"
        # SAVE on a full disk: a clear error, and INFO reports the failed save
        with pytest.raises(redis.ResponseError) as saved:
            r.save()
        message = str(saved.value)
        assert "internal error" not in message and "No space left" in message, message
        persistence = r.info("persistence")
        assert persistence["rdb_last_bgsave_status"] == "err"
        assert persistence["aof_last_write_status"] == "err"

        # space comes back: writes succeed again without a restart
        filler.unlink()
        wait_for(lambda: r.set("after", b"1"), 30, ignore=(redis.ResponseError,))
        assert r.get("after") == b"1"
        persistence = r.info("persistence")
        assert persistence["aof_last_write_status"] == "ok"
        assert r.save()
        assert r.info("persistence")["rdb_last_bgsave_status"] == "ok"

        server.kill9()
        server = ServerProcess(data)
        r = server.client()
        for key in sorted(acked | set(before)):
            assert read_value(r, key) == value_for(key), key
        for key in sorted(refused):
            assert not r.exists(key), key
        assert r.get("after") == b"1"
        assert knn(r) == [b"doc:0", b"doc:1"]
    finally:
        server.ensure_dead()
