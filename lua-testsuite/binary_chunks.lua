-- Binary chunks: string.dump and load of the result (round trips, upvalues, stripping,
-- load modes, truncated and corrupted chunks). Nothing printed depends on the format itself.

local function roundtrip(f, strip)
  return assert(load(string.dump(f, strip), "=chunk", "b"))
end

print("== round trips")
local function add(a, b) return a + b end
print(roundtrip(add)(2, 3), roundtrip(add, true)(2.5, 1))
local function va(...) return select('#', ...), ... end
print(roundtrip(va)(1, nil, 3))
print(roundtrip(function() end)())

-- constants of every kind
local function consts()
  return nil, true, false, 0, -1, math.maxinteger, math.mininteger, 1.5, -0.0, 1e308,
    1/0, -1/0, "", "a\0b\255", string.rep("long string ", 20), 2^53, 0x7fffffff
end
local a1 = table.pack(consts())
local a2 = table.pack(roundtrip(consts)())
local same = a1.n == a2.n
for i = 1, a1.n do
  if a1[i] ~= a2[i] or math.type(a1[i]) ~= math.type(a2[i]) then same = false end
end
print("constants", a2.n, same, 1/a2[9], a2[14] == "a\0b\255")
local nan = roundtrip(function() return 0/0 end)()
print("nan", nan ~= nan)

-- a larger function: loops, closures, methods, varargs, constructors, goto, to-be-closed
local function big(n, ...)
  local t = {}
  for i = 1, n do t[#t + 1] = i * 2 end
  for i = 10.0, 1, -2.5 do t[#t + 1] = i end
  local sum = 0
  for _, v in ipairs(t) do sum = sum + v end
  local s = ("x"):rep(3) .. #t .. sum
  local words = {}
  for w in ("a bb ccc"):gmatch("%a+") do words[#words + 1] = w:upper() end
  local k = 0
  ::again::
  k = k + 1
  if k < 5 then goto again end
  local closed = {}
  do
    local c <close> = setmetatable({}, {__close = function() closed[1] = "closed" end})
  end
  local mk = function(x) return function(y) return x + y + n end end
  local packed = {n = select('#', ...), ...}
  local r = {s, table.concat(words, ","), k, closed[1], mk(1)(2), packed.n, packed[2]}
  local i, w = 0, 0
  while i < 10 do i = i + 1; if i % 2 == 0 then w = w + i elseif i == 7 then break end end
  repeat w = w - 1 until w < 3
  r[#r + 1] = w
  r[#r + 1] = (n > 3 and "big" or "small")
  r[#r + 1] = n // 2 .. "|" .. n % 3 .. "|" .. n ^ 2 .. "|" .. (n & 6) .. "|" .. (n << 2)
  return table.unpack(r)
end
print(big(4, "p", "q"))
print(roundtrip(big)(4, "p", "q"))
print(roundtrip(big, true)(4, "p", "q"))

-- large constructors (size hints with EXTRAARG) and many constants
local src = {"return {"}
for i = 1, 600 do src[#src + 1] = i .. "," end
for i = 1, 300 do src[#src + 1] = "k" .. i .. "=" .. i .. "," end
src[#src + 1] = "}"
local gen = assert(load(table.concat(src)))
local t1, t2 = gen(), roundtrip(gen)()
print("constructor", #t2, t2[600], t2.k300, #t1 == #t2)
src = {"local t = {} "}
for i = 1, 400 do src[#src + 1] = ("t[%d] = 'c%d' "):format(i, i) end
src[#src + 1] = "return t"
gen = assert(load(table.concat(src)))
print("constants", #roundtrip(gen)(), roundtrip(gen, true)()[400])

print("== nested functions")
local nest = assert(load([[
  return function (x)
    return function (y)
      return function (z) return x + y + z end
    end
  end
]]))
print(roundtrip(nest)()(2)(3)(10), roundtrip(nest, true)()(1)(1)(1))
local function mkfact()
  local function f(n) if n <= 1 then return 1 end return n * f(n - 1) end
  return f
end
print("recursive", roundtrip(mkfact)()(10))

print("== upvalues")
-- As in PUC: the first upvalue of a loaded function gets the globals, the others nil.
local up1, up2 = 1, 2
local function uses() return up1, up2 end
local f = roundtrip(uses)
local r1, r2 = f()
print(r1 == _G, r2)
print(debug.getupvalue(f, 1), (debug.getupvalue(f, 2)))
local g = load(string.dump(uses), "=g", "b", "ENV")
print(g())
-- _ENV not the first upvalue
local x; XX = 123
local function h() local y = x; return XX end
local hh = load(string.dump(h), "", "b")
print(debug.getupvalue(hh, 2), pcall(hh))
debug.setupvalue(hh, 2, _G)
print(hh())
XX = nil
-- setting upvalues of a loaded function
local a, b = 20, 30
local sx = load(string.dump(function(x)
  if x == "set" then a = 10 + b; b = b + 1 else return a end
end), "", "b", nil)
print(sx(), debug.setupvalue(sx, 1, "hi"), sx(), debug.setupvalue(sx, 2, 13))
sx("set"); print(sx()); sx("set"); print(sx())
-- many upvalues
do
  local prog = {"local a1"}
  for i = 2, 200 do prog[#prog + 1] = ", a" .. i end
  prog[#prog + 1] = " = 1"
  for i = 2, 200 do prog[#prog + 1] = ", " .. i end
  prog[#prog + 1] = "; return function () return a1"
  for i = 2, 200 do prog[#prog + 1] = " + a" .. i end
  prog[#prog + 1] = " end"
  local many = assert(load(table.concat(prog)))()
  local m = load(string.dump(many))
  local cnt = 0
  for i = 1, 200 do
    if debug.setupvalue(m, i, 10) then cnt = cnt + 1 end
  end
  print("many upvalues", many(), cnt, m())
end

print("== environments")
local envf = function() return val end
print(load(string.dump(envf), "e", "b", {val = "from env"})())
val = "global"
print(load(string.dump(envf))())
val = nil

print("== strip")
local sf = roundtrip(function(p) local q = p * 2; return q + 1 end, true)
print(sf(4))
local info = debug.getinfo(sf, "Sl")
print(info.source, info.short_src, info.what, info.currentline)
print(debug.getlocal(sf, 1))
local ok, msg = pcall(roundtrip(function(v) return v + 1 end, true), {})
print(ok, msg)
ok, msg = pcall(roundtrip(function() error("plain") end, true))
print(ok, msg)
ok, msg = pcall(roundtrip(function() error({code = 7}) end, true))
print(ok, type(msg), msg.code)
local keep = roundtrip(function(p) local q = p * 2; return q + 1 end)
print(debug.getinfo(keep, "S").source, (debug.getlocal(keep, 1)))
local su, sv = 5, 6
local stripped = load(string.dump(function() return su + sv end, true))
print(debug.getupvalue(stripped, 2))

print("== dump of a loaded function")
local d1 = string.dump(big)
print(string.dump(load(d1)) == d1, string.dump(load(string.dump(big, true)), true) ==
  string.dump(big, true))

print("== modes")
local bin = string.dump(add)
print(load(bin, "=m", "t"))
print(load("return 1", "=m", "b"))
print(load(bin, "=m", "bt") ~= nil, load(bin, "=m", "b") ~= nil)
print(pcall(string.dump, print))
print(select('#', pcall(string.dump, add)))
-- reader functions
local pos = 0
local reader = function()
  pos = pos + 1
  return bin:sub(pos, pos)
end
print(load(reader, "=r", "b")(20, 22))

print("== truncated and corrupted chunks")
local chunk = string.dump(big)
local all_truncated = true
for i = 1, #chunk - 1 do
  local fn, m = load(chunk:sub(1, i))
  if fn ~= nil or not m:find("truncated") or not m:find("bad binary format") then
    all_truncated = false
  end
end
print("every prefix is truncated", all_truncated)
local fn, m = load(chunk:sub(1, 20))
print(fn, m)
fn, m = load(chunk:sub(1, 20), "=name")
print(fn, m)
fn, m = load(chunk:sub(1, 20), "@file.lua")
print(fn, m)
-- corrupted signature / version bytes
local rejected = 0
for i = 1, 5 do
  local s = chunk:sub(1, i - 1) .. string.char((chunk:byte(i) + 1) % 256) .. chunk:sub(i + 1)
  if not load(s) then rejected = rejected + 1 end
end
print("corrupted header bytes rejected", rejected)
print(load("\27Lux"))
print(load("\27"))
print(load("\27Lua", "=x"))

print("== files")
local name = os.tmpname()
local fh = assert(io.open(name, "wb"))
fh:write(string.dump(function() return 10, "\0alo\255", "hi" end))
fh:close()
print(assert(loadfile(name))())
print(loadfile(name, "b") ~= nil, select(2, loadfile(name, "t")):find("binary chunk") ~= nil)
fh = assert(io.open(name, "wb"))
fh:write("#this is a comment for a binary file\0\n",
  string.dump(function() return 20, "\0\0\0" end))
fh:close()
print(assert(loadfile(name))())
print(dofile(name))
os.remove(name)

print("== coroutines")
local co = coroutine.wrap(roundtrip(function(a0)
  local s = a0
  while true do s = s + coroutine.yield(s) end
end))
print(co(1), co(2), co(3))

print("done")
