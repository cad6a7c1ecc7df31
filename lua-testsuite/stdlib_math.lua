-- The math library: integer/float results, rounding, fmod/modf, min/max, conversions,
-- xoshiro256** random numbers for fixed seeds, and argument errors (compared with PUC Lua 5.4).

local function p(...) print(pcall(...)) end
local function types(...)
  local t = table.pack(...)
  for i = 1, t.n do t[i] = tostring(t[i]) .. ":" .. (math.type(t[i]) or type(t[i])) end
  print(table.concat(t, " "))
end

print("-- constants")
print(math.pi, math.huge, -math.huge, math.maxinteger, math.mininteger, math.maxinteger + 1 == math.mininteger)
types(math.pi, math.huge, math.maxinteger)

print("-- abs / floor / ceil")
types(math.abs(-3), math.abs(3), math.abs(-3.5), math.abs(-0.0), math.abs(math.mininteger), math.abs("-3"))
types(math.floor(3.7), math.floor(-3.7), math.floor(3), math.floor(-0.0), math.floor(1e100), math.floor(-2^63), math.floor(2^63))
types(math.ceil(3.2), math.ceil(-3.2), math.ceil(3), math.ceil(1e100), math.ceil(-0.5), math.floor("3.7"), math.ceil("3"))
types(math.floor(math.huge), math.ceil(-math.huge), math.floor(2^53 + 0.0), math.floor(-2^63 - 1025))
p(math.floor, "x") p(math.floor) p(math.abs, nil) p(math.ceil, {})

print("-- fmod / modf")
types(math.fmod(7, 3), math.fmod(-7, 3), math.fmod(7, -3), math.fmod(-7, -3), math.fmod(7.5, 2), math.fmod(-7.5, 2))
types(math.fmod(7, 3.0), math.fmod(math.mininteger, -1), math.fmod(math.maxinteger, math.mininteger), math.fmod(5, math.huge))
types(math.fmod(1, 0.0) ~= math.fmod(1, 0.0), math.fmod(3, -1), math.fmod("7", "3"))
p(math.fmod, 1, 0) p(math.fmod, 1) p(math.fmod, 1, "x")
types(math.modf(3.7)) types(math.modf(-3.7)) types(math.modf(3)) types(math.modf(-0.5))
types(math.modf(math.huge)) types(math.modf(-math.huge)) types(math.modf(2^70)) types(math.modf("2.5"))
print(select(2, math.modf(0/0)) ~= select(2, math.modf(0/0)))

print("-- sqrt / exp / log / trig")
print(math.sqrt(16), math.sqrt(2), math.sqrt(-1) ~= math.sqrt(-1), math.exp(0), math.exp(1), math.log(1))
print(math.log(8, 2), math.log(100, 10), math.log(27, 3), math.log(0), math.log(2^60, 2), math.log(1000, 10))
print(math.sin(0), math.cos(0), math.tan(0), math.asin(1), math.acos(1), math.atan(1), math.atan(1, 0))
print(math.atan(0, -1), math.atan(-1, -1), math.atan(1, 2), math.deg(math.pi), math.rad(180), math.deg(1))
print(math.sin(math.pi / 6), math.cos(math.pi / 3), math.tan(math.pi / 4), math.sin("0"))
p(math.sqrt) p(math.log, "x") p(math.log, 1, "y") print(pcall(function() local x = math.atan(1, {}) return x end))

print("-- min / max")
types(math.max(1, 2.5), math.max(3, 1, 2), math.min(3, 1, 2), math.min(1, 1.0), math.min(1.0, 1), math.max(-0.0, 0))
types(math.max(math.maxinteger, 2^63), math.min(math.mininteger, -2^63), math.max(5), math.min(-1e308, -math.huge))
print(math.max("a", "b"), math.min("b", "a", "c"), math.max(1, 2, 3, 4, 5, 6, 7, 8, 9, 10))
local vmt = {__lt = function(a, b) return a.v < b.v end}
local v1, v2 = setmetatable({v = 1}, vmt), setmetatable({v = 2}, vmt)
print(math.max(v1, v2) == v2, math.min(v1, v2) == v1)
p(math.max) p(math.min) p(math.max, {}, {}) p(math.max, "10", 9) p(math.min, 1, nil)

print("-- tointeger / type / ult")
types(math.tointeger(3.0), math.tointeger(3.5), math.tointeger("8"), math.tointeger("8.0"), math.tointeger("x"), math.tointeger(2^63))
types(math.tointeger(-0.0), math.tointeger({}), math.tointeger(math.mininteger + 0.0), math.tointeger("0x10"))
print(math.type(1), math.type(1.0), math.type("1"), math.type(nil), math.type({}), math.type(2^31), math.type(1 // 1))
print(math.ult(1, 2), math.ult(-1, 2), math.ult(2, -1), math.ult(math.maxinteger, math.mininteger), math.ult(0, 0))
p(math.tointeger) p(math.type) p(math.ult, 1.5, 2) p(math.ult, 1)

print("-- random")
print(math.randomseed(42))
print(math.random(1, 100), math.random(), math.random(0), math.random(10), math.random(-5, 5))
local seq = {} for i = 1, 10 do seq[i] = math.random(1000) end print(table.concat(seq, " "))
print(math.randomseed(7, 13))
print(math.random(math.mininteger, math.maxinteger), math.random(3, 3), math.random(0, 2^40), math.random())
print(math.random(math.maxinteger), math.random(math.mininteger, -1), math.random(1, 3), math.random(6))
math.randomseed(123)
local counts = {0, 0, 0}
for _ = 1, 3000 do local r = math.random(3) counts[r] = counts[r] + 1 end
print(counts[1], counts[2], counts[3])
local okf = true
for _ = 1, 1000 do local f = math.random() if f < 0 or f >= 1 or math.type(f) ~= "float" then okf = false end end
print(okf)
math.randomseed(1.0) local x1 = math.random(100) math.randomseed(1) print(x1 == math.random(100), x1)
math.randomseed("5") print(math.random(100))
local s1, s2 = math.randomseed() print(math.type(s1), math.type(s2))
p(math.random, 2, 1) p(math.random, 1, 2, 3) p(math.random, 1.5) p(math.random, "x") p(math.random, 0, -1)
p(math.randomseed, 1.5) p(math.randomseed, nil) p(math.randomseed, {})
