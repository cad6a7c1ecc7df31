-- A numeric for loop with accumulation (1.3e8 iterations by default).
-- callgrind-arg: 3000000 (smaller size used by scripts/bench --callgrind)
local n = tonumber(arg and arg[1]) or 130000000
local s = 0
for i = 1, n do s = s + i end
print(string.format("sum %d", s))
