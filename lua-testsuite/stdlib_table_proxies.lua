-- table.insert/remove/concat/unpack/sort on proxy tables: every __len/__index/__newindex
-- and __lt call, in order, and the errors they raise (output compared with PUC Lua).

local log = {}
local function proxy(store, opts)
  opts = opts or {}
  local mt = {}
  mt.__len = function() log[#log + 1] = "len" return opts.len or #store end
  mt.__index = function(_, k) log[#log + 1] = "get" .. tostring(k) return store[k] end
  mt.__newindex = function(_, k, v) log[#log + 1] = "set" .. tostring(k) .. "=" .. tostring(v) store[k] = v end
  return setmetatable({}, mt)
end
local function show(label, ...)
  print(label, table.concat(log, " "), ...)
  log = {}
end

local s = {10, 20, 30}
local p = proxy(s)
table.insert(p, 40) show("insert end", table.concat(s, ","))
table.insert(p, 1, 5) show("insert front", table.concat(s, ","))
table.insert(p, 3, 15) show("insert mid", table.concat(s, ","))
print(table.remove(p)) show("remove end", table.concat(s, ","))
print(table.remove(p, 1)) show("remove front", table.concat(s, ","))
print(table.remove(p, 2)) show("remove mid", table.concat(s, ","))
print(table.concat(p, "-")) show("concat")
print(table.concat(p, "-", 2)) show("concat from 2")
print(table.concat(p, 9, 1, 2)) show("concat number sep")
print(table.concat(p, "", 3, 2)) show("concat empty range")
print(table.unpack(p)) show("unpack")
print(table.unpack(p, 2, 3)) show("unpack range")
print(select("#", table.unpack(p, 3, 2))) show("unpack empty")

-- remove on an empty proxy and at position #t + 1
local e = proxy({})
print(table.remove(e)) show("remove empty")
local q = proxy({1, 2})
print(table.remove(q, 3)) show("remove n+1")

-- chains: __index/__newindex tables (no call), then a function at the end
local base = {}
local chain = setmetatable({}, {__index = setmetatable({}, {__index = function(_, k) return k * 2 end}),
                                __len = function() return 4 end})
print(table.concat(chain, ","), table.unpack(chain))

-- errors, with and without protection
print(pcall(table.insert, p, 1, 2, 3))
print(pcall(table.insert, p, 0, 1)) show("bad pos")
print(pcall(table.insert, p, 100, 1)) show("bad pos 2")
-- (5.4.4 names argument #1 here, 5.4.8 argument #2)
print(select(2, pcall(table.remove, p, 100)):match("position out of bounds")) show("bad remove pos")
print(pcall(table.concat, proxy({1, {}, 3}), ",")) show("bad concat value")
print(pcall(table.concat, p, {})) show("bad sep")
print(pcall(table.concat, setmetatable({}, {__len = function() return "x" end, __index = function() end})))
print(pcall(table.unpack, setmetatable({}, {__len = function() return 2.5 end})))
print(pcall(table.unpack, setmetatable({}, {__len = function() return 2 end, __index = function(_, k) error("idx " .. k) end})))
print(pcall(table.insert, setmetatable({}, {__index = function() end}), 1))
print(pcall(table.unpack, proxy({}), 1, 1e8))
print(pcall(table.concat, 5))

-- __newindex that is itself a proxy chain
local sink = {}
local w = setmetatable({}, {__len = function() return 0 end, __newindex = sink, __index = sink})
table.insert(w, "a") table.insert(w, "b")
print(rawget(w, 1), sink[1], sink[2])

-- sort without order function: __lt on tables, mixed with the errors PUC gives
local mt = {__lt = function(a, b) log[#log + 1] = a.v .. "<" .. b.v return a.v < b.v end}
local arr = {}
for i, v in ipairs({5, 3, 8, 1, 9, 2, 7}) do arr[i] = setmetatable({v = v}, mt) end
table.sort(arr)
local out = {}
for i, x in ipairs(arr) do out[i] = x.v end
show("sort __lt", table.concat(out, ","))
print(pcall(table.sort, {{}, {}}))
print(pcall(table.sort, {1, "x", 2}))
print(pcall(table.sort, {setmetatable({}, mt), 1}))
local bad = {}
for i = 1, 20 do bad[i] = setmetatable({v = i}, {__lt = function() return true end}) end
print(pcall(table.sort, bad))
-- numbers and strings keep the direct path; results as PUC
local nums = {3, 1.5, 2, -1, 10}
table.sort(nums) print(table.concat(nums, " "))
local strs = {"b", "a", "c"}
table.sort(strs) print(table.concat(strs, " "))
-- yields inside these metamethods still cross a C-call boundary, as in PUC
local co = coroutine.wrap(function()
  local y = setmetatable({}, {__index = function() return coroutine.yield(1) end, __len = function() return 1 end})
  return pcall(table.concat, y)
end)
print(co())
local co2 = coroutine.wrap(function()
  local a = {setmetatable({}, {__lt = function() coroutine.yield() return true end}), setmetatable({}, {})}
  return pcall(table.sort, a)
end)
print(co2())
