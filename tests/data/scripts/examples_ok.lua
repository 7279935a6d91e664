-- All examples hold.
return {
  match = function(tweet) return { id = tweet.id_str } end,
  examples = { { tweet = { id_str = "1" }, expect = { id = "1" } } },
}
