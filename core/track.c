/* track.c: phrase matching as the stream's `track` does it (see track.h).
 *
 * Every rule below mirrors a line of the pure-Lua matcher in
 * lua/tweetmatch.lua (norm, trim, url_token, is_url, add_phrase, scan,
 * scan_url, hit); tests/data/scripts/track_diff.lua runs both on the same
 * input and requires the same answers. "Word" bytes are Lua's
 * [%w_\128-\255] in the C locale; "space" is %s (ASCII isspace). */
#include "track.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAP_WORD, MAP_HASHTAG, MAP_MENTION, N_MAPS };

enum { C_SPACE = 1, C_WORD = 2, C_ALPHA = 4, C_SCHEME = 8, C_LEAD = 16 };

/* The classes of each byte: space (Lua's %s), word ([%w_\128-\255]),
 * ASCII letter (%a), scheme ([%w%+%.%-]), and the lead bytes of the
 * blocks norm rewrites (C2 D8-DB E0 E2 E3 EF F0; lua: UPAT). */
static const uint8_t cls[256] = {
     0,  0,  0,  0,  0,  0,  0,  0,  0,  1,  1,  1,  1,  1,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     1,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  8,  0,  8,  8,  0,
    10, 10, 10, 10, 10, 10, 10, 10, 10, 10,  0,  0,  0,  0,  0,  0,
     0, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14,
    14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14,  0,  0,  0,  0,  2,
     0, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14,
    14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14,  0,  0,  0,  0,  0,
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,
     2,  2, 18,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,
     2,  2,  2,  2,  2,  2,  2,  2, 18, 18, 18, 18,  2,  2,  2,  2,
    18,  2, 18, 18,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2, 18,
    18,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,
};

#define IS_SPACE(b) (cls[(uint8_t)(b)] & C_SPACE)
#define IS_WORD(b) (cls[(uint8_t)(b)] & C_WORD)

typedef struct phrase {
    uint32_t text_off, text_len; /* in strings: the phrase as written, trimmed */
    uint32_t need;               /* distinct terms */
    uint32_t stamp, count;       /* terms seen by run `stamp` */
} phrase;

typedef struct entry {
    uint32_t key_off, key_len; /* in strings */
    uint32_t hash;
    uint32_t seen;  /* the last run that saw the term (while building: last phrase + 1) */
    uint32_t first; /* first posting + 1; 0: none */
    uint8_t map;
    bool single;    /* some phrase is this term alone */
} entry;

typedef struct slot {
    uint32_t hash;
    uint32_t entry; /* entry + 1; 0: empty */
} slot;

typedef struct posting {
    uint32_t phrase;
    uint32_t next; /* posting + 1; 0: end */
} posting;

struct track {
    size_t bytes;
    bool owned; /* from track_new */
    uint32_t n_phrases, n_entries, n_postings;
    uint32_t mask; /* slots - 1 */
    uint32_t stamp;
    /* Quick rejection before hashing: bit min(len, 63) of lens[map] and
     * bit b of firsts[map] are set when some key of that map has that
     * length or first byte. */
    uint64_t lens[N_MAPS];
    uint64_t firsts[N_MAPS][4];
    phrase *phrases;
    entry *entries;
    slot *slots;
    posting *postings;
    char *strings;
    size_t strings_len;
};

const char *track_status_str(track_status st)
{
    switch (st) {
    case TRACK_OK: return "ok";
    case TRACK_LIST_TOO_LONG: return "the phrase list is over the limit of 1048576 bytes (TRACK_MAX_LIST_BYTES)";
    case TRACK_TOO_MANY: return "the phrase list holds over 100000 phrases (TRACK_MAX_PHRASES)";
    }
    return "unknown status";
}

size_t track_scratch_bytes(size_t len)
{
    return 2 * len + 8;
}

/* ---- normalisation (lua: norm) ---- */

/* What one UTF-8 sequence becomes (lua: classify). Returns the length of
 * the replacement in *rep, or SEQ_KEEP (as it is) or SEQ_SPACED (itself
 * with a space on each side: a token of its own). */
enum { SEQ_KEEP = -1, SEQ_SPACED = -2 };

static int classify(uint32_t cp, const char **rep)
{
    if (cp == 0x85 || cp == 0xA0 || (cp >= 0x2000 && cp <= 0x200B) || cp == 0x2028 || cp == 0x2029 ||
        cp == 0x202F || cp == 0x205F || cp == 0x3000 || cp == 0xFEFF)
        return *rep = " ", 1;
    if (cp == 0xAD || (cp >= 0x200C && cp <= 0x200F) || (cp >= 0x202A && cp <= 0x202E) ||
        (cp >= 0x2060 && cp <= 0x2069) || cp == 0xFE0E || cp == 0xFE0F) {
        if (cp == 0x200C) /* ZWNJ joins letters in Persian */
            return SEQ_KEEP;
        return *rep = "", 0;
    }
    const char *p = NULL;
    switch (cp) {
    case 0x00A1: p = "!"; break;
    case 0x00BF: p = "?"; break;
    case 0x00AB: case 0x00BB: p = "\""; break;
    case 0x00B4: p = "'"; break;
    case 0x2018: case 0x2019: case 0x201A: case 0x201B: case 0x2032: case 0x2035: case 0x2039: case 0x203A:
        p = "'";
        break;
    case 0x201C: case 0x201D: case 0x201E: case 0x201F: case 0x2033: p = "\""; break;
    case 0x2010: case 0x2011: case 0x2012: case 0x2013: case 0x2014: case 0x2015: case 0x2212: p = "-"; break;
    case 0x2024: p = "."; break;
    case 0x2025: p = ".."; break;
    case 0x2026: p = "..."; break;
    case 0x203C: p = "!!"; break;
    case 0x2047: p = "??"; break;
    case 0x2048: p = "?!"; break;
    case 0x2049: p = "!?"; break;
    case 0x3001: p = ","; break;
    case 0x3002: p = "."; break;
    case 0x301C: case 0x3030: p = "~"; break;
    case 0x3003: case 0x301D: case 0x301E: case 0x301F: p = "\""; break;
    case 0x060C: case 0x060D: p = ","; break;
    case 0x061B: p = ";"; break;
    case 0x061F: p = "?"; break;
    case 0x066A: p = "%"; break;
    case 0x06D4: case 0x0964: case 0x0965: case 0x0E5A: case 0x0E5B: p = "."; break;
    case 0xFF61: p = "."; break;
    case 0xFF64: p = ","; break;
    }
    if (p)
        return *rep = p, (int)strlen(p);
    if ((cp >= 0xFF01 && cp <= 0xFF0F) || (cp >= 0xFF1A && cp <= 0xFF20) || (cp >= 0xFF3B && cp <= 0xFF40) ||
        (cp >= 0xFF5B && cp <= 0xFF5E)) {
        /* fullwidth punctuation: its ASCII form (fullwidth letters stay) */
        static const char ascii[128] = " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`"
                                       "abcdefghijklmnopqrstuvwxyz{|}~";
        return *rep = &ascii[cp - 0xFEE0 - 0x20], 1;
    }
    if ((cp >= 0xA2 && cp <= 0xA5) || (cp >= 0x20A0 && cp <= 0x20CF))
        return *rep = "$", 1;
    if ((cp >= 0x2190 && cp <= 0x2BFF) || (cp >= 0x1F000 && cp <= 0x1FAFF) || cp == 0x303D || cp == 0x3297 ||
        cp == 0x3299 || cp == 0x2122 || cp == 0x2139 || cp == 0xA9 || cp == 0xAE)
        return SEQ_SPACED;
    if ((cp >= 0xA6 && cp <= 0xBF && cp != 0xAA && cp != 0xB2 && cp != 0xB3 && cp != 0xB5 && cp != 0xB9 &&
         cp != 0xBA && cp < 0xBC) ||
        (cp >= 0x2016 && cp <= 0x205E) || (cp >= 0x2E00 && cp <= 0x2E7F) || (cp >= 0x3008 && cp <= 0x301B) ||
        cp == 0x30FB || (cp >= 0xFE10 && cp <= 0xFE19) || (cp >= 0xFE30 && cp <= 0xFE6B) ||
        (cp >= 0xFF5F && cp <= 0xFF65))
        return *rep = "*", 1;
    return SEQ_KEEP;
}

/* Rewrites the sequence s[0..n) (a lead byte and n-1 >= 1 continuation
 * bytes, however many: Lua's pattern takes them all) into out; returns the
 * bytes written (at most 2n). The code point comes from the lua codepoint()
 * arithmetic, which does not check the lead against the length. */
static size_t map_seq(const uint8_t *s, size_t n, uint8_t *out)
{
    uint32_t cp;
    if (n == 2)
        cp = (uint32_t)(s[0] & 0x1F) << 6 | (s[1] & 0x3F);
    else if (n == 3)
        cp = (uint32_t)(s[0] & 0x0F) << 12 | (uint32_t)(s[1] & 0x3F) << 6 | (s[2] & 0x3F);
    else if (n == 4)
        cp = (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3F) << 12 | (uint32_t)(s[2] & 0x3F) << 6 |
             (s[3] & 0x3F);
    else
        return memcpy(out, s, n), n;
    const char *rep = NULL;
    int r = classify(cp, &rep);
    if (r == SEQ_KEEP)
        return memcpy(out, s, n), n;
    if (r == SEQ_SPACED) {
        out[0] = ' ';
        memcpy(out + 1, s, n);
        out[n + 1] = ' ';
        return n + 2;
    }
    memcpy(out, rep, (size_t)r);
    return (size_t)r;
}

/* Decodes &amp; &lt; &gt; &quot; in place (lua: gsub(s, "&(%a+);", HTML)). */
static size_t entities(uint8_t *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (s[i] != '&') {
            s[o++] = s[i++];
            continue;
        }
        size_t j = i + 1;
        while (j < n && (cls[s[j]] & C_ALPHA))
            j++;
        if (j > i + 1 && j < n && s[j] == ';') {
            const uint8_t *name = s + i + 1;
            size_t len = j - i - 1;
            int c = -1;
            if (len == 3 && memcmp(name, "amp", 3) == 0)
                c = '&';
            else if (len == 2 && memcmp(name, "lt", 2) == 0)
                c = '<';
            else if (len == 2 && memcmp(name, "gt", 2) == 0)
                c = '>';
            else if (len == 4 && memcmp(name, "quot", 4) == 0)
                c = '"';
            if (c >= 0) {
                s[o++] = (uint8_t)c;
                i = j + 1;
                continue;
            }
        }
        s[o++] = s[i++];
    }
    return o;
}

/* out = norm(s): ASCII lower-cased, Unicode rewritten, entities decoded.
 * out holds >= 2n bytes. Returns the length. */
static size_t norm(const uint8_t *s, size_t n, uint8_t *out)
{
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        /* Eight ASCII bytes at once: each byte + 0x3F (+ 0x25) has its high
         * bit set when the byte is >= 'A' (> 'Z'); no carry crosses bytes. */
        while (n - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & highs)
                break;
            uint64_t upper = (w + ones * (0x80 - 'A')) & ~(w + ones * (0x80 - 'Z' - 1)) & highs;
            w |= upper >> 2;
            memcpy(out + o, &w, 8);
            i += 8;
            o += 8;
        }
        if (i == n)
            break;
        uint8_t b = s[i];
        if (b < 0x80) {
            out[o++] = (b >= 'A' && b <= 'Z') ? (uint8_t)(b + 32) : b;
            i++;
            continue;
        }
        if (!(cls[b] & C_LEAD) || i + 1 >= n || (s[i + 1] & 0xC0) != 0x80) {
            out[o++] = b;
            i++;
            continue;
        }
        size_t j = i + 2;
        while (j < n && (s[j] & 0xC0) == 0x80)
            j++;
        o += map_seq(s + i, j - i, out + o);
        i = j;
    }
    if (memchr(out, '&', o))
        o = entities(out, o);
    return o;
}

size_t track_norm(const char *s, size_t len, char *out)
{
    return norm((const uint8_t *)s, len, (uint8_t *)out);
}

/* ---- URLs (lua: is_url, url_token) ---- */

static bool starts(const uint8_t *w, size_t n, const char *prefix)
{
    size_t k = strlen(prefix);
    return n >= k && memcmp(w, prefix, k) == 0;
}

/* "http://", "https://" or "www." at w. */
static bool is_url(const uint8_t *w, size_t n)
{
    if (n == 0)
        return false;
    if (w[0] == 'h')
        return starts(w, n, "http://") || starts(w, n, "https://");
    return w[0] == 'w' && starts(w, n, "www.");
}

/* The URL token of w: without scheme, "www.", query, fragment and trailing
 * non-word bytes: w[*off .. *off + *len). *host_len: its prefix up to the
 * first '/' or ':' (0: none). */
static void url_token(const uint8_t *w, size_t n, size_t *off, size_t *len, size_t *host_len)
{
    size_t i = 0;
    if (n && (cls[w[0]] & C_ALPHA)) {
        size_t j = 1;
        while (j < n && (cls[w[j]] & C_SCHEME))
            j++;
        if (n - j >= 3 && w[j] == ':' && w[j + 1] == '/' && w[j + 2] == '/')
            i = j + 3;
    }
    if (starts(w + i, n - i, "www."))
        i += 4;
    size_t end = i;
    while (end < n && w[end] != '?' && w[end] != '#')
        end++;
    while (end > i && !IS_WORD(w[end - 1]))
        end--;
    size_t h = i;
    while (h < end && w[h] != '/' && w[h] != ':')
        h++;
    *off = i;
    *len = end - i;
    *host_len = h - i;
}

/* ---- the index ---- */

static uint32_t hash_key(int map, const uint8_t *k, size_t n)
{
    uint32_t h = 2166136261u ^ (uint32_t)map * 0x9E3779B9u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ k[i]) * 16777619u;
    return h ^ (h >> 15);
}

static bool may_hold(const track *t, int map, const uint8_t *k, size_t n)
{
    if (!(t->lens[map] >> (n < 63 ? n : 63) & 1))
        return false;
    return t->firsts[map][k[0] >> 6] >> (k[0] & 63) & 1;
}

static entry *find(const track *t, int map, const uint8_t *k, size_t n)
{
    if (n == 0 || !may_hold(t, map, k, n))
        return NULL;
    uint32_t h = hash_key(map, k, n);
    for (uint32_t i = h & t->mask;; i = (i + 1) & t->mask) {
        const slot *s = &t->slots[i];
        if (s->entry == 0)
            return NULL;
        if (s->hash != h)
            continue;
        entry *e = &t->entries[s->entry - 1];
        if (e->map == map && e->key_len == n && memcmp(t->strings + e->key_off, k, n) == 0)
            return e;
    }
}

/* A phrase's term: which map, and the key (in the normalised phrase). */
typedef struct term {
    int map;
    const uint8_t *key;
    size_t len;
} term;

/* The term of token w (lua: url_term, then add_term's choice of map). */
static bool make_term(const uint8_t *w, size_t n, term *out)
{
    if (is_url(w, n)) {
        size_t off, len, host;
        url_token(w, n, &off, &len, &host);
        w += off;
        n = len;
    }
    if (n == 0)
        return false;
    out->map = MAP_WORD;
    out->key = w;
    out->len = n;
    if ((w[0] == '#' || w[0] == '@') && n > 1) {
        size_t i = 1;
        while (i < n && IS_WORD(w[i]))
            i++;
        if (i == n) {
            out->map = w[0] == '#' ? MAP_HASHTAG : MAP_MENTION;
            out->key = w + 1;
            out->len = n - 1;
        }
    }
    return true;
}

/* Calls each of the comma-separated phrases of list, trimmed of space,
 * normalised into scratch; a phrase trimmed to nothing is skipped. */
typedef struct phrase_iter {
    const uint8_t *list;
    size_t len, pos;
    uint8_t *scratch;
    /* the current phrase */
    const uint8_t *text;
    size_t text_len;
    const uint8_t *norm;
    size_t norm_len, norm_pos;
} phrase_iter;

static bool next_phrase(phrase_iter *it)
{
    while (it->pos < it->len) {
        size_t a = it->pos;
        while (a < it->len && it->list[a] == ',')
            a++;
        size_t b = a;
        while (b < it->len && it->list[b] != ',')
            b++;
        it->pos = b;
        while (a < b && IS_SPACE(it->list[a]))
            a++;
        while (b > a && IS_SPACE(it->list[b - 1]))
            b--;
        if (a == b)
            continue;
        it->text = it->list + a;
        it->text_len = b - a;
        it->norm = it->scratch;
        it->norm_len = norm(it->text, it->text_len, it->scratch);
        it->norm_pos = 0;
        return true;
    }
    return false;
}

/* The next term of the current phrase, repeats included. */
static bool next_term(phrase_iter *it, term *out)
{
    const uint8_t *s = it->norm;
    size_t n = it->norm_len;
    while (it->norm_pos < n) {
        size_t a = it->norm_pos;
        while (a < n && IS_SPACE(s[a]))
            a++;
        size_t b = a;
        while (b < n && !IS_SPACE(s[b]))
            b++;
        it->norm_pos = b;
        if (a < b && make_term(s + a, b - a, out))
            return true;
    }
    return false;
}

static void iter_init(phrase_iter *it, const char *list, size_t len, char *scratch)
{
    memset(it, 0, sizeof *it);
    it->list = (const uint8_t *)list;
    it->len = len;
    it->scratch = (uint8_t *)scratch;
}

static size_t align8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

/* Sizes of the parts of an index for at most `phrases` phrases, `terms`
 * terms and `chars` bytes of phrase text and keys. */
typedef struct layout {
    size_t phrases, entries, slots, postings, strings, total; /* offsets */
    size_t n_slots;
} layout;

static layout plan(size_t phrases, size_t terms, size_t chars)
{
    size_t slots = 16;
    while (slots < 2 * terms)
        slots *= 2;
    layout l;
    l.n_slots = slots;
    l.phrases = align8(sizeof(track));
    l.entries = l.phrases + align8(phrases * sizeof(phrase));
    l.slots = l.entries + align8(terms * sizeof(entry));
    l.postings = l.slots + slots * sizeof(slot);
    l.strings = l.postings + align8(terms * sizeof(posting));
    l.total = l.strings + align8(chars + 1);
    return l;
}

/* Lays out the index of list. The counts are bounds: repeated terms are
 * counted each time. */
static track_status measure(const char *list, size_t len, char *scratch, size_t scratch_bytes, layout *l)
{
    if (len > TRACK_MAX_LIST_BYTES)
        return TRACK_LIST_TOO_LONG;
    if (scratch_bytes < track_scratch_bytes(len))
        abort(); /* the caller's bug: see track.h */
    size_t phrases = 0, terms = 0, chars = 0;
    phrase_iter it;
    iter_init(&it, list, len, scratch);
    while (next_phrase(&it)) {
        size_t n = 0;
        term tm;
        while (next_term(&it, &tm)) {
            n++;
            chars += tm.len;
        }
        if (n == 0)
            continue;
        if (++phrases > TRACK_MAX_PHRASES)
            return TRACK_TOO_MANY;
        terms += n;
        chars += it.text_len;
    }
    *l = plan(phrases, terms, chars);
    return TRACK_OK;
}

track_status track_measure(const char *list, size_t len, char *scratch, size_t scratch_bytes, size_t *bytes)
{
    layout l;
    track_status st = measure(list, len, scratch, scratch_bytes, &l);
    *bytes = st == TRACK_OK ? l.total : 0;
    return st;
}

static uint32_t put_string(track *t, const void *s, size_t n)
{
    uint32_t off = (uint32_t)t->strings_len;
    memcpy(t->strings + off, s, n);
    t->strings_len += n;
    return off;
}

/* The entry of term tm, added if new. */
static entry *intern(track *t, const term *tm)
{
    uint32_t h = hash_key(tm->map, tm->key, tm->len);
    uint32_t i = h & t->mask;
    for (;; i = (i + 1) & t->mask) {
        slot *s = &t->slots[i];
        if (s->entry == 0)
            break;
        entry *e = &t->entries[s->entry - 1];
        if (s->hash == h && e->map == tm->map && e->key_len == tm->len &&
            memcmp(t->strings + e->key_off, tm->key, tm->len) == 0)
            return e;
    }
    entry *e = &t->entries[t->n_entries++];
    memset(e, 0, sizeof *e);
    e->map = (uint8_t)tm->map;
    e->key_len = (uint32_t)tm->len;
    e->key_off = put_string(t, tm->key, tm->len);
    e->hash = h;
    t->slots[i].hash = h;
    t->slots[i].entry = t->n_entries;
    size_t n = tm->len < 63 ? tm->len : 63;
    t->lens[tm->map] |= (uint64_t)1 << n;
    t->firsts[tm->map][tm->key[0] >> 6] |= (uint64_t)1 << (tm->key[0] & 63);
    return e;
}

track *track_build(void *mem, size_t bytes, const char *list, size_t len, char *scratch, size_t scratch_bytes)
{
    layout l;
    if (measure(list, len, scratch, scratch_bytes, &l) != TRACK_OK || bytes < l.total)
        abort(); /* the caller's bug: mem is not what track_measure asked for */
    char *base = mem;
    memset(base, 0, l.total);
    track *t = mem;
    t->bytes = bytes;
    t->phrases = (phrase *)(base + l.phrases);
    t->entries = (entry *)(base + l.entries);
    t->slots = (slot *)(base + l.slots);
    t->postings = (posting *)(base + l.postings);
    t->strings = base + l.strings;
    t->mask = (uint32_t)(l.n_slots - 1);

    phrase_iter it;
    iter_init(&it, list, len, scratch);
    while (next_phrase(&it)) {
        uint32_t pid = t->n_phrases, distinct = 0;
        entry *first = NULL;
        term tm;
        while (next_term(&it, &tm)) {
            entry *e = intern(t, &tm);
            if (e->seen == pid + 1)
                continue; /* a repeat within the phrase */
            e->seen = pid + 1;
            posting *p = &t->postings[t->n_postings++];
            p->phrase = pid;
            p->next = e->first;
            e->first = t->n_postings;
            if (distinct++ == 0)
                first = e;
        }
        if (distinct == 0)
            continue;
        phrase *ph = &t->phrases[t->n_phrases++];
        ph->text_off = put_string(t, it.text, it.text_len);
        ph->text_len = (uint32_t)it.text_len;
        ph->need = distinct;
        if (distinct == 1)
            first->single = true;
    }
    for (uint32_t i = 0; i < t->n_entries; i++)
        t->entries[i].seen = 0;
    return t;
}

track_status track_new(const char *list, size_t len, track **out)
{
    *out = NULL;
    if (len > TRACK_MAX_LIST_BYTES)
        return TRACK_LIST_TOO_LONG;
    size_t sb = track_scratch_bytes(len);
    char *scratch = xmalloc(sb);
    size_t bytes;
    track_status st = track_measure(list, len, scratch, sb, &bytes);
    if (st == TRACK_OK) {
        *out = track_build(xmalloc(bytes), bytes, list, len, scratch, sb);
        (*out)->owned = true;
    }
    free(scratch);
    return st;
}

void track_free(track *t)
{
    if (t && t->owned)
        free(t);
}

uint32_t track_phrase_count(const track *t)
{
    return t->n_phrases;
}

const char *track_phrase(const track *t, uint32_t i, size_t *len)
{
    *len = t->phrases[i].text_len;
    return t->strings + t->phrases[i].text_off;
}

/* ---- matching (lua: hit, scan, scan_url) ---- */

void track_run_begin(track_run *run, track *t, char *scratch, size_t scratch_bytes, uint32_t *found)
{
    run->t = t;
    run->scratch = scratch;
    run->scratch_bytes = scratch_bytes;
    run->found = found;
    run->n_found = 0;
    run->matched = false;
    if (++t->stamp == 0) {
        /* After 2^32 runs: forget every stamp, once. */
        for (uint32_t i = 0; i < t->n_entries; i++)
            t->entries[i].seen = 0;
        for (uint32_t i = 0; i < t->n_phrases; i++)
            t->phrases[i].stamp = 0;
        t->stamp = 1;
    }
}

/* Records that the term of e occurs; true when the run may stop. */
static bool hit(track_run *run, entry *e)
{
    track *t = run->t;
    uint32_t stamp = t->stamp;
    if (e->seen == stamp)
        return false;
    e->seen = stamp;
    bool all = run->found != NULL;
    if (e->single && !all)
        return run->matched = true;
    for (uint32_t k = e->first; k; k = t->postings[k - 1].next) {
        uint32_t pid = t->postings[k - 1].phrase;
        phrase *ph = &t->phrases[pid];
        bool got;
        if (ph->need == 1) {
            got = true;
        } else if (ph->stamp != stamp) {
            ph->stamp = stamp;
            ph->count = 1;
            got = false;
        } else {
            got = ++ph->count == ph->need;
        }
        if (got) {
            run->matched = true;
            if (!all)
                return true;
            run->found[run->n_found++] = pid;
        }
    }
    return false;
}

static bool look(track_run *run, int map, const uint8_t *k, size_t n)
{
    entry *e = find(run->t, map, k, n);
    return e && hit(run, e);
}

static bool scan_url(track_run *run, const uint8_t *w, size_t n)
{
    size_t off, len, host;
    url_token(w, n, &off, &len, &host);
    if (look(run, MAP_WORD, w + off, len))
        return true;
    return host && host != len && look(run, MAP_WORD, w + off, host);
}

/* One token of a text. */
static bool scan_word(track_run *run, const uint8_t *w, size_t n)
{
    size_t k = 0;
    while (k < n && IS_WORD(w[k]))
        k++;
    if (k == n)
        return look(run, MAP_WORD, w, n);
    if (is_url(w, n))
        return scan_url(run, w, n);
    size_t first = 0;
    while (first < n && !IS_WORD(w[first]))
        first++;
    if (first < n && first > 0 && is_url(w + first, n - first))
        return scan_url(run, w + first, n - first);
    if (look(run, MAP_WORD, w, n))
        return true;
    if (first == n)
        return false;
    size_t last = n;
    while (!IS_WORD(w[last - 1]))
        last--;
    if ((first > 0 || last < n) && look(run, MAP_WORD, w + first, last - first))
        return true;
    for (size_t p = first; p < n;) {
        while (p < n && !IS_WORD(w[p]))
            p++;
        if (p == n)
            break;
        size_t a = p;
        while (p < n && IS_WORD(w[p]))
            p++;
        if (look(run, MAP_WORD, w + a, p - a))
            return true;
        if (a > 0 && w[a - 1] == '#' && look(run, MAP_HASHTAG, w + a, p - a))
            return true;
        if (a > 0 && w[a - 1] == '@' && look(run, MAP_MENTION, w + a, p - a))
            return true;
    }
    return false;
}

static const uint8_t *normalise(track_run *run, const char *s, size_t len, size_t *n)
{
    if (len > TRACK_MAX_TEXT_BYTES || run->scratch_bytes < track_scratch_bytes(len)) {
        fprintf(stderr, "track: a view of %zu bytes with %zu bytes of scratch\n", len, run->scratch_bytes);
        abort(); /* the caller's bug: see track.h */
    }
    *n = norm((const uint8_t *)s, len, (uint8_t *)run->scratch);
    return (const uint8_t *)run->scratch;
}

bool track_run_text(track_run *run, const char *text, size_t len)
{
    if ((run->matched && !run->found) || run->t->n_phrases == 0)
        return run->matched;
    size_t n;
    const uint8_t *s = normalise(run, text, len, &n);
    for (size_t i = 0; i < n;) {
        while (i < n && IS_SPACE(s[i]))
            i++;
        size_t a = i;
        while (i < n && !IS_SPACE(s[i]))
            i++;
        if (a < i && scan_word(run, s + a, i - a))
            break;
    }
    return run->matched;
}

bool track_run_link(track_run *run, const char *url, size_t len)
{
    if ((run->matched && !run->found) || run->t->n_phrases == 0)
        return run->matched;
    size_t n;
    const uint8_t *s = normalise(run, url, len, &n);
    scan_url(run, s, n);
    return run->matched;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

uint32_t track_run_end(track_run *run)
{
    if (!run->found)
        return run->matched ? 1 : 0;
    qsort(run->found, run->n_found, sizeof *run->found, cmp_u32);
    return run->n_found;
}
