-- debug.traceback and debug.getinfo on another coroutine's stack.

local function f(n)
  if n > 0 then f(n - 1) else coroutine.yield() end
end
local co = coroutine.create(f)
coroutine.resume(co, 3)
print(debug.traceback(co))
print(debug.traceback(co, nil, 1))
print(debug.traceback(co, "msg", 4))
print(debug.traceback(co, nil, 40))
print(debug.traceback(co, "only message", 40))

co = coroutine.create(function (x)
  local a = 1
  coroutine.yield(debug.getinfo(1, "l"))
  return a
end)
local _, l = coroutine.resume(co, 10)
local x = debug.getinfo(co, 1, "lfSn")
print(x.currentline == l.currentline, type(x.func), x.what, x.short_src, x.linedefined)
print(debug.getinfo(co, 0, "n").name, debug.getinfo(co, 0, "S").what)
print(debug.getinfo(co, 2))
print(pcall(debug.getinfo, co, 1, "X"))
print(pcall(debug.getinfo, co, 1, ">"))
print(select("#", debug.getinfo(co, f)))
print(debug.getinfo(co, f, "S").linedefined)
-- the running thread given explicitly behaves as without a thread
print(debug.getinfo(coroutine.running(), 1, "l").currentline)
print((string.gsub(debug.traceback(coroutine.running(), "here"), "\n.*", "")))
print(pcall(debug.getinfo, 1, ">S"), pcall(debug.getinfo, print, "S>"), pcall(debug.getinfo, print, ">"))
