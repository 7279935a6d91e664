/* fuzz_frame.c: the stream framer fed arbitrary bytes in arbitrary chunks.
 *
 * Input: byte 0 picks max_bytes (1..256), the next 8 bytes are chunk sizes
 * (cycled; 0 means 1), the rest is the stream. Every FRAME_LINE must be at
 * most max_bytes and hold no '\n'; line numbers must increase by one; and
 * the lines and oversize reports must be those of splitting the whole input
 * at once (the chunking must not matter). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

typedef struct seen {
    size_t max_bytes;
    uint64_t last_line_no;
    const char *ref;   /* the whole stream */
    size_t ref_len, ref_off;
} seen;

/* The next line of the stream as the contract defines it. */
static void expect_line(seen *s, frame_event ev, const char *line, size_t len)
{
    if (s->ref_off >= s->ref_len)
        abort(); /* a line delivered past the end */
    const char *p = s->ref + s->ref_off;
    const char *nl = memchr(p, '\n', s->ref_len - s->ref_off);
    size_t n = nl ? (size_t)(nl - p) : s->ref_len - s->ref_off;
    s->ref_off += n + (nl ? 1 : 0);
    size_t trimmed = (n && p[n - 1] == '\r') ? n - 1 : n;
    if (trimmed > s->max_bytes) {
        if (ev != FRAME_OVERSIZE)
            abort();
        return;
    }
    if (ev != FRAME_LINE || len != trimmed || (len && memcmp(line, p, len) != 0))
        abort();
}

static void on_line(void *ud, frame_event ev, const char *line, size_t len, uint64_t line_no)
{
    seen *s = ud;
    if (ev == FRAME_LINE) {
        if (len > s->max_bytes)
            abort();
        if (len && memchr(line, '\n', len))
            abort();
    } else if (len <= s->max_bytes) {
        abort(); /* an oversize report for a line that fits */
    }
    if (line_no != s->last_line_no + 1)
        abort();
    s->last_line_no = line_no;
    expect_line(s, ev, line, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 9)
        return 0;
    seen s = {.max_bytes = (size_t)data[0] + 1, .last_line_no = 0};
    const uint8_t *chunks = data + 1;
    data += 9;
    size -= 9;
    s.ref = (const char *)data;
    s.ref_len = size;
    frame f;
    frame_init(&f, s.max_bytes);
    size_t off = 0, k = 0;
    while (off < size) {
        size_t n = chunks[k++ % 8];
        if (n == 0)
            n = 1;
        if (n > size - off)
            n = size - off;
        /* A heap copy of exactly n bytes, so ASan sees any read past the chunk. */
        char *c = malloc(n);
        memcpy(c, data + off, n);
        frame_push(&f, c, n, on_line, &s);
        free(c);
        off += n;
    }
    frame_finish(&f, on_line, &s);
    if (s.ref_off != size)
        abort(); /* a line never delivered */
    frame_clean_up(&f);
    return 0;
}
