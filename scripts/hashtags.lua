--[[ One item per hashtag: a table of who used which tag, and when.

For a table keyed by `hashtag` (partition key, the tag in lower case, since
Twitter treats #AWS and #aws alike) and `id` (sort key, the tweet id), so a
query on one hashtag lists its tweets. A tweet with three hashtags gives
three items; one without any gives none. A retweet counts for the hashtags
of the tweet it retweets, like its text does.

Keys within one tweet are distinct (tm.hashtags drops repeats), which
DynamoDB's BatchWriteItem requires. ]]

local tm = require "tweetmatch"

local function match(tweet)
    local tags = tm.hashtags(tweet)
    if #tags == 0 then return nil end
    local id, user, time = tm.id(tweet), tm.user(tweet), tm.iso_time(tweet)
    local items = {}
    for i, tag in ipairs(tags) do
        items[i] = {
            hashtag = tag:lower(),
            id = id,
            tag = tag,
            user = user,
            time = time,
            retweet = tm.is_retweet(tweet),
        }
    end
    return items
end

return {
    match = match,
    examples = {
        {
            name = "two hashtags, two items; the text's spelling is kept in tag",
            json = [[{"created_at":"Wed Oct 10 20:19:26 +0000 2018","id":1050118633601527808,]]
                .. [["id_str":"1050118633601527808","text":"Great talk on #CloudComputing at #AWSreInvent today!",]]
                .. [["user":{"screen_name":"awsmeetupsea"},"entities":{"hashtags":[]]
                .. [[{"text":"CloudComputing","indices":[14,29]},{"text":"AWSreInvent","indices":[33,45]}]]
                .. [[],"urls":[],"user_mentions":[],"symbols":[]}}]],
            expect = {
                { hashtag = "cloudcomputing", id = "1050118633601527808", tag = "CloudComputing",
                  user = "awsmeetupsea", time = "2018-10-10T20:19:26.000Z", retweet = false },
                { hashtag = "awsreinvent", id = "1050118633601527808", tag = "AWSreInvent",
                  user = "awsmeetupsea", time = "2018-10-10T20:19:26.000Z", retweet = false },
            },
        },
        {
            name = "no hashtag, no item",
            tweet = { created_at = "Wed Oct 10 20:19:28 +0000 2018", id_str = "1050118640404688896",
                      text = "Just had the best tacos in Austin", user = { screen_name = "taco_tuesday" },
                      entities = { hashtags = {}, urls = {}, user_mentions = {} } },
            expect = nil,
        },
        {
            name = "a hashtag repeated in another case gives one item",
            tweet = { created_at = "Wed Oct 10 20:19:30 +0000 2018", id_str = "1050118647690194944",
                      text = "#AWS news: #aws is down again \u{1F605}", user = { screen_name = "ops_ollie" } },
            expect = {
                { hashtag = "aws", id = "1050118647690194944", tag = "AWS", user = "ops_ollie",
                  time = "2018-10-10T20:19:30.000Z", retweet = false },
            },
        },
        {
            name = "a v2 message: tags from data.entities.hashtags",
            json = [[{"data":{"id":"1579562410301616128","author_id":"1019622432476983297",]]
                .. [["created_at":"2022-10-10T20:00:00.123Z","text":"Time for a FinOps team? #FinOps #クラウド",]]
                .. [["entities":{"hashtags":[{"start":24,"end":31,"tag":"FinOps"},{"start":32,"end":37,"tag":"クラウド"}]}},]]
                .. [["includes":{"users":[{"id":"1019622432476983297","username":"sre_sarah"}]}}]],
            expect = {
                { hashtag = "finops", id = "1579562410301616128", tag = "FinOps", user = "sre_sarah",
                  time = "2022-10-10T20:00:00.123Z", retweet = false },
                { hashtag = "クラウド", id = "1579562410301616128", tag = "クラウド", user = "sre_sarah",
                  time = "2022-10-10T20:00:00.123Z", retweet = false },
            },
        },
    },
}
