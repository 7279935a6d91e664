-- Echoes a message back as the item: every top-level field of the tweet,
-- as decoded, except those whose name starts with "_" (so a test can put a
-- hostile value where the rule never looks). The key is tm.id(tweet).
local tm = require "tweetmatch"
return {
  match = function(t)
    local it = {}
    for k, v in pairs(t) do
      if type(k) ~= "string" or k:sub(1, 1) ~= "_" then it[k] = v end
    end
    it.id = tm.id(t)
    it.id_str = nil
    return it
  end,
}
