-- Requires a module that sits beside it.
local helper = require "mod_helper"
return { match = function(tweet) return { id = tweet.id_str, shout = helper.shout(tweet.text) } end }
