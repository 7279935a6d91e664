/* rule_pattern.c: Lua 5.4 patterns (reference manual §6.4.1) under the
 * instruction budget: find, match, gmatch and gsub for the rule sandbox.
 *
 * The matcher is a backtracking interpreter over the pattern text, like the
 * stock one, because the results must be the stock results in every case:
 * which of several possible matches wins, and which malformed patterns are
 * errors. Errors are found where the matcher gets to them, not by checking
 * the pattern first: string.find("abc", "x[") is nil, because no 'x' is ever
 * found to be followed by the unfinished set, while string.find("xbc", "x[")
 * is an error. The nesting of the matcher is limited to MAX_DEPTH calls, so
 * its C stack use is bounded; past that the pattern is "too complex", at
 * the same point as stock Lua's.
 *
 * What is counted (a step is about a nanosecond of work; STEPS_PER_UNIT
 * steps are one unit of the budget, a VM instruction):
 *   - each attempt of a pattern item at a subject position;
 *   - each character %b scans; a quarter step for each character of a set
 *     ([...]) tested or scanned for its end; an eighth for each byte a
 *     back-reference compares;
 *   - an eighth of a step for each byte a plain find scans (charged after
 *     the scan, which is linear: glibc's memmem) and a replacement string
 *     copies.
 * Before matching, a call reserves all the meter has left, and gives back
 * what it did not use when it settles: before returning, before raising an
 * error of its own and before running Lua code (a gsub replacement
 * function, a table's __index). A Lua error that escapes from inside (out
 * of memory while building a result) leaves the reservation spent.
 *
 * Character classes use <ctype.h>, as stock Lua does, so they mean the same
 * in this process. Stock Lua 5.4 also keeps %z (the NUL byte) from 5.1,
 * deprecated and no longer in the manual; so does this. */
#define _GNU_SOURCE /* memmem */
#include "rule_pattern.h"

#include <ctype.h>
#include <lauxlib.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#define MAX_CAPTURES 32 /* LUA_MAXCAPTURES */
#define MAX_DEPTH 200   /* lstrlib.c's MAXCCALLS */
#define CAP_OPEN (-1)   /* a capture not closed yet */
#define CAP_POS (-2)    /* a position capture, () */
#define SPECIALS "^$*+?.([%-"
#define STEPS_PER_UNIT 4
#define FUEL_MAX ((int64_t)1 << 60)
#define WHERE "pattern matching"

uint64_t rule_meter_left(const rule_meter *m)
{
    uint64_t taken = m->used + m->reserved;
    return taken < m->budget ? m->budget - taken : 0;
}

void rule_meter_charge(lua_State *L, rule_meter *m, uint64_t n, const char *where)
{
    m->used = n > UINT64_MAX / 2 - m->used ? UINT64_MAX / 2 : m->used + n;
    if (m->used + m->reserved <= m->budget)
        return;
    if (m->exhausted)
        m->exhausted(L, m, where);
    luaL_error(L, "instruction budget exceeded in %s", where);
}

typedef struct capture {
    const char *start;
    ptrdiff_t len; /* or CAP_OPEN, CAP_POS */
} capture;

typedef struct matcher {
    lua_State *L;
    rule_meter *meter;
    const char *subj;
    const char *subj_end;
    const char *pat_end; /* patterns may hold NULs: never look for a 0 */
    int depth;           /* nested do_match calls still allowed */
    int n_caps;
    capture caps[MAX_CAPTURES];
    int64_t fuel;    /* steps left of the reservation */
    int64_t granted; /* steps the reservation was worth */
} matcher;

/* ---- the meter ---- */

/* Takes everything the meter has left as a reservation (the meter holds
 * one at a time: no Lua code runs while a pattern call holds it). */
static void reserve(matcher *m)
{
    uint64_t left = rule_meter_left(m->meter);
    if (left > (uint64_t)(FUEL_MAX / STEPS_PER_UNIT))
        left = (uint64_t)(FUEL_MAX / STEPS_PER_UNIT);
    m->meter->reserved = left;
    m->granted = m->fuel = (int64_t)left * STEPS_PER_UNIT;
}

/* Gives the unused part of the reservation back and charges the steps
 * taken (rounded up to a unit). Raises when they were more than the meter
 * had. */
static void settle(matcher *m)
{
    uint64_t spent = (uint64_t)(m->granted - m->fuel);
    m->meter->reserved = 0;
    m->granted = m->fuel = 0;
    rule_meter_charge(m->L, m->meter, (spent + STEPS_PER_UNIT - 1) / STEPS_PER_UNIT, WHERE);
}

/* The reservation is used up: settle (which raises if the steps passed the
 * budget) and take what is left, if anything. */
static void out_of_fuel(matcher *m)
{
    settle(m);
    reserve(m);
    if (m->fuel == 0)
        rule_meter_charge(m->L, m->meter, 1, WHERE);
}

#define STEP(m)                                                                                              \
    do {                                                                                                     \
        if (--(m)->fuel < 0)                                                                                 \
            out_of_fuel(m);                                                                                  \
    } while (0)
#define STEPS(m, n)                                                                                          \
    do {                                                                                                     \
        (m)->fuel -= (int64_t)(n);                                                                           \
        if ((m)->fuel < 0)                                                                                   \
            out_of_fuel(m);                                                                                  \
    } while (0)

/* Raises a pattern error, as luaL_error would, after settling. */
static _Noreturn void fail(matcher *m, const char *fmt, ...)
{
    settle(m);
    va_list ap;
    va_start(ap, fmt);
    luaL_where(m->L, 1);
    lua_pushvfstring(m->L, fmt, ap);
    va_end(ap);
    lua_concat(m->L, 2);
    lua_error(m->L);
    __builtin_unreachable();
}

static void matcher_init(matcher *m, lua_State *L, rule_meter *meter, const char *s, size_t ls, const char *p,
                         size_t lp)
{
    m->L = L;
    m->meter = meter;
    m->subj = s;
    m->subj_end = s + ls;
    m->pat_end = p + lp;
    m->depth = MAX_DEPTH;
    m->n_caps = 0;
    m->fuel = m->granted = 0;
}

/* ---- single-character classes ---- */

/* Whether c is in the class of %cl (%a, %d, ...; upper case: the
 * complement). Any other cl stands for itself (%. is a '.'). */
static bool class_has(int c, int cl)
{
    int in;
    switch (tolower(cl)) {
    case 'a': in = isalpha(c); break;
    case 'c': in = iscntrl(c); break;
    case 'd': in = isdigit(c); break;
    case 'g': in = isgraph(c); break;
    case 'l': in = islower(c); break;
    case 'p': in = ispunct(c); break;
    case 's': in = isspace(c); break;
    case 'u': in = isupper(c); break;
    case 'w': in = isalnum(c); break;
    case 'x': in = isxdigit(c); break;
    case 'z': in = c == 0; break; /* not in the manual, but in lstrlib.c (deprecated) */
    default: return cl == c;
    }
    return isupper(cl) ? !in : in != 0;
}

/* Whether c is in the set from set ('[') to close (its ']'). The first
 * character after '[' or '[^' is a member even if it is ']'. */
static bool set_has(matcher *m, int c, const char *set, const char *close)
{
    bool in = true;
    const char *q = set + 1;
    STEPS(m, 1 + (close - set) / 4);
    if (*q == '^') {
        in = false;
        q++;
    }
    for (; q < close; q++) {
        if (*q == '%') {
            q++;
            if (class_has(c, (unsigned char)*q))
                return in;
        } else if (q + 2 < close && q[1] == '-') {
            if ((unsigned char)q[0] <= c && c <= (unsigned char)q[2])
                return in;
            q += 2;
        } else if ((unsigned char)*q == c) {
            return in;
        }
    }
    return !in;
}

/* The end of the single-character class at p (past a %x, a [set] or one
 * character), where a quantifier may follow. */
static const char *item_end(matcher *m, const char *p)
{
    switch (*p++) {
    case '%':
        if (p == m->pat_end)
            fail(m, "malformed pattern (ends with '%%')");
        return p + 1;
    case '[': {
        const char *start = p;
        if (p < m->pat_end && *p == '^')
            p++;
        do { /* the first member may be ']' */
            if (p == m->pat_end)
                fail(m, "malformed pattern (missing ']')");
            if (*p++ == '%' && p < m->pat_end)
                p++; /* an escape such as %] */
        } while (p == m->pat_end || *p != ']');
        STEPS(m, (p - start) / 4); /* a scan no longer than the pattern */
        return p + 1;
    }
    default:
        return p;
    }
}

/* Whether the subject character at s matches the class from p to ep. */
static bool single(matcher *m, const char *s, const char *p, const char *ep)
{
    STEP(m);
    if (s >= m->subj_end)
        return false;
    int c = (unsigned char)*s;
    switch (*p) {
    case '.': return true;
    case '%': return class_has(c, (unsigned char)p[1]);
    case '[': return set_has(m, c, p, ep - 1);
    default: return (unsigned char)*p == c;
    }
}

/* ---- the matcher ---- */

static const char *do_match(matcher *m, const char *s, const char *p);

/* x* (and x+ after its first x): the longest run first, then shorter. */
static const char *greedy(matcher *m, const char *s, const char *p, const char *ep)
{
    size_t n = 0;
    while (single(m, s + n, p, ep))
        n++;
    for (;;) {
        const char *r = do_match(m, s + n, ep + 1);
        if (r != NULL)
            return r;
        if (n == 0)
            return NULL;
        n--;
    }
}

/* x-: the shortest run first, then longer. */
static const char *lazy(matcher *m, const char *s, const char *p, const char *ep)
{
    for (;;) {
        const char *r = do_match(m, s, ep + 1);
        if (r != NULL)
            return r;
        if (!single(m, s, p, ep))
            return NULL;
        s++;
    }
}

static const char *open_capture(matcher *m, const char *s, const char *p, ptrdiff_t kind)
{
    if (m->n_caps >= MAX_CAPTURES)
        fail(m, "too many captures");
    m->caps[m->n_caps].start = s;
    m->caps[m->n_caps].len = kind;
    m->n_caps++;
    const char *r = do_match(m, s, p);
    if (r == NULL)
        m->n_caps--;
    return r;
}

static const char *close_capture(matcher *m, const char *s, const char *p)
{
    int i = m->n_caps - 1;
    while (i >= 0 && m->caps[i].len != CAP_OPEN)
        i--;
    if (i < 0)
        fail(m, "invalid pattern capture");
    m->caps[i].len = s - m->caps[i].start;
    const char *r = do_match(m, s, p);
    if (r == NULL)
        m->caps[i].len = CAP_OPEN;
    return r;
}

/* %1-%9: the text of a closed capture again. A position capture never
 * matches (its length is no length). */
static const char *back_reference(matcher *m, const char *s, int digit)
{
    int i = digit - '1';
    if (i < 0 || i >= m->n_caps || m->caps[i].len == CAP_OPEN)
        fail(m, "invalid capture index %%%d", i + 1);
    if (m->caps[i].len == CAP_POS)
        return NULL;
    size_t len = (size_t)m->caps[i].len;
    STEPS(m, 1 + len / 8);
    if ((size_t)(m->subj_end - s) >= len && memcmp(m->caps[i].start, s, len) == 0)
        return s + len;
    return NULL;
}

/* %bxy at s: from an x to its balancing y. */
static const char *balance(matcher *m, const char *s, const char *p)
{
    if (m->pat_end - p < 2)
        fail(m, "malformed pattern (missing arguments to '%%b')");
    if (s >= m->subj_end || *s != *p)
        return NULL;
    char open = p[0], close = p[1];
    int depth = 1;
    while (++s < m->subj_end) {
        STEP(m);
        if (*s == close) {
            if (--depth == 0)
                return s + 1;
        } else if (*s == open) {
            depth++;
        }
    }
    return NULL;
}

/* Matches the pattern from p at subject position s; returns the end of the
 * match or NULL. Loops where the rest of the pattern is a tail. */
static const char *do_match(matcher *m, const char *s, const char *p)
{
    if (m->depth-- == 0)
        fail(m, "pattern too complex");
    while (p != m->pat_end) {
        STEP(m);
        switch (*p) {
        case '(':
            if (p + 1 < m->pat_end && p[1] == ')')
                s = open_capture(m, s, p + 2, CAP_POS);
            else
                s = open_capture(m, s, p + 1, CAP_OPEN);
            goto done;
        case ')':
            s = close_capture(m, s, p + 1);
            goto done;
        case '$':
            if (p + 1 == m->pat_end) {
                s = s == m->subj_end ? s : NULL;
                goto done;
            }
            break; /* not at the end: an ordinary character */
        case '%':
            if (p + 1 == m->pat_end)
                break; /* item_end reports it */
            if (p[1] == 'b') {
                s = balance(m, s, p + 2);
                if (s == NULL)
                    goto done;
                p += 4;
                continue;
            }
            if (p[1] == 'f') {
                p += 2;
                if (p == m->pat_end || *p != '[')
                    fail(m, "missing '[' after '%%f' in pattern");
                const char *ep = item_end(m, p);
                int before = s == m->subj ? 0 : (unsigned char)s[-1];
                int at = s < m->subj_end ? (unsigned char)*s : 0;
                if (!set_has(m, before, p, ep - 1) && set_has(m, at, p, ep - 1)) {
                    p = ep;
                    continue;
                }
                s = NULL;
                goto done;
            }
            if (isdigit((unsigned char)p[1])) {
                s = back_reference(m, s, (unsigned char)p[1]);
                if (s == NULL)
                    goto done;
                p += 2;
                continue;
            }
            break;
        default:
            break;
        }
        /* A single-character class, and the quantifier after it if any. */
        const char *ep = item_end(m, p);
        int quant = ep < m->pat_end ? *ep : 0;
        if (!single(m, s, p, ep)) {
            if (quant == '*' || quant == '?' || quant == '-') {
                p = ep + 1; /* zero times will do */
                continue;
            }
            s = NULL;
            goto done;
        }
        switch (quant) {
        case '?': {
            const char *r = do_match(m, s + 1, ep + 1);
            if (r != NULL) {
                s = r;
                goto done;
            }
            p = ep + 1;
            continue;
        }
        case '+': s = greedy(m, s + 1, p, ep); goto done;
        case '*': s = greedy(m, s, p, ep); goto done;
        case '-': s = lazy(m, s, p, ep); goto done;
        default:
            s++;
            p = ep;
            continue;
        }
    }
done:
    m->depth++;
    return s;
}

/* Starts the next attempt at a match. */
static void restart(matcher *m)
{
    m->n_caps = 0;
    m->depth = MAX_DEPTH;
}

/* ---- results ---- */

/* Capture i of the match from s to e: its text in *text and its length,
 * or CAP_POS after pushing its position. With no captures, capture 0 is the
 * whole match. */
static ptrdiff_t get_capture(matcher *m, int i, const char *s, const char *e, const char **text)
{
    if (i >= m->n_caps) {
        if (i != 0)
            fail(m, "invalid capture index %%%d", i + 1);
        *text = s;
        return e - s;
    }
    ptrdiff_t len = m->caps[i].len;
    *text = m->caps[i].start;
    if (len == CAP_OPEN)
        fail(m, "unfinished capture");
    if (len == CAP_POS)
        lua_pushinteger(m->L, (m->caps[i].start - m->subj) + 1);
    return len;
}

static void push_capture(matcher *m, int i, const char *s, const char *e)
{
    const char *text;
    ptrdiff_t len = get_capture(m, i, s, e, &text);
    if (len != CAP_POS)
        lua_pushlstring(m->L, text, (size_t)len);
}

/* Pushes every capture (the whole match when there are none and s is not
 * NULL); returns how many. */
static int push_captures(matcher *m, const char *s, const char *e)
{
    int n = m->n_caps == 0 && s != NULL ? 1 : m->n_caps;
    luaL_checkstack(m->L, n, "too many captures");
    for (int i = 0; i < n; i++)
        push_capture(m, i, s, e);
    return n;
}

/* ---- find and match ---- */

/* The 0-based start for a 1-based init that may count from the end. */
static size_t start_of(lua_Integer init, size_t len)
{
    if (init > 0)
        return (size_t)init - 1;
    if (init == 0 || init < -(lua_Integer)len)
        return 0;
    return len - (size_t)(-init);
}

static bool has_specials(const char *p, size_t lp)
{
    for (size_t i = 0; i < lp; i++)
        if (p[i] != '\0' && strchr(SPECIALS, p[i]) != NULL)
            return true;
    return false;
}

static int find_or_match(lua_State *L, bool find)
{
    rule_meter *meter = lua_touserdata(L, lua_upvalueindex(1));
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    size_t init = start_of(luaL_optinteger(L, 3, 1), ls);
    if (init > ls) {
        luaL_pushfail(L);
        return 1;
    }
    if (find && (lua_toboolean(L, 4) || !has_specials(p, lp))) {
        const char *at = lp == 0 ? s + init : memmem(s + init, ls - init, p, lp);
        size_t scanned = (at ? (size_t)(at - s) + lp : ls) - init;
        rule_meter_charge(L, meter, 1 + (lp + scanned) / (8 * STEPS_PER_UNIT), WHERE);
        if (at == NULL) {
            luaL_pushfail(L);
            return 1;
        }
        lua_pushinteger(L, (at - s) + 1);
        lua_pushinteger(L, (lua_Integer)((at - s) + lp));
        return 2;
    }
    matcher m;
    matcher_init(&m, L, meter, s, ls, p, lp);
    reserve(&m);
    STEPS(&m, 1 + lp / 8);
    bool anchored = lp > 0 && *p == '^';
    if (anchored)
        p++;
    const char *from = s + init;
    do {
        restart(&m);
        const char *e = do_match(&m, from, p);
        if (e != NULL) {
            settle(&m);
            if (!find)
                return push_captures(&m, from, e);
            lua_pushinteger(L, (from - s) + 1);
            lua_pushinteger(L, e - s);
            return push_captures(&m, NULL, NULL) + 2;
        }
    } while (from++ < m.subj_end && !anchored);
    settle(&m);
    luaL_pushfail(L);
    return 1;
}

/* string.find(s, pattern [, init [, plain]]) */
static int l_find(lua_State *L)
{
    return find_or_match(L, true);
}

/* string.match(s, pattern [, init]) */
static int l_match(lua_State *L)
{
    return find_or_match(L, false);
}

/* ---- gmatch ---- */

typedef struct gmatch_state {
    matcher m;
    const char *pat;
    const char *from;      /* where the next search starts */
    const char *last_end;  /* the end of the last match: not again */
} gmatch_state;

static int gmatch_next(lua_State *L)
{
    gmatch_state *g = lua_touserdata(L, lua_upvalueindex(3));
    matcher *m = &g->m;
    m->L = L; /* the iterator may run in another coroutine */
    reserve(m);
    for (const char *from = g->from; from <= m->subj_end; from++) {
        restart(m);
        const char *e = do_match(m, from, g->pat);
        if (e != NULL && e != g->last_end) {
            g->from = g->last_end = e;
            settle(m);
            return push_captures(m, from, e);
        }
    }
    g->from = m->subj_end + 1;
    settle(m);
    return 0;
}

/* string.gmatch(s, pattern [, init]): an iterator over the matches. A '^'
 * is an ordinary character here, as in stock Lua 5.4. */
static int l_gmatch(lua_State *L)
{
    rule_meter *meter = lua_touserdata(L, lua_upvalueindex(1));
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    size_t init = start_of(luaL_optinteger(L, 3, 1), ls);
    if (init > ls)
        init = ls + 1; /* no match; s + init stays in bounds */
    lua_settop(L, 2); /* the strings stay alive as upvalues */
    gmatch_state *g = lua_newuserdatauv(L, sizeof *g, 0);
    matcher_init(&g->m, L, meter, s, ls, p, lp);
    g->pat = p;
    g->from = s + init;
    g->last_end = NULL;
    lua_pushcclosure(L, gmatch_next, 3);
    return 1;
}

/* ---- gsub ---- */

/* Appends the replacement string (argument 3) for the match from s to e:
 * %0 is the match, %1-%9 the captures, %% a '%'. */
static void add_string(matcher *m, luaL_Buffer *b, const char *s, const char *e)
{
    lua_State *L = m->L;
    size_t len;
    const char *r = lua_tolstring(L, 3, &len);
    STEPS(m, 1 + len / 8);
    const char *pc;
    while ((pc = memchr(r, '%', len)) != NULL) {
        luaL_addlstring(b, r, (size_t)(pc - r));
        pc++; /* the character after '%'; the string's NUL after a final '%' */
        if (*pc == '%') {
            luaL_addchar(b, '%');
        } else if (*pc == '0') {
            luaL_addlstring(b, s, (size_t)(e - s));
        } else if (isdigit((unsigned char)*pc)) {
            const char *text;
            ptrdiff_t n = get_capture(m, *pc - '1', s, e, &text);
            if (n == CAP_POS)
                luaL_addvalue(b); /* the position, pushed by get_capture */
            else
                luaL_addlstring(b, text, (size_t)n);
        } else {
            fail(m, "invalid use of '%c' in replacement string", '%');
        }
        len -= (size_t)(pc + 1 - r);
        r = pc + 1;
    }
    luaL_addlstring(b, r, len);
}

/* Appends the replacement for the match from s to e; returns whether it
 * changed the text. A function or table is Lua code: the matcher settles
 * before it runs and reserves again after. */
static bool add_replacement(matcher *m, luaL_Buffer *b, const char *s, const char *e, int type)
{
    lua_State *L = m->L;
    if (type == LUA_TNUMBER || type == LUA_TSTRING) {
        add_string(m, b, s, e);
        return true;
    }
    if (type == LUA_TFUNCTION) {
        lua_pushvalue(L, 3);
        int n = push_captures(m, s, e);
        settle(m);
        lua_call(L, n, 1);
    } else {
        push_capture(m, 0, s, e);
        settle(m);
        lua_gettable(L, 3);
    }
    reserve(m);
    if (!lua_toboolean(L, -1)) { /* nil or false: keep the match */
        lua_pop(L, 1);
        luaL_addlstring(b, s, (size_t)(e - s));
        return false;
    }
    if (!lua_isstring(L, -1))
        fail(m, "invalid replacement value (a %s)", luaL_typename(L, -1));
    luaL_addvalue(b);
    return true;
}

/* string.gsub(s, pattern, repl [, n]) */
static int l_gsub(lua_State *L)
{
    rule_meter *meter = lua_touserdata(L, lua_upvalueindex(1));
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    int type = lua_type(L, 3);
    lua_Integer max_n = luaL_optinteger(L, 4, (lua_Integer)ls + 1);
    luaL_argexpected(L, type == LUA_TNUMBER || type == LUA_TSTRING || type == LUA_TFUNCTION || type == LUA_TTABLE,
                     3, "string/function/table");
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    bool anchored = lp > 0 && *p == '^';
    if (anchored)
        p++, lp--;
    matcher m;
    matcher_init(&m, L, meter, s, ls, p, lp);
    reserve(&m);
    STEP(&m);
    const char *from = s, *last_end = NULL;
    lua_Integer n = 0;
    bool changed = false;
    while (n < max_n) {
        restart(&m);
        const char *e = do_match(&m, from, p);
        if (e != NULL && e != last_end) {
            n++;
            changed = add_replacement(&m, &b, from, e, type) || changed;
            from = last_end = e;
        } else if (from < m.subj_end) {
            luaL_addchar(&b, *from++);
        } else {
            break;
        }
        if (anchored)
            break;
    }
    settle(&m);
    if (!changed) {
        lua_pushvalue(L, 1);
    } else {
        luaL_addlstring(&b, from, (size_t)(m.subj_end - from));
        luaL_pushresult(&b);
    }
    lua_pushinteger(L, n);
    return 2;
}

void rule_pattern_push(lua_State *L, rule_meter *m)
{
    static const luaL_Reg fns[] = {
        {"find", l_find}, {"match", l_match}, {"gmatch", l_gmatch}, {"gsub", l_gsub}, {NULL, NULL},
    };
    lua_createtable(L, 0, 4);
    lua_pushlightuserdata(L, m);
    luaL_setfuncs(L, fns, 1);
}
