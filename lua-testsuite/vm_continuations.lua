-- Natives waiting for a call they made (pcall, xpcall, gsub replacements, ...): their
-- continuations are kept beside the frames in Rua, so every way a frame goes away (return,
-- error unwinding, yield and resume, coroutine.close, death by error) must drop its
-- continuation with it. A leak would show as a refused yield, a spurious "C stack overflow"
-- or a continuation run for the wrong frame.

-- Errors raised inside a non-yieldable continuation (a gsub replacement) and caught further
-- down leave the coroutine yieldable.
local co = coroutine.wrap(function()
  for i = 1, 3 do
    local ok, e = pcall(string.gsub, "abc", "%w", function(c) error("repl " .. c .. i, 0) end)
    print(ok, e, coroutine.isyieldable())
    coroutine.yield(i)
  end
  return "done"
end)
print(co(), co(), co(), co())

-- Caught errors at the bottom of deep pcall chains, many times: nothing accumulates toward
-- the C-call limit.
local function nest(n)
  if n == 0 then error("bottom", 0) end
  return pcall(nest, n - 1)
end
local last
for _ = 1, 200 do last = table.pack(nest(150)) end
print(last.n, last[1], last[2], last[3])

-- An error crossing several waiting natives of different kinds, caught by the outermost.
print(pcall(function()
  return xpcall(function()
    return string.gsub("x", "x", function()
      return select(2, pcall(error, "inner", 0)) .. assert(false, "outer")
    end)
  end, function(m) return "handled: " .. m end)
end))

-- Yields across two pcalls; the resume value raises an error caught by the inner one, then
-- by nothing further: each continuation gets its own outcome.
local c2 = coroutine.create(function(a)
  return pcall(function()
    local r = table.pack(pcall(function()
      local x = coroutine.yield(a)
      error(x, 0)
    end))
    coroutine.yield(r[1], r[2])
    return "after"
  end)
end)
print(coroutine.resume(c2, 1))
print(coroutine.resume(c2, "boom"))
print(coroutine.resume(c2))
print(coroutine.status(c2))

-- A coroutine suspended under pcalls, then closed; its resumer goes on calling through pcall.
local c3 = coroutine.create(function()
  pcall(pcall, function() coroutine.yield("inside") end)
end)
print(coroutine.resume(c3))
print(coroutine.close(c3), coroutine.status(c3))
print(pcall(function() return "resumer fine" end))

-- A coroutine dying with an error under pcall-free frames while its resumer waits in pcall.
local c4 = coroutine.wrap(function()
  pcall(coroutine.yield, 1)
  error("dies", 0)
end)
print(c4())
print(pcall(c4))
print(select("#", pcall(pcall, pcall, pcall, error, "x")), pcall(pcall, pcall, pcall, error, "x"))
