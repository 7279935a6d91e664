--[[ Writes tests/data/expect/: what `tweetmatch test SCRIPT INPUT` should print.

    lua5.4 tests/lua/gen_expect.lua        (from the repository root)

Each case runs a script of scripts/ over a fixture of tests/data/ the way
`tweetmatch test` does (blank and undecodable lines skipped, delete notices
to on_delete and printed as {"DeleteRequest":{"Key":...}}, other control
messages skipped, tweets to match), with FILTER as the case sets it, and
writes the items as av.lua renders them. cases.tsv lists the cases, one a
line: expect file, script, FILTER ("-": unset), input. A difference between these files
and the C output is a bug in one of the two: look before regenerating. ]]

package.path = "lua/?.lua;tests/lua/?.lua;scripts/?.lua;" .. package.path

local cjson = require "cjson"
local av = require "av"

local CASES = {
    { "filter", nil, "v11_tweets" },
    { "filter", "cloud computing", "v11_tweets" },
    { "filter", "cloud computing", "v2_stream" },
    { "filter", "cloud computing", "mixed" },
    { "filter", "example.com,#tacotuesday", "v11_tweets" },
    { "hashtags", nil, "v11_tweets" },
    { "hashtags", nil, "v2_stream" },
    { "lang_followers", nil, "v11_tweets" },
    { "lang_followers", nil, "v2_stream" },
    { "scoring", nil, "v11_tweets" },
    { "scoring", nil, "v2_stream" },
    { "deletes", nil, "control" },
    { "deletes", "cloud computing", "mixed" },
}

local CONTROL = { "limit", "disconnect", "warning", "scrub_geo", "status_withheld", "user_withheld",
                  "errors", "event", "friends", "friends_str", "control" }

local function load_rule(script, filter)
    local getenv = os.getenv
    os.getenv = function(name)
        if name == "FILTER" then return filter end
        return getenv(name)
    end
    local rule = assert(loadfile("scripts/" .. script .. ".lua", "t"))()
    os.getenv = getenv
    return rule
end

local function slug(s)
    return (s:lower():gsub("[^%w]+", "_"):gsub("^_", ""):gsub("_$", ""))
end

os.execute("mkdir -p tests/data/expect")
local index = assert(io.open("tests/data/expect/cases.tsv", "w"))
index:write("# expect file\tscript\tFILTER (- for unset)\tinput\n")
for _, case in ipairs(CASES) do
    local script, filter, input = case[1], case[2], case[3]
    local rule = load_rule(script, filter)
    local out = {}
    for line in io.lines("tests/data/" .. input .. ".ndjson") do
        line = line:gsub("\r$", "")
        local ok, msg = pcall(cjson.decode, line)
        if line:find("%S") and ok and type(msg) == "table" and next(msg) ~= nil and #msg == 0 then
            if type(msg.delete) == "table" then
                if rule.on_delete then
                    for _, key in ipairs(av.items(rule.on_delete(msg))) do
                        out[#out + 1] = '{"DeleteRequest":{"Key":' .. key .. "}}"
                    end
                end
            else
                local control = false
                if msg.data == nil then
                    for _, k in ipairs(CONTROL) do
                        if msg[k] ~= nil then control = true end
                    end
                end
                if not control then
                    for _, item in ipairs(av.items(rule.match(msg))) do out[#out + 1] = item end
                end
            end
        end
    end
    local name = string.format("tests/data/expect/%s.%s%s.ndjson", script, input,
        filter and ("." .. slug(filter)) or "")
    local f = assert(io.open(name, "w"))
    for _, l in ipairs(out) do f:write(l, "\n") end
    f:close()
    print(string.format("%-60s %3d lines", name, #out))
    index:write(string.format("%s\tscripts/%s.lua\t%s\ttests/data/%s.ndjson\n", name, script, filter or "-", input))
end
index:close()
