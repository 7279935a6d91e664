--[[ tweetmatch: helpers for rule scripts (`local tm = require "tweetmatch"`).

A rule script gets each stream message as the table lua-cjson decodes it
from JSON. These helpers read v1.1 tweets and v2 filtered-stream messages
({"data":{...},"includes":{...},"matching_rules":[...]}) alike, and never
raise on a missing field: a JSON null (tm.null, the same value as cjson.null)
counts as absent, and a field that is absent yields nil.

Reading a tweet
  tm.text(tweet)        full text: v1.1 extended_tweet.full_text, else
                        full_text, else text; v2 data.note_tweet.text, else
                        data.text. A retweet gives "RT @author: " followed by
                        the original's full text (the top-level text of a
                        retweet is cut short); a quote gives the quoting
                        tweet's own text, not the quoted one. The text is as
                        Twitter sends it: v1.1 keeps &amp; &lt; &gt; escaped.
  tm.user(tweet)        author's screen name: v1.1 user.screen_name; v2 the
                        username of the includes.users entry whose id is
                        data.author_id
  tm.id(tweet)          tweet id as a string: id_str, or v2 data.id; for a
                        v1.1 delete notice, the deleted tweet's id. Never the
                        numeric id, which JSON decoding makes inexact.
  tm.created_at(tweet)  created_at as sent: "Wed Oct 10 20:19:24 +0000 2018"
                        (v1.1) or "2022-10-10T20:19:24.000Z" (v2)
  tm.iso_time(tweet)    created_at as ISO 8601 UTC, "2018-10-10T20:19:24.000Z",
                        for both versions (sorts as time does: a good range key)
  tm.lang(tweet)        language code ("en", "und", ...)
  tm.followers(tweet)   author's followers count (a number)
  tm.hashtags(tweet)    hashtags without '#', in order, repeats dropped
                        (case-insensitively), from the entities of the tweet
                        whose text tm.text gives; scanned from that text when
                        the tweet has no entities. A tm.list.
  tm.mentions(tweet)    screen names mentioned, likewise. A tm.list.
  tm.urls(tweet)        expanded URLs of links, likewise. A tm.list.
  tm.is_retweet(tweet), tm.is_quote(tweet), tm.is_reply(tweet)   booleans

Matching as the stream's `track` does
  tm.phrases(s)         splits a FILTER-style "cloud computing,aws" into
                        trimmed, non-empty phrases: { "cloud computing", "aws" }
  tm.track_match(text, phrases)   true when any phrase matches (below)
  tm.track_matches(text, phrases) the phrases that match, in their order

  phrases is a list of phrase strings, or one comma-separated string. A
  phrase is terms separated by spaces; it matches when every term is a token
  of the text, in any order, ASCII letters compared without case, other
  characters exactly (Twitter: "touché" does not match "touche"). Tokens are
  the text's space-separated words, each also with the punctuation around it
  trimmed and cut at the punctuation inside it: "cloud.", "(cloud)", "#Cloud",
  "@cloud" and "cloud's" all give the token "cloud"; "clouds" and
  "#CloudComputing" do not. Unicode punctuation and spaces (… ’ “ ” « » 、 。
  ، ؟ no-break spaces) separate like their ASCII kin, emoji are tokens of
  their own, and scripts written without spaces (Chinese, Japanese) are not
  split into words, as on Twitter. A term keeps its own punctuation: "hello."
  matches only "hello."; "#cloud" matches only the hashtag, "@aws" only the
  mention. A URL is one token, without scheme, "www." or trailing "/"; its
  host alone is a token too: "example.com" and "example.com/blog" match
  "https://www.example.com/blog/". text may also be the tweet itself: then
  the expanded and display URLs of its links count too, as Twitter's do.
  A phrase list is compiled on first use and cached by the table (or
  string) passed, so pass the same table each time and do not edit it in
  place: a match then costs one lookup per token, whatever the list's size.
  Inside tweetmatch the compiling and matching run natively (core/track.c)
  with the same results: compiling costs a few VM instructions a phrase, a
  match a few dozen; a list may hold up to 100,000 phrases in 1 MiB, a text
  or link up to 16 MiB (beyond, an error). In plain Lua the matcher below
  runs: compiling costs some 100 to 200 VM instructions a phrase, counted
  against the instruction budget of the call that does it.

Values with a DynamoDB type of their own
  tm.null               the NULL value
  tm.list(t)            marks t (default {}) as a list (L), even when empty
  tm.set(list)          a new table: the elements of list, marked as a set
                        (SS or NS; repeats are dropped when written)
  tm.binary(s)          the string s as binary (B)
]]

local ok, native = pcall(require, "tweetmatch.native")
if not ok then
    local cjson = require "cjson"
    native = {
        null = cjson.null,
        list_mt = { __name = "tweetmatch.list" },
        set_mt = { __name = "tweetmatch.set" },
        binary_mt = { __name = "tweetmatch.binary" },
    }
end

local byte, char, find, gmatch, gsub, lower, match, sub, format =
    string.byte, string.char, string.find, string.gmatch, string.gsub, string.lower,
    string.match, string.sub, string.format
local type, error, setmetatable, tostring, mtype = type, error, setmetatable, tostring, math.type

local tm = {}

tm.null = native.null
local list_mt, set_mt, binary_mt = native.list_mt, native.set_mt, native.binary_mt

function tm.list(t)
    if t == nil then t = {} end
    if type(t) ~= "table" then
        error("tm.list: expected a table, got " .. type(t), 2)
    end
    return setmetatable(t, list_mt)
end

function tm.set(list)
    if type(list) ~= "table" then
        error("tm.set: expected a table, got " .. type(list), 2)
    end
    return setmetatable(table.move(list, 1, #list, 1, {}), set_mt)
end

function tm.binary(s)
    if type(s) ~= "string" then
        error("tm.binary: expected a string, got " .. type(s), 2)
    end
    return setmetatable({ s }, binary_mt)
end

-- Field access that treats JSON null (a lightuserdata) and wrong types as absent.
local function tbl(v) if type(v) == "table" then return v end end
local function str(v) if type(v) == "string" then return v end end
local function field(t, k) t = tbl(t); if t then return t[k] end end

local function idstr(v)
    if type(v) == "string" then return v end
    if mtype(v) == "integer" then return tostring(v) end
end

-- v2 ------------------------------------------------------------------------

local function v2_find(list, id)
    list = tbl(list)
    if not list or id == nil then return nil end
    for i = 1, #list do
        local e = tbl(list[i])
        if e and e.id == id then return e end
    end
end

local function v2_referenced(d, kind)
    local refs = tbl(d.referenced_tweets)
    if not refs then return nil end
    for i = 1, #refs do
        local r = tbl(refs[i])
        if r and r.type == kind then return idstr(r.id) or "" end
    end
end

local function v2_text(d)
    return str(field(d.note_tweet, "text")) or str(d.text)
end

-- The retweeted original in includes.tweets, when the message is a retweet.
local function v2_original(msg, d)
    local id = v2_referenced(d, "retweeted")
    if id then return v2_find(field(msg.includes, "tweets"), id) end
end

local function v2_author(msg, d)
    return v2_find(field(msg.includes, "users"), d.author_id)
end

-- The tweet (v1.1 status or v2 data) whose text tm.text reports.
local function v2_main(msg, d)
    return v2_original(msg, d) or d
end

local function v11_main(t)
    return tbl(t.retweeted_status) or t
end

-- Reading a tweet -------------------------------------------------------------

local function status_text(st)
    return str(field(st.extended_tweet, "full_text")) or str(st.full_text) or str(st.text)
end

function tm.text(tweet)
    if type(tweet) ~= "table" then return nil end
    local d = tbl(tweet.data)
    if d then
        local orig = v2_original(tweet, d)
        local full = orig and v2_text(orig)
        if full then
            local name = str(field(v2_author(tweet, orig), "username"))
            local prefix = name and ("RT @" .. name .. ": ") or match(str(d.text) or "", "^RT @[%w_]+: ") or ""
            return prefix .. full
        end
        return v2_text(d)
    end
    local rs = tbl(tweet.retweeted_status)
    local full = rs and status_text(rs)
    if full then
        local name = str(field(rs.user, "screen_name"))
        local prefix = name and ("RT @" .. name .. ": ")
            or match(status_text(tweet) or "", "^RT @[%w_]+: ") or ""
        return prefix .. full
    end
    return status_text(tweet)
end

function tm.user(tweet)
    if type(tweet) ~= "table" then return nil end
    local d = tbl(tweet.data)
    if d then return str(field(v2_author(tweet, d), "username")) end
    return str(field(tweet.user, "screen_name"))
end

function tm.id(tweet)
    if type(tweet) ~= "table" then return nil end
    local d = tbl(tweet.data)
    if d then return idstr(d.id) end
    local del = tbl(tweet.delete)
    if del then return idstr(field(del.status, "id_str")) end
    return idstr(tweet.id_str) or (mtype(tweet.id) == "integer" and tostring(tweet.id) or nil)
end

function tm.created_at(tweet)
    if type(tweet) ~= "table" then return nil end
    local d = tbl(tweet.data)
    if d then return str(d.created_at) end
    return str(tweet.created_at)
end

local MONTHS = { jan = 1, feb = 2, mar = 3, apr = 4, may = 5, jun = 6,
                 jul = 7, aug = 8, sep = 9, oct = 10, nov = 11, dec = 12 }

-- Days since 1970-01-01 of a proleptic Gregorian date, and back
-- (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms").
local function days_from_civil(y, m, d)
    if m <= 2 then y = y - 1 end
    local era = y // 400
    local yoe = y - era * 400
    local doy = (153 * (m > 2 and m - 3 or m + 9) + 2) // 5 + d - 1
    local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468
end

local function civil_from_days(z)
    z = z + 719468
    local era = z // 146097
    local doe = z - era * 146097
    local yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    local y = yoe + era * 400
    local doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    local mp = (5 * doy + 2) // 153
    local d = doy - (153 * mp + 2) // 5 + 1
    local m = mp < 10 and mp + 3 or mp - 9
    if m <= 2 then y = y + 1 end
    return y, m, d
end

function tm.iso_time(tweet)
    local s = tm.created_at(tweet)
    if not s then return nil end
    if find(s, "^%d%d%d%d%-%d%d%-%d%dT") then return s end
    local mon, day, hh, mm, ss, sign, oh, om, year =
        match(s, "^%a+ (%a+) (%d+) (%d+):(%d+):(%d+) ([%+%-])(%d%d)(%d%d) (%d+)$")
    local m = mon and MONTHS[lower(mon)]
    if not m then return nil end
    local offset = (tonumber(oh) * 60 + tonumber(om)) * 60
    if sign == "-" then offset = -offset end
    local t = days_from_civil(tonumber(year), m, tonumber(day)) * 86400
        + tonumber(hh) * 3600 + tonumber(mm) * 60 + tonumber(ss) - offset
    local y, mo, d = civil_from_days(t // 86400)
    local r = t % 86400
    return format("%04d-%02d-%02dT%02d:%02d:%02d.000Z", y, mo, d, r // 3600, r % 3600 // 60, r % 60)
end

function tm.lang(tweet)
    if type(tweet) ~= "table" then return nil end
    local d = tbl(tweet.data)
    if d then return str(d.lang) end
    return str(tweet.lang)
end

function tm.followers(tweet)
    if type(tweet) ~= "table" then return nil end
    local n
    local d = tbl(tweet.data)
    if d then
        n = field(field(v2_author(tweet, d), "public_metrics"), "followers_count")
    else
        n = field(tweet.user, "followers_count")
    end
    if type(n) == "number" then return n end
end

function tm.is_retweet(tweet)
    if type(tweet) ~= "table" then return false end
    local d = tbl(tweet.data)
    if d then return v2_referenced(d, "retweeted") ~= nil end
    return tbl(tweet.retweeted_status) ~= nil
end

function tm.is_quote(tweet)
    if type(tweet) ~= "table" then return false end
    local d = tbl(tweet.data)
    if d then return v2_referenced(d, "quoted") ~= nil end
    return tweet.is_quote_status == true or tbl(tweet.quoted_status) ~= nil
end

function tm.is_reply(tweet)
    if type(tweet) ~= "table" then return false end
    local d = tbl(tweet.data)
    if d then return v2_referenced(d, "replied_to") ~= nil or str(d.in_reply_to_user_id) ~= nil end
    return str(tweet.in_reply_to_status_id_str) ~= nil or str(tweet.in_reply_to_screen_name) ~= nil
end

-- Unicode normalisation for tokenizing --------------------------------------
--
-- Tokenizing works on bytes with Lua patterns, so before it the characters
-- that matter are rewritten once, by gsub with a memoised table: Unicode
-- spaces become " ", punctuation its ASCII kin (so it cuts words as ASCII
-- punctuation does), emoji and other symbols get spaces around them (a token
-- of their own), invisible format characters go. Letters of every script
-- stay as they are. Only lead bytes of blocks holding such characters are
-- looked at, so text in most scripts passes through untouched.

local UPAT = "[\xC2\xD8-\xDB\xE0\xE2\xE3\xEF\xF0][\x80-\xBF]+"

local PUNCT = {
    [0x00A1] = "!", [0x00BF] = "?", [0x00AB] = '"', [0x00BB] = '"', [0x00B4] = "'",
    [0x2018] = "'", [0x2019] = "'", [0x201A] = "'", [0x201B] = "'", [0x2032] = "'",
    [0x2035] = "'", [0x2039] = "'", [0x203A] = "'",
    [0x201C] = '"', [0x201D] = '"', [0x201E] = '"', [0x201F] = '"', [0x2033] = '"',
    [0x2010] = "-", [0x2011] = "-", [0x2012] = "-", [0x2013] = "-", [0x2014] = "-",
    [0x2015] = "-", [0x2212] = "-",
    [0x2024] = ".", [0x2025] = "..", [0x2026] = "...", [0x203C] = "!!", [0x2047] = "??",
    [0x2048] = "?!", [0x2049] = "!?",
    [0x3001] = ",", [0x3002] = ".", [0x301C] = "~", [0x3030] = "~", [0x3003] = '"',
    [0x301D] = '"', [0x301E] = '"', [0x301F] = '"',
    [0x060C] = ",", [0x060D] = ",", [0x061B] = ";", [0x061F] = "?", [0x066A] = "%",
    [0x06D4] = ".", [0x0964] = ".", [0x0965] = ".", [0x0E5A] = ".", [0x0E5B] = ".",
    [0xFF61] = ".", [0xFF64] = ",",
}

local function codepoint(ch)
    local n, b1, b2, b3, b4 = #ch, byte(ch, 1, 4)
    if n == 2 then return (b1 & 0x1F) << 6 | (b2 & 0x3F) end
    if n == 3 then return (b1 & 0x0F) << 12 | (b2 & 0x3F) << 6 | (b3 & 0x3F) end
    if n == 4 then return (b1 & 0x07) << 18 | (b2 & 0x3F) << 12 | (b3 & 0x3F) << 6 | (b4 & 0x3F) end
end

local function classify(ch)
    local cp = codepoint(ch)
    if not cp then return false end
    if cp == 0x85 or cp == 0xA0 or (cp >= 0x2000 and cp <= 0x200B) or cp == 0x2028
        or cp == 0x2029 or cp == 0x202F or cp == 0x205F or cp == 0x3000 or cp == 0xFEFF then
        return " "
    end
    if cp == 0xAD or (cp >= 0x200C and cp <= 0x200F) or (cp >= 0x202A and cp <= 0x202E)
        or (cp >= 0x2060 and cp <= 0x2069) or cp == 0xFE0E or cp == 0xFE0F then
        -- ZWNJ (0x200C) joins letters in Persian: keep it
        if cp == 0x200C then return false end
        return ""
    end
    local p = PUNCT[cp]
    if p then return p end
    if (cp >= 0xFF01 and cp <= 0xFF0F) or (cp >= 0xFF1A and cp <= 0xFF20)
        or (cp >= 0xFF3B and cp <= 0xFF40) or (cp >= 0xFF5B and cp <= 0xFF5E) then
        return char(cp - 0xFEE0)   -- fullwidth punctuation; fullwidth letters stay
    end
    if (cp >= 0xA2 and cp <= 0xA5) or (cp >= 0x20A0 and cp <= 0x20CF) then return "$" end
    if (cp >= 0x2190 and cp <= 0x2BFF) or (cp >= 0x1F000 and cp <= 0x1FAFF)
        or cp == 0x303D or cp == 0x3297 or cp == 0x3299 or cp == 0x2122 or cp == 0x2139
        or cp == 0xA9 or cp == 0xAE then
        return " " .. ch .. " "
    end
    if (cp >= 0xA6 and cp <= 0xBF and cp ~= 0xAA and cp ~= 0xB2 and cp ~= 0xB3
            and cp ~= 0xB5 and cp ~= 0xB9 and cp ~= 0xBA and cp < 0xBC)
        or (cp >= 0x2016 and cp <= 0x205E)
        or (cp >= 0x2E00 and cp <= 0x2E7F)
        or (cp >= 0x3008 and cp <= 0x301B)
        or cp == 0x30FB
        or (cp >= 0xFE10 and cp <= 0xFE19) or (cp >= 0xFE30 and cp <= 0xFE6B)
        or (cp >= 0xFF5F and cp <= 0xFF65) then
        return "*"
    end
    return false
end

local UMAP = setmetatable({}, { __index = function(t, ch)
    local r = classify(ch)
    t[ch] = r
    return r
end })

local HTML = { amp = "&", lt = "<", gt = ">", quot = '"' }

-- Lower-cased, normalised text. v1.1 escapes & < > in text as HTML entities.
local function norm(s)
    s = gsub(lower(s), UPAT, UMAP)
    if find(s, "&", 1, true) then s = gsub(s, "&(%a+);", HTML) end
    return s
end

local WORDCH = "[%w_\128-\255]"
local WORD = "[%w_\128-\255]+"
local NONWORD = "[^%w_\128-\255]"

-- w without the punctuation around it. (Two linear scans: an anchored
-- "^%p*(.-)%p*$" backtracks quadratically on long runs of punctuation.)
local function trim(w)
    local a = find(w, WORDCH)
    if not a then return "" end
    return sub(w, a, match(w, ".*()[%w_\128-\255]"))
end

-- A URL as one token: no scheme, "www.", query, fragment or trailing
-- punctuation; and its host.
local function url_token(u)
    u = gsub(u, "^%a[%w%+%.%-]*://", "", 1)
    u = gsub(u, "^www%.", "", 1)
    u = match(u, "^[^%?#]*")
    local e = match(u, ".*()[%w_\128-\255]")
    u = e and sub(u, 1, e) or ""
    return u, match(u, "^[^/:]+")
end

local function is_url(w, at)
    local b = byte(w, at)
    return (b == 104 and find(w, "^https?://", at)) or (b == 119 and find(w, "^www%.", at))
end

-- Compiled phrase lists ---------------------------------------------------
--
-- A compiled list maps each term to an entry: the ids of the phrases that
-- hold it. Terms "#tag" and "@name" live in their own maps, keyed without
-- the sigil, and are looked up for word pieces that follow '#' or '@'.
-- Matching one text (one "stamp") counts, for each phrase, the distinct
-- terms seen; the scratch tables are reused, so a call allocates little.

-- s without surrounding white space (linear, unlike "^%s*(.-)%s*$").
local function strip(s)
    local a = find(s, "%S")
    if not a then return "" end
    return sub(s, a, match(s, ".*()%S"))
end

local function add_term(c, term, pid, single)
    local map, key = c.idx, term
    local b = byte(term, 1)
    if (b == 35 or b == 64) and #term > 1 and not find(term, NONWORD, 2) then
        map, key = b == 35 and c.hidx or c.aidx, sub(term, 2)
    end
    local e = map[key]
    if e then
        e[#e + 1] = pid
    else
        e = { pid }
        map[key] = e
    end
    if single then e.single = true end
end

local function url_term(t)
    local b = byte(t, 1)
    if (b == 104 or b == 119) and is_url(t, 1) then return (url_token(t)) end
    return t
end

-- Compiling runs inside a rule's instruction budget, so the common phrase
-- (ASCII words) takes a short path.
local function add_phrase(c, phrase)
    local a = find(phrase, "%S")
    if not a then return end
    phrase = sub(phrase, a, match(phrase, ".*()%S"))
    local s = find(phrase, "[^%w_ ]") and norm(phrase) or lower(phrase)
    local pid = c.n + 1
    if not find(s, "%s") then
        s = url_term(s)
        if s == "" then return end
        c.n, c.phrase[pid], c.need[pid] = pid, phrase, 1
        add_term(c, s, pid, true)
        return
    end
    local terms, n = {}, 0
    for term in gmatch(s, "%S+") do
        term = url_term(term)
        if term ~= "" then
            local dup = false
            for k = 1, n do
                if terms[k] == term then dup = true break end
            end
            if not dup then
                n = n + 1
                terms[n] = term
            end
        end
    end
    if n == 0 then return end
    c.n, c.phrase[pid], c.need[pid] = pid, phrase, n
    for k = 1, n do add_term(c, terms[k], pid, n == 1) end
end

local function compile(phrases, what)
    local c = { idx = {}, hidx = {}, aidx = {}, phrase = {}, need = {}, n = 0,
                seen = {}, cnt = {}, cst = {}, stamp = 0, all = false, found = nil }
    if type(phrases) == "string" then
        for p in gmatch(phrases, "[^,]+") do add_phrase(c, p) end
    else
        for i = 1, #phrases do
            local p = phrases[i]
            if type(p) ~= "string" then
                error(format("%s: phrase %d is a %s, not a string", what, i, type(p)), 3)
            end
            if find(p, ",", 1, true) then
                for q in gmatch(p, "[^,]+") do add_phrase(c, q) end
            else
                add_phrase(c, p)
            end
        end
    end
    c.len = #phrases
    return c
end

local by_table = setmetatable({}, { __mode = "k" })
local by_string, n_strings = {}, 0

local function compiled(phrases, what)
    local tp = type(phrases)
    if tp == "table" then
        local c = by_table[phrases]
        if c and c.len == #phrases then return c end
        c = compile(phrases, what)
        by_table[phrases] = c
        return c
    elseif tp == "string" then
        local c = by_string[phrases]
        if c then return c end
        if n_strings >= 64 then by_string, n_strings = {}, 0 end
        c = compile(phrases, what)
        by_string[phrases] = c
        n_strings = n_strings + 1
        return c
    end
    error(what .. ": phrases must be a list of strings or a comma-separated string, got " .. tp, 3)
end

-- Records that the term of entry e occurs; true when that completes a phrase
-- and the call wants only the first match.
local function hit(c, e)
    local stamp = c.stamp
    local seen = c.seen
    if seen[e] == stamp then return false end
    seen[e] = stamp
    local all = c.all
    if e.single and not all then return true end
    local need, cnt, cst = c.need, c.cnt, c.cst
    for k = 1, #e do
        local pid = e[k]
        local n, got = need[pid], false
        if n == 1 then
            got = true
        elseif cst[pid] ~= stamp then
            cst[pid], cnt[pid] = stamp, 1
        else
            local m = cnt[pid] + 1
            cnt[pid] = m
            got = m == n
        end
        if got then
            if not all then return true end
            local f = c.found
            f[#f + 1] = pid
        end
    end
    return false
end

local LINK_KINDS = { "urls", "media" }
local LINK_FIELDS = { "expanded_url", "display_url", "unwound_url" }

local function scan_url(c, w)
    local idx = c.idx
    local u, host = url_token(w)
    local e = idx[u]
    if e and hit(c, e) then return true end
    if host and host ~= u then
        e = idx[host]
        if e and hit(c, e) then return true end
    end
    return false
end

-- Looks up every token of the normalised text s; true on a first match.
local function scan(c, s)
    local idx, hidx, aidx = c.idx, c.hidx, c.aidx
    local pos = 1
    while true do
        local i, j = find(s, "%S+", pos)
        if not i then return false end
        pos = j + 1
        local w = sub(s, i, j)
        if not find(w, NONWORD) then
            local e = idx[w]
            if e and hit(c, e) then return true end
        elseif is_url(w, 1) then
            if scan_url(c, w) then return true end
        else
            local first = find(w, WORDCH)
            if first and first > 1 and is_url(w, first) then
                if scan_url(c, sub(w, first)) then return true end
                goto next_word
            end
            local e = idx[w]
            if e and hit(c, e) then return true end
            local t = trim(w)
            if t ~= w and t ~= "" then
                e = idx[t]
                if e and hit(c, e) then return true end
            end
            local p = 1
            while true do
                local a, b = find(w, WORD, p)
                if not a then break end
                p = b + 1
                local piece = sub(w, a, b)
                e = idx[piece]
                if e and hit(c, e) then return true end
                if a > 1 then
                    local sigil = byte(w, a - 1)
                    if sigil == 35 then
                        e = hidx[piece]
                        if e and hit(c, e) then return true end
                    elseif sigil == 64 then
                        e = aidx[piece]
                        if e and hit(c, e) then return true end
                    end
                end
            end
        end
        ::next_word::
    end
end

local entity_tables

-- Looks up the link URLs of one entities table: the expanded and display
-- URLs of links and media, which Twitter's track looks at too.
local function scan_links(c, ents)
    if not ents then return false end
    for _, kind in ipairs(LINK_KINDS) do
        local list = tbl(ents[kind])
        if list then
            for i = 1, #list do
                local e = tbl(list[i])
                if e then
                    for _, f in ipairs(LINK_FIELDS) do
                        local u = str(e[f])
                        if u and scan_url(c, norm(u)) then return true end
                    end
                end
            end
        end
    end
    return false
end

-- Runs one match of subject (a text or a tweet) against compiled list c.
local function run(c, subject)
    c.stamp = c.stamp + 1
    if type(subject) == "string" then
        return scan(c, norm(subject))
    end
    if type(subject) ~= "table" then return false end
    local text = tm.text(subject)
    if text and scan(c, norm(text)) then return true end
    local ents, ext = entity_tables(subject)
    return scan_links(c, ents) or scan_links(c, ext)
end

local function lua_track_match(text, phrases)
    local c = compiled(phrases, "tm.track_match")
    if c.n == 0 or text == nil then return false end
    c.all = false
    return run(c, text)
end

local function lua_track_matches(text, phrases)
    local c = compiled(phrases, "tm.track_matches")
    local out = {}
    if c.n == 0 or text == nil then return out end
    c.all, c.found = true, {}
    run(c, text)
    local found = c.found
    c.all, c.found = false, nil
    table.sort(found)
    for i = 1, #found do out[i] = c.phrase[found[i]] end
    return out
end

-- The native matcher (core/track.c) ---------------------------------------
--
-- Inside tweetmatch the tokenizing and matching above run in C, with the
-- same results (tests/data/scripts/track_diff.lua compares the two). Here
-- Lua only decides what a tweet's text and links are, as run does, and
-- checks the phrases as compile does; C compiles the list into an index
-- and matches. Plain Lua (tests/lua) keeps the Lua matcher.

local ncompile, nmatch, nmatches = native.track_compile, native.track_match, native.track_matches

local function native_compile(phrases, what)
    local src = phrases
    if type(phrases) ~= "string" then
        src = {}
        for i = 1, #phrases do
            local p = phrases[i]
            if type(p) ~= "string" then
                error(format("%s: phrase %d is a %s, not a string", what, i, type(p)), 3)
            end
            src[i] = p
        end
    end
    local index, n = ncompile(src, what)
    return { index = index, n = n, len = #phrases }
end

local nby_table = setmetatable({}, { __mode = "k" })
local nby_string, nn_strings = {}, 0

local function ncompiled(phrases, what)
    local tp = type(phrases)
    if tp == "table" then
        local c = nby_table[phrases]
        if c and c.len == #phrases then return c end
        c = native_compile(phrases, what)
        nby_table[phrases] = c
        return c
    elseif tp == "string" then
        local c = nby_string[phrases]
        if c then return c end
        if nn_strings >= 64 then nby_string, nn_strings = {}, 0 end
        c = native_compile(phrases, what)
        nby_string[phrases] = c
        nn_strings = nn_strings + 1
        return c
    end
    error(what .. ": phrases must be a list of strings or a comma-separated string, got " .. tp, 3)
end

-- Appends to out the URLs scan_links would look at in ents.
local function gather_links(out, n, ents)
    for k = 1, 2 do
        local list = tbl(ents[LINK_KINDS[k]])
        if list then
            for i = 1, #list do
                local e = tbl(list[i])
                if e then
                    for f = 1, 3 do
                        local u = e[LINK_FIELDS[f]]
                        if type(u) == "string" then
                            n = n + 1
                            out[n] = u
                        end
                    end
                end
            end
        end
    end
    return n
end

-- fn(index, text, ents, ext, links, n) for subject (a text or a tweet); nil
-- when subject is neither. fn reads the links of the entity tables itself,
-- unless one has a metatable: then they are gathered here, where indexing
-- sees it.
local function native_run(fn, index, subject)
    local ts = type(subject)
    if ts == "string" then return fn(index, subject) end
    if ts ~= "table" then return nil end
    local text = tm.text(subject)
    local ents, ext = entity_tables(subject)
    local r = fn(index, text, ents, ext)
    if r ~= nil then return r end
    local links, n = {}, 0
    if ents then n = gather_links(links, n, ents) end
    if ext then n = gather_links(links, n, ext) end
    return fn(index, text, nil, nil, links, n)
end

if ncompile then
    function tm.track_match(text, phrases)
        local c = ncompiled(phrases, "tm.track_match")
        if c.n == 0 or text == nil then return false end
        return native_run(nmatch, c.index, text) or false
    end

    function tm.track_matches(text, phrases)
        local c = ncompiled(phrases, "tm.track_matches")
        if c.n == 0 or text == nil then return {} end
        return native_run(nmatches, c.index, text) or {}
    end
else
    tm.track_match, tm.track_matches = lua_track_match, lua_track_matches
end

-- The Lua matcher and normaliser, and the native one, for tests that
-- compare the two.
tm._lua_track_match, tm._lua_track_matches, tm._lua_norm = lua_track_match, lua_track_matches, norm
tm._native_norm = native.track_norm

function tm.phrases(s)
    local out = {}
    if type(s) ~= "string" then return out end
    for p in gmatch(s, "[^,]+") do
        p = gsub(strip(p), "%s+", " ")
        if p ~= "" then out[#out + 1] = p end
    end
    return out
end

-- Entities --------------------------------------------------------------------

-- The entity tables of the tweet whose text tm.text gives (each may be nil).
entity_tables = function(tweet)
    local d = tbl(tweet.data)
    if d then
        local m = v2_main(tweet, d)
        return tbl(field(m.note_tweet, "entities")) or tbl(m.entities)
    end
    local st = v11_main(tweet)
    local ext = tbl(st.extended_tweet)
    if ext then
        return tbl(ext.entities), tbl(ext.extended_entities)
    end
    return tbl(st.entities), tbl(st.extended_entities)
end

-- Collects field f of the entries of entities[kind], dropping repeats
-- compared without ASCII case.
local function collect(out, seen, entities, kind, f)
    local list = tbl(field(entities, kind))
    if not list then return end
    for i = 1, #list do
        local v = str(field(list[i], f))
        if v and v ~= "" then
            local k = lower(v)
            if not seen[k] then
                seen[k] = true
                out[#out + 1] = v
            end
        end
    end
end

local function scan_sigil(out, seen, text, sigil, valid)
    if not text then return end
    local s = gsub(text, UPAT, UMAP)
    local pos = 1
    while true do
        local a, b = find(s, sigil .. WORD, pos)
        if not a then return end
        pos = b + 1
        local prev = a > 1 and sub(s, a - 1, a - 1) or ""
        local v = sub(s, a + 1, b)
        if not find(prev, "[%w_&]") and valid(v) then
            local k = lower(v)
            if not seen[k] then
                seen[k] = true
                out[#out + 1] = v
            end
        end
    end
end

local function hashtag_ok(v) return find(v, "%D") ~= nil end
local function mention_ok(v) return #v <= 15 and not find(v, "[\128-\255]") end

function tm.hashtags(tweet)
    local out = tm.list()
    if type(tweet) ~= "table" then return out end
    local ents = entity_tables(tweet)
    local seen = {}
    if ents then
        collect(out, seen, ents, "hashtags", tbl(tweet.data) and "tag" or "text")
    else
        scan_sigil(out, seen, tm.text(tweet), "#", hashtag_ok)
    end
    return out
end

function tm.mentions(tweet)
    local out = tm.list()
    if type(tweet) ~= "table" then return out end
    local ents = entity_tables(tweet)
    local seen = {}
    if ents then
        if tbl(tweet.data) then
            collect(out, seen, ents, "mentions", "username")
        else
            collect(out, seen, ents, "user_mentions", "screen_name")
        end
    else
        scan_sigil(out, seen, tm.text(tweet), "@", mention_ok)
    end
    return out
end

function tm.urls(tweet)
    local out = tm.list()
    if type(tweet) ~= "table" then return out end
    local ents = entity_tables(tweet)
    local seen = {}
    collect(out, seen, ents, "urls", "expanded_url")
    return out
end

return tm
