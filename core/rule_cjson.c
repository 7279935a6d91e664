/* rule_cjson.c: lua-cjson as rule scripts get it (require "cjson" and
 * "cjson.safe"), held to the rule's memory cap and budget.
 *
 * lua-cjson 2.1.0 (Debian 12's lua-cjson) works partly in host memory,
 * which the cap does not see, and aborts the process when malloc fails:
 *   - encode builds its output in a malloc'ed buffer that doubles as it
 *     grows and, with encode_keep_buffer on (the default), stays allocated
 *     between calls: a table of a few MB (one string of control characters
 *     repeated) encodes to many times the cap;
 *   - decode allocates a scratch buffer as long as its input and leaks it
 *     when the state runs out of memory half way;
 *   - both recurse in C once per nesting level, so a rule that raised
 *     encode_max_depth or decode_max_depth could overflow the C stack.
 * So each module table a rule gets (cjson, cjson.safe, and what their new()
 * makes) is a copy of lua-cjson's with these replaced:
 *   encode  first walks the value (C, raw access, no metamethods) adding up
 *           the most bytes lua-cjson can write for it: 6 per string byte
 *           (\uXXXX), NUMBER_MAX per number, the punctuation, a "null," per
 *           hole of an array, as lua-cjson's own array test and sparse
 *           settings (read from the instance) decide; to the instance's
 *           encode_max_depth. The walk stops as soon as the bound passes
 *           what the cap has left, so a cycle (t.self = t) or a table
 *           shared a million times cannot make it long, and each entry it
 *           visits is charged to the instruction budget. Over what is left
 *           (after a full collection) the call fails: "cjson.encode: output
 *           could exceed the rule's memory cap (64 MB)" (cjson.safe: nil and
 *           the message). Else lua-cjson encodes it, and when the output
 *           could have grown the kept buffer past its first size, the
 *           buffer is freed and made anew (turning encode_keep_buffer off
 *           and on, which is what that does in 2.1.0).
 *   decode  runs only when DECODE_BYTES_PER_BYTE bytes per input byte fit
 *           in what the cap has left (after a full collection if need be),
 *           so it never runs out of memory half way; else "cjson.decode:
 *           decoding N bytes could exceed the rule's memory cap (64 MB)".
 *   encode_keep_buffer  may be read or set on, not turned off: with it off,
 *           an encode that fails leaks its private buffer.
 *   encode_max_depth, decode_max_depth  at most MAX_DEPTH (their default).
 *   new     returns such a guarded copy.
 * The other settings (encode_sparse_array, encode_number_precision,
 * encode_invalid_numbers, decode_invalid_numbers) work as documented. Errors
 * of encode and decode carry the caller's position, as unwrapped. */
#include <lauxlib.h>
#include <lua-cjson.h>
#include <lua.h>
#include <math.h>
#include <string.h>

#include "rule_internal.h"

int luaopen_cjson_safe(lua_State *L);

#define MAX_DEPTH 1000                /* lua-cjson's default for both */
#define NUMBER_MAX 32                 /* "%.14g" of a double, "-inf", "nan" */
#define STRBUF_FIRST_BYTES 1023       /* strbuf.c's first size */
#define HEADROOM_BYTES ((size_t)128 << 10) /* the result string, the stack */
#define DECODE_BYTES_PER_BYTE 32      /* measured: "[[],[],...]" takes 26 per byte */
#define CHARGE_EVERY 1024             /* walk entries per charge */

/* Upvalues of the replacements. */
enum { UV_RAW = 1, UV_SAFE };

static size_t cap_left(const rule *r)
{
    return r->acct->used_bytes < r->acct->max_bytes ? r->acct->max_bytes - r->acct->used_bytes : 0;
}

/* What the cap has left, after a full collection if less than need. */
static size_t cap_left_for(lua_State *L, const rule *r, size_t need)
{
    if (cap_left(r) < need)
        lua_gc(L, LUA_GCCOLLECT);
    return cap_left(r);
}

static void push_cap_message(lua_State *L, const rule *r, const char *what)
{
    size_t cap = r->acct->max_bytes;
    if (cap >= ((size_t)1 << 20) && cap % ((size_t)1 << 20) == 0)
        lua_pushfstring(L, "%s could exceed the rule's memory cap (%d MB)", what, (int)(cap >> 20));
    else
        lua_pushfstring(L, "%s could exceed the rule's memory cap (%I bytes)", what, (lua_Integer)cap);
}

/* The refusal: an error, or for cjson.safe nil and the message. */
static int refuse(lua_State *L, const rule *r, const char *what)
{
    if (lua_toboolean(L, lua_upvalueindex(UV_SAFE))) {
        lua_pushnil(L);
        push_cap_message(L, r, what); /* cjson.safe's messages carry no position */
        return 2;
    }
    luaL_where(L, 1);
    push_cap_message(L, r, what);
    lua_concat(L, 2);
    return lua_error(L);
}

/* Calls raw[name] with the arguments base+1..top, protected; returns the
 * status and leaves the results (or the error). An error gets the caller's
 * position, as lua-cjson's luaL_error would have given it when called from
 * Lua. */
static int pcall_raw(lua_State *L, const char *name, int base)
{
    int n = lua_gettop(L) - base;
    lua_getfield(L, lua_upvalueindex(UV_RAW), name);
    lua_insert(L, base + 1);
    int st = lua_pcall(L, n, LUA_MULTRET, 0);
    if (st != LUA_OK && lua_type(L, -1) == LUA_TSTRING) {
        luaL_where(L, 1);
        lua_insert(L, -2);
        lua_concat(L, 2);
    }
    return st;
}

/* Calls raw[name] with all the arguments; returns its results or raises
 * its error. */
static int call_raw(lua_State *L, const char *name)
{
    if (pcall_raw(L, name, 0) != LUA_OK)
        return lua_error(L);
    return lua_gettop(L);
}

/* ---- the bound of encode's output ---- */

typedef struct walk {
    lua_State *L;
    rule *r;
    uint64_t limit; /* stop once total passes this */
    uint64_t total;
    int max_depth;
    bool sparse_convert;
    double sparse_ratio, sparse_safe;
    unsigned visits; /* not yet charged */
} walk;

static bool add(walk *w, uint64_t n)
{
    w->total += n;
    return w->total <= w->limit;
}

static uint64_t string_bound(lua_State *L, int idx)
{
    size_t len;
    lua_tolstring(L, idx, &len); /* a string: no conversion */
    return 2 + 6 * (uint64_t)len;
}

static bool walk_value(walk *w, int idx, int depth);

/* The table at idx: its values, then the keys and punctuation of the form
 * lua-cjson will give it (lua_array_length of lua_cjson.c). */
static bool walk_table(walk *w, int idx, int depth)
{
    lua_State *L = w->L;
    if (depth > w->max_depth || !lua_checkstack(L, 4))
        return true; /* lua-cjson stops here with an error */
    uint64_t keys = 0, items = 0;
    double max_key = 0;
    bool array = true;
    if (!add(w, 2))
        return false;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (++w->visits == CHARGE_EVERY) {
            rule_meter_charge(L, &w->r->meter, w->visits, "cjson.encode");
            w->visits = 0;
        }
        int kt = lua_type(L, -2);
        if (kt == LUA_TNUMBER) {
            double k = lua_tonumber(L, -2);
            if (array && k >= 1 && floor(k) == k) {
                items++;
                max_key = k > max_key ? k : max_key;
            } else {
                array = false;
            }
            keys += 2 + NUMBER_MAX + 2; /* "k": and a comma */
        } else {
            array = false;
            if (kt == LUA_TSTRING)
                keys += string_bound(L, -2) + 2;
        }
        if (!walk_value(w, lua_gettop(L), depth)) {
            lua_pop(L, 2);
            return false;
        }
        lua_pop(L, 1);
    }
    if (array && items > 0) {
        bool sparse = w->sparse_ratio > 0 && max_key > (double)items * w->sparse_ratio && max_key > w->sparse_safe;
        if (!sparse) {
            /* "null," for every hole, a comma per item; max_key may be far
             * beyond what fits (lua-cjson keeps it in an int). */
            double more = (max_key - (double)items) * 5 + (double)items;
            if (more > (double)(w->limit - (w->total < w->limit ? w->total : w->limit)))
                return add(w, w->limit + 1 - w->total);
            return add(w, (uint64_t)more);
        }
    }
    return add(w, keys);
}

static bool walk_value(walk *w, int idx, int depth)
{
    lua_State *L = w->L;
    switch (lua_type(L, idx)) {
    case LUA_TSTRING: return add(w, string_bound(L, idx));
    case LUA_TNUMBER: return add(w, NUMBER_MAX);
    case LUA_TBOOLEAN: return add(w, 5);
    case LUA_TNIL:
    case LUA_TLIGHTUSERDATA: return add(w, 4);
    case LUA_TTABLE: return walk_table(w, idx, depth + 1);
    default: return true; /* lua-cjson refuses it */
    }
}

/* Whether the value at 1 can be encoded within limit bytes; *bound gets
 * the bound reached (past limit when not). */
static bool fits(lua_State *L, rule *r, uint64_t limit, uint64_t *bound)
{
    walk w = {.L = L, .r = r, .limit = limit};
    lua_getfield(L, lua_upvalueindex(UV_RAW), "encode_max_depth");
    lua_call(L, 0, 1);
    w.max_depth = (int)lua_tointeger(L, -1);
    lua_getfield(L, lua_upvalueindex(UV_RAW), "encode_sparse_array");
    lua_call(L, 0, 3);
    w.sparse_convert = lua_toboolean(L, -3);
    w.sparse_ratio = lua_tonumber(L, -2);
    w.sparse_safe = lua_tonumber(L, -1);
    lua_pop(L, 4);
    bool ok = walk_value(&w, 1, 0);
    rule_meter_charge(L, &r->meter, w.visits, "cjson.encode");
    *bound = w.total;
    return ok;
}

static uint64_t limit_of(size_t left)
{
    return left > HEADROOM_BYTES ? left - HEADROOM_BYTES : 0;
}

/* encode(value) */
static int l_encode(lua_State *L)
{
    rule *r = *(rule **)lua_getextraspace(L);
    luaL_argcheck(L, lua_gettop(L) == 1, 1, "expected 1 argument");
    uint64_t bound;
    if (!fits(L, r, limit_of(cap_left(r)), &bound)) {
        size_t before = cap_left(r);
        if (cap_left_for(L, r, SIZE_MAX) <= before || !fits(L, r, limit_of(cap_left(r)), &bound))
            return refuse(L, r, "cjson.encode: output");
    }
    int st = pcall_raw(L, "encode", 0);
    if (bound >= STRBUF_FIRST_BYTES) {
        /* The kept buffer may have grown: make it anew at its first size. */
        lua_getfield(L, lua_upvalueindex(UV_RAW), "encode_keep_buffer");
        lua_pushvalue(L, -1);
        lua_pushboolean(L, 0);
        lua_call(L, 1, 0);
        lua_pushboolean(L, 1);
        lua_call(L, 1, 0);
    }
    if (st != LUA_OK)
        return lua_error(L);
    return lua_gettop(L);
}

/* decode(text) */
static int l_decode(lua_State *L)
{
    rule *r = *(rule **)lua_getextraspace(L);
    luaL_argcheck(L, lua_gettop(L) == 1, 1, "expected 1 argument");
    size_t len = 0;
    if (lua_type(L, 1) == LUA_TSTRING) {
        lua_tolstring(L, 1, &len);
        size_t need = len > (SIZE_MAX - HEADROOM_BYTES) / DECODE_BYTES_PER_BYTE
                          ? SIZE_MAX
                          : len * DECODE_BYTES_PER_BYTE + HEADROOM_BYTES;
        if (cap_left_for(L, r, need) < need) {
            lua_pushfstring(L, "cjson.decode: decoding %I bytes", (lua_Integer)len);
            return refuse(L, r, lua_tostring(L, -1));
        }
    }
    return call_raw(L, "decode");
}

/* encode_keep_buffer([on]): on only. */
static int l_keep_buffer(lua_State *L)
{
    if (!lua_isnoneornil(L, 1) && !(lua_isboolean(L, 1) && lua_toboolean(L, 1)) &&
        !(lua_type(L, 1) == LUA_TSTRING && strcmp(lua_tostring(L, 1), "on") == 0))
        return luaL_error(L, "cjson.encode_keep_buffer: a rule cannot turn the encode buffer off (the "
                             "rule's memory cap depends on it)");
    return call_raw(L, "encode_keep_buffer");
}

static int depth_setting(lua_State *L, const char *name)
{
    if (lua_isnumber(L, 1) && lua_tonumber(L, 1) > MAX_DEPTH)
        return luaL_error(L, "cjson.%s: at most %d in a rule (deeper nesting could overflow the C stack)", name,
                          MAX_DEPTH);
    return call_raw(L, name);
}

static int l_encode_max_depth(lua_State *L)
{
    return depth_setting(L, "encode_max_depth");
}

static int l_decode_max_depth(lua_State *L)
{
    return depth_setting(L, "decode_max_depth");
}

static void wrap(lua_State *L, bool safe);

/* new(): a guarded copy of a new instance. */
static int l_new(lua_State *L)
{
    bool safe = lua_toboolean(L, lua_upvalueindex(UV_SAFE));
    lua_settop(L, 0);
    call_raw(L, "new");
    lua_settop(L, 1);
    wrap(L, safe);
    return 1;
}

/* Replaces the lua-cjson table on top with a guarded copy. */
static void wrap(lua_State *L, bool safe)
{
    static const luaL_Reg guarded[] = {
        {"encode", l_encode},
        {"decode", l_decode},
        {"encode_keep_buffer", l_keep_buffer},
        {"encode_max_depth", l_encode_max_depth},
        {"decode_max_depth", l_decode_max_depth},
        {"new", l_new},
        {NULL, NULL},
    };
    int raw = lua_gettop(L);
    luaL_checktype(L, raw, LUA_TTABLE);
    lua_newtable(L);
    lua_pushnil(L);
    while (lua_next(L, raw)) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, -4);
    }
    lua_pushvalue(L, raw);
    lua_pushboolean(L, safe);
    luaL_setfuncs(L, guarded, 2);
    lua_remove(L, raw);
}

static int open_cjson(lua_State *L)
{
    luaopen_cjson(L);
    wrap(L, false);
    return 1;
}

static int open_cjson_safe(lua_State *L)
{
    luaopen_cjson_safe(L);
    wrap(L, true);
    return 1;
}

void rule_cjson_preload(lua_State *L, int preload)
{
    preload = lua_absindex(L, preload);
    lua_pushcfunction(L, open_cjson);
    lua_setfield(L, preload, "cjson");
    lua_pushcfunction(L, open_cjson_safe);
    lua_setfield(L, preload, "cjson.safe");
}
