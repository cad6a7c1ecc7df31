-- Boundaries between the interpreter's inline fast paths and its general paths:
-- each case here takes a fast path in one variant and the general one in another,
-- and both must agree with the language definition.

-- Arithmetic: integer and float results, mixed operands, division by zero.
local function arith(a, b)
  local r = {a + b, a - b, a * b, a / b, a ^ 2}
  local ok, m = pcall(function() return a % b end)
  r[#r + 1] = ok and m or "err:" .. tostring(m):gsub("^.-:%d+: ", "")
  local ok2, d = pcall(function() return a // b end)
  r[#r + 1] = ok2 and d or "err:" .. tostring(d):gsub("^.-:%d+: ", "")
  for i = 1, #r do r[i] = string.format("%s(%s)", tostring(r[i]), math.type(r[i]) or type(r[i])) end
  return table.concat(r, " ")
end
print(arith(7, 2))
print(arith(-7, 2))
print(arith(7, -2))
print(arith(7, 0))
print(arith(7.5, 2))
print(arith(7, 2.0))
print(arith(math.mininteger, -1))
print(arith("10", 3))
print(arith(3, "0x10"))
print(7 % 0.0 ~= 7 % 0.0, -7 // 0.0, 7 // 0.0)
local k = 5
print(k + 1.5, k - 1, k * 3, k / 2, k % 3, k // 2, k ^ 2, 2 ^ k, 3 % k, 3 // k, 3 - k)
print(pcall(function() return k % 0 end))
print(math.maxinteger + 1 == math.mininteger, math.maxinteger * 2)

-- Arithmetic metamethods reached from the fast opcodes.
local V = setmetatable({}, {__add = function(a, b) return "add" end,
                            __mod = function(a, b) return "mod" end,
                            __idiv = function() return "idiv" end})
print(V + 1, 1 + V, V % 2, 2 % V, V // 1)

-- Index chains through __index tables, functions, and loops.
local Base = {greet = function(self) return "base " .. self.name end, tag = "B"}
Base.__index = Base
local Mid = setmetatable({mid = true}, Base)
Mid.__index = Mid
local obj = setmetatable({name = "o"}, Mid)
print(obj:greet(), obj.tag, obj.mid, obj.missing, obj[1])
local FnIdx = setmetatable({}, {__index = function(t, k) return "fn:" .. tostring(k) end})
local Over = setmetatable({}, {__index = FnIdx})
print(Over.x, Over[3], Over.y)
local loop1, loop2 = {}, {}
setmetatable(loop1, {__index = loop2})
setmetatable(loop2, {__index = loop1})
local ok, err = pcall(function() return loop1.nothing end)
print(ok, (tostring(err):gsub("^.-:%d+: ", "")))
local arr = setmetatable({}, {__index = {10, 20, 30}})
local i3 = 3
print(arr[1], arr[i3], arr[4])
local gl = setmetatable({}, {__index = _G})
local f = load("return print ~= nil and tostring(x_undefined)", "chunk", "t", gl)
print(f())

-- __newindex: consulted only for absent keys.
local log = {}
local store = setmetatable({present = 1}, {__newindex = function(t, k, v)
  log[#log + 1] = tostring(k) .. "=" .. tostring(v); rawset(t, k, v) end})
store.present = 2
store.fresh = 3
store.fresh = 4
store[1] = "a"
store[1] = "b"
print(store.present, store.fresh, store[1], table.concat(log, ","))
local proxy = {}
local target = setmetatable({}, {__newindex = proxy})
target.a = 1
print(rawget(target, "a"), proxy.a)
local plain = setmetatable({}, {__index = function() return 0 end})
plain.x = 5
plain[2] = 6
print(rawget(plain, "x"), rawget(plain, 2))

-- Comparisons on mixed types.
print(1 < 1.5, 1.5 < 2, 2 <= 2.0, "a" < "b", "b" <= "a", math.huge > math.maxinteger)
print(pcall(function() return {} < {} end))
local t1, t2 = {}, {}
local eqmt = {__eq = function() return true end}
setmetatable(t1, eqmt); setmetatable(t2, eqmt)
print(t1 == t2, t1 ~= t2, rawequal(t1, t2))

-- Tail calls: missing and extra arguments, varargs, natives, deep recursion.
local function count(n, acc) if n == 0 then return acc end return count(n - 1, (acc or 0) + 1) end
print(count(100000))
local function two(a, b) return a, b end
local function tail1(...) return two(...) end
local function tail2(x) return two(x) end
local function tail3(x, y, z) return two(x, y, z) end
print(tail1(1, 2, 3), tail2(5), tail3(7, 8, 9))
local function tailvar(...) return select("#", ...) end
local function callsvar(a) return tailvar(a, nil, nil) end
print(callsvar(1))
local function tailnative(s) return string.upper(s) end
print(tailnative("abc"))
local function even(n) if n == 0 then return true end return odd(n - 1) end
function odd(n) if n == 0 then return false end return even(n - 1) end
print(even(10001), pcall(even, "x"))
local function deep(n) if n == 0 then return 0 end return 1 + deep(n - 1) end
print(pcall(deep, 1e7))

-- Numeric for loops: integer, float, overflow edges.
local s = 0
for i = math.maxinteger - 2, math.maxinteger do s = s + 1 end
for i = 1, 3, 0.5 do s = s + i end
for i = 3, 1, -1 do s = s + i end
for i = 1.0, 2 do s = s + i end
print(s)

-- Generic for over ipairs and pairs (run inline for plain tables).
local seq = {10, 20, nil, 40}
local out = {}
for i, v in ipairs(seq) do out[#out + 1] = i .. "=" .. v end
for i in ipairs({5, 6}) do out[#out + 1] = "k" .. i end
for i, v, extra in ipairs({7}) do out[#out + 1] = tostring(extra) end
local proxied = setmetatable({}, {__index = function(_, i) if i <= 3 then return i * 100 end end})
for i, v in ipairs(proxied) do out[#out + 1] = v end
print(table.concat(out, " "))
local h = {a = 1, b = 2, c = 3, 4, 5}
local n, sum = 0, 0
for k, v in pairs(h) do n = n + 1; sum = sum + v; h[k] = nil end
print(n, sum, next(h))
local keys = 0
for k in pairs({x = 1, y = 2}) do keys = keys + 1 end
print(keys)
local viapairs = setmetatable({}, {__pairs = function(t) return function(_, k) if not k then return 1, "one" end end, t, nil end})
for k, v in pairs(viapairs) do print("__pairs", k, v) end
print(pcall(next, {}, "nokey"))
local ok, err = pcall(function() for k, v in next, {a = 1}, "zz" do end end)
print(ok, (tostring(err):gsub("^.-:%d+: ", "")))
local real_next = next
next = function(t, k) local nk, nv = real_next(t, k); if nk then return nk, nv * 2 end end
local doubled = 0
for _, v in pairs({1, 2, 3}) do doubled = doubled + v end
next = real_next
print(doubled)
local co = coroutine.wrap(function() for i, v in ipairs({1, 2, 3}) do coroutine.yield(v) end end)
print(co(), co(), co())

-- Numeric for loops prepared inline: counts at the integer limits, negative steps,
-- empty loops, and the general path for float limits and errors.
local function trip(a, b, c)
  local n, first, last = 0, nil, nil
  for i = a, b, c do
    n = n + 1
    first = first or i
    last = i
    if n > 10 then break end
  end
  return n .. ":" .. tostring(first) .. ".." .. tostring(last)
end
print(trip(math.maxinteger - 1, math.maxinteger, 2), trip(math.mininteger, math.mininteger + 5, 3))
print(trip(0, math.mininteger, math.mininteger), trip(-1, math.mininteger, math.mininteger))
print(trip(math.maxinteger, math.mininteger, -math.maxinteger), trip(1, 0, 1), trip(0, 1, -1))
print(trip(5, 1, -2), trip(1, 1, 1), trip(1, 1, -1), trip(math.mininteger, math.maxinteger, math.maxinteger))
print(trip(1, 3.5, 1), trip(3, 0.5, -1), trip(1, 1e300, 2 ^ 62), trip(1, -math.huge, 1))
print(pcall(trip, 1, 2, 0), pcall(trip, 1, "x", 1))
