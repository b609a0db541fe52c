"""RequestParser and split_args: framing, chunking, Redis's inline quoting, limits, error texts.

The expected texts and behaviours come from Redis's ``networking.c``
(``processInlineBuffer``, ``processMultibulkBuffer``), ``sds.c`` (``sdssplitargs``) and
``tests/unit/protocol.tcl``. The last tests replay the cases on which Redis and the
Valkey peer agree against the peer itself.
"""

from __future__ import annotations

import itertools
import re
import socket

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from store.errors import CommandError
from store.resp import ProtocolError, RequestParser, encode_command, split_args
from tests.harness.components import RedisStack

VEC = bytes(range(256)) * 6

MIXED_COMMANDS = [
    [b"SET", b"k\r\n", b"v" * 100],
    [b"PING"],
    [b"HSET", b"doc:1", b"vec", VEC, b"tag", b"x"],
    [b"GET", b""],
]
# The same commands as on the wire, with inline requests and empty requests between them.
MIXED_WIRE = (
    encode_command(*MIXED_COMMANDS[0])
    + b"\r\n*0\r\n*-1\r\nPING\r\n   \n"
    + encode_command(*MIXED_COMMANDS[2])
    + b'GET ""\n'
)


def parse_all(data: bytes, **limits: int) -> list[list[bytes]]:
    parser = RequestParser(**limits)  # type: ignore[arg-type]
    parser.feed(data)
    return parser.drain()


def error_of(data: bytes, **options: int) -> str:
    parser = RequestParser(**options)  # type: ignore[arg-type]
    parser.feed(data)
    with pytest.raises(ProtocolError) as info:
        while parser.next_command() is not None:
            pass
    return str(info.value)


# --- framing -------------------------------------------------------------------------


def test_multibulk_golden() -> None:
    assert parse_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nv\r\nxy\r\n") == [
        [b"SET", b"k", b"v\r\nxy"]
    ]


def test_mixed_pipeline_golden() -> None:
    assert parse_all(MIXED_WIRE) == MIXED_COMMANDS


def test_empty_requests_are_skipped() -> None:
    wire = b"\r\n\n   \r\n\t\r\n*0\r\n*-1\r\n*-10\r\nPING\r\n"
    assert parse_all(wire) == [[b"PING"]]


def test_line_feed_alone_ends_an_inline_request() -> None:
    assert parse_all(b"PING\nECHO a\r\n") == [[b"PING"], [b"ECHO", b"a"]]


def test_split_at_every_byte_gives_the_same_commands() -> None:
    for split in range(len(MIXED_WIRE) + 1):
        parser = RequestParser()
        parser.feed(MIXED_WIRE[:split])
        got = parser.drain()
        parser.feed(MIXED_WIRE[split:])
        got += parser.drain()
        assert got == MIXED_COMMANDS, split
        assert parser.next_command() is None
        assert parser.buffered == 0


def test_byte_by_byte_with_next_command() -> None:
    parser = RequestParser()
    got = []
    for i in range(len(MIXED_WIRE)):
        parser.feed(MIXED_WIRE[i : i + 1])
        while (cmd := parser.next_command()) is not None:
            got.append(cmd)
    assert got == MIXED_COMMANDS


def test_iteration_and_drain_and_next_command_agree() -> None:
    wire = MIXED_WIRE * 300
    a, b, c = RequestParser(), RequestParser(), RequestParser()
    for p in (a, b, c):
        p.feed(wire)
    via_iter = list(a)
    via_drain = b.drain()
    via_next = []
    while (cmd := c.next_command()) is not None:
        via_next.append(cmd)
    assert via_iter == via_drain == via_next == MIXED_COMMANDS * 300


def test_buffered_counts_unreturned_bytes() -> None:
    parser = RequestParser()
    wire = encode_command(b"SET", b"key", b"x" * 1000)
    parser.feed(wire[:-10])
    assert parser.next_command() is None
    assert 990 <= parser.buffered <= len(wire)
    parser.feed(wire[-10:])
    assert parser.next_command() == [b"SET", b"key", b"x" * 1000]
    assert parser.buffered == 0


def test_large_argument_in_small_pieces() -> None:
    big = bytes(range(256)) * 8192  # 2 MiB
    wire = encode_command(b"SET", b"k", big) + encode_command(b"PING")
    parser = RequestParser()
    got = []
    for off in range(0, len(wire), 1000):
        parser.feed(wire[off : off + 1000])
        got += parser.drain()
    assert got == [[b"SET", b"k", big], [b"PING"]]


def test_big_pipeline_in_one_feed() -> None:
    commands = [[b"HSET", b"doc:%d" % i, b"vec", VEC, b"tag", b"x"] for i in range(5000)]
    wire = b"".join(encode_command(*c) for c in commands)
    assert parse_all(wire) == commands


def test_commands_are_bytes_not_views() -> None:
    (cmd,) = parse_all(encode_command(b"SET", b"k", b"v"))
    assert all(type(a) is bytes for a in cmd)


# --- inline quoting (sdssplitargs) -----------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"set foo bar", [b"set", b"foo", b"bar"]),
        (b"  set\tfoo   bar  ", [b"set", b"foo", b"bar"]),
        (b"", []),
        (b"   ", []),
        (b'set "foo bar" baz', [b"set", b"foo bar", b"baz"]),
        (b'"\\x41\\x4a\\xff\\x00z"', [b"AJ\xff\x00z"]),
        (b'"\\x4g"', [b"x4g"]),
        (b'"\\xA"', [b"xA"]),
        (b'"\\n\\r\\t\\b\\a\\\\\\"\\q"', [b'\n\r\t\b\x07\\"q']),
        (b"'it\\'s'", [b"it's"]),
        (b"'a\\nb\\\\ c'", [b"a\\nb\\\\ c"]),
        (b"'say \"hi\"'", [b'say "hi"']),
        (b'"it\'s"', [b"it's"]),
        (b'""', [b""]),
        (b"''", [b""]),
        (b'a"b c"', [b"ab c"]),
        (b"a'b c'", [b"ab c"]),
        (b'"a"\t"b"', [b"a", b"b"]),
        (b'"a"\x0b"b"', [b"a", b"b"]),
        (b"a\x0bb", [b"a\x0bb"]),
        (b"a\x0cb \x0c c", [b"a\x0cb", b"c"]),
        (b"a\rb", [b"a", b"b"]),
        (b"get a\x00b c", [b"get", b"a"]),
        (b"\xff\xfe caf\xc3\xa9", [b"\xff\xfe", b"caf\xc3\xa9"]),
    ],
)
def test_split_args(line: bytes, expected: list[bytes]) -> None:
    assert split_args(line) == expected
    if b"\0" not in line:
        assert parse_all(line + b"\r\n") == ([expected] if expected else [])


@pytest.mark.parametrize(
    "line",
    [
        b'"foo"bar',
        b"'foo'bar",
        b'"foo',
        b"'foo",
        b'set """test-key""" test-value',
        b'"abc\\"',
        b'"abc\\',
        b'a"b',
        b"'a\\'",
        b"'a\\\\'",
    ],
)
def test_unbalanced_quotes(line: bytes) -> None:
    assert split_args(line) is None
    assert error_of(line + b"\r\nPING\r\n") == "Protocol error: unbalanced quotes in request"


# --- errors ----------------------------------------------------------------------------

INVALID_MULTIBULK = "Protocol error: invalid multibulk length"
INVALID_BULK = "Protocol error: invalid bulk length"
INVALID_CRLF = "Protocol error: invalid CRLF in request"
EXPECTED_F = "Protocol error: expected '$', got 'f'"
EXPECTED_SPACE = "Protocol error: expected '$', got ' '"
EXPECTED_COLON = "Protocol error: expected '$', got ':'"

ERROR_CASES = [
    # (wire, message with strict_crlf, message without or None for no error);
    # from protocol.tcl, string2ll's rules and Valkey's CRLF check
    (b"*3000000000\r\n", INVALID_MULTIBULK, INVALID_MULTIBULK),
    (b"*abc\r\n", INVALID_MULTIBULK, INVALID_MULTIBULK),
    (b"*01\r\n", INVALID_MULTIBULK, INVALID_MULTIBULK),
    (b"*-0\r\n", INVALID_MULTIBULK, INVALID_MULTIBULK),
    (b"*+1\r\n", INVALID_MULTIBULK, INVALID_MULTIBULK),
    (b"* 1\r\n", INVALID_MULTIBULK, INVALID_MULTIBULK),
    (b"*1 \r\n", INVALID_MULTIBULK, INVALID_MULTIBULK),
    (b"*\r\n", INVALID_MULTIBULK, INVALID_MULTIBULK),
    (b"*123456789012345678901\r\n", INVALID_MULTIBULK, INVALID_MULTIBULK),
    (b"*9223372036854775808\r\n", INVALID_MULTIBULK, INVALID_MULTIBULK),
    (b"*-9223372036854775809\r\n", INVALID_MULTIBULK, INVALID_MULTIBULK),
    (b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n", EXPECTED_F, EXPECTED_F),
    (b"*1\r\nfoo\r\n", EXPECTED_F, EXPECTED_F),
    (b"*1\r\n\r\n", EXPECTED_SPACE, EXPECTED_SPACE),
    (b"*1\r\n:1\r\n", EXPECTED_COLON, EXPECTED_COLON),
    (b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$-10\r\n", INVALID_BULK, INVALID_BULK),
    (b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$2000000000\r\n", INVALID_BULK, INVALID_BULK),
    (b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$blabla\r\n", INVALID_BULK, INVALID_BULK),
    (b"*1\r\n$-1\r\n", INVALID_BULK, INVALID_BULK),
    (b"*1\r\n$01\r\n", INVALID_BULK, INVALID_BULK),
    (b"*1\r\n$\r\n", INVALID_BULK, INVALID_BULK),
    (b"*1\r\n$+4\r\n", INVALID_BULK, INVALID_BULK),
    (b"*1\r\n$1\r\nab\r\n", INVALID_CRLF, None),
    (b"*1\r\n$4\r\nPINGxy*1\r\n$4\r\nPING\r\n", INVALID_CRLF, None),
    (b"*1\r\n$4\r\nPING\rX", INVALID_CRLF, None),
    (b"*1\rX$4\r\nPING\r\n", INVALID_CRLF, None),
    (b"*1\r\n$4\rXPING\r\n", INVALID_CRLF, None),
]


@pytest.mark.parametrize(("wire", "strict", "lenient"), ERROR_CASES)
def test_error_texts(wire: bytes, strict: str, lenient: str | None) -> None:
    assert error_of(wire) == strict
    parser = RequestParser(strict_crlf=False)
    parser.feed(wire)
    if lenient is None:
        parser.drain()
    else:
        assert error_of(wire, strict_crlf=False) == lenient


def test_lenient_crlf_skips_the_two_bytes_like_redis() -> None:
    parser = RequestParser(strict_crlf=False)
    parser.feed(b"*1\r\n$4\r\nPINGxy*1\rZ$4\r\nECHOab")
    assert parser.drain() == [[b"PING"], [b"ECHO"]]


def test_protocol_error_is_an_err_command_error() -> None:
    err = ProtocolError("Protocol error: invalid bulk length")
    assert isinstance(err, CommandError)
    assert err.resp_line() == "ERR Protocol error: invalid bulk length"


def test_error_is_sticky() -> None:
    parser = RequestParser()
    parser.feed(b"*1\r\n$x\r\n")
    with pytest.raises(ProtocolError):
        parser.next_command()
    parser.feed(encode_command(b"PING"))
    with pytest.raises(ProtocolError, match="invalid bulk length"):
        parser.next_command()


def test_good_commands_before_an_error_come_first() -> None:
    wire = encode_command(b"SET", b"a", b"1") + b"PING\r\n" + b"*1\r\n$x\r\n"
    parser = RequestParser()
    parser.feed(wire)
    assert parser.drain() == [[b"SET", b"a", b"1"], [b"PING"]]
    with pytest.raises(ProtocolError, match="invalid bulk length"):
        parser.drain()
    parser = RequestParser()
    parser.feed(wire)
    got = []
    with pytest.raises(ProtocolError):
        for cmd in parser:
            got.append(cmd)
    assert got == [[b"SET", b"a", b"1"], [b"PING"]]


# --- limits ----------------------------------------------------------------------------


def test_max_bulk_len_is_inclusive() -> None:
    assert parse_all(encode_command(b"x" * 10), max_bulk_len=10) == [[b"x" * 10]]
    assert error_of(encode_command(b"x" * 11), max_bulk_len=10) == INVALID_BULK
    # the length is refused from its header alone, before the payload arrives
    assert error_of(b"*1\r\n$11\r\n", max_bulk_len=10) == INVALID_BULK


def test_max_multibulk_len_is_inclusive() -> None:
    assert parse_all(encode_command(*[b"a"] * 5), max_multibulk_len=5) == [[b"a"] * 5]
    assert error_of(b"*6\r\n", max_multibulk_len=5) == INVALID_MULTIBULK
    assert error_of(b"*1048577\r\n") == INVALID_MULTIBULK
    parser = RequestParser()
    parser.feed(b"*1048576\r\n")
    assert parser.next_command() is None


@pytest.mark.parametrize(
    ("parsed", "header", "message"),
    [
        (b"", b"a", "Protocol error: too big inline request"),
        (b"", b"*", "Protocol error: too big mbulk count string"),
        (b"*1\r\n", b"$", "Protocol error: too big bulk count string"),
    ],
)
def test_unterminated_lines_are_capped(parsed: bytes, header: bytes, message: str) -> None:
    parser = RequestParser(max_inline_len=100)
    parser.feed(parsed + header + b"1" * 99)
    assert parser.next_command() is None
    parser.feed(b"1")
    with pytest.raises(ProtocolError) as info:
        parser.next_command()
    assert str(info.value) == message


def test_inline_line_over_the_limit_is_refused_even_when_complete() -> None:
    line = b"ECHO " + b"a" * 95
    assert parse_all(line + b"\r\n", max_inline_len=100) == [[b"ECHO", b"a" * 95]]
    assert error_of(line + b"a\r\n", max_inline_len=100) == (
        "Protocol error: too big inline request"
    )


def test_iteration_can_stop_early_without_losing_commands() -> None:
    parser = RequestParser()
    parser.feed(MIXED_WIRE)
    for command in parser:
        assert command == MIXED_COMMANDS[0]
        break
    assert list(parser) == MIXED_COMMANDS[1:]


@pytest.mark.parametrize("seq", [b"\x00", b"*\x00", b"$\x00"])
def test_nul_desync_ends_in_an_error(seq: bytes) -> None:
    """protocol.tcl "Protocol desync regression test": garbage must not parse forever."""
    parser = RequestParser()
    parser.feed(seq)
    payload = b"A" * 1024 + b"\n"
    with pytest.raises(ProtocolError, match="Protocol error: too big"):
        for _ in range(200):
            parser.feed(payload)
            assert parser.drain() == []


def test_auth_required_limits() -> None:
    parser = RequestParser(auth_required=True)
    parser.feed(encode_command(b"AUTH", b"p" * 16384) + encode_command(*[b"a"] * 10))
    assert len(parser.drain()) == 2
    assert (
        error_of(b"*11\r\n", auth_required=True)
        == "Protocol error: unauthenticated multibulk length"
    )
    assert (
        error_of(b"*2\r\n$4\r\nAUTH\r\n$16385\r\n", auth_required=True)
        == "Protocol error: unauthenticated bulk length"
    )
    parser = RequestParser(auth_required=True)
    parser.auth_required = False
    parser.feed(encode_command(b"SET", b"k", b"v" * 20000))
    assert parser.drain() == [[b"SET", b"k", b"v" * 20000]]


# --- round trip and redis-py ------------------------------------------------------------

ARGS = st.lists(st.binary(max_size=40), min_size=1, max_size=6)
REDIS_PY = redis.Connection()  # never connected: used for its command packer and encoder


@settings(max_examples=300, deadline=None)
@given(commands=st.lists(ARGS, min_size=1, max_size=8), cuts=st.lists(st.integers(0, 400)))
def test_round_trip_any_chunking(commands: list[list[bytes]], cuts: list[int]) -> None:
    wire = b"".join(encode_command(*c) for c in commands)
    bounds = sorted({0, len(wire), *(c for c in cuts if c < len(wire))})
    parser = RequestParser()
    got: list[list[bytes]] = []
    for lo, hi in itertools.pairwise(bounds):
        parser.feed(wire[lo:hi])
        got += parser.drain()
    assert got == commands


@settings(max_examples=200, deadline=None)
@given(
    args=st.lists(
        st.one_of(st.binary(max_size=30), st.text(max_size=10), st.integers(), st.floats()),
        min_size=1,
        max_size=6,
    )
)
def test_redis_py_pack_command_parses_back(args: list[object]) -> None:
    conn = REDIS_PY
    packed = b"".join(bytes(p) for p in conn.pack_command(b"CMD", *args))
    expected = [b"CMD"] + [bytes(conn.encoder.encode(a)) for a in args]
    assert parse_all(packed) == [expected]


def test_redis_py_pipeline_of_packed_commands() -> None:
    conn = REDIS_PY
    commands = [("HSET", f"doc:{i}", "vec", VEC, "tag", "x") for i in range(200)]
    packed = b"".join(bytes(p) for p in conn.pack_commands(commands))
    assert parse_all(packed) == [[conn.encoder.encode(a) for a in c] for c in commands]


# --- against the Valkey peer ----------------------------------------------------------
# Where current Valkey and Redis disagree the cases above follow Redis: Valkey accepts
# '"foo"bar' as 'foobar' (and '""<VT>' as one word '<VT>'), and reports a header holding a
# NUL at once, while Redis (C string search) treats such a header as unterminated. Those
# cases are not replayed here.


def _peer_reply(host: str, port: int, raw: bytes) -> bytes:
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(raw)
        reply = b""
        while not reply.endswith(b"\r\n"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            reply += chunk
    return reply


def test_error_texts_match_the_peer(redis_stack: RedisStack) -> None:
    for wire, strict, _ in ERROR_CASES:
        assert _peer_reply(redis_stack.host, redis_stack.port, wire) == (
            b"-ERR " + strict.encode() + b"\r\n"
        ), wire
    for wire, message in [
        (b"'foo\r\n", "unbalanced quotes in request"),
        (b"ECHO " + b"a" * 70000, "too big inline request"),
        (b"*" + b"1" * 70000, "too big mbulk count string"),
        (b"*1\r\n$" + b"1" * 70000, "too big bulk count string"),
    ]:
        assert error_of(wire) == "Protocol error: " + message
        reply = _peer_reply(redis_stack.host, redis_stack.port, wire)
        assert reply == b"-ERR Protocol error: " + message.encode() + b"\r\n"


INLINE_PIECES = st.sampled_from(
    [b"a", b"b", b" ", b"  ", b"\t", b"\x0b", b'"', b"'", b"\\", b"x", b"4", b"f", b"n", b"\xc3"]
)


@settings(max_examples=150, deadline=None)
@given(pieces=st.lists(INLINE_PIECES, max_size=12))
def test_inline_tokens_match_the_peer(redis_stack: RedisStack, pieces: list[bytes]) -> None:
    line = b"RPUSH inline:probe " + b"".join(pieces)
    tokens = split_args(line)
    if tokens is None or len(tokens) < 3 or re.search(rb"[\"'][\x0b\x0c]", line):
        return  # Valkey continues a word after a closing quote unless a space, tab or CR follows
    conn = redis.Connection(host=redis_stack.host, port=redis_stack.port)
    try:
        conn.send_command("DEL", "inline:probe")
        conn.read_response()
        conn.send_packed_command([line + b"\r\n"])
        assert conn.read_response() == len(tokens) - 2
        conn.send_command("LRANGE", "inline:probe", 0, -1)
        assert conn.read_response() == tokens[2:]
    finally:
        conn.disconnect()
