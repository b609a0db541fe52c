"""Fuzzing the request parser with damaged real frames and random garbage.

Whatever arrives, the parser must (1) raise nothing but ProtocolError, (2) return in
bounded time, and (3) not care how the bytes were split into reads: the same input fed in
any chunking gives the same commands and the same error.
"""

from __future__ import annotations

import itertools
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store.resp import ProtocolError, RequestParser, encode_command

FRAMES = [
    encode_command(b"HSET", b"doc:1", b"vec", bytes(range(48)) * 4, b"tag", b"x"),
    encode_command(b"FT.SEARCH", b"idx", b"*=>[KNN 3 @vec $B]", b"PARAMS", b"2", b"B", b"\0\r\n"),
    encode_command(b"PING"),
    encode_command(b"SET", b"k", b""),
    b"*0\r\n*-1\r\n\r\n",
    b'SET "a b" \'c\\\'d\' "\\x41\\n"\r\n',
    b"PING\n",
]

MUTATION = st.tuples(
    st.sampled_from(["flip", "insert", "delete", "replace"]),
    st.integers(min_value=0, max_value=10_000),
    st.integers(min_value=0, max_value=255),
)
INTERESTING = st.sampled_from([ord(c) for c in "*$\r\n\"' \\x0-9"] + [0])


def mutate(data: bytes, mutations: list[tuple[str, int, int]]) -> bytes:
    buf = bytearray(data)
    for op, at, byte in mutations:
        if not buf and op != "insert":
            continue
        i = at % (len(buf) + (op == "insert"))
        if op == "flip":
            buf[i] ^= 1 << (byte % 8)
        elif op == "insert":
            buf.insert(i, byte)
        elif op == "delete":
            del buf[i]
        else:
            buf[i] = byte
    return bytes(buf)


def run(data: bytes, cuts: list[int], **options: int) -> tuple[list[list[bytes]], str | None]:
    """Feed ``data`` split at ``cuts``; the commands parsed and the error, if any."""
    parser = RequestParser(**options)  # type: ignore[arg-type]
    bounds = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    commands: list[list[bytes]] = []
    began = time.monotonic()
    try:
        for lo, hi in itertools.pairwise(bounds):
            parser.feed(data[lo:hi])
            for _ in range(len(data) + 2):
                batch = parser.drain()
                if not batch:
                    break
                commands += batch
            else:
                raise AssertionError("drain() kept returning commands without consuming input")
        error = None
    except ProtocolError as exc:
        error = str(exc)
        assert error.startswith("Protocol error: ")
        assert "\r" not in error and "\n" not in error
    assert time.monotonic() - began < 2.0
    return commands, error


FUZZ = settings(
    max_examples=1500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FUZZ
@given(
    frames=st.lists(st.sampled_from(FRAMES), min_size=1, max_size=5),
    mutations=st.lists(MUTATION, max_size=6),
    interesting=st.lists(st.tuples(st.integers(0, 10_000), INTERESTING), max_size=3),
    cuts=st.lists(st.integers(min_value=0), max_size=6),
    strict=st.booleans(),
)
def test_mutated_frames(
    frames: list[bytes],
    mutations: list[tuple[str, int, int]],
    interesting: list[tuple[int, int]],
    cuts: list[int],
    strict: bool,
) -> None:
    data = mutate(b"".join(frames), mutations)
    data = mutate(data, [("replace", at, byte) for at, byte in interesting])
    whole = run(data, [], strict_crlf=strict)
    assert run(data, cuts, strict_crlf=strict) == whole
    assert run(data, list(range(len(data))), strict_crlf=strict) == whole


@settings(max_examples=500, deadline=None)
@given(data=st.binary(max_size=300), cuts=st.lists(st.integers(min_value=0), max_size=5))
def test_random_garbage(data: bytes, cuts: list[int]) -> None:
    assert run(data, cuts) == run(data, [])


@settings(max_examples=300, deadline=None)
@given(
    prefix=st.sampled_from([b"", b"*", b"*1\r\n$", b"*2\r\n$1\r\na\r\n", b"\0", b"*\0", b"$\0"]),
    body=st.binary(min_size=1, max_size=40),
    repeat=st.integers(min_value=1, max_value=40),
    step=st.integers(min_value=1, max_value=50),
)
def test_memory_stays_bounded_by_the_limits(
    prefix: bytes, body: bytes, repeat: int, step: int
) -> None:
    """A client cannot make the parser hold more than its limits allow: it gets an error."""
    data = prefix + body * repeat
    parser = RequestParser(max_inline_len=16, max_bulk_len=16, max_multibulk_len=4)
    bound = 4 * (16 + 2) + 16 + 2
    try:
        for lo in range(0, len(data), step):
            parser.feed(data[lo : lo + step])
            parser.drain()
            assert parser.buffered <= bound + step
    except ProtocolError:
        pass
