-- String literals, escapes, long strings, concatenation and comparison.
print("tab\tnew\\line", 'single "q"', "double 'q'", "\65\066\x43", "\u{48}\u{49}", "a\z
      b")
print(#"\0\1\2", #"\u{10FFFF}", #"\u{7FFFFFFF}", ("\xff"):byte())
print([[long
string]], [==[with ]] inside]==], [[
first newline skipped]])
print("a" .. "b" .. 1 .. 2.0 .. -3)
print("a" < "b", "a" < "ab", "Z" < "a", "" < "a", "abc" <= "abc", "b" > "abc")
print(("x"):rep(3), #("x"):rep(100), ("abc"):upper(), ("%d"):format(7))
local s = "hello"
print(s:len(), s:sub(2, 3), s:byte(1), s:find("l"), s:reverse())
print(tostring(nil), tostring(true), tostring(12), tostring(1.5))
local parts = {}
for i = 1, 5 do parts[#parts + 1] = i end
print(table.concat(parts, "-"))
local big = ""
for i = 1, 100 do big = big .. "x" end
print(#big, big == string.rep("x", 100))
print("\"escaped\"", '\'', "\\", "\r" == "\13", "\n" == "\10")
