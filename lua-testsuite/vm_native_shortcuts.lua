-- Library functions with a shortcut for plain number arguments (math.sqrt, abs, floor,
-- ceil, max, min, exp, sin, cos, tan, asin, acos, deg, rad): the shortcut and the full
-- function must agree on results, result types, coercions, errors and result counts.

local function show(...)
  local t = table.pack(...)
  for i = 1, t.n do
    local v = t[i]
    t[i] = string.format("%s:%s", tostring(v), math.type(v) or type(v))
  end
  return t.n .. " [" .. table.concat(t, " ") .. "]"
end

-- Integer and float arguments, integral results, extreme values.
print(show(math.sqrt(16), math.sqrt(2), math.sqrt(-1) ~= math.sqrt(-1), math.sqrt(0.0)))
print(show(math.abs(-3), math.abs(3.5), math.abs(math.mininteger), math.abs(-0.0)))
print(show(math.floor(3.7), math.floor(-3.2), math.floor(5), math.floor(1e100), math.floor(-0.0)))
print(show(math.ceil(3.2), math.ceil(-3.7), math.ceil(5), math.ceil(-1e100), math.ceil(2^62)))
print(show(math.floor(2^63), math.ceil(-2^63), math.floor(math.huge), math.floor(-math.huge)))
print(show(math.exp(0), math.exp(1), math.sin(0), math.cos(0), math.tan(0)))
print(show(math.asin(1), math.acos(1), math.deg(math.pi), math.rad(180)))

-- max/min: all integers, all floats, mixed types (first of equals wins), NaN first/later.
print(show(math.max(3, 9, 2), math.min(3, 9, 2), math.max(1.5, -2.5), math.min(1.5, -2.5)))
print(show(math.max(1, 2.0), math.max(2.0, 1), math.max(2, 2.0), math.max(2.0, 2)))
print(show(math.min(0.0, -0.0), math.min(-0.0, 0.0), math.max(7)))
local nan = 0/0
print(math.max(nan, 1) ~= math.max(nan, 1), math.max(1, nan), math.min(nan, 1) ~= math.min(nan, 1))
print(show(math.max(math.mininteger, math.maxinteger), math.min(math.mininteger, math.maxinteger)))

-- Coercion of numeric strings goes through the full functions.
print(show(math.sqrt("16"), math.abs("-2"), math.floor("3.5"), math.ceil("0x10")))

-- Extra arguments are ignored as the full functions ignore them.
print(show(math.sqrt(9, "x", {}), math.floor(2.5, nil)))

-- Errors keep the library's messages.
for _, f in ipairs{
  function() return math.sqrt() end,
  function() return math.sqrt("x") end,
  function() return math.abs({}) end,
  function() return math.floor(nil) end,
  function() return math.max() end,
  function() return math.max(1, "a") end,
  function() return math.min(1, {}) end,
} do
  print(pcall(f))
end

-- Result counts: none kept, one, several (extra ones nil), all (multiple results).
local a, b, c = math.sqrt(4)
print(a, b, c)
math.floor(1.5)
print(select("#", math.abs(-1)), select("#", math.max(1, 2)), (math.min(4, 3)))
local t = {math.abs(-1), math.floor(2.5), math.max(1, 2, 3)}
print(#t, t[1], t[2], t[3])
local function tail(x) return math.sqrt(x) end
print(tail(25), select("#", tail(25)))

-- In a loop, results written over live registers leave the others intact.
local s, lo, hi = 0, math.huge, -math.huge
for i = 1, 1000 do
  local x = i * 0.5
  s = s + math.sqrt(x) + math.abs(-i) + math.floor(x)
  lo, hi = math.min(lo, x), math.max(hi, x)
end
print(string.format("%.6f", s), lo, hi)

-- The functions stay first-class values: replaced, wrapped, called through tables.
local m = {f = math.sqrt}
print(m.f(81), (pcall(m.f)))
local saved = math.sqrt
math.sqrt = function(x) return "mine" .. x end
print(math.sqrt(2))
math.sqrt = saved
print(math.sqrt(2) == 2 ^ 0.5)

-- A call hook sees every call, shortcut or not.
local calls = 0
debug.sethook(function() calls = calls + 1 end, "c")
for _ = 1, 10 do local _ = math.sqrt(2) end
debug.sethook()
print(calls >= 10)
