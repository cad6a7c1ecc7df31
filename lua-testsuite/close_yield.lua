-- Yielding inside __close handlers run on a normal exit (block end, return, break, goto):
-- closing is part of the interpreter loop, not a nested call.

local function closer(f) return setmetatable({}, {__close = f}) end

local trace = {}
local co = coroutine.wrap(function ()
  trace[#trace + 1] = "start"
  local x <close> = closer(function (_, err)
    trace[#trace + 1] = "x1 " .. tostring(err)
    coroutine.yield("x")
    trace[#trace + 1] = "x2"
  end)
  return pcall(function ()
    do
      local z <close> = closer(function ()
        trace[#trace + 1] = "z1"
        coroutine.yield("z")
        trace[#trace + 1] = "z2"
      end)
    end
    trace[#trace + 1] = "mid"
    local y <close> = closer(function ()
      trace[#trace + 1] = "y1"
      coroutine.yield("y")
      trace[#trace + 1] = "y2"
    end)
    return 10, 20, 30
  end)
end)
print(co())
print(co())
print(co())
print(co())
print(table.concat(trace, ","))

-- the results of a multiple return survive the yields (and the handler's own calls)
local function many(n)
  local t = {}
  for i = 1, n do t[i] = i end
  return table.unpack(t)
end
co = coroutine.wrap(function ()
  local a <close> = closer(function ()
    local junk = {many(50)}
    coroutine.yield(#junk)
  end)
  local b <close> = closer(coroutine.yield)
  return many(20)
end)
local y1 = table.pack(co())
print(y1.n, type(y1[1]), y1[2])
print(co())
local r = table.pack(co())
print(r.n, r[1], r[20])

-- loops: break and goto leave the scope of a closed variable
co = coroutine.wrap(function ()
  local log = {}
  for i = 1, 3 do
    local v <close> = closer(function () coroutine.yield("loop " .. i); log[#log + 1] = i end)
    if i == 2 then break end
  end
  local k = 0
  ::again::
  do
    k = k + 1
    local w <close> = closer(function () coroutine.yield("goto " .. k) end)
    if k < 2 then goto again end
  end
  return table.concat(log, " ")
end)
for _ = 1, 5 do print(co()) end

-- generic for: the closing value of the loop is closed when the loop breaks
co = coroutine.wrap(function ()
  local state = closer(function () coroutine.yield("for closed") end)
  for i in function (_, i) if i < 3 then return i + 1 end end, nil, 0, state do
    if i == 2 then break end
  end
  return "after for"
end)
print(co())
print(co())

-- a handler error on a normal exit still reaches pcall
print(pcall(function ()
  local e <close> = closer(function () error("in close", 0) end)
  return 1
end))

-- outside coroutines, closing works as before
do
  local order = {}
  do
    local a <close> = closer(function () order[#order + 1] = "a" end)
    local b <close> = closer(function () order[#order + 1] = "b" end)
  end
  print(table.concat(order))
end

-- closing while pcall recovers from an error: handlers may yield, get the error, and an
-- error raised by a handler replaces it for the handlers below and for pcall
co = coroutine.wrap(function (raise)
  local function body()
    local a <close> = closer(function (_, err)
      coroutine.yield("a got " .. tostring(err))
    end)
    local b <close> = closer(function (_, err)
      coroutine.yield("b got " .. tostring(err))
      if raise then error("from b", 0) end
    end)
    local c <close> = closer(function (_, err)
      local junk = {}
      err = nil
      collectgarbage()   -- the error in flight must survive a collection
      coroutine.yield("c")
    end)
    error({"boom"})
  end
  local ok, err = pcall(body)
  coroutine.yield(tostring(ok) .. " " .. (type(err) == "table" and err[1] or err))
  return "done"
end)
print(co(false))
for _ = 1, 4 do print((string.gsub(co(), "table: 0x%x+", "table"))) end

co = coroutine.wrap(function ()
  local ok, err = pcall(function ()
    local a <close> = closer(function (_, err) coroutine.yield("a: " .. tostring(err)) end)
    local b <close> = closer(function () error("from b", 0) end)
    error("first", 0)
  end)
  return ok, err
end)
print(co())
print(co())

-- nested pcalls inside a handler during recovery
print(pcall(function ()
  local x <close> = closer(function (_, err)
    print("x sees", err, pcall(error, "inner", 0))
  end)
  error("outer", 0)
end))

-- a non-callable __close during recovery
print(pcall(function ()
  local x <close> = setmetatable({}, {__close = function () end})
  getmetatable(x).__close = 42
  error("e", 0)
end))
