-- A coroutine that dies with an error keeps its call frames until `coroutine.close`:
-- the debug library still sees them, and pending to-be-closed variables are closed
-- (with the error) only by `coroutine.close`.

local log = {}
local function closer(name)
  return setmetatable({}, {__close = function (_, err)
    log[#log + 1] = name .. ":" .. tostring(err)
  end})
end

local function inner(n)
  local depth <const> = n
  local r <close> = closer("inner" .. n)
  if n == 0 then error("boom", 0) end
  coroutine.yield(n)
  inner(n - 1)
end

local captured
local co = coroutine.create(function (x)
  local outer <close> = closer("body")
  local secret = "kept"
  captured = function () return secret end
  inner(x)
end)

print(coroutine.resume(co, 2))
while coroutine.status(co) == "suspended" do
  print(coroutine.resume(co))
end
print(coroutine.status(co))

-- Nothing was closed yet.
print(#log)

-- The frames are still there, even after a full collection.
collectgarbage()
collectgarbage()
print((debug.traceback(co):gsub("\n%s*%[C%]: in %?", "")))
print(debug.traceback(co, "msg", 1))
local level = 0
while true do
  local info = debug.getinfo(co, level, "Sln")
  if not info then break end
  print(level, info.what, info.short_src, info.currentline, info.name)
  level = level + 1
end
print(debug.getinfo(co, level))

-- Locals of the dead frames.
print(debug.getlocal(co, 1, 1))   -- n of the innermost 'inner'
print(debug.getlocal(co, 1, 2))   -- depth
print(debug.getlocal(co, 3, 1))   -- n of the outer 'inner'

-- The open upvalue still reads the dead coroutine's stack.
print(captured())

-- Resuming a dead coroutine still fails.
print(coroutine.resume(co))
print(coroutine.status(co))

-- close runs the pending handlers, innermost first, with the error; then the stack is empty.
print(coroutine.close(co))
for i, l in ipairs(log) do print(i, l) end
print(debug.traceback(co))
print(debug.getinfo(co, 0))
print(captured())
print(coroutine.close(co))

-- A handler's error replaces the error for the following handlers and for close's result.
log = {}
local co2 = coroutine.create(function ()
  local a <close> = closer("a")
  local b <close> = setmetatable({}, {__close = function (_, err)
    log[#log + 1] = "b:" .. tostring(err)
    error("from b", 0)
  end})
  local c <close> = closer("c")
  error({code = 7})
end)
local ok, e = coroutine.resume(co2)
print(ok, type(e), e.code, #log)
print(coroutine.close(co2))
for i, l in ipairs(log) do print(i, (l:gsub("table: 0x%x+", "table"))) end

-- coroutine.wrap closes the coroutine at once when it fails.
log = {}
local w = coroutine.wrap(function ()
  local v <close> = closer("wrapped")
  error("wrap-fail")
end)
local ok2, e2 = pcall(w)
print(ok2, e2, #log, log[1])

-- A coroutine that yields, errors from a nested pcall'd function and is caught keeps running.
local co3 = coroutine.create(function ()
  local ok3, e3 = pcall(error, "caught")
  coroutine.yield(ok3, e3)
  return "done"
end)
print(coroutine.resume(co3))
print(coroutine.resume(co3))
print(coroutine.status(co3), coroutine.close(co3))

-- Runtime errors (not from 'error') keep the erroring Lua frame on top.
local co4 = coroutine.create(function (t)
  local x = t.field.sub
  return x
end)
print(coroutine.resume(co4, {}))
local info = debug.getinfo(co4, 0, "Sl")
print(info.what, info.currentline)
local lname, lval = debug.getlocal(co4, 0, 1)
print(lname, type(lval))
print(coroutine.close(co4))
