-- Pattern-matching search shortcuts: start positions skipped by the first item's class, and
-- backtracking positions of `*`, `+`, `-` skipped when the rest of the pattern must begin with
-- a byte of some class (looking through capture ends). Results, errors and nesting limits must
-- be exactly PUC Lua 5.4's.

local function p(...) print(pcall(...)) end
local function r(...)
  local t = table.pack(pcall(...))
  for i = 1, t.n do t[i] = tostring(t[i]) end
  return table.concat(t, ",")
end
local function show(...)
  local t = table.pack(...)
  for i = 1, t.n do t[i] = string.format("%q", t[i]) end
  print(table.concat(t, " "))
end

print("-- first item is a class")
local text = "alpha-1 beta-22 gamma-333 Delta_4 \t eps9 ZETA"
for _, pat in ipairs({"%d+", "%a+", "%u%l+", "%D+", "%s+", "%S+", "%w+", "%W", "%x%x",
                      "%p", "%l+%-%d", "%%", "%-%d+", "a+", "[%d_]+", "[^%s]+", "%a*", "%d?"}) do
  show(text:gsub(pat, "<%0>"))
  local all = {}
  for m in text:gmatch(pat) do all[#all + 1] = m end
  show(pat, #all, table.concat(all, "|"))
  show(text:find(pat), text:find(pat, 10), text:match(pat, -8))
end
show(("x\0y\0"):gsub("%z", "0"), ("\200\201a"):gsub("%A", "."), ("abc"):gsub("%a", "%0%0", 2))
show(("ab"):find("%a", 3), ("ab"):find("%a", 2), (""):gsub("%d", "x"), ("12"):gsub("^%d", "x"))

print("-- backtracking looks through captures")
show(text:match("(%a+)%-22"), text:match("(%a+)%-(%d+)%f[%D]"), text:match("((%a+))%-333"))
show(text:match("(%a*)_4"), text:match("(%a-)%-1"), text:match("(.-)%s"), text:match("(.*)%d"))
show(text:find("(%a+)%-9"), text:find("(%l+)%u"), text:match("()(%a+)()%-"))
show(("a-b-c"):match("(.*)%-(.-)$"), ("aXbXc"):match("^(.-)X(.*)$"), ("[[x]]"):match("%[(.*)%]"))
show(("key = value"):match("^(%w+)%s*=%s*(%w+)$"), ("  trim  "):match("^%s*(.-)%s*$"))
show(("<a><bb><c>"):gsub("<(.-)>", "[%1]"), ("aaa"):gsub("a-", "-"), ("aaab"):match("(a+)b"))
show(("xyz"):match("(x*)y"), ("xyz"):match("(x+)(y)"), ("abab"):match("(.+)%1"))
-- A `)` with no open capture is still an error, wherever the repetition is.
p(string.match, "aaa-", "a+)%-") p(string.match, "aaa-", "a*)-") p(string.find, "ab", "a-)b")
p(string.gsub, "aaa", "(a+))b", "") p(string.match, "aa", "(a*))")

print("-- nesting limit")
-- Each matched `x?` nests one matcher call; a failed tail backtracks cheaply through them.
p(string.find, ("a"):rep(300), ("a?"):rep(300))
for k = 192, 199 do
  local subject = ("xy"):rep(k) .. "aaab"
  print(k, r(string.find, subject, ("x?y"):rep(k) .. "(a*)%-"),
    r(string.find, subject, ("x?y"):rep(k) .. "((a+))b"),
    r(string.find, subject, ("x?y"):rep(k) .. "(a-)%-"),
    r(string.find, subject:sub(1, -2) .. "-", ("x?y"):rep(k) .. "(a*)%-"),
    r(string.find, subject, ("x?y"):rep(k) .. "a*b"))
end
