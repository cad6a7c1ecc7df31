-- Recursive calls: naive doubly recursive Fibonacci, fib(35) by default.
-- callgrind-arg: 25 (smaller size used by scripts/bench --callgrind)
local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end
print(string.format("fib %d", fib(tonumber(arg and arg[1]) or 35)))
