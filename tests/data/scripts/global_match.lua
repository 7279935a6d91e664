-- The older style: a global match function, nothing returned.
track = "cloud computing, serverless"
function match(tweet)
  return { id = tweet.id_str }
end
