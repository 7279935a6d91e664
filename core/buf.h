/* buf.h: growable byte buffers with a cap.
 *
 * Every buffer has a maximum size (curl's dynbuf). Appending past it does not
 * grow the buffer: it marks the buffer failed, and every later append is a
 * no-op, so a writer can emit a whole document and check once at the end.
 * The content is always NUL-terminated (not counted in len). */
#ifndef TM_BUF_H
#define TM_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mem.h"

typedef struct buf {
    char *data;       /* NULL until the first append */
    size_t len;
    size_t cap;
    size_t max_bytes; /* content may never exceed this */
    bool failed;      /* an append went past max_bytes */
} buf;

void buf_init(buf *b, size_t max_bytes);
/* Frees the storage; NULL-safe and idempotent. */
void buf_clean_up(buf *b);
/* Like buf_clean_up, wiping the bytes first (the buffer held a secret). */
void buf_clean_up_secret(buf *b);
/* Empties the buffer and clears `failed`, keeping the storage. */
void buf_reset(buf *b);

void buf_put(buf *b, const void *p, size_t n);
void buf_putc(buf *b, char c);
void buf_puts(buf *b, const char *s);
void buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Gives the content away (caller frees) and leaves the buffer empty. */
char *buf_steal(buf *b, size_t *len_out);

#endif
