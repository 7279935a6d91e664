-- Library functions whose work the count hook cannot see, in loops (see
-- core/rule_cost.c): each must end with the instruction budget.
local function big() return table.pack(string.byte(string.rep("a", 9e5), 1, -1)) end
local kinds = {
  move = function() local t = big() for _ = 1, 1e9 do table.move(t, 1, #t, 1) end end,
  move_far = function() table.move({}, 1, 1e12, 1) end,
  insert_len = function()
    table.insert(setmetatable({}, { __len = function() return 1 << 62 end }), 1, "x")
  end,
  sort = function() local t = big() for _ = 1, 1e9 do table.sort(t) end end,
  sort_len = function()
    table.sort(setmetatable({}, { __len = function() return (1 << 31) - 2 end, __index = { 1 } }))
  end,
  unpack = function() local t = big() for _ = 1, 1e9 do local _ = select("#", table.unpack(t, 1, 900000)) end end,
  concat = function() local t = big() for _ = 1, 1e9 do table.concat(t) end end,
  byte = function() local s = string.rep("b", 9e5) for _ = 1, 1e9 do string.byte(s, 1, -1) end end,
  utf8_len = function() local s = string.rep("é", 5e6) for _ = 1, 1e9 do utf8.len(s) end end,
  collect = function() local t = big() for _ = 1, 1e9 do collectgarbage() end end,
  load = function() local c = "--" .. string.rep("x", 2e7) for _ = 1, 1e9 do load(c) end end,
  rep = function() for _ = 1, 1e9 do local _ = string.rep("x", 4e6) end end,
  equal = function()
    local a, b = string.rep("x", 2e7), string.rep("x", 2e7) .. ""
    for _ = 1, 1e9 do if a == b then end end
  end,
}
return {
  match = function(t)
    local f = kinds[t.kind]
    if f then return f() end
    return { id = t.id_str }
  end,
}
