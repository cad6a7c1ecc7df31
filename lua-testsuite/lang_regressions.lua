-- Regressions found while running the official suite; each block pins one fixed behaviour.

-- (The 5.4.7 `_ENV[1 < 2]` code-generation fix is checked in tests/cli.rs: the lua5.4
-- used for comparison still has that bug.)

-- Errors in __close during unwinding replace the error; collecting inside __close is safe.
local function closer(f) return setmetatable({}, {__close = f}) end
local function foo()
  local x <close> = closer(function(_, msg) error("@x", 0) end)
  local gc <close> = closer(function() collectgarbage() end)
  local y <close> = closer(function(_, msg) error("@y:" .. tostring(msg), 0) end)
  error("@original", 0)
end
print(pcall(foo))

-- Unbounded nesting of coroutines ends in a catchable error, not memory exhaustion.
local function nest(n)
  if n > 0 then return nest(n - 1) + 1 end
  coroutine.wrap(function() nest(50) end)()
end
local ok, msg = xpcall(nest, function(m) return "handled" end, 50)
print(ok, msg)

-- A finalizer runs once its object is unreachable, even if a copy sat in a dead register.
local done = false
local u = setmetatable({}, {__gc = function() done = true end})
local spins = 0
repeat u = {}; spins = spins + 1 until done or spins > 10000000
print(done)

-- assert adds the caller's position to string messages, like error().
print(pcall(function() assert(false, "msg") end))
print(pcall(function() assert(nil) end))

-- ipairs returns one shared iterator; upvalue identity and joining.
print(ipairs({}) == ipairs({}))
local a, b = 1, 2
local function f1() return a + b end
local function f2() return b end
print(debug.upvalueid(f1, 2) == debug.upvalueid(f2, 1))
debug.upvaluejoin(f1, 1, f2, 1)
print(f1())

-- Numeric for loops accept numeric strings and clip float limits.
for i = 1, "3" do io.write(i, " ") end print()
for i = math.maxinteger - 1, 1e100 do io.write(i, " ") end print()
for i = 1, 0 / 0 do print("never") end

-- Constructors presize the array part; long string constants are shared.
print(#{1, nil, nil, 4})
local s1 = "0123456789012345678901234567890123456789012345678901234567890"
local function same() return "0123456789012345678901234567890123456789012345678901234567890" end
print(string.format("%p", s1) == string.format("%p", same()))

-- Weak tables drop string keys whose values died.
collectgarbage(); collectgarbage()
local m = collectgarbage("count")
local w = setmetatable({}, {__mode = "kv"})
w[string.rep("a", 2^20)] = 1
w[string.rep("b", 2^20)] = {}
collectgarbage()
print(collectgarbage("count") < m + 1500)

-- Searchpath reports every template, empty ones included.
print(package.searchpath("xuxu", "??;?x;;"))
