-- lua-cjson in the sandbox (core/rule_cjson.c): small encodes as stock
-- lua-cjson makes them; outputs that could pass the memory cap refused.
local cjson = require "cjson"
local safe = require "cjson.safe"
local SAMPLE = { 1, 2.5, -0.125, "a\"b/\\\1\127é", true, cjson.null, { x = { 1e300, -3 } }, {}, { [1] = 1, [3] = 3 } }
local function big(n) return { string.rep("a", n) } end
local kinds = {
  small = function()
    return { plain = cjson.encode(SAMPLE), safe = safe.encode(SAMPLE), new = cjson.new().encode(SAMPLE),
             safe_new = safe.new().encode(SAMPLE), str = cjson.encode("x\n\0"), num = cjson.encode(42) }
  end,
  fits = function() return { len = #cjson.encode(big(1500000)) } end,    -- at most 9 MB: fits in 16
  refused = function() return { len = #cjson.encode(big(2500000)) } end, -- at most 15 MB: does not
  safe_refused = function() local v, err = safe.encode(big(2500000)) return { v = v == nil, err = err } end,
  new_refused = function() return { len = #cjson.new().encode(big(2500000)) } end,
  sparse_refused = function()
    cjson.encode_sparse_array(false, 0) -- lua-cjson would write 2^31 "null,"s
    local ok, err = pcall(cjson.encode, { [2147483647] = 1 })
    cjson.encode_sparse_array(false, 2, 10)
    return { ok = ok, err = err }
  end,
  sparse_default = function() return { err = select(2, pcall(cjson.encode, { [2147483647] = 1 })) } end,
  own_depth_limit = function()
    cjson.encode_max_depth(5)
    local ok, err = pcall(cjson.encode, { { { { { { 1 } } } } } })
    cjson.encode_max_depth(1000)
    return { ok = ok, err = err }
  end,
  settings = function()
    local p = cjson.encode_number_precision(3)
    local pi = cjson.encode(math.pi)
    cjson.encode_number_precision(14)
    return { p = p, pi = pi, keep = cjson.encode_keep_buffer(true), keep_on = cjson.encode_keep_buffer("on"),
             depth = cjson.encode_max_depth(1000), ddepth = cjson.decode_max_depth(999) }
  end,
  keep_off_string = function() cjson.encode_keep_buffer("off") end,
  decode_depth = function() safe.decode_max_depth("5000") end,
  decode_small = function() return { v = cjson.decode('{"a":[1,2,"x"]}').a[3] } end,
  error_position = function() return { json = cjson.encode(print) } end,
  safe_error = function() return { err = select(2, safe.encode(print)) } end,
}
return {
  match = function(t)
    local f = kinds[t.kind]
    if f then return f(t) end
    return { id = t.id_str }
  end,
}
