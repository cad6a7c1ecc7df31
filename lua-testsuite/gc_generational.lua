-- Generational collector: mode switches, minor collections with old objects refering to
-- young ones (write barriers), weak tables, finalizers. Output compared with lua5.4.

print(collectgarbage("incremental"))
print(collectgarbage("generational"))
print(collectgarbage("generational"))

-- A long-lived table becomes old; young values stored into it must survive minor
-- collections (table barrier), through the array part, the hash part and string keys.
local big = {}
for i = 1, 2000 do big[i] = {i} end
collectgarbage()
for round = 1, 20 do
  for i = 1, 2000, 7 do big[i] = {i * round} end
  big["k" .. round] = {round}
  big[{}] = round          -- young key, kept alive by the table
  for _ = 1, 200 do local _ = {} end   -- garbage
  collectgarbage("step", 0)
end
local sum = 0
for i = 1, 2000 do sum = sum + big[i][1] end
print("big sum", sum)
local keys = 0
for k, v in pairs(big) do
  if type(k) == "table" then keys = keys + v end
end
print("table keys", keys, big.k20[1])

-- Closed upvalues are barriered too.
local function counter()
  local box = {0}
  return function(n) if n then box = {n} end return box[1] end
end
local c = counter()
collectgarbage()
for i = 1, 10 do c(i); collectgarbage("step", 0) end
print("upvalue", c())

-- Metatables set on old tables.
local obj = {}
collectgarbage()
setmetatable(obj, {__index = function(_, k) return k .. "!" end})
collectgarbage("step", 0); collectgarbage("step", 0); collectgarbage("step", 0)
print("meta", obj.x)

-- Weak values: a young object only in an old weak table is cleared by minor collections.
local weak = setmetatable({}, {__mode = "v"})
local keep = {}
collectgarbage()
weak[1] = {}
weak[2] = keep
collectgarbage("step", 0)
collectgarbage("step", 0)
print("weak v", weak[1], weak[2] == keep)

-- Weak keys (ephemerons): the value lives while the key does.
local eph = setmetatable({}, {__mode = "k"})
local key = {}
collectgarbage()
eph[key] = {"for key"}
eph[{}] = {"lost"}
collectgarbage("step", 0)
collectgarbage("step", 0)
collectgarbage()
local n = 0
for _ in pairs(eph) do n = n + 1 end
print("ephemeron", n, eph[key][1])

-- Finalizers of young objects run after a minor collection; old ones after a full one.
local log = {}
do
  setmetatable({}, {__gc = function() log[#log + 1] = "young" end})
end
collectgarbage("step", 0)
collectgarbage("step", 0)
collectgarbage()
print("finalized", table.concat(log, ","))

-- Switching back to incremental mode keeps everything reachable.
print(collectgarbage("incremental"))
for i = 1, 2000, 7 do big[i] = {i} end
collectgarbage()
sum = 0
for i = 1, 2000 do sum = sum + big[i][1] end
print("after switch", sum, c(), obj.y)
print(collectgarbage("step", 0))
print(type(collectgarbage("count")))
