/* json.c: see json.h. */
#include "json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

void json_put_string(buf *b, const char *s, size_t n)
{
    buf_putc(b, '"');
    json_put_escaped(b, s, n);
    buf_putc(b, '"');
}

void json_put_escaped(buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0; /* start of the pending run of bytes needing no escape */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        buf_put(b, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"': buf_put(b, "\\\"", 2); break;
        case '\\': buf_put(b, "\\\\", 2); break;
        case '\n': buf_put(b, "\\n", 2); break;
        case '\r': buf_put(b, "\\r", 2); break;
        case '\t': buf_put(b, "\\t", 2); break;
        case '\b': buf_put(b, "\\b", 2); break;
        case '\f': buf_put(b, "\\f", 2); break;
        default: {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            buf_put(b, e, 6);
        }
        }
    }
    buf_put(b, s + run, n - run);
}

/* Rewrites printf's exponent ("e+07", "e-05") as "e+7", "e-5". */
static size_t tidy_exponent(char *s, size_t n)
{
    char *e = strchr(s, 'e');
    if (e == NULL)
        return n;
    char *d = e + 2; /* after the sign */
    char *z = d;
    while (*z == '0' && z[1] != '\0')
        z++;
    memmove(d, z, strlen(z) + 1);
    return strlen(s);
}

size_t json_format_double(double d, char *out)
{
    if (!isfinite(d))
        return 0;
    if (d == 0) {
        /* -0 has no DynamoDB form distinct from 0. */
        memcpy(out, "0", 2);
        return 1;
    }
    if (d == floor(d) && fabs(d) < 1e21)
        return (size_t)snprintf(out, JSON_NUM_MAX, "%.0f", d);
    /* Shortest precision that reads back as the same double. */
    for (int prec = 1; prec <= 17; prec++) {
        int n = snprintf(out, JSON_NUM_MAX, "%.*g", prec, d);
        if (strtod(out, NULL) == d)
            return tidy_exponent(out, (size_t)n);
    }
    int n = snprintf(out, JSON_NUM_MAX, "%.17g", d);
    return tidy_exponent(out, (size_t)n);
}

/* ---- reading ---- */

typedef struct parser {
    const char *s;
    size_t n, i;
    arena *a;
    int depth, max_depth;
    char *err;
} parser;

static bool perr(parser *p, const char *what)
{
    if (p->err == NULL) {
        if (p->i >= p->n)
            p->err = xasprintf("invalid JSON at byte %zu: %s, found the end of the text", p->i, what);
        else
            p->err = xasprintf("invalid JSON at byte %zu: %s", p->i, what);
    }
    return false;
}

static void skip_ws(parser *p)
{
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r'))
        p->i++;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool read_u16(parser *p, unsigned *out)
{
    if (p->n - p->i < 4)
        return perr(p, "incomplete \\u escape");
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        int h = hexval(p->s[p->i + (size_t)k]);
        if (h < 0)
            return perr(p, "bad hex digit in \\u escape");
        v = v * 16 + (unsigned)h;
    }
    p->i += 4;
    *out = v;
    return true;
}

static void put_utf8(buf *b, unsigned cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | cp >> 6);
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | cp >> 12);
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | cp >> 18);
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    buf_put(b, u, n);
}

/* A string at p->i (after the opening quote), decoded into the arena. */
static bool read_string(parser *p, const char **out, size_t *len_out)
{
    size_t start = p->i;
    /* Fast path: no escapes. */
    while (p->i < p->n && p->s[p->i] != '"' && p->s[p->i] != '\\' && (unsigned char)p->s[p->i] >= 0x20)
        p->i++;
    if (p->i < p->n && p->s[p->i] == '"') {
        size_t bad;
        if (!utf8_valid(p->s + start, p->i - start, &bad)) {
            p->i = start + bad;
            return perr(p, "invalid UTF-8 in a string");
        }
        *out = arena_strndup(p->a, p->s + start, p->i - start);
        *len_out = p->i - start;
        p->i++;
        return true;
    }
    buf b;
    buf_init(&b, p->n + 1);
    buf_put(&b, p->s + start, p->i - start);
    bool ok = false;
    while (p->i < p->n) {
        unsigned char c = (unsigned char)p->s[p->i];
        if (c == '"') {
            p->i++;
            ok = true;
            break;
        }
        if (c < 0x20) {
            perr(p, "control character in a string");
            goto out;
        }
        if (c != '\\') {
            buf_putc(&b, (char)c);
            p->i++;
            continue;
        }
        if (++p->i >= p->n) {
            perr(p, "unfinished escape");
            goto out;
        }
        char e = p->s[p->i++];
        switch (e) {
        case '"': buf_putc(&b, '"'); break;
        case '\\': buf_putc(&b, '\\'); break;
        case '/': buf_putc(&b, '/'); break;
        case 'b': buf_putc(&b, '\b'); break;
        case 'f': buf_putc(&b, '\f'); break;
        case 'n': buf_putc(&b, '\n'); break;
        case 'r': buf_putc(&b, '\r'); break;
        case 't': buf_putc(&b, '\t'); break;
        case 'u': {
            unsigned cp;
            if (!read_u16(p, &cp))
                goto out;
            if (cp >= 0xDC00 && cp <= 0xDFFF) {
                perr(p, "lone low surrogate in a \\u escape");
                goto out;
            }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned lo;
                if (p->n - p->i < 2 || p->s[p->i] != '\\' || p->s[p->i + 1] != 'u') {
                    perr(p, "high surrogate not followed by a low one");
                    goto out;
                }
                p->i += 2;
                if (!read_u16(p, &lo))
                    goto out;
                if (lo < 0xDC00 || lo > 0xDFFF) {
                    perr(p, "high surrogate not followed by a low one");
                    goto out;
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            put_utf8(&b, cp);
            break;
        }
        default:
            p->i--;
            perr(p, "unknown escape");
            goto out;
        }
    }
    if (!ok) {
        perr(p, "unterminated string");
        goto out;
    }
    size_t bad;
    if (!utf8_valid(b.data, b.len, &bad)) {
        p->i = start + bad;
        ok = perr(p, "invalid UTF-8 in a string");
        goto out;
    }
    *out = arena_strndup(p->a, b.data ? b.data : "", b.len);
    *len_out = b.len;
out:
    buf_clean_up_secret(&b); /* may hold a credential */
    return ok && p->err == NULL;
}

static bool read_number(parser *p, json_value *v)
{
    size_t start = p->i;
    if (p->i < p->n && p->s[p->i] == '-')
        p->i++;
    if (p->i >= p->n || p->s[p->i] < '0' || p->s[p->i] > '9')
        return perr(p, "expected a digit");
    if (p->s[p->i] == '0')
        p->i++;
    else
        while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
            p->i++;
    if (p->i < p->n && p->s[p->i] == '.') {
        p->i++;
        if (p->i >= p->n || p->s[p->i] < '0' || p->s[p->i] > '9')
            return perr(p, "expected a digit after '.'");
        while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
            p->i++;
    }
    if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
        p->i++;
        if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-'))
            p->i++;
        if (p->i >= p->n || p->s[p->i] < '0' || p->s[p->i] > '9')
            return perr(p, "expected a digit in the exponent");
        while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
            p->i++;
    }
    v->type = JSON_NUMBER;
    v->len = p->i - start;
    v->u.str = arena_strndup(p->a, p->s + start, v->len);
    return true;
}

static bool read_value(parser *p, json_value *v);

/* Elements are gathered in a growing heap array, then moved to the arena. */
static bool read_array(parser *p, json_value *v)
{
    size_t cap = 8, n = 0;
    json_value *tmp = xmalloc(cap * sizeof *tmp);
    skip_ws(p);
    if (p->i < p->n && p->s[p->i] == ']') {
        p->i++;
    } else {
        for (;;) {
            if (n == cap)
                tmp = xrealloc(tmp, (cap *= 2) * sizeof *tmp);
            if (!read_value(p, &tmp[n])) {
                free(tmp);
                return false;
            }
            n++;
            skip_ws(p);
            if (p->i < p->n && p->s[p->i] == ',') {
                p->i++;
                continue;
            }
            if (p->i < p->n && p->s[p->i] == ']') {
                p->i++;
                break;
            }
            free(tmp);
            return perr(p, "expected ',' or ']'");
        }
    }
    v->type = JSON_ARRAY;
    v->len = n;
    v->u.items = arena_alloc(p->a, (n ? n : 1) * sizeof *v->u.items);
    if (n)
        memcpy(v->u.items, tmp, n * sizeof *tmp);
    free(tmp);
    return true;
}

static bool read_object(parser *p, json_value *v)
{
    size_t cap = 8, n = 0;
    json_member *tmp = xmalloc(cap * sizeof *tmp);
    skip_ws(p);
    if (p->i < p->n && p->s[p->i] == '}') {
        p->i++;
    } else {
        for (;;) {
            if (n == cap)
                tmp = xrealloc(tmp, (cap *= 2) * sizeof *tmp);
            skip_ws(p);
            if (p->i >= p->n || p->s[p->i] != '"') {
                free(tmp);
                return perr(p, "expected a member name in quotes");
            }
            p->i++;
            if (!read_string(p, &tmp[n].name, &tmp[n].name_len)) {
                free(tmp);
                return false;
            }
            skip_ws(p);
            if (p->i >= p->n || p->s[p->i] != ':') {
                free(tmp);
                return perr(p, "expected ':'");
            }
            p->i++;
            if (!read_value(p, &tmp[n].value)) {
                free(tmp);
                return false;
            }
            n++;
            skip_ws(p);
            if (p->i < p->n && p->s[p->i] == ',') {
                p->i++;
                continue;
            }
            if (p->i < p->n && p->s[p->i] == '}') {
                p->i++;
                break;
            }
            free(tmp);
            return perr(p, "expected ',' or '}'");
        }
    }
    v->type = JSON_OBJECT;
    v->len = n;
    v->u.members = arena_alloc(p->a, (n ? n : 1) * sizeof *v->u.members);
    if (n)
        memcpy(v->u.members, tmp, n * sizeof *tmp);
    free(tmp);
    return true;
}

static bool literal(parser *p, const char *word, json_type t, json_value *v)
{
    size_t k = strlen(word);
    if (p->n - p->i < k || memcmp(p->s + p->i, word, k) != 0)
        return perr(p, "expected a value");
    p->i += k;
    v->type = t;
    v->len = 0;
    v->u.str = NULL;
    return true;
}

static bool read_value(parser *p, json_value *v)
{
    skip_ws(p);
    if (p->i >= p->n)
        return perr(p, "expected a value");
    char c = p->s[p->i];
    bool ok;
    switch (c) {
    case '{':
    case '[':
        if (++p->depth > p->max_depth)
            return perr(p, "nested too deeply");
        p->i++;
        ok = c == '{' ? read_object(p, v) : read_array(p, v);
        p->depth--;
        return ok;
    case '"':
        p->i++;
        v->type = JSON_STRING;
        return read_string(p, &v->u.str, &v->len);
    case 't':
        return literal(p, "true", JSON_TRUE, v);
    case 'f':
        return literal(p, "false", JSON_FALSE, v);
    case 'n':
        return literal(p, "null", JSON_NULL, v);
    default:
        if (c == '-' || (c >= '0' && c <= '9'))
            return read_number(p, v);
        return perr(p, "expected a value");
    }
}

json_value *json_parse(const char *text, size_t len, arena *a, int max_depth, char **err)
{
    parser p = {.s = text, .n = len, .a = a, .max_depth = max_depth > 0 ? max_depth : JSON_DEFAULT_MAX_DEPTH};
    json_value *v = arena_alloc(a, sizeof *v);
    if (read_value(&p, v)) {
        skip_ws(&p);
        if (p.i == p.n)
            return v;
        perr(&p, "unexpected text after the value");
    }
    *err = p.err;
    return NULL;
}

const json_value *json_get(const json_value *v, const char *name)
{
    if (v == NULL || v->type != JSON_OBJECT)
        return NULL;
    size_t n = strlen(name);
    for (size_t i = v->len; i-- > 0;)
        if (v->u.members[i].name_len == n && memcmp(v->u.members[i].name, name, n) == 0)
            return &v->u.members[i].value;
    return NULL;
}

const char *json_get_str(const json_value *v, const char *name, size_t *len_out)
{
    const json_value *m = json_get(v, name);
    if (m == NULL || m->type != JSON_STRING)
        return NULL;
    if (len_out)
        *len_out = m->len;
    return m->u.str;
}

void json_write(const json_value *v, buf *out)
{
    switch (v->type) {
    case JSON_NULL: buf_puts(out, "null"); break;
    case JSON_TRUE: buf_puts(out, "true"); break;
    case JSON_FALSE: buf_puts(out, "false"); break;
    case JSON_NUMBER: buf_put(out, v->u.str, v->len); break;
    case JSON_STRING: json_put_string(out, v->u.str, v->len); break;
    case JSON_ARRAY:
        buf_putc(out, '[');
        for (size_t i = 0; i < v->len; i++) {
            if (i)
                buf_putc(out, ',');
            json_write(&v->u.items[i], out);
        }
        buf_putc(out, ']');
        break;
    case JSON_OBJECT:
        buf_putc(out, '{');
        for (size_t i = 0; i < v->len; i++) {
            if (i)
                buf_putc(out, ',');
            json_put_string(out, v->u.members[i].name, v->u.members[i].name_len);
            buf_putc(out, ':');
            json_write(&v->u.members[i].value, out);
        }
        buf_putc(out, '}');
        break;
    }
}
