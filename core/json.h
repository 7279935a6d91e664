/* json.h: the small pieces of JSON writing the core needs.
 *
 * Output is compact JSON. Strings are written as given (the caller has
 * validated them as UTF-8); only '"', '\\' and control characters are
 * escaped, so Unicode text stays readable. */
#ifndef TM_JSON_H
#define TM_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* Appends (s, n) as a quoted JSON string. */
void json_put_string(buf *b, const char *s, size_t n);

/* The decimal form of a double for a DynamoDB number, written into out
 * (at least JSON_NUM_MAX bytes, NUL-terminated); returns its length, or 0
 * for NaN and infinities, which have none.
 * Integral values below 1e21 print as integers without a fraction ("1", not
 * "1.0"; 2^60 exactly); others in the shortest form that reads back as the
 * same double ("0.1", "1.5e-7", "1e+300"). */
#define JSON_NUM_MAX 40
size_t json_format_double(double d, char *out);

#endif
