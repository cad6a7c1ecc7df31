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
