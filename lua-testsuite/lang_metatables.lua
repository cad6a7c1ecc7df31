-- Metatables and metamethods.
local V = {}
V.__index = V
local function vec(x, y) return setmetatable({x = x, y = y}, V) end
V.__add = function(a, b) return vec(a.x + b.x, a.y + b.y) end
V.__sub = function(a, b) return vec(a.x - b.x, a.y - b.y) end
V.__mul = function(a, b)
  if type(a) == "number" then return vec(a * b.x, a * b.y) end
  if type(b) == "number" then return vec(a.x * b, a.y * b) end
  return a.x * b.x + a.y * b.y
end
V.__unm = function(a) return vec(-a.x, -a.y) end
V.__eq = function(a, b) return a.x == b.x and a.y == b.y end
V.__lt = function(a, b) return a.x < b.x end
V.__le = function(a, b) return a.x <= b.x end
V.__len = function(a) return 2 end
V.__tostring = function(a) return "(" .. a.x .. "," .. a.y .. ")" end
V.__concat = function(a, b) return tostring(a) .. tostring(b) end
V.__call = function(self, k) return self[k] end
V.__idiv = function() return "idiv" end
V.__mod = function() return "mod" end
V.__pow = function() return "pow" end
V.__div = function() return "div" end
V.__band = function() return "band" end
V.__shl = function() return "shl" end
V.__bnot = function() return "bnot" end
function V:norm2() return self * self end
local a, b = vec(1, 2), vec(3, 4)
print(tostring(a + b), tostring(a - b), a * b, tostring(2 * a), tostring(a * 3), tostring(-a))
print(a == vec(1, 2), a ~= b, a < b, a <= b, a > b, a >= b, #a)
print(a .. b, a .. "!", "!" .. a, a("x"), a:norm2())
print(a // 1, a % 1, a ^ 2, a / 2, a & 1, 1 << a, ~a)
-- __index chains: tables and functions
local base = {greet = function() return "hi" end}
local mid = setmetatable({}, {__index = base})
local top = setmetatable({}, {__index = mid})
print(top.greet(), top.missing)
local dyn = setmetatable({}, {__index = function(t, k) return k .. "!" end})
print(dyn.foo, dyn[1])
-- __newindex to a table and to a function
local store = {}
local proxy = setmetatable({}, {__newindex = store})
proxy.a = 1
print(rawget(proxy, "a"), store.a)
local log = {}
local p2 = setmetatable({}, {__newindex = function(t, k, v) log[#log + 1] = k; rawset(t, k, v * 2) end})
p2.x = 5; p2.x = 7
print(p2.x, #log)
-- __index loop detection
local loop = setmetatable({}, {})
getmetatable(loop).__index = loop
print(pcall(function() return loop.x end))
-- __metatable protection
local prot = setmetatable({}, {__metatable = "locked"})
print(getmetatable(prot), pcall(setmetatable, prot, {}))
-- __name in error messages and tostring
local named = setmetatable({}, {__name = "MyType"})
print((tostring(named):gsub("0x%x+", "ADDR")))
print(pcall(function() return named + 1 end))
-- __eq only between tables
local eqmt = {__eq = function() return true end}
local e1, e2 = setmetatable({}, eqmt), setmetatable({}, eqmt)
print(e1 == e2, e1 == 1, rawequal(e1, e2))
-- __close
do
  local order = {}
  do
    local x <close> = setmetatable({}, {__close = function(o, e) order[#order + 1] = "x" end})
    local y <close> = setmetatable({}, {__close = function(o, e) order[#order + 1] = "y" end})
  end
  print(table.concat(order, ","))
  local ok, err = pcall(function()
    local z <close> = setmetatable({}, {__close = function(o, e) order[#order + 1] = "z:" .. tostring(e) end})
    error("boom", 0)
  end)
  print(ok, err, order[3])
  print(pcall(function() local bad <close> = 42 end))
end
-- __pairs
local pt = setmetatable({}, {__pairs = function(t) return function(_, k) if not k then return 1, "one" end end, t, nil end})
for k, v in pairs(pt) do print("pairs", k, v) end
-- rawlen / rawequal / rawset bypass metamethods
print(rawlen(a), rawequal(a, a), rawlen("abc"))
-- inheritance with methods
local Animal = {} Animal.__index = Animal
function Animal.new(name) return setmetatable({name = name}, Animal) end
function Animal:speak() return self.name .. " makes a sound" end
local Dog = setmetatable({}, {__index = Animal}) Dog.__index = Dog
function Dog.new(name) return setmetatable(Animal.new(name), Dog) end
function Dog:speak() return self.name .. " barks" end
print(Animal.new("cat"):speak(), Dog.new("rex"):speak())
