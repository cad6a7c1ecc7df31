-- Builders: collect pieces in a table and join them with table.concat (with separators).
-- callgrind-arg: 300 (smaller size used by scripts/bench --callgrind)
local n = tonumber(arg and arg[1]) or 9500
local check = 0
for round = 1, n do
  local buf = {}
  for i = 1, 200 do
    buf[#buf + 1] = "item"
    buf[#buf + 1] = tostring(i + round)
  end
  local s = table.concat(buf)
  local csv = table.concat(buf, ",", 1, 100)
  local lines = {}
  for i = 1, 50 do lines[i] = buf[i * 2] end
  local joined = table.concat(lines, "\n")
  check = (check + #s + #csv * 3 + #joined + s:byte(#s)) % 1000003
end
print(string.format("table_concat %d", check))
