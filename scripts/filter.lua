--[[ The default rule: what the original Python stream listener did.

Every tweet that matches a phrase of FILTER (comma-separated, as the stream's
`track` parameter takes it) is written as
  { user = screen name, date = created_at, text = full text, id = id_str }
with its full text (not the 140-character cut of an extended tweet) and its
Unicode as sent. A tweet matches as the stream itself matches it: its text
and the URLs of its links (see tm.track_match in lua/tweetmatch.lua).

With FILTER unset or empty every tweet is kept: the stream has already chosen
them (by the v2 rules, or a STREAM_URL that filters), and a default that
silently wrote nothing would look like a broken pipeline.

Delete notices are not acted on, as before; scripts/deletes.lua shows how.

The examples below must hold whatever FILTER is when `tweetmatch check` runs,
so they are built from the phrases in force: the kept tweet says the first
phrase, and, when there are phrases, the skipped one says a word that none
of them holds. ]]

local tm = require "tweetmatch"

local phrases = tm.phrases(os.getenv("FILTER") or "")

local function match(tweet)
    if #phrases > 0 and not tm.track_match(tweet, phrases) then return nil end
    return { user = tm.user(tweet), date = tm.created_at(tweet), text = tm.text(tweet), id = tm.id(tweet) }
end

-- A word that is no term of any phrase.
local function stranger()
    local terms = {}
    for _, p in ipairs(phrases) do
        for term in p:lower():gmatch("%S+") do terms[term] = true end
    end
    local w = "zyzzyva"
    while terms[w] do w = w .. "x" end
    return w
end

local said = phrases[1] or "cloud computing"
local date = "Wed Oct 10 20:19:24 +0000 2018"

local examples = {
    {
        name = "a tweet with the phrase is written with user, date, text and id",
        tweet = {
            created_at = date, id_str = "1050118621198921728", lang = "en",
            text = "Reading about " .. said .. " today \u{1F600}",
            user = { id_str = "14176", screen_name = "devops_dan", followers_count = 1234 },
        },
        expect = {
            user = "devops_dan", date = date, id = "1050118621198921728",
            text = "Reading about " .. said .. " today \u{1F600}",
        },
    },
    {
        name = "an extended tweet is written with its full text",
        json = [[{"created_at":"]] .. date .. [[","id":1050118621198921729,"id_str":"1050118621198921729",]]
            .. [["text":"A long story, cut short\u2026 https:\/\/t.co\/AbCdE12345","truncated":true,]]
            .. [["extended_tweet":{"full_text":"A long story, cut short by the API but not by us. It ends with ]]
            .. said:gsub('[\\"]', "\\%0") .. [[ and that is all."},"user":{"screen_name":"sre_sarah"},"lang":"en"}]],
        expect = {
            user = "sre_sarah", date = date, id = "1050118621198921729",
            text = "A long story, cut short by the API but not by us. It ends with " .. said .. " and that is all.",
        },
    },
    {
        name = "a v2 message is written the same way",
        json = [[{"data":{"id":"1579562410301616128","author_id":"1019622432476983297",]]
            .. [["created_at":"2022-10-10T20:00:00.123Z","text":"Costs of ]] .. said:gsub('[\\"]', "\\%0")
            .. [[ are up"},"includes":{"users":[{"id":"1019622432476983297","username":"sre_sarah"}]},]]
            .. [["matching_rules":[{"id":"1579566213413609472","tag":"rule"}]}]],
        expect = {
            user = "sre_sarah", date = "2022-10-10T20:00:00.123Z", id = "1579562410301616128",
            text = "Costs of " .. said .. " are up",
        },
    },
}

if #phrases > 0 then
    examples[#examples + 1] = {
        name = "a tweet without any FILTER phrase is skipped",
        tweet = {
            created_at = date, id_str = "1050118621198921730", text = stranger(),
            user = { screen_name = "taco_tuesday" },
        },
        expect = nil,
    }
end

return {
    track = #phrases > 0 and phrases or nil,
    match = match,
    examples = examples,
}
