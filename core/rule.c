/* rule.c: the rule engine (see rule.h): the sandboxed Lua state, the calls
 * into the script under budget and cap, and message classification.
 * Turning Lua values into items is in rule_marshal.c. */
#include "rule.h"

#include <errno.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <lua-cjson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "buf.h"
#include "rule_internal.h"

#define SCRIPT_MAX_BYTES ((size_t)16 << 20)

/* Environment variables a script may not read with os.getenv: the secrets
 * of the task definition. A rule has no use for them, and a rule error
 * message must never carry one. */
static const char *const secret_vars[] = {
    "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN", "CONSUMERKEY", "CONSUMERSECRETKEY",
    "ACCESSTOKEN", "ACCESSTOKENSECRET", "BEARERTOKEN", NULL,
};

void rule_config_init(rule_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->instr_budget = RULE_DEFAULT_INSTR_BUDGET;
    cfg->mem_max_bytes = RULE_DEFAULT_MEM_MAX_BYTES;
    cfg->line_max_bytes = RULE_DEFAULT_LINE_MAX_BYTES;
    cfg->max_items = RULE_DEFAULT_MAX_ITEMS;
}

void rule_result_init(rule_result *res)
{
    memset(res, 0, sizeof *res);
}

void rule_result_clean_up(rule_result *res)
{
    if (res == NULL)
        return;
    for (size_t i = 0; i < res->n_items; i++)
        item_free(res->items[i]);
    free(res->items);
    free(res->error);
    free(res->detail);
    rule_result_init(res);
}

item *rule_result_take(rule_result *res, size_t i)
{
    item *it = res->items[i];
    res->items[i] = NULL;
    return it;
}

void rule_result_add(rule_result *res, item *it)
{
    if (res->n_items == res->cap_items) {
        res->cap_items = res->cap_items ? res->cap_items * 2 : 4;
        res->items = xrealloc(res->items, res->cap_items * sizeof *res->items);
    }
    res->items[res->n_items++] = it;
}

/* ---- the state's memory: every byte counted, the cap enforced ---- */

static void budget_hook(lua_State *L, lua_Debug *ar);
static uint64_t time_limit_ns(const rule *r);

/* Allocation is charged to the budget (RULE_ALLOC_BYTES_PER_UNIT bytes a
 * unit): building a string or a table in C is work the count hook does not
 * see (a loop of string.rep of 30 MB would otherwise run for an hour on a
 * budget of a million instructions). Lenient: a rule may allocate four
 * times a 64 MB cap per call before allocation alone spends a budget of a
 * million. Past the budget, the hook of the main thread fires at its next
 * instruction. */
static void charge_alloc(rule_acct *a, size_t bytes)
{
    rule_meter *m = a->meter;
    if (m == NULL)
        return;
    m->used += bytes / RULE_ALLOC_BYTES_PER_UNIT;
    if (m->used > m->budget && a->L) /* a pattern call's reservation is not spent */
        lua_sethook(a->L, budget_hook, LUA_MASKCOUNT, 1); /* may be called at any time */
}

/* A new block of n bytes: small ones from the pool, whose regions may not
 * together exceed the cap (so freeing blocks of one size and allocating
 * blocks of another cannot make the state hold more than its cap in
 * regions), the rest from malloc. */
static void *acct_new(rule_acct *a, size_t n, size_t limit)
{
    return rule_pool_small(n) ? rule_pool_alloc(&a->pool, n, limit) : malloc(n);
}

static void acct_free(rule_acct *a, void *p, size_t n)
{
    if (rule_pool_small(n))
        rule_pool_free(&a->pool, p, n);
    else
        free(p);
}

/* Resizes block p of old bytes (> 0) to n bytes (> 0). A shrink does not
 * fail for the cap (Lua expects shrinks to succeed): it stays in place
 * when the pool cannot give a smaller block, and a block leaving malloc
 * for the pool may take a region past the cap. */
static void *acct_resize(rule_acct *a, void *p, size_t old, size_t n)
{
    bool small_old = rule_pool_small(old), small_new = rule_pool_small(n);
    if (!small_old && !small_new)
        return realloc(p, n);
    if (small_old && small_new && rule_pool_same_class(old, n))
        return p;
    void *q = acct_new(a, n, n < old && !small_old ? SIZE_MAX : a->max_bytes);
    if (q == NULL)
        return small_old && small_new && n < old ? p : NULL;
    memcpy(q, p, old < n ? old : n);
    acct_free(a, p, old);
    return q;
}

static void *rule_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    rule_acct *a = ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        if (ptr != NULL)
            acct_free(a, ptr, old);
        a->used_bytes -= old;
        return NULL;
    }
    if (nsize > old && a->used_bytes + (nsize - old) > a->max_bytes) {
        /* Lua collects all garbage and asks again; refused twice, it
         * raises a memory error. Charge that collection then, as if the
         * heap were allocated again: a loop catching memory errors would
         * otherwise collect the whole heap at every turn. */
        if (++a->refusals >= 2) {
            a->refusals = 0;
            charge_alloc(a, a->used_bytes);
        }
        return NULL; /* the state stays sound */
    }
    void *p = ptr ? acct_resize(a, ptr, old, nsize) : acct_new(a, nsize, a->max_bytes);
    if (p == NULL)
        return NULL;
    a->refusals = 0;
    a->used_bytes = a->used_bytes - old + nsize;
    if (nsize > old)
        charge_alloc(a, nsize - old);
    return p;
}

/* ---- the instruction budget ---- */

#define HOOK_STEP 1000u

static unsigned hook_step(const rule *r)
{
    return r->cfg.instr_budget < HOOK_STEP ? (unsigned)r->cfg.instr_budget : HOOK_STEP;
}

/* The budget is spent: from now on fail at every instruction of L and of
 * the main thread, so a script that catches the error with pcall cannot
 * keep running (a coroutine's own hook fails it at its next count). */
static int exceeded(lua_State *L, rule *r)
{
    lua_sethook(L, budget_hook, LUA_MASKCOUNT, 1);
    if (r->L != L)
        lua_sethook(r->L, budget_hook, LUA_MASKCOUNT, 1);
    if (r->timed_out)
        return luaL_error(L, "instruction budget exceeded: the call ran for over %d ms (%I instructions; "
                             "RULE_INSTRUCTION_BUDGET)", (int)(time_limit_ns(r) / 1000000),
                          (lua_Integer)r->cfg.instr_budget);
    if (r->exceeded_in)
        return luaL_error(L, "instruction budget exceeded in %s (%I instructions; RULE_INSTRUCTION_BUDGET)",
                          r->exceeded_in, (lua_Integer)r->cfg.instr_budget);
    return luaL_error(L, "instruction budget exceeded (%I instructions; RULE_INSTRUCTION_BUDGET)",
                      (lua_Integer)r->cfg.instr_budget);
}

/* A last resort for what the counting cannot see: some single VM
 * instructions do work in proportion to a string's length (comparing two
 * long strings with == or <), so the hook also looks at the clock. A call
 * may run TIME_NS_PER_UNIT per unit of its budget, and at least
 * TIME_MIN_NS: 10 s at the default budget, far more than any honest call
 * takes even under valgrind, but an end to a stall. 1000 instructions that
 * took more than SLOW_NS make the hook check every SLOW_STEP instructions,
 * until SLOW_STEP of them take less than a hundredth of that again. */
#define TIME_NS_PER_UNIT 10000u
#define TIME_MIN_NS 10000000000u
#define SLOW_NS 1000000u
#define SLOW_STEP 10

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t time_limit_ns(const rule *r)
{
    uint64_t t = r->cfg.instr_budget > UINT64_MAX / TIME_NS_PER_UNIT ? UINT64_MAX
                                                                     : r->cfg.instr_budget * TIME_NS_PER_UNIT;
    return t < TIME_MIN_NS ? TIME_MIN_NS : t;
}

static void budget_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    rule *r = *(rule **)lua_getextraspace(L);
    int count = lua_gethookcount(L);
    r->meter.used += (uint64_t)count;
    if (r->meter.used + r->meter.reserved > r->meter.budget) /* a reservation left by an error is spent */
        exceeded(L, r);
    uint64_t now = now_ns();
    if (now - r->call_start_ns > time_limit_ns(r)) {
        r->timed_out = true;
        exceeded(L, r);
    }
    if (count > SLOW_STEP && now - r->last_hook_ns > SLOW_NS)
        lua_sethook(L, budget_hook, LUA_MASKCOUNT, SLOW_STEP);
    else if (count == SLOW_STEP && now - r->last_hook_ns < SLOW_NS / 100)
        lua_sethook(L, budget_hook, LUA_MASKCOUNT, (int)hook_step(r)); /* cheap again */
    r->last_hook_ns = now;
}

/* The meter's callback: pattern matching or cjson.encode ran out. */
static void meter_exhausted(lua_State *L, rule_meter *m, const char *where)
{
    rule *r = m->ud;
    if (r->exceeded_in == NULL)
        r->exceeded_in = where;
    exceeded(L, r);
}

/* Gives L a fresh budget. Called before each entry into script code, and
 * before a message is decoded (allocation there is charged too). The hook
 * stays set between calls. */
static void arm(rule *r, lua_State *L)
{
    r->meter.used = r->meter.reserved = 0;
    r->exceeded_in = NULL;
    r->timed_out = false;
    r->call_start_ns = r->last_hook_ns = now_ns();
    r->printed_bytes = 0;
    lua_sethook(L, budget_hook, LUA_MASKCOUNT, (int)hook_step(r));
}

/* ---- the sandbox ---- */

/* lua.c's message handler: the message with a traceback. */
static int msgh(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            msg = lua_tostring(L, -1);
        else
            msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

/* What print() may write in one call: a rule printing in a loop would
 * otherwise fill the log. */
#define PRINT_CALL_MAX_BYTES (1 << 20)

static void emit(rule *r, const char *s, size_t len)
{
    if (r->cfg.print) {
        r->cfg.print(r->cfg.print_ud, s, len);
    } else {
        fwrite(s, 1, len, stderr);
        fputc('\n', stderr);
    }
}

static int host_print(lua_State *L)
{
    rule *r = *(rule **)lua_getextraspace(L);
    int n = lua_gettop(L);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 1; i <= n; i++) {
        if (i > 1)
            luaL_addchar(&b, '\t');
        luaL_tolstring(L, i, NULL);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    size_t room = r->printed_bytes < PRINT_CALL_MAX_BYTES ? PRINT_CALL_MAX_BYTES - r->printed_bytes : 0;
    if (room == 0)
        return 0;
    emit(r, s, len < room ? len : room);
    r->printed_bytes += len < room ? len : room;
    if (len >= room) {
        r->printed_bytes = PRINT_CALL_MAX_BYTES;
        lua_pushfstring(L, "(print: %d KB printed in this call; the rest is dropped)", PRINT_CALL_MAX_BYTES >> 10);
        s = lua_tolstring(L, -1, &len);
        emit(r, s, len);
    }
    return 0;
}

static int host_getenv(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    for (const char *const *s = secret_vars; *s; s++)
        if (strcmp(name, *s) == 0) {
            lua_pushnil(L);
            return 1;
        }
    lua_pushstring(L, getenv(name));
    return 1;
}

/* load, text only: crafted bytecode can crash the VM. */
static int host_load(lua_State *L)
{
    int n = lua_gettop(L);
    if (n > 4)
        lua_settop(L, n = 4);
    if (n < 3)
        lua_settop(L, n = 3);
    lua_pushliteral(L, "t");
    lua_replace(L, 3);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, n, LUA_MULTRET);
    return lua_gettop(L);
}

/* setmetatable, refusing a __gc metamethod: Lua 5.4 runs finalizers with
 * hooks off (lgc.c, GCTM), so no budget could stop one that loops, and the
 * collector runs them wherever it happens to be, outside any call. */
static int host_setmetatable(lua_State *L)
{
    int t = lua_type(L, 2);
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_argexpected(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table");
    if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)
        return luaL_error(L, "cannot change a protected metatable");
    if (t == LUA_TTABLE) {
        lua_pushliteral(L, "__gc");
        if (lua_rawget(L, 2) != LUA_TNIL)
            return luaL_error(L, "setmetatable: a rule may not set a __gc metamethod (finalizers run where the "
                                 "instruction budget cannot stop them)");
    }
    lua_settop(L, 2);
    lua_setmetatable(L, 1);
    return 1;
}

/* Whether path names something other than a regular file (a FIFO or a
 * device would block the process, or never end). */
static bool not_regular(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && !S_ISREG(st.st_mode);
}

/* io.open for reading regular files only. */
static int host_io_open(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    const char *mode = luaL_optstring(L, 2, "r");
    if (strcmp(mode, "r") != 0 && strcmp(mode, "rb") != 0)
        return luaL_error(L, "io.open: mode '%s' is not allowed: rule scripts may only read files", mode);
    if (not_regular(path)) {
        lua_pushnil(L);
        lua_pushfstring(L, "%s: not a regular file (rule scripts may read regular files only)", path);
        return 2;
    }
    lua_settop(L, 2);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, 2, LUA_MULTRET);
    return lua_gettop(L);
}

/* io.lines with the name of a regular file only (no reading of stdin). */
static int host_io_lines(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    if (not_regular(path))
        return luaL_error(L, "%s: not a regular file (rule scripts may read regular files only)", path);
    int n = lua_gettop(L);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, n, LUA_MULTRET);
    return lua_gettop(L);
}

/* package.searchers entry for Lua files, loading them as text only. */
static int searcher_text(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    lua_settop(L, 1);
    lua_getfield(L, lua_upvalueindex(1), "searchpath");
    lua_pushvalue(L, 1);
    lua_getfield(L, lua_upvalueindex(1), "path");
    if (!lua_isstring(L, -1))
        return luaL_error(L, "package.path must be a string");
    lua_call(L, 2, 2);
    if (lua_isnil(L, -2))
        return 1; /* the message listing what was tried */
    const char *file = lua_tostring(L, -2);
    if (luaL_loadfilex(L, file, "t") != LUA_OK)
        return luaL_error(L, "error loading module '%s' from file '%s':\n\t%s", name, file,
                          lua_tostring(L, -1));
    lua_pushstring(L, file);
    return 2;
}

static int open_native(lua_State *L)
{
    lua_createtable(L, 0, 4);
    lua_pushlightuserdata(L, NULL);
    lua_setfield(L, -2, "null");
    lua_getfield(L, LUA_REGISTRYINDEX, "tweetmatch.list");
    lua_setfield(L, -2, "list_mt");
    lua_getfield(L, LUA_REGISTRYINDEX, "tweetmatch.set");
    lua_setfield(L, -2, "set_mt");
    lua_getfield(L, LUA_REGISTRYINDEX, "tweetmatch.binary");
    lua_setfield(L, -2, "binary_mt");
    rule_track_open(L);
    return 1;
}

static void set_nil(lua_State *L, int t, const char *k)
{
    t = lua_absindex(L, t);
    lua_pushnil(L);
    lua_setfield(L, t, k);
}

/* Copies the named fields of the table at src into a new table. */
static void copy_fields(lua_State *L, int src, const char *const *names)
{
    src = lua_absindex(L, src);
    lua_newtable(L);
    for (; *names; names++) {
        lua_getfield(L, src, *names);
        lua_setfield(L, -2, *names);
    }
}

/* Replaces string.find, match, gmatch and gsub with the metered ones of
 * rule_pattern.c. The string metatable's __index is the string table
 * itself, so ("x"):find(...) finds them too. */
static void metered_patterns(lua_State *L, rule *r, int string)
{
    static const char *const names[] = {"find", "match", "gmatch", "gsub", NULL};
    string = lua_absindex(L, string);
    rule_pattern_push(L, &r->meter);
    for (const char *const *n = names; *n; n++) {
        lua_getfield(L, -1, *n);
        lua_setfield(L, string, *n);
    }
    lua_pop(L, 1);
}

static void open_sandbox(lua_State *L, rule *r)
{
    luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
    luaL_requiref(L, LUA_LOADLIBNAME, luaopen_package, 1);
    luaL_requiref(L, LUA_COLIBNAME, luaopen_coroutine, 1);
    luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 1);
    luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
    luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 1);
    luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 1);
    lua_settop(L, 0);

    lua_pushglobaltable(L);
    int g = lua_gettop(L);
    set_nil(L, g, "dofile");
    set_nil(L, g, "loadfile");
    lua_getfield(L, g, "load");
    lua_pushcclosure(L, host_load, 1);
    lua_setfield(L, g, "load");
    lua_pushcfunction(L, host_print);
    lua_setfield(L, g, "print");
    lua_pushcfunction(L, host_setmetatable);
    lua_setfield(L, g, "setmetatable");
    rule_cost_wrap(L);
    lua_getfield(L, g, "string");
    set_nil(L, -1, "dump");
    metered_patterns(L, r, -1);
    lua_pop(L, 1);

    /* os: clock, time, date, and a getenv that hides secrets. */
    luaL_requiref(L, LUA_OSLIBNAME, luaopen_os, 0);
    static const char *const os_keep[] = {"clock", "time", "date", NULL};
    copy_fields(L, -1, os_keep);
    lua_pushcfunction(L, host_getenv);
    lua_setfield(L, -2, "getenv");
    lua_setfield(L, g, "os");
    lua_pop(L, 1);

    /* io: reading files only. */
    luaL_requiref(L, LUA_IOLIBNAME, luaopen_io, 0);
    lua_newtable(L);
    lua_getfield(L, -2, "open");
    lua_pushcclosure(L, host_io_open, 1);
    lua_setfield(L, -2, "open");
    lua_getfield(L, -2, "lines");
    lua_pushcclosure(L, host_io_lines, 1);
    lua_setfield(L, -2, "lines");
    lua_setfield(L, g, "io");
    lua_pop(L, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    set_nil(L, -1, LUA_OSLIBNAME);
    set_nil(L, -1, LUA_IOLIBNAME);
    lua_getfield(L, g, "os");
    lua_setfield(L, -2, LUA_OSLIBNAME);
    lua_getfield(L, g, "io");
    lua_setfield(L, -2, LUA_IOLIBNAME);
    lua_pop(L, 1);

    /* package: modules beside the script and in lua/, as text; no C
     * modules. */
    lua_getfield(L, g, "package");
    int pkg = lua_gettop(L);
    lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;%s/?.lua;%s/?/init.lua", r->script_dir, r->script_dir,
                    r->lua_dir, r->lua_dir);
    lua_setfield(L, pkg, "path");
    lua_pushliteral(L, "");
    lua_setfield(L, pkg, "cpath");
    set_nil(L, pkg, "loadlib");
    lua_getfield(L, pkg, "searchers");
    lua_createtable(L, 2, 0);
    lua_rawgeti(L, -2, 1); /* the preload searcher */
    lua_rawseti(L, -2, 1);
    lua_pushvalue(L, pkg);
    lua_pushcclosure(L, searcher_text, 1);
    lua_rawseti(L, -2, 2);
    lua_setfield(L, pkg, "searchers");
    lua_pop(L, 1);
    lua_getfield(L, pkg, "preload");
    rule_cjson_preload(L, -1);
    lua_pushcfunction(L, open_native);
    lua_setfield(L, -2, "tweetmatch.native");
    lua_settop(L, 0);
}

/* The host's own decoder (rule_decode.c), with a private cjson instance,
 * strict JSON, as its reference and source of error messages. */
static void push_decoder(lua_State *L)
{
    luaopen_cjson(L);
    lua_getfield(L, -1, "decode_invalid_numbers");
    lua_pushboolean(L, 0);
    lua_call(L, 1, 0);
    lua_getfield(L, -1, "decode");
    lua_remove(L, -2);
    rule_decode_push(L);
}

static void new_marker(lua_State *L, const char *name)
{
    lua_createtable(L, 0, 2);
    lua_pushstring(L, name);
    lua_setfield(L, -2, "__name");
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, name);
}

/* Reads the script's `track`: a list of phrases, or one comma-separated
 * string. Leaves nothing on the stack. */
static void read_track(lua_State *L, rule *r)
{
    int t = lua_gettop(L);
    if (lua_isnil(L, t)) {
        lua_pop(L, 1);
        return;
    }
    buf all;
    buf_init(&all, SCRIPT_MAX_BYTES);
    size_t count = 0;
    if (lua_type(L, t) == LUA_TSTRING) {
        size_t n;
        const char *s = lua_tolstring(L, t, &n);
        buf_put(&all, s, n);
        buf_putc(&all, ',');
    } else if (lua_istable(L, t)) {
        lua_Integer len = (lua_Integer)lua_rawlen(L, t);
        for (lua_Integer i = 1; i <= len; i++) {
            lua_rawgeti(L, t, i);
            if (lua_type(L, -1) != LUA_TSTRING) {
                buf_clean_up(&all);
                luaL_error(L, "%s: track[%d] is a %s; track must list phrases as strings", r->name, (int)i,
                           luaL_typename(L, -1));
            }
            buf_puts(&all, lua_tostring(L, -1));
            buf_putc(&all, ',');
            lua_pop(L, 1);
        }
    } else {
        luaL_error(L, "%s: track is a %s; it must be a list of phrases", r->name, luaL_typename(L, t));
    }
    lua_pop(L, 1);
    /* Split on commas, trim spaces, drop empties. */
    for (size_t i = 0; i < all.len; i++)
        count += all.data[i] == ',';
    r->track = xcalloc(count + 1, sizeof *r->track);
    size_t k = 0, start = 0;
    for (size_t i = 0; i < all.len; i++) {
        if (all.data[i] != ',')
            continue;
        size_t a = start, b = i;
        while (a < b && (all.data[a] == ' ' || all.data[a] == '\t'))
            a++;
        while (b > a && (all.data[b - 1] == ' ' || all.data[b - 1] == '\t'))
            b--;
        if (b > a)
            r->track[k++] = xstrndup(all.data + a, b - a);
        start = i + 1;
    }
    buf_clean_up(&all);
}

/* Builds the whole state inside a protected call (lua.c's pmain), so that
 * a memory error during set-up is caught. Leaves the SLOT_* values. */
static int setup(lua_State *L)
{
    rule *r = lua_touserdata(L, 1);
    lua_settop(L, 0);
    open_sandbox(L, r);
    new_marker(L, "tweetmatch.list");
    new_marker(L, "tweetmatch.set");
    new_marker(L, "tweetmatch.binary");
    lua_settop(L, 0);

    if (luaL_loadbufferx(L, r->src, r->src_len, r->chunkname, "t") != LUA_OK)
        return lua_error(L);
    arm(r, L);
    lua_call(L, 0, 1);
    int ret = lua_gettop(L);
    bool table = lua_istable(L, ret);
    if (!table && !lua_isnil(L, ret))
        return luaL_error(L, "%s: the script returned a %s; it must return a table (or nothing, and define "
                          "a global 'match')", r->name, luaL_typename(L, ret));
#define FIELD(k) (table ? lua_getfield(L, ret, k) : lua_getglobal(L, k))
    FIELD("match");
    if (!lua_isfunction(L, -1))
        return luaL_error(L, "%s: no 'match' function: the script must return a table with "
                          "match = function(tweet) ... end, or define a global function match", r->name);
    FIELD("on_delete");
    if (!lua_isnil(L, -1) && !lua_isfunction(L, -1))
        return luaL_error(L, "%s: on_delete is a %s; it must be a function", r->name, luaL_typename(L, -1));
    FIELD("track");
    read_track(L, r);
    FIELD("examples");
    if (!lua_isnil(L, -1) && !lua_istable(L, -1))
        return luaL_error(L, "%s: examples is a %s; it must be a list of tables", r->name, luaL_typename(L, -1));
    lua_pop(L, 1);
#undef FIELD
    /* Arrange the slots. */
    int match = ret + 1, on_delete = ret + 2;
    lua_pushcfunction(L, msgh);
    push_decoder(L);
    lua_pushvalue(L, match);
    lua_pushvalue(L, on_delete);
    lua_getfield(L, LUA_REGISTRYINDEX, "tweetmatch.list");
    lua_getfield(L, LUA_REGISTRYINDEX, "tweetmatch.set");
    lua_getfield(L, LUA_REGISTRYINDEX, "tweetmatch.binary");
    if (table)
        lua_pushvalue(L, ret);
    else
        lua_pushglobaltable(L);
    return SLOT_COUNT;
}

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        return xstrdup(".");
    if (slash == path)
        return xstrdup("/");
    return xstrndup(path, (size_t)(slash - path));
}

/* Closes a state (L may be NULL) and frees its memory account. */
static void close_state(lua_State *L, rule_acct *acct)
{
    if (L != NULL)
        lua_close(L);
    if (acct != NULL) {
        rule_pool_release(&acct->pool);
        free(acct);
    }
}

/* Creates r->L from r->src. On failure leaves r->L NULL and sets *err. */
static bool build_state(rule *r, char **err)
{
    rule_acct *acct = xcalloc(1, sizeof *acct);
    acct->max_bytes = r->cfg.mem_max_bytes;
    lua_State *L = lua_newstate(rule_alloc, acct);
    r->acct = acct;
    if (L == NULL) {
        close_state(NULL, acct);
        r->acct = NULL;
        *err = xasprintf("%s: cannot create a Lua state within the memory cap of %zu bytes", r->name,
                         r->cfg.mem_max_bytes);
        return false;
    }
    *(rule **)lua_getextraspace(L) = r;
    r->L = L;
    /* Generational collection: each message leaves a decoded tweet of young
     * garbage beside a long-lived state (the script, the helper module), and
     * minor collections free it without marking the old objects again.
     * Measured (tests/bench/run.sh corpus): 8 % less CPU per tweet than
     * incremental mode, and no larger peak. */
    lua_gc(L, LUA_GCGEN, 0, 0);
    acct->meter = &r->meter;
    acct->L = L;
    arm(r, L);
    lua_pushcfunction(L, setup);
    lua_pushlightuserdata(L, r);
    int st = lua_pcall(L, 1, SLOT_COUNT, 0);
    if (st != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        if (st == LUA_ERRMEM)
            *err = xasprintf("%s: the script ran out of memory while loading (memory cap %zu bytes)", r->name,
                             r->cfg.mem_max_bytes);
        else
            *err = xstrdup(msg ? msg : "(error object is not a string)");
        close_state(L, acct);
        r->L = NULL;
        r->acct = NULL;
        return false;
    }
    return true;
}

static void free_track(rule *r)
{
    if (r->track) {
        for (char **p = r->track; *p; p++)
            free(*p);
        free(r->track);
        r->track = NULL;
    }
}

rule *rule_new_from_string(const char *name, const char *src, size_t len, const rule_config *cfg,
                           char **err)
{
    rule *r = xcalloc(1, sizeof *r);
    r->cfg = *cfg;
    if (r->cfg.instr_budget == 0)
        r->cfg.instr_budget = RULE_DEFAULT_INSTR_BUDGET;
    if (r->cfg.mem_max_bytes == 0)
        r->cfg.mem_max_bytes = RULE_DEFAULT_MEM_MAX_BYTES;
    if (r->cfg.line_max_bytes == 0)
        r->cfg.line_max_bytes = RULE_DEFAULT_LINE_MAX_BYTES;
    if (r->cfg.max_items == 0)
        r->cfg.max_items = RULE_DEFAULT_MAX_ITEMS;
    r->meter.budget = r->cfg.instr_budget;
    r->meter.exhausted = meter_exhausted;
    r->meter.ud = r;
    r->name = xstrdup(name);
    r->chunkname = xasprintf("@%s", name);
    r->src = xstrndup(src, len);
    r->src_len = len;
    r->script_dir = dir_of(name);
    r->lua_dir = xstrdup(cfg->lua_dir ? cfg->lua_dir : ".");
    r->cfg.lua_dir = r->lua_dir;
    if (!build_state(r, err)) {
        rule_free(r);
        return NULL;
    }
    return r;
}

rule *rule_new(const char *path, const rule_config *cfg, char **err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        *err = xasprintf("%s: cannot open the script: %s", path, strerror(errno));
        return NULL;
    }
    buf src;
    buf_init(&src, SCRIPT_MAX_BYTES);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_put(&src, chunk, n);
    bool bad = ferror(f);
    int saved = errno;
    fclose(f);
    if (bad || src.failed) {
        *err = bad ? xasprintf("%s: cannot read the script: %s", path, strerror(saved))
                   : xasprintf("%s: the script is larger than %zu bytes", path, SCRIPT_MAX_BYTES);
        buf_clean_up(&src);
        return NULL;
    }
    rule *r = rule_new_from_string(path, src.data ? src.data : "", src.len, cfg, err);
    buf_clean_up(&src);
    return r;
}

void rule_free(rule *r)
{
    if (r == NULL)
        return;
    close_state(r->L, r->acct);
    free_track(r);
    free(r->name);
    free(r->chunkname);
    free(r->src);
    free(r->script_dir);
    free(r->lua_dir);
    free(r);
}

const char *const *rule_track(const rule *r)
{
    return (const char *const *)r->track;
}

size_t rule_mem_bytes(const rule *r)
{
    return r->acct ? r->acct->used_bytes : 0;
}

size_t rule_pool_bytes(const rule *r)
{
    return r->acct ? r->acct->pool.held : 0;
}

const char *rule_lua_version(void)
{
    return LUA_RELEASE;
}

/* ---- calls into the script ---- */

/* After a call that ran out of memory: collect; if the script still holds
 * most of its cap (it kept garbage in globals), or its pool's regions do
 * (it freed many small blocks of one size and wants blocks of another), mark
 * the state worn so the next message starts from a fresh state built from
 * the same source. */
static void after_memory_error(rule *r)
{
    lua_gc(r->L, LUA_GCCOLLECT);
    if (r->acct->used_bytes > r->cfg.mem_max_bytes / 4 * 3 || r->acct->pool.held > r->cfg.mem_max_bytes / 4 * 3)
        r->worn = true;
}

/* Replaces a worn state; keeps the old one if the new cannot be built. */
static void renew_if_worn(rule *r)
{
    if (!r->worn || r->busy)
        return;
    r->worn = false;
    lua_State *old_L = r->L;
    rule_acct *old_acct = r->acct;
    char **old_track = r->track;
    r->track = NULL;
    char *err = NULL;
    if (build_state(r, &err)) {
        close_state(old_L, old_acct);
        char **fresh = r->track;
        r->track = old_track;
        free_track(r);
        r->track = fresh;
        r->rebuilds++;
    } else {
        free(err);
        r->L = old_L;
        r->acct = old_acct;
        r->track = old_track;
    }
}

/* A message longer than this is cut (error("x"):rep(1e8) would otherwise
 * be logged whole). */
#define ERROR_MAX_BYTES 4096

/* The error message for res, cut at a UTF-8 boundary if long. */
static char *error_text(const char *msg, size_t len)
{
    if (len <= ERROR_MAX_BYTES)
        return xstrndup(msg, len);
    size_t cut = ERROR_MAX_BYTES;
    while (cut > 0 && ((unsigned char)msg[cut] & 0xC0) == 0x80)
        cut--;
    return xasprintf("%.*s... (%zu bytes in all)", (int)cut, msg, len);
}

/* Calls the function at the top (below its nargs arguments) under the
 * budget, with a traceback. On success leaves one result; on failure sets
 * res to RULE_ERROR and leaves nothing. */
static bool call_script(rule *r, int nargs, rule_result *res)
{
    lua_State *L = r->L;
    int base = lua_gettop(L) - nargs; /* the function's index */
    arm(r, L);
    int st = lua_pcall(L, nargs, 1, SLOT_MSGH);
    if (st == LUA_OK)
        return true;
    res->kind = RULE_ERROR;
    if (st == LUA_ERRMEM) {
        res->error = xasprintf("out of memory: the rule's state reached its cap of %zu bytes",
                               r->cfg.mem_max_bytes);
    } else {
        size_t len;
        const char *msg = lua_tolstring(L, -1, &len);
        res->error = msg ? error_text(msg, len) : xstrdup("(error object is not a string)");
    }
    lua_settop(L, base - 1);
    if (st == LUA_ERRMEM)
        after_memory_error(r);
    return false;
}

static void copy_id(char *dst, size_t cap, lua_State *L, int idx)
{
    size_t n = 0;
    const char *s = NULL;
    if (lua_type(L, idx) == LUA_TSTRING)
        s = lua_tolstring(L, idx, &n);
    if (s == NULL || n >= cap)
        n = 0;
    if (n)
        memcpy(dst, s, n);
    dst[n] = '\0';
}

/* Gets t[k] without metamethods. */
static int rawfield(lua_State *L, int t, const char *k)
{
    lua_pushstring(L, k);
    return lua_rawget(L, t < 0 ? t - 1 : t);
}

static const char *const control_keys[] = {
    "delete", "limit", "disconnect", "warning", "scrub_geo", "status_withheld", "user_withheld",
    "event", "friends", "friends_str", "control", "errors", NULL,
};

/* Sorts the decoded message at msg into a tweet, a delete notice or
 * another control message, and records its id. */
static rule_kind classify(lua_State *L, int msg, rule_result *res)
{
    if (rawfield(L, msg, "data") == LUA_TTABLE) {
        rawfield(L, -1, "id");
        copy_id(res->id, sizeof res->id, L, -1);
        lua_pop(L, 2);
        return RULE_TWEET;
    }
    lua_pop(L, 1);
    rawfield(L, msg, "id_str");
    copy_id(res->id, sizeof res->id, L, -1);
    lua_pop(L, 1);
    for (const char *const *k = control_keys; *k; k++) {
        int t = rawfield(L, msg, *k);
        lua_pop(L, 1);
        if (t == LUA_TNIL)
            continue;
        if (strcmp(*k, "delete") == 0 && t == LUA_TTABLE) {
            rawfield(L, msg, "delete");
            if (rawfield(L, -1, "status") == LUA_TTABLE) {
                rawfield(L, -1, "id_str");
                copy_id(res->id, sizeof res->id, L, -1);
                lua_pop(L, 1);
            }
            lua_pop(L, 2);
            return RULE_DELETE;
        }
        snprintf(res->control, sizeof res->control, "%s", *k);
        return RULE_CONTROL;
    }
    static const char *const tweet_keys[] = {"id_str", "text", "full_text", "extended_tweet", NULL};
    for (const char *const *k = tweet_keys; *k; k++) {
        int t = rawfield(L, msg, *k);
        lua_pop(L, 1);
        if (t != LUA_TNIL)
            return RULE_TWEET;
    }
    snprintf(res->control, sizeof res->control, "unknown");
    return RULE_CONTROL;
}

/* Processes the decoded message on top of the stack (popping it). */
static rule_kind process_value(rule *r, rule_result *res)
{
    lua_State *L = r->L;
    int msg = lua_gettop(L);
    if (!lua_istable(L, msg)) {
        res->kind = res->message = RULE_BAD_INPUT;
        res->error = xasprintf("not a JSON object (a JSON %s)", lua_isuserdata(L, msg) ? "null"
                               : lua_type(L, msg) == LUA_TSTRING                    ? "string"
                               : lua_type(L, msg) == LUA_TNUMBER                    ? "number"
                               : lua_type(L, msg) == LUA_TBOOLEAN                   ? "boolean"
                                                                                    : "value");
        lua_settop(L, msg - 1);
        return res->kind;
    }
    if (lua_rawlen(L, msg) > 0) {
        res->kind = res->message = RULE_BAD_INPUT;
        res->error = xstrdup("not a JSON object (a JSON array)");
        lua_settop(L, msg - 1);
        return res->kind;
    }
    res->kind = res->message = classify(L, msg, res);
    if (res->kind == RULE_CONTROL || (res->kind == RULE_DELETE && lua_isnil(L, SLOT_ON_DELETE))) {
        lua_settop(L, msg - 1);
        return res->kind;
    }
    rule_kind kind = res->kind;
    lua_pushvalue(L, kind == RULE_TWEET ? SLOT_MATCH : SLOT_ON_DELETE);
    lua_pushvalue(L, msg);
    if (call_script(r, 1, res)) {
        char *err = NULL;
        if (!rule_marshal_result(r, lua_gettop(L), res, &err)) {
            for (size_t i = 0; i < res->n_items; i++)
                item_free(res->items[i]);
            res->n_items = 0;
            res->kind = RULE_ERROR;
            res->error = err;
        }
    }
    lua_settop(L, msg - 1);
    return res->kind;
}

rule_kind rule_process(rule *r, const char *line, size_t len, rule_result *res)
{
    rule_result_clean_up(res);
    renew_if_worn(r);
    arm(r, r->L);
    if (len > r->cfg.line_max_bytes) {
        res->kind = res->message = RULE_BAD_INPUT;
        res->error = xasprintf("line is %zu bytes, over the limit of %zu", len, r->cfg.line_max_bytes);
        return res->kind;
    }
    /* JSON text never holds a raw NUL (in a string it is written \u0000).
     * Checked here because lua-cjson, behind the decoder's error path,
     * reads a NUL as the end of the text: "{...}\0junk" would pass. */
    const char *nul = memchr(line, '\0', len);
    if (nul != NULL) {
        res->kind = res->message = RULE_BAD_INPUT;
        res->error = xasprintf("invalid JSON: a raw NUL byte at byte %zu (JSON writes it \\u0000, inside a string)",
                               (size_t)(nul - line) + 1);
        return res->kind;
    }
    lua_State *L = r->L;
    int top = lua_gettop(L);
    lua_pushvalue(L, SLOT_DECODE);
    lua_pushlstring(L, line, len);
    int st = lua_pcall(L, 1, 1, 0);
    if (st != LUA_OK) {
        res->kind = res->message = RULE_BAD_INPUT;
        if (st == LUA_ERRMEM)
            res->error = xasprintf("message too large to decode within the memory cap of %zu bytes",
                                   r->cfg.mem_max_bytes);
        else
            res->error = xasprintf("invalid JSON: %s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "?");
        lua_settop(L, top);
        if (st == LUA_ERRMEM)
            after_memory_error(r);
        return res->kind;
    }
    rule_kind kind = process_value(r, res);
    if (kind == RULE_CONTROL) {
        size_t n = len > 1000 ? 1000 : len;
        res->detail = xstrndup(line, n);
    }
    lua_settop(L, top);
    return kind;
}

/* ---- examples ---- */

/* The items of a result, one AV JSON line each. */
static void items_text(const rule_result *res, buf *out)
{
    for (size_t i = 0; i < res->n_items; i++) {
        if (i)
            buf_putc(out, '\n');
        item_write_av(res->items[i], out);
    }
}

static void print_indented(FILE *f, const char *label, const char *text)
{
    fprintf(f, "  %s", label);
    for (const char *p = text; *p; p++) {
        fputc(*p, f);
        if (*p == '\n')
            fprintf(f, "  %*s", (int)strlen(label), "");
    }
    fputc('\n', f);
}

size_t rule_run_examples(rule *r, FILE *report, size_t *total)
{
    renew_if_worn(r);
    r->busy++;
    lua_State *L = r->L;
    int top = lua_gettop(L);
    size_t failed = 0, count = 0;
    rawfield(L, SLOT_SCRIPT, "examples");
    int ex = lua_gettop(L);
    if (!lua_istable(L, ex)) {
        lua_settop(L, top);
        r->busy--;
        *total = 0;
        return 0;
    }
    lua_Integer n = (lua_Integer)lua_rawlen(L, ex);
    for (lua_Integer i = 1; i <= n; i++) {
        count++;
        rule_result got, want;
        rule_result_init(&got);
        rule_result_init(&want);
        buf label, a, b;
        buf_init(&label, 4096);
        buf_init(&a, (size_t)64 << 20);
        buf_init(&b, (size_t)64 << 20);
        char *problem = NULL;

        lua_rawgeti(L, ex, i);
        int e = lua_gettop(L);
        buf_printf(&label, "example %lld", (long long)i);
        if (lua_istable(L, e) && rawfield(L, e, "name") == LUA_TSTRING)
            buf_printf(&label, " (%s)", lua_tostring(L, -1));
        if (lua_istable(L, e))
            lua_pop(L, 1);

        if (!lua_istable(L, e)) {
            problem = xasprintf("is a %s, not a table", luaL_typename(L, e));
        } else if (rawfield(L, e, "json") == LUA_TSTRING) {
            size_t len;
            const char *s = lua_tolstring(L, -1, &len);
            char *copy = xstrndup(s, len);
            lua_pop(L, 1);
            rule_process(r, copy, len, &got);
            free(copy);
        } else {
            lua_pop(L, 1);
            if (rawfield(L, e, "tweet") != LUA_TTABLE) {
                problem = xstrdup("has neither tweet = {...} nor json = \"...\"");
                lua_pop(L, 1);
            } else {
                got.kind = RULE_TWEET;
                process_value(r, &got);
            }
        }
        if (problem == NULL) {
            int has_error = rawfield(L, e, "error");
            const char *want_error = lua_tostring(L, -1);
            if (has_error != LUA_TNIL) {
                if (got.kind != RULE_ERROR)
                    problem = xasprintf("expected a rule error containing \"%s\", got %zu item(s)",
                                        want_error ? want_error : "", got.n_items);
                else if (want_error && strstr(got.error, want_error) == NULL)
                    problem = xasprintf("expected a rule error containing \"%s\", got: %s", want_error, got.error);
                lua_pop(L, 1);
            } else {
                lua_pop(L, 1);
                if (got.kind == RULE_ERROR || got.kind == RULE_BAD_INPUT) {
                    problem = xasprintf("%s: %s", got.kind == RULE_ERROR ? "rule error" : "bad input", got.error);
                } else {
                    rawfield(L, e, "expect");
                    char *err = NULL;
                    if (!rule_marshal_result(r, lua_gettop(L), &want, &err)) {
                        problem = xasprintf("its expect is not a valid item: %s", err);
                        free(err);
                    }
                    lua_pop(L, 1);
                }
                if (problem == NULL) {
                    items_text(&want, &a);
                    items_text(&got, &b);
                    if (a.len != b.len || (a.len && memcmp(a.data, b.data, a.len) != 0)) {
                        fprintf(report, "%s failed:\n", label.data);
                        print_indented(report, "expected: ", a.len ? a.data : "(no item)");
                        print_indented(report, "actual:   ", b.len ? b.data : "(no item)");
                        failed++;
                    }
                }
            }
        }
        if (problem) {
            fprintf(report, "%s failed: ", label.data);
            for (const char *p = problem; *p; p++)
                fputs(*p == '\n' ? "\n    " : (char[2]){*p, 0}, report);
            fputc('\n', report);
            free(problem);
            failed++;
        }
        lua_settop(L, ex);
        rule_result_clean_up(&got);
        rule_result_clean_up(&want);
        buf_clean_up(&label);
        buf_clean_up(&a);
        buf_clean_up(&b);
    }
    lua_settop(L, top);
    r->busy--;
    *total = count;
    return failed;
}
