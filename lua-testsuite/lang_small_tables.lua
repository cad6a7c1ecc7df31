-- Small hash parts: records of 1 to 4 fields fill their hash part completely, so lookups
-- of absent keys, traversals that clear fields, re-insertions and growth must all work on
-- full parts. Outputs are order-independent (traversal order is not specified).

local function sorted_keys(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = tostring(k) end
  table.sort(ks)
  return table.concat(ks, ",")
end

local long1 = string.rep("long-key-", 6) .. "1"
local long2 = string.rep("long-key-", 6) .. "2"
local keys = {"a", "b", true, 2.5, -3, long1, false, "c", long2}
local absent = {"z", 3.5, 7, string.rep("long-key-", 6) .. "3", "a" .. "x"}

for n = 1, #keys do
  local t = {}
  for i = 1, n do t[keys[i]] = i end
  local ok = true
  for i = 1, n do ok = ok and t[keys[i]] == i end
  -- A long-string key built anew is another object with the same content.
  if n >= 6 then ok = ok and t[string.rep("long-key-", 6) .. "1"] == 6 end
  for _, k in ipairs(absent) do ok = ok and t[k] == nil end
  for i = n + 1, #keys do ok = ok and t[keys[i]] == nil end
  print(n, ok, sorted_keys(t))
end

-- Constructors size the hash part for their fields.
local r = {x = 1, y = 2}
print(r.x, r.y, r.z, rawget(r, "w"))
r.z = 3
print(r.x, r.y, r.z, sorted_keys(r))
local r4 = {p = 1, q = 2, [true] = 3, [1.5] = 4}
print(r4.p, r4.q, r4[true], r4[1.5], r4[false], r4[2.5], r4.s)

-- Clearing every field during a traversal of a full part, then reusing the keys.
for n = 1, 4 do
  local t = {}
  for i = 1, n do t[keys[i]] = i end
  local seen = 0
  for k in pairs(t) do
    t[k] = nil
    seen = seen + 1
  end
  print("cleared", n, seen, next(t))
  for i = 1, n do t[keys[i]] = -i end
  local sum = 0
  for _, v in pairs(t) do sum = sum + v end
  print("refilled", n, sum)
end

-- A dead entry (nil value) keeps its slot: a new key still finds room and old keys stay.
local d = {a = 1, b = 2}
d.a = nil
d.c = 3
print(d.a, d.b, d.c, sorted_keys(d))

-- __index behind full records (method lookups miss in the instance).
local Class = {}
Class.__index = Class
function Class.get(o) return o.w * o.h end
local objs = {}
for i = 1, 20 do objs[i] = setmetatable({w = i, h = i + 1}, Class) end
local total = 0
for _, o in ipairs(objs) do total = total + o:get() end
print("methods", total, objs[1].get == Class.get, objs[1].missing)

-- Weak keys in a small table.
local wk = setmetatable({}, {__mode = "k"})
do
  wk[{}] = 1
  wk.s = 2
end
collectgarbage()
collectgarbage()
print("weak", sorted_keys(wk), wk.s)

-- Borders with integer keys in the hash part of a small table.
local b = {}
b[2] = "b"
b[1] = "a"
b[4] = "d"
print(#b == 2 or #b == 4, b[1], b[2], b[3], b[4])
