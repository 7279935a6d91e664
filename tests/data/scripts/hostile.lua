-- Misbehaving rules, one per tweet "kind": each must cost that tweet only.
local tm = require "tweetmatch"
local cjson = require "cjson"
kept = {}
forever = coroutine.wrap(function() while true do end end) -- made while the script loads
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
  -- Added with the metered patterns, cjson guard and __gc refusal (kept
  -- below the older kinds, whose line numbers the cli cases name).
  bytecode_assert = function() return { r = assert(load("\27LuaT\0\25\147\r\n\26\n")) } end,
  rep_loop = function() for _ = 1, 1e9 do local s = string.rep("x", 4e6) end end,
  coroutine_forever = function() forever() end,
  pattern_find = function() return { r = string.find(string.rep("a", 300000), ".-.-.-.-.-b") } end,
  pattern_method = function() return { r = ("x"):rep(1e5):match("(.-)(.-)(.-)y") } end,
  pattern_pcall = function()
    local s = ("x"):rep(1e5)
    for _ = 1, 1e9 do pcall(s.match, s, "(.-)(.-)(.-)y") end
  end,
  pattern_gsub = function() return { r = string.gsub(string.rep("ab", 1e5), "(.-)%1$", "") } end,
  cjson_big = function()
    local s = string.rep("\1", 1 << 20) -- 6 MB encoded
    return { json = cjson.encode({ s, s, s }) }
  end,
  cjson_shared = function()
    local t = { string.rep("\1", 1000) }
    for _ = 1, 40 do t = { t, t } end -- 2^40 paths to one string
    return { json = cjson.encode(t) }
  end,
  cjson_depth = function() cjson.encode_max_depth(100000) end,
  cjson_keep_buffer = function() cjson.encode_keep_buffer(false) end,
  cjson_decode_big = function() return { v = cjson.decode("[" .. string.rep("[],", 1 << 19) .. "[]]") } end,
  gc_loop = function() setmetatable({}, { __gc = function() while true do end end }) collectgarbage() end,
  gc_error = function() setmetatable({}, { __gc = function() error("collected") end }) collectgarbage() end,
  gc_alloc = function()
    setmetatable({}, { __gc = function() kept[#kept + 1] = string.rep("z", 1e9) end })
    collectgarbage()
  end,
  index_trap = function()
    local trap = { __index = function() while true do end end, __len = function() error("len trap") end,
                   __pairs = function() error("pairs trap") end }
    return { m = setmetatable({ 1, x = 2 }, trap) }
  end,
  index_trap_item = function(t)
    return setmetatable({ id = t.id_str }, { __index = function() error("index trap") end })
  end,
  error_nil = function() error(nil) end,
  error_function = function() error(print) end,
  error_light_userdata = function() error(cjson.null) end,
  error_userdata = function() error((require("tweetmatch.native").track_compile("a"))) end,
  error_tostring_loop = function() error(setmetatable({}, { __tostring = function() while true do end end })) end,
  error_huge = function() error(string.rep("x", 1e6)) end,
  cycle = function() local t = {} t.self = t return { t = t } end,
  cycle_list = function() local t = {} t[1] = t return { t = t } end,
}
return {
  match = function(tweet)
    local f = bad[tweet.kind]
    if f then return f(tweet) end
    return { id = tweet.id_str, kind = tweet.kind }
  end,
  bad = bad, -- for tests that choose the kind otherwise (tests/e2e hostile_rules)
}
