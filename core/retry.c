/* retry.c: see retry.h. */
#include "retry.h"

#include <stddef.h>
#include <string.h>

static bool in(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return true;
    return false;
}

/* The SDKs' lists (botocore's retryhandler and standard mode, aws-sdk-go's
 * request/retryer.go), restricted to what DynamoDB answers. */
static const char *const throttles[] = {
    "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
    "Throttling", "ThrottledException", "TooManyRequestsException", "SlowDown",
    "RequestThrottled", "RequestThrottledException", "BandwidthLimitExceeded", NULL,
};
static const char *const transients[] = {
    "TransactionConflictException", "InternalServerError", "InternalFailure", "ServiceUnavailable",
    "RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete", NULL,
};
static const char *const refreshes[] = {
    "ExpiredTokenException", "ExpiredToken", "UnrecognizedClientException", NULL,
};
static const char *const skews[] = {
    "RequestTimeTooSkewed", "RequestExpired", "RequestInTheFuture", "InvalidSignatureException",
    "SignatureDoesNotMatch", "AuthFailure", NULL,
};
static const char *const item_errors[] = {
    "ValidationException", "ItemCollectionSizeLimitExceededException", NULL,
};

retry_class retry_classify(long http_status, const char *aws_type)
{
    if (http_status >= 200 && http_status < 300)
        return RETRY_OK;
    if (http_status == 0)
        return RETRY_TRANSPORT;
    if (aws_type && *aws_type) {
        if (in(aws_type, throttles))
            return RETRY_THROTTLE;
        if (in(aws_type, transients))
            return RETRY_SERVER;
        if (in(aws_type, refreshes))
            return RETRY_REFRESH;
        if (in(aws_type, skews))
            return RETRY_SKEW;
        if (in(aws_type, item_errors))
            return RETRY_ITEM;
    }
    if (http_status == 429)
        return RETRY_THROTTLE;
    if (http_status == 500 || http_status == 502 || http_status == 503 || http_status == 504)
        return RETRY_SERVER;
    return RETRY_FINAL;
}

const char *retry_class_name(retry_class c)
{
    static const char *const names[] = {
        [RETRY_OK] = "ok", [RETRY_THROTTLE] = "throttle", [RETRY_SERVER] = "server",
        [RETRY_TRANSPORT] = "transport", [RETRY_CRC] = "crc", [RETRY_REFRESH] = "refresh",
        [RETRY_SKEW] = "skew", [RETRY_ITEM] = "item", [RETRY_FINAL] = "final",
    };
    return (unsigned)c < sizeof names / sizeof names[0] ? names[c] : "?";
}

bool retry_class_retryable(retry_class c)
{
    return c == RETRY_THROTTLE || c == RETRY_SERVER || c == RETRY_TRANSPORT || c == RETRY_CRC ||
           c == RETRY_REFRESH || c == RETRY_SKEW;
}

int retry_cost(retry_class c)
{
    return c == RETRY_TRANSPORT ? RETRY_TIMEOUT_COST : RETRY_COST;
}

int64_t retry_backoff_ms(int64_t base_ms, int64_t cap_ms, unsigned attempt, uint32_t rand32)
{
    if (attempt < 1)
        attempt = 1;
    int64_t ceiling = base_ms;
    for (unsigned i = 1; i < attempt && ceiling < cap_ms; i++)
        ceiling *= 2;
    if (ceiling > cap_ms)
        ceiling = cap_ms;
    return (int64_t)(((uint64_t)ceiling * rand32) >> 32);
}

static void refill(retry_bucket *b, int64_t now_ms)
{
    if (now_ms > b->last_ms) {
        b->milli += (now_ms - b->last_ms) * b->refill_per_s; /* ms * tokens/s = milli-tokens */
        if (b->milli > b->capacity * 1000)
            b->milli = b->capacity * 1000;
        b->last_ms = now_ms;
    }
}

void retry_bucket_init(retry_bucket *b, int64_t capacity, int64_t refill_per_s, int64_t now_ms)
{
    b->capacity = capacity;
    b->milli = capacity * 1000;
    b->refill_per_s = refill_per_s;
    b->last_ms = now_ms;
}

bool retry_bucket_take(retry_bucket *b, int cost, int64_t now_ms)
{
    refill(b, now_ms);
    if (b->milli < (int64_t)cost * 1000)
        return false;
    b->milli -= (int64_t)cost * 1000;
    return true;
}

void retry_bucket_put(retry_bucket *b, int n, int64_t now_ms)
{
    refill(b, now_ms);
    b->milli += (int64_t)n * 1000;
    if (b->milli > b->capacity * 1000)
        b->milli = b->capacity * 1000;
}

int64_t retry_bucket_ready_ms(const retry_bucket *b, int cost, int64_t now_ms)
{
    retry_bucket c = *b;
    refill(&c, now_ms);
    int64_t missing = (int64_t)cost * 1000 - c.milli;
    if (missing <= 0)
        return now_ms;
    if (c.refill_per_s <= 0)
        return INT64_MAX;
    return now_ms + (missing + c.refill_per_s - 1) / c.refill_per_s;
}

int64_t retry_bucket_tokens(const retry_bucket *b, int64_t now_ms)
{
    retry_bucket c = *b;
    refill(&c, now_ms);
    return c.milli / 1000;
}
