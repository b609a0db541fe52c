"""The C reply encoder (``store/resp/reply_c.c``) writes the Python writer's bytes.

``writer._write`` is the reference. The C module encodes bytes, 64-bit ints, floats (to
``store.numbers.format_double``'s digits, checked over 100,000 doubles of every shape),
None, lists, tuples and dicts itself and hands every other value back to ``_write``: random nested
replies mixing all of them (strs with surrogate escapes, floats, bools, big ints, every
reply type of ``store.replies``, errors, sets, subclasses of the built-ins) must give the
same bytes in RESP2 and RESP3; an unencodable value, a dict that changes size and a reply
nested too deep must raise, leaving a ``ReplyWriter`` as it was. The module must have built.
"""

from __future__ import annotations

import random
import struct
from typing import Any

import pytest

from store.errors import StoreError, WrongTypeError
from store.numbers import format_double
from store.replies import DoubleText
from store.resp import NULL_ARRAY, BigNumber, ErrorReply, Push, ReplyWriter, SimpleString, Verbatim
from store.resp import writer as writer_module


def test_the_c_module_built() -> None:
    assert writer_module._encode_into is not None, (
        "store/resp/reply_c.c did not build: install gcc and the Python headers "
        "(python3-dev), then reinstall memvec (pip install -e .)"
    )


class IntSub(int):
    pass


class BytesSub(bytes):
    pass


class ListSub(list):  # type: ignore[type-arg]
    pass


class DictSub(dict):  # type: ignore[type-arg]
    pass


class FloatSub(float):
    pass


def _scalar(rng: random.Random) -> Any:
    return rng.choice([
        lambda: rng.randbytes(rng.randrange(0, 12)),
        lambda: rng.randbytes(rng.choice([1000, 1017, 1024, 1030, 5000])),  # past C's buffer
        lambda: rng.choice([0, -1, 1023, 1024, -2, 2**63 - 1, -(2**63), 2**63, -(2**63) - 1,
                            10**30, rng.randrange(-(2**40), 2**40)]),
        lambda: None,
        lambda: rng.choice([True, False]),
        lambda: rng.choice([1.5, 3.0, -0.0, float("inf"), float("nan"), 1e300, rng.random()]),
        lambda: rng.choice(["", "café", "a\udcffb", "x" * 20]),
        lambda: SimpleString(rng.choice(["OK", "PONG", "a\r\nb", "", "café", "a\udcffb",
                                         "x\ry", "line\n", "total_results"])),
        lambda: ErrorReply("ERR boom\r\n"),
        lambda: WrongTypeError(),
        lambda: StoreError("x"),
        lambda: NULL_ARRAY,
        lambda: BigNumber(rng.randrange(10**20)),
        lambda: DoubleText(b"1.25"),
        lambda: Verbatim("txt", "v"),
        lambda: bytearray(b"ba"),
        lambda: memoryview(b"mv"),
        lambda: IntSub(7),
        lambda: BytesSub(b"sub"),
    ])()  # fmt: skip


def _value(rng: random.Random, depth: int = 0) -> Any:
    if depth > 3 or rng.random() < 0.4:
        return _scalar(rng)
    items = [_value(rng, depth + 1) for _ in range(rng.randrange(0, 5))]
    kind = rng.randrange(7)
    if kind == 0:
        return tuple(items)
    if kind == 1:
        return {rng.randbytes(3): item for item in items}
    if kind == 2:
        return {b"k", b"j"}
    if kind == 3:
        return Push(items)
    if kind == 4:
        return ListSub(items)
    if kind == 5:
        return DictSub({b"a": items[0] if items else None})
    return items


@pytest.mark.parametrize("seed", range(30))
def test_c_bytes_equal_python_bytes(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(200):
        value = _value(rng)
        for resp3 in (False, True):
            want = bytearray()
            writer_module._write(want, value, resp3)
            got = bytearray(b"kept")
            writer_module._encode(got, value, resp3)
            assert got == b"kept" + want, value


def test_errors_leave_the_writer_as_it_was() -> None:
    w = ReplyWriter(3)
    w.write([b"first"])
    before = w.getvalue()
    with pytest.raises(TypeError):
        w.write([1, b"x", [object()]])
    growing: dict[Any, Any] = {}

    class Grower:
        pass

    def grow(buf: bytearray, value: Any, resp3: bool) -> None:
        growing[len(growing)] = 1
        buf += b"+g\r\n"

    native = writer_module._encode_into
    assert native is not None
    growing.update({b"a": Grower(), b"b": 2})
    with pytest.raises(RuntimeError, match="changed size"):
        native(bytearray(), growing, True, grow)
    deep: list[Any] = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(RecursionError):
        w.write(deep)
    assert w.getvalue() == before


def test_a_dict_whose_keys_change_under_a_fallback_acts_as_python() -> None:
    """One key goes and another comes (same size) while a value is encoded: Python's dict
    iteration raises when that makes more pairs than the dict had, else goes on; the C
    encoder must do the same, and never write more or fewer pairs than its header says."""
    native = writer_module._encode_into
    assert native is not None

    class Swapper:
        """A value only the Python writer encodes: it swaps a key of the reply."""

    def run(encode: Any, order: list[bytes]) -> object:
        reply: dict[Any, Any] = {key: Swapper() if key == order[0] else 1 for key in order}

        def swap(buf: bytearray, value: Any, resp3: bool) -> None:
            if type(value) is Swapper:
                del reply[b"a"]
                reply[b"c"] = 5
                buf += b":0\r\n"
            else:
                writer_module._write(buf, value, resp3)

        buf = bytearray()
        try:
            encode(buf, reply, swap)
        except RuntimeError as exc:
            return ("raised", str(exc))
        return bytes(buf)

    def python(buf: bytearray, reply: Any, swap: Any) -> None:
        buf += b"*%d\r\n" % (2 * len(reply))
        for k, v in reply.items():
            swap(buf, k, False)
            swap(buf, v, False)

    def c(buf: bytearray, reply: Any, swap: Any) -> None:
        native(buf, reply, False, swap)

    outcomes = [run(python, [b"a", b"b"]), run(python, [b"b", b"a"])]
    assert outcomes[0] == ("raised", "dictionary keys changed during iteration")
    assert isinstance(outcomes[1], bytes) and outcomes[1].count(b"$1") == 2
    assert [run(c, [b"a", b"b"]), run(c, [b"b", b"a"])] == outcomes


def test_the_fallback_is_called_only_for_other_values() -> None:
    native = writer_module._encode_into
    assert native is not None
    seen: list[Any] = []

    def record(buf: bytearray, value: Any, resp3: bool) -> None:
        seen.append(value)
        writer_module._write(buf, value, resp3)

    buf = bytearray()
    value = [b"a", 1, None, (2,), {b"k": 3.5}, "s", True, 2**70, FloatSub(0.5),
             {SimpleString("id"): SimpleString("OK")}, SimpleString("a\nb")]  # fmt: skip
    native(buf, value, False, record)
    assert seen == ["s", True, 2**70, 0.5, "a\nb"]  # a simple string with LF: Python's
    assert type(seen[3]) is FloatSub
    assert bytes(buf).endswith(b"%1\r\n+id\r\n+OK\r\n+a b\r\n".replace(b"%1", b"*2"))


def _double(rng: random.Random) -> float:
    """Doubles of every shape format_double spells: any bit pattern, integers around
    2**62 (plain below, shortest digits above), powers of ten at the plain/exponent
    borders, subnormals, short decimals."""
    return rng.choice([
        lambda: struct.unpack("<d", rng.randbytes(8))[0],
        lambda: float(rng.randrange(-(2**63), 2**63)),
        lambda: rng.choice([-1.0, 1.0]) * 2.0**62 + rng.choice([-2048.0, -1024.0, 0.0, 1024.0, 2048.0]),
        lambda: rng.choice([1.0, -1.0, 1.5, 123.25]) * 10.0 ** rng.randrange(-12, 30),
        lambda: rng.choice([5e-324, 2.2250738585072014e-308, 1.7976931348623157e308]),
        lambda: round(rng.uniform(-1e6, 1e6), rng.randrange(0, 8)),
        lambda: rng.random() * 10.0 ** rng.randrange(-320, 300),
    ])()  # fmt: skip


@pytest.mark.parametrize("seed", range(5))
def test_doubles_are_the_python_path_s_bytes(seed: int) -> None:
    """A float is encoded in C (no fallback call), to store.numbers.format_double's
    digits, in RESP2 (a bulk string) and RESP3 (a double)."""
    native = writer_module._encode_into
    assert native is not None
    rng = random.Random(seed)

    def refuse(buf: bytearray, value: Any, resp3: bool) -> None:
        raise AssertionError(f"fallback called for {value!r}")

    for _ in range(20_000):
        value = _double(rng)
        text = format_double(value)
        for resp3, want in ((False, b"$%d\r\n%b\r\n" % (len(text), text)),
                            (True, b",%b\r\n" % text)):  # fmt: skip
            got = bytearray()
            native(got, value, resp3, refuse)
            assert got == want, (value, resp3)
    for special in (0.0, -0.0, float("inf"), float("-inf"), float("nan"), 3.0, 1e22, 1e-7):
        got = bytearray()
        native(got, [special], True, refuse)
        assert got == b"*1\r\n,%b\r\n" % format_double(special), special
