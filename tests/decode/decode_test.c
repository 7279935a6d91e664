/* decode_test.c: the host's JSON decoder (core/rule_decode.c) against the
 * lua-cjson it replaces, input by input (decode_compare.h says what is
 * compared). One ctest entry per case or batch:
 *
 *   tm_decode_test lines FILE...           every line of the files
 *   tm_decode_test edge NAME TABLE         a row of data/decode/edge.tsv: name,
 *                                          input, cjson's value as rendered below
 *   tm_decode_test edge-render TABLE       prints TABLE with cjson's outcomes (to write rows)
 *   tm_decode_test shape NAME TABLE        a row of data/decode/shapes.tsv: name,
 *                                          "ok" or "error: MESSAGE", then pieces
 *                                          of the input, each "N*TEXT" (TEXT N
 *                                          times, %d the repetition's index) or TEXT
 *   tm_decode_test generate SEED COUNT     random JSON documents, some broken
 *   tm_decode_test numbers SEED COUNT      random numbers, valid and not
 *   tm_decode_test mutate SEED COUNT FILE...  byte mutations of the files' lines
 *   tm_decode_test memcap FILE             lines decoded under memory caps
 *
 * Everything random comes from the seed (xorshift), so a failure repeats;
 * the failing input is written to decode-fail-SEED-N.json in the working
 * directory. Exit status: 0 when there is no difference, 1 otherwise. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "decode_compare.h"
#include "mem.h"
#include "tsv.h"

#define MAX_SHOWN 10

/* ---- running inputs ---- */

typedef struct run {
    lua_State *L;
    const char *label;
    unsigned long inputs, accepted, refused, differences;
} run;

static void run_init(run *t, const char *label)
{
    memset(t, 0, sizeof *t);
    t->label = label;
    t->L = luaL_newstate();
    if (t->L == NULL || !dc_open(t->L)) {
        fprintf(stderr, "cannot create the Lua state\n");
        exit(2);
    }
}

static void save_input(const run *t, const char *s, size_t len)
{
    char name[256];
    snprintf(name, sizeof name, "decode-fail-%s-%lu.json", t->label, t->inputs);
    FILE *f = fopen(name, "wb");
    if (f) {
        fwrite(s, 1, len, f);
        fclose(f);
        fprintf(stderr, "  (input saved as %s)\n", name);
    }
}

static bool check(run *t, const char *s, size_t len)
{
    dc_result r;
    bool same = dc_check(t->L, s, len, &r);
    t->inputs++;
    if (r.cjson_ok)
        t->accepted++;
    else
        t->refused++;
    if (!same) {
        t->differences++;
        if (t->differences <= MAX_SHOWN) {
            fprintf(stderr, "difference on input %lu (%zu bytes: %.*s%s):\n  %s\n", t->inputs, len,
                    len > 200 ? 200 : (int)len, s, len > 200 ? "..." : "", r.why);
            save_input(t, s, len);
        }
    }
    if (t->inputs % 4096 == 0)
        lua_gc(t->L, LUA_GCCOLLECT);
    return same;
}

static int run_end(run *t)
{
    printf("%s: %lu inputs (%lu decoded, %lu refused by cjson), %lu differences\n", t->label, t->inputs,
           t->accepted, t->refused, t->differences);
    lua_close(t->L);
    return t->differences ? 1 : 0;
}

/* ---- files ---- */

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        exit(2);
    }
    buf b;
    buf_init(&b, (size_t)1 << 30);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_put(&b, chunk, n);
    fclose(f);
    *len = b.len;
    char *s = xmalloc(b.len + 1);
    memcpy(s, b.data ? b.data : "", b.len);
    s[b.len] = '\0';
    buf_clean_up(&b);
    return s;
}

/* A copy of n bytes (which may hold NULs), NUL-terminated. */
static char *memdup0(const char *s, size_t n)
{
    char *c = xmalloc(n + 1);
    if (n)
        memcpy(c, s, n);
    c[n] = '\0';
    return c;
}

typedef struct lines {
    char **line;
    size_t *len;
    size_t n, cap;
} lines;

static void lines_add_file(lines *ls, const char *path)
{
    size_t len;
    char *all = read_file(path, &len);
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && all[i] != '\n')
            continue;
        if (i > start) {
            if (ls->n == ls->cap) {
                ls->cap = ls->cap ? ls->cap * 2 : 256;
                ls->line = xrealloc(ls->line, ls->cap * sizeof *ls->line);
                ls->len = xrealloc(ls->len, ls->cap * sizeof *ls->len);
            }
            ls->line[ls->n] = memdup0(all + start, i - start);
            ls->len[ls->n] = i - start;
            ls->n++;
        }
        start = i + 1;
    }
    free(all);
}

static void lines_free(lines *ls)
{
    for (size_t i = 0; i < ls->n; i++)
        free(ls->line[i]);
    free(ls->line);
    free(ls->len);
}

static int mode_lines(int argc, char **argv)
{
    run t;
    run_init(&t, "lines");
    for (int i = 0; i < argc; i++) {
        lines ls = {0};
        lines_add_file(&ls, argv[i]);
        for (size_t k = 0; k < ls.n; k++)
            check(&t, ls.line[k], ls.len[k]);
        lines_free(&ls);
    }
    if (t.inputs == 0) {
        fprintf(stderr, "no lines\n");
        return 1;
    }
    return run_end(&t);
}

/* ---- edge cases: a table with cjson's value spelled out ---- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends a canonical spelling of the value at i: null, true, false,
 * f:NUMBER (%.17g) or i:NUMBER, "BYTES" with bytes outside printable ASCII
 * and '<' as <HH>, {KEY=VALUE,...} with the entries sorted. */
static void render(lua_State *L, int i, buf *out)
{
    i = lua_absindex(L, i);
    luaL_checkstack(L, 8, "render");
    switch (lua_type(L, i)) {
    case LUA_TLIGHTUSERDATA:
        buf_puts(out, lua_touserdata(L, i) == NULL ? "null" : "lightuserdata");
        break;
    case LUA_TBOOLEAN:
        buf_puts(out, lua_toboolean(L, i) ? "true" : "false");
        break;
    case LUA_TNUMBER:
        if (lua_isinteger(L, i))
            buf_printf(out, "i:%lld", (long long)lua_tointeger(L, i));
        else
            buf_printf(out, "f:%.17g", (double)lua_tonumber(L, i));
        break;
    case LUA_TSTRING: {
        size_t n;
        const unsigned char *s = (const unsigned char *)lua_tolstring(L, i, &n);
        buf_putc(out, '"');
        for (size_t k = 0; k < n; k++) {
            if (s[k] < 0x20 || s[k] > 0x7e || s[k] == '<')
                buf_printf(out, "<%02x>", s[k]);
            else
                buf_putc(out, (char)s[k]);
        }
        buf_putc(out, '"');
        break;
    }
    case LUA_TTABLE: {
        char **ent = NULL;
        size_t n = 0;
        lua_pushnil(L);
        while (lua_next(L, i)) {
            buf e;
            buf_init(&e, (size_t)1 << 24);
            if (lua_type(L, -2) == LUA_TSTRING)
                render(L, -2, &e);
            else
                buf_printf(&e, "[%lld]", (long long)lua_tointeger(L, -2));
            buf_putc(&e, '=');
            render(L, -1, &e);
            ent = xrealloc(ent, (n + 1) * sizeof *ent);
            ent[n++] = xstrdup(e.data);
            buf_clean_up(&e);
            lua_pop(L, 1);
        }
        if (n > 1)
            qsort(ent, n, sizeof *ent, cmp_str);
        buf_putc(out, '{');
        for (size_t k = 0; k < n; k++) {
            if (k)
                buf_putc(out, ',');
            buf_puts(out, ent[k]);
            free(ent[k]);
        }
        free(ent);
        buf_putc(out, '}');
        if (lua_getmetatable(L, i)) {
            buf_puts(out, "+metatable");
            lua_pop(L, 1);
        }
        break;
    }
    default:
        buf_puts(out, luaL_typename(L, i));
    }
}

/* cjson's outcome for s: its value rendered (or "ok" when not
 * show_value), or "error: MESSAGE". */
static void cjson_outcome(lua_State *L, const char *s, size_t len, bool show_value, buf *out)
{
    lua_getfield(L, LUA_REGISTRYINDEX, DC_CJSON);
    lua_pushlstring(L, s, len);
    if (lua_pcall(L, 1, 1, 0) == LUA_OK) {
        if (show_value)
            render(L, -1, out);
        else
            buf_puts(out, "ok");
    } else
        buf_printf(out, "error: %s", lua_tostring(L, -1));
    lua_pop(L, 1);
}

static int mode_edge(const char *name, const char *table)
{
    tsv_row row;
    if (!tsv_find_row(table, name, &row))
        return 2;
    if (row.n < 3) {
        fprintf(stderr, "%s: the row needs name, input and expected value\n", name);
        return 2;
    }
    run t;
    run_init(&t, name);
    buf got;
    buf_init(&got, (size_t)1 << 24);
    cjson_outcome(t.L, row.col[1], row.len[1], true, &got);
    int rc = 0;
    if (strcmp(got.data, row.col[2]) != 0) {
        fprintf(stderr, "cjson's outcome is not the table's:\n  table: %s\n  cjson: %s\n", row.col[2], got.data);
        rc = 1;
    }
    check(&t, row.col[1], row.len[1]);
    buf_clean_up(&got);
    tsv_row_free(&row);
    return run_end(&t) | rc;
}

/* Prints the table with the third column replaced by cjson's outcome
 * (escaped for the table): for writing new rows. Review before use. */
static int mode_edge_render(const char *table)
{
    FILE *f = fopen(table, "r");
    if (f == NULL) {
        perror(table);
        return 2;
    }
    run t;
    run_init(&t, "render");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        char *tab1 = strchr(line, '\t');
        if (line[0] == '#' || line[0] == '\0' || tab1 == NULL) {
            puts(line);
            continue;
        }
        char *tab2 = strchr(tab1 + 1, '\t');
        if (tab2)
            *tab2 = '\0';
        char *in = xstrdup(tab1 + 1);
        size_t len = tsv_unescape(in);
        buf got;
        buf_init(&got, (size_t)1 << 24);
        cjson_outcome(t.L, in, len, true, &got);
        printf("%s\t", line);
        for (size_t k = 0; k < got.len; k++)
            fputs(got.data[k] == '\\' ? "\\\\" : got.data[k] == '\t' ? "\\t" : (char[2]){got.data[k], 0}, stdout);
        putchar('\n');
        buf_clean_up(&got);
        free(in);
    }
    free(line);
    fclose(f);
    lua_close(t.L);
    return 0;
}

/* ---- shapes: big inputs built from repeated pieces ---- */

static int mode_shape(const char *name, const char *table)
{
    tsv_row row;
    if (!tsv_find_row(table, name, &row))
        return 2;
    if (row.n < 3) {
        fprintf(stderr, "%s: the row needs name, expected outcome and pieces\n", name);
        return 2;
    }
    buf in;
    buf_init(&in, (size_t)256 << 20);
    for (int c = 2; c < row.n; c++) {
        char *piece = row.col[c];
        size_t plen = row.len[c];
        long times = 1;
        char *star = memchr(piece, '*', plen);
        if (star && star > piece && strspn(piece, "0123456789") == (size_t)(star - piece)) {
            times = strtol(piece, NULL, 10);
            plen -= (size_t)(star + 1 - piece);
            piece = star + 1;
        }
        for (long k = 0; k < times; k++) {
            for (size_t j = 0; j < plen; j++) {
                if (piece[j] == '%' && j + 1 < plen && piece[j + 1] == 'd') {
                    buf_printf(&in, "%ld", k);
                    j++;
                } else {
                    buf_putc(&in, piece[j]);
                }
            }
        }
    }
    run t;
    run_init(&t, name);
    buf got;
    buf_init(&got, (size_t)1 << 30);
    cjson_outcome(t.L, in.data ? in.data : "", in.len, false, &got);
    const char *want = row.col[1];
    bool ok = strcmp(got.data, want) == 0;
    int rc = 0;
    if (!ok) {
        fprintf(stderr, "cjson's outcome is not the table's:\n  table: %s\n  cjson: %.300s\n", want, got.data);
        rc = 1;
    }
    check(&t, in.data ? in.data : "", in.len);
    buf_clean_up(&got);
    buf_clean_up(&in);
    tsv_row_free(&row);
    return run_end(&t) | rc;
}

/* ---- random inputs ---- */

static uint64_t rng_state;

static uint64_t rnd64(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static unsigned rnd(unsigned n)
{
    return (unsigned)(rnd64() % n);
}

static bool chance(unsigned percent)
{
    return rnd(1000) < percent * 10;
}

static void seed_rng(unsigned long seed)
{
    rng_state = 0x9E3779B97F4A7C15ull ^ ((uint64_t)seed * 0xBF58476D1CE4E5B9ull);
    if (rng_state == 0)
        rng_state = 1;
    for (int i = 0; i < 8; i++)
        rnd64();
}

static void put_ws(buf *b)
{
    static const char *const ws[] = {" ", "\n", "\r", "\t", "  ", " \r\n\t"};
    if (chance(85))
        return;
    if (rnd(400) == 0) {
        static const char bad[] = {'\f', '\v', (char)0xa0, '\0'};
        buf_putc(b, bad[rnd(sizeof bad)]); /* not JSON whitespace */
        return;
    }
    buf_puts(b, ws[rnd(6)]);
}

static void put_utf8(buf *b, unsigned long cp)
{
    if (cp < 0x80) {
        buf_putc(b, (char)cp);
    } else if (cp < 0x800) {
        buf_putc(b, (char)(0xC0 | cp >> 6));
        buf_putc(b, (char)(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        buf_putc(b, (char)(0xE0 | cp >> 12));
        buf_putc(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
        buf_putc(b, (char)(0x80 | (cp & 0x3F)));
    } else {
        buf_putc(b, (char)(0xF0 | cp >> 18));
        buf_putc(b, (char)(0x80 | ((cp >> 12) & 0x3F)));
        buf_putc(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
        buf_putc(b, (char)(0x80 | (cp & 0x3F)));
    }
}

static void put_hex4(buf *b, unsigned v)
{
    const char *digits = chance(70) ? "0123456789abcdef" : "0123456789ABCDEF";
    for (int s = 12; s >= 0; s -= 4)
        buf_putc(b, digits[(v >> s) & 0xF]);
}

static void put_u_escape(buf *b)
{
    unsigned r = rnd(100);
    buf_puts(b, "\\u");
    if (r < 25) {
        put_hex4(b, rnd(0x80));
    } else if (r < 55) {
        unsigned cp;
        do
            cp = rnd(0x10000);
        while (cp >= 0xD800 && cp <= 0xDFFF);
        put_hex4(b, cp);
    } else if (r < 85) {
        put_hex4(b, 0xD800 + rnd(0x400));
        buf_puts(b, "\\u");
        put_hex4(b, 0xDC00 + rnd(0x400));
    } else if (r < 87) {
        put_hex4(b, 0xD800 + rnd(0x400)); /* lone high */
    } else if (r < 89) {
        put_hex4(b, 0xDC00 + rnd(0x400)); /* lone low */
    } else if (r < 91) {
        put_hex4(b, 0xD800 + rnd(0x400)); /* high, then not a low */
        buf_puts(b, "\\u");
        put_hex4(b, rnd(0x10000));
    } else if (r < 93) {
        put_hex4(b, 0xD800 + rnd(0x400)); /* high, then a simple escape */
        buf_puts(b, chance(50) ? "\\n" : "x");
    } else if (r < 95) {
        static const char *const bad[] = {"12", "12g4", "00\"", "d83", "zzzz", "1", ""};
        buf_puts(b, bad[rnd(7)]);
    } else {
        put_hex4(b, 0);
    }
}

static void put_string_body(buf *b, bool key)
{
    unsigned pieces = rnd(100) < 3 && !key ? 200 + rnd(2000) : rnd(key ? 4 : 12);
    for (unsigned i = 0; i < pieces; i++) {
        unsigned r = rnd(1000);
        if (r < 450) {
            unsigned n = 1 + rnd(12);
            for (unsigned k = 0; k < n; k++) {
                char c = (char)(0x20 + rnd(0x5f));
                buf_putc(b, c == '"' || c == '\\' ? 'q' : c);
            }
        } else if (r < 600) {
            unsigned long cp = rnd(4) == 0 ? 0x10000 + rnd(0x100000) : 0x80 + rnd(0xD800 - 0x80);
            put_utf8(b, cp);
        } else if (r < 750) {
            static const char *const esc[] = {"\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t"};
            buf_puts(b, esc[rnd(8)]);
        } else if (r < 930) {
            put_u_escape(b);
        } else if (r < 960) {
            buf_putc(b, (char)(1 + rnd(0x1f))); /* raw control byte: cjson keeps it */
        } else if (r < 990) {
            buf_putc(b, (char)(0x80 + rnd(0x80))); /* a stray byte: invalid UTF-8 */
        } else if (r < 995) {
            static const char *const bad[] = {"\\x", "\\U0041", "\\'", "\\a", "\\0", "\\ "};
            buf_puts(b, bad[rnd(6)]);
        } else {
            buf_putc(b, '\0');
        }
    }
}

static void put_digits(buf *b, unsigned n, bool nonzero_first)
{
    for (unsigned i = 0; i < n; i++)
        buf_putc(b, (char)((i == 0 && nonzero_first ? '1' + rnd(9) : '0' + rnd(10))));
}

/* A number: mostly JSON's grammar, often at its corners (long mantissas,
 * exponents near the fast paths' limits), sometimes what cjson refuses. */
static void put_number(buf *b)
{
    unsigned r = rnd(1000);
    if (r < 40) {
        static const char *const odd[] = {
            "0", "-0", "0.0", "-0.0", "0e0", "-0e-0", "1.", "-1.", "0.", "-.5", "-.0", "1.e5", "1E+2",
            "01", "-01", "00", "-", "+1", ".5", "1e", "1e+", "1E-", "0x10", "-0x1", "inf", "-inf", "nan",
            "-nan", "Infinity", "-Infinity", "1e400", "-1e400", "1e-400", "4.9e-324", "2.4703282292062327e-324",
            "1.7976931348623157e308", "1.7976931348623159e308", "2.2250738585072011e-308",
            "9007199254740993", "9007199254740992.5", "18446744073709551615", "18446744073709551616",
            "99999999999999999999", "123456789012345678901234567890", "0.1", "0.30000000000000004",
            "1e22", "1e23", "9e22", "123456789012345e22", "1234567890123456e-22", "1e-22", "1e-23", "--1", "-+1",
            "- 1", "1x", "1.5.5", "1ee5", "1e5.5", "1e05", "1e-0005", "0.0000000000000000000000000001",
        };
        buf_puts(b, odd[rnd(sizeof odd / sizeof *odd)]);
        return;
    }
    if (chance(35))
        buf_putc(b, '-');
    unsigned shape = rnd(10);
    unsigned n_int = shape < 2 ? 1 : 1 + rnd(shape < 7 ? 8 : 24);
    if (chance(15))
        buf_putc(b, '0');
    else
        put_digits(b, n_int, true);
    if (chance(45)) {
        buf_putc(b, '.');
        put_digits(b, chance(3) ? 0 : 1 + rnd(chance(20) ? 30 : 8), false);
    }
    if (chance(25)) {
        buf_putc(b, rnd(2) ? 'e' : 'E');
        unsigned s = rnd(3);
        if (s == 1)
            buf_putc(b, '-');
        else if (s == 2)
            buf_putc(b, '+');
        unsigned e = rnd(4) == 0 ? rnd(400) : rnd(30);
        if (chance(5))
            buf_puts(b, "00");
        buf_printf(b, "%u", e);
    }
}

static const char *const keys[] = {"id", "id_str", "text", "user", "a", "b", "entities", "", "null", "1",
                                   "\\u0041", "A", "\\/"};

/* Documents stop growing containers past this size. */
#define GEN_MAX_BYTES 16384

static void put_value(buf *b, int depth, int max_depth);

static unsigned container_size(void)
{
    unsigned r = rnd(100);
    if (r < 10)
        return 0;
    if (r < 80)
        return 1 + rnd(8);
    if (r < 95)
        return 9 + rnd(60);
    return 60 + rnd(150);
}

static void put_value(buf *b, int depth, int max_depth)
{
    unsigned r = rnd(100);
    if ((depth >= max_depth || b->len > GEN_MAX_BYTES) && r < 35)
        r = 35 + rnd(65);
    if (r < 20) {
        unsigned n = container_size();
        buf_putc(b, '{');
        put_ws(b);
        for (unsigned i = 0; i < n && b->len <= GEN_MAX_BYTES; i++) {
            if (i) {
                buf_putc(b, ',');
                put_ws(b);
            }
            buf_putc(b, '"');
            if (chance(40))
                buf_puts(b, keys[rnd(sizeof keys / sizeof *keys)]);
            else
                put_string_body(b, true);
            buf_putc(b, '"');
            put_ws(b);
            buf_putc(b, ':');
            put_ws(b);
            put_value(b, depth + 1, max_depth);
            put_ws(b);
        }
        buf_putc(b, '}');
    } else if (r < 35) {
        unsigned n = container_size();
        buf_putc(b, '[');
        put_ws(b);
        for (unsigned i = 0; i < n && b->len <= GEN_MAX_BYTES; i++) {
            if (i) {
                buf_putc(b, ',');
                put_ws(b);
            }
            put_value(b, depth + 1, max_depth);
            put_ws(b);
        }
        buf_putc(b, ']');
    } else if (r < 60) {
        buf_putc(b, '"');
        put_string_body(b, false);
        buf_putc(b, '"');
    } else if (r < 85) {
        put_number(b);
    } else {
        static const char *const lit[] = {"true", "false", "null", "true", "false", "null",
                                          "tru", "nul", "True", "NULL", "fals"};
        buf_puts(b, lit[chance(97) ? rnd(6) : 6 + rnd(5)]);
    }
}

/* A chain of depth containers around a value, with values beside each
 * level so every level holds some on the stack. */
static void put_deep(buf *b, int depth)
{
    char *closers = xmalloc((size_t)depth);
    for (int i = 0; i < depth; i++) {
        bool obj = chance(40);
        buf_puts(b, obj ? "{\"k\":" : "[");
        if (!obj && chance(30)) {
            unsigned n = rnd(5);
            for (unsigned k = 0; k < n; k++)
                buf_puts(b, "1,");
        }
        closers[i] = obj ? '}' : ']';
    }
    put_value(b, 0, 2);
    for (int i = depth - 1; i >= 0; i--)
        buf_putc(b, closers[i]);
    free(closers);
}

/* Applies one random byte mutation to b. */
static void mutate(buf *b)
{
    static const char *const tokens[] = {"\\u", "\\ud83d", "\\ude00", "\"", "{", "[", "]", "}", ",", ":", "-",
                                         "0", "1e", ".", "null", "tru", "\\", " ", "\x80", "1e400", "-0",
                                         "9007199254740993", "\\\"", "\"\":", ",\"a\":1", "[[[[", "]]]]", "\t",
                                         "\r\n", "\xff\xfe", "\\n", "\\u0000"};
    size_t len = b->len;
    unsigned r = rnd(100);
    if (len == 0 || r < 25) {
        const char *tok = tokens[rnd(sizeof tokens / sizeof *tokens)];
        size_t tl = strlen(tok);
        if (len == 0) {
            buf_put(b, tok, tl);
            return;
        }
        size_t at = rnd((unsigned)len + 1);
        buf tail;
        buf_init(&tail, (size_t)1 << 30);
        buf_put(&tail, b->data + at, len - at);
        b->len = at;
        buf_put(b, tok, tl);
        if (tail.len)
            buf_put(b, tail.data, tail.len);
        buf_clean_up(&tail);
    } else if (r < 50) {
        b->data[rnd((unsigned)len)] = (char)rnd(256);
    } else if (r < 65) {
        static const char interesting[] = "\"\\{}[],:0123456789-+.eEnu \t\r\n";
        b->data[rnd((unsigned)len)] = chance(5) ? '\0' : interesting[rnd(sizeof interesting - 1)];
    } else if (r < 80) {
        size_t at = rnd((unsigned)len), n = 1 + rnd(16);
        if (at + n > len)
            n = len - at;
        memmove(b->data + at, b->data + at + n, len - at - n);
        b->len -= n;
    } else if (r < 90) {
        size_t at = rnd((unsigned)len), n = 1 + rnd(32);
        if (at + n > len)
            n = len - at;
        char *copy = memdup0(b->data + at, n);
        buf tail;
        buf_init(&tail, (size_t)1 << 30);
        buf_put(&tail, b->data + at, len - at);
        b->len = at;
        buf_put(b, copy, n);
        if (tail.len)
            buf_put(b, tail.data, tail.len);
        buf_clean_up(&tail);
        free(copy);
    } else if (r < 95) {
        b->len = rnd((unsigned)len + 1);
    } else {
        /* A digit changed into another: the text often stays valid. */
        for (int tries = 0; tries < 20; tries++) {
            size_t at = rnd((unsigned)len);
            if (b->data[at] >= '0' && b->data[at] <= '9') {
                b->data[at] = (char)('0' + rnd(10));
                break;
            }
        }
    }
    if (b->data)
        b->data[b->len] = '\0';
}

static int mode_generate(unsigned long seed, unsigned long count)
{
    char label[64];
    snprintf(label, sizeof label, "generate-%lu", seed);
    run t;
    run_init(&t, label);
    seed_rng(seed);
    buf b;
    buf_init(&b, (size_t)1 << 30);
    for (unsigned long i = 0; i < count; i++) {
        buf_reset(&b);
        put_ws(&b);
        if (rnd(200) == 0)
            put_deep(&b, 990 + (int)rnd(20));
        else
            put_value(&b, 0, 1 + (int)rnd(6));
        put_ws(&b);
        if (rnd(100) == 0)
            buf_puts(&b, rnd(2) ? "\0trailing" : " x");
        if (chance(8))
            mutate(&b);
        check(&t, b.data ? b.data : "", b.len);
    }
    buf_clean_up(&b);
    return run_end(&t);
}

static int mode_numbers(unsigned long seed, unsigned long count)
{
    char label[64];
    snprintf(label, sizeof label, "numbers-%lu", seed);
    run t;
    run_init(&t, label);
    seed_rng(seed);
    buf b;
    buf_init(&b, 4096);
    for (unsigned long i = 0; i < count; i++) {
        buf_reset(&b);
        unsigned form = rnd(4);
        if (form == 1)
            buf_putc(&b, '[');
        else if (form == 2)
            buf_puts(&b, "{\"n\":");
        put_number(&b);
        if (form == 1)
            buf_putc(&b, ']');
        else if (form == 2)
            buf_putc(&b, '}');
        else if (form == 3)
            buf_putc(&b, ' ');
        check(&t, b.data, b.len);
    }
    buf_clean_up(&b);
    return run_end(&t);
}

static int mode_mutate(unsigned long seed, unsigned long count, int argc, char **argv)
{
    char label[64];
    snprintf(label, sizeof label, "mutate-%lu", seed);
    lines ls = {0};
    for (int i = 0; i < argc; i++)
        lines_add_file(&ls, argv[i]);
    if (ls.n == 0) {
        fprintf(stderr, "no lines to mutate\n");
        return 2;
    }
    run t;
    run_init(&t, label);
    seed_rng(seed);
    buf b;
    buf_init(&b, (size_t)1 << 30);
    for (unsigned long i = 0; i < count; i++) {
        size_t k = rnd((unsigned)ls.n);
        buf_reset(&b);
        buf_put(&b, ls.line[k], ls.len[k]);
        unsigned n = 1 + rnd(chance(70) ? 1 : 4);
        for (unsigned m = 0; m < n; m++)
            mutate(&b);
        if (chance(3)) {
            /* Splice with another line. */
            size_t j = rnd((unsigned)ls.n), at = rnd((unsigned)b.len + 1);
            b.len = at;
            size_t from = rnd((unsigned)ls.len[j] + 1);
            buf_put(&b, ls.line[j] + from, ls.len[j] - from);
        }
        check(&t, b.data ? b.data : "", b.len);
    }
    buf_clean_up(&b);
    lines_free(&ls);
    return run_end(&t);
}

/* ---- memory caps ---- */

/* lua-cjson 2.1.0 leaks its string buffer (a malloc the size of the text)
 * when a Lua memory error interrupts a decode: json_decode frees it only on
 * its own errors. The memcap mode provokes exactly that, so LeakSanitizer
 * is told about it here. (rule_decode allocates through Lua only, and
 * calls cjson only for text it refuses.) */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:strbuf_new\n";
}

typedef struct cap_acct {
    size_t used, max;
} cap_acct;

static void *cap_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    cap_acct *a = ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        a->used -= old;
        return NULL;
    }
    if (nsize > old && a->used + (nsize - old) > a->max)
        return NULL;
    void *p = realloc(ptr, nsize);
    if (p == NULL)
        return NULL;
    a->used = a->used - old + nsize;
    return p;
}

/* Decodes with fn (a registry key) under a cap of `room` bytes above what
 * the state holds now; returns the pcall status and leaves the value or
 * message on the stack. */
static int capped(lua_State *L, cap_acct *a, const char *fn, int input, size_t room)
{
    lua_gc(L, LUA_GCCOLLECT);
    lua_getfield(L, LUA_REGISTRYINDEX, fn);
    lua_pushvalue(L, input);
    a->max = a->used + room;
    int st = lua_pcall(L, 1, 1, 0);
    a->max = SIZE_MAX;
    return st;
}

/* Every line under caps from a few bytes up to what it needs: both
 * decoders may only succeed (with equal values) or fail with LUA_ERRMEM. */
static int mode_memcap(const char *file)
{
    lines ls = {0};
    lines_add_file(&ls, file);
    cap_acct a = {0, SIZE_MAX};
    lua_State *L = lua_newstate(cap_alloc, &a);
    if (L == NULL || !dc_open(L))
        return 2;
    unsigned long runs = 0, bad = 0, ours_only_oom = 0, cjson_only_oom = 0;
    size_t need_cjson = 0, need_ours = 0; /* the least room that sufficed, summed */
    for (size_t k = 0; k < ls.n && k < 12; k++) {
        lua_settop(L, 0);
        lua_pushlstring(L, ls.line[k], ls.len[k]);
        bool done_a = false, done_b = false;
        for (size_t room = 0;; room += 97 + room / 8) {
            int sa = capped(L, &a, DC_CJSON, 1, room);
            int sb = capped(L, &a, DC_OURS, 1, room);
            runs++;
            dc_result r;
            memset(&r, 0, sizeof r);
            if ((sa != LUA_OK && sa != LUA_ERRMEM) || (sb != LUA_OK && sb != LUA_ERRMEM)) {
                fprintf(stderr, "line %zu, room %zu: status %d (cjson) and %d (rule_decode): %s / %s\n", k + 1,
                        room, sa, sb, lua_tostring(L, 2), lua_tostring(L, 3));
                bad++;
            } else if (sa == LUA_OK && sb == LUA_OK && !dc_equal(L, 2, 3, "value", &r)) {
                fprintf(stderr, "line %zu, room %zu: %s\n", k + 1, room, r.why);
                bad++;
            }
            ours_only_oom += sa == LUA_OK && sb != LUA_OK;
            cjson_only_oom += sa != LUA_OK && sb == LUA_OK;
            if (sa == LUA_OK && !done_a) {
                done_a = true;
                need_cjson += room;
            }
            if (sb == LUA_OK && !done_b) {
                done_b = true;
                need_ours += room;
            }
            lua_settop(L, 1);
            if (sa == LUA_OK && sb == LUA_OK)
                break;
        }
    }
    printf("memcap: %lu capped decodes, %lu bad; only cjson ran out of memory %lu times, only rule_decode %lu "
           "times; least room that sufficed, summed over the lines: cjson %zu bytes, rule_decode %zu\n",
           runs, bad, cjson_only_oom, ours_only_oom, need_cjson, need_ours);
    lua_close(L);
    lines_free(&ls);
    return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "lines") == 0)
        return mode_lines(argc - 2, argv + 2);
    if (argc == 4 && strcmp(argv[1], "edge") == 0)
        return mode_edge(argv[2], argv[3]);
    if (argc == 3 && strcmp(argv[1], "edge-render") == 0)
        return mode_edge_render(argv[2]);
    if (argc == 4 && strcmp(argv[1], "shape") == 0)
        return mode_shape(argv[2], argv[3]);
    if (argc == 4 && strcmp(argv[1], "generate") == 0)
        return mode_generate(strtoul(argv[2], NULL, 10), strtoul(argv[3], NULL, 10));
    if (argc == 4 && strcmp(argv[1], "numbers") == 0)
        return mode_numbers(strtoul(argv[2], NULL, 10), strtoul(argv[3], NULL, 10));
    if (argc >= 5 && strcmp(argv[1], "mutate") == 0)
        return mode_mutate(strtoul(argv[2], NULL, 10), strtoul(argv[3], NULL, 10), argc - 4, argv + 4);
    if (argc == 3 && strcmp(argv[1], "memcap") == 0)
        return mode_memcap(argv[2]);
    fprintf(stderr, "usage: tm_decode_test lines FILE... | edge NAME TABLE | shape NAME TABLE |\n"
                    "       generate SEED COUNT | numbers SEED COUNT | mutate SEED COUNT FILE... | memcap FILE\n");
    return 2;
}
