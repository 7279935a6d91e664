-- os.execute is not in the sandbox: calling it is a rule error.
return { match = function(tweet) os.execute("true") return { id = tweet.id_str } end }
