-- The table library: insert/remove/move/concat/pack/unpack/sort, metamethod-aware access,
-- length with __len, and argument errors (compared byte for byte with PUC Lua 5.4).

local function p(...) print(pcall(...)) end
local function dump(t, n)
  local out = {}
  for i = 1, n or #t do out[#out + 1] = tostring(t[i]) end
  return "{" .. table.concat(out, ",") .. "}"
end
local maxI, minI = math.maxinteger, math.mininteger

print("-- insert / remove")
local t = {1, 2, 3}
table.insert(t, 4) table.insert(t, 1, 0) table.insert(t, 3, 1.5) table.insert(t, #t + 1, 5)
print(dump(t))
print(table.remove(t), table.remove(t, 1), table.remove(t, 2), dump(t))
print(table.remove({}), table.remove({}, 0), table.remove({}, 1), #t, table.remove(t, #t + 1), dump(t))
local e = {n = 1} print(table.remove(e, 0), table.remove({[0] = "z"}, 0))
p(table.insert, {}, 1, 2, 3) p(table.insert, {}) p(table.insert, {}, 5, 2) p(table.insert, {}, 0, 2)
p(table.insert, {}, -1, 2) p(table.insert, nil, 1) p(table.insert, {}, "x", 1) p(table.insert, {}, 1.5, 1)
print(pcall(table.remove, {1, 2}, 5) == false, select(2, pcall(table.remove, {1}, -1)):find("position out of bounds") ~= nil)
p(table.remove, nil) p(table.remove, {}, "a")
local holes = {1, 2, 3} table.insert(holes, 2, nil) print(holes[1], holes[2], holes[3], holes[4])

print("-- concat")
print(table.concat({1, 2, "x", 4.5}, ", "), table.concat({}), table.concat({"a", "b"}), table.concat({"a"}, "-"))
print(table.concat({1, 2, 3}, "-", 2), table.concat({1, 2, 3}, "-", 2, 2), table.concat({1, 2, 3}, "-", 3, 2), table.concat({1, 2, 3}, "", 1, 3))
print(table.concat({[maxI] = "a"}, ",", maxI, maxI), table.concat({2^53, -0.0, 1e100, 12}, " "))
p(table.concat, {1, {}}) p(table.concat, {1, 2}, ",", 1, 3) p(table.concat, {true}) p(table.concat, nil)
p(table.concat, {}, {}) p(table.concat, {"a"}, ",", "x")
-- All-string concatenations are written in place: long and short results, ranges, separators.
local words = {} for i = 1, 30 do words[i] = ("w"):rep(i % 7) .. i end
local joined = table.concat(words, ", ")
print(#joined, joined:sub(1, 30), joined:sub(-12), joined == table.concat(words, ", ", 1, 15) .. ", " .. table.concat(words, ", ", 16))
print(table.concat(words, "", 3, 5), table.concat(words, ("-"):rep(45), 29, 30), table.concat({"", "", ""}, "") == "")
local proxy = setmetatable({}, {__index = function(_, i) return "v" .. i end, __len = function() return 3 end})
print(table.concat(proxy, "+"))

print("-- pack / unpack")
local pk = table.pack(1, nil, 3) print(pk.n, pk[1], pk[2], pk[3], table.pack().n, #table.pack(1, 2))
print(table.unpack({1, 2, 3})) print(table.unpack({1, 2, 3}, 2)) print(table.unpack({1, 2, 3}, 2, 5))
print(table.unpack({1, 2, 3}, 3, 2)) print(select("#", table.unpack({}, 1, 0)), select("#", table.unpack({}, 1, 3)))
print(table.unpack({[maxI] = "last"}, maxI, maxI), table.unpack({[minI] = "first"}, minI, minI))
print(table.unpack({"a", "b"}, "1", 2.0), table.unpack("xyz"))
p(table.unpack, {}, 1, 1e7) p(table.unpack, {}, minI, maxI) p(table.unpack, {}, 0, maxI) p(table.unpack)
p(table.unpack, {}, 1.5) p(table.unpack, nil, 1, 1)
print(table.unpack(setmetatable({}, {__index = function(_, i) return i * 10 end}), 1, 3))

print("-- move")
print(dump(table.move({10, 20, 30}, 1, 3, 2)), dump(table.move({10, 20, 30}, 1, 3, 3)), dump(table.move({10, 20, 30}, 2, 3, 1)))
local a = {10, 20, 30, 40} table.move(a, 1, 4, 2, a) print(dump(a))
local b = {} print(table.move({1, 2, 3}, 1, 3, 1, b) == b, dump(b), dump(table.move({1, 2, 3}, 1, 0, 3, {})))
print(dump(table.move({[maxI - 1] = 1, [maxI] = 2}, maxI - 1, maxI, 1, {})), dump(table.move({[minI] = 7}, minI, minI, 1, {})))
local src = setmetatable({}, {__index = function(_, k) return k * 2 end})
local log = {}
local dst = setmetatable({}, {__newindex = function(t, k, v) log[#log + 1] = k .. "=" .. v; rawset(t, k, v) end})
table.move(src, 1, 3, 5, dst) print(table.concat(log, " "), dst[5], dst[7])
p(table.move, {}, 0, maxI, 1) p(table.move, {}, minI, -1, 1) p(table.move, {}, 1, maxI, 2) p(table.move, {}, 1, 2, maxI)
p(table.move, 1, 2, 3, 4) p(table.move, {}, 1, 2) p(table.move, {}, 1, 2, 3, 5) p(table.move, {}, "a", 2, 3)
local eqmt = {__eq = function() return true end}
local m1, m2 = setmetatable({1, 2, 3}, eqmt), setmetatable({}, eqmt)
table.move(m1, 1, 3, 2, m2) print(dump(m2, 4))

print("-- sort")
local s = {5, 2, 8, 1, 9, 3, 7, 4, 6, 0}
table.sort(s) print(dump(s))
table.sort(s, function(x, y) return x > y end) print(dump(s))
local words = {"pear", "Apple", "fig", "banana", "apple", "Fig"} table.sort(words) print(table.concat(words, " "))
table.sort(words, function(x, y) return x:lower() < y:lower() or (x:lower() == y:lower() and x < y) end) print(table.concat(words, " "))
local mixed = {3, 1.5, -2, 2^53, -0.5, 1} table.sort(mixed) print(dump(mixed))
local big = {} for i = 1, 1000 do big[i] = (i * 7919) % 1009 end table.sort(big)
local okb = true for i = 2, #big do if big[i - 1] > big[i] then okb = false end end print(okb, big[1], big[1000])
local rev = {} for i = 1, 500 do rev[i] = 501 - i end table.sort(rev) print(rev[1], rev[250], rev[500])
local same = {} for i = 1, 300 do same[i] = 5 end table.sort(same) print(same[1], same[300])
table.sort({}) table.sort({1}) local one = {2, 1} table.sort(one) print(dump(one))
local objs = {}
local omt = {__lt = function(x, y) return x.v < y.v end}
for i, v in ipairs({4, 1, 3, 2}) do objs[i] = setmetatable({v = v}, omt) end
table.sort(objs) print(objs[1].v, objs[2].v, objs[3].v, objs[4].v)
local recs = {{n = "b", a = 2}, {n = "a", a = 2}, {n = "c", a = 1}}
table.sort(recs, function(x, y) if x.a ~= y.a then return x.a < y.a end return x.n < y.n end)
print(recs[1].n, recs[2].n, recs[3].n)
p(table.sort, {1, 2, 3, 4, 5}, function(x, y) return true end)
p(table.sort, {1, 2, 3, 4}, function(x, y) return true end)
p(table.sort, {3, 1, "x"}) p(table.sort, {{}, {}}) p(table.sort, {1, 2}, 3) p(table.sort, nil)
p(table.sort, {1, 2, 3}, function(x, y) error("cmp fail") end)
p(table.sort, setmetatable({}, {__len = function() return maxI end}))
table.sort(setmetatable({}, {__len = function() return -1 end}), error)
local cnt = 0
local bad = {} for i = 1, 100 do bad[i] = i % 7 end
print(pcall(table.sort, bad, function(x, y) cnt = cnt + 1 return cnt % 3 == 0 end) ~= nil)
local pr = setmetatable({}, {__index = function(_, i) return ({3, 1, 2})[i] end,
  __newindex = function(t, i, v) rawset(t, i, v) end, __len = function() return 3 end})
table.sort(pr) print(rawget(pr, 1), rawget(pr, 2), rawget(pr, 3))

print("-- __len and table-like values")
local lt = setmetatable({}, {__len = function() return 2 end})
table.insert(lt, "x") print(rawget(lt, 3), #lt)
p(table.insert, setmetatable({}, {__len = function() return "abc" end}), 1)
p(table.insert, setmetatable({}, {__len = function() return 2.5 end}), 1)
local sl = setmetatable({}, {__len = function() return "2" end}) table.insert(sl, "y") print(rawget(sl, 3))
local ud = io.stdout
p(table.insert, ud, 1) p(table.concat, ud) p(table.unpack, 42)
