-- Functions: closures, upvalues, varargs, multiple results, tail calls, recursion.
local function counter()
  local c = 0
  return function() c = c + 1; return c end, function() return c end
end
local inc, get = counter()
inc(); inc()
print(get())
local function va(...)
  local a, b = ...
  return select("#", ...), a, b, ...
end
print(va())
print(va(1, nil, 3))
print((va(1, 2)))
print(select(2, "a", "b", "c"), select(-1, "a", "b", "c"))
print(pcall(select, 0, 1))
local function mr() return 1, 2, 3 end
print(mr(), mr())
print(({mr(), mr()})[4], #{mr(), mr()}, #{mr(), (mr())})
local t = {mr(), x = mr()}
print(#t, t.x)
-- tail calls do not grow the stack
local function loop(n) if n == 0 then return "done" end return loop(n - 1) end
print(loop(100000))
-- deep non-tail recursion within limits
local function depth(n) if n == 0 then return 0 end return 1 + depth(n - 1) end
print(depth(10000))
-- stack overflow is a catchable error
local function inf(n) return 1 + inf(n + 1) end
local ok, err = pcall(inf, 1)
print(ok, string.find(err, "stack overflow") ~= nil)
-- recursive local function
local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end
print(fib(20))
-- methods
local obj = {v = 10}
function obj:get(d) return self.v + (d or 0) end
function obj.static(x) return x * 2 end
print(obj:get(), obj:get(5), obj.static(4))
local a = {b = {c = {}}}
function a.b.c.f() return "nested" end
function a.b.c:m() return self == a.b.c end
print(a.b.c.f(), a.b.c:m())
-- shared upvalues between sibling closures
local function mk()
  local x = 0
  local function set(v) x = v end
  local function getx() return x end
  return set, getx
end
local set, gx = mk()
set(42)
print(gx())
-- vararg in table constructor and in the middle
local function pack2(...) return {n = select("#", ...), ...} end
local p = pack2(nil, nil)
print(p.n, #p)
print(table.unpack({1, 2, 3}))
print(string.rep("ab", 3, ","), ("x"):rep(2))
-- functions as values
local ops = {add = function(x, y) return x + y end}
print(ops.add(2, 3), type(print), type(ops.add))
