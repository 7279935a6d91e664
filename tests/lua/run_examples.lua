--[[ Runs the `examples` of rule scripts in plain Lua, as `tweetmatch check` does.

    lua5.4 tests/lua/run_examples.lua scripts/*.lua     (from the repository root)

For trying scripts and their examples without building tweetmatch. Items
are turned into DynamoDB attribute-value JSON by av.lua, a Lua model of the
contract's type mapping, so expected and actual items compare as the C
marshaler would compare them. A delete notice goes to on_delete, anything
else to match. Exit status: 0 all passed, 1 a failure, 2 a script that does
not load. ]]

package.path = "lua/?.lua;tests/lua/?.lua;" .. package.path

local cjson = require "cjson"

local av = require "av"
local items = av.items

local failed, total = 0, 0

local function run_script(path)
    local dir = path:match("^(.*)/[^/]*$") or "."
    local saved = package.path
    package.path = dir .. "/?.lua;" .. saved
    local chunk, err = loadfile(path, "t")
    if not chunk then
        io.stderr:write(err, "\n")
        os.exit(2)
    end
    local ok, rule = pcall(chunk)
    package.path = saved
    if not ok then
        io.stderr:write(path, ": ", tostring(rule), "\n")
        os.exit(2)
    end
    if type(rule) ~= "table" then rule = { match = rawget(_G, "match"), examples = rawget(_G, "examples") } end
    for i, ex in ipairs(rule.examples or {}) do
        total = total + 1
        local name = string.format("%s: example %d (%s)", path, i, ex.name or "unnamed")
        local ok2, res = pcall(function()
            local msg = ex.tweet
            if ex.json then msg = cjson.decode(ex.json) end
            local fn = type(msg) == "table" and type(msg.delete) == "table" and rule.on_delete or rule.match
            local got = table.concat(items(fn(msg)), "\n")
            local want = table.concat(items(ex.expect), "\n")
            if got ~= want then
                return string.format("expected:\n  %s\ngot:\n  %s", want:gsub("\n", "\n  "), got:gsub("\n", "\n  "))
            end
        end)
        if not ok2 then res = "error: " .. tostring(res) end
        if res then
            failed = failed + 1
            print("FAIL " .. name .. "\n" .. res)
        end
    end
end

for _, path in ipairs(arg) do run_script(path) end
print(string.format("examples: %d, failed: %d", total, failed))
os.exit(failed == 0 and 0 or 1)
