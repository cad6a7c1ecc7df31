-- getinfo's 'r' option (values transferred in call and return hooks) and the registry's
-- _HOOKKEY table of hook functions.

local on = false
local log = {}
local function hook(event)
  if not on then return end
  local ar = debug.getinfo(2, "r")
  local t = {}
  for i = ar.ftransfer, ar.ftransfer + ar.ntransfer - 1 do
    local _, v = debug.getlocal(2, i)
    t[#t + 1] = tostring(v)
  end
  log[#log + 1] = event .. ":" .. table.concat(t, ",")
end
debug.sethook(hook, "cr")
on = true; math.max(3, 7); on = false
on = true; select(2, 10, 20, 30, 40); on = false
local function foo(a, ...) return ... end
local function foo1() on = not on; return foo(20, 10, 0) end
foo1(); on = false
local function three(x, y) local z = x + y; return z, x, y end
on = true; three(1, 2); on = false
debug.sethook()
for _, l in ipairs(log) do print(l) end

-- outside hooks there is nothing transferred
local ar = debug.getinfo(1, "r")
print(ar.ftransfer, ar.ntransfer)

-- hook functions are kept in a weak-keyed registry table
debug.sethook(hook, "l")
local hk = debug.getregistry()._HOOKKEY
debug.sethook()
print(type(hk), getmetatable(hk).__mode)
local co = coroutine.create(function () end)
debug.sethook(co, print, "c")
print(hk[co] == print, debug.gethook(co) == print)
debug.sethook(co)
print(hk[co], debug.gethook(co))
