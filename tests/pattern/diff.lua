-- diff.lua: the differential test of core/rule_pattern.c against the stock
-- string library, run by pattern_test.c in a plain Lua state where the
-- stock functions are string.* and ours are mine.* (with a meter that has
-- a practically endless budget; meter_used() reads it).
--
-- A case is a call (function name and arguments); both implementations run
-- it under pcall and the outcome is serialised: every result with its type,
-- or the error message. gmatch runs its iterator to the end (or 60 steps);
-- a gsub replacement function records every call it gets.
local D = {}

local stock = { find = string.find, match = string.match, gmatch = string.gmatch, gsub = string.gsub }
local ours = mine

local function ser(v)
  local t = type(v)
  if t == "string" then return string.format("%q", v) end
  if t == "number" then return math.type(v) .. ":" .. string.format("%.17g", v) end
  if t == "table" then return "table" end
  return tostring(v)
end

-- Error messages name the function as its caller saw it ('string.find' or
-- 'f'); the rest must be the same.
local function norm_err(e)
  if type(e) ~= "string" then return "error object " .. type(e) end
  return (e:gsub("^(bad argument #%d+ to )'[^']*'", "%1'?'"))
end

local function outcome(...)
  local n = select("#", ...)
  local ok = ...
  if not ok then return "error: " .. norm_err((select(2, ...))) end
  local out = {}
  for i = 2, n do out[#out + 1] = ser((select(i, ...))) end
  return "ok: " .. table.concat(out, ", ")
end

-- A replacement that is not the same object for both runs but behaves the
-- same: a fresh function (recording its calls) or table per run.
local function make_repl(spec, log)
  if spec.kind == "function" then
    local calls = 0
    return function(...)
      calls = calls + 1
      local args = table.pack(...)
      local parts = {}
      for i = 1, args.n do parts[i] = ser(args[i]) end
      log[#log + 1] = table.concat(parts, " ")
      local r = spec.returns[(calls - 1) % #spec.returns + 1]
      if r == "arg1" then return args[1] end
      if r == "concat" then return table.concat(parts, "|") end
      if r == "table" then return {} end
      if r == "false" then return false end
      if r == "nil" then return nil end
      if r == "num" then return calls * 1.5 end
      if r == "int" then return calls end
      if r == "error" then error("repl error " .. calls) end
      return r
    end
  elseif spec.kind == "table" then
    local t = {}
    for k, v in pairs(spec.map) do
      if v == "TABLE" then t[k] = {} else t[k] = v end
    end
    return t
  end
  return spec.value
end

-- args: the arguments (a table.pack), or a function returning them anew.
local function run(impl, name, args)
  local f = impl[name]
  local a = type(args) == "function" and table.pack(args()) or table.pack(table.unpack(args, 1, args.n))
  local log = {}
  if name == "gsub" and type(args) == "table" and args.repl then
    a[3] = make_repl(args.repl, log)
  end
  if name == "gmatch" then
    local ok, it = pcall(f, table.unpack(a, 1, a.n))
    if not ok then return "error: " .. norm_err(it) end
    local out = {}
    for _ = 1, 60 do
      local r = table.pack(pcall(it))
      if not r[1] then out[#out + 1] = "error: " .. norm_err(r[2]) break end
      if r.n == 1 or r[2] == nil then out[#out + 1] = "end" break end
      out[#out + 1] = outcome(table.unpack(r, 1, r.n))
    end
    return table.concat(out, " / ")
  end
  local s = outcome(pcall(f, table.unpack(a, 1, a.n)))
  if #log > 0 then s = s .. " calls: " .. table.concat(log, "; ") end
  return s
end

-- Runs one case on both; returns nil when they agree, else a report.
function D.compare(name, args)
  local want = run(stock, name, args)
  local got = run(ours, name, args)
  local used = meter_used()
  if used > 1 << 40 then
    return "the meter kept a reservation: used = " .. used
  end
  if want ~= got then
    local shown = {}
    local a = type(args) == "function" and table.pack(args()) or args
    for i = 1, a.n do shown[i] = ser(a[i]) end
    if a.repl then shown[#shown + 1] = "repl " .. a.repl.kind end
    return string.format("%s(%s)\n  stock: %s\n  ours:  %s", name, table.concat(shown, ", "), want, got)
  end
  return nil, want
end

-- ---- generated cases ----

local rnd = math.random
local function pick(t) return t[rnd(#t)] end

local SUBJ_CHARS = { "a", "a", "a", "b", "b", "c", "x", "(", ")", "[", "]", "%", "-", ".", "^", "$", "1", "9",
                     " ", "\t", "\0", "\200", "\255", "A", "Z", "_", "\n", "é", "{", "}" }
local LITERALS = { "a", "b", "c", "x", "A", "1", " ", "\0", "\200", "_", "é", "{", "}", "y", "z" }
local CLASSES = { "a", "c", "d", "g", "l", "p", "s", "u", "w", "x", "A", "C", "D", "G", "L", "P", "S", "U",
                  "W", "X", "z", "Z", ".", "%", "(", ")", "[", "]", "-", "^", "$", "\0", "b2", "f" }
local QUANT = { "", "", "", "*", "+", "-", "?" }

local function subject(maxlen)
  local n = rnd(0, maxlen)
  local t = {}
  for i = 1, n do t[i] = pick(SUBJ_CHARS) end
  return table.concat(t)
end

local function set_item()
  local t = { "[" }
  if rnd(4) == 1 then t[#t + 1] = "^" end
  if rnd(8) == 1 then t[#t + 1] = "]" end
  for _ = 1, rnd(0, 4) do
    local k = rnd(6)
    if k == 1 then t[#t + 1] = "%" .. pick(CLASSES):sub(1, 1)
    elseif k == 2 then t[#t + 1] = pick(LITERALS) .. "-" .. pick(LITERALS)
    elseif k == 3 then t[#t + 1] = "-"
    else t[#t + 1] = pick(LITERALS) end
  end
  if rnd(12) ~= 1 then t[#t + 1] = "]" end -- sometimes left open: malformed
  return table.concat(t)
end

local function item(state)
  local k = rnd(40)
  if k <= 12 then return pick(LITERALS) .. pick(QUANT) end
  if k <= 15 then return "." .. pick(QUANT) end
  if k <= 20 then return "%" .. pick(CLASSES):sub(1, 1) .. pick(QUANT) end
  if k <= 24 then return set_item() .. pick(QUANT) end
  if k <= 27 then state.open = state.open + 1 return "(" end
  if k <= 29 then
    if state.open > 0 or rnd(4) == 1 then state.open = state.open - 1 return ")" end
    return "()"
  end
  if k == 30 then return "()" end
  if k == 31 then return "%b" .. pick({ "()", "[]", "ab", "a", "", "xx", "((" }) end
  if k == 32 then return "%f" .. (rnd(6) == 1 and pick({ "a", "", "%a" }) or set_item()) end
  if k == 33 then return "%" .. rnd(0, 9) end
  if k == 34 then return "$" end
  if k == 35 then return "^" end
  if k == 36 then return pick({ "*", "+", "-", "?" }) end
  if k == 37 and rnd(3) == 1 then return "%" end
  if k == 38 then return "%" .. pick({ "1", "2" }) .. pick(QUANT) end
  return pick(LITERALS)
end

local function pattern()
  local state = { open = 0 }
  local t = {}
  if rnd(4) == 1 then t[1] = "^" end
  local n = rnd(0, 7)
  local quants = 0
  for _ = 1, n do
    local it = item(state)
    if it:find("[%*%+%-]$") then quants = quants + 1 end
    t[#t + 1] = it
  end
  if rnd(5) == 1 then t[#t + 1] = "$" end
  if rnd(20) == 1 then t[#t + 1] = "%" end
  while state.open > 0 and rnd(3) ~= 1 do t[#t + 1] = ")" state.open = state.open - 1 end
  return table.concat(t), quants
end

local INITS = { 1, 2, 3, 0, -1, -2, -3, -5, 5, 8, 13, 20, 40, -40, math.maxinteger, math.mininteger, 2.0, "2" }

local function init_arg()
  if rnd(3) == 1 then return nil end
  return pick(INITS)
end

local function repl_spec()
  local k = rnd(10)
  if k <= 4 then
    local t = {}
    for _ = 1, rnd(0, 4) do
      local j = rnd(8)
      if j <= 3 then t[#t + 1] = "%" .. rnd(0, 9)
      elseif j == 4 then t[#t + 1] = "%%"
      elseif j == 5 and rnd(4) == 1 then t[#t + 1] = "%" .. pick({ "x", "", "a", "\0" })
      else t[#t + 1] = pick(LITERALS) end
    end
    return { kind = "value", value = table.concat(t) }
  end
  if k == 5 then return { kind = "value", value = pick({ 7, 2.5, -1, 0 }) } end
  if k <= 7 then
    local map = {}
    for _, key in ipairs({ "a", "b", "ab", "x", "", 1, 2, 3 }) do
      if rnd(2) == 1 then map[key] = pick({ "R", "%1", "", 42, 1.5, false, "TABLE" }) end
    end
    return { kind = "table", map = map }
  end
  if k <= 9 then
    local returns = {}
    for i = 1, rnd(1, 3) do
      returns[i] = pick({ "arg1", "concat", "false", "nil", "num", "int", "S", "", "table", "error" })
    end
    return { kind = "function", returns = returns }
  end
  return { kind = "value", value = pick({ true, {}, io.stdout }) } -- argument errors
end

local function max_n()
  if rnd(2) == 1 then return nil end
  return pick({ 0, 1, 2, 3, -1, 100, 1.0, 2.5, "1" })
end

-- The arguments of one generated call to name.
function D.generate(name)
  local p, quants = pattern()
  -- Keep the worst case of the stock backtracking small.
  local maxlen = quants >= 3 and 8 or quants == 2 and 14 or 24
  local s = subject(maxlen)
  if rnd(50) == 1 then s = nil end
  if rnd(60) == 1 then p = pick({ nil, 5, {} }) end
  if name == "find" then
    local plain = rnd(3) == 1 and pick({ true, false, 1, "yes" }) or nil
    return table.pack(s, p, init_arg(), plain)
  elseif name == "match" or name == "gmatch" then
    return table.pack(s, p, init_arg())
  else
    local spec = repl_spec()
    local args = table.pack(s, p, spec.kind == "value" and spec.value or false, max_n())
    if spec.kind ~= "value" then args.repl = spec end
    return args
  end
end

-- Deep nesting near the depth limit and the capture limit. (Only patterns
-- that match on their first path or fail at once: a failing "a?a?...b"
-- backtracks 2^n times in both.)
function D.generate_deep()
  local k = rnd(5)
  local n = rnd(150, 230)
  local s = ("a"):rep(rnd(n - 20, n + 20)) .. pick({ "", "b", "ab" })
  local p
  if k == 1 then p = ("a?"):rep(n)
  elseif k == 2 then p = ("("):rep(rnd(25, 40)) .. "a" .. (")"):rep(rnd(25, 40))
  elseif k == 3 then p = ("(a)"):rep(rnd(1, 40))
  elseif k == 4 then p = ("%f[a]a?"):rep(n // 2)
  else p = ("[a]?"):rep(n) .. pick({ "", "()" }) end
  return pick({ "find", "match", "gsub", "gmatch" }), table.pack(s, p, nil, pick({ nil, "x", 1 }))
end

-- Longer subjects with simple patterns (the gmatch and gsub loops).
function D.generate_long()
  local words = { "cloud", "computing", "#aws", "@ops", "http://t.co/x", "  ", "\n", "é", "don't", "a-b" }
  local t = {}
  for i = 1, rnd(20, 120) do t[i] = pick(words) end
  local s = table.concat(t, pick({ " ", "", ",", " , " }))
  local p = pick({ "%S+", "%w+", "[%w_]+", "()%a+()", "(%a+)%s*(%p?)", "%f[%w]%w+", "%b()", "[^,]+", "%s*",
                   "", ".-", "(h)(t)(t)(p)", "cloud%s+computing", "^%s*(.-)%s*$", "(%w+)%1", "#(%w+)", "x*" })
  local name = pick({ "find", "match", "gmatch", "gsub" })
  if name == "gsub" then
    local spec = repl_spec()
    local args = table.pack(s, p, spec.kind == "value" and spec.value or false, max_n())
    if spec.kind ~= "value" then args.repl = spec end
    return name, args
  end
  return name, table.pack(s, p, init_arg())
end

-- A hand-picked case: expr is Lua source for the argument list, evaluated
-- anew for each run (a replacement function may count its calls). Returns
-- nil and the outcome, or a report.
function D.compare_source(name, expr)
  local chunk = assert(load("return " .. expr, "=case", "t"))
  return D.compare(name, chunk)
end

-- family: find, match, gmatch, gsub, deep or long. Returns the number of
-- cases, the number of differences and the first few reports.
function D.run(family, seed, count)
  math.randomseed(seed)
  local diffs, reports, kinds = 0, {}, {}
  for _ = 1, count do
    local name, args
    if family == "deep" then name, args = D.generate_deep()
    elseif family == "long" then name, args = D.generate_long()
    else name, args = family, D.generate(family) end
    local report, outcome = D.compare(name, args)
    if report then
      diffs = diffs + 1
      if #reports < 10 then reports[#reports + 1] = report end
    else
      local kind = outcome:match("error: ([^(:]*)") or outcome:match("^ok: nil") and "no match" or "match"
      kinds[kind] = (kinds[kind] or 0) + 1
    end
  end
  local tally = {}
  for k, n in pairs(kinds) do tally[#tally + 1] = string.format("%6d  %s", n, k) end
  table.sort(tally, function(a, b) return a > b end)
  return count, diffs, table.concat(reports, "\n"), table.concat(tally, "\n")
end

return D
