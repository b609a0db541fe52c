"""Serialise reply values to RESP2 or RESP3 bytes, and commands to multibulk requests.

The value-to-type table is in :mod:`store.replies`. Frames written here::

    +<line>\\r\\n            simple string            -<line>\\r\\n   error
    :<int>\\r\\n             integer                  $<n>\\r\\n<n bytes>\\r\\n   bulk string
    $-1\\r\\n  *-1\\r\\n       RESP2 nulls              _\\r\\n          RESP3 null
    #t\\r\\n  #f\\r\\n         RESP3 booleans           ,<double>\\r\\n  RESP3 double
    (<digits>\\r\\n          RESP3 big number         =<n>\\r\\n<fmt>:<text>\\r\\n  verbatim
    *<n>\\r\\n ...  array    %<n>\\r\\n k v ...  map   ~<n>\\r\\n set   ><n>\\r\\n push

Lines (simple strings, errors) have CR and LF replaced by spaces, and an error line has
leading and trailing CR/LF trimmed first, as Redis's ``addReplyErrorFormat`` does.
Strings are encoded as UTF-8 (``surrogateescape``, so keys decoded that way round-trip).

Lists, tuples, dicts and floats are encoded by the C module built from ``reply_c.c`` when
it built: it writes bytes, 64-bit ints, floats (:func:`store.numbers.format_double`'s
digits), None and nesting itself and hands every other value to :func:`_write`, so the
bytes are this module's (``tests/store/test_resp_writer_c.py``).
"""

from __future__ import annotations

import numbers
from typing import Any

from store.errors import StoreError
from store.numbers import format_double
from store.replies import (
    BigNumber,
    DoubleText,
    Encoded,
    ErrorReply,
    NullArray,
    OrderedSet,
    Push,
    SimpleString,
    Verbatim,
)

__all__ = ["ReplyWriter", "encode_command", "encode_reply"]

try:
    from .reply_c import encode_into as _encode_into
    from .reply_c import register_simple_string

    register_simple_string(SimpleString)  # map keys such as FT.SEARCH's, spelled in C
except ImportError:  # no compiler where memvec was installed: _write encodes everything
    _encode_into = None  # type: ignore[assignment]

_LLONG_MAX = (1 << 63) - 1
_LLONG_MIN = -(1 << 63)
_CRLF = b"\r\n"
_SMALL_INTS = {i: b":%d\r\n" % i for i in range(-1, 1024)}
_OK = b"+OK\r\n"


def _line(text: str) -> bytes:
    if "\r" in text or "\n" in text:
        text = text.replace("\r", " ").replace("\n", " ")
    return text.encode("utf-8", "surrogateescape")


def _error_line(text: str) -> bytes:
    return _line(text.strip("\r\n"))


def _encode(buf: bytearray, value: Any, resp3: bool) -> None:
    """Append ``value`` to ``buf``: a list, tuple, dict or float in C (the module built
    from ``reply_c.c``, which encodes bytes, ints, floats, None and nested containers
    itself and calls :func:`_write` for every other value), anything else, or everything
    without the module, with :func:`_write`. The same bytes either way."""
    t = type(value)
    if _encode_into is not None and (t is list or t is dict or t is tuple or t is float):
        _encode_into(buf, value, resp3, _write)
    else:  # a lone scalar: the Python branch costs less than the call into C
        _write(buf, value, resp3)


def _write(buf: bytearray, value: Any, resp3: bool) -> None:
    """Append ``value`` to ``buf``. Exact built-in types first: they are the hot path."""
    t = type(value)
    if t is bytes:
        buf += b"$%d\r\n" % len(value)
        buf += value
        buf += _CRLF
    elif t is str:
        data = value.encode("utf-8", "surrogateescape")
        buf += b"$%d\r\n" % len(data)
        buf += data
        buf += _CRLF
    elif t is int:
        small = _SMALL_INTS.get(value)
        if small is not None:
            buf += small
        elif _LLONG_MIN <= value <= _LLONG_MAX:
            buf += b":%d\r\n" % value
        else:
            _write_bignum(buf, value, resp3)
    elif t is list or t is tuple:
        buf += b"*%d\r\n" % len(value)
        for item in value:
            _write(buf, item, resp3)
    elif value is None:
        buf += b"_\r\n" if resp3 else b"$-1\r\n"
    elif t is float:
        text = format_double(value)
        if resp3:
            buf += b",%b\r\n" % text
        else:
            buf += b"$%d\r\n%b\r\n" % (len(text), text)
    elif t is dict:
        if resp3:
            buf += b"%%%d\r\n" % len(value)
        else:
            buf += b"*%d\r\n" % (2 * len(value))
        for k, v in value.items():
            _write(buf, k, resp3)
            _write(buf, v, resp3)
    elif t is SimpleString:
        if value == "OK":
            buf += _OK
        else:
            buf += b"+%b\r\n" % _line(value)
    else:
        _write_other(buf, value, resp3)


def _write_bignum(buf: bytearray, value: int, resp3: bool) -> None:
    digits = b"%d" % value
    if resp3:
        buf += b"(%b\r\n" % digits
    else:
        buf += b"$%d\r\n%b\r\n" % (len(digits), digits)


def _write_other(buf: bytearray, value: Any, resp3: bool) -> None:
    """Subclasses, the reply types of :mod:`store.replies`, and numeric ABCs."""
    if type(value) is Encoded:
        buf += value
    elif isinstance(value, StoreError):
        buf += b"-%b\r\n" % _error_line(value.resp_line())
    elif isinstance(value, ErrorReply):
        buf += b"-%b\r\n" % _error_line(value)
    elif isinstance(value, SimpleString):
        buf += b"+%b\r\n" % _line(value)
    elif isinstance(value, NullArray):
        buf += b"_\r\n" if resp3 else b"*-1\r\n"
    elif isinstance(value, bool):
        if resp3:
            buf += b"#t\r\n" if value else b"#f\r\n"
        else:
            buf += b":1\r\n" if value else b":0\r\n"
    elif isinstance(value, BigNumber):
        _write_bignum(buf, int(value), resp3)
    elif isinstance(value, Push):
        buf += b">%d\r\n" % len(value) if resp3 else b"*%d\r\n" % len(value)
        for item in value:
            _write(buf, item, resp3)
    elif isinstance(value, Verbatim):
        text = value.text
        data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else bytes(text)
        if resp3:
            fmt = value.format.encode("ascii", "replace")[:3].ljust(3)
            buf += b"=%d\r\n%b:" % (len(data) + 4, fmt)
        else:
            buf += b"$%d\r\n" % len(data)
        buf += data
        buf += _CRLF
    elif isinstance(value, DoubleText):
        if resp3:
            buf += b",%b\r\n" % value
        else:
            buf += b"$%d\r\n%b\r\n" % (len(value), value)
    elif isinstance(value, (bytes, bytearray, memoryview)):
        view = memoryview(value).cast("B")
        buf += b"$%d\r\n" % view.nbytes
        buf += view
        buf += _CRLF
    elif isinstance(value, str):
        data = value.encode("utf-8", "surrogateescape")
        buf += b"$%d\r\n" % len(data)
        buf += data
        buf += _CRLF
    elif isinstance(value, (set, frozenset, OrderedSet)):
        buf += b"~%d\r\n" % len(value) if resp3 else b"*%d\r\n" % len(value)
        for item in value:
            _write(buf, item, resp3)
    elif isinstance(value, dict):
        _write(buf, dict(value), resp3)
    elif isinstance(value, (list, tuple)):
        _write(buf, list(value), resp3)
    elif isinstance(value, numbers.Integral):
        _write(buf, int(value), resp3)
    elif isinstance(value, numbers.Real):
        _write(buf, float(value), resp3)
    else:
        raise TypeError(f"cannot send a {type(value).__name__} as a RESP reply: {value!r:.80}")


class ReplyWriter:
    """Encodes replies for one connection into a buffer that the connection hands to its
    transport in chunks (:meth:`take_chunk` once :func:`len` passes its chunk size), so a
    batch of large replies never sits in memory encoded all at once.

    ``protocol`` (2 or 3) may be changed between replies; ``HELLO 3`` answers in RESP3
    already. A value that cannot be encoded raises :class:`TypeError` and leaves the
    buffer exactly as it was before the call, so no half reply ever reaches the client.
    """

    __slots__ = ("_buf", "protocol")

    def __init__(self, protocol: int = 2) -> None:
        if protocol not in (2, 3):
            raise ValueError(f"RESP protocol must be 2 or 3, not {protocol!r}")
        self.protocol = protocol
        self._buf = bytearray()

    def write(self, value: Any) -> None:
        """Append one reply."""
        buf = self._buf
        mark = len(buf)
        try:
            _encode(buf, value, self.protocol == 3)
        except BaseException:
            del buf[mark:]
            raise

    def write_raw(self, data: bytes) -> None:
        """Append bytes that are already RESP (a cached reply, a replication stream)."""
        self._buf += data

    def __len__(self) -> int:
        return len(self._buf)

    def getvalue(self) -> bytes:
        """Everything written so far; the buffer keeps it."""
        return bytes(self._buf)

    def take_chunk(self) -> bytearray:
        """Everything written so far, without copying it; the writer starts a new buffer.

        The caller owns the returned buffer (hand it to ``transport.write``).
        """
        data = self._buf
        self._buf = bytearray()
        return data

    def take(self) -> bytes:
        """Everything written so far; the buffer is emptied."""
        data = bytes(self._buf)
        self._buf.clear()
        return data


def encode_reply(value: Any, protocol: int = 2) -> bytes:
    """One reply as RESP2 (``protocol=2``) or RESP3 (``protocol=3``) bytes."""
    if protocol not in (2, 3):
        raise ValueError(f"RESP protocol must be 2 or 3, not {protocol!r}")
    buf = bytearray()
    _encode(buf, value, protocol == 3)
    return bytes(buf)


def encode_command(*args: bytes | bytearray | memoryview | str | int | float) -> bytes:
    """A request as clients send it: a multibulk array of bulk strings.

    ``str`` is UTF-8, ``int`` its decimal digits, ``float`` :func:`format_double`. Used
    for the replication stream and by tests.
    """
    buf = bytearray(b"*%d\r\n" % len(args))
    for arg in args:
        if isinstance(arg, str):
            data: bytes | bytearray | memoryview = arg.encode("utf-8", "surrogateescape")
        elif isinstance(arg, bool):
            raise TypeError("booleans have no command form; send b'1'/b'0' or a keyword")
        elif isinstance(arg, int):
            data = b"%d" % arg
        elif isinstance(arg, float):
            data = format_double(arg)
        elif isinstance(arg, (bytes, bytearray, memoryview)):
            data = memoryview(arg).cast("B")
        else:
            raise TypeError(f"cannot send a {type(arg).__name__} as a command argument")
        buf += b"$%d\r\n" % len(data)
        buf += data
        buf += _CRLF
    return bytes(buf)
