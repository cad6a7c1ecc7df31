-- A 1e8-iteration numeric for loop with integer accumulation.
local n = tonumber(arg and arg[1]) or 100000000
local s = 0
for i = 1, n do s = s + i end
print(s)
