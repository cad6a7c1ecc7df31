-- debug.getlocal / debug.setlocal: varargs, temporaries, threads, parameter names

local function foo(a, ...)
  local t = table.pack(...)
  for i = 1, t.n do
    local n, v = debug.getlocal(1, -i)
    print(i, n, v == t[i])
  end
  print("past varargs", debug.getlocal(1, -(t.n + 1)))
  print("set vararg", debug.setlocal(1, -1, "changed"), (...))
  print("set past", debug.setlocal(1, -(t.n + 1), 30))
  print(debug.getlocal(1, 1), (debug.getlocal(1, 2)))
end
foo(1, "x", 3)
foo(1)

local function nonvararg(a) return debug.getlocal(1, -1) end
print("non-vararg", nonvararg(1))

-- C temporaries: the arguments of getlocal itself
print(debug.getlocal(0, 1))
print(debug.getlocal(0, 2))
print(debug.getlocal(0, 3), debug.getlocal(0, 0))

-- Lua temporaries of a caller
local function f()
  print("temp", select(2, debug.getlocal(2, 3)))
  print("beyond", debug.getlocal(2, 4))
  debug.setlocal(2, 3, 10)
  return 20
end
local function g(a, b) return (a + 1) + f() end
print(g(0, 0))

-- parameter names of functions
local function params(x, y, ...) local z end
print(debug.getlocal(params, 1), debug.getlocal(params, 2), debug.getlocal(params, 3))
print(debug.getlocal(print, 1))

-- locals of a suspended coroutine
local co = coroutine.create(function (x, y)
  local z = x + y
  coroutine.yield()
  return z
end)
coroutine.resume(co, 2, 3)
print(debug.getlocal(co, 1, 1), debug.getlocal(co, 1, 2), debug.getlocal(co, 1, 3))
print(debug.getlocal(co, params, 1))
print(debug.setlocal(co, 1, 3, 100))
print(coroutine.resume(co))

-- bad levels
print(pcall(debug.getlocal, 20, 1))
print(pcall(debug.setlocal, -1, 1, 10))
print(pcall(debug.getlocal, co, 5, 1))

-- stripped functions have no local names: active slots are temporaries
local stripped = load(string.dump(function (a, b)
  local c = a + b
  return debug.getlocal(1, 1), debug.getlocal(1, 3), debug.getlocal(1, 20)
end, true))
print(stripped(1, 2))
