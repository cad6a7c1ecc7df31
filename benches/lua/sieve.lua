-- Table-heavy: repeated sieve of Eratosthenes over a boolean array.
-- callgrind-arg: 30000 (smaller size used by scripts/bench --callgrind)
local limit = tonumber(arg and arg[1]) or 1000000
local rounds = 15
local count, last = 0, 0
for _ = 1, rounds do
  local composite = {}
  for i = 1, limit do composite[i] = false end
  count = 0
  for i = 2, limit do
    if not composite[i] then
      count = count + 1
      last = i
      for j = i * i, limit, i do composite[j] = true end
    end
  end
end
print(string.format("primes %d last %d", count, last))
