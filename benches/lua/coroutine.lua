-- Coroutine ping-pong: a producer and a filter exchange values through resume/yield.
-- callgrind-arg: 100000 (smaller size used by scripts/bench --callgrind)
local n = tonumber(arg and arg[1]) or 4000000
local producer = coroutine.create(function()
  for i = 1, n do coroutine.yield(i) end
  return nil
end)
local filter = coroutine.wrap(function()
  while true do
    local _, v = coroutine.resume(producer)
    if v == nil then break end
    if v % 3 ~= 0 then coroutine.yield(v * 2) end
  end
  return nil
end)
local sum, count = 0, 0
while true do
  local v = filter()
  if v == nil then break end
  sum = (sum + v) % 1000000007
  count = count + 1
end
print(string.format("coroutine %d %d", count, sum))
