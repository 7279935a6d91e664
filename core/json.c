/* json.c: see json.h. */
#include "json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void json_put_string(buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    buf_putc(b, '"');
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
    buf_putc(b, '"');
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
