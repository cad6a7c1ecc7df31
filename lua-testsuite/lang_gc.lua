-- Garbage collection: collectgarbage options, weak tables, finalizers.
print(collectgarbage("isrunning"))
collectgarbage("stop")
print(collectgarbage("isrunning"))
collectgarbage("restart")
print(collectgarbage("isrunning"))
print(type(collectgarbage("count")), collectgarbage("count") > 0)
print(type(collectgarbage("step")), collectgarbage())
print(collectgarbage("incremental"), collectgarbage("generational"), collectgarbage("incremental"))
print(pcall(collectgarbage, "bogus"))
-- weak values
local wv = setmetatable({}, {__mode = "v"})
wv[1] = {}
wv[2] = "strings stay"
local keep = {}
wv[3] = keep
collectgarbage()
print(wv[1], wv[2], wv[3] == keep)
-- weak keys
local wk = setmetatable({}, {__mode = "k"})
local k1, k2 = {}, {}
wk[k1] = 1; wk[k2] = 2; wk[{}] = 3
k2 = nil
collectgarbage()
local n = 0
for _ in pairs(wk) do n = n + 1 end
print(n, wk[k1])
-- ephemerons: value refers to its own key
local eph = setmetatable({}, {__mode = "k"})
do local key = {} eph[key] = {ref = key} end
collectgarbage()
n = 0
for _ in pairs(eph) do n = n + 1 end
print(n)
-- finalizers run once, in reverse order of marking
local order = {}
for i = 1, 3 do setmetatable({}, {__gc = function() order[#order + 1] = i end}) end
collectgarbage()
print(table.concat(order, ","))
-- resurrection
local saved
do setmetatable({name = "phoenix"}, {__gc = function(o) saved = o end}) end
collectgarbage()
print(saved and saved.name)
-- bounded memory for a garbage-heavy loop
local before = collectgarbage("count")
for i = 1, 200000 do local t = {i, i + 1, tostring(i)} end
collectgarbage()
print(collectgarbage("count") < before + 1024)
