--[[ Runs the cases of tests/data/unit/track.tsv (written for the C matcher,
`tm_unit track`) through the Lua matcher of lua/tweetmatch.lua, in plain
Lua 5.4: the table then holds for both.

    lua5.4 tests/lua/test_track_table.lua      (from the repository root)

Rows whose phrases are generated ("@many:", "@long:") test the C caps and
are skipped. ]]

package.path = "lua/?.lua;" .. package.path

local tm = require "tweetmatch"

local function unescape(s)
    return (s:gsub("\\(x%x%x)", function(h) return string.char(tonumber(h:sub(2), 16)) end)
             :gsub("\\([tnr\\])", { t = "\t", n = "\n", r = "\r", ["\\"] = "\\" }))
end

local function split(s, sep)
    local out, pos = {}, 1
    while true do
        local a = s:find(sep, pos, true)
        out[#out + 1] = s:sub(pos, (a or 0) - 1)
        if not a then return out end
        pos = a + #sep
    end
end

local checks, failures = 0, 0
for line in io.lines("tests/data/unit/track.tsv") do
    if line ~= "" and not line:find("^#") then
        local col = split(line, "\t")
        local name, phrases, text, links, want = col[1], col[2], col[3], col[4], col[5]
        if not phrases:find("^@") then
            phrases, want = unescape(phrases), unescape(want)
            local subject
            if links == "-" then
                subject = text ~= "-" and unescape(text) or nil
            else
                local urls = {}
                for _, u in ipairs(split(unescape(links), "\n")) do urls[#urls + 1] = { expanded_url = u } end
                subject = { text = text ~= "-" and unescape(text) or nil, entities = { urls = urls } }
            end
            local got = table.concat(tm.track_matches(subject, phrases), "\n")
            if got == "" then got = "-" end
            checks = checks + 1
            if got ~= want then
                failures = failures + 1
                print(string.format("FAIL %s\n  expected %q\n  got      %q", name, want, got))
            end
        end
    end
end
print(string.format("%d checks, %d failed", checks, failures))
os.exit(failures == 0 and 0 or 1)
