-- Calls and returns between Lua functions: how many results the caller wants against how
-- many the callee returns, returns to something other than a Lua caller (pcall, metamethods,
-- coroutines, natives calling back), and returns after natives shrank the stack.

local function show(...)
  local t = table.pack(...)
  for i = 1, t.n do t[i] = tostring(t[i]) end
  return t.n .. ": " .. table.concat(t, " ")
end

-- One result (RETURN1) or none (RETURN0) into more results than the callee has registers,
-- after a native call shrank the stack to the callee's arguments.
local function one() local _ = type(1) return 1 end
local function none() local _ = type(1) end
local function want_many()
  local a, b, c, d, e, f, g, h = one()
  local i, j, k, l, m, n, o, p = none()
  return show(a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p)
end
print(want_many())
print(show(one()), show(none()), show((one())), show((none())))

-- Several results (RETURN with a count) into fewer, as many, more, and all.
local function three() return 1, 2, 3 end
local function three_after_native() local _ = tostring(0) return "x", "y", "z" end
local function fixed_counts()
  local a = three()
  local b, c = three()
  local d, e, f, g, h, i = three()
  local j, k, l, m, n, o, p, q, r = three_after_native()
  return show(a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q, r)
end
print(fixed_counts())
print(show(three()), show(three(), 10), show(10, three()))
local t = {three(), three()}
print(#t, t[1], t[2], t[4])

-- Returns of everything up to the top (RETURN with B = 0): calls and varargs.
local function pass(...) return ... end
local function pass_call(...) return three(), pass(...) end
local function pass_after_native(...) local _ = select("#", ...) return pass(...) end
print(show(pass()), show(pass(nil, nil)), show(pass(1, nil, 3)))
print(show(pass_call("a", "b")), show(pass_after_native(4, 5, 6)))
local function many(n) local r = {} for i = 1, n do r[i] = i end return table.unpack(r) end
print(select("#", many(200)), (select(200, many(200))))
local function rest(n) return many(n) end
local a1, a2, a3 = rest(2)
print(a1, a2, a3)

-- Vararg functions returning (their frame sits above the extra arguments).
local function va(...) local x, y = ... return y, x end
local function va_many(...) return select("#", ...), ... end
print(show(va(1, 2, 3)), show(va_many()), show(va_many(nil, false)))
local function va_one(...) return (...) end
local p1, p2 = va_one(7, 8)
print(p1, p2)

-- Returns to pcall, to metamethods, to coroutines, to natives calling back.
print(pcall(three))
print(select("#", pcall(pass)), pcall(pass, 1, 2))
local mt = {__index = function(_, k) return k .. "!", "dropped" end,
            __call = function(self, a, b) return b, a end,
            __concat = function() return "cat", "dropped" end}
local obj = setmetatable({}, mt)
print(obj.key, obj(1, 2), obj .. "s")
local co = coroutine.wrap(function(...) local x = coroutine.yield(...) return x, three() end)
print(co(1, 2))
print(co("back"))
print(table.concat({string.gsub("abc", "%w", function(c) return c:upper(), "dropped" end)}, ","))
local sorted = {3, 1, 2}
table.sort(sorted, function(x, y) return x < y, "dropped" end)
print(table.concat(sorted, ","))

-- Tail calls returning several values, from fixed and vararg functions.
local function tail_three() return three() end
local function tail_va(...) return pass(...) end
local function tail_native(...) return select("#", ...) end
print(show(tail_three()), show(tail_va(1, nil)), tail_native(nil, nil, nil))
local r1, r2, r3, r4 = tail_three()
print(r1, r2, r3, r4)

-- Deep recursion through every return form.
local function depth(n)
  if n == 0 then return 0, "end" end
  local d, tag = depth(n - 1)
  return d + 1, tag
end
print(depth(10000))
local function sum_multi(n, ...)
  if n == 0 then return ... end
  return sum_multi(n - 1, n, ...)
end
print(select("#", sum_multi(100)), (sum_multi(3)))

-- Errors in callees still report positions and tracebacks through the fast returns.
local function bad(x) return x.field end
local ok, msg = pcall(function() local v = three() return bad(nil) end)
print(ok, msg)

-- Returns and tail calls of functions whose locals are captured (their open upvalues are
-- closed on the way out) or that have pending to-be-closed variables.
local function counter(start)
  local c = start
  local function inc(d) c = c + d; return c end
  local function get() return c end
  return inc, get
end
local inc1, get1 = counter(10)
local inc2, get2 = counter(100)
inc1(1); inc2(5); inc1(2)
print(get1(), get2(), inc1(0), inc2(0))
local function capture_then_tail(x)
  local y = x * 2
  local f = function() return y end
  return pass(f, y)
end
local f1, y1 = capture_then_tail(21)
print(f1(), y1)
local function capture_many(...)
  local n = select("#", ...)
  local g = function() return n end
  return g, ...
end
local g1, m1, m2 = capture_many("p", "q")
print(g1(), m1, m2)
local closed = {}
local function with_tbc(tag)
  local x <close> = setmetatable({}, {__close = function() closed[#closed + 1] = tag end})
  local h = function() return tag end
  return h, tag .. "!"
end
local h1, t1 = with_tbc("a")
print(h1(), t1, table.concat(closed, ","))
local function tbc_tail(tag)
  local x <close> = setmetatable({}, {__close = function() closed[#closed + 1] = tag end})
  return pass(tag, #closed)
end
print(tbc_tail("b"))
print(table.concat(closed, ","))
local loops = {}
for i = 1, 3 do
  local function mk() local v = i * 10 return function() return v end, v end
  loops[i] = mk()
end
print(loops[1](), loops[2](), loops[3]())
