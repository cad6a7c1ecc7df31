-- Method calls through metatables: a small class hierarchy with __index chains.
-- callgrind-arg: 200000 (smaller size used by scripts/bench --callgrind)
local n = tonumber(arg and arg[1]) or 8000000

local Shape = {}
Shape.__index = Shape
function Shape.new(cls, w, h)
  local o = setmetatable({}, cls)
  o.w, o.h = w, h
  return o
end
function Shape:area() return self.w * self.h end
function Shape:scale(k) self.w = self.w * k; self.h = self.h * k; return self end
function Shape:kind() return 1 end

local Rect = setmetatable({}, {__index = Shape})
Rect.__index = Rect
function Rect:kind() return 2 end

local Square = setmetatable({}, {__index = Rect})
Square.__index = Square
function Square:area() local s = self.w; return s * s end
function Square:kind() return 3 end

local objs = {}
for i = 1, 30 do
  local cls = (i % 3 == 0 and Shape) or (i % 3 == 1 and Rect) or Square
  objs[i] = cls:new(i % 7 + 1, i % 5 + 1)
end
local total = 0
for i = 1, n do
  local o = objs[i % 30 + 1]
  total = total + o:area() + o:kind()
  if i % 1000 == 0 then o:scale(1) end
end
print(string.format("oop %d", total))
