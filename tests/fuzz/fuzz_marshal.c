/* fuzz_marshal.c: the marshaler (rule_marshal_result, rule_internal.h) fed
 * Lua values that no JSON tweet could produce: what a rule may return.
 *
 * Input: two header bytes, then a small stack program that builds values in
 * the rule's own state, inside a protected call (a memory error while
 * building just ends the run). Header: byte 0 bit 0: marshal as on_delete's
 * keys instead of match's items; bit 1: squeeze the state's memory cap to
 * what it holds plus byte 1 * 4 bytes while marshaling (a rule that filled
 * its cap). The program's opcodes are the OP_* below, each followed by its
 * operand bytes; tests/fuzz/make_seeds.py writes seeds with the same
 * encoding. The value on top of the stack at the end is marshaled the way
 * rule.c does it, outside any protected call.
 *
 * Checks: success or a message that is valid UTF-8 and bounded; the Lua
 * stack left as it was; every item valid by item.h's construction rules
 * (UTF-8 strings and names, names sorted and unique, sets non-empty, sorted
 * and free of duplicates, numbers numerically distinct, numbers DynamoDB
 * can store, nesting within ITEM_MAX_DEPTH), size_bytes as item_val_size
 * counts it and within ITEM_MAX_BYTES; the attribute-value JSON read back
 * by the core's strict parser and written again byte for byte; the plain
 * JSON readable too. */
#include <float.h>
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "item.h"
#include "json.h"
#include "mem.h"
#include "rule.h"
#include "rule_internal.h"
#include "utf8.h"

enum {
    OP_NIL, OP_BOOL, OP_INT, OP_FLOAT, OP_STR, OP_BIGSTR, OP_TABLE, OP_SET, OP_APPEND, OP_LIGHT, OP_OTHER,
    OP_SELF, OP_MARK, OP_NEST, OP_DUP, OP_POP, OP_BINARY, OP_SWAP, OP_INTKEY, OP_STRKEY, OP_COUNT
};

#define STACK_MAX 200
#define MEM_MAX_BYTES ((size_t)48 << 20)
#define ERR_MAX 1024
#define BIG_MAX_BYTES ((size_t)1 << 20)

typedef struct prog {
    const uint8_t *p, *end;
} prog;

static unsigned byte(prog *g)
{
    return g->p < g->end ? *g->p++ : 0;
}

static void raw(prog *g, void *out, size_t n)
{
    memset(out, 0, n);
    size_t k = (size_t)(g->end - g->p) < n ? (size_t)(g->end - g->p) : n;
    memcpy(out, g->p, k);
    g->p += k;
}

static void push_int(lua_State *L, prog *g)
{
    static const lua_Integer special[] = {
        0, 1, -1, 2, 3, LUA_MAXINTEGER, LUA_MININTEGER, 9007199254740992LL, 9007199254740993LL,
        -9007199254740993LL, 1000000000000000000LL, 255, 65536, -128, 42, 7,
    };
    unsigned b = byte(g);
    if (b < 2 * (sizeof special / sizeof special[0])) {
        lua_pushinteger(L, special[b / 2]);
        return;
    }
    int64_t v;
    raw(g, &v, sizeof v);
    lua_pushinteger(L, (lua_Integer)v);
}

static void push_float(lua_State *L, prog *g)
{
    const double special[] = {
        NAN, -NAN, INFINITY, -INFINITY, -0.0, 0.0, strtod("1e400", NULL), strtod("-1e400", NULL),
        9007199254740993.0, 9007199254740992.0, 1e126, nextafter(1e126, 0), 1e-130, nextafter(1e-130, 0),
        5e-324, DBL_MAX, -DBL_MAX, 0.1, 1e21, 1e20, 123.456, -1.5e-7, 1e300, 1.0, 2.5, 1e-7, 3.0, -1e125,
        9.2233720368547758e18, 0.30000000000000004,
    };
    unsigned b = byte(g);
    if (b < 2 * (sizeof special / sizeof special[0])) {
        lua_pushnumber(L, special[b / 2]);
        return;
    }
    double d;
    raw(g, &d, sizeof d);
    lua_pushnumber(L, d);
}

/* A string of up to 255 bytes from the program: any bytes (NUL, invalid
 * UTF-8). */
static void push_str(lua_State *L, prog *g)
{
    size_t n = byte(g), k = (size_t)(g->end - g->p) < n ? (size_t)(g->end - g->p) : n;
    lua_pushlstring(L, (const char *)g->p, k);
    g->p += k;
}

static int dummy(lua_State *L)
{
    (void)L;
    return 0;
}

static void push_marker(lua_State *L, unsigned which)
{
    static const char *const names[] = {"tweetmatch.list", "tweetmatch.set", "tweetmatch.binary"};
    lua_getfield(L, LUA_REGISTRYINDEX, names[which % 3]);
}

/* Builds the program's values above the light userdata at 1; returns the
 * top one (nil when there is none). */
static int build(lua_State *L)
{
    prog *g = lua_touserdata(L, 1);
    const int base = 1;
    size_t big = 0; /* bytes of OP_BIGSTR so far: they cost page faults, not coverage */
    while (g->p < g->end) {
        luaL_checkstack(L, 8, "fuzz");
        int n = lua_gettop(L) - base;
        unsigned op = byte(g) % OP_COUNT;
        if (n >= STACK_MAX && op != OP_SET && op != OP_APPEND && op != OP_POP && op != OP_INTKEY &&
            op != OP_STRKEY)
            continue;
        switch (op) {
        case OP_NIL:
            lua_pushnil(L);
            break;
        case OP_BOOL:
            lua_pushboolean(L, byte(g) & 1);
            break;
        case OP_INT:
            push_int(L, g);
            break;
        case OP_FLOAT:
            push_float(L, g);
            break;
        case OP_STR:
            push_str(L, g);
            break;
        case OP_BIGSTR: { /* up to 512 KB, around DynamoDB's 400 KB; 1 MB per program */
            unsigned c = byte(g), k = byte(g) << 8;
            k |= byte(g);
            size_t len = (size_t)k * 8;
            if (len > BIG_MAX_BYTES - big)
                len = BIG_MAX_BYTES - big;
            big += len;
            luaL_Buffer b;
            char *p = luaL_buffinitsize(L, &b, len);
            memset(p, (int)c, len);
            luaL_pushresultsize(&b, len);
            break;
        }
        case OP_TABLE:
            lua_createtable(L, 0, 0);
            break;
        case OP_SET: /* t k v -> t, t[k] = v */
            if (n >= 3 && lua_istable(L, -3) && !lua_isnil(L, -2) &&
                !(lua_type(L, -2) == LUA_TNUMBER && isnan(lua_tonumber(L, -2))))
                lua_rawset(L, -3);
            else if (n >= 2)
                lua_pop(L, 2);
            break;
        case OP_APPEND: /* t v -> t, t[#t + 1] = v */
            if (n >= 2 && lua_istable(L, -2))
                lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
            else if (n >= 1)
                lua_pop(L, 1);
            break;
        case OP_LIGHT: /* tm.null, or another light userdata */
            lua_pushlightuserdata(L, byte(g) & 1 ? (void *)g : NULL);
            break;
        case OP_OTHER: {
            unsigned k = byte(g) % 3;
            if (k == 0)
                lua_pushcfunction(L, dummy);
            else if (k == 1)
                lua_newuserdatauv(L, 8, 0);
            else
                lua_newthread(L);
            break;
        }
        case OP_SELF: /* t.self = t, or t[1] = t */
            if (n >= 1 && lua_istable(L, -1)) {
                lua_pushvalue(L, -1);
                if (byte(g) & 1)
                    lua_setfield(L, -2, "self");
                else
                    lua_rawseti(L, -2, 1);
            }
            break;
        case OP_MARK: { /* tm.list, tm.set, tm.binary, or a plain metatable */
            unsigned k = byte(g) % 5;
            if (n < 1 || !lua_istable(L, -1))
                break;
            if (k < 3)
                push_marker(L, k);
            else if (k == 3)
                lua_createtable(L, 0, 0);
            else
                lua_pushnil(L);
            lua_setmetatable(L, -2);
            break;
        }
        case OP_NEST: { /* wraps the top value d times, in {v} or {x = v} */
            unsigned d = byte(g) % 64, shape = byte(g);
            if (n < 1)
                break;
            for (unsigned i = 0; i < d; i++) {
                lua_createtable(L, 1, 1);
                lua_rotate(L, -2, 1);
                if (shape >> (i % 8) & 1)
                    lua_setfield(L, -2, "x");
                else
                    lua_rawseti(L, -2, 1);
            }
            break;
        }
        case OP_DUP: {
            unsigned i = byte(g);
            if (n >= 1)
                lua_pushvalue(L, base + 1 + (int)(i % (unsigned)n));
            break;
        }
        case OP_POP:
            if (n >= 1)
                lua_pop(L, 1);
            break;
        case OP_BINARY: /* v -> setmetatable({v}, binary_mt), as tm.binary would (v may be no string) */
            if (n >= 1) {
                lua_createtable(L, 1, 0);
                lua_rotate(L, -2, 1);
                lua_rawseti(L, -2, 1);
                push_marker(L, 2);
                lua_setmetatable(L, -2);
            }
            break;
        case OP_SWAP:
            if (n >= 2)
                lua_rotate(L, -2, 1);
            break;
        case OP_INTKEY: { /* t v -> t, t[i] = v, i from -2 to 253 */
            int i = (int)byte(g) - 2;
            if (n >= 2 && lua_istable(L, -2))
                lua_rawseti(L, -2, i);
            else if (n >= 1)
                lua_pop(L, 1);
            break;
        }
        case OP_STRKEY: /* t v -> t, t[s] = v */
            push_str(L, g);
            if (n >= 2 && lua_istable(L, -3)) {
                lua_rotate(L, -2, 1);
                lua_rawset(L, -3);
            } else {
                lua_pop(L, n >= 1 ? 2 : 1);
            }
            break;
        }
    }
    if (lua_gettop(L) == base)
        lua_pushnil(L);
    return 1;
}

static void quiet(void *ud, const char *msg, size_t len)
{
    (void)ud, (void)msg, (void)len;
}

static rule *the_rule(void)
{
    static rule *r;
    if (!r) {
        static const char script[] = "return { match = function() end, on_delete = function() end }\n";
        rule_config cfg;
        rule_config_init(&cfg);
        cfg.mem_max_bytes = MEM_MAX_BYTES;
        cfg.print = quiet;
        char *err = NULL;
        r = rule_new_from_string("fuzz.lua", script, sizeof script - 1, &cfg, &err);
        if (!r) {
            fprintf(stderr, "fuzz_marshal: %s\n", err ? err : "rule_new_from_string failed");
            abort();
        }
    }
    return r;
}

/* ---- checks ---- */

static void die(const char *what)
{
    fprintf(stderr, "fuzz_marshal: %s\n", what);
    abort();
}

/* A DynamoDB number's text reduced to sign, significant digits and the
 * decimal exponent of the first one: equal values, equal forms. False when
 * the text is not a JSON number. */
typedef struct dnum {
    char digits[48];
    int ndigits;
    bool neg;
    long exp10; /* value = 0.d1d2... * 10^exp10 */
} dnum;

static bool parse_dnum(const char *s, size_t n, dnum *out)
{
    memset(out, 0, sizeof *out);
    size_t i = 0;
    if (i < n && s[i] == '-')
        out->neg = true, i++;
    if (i >= n || s[i] < '0' || s[i] > '9' || (s[i] == '0' && i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '9'))
        return false;
    long point = 0; /* digits before the point */
    bool seen = false, frac = false;
    int lead_zeros_after_point = 0;
    for (; i < n; i++) {
        char c = s[i];
        if (c == '.' && !frac) {
            frac = true;
            if (i + 1 >= n || s[i + 1] < '0' || s[i + 1] > '9')
                return false;
            continue;
        }
        if (c < '0' || c > '9')
            break;
        if (!frac)
            point++;
        if (c == '0' && !seen) {
            if (frac)
                lead_zeros_after_point++;
            else
                point--;
            continue;
        }
        seen = true;
        if (out->ndigits >= (int)sizeof out->digits - 1)
            return false;
        out->digits[out->ndigits++] = c;
    }
    long e = 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        bool eneg = false;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            eneg = s[i++] == '-';
        if (i >= n)
            return false;
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            if ((e = e * 10 + (s[i] - '0')) > 100000)
                return false;
        e = eneg ? -e : e;
    }
    if (i != n)
        return false;
    while (out->ndigits && out->digits[out->ndigits - 1] == '0')
        out->digits[--out->ndigits] = '\0';
    if (out->ndigits == 0) { /* zero: one form */
        out->neg = false;
        out->exp10 = 0;
        return true;
    }
    out->exp10 = (point > 0 ? point : -lead_zeros_after_point) + e;
    return true;
}

static int dnum_cmp(const void *x, const void *y)
{
    const dnum *a = x, *b = y;
    if (a->neg != b->neg)
        return a->neg - b->neg;
    if (a->exp10 != b->exp10)
        return a->exp10 < b->exp10 ? -1 : 1;
    return strcmp(a->digits, b->digits);
}

static void check_number(const char *s, size_t n, dnum *out)
{
    dnum tmp;
    dnum *d = out ? out : &tmp;
    if (!parse_dnum(s, n, d)) {
        fprintf(stderr, "number text: %.*s\n", (int)n, s);
        die("a number is not a JSON number");
    }
    /* 38 significant digits; magnitudes 1E-130 to below 1E+126. */
    if (d->ndigits > 38 || (d->ndigits && (d->exp10 > 126 || d->exp10 < -129))) {
        fprintf(stderr, "number text: %.*s\n", (int)n, s);
        die("a number DynamoDB cannot store");
    }
}

static int bytes_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : an < bn ? -1 : an > bn;
}

static void check_set(const item_val *v, item_type elem)
{
    if (v->len == 0)
        die("an empty set");
    dnum *nums = v->type == ITEM_NS ? xcalloc(v->len, sizeof *nums) : NULL;
    for (uint32_t i = 0; i < v->len; i++) {
        const item_val *e = &v->u.elems[i];
        if (e->type != elem)
            die("a set element of the wrong type");
        if (elem == ITEM_S && !utf8_valid(e->u.str, e->len, NULL))
            die("a string set element that is not UTF-8");
        if (elem == ITEM_N)
            check_number(e->u.str, e->len, &nums[i]);
        if (i && bytes_cmp(v->u.elems[i - 1].u.str, v->u.elems[i - 1].len, e->u.str, e->len) >= 0)
            die("a set that is not sorted or holds duplicates");
    }
    if (nums) {
        qsort(nums, v->len, sizeof *nums, dnum_cmp);
        for (uint32_t i = 1; i < v->len; i++)
            if (dnum_cmp(&nums[i - 1], &nums[i]) == 0)
                die("a number set holds the same number twice (DynamoDB refuses duplicates)");
        free(nums);
    }
}

static void check_val(const item_val *v, int depth)
{
    switch (v->type) {
    case ITEM_S:
        if (!utf8_valid(v->u.str, v->len, NULL))
            die("a string that is not UTF-8");
        return;
    case ITEM_N:
        check_number(v->u.str, v->len, NULL);
        return;
    case ITEM_B:
    case ITEM_BOOL:
    case ITEM_NULL:
        return;
    case ITEM_SS:
        check_set(v, ITEM_S);
        return;
    case ITEM_NS:
        check_set(v, ITEM_N);
        return;
    case ITEM_BS:
        check_set(v, ITEM_B);
        return;
    case ITEM_L:
        if (depth + 1 > ITEM_MAX_DEPTH)
            die("a list nested deeper than ITEM_MAX_DEPTH");
        for (uint32_t i = 0; i < v->len; i++)
            check_val(&v->u.elems[i], depth + 1);
        return;
    case ITEM_M:
        if (depth + 1 > ITEM_MAX_DEPTH)
            die("a map nested deeper than ITEM_MAX_DEPTH");
        for (uint32_t i = 0; i < v->len; i++) {
            const item_attr *a = &v->u.attrs[i];
            if (a->name_len == 0 || !utf8_valid(a->name, a->name_len, NULL))
                die("an attribute name that is empty or not UTF-8");
            if (i && bytes_cmp(v->u.attrs[i - 1].name, v->u.attrs[i - 1].name_len, a->name, a->name_len) >= 0)
                die("attribute names not sorted, or repeated");
            check_val(&a->val, depth + 1);
        }
        return;
    }
    die("a value of no known type");
}

static void check_json(const buf *out, bool same_bytes)
{
    if (out->failed)
        die("the JSON of an item passed 64 MB");
    const char *s = out->data ? out->data : "";
    size_t bad = 0;
    if (!utf8_valid(s, out->len, &bad))
        die("an item's JSON is not UTF-8");
    arena *a = arena_new(4096);
    char *err = NULL;
    json_value *v = json_parse(s, out->len, a, ITEM_MAX_DEPTH * 2 + 8, &err);
    if (v == NULL) {
        fprintf(stderr, "%s\n%.*s\n", err, (int)(out->len < 2000 ? out->len : 2000), s);
        die("an item's JSON does not read back");
    }
    if (same_bytes) {
        buf again;
        buf_init(&again, (size_t)64 << 20);
        json_write(v, &again);
        if (again.len != out->len || memcmp(again.data, s, out->len) != 0)
            die("an item's JSON, read and written again, differs");
        buf_clean_up(&again);
    }
    arena_free(a);
}

static void check_item(const item *it)
{
    if (it->root.type != ITEM_M || it->root.len == 0)
        die("an item that is not a non-empty map");
    size_t size = 0;
    for (uint32_t i = 0; i < it->root.len; i++) {
        const item_attr *a = &it->root.u.attrs[i];
        if (a->name_len == 0 || !utf8_valid(a->name, a->name_len, NULL))
            die("an attribute name that is empty or not UTF-8");
        if (i && bytes_cmp(it->root.u.attrs[i - 1].name, it->root.u.attrs[i - 1].name_len, a->name,
                           a->name_len) >= 0)
            die("attribute names not sorted, or repeated");
        check_val(&a->val, 0);
        size += a->name_len + item_val_size(&a->val);
    }
    if (size != it->size_bytes) {
        fprintf(stderr, "size_bytes %zu, item_val_size says %zu\n", it->size_bytes, size);
        die("the item's size is not what item_val_size counts");
    }
    if (it->size_bytes > ITEM_MAX_BYTES)
        die("an item larger than DynamoDB's 400 KB");

    buf out;
    buf_init(&out, (size_t)64 << 20);
    item_write_av(it, &out);
    check_json(&out, true);
    buf_reset(&out);
    item_write_plain(it, &out);
    check_json(&out, false);
    buf_clean_up(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    rule *r = the_rule();
    lua_State *L = r->L;
    lua_settop(L, SLOT_COUNT);
    prog g = {data + 2, data + size};
    lua_pushcfunction(L, build);
    lua_pushlightuserdata(L, &g);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        lua_settop(L, SLOT_COUNT);
        lua_gc(L, LUA_GCCOLLECT);
        return 0;
    }
    int idx = lua_gettop(L);
    size_t cap = r->acct->max_bytes;
    if (data[0] & 2) { /* what the state holds without garbage, and a little more */
        lua_gc(L, LUA_GCCOLLECT);
        r->acct->max_bytes = r->acct->used_bytes + (size_t)data[1] * 4;
    }

    rule_result res;
    rule_result_init(&res);
    res.kind = res.message = data[0] & 1 ? RULE_DELETE : RULE_TWEET;
    char *err = NULL;
    bool ok = rule_marshal_result(r, idx, &res, &err);
    r->acct->max_bytes = cap;

    if (lua_gettop(L) != idx)
        die("the marshaler left the Lua stack changed");
    if (getenv("FUZZ_MARSHAL_PRINT") && ok) /* to see what a seed does */
        fprintf(stderr, "ok: %zu item(s)\n", res.n_items);
    else if (getenv("FUZZ_MARSHAL_PRINT"))
        fprintf(stderr, "error: %s\n", err ? err : "(none)");
    if (ok) {
        if (err)
            die("success with a message");
        if (res.n_items > r->cfg.max_items)
            die("more items than max_items");
        for (size_t i = 0; i < res.n_items; i++)
            check_item(res.items[i]);
    } else {
        if (err == NULL)
            die("failure without a message");
        size_t n = strlen(err);
        if (n == 0 || n > ERR_MAX)
            die("a message that is empty or too long");
        if (!utf8_valid(err, n, NULL)) {
            fprintf(stderr, "message: %s\n", err);
            die("a message that is not UTF-8");
        }
    }
    free(err);
    rule_result_clean_up(&res);
    lua_settop(L, SLOT_COUNT);
    /* Frees what this run built: with as many frees as mallocs, libFuzzer
     * skips its leak scan of the whole heap, which otherwise runs after
     * nearly every input and makes the target 50 times slower. */
    lua_gc(L, LUA_GCCOLLECT);
    return 0;
}
