-- Pattern matching: gsub with string, function and table replacements; find, match, gmatch.
-- callgrind-arg: 500 (smaller size used by scripts/bench --callgrind)
local n = tonumber(arg and arg[1]) or 16000
local words = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"}
local parts = {}
for i = 1, 40 do parts[i] = words[i % #words + 1] .. "-" .. i end
local text = table.concat(parts, " ")
local map = {alpha = "A", beta = "B", gamma = "G"}
local check = 0
for i = 1, n do
  local s1, c1 = text:gsub("%d+", "#")
  local s2 = text:gsub("(%a+)%-(%d+)", function(w, d) return d .. w:sub(1, 1) end)
  local s3, c3 = text:gsub("%a+", map)
  local cnt = 0
  for w in text:gmatch("%a+") do cnt = cnt + #w end
  local p = text:find("theta-" .. (i % 40), 1, true) or 0
  local m = text:match("(%a+)%-" .. (i % 40 + 1) .. "%f[%D]") or ""
  check = (check + #s1 + c1 + #s2 + #s3 + c3 + cnt + p + #m) % 1000003
end
print(string.format("gsub %d", check))
