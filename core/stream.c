/* stream.c: see stream.h.
 *
 * One connection at a time, as one curl easy handle in the loop. Its life:
 *
 *   attempt (retry timer) ─ v2: rules sync (blocking http.h) ─ loop_add
 *     → header callback: 200 → CONNECTED (healthy timer armed)
 *     → write callback: bytes → frame → on_frame → deliver → on_line
 *   the end: on_done (the transfer finished or failed), or the stall timer,
 *   or a restart/stop asked for → end_connection → backoff → retry timer.
 *
 * curl forbids removing a handle from inside its own callbacks, so a stop or
 * a restart asked for there (by on_line, on_state, a disconnect notice) is
 * recorded in `pending` and the callback returns 0, which makes curl end the
 * transfer; on_done then carries out what was asked. */
#include "stream.h"

#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "buf.h"
#include "config.h"
#include "frame.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "oauth1.h"

#define ERRBODY_MAX ((size_t)16 << 10)
#define CONTROL_PARSE_MAX ((size_t)64 << 10)
#define MESSAGE_MAX 300

typedef enum pending_action { PENDING_NONE, PENDING_RESTART, PENDING_STOP } pending_action;

struct stream {
    stream_config cfg; /* pointers below are the stream's own copies */
    loop *l;
    stream_callbacks cb;
    char *url;       /* the request URL */
    char *rules_url; /* v2 */
    char *log_url;   /* url without user info or query, for logs */
    char *ck, *cs, *at, *ats, *bearer; /* secrets */
    char *rule_tag;
    char **track;
    size_t n_track;
    char *post_body; /* v1.1 form body */
    int64_t stall_ms, healthy_ms;
    backoff bo;

    CURL *easy;
    bool in_loop;
    struct curl_slist *headers;
    char errbuf[CURL_ERROR_SIZE];

    stream_state state;
    int in_callback; /* depth of our calls out from curl callbacks or on_done */
    pending_action pending;
    stream_reason pending_reason;
    char pending_msg[MESSAGE_MAX];
    unsigned stop_gen;

    frame fr;
    bool got_status;
    long http_status;
    buf errbody;
    int64_t quiet_since_ms; /* the stall clock: last byte, connect or resume */
    int64_t connected_ms;
    uint64_t bytes_at_connect;

    bool paused, curl_paused, pause_warned;
    int64_t paused_since_ms;
    buf held; /* lines framed while paused, each ended by '\n' */

    loop_timer retry_timer, stall_timer, healthy_timer, resume_timer, pause_timer;

    bool rules_synced;
    char **rule_ids;
    size_t n_rule_ids;

    stream_stats st;
};

/* ---- names ---- */

const char *stream_state_name(stream_state st)
{
    static const char *const n[] = {"idle", "connecting", "connected", "backoff", "failed"};
    return (unsigned)st < 5 ? n[st] : "?";
}

const char *stream_reason_name(stream_reason r)
{
    static const char *const n[] = {"none",     "network",    "closed",    "stall", "disconnect",
                                    "http_error", "rate_limit", "requested", "auth"};
    return (unsigned)r < STREAM_REASON_COUNT ? n[r] : "?";
}

static const char *const msg_names[STREAM_MSG_COUNT] = {
    "tweet", "delete", "limit", "disconnect", "warning", "scrub_geo", "status_withheld", "user_withheld",
    "errors", "other_control", "unknown", "not_object",
};

const char *stream_msg_type_name(stream_msg_type t)
{
    return (unsigned)t < STREAM_MSG_COUNT ? msg_names[t] : "?";
}

static const char *mode_name(stream_mode m)
{
    return m == STREAM_MODE_V1 ? "v1.1" : m == STREAM_MODE_V2 ? "v2" : "ndjson";
}

/* ---- configuration ---- */

void stream_config_init(stream_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->backoff.jitter_pct = 10;
}

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static bool url_ok(const char *url)
{
    size_t s = strncasecmp(url, "http://", 7) == 0 ? 7 : strncasecmp(url, "https://", 8) == 0 ? 8 : 0;
    return s && url[s] && url[s] != '/' && url[s] != '?' && url[s] != '#';
}

bool stream_config_from_env(stream_config *cfg, char **err)
{
    stream_config_init(cfg);
    static const char *const v1_names[] = {"CONSUMERKEY", "CONSUMERSECRETKEY", "ACCESSTOKEN", "ACCESSTOKENSECRET"};
    const char *v1[4];
    int n_v1 = 0;
    for (int i = 0; i < 4; i++)
        n_v1 += (v1[i] = env(v1_names[i])) != NULL;
    const char *bearer = env("BEARERTOKEN");
    const char *url = env("STREAM_URL");
    if (n_v1 > 0 && n_v1 < 4) {
        buf b;
        buf_init(&b, 4096);
        int missing = 4 - n_v1, k = 0;
        for (int i = 0; i < 4; i++) {
            if (v1[i])
                continue;
            buf_puts(&b, k == 0 ? "" : k == missing - 1 ? " and " : ", ");
            buf_puts(&b, v1_names[i]);
            k++;
        }
        *err = xasprintf("%s %s not set: the v1.1 stream needs CONSUMERKEY, CONSUMERSECRETKEY, ACCESSTOKEN "
                         "and ACCESSTOKENSECRET",
                         b.data, missing == 1 ? "is" : "are");
        buf_clean_up(&b);
        return false;
    }
    if (n_v1 == 4 && bearer) {
        *err = xstrdup("both the v1.1 keys (CONSUMERKEY, CONSUMERSECRETKEY, ACCESSTOKEN, ACCESSTOKENSECRET) and "
                       "BEARERTOKEN (v2) are set: set one of them");
        return false;
    }
    if (n_v1 == 0 && !bearer && !url) {
        *err = xstrdup("no stream configured: set CONSUMERKEY, CONSUMERSECRETKEY, ACCESSTOKEN and "
                       "ACCESSTOKENSECRET (v1.1), or BEARERTOKEN (v2), or STREAM_URL (any NDJSON stream)");
        return false;
    }
    if (url && !url_ok(url)) {
        /* The value is not printed: a URL may carry a token. */
        *err = xstrdup("STREAM_URL: must be an http:// or https:// URL with a host");
        return false;
    }
    uint64_t stall_s, line;
    if (!config_env_u64("STREAM_STALL_SECONDS", 0, 0, 86400, &stall_s, err) ||
        !config_env_u64("MAX_LINE_BYTES", STREAM_DEFAULT_MAX_LINE_BYTES, 1024, (uint64_t)1 << 30, &line, err))
        return false;
    cfg->mode = n_v1 == 4 ? STREAM_MODE_V1 : bearer ? STREAM_MODE_V2 : STREAM_MODE_NDJSON;
    cfg->url = url;
    cfg->consumer_key = v1[0];
    cfg->consumer_secret = v1[1];
    cfg->access_token = v1[2];
    cfg->access_token_secret = v1[3];
    cfg->bearer_token = bearer;
    cfg->rule_tag = env("STREAM_RULE_TAG");
    cfg->stall_ms = (int64_t)stall_s * 1000;
    cfg->max_line_bytes = (size_t)line;
    return true;
}

/* ---- small helpers ---- */

static uint64_t default_random(void *ud)
{
    (void)ud;
    uint64_t r;
    if (RAND_bytes((unsigned char *)&r, sizeof r) != 1) {
        fprintf(stderr, "tweetmatch: OpenSSL cannot produce random bytes\n");
        abort();
    }
    return r;
}

static int64_t default_wall_clock_s(void)
{
    return (int64_t)time(NULL);
}

static uint64_t rnd(stream *s)
{
    return s->cfg.random(s->cfg.random_ud);
}

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* A copy of (t, n) with every credential in it (raw or percent-encoded)
 * replaced by "[redacted]"; caller frees. Done on the whole text, before any
 * truncation, so no part of a secret survives at a cut. */
static char *redacted(const stream *s, const char *t, size_t n)
{
    buf cur;
    buf_init(&cur, (size_t)1 << 24);
    buf_put(&cur, t, n);
    for (size_t i = 0; i < cur.len; i++) /* so strstr sees it all */
        if (cur.data[i] == '\0')
            cur.data[i] = ' ';
    const char *secrets[] = {s->ck, s->cs, s->at, s->ats, s->bearer};
    for (size_t i = 0; i < sizeof secrets / sizeof *secrets; i++) {
        const char *sec = secrets[i];
        if (sec == NULL || strlen(sec) < 4)
            continue;
        buf enc;
        buf_init(&enc, 1 << 16);
        oauth1_encode(&enc, sec, strlen(sec));
        const char *forms[] = {sec, enc.data};
        for (int f = 0; f < 2; f++) {
            size_t fl = strlen(forms[f]);
            buf out;
            buf_init(&out, (size_t)1 << 25);
            const char *p = cur.data ? cur.data : "", *end = p + cur.len, *hit;
            while ((hit = strstr(p, forms[f])) != NULL && hit < end) {
                buf_put(&out, p, (size_t)(hit - p));
                buf_puts(&out, "[redacted]");
                p = hit + fl;
            }
            buf_put(&out, p, (size_t)(end - p));
            buf_clean_up_secret(&cur);
            cur = out;
        }
        buf_clean_up_secret(&enc);
    }
    return buf_steal(&cur, NULL);
}

/* printf into out (MESSAGE_MAX bytes), truncating. */
__attribute__((format(printf, 2, 3))) static void msgf(char *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, MESSAGE_MAX, fmt, ap);
    va_end(ap);
}

/* Copies (s, n) into out (MESSAGE_MAX), control characters as spaces. */
static void set_message(char *out, const char *s, size_t n)
{
    if (n >= MESSAGE_MAX)
        n = MESSAGE_MAX - 1;
    for (size_t i = 0; i < n; i++)
        out[i] = (unsigned char)s[i] < 0x20 ? ' ' : s[i];
    out[n] = '\0';
}

/* set_message of (t, n) with the credentials redacted first. */
static void set_redacted(const stream *s, char *out, const char *t, size_t n)
{
    char *r = redacted(s, t, n);
    set_message(out, r, strlen(r));
    mem_free_secret(r);
}

/* The text of member name when it is a string or a number. */
static const char *jtext(const json_value *o, const char *name, size_t *len)
{
    const json_value *v = json_get(o, name);
    if (v == NULL || (v->type != JSON_STRING && v->type != JSON_NUMBER))
        return NULL;
    *len = v->len;
    return v->u.str;
}

/* Twitter's error message from an error body: v1.1
 * {"errors":[{"code":32,"message":"..."}]}, v2 {"title":..,"detail":..},
 * else the body's text. Written into out (MESSAGE_MAX), redacted. */
static void error_message(const stream *s, const char *body, size_t n, long status, char *out)
{
    out[0] = '\0';
    if (n) {
        arena *a = arena_new(4096);
        char *perr = NULL;
        json_value *v = json_parse(body, n, a, 0, &perr);
        free(perr);
        const char *t = NULL;
        size_t tl = 0;
        if (v && v->type == JSON_OBJECT) {
            const json_value *errs = json_get(v, "errors");
            const json_value *e0 = errs && errs->type == JSON_ARRAY && errs->len ? &errs->u.items[0] : NULL;
            if (e0 && !(t = jtext(e0, "message", &tl)) && !(t = jtext(e0, "detail", &tl)))
                t = jtext(e0, "title", &tl);
            if (t == NULL && !(t = jtext(v, "detail", &tl)))
                t = jtext(v, "title", &tl);
        }
        if (t == NULL) {
            t = body;
            tl = n;
            while (tl && (t[tl - 1] == '\n' || t[tl - 1] == '\r' || t[tl - 1] == ' '))
                tl--;
        }
        set_redacted(s, out, t, tl);
        arena_free(a);
    }
    if (out[0] == '\0')
        snprintf(out, MESSAGE_MAX, "HTTP %ld", status);
}

static stream_reason status_reason(long status)
{
    if (status == 401 || status == 403 || status == 404)
        return STREAM_REASON_AUTH;
    if (status == 420 || status == 429)
        return STREAM_REASON_RATE_LIMIT;
    return STREAM_REASON_HTTP;
}

/* ---- classification ---- */

stream_msg_type stream_classify(const char *line, size_t len)
{
    size_t i = 0;
    while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
        i++;
    if (i >= len || line[i] != '{')
        return STREAM_MSG_NOT_OBJECT;
    i++;
    while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
        i++;
    if (i >= len || line[i] != '"')
        return STREAM_MSG_UNKNOWN;
    const char *key = line + i + 1;
    const char *end = memchr(key, '"', len - i - 1);
    if (end == NULL || memchr(key, '\\', (size_t)(end - key)))
        return STREAM_MSG_UNKNOWN;
    size_t kl = (size_t)(end - key);
    static const struct {
        const char *key;
        stream_msg_type type;
    } keys[] = {
        {"data", STREAM_MSG_TWEET},
        {"created_at", STREAM_MSG_TWEET},
        {"id", STREAM_MSG_TWEET},
        {"id_str", STREAM_MSG_TWEET},
        {"text", STREAM_MSG_TWEET},
        {"full_text", STREAM_MSG_TWEET},
        {"extended_tweet", STREAM_MSG_TWEET},
        {"user", STREAM_MSG_TWEET},
        {"retweeted_status", STREAM_MSG_TWEET},
        {"quoted_status", STREAM_MSG_TWEET},
        {"delete", STREAM_MSG_DELETE},
        {"limit", STREAM_MSG_LIMIT},
        {"disconnect", STREAM_MSG_DISCONNECT},
        {"warning", STREAM_MSG_WARNING},
        {"scrub_geo", STREAM_MSG_SCRUB_GEO},
        {"status_withheld", STREAM_MSG_STATUS_WITHHELD},
        {"user_withheld", STREAM_MSG_USER_WITHHELD},
        {"errors", STREAM_MSG_ERRORS},
        {"event", STREAM_MSG_OTHER_CONTROL},
        {"friends", STREAM_MSG_OTHER_CONTROL},
        {"friends_str", STREAM_MSG_OTHER_CONTROL},
        {"control", STREAM_MSG_OTHER_CONTROL},
    };
    for (size_t k = 0; k < sizeof keys / sizeof *keys; k++)
        if (strlen(keys[k].key) == kl && memcmp(keys[k].key, key, kl) == 0)
            return keys[k].type;
    return STREAM_MSG_UNKNOWN;
}

/* ---- v2 rules ---- */

static bool term_needs_quotes(const char *t, size_t n)
{
    if ((n == 2 && memcmp(t, "OR", 2) == 0) || (n == 3 && memcmp(t, "AND", 3) == 0) || t[0] == '-')
        return true;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];
        bool word = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
                    c >= 0x80 || ((c == '#' || c == '@' || c == '$') && i == 0);
        if (!word)
            return true;
    }
    return false;
}

char *stream_v2_rule_value(const char *phrase)
{
    buf b;
    buf_init(&b, (size_t)1 << 20);
    const char *p = phrase;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
            p++;
        if (*p == '\0')
            break;
        size_t n = strcspn(p, " \t\r\n");
        if (b.len)
            buf_putc(&b, ' ');
        if (term_needs_quotes(p, n)) {
            buf_putc(&b, '"');
            for (size_t i = 0; i < n; i++) {
                if (p[i] == '"' || p[i] == '\\')
                    buf_putc(&b, '\\');
                buf_putc(&b, p[i]);
            }
            buf_putc(&b, '"');
        } else {
            buf_put(&b, p, n);
        }
        p += n;
    }
    return buf_steal(&b, NULL);
}

static void end_connection(stream *s, stream_reason reason, long status, const char *msg);

/* A rules call failed: the attempt ends like a failed connect. */
static void rules_failed(stream *s, const char *what, const http_response *r)
{
    char msg[MESSAGE_MAX];
    if (r->status == 0) {
        char m[MESSAGE_MAX];
        set_redacted(s, m, r->error, strlen(r->error));
        msgf(msg, "%s: %s", what, m);
        end_connection(s, STREAM_REASON_NETWORK, 0, msg);
        return;
    }
    char m[MESSAGE_MAX];
    error_message(s, r->body.data, r->body.len, r->status, m);
    msgf(msg, "%s: HTTP %ld: %s", what, r->status, m);
    end_connection(s, status_reason(r->status), r->status, msg);
}

static bool rules_call(stream *s, const char *method, const char *body, size_t body_len, http_response *r)
{
    char *auth = xasprintf("Authorization: Bearer %s", s->bearer);
    const char *h[] = {auth, "Content-Type: application/json", "Accept: application/json", NULL};
    http_request req = {
        .method = method,
        .url = s->rules_url,
        .headers = body ? h : (const char *const[]){auth, "Accept: application/json", NULL},
        .body = body,
        .body_len = body_len,
        .timeout_ms = s->cfg.rules_timeout_ms ? s->cfg.rules_timeout_ms : 10000,
        .connect_timeout_ms = s->cfg.connect_timeout_ms ? s->cfg.connect_timeout_ms : 10000,
    };
    bool ok = http_perform(&req, r);
    mem_free_secret(auth);
    return ok;
}

typedef struct rule_entry {
    char *id;
    char *value;
    bool ours;
    bool keep;
} rule_entry;

/* Logs each rule the API refused (an "errors" array with "value"s);
 * returns how many, and marks their values in refused (parallel to vals). */
static size_t log_refused(const json_value *doc, char **vals, size_t n_vals, bool *refused)
{
    const json_value *errs = json_get(doc, "errors");
    size_t count = 0;
    if (errs == NULL || errs->type != JSON_ARRAY)
        return 0;
    for (size_t i = 0; i < errs->len; i++) {
        const json_value *e = &errs->u.items[i];
        size_t vl = 0, tl = 0;
        const char *v = jtext(e, "value", &vl);
        if (v == NULL)
            continue;
        const char *title = jtext(e, "title", &tl);
        const json_value *det = json_get(e, "details");
        const char *d = NULL;
        size_t dl = 0;
        if (det && det->type == JSON_ARRAY && det->len && det->u.items[0].type == JSON_STRING) {
            d = det->u.items[0].u.str;
            dl = det->u.items[0].len;
        }
        log_event(LOG_WARN, "stream_rule_refused", LF_SN("value", v, vl), LF_SN("title", title ? title : "", tl),
                  LF_SN("detail", d ? d : "", dl), LF_END);
        count++;
        for (size_t k = 0; k < n_vals; k++)
            if (strlen(vals[k]) == vl && memcmp(vals[k], v, vl) == 0)
                refused[k] = true;
    }
    return count;
}

/* Makes the v2 rules match the track phrases: lists them, deletes ours the
 * phrases no longer have, adds the missing ones. Returns false when a call
 * failed (the attempt has then been ended and a retry scheduled). */
static bool sync_rules(stream *s)
{
    http_response r;
    http_response_init(&r);
    arena *a = arena_new(16 << 10);
    rule_entry *rules = NULL;
    size_t n_rules = 0;
    char **want = NULL, **add = NULL, **del = NULL, **ids = NULL;
    size_t n_want = 0, n_add = 0, n_del = 0, n_ids = 0, n_kept = 0, n_refused = 0, n_added = 0;
    bool ok = false;
    char *perr = NULL;

    if (!rules_call(s, "GET", NULL, 0, &r) || r.status != 200) {
        rules_failed(s, "listing the v2 rules", &r);
        goto done;
    }
    json_value *doc = json_parse(r.body.data ? r.body.data : "", r.body.len, a, 0, &perr);
    if (doc == NULL || doc->type != JSON_OBJECT) {
        char msg[MESSAGE_MAX];
        snprintf(msg, sizeof msg, "listing the v2 rules: %s", perr ? perr : "not a JSON object");
        end_connection(s, STREAM_REASON_HTTP, r.status, msg);
        goto done;
    }
    const json_value *data = json_get(doc, "data");
    if (data && data->type == JSON_ARRAY) {
        rules = xcalloc(data->len, sizeof *rules);
        for (size_t i = 0; i < data->len; i++) {
            size_t il = 0, vl = 0, tl = 0;
            const char *id = jtext(&data->u.items[i], "id", &il);
            const char *v = jtext(&data->u.items[i], "value", &vl);
            const char *tag = jtext(&data->u.items[i], "tag", &tl);
            if (id == NULL || v == NULL)
                continue;
            rule_entry *e = &rules[n_rules++];
            e->id = xstrndup(id, il);
            e->value = xstrndup(v, vl);
            e->ours = tag && tl == strlen(s->rule_tag) && memcmp(tag, s->rule_tag, tl) == 0;
        }
    }
    want = xcalloc(s->n_track + 1, sizeof *want);
    for (size_t i = 0; i < s->n_track; i++) {
        char *v = stream_v2_rule_value(s->track[i]);
        bool dup = *v == '\0';
        for (size_t k = 0; k < n_want && !dup; k++)
            dup = strcmp(want[k], v) == 0;
        if (dup)
            free(v);
        else
            want[n_want++] = v;
    }
    /* Keep one of ours per wanted value; delete the rest of ours. */
    ids = xcalloc(n_rules + n_want + 1, sizeof *ids);
    add = xcalloc(n_want + 1, sizeof *add);
    del = xcalloc(n_rules + 1, sizeof *del);
    for (size_t k = 0; k < n_want; k++) {
        bool have = false;
        for (size_t i = 0; i < n_rules && !have; i++)
            if (rules[i].ours && !rules[i].keep && strcmp(rules[i].value, want[k]) == 0)
                have = rules[i].keep = true;
        if (!have)
            add[n_add++] = want[k];
    }
    for (size_t i = 0; i < n_rules; i++) {
        if (rules[i].ours && !rules[i].keep)
            del[n_del++] = rules[i].id;
        else if (rules[i].keep) {
            ids[n_ids++] = xstrdup(rules[i].id);
            n_kept++;
        }
    }
    if (n_del) {
        buf b;
        buf_init(&b, (size_t)1 << 24);
        buf_puts(&b, "{\"delete\":{\"ids\":[");
        for (size_t i = 0; i < n_del; i++) {
            if (i)
                buf_putc(&b, ',');
            json_put_string(&b, del[i], strlen(del[i]));
        }
        buf_puts(&b, "]}}");
        bool sent = rules_call(s, "POST", b.data, b.len, &r);
        buf_clean_up(&b);
        if (!sent || r.status != 200) {
            rules_failed(s, "deleting v2 rules", &r);
            goto done;
        }
        s->st.rules_deleted += n_del;
    }
    /* Adds; when the API refuses the whole request over some invalid rules
     * (400 naming them), tries once more without those. */
    bool *refused = xcalloc(n_add + 1, sizeof *refused);
    for (int round = 0; round < 2 && n_add; round++) {
        buf b;
        buf_init(&b, (size_t)1 << 24);
        buf_puts(&b, "{\"add\":[");
        size_t sent_n = 0;
        for (size_t i = 0; i < n_add; i++) {
            if (refused[i])
                continue;
            if (sent_n++)
                buf_putc(&b, ',');
            buf_puts(&b, "{\"value\":");
            json_put_string(&b, add[i], strlen(add[i]));
            buf_puts(&b, ",\"tag\":");
            json_put_string(&b, s->rule_tag, strlen(s->rule_tag));
            buf_putc(&b, '}');
        }
        buf_puts(&b, "]}");
        if (sent_n == 0) {
            buf_clean_up(&b);
            break;
        }
        bool sent = rules_call(s, "POST", b.data, b.len, &r);
        buf_clean_up(&b);
        if (!sent) {
            free(refused);
            rules_failed(s, "adding v2 rules", &r);
            goto done;
        }
        free(perr);
        perr = NULL;
        json_value *res = r.body.len ? json_parse(r.body.data, r.body.len, a, 0, &perr) : NULL;
        size_t before = n_refused;
        if (res && res->type == JSON_OBJECT)
            n_refused += log_refused(res, add, n_add, refused);
        if (r.status == 200 || r.status == 201) {
            const json_value *made = res ? json_get(res, "data") : NULL;
            for (size_t i = 0; made && made->type == JSON_ARRAY && i < made->len; i++) {
                size_t il = 0;
                const char *id = jtext(&made->u.items[i], "id", &il);
                if (id) {
                    ids = xrealloc(ids, (n_ids + 2) * sizeof *ids);
                    ids[n_ids++] = xstrndup(id, il);
                    n_added++;
                }
            }
            break;
        }
        if (r.status == 400 && n_refused > before && round == 0)
            continue;
        free(refused);
        rules_failed(s, "adding v2 rules", &r);
        goto done;
    }
    free(refused);
    s->st.rules_refused += n_refused;
    s->st.rules_added += n_added;
    free_strv(s->rule_ids, s->n_rule_ids);
    s->rule_ids = ids;
    s->n_rule_ids = n_ids;
    ids = NULL;
    s->rules_synced = true;
    log_event(LOG_INFO, "stream_rules_synced", LF_I("kept", n_kept), LF_I("added", n_added),
              LF_I("deleted", n_del), LF_I("refused", n_refused), LF_S("tag", s->rule_tag), LF_END);
    if (n_want == 0)
        log_event(LOG_WARN, "stream_no_rules", LF_S("message", "no track phrases: the v2 stream has none of our rules"),
                  LF_END);
    ok = true;
done:
    free(perr);
    for (size_t i = 0; i < n_rules; i++) {
        free(rules[i].id);
        free(rules[i].value);
    }
    free(rules);
    free_strv(want, n_want);
    free(add);
    free(del);
    if (ids)
        free_strv(ids, n_ids);
    arena_free(a);
    http_response_clean_up(&r);
    return ok;
}

/* Does a v2 tweet name one of our rules in matching_rules (ids as strings
 * or numbers)? True when it has no matching_rules at all. */
static bool matches_our_rules(const stream *s, const char *line, size_t len)
{
    static const char key[] = "\"matching_rules\"";
    const size_t kn = sizeof key - 1;
    if (len < kn)
        return true;
    const char *p = NULL;
    for (const char *q = line + len - kn + 1; q-- > line;)
        if (*q == '"' && memcmp(q, key, kn) == 0) {
            p = q + kn;
            break;
        }
    if (p == NULL)
        return true;
    const char *end = line + len;
    while (p < end && (*p == ' ' || *p == ':' || *p == '\t'))
        p++;
    if (p >= end || *p != '[')
        return true;
    /* The array's extent, strings and nesting respected. */
    const char *q = p;
    int depth = 0;
    bool in_str = false;
    for (; q < end; q++) {
        if (in_str) {
            if (*q == '\\')
                q++;
            else if (*q == '"')
                in_str = false;
        } else if (*q == '"') {
            in_str = true;
        } else if (*q == '[' || *q == '{') {
            depth++;
        } else if (*q == ']' || *q == '}') {
            if (--depth == 0)
                break;
        }
    }
    if (q >= end)
        return true;
    arena *a = arena_new(1024);
    char *err = NULL;
    json_value *v = json_parse(p, (size_t)(q - p + 1), a, 8, &err);
    free(err);
    bool ours = v == NULL || v->type != JSON_ARRAY || v->len == 0;
    for (size_t i = 0; v && v->type == JSON_ARRAY && i < v->len && !ours; i++) {
        size_t il = 0, tl = 0;
        const char *id = jtext(&v->u.items[i], "id", &il);
        const char *tag = jtext(&v->u.items[i], "tag", &tl);
        if (tag && tl == strlen(s->rule_tag) && memcmp(tag, s->rule_tag, tl) == 0)
            ours = true;
        for (size_t k = 0; id && k < s->n_rule_ids && !ours; k++)
            ours = strlen(s->rule_ids[k]) == il && memcmp(s->rule_ids[k], id, il) == 0;
    }
    arena_free(a);
    return ours;
}

/* ---- state and backoff ---- */

static void emit(stream *s, stream_state st, stream_reason reason, long status, const char *msg, int64_t wait,
                 int64_t delay, uint32_t attempt)
{
    s->state = st;
    if (s->cb.on_state == NULL)
        return;
    stream_status x = {st, reason, status, msg ? msg : "", wait, delay, attempt};
    s->cb.on_state(s->cb.ud, &x);
}

static void attempt(void *ud);

static backoff_kind kind_of(stream_reason r)
{
    return r == STREAM_REASON_HTTP ? BACKOFF_HTTP : r == STREAM_REASON_RATE_LIMIT ? BACKOFF_RATE : BACKOFF_NETWORK;
}

/* Arms the next attempt after a connection ended for reason. */
static void schedule(stream *s, stream_reason reason, long status, const char *msg)
{
    int64_t wait = 0, delay = 0;
    uint32_t n = 0;
    if (reason != STREAM_REASON_REQUESTED) {
        backoff_kind k = kind_of(reason);
        wait = backoff_next(&s->bo, k);
        delay = wait > 0 ? backoff_jitter(&s->bo, wait, rnd(s)) : 0;
        n = backoff_failures(&s->bo, k);
    }
    int64_t now = loop_now_ms(s->l);
    loop_timer_set(s->l, &s->retry_timer, now + delay, attempt, s);
    log_event(reason == STREAM_REASON_REQUESTED || wait == 0 ? LOG_INFO : LOG_WARN, "stream_backoff",
              LF_S("reason", stream_reason_name(reason)), LF_I("wait_ms", wait), LF_I("delay_ms", delay),
              LF_I("attempt", n), LF_END);
    emit(s, STREAM_BACKOFF, reason, status, msg, wait, delay, n);
}

static void free_headers(stream *s)
{
    for (struct curl_slist *h = s->headers; h; h = h->next)
        mem_wipe(h->data, strlen(h->data));
    curl_slist_free_all(s->headers);
    s->headers = NULL;
}

/* Forgets the transfer's state (the handle is out of the loop). */
static void release_transfer(stream *s)
{
    loop_timer_cancel(s->l, &s->stall_timer);
    loop_timer_cancel(s->l, &s->healthy_timer);
    free_headers(s);
    if (s->fr.pending.len || s->fr.discarding)
        s->st.truncated++;
    frame_reset(&s->fr);
    s->curl_paused = false;
    s->got_status = false;
    s->http_status = 0;
    buf_reset(&s->errbody);
}

/* The connection (or the attempt) is over: log it, then retry or fail. */
static void end_connection(stream *s, stream_reason reason, long status, const char *msg)
{
    bool was_connected = s->state == STREAM_CONNECTED;
    int64_t now = loop_now_ms(s->l);
    release_transfer(s);
    s->st.reconnects[reason]++;
    log_level lv = reason == STREAM_REASON_REQUESTED ? LOG_INFO : reason == STREAM_REASON_AUTH ? LOG_ERROR : LOG_WARN;
    if (was_connected)
        log_event(lv, "stream_disconnected", LF_S("reason", stream_reason_name(reason)), LF_S("message", msg),
                  LF_I("connected_ms", now - s->connected_ms), LF_I("bytes", s->st.bytes - s->bytes_at_connect),
                  LF_END);
    else
        log_event(lv, "stream_connect_failed", LF_S("reason", stream_reason_name(reason)), LF_I("status", status),
                  LF_S("message", msg), LF_END);
    if (reason == STREAM_REASON_AUTH) {
        log_event(LOG_ERROR, "stream_failed", LF_I("status", status), LF_S("message", msg),
                  LF_S("url", s->log_url), LF_END);
        emit(s, STREAM_FAILED, reason, status, msg, 0, 0, 0);
        return;
    }
    schedule(s, reason, status, msg);
}

/* Ends the connection for reason now, or, inside a curl callback, as soon
 * as the callback returns. */
static void request_restart(stream *s, stream_reason reason, const char *msg)
{
    if (s->pending == PENDING_STOP)
        return;
    if (s->in_callback) {
        if (s->pending == PENDING_NONE) {
            s->pending = PENDING_RESTART;
            s->pending_reason = reason;
            snprintf(s->pending_msg, sizeof s->pending_msg, "%s", msg);
        }
        return;
    }
    if (s->in_loop) {
        loop_remove(s->l, s->easy);
        s->in_loop = false;
        end_connection(s, reason, 0, msg);
    } else if (s->state == STREAM_BACKOFF && reason == STREAM_REASON_REQUESTED) {
        loop_timer_cancel(s->l, &s->retry_timer);
        s->st.reconnects[reason]++;
        schedule(s, reason, 0, msg);
    }
}

/* ---- control messages ---- */

static void log_control(stream_msg_type t, const char *line, size_t len, bool *restart)
{
    *restart = false;
    if (t == STREAM_MSG_NOT_OBJECT) {
        log_event(LOG_WARN, "stream_bad_line", LF_I("bytes", len), LF_SN("start", line, len < 80 ? len : 80),
                  LF_END);
        return;
    }
    if (t == STREAM_MSG_DELETE) {
        if (log_enabled(LOG_DEBUG))
            log_event(LOG_DEBUG, "stream_delete", LF_I("bytes", len), LF_END);
        return;
    }
    arena *a = NULL;
    json_value *v = NULL;
    if (len <= CONTROL_PARSE_MAX) {
        a = arena_new(4096);
        char *err = NULL;
        v = json_parse(line, len, a, 0, &err);
        free(err);
    }
    const json_value *body = NULL;
    size_t n1 = 0, n2 = 0, n3 = 0;
    const char *t1, *t2, *t3;
    switch (t) {
    case STREAM_MSG_LIMIT:
        body = json_get(v, "limit");
        t1 = jtext(body, "track", &n1);
        log_event(LOG_INFO, "stream_limit", LF_I("undelivered", t1 ? strtoll(t1, NULL, 10) : -1), LF_END);
        break;
    case STREAM_MSG_DISCONNECT:
        body = json_get(v, "disconnect");
        t1 = jtext(body, "code", &n1);
        t2 = jtext(body, "reason", &n2);
        t3 = jtext(body, "stream_name", &n3);
        log_event(LOG_WARN, "stream_disconnect_message", LF_I("code", t1 ? strtoll(t1, NULL, 10) : -1),
                  LF_SN("reason", t2 ? t2 : "", n2), LF_SN("stream_name", t3 ? t3 : "", n3), LF_END);
        *restart = true;
        break;
    case STREAM_MSG_WARNING:
        body = json_get(v, "warning");
        t1 = jtext(body, "code", &n1);
        t2 = jtext(body, "message", &n2);
        t3 = jtext(body, "percent_full", &n3);
        log_event(LOG_WARN, "stream_warning", LF_SN("code", t1 ? t1 : "", n1), LF_SN("message", t2 ? t2 : "", n2),
                  LF_I("percent_full", t3 ? strtoll(t3, NULL, 10) : -1), LF_END);
        break;
    case STREAM_MSG_SCRUB_GEO:
    case STREAM_MSG_STATUS_WITHHELD:
    case STREAM_MSG_USER_WITHHELD:
        log_event(LOG_INFO, "stream_control", LF_S("type", stream_msg_type_name(t)),
                  LF_SN("detail", line, len < 500 ? len : 500), LF_END);
        break;
    case STREAM_MSG_ERRORS: {
        const json_value *errs = json_get(v, "errors");
        for (size_t i = 0; errs && errs->type == JSON_ARRAY && i < errs->len; i++) {
            const json_value *e = &errs->u.items[i];
            t1 = jtext(e, "title", &n1);
            t2 = jtext(e, "detail", &n2);
            t3 = jtext(e, "type", &n3);
            size_t n4 = 0;
            const char *t4 = jtext(e, "disconnect_type", &n4);
            bool op = (t1 && n1 == 22 && memcmp(t1, "operational-disconnect", 22) == 0) ||
                      (t3 && n3 >= 22 && memcmp(t3 + n3 - 22, "operational-disconnect", 22) == 0) || t4 != NULL;
            if (op)
                *restart = true;
            log_event(LOG_WARN, op ? "stream_operational_disconnect" : "stream_error_message",
                      LF_SN("title", t1 ? t1 : "", n1), LF_SN("detail", t2 ? t2 : "", n2),
                      LF_SN("disconnect_type", t4 ? t4 : "", n4), LF_END);
        }
        if (v == NULL || errs == NULL)
            log_event(LOG_WARN, "stream_error_message", LF_SN("detail", line, len < 500 ? len : 500), LF_END);
        break;
    }
    case STREAM_MSG_OTHER_CONTROL:
        if (log_enabled(LOG_DEBUG))
            log_event(LOG_DEBUG, "stream_control", LF_S("type", "other"), LF_SN("detail", line, len < 200 ? len : 200),
                      LF_END);
        break;
    case STREAM_MSG_UNKNOWN:
        if (log_enabled(LOG_DEBUG))
            log_event(LOG_DEBUG, "stream_unknown_message", LF_I("bytes", len),
                      LF_SN("start", line, len < 80 ? len : 80), LF_END);
        break;
    default:
        break;
    }
    arena_free(a);
}

/* ---- lines ---- */

static void deliver(stream *s, const char *line, size_t len)
{
    stream_msg_type t = stream_classify(line, len);
    s->st.messages[t]++;
    bool restart = false;
    if (t == STREAM_MSG_TWEET) {
        if (s->cfg.mode == STREAM_MODE_V2 && !matches_our_rules(s, line, len)) {
            s->st.v2_other_rules++;
            if (log_enabled(LOG_DEBUG))
                log_event(LOG_DEBUG, "stream_other_rules", LF_S("message", "a tweet matched none of our rules"),
                          LF_END);
        }
    } else {
        log_control(t, line, len, &restart);
    }
    if (s->cb.on_line)
        s->cb.on_line(s->cb.ud, line, len, t);
    if (restart)
        request_restart(s, STREAM_REASON_DISCONNECT,
                        t == STREAM_MSG_DISCONNECT ? "disconnect message" : "operational-disconnect");
}

static void hold(stream *s, const char *line, size_t len)
{
    buf_put(&s->held, line, len);
    buf_putc(&s->held, '\n');
    if (s->held.failed) {
        /* Cannot happen within the cap (one curl chunk past a pause, plus
         * one line); reported rather than grown without bound. */
        s->held.failed = false;
        s->st.oversize++;
        log_event(LOG_ERROR, "stream_line_dropped", LF_S("message", "held lines over their cap while paused"),
                  LF_I("bytes", len), LF_END);
    }
}

static void on_frame(void *ud, frame_event ev, const char *line, size_t len, uint64_t line_no)
{
    stream *s = ud;
    (void)line_no;
    if (s->pending == PENDING_STOP)
        return;
    if (ev == FRAME_OVERSIZE) {
        s->st.oversize++;
        log_event(LOG_WARN, "stream_line_dropped", LF_S("message", "line over the size cap"), LF_I("bytes", len),
                  LF_I("max_bytes", s->fr.max_bytes), LF_END);
        return;
    }
    if (len == 0) {
        s->st.keepalives++;
        return;
    }
    if (s->paused) {
        hold(s, line, len);
        if (s->in_loop && !s->curl_paused) {
            curl_easy_pause(s->easy, CURLPAUSE_RECV);
            s->curl_paused = true;
        }
        return;
    }
    deliver(s, line, len);
}

/* ---- curl callbacks ---- */

static void touch(stream *s)
{
    s->quiet_since_ms = s->st.last_byte_ms = loop_now_ms(s->l);
}

static void healthy_fire(void *ud);

static void on_connected(stream *s)
{
    int64_t now = loop_now_ms(s->l);
    s->st.connects++;
    s->connected_ms = now;
    s->bytes_at_connect = s->st.bytes;
    loop_timer_set(s->l, &s->healthy_timer, now + s->healthy_ms, healthy_fire, s);
    log_event(LOG_INFO, "stream_connected", LF_S("mode", mode_name(s->cfg.mode)), LF_S("url", s->log_url),
              LF_I("status", 200), LF_END);
    emit(s, STREAM_CONNECTED, STREAM_REASON_NONE, 200, "", 0, 0, 0);
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    stream *s = ud;
    size_t len = size * n;
    touch(s);
    /* The blank line after the final header block (trailers after a
     * chunked body end with one too: got_status skips them). */
    if (len <= 2 && (p[0] == '\r' || p[0] == '\n') && !s->got_status) {
        long code = 0;
        curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
        if (code >= 100 && code < 200)
            return len;
        s->http_status = code;
        s->got_status = true;
        if (code == 200) {
            s->in_callback++;
            on_connected(s);
            s->in_callback--;
            if (s->pending != PENDING_NONE)
                return 0;
        }
    }
    return len;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    stream *s = ud;
    size_t len = size * n;
    touch(s);
    if (!s->got_status || s->http_status != 200) {
        size_t room = ERRBODY_MAX - s->errbody.len;
        buf_put(&s->errbody, p, len < room ? len : room);
        return len <= room ? len : 0; /* enough of an error body */
    }
    s->st.bytes += len;
    if (s->pending == PENDING_STOP)
        return 0;
    s->in_callback++;
    frame_push(&s->fr, p, len, on_frame, s);
    s->in_callback--;
    return s->pending != PENDING_NONE ? 0 : len;
}

static void on_done(void *ud, CURL *easy, CURLcode result)
{
    stream *s = ud;
    (void)easy;
    s->in_loop = false;
    stream_reason reason = STREAM_REASON_NETWORK;
    long status = 0;
    char msg[MESSAGE_MAX];
    if (s->got_status && s->http_status == 200 && result == CURLE_OK) {
        /* A clean end: a last line without its newline is whole. */
        s->in_callback++;
        frame_finish(&s->fr, on_frame, s);
        s->in_callback--;
        reason = STREAM_REASON_CLOSED;
        snprintf(msg, sizeof msg, "the server ended the stream");
    } else if (s->got_status && s->http_status != 200) {
        status = s->http_status;
        reason = status_reason(status);
        error_message(s, s->errbody.data, s->errbody.len, status, msg);
    } else {
        const char *e = s->errbuf[0] ? s->errbuf : curl_easy_strerror(result);
        set_redacted(s, msg, e, strlen(e));
    }
    if (s->pending == PENDING_STOP) {
        s->pending = PENDING_NONE;
        release_transfer(s);
        return;
    }
    if (s->pending == PENDING_RESTART) {
        s->pending = PENDING_NONE;
        reason = s->pending_reason;
        status = 0;
        snprintf(msg, sizeof msg, "%s", s->pending_msg);
    }
    end_connection(s, reason, status, msg);
}

/* ---- timers ---- */

static void stall_fire(void *ud)
{
    stream *s = ud;
    if (!s->in_loop || s->paused)
        return; /* a resume re-arms it */
    int64_t now = loop_now_ms(s->l);
    if (now - s->quiet_since_ms < s->stall_ms) {
        loop_timer_set(s->l, &s->stall_timer, s->quiet_since_ms + s->stall_ms, stall_fire, s);
        return;
    }
    loop_remove(s->l, s->easy);
    s->in_loop = false;
    char msg[MESSAGE_MAX];
    snprintf(msg, sizeof msg, "no data for %lld ms (stall allowance %lld ms)", (long long)(now - s->quiet_since_ms),
             (long long)s->stall_ms);
    end_connection(s, STREAM_REASON_STALL, 0, msg);
}

static void healthy_fire(void *ud)
{
    stream *s = ud;
    if (s->state != STREAM_CONNECTED)
        return;
    if (s->st.bytes > s->bytes_at_connect) {
        backoff_reset(&s->bo);
        if (log_enabled(LOG_DEBUG))
            log_event(LOG_DEBUG, "stream_healthy", LF_I("connected_ms", loop_now_ms(s->l) - s->connected_ms), LF_END);
    } else {
        loop_timer_set(s->l, &s->healthy_timer, loop_now_ms(s->l) + s->healthy_ms, healthy_fire, s);
    }
}

static void pause_fire(void *ud)
{
    stream *s = ud;
    if (!s->paused)
        return;
    s->pause_warned = true;
    log_event(LOG_WARN, "stream_paused_long", LF_I("paused_ms", loop_now_ms(s->l) - s->paused_since_ms),
              LF_I("stall_ms", s->stall_ms),
              LF_S("message", "the stream is paused longer than its stall allowance: the server may drop it"),
              LF_END);
}

/* Delivers the lines held during a pause, then lets curl read again. */
static void resume_fire(void *ud)
{
    stream *s = ud;
    unsigned gen = s->stop_gen;
    size_t off = 0;
    while (off < s->held.len && !s->paused && gen == s->stop_gen) {
        char *nl = memchr(s->held.data + off, '\n', s->held.len - off);
        size_t n = (size_t)(nl - (s->held.data + off));
        size_t at = off;
        off += n + 1;
        deliver(s, s->held.data + at, n);
    }
    if (off >= s->held.len) {
        buf_reset(&s->held);
    } else if (off) {
        memmove(s->held.data, s->held.data + off, s->held.len - off);
        s->held.len -= off;
        s->held.data[s->held.len] = '\0';
    }
    if (!s->paused && s->in_loop && s->curl_paused) {
        s->curl_paused = false;
        s->quiet_since_ms = loop_now_ms(s->l);
        loop_timer_set(s->l, &s->stall_timer, s->quiet_since_ms + s->stall_ms, stall_fire, s);
        curl_easy_pause(s->easy, CURLPAUSE_CONT);
    }
}

/* ---- connecting ---- */

static void build_post_body(stream *s)
{
    free(s->post_body);
    buf b;
    buf_init(&b, (size_t)1 << 24);
    buf_puts(&b, "track=");
    buf joined;
    buf_init(&joined, (size_t)1 << 24);
    for (size_t i = 0; i < s->n_track; i++) {
        if (i)
            buf_putc(&joined, ',');
        buf_puts(&joined, s->track[i]);
    }
    oauth1_encode(&b, joined.data ? joined.data : "", joined.len);
    buf_clean_up(&joined);
    buf_puts(&b, "&stall_warnings=true");
    s->post_body = buf_steal(&b, NULL);
}

static void add_header(stream *s, char *line)
{
    s->headers = curl_slist_append(s->headers, line);
    mem_free_secret(line);
}

static void attempt(void *ud)
{
    stream *s = ud;
    s->st.attempts++;
    emit(s, STREAM_CONNECTING, STREAM_REASON_NONE, 0, "", 0, 0, 0);
    if (s->state != STREAM_CONNECTING)
        return; /* stopped by on_state */
    log_event(LOG_INFO, "stream_connect", LF_S("mode", mode_name(s->cfg.mode)), LF_S("url", s->log_url),
              LF_I("attempt", s->st.attempts), LF_I("track", s->n_track), LF_END);
    if (s->cfg.mode == STREAM_MODE_V2 && !s->rules_synced && !sync_rules(s))
        return;

    CURL *c = s->easy;
    curl_easy_reset(c);
    free_headers(s);
    s->headers = curl_slist_append(NULL, "Expect:");
    /* The same TLS trust as the v2 rules calls (http.c). */
    http_setup_common(c, s->url);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "gzip");
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    /* Fewer, larger reads when the stream runs fast (a backlog after a
     * pause): the framing then costs ~2-5 % of the rule's time instead of
     * ~7-15 % with curl's 16 KiB (tests/bench/stream_bench.py). */
    curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 262144L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "tweetmatch");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, s->cfg.connect_timeout_ms ? s->cfg.connect_timeout_ms : 10000L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, s->errbuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, s);
    if (s->cfg.mode == STREAM_MODE_V1) {
        char nonce[OAUTH1_NONCE_LEN + 1], ts[24];
        oauth1_nonce(nonce, s->cfg.random, s->cfg.random_ud);
        snprintf(ts, sizeof ts, "%lld", (long long)s->cfg.wall_clock_s());
        oauth1_keys k = {s->ck, s->cs, s->at, s->ats};
        char *auth = oauth1_authorization("POST", s->url, s->post_body, strlen(s->post_body), &k, nonce, ts);
        if (auth) /* NULL only for a URL stream_new refused */
            add_header(s, xasprintf("Authorization: %s", auth));
        mem_free_secret(auth);
        s->headers = curl_slist_append(s->headers, "Content-Type: application/x-www-form-urlencoded");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, s->post_body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(s->post_body));
    } else {
        if (s->cfg.mode == STREAM_MODE_V2)
            add_header(s, xasprintf("Authorization: Bearer %s", s->bearer));
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, s->headers);
    s->errbuf[0] = '\0';
    s->got_status = false;
    s->http_status = 0;
    s->pending = PENDING_NONE;
    s->curl_paused = false;
    buf_reset(&s->errbody);
    frame_reset(&s->fr);
    if (!loop_add(s->l, c, on_done, s)) {
        end_connection(s, STREAM_REASON_NETWORK, 0, "cannot add the transfer to the loop");
        return;
    }
    s->in_loop = true;
    s->quiet_since_ms = loop_now_ms(s->l);
    loop_timer_set(s->l, &s->stall_timer, s->quiet_since_ms + s->stall_ms, stall_fire, s);
}

/* ---- public ---- */

static bool copy_track(const char *const *track, char ***out, size_t *n_out)
{
    size_t n = 0;
    for (const char *const *p = track; p && *p; p++)
        n++;
    char **v = xcalloc(n + 1, sizeof *v);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *p = track[i];
        size_t len = strlen(p);
        while (len && (*p == ' ' || *p == '\t'))
            p++, len--;
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len)
            v[k++] = xstrndup(p, len);
    }
    *out = v;
    *n_out = k;
    return k > 0;
}

stream *stream_new(const stream_config *cfg, loop *l, stream_callbacks cb, char **err)
{
    const char *mode_url = cfg->mode == STREAM_MODE_V1 ? STREAM_V1_URL : cfg->mode == STREAM_MODE_V2 ? STREAM_V2_URL : NULL;
    const char *url = cfg->url ? cfg->url : mode_url;
    if (url == NULL) {
        *err = xstrdup("the NDJSON stream needs a URL: set STREAM_URL");
        return NULL;
    }
    if (!url_ok(url)) {
        *err = xstrdup("STREAM_URL: must be an http:// or https:// URL with a host");
        return NULL;
    }
    if (cfg->mode == STREAM_MODE_V1) {
        static const char *const names[] = {"CONSUMERKEY", "CONSUMERSECRETKEY", "ACCESSTOKEN", "ACCESSTOKENSECRET"};
        const char *vals[] = {cfg->consumer_key, cfg->consumer_secret, cfg->access_token, cfg->access_token_secret};
        for (int i = 0; i < 4; i++)
            if (vals[i] == NULL || *vals[i] == '\0') {
                *err = xasprintf("%s is not set: the v1.1 stream needs all four OAuth keys", names[i]);
                return NULL;
            }
    }
    if (cfg->mode == STREAM_MODE_V2 && (cfg->bearer_token == NULL || *cfg->bearer_token == '\0')) {
        *err = xstrdup("BEARERTOKEN is not set: the v2 stream needs it");
        return NULL;
    }
    char **track;
    size_t n_track;
    if (!copy_track(cfg->track, &track, &n_track) && cfg->mode == STREAM_MODE_V1) {
        free_strv(track, n_track);
        *err = xstrdup("no track phrases for the v1.1 stream: set FILTER or the script's track");
        return NULL;
    }
    stream *s = xcalloc(1, sizeof *s);
    s->easy = curl_easy_init();
    if (s->easy == NULL) {
        free_strv(track, n_track);
        free(s);
        *err = xstrdup("cannot create a curl handle");
        return NULL;
    }
    s->cfg = *cfg;
    s->l = l;
    s->cb = cb;
    s->track = track;
    s->n_track = n_track;
    s->ck = dup_or_null(cfg->consumer_key);
    s->cs = dup_or_null(cfg->consumer_secret);
    s->at = dup_or_null(cfg->access_token);
    s->ats = dup_or_null(cfg->access_token_secret);
    s->bearer = dup_or_null(cfg->bearer_token);
    /* The copies are the only ones the stream uses. */
    s->cfg.consumer_key = s->cfg.consumer_secret = s->cfg.access_token = s->cfg.access_token_secret = NULL;
    s->cfg.bearer_token = NULL;
    s->cfg.track = NULL;
    s->cfg.url = NULL;
    s->rule_tag = xstrdup(cfg->rule_tag && *cfg->rule_tag ? cfg->rule_tag : STREAM_DEFAULT_RULE_TAG);
    s->cfg.rule_tag = s->rule_tag;
    if (cfg->mode == STREAM_MODE_V2) {
        size_t base = strcspn(url, "?#");
        s->rules_url = xasprintf("%.*s/rules", (int)base, url);
        s->url = url[base] == '?' ? xstrdup(url) : xasprintf("%.*s?%s", (int)base, url, STREAM_V2_QUERY);
    } else {
        s->url = xstrdup(url);
    }
    s->log_url = log_url(s->url);
    if (s->cfg.random == NULL)
        s->cfg.random = default_random;
    if (s->cfg.wall_clock_s == NULL)
        s->cfg.wall_clock_s = default_wall_clock_s;
    s->stall_ms = cfg->stall_ms > 0 ? cfg->stall_ms : cfg->mode == STREAM_MODE_V2 ? STREAM_V2_STALL_MS : STREAM_V1_STALL_MS;
    s->healthy_ms = cfg->healthy_ms > 0 ? cfg->healthy_ms : STREAM_DEFAULT_HEALTHY_MS;
    size_t max_line = cfg->max_line_bytes ? cfg->max_line_bytes : STREAM_DEFAULT_MAX_LINE_BYTES;
    s->cfg.max_line_bytes = max_line;
    frame_init(&s->fr, max_line);
    buf_init(&s->errbody, ERRBODY_MAX + 1);
    buf_init(&s->held, 2 * max_line + ((size_t)1 << 20));
    backoff_init(&s->bo, &cfg->backoff);
    if (cfg->mode == STREAM_MODE_V1)
        build_post_body(s);
    s->state = STREAM_IDLE;
    return s;
}

void stream_free(stream *s)
{
    if (s == NULL)
        return;
    if (s->in_loop)
        loop_remove(s->l, s->easy);
    loop_timer_cancel(s->l, &s->retry_timer);
    loop_timer_cancel(s->l, &s->stall_timer);
    loop_timer_cancel(s->l, &s->healthy_timer);
    loop_timer_cancel(s->l, &s->resume_timer);
    loop_timer_cancel(s->l, &s->pause_timer);
    free_headers(s);
    curl_easy_cleanup(s->easy);
    mem_free_secret(s->ck);
    mem_free_secret(s->cs);
    mem_free_secret(s->at);
    mem_free_secret(s->ats);
    mem_free_secret(s->bearer);
    free(s->url);
    free(s->rules_url);
    free(s->log_url);
    free(s->rule_tag);
    free(s->post_body);
    free_strv(s->track, s->n_track);
    free_strv(s->rule_ids, s->n_rule_ids);
    frame_clean_up(&s->fr);
    buf_clean_up(&s->errbody);
    buf_clean_up(&s->held);
    free(s);
}

void stream_start(stream *s)
{
    if (s->state == STREAM_CONNECTING || s->state == STREAM_CONNECTED || s->state == STREAM_BACKOFF)
        return;
    backoff_reset(&s->bo);
    s->state = STREAM_BACKOFF;
    loop_timer_set(s->l, &s->retry_timer, loop_now_ms(s->l), attempt, s);
}

void stream_stop(stream *s)
{
    loop_timer_cancel(s->l, &s->retry_timer);
    loop_timer_cancel(s->l, &s->stall_timer);
    loop_timer_cancel(s->l, &s->healthy_timer);
    s->stop_gen++;
    bool active = s->state != STREAM_IDLE;
    s->state = STREAM_IDLE;
    if (s->in_callback) {
        s->pending = PENDING_STOP; /* the callback's return ends the transfer */
    } else {
        if (s->in_loop) {
            loop_remove(s->l, s->easy);
            s->in_loop = false;
        }
        release_transfer(s);
    }
    if (active)
        log_event(LOG_INFO, "stream_stopped", LF_S("url", s->log_url), LF_END);
}

void stream_reconnect(stream *s)
{
    request_restart(s, STREAM_REASON_REQUESTED, "reconnect requested");
}

static bool same_track(const stream *s, char **t, size_t n)
{
    if (n != s->n_track)
        return false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i], s->track[i]) != 0)
            return false;
    return true;
}

bool stream_set_track(stream *s, const char *const *track, char **err)
{
    char **t;
    size_t n;
    if (!copy_track(track, &t, &n) && s->cfg.mode == STREAM_MODE_V1) {
        free_strv(t, n);
        *err = xstrdup("no track phrases for the v1.1 stream: set FILTER or the script's track");
        return false;
    }
    if (same_track(s, t, n)) {
        free_strv(t, n);
        return true;
    }
    free_strv(s->track, s->n_track);
    s->track = t;
    s->n_track = n;
    if (s->cfg.mode == STREAM_MODE_V1)
        build_post_body(s);
    s->rules_synced = false;
    log_event(LOG_INFO, "stream_track_changed", LF_I("phrases", n), LF_END);
    if (s->cfg.mode != STREAM_MODE_NDJSON && (s->state == STREAM_CONNECTING || s->state == STREAM_CONNECTED))
        request_restart(s, STREAM_REASON_REQUESTED, "track phrases changed");
    return true;
}

void stream_pause(stream *s)
{
    if (s->paused)
        return;
    int64_t now = loop_now_ms(s->l);
    s->paused = true;
    s->pause_warned = false;
    s->paused_since_ms = now;
    s->st.pauses++;
    loop_timer_cancel(s->l, &s->resume_timer);
    if (s->in_loop && !s->curl_paused) {
        curl_easy_pause(s->easy, CURLPAUSE_RECV);
        s->curl_paused = true;
    }
    loop_timer_set(s->l, &s->pause_timer, now + s->stall_ms, pause_fire, s);
    if (log_enabled(LOG_DEBUG))
        log_event(LOG_DEBUG, "stream_paused", LF_END);
}

void stream_resume(stream *s)
{
    if (!s->paused)
        return;
    int64_t now = loop_now_ms(s->l);
    s->paused = false;
    s->st.paused_ms += now - s->paused_since_ms;
    loop_timer_cancel(s->l, &s->pause_timer);
    if (s->pause_warned || log_enabled(LOG_DEBUG))
        log_event(s->pause_warned ? LOG_INFO : LOG_DEBUG, "stream_resumed", LF_I("paused_ms", now - s->paused_since_ms),
                  LF_END);
    /* From the loop, not here: the caller may be inside on_line. */
    loop_timer_set(s->l, &s->resume_timer, now, resume_fire, s);
}

bool stream_paused(const stream *s)
{
    return s->paused;
}

stream_state stream_get_state(const stream *s)
{
    return s->state;
}

void stream_get_stats(const stream *s, stream_stats *out)
{
    *out = s->st;
    out->bad_lines = s->st.oversize + s->st.messages[STREAM_MSG_NOT_OBJECT];
}

int64_t stream_stall_ms(const stream *s)
{
    return s->stall_ms;
}
