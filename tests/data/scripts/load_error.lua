-- A rule whose top level fails when it runs.
local cfg = nil
local phrases = cfg.phrases
return { match = function() end }
