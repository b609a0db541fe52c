"""Reply serialisation: golden bytes per type in RESP2 and RESP3, redis-py's parsers reading
our replies, and the Valkey peer sending byte-identical replies for the same answers."""

from __future__ import annotations

import math
import socket
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st
from redis._parsers import Encoder, _RESP2Parser, _RESP3Parser

from store.errors import ArityError, StoreError, UnknownCommandError, WrongTypeError
from store.replies import DoubleText
from store.resp import (
    NULL_ARRAY,
    BigNumber,
    ErrorReply,
    Push,
    ReplyWriter,
    SimpleString,
    Verbatim,
    encode_command,
    encode_reply,
    format_double,
)
from tests.harness.components import RedisStack

GOLDEN: list[tuple[Any, bytes, bytes]] = [
    # (value, RESP2 bytes, RESP3 bytes)
    (None, b"$-1\r\n", b"_\r\n"),
    (NULL_ARRAY, b"*-1\r\n", b"_\r\n"),
    (b"hello", b"$5\r\nhello\r\n", b"$5\r\nhello\r\n"),
    (b"", b"$0\r\n\r\n", b"$0\r\n\r\n"),
    (b"a\r\nb", b"$4\r\na\r\nb\r\n", b"$4\r\na\r\nb\r\n"),
    (bytearray(b"ab"), b"$2\r\nab\r\n", b"$2\r\nab\r\n"),
    (memoryview(b"abc"), b"$3\r\nabc\r\n", b"$3\r\nabc\r\n"),
    ("café", b"$5\r\ncaf\xc3\xa9\r\n", b"$5\r\ncaf\xc3\xa9\r\n"),
    (SimpleString("OK"), b"+OK\r\n", b"+OK\r\n"),
    (SimpleString("PONG"), b"+PONG\r\n", b"+PONG\r\n"),
    (ErrorReply("ERR unknown command"), b"-ERR unknown command\r\n", b"-ERR unknown command\r\n"),
    (WrongTypeError(), b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
     b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    (StoreError("boom"), b"-ERR boom\r\n", b"-ERR boom\r\n"),
    (0, b":0\r\n", b":0\r\n"),
    (-1, b":-1\r\n", b":-1\r\n"),
    (1234567, b":1234567\r\n", b":1234567\r\n"),
    (2**63 - 1, b":9223372036854775807\r\n", b":9223372036854775807\r\n"),
    (-(2**63), b":-9223372036854775808\r\n", b":-9223372036854775808\r\n"),
    (2**63, b"$19\r\n9223372036854775808\r\n", b"(9223372036854775808\r\n"),
    (BigNumber(12), b"$2\r\n12\r\n", b"(12\r\n"),
    (True, b":1\r\n", b"#t\r\n"),
    (False, b":0\r\n", b"#f\r\n"),
    (1.5, b"$3\r\n1.5\r\n", b",1.5\r\n"),
    (3.0, b"$1\r\n3\r\n", b",3\r\n"),
    (float("inf"), b"$3\r\ninf\r\n", b",inf\r\n"),
    (float("-inf"), b"$4\r\n-inf\r\n", b",-inf\r\n"),
    (float("nan"), b"$3\r\nnan\r\n", b",nan\r\n"),
    (DoubleText(b"13.36138933897018433"), b"$20\r\n13.36138933897018433\r\n",
     b",13.36138933897018433\r\n"),
    (Verbatim("txt", "Some string"), b"$11\r\nSome string\r\n", b"=15\r\ntxt:Some string\r\n"),
    (Verbatim("markdown", b"# x"), b"$3\r\n# x\r\n", b"=7\r\nmar:# x\r\n"),
    (Verbatim("md", ""), b"$0\r\n\r\n", b"=4\r\nmd :\r\n"),
    ([], b"*0\r\n", b"*0\r\n"),
    ([1, b"a", None], b"*3\r\n:1\r\n$1\r\na\r\n$-1\r\n", b"*3\r\n:1\r\n$1\r\na\r\n_\r\n"),
    ((1, (2,)), b"*2\r\n:1\r\n*1\r\n:2\r\n", b"*2\r\n:1\r\n*1\r\n:2\r\n"),
    ({b"a": 1, "b": [True]}, b"*4\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n*1\r\n:1\r\n",
     b"%2\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n*1\r\n#t\r\n"),
    ({}, b"*0\r\n", b"%0\r\n"),
    ({b"m"}, b"*1\r\n$1\r\nm\r\n", b"~1\r\n$1\r\nm\r\n"),
    (frozenset(), b"*0\r\n", b"~0\r\n"),
    (Push([b"message", b"ch", b"hi"]), b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n",
     b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"),
]  # fmt: skip


@pytest.mark.parametrize(("value", "resp2", "resp3"), GOLDEN)
def test_golden_bytes(value: Any, resp2: bytes, resp3: bytes) -> None:
    assert encode_reply(value) == resp2
    assert encode_reply(value, protocol=2) == resp2
    assert encode_reply(value, protocol=3) == resp3


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.1, b"0.1"),
        (-0.0, b"-0"),
        (0.0, b"0"),
        (100.0, b"100"),
        (2.0**62, b"4611686018427387904"),
        (-(2.0**62), b"-4611686018427387904"),
        (1.5 * 2.0**62, b"6917529027641082000"),
        (1e22, b"1e+22"),
        (1.5e300, b"1.5e+300"),
        (123.456, b"123.456"),
        (0.000001, b"0.000001"),
        (1e-7, b"1e-7"),
        (1.5e-7, b"1.5e-7"),
        (0.0123456789, b"0.0123456789"),
        (-352334.4703336753, b"-3.523344703336753e+5"),
        (5e-324, b"5e-324"),
    ],
)
def test_format_double(value: float, expected: bytes) -> None:
    assert format_double(value) == expected


@settings(max_examples=500, deadline=None)
@given(st.floats(allow_nan=False))
def test_format_double_reads_back_exactly(value: float) -> None:
    text = format_double(value)
    assert float(text) == value
    assert math.copysign(1.0, float(text)) == math.copysign(1.0, value)


def test_lines_never_carry_cr_or_lf() -> None:
    assert encode_reply(StoreError("bad\r\nthing\n")) == b"-ERR bad  thing\r\n"
    assert encode_reply(ErrorReply("\r\nERR x\ny\r\n")) == b"-ERR x y\r\n"
    assert encode_reply(SimpleString("a\rb\nc")) == b"+a b c\r\n"


def test_store_error_prefixes_and_messages() -> None:
    assert encode_reply(ArityError.for_command("GET")) == (
        b"-ERR wrong number of arguments for 'get' command\r\n"
    )
    assert encode_reply(StoreError("ERR already prefixed")) == b"-ERR already prefixed\r\n"


def test_subclasses_and_numeric_abcs() -> None:
    class Tag(str):
        pass

    assert encode_reply(Tag("x")) == b"$1\r\nx\r\n"
    assert encode_reply(np.int64(7)) == b":7\r\n"
    assert encode_reply(np.float32(1.5), protocol=3) == b",1.5\r\n"
    assert encode_reply(np.float64(0.25)) == b"$4\r\n0.25\r\n"


def test_str_with_surrogate_escapes_round_trips_bytes() -> None:
    raw = b"\xff\xfe"
    assert encode_reply(raw.decode("utf-8", "surrogateescape")) == b"$2\r\n\xff\xfe\r\n"


def test_unsupported_value_raises_and_leaves_writer_untouched() -> None:
    writer = ReplyWriter()
    writer.write(SimpleString("OK"))
    with pytest.raises(TypeError, match="cannot send a object"):
        writer.write([1, 2, [b"x", object()]])
    assert writer.getvalue() == b"+OK\r\n"


def test_writer_accumulates_and_switches_protocol() -> None:
    writer = ReplyWriter()
    writer.write(SimpleString("OK"))
    writer.write(None)
    writer.protocol = 3
    writer.write({b"server": b"memvec"})
    writer.write(None)
    expected = b"+OK\r\n$-1\r\n%1\r\n$6\r\nserver\r\n$6\r\nmemvec\r\n_\r\n"
    assert len(writer) == len(expected)
    assert writer.getvalue() == expected
    assert writer.take() == expected
    assert writer.take() == b""
    writer.write_raw(b"+PONG\r\n")
    assert writer.take() == b"+PONG\r\n"


def test_protocol_must_be_2_or_3() -> None:
    with pytest.raises(ValueError, match="2 or 3"):
        ReplyWriter(protocol=1)
    with pytest.raises(ValueError, match="2 or 3"):
        encode_reply(None, protocol=4)


def test_encode_command_golden() -> None:
    assert encode_command(b"SET", "k\u00e9", 10, 1.5, bytearray(b"")) == (
        b"*5\r\n$3\r\nSET\r\n$3\r\nk\xc3\xa9\r\n$2\r\n10\r\n$3\r\n1.5\r\n$0\r\n\r\n"
    )
    with pytest.raises(TypeError):
        encode_command(b"SET", True)


# --- redis-py's parsers read our replies ---------------------------------------------


SCALARS = st.one_of(
    st.none(),
    st.binary(max_size=20),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.booleans(),
    st.floats(allow_nan=False),
    st.builds(SimpleString, st.text(alphabet="abcXYZ 09", max_size=10)),
)
REPLIES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.binary(max_size=5), inner, max_size=4),
    ),
    max_leaves=12,
)


def as_resp2(value: Any) -> Any:
    """What redis-py's RESP2 parser returns for ``value`` (without response callbacks)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float):
        return format_double(value)
    if isinstance(value, SimpleString):
        return value.encode()
    if isinstance(value, dict):
        return [as_resp2(x) for kv in value.items() for x in kv]
    if isinstance(value, list):
        return [as_resp2(x) for x in value]
    return value


def as_resp3(value: Any) -> Any:
    if isinstance(value, SimpleString):
        return value.encode()
    if isinstance(value, dict):
        return {k: as_resp3(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_resp3(x) for x in value]
    return value


@settings(max_examples=300, deadline=None)
@given(value=REPLIES)
def test_redis_py_parsers_read_our_replies(value: Any) -> None:
    ours, theirs = socket.socketpair()
    try:
        conn = SimpleNamespace(
            _sock=theirs, socket_timeout=5.0, encoder=Encoder("utf-8", "strict", False)
        )
        for protocol, parser_cls, expect in (
            (2, _RESP2Parser, as_resp2),
            (3, _RESP3Parser, as_resp3),
        ):
            parser = parser_cls(65536)
            parser.on_connect(conn)
            ours.sendall(encode_reply(value, protocol))
            got = parser.read_response()
            parser.on_disconnect()
            assert got == expect(value)
            assert type(got) is type(expect(value))
    finally:
        ours.close()
        theirs.close()


def test_redis_py_reads_resp3_only_types() -> None:
    ours, theirs = socket.socketpair()
    try:
        conn = SimpleNamespace(
            _sock=theirs, socket_timeout=5.0, encoder=Encoder("utf-8", "strict", False)
        )
        parser = _RESP3Parser(65536)
        parser.on_connect(conn)
        for value, expected in [
            (BigNumber(2**70), 2**70),
            (Verbatim("txt", "hello"), b"hello"),
            ({b"a", b"b"}, None),
            (NULL_ARRAY, None),
            (ErrorReply("WRONGTYPE nope"), "error"),
        ]:
            ours.sendall(encode_reply(value, 3))
            got = parser.read_response()
            if isinstance(value, set):
                assert sorted(got) == [b"a", b"b"]
            elif expected == "error":
                assert isinstance(got, redis.ResponseError)
                assert str(got) == "nope" or "nope" in str(got)
            else:
                assert got == expected
        ours.sendall(encode_reply(Push([b"message", b"ch", b"hi"]), 3))
        assert parser.read_response(push_request=True) == [b"message", b"ch", b"hi"]
        parser.on_disconnect()
    finally:
        ours.close()
        theirs.close()


# --- the Valkey peer answers with the same bytes ----------------------------------------


def _exchange(sock: socket.socket, command: bytes, size: int) -> bytes:
    sock.sendall(command)
    got = b""
    while len(got) < size:
        chunk = sock.recv(size - len(got))
        if not chunk:
            break
        got += chunk
    return got


def _sync(sock: socket.socket, command: bytes) -> None:
    """Send ``command``, then discard everything up to the reply of a following PING."""
    sock.sendall(command + encode_command(b"PING"))
    got = b""
    while not got.endswith(b"+PONG\r\n"):
        chunk = sock.recv(65536)
        assert chunk, "the peer closed the connection"
        got += chunk


def test_peer_sends_identical_bytes(redis_stack: RedisStack) -> None:
    key = b"resp-writer-golden"
    cases: list[tuple[bytes, Any]] = [
        (encode_command(b"SET", key, b"v\r\n"), SimpleString("OK")),
        (encode_command(b"GET", key), b"v\r\n"),
        (encode_command(b"GET", key + b":missing"), None),
        (encode_command(b"EXISTS", key, key), 2),
        (encode_command(b"HSET", key + b":h", b"f", b"1"), 1),
        (encode_command(b"HGETALL", key + b":h"), {b"f": b"1"}),
        (encode_command(b"SADD", key + b":s", b"m"), 1),
        (encode_command(b"SMEMBERS", key + b":s"), {b"m"}),
        (encode_command(b"ZADD", key + b":z", b"-352334.4703336753", b"a"), 1),
        (encode_command(b"ZSCORE", key + b":z", b"a"), -352334.4703336753),
        (encode_command(b"ZADD", key + b":z", b"inf", b"a"), 0),
        (encode_command(b"ZSCORE", key + b":z", b"a"), float("inf")),
        (encode_command(b"BLPOP", key + b":nolist", b"0.01"), NULL_ARRAY),
        (encode_command(b"GET"), ArityError.for_command("GET")),
        (encode_command(b"GET", key + b":h"), WrongTypeError()),
        (encode_command(b"NOSUCHCMD", b"a", b"b"),
         UnknownCommandError.for_command("NOSUCHCMD", [b"a", b"b"])),
    ]  # fmt: skip
    with socket.create_connection((redis_stack.host, redis_stack.port), timeout=5) as sock:
        for protocol in (2, 3):
            _sync(sock, encode_command(b"HELLO", str(protocol).encode()))
            _sync(sock, encode_command(b"DEL", key, key + b":h", key + b":s", key + b":z"))
            for command, value in cases:
                expected = encode_reply(value, protocol)
                assert _exchange(sock, command, len(expected)) == expected, (protocol, command)


def test_take_chunk_hands_over_the_buffer_and_starts_a_new_one() -> None:
    w = ReplyWriter(2)
    w.write(b"abc")
    chunk = w.take_chunk()
    assert chunk == b"$3\r\nabc\r\n" and len(w) == 0
    w.write(1)
    assert chunk == b"$3\r\nabc\r\n"  # the handed-over buffer is not written to again
    assert w.take_chunk() == b":1\r\n"
