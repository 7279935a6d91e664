/* rule_cost.c: the standard library's C functions whose work grows with
 * their arguments, charged to the rule call's budget before they run.
 *
 * The count hook sees VM instructions only; one call of table.move({}, 1,
 * 1e12, 1) is a trillion steps inside C, table.insert on a table whose
 * __len says 2^62 shifts forever, and table.sort of a million elements or
 * utf8.len of 60 MB in a loop runs for minutes on a budget of a million
 * instructions. Each function below is replaced by a closure that works out
 * from its arguments how many elements or bytes it will go through, charges
 * that (at COST_BYTES_PER_UNIT bytes a unit for functions that scan bytes),
 * and then calls the original. Allocation is charged by the state's
 * allocator (rule.c); pattern matching by rule_pattern.c.
 *
 * The original's errors are raised again as if it had been called
 * directly: with the name the caller used in "bad argument" messages and
 * the caller's position in front of messages that have none. A memory error
 * stays a memory error. */
#include <lauxlib.h>
#include <lua.h>
#include <string.h>

#include "rule_internal.h"

#define COST_BYTES_PER_UNIT 8
#define MAX_RESULTS 1000000 /* LUAI_MAXSTACK: more, and unpack refuses */
#define MAX_SORT 2147483647 /* INT_MAX: more, and sort refuses */

typedef uint64_t (*cost_fn)(lua_State *L);

static uint64_t clamp_span(lua_Integer from, lua_Integer to)
{
    if (to < from)
        return 0;
    /* to - from may overflow: compare before subtracting */
    if (from < 0 && to > LUA_MAXINTEGER + from)
        return UINT64_MAX;
    return (uint64_t)(to - from) + 1;
}

/* An integer argument, or def when absent; false when it is neither. */
static bool int_arg(lua_State *L, int i, lua_Integer def, lua_Integer *out)
{
    if (lua_isnoneornil(L, i)) {
        *out = def;
        return true;
    }
    int ok;
    *out = lua_tointegerx(L, i, &ok);
    return ok;
}

/* #t as the original will see it (calls __len), when t is a table. */
static bool length_of(lua_State *L, int i, lua_Integer *n)
{
    if (lua_type(L, i) != LUA_TTABLE)
        return false;
    *n = luaL_len(L, i);
    return true;
}

static size_t string_len(lua_State *L, int i)
{
    size_t len = 0;
    if (lua_type(L, i) == LUA_TSTRING)
        lua_tolstring(L, i, &len);
    return len;
}

/* table.move(a1, f, e, t [, a2]) */
static uint64_t cost_move(lua_State *L)
{
    lua_Integer f, e;
    return int_arg(L, 2, 0, &f) && int_arg(L, 3, -1, &e) ? clamp_span(f, e) : 0;
}

/* table.insert(t, [pos,] v): the elements from pos up move. */
static uint64_t cost_insert(lua_State *L)
{
    lua_Integer n, pos;
    if (lua_gettop(L) != 3 || !length_of(L, 1, &n) || !int_arg(L, 2, 0, &pos))
        return 1;
    return clamp_span(pos, n);
}

/* table.remove(t [, pos]) */
static uint64_t cost_remove(lua_State *L)
{
    lua_Integer n, pos;
    if (!length_of(L, 1, &n) || !int_arg(L, 2, n, &pos))
        return 1;
    return clamp_span(pos, n);
}

/* table.sort(t [, comp]): n log n comparisons */
static uint64_t cost_sort(lua_State *L)
{
    lua_Integer n;
    if (!length_of(L, 1, &n) || n < 2 || n >= MAX_SORT)
        return 1;
    uint64_t log = 1;
    while (log < 64 && ((uint64_t)1 << log) < (uint64_t)n)
        log++;
    return (uint64_t)n > UINT64_MAX / log ? UINT64_MAX : (uint64_t)n * log;
}

/* table.concat(t [, sep [, i [, j]]]) and table.unpack(t [, i [, j]]) */
static uint64_t span_of_list(lua_State *L, int i_arg)
{
    lua_Integer i, j, n = 0;
    if (!int_arg(L, i_arg, 1, &i))
        return 1;
    if (lua_isnoneornil(L, i_arg + 1) && !length_of(L, 1, &n))
        return 1;
    if (!int_arg(L, i_arg + 1, n, &j))
        return 1;
    return clamp_span(i, j);
}

static uint64_t cost_concat(lua_State *L)
{
    return span_of_list(L, 3);
}

static uint64_t cost_unpack(lua_State *L)
{
    uint64_t n = span_of_list(L, 2);
    return n > MAX_RESULTS ? 1 : n;
}

/* string.byte(s [, i [, j]]) and utf8.codepoint: a value per byte from i
 * (default 1) to j (default i), as lstrlib.c's posrelatI and getendpos
 * read them. */
static uint64_t cost_values(lua_State *L)
{
    lua_Integer len = (lua_Integer)string_len(L, 1), i, j;
    if (!int_arg(L, 2, 1, &i) || !int_arg(L, 3, i, &j))
        return 1;
    i = i > 0 ? i : i == 0 || i < -len ? 1 : len + i + 1;
    j = j > len ? len : j >= 0 ? j : j < -len ? 0 : len + j + 1;
    return 1 + clamp_span(i, j);
}

/* string.char(...), utf8.char(...) */
static uint64_t cost_args(lua_State *L)
{
    return 1 + (uint64_t)lua_gettop(L);
}

/* utf8.len, utf8.offset: a scan of the string; load: the chunk's text */
static uint64_t cost_scan(lua_State *L)
{
    return 1 + string_len(L, 1) / COST_BYTES_PER_UNIT;
}

/* collectgarbage("collect") and ("step"): up to the whole heap; charged as
 * the allocator charges allocating it. */
static uint64_t cost_collect(lua_State *L)
{
    const char *opt = luaL_optstring(L, 1, "collect");
    if (strcmp(opt, "collect") != 0 && strcmp(opt, "step") != 0)
        return 1;
    rule *r = *(rule **)lua_getextraspace(L);
    return 1 + r->acct->used_bytes / RULE_ALLOC_BYTES_PER_UNIT;
}

/* Whether msg starts with a position ("chunk:line: "). */
static bool has_position(const char *msg)
{
    for (const char *p = msg; *p && *p != '\n'; p++) {
        if (*p != ':' || p == msg || p[1] < '0' || p[1] > '9')
            continue;
        const char *q = p + 1;
        while (*q >= '0' && *q <= '9')
            q++;
        if (q[0] == ':' && q[1] == ' ')
            return true;
    }
    return false;
}

/* Makes the original's error message what it would have been had the
 * caller called it directly (see the file comment). */
static void fix_message(lua_State *L, const char *qualified)
{
    const char *msg = lua_tostring(L, -1);
    const char *unnamed = strstr(msg, " to '?'");
    if (strncmp(msg, "bad argument #", 14) == 0 && unnamed != NULL) {
        lua_Debug ar;
        const char *name = qualified;
        if (lua_getstack(L, 0, &ar) && lua_getinfo(L, "n", &ar) && ar.name != NULL)
            name = ar.name;
        lua_pushlstring(L, msg, (size_t)(unnamed - msg));
        lua_pushfstring(L, " to '%s'%s", name, unnamed + 7);
        lua_concat(L, 2);
        lua_replace(L, -2);
        msg = lua_tostring(L, -1);
    }
    if (!has_position(msg)) {
        luaL_where(L, 1);
        lua_insert(L, -2);
        lua_concat(L, 2);
    }
}

/* Upvalues of the replacements: the original, the index of its cost
 * function in costs[] below, its name ("table.move"). */
enum { UV_ORIGINAL = 1, UV_INDEX, UV_NAME };

static const struct {
    const char *lib, *name;
    cost_fn cost;
} costs[] = {
    {"table", "move", cost_move},
    {"table", "insert", cost_insert},
    {"table", "remove", cost_remove},
    {"table", "sort", cost_sort},
    {"table", "concat", cost_concat},
    {"table", "unpack", cost_unpack},
    {"string", "byte", cost_values},
    {"string", "char", cost_args},
    {"utf8", "char", cost_args},
    {"utf8", "codepoint", cost_values},
    {"utf8", "len", cost_scan},
    {"utf8", "offset", cost_scan},
    {NULL, "load", cost_scan},
    {NULL, "collectgarbage", cost_collect},
};

static int charged(lua_State *L)
{
    rule *r = *(rule **)lua_getextraspace(L);
    int k = (int)lua_tointeger(L, lua_upvalueindex(UV_INDEX));
    const char *what = lua_tostring(L, lua_upvalueindex(UV_NAME));
    rule_meter_charge(L, &r->meter, costs[k].cost(L), what);
    int n = lua_gettop(L);
    lua_pushvalue(L, lua_upvalueindex(UV_ORIGINAL));
    lua_insert(L, 1);
    int st = lua_pcall(L, n, LUA_MULTRET, 0);
    if (st == LUA_OK)
        return lua_gettop(L);
    if (st == LUA_ERRMEM) {
        /* Raise it as a memory error again: ask for more than the cap. */
        lua_newuserdatauv(L, r->acct->max_bytes + 1, 0);
    }
    if (lua_type(L, -1) == LUA_TSTRING)
        fix_message(L, what);
    return lua_error(L);
}

void rule_cost_wrap(lua_State *L)
{
    for (int k = 0; k < (int)(sizeof costs / sizeof costs[0]); k++) {
        if (costs[k].lib)
            lua_getglobal(L, costs[k].lib);
        else
            lua_pushglobaltable(L);
        lua_getfield(L, -1, costs[k].name);
        lua_pushinteger(L, k);
        if (costs[k].lib)
            lua_pushfstring(L, "%s.%s", costs[k].lib, costs[k].name);
        else
            lua_pushstring(L, costs[k].name);
        lua_pushcclosure(L, charged, 3);
        lua_setfield(L, -2, costs[k].name);
        lua_pop(L, 1);
    }
}
