-- Misbehaving rules, one per tweet "kind": each must cost that tweet only.
local tm = require "tweetmatch"
kept = {}
local bad = {
  error = function(t) error("no field 'x' in tweet " .. t.id_str) end,
  error_table = function() error({ code = 42 }) end,
  error_tostring = function() error(setmetatable({}, { __tostring = function() error("again") end })) end,
  loop = function() while true do end end,
  pcall_loop = function() while true do pcall(function() while true do end end) end end,
  coroutine_loop = function()
    local co = coroutine.wrap(function() while true do coroutine.yield() end end)
    while true do co() end
  end,
  recursion = function() local function f(n) return f(n + 1) + 1 end return f(1) end,
  memory = function() local t = {} for i = 1, 1e9 do t[i] = string.rep("x", 1024) .. i end end,
  memory_rep = function() return { s = string.rep("x", 1 << 40) } end,
  memory_kept = function() for i = 1, 1e9 do kept[#kept + 1] = string.rep("y", 4096) .. i end end,
  ["function"] = function() return { f = print } end,
  mixed = function() return { m = { 1, 2, x = 3 } } end,
  utf8 = function() return { s = "caf\xe9" } end,
  big = function() return { s = string.rep("x", 401 * 1024) } end,
  deep = function() local v = "x" for _ = 1, 33 do v = { v } end return { d = v } end,
  nan = function() return { x = 0 / 0 } end,
  empty_set = function() return { tags = tm.set {} } end,
  many = function() local r = {} for i = 1, 10000 do r[i] = { i = i } end return r end,
  bytecode = function() return { r = load(string.dump and string.dump(print) or "\27Lua") == nil } end,
}
return {
  match = function(tweet)
    local f = bad[tweet.kind]
    if f then return f(tweet) end
    return { id = tweet.id_str, kind = tweet.kind }
  end,
}
