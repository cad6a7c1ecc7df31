-- Line events and active lines: the line each statement's code is attributed to (the line
-- of `then`, `do`, `end`, the end of a call or constructor, the last token of a chunk, ...).

local function trace(name, src)
  local f = assert(load(src, "=" .. name))
  local lines = {}
  debug.sethook(function (_, l) lines[#lines + 1] = l end, "l")
  pcall(f)
  debug.sethook()
  -- the last event is the line of the `pcall` above in this file: drop it
  lines[#lines] = nil
  print(name, table.concat(lines, " "))
end

trace("if-multiline", "if\nmath.sin(1)\nthen\n  a=1\nelse\n  a=2\nend\n")
trace("if-nil", "--\nif nil then\n  a=1\nelse\n  a=2\nend\n")
trace("elseif", "local x = 2\nif x == 1\nthen a = 1\nelseif x == 2\nthen\n a = 2\nelse a = 3 end\n")
trace("localfunc", "local function foo()\nend\nfoo()\nA = 1\nA = 2\nA = 3\n")
trace("repeat", "a=1\nrepeat\n  a=a+1\nuntil a==3\n")
trace("repeat-multiline", "a=1\nrepeat\n  local b = a\n  a=a+1\nuntil\n  b\n  ==\n  2\n")
trace("do-return", " do\n  return\nend\n")
trace("while", "local a\na=1\nwhile a<=3 do\n  a=a+1\nend\n")
trace("while-break", "while math.sin(1) do\n  if math.sin(1)\n  then break\n  end\nend\na=1")
trace("while-multiline", "local i = 0\nwhile\n i\n <\n 2\ndo\n i = i + 1\nend\n")
trace("numfor", "for i=1,3 do\n  a=i\nend\n")
trace("numfor-multiline", "for i =\n 1,\n 2\ndo\n a = i\nend\n")
trace("genfor", "for i,v in pairs{'a','b'} do\n  a=tostring(i) .. v\nend\n")
trace("genfor-multiline", "for k\nin\npairs{1}\ndo\n a = k\nend\n")
trace("oneline-for", "for i=1,4 do a=1 end")
trace("trailing-lines", "a = 1\n\n\n-- comment\n\n")
trace("no-newline", "a = 1\nb = 2")
trace("empty", "")
trace("comments-only", "-- nothing\n-- here\n")
trace("call-args", "local t = {}\nlocal x = select(1,\n  1,\n  2\n)\nt[1] = x\n")
trace("table", "local t = {\n  1,\n  2,\n  x = 3\n}\nlocal u = setmetatable({},\n  {})\n")
trace("return-multiline", "local function f(a, b)\n  return a,\n    b\nend\nlocal x, y = f(1,\n2)\n")
trace("vararg", "local function f(a,\n  ...)\n  return ...\nend\nf(1, 2)\n")
trace("closures", "do\n  local a = 1\n  local f = function () return a end\n  a = 2\nend\nb = 1\n")
trace("goto", "local i = 1\n::top::\ni = i + 1\nif i < 3 then goto top end\n")
trace("then-break", "for i = 1, 3 do\n  if i == 2 then break end\n  a = i\nend\nb = 1\n")
-- (a call's line is that of its '(' in 5.4.8 but of the expression's start in 5.4.4: keep
-- them on one line here)
trace("method", "local s = 'x'\nlocal n = s:rep(\n  2\n)\nn = #n\n")
trace("assign-multi", "local a, b\na,\nb =\n1,\n2\n")
trace("nested-if", "local x = 1\nif x then\n  if x > 0 then\n    x = 2\n  end\nend\nx = 3\n")

-- code split by long gaps (the line table uses relative and absolute entries)
for _, gap in ipairs{1, 127, 128, 129, 255, 256, 1000} do
  local nl = string.rep("\n", gap)
  trace("gap" .. gap, "local b = {10}\na = b[1]" .. nl .. "+" .. nl .. "b[1]\nb = 4\n")
end

-- active lines: a vararg function's VARARGPREP is not an active line
local function active(f)
  local t = {}
  for l in pairs(debug.getinfo(f, "L").activelines) do t[#t + 1] = l end
  table.sort(t)
  return table.concat(t, " ")
end
print(active(function (...)
  local a = 1

  return a
end))
print(active(function (a)

  local b = a
end))
print(active(function (a, b, ...) end))
print(active(load("\n\nreturn 1")))
print(active(load("local a = 1\n\n", "=x")))
trace("genfor-oneline", "for k, v in pairs{1, 2} do a = v end")
trace("genfor-empty", "for k in pairs{1, 2} do end\na = 1")
trace("genfor-lua-iter", "local function it(s, i) if i < 2 then return i + 1 end end\nfor i in it, nil, 0 do a = i end\nfor i in it, nil, 0 do\n  a = i\nend\n")

-- count events skip the same instructions as line events
local function count(src)
  local f = assert(load(src))
  local n = 0
  debug.sethook(function () n = n + 1 end, "", 1)
  f()
  debug.sethook()
  return n
end
print(count("for k, v in pairs{1, 2, 3} do local x = v end"))
print(count("local t = {} for i = 1, 10 do t[i] = i end"))
print(count("local function f(...) return ... end f(1, 2)"))
