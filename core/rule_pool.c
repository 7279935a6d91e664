/* rule_pool.c: the small-block pool under a rule's Lua state (see
 * rule_pool.h). */
#include "rule_pool.h"

#include <stdint.h>
#include <stdlib.h>

#if defined(__SANITIZE_ADDRESS__)
#define POOL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POOL_ASAN 1
#endif
#endif

#ifdef POOL_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

struct rule_pool_region {
    rule_pool_region *next;
    /* 16-byte aligned carving space follows */
};

#define REGION_HEAD (((sizeof(rule_pool_region) + RULE_POOL_GRAIN - 1) / RULE_POOL_GRAIN) * RULE_POOL_GRAIN)

static bool new_region(rule_pool *p, size_t limit)
{
    if (p->held > limit || limit - p->held < RULE_POOL_REGION)
        return false;
    /* aligned_alloc: malloc's 16-byte alignment is not promised by C11. */
    rule_pool_region *r = aligned_alloc(RULE_POOL_GRAIN, RULE_POOL_REGION);
    if (r == NULL)
        return false;
    /* The rest of the old region is too small for this block; give it to
     * the classes it fits so it is not lost. */
    while (p->next != NULL && p->end - p->next >= RULE_POOL_GRAIN) {
        size_t c = rule_pool_class((size_t)(p->end - p->next) < RULE_POOL_MAX ? (size_t)(p->end - p->next)
                                                                               : RULE_POOL_MAX);
        if (rule_pool_class_size(c) > (size_t)(p->end - p->next))
            c--; /* the largest class that fits */
        void *b = p->next;
        p->next += rule_pool_class_size(c);
        UNPOISON(b, sizeof(void *));
        *(void **)b = p->free[c];
        POISON(b, sizeof(void *));
        p->free[c] = b;
    }
    r->next = p->regions;
    p->regions = r;
    p->held += RULE_POOL_REGION;
    p->next = (char *)r + REGION_HEAD;
    p->end = (char *)r + RULE_POOL_REGION;
    POISON(p->next, (size_t)(p->end - p->next));
    return true;
}

void *rule_pool_alloc(rule_pool *p, size_t n, size_t limit)
{
    size_t c = rule_pool_class(n);
    size_t size = rule_pool_class_size(c);
    void *b = p->free[c];
    if (b != NULL) {
        UNPOISON(b, sizeof(void *));
        p->free[c] = *(void **)b;
        UNPOISON(b, size);
        return b;
    }
    if ((p->next == NULL || (size_t)(p->end - p->next) < size) && !new_region(p, limit))
        return NULL;
    b = p->next;
    p->next += size;
    UNPOISON(b, size);
    return b;
}

void rule_pool_free(rule_pool *p, void *b, size_t n)
{
    size_t c = rule_pool_class(n);
    *(void **)b = p->free[c];
    p->free[c] = b;
    POISON(b, rule_pool_class_size(c));
}

void rule_pool_release(rule_pool *p)
{
    rule_pool_region *r = p->regions;
    while (r != NULL) {
        rule_pool_region *next = r->next;
        UNPOISON(r, RULE_POOL_REGION);
        free(r);
        r = next;
    }
    *p = (rule_pool){0};
}
