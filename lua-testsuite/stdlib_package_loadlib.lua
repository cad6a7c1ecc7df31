-- package.loadlib exists; Rua cannot load C libraries and answers as a Lua built without
-- dynamic-library support ("absent"); a Lua with it fails to open a missing file ("open").
local f, msg, when = package.loadlib("/nonexistent/lib.so", "luaopen_x")
print(f, type(msg), when == "absent" or when == "open")
print(pcall(package.loadlib, "x"))
