-- Hash part: insert and look up string keys and sparse integer keys, delete some, iterate.
-- callgrind-arg: 3000 (smaller size used by scripts/bench --callgrind)
local n = tonumber(arg and arg[1]) or 100000
local keys = {}
for i = 1, n do keys[i] = "key" .. i end
local total = 0
for round = 1, 12 do
  local h = {}
  for i = 1, n do h[keys[i]] = i + round end
  local found = 0
  for i = 1, n, 2 do
    local v = h[keys[i]]
    if v then found = found + v end
  end
  for i = 1, n, 3 do h[keys[i]] = nil end
  local live = 0
  for _, v in pairs(h) do live = live + 1 end
  local sparse = {}
  for i = 1, n do sparse[i * 7919] = i end
  for i = 1, n do found = found + sparse[i * 7919] end
  total = (total + found + live) % 1000000007
end
print(string.format("hash %d", total))
