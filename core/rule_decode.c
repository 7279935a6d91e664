/* rule_decode.c: the host's JSON decoder for stream lines (SLOT_DECODE).
 *
 * It builds exactly the Lua values the host's lua-cjson 2.1.0 (Debian 12,
 * decode_invalid_numbers(false), default decode_max_depth 1000) builds from
 * the same text, only faster: one pass, string bodies without escapes
 * pushed straight from the input, tables created at their final size.
 * cjson's behaviour, which this file reproduces (tests/decode proves it
 * against the real library, input by input):
 *   - the text ends at its first NUL byte (cjson's T_END), but text whose
 *     first or second byte is NUL is refused (cjson's UTF-16 check);
 *   - whitespace is space, tab, CR and LF only; any value may be the top one;
 *   - strings keep raw control bytes (but NUL) and invalid UTF-8 as they
 *     are; escapes are \" \\ \/ \b \f \n \r \t and \uXXXX (either case),
 *     with surrogates only as a high-low pair and \u0000 a NUL byte;
 *   - a number starts with '-' or a digit and is what strtod reads there,
 *     but for hex, leading zeros, inf and nan: so "1." and "-.5" are
 *     numbers, "1e400" is inf, and every number is a float (never an
 *     integer), "-0" being -0.0;
 *   - null is the NULL light userdata; objects and arrays are plain tables
 *     without metatables, a later duplicate key replacing an earlier one;
 *   - objects and arrays nest at most 1000 deep.
 *
 * It never makes an error message of its own: on any problem (bad syntax,
 * too deep, no stack) it hands the text to the real cjson.decode, whose
 * message (or, should it accept the text, whose value) is the result. So
 * messages stay byte-identical. Memory comes from the state's allocator
 * only (scratch space for long escaped strings is a Lua userdata), so a
 * memory error is LUA_ERRMEM as before (and, unlike with cjson, which
 * leaks its malloc'd string buffer then, nothing leaks).
 *
 * Tables: the values of a container are first collected on the Lua stack
 * (at most PENDING_MAX per container) and then set into a table created
 * with lua_createtable for exactly that many; bigger containers get a table
 * when PENDING_MAX is reached and are filled directly from then on.
 * Iteration order (pairs) of string keys may differ from cjson's, as it
 * already differs between two runs: Lua 5.4 seeds its string hashes per
 * state.
 *
 * Object keys: a stream's tweets share one vocabulary of a few hundred keys.
 * Left to itself, Lua would make each key string anew for every tweet (an
 * allocation, hashing, and a collection later) once the previous tweet's
 * table is garbage. The decoder closure keeps the keys it has seen (up to
 * KEYS_MAX, short ones without escapes) alive in a table, and finds them
 * again through a small hash table of its own, pushing the existing string
 * with no allocation. Values are not cached: they vary. */
#include <float.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "rule_internal.h"

/* lua-cjson's own string-to-number conversion (fpconv.c, in the same
 * static library): strtod with '.' as the decimal point in any locale. */
double fpconv_strtod(const char *nptr, char **endptr);

#define CJSON_MAX_DEPTH 1000 /* cjson's DEFAULT_DECODE_MAX_DEPTH */
#define PENDING_MAX 64       /* values (or key-value pairs) held on the stack */
#define STACK_STEP 8         /* values the stack is grown for at a time */
#define STACK_SLOTS (2 * STACK_STEP + 8)
#define LOCAL_SCRATCH 4096   /* escaped strings up to this long decode on the C stack */

#define KEYS_SLOTS 1024      /* the key cache's hash table: a power of two */
#define KEYS_MAX 512         /* keys kept at most (half the slots) */
#define KEY_MAX_LEN 40       /* longer keys are not kept (Lua's short strings) */

typedef struct keyslot {
    const char *s;  /* the kept string's bytes (alive: the anchor table holds it) */
    uint32_t hash;
    uint16_t len;
    uint16_t ref;   /* its index in the anchor table; 0: an empty slot */
} keyslot;

typedef struct keycache {
    int n;          /* keys kept */
    keyslot slot[KEYS_SLOTS];
} keycache;

typedef struct dec {
    lua_State *L;
    keycache *kc;    /* NULL: no key cache (rule_decode_value) */
    int kc_anchor;   /* stack slot of the table that keeps the cached keys alive */
    const char *p;   /* next byte; the text is NUL-terminated (a Lua string) */
    const char *end; /* the terminating NUL: a bound for word-wise scans */
    int depth;
    int anchor;      /* stack slot keeping a big scratch userdata alive */
    char *big;       /* that scratch, or NULL */
    size_t big_cap;
    char local[LOCAL_SCRATCH];
} dec;

static bool parse_value(dec *d);

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
        p++;
    return p;
}

/* ---- strings ---- */

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull
#define HAS_ZERO(v) (((v) - ONES) & ~(v) & HIGHS)

/* The first '"', '\\' or NUL at or after p. A word at a time while whole
 * words remain before the terminating NUL, then byte-wise (which stops at
 * that NUL at the latest). In a word, the lowest flagged byte of the
 * HAS_ZERO masks is always a true match (a false one can only sit above a
 * true one), so on a little-endian machine it is the first match. */
static const char *scan_plain(const char *p, const char *end)
{
    while (end - p >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        uint64_t q = w ^ (ONES * '"'), b = w ^ (ONES * '\\');
        uint64_t hit = HAS_ZERO(w) | HAS_ZERO(q) | HAS_ZERO(b);
        if (hit) {
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            return p + (__builtin_ctzll(hit) >> 3);
#else
            break;
#endif
        }
        p += 8;
    }
    while (*p != '"' && *p != '\\' && *p != '\0')
        p++;
    return p;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Four hex digits at p (stopping at the first other byte, so never past
 * the terminating NUL), or -1. */
static long hex4(const char *p)
{
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hex_value(p[i]);
        if (h < 0)
            return -1;
        v = v << 4 | h;
    }
    return v;
}

/* The \u escape at p (p[0] == '\\', p[1] == 'u') as UTF-8 into out;
 * returns the bytes written (1 to 4) and sets *used to the input bytes
 * consumed, or returns 0 where cjson refuses the escape. */
static int unicode_escape(const char *p, char *out, int *used)
{
    long cp = hex4(p + 2);
    if (cp < 0)
        return 0;
    *used = 6;
    if ((cp & 0xF800) == 0xD800) {
        if (cp & 0x400) /* a low surrogate first */
            return 0;
        if (p[6] != '\\' || p[7] != 'u')
            return 0;
        long lo = hex4(p + 8);
        if (lo < 0 || (lo & 0xFC00) != 0xDC00)
            return 0;
        cp = (((cp & 0x3FF) << 10) | (lo & 0x3FF)) + 0x10000;
        *used = 12;
    }
    if (cp <= 0x7F) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp <= 0x7FF) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp <= 0xFFFF) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Makes room for need more bytes after *o in the scratch that starts at
 * *sb (capacity *cap): moves to the big scratch, sized for the rest of
 * this string, when the local one is too small. The decoded string is
 * never longer than its raw text, so the size is an upper bound. */
static bool reserve(dec *d, char **sb, size_t *cap, char **o, size_t need, const char *raw)
{
    size_t used = (size_t)(*o - *sb);
    if (*cap - used >= need)
        return true;
    /* The raw length of the rest of the string: up to the closing quote,
     * skipping escaped bytes. */
    const char *q = raw;
    while (*q != '"' && *q != '\0')
        q += (*q == '\\' && q[1] != '\0') ? 2 : 1;
    size_t want = used + (size_t)(q - raw) + 4;
    if (d->big == NULL || d->big_cap < want) {
        char *nb = lua_newuserdatauv(d->L, want, 0);
        lua_replace(d->L, d->anchor);
        memcpy(nb, *sb, used);
        d->big = nb;
        d->big_cap = want;
    } else if (*sb != d->big) {
        memcpy(d->big, *sb, used);
    }
    *sb = d->big;
    *cap = d->big_cap;
    *o = d->big + used;
    return *cap - used >= need;
}

/* The string whose body starts at d->p (after the opening quote): pushes
 * it and leaves d->p after the closing quote. */
static bool parse_string(dec *d)
{
    const char *s = d->p;
    const char *p = scan_plain(s, d->end);
    if (*p == '"') {
        lua_pushlstring(d->L, s, (size_t)(p - s));
        d->p = p + 1;
        return true;
    }
    if (*p == '\0')
        return false;
    /* Escapes: decode into the scratch. */
    char *sb = d->local, *o = sb;
    size_t cap = sizeof d->local;
    if (!reserve(d, &sb, &cap, &o, (size_t)(p - s), s))
        return false;
    memcpy(o, s, (size_t)(p - s));
    o += p - s;
    for (;;) {
        if (*p == '"')
            break;
        if (*p == '\0')
            return false;
        if (*p == '\\') {
            if (!reserve(d, &sb, &cap, &o, 4, p))
                return false;
            char c;
            switch (p[1]) {
            case '"': c = '"'; break;
            case '\\': c = '\\'; break;
            case '/': c = '/'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case 'u': {
                int used, n = unicode_escape(p, o, &used);
                if (n == 0)
                    return false;
                o += n;
                p += used;
                continue;
            }
            default:
                return false;
            }
            *o++ = c;
            p += 2;
            continue;
        }
        const char *run = p;
        p = scan_plain(p, d->end);
        if (!reserve(d, &sb, &cap, &o, (size_t)(p - run), run))
            return false;
        memcpy(o, run, (size_t)(p - run));
        o += p - run;
    }
    lua_pushlstring(d->L, sb, (size_t)(o - sb));
    d->p = p + 1;
    return true;
}

static uint64_t load64(const char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static uint32_t load32(const char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static uint64_t mix64(uint64_t h)
{
    h = (h ^ (h >> 31)) * 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 29);
}

/* The key cache's hash of a key's bytes (at most KEY_MAX_LEN): its length
 * and up to three overlapping words (first, middle, last), mixed. Keys of
 * one vocabulary that share a prefix differ in length or in a later word;
 * a collision costs a probe, never a wrong key (keys are compared). */
static uint32_t key_hash(const char *s, size_t len)
{
    uint64_t h = (uint64_t)len * 0x9e3779b97f4a7c15ull;
    if (len >= 8) {
        h = mix64(h ^ load64(s));
        if (len > 16)
            h = mix64(h ^ load64(s + len / 2 - 4));
        h = mix64(h ^ load64(s + len - 8));
    } else if (len >= 4) {
        h = mix64(h ^ ((uint64_t)load32(s) << 32 | load32(s + len - 4)));
    } else if (len > 0) {
        h = mix64(h ^ ((uint64_t)(unsigned char)s[0] << 16 | (uint64_t)(unsigned char)s[len / 2] << 8 |
                       (unsigned char)s[len - 1]));
    }
    return (uint32_t)(h >> 32);
}

/* Whether the len bytes at a and b are equal (len <= KEY_MAX_LEN): words,
 * the last one overlapping, rather than a call of memcmp for a few bytes. */
static bool key_equal(const char *a, const char *b, size_t len)
{
    if (len >= 8) {
        for (size_t i = 0; i + 8 < len; i += 8)
            if (load64(a + i) != load64(b + i))
                return false;
        return load64(a + len - 8) == load64(b + len - 8);
    }
    if (len >= 4)
        return load32(a) == load32(b) && load32(a + len - 4) == load32(b + len - 4);
    for (size_t i = 0; i < len; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

/* Pushes the key at s (len bytes, no escapes): the cached string when there
 * is one, else a new string, kept while the cache has room. Returns its
 * slot in the cache, or -1 when it is not kept. */
static int push_key(dec *d, const char *s, size_t len)
{
    lua_State *L = d->L;
    keycache *kc = d->kc;
    uint32_t h = key_hash(s, len);
    size_t i = h & (KEYS_SLOTS - 1);
    for (;; i = (i + 1) & (KEYS_SLOTS - 1)) {
        keyslot *k = &kc->slot[i];
        if (k->ref == 0)
            break;
        if (k->hash == h && k->len == len && key_equal(k->s, s, len)) {
            lua_rawgeti(L, d->kc_anchor, k->ref);
            return (int)i;
        }
    }
    lua_pushlstring(L, s, len);
    if (kc->n >= KEYS_MAX)
        return -1;
    lua_pushvalue(L, -1);
    lua_rawseti(L, d->kc_anchor, kc->n + 1); /* may raise a memory error: the slot is filled after */
    kc->n++;
    kc->slot[i] = (keyslot){lua_tostring(L, -1), h, (uint16_t)len, (uint16_t)kc->n};
    return (int)i;
}

/* An object key at d->p (after its opening quote): pushes it. *slot gets
 * its slot in the key cache, or -1 when it is not there. */
static bool parse_key(dec *d, int *slot)
{
    *slot = -1;
    if (d->kc != NULL) {
        const char *s = d->p;
        const char *p = scan_plain(s, d->end);
        if (*p == '"' && (size_t)(p - s) <= KEY_MAX_LEN) {
            *slot = push_key(d, s, (size_t)(p - s));
            d->p = p + 1;
            return true;
        }
    }
    return parse_string(d);
}

/* ---- numbers ---- */

/* Powers of ten that are exact doubles (5^22 < 2^53). */
#if FLT_EVAL_METHOD == 0
static const double pow10_exact[] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};
#endif

/* The number at d->p (a '-' or a digit), as cjson reads it: its own checks
 * (json_is_invalid_number), then strtod. The common shapes are converted
 * here, exactly as strtod would (an integer of up to 19 digits is exact in
 * a uint64_t, and its conversion to double is correctly rounded; up to 15
 * significant digits scaled by at most 10^22 is one correctly rounded
 * multiplication or division of exact doubles: Clinger's fast path); the
 * others go to cjson's strtod, which must end where the grammar ends. */
static bool parse_number(dec *d)
{
    const char *start = d->p, *p = start;
    bool neg = *p == '-';
    if (neg)
        p++;
    if (*p == '0' && (is_digit(p[1]) || (p[1] | 0x20) == 'x'))
        return false; /* leading zero, or hex */
    const char *ds = p;
    uint64_t m = 0;
    while (is_digit(*p)) {
        m = m * 10 + (uint64_t)(*p - '0'); /* wraps past 19 digits: unused then */
        p++;
    }
    size_t n_int = (size_t)(p - ds);
    if (n_int >= 1 && n_int <= 19 && *p != '.' && (*p | 0x20) != 'e') {
        double v = (double)m;
        lua_pushnumber(d->L, neg ? -v : v);
        d->p = p;
        return true;
    }
    /* The general shape: digits [. digits] [e [sign] digits], at least one
     * digit before the exponent. */
    int sig = 0;            /* significant digits in m */
    bool exact = true;      /* m holds all of them */
    long exp10 = 0;
    m = 0;
    for (const char *q = ds; q < p; q++) {
        if (m == 0 && *q == '0')
            continue;
        if (++sig > 15) {
            exact = false;
            break;
        }
        m = m * 10 + (uint64_t)(*q - '0');
    }
    size_t n_frac = 0;
    if (*p == '.') {
        p++;
        const char *fs = p;
        while (is_digit(*p)) {
            if (exact && !(m == 0 && *p == '0')) {
                if (++sig > 15)
                    exact = false;
                else
                    m = m * 10 + (uint64_t)(*p - '0');
            }
            if (exact)
                exp10--;
            p++;
        }
        n_frac = (size_t)(p - fs);
    }
    if (n_int + n_frac == 0)
        return false;
    if ((*p | 0x20) == 'e') {
        const char *e = p + 1;
        bool eneg = false;
        if (*e == '+' || *e == '-')
            eneg = *e++ == '-';
        if (is_digit(*e)) {
            long x = 0;
            while (is_digit(*e)) {
                if (x < 100000)
                    x = x * 10 + (*e - '0');
                e++;
            }
            exp10 += eneg ? -x : x;
            p = e;
        }
    }
#if FLT_EVAL_METHOD == 0
    if (exact && m == 0) {
        lua_pushnumber(d->L, neg ? -0.0 : 0.0);
        d->p = p;
        return true;
    }
    if (exact && exp10 >= -22 && exp10 <= 22) {
        double v = (double)m;
        v = exp10 < 0 ? v / pow10_exact[-exp10] : v * pow10_exact[exp10];
        lua_pushnumber(d->L, neg ? -v : v);
        d->p = p;
        return true;
    }
#endif
    char *stop;
    double v = fpconv_strtod(start, &stop);
    if (stop != p)
        return false;
    lua_pushnumber(d->L, v);
    d->p = p;
    return true;
}

/* ---- containers ---- */

/* Depth and stack for a container whose '[' or '{' is at d->p. Pushes the
 * placeholder that becomes its table. The stack is grown STACK_STEP values
 * at a time (lua_checkstack reports failure instead of raising it). */
static bool enter(dec *d)
{
    if (++d->depth > CJSON_MAX_DEPTH || !lua_checkstack(d->L, STACK_SLOTS))
        return false;
    d->p = skip_ws(d->p + 1);
    lua_pushnil(d->L);
    return true;
}

static bool parse_array(dec *d)
{
    lua_State *L = d->L;
    if (!enter(d))
        return false;
    int t = lua_gettop(L);
    if (*d->p == ']') {
        d->p++;
        lua_createtable(L, 0, 0);
        lua_replace(L, t);
        d->depth--;
        return true;
    }
    int n = 0;        /* elements so far */
    bool held = true; /* elements on the stack, no table yet */
    for (;;) {
        if (!parse_value(d))
            return false;
        n++;
        if (!held) {
            lua_rawseti(L, t, n);
        } else if (n % STACK_STEP == 0 && n < PENDING_MAX && !lua_checkstack(L, STACK_SLOTS)) {
            return false;
        } else if (n == PENDING_MAX) {
            lua_createtable(L, n, 0);
            lua_replace(L, t);
            for (int i = n; i >= 1; i--)
                lua_rawseti(L, t, i);
            held = false;
        }
        d->p = skip_ws(d->p);
        if (*d->p == ',') {
            d->p = skip_ws(d->p + 1);
            continue;
        }
        if (*d->p != ']')
            return false;
        d->p++;
        break;
    }
    if (held) {
        lua_createtable(L, n, 0);
        lua_replace(L, t);
        for (int i = n; i >= 1; i--)
            lua_rawseti(L, t, i);
    }
    d->depth--;
    return true;
}

/* Sets the n key-value pairs above the table at t in their order (a later
 * duplicate wins) and pops them. When the keys are known to be distinct,
 * the order does not matter and each lua_rawset takes the topmost pair
 * (one call a pair instead of three). */
static void set_pairs(lua_State *L, int t, int n)
{
    for (int i = 0; i < n; i++) {
        lua_pushvalue(L, t + 1 + 2 * i);
        lua_pushvalue(L, t + 2 + 2 * i);
        lua_rawset(L, t);
    }
    lua_settop(L, t);
}

static bool parse_object(dec *d)
{
    lua_State *L = d->L;
    if (!enter(d))
        return false;
    int t = lua_gettop(L);
    if (*d->p == '}') {
        d->p++;
        lua_createtable(L, 0, 0);
        lua_replace(L, t);
        d->depth--;
        return true;
    }
    int n = 0;
    bool held = true;
    /* Whether the keys so far are distinct: all from the key cache, each
     * slot (so each string) once. */
    bool distinct = d->kc != NULL;
    uint64_t seen[KEYS_SLOTS / 64] = {0};
    for (;;) {
        if (*d->p != '"')
            return false;
        d->p++;
        int slot;
        if (!parse_key(d, &slot))
            return false;
        if (distinct) {
            uint64_t bit = slot < 0 ? 0 : (uint64_t)1 << (slot & 63);
            if (slot < 0 || (seen[slot >> 6] & bit))
                distinct = false;
            else
                seen[slot >> 6] |= bit;
        }
        d->p = skip_ws(d->p);
        if (*d->p != ':')
            return false;
        d->p = skip_ws(d->p + 1);
        if (!parse_value(d))
            return false;
        n++;
        if (!held) {
            lua_rawset(L, t);
        } else if (n % STACK_STEP == 0 && n < PENDING_MAX && !lua_checkstack(L, STACK_SLOTS)) {
            return false;
        } else if (n == PENDING_MAX) {
            lua_createtable(L, 0, n);
            lua_replace(L, t);
            set_pairs(L, t, n);
            held = false;
        }
        d->p = skip_ws(d->p);
        if (*d->p == ',') {
            d->p = skip_ws(d->p + 1);
            continue;
        }
        if (*d->p != '}')
            return false;
        d->p++;
        break;
    }
    if (held) {
        lua_createtable(L, 0, n);
        lua_replace(L, t);
        if (distinct) {
            for (int i = 0; i < n; i++)
                lua_rawset(L, t);
        } else {
            set_pairs(L, t, n);
        }
    }
    d->depth--;
    return true;
}

/* One value at d->p (whitespace already skipped): pushes it. */
static bool parse_value(dec *d)
{
    const char *p = d->p;
    switch (*p) {
    case '"':
        d->p++;
        return parse_string(d);
    case '{':
        return parse_object(d);
    case '[':
        return parse_array(d);
    case 't':
        if (p[1] != 'r' || p[2] != 'u' || p[3] != 'e')
            return false;
        lua_pushboolean(d->L, 1);
        d->p += 4;
        return true;
    case 'f':
        if (p[1] != 'a' || p[2] != 'l' || p[3] != 's' || p[4] != 'e')
            return false;
        lua_pushboolean(d->L, 0);
        d->p += 5;
        return true;
    case 'n':
        if (p[1] != 'u' || p[2] != 'l' || p[3] != 'l')
            return false;
        lua_pushlightuserdata(d->L, NULL);
        d->p += 4;
        return true;
    case '-':
    case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        return parse_number(d);
    default:
        return false;
    }
}

/* rule_decode_value, with the key cache kc (NULL: none) whose anchor table
 * is at stack slot kc_anchor. */
static bool decode_value(lua_State *L, const char *s, size_t len, keycache *kc, int kc_anchor)
{
    if (len >= 2 && (s[0] == '\0' || s[1] == '\0'))
        return false; /* cjson's UTF-16/UTF-32 refusal */
    if (!lua_checkstack(L, STACK_SLOTS))
        return false;
    int top = lua_gettop(L);
    lua_pushnil(L); /* the anchor of a big scratch */
    dec d;
    d.L = L;
    d.kc = kc;
    d.kc_anchor = kc_anchor;
    d.p = skip_ws(s);
    d.end = s + len;
    d.depth = 0;
    d.anchor = top + 1;
    d.big = NULL;
    d.big_cap = 0;
    if (!parse_value(&d) || *skip_ws(d.p) != '\0') {
        lua_settop(L, top);
        return false;
    }
    lua_replace(L, top + 1);
    return true;
}

bool rule_decode_value(lua_State *L, const char *s, size_t len)
{
    return decode_value(L, s, len, NULL, 0);
}

int rule_decode(lua_State *L)
{
    if (lua_gettop(L) == 1 && lua_type(L, 1) == LUA_TSTRING) {
        size_t len;
        const char *s = lua_tolstring(L, 1, &len);
        keycache *kc = lua_touserdata(L, lua_upvalueindex(2));
        int anchor = 0;
        if (kc != NULL) {
            lua_getiuservalue(L, lua_upvalueindex(2), 1);
            anchor = lua_gettop(L);
        }
        if (decode_value(L, s, len, kc, anchor))
            return 1;
        lua_settop(L, 1);
    }
    /* cjson.decode says what is wrong (or, should it accept the text,
     * decodes it). */
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

void rule_decode_push(lua_State *L)
{
    keycache *kc = lua_newuserdatauv(L, sizeof *kc, 1);
    memset(kc, 0, sizeof *kc);
    lua_createtable(L, KEYS_MAX, 0);
    lua_setiuservalue(L, -2, 1);
    lua_pushcclosure(L, rule_decode, 2);
}
