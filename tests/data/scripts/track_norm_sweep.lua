--[[ Compares, byte for byte, the normalisation of tm.track_match's native
matcher (core/track.c) with the Lua matcher's (norm in lua/tweetmatch.lua),
on every byte sequence the normaliser rewrites: a lead byte C2 D8-DB E0 E2
E3 EF F0 and 1 or 2 continuation bytes (all of them); 3 continuation bytes
for every lead whose arithmetic can reach a classified code point (D8 E0
F0, below U+4000 and in U+1Fxxx, all of them) and a sample for the others;
samples of longer runs, lone and doubled leads, stray continuation bytes,
ASCII, HTML entities. Runs when loaded: a difference stops the load (exit
2) naming the bytes. Needs a large RULE_INSTRUCTION_BUDGET (the Lua side
runs some 10^7 instructions).

    RULE_INSTRUCTION_BUDGET=2000000000 tweetmatch test tests/data/scripts/track_norm_sweep.lua < /dev/null ]]

local tm = require "tweetmatch"

local lnorm, nnorm = tm._lua_norm, tm._native_norm
if not nnorm then error("no native normaliser: run this inside tweetmatch") end

local char, concat, format = string.char, table.concat, string.format
local LEADS = { 0xC2, 0xD8, 0xD9, 0xDA, 0xDB, 0xE0, 0xE2, 0xE3, 0xEF, 0xF0 }

local function hex(s)
    return (s:gsub(".", function(c) return format("%02X ", c:byte()) end))
end

local texts = 0
local function same(s)
    texts = texts + 1
    local a, b = lnorm(s), nnorm(s)
    if a ~= b then error(format("normalisation differs on %s\n  Lua:    %s\n  native: %s", hex(s), hex(a), hex(b)), 0) end
end

-- Sequences joined by an ASCII letter normalise one by one; on a difference
-- find the sequence alone.
local batch, checked = {}, 0
local function flush()
    if #batch == 0 then return end
    local text = "Q" .. concat(batch, "x") .. "Z"
    if lnorm(text) ~= nnorm(text) then
        for _, s in ipairs(batch) do same("Q" .. s .. "Z") end
        same(text)
    end
    checked = checked + #batch
    batch = {}
end
local function add(s)
    batch[#batch + 1] = s
    if #batch == 1024 then flush() end
end

for _, lead in ipairs(LEADS) do
    local l = char(lead)
    for b2 = 0x80, 0xBF do
        add(l .. char(b2))
        for b3 = 0x80, 0xBF do add(l .. char(b2, b3)) end
    end
    local wide = lead & 7 == 0
    for b2 = 0x80, 0xBF do
        local hi = b2 & 0x3F
        if (wide and (hi <= 3 or hi == 0x0F or hi == 0x1F)) or (not wide and (b2 == 0x80 or b2 == 0xBF)) then
            for b3 = 0x80, 0xBF do
                for b4 = 0x80, 0xBF do add(l .. char(b2, b3, b4)) end
            end
        end
    end
end

-- Pseudo-random longer runs and mixes, the same every time.
local seed = 12345
local function rnd(n)
    seed = (seed * 1103515245 + 12345) % 2147483648
    return seed % n
end
for _ = 1, 20000 do
    local parts = { char(LEADS[rnd(#LEADS) + 1]) }
    for k = 1, rnd(7) + 1 do parts[k + 1] = char(0x80 + rnd(64)) end
    add(concat(parts))
end
for b = 0, 255 do
    add(char(b))
    for _, lead in ipairs(LEADS) do
        add(char(lead, b))
        add(char(b, lead))
    end
end
flush()

local MIX = {
    "", "A", "\xC2", "ab\xE2", "\xE2\x80", "x\xF0\x9F\x98", "\xF0\x9F\x98\x80\xF0\x9F\x98\x80",
    "&amp;&lt;&gt;&quot;&AMP;&Quot;&nbsp;&amp&;amp;&amp;amp;&;&&amp;&#39;&apos;",
    "\xEF\xBC\x86amp\xEF\xBC\x9B \xEF\xBC\x86lt\xEF\xBC\x9B &amp\xEF\xBC\x9B AT&amp;T",
    "Cloud\xE2\x80\xA6 \xE2\x80\x9Ccomputing\xE2\x80\x9D \xC2\xAB\xE2\x80\xAFx\xE2\x80\xAF\xC2\xBB",
    "I \xE2\x9D\xA4\xEF\xB8\x8F NY \xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x92\xBB \xE2\x80\x8Cx\xE2\x80\x8Dy",
    "HTTPS://WWW.EXAMPLE.COM/A?B=C#D \xEF\xBC\x83tag \xEF\xBC\xA0name",
    "\0\1\t\n\v\f\r \127\128\255",
}
for _, s in ipairs(MIX) do same(s) end
-- every ASCII byte at every offset of an 8-byte word (the native fast path)
local ascii = {}
for b = 0, 127 do ascii[#ascii + 1] = char(b) end
ascii = concat(ascii)
for k = 0, 8 do same(ascii:sub(k + 1) .. ascii .. "\xE2\x80\xA6" .. ascii:reverse() .. ascii:sub(1, k)) end

print(format("track_norm_sweep: %d sequences and %d texts normalise alike", checked, texts))

return { match = function() return nil end }
