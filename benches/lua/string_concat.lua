-- String building with `..` in a loop (each step makes a new string), with periodic resets
-- callgrind-arg: 80000 (smaller size used by scripts/bench --callgrind)
-- so that lengths stay moderate.
local n = tonumber(arg and arg[1]) or 3000000
local s = ""
local check, pieces = 0, { "a", "bc", "def", "ghij", "0123456789" }
for i = 1, n do
  s = s .. pieces[i % 5 + 1] .. i
  if #s > 200 then
    check = (check + #s + s:byte(1 + #s % 7)) % 1000003
    s = ""
  end
end
print(string.format("concat %d %d", check, #s))
