-- Error values, positions, levels and messages naming variables.
print(pcall(error, "msg"))
print(pcall(error, "msg", 0))
print(select("#", pcall(error, {code = 1})), type(select(2, pcall(error, {code = 1}))))
print(select(2, pcall(error)))
local function lvl1() error("at level 1") end
local function lvl2() error("at level 2", 2) end
print(pcall(lvl1))
print(pcall(lvl2))
print(pcall(function() local x; return x.y end))
print(pcall(function() return undefinedglobal.y end))
print(pcall(function() local t = {} return t.a.b end))
print(pcall(function() local t = {} t.a.b = 1 end))
print(pcall(function() undefinedfn() end))
print(pcall(function() local t = {} t.method() end))
print(pcall(function() local t = {} t:method() end))
print(pcall(function() local s = "x" return s.y.z end))
print(pcall(function() local a = {} return a .. "x" end))
print(pcall(function() return #nil end))
print(pcall(function() local n; return -n end))
print(pcall(function() local up = nil; return (function() return up.x end)() end))
print(pcall(function() return ("x")() end))
print(pcall(function() return math.floor("a") end))
print(pcall(function() return ("abc"):rep({}) end))
print(pcall(string.sub))
print(pcall(setmetatable, 1, {}))
print(pcall(function() local t = setmetatable({}, {__index = function() error("inner") end}) return t.x end))
-- error objects keep their identity
local e = {}
local ok, got = pcall(function() error(e) end)
print(ok, got == e)
-- xpcall with a handler
print(xpcall(function() error("oops") end, function(m) return "handled: " .. m end))
print(xpcall(function(a, b) return a + b end, print, 2, 3))
local ok2, tb = xpcall(function() local x = nil; return x.f end, debug.traceback)
print(ok2, (tb:match("^[^\n]*")))
-- nested pcall
print(pcall(pcall, error, "x"))
-- error in __tostring
print(pcall(tostring, setmetatable({}, {__tostring = function() return 1 end})))
-- runtime errors carry positions
local ok3, m3 = pcall(function() local a = 1 + nil end)
print(m3)
-- assert
print(pcall(assert, false))
print(pcall(assert, nil, "custom"))
print(pcall(assert, 1, 2, 3))
print(select("#", pcall(assert, false, nil)))
