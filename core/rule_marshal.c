/* rule_marshal.c: what a rule returns, turned into items (item.h).
 *
 * The contract's type mapping: string -> S; integer or float -> N (integers
 * exactly, floats in shortest round-trip form, NaN and infinities refused);
 * boolean -> BOOL; tm.null (cjson.null, a NULL light userdata) -> NULL; a
 * sequence -> L; a table with string keys, or an empty one -> M; tm.list ->
 * L; tm.set -> SS, NS or BS; tm.binary -> B. Tables are read with raw
 * access only, so a rule's metamethods never run here. The depth limit also
 * stops cycles (t.self = t). Sizes are counted as DynamoDB counts them and
 * the walk stops as soon as an item passes 400 KB.
 *
 * rule.c calls this outside any protected call, so the walk must never
 * raise a Lua error (that would abort the whole process): it only reads
 * (raw access, no string conversion, nothing that allocates or runs the
 * collector) and grows the stack with lua_checkstack, which reports
 * failure instead of raising it. A state at its memory cap makes the value
 * fail with a message, like any other bad value. */
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "rule_internal.h"
#include "utf8.h"

/* DynamoDB's number range: magnitudes from 1E-130 to below 1E+126. */
#define DDB_NUM_MAX 1e126
#define DDB_NUM_MIN 1e-130

typedef struct mctx {
    rule *r;
    lua_State *L;
    item *it;
    size_t running; /* size of the item so far */
    buf path;       /* where the walk is: tags, scores.x, list[2] */
    char *err;
} mctx;

static bool fail(mctx *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool fail(mctx *m, const char *fmt, ...)
{
    if (m->err)
        return false;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (m->path.len)
        m->err = xasprintf("attribute \"%s%s\": %s", m->path.data, m->path.failed ? "..." : "", msg);
    else
        m->err = xstrdup(msg);
    return false;
}

static bool add_size(mctx *m, size_t n)
{
    m->running += n;
    if (m->running > ITEM_MAX_BYTES)
        return fail(m, "the item is larger than DynamoDB's 400 KB item limit (%u bytes)", ITEM_MAX_BYTES);
    return true;
}

/* Names that are not UTF-8 show their bytes as \xHH: a message stays
 * valid text. */
static void path_push_name(mctx *m, const char *name, size_t n)
{
    if (m->path.len)
        buf_putc(&m->path, '.');
    if (utf8_valid(name, n, NULL)) {
        buf_put(&m->path, name, n);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x80 && c >= 0x20)
            buf_putc(&m->path, (char)c);
        else
            buf_printf(&m->path, "\\x%02x", c);
    }
}

static void path_push_index(mctx *m, lua_Integer i)
{
    buf_printf(&m->path, "[%lld]", (long long)i);
}

static void path_pop(mctx *m, size_t len)
{
    m->path.len = len;
    if (m->path.data)
        m->path.data[len] = '\0';
    m->path.failed = false;
}

static bool is_marker(lua_State *L, int idx, int slot)
{
    if (!lua_getmetatable(L, idx))
        return false;
    bool same = lua_rawequal(L, -1, slot);
    lua_pop(L, 1);
    return same;
}

static const char *copy_str(mctx *m, const char *s, size_t n)
{
    return arena_strndup(m->it->arena, s, n);
}

static bool check_utf8(mctx *m, const char *s, size_t n, const char *what)
{
    size_t bad;
    if (!utf8_valid(s, n, &bad))
        return fail(m, "%s is not valid UTF-8 (byte %zu)", what, bad + 1);
    return true;
}

static bool number(mctx *m, int idx, item_val *out)
{
    lua_State *L = m->L;
    char text[JSON_NUM_MAX];
    size_t n;
    if (lua_isinteger(L, idx)) {
        n = (size_t)snprintf(text, sizeof text, "%lld", (long long)lua_tointeger(L, idx));
    } else {
        double d = lua_tonumber(L, idx);
        if (isnan(d))
            return fail(m, "NaN is not a number DynamoDB can store");
        if (isinf(d))
            return fail(m, "%s is not a number DynamoDB can store", d > 0 ? "inf" : "-inf");
        n = json_format_double(d, text);
        if (fabs(d) >= DDB_NUM_MAX || (d != 0 && fabs(d) < DDB_NUM_MIN))
            return fail(m, "%s is outside DynamoDB's number range (1e-130 <= |n| < 1e+126)", text);
    }
    out->type = ITEM_N;
    out->len = (uint32_t)n;
    out->u.str = copy_str(m, text, n);
    return add_size(m, item_number_size(text, n));
}

typedef enum shape { SHAPE_EMPTY, SHAPE_MAP, SHAPE_SEQ, SHAPE_BAD } shape;

/* The shape of the table at idx; *n gets its entry count. On SHAPE_BAD sets
 * the error. */
static shape table_shape(mctx *m, int idx, lua_Integer *n)
{
    lua_State *L = m->L;
    lua_Integer count = 0, max_key = 0;
    bool strs = false, ints = false;
    /* Not luaL_checkstack: the walk runs outside a protected call, where a
     * Lua error would abort the process (see the file comment). */
    if (!lua_checkstack(L, 3)) {
        fail(m, "out of memory: no Lua stack left to read the value (the rule's memory cap is %zu bytes)",
             m->r->cfg.mem_max_bytes);
        return SHAPE_BAD;
    }
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        int kt = lua_type(L, -1);
        if (kt == LUA_TSTRING) {
            strs = true;
        } else if (kt == LUA_TNUMBER && lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 1) {
            ints = true;
            if (lua_tointeger(L, -1) > max_key)
                max_key = lua_tointeger(L, -1);
        } else {
            const char *what = kt == LUA_TNUMBER ? (lua_isinteger(L, -1) ? "an integer below 1" : "a float")
                                                 : luaL_typename(L, -1);
            lua_pop(L, 1);
            fail(m, "a table key is %s%s; keys must be strings (a map) or 1..n (a list)",
                 kt == LUA_TNUMBER ? "" : "a ", what);
            return SHAPE_BAD;
        }
        count++;
    }
    *n = count;
    if (strs && ints) {
        fail(m, "the table mixes string keys and integer keys");
        return SHAPE_BAD;
    }
    if (ints && max_key != count) {
        fail(m, "the table's integer keys have gaps (a list must use keys 1..n)");
        return SHAPE_BAD;
    }
    return count == 0 ? SHAPE_EMPTY : ints ? SHAPE_SEQ : SHAPE_MAP;
}

static bool value(mctx *m, int idx, item_val *out, int depth);

/* The string-keyed table at idx as a map's attributes. */
static bool attrs(mctx *m, int idx, lua_Integer n, item_val *out, int depth, bool top)
{
    lua_State *L = m->L;
    item_attr *a = item_alloc(m->it, (size_t)n * sizeof *a);
    uint32_t k = 0;
    size_t base = m->path.len;
    if (!top && !add_size(m, 3))
        return false;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        size_t len;
        const char *name = lua_tolstring(L, -2, &len); /* a string: no conversion */
        if (len == 0) {
            lua_pop(L, 2);
            return fail(m, "an attribute name is empty");
        }
        path_push_name(m, name, len);
        if (!check_utf8(m, name, len, "the attribute name") || !add_size(m, len + (top ? 0 : 1)) ||
            !value(m, lua_gettop(L), &a[k].val, depth)) {
            lua_pop(L, 2);
            return false;
        }
        path_pop(m, base);
        a[k].name = copy_str(m, name, len);
        a[k].name_len = (uint32_t)len;
        k++;
        lua_pop(L, 1);
    }
    item_sort_attrs(a, k);
    out->type = ITEM_M;
    out->len = k;
    out->u.attrs = a;
    return true;
}

/* Elements 1..n of the table at idx as a list. */
static bool list(mctx *m, int idx, lua_Integer n, item_val *out, int depth)
{
    lua_State *L = m->L;
    item_val *e = item_alloc(m->it, (size_t)(n ? n : 1) * sizeof *e);
    size_t base = m->path.len;
    if (!add_size(m, 3))
        return false;
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, idx, i);
        path_push_index(m, i);
        if (!add_size(m, 1) || !value(m, lua_gettop(L), &e[i - 1], depth)) {
            lua_pop(L, 1);
            return false;
        }
        path_pop(m, base);
        lua_pop(L, 1);
    }
    out->type = ITEM_L;
    out->len = (uint32_t)n;
    out->u.elems = e;
    return true;
}

static bool set(mctx *m, int idx, item_val *out)
{
    lua_State *L = m->L;
    lua_Integer n;
    shape sh = table_shape(m, idx, &n);
    if (sh == SHAPE_BAD)
        return false;
    if (sh == SHAPE_EMPTY)
        return fail(m, "a set cannot be empty (DynamoDB has no empty sets)");
    if (sh != SHAPE_SEQ)
        return fail(m, "tm.set takes a list of strings, numbers or binaries");
    item_val *e = item_alloc(m->it, (size_t)n * sizeof *e);
    item_type kind = ITEM_NULL;
    size_t before = m->running;
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, idx, i);
        int t = lua_type(L, -1);
        item_type k = t == LUA_TSTRING                           ? ITEM_SS
                      : t == LUA_TNUMBER                         ? ITEM_NS
                      : t == LUA_TTABLE && is_marker(L, -1, SLOT_BINARY_MT) ? ITEM_BS
                                                                 : ITEM_NULL;
        if (k == ITEM_NULL) {
            const char *tn = luaL_typename(L, -1);
            lua_pop(L, 1);
            return fail(m, "set element %lld is a %s; a set holds strings, numbers or binaries", (long long)i, tn);
        }
        if (kind != ITEM_NULL && k != kind) {
            lua_pop(L, 1);
            return fail(m, "set element %lld differs in type from element 1; a set holds one type", (long long)i);
        }
        kind = k;
        bool ok;
        if (k == ITEM_NS) {
            ok = number(m, lua_gettop(L), &e[i - 1]);
        } else {
            if (k == ITEM_BS)
                lua_rawgeti(L, -1, 1);
            size_t len = 0;
            const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
            if (s == NULL)
                ok = fail(m, "set element %lld: a tm.binary value holds no string", (long long)i);
            else
                ok = (k == ITEM_BS || check_utf8(m, s, len, "a set element")) && add_size(m, len);
            if (ok) {
                e[i - 1].type = k == ITEM_SS ? ITEM_S : ITEM_B;
                e[i - 1].len = (uint32_t)len;
                e[i - 1].u.str = copy_str(m, s, len);
            }
            if (k == ITEM_BS)
                lua_pop(L, 1);
        }
        lua_pop(L, 1);
        if (!ok)
            return false;
    }
    out->type = kind;
    out->len = (uint32_t)n;
    out->u.elems = e;
    item_sort_set(out);
    if (out->len != n) /* duplicates removed: count only what stays */
        m->running = before + item_val_size(out);
    return true;
}

/* The value at idx (absolute) into out; depth counts enclosing lists and
 * maps of this value. */
static bool value(mctx *m, int idx, item_val *out, int depth)
{
    lua_State *L = m->L;
    switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        if (!check_utf8(m, s, len, "the string") || !add_size(m, len))
            return false;
        out->type = ITEM_S;
        out->len = (uint32_t)len;
        out->u.str = copy_str(m, s, len);
        return true;
    }
    case LUA_TNUMBER:
        return number(m, idx, out);
    case LUA_TBOOLEAN:
        out->type = ITEM_BOOL;
        out->len = 0;
        out->u.boolean = lua_toboolean(L, idx);
        return add_size(m, 1);
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) != NULL)
            return fail(m, "a light userdata cannot be stored (only tm.null)");
        out->type = ITEM_NULL;
        out->len = 0;
        return add_size(m, 1);
    case LUA_TTABLE:
        break;
    default:
        return fail(m, "a %s cannot be stored (only strings, numbers, booleans, tables, tm.null, tm.list, "
                       "tm.set and tm.binary)", luaL_typename(L, idx));
    }
    if (is_marker(L, idx, SLOT_BINARY_MT)) {
        lua_rawgeti(L, idx, 1);
        if (lua_type(L, -1) != LUA_TSTRING) { /* before lua_tolstring, which would convert a number */
            lua_pop(L, 1);
            return fail(m, "a tm.binary value holds no string");
        }
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        out->type = ITEM_B;
        out->len = (uint32_t)len;
        out->u.str = copy_str(m, s, len);
        lua_pop(L, 1);
        return add_size(m, len);
    }
    if (is_marker(L, idx, SLOT_SET_MT))
        return set(m, idx, out);
    if (depth + 1 > ITEM_MAX_DEPTH)
        return fail(m, "nested deeper than DynamoDB's limit of %d levels", ITEM_MAX_DEPTH);
    lua_Integer n;
    shape sh = table_shape(m, idx, &n);
    if (sh == SHAPE_BAD)
        return false;
    if (is_marker(L, idx, SLOT_LIST_MT)) {
        if (sh == SHAPE_MAP)
            return fail(m, "tm.list was given a table with string keys");
        return list(m, idx, n, out, depth + 1);
    }
    if (sh == SHAPE_SEQ)
        return list(m, idx, n, out, depth + 1);
    return attrs(m, idx, n, out, depth + 1, false);
}

/* One item from the string-keyed table at idx. */
static item *one_item(mctx *m, int idx, lua_Integer n)
{
    m->it = item_new();
    m->running = 0;
    if (!attrs(m, idx, n, &m->it->root, 0, true)) {
        item_free(m->it);
        return m->it = NULL;
    }
    m->it->size_bytes = m->running;
    return m->it;
}

bool rule_marshal_result(rule *r, int idx, rule_result *res, char **err)
{
    lua_State *L = r->L;
    const char *fn = res->kind == RULE_DELETE ? "on_delete" : "match";
    const char *what = res->kind == RULE_DELETE ? "key" : "item";
    mctx m = {.r = r, .L = L};
    buf_init(&m.path, 200);
    int t = lua_type(L, idx);
    bool ok = true;
    if (t == LUA_TNIL || (t == LUA_TBOOLEAN && !lua_toboolean(L, idx)))
        goto done;
    if (t != LUA_TTABLE) {
        ok = fail(&m, "%s returned a %s; it must return an %s (a table), a list of them, or nil", fn,
                  luaL_typename(L, idx), what);
        goto done;
    }
    lua_Integer n;
    shape sh = table_shape(&m, idx, &n);
    if (sh == SHAPE_BAD) {
        ok = false;
        goto done;
    }
    if (is_marker(L, idx, SLOT_SET_MT) || is_marker(L, idx, SLOT_BINARY_MT)) {
        ok = fail(&m, "%s returned a tm.set or tm.binary; it must return an %s (a table)", fn, what);
        goto done;
    }
    if (sh == SHAPE_EMPTY)
        goto done;
    if (sh == SHAPE_MAP) {
        item *it = one_item(&m, idx, n);
        if (it == NULL) {
            ok = false;
            char *e = xasprintf("%s: %s", what, m.err);
            free(m.err);
            m.err = e;
        } else {
            rule_result_add(res, it);
        }
        goto done;
    }
    if ((size_t)n > r->cfg.max_items) {
        ok = fail(&m, "%s returned %lld %ss, over the limit of %zu per message", fn, (long long)n, what,
                  r->cfg.max_items);
        goto done;
    }
    for (lua_Integer i = 1; i <= n && ok; i++) {
        lua_rawgeti(L, idx, i);
        int e = lua_gettop(L);
        lua_Integer k;
        shape esh = lua_istable(L, e) ? table_shape(&m, e, &k) : SHAPE_BAD;
        if (!lua_istable(L, e))
            ok = fail(&m, "%s %lld of the list is a %s, not a table", what, (long long)i, luaL_typename(L, e));
        else if (esh == SHAPE_EMPTY)
            ok = fail(&m, "%s %lld of the list is empty", what, (long long)i);
        else if (esh == SHAPE_SEQ)
            ok = fail(&m, "%s %lld of the list is a list, not a table of attributes", what, (long long)i);
        else if (esh == SHAPE_BAD)
            ok = false;
        else {
            item *it = one_item(&m, e, k);
            if (it == NULL) {
                ok = false;
                char *msg = xasprintf("%s %lld: %s", what, (long long)i, m.err);
                free(m.err);
                m.err = msg;
            } else {
                rule_result_add(res, it);
            }
        }
        lua_pop(L, 1);
    }
done:
    buf_clean_up(&m.path);
    if (!ok)
        *err = m.err ? m.err : xstrdup("bad value");
    else
        free(m.err);
    return ok;
}
