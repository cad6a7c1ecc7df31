-- Allocation-heavy loop: millions of short-lived 8-element tables; memory must stay bounded.
-- callgrind-arg: 200000 (smaller size used by scripts/bench --callgrind)
local n = tonumber(arg and arg[1]) or 8000000
local sum = 0
for i = 1, n do
  local t = {i, i + 1, i + 2, i + 3, i + 4, i + 5, i + 6, i + 7}
  sum = sum + t[8]
end
print(string.format("sum %d", sum))
