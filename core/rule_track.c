/* rule_track.c: the native half of tm.track_match (see track.h), part of
 * the rule module's native table.
 *
 *   track_compile(phrases [, what]) -> index, n    phrases: a comma-
 *       separated string, or a list of such strings; n: the phrases kept;
 *       what names the caller in error messages
 *   track_match(index, text, ents, ext, links, n) -> boolean, or nil
 *   track_matches(index, text, ents, ext, links, n) -> list of the matching
 *       phrases, or nil
 *       text: a string or nil; ents, ext: entity tables or nil, whose link
 *       URLs count; links: nil, or a list whose first n entries are link
 *       URLs (strings). nil when an entity table or one inside it has a
 *       metatable: then the caller reads them (see all_views).
 *   track_norm(s) -> the normalised s that matching sees (for tests)
 *
 * lua/tweetmatch.lua decides which text and entity tables a tweet has;
 * here the entities' link fields are read and everything is matched. The index lives inside its userdata, so the state's
 * allocator accounts for it and the collector frees it: there is no __gc.
 * A C function runs outside the instruction budget, so each call's work is
 * linear in its arguments and every size is capped (track.h). */
#include <lauxlib.h>
#include <lua.h>
#include <stdint.h>

#include "rule_internal.h"
#include "track.h"

#define INDEX_MT "tweetmatch.track"

/* Scratch and found lists this big stay on the C stack. */
#define STACK_SCRATCH_BYTES 4096
#define STACK_FOUND 128

/* Upvalues of the functions: the index metatable, then the keys read from
 * entity tables, interned once. */
enum { UV_MT = 1, UV_URLS, UV_MEDIA, UV_EXPANDED, UV_DISPLAY, UV_UNWOUND, N_UV = UV_UNWOUND };

/* The scratch for views of up to len bytes: stack, or a new userdata (pushed)
 * when stack is too small. */
static char *scratch_for(lua_State *L, size_t len, char *stack, size_t stack_bytes, size_t *bytes)
{
    *bytes = track_scratch_bytes(len);
    if (*bytes <= stack_bytes)
        return stack;
    return lua_newuserdatauv(L, *bytes, 0);
}

static int l_compile(lua_State *L)
{
    const char *what = luaL_optstring(L, 2, "track_compile");
    size_t len;
    const char *list;
    if (lua_type(L, 1) == LUA_TTABLE) {
        /* Phrases in separate strings are split no differently from one
         * string with commas, so join them. */
        luaL_Buffer b;
        luaL_buffinit(L, &b);
        lua_Integer n = (lua_Integer)lua_rawlen(L, 1);
        for (lua_Integer i = 1; i <= n; i++) {
            if (i > 1)
                luaL_addchar(&b, ','); /* before the push: the buffer's box must be on top */
            if (lua_rawgeti(L, 1, i) != LUA_TSTRING)
                return luaL_error(L, "%s: phrase %I is a %s, not a string", what, i, luaL_typename(L, -1));
            if (luaL_bufflen(&b) + lua_rawlen(L, -1) > TRACK_MAX_LIST_BYTES)
                return luaL_error(L, "%s: %s", what, track_status_str(TRACK_LIST_TOO_LONG));
            luaL_addvalue(&b);
        }
        luaL_pushresult(&b);
        list = lua_tolstring(L, -1, &len);
    } else {
        luaL_argexpected(L, lua_type(L, 1) == LUA_TSTRING, 1, "string or table");
        list = lua_tolstring(L, 1, &len);
    }
    if (len > TRACK_MAX_LIST_BYTES)
        return luaL_error(L, "%s: %s", what, track_status_str(TRACK_LIST_TOO_LONG));
    char stack[STACK_SCRATCH_BYTES];
    size_t scratch_bytes;
    char *scratch = scratch_for(L, len, stack, sizeof stack, &scratch_bytes);
    size_t bytes;
    track_status st = track_measure(list, len, scratch, scratch_bytes, &bytes);
    if (st != TRACK_OK)
        return luaL_error(L, "%s: %s", what, track_status_str(st));
    track *t = track_build(lua_newuserdatauv(L, bytes, 0), bytes, list, len, scratch, scratch_bytes);
    lua_pushvalue(L, lua_upvalueindex(UV_MT));
    lua_setmetatable(L, -2);
    lua_pushinteger(L, (lua_Integer)track_phrase_count(t));
    return 2;
}

static track *check_index(lua_State *L)
{
    if (lua_type(L, 1) != LUA_TUSERDATA || !lua_getmetatable(L, 1) || !lua_rawequal(L, -1, lua_upvalueindex(UV_MT)))
        luaL_typeerror(L, 1, INDEX_MT);
    lua_pop(L, 1);
    return lua_touserdata(L, 1);
}

/* The views of one match: the text (arg 2), the link URLs of the entity
 * tables at args 3 and 4, and links[1..n] (args 5, 6). With run NULL,
 * measures: *longest = the longest view. Else feeds each to run.
 * Entity tables are read as lua/tweetmatch.lua's gather_links reads them
 * (ents.urls and ents.media, each entry's expanded_url, display_url and
 * unwound_url), but raw: so when a table on the way has a metatable (its
 * __index or __len could answer differently) nothing is fed and the
 * result is false; the caller then gathers the links in Lua. */
typedef struct views {
    track_run *run;
    size_t longest;
    size_t scratch_bytes;
    const char *what;
} views;

static void view(lua_State *L, views *v, int idx, bool link)
{
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    if (v->run == NULL) {
        if (len > v->longest)
            v->longest = len;
        return;
    }
    /* A finalizer run by the scratch's allocation could have changed the
     * tweet since it was measured. */
    if (track_scratch_bytes(len) > v->scratch_bytes)
        luaL_error(L, "%s: the tweet changed during the call", v->what);
    if (link)
        track_run_link(v->run, s, len);
    else
        track_run_text(v->run, s, len);
}

static bool entity_links(lua_State *L, views *v, int ents)
{
    if (lua_getmetatable(L, ents))
        return lua_pop(L, 1), false;
    for (int kind = UV_URLS; kind <= UV_MEDIA; kind++) {
        lua_pushvalue(L, lua_upvalueindex(kind));
        if (lua_rawget(L, ents) == LUA_TTABLE) {
            int list = lua_gettop(L);
            if (lua_getmetatable(L, list))
                return lua_pop(L, 2), false;
            lua_Integer n = (lua_Integer)lua_rawlen(L, list);
            for (lua_Integer i = 1; i <= n; i++) {
                if (lua_rawgeti(L, list, i) == LUA_TTABLE) {
                    int e = lua_gettop(L);
                    if (lua_getmetatable(L, e))
                        return lua_pop(L, 3), false;
                    for (int f = UV_EXPANDED; f <= UV_UNWOUND; f++) {
                        lua_pushvalue(L, lua_upvalueindex(f));
                        if (lua_rawget(L, e) == LUA_TSTRING)
                            view(L, v, -1, true);
                        lua_pop(L, 1);
                    }
                }
                lua_pop(L, 1);
            }
        }
        lua_pop(L, 1);
    }
    return true;
}

static bool all_views(lua_State *L, views *v)
{
    if (lua_type(L, 2) == LUA_TSTRING)
        view(L, v, 2, false);
    for (int ents = 3; ents <= 4; ents++)
        if (lua_type(L, ents) == LUA_TTABLE && !entity_links(L, v, ents))
            return false;
    lua_Integer n = lua_type(L, 5) == LUA_TTABLE ? lua_tointeger(L, 6) : 0;
    for (lua_Integer i = 1; i <= n; i++) {
        if (lua_rawgeti(L, 5, i) != LUA_TSTRING)
            luaL_error(L, "%s: link %I is a %s, not a string", v->what, i, luaL_typename(L, -1));
        view(L, v, -1, true);
        lua_pop(L, 1);
    }
    return true;
}

/* Checks the arguments and measures the views. False: the entities need
 * reading in Lua. */
static bool check_views(lua_State *L, views *v)
{
    if (!lua_isnoneornil(L, 2))
        luaL_checktype(L, 2, LUA_TSTRING);
    for (int ents = 3; ents <= 4; ents++)
        if (!lua_isnoneornil(L, ents))
            luaL_checktype(L, ents, LUA_TTABLE);
    if (!lua_isnoneornil(L, 5)) {
        luaL_checktype(L, 5, LUA_TTABLE);
        luaL_argcheck(L, luaL_checkinteger(L, 6) >= 0, 6, "negative count");
    }
    v->run = NULL;
    v->longest = 0;
    if (!all_views(L, v))
        return false;
    if (v->longest > TRACK_MAX_TEXT_BYTES)
        luaL_error(L, "%s: a text of %I bytes is over the limit of %I (TRACK_MAX_TEXT_BYTES)", v->what,
                   (lua_Integer)v->longest, (lua_Integer)TRACK_MAX_TEXT_BYTES);
    return true;
}

/* Nothing between track_run_begin and track_run_end allocates or calls
 * Lua, so no one else touches the index during the run. */
static int l_match(lua_State *L)
{
    track *t = check_index(L);
    views v = {.what = "tm.track_match"};
    if (!check_views(L, &v))
        return lua_pushnil(L), 1;
    char stack[STACK_SCRATCH_BYTES];
    char *scratch = scratch_for(L, v.longest, stack, sizeof stack, &v.scratch_bytes);
    track_run run;
    track_run_begin(&run, t, scratch, v.scratch_bytes, NULL);
    v.run = &run;
    all_views(L, &v);
    lua_pushboolean(L, track_run_end(&run) > 0);
    return 1;
}

static int l_matches(lua_State *L)
{
    track *t = check_index(L);
    views v = {.what = "tm.track_matches"};
    if (!check_views(L, &v))
        return lua_pushnil(L), 1;
    char stack[STACK_SCRATCH_BYTES];
    char *scratch = scratch_for(L, v.longest, stack, sizeof stack, &v.scratch_bytes);
    uint32_t found_buf[STACK_FOUND];
    uint32_t *found = found_buf;
    if (track_phrase_count(t) > STACK_FOUND)
        found = lua_newuserdatauv(L, track_phrase_count(t) * sizeof *found, 0);
    track_run run;
    track_run_begin(&run, t, scratch, v.scratch_bytes, found);
    v.run = &run;
    all_views(L, &v);
    uint32_t n = track_run_end(&run);
    lua_createtable(L, (int)n, 0);
    for (uint32_t i = 0; i < n; i++) {
        size_t len;
        const char *p = track_phrase(t, found[i], &len);
        lua_pushlstring(L, p, len);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

static int l_norm(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    if (len > TRACK_MAX_TEXT_BYTES)
        return luaL_error(L, "track_norm: a text of %I bytes is over the limit of %I (TRACK_MAX_TEXT_BYTES)",
                          (lua_Integer)len, (lua_Integer)TRACK_MAX_TEXT_BYTES);
    luaL_Buffer b;
    char *out = luaL_buffinitsize(L, &b, track_scratch_bytes(len));
    luaL_pushresultsize(&b, track_norm(s, len, out));
    return 1;
}

void rule_track_open(lua_State *L)
{
    if (luaL_newmetatable(L, INDEX_MT)) {
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "__metatable");
    }
    static const char *const keys[] = {"urls", "media", "expanded_url", "display_url", "unwound_url"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        lua_pushstring(L, keys[i]);
    static const luaL_Reg fns[] = {
        {"track_compile", l_compile},
        {"track_match", l_match},
        {"track_matches", l_matches},
        {"track_norm", l_norm},
        {NULL, NULL},
    };
    luaL_setfuncs(L, fns, N_UV);
}
