/* ddb.h: the DynamoDB writer: items in, durable rows (or dead letters) out.
 *
 * The end of the pipeline: item -> queue -> batch -> sign -> send. Items
 * are queued, gathered into BatchWriteItem requests (at most 25 items and
 * 16 MB, sent when full or after a short linger), signed with SigV4 and
 * sent as easy handles on the daemon's one event loop, several at once.
 * DynamoDB's JSON protocol, no SDK.
 *
 * The promise (the daemon's contract): every item given to ddb_put or
 * ddb_delete is, in the end, either written or reported as a dead letter
 * (a log line {"event":"dead_letter","reason":...,"item":...} and a line in
 * the dead-letter file when one is set). Never dropped silently: at any
 * time  queued = written + dead_letter + depth  (ddb_stats).
 *
 * How (details in ddb.c):
 *   - Operations on one key keep their order: the last one wins, as
 *     sequential requests would leave it. A newer put or delete of a key
 *     that is still queued replaces the queued one (which then counts as
 *     written when its replacement is: DynamoDB refuses two requests for
 *     one key in a batch); one that arrives while the key is in a request
 *     waits for that request's outcome.
 *   - Retries: see retry.h (full-jitter backoff from 25 ms, capped at 20 s,
 *     a retry token bucket). Up to max_attempts tries per item, then a
 *     dead letter "retries exhausted after N attempts: <last error>".
 *     UnprocessedItems are resent with backoff until written: throttling
 *     inside a batch is back-pressure, not a failure of the item.
 *   - ExpiredTokenException / UnrecognizedClientException: one forced
 *     credential refresh (creds_force_refresh), then a retry; clock-skew
 *     errors: the offset is taken from the response's Date.
 *   - A ValidationException on a batch is narrowed down by halving it,
 *     down to single PutItem / DeleteItem requests: the good items are
 *     written and each refused one is a dead letter with DynamoDB's
 *     message.
 *   - Secrets (secret key, session token) never appear in a log line, a
 *     dead letter or an error message; AWS messages that quote the
 *     canonical request are cut before it.
 *
 * Single-threaded, like the loop. */
#ifndef TM_DDB_H
#define TM_DDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "creds.h"
#include "item.h"
#include "loop.h"
#include "mem.h"

/* Defaults (and the environment variables of ddb_config_from_env). */
#define DDB_DEFAULT_MAX_IN_FLIGHT 4        /* DDB_MAX_IN_FLIGHT */
#define DDB_DEFAULT_LINGER_MS 50           /* DDB_LINGER_MS */
#define DDB_DEFAULT_MAX_ATTEMPTS 10        /* DDB_MAX_ATTEMPTS */
#define DDB_DEFAULT_QUEUE_MAX 10000        /* DDB_QUEUE_MAX */
#define DDB_DEFAULT_TIMEOUT_MS 20000       /* DDB_TIMEOUT_MS: one request, whole exchange */
#define DDB_DEFAULT_CONNECT_TIMEOUT_MS 3000 /* DDB_CONNECT_TIMEOUT_MS */

/* DynamoDB's BatchWriteItem limits. */
#define DDB_BATCH_MAX_ITEMS 25
#define DDB_BATCH_MAX_BYTES ((size_t)16 << 20)

typedef struct ddb_config {
    const char *table;           /* required */
    const char *region;          /* required */
    const char *endpoint;        /* NULL: https://dynamodb.<region>.amazonaws.com */
    const char *deadletter_file; /* NULL: dead letters go to the log only */
    const char *ca_bundle;       /* NULL: the system's CA store */
    int max_in_flight;           /* requests at once, 1..64 */
    int linger_ms;               /* wait for a batch to fill, 0..60000 */
    int max_attempts;            /* tries per item, 1..100 */
    size_t queue_max;            /* ddb_queue_full from this depth on */
    long timeout_ms;             /* one request */
    long connect_timeout_ms;

    /* Injected for tests; NULL: the real ones. */
    int64_t (*wall_clock_ms)(void *ud); /* Unix ms: signing time, dead-letter time */
    uint32_t (*random32)(void *ud);     /* backoff jitter */
    void *hook_ud;
} ddb_config;

/* The defaults above; table, region, endpoint, files NULL. */
void ddb_config_init(ddb_config *cfg);

/* ddb_config_init, then the environment:
 *   DYNAMODBTABLE (required), AWSREGION else AWS_REGION else
 *   AWS_DEFAULT_REGION (required), AWS_ENDPOINT_URL_DYNAMODB else
 *   AWS_ENDPOINT_URL, DEADLETTER_FILE, AWS_CA_BUNDLE, DDB_MAX_IN_FLIGHT,
 *   DDB_LINGER_MS, DDB_MAX_ATTEMPTS, DDB_QUEUE_MAX, DDB_TIMEOUT_MS,
 *   DDB_CONNECT_TIMEOUT_MS.
 * Empty variables count as unset. The strings point into the environment
 * (not copied). On a bad or missing value returns false and sets *err
 * (caller frees) to a message naming the variable. */
bool ddb_config_from_env(ddb_config *cfg, char **err) TM_MUST_CHECK;

typedef enum ddb_status {
    DDB_OK = 0,
    DDB_PERMANENT, /* will not get better by itself: missing table, access denied,
                      bad credentials (the daemon exits 3) */
    DDB_TRANSIENT, /* may: endpoint unreachable, throttled, 5xx, no credentials yet */
    DDB_DEADLINE,  /* ddb_flush: the deadline came first; what was left is dead-lettered */
} ddb_status;

typedef struct ddb_writer ddb_writer;

/* A writer for cfg (copied) on loop l, signing with cp (not owned; must
 * outlive the writer). Checks the configuration and opens the dead-letter
 * file (append mode); no request is made. NULL with *err set (caller
 * frees) on a bad table name, region or endpoint, or a dead-letter file
 * that cannot be opened. */
ddb_writer *ddb_new(const ddb_config *cfg, loop *l, creds_provider *cp, char **err) TM_MUST_CHECK;

/* Blocking, for start-up (the loop is not run): DescribeTable, to learn
 * the key schema and to fail fast. DDB_PERMANENT for a missing table,
 * AccessDenied, credentials AWS refuses (after one forced refresh) and
 * other final errors; DDB_TRANSIENT when the endpoint or the credentials
 * stayed unreachable for 3 tries, or the table is still being created.
 * On failure *err (caller frees) names the table, the region and the AWS
 * error or the transport failure. Call it before the first ddb_put: until
 * the key schema is known, operations on one key are not ordered. */
ddb_status ddb_describe_table(ddb_writer *w, char **err) TM_MUST_CHECK;

/* The key schema learned by ddb_describe_table: the partition and sort
 * key names (range NULL for none); NULL before. Owned by the writer. */
const char *ddb_hash_key(const ddb_writer *w);
const char *ddb_range_key(const ddb_writer *w);

/* Queues a PutItem of it; takes ownership (it is serialized and freed at
 * once). Always accepted, even past queue_max: an item a rule produced is
 * never refused; the bound is a signal (ddb_queue_full). No I/O and no
 * curl call: requests start from the loop, so ddb_put and ddb_delete may
 * be called anywhere, a curl callback included. */
void ddb_put(ddb_writer *w, item *it);
/* Queues a DeleteItem of the key attributes in key; takes ownership. */
void ddb_delete(ddb_writer *w, item *key);

/* Items accepted and not yet written or dead-lettered. */
size_t ddb_queue_depth(const ddb_writer *w);
/* depth >= queue_max: the daemon should pause its input until it is not. */
bool ddb_queue_full(const ddb_writer *w);

/* Drives the loop (without linger: partial batches go at once) until every
 * accepted item is written or dead-lettered, or until loop_now_ms() reaches
 * deadline_ms (an instant of the loop's clock, not a duration). Whatever is
 * left then is dead-lettered with the reason "shutdown deadline"; requests
 * still in flight are abandoned (their dead letters say they may have been
 * written). Returns early when nothing can happen before the deadline.
 * fsyncs the dead-letter file. DDB_OK when nothing was left, else
 * DDB_DEADLINE. The writer stays usable. */
ddb_status ddb_flush(ddb_writer *w, int64_t deadline_ms) TM_MUST_CHECK;

typedef struct ddb_stats {
    /* items */
    uint64_t queued;      /* accepted by ddb_put / ddb_delete */
    uint64_t written;     /* acknowledged by DynamoDB (superseded ones included) */
    uint64_t dead_letter; /* reported as dead letters */
    uint64_t retried;     /* tries beyond an item's first (unprocessed ones included) */
    uint64_t unprocessed; /* times an item came back in UnprocessedItems */
    uint64_t superseded;  /* replaced in the queue by a later operation on its key */
    uint64_t depth;       /* queued - written - dead_letter */
    uint64_t in_flight;   /* requests now */
    /* requests, by outcome */
    uint64_t requests;        /* sent */
    uint64_t req_ok;          /* 2xx, everything processed */
    uint64_t req_partial;     /* 2xx with UnprocessedItems */
    uint64_t req_throttled;   /* throttling errors */
    uint64_t req_server;      /* 5xx, TransactionConflictException */
    uint64_t req_transport;   /* no response: connection errors, timeouts */
    uint64_t req_crc;         /* x-amz-crc32 mismatch */
    uint64_t req_refresh;     /* ExpiredTokenException, UnrecognizedClientException */
    uint64_t req_skew;        /* clock-skew errors */
    uint64_t req_invalid;     /* ValidationException (a batch split, or an item refused) */
    uint64_t req_failed;      /* other errors: not retried */
    uint64_t req_aborted;     /* abandoned in flight at a flush deadline */
    uint64_t no_credentials;  /* sends put off because creds_get failed */
} ddb_stats;

void ddb_get_stats(const ddb_writer *w, ddb_stats *out);

/* Stops the writer: requests in flight are abandoned and everything not
 * yet written is dead-lettered ("writer stopped": call ddb_flush first),
 * then the dead-letter file is synced and closed. NULL-safe. */
void ddb_free(ddb_writer *w);

#endif
