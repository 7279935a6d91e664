--[[ Tests of the helper module lua/tweetmatch.lua, in plain Lua 5.4 with lua-cjson.

    lua5.4 tests/lua/test_tweetmatch.lua      (from the repository root)

Prints each failure and exits non-zero when any case fails. The last part
times track_match with 1 and with 1,000 phrases and prints the ratio; that
is a report, not an assertion, since timing on shared machines is noisy;
the VM instructions they take are asserted instead. ]]

package.path = "lua/?.lua;" .. package.path

local cjson = require "cjson"
local tm = require "tweetmatch"

local failures, checks = 0, 0

local function show(v)
    if type(v) == "string" then return string.format("%q", v) end
    if type(v) == "table" then
        local parts = {}
        for i = 1, #v do parts[i] = show(v[i]) end
        return "{" .. table.concat(parts, ", ") .. "}"
    end
    return tostring(v)
end

local function same(a, b)
    if type(a) == "table" and type(b) == "table" then
        if #a ~= #b then return false end
        for i = 1, #a do if not same(a[i], b[i]) then return false end end
        return true
    end
    return a == b
end

local function check(name, got, want)
    checks = checks + 1
    if not same(got, want) then
        failures = failures + 1
        print(string.format("FAIL %s\n  expected %s\n  got      %s", name, show(want), show(got)))
    end
end

local function check_error(name, fn, pattern)
    checks = checks + 1
    local ok, err = pcall(fn)
    if ok or not tostring(err):find(pattern) then
        failures = failures + 1
        print(string.format("FAIL %s\n  expected an error matching %q, got %s", name, pattern,
            ok and "no error" or show(err)))
    end
end

local function lines(path)
    local out = {}
    for line in io.lines(path) do out[#out + 1] = line end
    return out
end

local function decode_file(path)
    local out = {}
    for i, line in ipairs(lines(path)) do
        local ok, v = pcall(cjson.decode, line)
        out[i] = ok and v or false
    end
    return out
end

------------------------------------------------------------------------------
-- track_match: { text, phrases, expected }

local CC = { "cloud computing" }

local TRACK = {
    -- case, order, whole tokens
    { "Cloud computing is here", CC, true },
    { "CLOUD COMPUTING", CC, true },
    { "computing in the cloud", CC, true },
    { "cloud", CC, false },
    { "clouds computing", CC, false },
    { "cloud computer", CC, false },
    { "cloudcomputing", CC, false },
    { "mycloud computing", CC, false },
    -- hashtags and mentions count; a hashtag is one token
    { "#Cloud computing", CC, true },
    { "computing in the #cloud", CC, true },
    { "@cloud computing question", CC, true },
    { "#CloudComputing", CC, false },
    { "#cloud_computing", CC, false },
    { "#cloud #computing", CC, true },
    -- ASCII punctuation around and inside words
    { "cloud. computing.", CC, true },
    { "cloud, computing,", CC, true },
    { "(cloud) [computing]", CC, true },
    { "\"cloud\" 'computing'", CC, true },
    { "cloud-computing", CC, true },
    { "cloud/computing", CC, true },
    { "cloud's computing", CC, true },
    { "cloud:computing!", CC, true },
    -- Unicode punctuation and spaces do not glue onto words
    { "cloud\u{2026} computing", CC, true },
    { "\u{201C}cloud computing\u{201D}", CC, true },
    { "\u{2018}cloud\u{2019} computing", CC, true },
    { "cloud\u{2019}s computing", CC, true },
    { "\u{00AB}\u{202F}cloud computing\u{202F}\u{00BB}", CC, true },
    { "\u{00AB}cloud computing\u{00BB}", CC, true },
    { "cloud\u{00A0}computing", CC, true },
    { "cloud\u{3000}computing", CC, true },
    { "cloud\u{2014}computing", CC, true },
    { "\u{00BF}cloud computing?", CC, true },
    { "cloud\u{3001}computing\u{3002}", CC, true },
    { "\u{FF08}cloud\u{FF09}\u{FF01}computing", CC, true },
    { "cloud\u{060C} computing\u{061F}", CC, true },
    { "cloud\u{200B}computing", CC, true },
    { "\u{200F}cloud computing\u{200E}", CC, true },
    -- emoji are tokens of their own
    { "cloud\u{1F600}computing", CC, true },
    { "I \u{2764}\u{FE0F} cloud computing", { "\u{2764}" }, true },
    { "I \u{2764}\u{FE0F} cloud computing", { "\u{2764}\u{FE0F} cloud" }, true },
    { "love\u{1F600}", { "\u{1F600}" }, true },
    { "love\u{1F600}", { "\u{1F601}" }, false },
    { "\u{2601}\u{FE0F} computing", CC, false },
    -- other UTF-8 is compared exactly; ASCII folding only
    { "touch\u{E9} cloud", { "touche" }, false },
    { "touch\u{E9} cloud", { "touch\u{E9}" }, true },
    { "TOUCH\u{C9}", { "touch\u{E9}" }, false },
    { "TOUCH\u{E9}", { "touch\u{E9}" }, true },
    { "La computaci\u{F3}n en la nube", { "computaci\u{F3}n nube" }, true },
    { "\u{30AF}\u{30E9}\u{30A6}\u{30C9}\u{306E}\u{8A71}", { "\u{30AF}\u{30E9}\u{30A6}\u{30C9}" }, false },
    { "\u{30AF}\u{30E9}\u{30A6}\u{30C9} \u{306E}\u{8A71}", { "\u{30AF}\u{30E9}\u{30A6}\u{30C9}" }, true },
    { "\u{FF43}\u{FF4C}\u{FF4F}\u{FF55}\u{FF44} computing", CC, false },
    -- HTML entities of v1.1 text
    { "AT&amp;T cloud", { "at&t" }, true },
    { "AT&amp;T cloud", { "amp" }, false },
    -- terms keep their punctuation; sigils mean hashtag or mention only
    { "hello.", { "hello." }, true },
    { "hello world", { "hello." }, false },
    { "my brother says hello.", { "hello" }, true },
    { "#aws rocks", { "#aws" }, true },
    { "aws rocks", { "#aws" }, false },
    { "@aws rocks", { "#aws" }, false },
    { "@aws rocks", { "@aws" }, true },
    { "#aws, rocks", { "#AWS" }, true },
    { "coca-cola", { "coca-cola" }, true },
    { "(coca-cola)!", { "coca-cola" }, true },
    { "coca cola", { "coca-cola" }, false },
    -- URLs: one token without scheme and www., plus the host
    { "see https://www.example.com/blog/ now", { "example.com" }, true },
    { "see https://www.example.com/blog/ now", { "example.com/blog" }, true },
    { "see https://www.example.com/blog/ now", { "www.example.com/blog" }, true },
    { "see https://www.example.com/blog/ now", { "https://example.com/blog/" }, true },
    { "see https://www.example.com/blog/ now", { "blog" }, false },
    { "see https://www.example.com/blog/ now", { "example" }, false },
    { "see https://t.co/AbCdE12345", { "co" }, false },
    { "(https://example.com/a?x=1).", { "example.com/a" }, true },
    -- any phrase of several; comma-separated strings
    { "we use aws", { "cloud computing", "aws" }, true },
    { "we use aws", "cloud computing,aws", true },
    { "we use aws", " cloud computing , aws ", true },
    { "we use gcp", "cloud computing,aws", false },
    { "we use aws", { "cloud computing,aws" }, true },
    { "cloud computing", "cloud computing", true },
    { "a b c", { "c a b" }, true },
    { "a b", { "c a b" }, false },
    { "a a", { "a a" }, true },
    { "b a", { "a  b" }, true },
    -- nothing to match
    { "", CC, false },
    { nil, CC, false },
    { tm.null, CC, false },
    { "cloud computing", {}, false },
    { "cloud computing", "", false },
    { "cloud computing", " , ,", false },
    { "   ", CC, false },
}

for i, c in ipairs(TRACK) do
    check(string.format("track_match #%d (%s ~ %s)", i, show(c[1]), show(c[2])), tm.track_match(c[1], c[2]), c[3])
end

-- the tweet itself: text and link URLs
local linked = {
    text = "New post: a gentle intro https://t.co/WAUGuBBAAA",
    entities = { urls = { { url = "https://t.co/WAUGuBBAAA", expanded_url = "https://www.example.com/blog/intro/",
                            display_url = "example.com/blog/intro/" } } },
}
check("track_match tweet: expanded URL", tm.track_match(linked, { "example.com/blog/intro" }), true)
check("track_match tweet: host of expanded URL", tm.track_match(linked, { "example.com" }), true)
check("track_match tweet: text", tm.track_match(linked, { "gentle intro" }), true)
check("track_match tweet: text and URL together", tm.track_match(linked, { "gentle example.com" }), true)
check("track_match tweet: not a word of the URL path", tm.track_match(linked, { "blog" }), false)
check("track_match text only: no entities", tm.track_match(linked.text, { "example.com" }), false)

check("track_matches", tm.track_matches("Cloud computing on AWS, not #azure",
    { "gcp", "aws", "cloud computing", "azure aws", "#azure" }), { "aws", "cloud computing", "azure aws", "#azure" })
check("track_matches none", tm.track_matches("nothing here", { "aws" }), {})
check("track_matches string", tm.track_matches("aws and gcp", " gcp, aws ,azure"), { "gcp", "aws" })

check_error("track_match: phrases nil", function() tm.track_match("x", nil) end, "phrases must be")
check_error("track_match: phrase not a string", function() tm.track_match("x", { "a", 3 }) end, "phrase 2")

-- the compiled list follows a table that grows
do
    local p = { "aws" }
    check("cache: before growing", tm.track_match("gcp", p), false)
    p[2] = "gcp"
    check("cache: after growing", tm.track_match("gcp", p), true)
    check("cache: same again", tm.track_match("gcp", p), true)
end

-- many calls on one list; multi-term phrases do not leak counts between calls
do
    local p = { "cloud computing" }
    check("stamps: first term alone", tm.track_match("cloud", p), false)
    check("stamps: second term alone", tm.track_match("computing", p), false)
    check("stamps: both", tm.track_match("computing cloud", p), true)
    check("stamps: term twice", tm.track_match("cloud cloud #cloud", p), false)
end

-- pathological input stays linear
do
    local long = "a" .. string.rep("!", 200000) .. "a " .. string.rep("\u{2026}", 50000) .. " cloud"
    local t0 = os.clock()
    check("long punctuation runs", tm.track_match(long, { "cloud" }), true)
    local dt = os.clock() - t0
    check("long punctuation runs are fast (" .. string.format("%.3f", dt) .. " s)", dt < 1, true)
end

------------------------------------------------------------------------------
-- phrases

local PHRASES = {
    { "cloud computing,aws", { "cloud computing", "aws" } },
    { "  cloud   computing , aws ,, ,", { "cloud computing", "aws" } },
    { "", {} },
    { nil, {} },
    { "one", { "one" } },
}
for i, c in ipairs(PHRASES) do check("phrases #" .. i, tm.phrases(c[1]), c[2]) end

------------------------------------------------------------------------------
-- markers

do
    local t = {}
    check("list returns its argument", tm.list(t), t)
    check("list default", type(tm.list()), "table")
    check("list metatable", getmetatable(tm.list()) == getmetatable(tm.list({ 1 })), true)
    local src = { "a", "b" }
    local s = tm.set(src)
    check("set copies", s ~= src and s[1] == "a" and s[2] == "b" and #s == 2, true)
    check("set leaves the argument alone", getmetatable(src), nil)
    check("set metatable differs from list", getmetatable(s) ~= getmetatable(tm.list()), true)
    local b = tm.binary("\0\1")
    check("binary holds the string", b[1], "\0\1")
    check("binary metatable", getmetatable(b) ~= getmetatable(s) and getmetatable(b) ~= nil, true)
    check("null is cjson.null", tm.null, cjson.null)
    check_error("set of a string", function() tm.set("abc") end, "tm.set")
    check_error("binary of a number", function() tm.binary(12) end, "tm.binary")
    check_error("list of a string", function() tm.list("abc") end, "tm.list")
end

------------------------------------------------------------------------------
-- helpers on hand-made and degenerate input

local N = cjson.null
local HAND = {
    { "text: plain", tm.text({ text = "hi" }), "hi" },
    { "text: full_text", tm.text({ text = "cut", full_text = "full" }), "full" },
    { "text: extended", tm.text({ text = "cut", full_text = "f", extended_tweet = { full_text = "ext" } }), "ext" },
    { "text: extended null", tm.text({ text = "cut", extended_tweet = N }), "cut" },
    { "text: extended without full_text", tm.text({ text = "cut", extended_tweet = {} }), "cut" },
    { "text: text null", tm.text({ text = N }), nil },
    { "text: none", tm.text({}), nil },
    { "text: not a table", tm.text("x"), nil },
    { "text: nil", tm.text(nil), nil },
    { "text: retweet", tm.text({ text = "RT @a: cut\u{2026}", retweeted_status = {
        text = "cut", extended_tweet = { full_text = "the whole story" }, user = { screen_name = "a" } } }),
      "RT @a: the whole story" },
    { "text: retweet without user", tm.text({ text = "RT @a_b: cut\u{2026}", retweeted_status = { text = "whole" } }),
      "RT @a_b: whole" },
    { "text: retweet null", tm.text({ text = "x", retweeted_status = N }), "x" },
    { "text: quote", tm.text({ text = "mine", quoted_status = { text = "theirs" } }), "mine" },
    { "text: v2", tm.text({ data = { text = "v2" } }), "v2" },
    { "text: v2 note", tm.text({ data = { text = "cut", note_tweet = { text = "long" } } }), "long" },
    { "text: v2 note null", tm.text({ data = { text = "cut", note_tweet = N } }), "cut" },
    { "text: v2 data null", tm.text({ data = N, text = "v1" }), "v1" },
    { "text: v2 retweet", tm.text({ data = { text = "RT @k: cut", author_id = "1",
        referenced_tweets = { { type = "retweeted", id = "9" } } },
        includes = { tweets = { { id = "9", text = "original", author_id = "2" } },
                     users = { { id = "1", username = "me" }, { id = "2", username = "kim" } } } }),
      "RT @kim: original" },
    { "text: v2 retweet, original not included", tm.text({ data = { text = "RT @k: cut",
        referenced_tweets = { { type = "retweeted", id = "9" } } } }), "RT @k: cut" },
    { "user: v1.1", tm.user({ user = { screen_name = "dan" } }), "dan" },
    { "user: null", tm.user({ user = N }), nil },
    { "user: v2", tm.user({ data = { author_id = "2" }, includes = { users = {
        { id = "1", username = "a" }, { id = "2", username = "b" } } } }), "b" },
    { "user: v2 no includes", tm.user({ data = { author_id = "2" } }), nil },
    { "user: v2 includes null", tm.user({ data = { author_id = "2" }, includes = N }), nil },
    { "id: id_str", tm.id({ id = 1.0501186211989e+18, id_str = "1050118621198921728" }), "1050118621198921728" },
    { "id: float only", tm.id({ id = 1.0501186211989e+18 }), nil },
    { "id: integer only", tm.id({ id = 42 }), "42" },
    { "id: v2", tm.id({ data = { id = "1579562410301616128" } }), "1579562410301616128" },
    { "id: delete", tm.id({ delete = { status = { id = 1.0e18, id_str = "123" } } }), "123" },
    { "id: delete null", tm.id({ delete = { status = N } }), nil },
    { "created_at", tm.created_at({ created_at = "Wed Oct 10 20:19:24 +0000 2018" }), "Wed Oct 10 20:19:24 +0000 2018" },
    { "created_at v2", tm.created_at({ data = { created_at = "2022-10-10T20:00:00.123Z" } }), "2022-10-10T20:00:00.123Z" },
    { "iso_time", tm.iso_time({ created_at = "Wed Oct 10 20:19:24 +0000 2018" }), "2018-10-10T20:19:24.000Z" },
    { "iso_time leap day", tm.iso_time({ created_at = "Thu Feb 29 23:59:59 +0000 2024" }), "2024-02-29T23:59:59.000Z" },
    { "iso_time offset", tm.iso_time({ created_at = "Sun Dec 31 23:30:00 -0100 2023" }), "2024-01-01T00:30:00.000Z" },
    { "iso_time v2", tm.iso_time({ data = { created_at = "2022-10-10T20:00:00.123Z" } }), "2022-10-10T20:00:00.123Z" },
    { "iso_time garbage", tm.iso_time({ created_at = "yesterday" }), nil },
    { "iso_time none", tm.iso_time({}), nil },
    { "lang", tm.lang({ lang = "und" }), "und" },
    { "lang null", tm.lang({ lang = N }), nil },
    { "followers", tm.followers({ user = { followers_count = 12 } }), 12 },
    { "followers null", tm.followers({ user = { followers_count = N } }), nil },
    { "followers v2", tm.followers({ data = { author_id = "1" }, includes = { users = {
        { id = "1", public_metrics = { followers_count = 7 } } } } }), 7 },
    { "is_retweet", tm.is_retweet({ retweeted_status = { text = "x" } }), true },
    { "is_retweet null", tm.is_retweet({ retweeted_status = N }), false },
    { "is_retweet v2", tm.is_retweet({ data = { referenced_tweets = { { type = "retweeted", id = "1" } } } }), true },
    { "is_retweet v2 quote", tm.is_retweet({ data = { referenced_tweets = { { type = "quoted", id = "1" } } } }), false },
    { "is_quote", tm.is_quote({ is_quote_status = true }), true },
    { "is_reply", tm.is_reply({ in_reply_to_status_id_str = "1" }), true },
    { "is_reply null", tm.is_reply({ in_reply_to_status_id_str = N, in_reply_to_screen_name = N }), false },
    { "hashtags: entities", tm.hashtags({ text = "#a #b", entities = { hashtags = { { text = "a" }, { text = "B" } } } }),
      { "a", "B" } },
    { "hashtags: repeats dropped", tm.hashtags({ entities = { hashtags = { { text = "AWS" }, { text = "aws" } } } }),
      { "AWS" } },
    { "hashtags: extended entities win", tm.hashtags({ entities = { hashtags = {} },
        extended_tweet = { full_text = "x #late", entities = { hashtags = { { text = "late" } } } } }), { "late" } },
    { "hashtags: scanned without entities", tm.hashtags({ text = "#one, #Two\u{2026} a#b #3 &#39; #caf\u{E9}! #one" }),
      { "one", "Two", "caf\u{E9}" } },
    { "hashtags: v2", tm.hashtags({ data = { text = "#x", entities = { hashtags = { { tag = "x" } } } } }), { "x" } },
    { "hashtags: none", tm.hashtags({ text = "none" }), {} },
    { "hashtags: is a list", getmetatable(tm.hashtags({})) == getmetatable(tm.list()), true },
    { "hashtags: not a table", tm.hashtags(nil), {} },
    { "mentions: entities", tm.mentions({ entities = { user_mentions = { { screen_name = "a" } } } }), { "a" } },
    { "mentions: scanned", tm.mentions({ text = "@dan: hi @Sarah_L and me@example.com" }), { "dan", "Sarah_L" } },
    { "urls", tm.urls({ entities = { urls = { { expanded_url = "https://x.io/a" } } } }), { "https://x.io/a" } },
}
for _, c in ipairs(HAND) do check(c[1], c[2], c[3]) end

------------------------------------------------------------------------------
-- helpers on the stream fixtures

local V11 = decode_file("tests/data/v11_tweets.ndjson")

-- line: { id, user, lang, followers, cloud computing?, retweet?, quote?, reply?, hashtags, text (or nil: any) }
local V11_EXPECT = {
    [1] = { "1050118623069630464", "devops_dan", "en", 1234, true, false, false, false, {},
            "Cloud computing is just someone else's computer. Still true in 2018." },
    [2] = { "1050118628119572480", "sre_sarah", "en", 8731, true, false, false, false, { "cloud" } },
    [3] = { "1050118633601527808", "awsmeetupsea", "en", 15402, false, false, false, false,
            { "CloudComputing", "AWSreInvent" } },
    [4] = { "1050118635736428544", "ops_ollie", "en", 212, true, false, false, false, {} },
    [5] = { "1050118640404688896", "taco_tuesday", "en", 48, false, false, false, false, { "TacoTuesday" } },
    [6] = { "1050118647690194944", "lucia_dev", "es", 3120, true, false, false, false, { "tecnolog\u{ED}a" } },
    [7] = { "1050118649921564672", "yuki_eng", "ja", 530, true, false, false, false, { "\u{30AF}\u{30E9}\u{30A6}\u{30C9}" } },
    [8] = { "1050118655445463040", "ramen_taro", "ja", 10233, false, false, false, false, {} },
    [9] = { "1050118657672638464", "omar_tech", "ar", 22010, true, false, false, false, { "\u{062A}\u{0642}\u{0646}\u{064A}\u{0629}" } },
    [10] = { "1050118664723263488", "berlin_jobs", "de", 4021, false, false, false, false, { "Jobs", "Cloud" } },
    [11] = { "1050118667059490816", "claire_fr", "fr", 941, true, false, false, false, {},
             "Le \u{00AB}\u{202F}cloud computing\u{202F}\u{00BB}, c\u{2019}est l\u{2019}avenir\u{2026} ou pas\u{202F}? \u{1F914}" },
    [12] = { "1050118669215363072", "cloudnative_kim", "en", 51877, true, false, false, false, { "FinOps" },
             "Second thread \u{1F9F5}: how we cut our monthly bill by a third without touching a single line of "
             .. "application code. Rightsizing, reserved capacity, and a hard look at cloud computing egress "
             .. "charges. Details \u{1F447} #FinOps" },
    [13] = { "1050118674848313344", "sre_sarah", "en", 8731, true, true, false, false, { "DevOps", "SRE" },
             "RT @cloudnative_kim: Thread \u{1F9F5} on what we learned after five years of running production "
             .. "workloads on three different providers, from bare metal to Kubernetes to serverless. Short "
             .. "version: cloud computing is a tool, not a strategy. Long version below \u{1F447} #DevOps #SRE" },
    [14] = { "1050118677650108416", "ops_ollie", "en", 212, false, false, true, false, {},
             "Hot take, but this aged well \u{1F447}" },
    [15] = { "1050118684138696704", "sre_sarah", "en", 8731, true, false, false, true, {} },
    [16] = { "1050118686072270848", "pixel_pam", "en", 77, true, false, false, false, {},
             "Cloud computing \u{1F600} with friends \u{1F469}\u{200D}\u{1F4BB}\u{1F468}\u{200D}\u{1F4BB} at the hackathon" },
    [17] = { "1050118691436785664", "ana_nuvem", "pt", 1502, false, false, false, false, { "nuvem", "tecnologia" } },
    [18] = { "1050118694557347840", "weather_seattle", "en", 98012, false, false, false, false, {} },
    [19] = { "1050118699032670208", "lab_admin", "en", 19, true, false, false, false, {} },
    [20] = { "1050118703809982464", "dev_priya", "hi", 2103, false, false, false, false, { "CloudComputing" } },
    [21] = { "1050118706985070592", "seoul_dev", "ko", 710, true, false, false, false, {} },
    [22] = { "1050118713247166464", "techwriter_tom", "en", 6120, false, false, false, false, {} },
    [23] = { "1050118718355828736", "telco_news", "en", 33012, true, false, false, false, {},
             "AT&amp;T moves its core network to cloud computing platforms" },
    [24] = { "1050118723728732160", "fire_emoji", "und", 3, false, false, false, false, {}, "\u{1F525}\u{1F525}\u{1F525}" },
    [25] = { "1050118727977562112", "devops_dan", "en", 1234, true, false, false, false, {} },
}

check("v11_tweets.ndjson: line count", #V11, 25)
for n, e in pairs(V11_EXPECT) do
    local t = V11[n]
    local at = "v11_tweets.ndjson:" .. n .. ": "
    if not t then
        check(at .. "decodes", false, true)
    else
        check(at .. "id", tm.id(t), e[1])
        check(at .. "id is id_str", tm.id(t), t.id_str)
        check(at .. "user", tm.user(t), e[2])
        check(at .. "lang", tm.lang(t), e[3])
        check(at .. "followers", tm.followers(t), e[4])
        check(at .. "track cloud computing", tm.track_match(tm.text(t), CC), e[5])
        check(at .. "track cloud computing (tweet)", tm.track_match(t, CC), e[5])
        check(at .. "is_retweet", tm.is_retweet(t), e[6])
        check(at .. "is_quote", tm.is_quote(t), e[7])
        check(at .. "is_reply", tm.is_reply(t), e[8])
        check(at .. "hashtags", tm.hashtags(t), e[9])
        if e[10] then check(at .. "text", tm.text(t), e[10]) end
        check(at .. "created_at", tm.created_at(t), t.created_at)
        check(at .. "iso_time", (tm.iso_time(t) or ""):match("^2018%-10%-10T20:%d%d:%d%d%.000Z$") ~= nil, true)
    end
end

-- the full text is not the top-level text of extended tweets
check("v11:12 top-level text is cut", V11[12].text ~= tm.text(V11[12]) and V11[12].truncated, true)
check("v11:12 top-level text alone misses", tm.track_match(V11[12].text, CC), false)
check("v11:22 tracked by its link's host", tm.track_match(V11[22], { "example.com" }), true)
check("v11:22 not by its text", tm.track_match(tm.text(V11[22]), { "example.com" }), false)
check("v11:10 tracked by its link", tm.track_match(V11[10], { "jobs.example.de/devops-engineer-berlin" }), true)
check("v11:3 urls", tm.urls(V11[3]), { "https://www.slideshare.net/awsmeetup/reinvent-recap-2018" })
check("v11:15 mentions", tm.mentions(V11[15]), { "devops_dan" })

local V2 = decode_file("tests/data/v2_stream.ndjson")

-- line: { id, user, lang, followers, cloud computing?, retweet?, quote?, reply?, hashtags, text }
local V2_EXPECT = {
    [1] = { "1579562410301616128", "sre_sarah", "en", 8731, true, false, false, false, { "FinOps" },
            "Cloud computing costs are out of control. Time for a FinOps team? #FinOps @awscloud" },
    [2] = { "1579562427166912512", "cloudnative_kim", "en", 51877, true, false, false, false, { "PlatformEngineering" } },
    [3] = { "1579562440920035328", "claire_fr", "es", 941, true, false, false, true, {} },
    [4] = { "1579562448281038848", "yuki_eng", "ja", 530, true, false, false, false, { "cloud" } },
    [5] = { "1579562460633264128", "devops_dan", "en", 1234, true, true, false, false, { "SRE" } },
    [6] = { "1579562475313328128", "ops_ollie", "en", 212, false, false, true, false, {}, "Worth reading \u{1F447}" },
    [7] = { "1579562485803282432", "awscloud", "en", 2211000, false, false, false, false, { "AWS" } },
    [8] = { "1579562496049967104", "berlin_jobs", "de", 4021, true, false, false, false, {},
            "Cloud Computing f\u{FC}r Einsteiger \u{1F600} \u{2013} jetzt anmelden!" },
    [9] = { "1579562506770608128", nil, nil, nil, false, false, false, false, {},
            "aws re:Invent keynote starts in 10 minutes, grab a coffee \u{2615}" },
}

check("v2_stream.ndjson: line count", #V2, 9)
for n, e in pairs(V2_EXPECT) do
    local t = V2[n]
    local at = "v2_stream.ndjson:" .. n .. ": "
    if not t then
        check(at .. "decodes", false, true)
    else
        check(at .. "id", tm.id(t), e[1])
        check(at .. "user", tm.user(t), e[2])
        check(at .. "lang", tm.lang(t), e[3])
        check(at .. "followers", tm.followers(t), e[4])
        check(at .. "track cloud computing", tm.track_match(t, CC), e[5])
        check(at .. "is_retweet", tm.is_retweet(t), e[6])
        check(at .. "is_quote", tm.is_quote(t), e[7])
        check(at .. "is_reply", tm.is_reply(t), e[8])
        check(at .. "hashtags", tm.hashtags(t), e[9])
        if e[10] then check(at .. "text", tm.text(t), e[10]) end
    end
end
check("v2:2 note_tweet text is the full text", #tm.text(V2[2]) > #V2[2].data.text, true)
check("v2:2 data.text alone misses", tm.track_match(V2[2].data.text, CC), false)
check("v2:5 retweet text", tm.text(V2[5]):sub(1, 46), "RT @cloudnative_kim: Unpopular opinion: most \"")
check("v2:7 by expanded URL", tm.track_match(V2[7], { "aws.amazon.com" }), true)
check("v2:7 rule id is a number", type(V2[7].matching_rules[1].id), "number")

local CONTROL = decode_file("tests/data/control.ndjson")
check("control: delete id", tm.id(CONTROL[1]), "1050118623069630464")
check("control: delete is of v11:1", tm.id(CONTROL[1]), tm.id(V11[1]))
check("control: delete 2 is of v11:15", tm.id(CONTROL[2]), tm.id(V11[15]))

-- Every helper on every decodable line of every fixture: no error, right types.
local HELPERS = { "text", "user", "id", "created_at", "iso_time", "lang", "followers", "hashtags", "mentions",
                  "urls", "is_retweet", "is_quote", "is_reply" }
local KIND = { text = "string", user = "string", id = "string", created_at = "string", iso_time = "string",
               lang = "string", followers = "number", hashtags = "table", mentions = "table", urls = "table",
               is_retweet = "boolean", is_quote = "boolean", is_reply = "boolean" }
for _, f in ipairs({ "v11_tweets", "v2_stream", "control", "mixed", "broken" }) do
    local path = "tests/data/" .. f .. ".ndjson"
    for n, line in ipairs(lines(path)) do
        local ok, v = pcall(cjson.decode, line)
        if ok then
            for _, h in ipairs(HELPERS) do
                local ok2, r = pcall(tm[h], v)
                checks = checks + 1
                if not ok2 or (r ~= nil and type(r) ~= KIND[h]) then
                    failures = failures + 1
                    print(string.format("FAIL %s:%d: tm.%s gave %s", path, n, h, show(r)))
                end
            end
            local ok3, r = pcall(tm.track_match, v, CC)
            check(path .. ":" .. n .. ": track_match does not raise", ok3 and type(r), "boolean")
        end
    end
end

-- broken.ndjson: nothing in it decodes to an object
for n, line in ipairs(lines("tests/data/broken.ndjson")) do
    local ok, v = pcall(cjson.decode, line)
    check("broken.ndjson:" .. n .. " is not a JSON object", ok and type(v) == "table" and next(v) ~= nil and #v == 0,
        false)
end

------------------------------------------------------------------------------
-- cost of 1,000 phrases against one (a report, not an assertion)

do
    local words = {}
    for w in ([[alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike
        november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu
        kubernetes docker serverless lambda terraform ansible puppet chef nginx redis kafka
        postgres mysql mongodb elastic grafana prometheus jenkins gitlab github azure gcp]]):gmatch("%S+") do
        words[#words + 1] = w
    end
    local many = {}
    for i = 1, 1000 do
        local a, b = words[i % #words + 1], words[(i * 7) % #words + 1]
        many[i] = (i % 3 == 0) and (a .. i) or (a .. " " .. b .. i)
    end
    many[1000] = "cloud computing"
    local one = { "cloud computing" }
    local texts = {}
    for n, t in ipairs(V11) do texts[n] = tm.text(t) end

    local function time(phrases)
        for _, s in ipairs(texts) do tm.track_match(s, phrases) end
        local best = math.huge
        for _ = 1, 5 do
            local t0 = os.clock()
            for _ = 1, 400 do
                for k = 1, #texts do tm.track_match(texts[k], phrases) end
            end
            best = math.min(best, os.clock() - t0)
        end
        return best
    end

    check("1,000 phrases agree with one", (function()
        for _, s in ipairs(texts) do
            if tm.track_match(s, many) ~= tm.track_match(s, one) then return false end
        end
        return true
    end)(), true)
    -- VM instructions are deterministic where time is not: assert on them.
    local function instructions(phrases)
        for _, s in ipairs(texts) do tm.track_match(s, phrases) end
        local n = 0
        debug.sethook(function() n = n + 1 end, "", 1)
        for k = 1, #texts do tm.track_match(texts[k], phrases) end
        debug.sethook()
        return n
    end
    local i1, i1000 = instructions(one), instructions(many)
    print(string.format("track_match: 1 phrase %d VM instructions/call, 1000 phrases %d, ratio %.2f",
        i1 // #texts, i1000 // #texts, i1000 / i1))
    check("1,000 phrases cost at most 1.3x the VM instructions of one", i1000 / i1 <= 1.3, true)
    local compile_cost = 0
    debug.sethook(function() compile_cost = compile_cost + 1 end, "", 1)
    tm.track_match("", { table.unpack(many) })
    debug.sethook()
    print(string.format("compiling 1000 phrases: %d VM instructions", compile_cost))
    check("compiling 1000 phrases fits a quarter of the default budget", compile_cost < 250000, true)

    local t1, t1000 = time(one), time(many)
    local calls = 400 * #texts
    print(string.format("track_match: 1 phrase %.2f us/call, 1000 phrases %.2f us/call, ratio %.2f (target <= 1.5)",
        t1 / calls * 1e6, t1000 / calls * 1e6, t1000 / t1))
end

print(string.format("%d checks, %d failed", checks, failures))
os.exit(failures == 0 and 0 or 1)
