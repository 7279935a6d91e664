--[[ A Lua model of the contract's mapping from rule values to DynamoDB items.

The C marshaler is the real thing; this model lets the plain-Lua tools
(run_examples.lua, gen_expect.lua) run rules without it, and its output is
what tests/data/expect/ holds. An item becomes one line of attribute-value
JSON: map keys in byte order at every level; strings as UTF-8 with only
'"', '\\' and control characters escaped; numbers as DynamoDB decimal text
(integers exactly, integral floats without a fraction, other floats in their
shortest round-trip form); sets sorted (SS by bytes, NS by value) without
repeats; binary as base64. Errors are raised as strings. ]]

local tm = require "tweetmatch"

local list_mt = getmetatable(tm.list())
local set_mt = getmetatable(tm.set {})
local binary_mt = getmetatable(tm.binary(""))

local function jstr(s)
    if not utf8.len(s) then error("invalid UTF-8 in a string", 0) end
    return '"' .. s:gsub('[%c"\\]', function(c)
        local named = { ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t",
                        ["\b"] = "\\b", ["\f"] = "\\f" }
        return named[c] or string.format("\\u%04x", c:byte())
    end) .. '"'
end

local function number(v)
    if math.type(v) == "integer" then return tostring(v) end
    if v ~= v or v == math.huge or v == -math.huge then error("NaN or infinite number", 0) end
    if v == math.floor(v) and math.abs(v) < 2^63 then return string.format("%d", math.tointeger(v)) end
    for digits = 1, 17 do
        local s = string.format("%." .. digits .. "g", v)
        if tonumber(s) == v then return s end
    end
end

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function base64(s)
    return (s:gsub("..?.?", function(c)
        local a, b, d = c:byte(1, 3)
        local n = (a << 16) | ((b or 0) << 8) | (d or 0)
        local out = {}
        for i = 1, 4 do out[i] = B64:sub((n >> (6 * (4 - i)) & 63) + 1, (n >> (6 * (4 - i)) & 63) + 1) end
        if not b then out[3], out[4] = "=", "=" elseif not d then out[4] = "=" end
        return table.concat(out)
    end))
end

local av

local function map(t, depth)
    local keys = {}
    for k in pairs(t) do
        if type(k) ~= "string" then error("mixed or non-string keys in a map", 0) end
        keys[#keys + 1] = k
    end
    table.sort(keys)
    local parts = {}
    for i, k in ipairs(keys) do parts[i] = jstr(k) .. ":" .. av(t[k], depth + 1) end
    return "{" .. table.concat(parts, ",") .. "}"
end

av = function(v, depth)
    if depth > 32 then error("nesting deeper than 32", 0) end
    local tv = type(v)
    if tv == "string" then return '{"S":' .. jstr(v) .. "}" end
    if tv == "number" then return '{"N":"' .. number(v) .. '"}' end
    if tv == "boolean" then return '{"BOOL":' .. tostring(v) .. "}" end
    if v == tm.null then return '{"NULL":true}' end
    if tv ~= "table" then error("a " .. tv .. " value", 0) end
    local mt = getmetatable(v)
    if mt == binary_mt then return '{"B":"' .. base64(v[1]) .. '"}' end
    if mt == set_mt then
        if #v == 0 then error("empty set", 0) end
        local kind = type(v[1])
        local seen, elems = {}, {}
        for _, e in ipairs(v) do
            if type(e) ~= kind or (kind ~= "string" and kind ~= "number") then error("mixed set", 0) end
            local s = kind == "string" and e or number(e)
            if not seen[s] then seen[s] = true; elems[#elems + 1] = s end
        end
        if kind == "string" then
            table.sort(elems)
        else
            table.sort(elems, function(a, b) return tonumber(a) < tonumber(b) end)
        end
        for i, s in ipairs(elems) do elems[i] = kind == "string" and jstr(s) or '"' .. s .. '"' end
        return "{" .. (kind == "string" and '"SS"' or '"NS"') .. ":[" .. table.concat(elems, ",") .. "]}"
    end
    local n = #v
    local is_list = mt == list_mt or (n > 0 and next(v) ~= nil)
    if is_list and mt ~= list_mt then
        local count = 0
        for k in pairs(v) do
            count = count + 1
            if math.type(k) ~= "integer" or k < 1 or k > n then is_list = false end
        end
        if count ~= n then is_list = false end
        if not is_list and n > 0 then error("mixed keys", 0) end
    end
    if is_list then
        local parts = {}
        for i = 1, n do parts[i] = av(v[i], depth + 1) end
        return '{"L":[' .. table.concat(parts, ",") .. "]}"
    end
    return '{"M":' .. map(v, depth) .. "}"
end

-- What a rule returned, as lines of attribute-value JSON (one per item).
-- nil, false and {} are no item; a table with string keys is one item.
local function items(r)
    if r == nil or r == false then return {} end
    if type(r) ~= "table" then error("match returned a " .. type(r), 0) end
    local list = (#r > 0) and r or (next(r) == nil and {} or { r })
    local out = {}
    for i, it in ipairs(list) do
        if type(it) ~= "table" or #it > 0 then error("item " .. i .. " is not a table with string keys", 0) end
        out[i] = map(it, 1)
    end
    return out
end

return {
    items = items,                                   -- rule result -> list of lines
    item = function(t) return map(t, 1) end,         -- one item -> line
    value = function(v) return av(v, 1) end,         -- one value -> {"S":...} etc.
}
