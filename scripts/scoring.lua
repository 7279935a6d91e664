--[[ Scores tweets and keeps the ones worth a human's time.

A tweet scores points for each keyword phrase it matches (weights below,
matched as the stream's track does), for its author's reach (log10 of the
followers, to one decimal) and for its hashtags (one each, at most three).
Tweets that match no keyword, or score under THRESHOLD, are skipped.

The item shows how the score came about:
  score  (N)   the total, to one decimal
  scores (M)   { keyword = ..., author = ..., hashtag = ... }
  tags   (SS)  the keyword phrases matched
plus id, user, text and time. ]]

local tm = require "tweetmatch"

local WEIGHTS = {
    ["cloud computing"] = 2,
    ["kubernetes"] = 1,
    ["serverless"] = 1,
    ["outage"] = 3,
    ["aws"] = 1,
}
local THRESHOLD = 5

-- One table for the life of the script: tm.track_matches compiles it once.
local PHRASES = {}
for phrase in pairs(WEIGHTS) do PHRASES[#PHRASES + 1] = phrase end
table.sort(PHRASES)

local function tenths(x) return math.floor(x * 10 + 0.5) / 10 end

local function match(tweet)
    local matched = tm.track_matches(tweet, PHRASES)
    if #matched == 0 then return nil end
    local keyword = 0
    for _, p in ipairs(matched) do keyword = keyword + WEIGHTS[p] end
    local followers = tm.followers(tweet) or 0
    local author = followers >= 1 and tenths(math.log(followers, 10)) or 0
    local hashtag = math.min(#tm.hashtags(tweet), 3)
    local score = tenths(keyword + author + hashtag)
    if score < THRESHOLD then return nil end
    return {
        id = tm.id(tweet),
        user = tm.user(tweet),
        text = tm.text(tweet),
        time = tm.iso_time(tweet),
        score = score,
        scores = { keyword = keyword, author = author, hashtag = hashtag },
        tags = tm.set(matched),
    }
end

return {
    match = match,
    examples = {
        {
            name = "two keywords, 8731 followers, one hashtag: 3 + 3.9 + 1",
            json = [[{"created_at":"Wed Oct 10 20:19:39 +0000 2018","id":1050118684138696704,]]
                .. [["id_str":"1050118684138696704","text":"Moving to Kubernetes made cloud computing ]]
                .. [[bills brutal this quarter \ud83d\udcb8 #SRE","user":{"screen_name":"sre_sarah",]]
                .. [["followers_count":8731},"entities":{"hashtags":[{"text":"SRE","indices":[71,75]}],]]
                .. [["urls":[],"user_mentions":[]},"lang":"en"}]],
            expect = {
                id = "1050118684138696704", user = "sre_sarah", time = "2018-10-10T20:19:39.000Z",
                text = "Moving to Kubernetes made cloud computing bills brutal this quarter \u{1F4B8} #SRE",
                score = 7.9,
                scores = { keyword = 3, author = 3.9, hashtag = 1 },
                tags = tm.set { "cloud computing", "kubernetes" },
            },
        },
        {
            name = "a keyword but little reach: 1 + 1.7 is under the threshold",
            tweet = { created_at = "Wed Oct 10 20:19:28 +0000 2018", id_str = "1050118640404688896",
                      text = "Is AWS down?", user = { screen_name = "taco_tuesday", followers_count = 48 } },
            expect = nil,
        },
        {
            name = "no keyword, however large the audience",
            tweet = { created_at = "Wed Oct 10 20:19:41 +0000 2018", id_str = "1050118694557347840",
                      text = "Clouds over Seattle again", user = { screen_name = "weather_seattle", followers_count = 98012 },
                      entities = { hashtags = { { text = "Seattle" }, { text = "rain" } } } },
            expect = nil,
        },
        {
            name = "a v2 outage report",
            json = [[{"data":{"id":"1579562485803282432","author_id":"66780587","created_at":"2022-10-10T20:00:18.124Z",]]
                .. [["text":"We are investigating an outage in #AWS us-east-1.","lang":"en",]]
                .. [["entities":{"hashtags":[{"start":34,"end":38,"tag":"AWS"}]}},]]
                .. [["includes":{"users":[{"id":"66780587","username":"awscloud","public_metrics":{"followers_count":2211000}}]}}]],
            expect = {
                id = "1579562485803282432", user = "awscloud", time = "2022-10-10T20:00:18.124Z",
                text = "We are investigating an outage in #AWS us-east-1.",
                score = 11.3,
                scores = { keyword = 4, author = 6.3, hashtag = 1 },
                tags = tm.set { "aws", "outage" },
            },
        },
    },
}
