"""Strings written in place: APPEND, SETRANGE, SETBIT and BITFIELD change a stored buffer.

Before, each of these copied the whole string (64 MB: 42-87 ms a call; 100,000 APPENDs
building a 10 MB string: 154 s against the peer's 4.5 s). Now a string of at least
``IN_PLACE_MIN_BYTES`` is kept as a ``bytearray`` while it is written, and turned back
into ``bytes`` by the first read that can let it escape (:meth:`Keyspace.get`).

What is held here:
- the cost: the stored object is the same one across writes, and the readers that look
  inside for one command (STRLEN, GETBIT, GETRANGE, BITCOUNT, BITPOS, EXISTS, TYPE,
  EXPIRE, TTL, SCAN) leave it so; a value handed out is ``bytes`` and never changes;
- the contents: a random mix of every command that reads or writes a string, against a
  plain model, with COPY, RENAME, DUMP/RESTORE, SAVE and a restart in the mix;
- a reply queued behind a write in one pipelined read (the server) keeps its bytes.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

import pytest

from store import Engine, EngineConfig
from store.keyspace import IN_PLACE_MIN_BYTES

BIG = b"x" * (IN_PLACE_MIN_BYTES + 100)


def stored(e: Engine, key: bytes) -> object:
    return e.keyspace.data[key]


def test_appends_grow_one_buffer_and_reads_that_peek_leave_it() -> None:
    with Engine(EngineConfig(data_dir=None)) as e:
        e.execute("SET", "k", BIG)
        e.execute("APPEND", "k", "a")
        buffer = stored(e, b"k")
        assert type(buffer) is bytearray
        for i in range(50):
            e.execute("APPEND", "k", f"{i:03d}")
            e.execute("SETRANGE", "k", str(i), "Z")
            e.execute("SETBIT", "k", str(8 * (len(BIG) + 200) + i), "1")
            e.execute("BITFIELD", "k", "INCRBY", "u8", "#3", "1")
        peeks = [
            ("STRLEN", "k"), ("GETBIT", "k", "5"), ("GETRANGE", "k", "0", "9"),
            ("BITCOUNT", "k"), ("BITCOUNT", "k", "1", "3"), ("BITPOS", "k", "1"),
            ("BITFIELD_RO", "k", "GET", "u8", "0"), ("EXISTS", "k"), ("TYPE", "k"),
            ("EXPIRE", "k", "1000"), ("TTL", "k"), ("PERSIST", "k"), ("SCAN", "0"),
        ]  # fmt: skip
        for command in peeks:
            e.execute(*command)
        assert stored(e, b"k") is buffer  # no copy, no freeze
        assert e.execute("TYPE", "k") == "string"
        assert e.execute("STRLEN", "k") == len(buffer)
        part = e.execute("GETRANGE", "k", "0", "9")
        assert type(part) is bytes and part == bytes(buffer[:10])

        got = e.execute("GET", "k")
        assert type(got) is bytes and type(stored(e, b"k")) is bytes  # GET froze it
        frozen = bytes(got)
        e.execute("APPEND", "k", "more")
        assert got == frozen  # what was handed out never changes
        assert e.execute("GET", "k") == frozen + b"more"


def test_short_strings_stay_bytes() -> None:
    with Engine(EngineConfig(data_dir=None)) as e:
        for i in range(IN_PLACE_MIN_BYTES - 1):
            e.execute("APPEND", "s", "y")
            e.execute("SETBIT", "b", str(i), "1")
        assert type(stored(e, b"s")) is bytes
        assert type(stored(e, b"b")) is bytes  # 511 bits: 64 bytes
        e.execute("APPEND", "s", "y")
        assert type(stored(e, b"s")) is bytearray  # 512 bytes: in place from here
        e.execute("SETBIT", "b", str(8 * IN_PLACE_MIN_BYTES), "1")
        assert type(stored(e, b"b")) is bytearray
        e.execute("GET", "b")
        assert type(stored(e, b"b")) is bytes
        e.execute("SETBIT", "b", "0", "0")
        assert type(stored(e, b"b")) is bytearray  # the next write takes it back


def test_copy_rename_dump_and_wrongtype() -> None:
    with Engine(EngineConfig(data_dir=None)) as e:
        e.execute("SET", "k", BIG)
        e.execute("APPEND", "k", "1")
        e.execute("COPY", "k", "c")
        e.execute("APPEND", "k", "2")
        assert e.execute("GET", "c") == BIG + b"1"
        e.execute("APPEND", "k", "3")
        payload = e.execute("DUMP", "k")
        e.execute("RESTORE", "r", "0", payload)
        assert e.execute("GET", "r") == BIG + b"123"
        e.execute("APPEND", "k", "4")
        e.execute("RENAME", "k", "n")
        assert e.execute("GET", "n") == BIG + b"1234"
        e.execute("APPEND", "n", "5")
        e.execute("HSET", "h", "f", "v")
        for command in (("APPEND", "h", "x"), ("SETRANGE", "h", "0", "x"),
                        ("SETBIT", "h", "0", "1"), ("STRLEN", "h"), ("GETBIT", "h", "0")):  # fmt: skip
            with pytest.raises(Exception, match="wrong kind of value"):
                e.execute(*command)
        with pytest.raises(Exception, match="maximum allowed size"):
            e.execute("SETRANGE", "n", str(512 * 1024 * 1024 - 1), "ab")
        assert e.execute("GET", "n") == BIG + b"12345"  # a refused write changed nothing


def _model_step(rng: random.Random, e: Engine, model: dict[bytes, bytes]) -> None:
    """One random string command on ``e`` and the same on ``model``; replies compared."""
    key = rng.choice([b"a", b"b", b"c"])
    old = model.get(key)
    op = rng.randrange(12)
    if op == 0:
        arg = rng.randbytes(rng.choice([0, 1, 7, 300, 900]))
        assert e.execute("APPEND", key, arg) == len((old or b"") + arg)
        model[key] = (old or b"") + arg
    elif op == 1:
        offset, arg = rng.randrange(0, 1500), rng.randbytes(rng.randrange(0, 20))
        got = e.execute("SETRANGE", key, str(offset), arg)
        if arg:
            buf = bytearray(old or b"")
            buf.extend(bytes(max(0, offset + len(arg) - len(buf))))
            buf[offset : offset + len(arg)] = arg
            model[key] = bytes(buf)
        assert got == len(model.get(key, b""))
    elif op == 2:
        offset, bit = rng.randrange(0, 12000), rng.randrange(2)
        buf = bytearray(old or b"")
        buf.extend(bytes(max(0, (offset >> 3) + 1 - len(buf))))
        was = (buf[offset >> 3] >> (7 - (offset & 7))) & 1
        buf[offset >> 3] = (buf[offset >> 3] & ~(1 << (7 - (offset & 7)))) | (
            bit << (7 - (offset & 7))
        )
        assert e.execute("SETBIT", key, str(offset), str(bit)) == was
        model[key] = bytes(buf)
    elif op == 3:
        offset = rng.randrange(0, 1400)
        buf = bytearray(old or b"")
        buf.extend(bytes(max(0, offset + 1 - len(buf))))
        was = buf[offset]
        buf[offset] = (was + 7) & 0xFF
        assert e.execute("BITFIELD", key, "INCRBY", "u8", str(offset * 8), "7") == [buf[offset]]
        model[key] = bytes(buf)
    elif op == 4:
        assert e.execute("GET", key) == old
    elif op == 5:
        assert e.execute("STRLEN", key) == len(old or b"")
    elif op == 6:
        lo, hi = rng.randrange(-50, 1500), rng.randrange(-50, 1500)
        got = e.execute("GETRANGE", key, str(lo), str(hi))
        value = old or b""
        n = len(value)
        if lo < 0 and hi < 0 and lo > hi:
            want = b""
        else:
            lo, hi = max(lo + n if lo < 0 else lo, 0), max(hi + n if hi < 0 else hi, 0)
            hi = min(hi, n - 1)
            want = value[lo : hi + 1] if lo <= hi and n else b""
        assert got == want
    elif op == 7:
        offset = rng.randrange(0, 12000)
        value = old or b""
        want = (value[offset >> 3] >> (7 - (offset & 7))) & 1 if offset >> 3 < len(value) else 0
        assert e.execute("GETBIT", key, str(offset)) == want
    elif op == 8:
        assert e.execute("BITCOUNT", key) == int.from_bytes(old or b"", "big").bit_count()
    elif op == 9:
        other = rng.choice([b"a", b"b", b"c"])
        if other != key:
            assert e.execute("COPY", key, other, "REPLACE") == (1 if old is not None else 0)
            if old is not None:
                model[other] = old
    elif op == 10:
        other = rng.choice([b"a", b"b", b"c"])
        if old is not None and other != key:
            e.execute("RENAME", key, other)
            model[other] = model.pop(key)
    else:
        assert e.execute("EXISTS", key) == (1 if old is not None else 0)


def test_random_string_commands_agree_with_a_model_across_save_and_restart(tmp_path: Path) -> None:
    cfg = EngineConfig(data_dir=tmp_path / "data")
    rng = random.Random(20261205)
    model: dict[bytes, bytes] = {}
    for round_ in range(3):
        with Engine(cfg) as e:
            for k, v in model.items():  # what the restart replayed
                assert e.execute("GET", k) == v, round_
            for step in range(600):
                _model_step(rng, e, model)
                if step == 300:
                    e.execute("SAVE")  # a snapshot taken with buffers in place
                    for k, v in model.items():
                        assert e.execute("GET", k) == v
            for k in (b"a", b"b", b"c"):
                assert e.execute("GET", k) == model.get(k)


def test_a_queued_get_reply_keeps_its_bytes(tmp_path: Path) -> None:
    """One read carrying GET then APPEND: the GET's reply is the value before the APPEND,
    even if the server encodes or sends it after running the APPEND."""
    from tests.server.test_process import ServerProcess

    server = ServerProcess(tmp_path)
    try:
        assert server.port is not None
        _pipelined_get_append(server.port)
    finally:
        server.terminate()


def _pipelined_get_append(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as s:
        value = b"v" * 4000
        s.sendall(b"SET k " + value + b"\r\nAPPEND k a\r\n")
        pipeline = b"".join(
            b"GET k\r\nAPPEND k " + bytes([97 + i % 26]) * 2000 + b"\r\n" for i in range(20)
        )
        s.sendall(pipeline)
        want = b"+OK\r\n:4001\r\n"
        current = value + b"a"
        for i in range(20):
            want += b"$%d\r\n%s\r\n" % (len(current), current)
            current += bytes([97 + i % 26]) * 2000
            want += b":%d\r\n" % len(current)
        got = b""
        s.settimeout(30)
        while len(got) < len(want):
            chunk = s.recv(1 << 20)
            assert chunk, got[-200:]
            got += chunk
        assert got == want
