-- Closures and upvalues: create counters and adders, call them, share upvalues between closures.
-- callgrind-arg: 40000 (smaller size used by scripts/bench --callgrind)
local n = tonumber(arg and arg[1]) or 1200000
local function counter(start)
  local c = start
  local function inc(d) c = c + d; return c end
  local function get() return c end
  return inc, get
end
local function compose(f, g) return function(x) return f(g(x)) end end
local total = 0
for i = 1, n do
  local inc, get = counter(i)
  inc(1); inc(2); inc(3)
  local add = function(x) return x + get() end
  local twice = compose(add, add)
  total = (total + twice(i % 100) + get()) % 1000000007
end
-- long-lived closures called in a hot loop
local inc, get = counter(0)
for i = 1, n * 4 do inc(i % 3) end
print(string.format("closures %d %d", total, get()))
