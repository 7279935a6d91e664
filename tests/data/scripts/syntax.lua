-- A rule with a syntax error on line 3.
return {
  match = function(tweet) return { id = tweet.id_str  end,
}
