--[[ Differential test of tm.track_match: the native matcher (core/track.c,
what tm.track_match and tm.track_matches are inside tweetmatch) against the
pure-Lua one (tm._lua_track_match, tm._lua_track_matches).

For every tweet it asks both, with the tweet itself and with its text alone,
which phrases match of several lists: fixed ones (single words, several
terms, hashtags and mentions, URLs, punctuation, non-ASCII, emoji, a
comma-separated string, 1,000 phrases, FILTER when set) and lists made from
the tweet's own words and link URLs (as written, changed in case, cut to
their pieces, given a sigil, paired, spoiled), so that most phrases are near
hits. It returns an item only when the two disagree, naming the list, the
subject and both answers; no output is the pass mark:

    tweetmatch test tests/data/scripts/track_diff.lua tests/data/*.ndjson

The hand-written cases below run when the script loads; a disagreement there
stops the load (exit 2). ]]

local tm = require "tweetmatch"

if tm.track_match == tm._lua_track_match then
    error("tm.track_match is the Lua matcher: run this inside tweetmatch")
end

local format, concat = string.format, table.concat

-- Printable ASCII for the item (the answers may hold any bytes).
local function esc(v)
    if type(v) == "table" then
        local parts = {}
        for i = 1, #v do parts[i] = esc(v[i]) end
        return "{" .. concat(parts, ", ") .. "}"
    end
    if type(v) ~= "string" then return tostring(v) end
    return '"' .. v:gsub('[^\32-\126]', function(c) return format("\\x%02X", c:byte()) end):gsub('"', '\\"') .. '"'
end

local function same_list(a, b)
    if #a ~= #b then return false end
    for i = 1, #a do if a[i] ~= b[i] then return false end end
    return true
end

-- Both matchers on one subject and list; the disagreements go to bad.
local function compare(bad, name, subject, list)
    local nm, lm = tm.track_match(subject, list), tm._lua_track_match(subject, list)
    local ns, ls = tm.track_matches(subject, list), tm._lua_track_matches(subject, list)
    if nm ~= lm then
        bad[#bad + 1] = format("%s: track_match native %s, Lua %s", name, tostring(nm), tostring(lm))
    end
    if not same_list(ns, ls) then
        bad[#bad + 1] = format("%s: track_matches native %s, Lua %s", name, esc(ns), esc(ls))
    end
    if nm ~= (#ns > 0) then
        bad[#bad + 1] = format("%s: native track_match %s but track_matches %s", name, tostring(nm), esc(ns))
    end
end

------------------------------------------------------------------------------
-- fixed lists

local MANY = {}
do
    local words = {}
    for w in ([[alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike
        november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu
        kubernetes docker serverless lambda terraform ansible puppet chef nginx redis kafka
        postgres mysql mongodb elastic grafana prometheus jenkins gitlab github azure gcp
        cloud computing aws #aws @awscloud #cloud example.com t.co https://example.com/blog
        data the a is to of and in for on with devops sre finops]]):gmatch("%S+") do
        words[#words + 1] = w
    end
    for i = 1, 1000 do
        local a, b, c = words[i % #words + 1], words[(i * 7) % #words + 1], words[(i * 13) % #words + 1]
        if i % 5 == 0 then MANY[i] = a
        elseif i % 5 == 1 then MANY[i] = a .. " " .. b
        elseif i % 5 == 2 then MANY[i] = a .. " " .. b .. " " .. c
        elseif i % 5 == 3 then MANY[i] = a .. i
        else MANY[i] = b .. " " .. a .. i end
    end
end

local LISTS = {
    { "words", { "cloud", "computing", "aws", "the", "a", "rt", "amp", "t", "co", "https", "www" } },
    { "cloud computing", { "cloud computing" } },
    { "terms", { "cloud computing", "computing cloud", "a b c", "cloud cloud", "data science", "the cloud",
                 "cloud  computing", " aws ", "\tcloud\n computing " } },
    { "sigils", { "#cloud", "@cloud", "#aws", "@awscloud", "#", "@", "#cloud computing", "#CloudComputing",
                  "##cloud", "#@cloud", "@cloud_computing", "#cloud.", "#café", "#クラウド", "@dev" } },
    { "urls", { "example.com", "example.com/blog", "https://www.example.com/blog/", "www.example.com", "t.co",
                "http://", "https://t.co/x", "aws.amazon.com", "jobs.example.de/devops-engineer-berlin",
                "HTTPS://EXAMPLE.COM", "example.com:8080", "www.", "https://", "ftp://example.com", "bit.ly" } },
    { "punctuation", { "hello.", "coca-cola", "at&t", "&amp;", "cloud's", "(cloud)", "...", "!", "'", '"',
                       "cloud,computing", "cloud;", "c++", "node.js", "3.14", "-", "_", "cloud_computing", "re:invent" } },
    { "unicode", { "touché", "クラウド", "تقنية", "😀", "❤", "☁", "🔥 🔥", "computación nube", "für", "tecnología",
                   "nuvem", "\u{00A0}cloud", "cloud\u{2026}", "«cloud»", "cloud\u{200B}computing", "ｃｌｏｕｄ",
                   "\u{FF03}cloud", "cloud\u{3001}", "\u{1F469}\u{200D}\u{1F4BB}", "\u{FE0F}", "\u{2764}\u{FE0F}" } },
    { "string", "cloud computing,aws, #serverless , @awscloud,,cloud\u{3001}computing,example.com/blog" },
    { "1000 phrases", MANY },
}
do
    local filter = os.getenv("FILTER")
    if filter and filter ~= "" then
        LISTS[#LISTS + 1] = { "FILTER", filter }
        LISTS[#LISTS + 1] = { "FILTER phrases", tm.phrases(filter) }
    end
end

------------------------------------------------------------------------------
-- lists made from the tweet

local PIECE = "[%w_\128-\255]+"

local function add(list, s)
    if s and s ~= "" then list[#list + 1] = s end
end

local function own_lists(tweet, text)
    local words = {}
    for w in (text or ""):gmatch("%S+") do
        words[#words + 1] = w
        if #words == 60 then break end
    end
    local single, multi = {}, {}
    for i, w in ipairs(words) do
        add(single, w)
        add(single, w:upper())
        add(single, w:match(PIECE))
        add(single, w:match(".*(" .. PIECE .. ")"))
        add(single, "#" .. (w:match(PIECE) or ""))
        add(single, "@" .. (w:match(PIECE) or ""))
        add(single, w:sub(2))
        add(single, w:sub(1, -2))
        add(single, w .. "s")
        if words[i + 1] then add(multi, w .. " " .. words[i + 1]) end
        if words[i + 3] then add(multi, words[i + 3]:lower() .. " " .. w:upper()) end
        if words[i + 2] then add(multi, w .. " " .. words[i + 2] .. "zz") end
    end
    if type(tweet) == "table" then
        for _, u in ipairs(tm.urls(tweet)) do
            add(single, u)
            add(single, u:gsub("^%a+://", ""))
            add(single, u:match("^%a+://([^/]+)"))
            add(single, u:match("^%a+://(.*)/") )
            add(multi, (u:match("^%a+://([^/]+)") or "x") .. " " .. (words[1] or "y"))
        end
        for _, h in ipairs(tm.hashtags(tweet)) do add(single, "#" .. h) end
        for _, m in ipairs(tm.mentions(tweet)) do add(single, "@" .. m) end
    end
    return single, multi
end

------------------------------------------------------------------------------
-- hand-written cases, checked at load

local CASES = {
    "Cloud computing is here", "#Cloud computing", "cloud. computing.", "(cloud) [computing]",
    "cloud\u{2026} computing", "\u{201C}cloud computing\u{201D}", "cloud\u{00A0}computing", "cloud\u{1F600}computing",
    "I \u{2764}\u{FE0F} cloud computing", "touch\u{E9} cloud", "AT&amp;T cloud", "&amp;amp; &lt;cloud&gt;",
    "see https://www.example.com/blog/ now", "(https://example.com/a?x=1).", "see https://t.co/AbCdE12345",
    "www.example.com/blog)", "...https://example.com", "#https://x.com", "http://", "https://", "www.",
    "a b c", "a a", "@aws rocks #aws, rocks", "coca-cola (coca-cola)!", "", "   ", "\0cloud\0",
    "\xFF\xFEcloud\xC2", "cloud\xE2\x80", "\xF0\x9F\x98 computing", "cloud" .. string.rep("!", 5000) .. "computing",
    string.rep("cloud ", 2000), string.rep("\u{1F600}", 3000) .. " computing cloud",
    "HTTPS://WWW.EXAMPLE.COM/BLOG/?Q=1#X", "\u{FF03}cloud \u{FF20}aws", "re:invent 3.14 c++ node.js",
}

do
    local bad = {}
    for i, text in ipairs(CASES) do
        for _, l in ipairs(LISTS) do compare(bad, format("case %d, list %s", i, l[1]), text, l[2]) end
        local single, multi = own_lists(nil, text)
        compare(bad, format("case %d, own words", i), text, single)
        compare(bad, format("case %d, own pairs", i), text, multi)
    end
    local tweet = { text = "New post https://t.co/x #cloud", entities = {
        urls = { { expanded_url = "https://www.Example.com/blog/intro/", display_url = "example.com/blog/intro/" },
                 { expanded_url = 42, display_url = tm.null }, "not a table" },
        media = { { expanded_url = "https://twitter.com/x/status/1/photo/1", unwound_url = "HTTP://aws.amazon.com/" } } } }
    for _, l in ipairs(LISTS) do compare(bad, "hand tweet, list " .. l[1], tweet, l[2]) end
    compare(bad, "hand tweet, hosts", tweet, { "example.com", "twitter.com", "aws.amazon.com", "example.com/blog/intro" })
    -- entity tables with metatables: read through __index and __len as Lua does
    local via_index = setmetatable({}, { __index = { expanded_url = "https://example.com/hidden" } })
    local short = setmetatable({ { expanded_url = "https://aws.amazon.com/" } }, { __len = function() return 0 end })
    local mt_tweets = {
        { text = "x", entities = { urls = tm.list({ via_index }) } },
        { text = "x", entities = setmetatable({}, { __index = { urls = { { display_url = "example.com/a" } } } }) },
        { text = "x", entities = { urls = short, media = tm.list({ { unwound_url = "http://t.co/q" } }) } },
        { text = "x", extended_tweet = { full_text = "y", entities = { urls = {} },
                                         extended_entities = { media = tm.list({ via_index }) } } },
    }
    for i, tw in ipairs(mt_tweets) do
        compare(bad, "metatable tweet " .. i, tw, { "example.com", "example.com/hidden", "example.com/a",
                                                     "aws.amazon.com", "t.co/q", "x", "y" })
    end
    for _, subject in ipairs({ 42, true, tm.null, {} }) do
        compare(bad, "subject " .. tostring(subject), subject, { "cloud" })
    end
    if #bad > 0 then error("native and Lua matchers disagree:\n" .. concat(bad, "\n"), 0) end
end

------------------------------------------------------------------------------

local function match(tweet)
    local bad = {}
    local text = tm.text(tweet)
    for _, l in ipairs(LISTS) do
        compare(bad, "list " .. l[1] .. ", tweet", tweet, l[2])
        if text then compare(bad, "list " .. l[1] .. ", text", text, l[2]) end
    end
    local single, multi = own_lists(tweet, text)
    compare(bad, "own words, tweet", tweet, single)
    compare(bad, "own pairs, tweet", tweet, multi)
    if text then
        compare(bad, "own words, text", text, single)
        compare(bad, "own pairs, text", text, concat(multi, ","))
    end
    for _, u in ipairs(tm.urls(tweet)) do compare(bad, "own words, a URL as text", u, single) end
    if #bad == 0 then return nil end
    return { id = tm.id(tweet) or "?", text = esc(text), disagreements = esc(concat(bad, "\n")) }
end

return { match = match }
