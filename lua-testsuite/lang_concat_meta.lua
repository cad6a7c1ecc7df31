-- Concatenations of several operands that call `__concat` part-way: the operands still waiting
-- (below and above the pair being handled) must survive the collections that happen while the
-- handler runs and after it returns. The GC-stress runs of this suite collect at every
-- safepoint, which is what these blocks are for; they also pin the plain results.
-- The concatenations start at register 0 of their function, the case that lost a handler's
-- operand. (Results are kept in a local before being returned, and the handlers call nothing
-- but `coroutine.yield`: the lua5.4 used for comparison gets other such cases wrong. A native
-- handler and `return x .. y .. obj` are checked in tests/lua_testsuite.rs.)

-- A Lua handler (it allocates, so that it reaches safepoints of its own).
local box = {__concat = function(x, y)
  local pair = {x.v or x, y.v or y}
  local swapped = {pair[2], pair[1]}
  return swapped[2] .. swapped[1]
end}
local a, b, c = setmetatable({v = "10"}, box), "12", "hello"
local function kept() local s = a .. b .. c .. a; return s end
print(kept())
local function wide(p, q)
  local s = p .. q .. a .. b .. a .. c .. a .. q .. p
  return s
end
print(wide("<", ">"))
print(wide("", "-"))
local function twice()
  local s, t = c .. a .. b, a .. c .. a
  return s, t
end
print(twice())

-- A handler that yields: the coroutine is collected while suspended in the middle of the
-- concatenation.
local lazy = {__concat = function(x, y)
  coroutine.yield("paused")
  return (x.v or x) .. (y.v or y)
end}
local z = setmetatable({v = "Z"}, lazy)
local pre = "start:"
local co = coroutine.wrap(function() local s = pre .. "1" .. z .. "2" .. z; return s end)
local out, steps = co(), 0
while out == "paused" do
  steps = steps + 1
  local junk = {}
  for i = 1, 50 do junk[i] = {i} end
  out = co()
end
print(out, steps)
