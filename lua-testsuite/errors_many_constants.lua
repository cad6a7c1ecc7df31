-- Variable names in error messages of functions with more than 255 constants, where keys
-- are loaded into registers (LOADK) instead of being instruction operands.

local t = {}
for i = 1, 1000 do
  t[i] = "aaa = x" .. i
end
local s = table.concat(t, "; ")

local function msg(src)
  local ok, err = pcall(assert(load(src, "=big")))
  print(ok, err)
end

msg(s .. "; aaa = bbb + 1")
msg("local _ENV = _ENV;" .. s .. "; aaa = bbb + 1")
msg(s .. "; local t = {}; aaa = t.bbb + 1")
msg(s .. "; local t = {}; t:bbb()")
msg(s .. "; local t = {}; t.x.y = 1")
msg(s .. "; local t = {}; t:bbb(1, 2)")
msg(s .. "; local t = {x = {}}; t.x:ccc()")
msg(s .. "; ddd()")
