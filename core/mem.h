/* mem.h: host memory for the core.
 *
 * Host allocations never fail: when the machine is out of memory the process
 * aborts with a message (as Redis's zmalloc does). Only the rule engine's Lua
 * allocator may refuse memory, because that is how a rule's memory cap works.
 *
 * An arena hands out blocks that live until the arena is freed as a whole; an
 * item's tree lives in one. */
#ifndef TM_MEM_H
#define TM_MEM_H

#include <stddef.h>

#define TM_MUST_CHECK __attribute__((warn_unused_result))

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a new string; caller frees. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Overwrite n bytes in a way the compiler may not elide (for secrets). */
void mem_wipe(void *p, size_t n);
/* Wipe a NUL-terminated secret and free it; NULL-safe. */
void mem_free_secret(char *s);

typedef struct arena arena;

arena *arena_new(size_t first_block_bytes);
/* n bytes, aligned for any scalar type; lives until arena_free. */
void *arena_alloc(arena *a, size_t n);
/* A copy of (s, n) with a NUL after it. */
char *arena_strndup(arena *a, const char *s, size_t n);
void arena_free(arena *a);
/* Like arena_free, wiping every block first (the arena held secrets). */
void arena_free_secret(arena *a);

#endif
