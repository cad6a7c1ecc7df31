-- The utf8 library: encoding, decoding (strict and lax), lengths, offsets, iteration and
-- error messages (compared byte for byte with PUC Lua 5.4).

local function p(...) print(pcall(...)) end
local function hex(s) return (s:gsub(".", function(c) return string.format("%02X", c:byte()) end)) end

print("-- char")
print(hex(utf8.char(72, 228, 8364, 128512)), utf8.char(), hex(utf8.char(0)), hex(utf8.char(0x7F, 0x80, 0x7FF, 0x800)))
print(hex(utf8.char(0xFFFF, 0x10000, 0x10FFFF, 0x110000)), hex(utf8.char(0x1FFFFF, 0x200000, 0x3FFFFFF, 0x4000000, 0x7FFFFFFF)))
print(hex(utf8.char(0xD800)), utf8.char(104, 105), hex(utf8.char("65", 66.0)))
p(utf8.char, 0x80000000) p(utf8.char, -1) p(utf8.char, 1.5) p(utf8.char, "x") p(utf8.char, 65, nil)

print("-- charpattern")
print(hex(utf8.charpattern), #utf8.charpattern)
local n = 0 for c in ("añ€😀"):gmatch(utf8.charpattern) do n = n + 1 io.write(hex(c), " ") end print(n)

print("-- codepoint")
print(utf8.codepoint("häll€", 1, -1))
print(utf8.codepoint("abc"), utf8.codepoint("abc", 2), utf8.codepoint("abc", -1), utf8.codepoint("abc", 2, 1))
print(utf8.codepoint("€", 1), utf8.codepoint("\u{10FFFF}"), utf8.codepoint("\xF4\x90\x80\x80", 1, 1, true))
print(utf8.codepoint("\xED\xA0\x80", 1, 1, true), utf8.codepoint("\xFD\xBF\xBF\xBF\xBF\xBF", 1, 1, true))
print(select("#", utf8.codepoint("", 1, 0)), select("#", utf8.codepoint("abc", 4, 3)))
p(utf8.codepoint, "abc", 4) p(utf8.codepoint, "")
p(utf8.codepoint, "\xff") p(utf8.codepoint, "\xF4\x90\x80\x80") p(utf8.codepoint, "\xED\xA0\x80") p(utf8.codepoint, "\xC0\x80")
p(utf8.codepoint, "abc", 0) p(utf8.codepoint, "abc", 1, 4) p(utf8.codepoint, "\xE2\x82", 1) p(utf8.codepoint, "€", 2)
p(utf8.codepoint, "abc", "x") p(utf8.codepoint) p(utf8.codepoint, "a\x80", 1, 2)

print("-- len")
print(utf8.len("häll€"), utf8.len(""), utf8.len("abc", 2), utf8.len("abc", 4), utf8.len("abc", -1), utf8.len("häll€", 3))
print(utf8.len("a\xffb"), utf8.len("\xED\xA0\x80"), utf8.len("\xED\xA0\x80", 1, -1, true), utf8.len("ab\x80", 1, 2))
print(utf8.len("€€€", 1, 4), utf8.len("€€€", 2), utf8.len("\xF4\x90\x80\x80"), utf8.len("\xF4\x90\x80\x80", 1, -1, true))
print(utf8.len("abc", 1, -4), utf8.len("abc", 1, 0))
p(utf8.len, "abc", 5) p(utf8.len, "abc", 0) p(utf8.len, "abc", 1, 4) p(utf8.len, nil) p(utf8.len, "abc", -5)

print("-- offset")
local s = "häll€x"
print(utf8.offset(s, 1), utf8.offset(s, 2), utf8.offset(s, 3), utf8.offset(s, 6), utf8.offset(s, 7), utf8.offset(s, 8))
print(utf8.offset(s, -1), utf8.offset(s, -2), utf8.offset(s, -6), utf8.offset(s, -7), utf8.offset(s, 0, 3), utf8.offset(s, 0, 8))
print(utf8.offset(s, 2, 2), utf8.offset(s, -1, 4), utf8.offset("", 1), utf8.offset("", -1), utf8.offset("abc", 0), utf8.offset("abc", 1, 4))
p(utf8.offset, s, 1, 3) p(utf8.offset, s, 1, 20) p(utf8.offset, s, 1, 0) p(utf8.offset, s) p(utf8.offset, s, 1.5)

print("-- codes")
for pos, c in utf8.codes("hä€😀") do io.write(pos, ":", c, " ") end print()
for pos, c in utf8.codes("") do io.write(pos, c) end print("empty")
for pos, c in utf8.codes("\xED\xA0\x80a", true) do io.write(pos, ":", c, " ") end print()
print(pcall(function() for _, c in utf8.codes("ab\xffcd") do io.write(c, " ") end end))
print(pcall(function() for _, c in utf8.codes("a\xED\xA0\x80") do io.write(c, " ") end end))
p(utf8.codes, nil) p(utf8.codes)
local f, st, init = utf8.codes("ab") print(type(f), st, init, f(st, init)) print(f(st, 1), f(st, 2))
