-- string.format number conversions against PUC Lua 5.4 (glibc printf): %f over exact ties,
-- subnormals, powers of two, the 2^64 boundary and every precision up to the largest allowed,
-- integers with widths, precisions and flags, and %s with widths and precisions.

local values = {0, -0.0, 0.5, 1.5, 2.5, 0.125, 0.375, 1/3, 2/3, 1/7, 0.1, 0.7, 1e-5, 5e-324,
  2.2250738585072014e-308, 1e-300, 123.456, 999.9995, 0.0005, 0.00049999999999999995,
  2^52 + 0.5, 2^53, 2^63, 2^64 - 2048, 2^64, 2^64 + 4096, 1e20, 1e22, 1.7976931348623157e308,
  -1.5, -0.25, -123456.789, 3.14159265358979, 100, 1e15 + 0.3, 4503599627370495.5}
for _, v in ipairs(values) do
  local row = {}
  for p = 0, 99, 7 do row[#row + 1] = string.format("%." .. p .. "f", v) end
  for _, fmt in ipairs({"%f", "%.0f", "%#.0f", "%.1f", "%.2f", "%.3f", "%12.4f", "%-12.2f|",
                        "%+.3f", "% .2f", "%012.3f", "%-+9.1f|", "%e", "%.3e", "%g", "%.10g",
                        "%#g", "%a", "%.3a", "%20.2e", "%-12g|", "%012g"}) do
    row[#row + 1] = string.format(fmt, v)
  end
  print(table.concat(row, " "))
end
for i = 0, 40 do
  local v = i / 8
  io.write(string.format("%.0f %.1f %.2f %5.1f|", v, v, v, -v))
end
print()
for _, n in ipairs({0, 1, -1, 7, 42, -42, 1000, -99999, math.maxinteger, math.mininteger}) do
  print(string.format("%d|%5d|%-5d|%05d|%+d|% d|%.3d|%8.3d|%-8.3d|%.0d|%x|%#x|%#o|%08X|%#10x|%-#10o|",
    n, n, n, n, n, n, n, n, n, n, n, n, n, n, n, n))
end
for _, s in ipairs({"", "a", "hello", "hello world!"}) do
  print(string.format("[%s][%8s][%-8s][%.2s][%8.3s][%-8.0s][%.20s]", s, s, s, s, s, s, s))
end
print(pcall(string.format, "%10s", "a\0b"), pcall(string.format, "%s", "a\0b"))
