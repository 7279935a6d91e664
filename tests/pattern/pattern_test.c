/* pattern_test.c: core/rule_pattern.c, the metered Lua patterns of the rule
 * sandbox, against the stock string library.
 *
 *   pattern_test diff FAMILY SEED COUNT   COUNT generated cases (diff.lua)
 *   pattern_test hand NAME TABLE          one row of hand.tsv
 *   pattern_test budget NAME TABLE        one row of budget.tsv
 *   pattern_test bench [SECONDS]          time per call, ours / stock
 *
 * Each opens a plain Lua state with the standard libraries, so string.* are
 * the stock functions, and registers ours as the global table `mine`,
 * charging a meter of its own. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rule_pattern.h"
#include "tsv.h"

#define DIFF_LUA TM_SOURCE_DIR "/tests/pattern/diff.lua"
#define ENDLESS ((uint64_t)1 << 62)

static rule_meter meter;
static int exhausted_calls;

static void on_exhausted(lua_State *L, rule_meter *m, const char *where)
{
    exhausted_calls++;
    luaL_error(L, "instruction budget exceeded in %s (%I units)", where, (lua_Integer)m->budget);
}

/* What the meter holds: used and reserved. */
static int l_meter_used(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)(meter.used + meter.reserved));
    return 1;
}

static lua_State *open_state(uint64_t budget)
{
    lua_State *L = luaL_newstate();
    if (L == NULL) {
        fprintf(stderr, "cannot create a Lua state\n");
        exit(1);
    }
    luaL_openlibs(L);
    meter.used = meter.reserved = 0;
    meter.budget = budget;
    meter.exhausted = on_exhausted;
    rule_pattern_push(L, &meter);
    lua_setglobal(L, "mine");
    lua_pushcfunction(L, l_meter_used);
    lua_setglobal(L, "meter_used");
    return L;
}

/* Leaves diff.lua's table on the stack. */
static void load_driver(lua_State *L)
{
    if (luaL_dofile(L, DIFF_LUA) != LUA_OK) {
        fprintf(stderr, "%s\n", lua_tostring(L, -1));
        exit(1);
    }
}

static int cmd_diff(const char *family, long seed, long count)
{
    lua_State *L = open_state(ENDLESS);
    load_driver(L);
    lua_getfield(L, -1, "run");
    lua_pushstring(L, family);
    lua_pushinteger(L, seed);
    lua_pushinteger(L, count);
    if (lua_pcall(L, 3, 4, 0) != LUA_OK) {
        fprintf(stderr, "diff.lua failed: %s\n", lua_tostring(L, -1));
        lua_close(L);
        return 1;
    }
    lua_Integer cases = lua_tointeger(L, -4), diffs = lua_tointeger(L, -3);
    printf("%s: %lld cases (seed %ld), %lld differences; outcomes that agreed:\n%s\n", family, (long long)cases,
           seed, (long long)diffs, lua_tostring(L, -1));
    if (diffs)
        printf("%s\n", lua_tostring(L, -2));
    lua_close(L);
    return diffs != 0;
}

/* hand.tsv: name, function, the argument list as Lua source, and the
 * expected outcome as diff.lua writes it ("-": compare with stock only). */
static int cmd_hand(const char *name, const char *table)
{
    tsv_row row;
    if (!tsv_find_row(table, name, &row))
        return 1;
    int rc = 1;
    if (row.n < 4) {
        fprintf(stderr, "%s: a hand case needs 4 columns\n", name);
        goto out;
    }
    lua_State *L = open_state(ENDLESS);
    load_driver(L);
    lua_getfield(L, -1, "compare_source");
    lua_pushstring(L, row.col[1]);
    lua_pushlstring(L, row.col[2], row.len[2]);
    if (lua_pcall(L, 2, 2, 0) != LUA_OK) {
        fprintf(stderr, "%s: %s\n", name, lua_tostring(L, -1));
    } else if (!lua_isnil(L, -2)) {
        fprintf(stderr, "%s: stock and ours differ: %s\n", name, lua_tostring(L, -2));
    } else if (strcmp(row.col[3], "-") != 0 && strcmp(row.col[3], lua_tostring(L, -1)) != 0) {
        fprintf(stderr, "%s: both agree, but not with the table\n  expected: %s\n  actual:   %s\n", name, row.col[3],
                lua_tostring(L, -1));
    } else {
        printf("%s(%s) -> %s\n", row.col[1], row.col[2], lua_tostring(L, -1));
        rc = 0;
    }
    lua_close(L);
out:
    tsv_row_free(&row);
    return rc;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* budget.tsv: name, budget in units, Lua source run with P = ours (it may
 * use pcall), the expected outcome: "ok" or "error: TEXT" (text the message
 * holds), and
 * the most seconds it may take. Checks that the meter's budget is what
 * stops it, and that a call that ends gives its reservation back. */
static int cmd_budget(const char *name, const char *table)
{
    tsv_row row;
    if (!tsv_find_row(table, name, &row))
        return 1;
    int rc = 1;
    if (row.n < 5) {
        fprintf(stderr, "%s: a budget case needs 5 columns\n", name);
        goto out;
    }
    lua_State *L = open_state(strtoull(row.col[1], NULL, 10));
    lua_getglobal(L, "mine");
    lua_setglobal(L, "P");
    exhausted_calls = 0;
    double t0 = now_s();
    int st = luaL_loadbufferx(L, row.col[2], row.len[2], "=case", "t");
    if (st == LUA_OK)
        st = lua_pcall(L, 0, 1, 0);
    double took = now_s() - t0;
    const char *msg = lua_tostring(L, -1);
    char got[512];
    if (st == LUA_OK)
        snprintf(got, sizeof got, "ok");
    else
        snprintf(got, sizeof got, "error: %s", msg ? msg : "(not a string)");
    bool as_expected = strcmp(row.col[3], "ok") == 0 ? st == LUA_OK
                       : strncmp(row.col[3], "error: ", 7) == 0 && st != LUA_OK && strstr(got, row.col[3] + 7);
    if (!as_expected) {
        fprintf(stderr, "%s: expected %s\n  actual: %s\n", name, row.col[3], got);
    } else if (took > atof(row.col[4])) {
        fprintf(stderr, "%s: took %.2f s, over %s s\n", name, took, row.col[4]);
    } else if (strstr(row.col[3], "instruction budget") && exhausted_calls == 0) {
        fprintf(stderr, "%s: the meter's exhausted callback was not called\n", name);
    } else if (st == LUA_OK && exhausted_calls == 0 && meter.used > meter.budget) {
        fprintf(stderr, "%s: the meter holds %llu units, over its budget\n", name, (unsigned long long)meter.used);
    } else {
        printf("%s: %s in %.3f s, %llu units charged\n", name, got, took, (unsigned long long)meter.used);
        rc = 0;
    }
    lua_close(L);
out:
    tsv_row_free(&row);
    return rc;
}

/* Seconds per call of f(args) for the implementation table impl. */
static double time_calls(lua_State *L, const char *impl, const char *call, double seconds)
{
    char src[1024];
    snprintf(src, sizeof src,
             "local P, n = %s, ... local t0 = os.clock() local calls = 0\n"
             "repeat for _ = 1, 200 do %s end calls = calls + 200 until os.clock() - t0 > n\n"
             "return (os.clock() - t0) / calls",
             impl, call);
    if (luaL_loadstring(L, src) != LUA_OK) {
        fprintf(stderr, "%s\n", lua_tostring(L, -1));
        exit(1);
    }
    lua_pushnumber(L, seconds);
    lua_call(L, 1, 1);
    double per = lua_tonumber(L, -1);
    lua_pop(L, 1);
    return per;
}

static int cmd_bench(double seconds)
{
    lua_State *L = open_state(ENDLESS);
    (void)luaL_dostring(L, "text = ('RT @cloud_ops: Cloud computing #AWS costs are up, see https://t.co/x1y2 now! '):rep(3)"
                     " date = 'Wed Oct 10 20:19:24 +0000 2018' csv = ('alpha,beta,gamma,delta,'):rep(20)");
    static const char *const calls[] = {
        "P.find(text, 'computing', 1, true)",
        "P.find(text, '#%w+')",
        "P.match(text, '^RT @([%w_]+): ')",
        "P.match(date, '^%a+ (%a+) (%d+) (%d+):(%d+):(%d+) ([%+%-])(%d%d)(%d%d) (%d+)$')",
        "P.match(text, '^%s*(.-)%s*$')",
        "for w in P.gmatch(text, '%S+') do end",
        "for w in P.gmatch(csv, '[^,]+') do end",
        "P.gsub(text, '%p', '')",
        "P.gsub(text:lower(), '[%w_\\128-\\255]+', { cloud = 'CLOUD' })",
        "P.gsub(text, '(%w+)', '<%1>')",
        "P.find(text, '%f[%w]costs%f[%W]')",
        NULL,
    };
    double sum_ratio = 0, worst = 0;
    int n = 0;
    printf("%-80s %10s %10s %6s\n", "call", "stock ns", "ours ns", "ratio");
    for (const char *const *c = calls; *c; c++) {
        double stock = time_calls(L, "string", *c, seconds);
        double ours = time_calls(L, "mine", *c, seconds);
        double ratio = ours / stock;
        printf("%-80.80s %10.0f %10.0f %6.2f\n", *c, stock * 1e9, ours * 1e9, ratio);
        sum_ratio += ratio;
        worst = ratio > worst ? ratio : worst;
        n++;
    }
    printf("mean ratio %.2f, worst %.2f\n", sum_ratio / n, worst);
    lua_close(L);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "diff") == 0)
        return cmd_diff(argv[2], atol(argv[3]), atol(argv[4]));
    if (argc == 4 && strcmp(argv[1], "hand") == 0)
        return cmd_hand(argv[2], argv[3]);
    if (argc == 4 && strcmp(argv[1], "budget") == 0)
        return cmd_budget(argv[2], argv[3]);
    if ((argc == 2 || argc == 3) && strcmp(argv[1], "bench") == 0)
        return cmd_bench(argc == 3 ? atof(argv[2]) : 0.2);
    fprintf(stderr, "usage: pattern_test diff FAMILY SEED COUNT | hand NAME TABLE | budget NAME TABLE | bench [SECONDS]\n");
    return 2;
}
