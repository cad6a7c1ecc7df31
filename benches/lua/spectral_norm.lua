-- Power iteration for the largest singular value of an infinite-matrix section whose
-- callgrind-arg: 100 (smaller size used by scripts/bench --callgrind)
-- entries are 1 / (triangular number of (i + j) + i + 1), 0-based.
local n = tonumber(arg and arg[1]) or 550

local function entry(i, j)
  local s = i + j
  return 1.0 / (s * (s + 1) / 2 + i + 1)
end

local function mul(v, out)            -- out = M v
  for i = 0, n - 1 do
    local acc = 0.0
    for j = 0, n - 1 do acc = acc + entry(i, j) * v[j] end
    out[i] = acc
  end
end

local function mul_t(v, out)          -- out = M^T v
  for i = 0, n - 1 do
    local acc = 0.0
    for j = 0, n - 1 do acc = acc + entry(j, i) * v[j] end
    out[i] = acc
  end
end

local u, v, tmp = {}, {}, {}
for i = 0, n - 1 do u[i] = 1.0 end
for _ = 1, 10 do
  mul(u, tmp); mul_t(tmp, v)
  mul(v, tmp); mul_t(tmp, u)
end
local uv, vv = 0.0, 0.0
for i = 0, n - 1 do
  uv = uv + u[i] * v[i]
  vv = vv + v[i] * v[i]
end
print(string.format("spectral %.9f", math.sqrt(uv / vv)))
