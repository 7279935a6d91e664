-- A rule that forgets its match function.
return { track = { "cloud" } }
