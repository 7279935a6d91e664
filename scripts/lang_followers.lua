--[[ Original tweets in chosen languages by accounts with a following.

Keeps a tweet when its language is one of LANGS and its author has at least
MIN_FOLLOWERS followers; retweets are skipped (their original is what
counts, and it was written when it was new). The item keeps the counts as
numbers, so the table can be queried or sorted on them:
  id, user, lang, text, time (ISO 8601), followers, following, tweets (N),
  retweet_count, like_count (N: at stream time these are the tweet's counts
  so far, usually 0), verified (BOOL), reply (BOOL).
Edit the two settings to taste. ]]

local tm = require "tweetmatch"

local LANGS = { en = true, es = true, de = true, fr = true }
local MIN_FOLLOWERS = 1000

local function num(v) if type(v) == "number" then return v end return 0 end

-- The author's user object (v1.1) or includes.users entry (v2).
local function author(tweet)
    if type(tweet.data) == "table" then
        local users = type(tweet.includes) == "table" and tweet.includes.users
        if type(users) == "table" then
            for _, u in ipairs(users) do
                if type(u) == "table" and u.id == tweet.data.author_id then return u end
            end
        end
        return nil
    end
    if type(tweet.user) == "table" then return tweet.user end
end

local function match(tweet)
    if tm.is_retweet(tweet) or not LANGS[tm.lang(tweet) or ""] then return nil end
    local followers = tm.followers(tweet)
    if not followers or followers < MIN_FOLLOWERS then return nil end
    local u = author(tweet) or {}
    local item = {
        id = tm.id(tweet),
        user = tm.user(tweet),
        lang = tm.lang(tweet),
        text = tm.text(tweet),
        time = tm.iso_time(tweet),
        followers = followers,
        reply = tm.is_reply(tweet),
    }
    if type(tweet.data) == "table" then
        local um = type(u.public_metrics) == "table" and u.public_metrics or {}
        local tmx = type(tweet.data.public_metrics) == "table" and tweet.data.public_metrics or {}
        item.following = num(um.following_count)
        item.tweets = num(um.tweet_count)
        item.retweet_count = num(tmx.retweet_count)
        item.like_count = num(tmx.like_count)
        item.verified = u.verified == true
    else
        item.following = num(u.friends_count)
        item.tweets = num(u.statuses_count)
        item.retweet_count = num(tweet.retweet_count)
        item.like_count = num(tweet.favorite_count)
        item.verified = u.verified == true
    end
    return item
end

return {
    match = match,
    examples = {
        {
            name = "a Spanish tweet by an account with 3120 followers is kept, counts as numbers",
            json = [[{"created_at":"Wed Oct 10 20:19:30 +0000 2018","id":1050118647690194944,]]
                .. [["id_str":"1050118647690194944","text":"La computación en la nube (cloud computing) está cambiando]]
                .. [[ la forma de trabajar.","user":{"id":1182735410102263808,"id_str":"1182735410102263808",]]
                .. [["screen_name":"lucia_dev","followers_count":3120,"friends_count":998,"statuses_count":7721,]]
                .. [["verified":false},"retweet_count":0,"favorite_count":2,"lang":"es"}]],
            expect = {
                id = "1050118647690194944", user = "lucia_dev", lang = "es",
                text = "La computación en la nube (cloud computing) está cambiando la forma de trabajar.",
                time = "2018-10-10T20:19:30.000Z", followers = 3120, following = 998, tweets = 7721,
                retweet_count = 0, like_count = 2, verified = false, reply = false,
            },
        },
        {
            name = "too few followers",
            tweet = { created_at = "Wed Oct 10 20:19:27 +0000 2018", id_str = "1050118635736428544", lang = "en",
                      text = "why is egress so expensive?", user = { screen_name = "ops_ollie", followers_count = 212 } },
            expect = nil,
        },
        {
            name = "a language not in LANGS",
            tweet = { created_at = "Wed Oct 10 20:19:32 +0000 2018", id_str = "1050118655445463040", lang = "ja",
                      text = "今日は渋谷でラーメンを食べました", user = { screen_name = "ramen_taro", followers_count = 10233 } },
            expect = nil,
        },
        {
            name = "a retweet is skipped",
            tweet = { created_at = "Wed Oct 10 20:19:37 +0000 2018", id_str = "1050118674848313344", lang = "en",
                      text = "RT @cloudnative_kim: Thread", user = { screen_name = "sre_sarah", followers_count = 8731 },
                      retweeted_status = { id_str = "1050043166237376512", text = "Thread", lang = "en",
                                           user = { screen_name = "cloudnative_kim", followers_count = 51877 } } },
            expect = nil,
        },
        {
            name = "a v2 message: followers and counts from public_metrics",
            json = [[{"data":{"id":"1579562427166912512","author_id":"1240335018374717440","lang":"en",]]
                .. [["created_at":"2022-10-10T20:00:04.144Z","text":"Five lessons from a year of platform work",]]
                .. [["public_metrics":{"retweet_count":51,"reply_count":12,"like_count":488,"quote_count":9}},]]
                .. [["includes":{"users":[{"id":"1240335018374717440","username":"cloudnative_kim","verified":true,]]
                .. [["public_metrics":{"followers_count":51877,"following_count":402,"tweet_count":9011,]]
                .. [["listed_count":1296}}]},"matching_rules":[{"id":"1579566213413609472","tag":"cloud computing"}]}]],
            expect = {
                id = "1579562427166912512", user = "cloudnative_kim", lang = "en",
                text = "Five lessons from a year of platform work", time = "2022-10-10T20:00:04.144Z",
                followers = 51877, following = 402, tweets = 9011, retweet_count = 51, like_count = 488,
                verified = true, reply = false,
            },
        },
    },
}
