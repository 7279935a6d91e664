/* creds.h: the AWS credentials the writer signs with, found as the AWS SDKs
 * find them in a container, without an SDK.
 *
 * The chain, first configured source wins (creds_new picks it; no network):
 *   1. environment: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY, optional
 *      AWS_SESSION_TOKEN. One of the pair without the other is a
 *      configuration error. A session token without the pair is ignored.
 *   2. the ECS/Fargate task-role endpoint: http://169.254.170.2 +
 *      AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (a path starting with '/'),
 *      else AWS_CONTAINER_CREDENTIALS_FULL_URI: any https:// URL, or an
 *      http:// URL whose host is literally loopback (127.0.0.0/8, [::1],
 *      localhost) or an ECS/EKS container endpoint (169.254.170.2,
 *      169.254.170.23, [fd00:ec2::23]); no user information, no DNS
 *      lookups. Authorization header: the content of the file named by
 *      AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, read again at every fetch
 *      (trailing CR/LF removed), else AWS_CONTAINER_AUTHORIZATION_TOKEN.
 *      A token holding a control character (CR, LF, ...) is refused.
 *   3. EC2 IMDSv2 (never v1) at AWS_EC2_METADATA_SERVICE_ENDPOINT, default
 *      http://169.254.169.254, unless AWS_EC2_METADATA_DISABLED=true:
 *      PUT /latest/api/token, GET the role (first line), GET its
 *      credentials; the session token is fetched anew at each refresh.
 * Empty variables count as unset. A configured source that fails is an
 * error: the chain does not fall through to the next one (that would hide
 * a misconfiguration and slow every start-up).
 *
 * Refresh (ECS and IMDS credentials carry an Expiration; "exp" below):
 *   - before exp - 15 min: the cached credentials, no request;
 *   - exp - 15 min .. exp - 10 min: one try (no retries) per creds_get,
 *     at most one per 60 s;
 *   - exp - 10 min .. exp - 1 min: a full try (with retries) per creds_get,
 *     at most one per 10 s;
 *     in both windows a failed try keeps the current credentials, and
 *     cfg->warn is told why; a try that brings the same expiry (IMDS
 *     rotates about 5 min before it) is paced the same way;
 *   - from exp - 1 min, or never fetched, or rejected (below): the cached
 *     credentials are never handed out; every creds_get makes a full try
 *     and fails when it fails (the caller paces its calls).
 *   Fetched credentials that expire within 1 min are refused.
 * A try is max_attempts requests per step at most: transport errors,
 * timeouts, HTTP 429 and 5xx are retried after backoff_ms, doubling;
 * other statuses and malformed bodies are not.
 *
 * Secrets (secret key, session token, authorization token, IMDS token)
 * never appear in an error or warning message, and the provider's copies,
 * response bodies and parse trees are wiped when freed. Messages name the
 * variable or the endpoint and what is wrong, never a response body.
 *
 * Single-threaded: a provider is used by one thread. Fetching blocks for at
 * most the configured timeouts. Inside creds.c the provider logic (what to
 * request next, parsing, when to refresh) is kept apart from the blocking
 * transport, so an event loop can drive it later. */
#ifndef TM_CREDS_H
#define TM_CREDS_H

#include <stdbool.h>
#include <stdint.h>

#include "mem.h"

/* A set of credentials, owned by whoever holds the struct. */
typedef struct creds {
    char *access_key_id;
    char *secret_access_key; /* secret */
    char *session_token;     /* secret; NULL for long-term keys */
    int64_t expiration_ms;   /* Unix time in ms; 0: does not expire */
} creds;

void creds_init(creds *c);
/* Wipes and frees the strings; NULL-safe and idempotent. */
void creds_clean_up(creds *c);

typedef struct creds_config {
    /* From the environment (creds_config_from_env); NULL when unset. Not
     * copied here: creds_new copies what it keeps. */
    const char *access_key_id, *secret_access_key, *session_token;
    const char *ecs_relative_uri, *ecs_full_uri;
    const char *ecs_auth_token, *ecs_auth_token_file;
    const char *imds_endpoint; /* default "http://169.254.169.254" */
    bool imds_disabled;
    /* Where the relative URI is appended: "http://169.254.170.2". Tests
     * replace it through TM_TEST_ECS_ENDPOINT (test only; e.g.
     * "http://127.0.0.1:8080"). */
    const char *ecs_endpoint;

    long connect_timeout_ms; /* per request; default 1000 */
    long timeout_ms;         /* per request, whole exchange; default 5000 */
    int max_attempts;        /* per step of a full try; default 3 */
    long backoff_ms;         /* before the 2nd attempt, doubling; default 200 */

    /* Wall-clock Unix time in ms; default CLOCK_REALTIME. */
    int64_t (*clock_ms)(void *ud);
    /* Sleeps ms; default nanosleep. */
    void (*sleep_ms)(void *ud, int64_t ms);
    void *clock_ud;
    /* Told when a refresh failed but the current credentials are kept;
     * msg holds no secret. May be NULL. */
    void (*warn)(void *ud, const char *msg);
    void *warn_ud;
} creds_config;

/* Defaults, nothing from the environment. */
void creds_config_init(creds_config *cfg);
/* creds_config_init, then the variables named above (and the test-only
 * TM_TEST_ECS_ENDPOINT). */
void creds_config_from_env(creds_config *cfg);

typedef struct creds_provider creds_provider;

/* Picks the source and checks its configuration; no request is made. On a
 * configuration error, or when no source is available (the message names
 * each one tried), returns NULL and sets *err (caller frees). */
creds_provider *creds_new(const creds_config *cfg, char **err) TM_MUST_CHECK;
void creds_free(creds_provider *p);

/* Valid credentials, fetching or refreshing them first as the rules above
 * say. OUT: *out (initialized) is replaced by copies the caller owns and
 * cleans up. On failure *out is left empty and *err set (caller frees). */
bool creds_get(creds_provider *p, creds *out, char **err) TM_MUST_CHECK;

/* For a request that AWS refused with ExpiredTokenException or
 * UnrecognizedClientException: fetches new credentials now. True when it
 * did, or when a fetch succeeded in the last 10 s (a burst of refused
 * requests makes one fetch). On failure the current credentials are
 * considered rejected (creds_get will not return them) and *err is set.
 * Environment credentials cannot be refreshed: false with a message. */
bool creds_force_refresh(creds_provider *p, char **err) TM_MUST_CHECK;

/* "environment", "ecs" or "imds", for logs. */
const char *creds_source_name(const creds_provider *p);

#endif
