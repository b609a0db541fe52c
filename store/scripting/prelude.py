"""The Lua side of the sandbox: the chunk each interpreter runs once, before any script.

It runs with the full standard library, takes what the host needs from it into locals
(``debug.getinfo`` for error locations, ``debug.sethook`` for the time limit), builds the
``redis`` table (also reachable as ``server``, as on the peer) over the host's Python
functions, then strips the globals down to Redis's whitelist and makes the global table
refuse new names and reads of missing ones (Redis 7's messages). Python callables never
reach a script: each is an upvalue of a Lua closure, and ``debug`` is gone.

The chunk returns a table of Lua functions the host calls: ``run`` (call a compiled
function under ``xpcall`` with the error handler that records the script location),
``compile``, ``set_args`` (KEYS/ARGV), ``restore`` (undo what a script changed in the
global table through ``rawset``), and ``with_load_api`` (FUNCTION LOAD's restricted
``redis`` table while a library's body runs).
"""

PRELUDE = r"""
local H = ...
local getinfo, sethook = debug.getinfo, debug.sethook
local unwrap = H.unwrap
local error, type, tostring, pairs, next = error, type, tostring, pairs, next
local rawset, rawget, rawequal, setmetatable = rawset, rawget, rawequal, setmetatable
local loadstring_raw, load, setfenv, newproxy = loadstring, load, setfenv, newproxy
local os_clock = os.clock
-- The scripts' global table G is an empty proxy over B (lupa keeps the real _G): every
-- assignment to a global, new or existing, reaches __newindex and is refused, and a
-- read of a missing one raises, as Redis 7's read-only globals do.
local B = {}
local G = {}
local current = B  -- what G reads through: B, or the load-time globals during FUNCTION LOAD

local function where()
  local level = 2
  while true do
    local i = getinfo(level, 'Sl')
    if i == nil then return nil, nil end
    local s = i.source
    if s == '@user_script' or s == '@user_function' then return s, i.currentline end
    level = level + 1
  end
end

-- A library function's error, raised with the script's position as a C function's
-- luaL_error names it. Not error(v, 2): `return cjson.decode(x)` tail-calls the Lua
-- wrapper, and the script's frame (level 2) is gone by then.
local function raise(v)
  if type(v) == 'string' then
    local src, line = where()
    if src then v = src:sub(2) .. ':' .. line .. ': ' .. v end
  end
  error(v, 0)
end

local function wrap(f)
  -- a Lua function over a Python callable that answers (ok, value): errors are raised
  -- here, in Lua, as error tables or strings
  return function(...)
    local ok, v = f(...)
    if ok then return v end
    raise(v)
  end
end

local function error_value(e)
  if type(e) == 'userdata' then
    local t = unwrap(e)
    if t ~= nil then return t end
  end
  return e
end

local function handler(e)
  e = error_value(e)
  local src, line = where()
  local msg
  if type(e) == 'table' then
    msg = rawget(e, 'err')
    if type(msg) ~= 'string' then msg = 'ERR unknown error' end
  else
    msg = 'ERR ' .. tostring(e)
  end
  return {err = msg, source = src, line = line}
end

local redis = {}
local host_call = H.call
-- redis.call is the host's callable itself (a C function to Lua), not a Lua wrapper: a
-- Lua wrapper would be tail-called by `return redis.call(...)` and the script's frame,
-- whose line the error names, would be gone. It raises a host exception; unwrap() turns
-- that into the error table wherever a script or the handler can see it.
redis.call = H.raising_call
redis.pcall = function(...)
  local ok, v = host_call(false, ...)
  return v
end
redis.error_reply = function(e)
  if type(e) ~= 'string' then raise('wrong number or type of arguments') end
  if e:sub(1, 1) == '-' then e = e:sub(2) end
  return {err = e}
end
redis.status_reply = function(s)
  if type(s) ~= 'string' then raise('wrong number or type of arguments') end
  return {ok = s}
end
redis.sha1hex = wrap(H.sha1hex)
redis.log = wrap(H.log)
redis.setresp = wrap(H.setresp)
redis.set_repl = function() end
redis.replicate_commands = function() return true end
redis.breakpoint = function() return false end
redis.debug = function() end
redis.acl_check_cmd = wrap(H.acl_check_cmd)
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE = 0, 1, 2
redis.REPL_REPLICA, redis.REPL_ALL = 2, 3
redis.REDIS_VERSION, redis.REDIS_VERSION_NUM = '7.2.4', 0x070204
redis.SERVER_NAME = 'memvec'

local cjson = {}
cjson.null = newproxy(false)
local json_encode, json_decode = H.json_encode, H.json_decode
cjson.encode = function(v)
  local ok, r = json_encode(v, cjson.null)
  if ok then return r end
  raise(r)
end
cjson.decode = function(s)
  local ok, r = json_decode(s, cjson.null)
  if ok then return r end
  raise(r)
end
cjson.encode_keep_buffer = function() end
local json_config = H.json_config
cjson.encode_max_depth = function(n) return json_config('encode_max_depth', n) end
cjson.decode_max_depth = function(n) return json_config('decode_max_depth', n) end
cjson.encode_invalid_numbers = function(v) return json_config('encode_invalid_numbers', v) end
cjson.decode_invalid_numbers = function() end

-- host functions called directly, as Redis's C functions are (see api.where)
local bit = {}
for name, f in pairs(H.bit) do bit[name] = f end
local cmsgpack = {}
for name, f in pairs(H.msgpack) do cmsgpack[name] = f end

local struct = {pack = H.struct.pack, unpack = H.struct.unpack, size = H.struct.size}

local function loadstring_safe(str, name)
  if type(str) == 'string' and str:byte(1) == 27 then
    return nil, 'loadstring refuses precompiled (binary) chunks'
  end
  local f, e = loadstring_raw(str, name)
  if f then setfenv(f, G) end
  return f, e
end

local function load_safe(fn, name)
  local f, e = load(fn, name)
  if f then setfenv(f, G) end
  return f, e
end

local killed = H.killed
local kill_error = H.kill_error
local function hook()
  if killed() then error({err = kill_error()}, 0) end
end

local raw_pcall, raw_xpcall = pcall, xpcall
-- a script's own pcall sees a failed redis.call as its error text, as on the peer; a
-- killed script's kill error is raised again past every pcall
local function caught(e)
  if type(e) == 'userdata' then
    local t = unwrap(e)
    if type(t) == 'string' then return t end  -- a host library function's error text
    if t ~= nil then return t.err end
  end
  return e
end
local function fix(ok, ...)
  if killed() then error({err = kill_error()}, 0) end
  if ok then return ok, ... end
  return ok, caught((...))
end
local function pcall_safe(f, ...)
  return fix(raw_pcall(f, ...))
end
local function xpcall_safe(f, h)
  return fix(raw_xpcall(f, function(e) return h(caught(e)) end))
end

local function refuse() error('Attempt to modify a readonly table', 2) end
local guard_meta = setmetatable({}, {__newindex = refuse, __metatable = false})
local function readonly(t)
  return setmetatable({}, {__index = t, __newindex = refuse, __metatable = guard_meta})
end
local raw_setmetatable = setmetatable
local protected = {}
local function setmetatable_safe(t, mt)
  if protected[t] then error('Attempt to modify a readonly table', 0) end
  return raw_setmetatable(t, mt)
end

local keep = {
  'assert', 'collectgarbage', 'error', 'gcinfo', 'getmetatable', 'ipairs',
  'next', 'pairs', 'rawequal', 'rawget', 'rawset', 'select',
  'tonumber', 'tostring', 'type', 'unpack', '_VERSION',
  'string', 'table', 'math', 'coroutine',
}
for _, n in pairs(keep) do rawset(B, n, _G[n]) end
local redis_ro, cjson_ro, bit_ro = readonly(redis), readonly(cjson), readonly(bit)
local cmsgpack_ro, struct_ro = readonly(cmsgpack), readonly(struct)
protected[G], protected[redis_ro], protected[cjson_ro], protected[bit_ro] = true, true, true, true
protected[cmsgpack_ro], protected[struct_ro] = true, true
rawset(B, '_G', G)
rawset(B, 'setmetatable', setmetatable_safe)
rawset(B, 'loadstring', loadstring_safe)
rawset(B, 'load', load_safe)
rawset(B, 'pcall', pcall_safe)
rawset(B, 'xpcall', xpcall_safe)
rawset(B, 'os', {clock = os_clock})
rawset(B, 'redis', redis_ro)
rawset(B, 'server', redis_ro)
rawset(B, 'cjson', cjson_ro)
rawset(B, 'bit', bit_ro)
rawset(B, 'cmsgpack', cmsgpack_ro)
rawset(B, 'struct', struct_ro)

-- what restore() puts back after each script
local baseline = {}
for n, v in pairs(B) do baseline[n] = v end

setmetatable(G, {
  __index = function(_, n)
    local v = current[n]
    if v == nil then
      error("Script attempted to access nonexistent global variable '" .. tostring(n) .. "'", 2)
    end
    return v
  end,
  __newindex = refuse,
  __metatable = guard_meta,
})

local api = {}
api.compile = function(body, source)
  local f, e = loadstring_raw(body, source)
  if f then setfenv(f, G) end
  return f, e
end
api.run = function(f, keys, args)
  sethook(hook, '', 100000)
  local res = {xpcall(function() return f(keys, args) end, handler)}
  sethook()
  return res[1], res[2]
end
api.set_args = function(keys, args)
  rawset(B, 'KEYS', keys)
  rawset(B, 'ARGV', args)
end
api.restore = function()
  -- a script may rawset(_G, ...) into the proxy: drop that; B only the host changes
  for n in pairs(G) do rawset(G, n, nil) end
  for n in pairs(B) do
    if baseline[n] == nil then rawset(B, n, nil) end
  end
  for n, v in pairs(baseline) do
    if rawget(B, n) ~= v then rawset(B, n, v) end
  end
end
local loading = false
api.with_load_api = function(register, f)
  -- run a library body with FUNCTION LOAD's globals, as the peer's: only `redis` /
  -- `server` with register_function, log and the constants; everything else (math,
  -- string, redis.call, redis.setresp ...) is a missing global. Functions it defines see
  -- the full globals when called (G reads through `current`).
  local function register_function(...)
    if not loading then
      error({err = 'ERR server.register_function can only be called on FUNCTION LOAD command'}, 0)
    end
    local ok, e = register(...)
    if not ok then error({err = e}, 0) end
  end
  local function missing(_, n)
    error("Script attempted to access nonexistent global variable '" .. tostring(n) .. "'", 2)
  end
  local load_api = {register_function = register_function, log = redis.log}
  for k, v in pairs(redis) do
    if type(v) == 'string' or type(v) == 'number' then load_api[k] = v end
  end
  raw_setmetatable(load_api, {__newindex = refuse, __index = missing})
  current = {redis = load_api, server = load_api}
  loading = true
  sethook(hook, '', 100000)
  local ok, e = xpcall(f, handler)
  sethook()
  loading = false
  current = B
  return ok, e
end
api.is_null = function(v) return rawequal(v, cjson.null) end
-- a returned table's special fields and array part, read raw: a script may return a
-- table whose metatable raises (_G)
api.shape = function(t)
  return rawget(t, 'err'), rawget(t, 'ok'), rawget(t, 'double'), rawget(t, 'big_number'),
    rawget(t, 'map'), rawget(t, 'set')
end
api.array = function(t)
  local out, i = {}, 1
  while true do
    local v = rawget(t, i)
    if v == nil then return out, i - 1 end
    out[i] = v
    i = i + 1
  end
end
api.type = function(v) return type(v) end
-- the calling script's position, for errors raised by host functions called as C
-- functions (their caller's frame survives a tail call, a Lua wrapper's does not)
api.where = function()
  local src, line = where()
  if src then return src:sub(2) .. ':' .. line .. ': ' end
  return ''
end
return api
"""
