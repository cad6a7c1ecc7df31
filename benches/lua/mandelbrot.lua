-- Floating-point loop: escape-time iteration over a grid of the complex plane.
-- callgrind-arg: 120 (smaller size used by scripts/bench --callgrind)
local size = tonumber(arg and arg[1]) or 700
local limit = 200
local inside, iters = 0, 0
for py = 0, size - 1 do
  local ci = (py / size) * 2.4 - 1.2
  for px = 0, size - 1 do
    local cr = (px / size) * 3.0 - 2.1
    local zr, zi, k = 0.0, 0.0, 0
    while k < limit do
      local zr2, zi2 = zr * zr, zi * zi
      if zr2 + zi2 > 4.0 then break end
      zi = 2.0 * zr * zi + ci
      zr = zr2 - zi2 + cr
      k = k + 1
    end
    if k == limit then inside = inside + 1 end
    iters = iters + k
  end
end
print(string.format("mandelbrot inside=%d iterations=%d", inside, iters))
