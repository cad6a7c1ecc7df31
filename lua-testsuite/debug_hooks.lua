-- debug.sethook / gethook: call, return, line and count events.
local events = {}
local function hook(e, l) events[#events + 1] = e .. (l and (":" .. l) or "") end

local function add(x)
  local y = x + 1
  return y
end

debug.sethook(hook, "crl")
add(1)
debug.sethook()
print(table.concat(events, " "))

-- line events for a loop: each iteration revisits the loop lines
events = {}
debug.sethook(hook, "l")
for i = 1, 2 do
  local _ = i
end
debug.sethook()
print(table.concat(events, " "))

-- count events
local n = 0
debug.sethook(function(e) n = n + 1 end, "", 10)
for i = 1, 1000 do end
debug.sethook()
print(n >= 90, n < 1000)

-- gethook reports the hook and its mask
local function h() end
debug.sethook(h, "cr", 5)
local f, mask, count = debug.gethook()
debug.sethook()
print(f == h, mask, count, debug.gethook())

-- hooks do not nest, and getinfo(2) inside a hook is the hooked function
local names = {}
debug.sethook(function(e)
  local info = debug.getinfo(2, "n")
  if info and info.name then names[#names + 1] = e .. " " .. info.name end
end, "c")
add(2)
debug.sethook()
print(names[1])

-- errors in hooks propagate to the hooked code
print(pcall(function()
  debug.sethook(function() debug.sethook(); error("in hook", 0) end, "l")
  local x = 1
end))
