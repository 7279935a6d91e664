-- print goes to stderr in `test`, never into the items on stdout.
return { match = function(tweet) print("seen", tweet.id_str, nil) return { id = tweet.id_str } end }
