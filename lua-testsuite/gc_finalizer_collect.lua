-- Inside a finalizer the collector cannot run: collectgarbage fails with nil (fail).
local results = {}
setmetatable({}, {__gc = function ()
  results[#results + 1] = tostring(collectgarbage())
  results[#results + 1] = tostring(collectgarbage("count"))
end})
collectgarbage()
print(table.concat(results, " "))
