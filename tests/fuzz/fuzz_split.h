/* fuzz_split.h: cuts a fuzz input into fields at a separator byte, so one
 * input carries several strings. Header-only, for the fuzz targets. */
#ifndef TM_FUZZ_SPLIT_H
#define TM_FUZZ_SPLIT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct fuzz_field {
    const char *ptr;
    size_t len;
} fuzz_field;

/* Fills up to max fields of (data, size) cut at sep; the last field takes
 * the rest. Returns how many were found (missing ones are empty). */
static inline size_t fuzz_split(const uint8_t *data, size_t size, char sep, fuzz_field *f, size_t max)
{
    size_t n = 0;
    const char *p = (const char *)data, *end = p + size;
    for (size_t i = 0; i < max; i++)
        f[i] = (fuzz_field){"", 0};
    while (n < max) {
        const char *q = (n + 1 < max && p < end) ? memchr(p, sep, (size_t)(end - p)) : NULL;
        f[n].ptr = p;
        f[n].len = q ? (size_t)(q - p) : (size_t)(end - p);
        n++;
        if (!q)
            break;
        p = q + 1;
    }
    return n;
}

#endif
