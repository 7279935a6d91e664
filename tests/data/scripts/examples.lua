-- Examples, one of them wrong on purpose.
local tm = require "tweetmatch"
return {
  match = function(tweet)
    if not tweet.text then return nil end
    if tweet.text == "boom" then error("boom") end
    return { id = tm.id(tweet), n = #tweet.text }
  end,
  on_delete = function(msg) return { id = msg.delete.status.id_str } end,
  examples = {
    { name = "a tweet", tweet = { id_str = "1", text = "hey" }, expect = { id = "1", n = 3 } },
    { name = "json input", json = '{"id_str":"2","text":"hello"}', expect = { { id = "2", n = 5 } } },
    { name = "no text, no item", tweet = { id_str = "3" } },
    { name = "a delete", json = '{"delete":{"status":{"id":4,"id_str":"4"}}}', expect = { id = "4" } },
    { name = "an expected error", tweet = { id_str = "5", text = "boom" }, error = "boom" },
    { name = "wrong on purpose", tweet = { id_str = "6", text = "abc" }, expect = { id = "6", n = 4 } },
    { name = "unexpected error", tweet = { id_str = "7", text = "boom" }, expect = { id = "7" } },
  },
}
