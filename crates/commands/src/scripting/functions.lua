-- rcache's function libraries (Redis 7's FUNCTION LOAD), run once in the functions' Lua
-- state right after sandbox.lua (chunk "=rcache_lib", so the error handler skips it too).
--
-- A library's code runs once, at FUNCTION LOAD, in the sandbox's environment switched to
-- the library API: the only global is `redis`, holding `register_function`, `log`, the
-- `LOG_*` levels and `REDIS_VERSION(_NUM)`; reading anything else (`math`, `redis.call`)
-- raises "Script attempted to access nonexistent global variable", writing anything
-- "Attempt to modify a readonly table", as in Redis. The functions it registers are
-- closures of that code: when FCALL runs them later, the environment reads the ordinary
-- globals again (the full `redis` library, `string`…), as Redis swaps its globals'
-- metatable between the two tables.
--
-- Argument: the sandbox's internals. Returns `load(chunk) → ok, registrations | error` and
-- `reset()`.

local lib = ...
local G, protect, readonly, ro_error, as_c = lib.G, lib.protect, lib.readonly, lib.ro_error, lib.as_c
local set_lookup, full_redis = lib.set_lookup, lib.redis
local real_pcall = lib.pcall
local real_type, real_error, real_tostring, real_ipairs = type, error, tostring, ipairs
local real_next, real_select, real_setmetatable = next, select, setmetatable
local lower = string.lower

-- Redis's flag names, with the bits the Rust side knows them by (functions.rs `flags`).
local FLAGS = {
  ['no-writes'] = 1,
  ['allow-oom'] = 2,
  ['allow-stale'] = 4,
  ['no-cluster'] = 8,
  ['allow-cross-slot-keys'] = 16,
}

-- A read-only proxy of `t` whose missing keys raise the nonexistent-global error (Redis's
-- error metatable on the library API tables).
local function strict(t)
  local p = real_setmetatable({}, {
    __index = function(_, k)
      local v = t[k]
      if v == nil then
        real_error("Script attempted to access nonexistent global variable '" .. real_tostring(k) .. "'", 2)
      end
      return v
    end,
    __newindex = ro_error,
    __metatable = false,
  })
  readonly[p] = true
  return p
end

-- The library being loaded: its registrations so far, or nil outside FUNCTION LOAD.
local registering = nil

local function fail(msg)
  real_error({ err = 'ERR ' .. msg }, 0)
end

-- Lua's "is a string" for Redis (lua_isstring): strings and numbers, numbers as text.
local function as_string(v)
  local t = real_type(v)
  if t == 'string' then
    return v
  elseif t == 'number' then
    return real_tostring(v)
  end
  return nil
end

-- Letters, digits and underscores, at least one (Redis's functionsVerifyName).
local function valid_name(name)
  return name:find('^[A-Za-z0-9_]+$') ~= nil
end

-- The array part of a flags table, up to the first nil, as bits.
local function read_flags(t)
  local bits = 0
  local i = 1
  while true do
    local v = t[i]
    if v == nil then
      return bits
    end
    local s = as_string(v)
    local bit = s and FLAGS[lower(s)]
    if not bit then
      fail('unknown flag given')
    end
    if bits % (bit * 2) < bit then
      bits = bits + bit
    end
    i = i + 1
  end
end

-- redis.register_function{function_name=…, callback=…, flags={…}, description=…}
local function named_args(t)
  if real_type(t) ~= 'table' then
    fail('calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).')
  end
  local name, desc, callback, bits
  local k, v = real_next(t)
  while k ~= nil do
    local key = as_string(k)
    if not key then
      fail('named argument key given to redis.register_function is not a string')
    end
    key = lower(key)
    if key == 'function_name' then
      name = as_string(v)
      if not name then
        fail('function_name argument given to redis.register_function must be a string')
      end
    elseif key == 'description' then
      desc = as_string(v)
      if not desc then
        fail('description argument given to redis.register_function must be a string')
      end
    elseif key == 'callback' then
      if real_type(v) ~= 'function' then
        fail('callback argument given to redis.register_function must be a function')
      end
      callback = v
    elseif key == 'flags' then
      if real_type(v) ~= 'table' then
        fail('flags argument to redis.register_function must be a table representing function flags')
      end
      bits = read_flags(v)
    else
      fail('unknown argument given to redis.register_function')
    end
    k, v = real_next(t, k)
  end
  if not name then
    fail('redis.register_function must get a function name argument')
  end
  if not callback then
    fail('redis.register_function must get a callback argument')
  end
  return name, callback, bits or 0, desc
end

local function register_function(...)
  if not registering then
    fail('redis.register_function can only be called on FUNCTION LOAD command')
  end
  local n = real_select('#', ...)
  if n < 1 or n > 2 then
    fail('wrong number of arguments to redis.register_function')
  end
  local name, callback, bits, desc
  if n == 1 then
    name, callback, bits, desc = named_args((...))
  else
    local a, b = ...
    name = as_string(a)
    if not name then
      fail('first argument to redis.register_function must be a string')
    end
    if real_type(b) ~= 'function' then
      fail('second argument to redis.register_function must be a function')
    end
    callback, bits = b, 0
  end
  if not valid_name(name) then
    fail('Library names can only contain letters, numbers, or underscores(_) and must be at least one character long')
  end
  for _, r in real_ipairs(registering) do
    if r.name == name then
      fail('Function already exists in the library')
    end
  end
  registering[#registering + 1] = { name = name, callback = callback, flags = bits, description = desc }
end

-- The library API: `redis` with what a library may use while it loads.
local load_redis = {
  register_function = as_c(register_function),
  log = full_redis.log,
  LOG_DEBUG = full_redis.LOG_DEBUG,
  LOG_VERBOSE = full_redis.LOG_VERBOSE,
  LOG_NOTICE = full_redis.LOG_NOTICE,
  LOG_WARNING = full_redis.LOG_WARNING,
  REDIS_VERSION = full_redis.REDIS_VERSION,
  REDIS_VERSION_NUM = full_redis.REDIS_VERSION_NUM,
}
local load_api = { redis = strict(load_redis) }

-- Run a library's compiled code with the library API: (true, registrations) or (false,
-- its error as Redis words it: "ERR …").
local function load(chunk)
  registering = {}
  set_lookup(load_api)
  local ok, err = real_pcall(chunk)
  set_lookup(nil)
  local got = registering
  registering = nil
  if ok then
    return true, got
  end
  if real_type(err) == 'table' and real_type(err.err) == 'string' then
    return false, err.err
  end
  return false, 'ERR ' .. real_tostring(err)
end

-- Back to the ordinary globals, whatever happened (the Rust side calls it after every
-- load, so a hook error raised after `load`'s pcall cannot leave the library API in place).
local function reset()
  set_lookup(nil)
  registering = nil
end

return load, reset
