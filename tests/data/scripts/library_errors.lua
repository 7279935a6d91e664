-- Errors of the library functions rule_cost.c wraps, as stock Lua words them.
return { match = function(t)
  local out = {}
  local function e(f, ...) local ok, m = pcall(f, ...) out[#out + 1] = tostring(m) end
  e(function() table.insert(nil, 1) end)
  e(function() table.insert({}, 1, 2, 3) end)
  e(function() table.insert({}, 5, 1) end)
  e(function() local tinsert = table.insert tinsert({}, 5, 1) end)
  e(function() table.sort({3, 2, 1}, function(a, b) error("cmp") end) end)
  e(function() table.concat({ {} }) end)
  e(function() string.byte("abc", {}) end)
  e(function() utf8.len(nil) end)
  e(function() table.unpack({}, 1, 1e7) end)
  e(function() collectgarbage("nope") end)
  e(function() table.move({}, 1, 2, 3, 4) end)
  local t = { 3, 1, 2 } table.sort(t) table.insert(t, 4) table.insert(t, 1, 0)
  out[#out + 1] = table.concat(t, ",") .. ";" .. table.remove(t) .. ";" .. select("#", table.unpack(t)) .. ";" .. string.byte("A") .. utf8.char(233, 72) .. utf8.len("héllo")
  return { r = table.concat(out, "\n") }
end }
