"""The C libraries scripts call (``struct``, ``bit``, ``cmsgpack``), memvec against the
peer, raw RESP replies compared: for ``struct`` (pack / unpack / size) the documented
cases, lua-struct's error texts, the edges C leaves to the processor (NaN, huge and
negative numbers, integers wider than 8 bytes), and random formats and values packed on
both servers and unpacked again (from a fixed seed, one script each); for ``bit`` and
``cmsgpack`` their argument checks, Lua's error texts and the script position they name
(also in tail position, ``return bit.band(x)``, where a Lua wrapper would lose it).
"""

from __future__ import annotations

import hashlib
import random

import pytest

from tests.server.test_scripting_differential import (  # noqa: F401
    RawPair,
    encode,
    memvec_server,
    pair,
)

CASES = [
    "return struct.pack('>i', 5)",
    "return struct.pack('<h', -2)",
    "return struct.pack('bBhHlLTiI', -1, 255, -300, 65000, -5, 5, 7, -9, 9)",
    "return struct.pack('i3', 70000)",
    "return struct.pack('>i16', -1)",
    "return struct.pack('>I', -1)",
    "return struct.pack('>L', 2^63)",
    "return struct.pack('>L', 1e30)",
    "return struct.pack('>L', 0/0)",
    "return struct.pack('>l', -1e30)",
    "return struct.pack('>f', 1.1)",
    "return struct.pack('>f', 1e300)",
    "return struct.pack('<d', -0.5)",
    "return struct.pack('c5', 'hello world')",
    "return struct.pack('c0', 'whole')",
    "return struct.pack('c0', 12.5)",
    "return struct.pack('s', 'ab')",
    "return struct.pack('>i', '12')",
    "return struct.pack('>i', ' 0x10 ')",
    "return struct.pack('!i', 1)",
    "return struct.pack('b!4i', 1, 2)",
    "return struct.pack('bi', 1, 2)",
    "return struct.pack('b!d', 1, 2)",
    "return struct.pack('b!2xh', 1, 2)",
    "return struct.pack(' > i ', 1)",
    "return struct.pack('z')",
    "return struct.pack(12)",
    "return struct.pack()",
    "return struct.pack({})",
    "return struct.pack('>i')",
    "return struct.pack('>i', nil)",
    "return struct.pack('>i', 'x')",
    "return struct.pack('>i', true)",
    "return struct.pack('c', true)",
    "return struct.pack('c5', 'ab')",
    "return struct.pack('i40', 1)",
    "return struct.pack('i99999999999', 1)",
    "return struct.pack('!3i', 1)",
    "return {struct.unpack('>i', 'abcd')}",
    "return {struct.unpack('>i', 'ab')}",
    "return {struct.unpack('>i')}",
    "return {struct.unpack('>i', 'abcd', 1.9)}",
    "return {struct.unpack('>i', 'abcd', '1')}",
    "return {struct.unpack('>h', 'abcd', 0)}",
    "return {struct.unpack('>b', 'a', -1)}",
    "return {struct.unpack('>b', 'a', 'x')}",
    "return {struct.unpack('<I4', 'abcd', 2)}",
    "return {struct.unpack('>i16', string.rep('\\255', 16))}",
    "return {struct.unpack('>I16', string.rep('\\255', 16))}",
    "return {struct.unpack('>I8', string.rep('\\255', 8))}",
    "return {struct.unpack('>i3', struct.pack('>i3', -2))}",
    "return {struct.unpack('>d', struct.pack('>d', 1.5))}",
    "return {struct.unpack('>f', struct.pack('>f', 1.1))}",
    "return {struct.unpack('c0', 'abc')}",
    "return {struct.unpack('c1c0', '3abcd')}",
    "return {struct.unpack('bc0', '\\002abcd')}",
    "return {struct.unpack('bc0', '\\009abcd')}",
    "return {struct.unpack('s', 'ab')}",
    "return {struct.unpack('ss', 'ab\\0cd\\0e')}",
    "return {struct.unpack('x', '')}",
    "return {struct.unpack('xb', 'ab')}",
    "return {struct.unpack('', 'abc', 3)}",
    "return {struct.unpack('', 'abc', 9)}",
    "return {struct.unpack('!4bi', 'abcdefgh')}",
    "return {struct.unpack('z', 'abc')}",
    "return struct.size('>!4bi')",
    "return struct.size('z')",
    "return struct.size('s')",
    "return struct.size('c0')",
    "return struct.size('c7i')",
    "return struct.size('!')",
    "return struct.size('!16d')",
    "return struct.size('!3')",
    "struct.x = 1",
    "return type(struct)",
    "return bit.band('12', 3)",
    "return bit.band()",
    "return bit.band(1, 'x', {})",
    "return bit.bor(1, nil)",
    "return bit.tohex()",
    "return bit.tohex(1, 'x')",
    "return bit.tohex(255, -4)",
    "return bit.tohex(1, nil)",
    "return bit.lshift(1)",
    "return bit.bnot({})",
    "local x = bit.rol(1, true) return x",
    "return bit.bswap('0x01020304')",
    "return cmsgpack.pack()",
    "return cmsgpack.unpack({})",
    "return cmsgpack.unpack(12)",
    "return cmsgpack.unpack('\\193')",
    "return {cmsgpack.unpack_limit('\\001\\002', 1, 'x')}",
    "return {cmsgpack.unpack_limit('\\001\\002', '1')}",
    "return {cmsgpack.unpack_limit('\\001\\002')}",
    "return {cmsgpack.unpack_limit('\\001\\002', 1, 5)}",
    "return {cmsgpack.unpack_one(123)}",
    "return {cmsgpack.unpack_one('\\001\\002', 1)}",
    "return {cmsgpack.unpack_one()}",
    "return {pcall(function() return bit.band('x') end)}",
]


@pytest.mark.parametrize("case", CASES)
def test_struct_case(pair: RawPair, case: str) -> None:  # noqa: F811
    pair.both("EVAL", case, "0")
    assert not pair.mismatches, "\n".join(pair.mismatches)


def _random_script(rng: random.Random) -> str:
    """A format of random items and matching values: pack, then unpack what was packed."""
    fmt = [rng.choice(["<", ">", ""])]
    values: list[str] = []
    for _ in range(rng.randint(1, 6)):
        opt = rng.choice("bBhHlLTiIfdcsx!")
        if opt == "!":
            fmt.append("!" + rng.choice(["", "1", "2", "4", "8"]))
        elif opt in "iI":
            fmt.append(opt + rng.choice(["", "1", "2", "3", "4", "8", "12"]))
            values.append(repr(rng.choice([0, 1, -1, 127, -128, 2**31, -(2**40), 2**53, 3.7])))
        elif opt in "bBhHlLT":
            fmt.append(opt)
            values.append(repr(rng.choice([0, 1, -1, 255, -129, 65536, 2**62, -7.9])))
        elif opt in "fd":
            fmt.append(opt)
            values.append(rng.choice(["0.1", "-2.5", "1e38", "1e-40", "3"]))
        elif opt == "c":
            n = rng.randint(1, 4)
            fmt.append(f"c{n}")
            values.append(repr("xyzw"[:n] + "q"))
        elif opt == "s":
            fmt.append("s")
            values.append(repr(rng.choice(["", "ab", "hello"])))
        else:
            fmt.append("x")
    f = "".join(fmt)
    args = ", ".join(values)
    packed = f"struct.pack('{f}'{', ' if args else ''}{args})"
    return f"local p = {packed}; local t = {{struct.unpack('{f}', p)}}; t[#t + 1] = p; " \
           f"t[#t + 1] = struct.size('{f.replace('s', '')}'); return t"  # fmt: skip


def test_random_formats_round_trip_as_on_the_peer(pair: RawPair) -> None:  # noqa: F811
    rng = random.Random(7)
    for _ in range(150):
        pair.both("EVAL", _random_script(rng), "0")
    assert not pair.mismatches, "\n".join(pair.mismatches[:5])


def _evicted_scripts(pair: RawPair) -> tuple[int, int]:  # noqa: F811
    """(memvec's, the peer's) INFO evicted_scripts."""
    out = []
    for client in (pair.mine, pair.theirs):
        client.send(encode("INFO", "stats"))
        reply = client.read_reply()
        line = next(x for x in reply.split(b"\r\n") if x.startswith(b"evicted_scripts:"))
        out.append(int(line.split(b":")[1]))
    return out[0], out[1]


def test_eval_cache_evicts_the_least_recently_run_script(pair: RawPair) -> None:  # noqa: F811
    """Scripts EVAL cached are evicted past 500, least recently run first; SCRIPT LOAD
    takes a script out of eviction; INFO counts evictions, as the peer."""
    pair.both("SCRIPT", "FLUSH")
    tag = random.Random().getrandbits(48)
    body = [f"return {i} -- {tag}" for i in range(503)]
    sha = [hashlib.sha1(b.encode()).hexdigest() for b in body]
    before = _evicted_scripts(pair)
    pair.both("EVAL", body[0], "0")
    pair.both("EVAL", body[1], "0")
    pair.both("SCRIPT", "LOAD", body[1])  # out of the eviction order for good
    pair.both("EVAL", body[2], "0")
    for i in range(3, 502):
        pair.both("EVAL", body[i], "0")
        if i == 300:
            pair.both("EVALSHA", sha[2], "0")  # run again: the most recent now
    pair.both("SCRIPT", "EXISTS", *sha)
    pair.both("EVAL", body[0], "0")  # evicted by now: cached again, evicting another
    pair.both("SCRIPT", "EXISTS", *sha)
    pair.both("EVALSHA", sha[3], "0")
    after = _evicted_scripts(pair)
    assert not pair.mismatches, "\n".join(pair.mismatches[:5])
    assert after[0] - before[0] == after[1] - before[1] > 0


def test_function_dump_and_restore_as_the_peer(pair: RawPair) -> None:  # noqa: F811
    """FUNCTION DUMP is byte-identical for one library; RESTORE's policies, errors and
    the libraries it leaves match; two libraries dumped by each server restore on the
    other (their order in the payload is each server's own)."""
    tag = random.Random().getrandbits(32)
    lib = f"#!lua name=lib{tag}\nredis.register_function('fa{tag}', function(k, a) return a[1] end)"
    lib2 = f"#!lua name=two{tag}\nredis.register_function('fb{tag}', function(k, a) return 2 end)"
    clash = f"#!lua name=other{tag}\nredis.register_function('fa{tag}', function() return 1 end)"
    pair.both("FUNCTION", "FLUSH")
    pair.both("FUNCTION", "DUMP")  # no library: the version and checksum only
    pair.both("FUNCTION", "LOAD", lib)
    one = pair.both("FUNCTION", "DUMP")
    payload = one[one.index(b"\r\n") + 2 : -2]
    pair.both("FUNCTION", "RESTORE", payload)
    pair.both("FUNCTION", "RESTORE", payload, "replace")
    pair.both("FUNCTION", "RESTORE", payload, "FLUSH")
    pair.both("FUNCTION", "RESTORE", payload, "BAD")
    pair.both("FUNCTION", "RESTORE", payload, "FLUSH", "x")
    pair.both("FUNCTION", "RESTORE", payload[:-1] + b"x")
    pair.both("FUNCTION", "RESTORE", b"xx")
    pair.both("SET", f"fstr{tag}", "v")
    dumped = pair.both("DUMP", f"fstr{tag}")
    pair.both("FUNCTION", "RESTORE", dumped[dumped.index(b"\r\n") + 2 : -2])
    pair.both("DEL", f"fstr{tag}")
    pair.both("FUNCTION", "FLUSH")
    pair.both("FUNCTION", "LOAD", clash)
    pair.both("FUNCTION", "RESTORE", payload)  # a function name another library holds
    pair.both("FUNCTION", "RESTORE", payload, "REPLACE")
    pair.both("FUNCTION", "RESTORE", payload, "FLUSH")
    pair.both("FUNCTION", "LOAD", lib2)
    for name in (f"lib{tag}", f"two{tag}"):  # one at a time: the peer lists in hash order
        pair.both("FUNCTION", "LIST", "LIBRARYNAME", name, "WITHCODE")
    payloads = []
    for client in (pair.mine, pair.theirs):
        client.send(encode("FUNCTION", "DUMP"))
        raw = client.read_reply()
        payloads.append(raw[raw.index(b"\r\n") + 2 : -2])
    pair.both("FUNCTION", "FLUSH")
    for client, other in ((pair.mine, payloads[1]), (pair.theirs, payloads[0])):
        client.send(encode("FUNCTION", "RESTORE", other))
        assert client.read_reply() == b"+OK\r\n"
    for name in (f"lib{tag}", f"two{tag}"):  # one at a time: the peer lists in hash order
        pair.both("FUNCTION", "LIST", "LIBRARYNAME", name, "WITHCODE")
    pair.both("FCALL", f"fa{tag}", "0", "hi")
    pair.both("FUNCTION", "FLUSH")
    assert not pair.mismatches, "\n".join(pair.mismatches[:5])
