-- Hooks that change the hook state, and the name of a hook function.

-- a line hook that removes itself: the instruction it interrupted still runs
local t
debug.sethook(function () debug.sethook() end, "l")
t = {1}
print(#t)

-- a call hook installing a line hook that removes itself, in a vararg method
local a = {}
function a:f (x, y, ...) local arg = {...}; local c = 13; return #arg, c end
debug.sethook(function ()
  debug.sethook(function () debug.sethook(nil) end, "l")
end, "c")
print(a:f(1, 2, 3, 4, 5))
print(debug.gethook())

-- count and line hooks together, removed from inside
local n = 0
debug.sethook(function (e)
  n = n + 1
  if n == 3 then debug.sethook() end
end, "l", 1)
local u = {1, 2, 3}
local v = {table.unpack(u)}
print(#v, n)

-- inside a hook, the hook function is named "hook"
local names = {}
debug.sethook(function ()
  local info = debug.getinfo(1, "n")
  names[#names + 1] = info.namewhat .. ":" .. tostring(info.name)
  local tb = debug.traceback()
  names[#names + 1] = tostring(string.find(tb, "in hook '%?'") ~= nil)
end, "l")
local z = 1
debug.sethook()
print(table.concat(names, " "))
