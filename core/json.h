/* json.h: the JSON the core reads and writes itself (AWS responses, the
 * credential endpoints); tweets are decoded in the rule engine (rule_decode.c).
 *
 * Writing: compact JSON. Strings are written as given (the caller has
 * validated them as UTF-8); only '"', '\\' and control characters are
 * escaped, so Unicode text stays readable.
 *
 * Reading: RFC 8259, strictly: UTF-8 checked, no lone surrogates, no
 * control characters in strings, no trailing commas, no NaN, nesting capped.
 * The tree lives in an arena the caller owns. */
#ifndef TM_JSON_H
#define TM_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* Appends (s, n) as a quoted JSON string. */
void json_put_string(buf *b, const char *s, size_t n);
/* The same without the quotes. */
void json_put_escaped(buf *b, const char *s, size_t n);

/* The decimal form of a double for a DynamoDB number, written into out
 * (at least JSON_NUM_MAX bytes, NUL-terminated); returns its length, or 0
 * for NaN and infinities, which have none.
 * Integral values below 1e21 print as integers without a fraction ("1", not
 * "1.0"; 2^60 exactly); others in the shortest form that reads back as the
 * same double ("0.1", "1.5e-7", "1e+300"). */
#define JSON_NUM_MAX 40
size_t json_format_double(double d, char *out);

typedef enum json_type {
    JSON_NULL, JSON_FALSE, JSON_TRUE, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT
} json_type;

typedef struct json_value json_value;
typedef struct json_member json_member;

struct json_value {
    json_type type;
    size_t len; /* STRING, NUMBER: bytes; ARRAY: items; OBJECT: members */
    union {
        const char *str;       /* STRING: decoded UTF-8, NUL-terminated (may hold
                                  NULs); NUMBER: its text as written */
        json_value *items;     /* ARRAY */
        json_member *members;  /* OBJECT, in document order */
    } u;
};

struct json_member {
    const char *name; /* decoded, NUL-terminated */
    size_t name_len;
    json_value value;
};

#define JSON_DEFAULT_MAX_DEPTH 64

/* Parses the whole of (text, len) into a tree allocated in a. On failure
 * returns NULL and sets *err (caller frees) to a message with the byte
 * offset: "invalid JSON at byte 12: expected ':'". */
json_value *json_parse(const char *text, size_t len, arena *a, int max_depth, char **err) TM_MUST_CHECK;

/* The member named name of an object (the last, if repeated), or NULL when
 * v is not an object or has none. */
const json_value *json_get(const json_value *v, const char *name);
/* The string of member name, or NULL when absent or not a string. */
const char *json_get_str(const json_value *v, const char *name, size_t *len_out);

/* Writes v back as compact JSON (numbers as written, members in order). */
void json_write(const json_value *v, buf *out);

#endif
