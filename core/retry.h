/* retry.h: the DynamoDB writer's retry policy, as pure functions.
 *
 * This is the AWS SDKs' "standard" retry mode, adapted to a daemon that
 * must not lose items:
 *   - what a response means (retry_classify): throttling, 500/502/503/504,
 *     TransactionConflictException, transport errors and timeouts, and a
 *     body whose x-amz-crc32 does not match are retried; expired or
 *     unrecognized credentials get one forced refresh; clock-skew errors
 *     are retried once the offset is learned from the response's Date;
 *     ValidationException is about an item (the writer isolates it);
 *     everything else is final;
 *   - how long to wait (retry_backoff_ms): full-jitter exponential backoff,
 *     random(0, min(cap, base * 2^(attempt - 1)));
 *   - how often to retry at all (retry_bucket): the SDKs' retry quota, a
 *     bucket of 500 tokens; a retry costs 5 (10 after a timeout or a
 *     connection error), a success puts back 1, or what its retry cost.
 *     Where an SDK fails the call when the bucket is empty, the writer
 *     waits for tokens instead (it may not drop items), so the bucket also
 *     refills with time, slowly: a dead endpoint is probed about once a
 *     second, not hammered.
 *
 * No clock, no randomness of their own: times and random numbers are passed
 * in, so the tests assert exact waits. */
#ifndef TM_RETRY_H
#define TM_RETRY_H

#include <stdbool.h>
#include <stdint.h>

#define RETRY_BASE_MS 25           /* DynamoDB's base delay in the SDKs */
#define RETRY_CAP_MS 20000         /* the SDKs' maximum backoff */
#define RETRY_BUCKET_CAPACITY 500  /* tokens, as the SDKs' retry quota */
#define RETRY_COST 5               /* tokens per retry */
#define RETRY_TIMEOUT_COST 10      /* per retry after a timeout or connection error */
#define RETRY_SUCCESS_CREDIT 1     /* a success that was not a retry */
#define RETRY_REFILL_PER_S 5       /* the time refill: one retry a second when empty */

typedef enum retry_class {
    RETRY_OK,        /* 2xx */
    RETRY_THROTTLE,  /* throttling: retry after backoff */
    RETRY_SERVER,    /* 500/502/503/504, TransactionConflictException: retry */
    RETRY_TRANSPORT, /* no response: connection error, timeout (costs RETRY_TIMEOUT_COST) */
    RETRY_CRC,       /* the x-amz-crc32 of the response did not match: retry */
    RETRY_REFRESH,   /* ExpiredTokenException, UnrecognizedClientException: refresh once, retry */
    RETRY_SKEW,      /* a clock-skew error: retry if the response's Date shows a skew */
    RETRY_ITEM,      /* ValidationException and the like: an item was refused */
    RETRY_FINAL,     /* anything else: not retryable */
} retry_class;

/* The class of a response with HTTP status http_status (0: none arrived)
 * and AWS error type aws_type (the part after '#' of __type; NULL or "" when
 * none). A crc mismatch and transport errors are decided by the caller. */
retry_class retry_classify(long http_status, const char *aws_type);
/* "throttle", "server", ... for logs and tests. */
const char *retry_class_name(retry_class c);
/* Whether the class is retried (after backoff, or the refresh or skew fix). */
bool retry_class_retryable(retry_class c);
/* Tokens a retry of this class costs. */
int retry_cost(retry_class c);

/* The wait before the next try, after `attempt` failed tries (>= 1):
 * floor(min(cap_ms, base_ms * 2^(attempt - 1)) * rand32 / 2^32). */
int64_t retry_backoff_ms(int64_t base_ms, int64_t cap_ms, unsigned attempt, uint32_t rand32);

/* The retry token bucket. Tokens are kept in thousandths, so the time refill
 * is exact at any rate. */
typedef struct retry_bucket {
    int64_t milli;       /* tokens * 1000 */
    int64_t capacity;    /* tokens */
    int64_t refill_per_s;/* tokens per second of time refill */
    int64_t last_ms;     /* time of the last refill */
} retry_bucket;

void retry_bucket_init(retry_bucket *b, int64_t capacity, int64_t refill_per_s, int64_t now_ms);
/* Takes cost tokens if the bucket holds them at now_ms; false otherwise
 * (nothing taken). */
bool retry_bucket_take(retry_bucket *b, int cost, int64_t now_ms);
/* Puts n tokens back (a success), up to the capacity. */
void retry_bucket_put(retry_bucket *b, int n, int64_t now_ms);
/* The earliest time (>= now_ms) at which cost tokens will be there. */
int64_t retry_bucket_ready_ms(const retry_bucket *b, int cost, int64_t now_ms);
/* Whole tokens now (for tests and stats). */
int64_t retry_bucket_tokens(const retry_bucket *b, int64_t now_ms);

#endif
