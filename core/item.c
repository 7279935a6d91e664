/* item.c: see item.h. */
#include "item.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

item *item_new(void)
{
    item *it = xcalloc(1, sizeof *it);
    it->arena = arena_new(1024);
    it->root.type = ITEM_M;
    return it;
}

void item_free(item *it)
{
    if (it == NULL)
        return;
    arena_free(it->arena);
    free(it);
}

void *item_alloc(item *it, size_t n)
{
    return arena_alloc(it->arena, n);
}

static int bytes_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    if (c)
        return c;
    return an < bn ? -1 : an > bn;
}

static int attr_cmp(const void *x, const void *y)
{
    const item_attr *a = x, *b = y;
    return bytes_cmp(a->name, a->name_len, b->name, b->name_len);
}

bool item_sort_attrs(item_attr *attrs, size_t n)
{
    if (n > 1)
        qsort(attrs, n, sizeof *attrs, attr_cmp);
    for (size_t i = 1; i < n; i++)
        if (attr_cmp(&attrs[i - 1], &attrs[i]) == 0)
            return false;
    return true;
}

static int val_cmp(const void *x, const void *y)
{
    const item_val *a = x, *b = y;
    return bytes_cmp(a->u.str, a->len, b->u.str, b->len);
}

void item_sort_set(item_val *v)
{
    size_t n = v->len, out = 0;
    if (n > 1)
        qsort(v->u.elems, n, sizeof *v->u.elems, val_cmp);
    for (size_t i = 0; i < n; i++)
        if (out == 0 || val_cmp(&v->u.elems[out - 1], &v->u.elems[i]) != 0)
            v->u.elems[out++] = v->u.elems[i];
    v->len = (uint32_t)out;
}

size_t item_number_size(const char *s, size_t n)
{
    /* Significant digits: the mantissa without sign, point, leading zeros
     * and trailing zeros. */
    size_t end = n;
    for (size_t i = 0; i < n; i++)
        if (s[i] == 'e' || s[i] == 'E') {
            end = i;
            break;
        }
    size_t first = 0, last = 0, digits = 0;
    bool seen = false;
    for (size_t i = 0; i < end; i++) {
        if (s[i] < '0' || s[i] > '9')
            continue;
        if (s[i] != '0') {
            if (!seen)
                first = i;
            seen = true;
            last = i;
        }
    }
    if (seen)
        for (size_t i = first; i <= last; i++)
            digits += s[i] >= '0' && s[i] <= '9';
    return (digits + 1) / 2 + 1;
}

size_t item_val_size(const item_val *v)
{
    size_t size = 0;
    switch (v->type) {
    case ITEM_S:
    case ITEM_B:
        return v->len;
    case ITEM_N:
        return item_number_size(v->u.str, v->len);
    case ITEM_BOOL:
    case ITEM_NULL:
        return 1;
    case ITEM_SS:
    case ITEM_BS:
        for (uint32_t i = 0; i < v->len; i++)
            size += v->u.elems[i].len;
        return size;
    case ITEM_NS:
        for (uint32_t i = 0; i < v->len; i++)
            size += item_number_size(v->u.elems[i].u.str, v->u.elems[i].len);
        return size;
    case ITEM_L:
        /* 3 bytes of overhead, and 1 byte per element. */
        size = 3;
        for (uint32_t i = 0; i < v->len; i++)
            size += item_val_size(&v->u.elems[i]) + 1;
        return size;
    case ITEM_M:
        size = 3;
        for (uint32_t i = 0; i < v->len; i++)
            size += v->u.attrs[i].name_len + item_val_size(&v->u.attrs[i].val) + 1;
        return size;
    }
    return size;
}

static void put_base64(buf *out, const char *s, size_t n)
{
    unsigned char chunk[4 * 256 + 1];
    const unsigned char *p = (const unsigned char *)s;
    /* 768 input bytes make 1024 output characters, keeping chunks aligned. */
    while (n) {
        size_t take = n > 768 ? 768 : n;
        int w = EVP_EncodeBlock(chunk, p, (int)take);
        buf_put(out, chunk, (size_t)w);
        p += take;
        n -= take;
    }
}

static const char *const type_tag[] = {
    [ITEM_S] = "{\"S\":", [ITEM_N] = "{\"N\":", [ITEM_B] = "{\"B\":",
    [ITEM_BOOL] = "{\"BOOL\":", [ITEM_NULL] = "{\"NULL\":", [ITEM_L] = "{\"L\":",
    [ITEM_M] = "{\"M\":", [ITEM_SS] = "{\"SS\":", [ITEM_NS] = "{\"NS\":", [ITEM_BS] = "{\"BS\":",
};

static void write_av_attrs(const item_attr *attrs, uint32_t n, buf *out)
{
    buf_putc(out, '{');
    for (uint32_t i = 0; i < n; i++) {
        if (i)
            buf_putc(out, ',');
        json_put_string(out, attrs[i].name, attrs[i].name_len);
        buf_putc(out, ':');
        item_val_write_av(&attrs[i].val, out);
    }
    buf_putc(out, '}');
}

void item_val_write_av(const item_val *v, buf *out)
{
    buf_puts(out, type_tag[v->type]);
    switch (v->type) {
    case ITEM_S:
    case ITEM_N:
        json_put_string(out, v->u.str, v->len);
        break;
    case ITEM_B:
        buf_putc(out, '"');
        put_base64(out, v->u.str, v->len);
        buf_putc(out, '"');
        break;
    case ITEM_BOOL:
        buf_puts(out, v->u.boolean ? "true" : "false");
        break;
    case ITEM_NULL:
        buf_puts(out, "true");
        break;
    case ITEM_L:
        buf_putc(out, '[');
        for (uint32_t i = 0; i < v->len; i++) {
            if (i)
                buf_putc(out, ',');
            item_val_write_av(&v->u.elems[i], out);
        }
        buf_putc(out, ']');
        break;
    case ITEM_SS:
    case ITEM_NS:
    case ITEM_BS:
        buf_putc(out, '[');
        for (uint32_t i = 0; i < v->len; i++) {
            const item_val *e = &v->u.elems[i];
            if (i)
                buf_putc(out, ',');
            if (v->type == ITEM_BS) {
                buf_putc(out, '"');
                put_base64(out, e->u.str, e->len);
                buf_putc(out, '"');
            } else {
                json_put_string(out, e->u.str, e->len);
            }
        }
        buf_putc(out, ']');
        break;
    case ITEM_M:
        write_av_attrs(v->u.attrs, v->len, out);
        break;
    }
    buf_putc(out, '}');
}

void item_write_av(const item *it, buf *out)
{
    write_av_attrs(it->root.u.attrs, it->root.len, out);
}

static void write_plain(const item_val *v, buf *out)
{
    switch (v->type) {
    case ITEM_S:
        json_put_string(out, v->u.str, v->len);
        break;
    case ITEM_N:
        buf_put(out, v->u.str, v->len);
        break;
    case ITEM_B:
        buf_putc(out, '"');
        put_base64(out, v->u.str, v->len);
        buf_putc(out, '"');
        break;
    case ITEM_BOOL:
        buf_puts(out, v->u.boolean ? "true" : "false");
        break;
    case ITEM_NULL:
        buf_puts(out, "null");
        break;
    case ITEM_L:
    case ITEM_SS:
    case ITEM_NS:
    case ITEM_BS:
        buf_putc(out, '[');
        for (uint32_t i = 0; i < v->len; i++) {
            if (i)
                buf_putc(out, ',');
            item_val e = v->u.elems[i];
            if (v->type != ITEM_L)
                e.type = v->type == ITEM_SS ? ITEM_S : v->type == ITEM_NS ? ITEM_N : ITEM_B;
            write_plain(&e, out);
        }
        buf_putc(out, ']');
        break;
    case ITEM_M:
        buf_putc(out, '{');
        for (uint32_t i = 0; i < v->len; i++) {
            if (i)
                buf_putc(out, ',');
            json_put_string(out, v->u.attrs[i].name, v->u.attrs[i].name_len);
            buf_putc(out, ':');
            write_plain(&v->u.attrs[i].val, out);
        }
        buf_putc(out, '}');
        break;
    }
}

void item_write_plain(const item *it, buf *out)
{
    write_plain(&it->root, out);
}

const item_val *item_get(const item *it, const char *name, size_t name_len)
{
    size_t lo = 0, hi = it->root.len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const item_attr *a = &it->root.u.attrs[mid];
        int c = bytes_cmp(a->name, a->name_len, name, name_len);
        if (c == 0)
            return &a->val;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}
