-- Coroutines: resume/yield, wrap, status, errors, yields across pcall and metamethods.
local co = coroutine.create(function(a, b)
  print("start", a, b)
  local c = coroutine.yield(a + b)
  print("got", c)
  local d, e = coroutine.yield(c * 2)
  print("got", d, e)
  return "end"
end)
print(coroutine.status(co))
print(coroutine.resume(co, 1, 2))
print(coroutine.status(co))
print(coroutine.resume(co, 10))
print(coroutine.resume(co, "x", "y"))
print(coroutine.status(co))
print(coroutine.resume(co))
-- generators with wrap
local function gen(n)
  return coroutine.wrap(function() for i = 1, n do coroutine.yield(i) end end)
end
local s = 0
for v in gen(10) do s = s + v end
print(s)
-- errors inside coroutines
local bad = coroutine.create(function() error("inside") end)
print(coroutine.resume(bad))
print(coroutine.status(bad))
local bad2 = coroutine.create(function() error({}) end)
local ok, e = coroutine.resume(bad2)
print(ok, type(e))
print(pcall(coroutine.wrap(function() error("wrapped") end)))
-- yield across pcall
local co2 = coroutine.create(function()
  local ok, v = pcall(function()
    local x = coroutine.yield("in pcall")
    error("after " .. x)
  end)
  coroutine.yield(ok, v)
  return "done"
end)
print(coroutine.resume(co2))
print(coroutine.resume(co2, "resume"))
print(coroutine.resume(co2))
-- yield across a metamethod
local mt = {__index = function(t, k) return coroutine.yield("index " .. k) end}
local co3 = coroutine.wrap(function() local t = setmetatable({}, mt); return "value: " .. t.foo end)
print(co3())
print(co3("bar"))
-- running / isyieldable
print(coroutine.isyieldable())
local main, ismain = coroutine.running()
print(type(main), ismain)
coroutine.wrap(function()
  local c, m = coroutine.running()
  print(type(c), m, coroutine.isyieldable(), coroutine.status(c))
end)()
-- resuming dead / running coroutines
print(coroutine.resume(co))
local selfco
selfco = coroutine.create(function() return coroutine.resume(selfco) end)
print(coroutine.resume(selfco))
-- yield outside coroutine
print(pcall(coroutine.yield, 1))
-- coroutine.close
local cl = coroutine.create(function() coroutine.yield() end)
coroutine.resume(cl)
print(coroutine.close(cl), coroutine.status(cl))
print(coroutine.close(coroutine.create(print)))
-- many coroutines
local cos = {}
for i = 1, 1000 do cos[i] = coroutine.create(function(x) coroutine.yield(x * 2); return x * 3 end) end
local total = 0
for i = 1, 1000 do local _, v = coroutine.resume(cos[i], i); total = total + v end
for i = 1, 1000 do local _, v = coroutine.resume(cos[i]); total = total + v end
print(total)
-- passing values through nested coroutines
local outer = coroutine.wrap(function()
  local inner = coroutine.wrap(function() coroutine.yield(1); coroutine.yield(2) end)
  coroutine.yield(inner() + 10)
  coroutine.yield(inner() + 10)
end)
print(outer(), outer())
-- yield in table.sort comparator is not allowed (C-call boundary)
local co4 = coroutine.create(function() table.sort({3, 2, 1}, function(a, b) coroutine.yield() return a < b end) end)
local ok4, e4 = coroutine.resume(co4)
print(ok4, e4)
