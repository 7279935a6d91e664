/* frame.c: see frame.h. */
#include "frame.h"

#include <string.h>

void frame_init(frame *f, size_t max_bytes)
{
    /* The pending buffer may hold max_bytes plus the '\r' trimmed later. */
    buf_init(&f->pending, max_bytes + 1);
    f->max_bytes = max_bytes;
    f->skipped = 0;
    f->discarding = false;
    f->line_no = 0;
}

void frame_clean_up(frame *f)
{
    if (f)
        buf_clean_up(&f->pending);
}

void frame_reset(frame *f)
{
    buf_reset(&f->pending);
    f->discarding = false;
    f->skipped = 0;
}

static void deliver(frame *f, const char *line, size_t len, frame_fn fn, void *ud)
{
    f->line_no++;
    if (len && line[len - 1] == '\r')
        len--;
    if (len > f->max_bytes)
        fn(ud, FRAME_OVERSIZE, NULL, len, f->line_no);
    else
        fn(ud, FRAME_LINE, line, len, f->line_no);
}

static void end_oversize(frame *f, frame_fn fn, void *ud)
{
    size_t seen = f->skipped;
    f->discarding = false;
    f->skipped = 0;
    f->line_no++;
    fn(ud, FRAME_OVERSIZE, NULL, seen, f->line_no);
}

void frame_push(frame *f, const char *data, size_t len, frame_fn fn, void *ud)
{
    while (len) {
        const char *nl = memchr(data, '\n', len);
        size_t take = nl ? (size_t)(nl - data) : len;
        if (f->discarding) {
            f->skipped += take;
            if (nl)
                end_oversize(f, fn, ud);
        } else if (nl && f->pending.len == 0) {
            /* A whole line inside this chunk: delivered without a copy. */
            deliver(f, data, take, fn, ud);
        } else if (f->pending.len + take > f->max_bytes + 1) {
            f->discarding = true;
            f->skipped = f->pending.len + take;
            buf_reset(&f->pending);
            if (nl)
                end_oversize(f, fn, ud);
        } else {
            buf_put(&f->pending, data, take);
            if (nl) {
                deliver(f, f->pending.data, f->pending.len, fn, ud);
                buf_reset(&f->pending);
            }
        }
        if (!nl)
            break;
        data += take + 1;
        len -= take + 1;
    }
}

void frame_finish(frame *f, frame_fn fn, void *ud)
{
    if (f->discarding)
        end_oversize(f, fn, ud);
    else if (f->pending.len)
        deliver(f, f->pending.data, f->pending.len, fn, ud);
    frame_reset(f);
}
