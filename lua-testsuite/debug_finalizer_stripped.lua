-- The debug library names a running finalizer as the metamethod '__gc', and line hooks in
-- code without line information report a nil line, once on entry and at backward jumps.

do
  local seen
  setmetatable({}, {__gc = function ()
    local t = debug.getinfo(1, "n")
    seen = t.namewhat .. " " .. tostring(t.name)
  end})
  collectgarbage()
  print(seen)
  -- An ordinary call is not named '__gc'.
  local function f() return debug.getinfo(1, "n").namewhat end
  print(f() == "local")
end

do
  local function straight()
    local a = 1
    local b = 2
    return a + b
  end
  local function looping()
    local s = 0
    for i = 1, 3 do s = s + i end
    return s
  end
  for _, fn in ipairs{straight, looping} do
    local stripped = load(string.dump(fn, true))
    local events = {}
    debug.sethook(function (e, l) events[#events + 1] = e .. ":" .. tostring(l) end, "l")
    local r = stripped()
    debug.sethook()
    -- The last event belongs to the 'debug.sethook()' line of this chunk.
    events[#events] = nil
    print(r, #events, table.concat(events, " "))
  end
end
