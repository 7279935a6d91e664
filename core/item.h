/* item.h: one DynamoDB item, as a tree of typed attribute values.
 *
 * The rule engine builds items from what a rule returns; the writer batches
 * and sends them; `tweetmatch test` prints them. An item is valid by
 * construction: strings are UTF-8, numbers are decimal text DynamoDB
 * accepts, map attributes are sorted by name in byte order (so output is
 * deterministic), sets are non-empty, sorted and free of duplicates, and the
 * whole fits DynamoDB's 400 KB item limit. All of an item's memory lives in
 * its arena and is freed with it. */
#ifndef TM_ITEM_H
#define TM_ITEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "mem.h"

/* DynamoDB's limits (Developer Guide, "Service, account, and table quotas"). */
#define ITEM_MAX_BYTES 409600u /* 400 KB, names and values counted */
#define ITEM_MAX_DEPTH 32      /* levels of nested lists and maps */

typedef enum item_type {
    ITEM_S, ITEM_N, ITEM_B, ITEM_BOOL, ITEM_NULL, ITEM_L, ITEM_M, ITEM_SS, ITEM_NS, ITEM_BS
} item_type;

typedef struct item_val item_val;
typedef struct item_attr item_attr;

struct item_val {
    item_type type;
    uint32_t len; /* S, N, B: bytes; L and sets: elements; M: attributes */
    union {
        const char *str;  /* S, N (decimal text), B (raw bytes); in the arena */
        bool boolean;     /* BOOL */
        item_val *elems;  /* L, SS, NS, BS */
        item_attr *attrs; /* M, sorted by name */
    } u;
};

struct item_attr {
    const char *name; /* UTF-8, not empty; in the arena */
    uint32_t name_len;
    item_val val;
};

typedef struct item {
    item_val root;     /* always ITEM_M: the item's attributes */
    size_t size_bytes; /* as DynamoDB counts it */
    arena *arena;      /* owns every byte of the tree */
} item;

/* An empty item with its own arena; fill root through item_alloc. */
item *item_new(void);
void item_free(item *it);
/* Storage in the item's arena. */
void *item_alloc(item *it, size_t n);

/* Sorts attrs by name in byte order; false if two names are equal. */
bool item_sort_attrs(item_attr *attrs, size_t n);
/* Sorts a set's elements and removes duplicates, updating v->len. */
void item_sort_set(item_val *v);

/* DynamoDB's size of a value (not counting any attribute name), and of a
 * number's decimal text: 1 byte per two significant digits, plus 1. */
size_t item_val_size(const item_val *v);
size_t item_number_size(const char *s, size_t n);

/* Writes the item's attributes as DynamoDB attribute-value JSON:
 * {"name":{"S":"..."},...}. */
void item_write_av(const item *it, buf *out);
/* One value in attribute-value form: {"S":"..."}. */
void item_val_write_av(const item_val *v, buf *out);
/* The same item as plain JSON: {"name":"...",...}. Numbers are JSON
 * numbers, sets are arrays, binary is its base64 text. */
void item_write_plain(const item *it, buf *out);

/* Looks up a top-level attribute by name; NULL when absent. */
const item_val *item_get(const item *it, const char *name, size_t name_len);

#endif
