"""Sans-I/O parser for the requests a Redis client sends: bytes in, argument lists out.

Wire format (what ``processInputBuffer`` in Redis's ``networking.c`` accepts)::

    multibulk:  *<count>\\r\\n  then <count> times  $<len>\\r\\n<len bytes>\\r\\n
    inline:     arg arg "quoted arg" 'single quoted'\\r\\n      (the line may end in \\n alone)

A request whose first byte is ``*`` is multibulk; anything else is inline. ``<count>``
and ``<len>`` are decimal integers in Redis's strict ``string2ll`` form (no sign on
positive numbers, no leading zeros, no spaces, at most 20 characters). A count of zero or
less (``*0``, ``*-1``) is an empty request and is skipped, as is an inline line holding
nothing but blanks.

Line endings of multibulk frames: with ``strict_crlf`` (the default) the byte after a
header's ``\r`` must be ``\n`` and a payload must be followed by ``\r\n``, else
``Protocol error: invalid CRLF in request`` (the check and text of current Valkey
releases; it stops a client that miscounted a length from having the rest of its
payload run as commands). ``strict_crlf=False`` is Redis's behaviour up to 8.0: those
bytes are skipped without being looked at.

An inline request longer than ``max_inline_len`` is refused even when its line feed is
already buffered. Redis refuses it only when no line feed arrived within the limit, which
with its 16 KiB reads means lines up to about 64 KiB plus one read; a fixed rule keeps the
outcome independent of how the bytes were split, and bounds the work of parsing quotes.

Header lines are found the way Redis's C string search finds them: a line that holds a
NUL byte before its end is treated as not yet terminated, so a desynchronised stream of
binary garbage ends in a "too big" error instead of being read as commands forever.

Errors (:class:`ProtocolError`, message texts identical to Redis's ``networking.c``)::

    Protocol error: invalid multibulk length        bad count, or count > max_multibulk_len
    Protocol error: invalid bulk length             bad length, negative, or > max_bulk_len
    Protocol error: expected '$', got 'X'           a multibulk element not starting with $
    Protocol error: too big mbulk count string      no \\r after * within max_inline_len bytes
    Protocol error: too big bulk count string       no \\r after $ within max_inline_len bytes
    Protocol error: too big inline request          inline line over max_inline_len bytes
    Protocol error: unbalanced quotes in request    inline quoting that does not close
    Protocol error: unauthenticated multibulk length  > 10 arguments before AUTH
    Protocol error: unauthenticated bulk length     an argument > 16384 bytes before AUTH
    Protocol error: invalid CRLF in request         strict_crlf only, see above

After a :class:`ProtocolError` the connection must be closed (Redis replies with the
error and closes); the parser keeps raising the same error from then on.

Complete multibulk commands in the plain form (canonical numbers within the limits, every
CRLF in place) are read by the C module built from ``request_c.c`` when it built; it stops
at the first command that is anything else, and the Python loop here reads that one, so
every rule above stays this module's (``tests/store/test_resp_parser_c.py`` feeds both
paths the same streams).
"""

from __future__ import annotations

from collections.abc import Iterator

from store.errors import ProtocolError

try:
    from .request_c import complete_commands as _complete_commands
except ImportError:  # no compiler where memvec was installed: the Python loop reads all
    _complete_commands = None  # type: ignore[assignment]

__all__ = ["ProtocolError", "RequestParser", "split_args"]

_STAR = 0x2A
_DOLLAR = 0x24
_LLONG_MAX = (1 << 63) - 1
_LLONG_MIN = -(1 << 63)
_UNAUTH_MAX_MULTIBULK = 10
_UNAUTH_MAX_BULK = 16384
_C_LIMIT = 1 << 62


def _c_limit(limit: int) -> int:
    """``limit`` as the C reader takes it: it reads at most 18 digits, so a limit past
    2**62 (or any limit not an int) is the same to it as 2**62, which fits its int64."""
    return limit if limit < _C_LIMIT else _C_LIMIT


# Header lines already seen, mapped to their value: a dict lookup is ~3x faster than
# validating and converting the digits. Shared by all parsers; grows up to _CACHE_MAX.
_CACHE_MAX = 8192
_BULK_LENS: dict[bytes, int] = {b"$%d" % i: i for i in range(1024)}
_COUNTS: dict[bytes, int] = {b"*%d" % i: i for i in range(1025)}


def _string2ll(s: bytes | bytearray) -> int | None:
    """The integer ``s`` spells in Redis's strict ``string2ll`` form, or None."""
    n = len(s)
    if n == 0 or n >= 21:
        return None
    if s.isdigit():
        if s[0] == 0x30 and n > 1:
            return None
        v = int(s)
        return v if v <= _LLONG_MAX else None
    if n > 1 and s[0] == 0x2D and s[1] != 0x30:
        rest = s[1:]
        if rest.isdigit():
            v = -int(rest)
            return v if v >= _LLONG_MIN else None
    return None


_C_ISSPACE = frozenset(b" \t\n\v\f\r")
_TOKEN_END = frozenset(b" \n\r\t\0")
_HEX = frozenset(b"0123456789abcdefABCDEF")
_ESCAPES = {ord("n"): 0x0A, ord("r"): 0x0D, ord("t"): 0x09, ord("b"): 0x08, ord("a"): 0x07}
_NEEDS_SLOW_SPLIT = (b'"', b"'", b"\v", b"\f", b"\0")


def split_args(line: bytes) -> list[bytes] | None:
    """Split an inline request line like Redis's ``sdssplitargs``; None if quotes don't balance.

    Blanks (C ``isspace``) separate arguments. Inside double quotes ``\\xHH``, ``\\n``,
    ``\\r``, ``\\t``, ``\\b``, ``\\a`` are escapes and ``\\<c>`` is ``<c>``; inside single
    quotes only ``\\'`` is an escape. A closing quote must be followed by a blank or the
    end of the line (``"foo"bar`` is unbalanced). A quote inside an unquoted word opens a
    quoted part of the same argument (``a"b c"`` is ``ab c``). A NUL byte ends the line.
    """
    if not any(ch in line for ch in _NEEDS_SLOW_SPLIT):
        return line.split()
    nul = line.find(b"\0")
    if nul >= 0:
        line = line[:nul]
    n = len(line)
    args: list[bytes] = []
    i = 0
    while True:
        while i < n and line[i] in _C_ISSPACE:
            i += 1
        if i >= n:
            return args
        cur = bytearray()
        in_dq = in_sq = False
        while True:
            c = line[i] if i < n else 0
            if in_dq:
                if (
                    c == 0x5C
                    and i + 3 < n
                    and line[i + 1] == 0x78
                    and line[i + 2] in _HEX
                    and line[i + 3] in _HEX
                ):
                    cur.append(int(line[i + 2 : i + 4], 16))
                    i += 3
                elif c == 0x5C and i + 1 < n:
                    i += 1
                    e = line[i]
                    cur.append(_ESCAPES.get(e, e))
                elif c == 0x22:
                    if i + 1 < n and line[i + 1] not in _C_ISSPACE:
                        return None
                    i += 1
                    break
                elif c == 0:
                    return None
                else:
                    cur.append(c)
            elif in_sq:
                if c == 0x5C and i + 1 < n and line[i + 1] == 0x27:
                    i += 1
                    cur.append(0x27)
                elif c == 0x27:
                    if i + 1 < n and line[i + 1] not in _C_ISSPACE:
                        return None
                    i += 1
                    break
                elif c == 0:
                    return None
                else:
                    cur.append(c)
            elif c in _TOKEN_END:
                if c:
                    i += 1
                break
            elif c == 0x22:
                in_dq = True
            elif c == 0x27:
                in_sq = True
            else:
                cur.append(c)
            i += 1
        args.append(bytes(cur))


class RequestParser:
    """Turns the bytes a client sends into commands, each a ``list[bytes]`` of arguments.

    Call :meth:`feed` with whatever the socket returned, then take commands with
    :meth:`next_command` (one at a time, None when more bytes are needed) or
    :meth:`drain` / iteration (every command complete so far). Commands come out in the
    order they were sent; a pipeline of thousands of commands in one :meth:`feed` is
    parsed in one pass. A command that is not complete yet is kept, with the arguments
    already parsed, until more bytes arrive; a large argument arriving in many pieces is
    copied once, when it is complete, not once per piece.

    Limits (Redis's defaults): ``max_bulk_len`` is ``proto-max-bulk-len``;
    ``max_multibulk_len`` caps the argument count; ``max_inline_len`` is
    ``PROTO_INLINE_MAX_SIZE``, the longest unterminated line (inline request or header)
    kept before giving up. Set :attr:`auth_required` while the client has not
    authenticated to apply Redis's tighter pre-AUTH limits (10 arguments, 16 KiB each).
    ``strict_crlf`` is described in the module docstring.

    Not thread-safe; one parser per connection.
    """

    __slots__ = (
        "_args",
        "_bulklen",
        "_data",
        "_error",
        "_left",
        "_pos",
        "_tail",
        "auth_required",
        "max_bulk_len",
        "max_inline_len",
        "max_multibulk_len",
        "strict_crlf",
    )

    def __init__(
        self,
        *,
        max_bulk_len: int = 512 * 1024 * 1024,
        max_multibulk_len: int = 1024 * 1024,
        max_inline_len: int = 64 * 1024,
        auth_required: bool = False,
        strict_crlf: bool = True,
    ) -> None:
        self.strict_crlf = strict_crlf
        self.max_bulk_len = max_bulk_len
        self.max_multibulk_len = max_multibulk_len
        self.max_inline_len = max_inline_len
        self.auth_required = auth_required
        self._data = b""  # bytes being parsed; everything before _pos is consumed
        self._pos = 0
        self._tail = bytearray()  # fed since _data was built
        self._left = 0  # arguments still missing from the current multibulk command
        self._bulklen = -1  # payload length of the argument being read, -1 before its header
        self._args: list[bytes] = []
        self._error: ProtocolError | None = None

    @property
    def idle(self) -> bool:
        """Whether every byte fed so far was returned in a command: nothing partial, no
        error pending, so the next bytes fed begin a command."""
        return (
            self._pos >= len(self._data)
            and not self._tail
            and not self._left
            and not self._args
            and self._error is None
        )

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Append bytes received from the client. Never parses and never raises."""
        if type(data) is bytes and not self._tail and self._pos >= len(self._data):
            self._data = data  # everything before was read: parse these in place, uncopied
            self._pos = 0
            return
        self._tail += data

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned in a command (Redis's query buffer length)."""
        return len(self._data) - self._pos + len(self._tail) + sum(len(a) for a in self._args)

    def next_command(self) -> list[bytes] | None:
        """The next complete command, or None until more bytes are fed.

        Raises :class:`ProtocolError` when the stream is malformed (and forever after).
        """
        if not self._tail and self._error is None:
            data, pos = self._data, self._pos
            if pos >= len(data):
                return None  # nothing unread (the inline path asks once more after each one)
            complete = _complete_commands
            if (
                complete is not None
                and not self._left
                and data[pos] == _STAR
                and not self.auth_required
            ):  # a command starts here: the C reads it if it is plain and complete
                got, pos = complete(
                    data, pos, 1, _c_limit(self.max_multibulk_len), _c_limit(self.max_bulk_len)
                )
                if got:
                    if pos >= len(data):
                        self._data = b""
                        pos = 0
                    self._pos = pos
                    return got[0]
        out: list[list[bytes]] = []
        self._parse(out, 1)
        return out[0] if out else None

    def drain(self) -> list[list[bytes]]:
        """Every complete command buffered now (possibly none), in order.

        If the stream turns malformed after some good commands, those are returned and the
        :class:`ProtocolError` is raised by the next call, so the server can answer the
        good ones before sending the error, as Redis does.
        """
        out: list[list[bytes]] = []
        self._parse(out, 1 << 62)
        return out

    def __iter__(self) -> Iterator[list[bytes]]:
        """Yield complete commands until more bytes are needed.

        Leaving the loop early loses nothing: the next iteration resumes after the last
        command yielded. A malformed stream raises once the good commands before it are out.
        """
        while (command := self.next_command()) is not None:
            yield command

    def _fail(self, message: str) -> ProtocolError:
        self._error = ProtocolError(message.replace("\r", " ").replace("\n", " "))
        return self._error

    def _parse(self, out: list[list[bytes]], limit: int) -> None:
        if self._error is not None:
            raise self._error
        try:
            self._parse_unchecked(out, limit)
        except ProtocolError:
            if out:
                return
            raise

    def _parse_unchecked(self, out: list[list[bytes]], limit: int) -> None:
        bulk_lens = _BULK_LENS
        counts = _COUNTS
        complete = _complete_commands
        max_bulk = self.max_bulk_len
        max_count = self.max_multibulk_len
        strict = self.strict_crlf
        if self.auth_required:
            max_bulk = min(max_bulk, _UNAUTH_MAX_BULK)
            max_count = min(max_count, _UNAUTH_MAX_MULTIBULK)
        c_count, c_bulk = _c_limit(max_count), _c_limit(max_bulk)
        while True:
            data = self._data
            end = len(data)
            find = data.find
            pos = self._pos
            left = self._left
            bulklen = self._bulklen
            args = self._args
            try:
                while len(out) < limit:
                    if left == 0:
                        if pos >= end:
                            break
                        if data[pos] != _STAR:
                            line = self._inline(data, pos, end)
                            if line is None:
                                break
                            pos, argv = line
                            if argv:
                                out.append(argv)
                            continue
                        if complete is not None:  # the plain complete ones, in C
                            got, pos = complete(data, pos, limit - len(out), c_count, c_bulk)
                            if got:
                                out += got
                                continue
                        r = find(b"\r", pos)
                        if r < 0 or r + 1 >= end:
                            if r < 0:
                                self._unterminated(pos, end, "mbulk count string")
                            break
                        count = counts.get(data[pos:r])
                        if count is None or count > max_count or (strict and data[r + 1] != 10):
                            count = self._count_header(data, pos, r, end)
                            if count is None:
                                break
                        pos = r + 2
                        if count <= 0:
                            continue
                        left = count
                        args = []
                    while left:
                        if bulklen < 0:
                            r = find(b"\r", pos)
                            if r < 0 or r + 1 >= end:
                                if r < 0:
                                    self._unterminated(pos, end, "bulk count string")
                                break
                            n = bulk_lens.get(data[pos:r])
                            if n is None or n > max_bulk or (strict and data[r + 1] != 10):
                                n = self._bulk_header(data, pos, r, end)
                                if n is None:
                                    break
                            bulklen = n
                            pos = r + 2
                        stop = pos + bulklen
                        if stop + 2 > end:
                            break
                        if strict and (data[stop] != 13 or data[stop + 1] != 10):
                            raise self._fail("Protocol error: invalid CRLF in request")
                        args.append(data[pos:stop])
                        pos = stop + 2
                        bulklen = -1
                        left -= 1
                    if left:
                        break
                    out.append(args)
                    args = []
            finally:
                if pos >= end:
                    self._data = b""
                    self._pos = 0
                else:
                    self._pos = pos
                self._left = left
                self._bulklen = bulklen
                self._args = args
            if len(out) >= limit:
                return
            tail = self._tail
            if not tail or (bulklen >= 0 and end - pos + len(tail) < bulklen + 2):
                return
            self._data = data[pos:end] + tail if pos < end else bytes(tail)
            self._pos = 0
            tail.clear()

    def _unterminated(self, pos: int, end: int, what: str) -> None:
        """A line with no end yet: wait for more bytes, or fail if it is already too long."""
        if end - pos > self.max_inline_len:
            raise self._fail(f"Protocol error: too big {what}")

    def _count_header(self, data: bytes, pos: int, r: int, end: int) -> int | None:
        """Validate ``*<count>`` in ``data[pos:r]``: the count, None to wait, or raise."""
        if data.find(b"\0", pos, r) >= 0:
            self._unterminated(pos, end, "mbulk count string")
            return None
        if self.strict_crlf and data[r + 1] != 10:
            raise self._fail("Protocol error: invalid CRLF in request")
        count = _string2ll(data[pos + 1 : r])
        if count is None or count > self.max_multibulk_len:
            raise self._fail("Protocol error: invalid multibulk length")
        if count > _UNAUTH_MAX_MULTIBULK and self.auth_required:
            raise self._fail("Protocol error: unauthenticated multibulk length")
        return count

    def _bulk_header(self, data: bytes, pos: int, r: int, end: int) -> int | None:
        """Validate ``$<len>`` in ``data[pos:r]``: the length, None to wait, or raise."""
        if data.find(b"\0", pos, r) >= 0:
            self._unterminated(pos, end, "bulk count string")
            return None
        if self.strict_crlf and data[r + 1] != 10:
            raise self._fail("Protocol error: invalid CRLF in request")
        if data[pos] != _DOLLAR:
            raise self._fail(f"Protocol error: expected '$', got '{chr(data[pos])}'")
        n = _string2ll(data[pos + 1 : r])
        if n is None or n < 0 or n > self.max_bulk_len:
            raise self._fail("Protocol error: invalid bulk length")
        if n > _UNAUTH_MAX_BULK and self.auth_required:
            raise self._fail("Protocol error: unauthenticated bulk length")
        if len(_BULK_LENS) < _CACHE_MAX:
            _BULK_LENS[data[pos:r]] = n
        return n

    def _inline(self, data: bytes, pos: int, end: int) -> tuple[int, list[bytes]] | None:
        """Parse one inline line at ``pos``: (position after it, arguments), or None to wait."""
        nl = data.find(b"\n", pos)
        if nl < 0 or data.find(b"\0", pos, nl) >= 0:
            self._unterminated(pos, end, "inline request")
            return None
        stop = nl - 1 if nl > pos and data[nl - 1] == 0x0D else nl
        self._unterminated(pos, stop, "inline request")
        argv = split_args(data[pos:stop])
        if argv is None:
            raise self._fail("Protocol error: unbalanced quotes in request")
        return nl + 1, argv
