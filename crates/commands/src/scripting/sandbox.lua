-- rcache's Lua sandbox, run once when a Lua state is created (chunk "=rcache_lib").
--
-- It builds what Redis 7 gives scripts: the `redis` library, a read-only global
-- environment (writing a global raises "Attempt to modify a readonly table", reading a
-- missing one "Script attempted to access nonexistent global variable 'x'"), no os/io/
-- package/debug/loadfile/dofile/print, and an error handler that records the line of the
-- user script an error came from. It returns the runner, the scripts' environment, and
-- the internals functions.lua builds the function libraries' API on.
--
-- Arguments (from Rust): sha1hex(s), log(level, msg), REDIS_VERSION, REDIS_VERSION_NUM,
-- as_c(f): f behind a C function, and the raw cjson/cmsgpack/struct/bit tables (libs/). Every library function a script calls is wrapped so, as
-- Redis's are C functions: a script's `return redis.call(…)` is a tail call, which in Lua
-- 5.1 drops the script's frame when the callee is a Lua function, and the error handler
-- could not tell the script's line any more.

local sha1_raw, log_raw, version, version_num, as_c, raw_libs = ...

local G = _G
local getinfo = debug.getinfo
local real_rawset, real_setmetatable, real_loadstring = rawset, setmetatable, loadstring
local real_setfenv, real_type, real_tostring = setfenv, type, tostring
local real_select, real_error, real_xpcall, real_tonumber = select, error, xpcall, tonumber
local real_pcall, real_rawget = pcall, rawget
local concat = table.concat

-- What scripts must not reach (Redis 7 removes the same names).
for _, name in ipairs({ 'os', 'io', 'package', 'debug', 'dofile', 'loadfile', 'print',
    'require', 'module', 'getfenv', 'setfenv', 'newproxy' }) do
  G[name] = nil
end

-- Read-only proxies: scripts cannot change the libraries or the globals for later scripts.
local readonly = real_setmetatable({}, { __mode = 'k' })
local function ro_error()
  real_error('Attempt to modify a readonly table', 2)
end
local function protect(t)
  local p = real_setmetatable({}, { __index = t, __newindex = ro_error, __metatable = false })
  readonly[p] = true
  return p
end

G.rawset = as_c(function(t, k, v)
  if readonly[t] then
    real_error('Attempt to modify a readonly table', 0)
  end
  return real_rawset(t, k, v)
end)

G.setmetatable = as_c(function(t, mt)
  if readonly[t] then
    real_error('Attempt to modify a readonly table', 0)
  end
  return real_setmetatable(t, mt)
end)

-- The scripts' environment: globals read through, never written. Reads go to `lookup`:
-- the globals, or, while a function library loads (FUNCTION LOAD, in the functions' Lua
-- state), only the library API (functions.lua switches it, as Redis swaps the globals'
-- __index).
local lookup = G
local env = real_setmetatable({}, {
  __index = function(_, k)
    local v = lookup[k]
    if v == nil then
      real_error("Script attempted to access nonexistent global variable '" .. real_tostring(k) .. "'", 2)
    end
    return v
  end,
  __newindex = ro_error,
  __metatable = false,
})
readonly[env] = true

-- Code loaded by a script runs in the same sandbox; bytecode is refused.
G.loadstring = as_c(function(s, name)
  if real_type(s) == 'string' and s:byte(1) == 27 then
    return nil, 'attempt to load a binary chunk'
  end
  local f, e = real_loadstring(s, name)
  if f then
    real_setfenv(f, env)
  end
  return f, e
end)
G.load = as_c(function(fn, name)
  local parts = {}
  while true do
    local p = fn()
    if p == nil or p == '' then
      break
    end
    parts[#parts + 1] = p
  end
  return G.loadstring(concat(parts), name)
end)

-- The redis library. `raw_call` is the per-run Rust function that runs a command.
local raw_call = nil
local resp = 2
local redis = {}

local function lib_error(msg)
  real_error({ err = msg }, 0)
end

redis.call = function(...)
  local r, failed = raw_call(resp, ...)
  if failed then
    real_error(r, 0)
  end
  return r
end

redis.pcall = function(...)
  local r = raw_call(resp, ...)
  return r
end

-- Whether the user running the script may run this command with these arguments.
redis.acl_check_cmd = function(...)
  local r, failed = raw_call('acl', ...)
  if failed then
    real_error(r, 0)
  end
  return r
end

redis.setresp = function(...)
  if real_select('#', ...) ~= 1 then
    lib_error('ERR redis.setresp() requires one argument.')
  end
  local v = real_tonumber((...))
  if v ~= 2 and v ~= 3 then
    lib_error('ERR RESP version must be 2 or 3.')
  end
  resp = v
end

redis.sha1hex = function(...)
  if real_select('#', ...) ~= 1 then
    lib_error('ERR wrong number of arguments')
  end
  return sha1_raw((...))
end

-- Redis's luaPushErrorBuff: "-CODE msg" keeps its code, anything else gets ERR.
local function error_table(s)
  local code, msg
  if s:sub(1, 1) == '-' then
    local sp = s:find(' ', 1, true)
    if sp then
      code, msg = s:sub(2, sp - 1), s:sub(sp + 1)
    else
      code, msg = 'ERR', s:sub(2)
    end
  else
    code, msg = 'ERR', s
  end
  msg = msg:gsub('^[\r\n]+', ''):gsub('[\r\n]+$', '')
  return { err = code .. ' ' .. msg }
end

redis.error_reply = function(...)
  if real_select('#', ...) ~= 1 or real_type((...)) ~= 'string' then
    return { err = 'ERR wrong number or type of arguments' }
  end
  local s = ...
  if s:sub(1, 1) ~= '-' then
    s = '-' .. s
  end
  return error_table(s)
end

redis.status_reply = function(...)
  if real_select('#', ...) ~= 1 or real_type((...)) ~= 'string' then
    return { err = 'ERR wrong number or type of arguments' }
  end
  return { ok = (...) }
end

redis.log = function(...)
  local n = real_select('#', ...)
  if n < 2 then
    lib_error('ERR redis.log() requires two arguments or more.')
  end
  local level = ...
  if real_type(level) ~= 'number' then
    lib_error('ERR First argument must be a number (log level).')
  end
  if level < 0 or level > 3 then
    lib_error('ERR Invalid debug level.')
  end
  local parts = {}
  for i = 2, n do
    local v = real_select(i, ...)
    if real_type(v) == 'string' or real_type(v) == 'number' then
      parts[#parts + 1] = real_tostring(v)
    end
  end
  log_raw(level, concat(parts, ' '))
end

redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.REDIS_VERSION, redis.REDIS_VERSION_NUM = version, version_num
-- Replication controls: scripts always replicate by effects in Redis 7; these are no-ops.
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
redis.replicate_commands = function() return true end
redis.set_repl = function() end
redis.breakpoint = function() return false end
redis.debug = function() end

for name, f in pairs(redis) do
  if real_type(f) == 'function' then
    redis[name] = as_c(f)
  end
end
G.redis = protect(redis)

-- Redis 7's pcall: an error table caught is turned into its `err` string.
local function pcall_result(ok, ...)
  if ok then
    return true, ...
  end
  local e = ...
  if real_type(e) == 'table' then
    local m = real_rawget(e, 'err')
    if real_type(m) == 'string' or real_type(m) == 'number' then
      e = m
    end
  end
  return false, e
end
G.pcall = as_c(function(f, ...)
  return pcall_result(real_pcall(f, ...))
end)

-- cjson, cmsgpack, struct and bit (libs/, in Rust). A raw function answers `true, results…`
-- or `false, msg[, narg | false]`; `fail` raises msg as Redis's C functions do: luaL_error
-- puts the position of whoever called the library function first ("user_script:1: …"; none
-- when that is a C function such as pcall), luaL_argerror names the function as the caller
-- did ("bad argument #1 to 'decode' (…)", '?' when unknown), and an error of the Lua core
-- (narg false) has no position.
-- Levels: `lib_check` is tail-called by the wrapper, so its frame stands for the wrapper's;
-- from inside `fail`, level 4 is the C closure the script called and level 5 its caller.
local function fail(m, narg)
  if narg == false then
    real_error(m, 0)
  end
  if narg then
    local ar = getinfo(4, 'n')
    local name = ar and ar.name or '?'
    if ar and ar.namewhat == 'method' then
      narg = narg - 1
    end
    if ar and ar.namewhat == 'method' and narg == 0 then
      m = "calling '" .. name .. "' on bad self (" .. m .. ')'
    else
      m = 'bad argument #' .. narg .. " to '" .. name .. "' (" .. m .. ')'
    end
  end
  real_error(m, 5)
end
local function lib_check(ok, ...)
  if ok then
    return ...
  end
  fail(...)
end
-- cmsgpack.unpack*, struct.unpack: the values come as a table and a count.
-- (unpack's own stack check stops short of the 7,999 values Redis's C code may return.)
local real_unpack = unpack
local function unpack_from(t, i, n)
  if n - i >= 7990 then
    return t[i], unpack_from(t, i + 1, n)
  end
  return real_unpack(t, i, n)
end
local function lib_check_many(ok, t, n)
  if ok then
    return unpack_from(t, 1, n)
  end
  fail(t, n)
end
local function wrap_lib(raw_t, many)
  local t = {}
  for name, v in pairs(raw_t) do
    if many and many[name] then
      t[name] = as_c(function(...)
        return lib_check_many(v(...))
      end)
    elseif real_type(v) == 'function' then
      t[name] = as_c(function(...)
        return lib_check(v(...))
      end)
    else
      t[name] = v
    end
  end
  return t
end
-- cjson.new() gives another cjson table with settings of its own (not read-only, as Redis's).
local function make_cjson(raw_t)
  local t = wrap_lib(raw_t)
  local raw_new = raw_t.new
  t.new = as_c(function()
    local _, r = raw_new()
    return make_cjson(r)
  end)
  return t
end
G.cjson = protect(make_cjson(raw_libs.cjson))
G.cmsgpack = protect(wrap_lib(raw_libs.cmsgpack, { unpack = true, unpack_one = true, unpack_limit = true }))
G.struct = protect(wrap_lib(raw_libs.struct, { unpack = true }))
G.bit = protect(wrap_lib(raw_libs.bit))

for _, name in ipairs({ 'string', 'table', 'math', 'coroutine' }) do
  if G[name] then
    G[name] = protect(G[name])
  end
end
G._G = env

-- The error handler: Redis's format {err=…} plus where the error came from: the innermost
-- frame that is neither C (error, redis.call) nor this library.
local function handler(err)
  local source, line
  for level = 2, 200 do
    local i = getinfo(level, 'Sl')
    if not i then
      break
    end
    if i.what ~= 'C' and i.what ~= 'tail' and i.source ~= '=rcache_lib' then
      source, line = i.source, i.currentline
      break
    end
  end
  if real_type(err) ~= 'table' then
    err = { err = 'ERR ' .. real_tostring(err) }
  end
  local msg = err.err
  if real_type(msg) ~= 'string' then
    msg = 'ERR unknown error'
  end
  return { err = msg, source = source, line = line }
end

-- Run one script: (true, first result) or (false, {err=…, line=…}).
local function run(f, call_fn, keys, argv)
  raw_call, resp = call_fn, 2
  real_rawset(G, 'KEYS', keys)
  real_rawset(G, 'ARGV', argv)
  local ok, res = real_xpcall(f, handler)
  raw_call = nil
  return ok, res
end

-- Run one function (FCALL): its callback gets the keys and the arguments as its two
-- parameters; there are no KEYS/ARGV globals. Same results as `run`.
local function run_function(f, call_fn, keys, args)
  raw_call, resp = call_fn, 2
  local ok, res = real_xpcall(function()
    return f(keys, args)
  end, handler)
  raw_call = nil
  return ok, res
end

-- What functions.lua builds on (the functions' Lua state only; scripts never see it).
local internals = {
  G = G,
  env = env,
  redis = redis,
  protect = protect,
  readonly = readonly,
  ro_error = ro_error,
  as_c = as_c,
  -- The plain pcall (the scripts' one turns {err=…} tables into strings).
  pcall = real_pcall,
  run_function = run_function,
  set_lookup = function(t)
    lookup = t or G
  end,
}

return run, env, internals
