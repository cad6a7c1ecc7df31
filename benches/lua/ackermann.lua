-- Deep, non-tail recursion: the Ackermann function A(2, n) and A(3, n) for a range of n.
-- callgrind-arg: 6 (smaller size used by scripts/bench --callgrind)
local function ack(m, n)
  if m == 0 then return n + 1 end
  if n == 0 then return ack(m - 1, 1) end
  return ack(m - 1, ack(m, n - 1))
end

local top = tonumber(arg and arg[1]) or 9
local total = 0
for round = 1, 3 do
  for n = 1, top do
    total = total + ack(3, n)
  end
  for n = 1, top * 16 do
    total = total + ack(2, n)
  end
end
print(string.format("ackermann %d", total))
