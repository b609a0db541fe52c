"""JSON text in and out, as RedisJSON reads and writes it (serde_json, ryu, ijson).

* Parsing keeps integers in RedisJSON's range (signed 64-bit, or unsigned 64-bit above
  ``i64::MAX``) as ``int``; any other number is a ``float`` computed as serde_json
  computes it (:func:`serde_number`: not always the nearest double, and the peer's
  documents hold exactly those values).
  Errors are serde_json's messages (``expected value at line 1 column 1``) for the
  common cases; the message text for rarer malformed input may differ (see
  docs/compatibility.md).
* Doubles print as ryu does: the shortest round-trip digits, ``1.0`` keeps its ``.0``,
  plain notation for exponents -5..15 and ``1e20`` / ``1.5e-7`` beyond.
* Strings escape ``"``, ``\\`` and control characters only (``\\n``, ``\\u001f``);
  everything else, non-ASCII included, is written as UTF-8.
* :func:`dumps` takes RedisJSON's JSON.GET ``INDENT``/``NEWLINE``/``SPACE`` strings.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

__all__ = ["JsonParseError", "dumps", "format_double", "loads", "type_name", "value_depth"]


class JsonParseError(ValueError):
    """Text that is not JSON; ``str()`` is serde_json's message."""


# --------------------------------------------------------------------------- output
def format_double(value: float) -> str:
    """``value`` as ryu (serde_json) writes it."""
    text = repr(value)
    if "e" not in text and "n" not in text:
        return text  # shortest digits in plain notation: what ryu writes for these too
    if not math.isfinite(value):
        return "null"
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    text = repr(value)
    sign = ""
    if text.startswith("-"):
        sign, text = "-", text[1:]
    mantissa, _, exp_text = text.partition("e")
    exp = int(exp_text) if exp_text else 0
    whole, _, frac = mantissa.partition(".")
    if frac == "0":
        frac = ""
    digits = (whole + frac).lstrip("0")
    # value = 0.digits * 10**point
    point = len(whole) + exp if whole != "0" else exp - (len(frac) - len(frac.lstrip("0")))
    digits = digits.rstrip("0") or "0"
    n = len(digits)
    k = point - n  # value = digits * 10**k
    kk = point
    if k >= 0 and kk <= 16:
        out = digits + "0" * k + ".0"
    elif 0 < kk <= 16:
        out = digits[:kk] + "." + digits[kk:]
    elif -5 < kk <= 0:
        out = "0." + "0" * (-kk) + digits
    elif n == 1:
        out = f"{digits}e{kk - 1}"
    else:
        out = f"{digits[0]}.{digits[1:]}e{kk - 1}"
    return sign + out


_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f]')


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    return _ESCAPES.get(ch) or f"\\u{ord(ch):04x}"


def dump_string(s: str) -> str:
    return '"' + _NEEDS_ESCAPE.sub(_escape, s) + '"'


def _compact(value: Any, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        out.append(format_double(value))
    elif isinstance(value, str):
        out.append(dump_string(value))
    elif isinstance(value, list):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _compact(item, out)
        out.append("]")
    else:
        out.append("{")
        for i, (k, v) in enumerate(value.items()):
            if i:
                out.append(",")
            out.append(dump_string(k))
            out.append(":")
            _compact(v, out)
        out.append("}")


def _pretty(value: Any, out: list[str], depth: int, indent: str, newline: str, space: str) -> None:
    if isinstance(value, list) and value:
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            out.append(newline + indent * (depth + 1))
            _pretty(item, out, depth + 1, indent, newline, space)
        out.append(newline + indent * depth + "]")
    elif isinstance(value, dict) and value:
        out.append("{")
        for i, (k, v) in enumerate(value.items()):
            if i:
                out.append(",")
            out.append(newline + indent * (depth + 1))
            out.append(dump_string(k))
            out.append(":" + space)
            _pretty(v, out, depth + 1, indent, newline, space)
        out.append(newline + indent * depth + "}")
    else:
        _compact(value, out)


# A JSON string literal (skipped) or a number Python wrote with an exponent (rewritten).
_EXPONENT_NUMBERS = re.compile(r'"(?:[^"\\]|\\.)*"|(?<![\d.])-?\d+(?:\.\d+)?e[+-]\d+')
_FAST_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _rewrite_exponent(match: re.Match[str]) -> str:
    token = match.group()
    return token if token.startswith('"') else format_double(float(token))


def dumps(
    value: Any, indent: str | None = None, newline: str | None = None, space: str | None = None
) -> str:
    """``value`` as JSON text, compact unless a formatting string is given."""
    out: list[str] = []
    if indent is None and newline is None and space is None:
        # Python's C encoder writes what serde_json writes (same escapes, key order,
        # integers, shortest float digits) except numbers in exponent form: fix those.
        text = _FAST_ENCODER.encode(value)
        if "e+" in text or "e-" in text:
            text = _EXPONENT_NUMBERS.sub(_rewrite_exponent, text)
        return text
    else:
        _pretty(value, out, 0, indent or "", newline or "", space or "")
    return "".join(out)


def type_name(value: Any) -> str:
    """JSON.TYPE's name for ``value``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


# ---------------------------------------------------------------------------- input
U64_MAX = 2**64 - 1
POW10 = [float(f"1e{i}") for i in range(309)]


def _overflows(acc: int, digit: int, limit: int) -> bool:
    return acc >= limit // 10 and (acc > limit // 10 or digit > limit % 10)


def _from_parts(positive: bool, significand: int, exponent: int, text: str) -> float:
    """serde_json's ``f64_from_parts``: the significand times a power of ten from its
    table (not correctly rounded: ``180144.23492546822`` reads as ...825, as on the peer)."""
    f = float(significand)
    while True:
        if abs(exponent) < len(POW10):
            pow10 = POW10[abs(exponent)]
            if exponent >= 0:
                f *= pow10
                if math.isinf(f):
                    raise _OutOfRange(text)
            else:
                f /= pow10
            break
        if f == 0.0:
            break
        if exponent >= 0:
            raise _OutOfRange(text)
        f /= 1e308
        exponent += 308
    return f if positive else -f


def serde_number(text: str) -> int | float:
    """A JSON number literal (already validated) read the way serde_json reads it: an
    integer in u64 (or i64 when negative) stays an integer, anything else a double."""
    positive = not text.startswith("-")
    digits = text if positive else text[1:]
    mantissa, _, exp_text = digits.replace("E", "e").partition("e")
    whole, dot, frac = mantissa.partition(".")
    if len(whole) + len(frac) <= 19 and len(exp_text) <= 5:
        # the common case: the significand fits u64 (no digit is dropped), one step
        significand = int(whole + frac)
        if not dot and not exp_text:
            if positive:
                return significand
            return -significand if significand <= 2**63 else -float(significand)
        exponent = -len(frac) + (int(exp_text) if exp_text else 0)
        return _from_parts(positive, significand, exponent, text)
    significand = 0
    exponent = 0
    overflowed = False
    for ch in whole:
        d = ord(ch) - 48
        if overflowed or _overflows(significand, d, U64_MAX):
            overflowed = True
            exponent += 1
            continue
        significand = significand * 10 + d
    if not dot and not exp_text and not overflowed:
        if positive:
            return significand
        neg = -significand
        return neg if neg < 0 and neg >= -(2**63) else -float(significand)
    for ch in frac:
        d = ord(ch) - 48
        if overflowed or _overflows(significand, d, U64_MAX):
            overflowed = True
            continue
        significand = significand * 10 + d
        exponent -= 1
    if exp_text:
        sign = -1 if exp_text.startswith("-") else 1
        raw = exp_text.lstrip("+-")
        exp_value = 0
        for ch in raw:
            d = ord(ch) - 48
            if _overflows(exp_value, d, 2**31 - 1):
                if significand != 0 and sign > 0:
                    raise _OutOfRange(text)
                return 0.0 if positive else -0.0
            exp_value = exp_value * 10 + d
        exponent = max(-(2**31), min(2**31 - 1, exponent + sign * exp_value))
    return _from_parts(positive, significand, exponent, text)


def _int_hook(text: str) -> int | float:
    return serde_number(text)


def _float_hook(text: str) -> float:
    return float(serde_number(text))


class _OutOfRange(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    raise json.JSONDecodeError("expected value", name, 0)


_DECODER = json.JSONDecoder(
    parse_int=_int_hook, parse_float=_float_hook, parse_constant=_reject_constant
)

MAX_DEPTH = 127  # serde_json's recursion limit: the 128th nested container is refused


def _line_col(text: str, pos: int) -> tuple[int, int]:
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1)
    return line, col


def _serde_message(text: str, err: json.JSONDecodeError) -> str:
    """serde_json's message for the error Python found at ``err.pos``."""
    pos = err.pos
    msg = err.msg
    if pos >= len(text.rstrip(" \t\r\n")) and msg != "Extra data":
        line, col = _line_col(text, len(text))
        return f"EOF while parsing {_eof_context(text)} at line {line} column {col}"
    line, col = _line_col(text, pos)
    col += 1
    if msg == "Extra data":
        return f"trailing characters at line {line} column {col}"
    if msg.startswith("Expecting property name"):
        return f"key must be a string at line {line} column {col}"
    if msg.startswith("Expecting ':'"):
        return f"expected `:` at line {line} column {col}"
    if msg.startswith("Expecting ',' delimiter"):
        inner = _innermost(text, pos)
        what = "object" if inner == "{" else "list"
        return f"expected `,` or `{'}' if what == 'object' else ']'}` at line {line} column {col}"
    if msg.startswith("Unterminated string"):
        line, col = _line_col(text, len(text))
        return f"EOF while parsing a string at line {line} column {col}"
    if msg.startswith("Invalid control character"):
        return (
            "control character (\\u0000-\\u001F) found while parsing a string "
            f"at line {line} column {col}"
        )
    if msg.startswith("Invalid \\escape") or msg.startswith("Invalid \\u"):
        return f"invalid escape at line {line} column {col}"
    return f"expected value at line {line} column {col}"


def _innermost(text: str, pos: int) -> str:
    stack: list[str] = []
    in_str = esc = False
    for ch in text[:pos]:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            stack.append(ch)
        elif ch in "]}" and stack:
            stack.pop()
    return stack[-1] if stack else ""


def _eof_context(text: str) -> str:
    stripped = text.rstrip(" \t\r\n")
    inner = _innermost(text, len(text))
    if stripped.count('"') % 2 == 1 and not stripped.endswith('\\"'):
        return "a string"
    if inner == "{":
        return "an object"
    if inner == "[":
        return "a list"
    return "a value"


def _too_deep_at(text: str) -> int | None:
    """Where serde_json's recursion limit stops ``text`` (the offset of the first
    container opened beyond :data:`MAX_DEPTH`), None if it does not."""
    depth = 0
    in_str = esc = False
    for i, ch in enumerate(text):
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return i
        elif ch in "]}":
            depth -= 1
    return None


def value_depth(value: Any) -> int:
    """How many containers nest in ``value`` (0 for a scalar)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict):
            deepest = max(deepest, level)
            stack.extend((v, level + 1) for v in node.values())
        elif isinstance(node, list):
            deepest = max(deepest, level)
            stack.extend((v, level + 1) for v in node)
    return deepest


def loads(text: str) -> Any:
    """Parse one JSON value; :class:`JsonParseError` with serde_json's message."""
    if text.count("[") + text.count("{") > MAX_DEPTH:
        at = _too_deep_at(text)
        if at is not None:
            line, col = _line_col(text, at)
            raise JsonParseError(f"recursion limit exceeded at line {line} column {col + 1}")
    try:
        value, end = _DECODER.raw_decode(text, _skip_ws(text))
    except _OutOfRange as err:
        number = str(err)
        end = text.find(number) + len(number)  # the first such literal: close enough
        line, col = _line_col(text, end)
        raise JsonParseError(f"number out of range at line {line} column {col}") from None
    except json.JSONDecodeError as err:
        raise JsonParseError(_serde_message(text, err)) from None
    except RecursionError:
        raise JsonParseError("recursion limit exceeded at line 1 column 1") from None
    rest = _skip_ws(text, end)
    if rest != len(text):
        line, col = _line_col(text, rest)
        raise JsonParseError(f"trailing characters at line {line} column {col + 1}")
    return value


def _skip_ws(text: str, pos: int = 0) -> int:
    n = len(text)
    while pos < n and text[pos] in " \t\r\n":
        pos += 1
    return pos
