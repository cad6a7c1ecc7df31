-- string.format with integer, float, string and hex conversions, widths and precisions.
-- callgrind-arg: 6000 (smaller size used by scripts/bench --callgrind)
local n = tonumber(arg and arg[1]) or 250000
local check = 0
for i = 1, n do
  local a = string.format("%d:%5d|%-6s|%x", i, i % 1000, "n" .. i % 17, i * 3)
  local b = string.format("%.3f %8.2f %g", i / 7, i * 0.25, i / 64)
  local c = string.format("%s=%q", "k", "v" .. i)
  check = (check + #a * 3 + #b * 5 + #c + a:byte(-1) + b:byte(1)) % 1000003
end
print(string.format("format %d", check))
