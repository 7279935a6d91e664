/* frame.h: splits a byte stream into newline-delimited messages.
 *
 * Both the Twitter streams and NDJSON files carry one JSON message per line,
 * ended by "\r\n" or "\n". A bare newline cannot occur inside a JSON string
 * (it must be escaped), so splitting on '\n' and trimming one '\r' is exact.
 * Chunks may end anywhere: a partial line waits for the next chunk. A line
 * longer than max_bytes is dropped, reported once, and the framer resyncs
 * at the next newline. Memory held is bounded by max_bytes. */
#ifndef TM_FRAME_H
#define TM_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

typedef enum frame_event {
    FRAME_LINE,     /* a whole message; may be empty (a keep-alive) */
    FRAME_OVERSIZE, /* a line over max_bytes was dropped; len = bytes seen */
} frame_event;

/* Called for each line, in order. line is not NUL-terminated and is only
 * valid during the call. line_no counts from 1 and includes blank lines. */
typedef void (*frame_fn)(void *ud, frame_event ev, const char *line, size_t len, uint64_t line_no);

typedef struct frame {
    buf pending;       /* the start of an unfinished line */
    size_t max_bytes;  /* longest line delivered */
    size_t skipped;    /* bytes of an oversize line seen so far */
    bool discarding;   /* inside an oversize line */
    uint64_t line_no;  /* lines completed so far */
} frame;

void frame_init(frame *f, size_t max_bytes);
void frame_clean_up(frame *f);
/* Drops any partial line (a reconnect starts a new stream); keeps line_no. */
void frame_reset(frame *f);

/* Feeds a chunk; calls fn for each line it completes. */
void frame_push(frame *f, const char *data, size_t len, frame_fn fn, void *ud);
/* End of input: delivers a last line that had no newline (files often end
 * so). */
void frame_finish(frame *f, frame_fn fn, void *ud);

#endif
