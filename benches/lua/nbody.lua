-- Gravitational simulation of a few bodies with a symplectic Euler integrator. The bodies are
-- callgrind-arg: 5000 (smaller size used by scripts/bench --callgrind)
-- generated from a fixed pseudo-random sequence; the checksum is the total energy.
local steps = tonumber(arg and arg[1]) or 200000

local seed = 42
local function rand()
  seed = (seed * 16807) % 2147483647
  return seed / 2147483647
end

local bodies = {}
for i = 1, 6 do
  bodies[i] = {
    x = rand() * 10 - 5, y = rand() * 10 - 5, z = rand() * 10 - 5,
    vx = rand() - 0.5, vy = rand() - 0.5, vz = rand() - 0.5,
    mass = 0.5 + rand() * 2,
  }
end
bodies[1].mass = 40

local function energy(bs)
  local e = 0.0
  local n = #bs
  for i = 1, n do
    local a = bs[i]
    e = e + 0.5 * a.mass * (a.vx * a.vx + a.vy * a.vy + a.vz * a.vz)
    for j = i + 1, n do
      local b = bs[j]
      local dx, dy, dz = a.x - b.x, a.y - b.y, a.z - b.z
      e = e - a.mass * b.mass / math.sqrt(dx * dx + dy * dy + dz * dz + 0.01)
    end
  end
  return e
end

local function step(bs, dt)
  local n = #bs
  for i = 1, n do
    local a = bs[i]
    local ax, ay, az, am = a.x, a.y, a.z, a.mass
    for j = i + 1, n do
      local b = bs[j]
      local dx, dy, dz = ax - b.x, ay - b.y, az - b.z
      local d2 = dx * dx + dy * dy + dz * dz + 0.01
      local mag = dt / (d2 * math.sqrt(d2))
      local bm = b.mass * mag
      a.vx = a.vx - dx * bm
      a.vy = a.vy - dy * bm
      a.vz = a.vz - dz * bm
      local amm = am * mag
      b.vx = b.vx + dx * amm
      b.vy = b.vy + dy * amm
      b.vz = b.vz + dz * amm
    end
  end
  for i = 1, n do
    local a = bs[i]
    a.x = a.x + dt * a.vx
    a.y = a.y + dt * a.vy
    a.z = a.z + dt * a.vz
  end
end

local e0 = energy(bodies)
for _ = 1, steps do step(bodies, 0.001) end
print(string.format("nbody %.9f %.9f", e0, energy(bodies)))
