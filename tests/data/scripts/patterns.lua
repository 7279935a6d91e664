-- Patterns through the sandbox's metered string functions: the same
-- results as stock Lua 5.4 (tests/cli/cases.py compares with its output).
return {
  match = function(t)
    local s = t.text
    local out = {}
    local function add(...) local p = table.pack(...) for i = 1, p.n do out[#out + 1] = tostring(p[i]) end end
    add(s:find("cloud"), s:find("c(l)(o)ud%s+()"), s:find("%f[%w]%w+ing"), s:find(".", 1, true))
    add(string.match(s, "^RT @([%w_]+): "), s:match("#(%w+)"), s:match("()(%d+)()", -12))
    for w in s:gmatch("%S+", 5) do add(w) end
    add(s:gsub("%s+", " "), s:gsub("(%w+)", "<%1>", 3), s:gsub("%w+", { cloud = "CLOUD" }))
    add(s:gsub("%p", function(c) return "[" .. c .. "]" end), ("x"):rep(3):gsub("", "-"))
    add(s:match("%b()"), s:gsub("%f[%a]%a", string.upper))
    add(select(2, pcall(string.match, s, "(%w+")), select(2, pcall(s.gsub, s, "(o)", "%2")))
    local a300 = ("a"):rep(300)
    add(select(2, pcall(string.find, s, "[%a")), select(2, pcall(a300.match, a300, ("a?"):rep(300))))
    return { r = table.concat(out, "|") }
  end,
}
