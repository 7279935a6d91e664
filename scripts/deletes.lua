--[[ Keeps the table in step with deletions on Twitter.

Twitter's developer terms ask that a deleted tweet be deleted from stored
copies too. This rule stores tweets as the default one does, in a table
whose key is `id` alone, and answers each delete notice of the v1.1 stream
({"delete":{"status":{"id_str":...}}}) with that key, which tweetmatch turns
into a DeleteRequest. Deleting an id that was never stored is harmless.

An on_delete must return the table's whole primary key: with a key of
`user` and `date`, for example, the notice's id alone could not name the
item, and the rule would have to keep its own index. ]]

local tm = require "tweetmatch"

local phrases = tm.phrases(os.getenv("FILTER") or "")

return {
    track = #phrases > 0 and phrases or nil,

    match = function(tweet)
        if #phrases > 0 and not tm.track_match(tweet, phrases) then return nil end
        return { id = tm.id(tweet), user = tm.user(tweet), date = tm.created_at(tweet), text = tm.text(tweet) }
    end,

    on_delete = function(msg)
        local id = tm.id(msg)
        if id then return { id = id } end
    end,

    examples = {
        {
            name = "a delete notice gives the key of the item to delete",
            json = [[{"delete":{"status":{"id":1050118623069630464,"id_str":"1050118623069630464",]]
                .. [["user_id":14176,"user_id_str":"14176"},"timestamp_ms":"1539203000001"}}]],
            expect = { id = "1050118623069630464" },
        },
        {
            name = "a notice without an id_str deletes nothing",
            json = [[{"delete":{"status":{"id":1050118623069630464,"user_id":14176},"timestamp_ms":"1539203000001"}}]],
            expect = nil,
        },
    },
}
