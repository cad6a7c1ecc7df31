-- Debug hooks belong to threads (debug.sethook/gethook with a thread argument), and a new
-- coroutine inherits its creator's hook mask and count but not its hook function.

local log = {}
local function rec(ev, line) log[#log + 1] = line and (ev .. ":" .. line) or ev end
local function flush(title)
  print(title, table.concat(log, " "))
  log = {}
end

-- 1. A hook set on a coroutine only sees that coroutine, across yields and resumes.
local co = coroutine.create(function(a)
  local b = coroutine.yield(a + 1)
  return b * 2
end)
debug.sethook(co, rec, "cr")
print("main hook", debug.gethook())
local f, m, c = debug.gethook(co)
print("co hook", f == rec, m, c)
print(coroutine.resume(co, 1))
flush("first resume")
print(coroutine.resume(co, 10))
flush("second resume")
print(coroutine.status(co), debug.gethook(co) == rec)

-- 2. Line events of a coroutine only, while the main thread runs unhooked.
local co2 = coroutine.wrap(function()
  local x = 1
  coroutine.yield(x)
  x = x + 1
  return x
end)
local tag = {}
debug.sethook(coroutine.running(), nil)
-- hook the coroutine created by wrap through its own running() handle
local co3 = coroutine.create(function()
  debug.sethook(coroutine.running(), function(ev, l) rec("co3-" .. ev, l) end, "l")
  local y = 5
  coroutine.yield(y)
  y = y + 1
  return y
end)
print(coroutine.resume(co3))
flush("co3 first")
local z = 0
for i = 1, 3 do z = z + i end
flush("main between")
print(coroutine.resume(co3))
flush("co3 second")
print(co2(), co2())

-- 3. Inheritance: mask and count are copied, the function is not.
debug.sethook(rec, "r", 1000)
local child = coroutine.create(function() return debug.gethook() end)
local fresh = coroutine.create(function() return 1 end)
debug.sethook()
flush("while hooked")
print("child", debug.gethook(child))
print("child runs", coroutine.resume(child))
debug.sethook(child, rec, "c")
print("child set", select(2, debug.gethook(child)))
print("unhooked creator", debug.gethook(coroutine.create(print)))

-- 4. A hook set from inside a coroutine on the main thread.
local setter = coroutine.wrap(function()
  debug.sethook(co, nil)
  local main = select(1, coroutine.running())
  return debug.gethook()
end)
print("setter", setter())

-- 5. The hook of the running thread fires for calls made after a switch back.
local back = coroutine.create(function() coroutine.yield() end)
coroutine.resume(back)
debug.sethook(function(ev) rec("main-" .. ev) end, "c")
coroutine.resume(back)
local s = math.abs(-3)
debug.sethook()
flush("main calls")

-- 6. Hooks do not nest within a thread, but a coroutine resumed by a hook has its own.
local inner = coroutine.create(function()
  local q = 1
  return q
end)
debug.sethook(inner, function(ev, l) rec("inner-" .. ev, l) end, "l")
local fired = false
debug.sethook(function(ev)
  if not fired then
    fired = true
    coroutine.resume(inner)
  end
end, "c")
math.floor(1.5)
debug.sethook()
flush("nested")

-- 7. Argument handling.
print(pcall(debug.sethook, co, 1, "l"))
print(pcall(debug.gethook, 1))
print(debug.gethook(coroutine.running()))
