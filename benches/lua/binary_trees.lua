-- Allocation-heavy: build and walk many complete binary trees while one long-lived tree stays
-- callgrind-arg: 10 (smaller size used by scripts/bench --callgrind)
-- reachable.
local maxdepth = tonumber(arg and arg[1]) or 14

local function build(d)
  if d == 0 then return {} end
  return {build(d - 1), build(d - 1)}
end

local function count(t)
  local l = t[1]
  if l == nil then return 1 end
  return 1 + count(l) + count(t[2])
end

local keep = build(maxdepth)
local total = 0
for d = 4, maxdepth, 2 do
  local iters = 2 ^ (maxdepth - d + 4)
  local c = 0
  for _ = 1, iters do c = c + count(build(d)) end
  total = total + c
end
print(string.format("binary_trees %d %d", total, count(keep)))
