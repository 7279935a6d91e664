/* stream.h: the tweet stream client, one long-lived HTTP transfer in the
 * daemon's loop.
 *
 * Three modes, chosen by the configuration:
 *   - v1.1: POST statuses/filter.json with the form body
 *     track=<phrases>&stall_warnings=true, signed with OAuth 1.0a (oauth1.h);
 *   - v2: GET tweets/search/stream with the tweet and user fields tm.user
 *     needs and the bearer token; before connecting, the stream's rules are
 *     made to match the track phrases (one rule per phrase, tagged so ours
 *     are recognised; others' rules are left alone);
 *   - NDJSON: GET any http(s) URL, no authentication.
 * A URL in the configuration replaces the mode's endpoint (STREAM_URL).
 *
 * A line flows one way: curl's write callback → frame.h (split on '\n',
 * '\r' trimmed, capped) → a cheap look at the first key, which sorts
 * tweets from control messages → the daemon's on_line. The stream never
 * decodes tweets and never calls the rule or the writer. It acts on
 * control messages itself (it logs them; a disconnect notice makes it
 * reconnect) and still passes them on, so a delete notice reaches the
 * rule's on_delete. Keep-alives (blank lines) are counted, not passed.
 *
 * Reconnecting follows Twitter's guidance (backoff.h); silence longer than
 * the stall allowance (90 s v1.1, 30 s v2) is a stall. 401, 403 and 404 are
 * permanent: the stream stops and reports the status and Twitter's message.
 * Every connect, disconnect, wait and control message is logged (log.h).
 *
 * The credentials are copied, never logged, never put in a message (an
 * error body that echoes one is redacted), and wiped when freed.
 *
 * All calls are made from the loop's thread. Callbacks may call
 * stream_pause, stream_resume, stream_reconnect, stream_set_track and
 * stream_stop; never stream_free. */
#ifndef TM_STREAM_H
#define TM_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backoff.h"
#include "loop.h"
#include "mem.h"

typedef enum stream_mode { STREAM_MODE_V1, STREAM_MODE_V2, STREAM_MODE_NDJSON } stream_mode;

#define STREAM_V1_URL "https://stream.twitter.com/1.1/statuses/filter.json"
#define STREAM_V2_URL "https://api.x.com/2/tweets/search/stream"
/* Appended to a v2 URL that has no query of its own. */
#define STREAM_V2_QUERY                                                                                        \
    "tweet.fields=author_id,created_at,entities,lang,public_metrics,referenced_tweets,conversation_id,"     \
    "in_reply_to_user_id,note_tweet,possibly_sensitive,source&expansions=author_id&"                         \
    "user.fields=username,name,created_at,description,location,public_metrics,verified"
#define STREAM_DEFAULT_RULE_TAG "tweetmatch"
#define STREAM_DEFAULT_MAX_LINE_BYTES ((size_t)1 << 20)
#define STREAM_V1_STALL_MS 90000
#define STREAM_V2_STALL_MS 30000
#define STREAM_DEFAULT_HEALTHY_MS 60000

typedef struct stream_config {
    stream_mode mode;
    const char *url;                 /* NULL: the mode's endpoint; required for NDJSON */
    /* v1.1 (all four required) */
    const char *consumer_key;
    const char *consumer_secret;
    const char *access_token;
    const char *access_token_secret;
    /* v2 */
    const char *bearer_token;
    const char *rule_tag;            /* NULL: STREAM_DEFAULT_RULE_TAG */
    /* Track phrases, NULL-terminated (NULL: none); copied. v1.1 needs at
     * least one. NDJSON ignores them. */
    const char *const *track;
    size_t max_line_bytes;           /* 0: 1 MiB */
    int64_t stall_ms;                /* 0: 90 s (v1.1, NDJSON) or 30 s (v2) */
    int64_t healthy_ms;              /* 0: 60 s; backoff resets after a
                                        connection delivered data this long */
    long connect_timeout_ms;         /* 0: 10 s */
    long rules_timeout_ms;           /* v2 rules calls; 0: 10 s */
    backoff_config backoff;          /* zeros: Twitter's schedule */
    /* Randomness (OAuth nonces, jitter); NULL: OpenSSL's RAND_bytes. */
    uint64_t (*random)(void *ud);
    void *random_ud;
    /* Seconds since the epoch, for oauth_timestamp; NULL: time(). */
    int64_t (*wall_clock_s)(void);
} stream_config;

/* Defaults: jitter 10 %, everything else zero (mode V1, no URL). */
void stream_config_init(stream_config *cfg);

/* Fills cfg from the environment: CONSUMERKEY, CONSUMERSECRETKEY,
 * ACCESSTOKEN, ACCESSTOKENSECRET (all four: v1.1), BEARERTOKEN (v2),
 * STREAM_URL (the endpoint; with no credentials: NDJSON), STREAM_STALL_SECONDS
 * (0 or unset: the mode's), STREAM_RULE_TAG, MAX_LINE_BYTES. The strings
 * point into the environment (not copied). Empty variables count as unset.
 * On a bad or missing value sets *err (caller frees) to a message naming
 * the variable (never a secret's value) and returns false. The track
 * phrases are the caller's (the script's track, else FILTER). */
bool stream_config_from_env(stream_config *cfg, char **err) TM_MUST_CHECK;

typedef enum stream_state {
    STREAM_IDLE,       /* not started, or stopped */
    STREAM_CONNECTING, /* request sent (v2: rules in step), no answer yet */
    STREAM_CONNECTED,  /* 200 received */
    STREAM_BACKOFF,    /* waiting to reconnect */
    STREAM_FAILED,     /* permanent failure: no more attempts */
} stream_state;

/* Why a connection ended (and what a reconnect is counted under). */
typedef enum stream_reason {
    STREAM_REASON_NONE,
    STREAM_REASON_NETWORK,    /* transport error: refused, reset, timeout, TLS */
    STREAM_REASON_CLOSED,     /* the server ended the stream */
    STREAM_REASON_STALL,      /* no byte within the stall allowance */
    STREAM_REASON_DISCONNECT, /* a v1.1 disconnect notice, a v2 operational-disconnect */
    STREAM_REASON_HTTP,       /* an HTTP error status worth retrying */
    STREAM_REASON_RATE_LIMIT, /* 420 or 429 */
    STREAM_REASON_REQUESTED,  /* stream_reconnect, new track phrases */
    STREAM_REASON_AUTH,       /* 401, 403, 404: permanent */
    STREAM_REASON_COUNT
} stream_reason;

/* What on_state reports. Strings live during the call only. */
typedef struct stream_status {
    stream_state state;
    stream_reason reason;  /* BACKOFF, FAILED: why the last connection ended */
    long http_status;      /* the status behind it; 0 if none */
    const char *message;   /* Twitter's error message or the transport
                              error; "" if none; never a secret */
    int64_t wait_ms;       /* BACKOFF: the nominal wait */
    int64_t delay_ms;      /* BACKOFF: the wait with jitter, as armed */
    uint32_t attempt;      /* BACKOFF: consecutive failures of this kind */
} stream_status;

/* The stream's cheap classification of a message, by its first key. The
 * rule engine makes its own, final one (rule_process). */
typedef enum stream_msg_type {
    STREAM_MSG_TWEET,           /* "data" (v2) or a v1.1 tweet's key */
    STREAM_MSG_DELETE,
    STREAM_MSG_LIMIT,
    STREAM_MSG_DISCONNECT,
    STREAM_MSG_WARNING,
    STREAM_MSG_SCRUB_GEO,
    STREAM_MSG_STATUS_WITHHELD,
    STREAM_MSG_USER_WITHHELD,
    STREAM_MSG_ERRORS,          /* v2 "errors" (operational-disconnect, ...) */
    STREAM_MSG_OTHER_CONTROL,   /* event, friends, control */
    STREAM_MSG_UNKNOWN,         /* an object with another first key */
    STREAM_MSG_NOT_OBJECT,      /* does not start with '{' */
    STREAM_MSG_COUNT
} stream_msg_type;

typedef struct stream_callbacks {
    /* Each whole message, in order: not NUL-terminated, valid during the
     * call only, never empty. type is the stream's classification. */
    void (*on_line)(void *ud, const char *line, size_t len, stream_msg_type type);
    /* Each change of state (may be NULL). */
    void (*on_state)(void *ud, const stream_status *st);
    void *ud;
} stream_callbacks;

typedef struct stream_stats {
    uint64_t attempts;                        /* connection attempts */
    uint64_t connects;                        /* 200 answers */
    uint64_t reconnects[STREAM_REASON_COUNT]; /* ended connections, by reason */
    uint64_t bytes;                           /* body bytes, decompressed */
    uint64_t messages[STREAM_MSG_COUNT];      /* lines passed on, by type */
    uint64_t keepalives;                      /* blank lines */
    uint64_t oversize;                        /* lines over the cap, dropped */
    uint64_t bad_lines;                       /* oversize + messages[NOT_OBJECT] */
    uint64_t truncated;                       /* partial lines lost to a disconnect */
    uint64_t v2_other_rules;                  /* v2 tweets that matched none of our rules */
    uint64_t rules_added, rules_deleted, rules_refused;
    uint64_t pauses;
    int64_t paused_ms;                        /* total time paused */
    int64_t last_byte_ms;                     /* loop time of the last byte; 0: none yet */
} stream_stats;

typedef struct stream stream;

/* Checks cfg (copied, secrets included) and prepares a stream in l; no
 * I/O yet. On a bad configuration returns NULL and sets *err (caller frees)
 * to a message naming the setting. */
stream *stream_new(const stream_config *cfg, loop *l, stream_callbacks cb, char **err) TM_MUST_CHECK;
/* Stops and frees; wipes the credentials. NULL-safe. Not from a callback. */
void stream_free(stream *s);

/* Connects (from the loop, at once). Also restarts a stopped or failed
 * stream. */
void stream_start(stream *s);
/* Closes the connection and cancels any wait; the stream stays IDLE until
 * stream_start. Lines held by a pause are kept. */
void stream_stop(stream *s);
/* Closes the connection and connects again at once (reason REQUESTED: not
 * a failure, no backoff). */
void stream_reconnect(stream *s);
/* Replaces the track phrases. When they differ, v2 rules are synced and
 * the stream reconnects. Refused (false, *err set, caller frees) when the
 * v1.1 stream would be left with none. */
bool stream_set_track(stream *s, const char *const *track, char **err) TM_MUST_CHECK;

/* Backpressure: stops reading (curl_easy_pause) until stream_resume; a
 * line already received is held, not lost. No stall is detected while
 * paused; a pause longer than the stall allowance logs a warning (the
 * server may drop a reader that slow). */
void stream_pause(stream *s);
void stream_resume(stream *s);
bool stream_paused(const stream *s);

stream_state stream_get_state(const stream *s);
void stream_get_stats(const stream *s, stream_stats *out);
/* The stall allowance in effect, in ms. */
int64_t stream_stall_ms(const stream *s);

const char *stream_state_name(stream_state st);
const char *stream_reason_name(stream_reason r);
const char *stream_msg_type_name(stream_msg_type t);

/* The classification on_line reports, for (line, len). */
stream_msg_type stream_classify(const char *line, size_t len);

/* The v2 rule value for a track phrase: its space-separated terms, each
 * quoted when it holds a character the rule syntax would read as an
 * operator. OUT: caller frees. */
char *stream_v2_rule_value(const char *phrase);

#endif
