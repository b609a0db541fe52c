"""The C reading of plain commands (``store/resp/request_c.c``) changes nothing a parser
returns.

``RequestParser`` hands complete, well-formed multibulk commands to the C module and reads
everything else itself. The reference is the same parser with the module switched off.
Both are fed the same random streams (good commands with binary payloads, inline requests,
empty requests, headers in every other spelling, missing line feeds, payloads without
their CRLF, NUL bytes, counts and lengths at and over the limits) split at random points,
with random options (strict or lenient CRLF, AUTH limits, small limits) and read with
``drain`` or ``next_command``: every call must return the same commands, raise the same
error, and leave the same ``buffered`` count. The module must also have built.

Bytes fed while nothing is left unread are parsed in place (no copy); a ``bytearray`` is
always copied behind what is buffered. The same streams fed as ``bytearray`` chunks are the
reference for that shortcut.
"""

from __future__ import annotations

import random

import pytest

from store.resp import ProtocolError, RequestParser, encode_command
from store.resp import parser as parser_module


def test_the_c_module_built() -> None:
    assert parser_module._complete_commands is not None, (
        "store/resp/request_c.c did not build: install gcc and the Python headers "
        "(python3-dev), then reinstall memvec (pip install -e .)"
    )


def _argument(rng: random.Random) -> bytes:
    kind = rng.randrange(5)
    if kind == 0:
        return b""
    if kind == 1:
        return rng.randbytes(rng.randrange(1, 40))  # binary, CRLF and NUL inside
    if kind == 2:
        return b"\r\n" * rng.randrange(1, 4)
    if kind == 3:
        return b"x" * rng.choice([15, 16, 17, 1023, 1024, 16384, 16385])
    return rng.choice([b"SET", b"GET", b"PING", b"FT.SEARCH", b"*3", b"$5"])


def _piece(rng: random.Random) -> bytes:
    """One request on the wire: mostly good, sometimes bent."""
    argv = [_argument(rng) for _ in range(rng.randrange(1, 14))]
    wire = encode_command(*argv)
    kind = rng.randrange(20)
    if kind < 11:
        return wire
    if kind == 11:
        return b" ".join(a for a in argv if a.isalnum()) + rng.choice([b"\r\n", b"\n"])  # inline
    if kind == 12:
        return rng.choice([b"*0\r\n", b"*-1\r\n", b"\r\n", b"   \n"])
    if kind == 13:  # another spelling of a header
        n = len(argv)
        return wire.replace(b"*%d\r\n" % n, rng.choice([b"*0%d\r\n", b"*+%d\r\n", b"* %d\r\n",
                                                         b"*%d \r\n", b"*%d\n"]) % n, 1)  # fmt: skip
    if kind == 14:  # a bulk length spelled otherwise
        first = len(argv[0])
        return wire.replace(b"$%d\r\n" % first, rng.choice([b"$0%d\r\n", b"$+%d\r\n", b"$-%d\r\n",
                                                             b"$%d\r", b"#%d\r\n"]) % first, 1)  # fmt: skip
    if kind == 15:  # a payload without its CRLF, or with other bytes there
        at = wire.rfind(b"\r\n", 0, len(wire) - 2)
        return wire[: len(wire) - 2] + rng.choice([b"", b"xy", b"\r", b"\n\r"]) if at > 0 else wire
    if kind == 16:  # a NUL inside a header
        return wire.replace(b"\r\n", b"\0\r\n", 1)
    if kind == 17:  # counts and lengths past the limits
        return rng.choice([b"*1048577\r\n", b"*99999999999999999999\r\n", b"*11\r\n",
                           b"$536870913\r\n", b"*2\r\n$16385\r\n"])  # fmt: skip
    if kind == 18:  # a count larger than the arguments that follow
        return wire.replace(b"*%d\r\n" % len(argv), b"*%d\r\n" % (len(argv) + 1), 1)
    return rng.randbytes(rng.randrange(1, 12))  # garbage


def _trace(
    stream: bytes,
    cuts: list[int],
    options: dict[str, object],
    drain: bool,
    chunk: type[bytes] | type[bytearray] = bytes,
) -> list[object]:
    parser = RequestParser(**options)  # type: ignore[arg-type]
    events: list[object] = []
    last = 0
    for cut in [*cuts, len(stream)]:
        parser.feed(chunk(stream[last:cut]))
        last = cut
        try:
            if drain:
                events.append(("drain", parser.drain()))
            else:
                while (command := parser.next_command()) is not None:
                    events.append(("next", command))
        except ProtocolError as exc:
            events.append(("error", str(exc)))
            return events
        events.append(("buffered", parser.buffered))
    return events


@pytest.mark.parametrize("seed", range(40))
def test_c_reading_changes_nothing(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(seed)
    for _ in range(25):
        stream = b"".join(_piece(rng) for _ in range(rng.randrange(1, 12)))
        cuts = sorted(rng.sample(range(len(stream) + 1), min(len(stream), rng.randrange(0, 6))))
        options: dict[str, object] = {"strict_crlf": rng.random() < 0.7,
                                      "auth_required": rng.random() < 0.2}  # fmt: skip
        if rng.random() < 0.3:
            options["max_bulk_len"] = rng.choice([0, 1, 16, 1024])
        if rng.random() < 0.3:
            options["max_multibulk_len"] = rng.choice([1, 3, 13])
        if rng.random() < 0.2:
            options["max_inline_len"] = rng.choice([4, 64])
        drain = rng.random() < 0.5
        with_c = _trace(stream, cuts, options, drain)
        copied = _trace(stream, cuts, options, drain, bytearray)
        monkeypatch.setattr(parser_module, "_complete_commands", None)
        without = _trace(stream, cuts, options, drain)
        monkeypatch.undo()
        assert with_c == without, (stream[:200], cuts, options)
        assert copied == with_c, (stream[:200], cuts, options)


def test_the_c_reading_is_used_and_stops_at_what_it_does_not_read() -> None:
    complete = parser_module._complete_commands
    assert complete is not None
    good = encode_command(b"SET", b"k", b"v") + encode_command(b"PING")
    got, pos = complete(good + b"PING\r\n" + good, 0, 10, 1024, 1 << 20)
    assert got == [[b"SET", b"k", b"v"], [b"PING"]] and pos == len(good)
    assert complete(good, 0, 1, 1024, 1 << 20) == ([[b"SET", b"k", b"v"]], len(good) - 14)
    assert complete(good[:-1], 0, 10, 1024, 1 << 20)[1] == len(good) - 14
    assert complete(b"*1048576\r\n$1\r\nx\r\n", 0, 10, 1 << 21, 1 << 20) == ([], 0)
    with pytest.raises(ValueError):
        complete(good, len(good) + 1, 1, 1024, 1024)


def test_limits_past_int64_read_as_the_python_path_reads_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A limit of 2**63 or more (or infinity) is accepted by the Python parser; the C is
    handed 2**62, which it reads the same (it takes at most 18 digits)."""
    wire = encode_command(b"PING") + encode_command(b"SET", b"k", b"v" * 100)
    for limits in ({"max_bulk_len": 1 << 63}, {"max_multibulk_len": 1 << 70},
                   {"max_bulk_len": float("inf"), "max_multibulk_len": float("inf")}):  # fmt: skip
        with_c = _trace(wire, [5], dict(limits), True)
        monkeypatch.setattr(parser_module, "_complete_commands", None)
        without = _trace(wire, [5], dict(limits), True)
        monkeypatch.undo()
        assert with_c == without
        assert [b"PING"] in with_c[2][1]  # type: ignore[index]
