/* decode_compare.h: the differential check of the host's JSON decoder
 * (core/rule_decode.c) against the real lua-cjson it replaces, shared by
 * tests/decode/decode_test.c and tests/fuzz/fuzz_decode.c (header-only, so
 * each program is one file plus tmcore).
 *
 * For one input, dc_check decodes it three ways in a plain lua_State:
 * lua-cjson's decode (configured as the host configures it: strict
 * numbers), rule_decode as the host installs it (cjson as its upvalue), and
 * rule_decode_value alone (to see whether the new decoder accepted the text
 * itself or fell back to cjson). It reports a difference when
 *   - one succeeds and the other fails, or the failure messages differ;
 *   - the values differ anywhere: type, math.type, the bits of a float
 *     (so -0.0 is not 0.0), string bytes, the null light userdata, and for
 *     tables the metatable, the length (#) and every key and value;
 *   - rule_decode_value refused a text that cjson accepts (the fallback
 *     would hide that), or accepted one that cjson refuses. */
#ifndef TM_DECODE_COMPARE_H
#define TM_DECODE_COMPARE_H

#include <lauxlib.h>
#include <lua.h>
#include <lua-cjson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rule_internal.h"

#define DC_CJSON "decode_compare.cjson"
#define DC_OURS "decode_compare.ours"

typedef struct dc_result {
    bool cjson_ok;  /* cjson decoded the text */
    bool accepted;  /* rule_decode_value decoded it without cjson */
    char why[1024]; /* the first difference, when there is one */
} dc_result;

static int dc_setup(lua_State *L)
{
    luaopen_cjson(L);
    lua_getfield(L, -1, "decode_invalid_numbers");
    lua_pushboolean(L, 0);
    lua_call(L, 1, 0);
    lua_getfield(L, -1, "decode");
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, DC_CJSON);
    rule_decode_push(L);
    lua_setfield(L, LUA_REGISTRYINDEX, DC_OURS);
    lua_settop(L, 0);
    return 0;
}

/* Sets up L (a fresh state) for dc_check. */
static bool dc_open(lua_State *L)
{
    lua_pushcfunction(L, dc_setup);
    if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
        fprintf(stderr, "decode_compare: setup failed: %s\n", lua_tostring(L, -1));
        lua_pop(L, 1);
        return false;
    }
    return true;
}

/* rule_decode_value on the string at 1: returns true and the value, or
 * false. */
static int dc_probe(lua_State *L)
{
    size_t len;
    const char *s = lua_tolstring(L, 1, &len);
    if (rule_decode_value(L, s, len)) {
        lua_pushboolean(L, 1);
        lua_insert(L, -2);
        return 2;
    }
    lua_pushboolean(L, 0);
    return 1;
}

__attribute__((format(printf, 2, 3))) static void dc_say(dc_result *r, const char *fmt, ...)
{
    if (r->why[0])
        return; /* keep the first */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->why, sizeof r->why, fmt, ap);
    va_end(ap);
}

static const char *dc_math_type(lua_State *L, int i)
{
    if (lua_type(L, i) != LUA_TNUMBER)
        return luaL_typename(L, i);
    return lua_isinteger(L, i) ? "integer" : "float";
}

/* Compares the values at a and b (absolute indices) in depth. */
static bool dc_equal(lua_State *L, int a, int b, const char *path, dc_result *r)
{
    if (!lua_checkstack(L, 8)) {
        dc_say(r, "%s: out of Lua stack while comparing", path);
        return false;
    }
    int ta = lua_type(L, a), tb = lua_type(L, b);
    if (ta != tb) {
        dc_say(r, "%s: cjson gives a %s, rule_decode a %s", path, lua_typename(L, ta), lua_typename(L, tb));
        return false;
    }
    switch (ta) {
    case LUA_TNIL:
        return true;
    case LUA_TBOOLEAN:
        if (lua_toboolean(L, a) != lua_toboolean(L, b)) {
            dc_say(r, "%s: booleans differ", path);
            return false;
        }
        return true;
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, a) != lua_touserdata(L, b)) {
            dc_say(r, "%s: light userdata %p vs %p", path, lua_touserdata(L, a), lua_touserdata(L, b));
            return false;
        }
        return true;
    case LUA_TNUMBER: {
        if (lua_isinteger(L, a) != lua_isinteger(L, b)) {
            dc_say(r, "%s: cjson gives an %s, rule_decode an %s", path, dc_math_type(L, a), dc_math_type(L, b));
            return false;
        }
        if (lua_isinteger(L, a)) {
            if (lua_tointeger(L, a) != lua_tointeger(L, b)) {
                dc_say(r, "%s: integers differ", path);
                return false;
            }
            return true;
        }
        double x = lua_tonumber(L, a), y = lua_tonumber(L, b);
        if (memcmp(&x, &y, sizeof x) != 0) {
            dc_say(r, "%s: floats differ: %.17g (cjson) vs %.17g (%a vs %a)", path, x, y, x, y);
            return false;
        }
        return true;
    }
    case LUA_TSTRING: {
        size_t la, lb;
        const char *sa = lua_tolstring(L, a, &la), *sb = lua_tolstring(L, b, &lb);
        if (la != lb || memcmp(sa, sb, la) != 0) {
            dc_say(r, "%s: strings differ (%zu and %zu bytes)", path, la, lb);
            return false;
        }
        return true;
    }
    case LUA_TTABLE:
        break;
    default:
        dc_say(r, "%s: unexpected %s", path, lua_typename(L, ta));
        return false;
    }
    /* Tables. */
    int ma = lua_getmetatable(L, a), mb = lua_getmetatable(L, b);
    bool same_mt = ma == mb && (!ma || lua_rawequal(L, -1, -2));
    lua_pop(L, ma + mb);
    if (!same_mt) {
        dc_say(r, "%s: metatables differ (cjson %s, rule_decode %s)", path, ma ? "has one" : "none",
               mb ? "has one" : "none");
        return false;
    }
    if (lua_rawlen(L, a) != lua_rawlen(L, b)) {
        dc_say(r, "%s: lengths differ: %zu vs %zu", path, (size_t)lua_rawlen(L, a), (size_t)lua_rawlen(L, b));
        return false;
    }
    size_t na = 0, nb = 0;
    bool ok = true;
    lua_pushnil(L);
    while (lua_next(L, a)) {
        na++;
        char sub[512];
        if (lua_type(L, -2) == LUA_TSTRING)
            snprintf(sub, sizeof sub, "%s.%s", path, lua_tostring(L, -2));
        else if (lua_isinteger(L, -2))
            snprintf(sub, sizeof sub, "%s[%lld]", path, (long long)lua_tointeger(L, -2));
        else
            snprintf(sub, sizeof sub, "%s[%s key]", path, luaL_typename(L, -2));
        lua_pushvalue(L, -2);
        if (lua_rawget(L, b) == LUA_TNIL) {
            dc_say(r, "%s: missing from rule_decode's table", sub);
            ok = false;
        } else if (!dc_equal(L, lua_gettop(L) - 1, lua_gettop(L), sub, r)) {
            ok = false;
        }
        lua_pop(L, 2);
        if (!ok) {
            lua_pop(L, 1);
            return false;
        }
    }
    lua_pushnil(L);
    while (lua_next(L, b)) {
        nb++;
        lua_pop(L, 1);
    }
    if (na != nb) {
        dc_say(r, "%s: cjson's table has %zu keys, rule_decode's %zu", path, na, nb);
        return false;
    }
    return true;
}

/* Decodes the len bytes at s both ways; returns true when they agree (see
 * the file comment). The state's stack is left as it was. */
static bool dc_check(lua_State *L, const char *s, size_t len, dc_result *r)
{
    memset(r, 0, sizeof *r);
    int top = lua_gettop(L);
    lua_pushlstring(L, s, len);
    int in = top + 1;
    lua_getfield(L, LUA_REGISTRYINDEX, DC_CJSON);
    lua_pushvalue(L, in);
    int st_a = lua_pcall(L, 1, 1, 0); /* at top+2 */
    lua_getfield(L, LUA_REGISTRYINDEX, DC_OURS);
    lua_pushvalue(L, in);
    int st_b = lua_pcall(L, 1, 1, 0); /* at top+3 */
    lua_pushcfunction(L, dc_probe);
    lua_pushvalue(L, in);
    int st_c = lua_pcall(L, 1, 2, 0); /* at top+4, top+5 */
    int a = top + 2, b = top + 3;
    r->cjson_ok = st_a == LUA_OK;
    r->accepted = st_c == LUA_OK && lua_toboolean(L, top + 4);
    if (st_c != LUA_OK)
        dc_say(r, "rule_decode_value raised an error: %s", lua_tostring(L, top + 4));
    if (st_a != st_b) {
        dc_say(r, "cjson: %s (%s), rule_decode: %s (%s)", st_a == LUA_OK ? "ok" : "error",
               st_a == LUA_OK ? "" : lua_tostring(L, a), st_b == LUA_OK ? "ok" : "error",
               st_b == LUA_OK ? "" : lua_tostring(L, b));
    } else if (st_a != LUA_OK) {
        size_t la = 0, lb = 0;
        const char *ma = lua_tolstring(L, a, &la), *mb = lua_tolstring(L, b, &lb);
        if (!ma || !mb || la != lb || memcmp(ma, mb, la) != 0)
            dc_say(r, "error messages differ:\n  cjson:       %s\n  rule_decode: %s", ma ? ma : "(not a string)",
                   mb ? mb : "(not a string)");
        if (r->accepted)
            dc_say(r, "rule_decode_value accepted a text cjson refuses (%s)", ma ? ma : "?");
    } else {
        dc_equal(L, a, b, "value", r);
        if (!r->accepted)
            dc_say(r, "rule_decode_value refused a text cjson accepts (the fallback hid it)");
        else
            dc_equal(L, a, top + 5, "value (rule_decode_value)", r);
    }
    lua_settop(L, top);
    return r->why[0] == '\0';
}

#endif
