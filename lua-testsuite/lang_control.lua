-- Control structures: if, while, repeat, numeric and generic for, goto, break.
local s = 0
for i = 1, 10 do s = s + i end
print(s)
for i = 10, 1, -3 do io.write(i, " ") end print()
for i = 1, 3, 0.5 do io.write(i, " ") end print()
for i = 1.0, 2 do io.write(i, " ") end print()
for i = math.maxinteger - 2, math.maxinteger do io.write(i, " ") end print()
for i = math.mininteger, math.mininteger + 2 do io.write(i, " ") end print()
for i = 1, 0 do print("never") end
for i = 3, 1 do print("never") end
for i = 1, math.huge do if i > 3 then break end io.write(i, " ") end print()
print(pcall(function() for i = 1, 10, 0 do end end))
print(pcall(function() for i = "a", 10 do end end))
print(pcall(function() for i = 1, {} do end end))
local n = 0
while n < 5 do n = n + 1 end
print(n)
repeat local k = n; n = n - 1 until k <= 2
print(n)
-- repeat's condition sees the body's locals
local r = 0
repeat local done = r >= 3; r = r + 1 until done
print(r)
-- goto and labels
do
  local i = 1
  ::top::
  if i <= 3 then io.write("g", i, " "); i = i + 1; goto top end
  print()
end
for i = 1, 3 do
  for j = 1, 3 do
    if j == 2 then goto continue end
    io.write(i, ":", j, " ")
    ::continue::
  end
end
print()
-- closures in loops capture a fresh variable per iteration
local fs = {}
for i = 1, 3 do fs[i] = function() return i end end
print(fs[1](), fs[2](), fs[3]())
local ws = {}
local j = 0
while j < 3 do j = j + 1; local k = j; ws[j] = function() return k end end
print(ws[1](), ws[2](), ws[3]())
-- generic for with custom iterators and pairs ordering on arrays
local function range(n)
  return function(_, i) if i < n then return i + 1 end end, nil, 0
end
for i in range(4) do io.write(i, ",") end print()
local t = {10, 20, 30}
for i, v in ipairs(t) do io.write(i, "=", v, " ") end print()
local keys = {}
for k in pairs({a = 1, b = 2, c = 3}) do keys[#keys + 1] = k end
table.sort(keys)
print(table.concat(keys, " "))
-- nested break
for i = 1, 3 do
  while true do break end
  if i == 2 then break end
  io.write(i)
end
print()
-- and/or values
print(nil or 1, false and 1, 1 and 2, nil and nil, false or nil, 0 or 1, "" and "x")
print(not nil, not 0, 1 == 1 and "yes" or "no")
local x = 5
local y = x > 3 and x < 10
print(y, x > 3 or error("unreached"))
