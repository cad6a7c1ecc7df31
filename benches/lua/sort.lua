-- table.sort on numbers, strings, and records with a comparator function.
-- callgrind-arg: 2000 (smaller size used by scripts/bench --callgrind)
local n = tonumber(arg and arg[1]) or 60000
local seed = 7
local function rand(m)
  seed = (seed * 16807) % 2147483647
  return seed % m
end
local check = 0
for round = 1, 3 do
  local nums, words, recs = {}, {}, {}
  for i = 1, n do
    local r = rand(1000000)
    nums[i] = r
    words[i] = string.format("w%06d", rand(1000000))
    recs[i] = {key = rand(5000), id = i}
  end
  table.sort(nums)
  table.sort(words)
  table.sort(nums, function(a, b) return a > b end)
  table.sort(recs, function(a, b)
    if a.key ~= b.key then return a.key < b.key end
    return a.id < b.id
  end)
  for i = 1, n, 97 do
    check = (check * 31 + nums[i] + recs[i].id + #words[i]) % 1000003
  end
  check = (check + tonumber(string.sub(words[n], 2))) % 1000003
end
print(string.format("sort %d", check))
