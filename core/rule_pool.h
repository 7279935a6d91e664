/* rule_pool.h: the small-block pool under a rule's Lua state.
 *
 * Decoding a tweet makes a few hundred small Lua objects (strings, tables,
 * hash parts) that the next minor collection frees together. glibc's
 * malloc spends more time on them than the decoder does: its per-thread
 * cache holds seven blocks a size, so a collection's frees spill into the
 * bins and the next tweet's allocations sort them out again. The pool keeps
 * one free list per size class up to RULE_POOL_MAX bytes, carves new blocks
 * from 32 KiB regions, and gives the regions back only when the state is
 * closed. Lua tells the allocator each block's size when it frees or
 * resizes it, so blocks carry no header.
 *
 * The regions a pool holds are bounded by the caller (rule.c: the state's
 * memory cap), so a script cannot make it hold more by freeing blocks of
 * one size and allocating blocks of another.
 *
 * Under AddressSanitizer, free blocks and uncarved region space are
 * poisoned: a use after free inside the pool is reported like one in
 * malloc's memory. */
#ifndef TM_RULE_POOL_H
#define TM_RULE_POOL_H

#include <stdbool.h>
#include <stddef.h>

/* Classes: 16-byte steps up to 512 bytes (strings, tables, small hash and
 * array parts), then 128-byte steps up to 4 KiB (the hash parts of objects
 * with 17 to 128 keys, and long strings), so no class wastes more than a
 * fifth of a block. */
#define RULE_POOL_GRAIN 16
#define RULE_POOL_FINE_MAX 512
#define RULE_POOL_COARSE 128
#define RULE_POOL_MAX 4096
#define RULE_POOL_CLASSES (RULE_POOL_FINE_MAX / RULE_POOL_GRAIN + (RULE_POOL_MAX - RULE_POOL_FINE_MAX) / RULE_POOL_COARSE)
#define RULE_POOL_REGION ((size_t)32 << 10)

typedef struct rule_pool_region rule_pool_region;

typedef struct rule_pool {
    void *free[RULE_POOL_CLASSES]; /* class c: blocks of rule_pool_class_size(c) bytes */
    char *next, *end;              /* the current region's uncarved space */
    rule_pool_region *regions;
    size_t held;                   /* bytes of all regions */
} rule_pool;

/* Whether a block of n bytes (n > 0) comes from the pool. */
static inline bool rule_pool_small(size_t n)
{
    return n <= RULE_POOL_MAX;
}

/* A block of n bytes, 0 < n <= RULE_POOL_MAX, aligned to 16. NULL when a
 * new region is needed and the pool would then hold more than limit bytes,
 * or when malloc fails. */
void *rule_pool_alloc(rule_pool *p, size_t n, size_t limit);

/* Returns block b of n bytes (as allocated, or as last resized within its
 * class) to its class. */
void rule_pool_free(rule_pool *p, void *b, size_t n);

/* The class of a block of n bytes (0 < n <= RULE_POOL_MAX). */
static inline size_t rule_pool_class(size_t n)
{
    if (n <= RULE_POOL_FINE_MAX)
        return (n + RULE_POOL_GRAIN - 1) / RULE_POOL_GRAIN - 1;
    return RULE_POOL_FINE_MAX / RULE_POOL_GRAIN - 1 + (n - RULE_POOL_FINE_MAX + RULE_POOL_COARSE - 1) / RULE_POOL_COARSE;
}

/* The size of class c's blocks. */
static inline size_t rule_pool_class_size(size_t c)
{
    if (c < RULE_POOL_FINE_MAX / RULE_POOL_GRAIN)
        return (c + 1) * RULE_POOL_GRAIN;
    return RULE_POOL_FINE_MAX + (c + 1 - RULE_POOL_FINE_MAX / RULE_POOL_GRAIN) * RULE_POOL_COARSE;
}

/* Whether blocks of n and m bytes share a class (a resize is a no-op). */
static inline bool rule_pool_same_class(size_t n, size_t m)
{
    return rule_pool_class(n) == rule_pool_class(m);
}

/* Frees every region; the pool is empty afterwards. */
void rule_pool_release(rule_pool *p);

#endif
