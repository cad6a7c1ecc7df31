-- Binary chunks start with PUC Lua 5.4's header, field for field; any change to it, and any
-- truncation, makes load fail.

local header = string.pack("c4BBc6BBB", "\27Lua", 0x54, 0, "\x19\x93\r\n\x1a\n",
  4, string.packsize("j"), string.packsize("n"))

local c = string.dump(function ()
  local a = 1; local b = 3
  local f = function () return a + b + _ENV.c end
  local s1 = "a constant"
  return a + b * 3
end)

print(assert(load(c))())
print(string.sub(c, 1, #header) == header)
print(string.unpack("jn", c, #header + 1))

local rejected = 0
for i = 1, #header do
  local s = string.sub(c, 1, i - 1) .. string.char((string.byte(c, i) + 1) % 256) ..
            string.sub(c, i + 1)
  if not load(s) then rejected = rejected + 1 end
end
print("corrupted header bytes rejected", rejected == #header)

local truncated = 0
for i = 1, #c - 1 do
  local f, msg = load(string.sub(c, 1, i))
  if not f and string.find(msg, "truncated") then truncated = truncated + 1 end
end
print("truncations reported", truncated == #c - 1)

-- the same for a stripped chunk
local s = string.dump(load("return 2 ^ 10"), true)
print(string.sub(s, 1, #header) == header, load(s)())
