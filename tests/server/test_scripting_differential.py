"""EVAL / EVALSHA / SCRIPT / FUNCTION / FCALL sent to `memvec server` and to the peer,
raw RESP replies compared byte for byte, in RESP2 and RESP3: conversions both ways,
redis.call / pcall error texts and script locations, the sandbox's messages, numkeys
validation, read-only scripts, cjson and bit, function libraries (load errors, LIST,
STATS, FCALL_RO), MULTI/EXEC with EVAL inside, and per-call ACL.

One memvec server per module; every key, library and function name carries a unique
prefix, and everything created on the shared peer is deleted at the end.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from store.config import FsyncPolicy
from store.server import ServerConfig, ServerThread
from tests.harness.components import RedisStack
from tests.server.conftest import RawClient


def encode(*args: str | bytes) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        data = a.encode() if isinstance(a, str) else a
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


@pytest.fixture(scope="module")
def memvec_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    data: Path = tmp_path_factory.mktemp("scripting-memvec")
    thread = ServerThread(
        ServerConfig(port=0, data_dir=data, appendfsync=FsyncPolicy.ALWAYS)
    ).start()
    try:
        yield thread
    finally:
        thread.stop()


class RawPair:
    """Raw clients on memvec and on the peer, same protocol; replies compared as bytes."""

    def __init__(self, port: int, peer_port: int, protocol: int) -> None:
        self.mine = RawClient(port)
        self.theirs = RawClient(peer_port)
        self.mismatches: list[str] = []
        if protocol == 3:
            self.both("HELLO", "3", check=False)

    def both(self, *args: str | bytes, check: bool = True) -> bytes:
        data = encode(*args)
        self.mine.send(data)
        self.theirs.send(data)
        mine, theirs = self.mine.read_reply(), self.theirs.read_reply()
        if check and mine != theirs:
            self.mismatches.append(f"{args!r}:\n  memvec {mine!r}\n  peer   {theirs!r}")
        return mine

    def close(self) -> None:
        self.mine.close()
        self.theirs.close()


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def pair(
    request: pytest.FixtureRequest, memvec_server: ServerThread, redis_stack: RedisStack
) -> Iterator[RawPair]:
    p = RawPair(memvec_server.port, redis_stack.port, request.param)
    try:
        yield p
    finally:
        p.close()


@pytest.fixture
def prefix(pair: RawPair) -> Iterator[str]:
    px = f"sc{uuid.uuid4().hex[:8]}"
    try:
        yield px
    finally:
        pair.both("EVAL", "for _, k in ipairs(redis.call('keys', ARGV[1])) do "
                  "redis.call('del', k) end", "0", f"{px}*", check=False)  # fmt: skip


def scripts(k: str) -> list[tuple[str, ...]]:
    """(body, numkeys, keys and args...) of EVAL calls: every reply compared."""
    return [
        ("return 1", "0"),
        ("return {1,2,nil,3}", "0"),
        ("return 3.99", "0"),
        ("return -3.7", "0"),
        ("return {true,false,nil}", "0"),
        ("return true", "0"),
        ("return false", "0"),
        ("return nil", "0"),
        ("return 'x'", "0"),
        ("return {err='My err'}", "0"),
        ("return {ok='fine'}", "0"),
        ("return {ok=5}", "0"),
        ("return redis.error_reply('x y')", "0"),
        ("return redis.error_reply('-PFX msg')", "0"),
        ("return redis.status_reply('FINE')", "0"),
        ("return {1,{2,{3,'x'}},{ok='fine'},{err='bad'}}", "0"),
        ("return {double=3.5}", "0"),
        ("return {map={a=1}}", "0"),
        ("return {set={a=true}}", "0"),
        ("return {big_number='123'}", "0"),
        ("return KEYS", "2", f"{k}a", f"{k}b", "x"),
        ("return ARGV", "1", f"{k}a", "x", "y"),
        ("return {#KEYS, #ARGV}", "0", "x", "y"),
        ("return redis.call('set', KEYS[1], ARGV[1])", "1", f"{k}s", "v1"),
        ("return redis.call('get', KEYS[1])", "1", f"{k}s"),
        ("return redis.call('incr', KEYS[1])", "1", f"{k}s"),
        ("return redis.pcall('incr', KEYS[1])", "1", f"{k}s"),
        ("local t = redis.pcall('incr', KEYS[1]) return {t.err, type(t)}", "1", f"{k}s"),
        ("local x = 1\nlocal y = 2\nreturn redis.call('incr', KEYS[1])", "1", f"{k}s"),
        ("local ok, e = pcall(redis.call, 'incr', KEYS[1]) return {tostring(ok), e}", "1", f"{k}s"),
        ("return redis.call('get', KEYS[1])", "1", f"{k}none"),
        ("return type(redis.call('get', KEYS[1]))", "1", f"{k}none"),
        ("redis.call('set', KEYS[1], 3.5) return redis.call('get', KEYS[1])", "1", f"{k}n"),
        ("redis.call('set', KEYS[1], 1e20) return redis.call('get', KEYS[1])", "1", f"{k}n"),
        ("redis.call('set', KEYS[1], -0.1) return redis.call('get', KEYS[1])", "1", f"{k}n"),
        (
            "redis.call('hset', KEYS[1], 'f', 'v', 'g', 'w') return redis.call('hgetall', KEYS[1])",
            "1",
            f"{k}h",
        ),
        ("redis.setresp(3) return redis.call('hgetall', KEYS[1])", "1", f"{k}h"),
        ("redis.setresp(3) local t = redis.call('hgetall', KEYS[1]) return t.map.f", "1", f"{k}h"),
        ("redis.setresp(3) return redis.call('get', KEYS[1])", "1", f"{k}none"),
        ("redis.setresp(3) return type(redis.call('get', KEYS[1]))", "1", f"{k}none"),
        ("redis.setresp(3) return {true, false}", "0"),
        ("redis.setresp(4)", "0"),
        ("return redis.call('hgetall', KEYS[1])", "1", f"{k}nohash"),
        ("return x", "0"),
        ("x = 1", "0"),
        ("error('boom')", "0"),
        ("error({err='MYERR bad'})", "0"),
        ("error({foo=1})", "0"),
        ("error(nil)", "0"),
        ("return redis.call('nosuch')", "0"),
        ("return redis.pcall('nosuch')", "0"),
        ("return redis.call()", "0"),
        ("return redis.call('get')", "0"),
        ("return redis.call('ping')", "0"),
        ("return redis.call('echo', 'x')", "0"),
        ("return redis.call('multi')", "0"),
        ("return redis.call('eval', 'return 1', '0')", "0"),
        ("return redis.call('set', 'a', {})", "0"),
        ("return redis.sha1hex('')", "0"),
        ("return syntax error", "0"),
        ("return cjson.encode({1, 2, {a=1}})", "0"),
        ("return cjson.encode({})", "0"),
        ("return cjson.encode({a='x/y'})", "0"),
        (
            "local t = cjson.decode('[1,null,{\"a\":true}]') "
            "return {t[1], type(t[2]), tostring(t[3].a), tostring(t[2] == cjson.null)}",
            "0",
        ),
        (
            "return bit.band(0xff, 0x0f) .. ' ' .. bit.tohex(255) .. ' ' .. bit.bnot(0) .. ' ' "
            ".. bit.lshift(1, 31) .. ' ' .. bit.bxor(5, 3) .. ' ' .. bit.rshift(-1, 28)",
            "0",
        ),
        (
            "local r = {} for _, n in ipairs({'bit', 'cjson', 'os', 'io', 'require', 'loadstring',"
            " 'getfenv', 'setfenv', 'dofile', 'loadfile', 'print', 'module', 'string', 'math',"
            " 'table', 'coroutine', 'pcall', 'unpack', 'newproxy', 'rawset', '_G', 'xpcall',"
            " 'KEYS', 'ARGV', 'redis', 'package', 'debug'}) do "
            "local ok, v = pcall(function() return _G[n] end) "
            "table.insert(r, n .. '=' .. (ok and type(v) or 'missing')) end return r",
            "0",
        ),
        ("return type(os.clock)", "0"),
        ("setmetatable(_G, {})", "0"),
        ("local g = getmetatable(_G) g.__index = {}", "0"),
        ("redis = function() return 1 end", "0"),
        ("_G = {}", "0"),
        ("redis.call = function() return 1 end", "0"),
        ("cjson.encode = function() return 1 end", "0"),
        ("bit.band = function() return 1 end", "0"),
        ("local t = {} setmetatable(t, {__index = function() return 5 end}) return t.x", "0"),
        ("return string.format('%d-%s', 5, 'x')", "0"),
        *(
            (
                "local e = cmsgpack.pack(" + v + ") local h = '' for i = 1, #e do "
                "h = h .. string.format('%02x', string.byte(e, i)) end return h",
                "0",
            )
            for v in [
                "0.1",
                "1.5",
                "-1099511627776",
                "127",
                "128",
                "-33",
                "65536",
                "'abc'",
                "string.rep('x', 40)",
                "{}",
                "{1, 2, 3}",
                "{a = 1}",
                "true, nil, false",
                "{1, {2, {3}}}",
                "2^64",
                "-2^63",
            ]
        ),
        (
            "local a, b, c = cmsgpack.unpack(cmsgpack.pack(1, {1, 2, {x = 'y'}}, 's')) "
            "return {a, b[2], b[3].x, c}",
            "0",
        ),
        ("local x = cmsgpack.unpack('\\193') return x", "0"),
        (
            "local s = cmsgpack.pack(1, 'a', {2}) local o, v = cmsgpack.unpack_one(s) "
            "local o2, w = cmsgpack.unpack_one(s, o) local o3, x = cmsgpack.unpack_one(s, o2) "
            "return {o, v, o2, w, o3, x[1]}",
            "0",
        ),
        ("local s = cmsgpack.pack(1, 2, 3) return {cmsgpack.unpack_limit(s, 2)}", "0"),
        ("#!lua\nreturn 1", "0"),
        ("#!lua flags=no-writes\nreturn redis.call('set', KEYS[1], '1')", "1", f"{k}sb"),
        ("#!lua flags=no-writes,allow-oom\nreturn 2", "0"),
        ("#!lua flags=bad\nreturn 1", "0"),
        ("#!lua foo=bar\nreturn 1", "0"),
        ("#!py\nreturn 1", "0"),
        ("#!lua\nerror('x')", "0"),
        ("#!lua  flags=no-writes \nreturn 3", "0"),
    ]


def test_eval_replies_match_the_peer(pair: RawPair, prefix: str) -> None:
    for body, *rest in scripts(prefix):
        pair.both("EVAL", body, *rest)
    assert not pair.mismatches, "\n".join(pair.mismatches)


def test_numkeys_evalsha_script_commands_match_the_peer(pair: RawPair, prefix: str) -> None:
    body = f"return '{prefix}'"
    sha = pair.both("SCRIPT", "LOAD", body).split(b"\r\n")[1].decode()
    for args in [
        ("EVAL", "return 1", "-1"),
        ("EVAL", "return 1", "5"),
        ("EVAL", "return 1", "abc"),
        ("EVAL", "return 1"),
        ("EVALSHA", sha, "0"),
        ("EVALSHA", sha.upper(), "0"),
        ("EVALSHA", "f" * 40, "0"),
        ("EVALSHA", "abc", "0"),
        ("EVALSHA", sha, "2", "k"),
        ("EVALSHA_RO", sha, "0"),
        ("EVAL_RO", f"return redis.call('set', '{prefix}x', '1')", "0"),
        ("EVAL_RO", f"return redis.call('get', '{prefix}x')", "0"),
        ("SCRIPT", "EXISTS", sha, "f" * 40),
        ("SCRIPT", "SHOW", sha),
        ("SCRIPT", "SHOW", "f" * 40),
        ("SCRIPT", "SHOW"),
        ("SCRIPT", "HELP"),
        ("FUNCTION", "HELP"),
        ("SCRIPT", "LOAD", "return syntax error"),
        ("SCRIPT", "LOAD"),
        ("SCRIPT", "FLUSH", "BAD"),
        ("SCRIPT", "FLUSH", "SYNC", "BAD"),
        ("SCRIPT", "NOSUCH"),
        ("SCRIPT", "KILL"),
        ("FUNCTION", "KILL"),
    ]:
        pair.both(*args)
    assert not pair.mismatches, "\n".join(pair.mismatches)


def test_functions_match_the_peer(pair: RawPair, prefix: str) -> None:
    lib = f"{prefix}lib"
    code = (
        f"#!lua name={lib}\n"
        f"redis.register_function('{prefix}f1', function(keys, args) "
        "return redis.call('set', keys[1], args[1]) end)\n"
        f"redis.register_function{{function_name='{prefix}f2', callback=function(keys, args) "
        "return #keys end, flags={'no-writes'}, description='d'}\n"
        f"redis.register_function('{prefix}f3', function(keys, args) error('boom') end)\n"
        f"redis.register_function('{prefix}f4', function(keys, args) "
        "return redis.call('incr', keys[1]) end)\n"
        f"redis.register_function{{function_name='{prefix}f5', callback=function(keys, args) "
        "return redis.call('set', keys[1], '1') end, flags={'no-writes'}}"
    )
    try:
        for args in [
            ("FUNCTION", "LOAD", code),
            ("FUNCTION", "LOAD", code),
            ("FUNCTION", "LOAD", "REPLACE", code),
            ("FUNCTION", "LOAD", "return 1"),
            ("FUNCTION", "LOAD", "#!lua\nreturn 1"),
            ("FUNCTION", "LOAD", "#!nosuch name=x\nreturn 1"),
            ("FUNCTION", "LOAD", f"#!lua name={prefix}x\nreturn 1"),
            ("FUNCTION", "LOAD", f"#!lua name={prefix}x\nredis.call('ping')"),
            (
                "FUNCTION",
                "LOAD",
                f"#!lua name={prefix}x\nredis.register_function('{prefix}f1', function() end)",
            ),
            (
                "FUNCTION",
                "LOAD",
                f"#!lua name={prefix}x\nredis.register_function('f 1', function() end)",
            ),
            (
                "FUNCTION",
                "LOAD",
                f"#!lua name={prefix}x\nredis.register_function('{prefix}g', function() end, 5)",
            ),
            (
                "FUNCTION",
                "LOAD",
                f"#!lua name={prefix}x\nredis.register_function"
                f"{{function_name='{prefix}g', callback=function() end, flags={{'bad'}}}}",
            ),
            ("FUNCTION", "LOAD", f"#!lua name={prefix}x foo=bar\nreturn 1"),
            ("FUNCTION", "LOAD", f"#!lua name={prefix}x\nfunction foo() end"),
            ("FUNCTION", "LOAD", f"#!lua name={prefix}x\nlocal a = y"),
            ("FUNCTION", "LOAD", f"#!lua name={prefix}x\nsyntax err"),
            ("FCALL", f"{prefix}f1", "1", f"{prefix}k", "v"),
            ("FCALL_RO", f"{prefix}f1", "1", f"{prefix}k", "v"),
            ("FCALL_RO", f"{prefix}f2", "1", f"{prefix}k"),
            ("FCALL", f"{prefix}f3", "0"),
            ("FCALL", f"{prefix}f4", "1", f"{prefix}k"),
            ("FCALL", f"{prefix}f5", "0"),
            ("FCALL", f"{prefix}nof", "0"),
            ("FCALL", f"{prefix}f1", "2", f"{prefix}k"),
            ("FCALL", f"{prefix}f1", "-1"),
            ("FCALL", f"{prefix}f1", "x"),
            # one function per listed library: the peer lists functions in hash order
            (
                "FUNCTION",
                "LOAD",
                f"#!lua name={lib}2\nredis.register_function{{function_name="
                f"'{prefix}f6', callback=function() return 1 end, flags={{'no-writes'}}, "
                "description='six'}",
            ),
            ("FUNCTION", "LIST", "LIBRARYNAME", f"{lib}2"),
            ("FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", f"{prefix}*2"),
            ("FUNCTION", "LIST", "LIBRARYNAME", f"{prefix}"),
            ("FUNCTION", "LIST", "LIBRARYNAME"),
            ("FUNCTION", "LIST", "BAD"),
            ("FCALL_RO", f"{prefix}f6", "0"),
            ("FUNCTION", "DELETE", f"{lib}2"),
            ("FUNCTION", "DELETE", f"{prefix}nolib"),
            ("FUNCTION", "DELETE", lib),
            ("FCALL", f"{prefix}f1", "1", f"{prefix}k", "v"),
            # the load-time API and registration errors. Never redis.log at load time, nor
            # 'a' and 'A' in one library: both crash valkey 9.1.2 (the second on DELETE)
            *[
                ("FUNCTION", "LOAD", f"#!lua name={prefix}y\n{body}")
                for body in [
                    "return math.random()",
                    "redis.setresp(3)",
                    "return string.len('x')",
                    "redis.call('ping')",
                    "redis.register_function('a', function() return 1 end, 5)",
                    "redis.register_function('a')",
                    "redis.register_function({})",
                    "redis.register_function(5)",
                    "redis.register_function(true, function() end)",
                    "redis.register_function('a', 5)",
                    "redis.register_function{function_name='a'}",
                    "redis.register_function{callback=function() end}",
                    "redis.register_function{function_name='a', callback=function() end, foo=1}",
                    "redis.register_function{function_name='a', callback=function() end, flags=5}",
                    "redis.register_function{function_name='a', callback=5}",
                    "redis.register_function{function_name={}, callback=function() end}",
                    "redis.register_function{function_name='a', callback=function() end, "
                    "description={}}",
                ]
            ],
            (
                "FUNCTION",
                "LOAD",
                f"#!LUA name={prefix}z\nredis.register_function("
                f"'{prefix}CaseF', function() return 7 end)",
            ),
            ("FCALL", f"{prefix}casef", "0"),
            ("FCALL", f"{prefix}CASEF", "0"),
            ("FUNCTION", "DELETE", f"{prefix}Z"),
            ("FUNCTION", "DELETE", f"{prefix}z"),
            ("FUNCTION", "LOAD", f"#!lua name={prefix}z"),
            ("FUNCTION", "LOAD", f"#!lua name={prefix}z name=b\nreturn 1"),
            (
                "FUNCTION",
                "LOAD",
                f"#!lua NAME={prefix}z\nredis.register_function("
                f"'{prefix}nf', function() return redis.register_function('x', function() end) "
                "end)",
            ),
            ("FCALL", f"{prefix}nf", "0"),
            ("FUNCTION", "DELETE", f"{prefix}z"),
            ("FUNCTION", "FLUSH", "x"),
            ("FUNCTION", "flush", "x", "y"),
            ("FUNCTION", "LOAD", "X", "Y"),
            ("FUNCTION", "LOAD", "REPLACE"),
        ]:
            pair.both(*args)
    finally:
        pair.both("FUNCTION", "DELETE", lib, check=False)
        pair.both("FUNCTION", "DELETE", f"{lib}2", check=False)
        pair.both("FUNCTION", "DELETE", f"{prefix}y", check=False)
        pair.both("FUNCTION", "DELETE", f"{prefix}z", check=False)
    assert not pair.mismatches, "\n".join(pair.mismatches)


def test_eval_inside_multi_matches_the_peer(pair: RawPair, prefix: str) -> None:
    for args in [
        ("MULTI",),
        ("SET", f"{prefix}m", "1"),
        ("EVAL", "return redis.call('incr', KEYS[1])", "1", f"{prefix}m"),
        ("EVAL", "return redis.call('get', KEYS[1])", "1", f"{prefix}m"),
        ("EVAL", "error('x')", "0"),
        ("EXEC",),
        ("MULTI",),
        ("EVAL", "return 1"),
        ("EXEC",),
    ]:
        pair.both(*args)
    assert not pair.mismatches, "\n".join(pair.mismatches)


def test_acl_is_checked_per_call_as_the_peer(pair: RawPair, prefix: str) -> None:
    user = f"{prefix}u"
    try:
        for args in [
            (
                "ACL",
                "SETUSER",
                user,
                "on",
                "nopass",
                "+eval",
                "+get",
                "+exec",
                "+multi",
                "+eval_ro",
                "+fcall",
                f"~{prefix}*",
            ),
            ("AUTH", user, "x"),
            ("EVAL", f"return redis.call('set', '{prefix}1', '1')", "0"),
            ("EVAL", f"return redis.pcall('set', '{prefix}1', '1')", "0"),
            ("EVAL", "return redis.call('get', 'other')", "0"),
            ("EVAL", "return 1", "1", "other"),
            ("EVAL", "return 1", "1", f"{prefix}k"),
            ("EVAL_RO", "return 1", "1", "other"),
            ("FCALL", "nofunction", "1", "other"),
            ("EVAL", "return 1", "x", "other"),
            ("EVAL", "return redis.pcall('get', 'other')", "0"),
            ("EVAL", f"return redis.call('get', '{prefix}1')", "0"),
            ("MULTI",),
            ("EVAL", f"return redis.pcall('set', '{prefix}1', '1')", "0"),
            ("EXEC",),
            ("AUTH", "default", "x"),
        ]:
            pair.both(*args)
    finally:
        pair.both("AUTH", "default", "x", check=False)
        pair.both("ACL", "DELUSER", user, check=False)
    assert not pair.mismatches, "\n".join(pair.mismatches)


def random_script(rng: random.Random, keys: list[str]) -> tuple[str, ...]:
    """A script of random redis.call / pcall statements over ``keys`` and a random return:
    conversions of every reply shape both ways, errors caught and raised."""
    calls = [
        "redis.call('set', KEYS[{k}], ARGV[1])",
        "redis.call('incrby', KEYS[{k}], {n})",
        "redis.pcall('incrby', KEYS[{k}], {n})",
        "redis.call('hset', KEYS[{k}], 'f{n}', ARGV[1])",
        "redis.pcall('hget', KEYS[{k}], 'f{n}')",
        "redis.call('del', KEYS[{k}])",
        "redis.call('exists', KEYS[{k}])",
        "redis.pcall('get', KEYS[{k}])",
        "redis.call('expire', KEYS[{k}], 100)",
        "redis.pcall('hgetall', KEYS[{k}])",
    ]
    returns = [
        "return redis.pcall('get', KEYS[{k}])",
        "return redis.pcall('hgetall', KEYS[{k}])",
        "return redis.pcall('incrby', KEYS[{k}], {n})",
        "return redis.call('type', KEYS[{k}])",
        "return {{redis.pcall('get', KEYS[{k}]), {n}, {n}.5, 'x', false, redis.call('ttl', KEYS[{k}])}}",
        "return redis.pcall('hmget', KEYS[{k}], 'f1', 'f2', 'f3')",
        "return redis.call('incrbyfloat', KEYS[{k}], '{n}.25')",
        "return redis.call('strlen', KEYS[{k}])",
    ]
    resp = "redis.setresp(3) " if rng.random() < 0.3 else ""

    def fill(template: str) -> str:
        return template.format(k=rng.randint(1, len(keys)), n=rng.randint(-3, 9))

    body = resp + " ".join(fill(rng.choice(calls)) for _ in range(rng.randint(0, 5)))
    body += " " + fill(rng.choice(returns))
    return ("EVAL", body, str(len(keys)), *keys, rng.choice(["1", "v", "2.5", ""]))


def test_random_scripts_match_the_peer(pair: RawPair, prefix: str) -> None:
    rng = random.Random(18)
    keys = [f"{prefix}r{i}" for i in range(3)]
    for _ in range(120):
        pair.both(*random_script(rng, keys))
        if pair.mismatches:
            break
    for key in keys:
        pair.both("TYPE", key)
        pair.both("EVAL", "return redis.call('hgetall', KEYS[1])", "1", key)
    assert not pair.mismatches, "\n".join(pair.mismatches)


@pytest.mark.parametrize("name", ["eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro"])
def test_command_info_matches_the_peer(
    name: str, memvec_server: ServerThread, redis_stack: RedisStack
) -> None:
    """Name, arity, flags and key positions; categories but for the `_RO` variants' extra
    @read, and key specs (documented in docs/compatibility.md)."""
    infos = []
    for port in (memvec_server.port, redis_stack.port):
        c = RawClient(port)
        c.send(encode("COMMAND", "INFO", name))
        infos.append(c.read_reply())
        c.close()
    mine, theirs = (info.split(b"\r\n") for info in infos)
    # *1, *10, name, arity, flags (count + items), first, last, step, then categories
    flag_end = 6 + int(theirs[5][1:])
    assert mine[: flag_end + 3] == theirs[: flag_end + 3]
    cats_mine = mine[flag_end + 3 : flag_end + 4 + int(mine[flag_end + 3][1:])]
    cats_theirs = theirs[flag_end + 3 : flag_end + 4 + int(theirs[flag_end + 3][1:])]
    extra = {b"+@read"} if name.endswith("_ro") else set()
    assert set(cats_mine[1:]) - extra == set(cats_theirs[1:])
