-- Array part: fill with t[#t + 1] and t[i], then sum with numeric for and ipairs.
-- callgrind-arg: 20000 (smaller size used by scripts/bench --callgrind)
local n = tonumber(arg and arg[1]) or 700000
local total = 0
for round = 1, 12 do
  local t = {}
  for i = 1, n do t[#t + 1] = (i * 7 + round) % 1000 end
  for i = 1, n do t[i] = t[i] + 1 end
  local s = 0
  for i = 1, #t do s = s + t[i] end
  for _, x in ipairs(t) do s = s - x % 3 end
  total = (total + s) % 1000000007
end
print(string.format("array %d", total))
