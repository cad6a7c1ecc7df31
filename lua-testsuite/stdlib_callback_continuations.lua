-- string.format %s with __tostring and gsub function/table replacements (run as continuation
-- calls in Rua): results, errors, and coroutine.yield refused inside them as in PUC.
print(string.gsub("hello world", "%w+", function(w) return w:upper() end))
print(string.gsub("hello world", "(%w)(%w*)", function(a, b) if a == "w" then return nil end return b end))
print(string.gsub("abc", "", function() return "-" end))
print(string.gsub("abc", "%w", {a=1, b=true and "B"}))
local mt = setmetatable({}, {__index=function(t,k) return k.."!" end})
print(string.gsub("x y z", "%a", mt))
local mt2 = setmetatable({}, {__index=setmetatable({x="X"}, {__index=function(t,k) return k=="y" and 5.5 or false end})})
print(string.gsub("x y z", "%a", mt2))
print(pcall(string.gsub, "abc", "%w", function() return {} end))
print(string.gsub("abc", "%w", function() return false end))
print(string.gsub("aaa", "a", function() return "bb" end, 2))
print(string.gsub("a.b", "()", function(p) return p end))
local co = coroutine.wrap(function() return pcall(string.gsub, "ab", ".", function(c) print(coroutine.isyieldable()) coroutine.yield(c) end) end)
print(co())
print(string.gsub(string.rep("x", 10000), ".", function(c) return "yy" end):len())
local function f (c) assert(not coroutine.isyieldable()) return c .. c end
print(coroutine.wrap(function (c) assert(coroutine.isyieldable()) local s = string.gsub("a", ".", f) return s end)())
print(pcall(string.gsub, "abc", "(", function() end))
print(string.gsub("abc", "%w", function(c) return string.gsub(c, ".", function(d) return d..d end) end))
local o = setmetatable({}, {__tostring=function(s) return "OBJ" end})
local n = setmetatable({}, {__tostring=function(s) return 42 end})
print(string.format("a%sb%5sc%-6s|%d%q", o, n, o, 7, "x\n"))
print(pcall(string.format, "%s", setmetatable({}, {__tostring=function() return {} end})))
print(pcall(string.format, "%d %s", "x", o))
print(pcall(string.format, "%10s", setmetatable({}, {__tostring=function() return "a\0b" end})))
print(string.format("%.2s|%s", o, setmetatable({}, {__name="NM"})):gsub("0x%x+","P"))
local co = coroutine.wrap(function() return pcall(string.format, "%s", setmetatable({}, {__tostring=function() print(coroutine.isyieldable()) coroutine.yield() end})) end)
print(co())
local t = {}
for i=1,100 do t[i] = o end
print(#string.format(string.rep("%s",100), table.unpack(t)))
debug.setmetatable(nil, {__tostring=function() return "NIL!" end})
print(string.format("%q %s", nil, nil))
debug.setmetatable(nil, nil)
print(select('#', string.format("%s %s", o, o)))

-- table.sort with an order function (nested calls in Rua outside async tasks; the same sorts
-- run as continuation calls inside a task in tests/async_library.rs): the same comparisons in the
-- same order as PUC (checked through a running hash of the compared pairs), results, errors
-- raised by the order function, invalid orders, and coroutine.yield refused inside it.
do
  local h, x, t = 0, 12345, {}
  for i = 1, 3000 do x = (x * 1103515245 + 12345) % 2147483648 t[i] = x % 2000 end
  table.sort(t, function(a, b) h = (h * 31 + a * 7 + b) % 1000000007 return a < b end)
  local ok = true for i = 2, #t do ok = ok and t[i - 1] <= t[i] end
  print("sort hash", h, ok, t[1], t[1500], t[3000])
  for n = 2, 8 do
    local s, c = {}, 0
    for i = 1, n do s[i] = (i * 5) % n end
    table.sort(s, function(a, b) c = c + 1 return a > b end)
    print("sort", n, c, table.concat(s, " "))
  end
  local recs = {} for i = 1, 40 do recs[i] = {k = i % 5, id = i} end
  table.sort(recs, function(a, b) if a.k ~= b.k then return a.k < b.k end return a.id > b.id end)
  local ids = {} for i = 1, 40 do ids[i] = recs[i].id end print(table.concat(ids, ","))
  print(pcall(table.sort, {5, 4, 3, 2, 1}, function(a, b) if a == 2 then error("at 2") end return a < b end))
  print(pcall(table.sort, {5, 4, 3, 2, 1}, function(a, b) return {} end))
  local all = {} for i = 1, 300 do all[i] = i end
  print(pcall(table.sort, all, function() return true end))
  local co = coroutine.wrap(function()
    return pcall(table.sort, {3, 1, 2}, function(a, b) print(coroutine.isyieldable()) coroutine.yield() end)
  end)
  print(co())
  -- Nested sorts inside an order function.
  local outer = {{3, 1, 2}, {9, 7, 8}, {6, 5, 4}}
  table.sort(outer, function(a, b) table.sort(a) table.sort(b, function(x, y) return x > y end) return a[1] < b[1] end)
  for _, v in ipairs(outer) do io.write(table.concat(v, " "), "; ") end print()
end

-- Native callees of continuation calls, many in a row (no growth of the C stack).
do
  local t = {} for i = 1, 5000 do t[i] = (i * 37) % 5000 end
  table.sort(t, math.ult) print("native order function", t[1], t[2500], t[5000])
  print(#string.gsub(string.rep("ab", 50000), ".", string.upper), (string.gsub("abc", ".", string.upper)))
  print((string.gsub(string.rep("a", 3000), ".", setmetatable({}, {__index = rawget}))):len())
end
