-- The decoder bound: what plain Lua 5.4 with lua-cjson does with the same
-- input and nothing else, i.e. read each line and decode it. tweetmatch must
-- at least decode every tweet, so its throughput is compared with this one.
--   lua5.4 tests/bench/decode_bound.lua FILE
-- Prints "decoded: N" on stderr; exits 1 if a line does not decode.
local cjson = require "cjson"
local decode = cjson.decode
local path = assert(arg[1], "usage: lua5.4 decode_bound.lua FILE")
local n = 0
for line in io.lines(path) do
    if line ~= "" then
        local ok, v = pcall(decode, line)
        if not ok or type(v) ~= "table" then
            io.stderr:write(string.format("%s:%d: does not decode: %s\n", path, n + 1, tostring(v)))
            os.exit(1)
        end
        n = n + 1
    end
end
io.stderr:write(string.format("decoded: %d\n", n))
