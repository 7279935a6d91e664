/* backoff.h: the reconnect schedule Twitter documents for its streams.
 *
 * After a connection ends, the next attempt waits by the kind of failure:
 *   - network errors (refused, reset, a stall, a dropped stream): the first
 *     reconnect after a healthy connection is immediate, then the wait grows
 *     linearly by 250 ms per attempt up to 16 s;
 *   - HTTP errors worth retrying (5xx and the like): 5 s, doubling up to
 *     320 s;
 *   - rate limiting (420, 429): 60 s, doubling (up to a cap, 16 min by
 *     default; Twitter names none).
 * Each kind counts its own consecutive failures; all reset when a connection
 * has delivered data for a while (the caller says when: backoff_reset).
 *
 * A wait may get random jitter added, up to jitter_pct percent of it and
 * never below the nominal wait, so reconnects stay within Twitter's
 * guidance. Pure arithmetic: no clock, the randomness passed in. */
#ifndef TM_BACKOFF_H
#define TM_BACKOFF_H

#include <stdbool.h>
#include <stdint.h>

typedef enum backoff_kind { BACKOFF_NETWORK, BACKOFF_HTTP, BACKOFF_RATE } backoff_kind;

typedef struct backoff_config {
    int64_t network_step_ms; /* 0: 250 */
    int64_t network_max_ms;  /* 0: 16000 */
    int64_t http_first_ms;   /* 0: 5000 */
    int64_t http_max_ms;     /* 0: 320000 */
    int64_t rate_first_ms;   /* 0: 60000 */
    int64_t rate_max_ms;     /* 0: 960000 */
    unsigned jitter_pct;     /* extra wait, up to this percent of the nominal one */
} backoff_config;

typedef struct backoff {
    backoff_config cfg;  /* with the defaults filled in */
    uint32_t failures[3]; /* consecutive failures of each kind */
    bool fresh;          /* no failure since the last reset */
} backoff;

void backoff_init(backoff *b, const backoff_config *cfg);
/* Forgets past failures: the next network failure reconnects at once. */
void backoff_reset(backoff *b);
/* Counts a failure of kind k and returns the nominal wait before the next
 * attempt, in milliseconds. */
int64_t backoff_next(backoff *b, backoff_kind k);
/* The wait with jitter: nominal + (r mod (nominal * jitter_pct / 100 + 1)). */
int64_t backoff_jitter(const backoff *b, int64_t nominal_ms, uint64_t r);
/* Consecutive failures of kind k so far. */
uint32_t backoff_failures(const backoff *b, backoff_kind k);

#endif
