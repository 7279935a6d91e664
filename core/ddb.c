/* ddb.c: see ddb.h.
 *
 * Where an accepted item is, at any time (each place owns it):
 *   - the queue: operations waiting to be batched, oldest first;
 *   - a request: ready (to send as soon as a slot is free), delayed (in
 *     backoff), or in flight in a slot;
 *   - behind another: a "successor" waits for the outcome of the request
 *     that holds an older operation on its key; a "superseded" operation
 *     hangs off the newer one that replaced it in the queue.
 * The key table maps each key to its newest operation, so a key has at most
 * one operation in the queue or in requests: a batch never holds a key
 * twice, and operations on a key reach DynamoDB in order.
 *
 * Every path out goes through settle(): written, or a dead letter. */
#include "ddb.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "http.h"
#include "ddb_wire.h"
#include "json.h"
#include "log.h"
#include "retry.h"
#include "sigv4.h"

#define ITEM_AV_MAX_BYTES ((size_t)8 << 20) /* an item's AV JSON: 400 KB, escaped */
#define SCRATCH_KEEP_BYTES ((size_t)64 << 10) /* accept_op's buffers are kept up to this size */
#define RESPONSE_MAX_BYTES ((size_t)32 << 20)
#define BATCH_BODY_OVERHEAD 64            /* {"RequestItems":{"<table>":[...]}} less the name */
#define ELEMENT_OVERHEAD 32               /* {"DeleteRequest":{"Key":...}}, */
#define SKEW_THRESHOLD_MS (4 * 60 * 1000) /* a Date this far off is a clock skew */
#define DESCRIBE_TRIES 3
#define CREDS_RETRY_MS 1000               /* between sends when creds_get fails */

enum { OP_PUT, OP_DELETE };
enum { ST_QUEUED, ST_BLOCKED, ST_SENDING };

typedef struct entry entry;
struct entry {
    entry *prev, *next; /* the queue (ST_QUEUED) */
    entry *superseded;  /* older operations on the key this one replaced, newest first */
    entry *successor;   /* the ST_BLOCKED operation waiting for this one */
    entry *pred;        /* ST_BLOCKED: the one it waits for */
    char *av;           /* the item (put) or key (delete) as AV JSON, in data */
    char *key;          /* canonical key (ddb_json_key's form), in data; NULL when unknown */
    uint32_t av_len, key_len;
    uint64_t key_hash;  /* hash_bytes of key */
    char *last_error;   /* why the last try failed */
    int64_t arrived_ms; /* loop time it was accepted (or released): the linger counts from it */
    uint16_t attempts;  /* failed tries */
    uint16_t unprocessed;
    uint8_t op, state;
    char data[];        /* key and av, each NUL-terminated: one allocation a queued item */
};

typedef struct request request;
struct request {
    request *next;
    entry *e[DDB_BATCH_MAX_ITEMS];
    int n;
    int64_t due_ms; /* delayed: not before */
    int cost;       /* retry tokens to take before sending; 0: none (a first try) */
    int paid;       /* tokens taken for the try in flight: given back on success */
    bool single;    /* PutItem / DeleteItem instead of BatchWriteItem */
    bool refreshed; /* a forced credential refresh was made for it */
};

typedef struct slot {
    ddb_writer *w;
    CURL *easy;
    request *req; /* NULL: free */
    buf body, resp;
    struct curl_slist *headers;
    ddb_headers signed_headers;
    creds cred; /* what the request was signed with (for scrubbing messages) */
    char crc[24], date[64], errtype[128];
    bool has_crc;
    char errbuf[CURL_ERROR_SIZE];
} slot;

typedef struct keyslot {
    entry *e;      /* NULL: empty */
    uint64_t hash; /* e->key_hash: probes compare it before touching e */
} keyslot;

typedef struct keytab {
    keyslot *slots;
    size_t cap, n; /* cap: a power of two */
} keytab;

struct ddb_writer {
    ddb_config cfg; /* strings below are the writer's copies */
    char *table, *region, *deadletter_file, *ca_bundle;
    ddb_endpoint ep;
    loop *loop;
    creds_provider *cp;
    sigv4_signer *signer;
    char *hash_key, *range_key;

    entry *qhead, *qtail;
    size_t qlen;
    request *ready_head, *ready_tail; /* FIFO */
    request *delayed;                 /* by due_ms */
    slot *slots;
    int n_slots, busy;
    keytab keys;
    buf scratch_av, scratch_key; /* accept_op's, reused */
    retry_bucket bucket;
    loop_timer timer;
    int64_t skew_ms; /* add to the wall clock: learned from a clock-skew error */
    int64_t creds_retry_ms; /* after creds_get failed: no sending before this loop time */
    int dl_fd;
    bool dl_error_logged;
    uint64_t rng;
    ddb_stats st;
    bool flushing, pumping, repump;
};

static void pump(ddb_writer *w);
static void on_timer(void *ud);

/* ---- clocks and randomness ---- */

static int64_t real_wall_ms(void *ud)
{
    (void)ud;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(ddb_writer *w)
{
    return w->cfg.wall_clock_ms(w->cfg.hook_ud);
}

/* xorshift64*: jitter needs no more. */
static uint32_t real_random32(void *ud)
{
    ddb_writer *w = ud;
    w->rng ^= w->rng >> 12;
    w->rng ^= w->rng << 25;
    w->rng ^= w->rng >> 27;
    return (uint32_t)((w->rng * UINT64_C(2685821657736338717)) >> 32);
}

static uint32_t random32(ddb_writer *w)
{
    return w->cfg.random32 ? w->cfg.random32(w->cfg.hook_ud) : real_random32(w);
}

static void format_time(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char s[24];
    strftime(s, sizeof s, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 32, "%s.%03dZ", s, (int)(ms % 1000));
}

/* ---- configuration ---- */

void ddb_config_init(ddb_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->max_in_flight = DDB_DEFAULT_MAX_IN_FLIGHT;
    cfg->linger_ms = DDB_DEFAULT_LINGER_MS;
    cfg->max_attempts = DDB_DEFAULT_MAX_ATTEMPTS;
    cfg->queue_max = DDB_DEFAULT_QUEUE_MAX;
    cfg->timeout_ms = DDB_DEFAULT_TIMEOUT_MS;
    cfg->connect_timeout_ms = DDB_DEFAULT_CONNECT_TIMEOUT_MS;
}

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* Adds msg (taken) to the error so far, so that every bad variable is named. */
static void add_error(char **err, char *msg)
{
    if (*err == NULL) {
        *err = msg;
        return;
    }
    char *joined = xasprintf("%s; %s", *err, msg);
    free(*err);
    free(msg);
    *err = joined;
}

bool ddb_config_from_env(ddb_config *cfg, char **err)
{
    ddb_config_init(cfg);
    *err = NULL;
    cfg->table = env("DYNAMODBTABLE");
    if (cfg->table == NULL)
        add_error(err, xstrdup("DYNAMODBTABLE is not set: it must name the DynamoDB table to write to"));
    else if (!ddb_valid_table_name(cfg->table))
        add_error(err, xasprintf("DYNAMODBTABLE=%s: a table name is 3 to 255 characters of A-Z a-z 0-9 _ . -",
                                 cfg->table));
    static const char *const region_vars[] = {"AWSREGION", "AWS_REGION", "AWS_DEFAULT_REGION"};
    const char *region_var = NULL;
    for (size_t i = 0; i < 3 && cfg->region == NULL; i++)
        if ((cfg->region = env(region_vars[i])) != NULL)
            region_var = region_vars[i];
    if (cfg->region == NULL)
        add_error(err, xstrdup("no AWS region: set AWSREGION (or AWS_REGION, or AWS_DEFAULT_REGION)"));
    else if (!ddb_valid_region(cfg->region))
        add_error(err, xasprintf("%s=%s: a region is lower-case letters, digits and '-' (us-east-1)", region_var,
                                 cfg->region));
    const char *ep_var = "AWS_ENDPOINT_URL_DYNAMODB";
    cfg->endpoint = env(ep_var);
    if (cfg->endpoint == NULL) {
        ep_var = "AWS_ENDPOINT_URL";
        cfg->endpoint = env(ep_var);
    }
    if (cfg->endpoint) {
        ddb_endpoint ep;
        char *e = NULL;
        if (!ddb_endpoint_parse(cfg->endpoint, &ep, &e)) {
            add_error(err, xasprintf("%s: %s", ep_var, e));
            free(e);
        } else {
            ddb_endpoint_clean_up(&ep);
        }
    }
    cfg->deadletter_file = env("DEADLETTER_FILE");
    cfg->ca_bundle = env("AWS_CA_BUNDLE");
    uint64_t inflight = 0, linger = 0, attempts = 0, qmax = 0, timeout = 0, ctimeout = 0;
    const struct {
        const char *name;
        uint64_t def, min, max;
        uint64_t *out;
    } nums[] = {
        {"DDB_MAX_IN_FLIGHT", DDB_DEFAULT_MAX_IN_FLIGHT, 1, 64, &inflight},
        {"DDB_LINGER_MS", DDB_DEFAULT_LINGER_MS, 0, 60000, &linger},
        {"DDB_MAX_ATTEMPTS", DDB_DEFAULT_MAX_ATTEMPTS, 1, 100, &attempts},
        {"DDB_QUEUE_MAX", DDB_DEFAULT_QUEUE_MAX, 1, 100000000, &qmax},
        {"DDB_TIMEOUT_MS", DDB_DEFAULT_TIMEOUT_MS, 100, 3600000, &timeout},
        {"DDB_CONNECT_TIMEOUT_MS", DDB_DEFAULT_CONNECT_TIMEOUT_MS, 100, 600000, &ctimeout},
    };
    for (size_t i = 0; i < sizeof nums / sizeof *nums; i++) {
        char *e = NULL;
        if (!config_env_u64(nums[i].name, nums[i].def, nums[i].min, nums[i].max, nums[i].out, &e))
            add_error(err, e);
    }
    if (*err)
        return false;
    cfg->max_in_flight = (int)inflight;
    cfg->linger_ms = (int)linger;
    cfg->max_attempts = (int)attempts;
    cfg->queue_max = (size_t)qmax;
    cfg->timeout_ms = (long)timeout;
    cfg->connect_timeout_ms = (long)ctimeout;
    return true;
}

/* ---- the key table: open addressing, linear probing ---- */

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = UINT64_C(1469598103934665603);
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= UINT64_C(1099511628211);
    }
    return h ^ (h >> 29);
}

static bool same_key(const entry *e, const char *k, size_t n)
{
    return e->key_len == n && memcmp(e->key, k, n) == 0;
}

/* The slot of key k (n bytes, hash h), or the empty slot where it would go. */
static size_t keys_slot(const keytab *t, uint64_t h, const char *k, size_t n)
{
    size_t i = (size_t)h & (t->cap - 1);
    while (t->slots[i].e && !(t->slots[i].hash == h && same_key(t->slots[i].e, k, n)))
        i = (i + 1) & (t->cap - 1);
    return i;
}

/* The entry e's key maps to (e itself or another). */
static entry *keys_find(const keytab *t, const entry *e)
{
    return t->cap ? t->slots[keys_slot(t, e->key_hash, e->key, e->key_len)].e : NULL;
}

/* Maps e's key to e (replacing what it mapped to). */
static void keys_set(keytab *t, entry *e)
{
    if ((t->n + 1) * 2 > t->cap) {
        keytab old = *t;
        t->cap = old.cap ? old.cap * 2 : 64;
        t->slots = xcalloc(t->cap, sizeof *t->slots);
        for (size_t i = 0; i < old.cap; i++)
            if (old.slots[i].e) {
                size_t j = (size_t)old.slots[i].hash & (t->cap - 1);
                while (t->slots[j].e)
                    j = (j + 1) & (t->cap - 1);
                t->slots[j] = old.slots[i];
            }
        free(old.slots);
    }
    size_t i = keys_slot(t, e->key_hash, e->key, e->key_len);
    if (t->slots[i].e == NULL)
        t->n++;
    t->slots[i] = (keyslot){e, e->key_hash};
}

/* Removes e's key if it maps to e (backward-shift deletion). */
static void keys_remove(keytab *t, entry *e)
{
    if (t->cap == 0 || e->key == NULL)
        return;
    size_t i = keys_slot(t, e->key_hash, e->key, e->key_len);
    if (t->slots[i].e != e)
        return;
    t->slots[i] = (keyslot){NULL, 0};
    t->n--;
    for (size_t j = (i + 1) & (t->cap - 1); t->slots[j].e; j = (j + 1) & (t->cap - 1)) {
        size_t home = (size_t)t->slots[j].hash & (t->cap - 1);
        /* Move j back to the hole i unless its home lies cyclically in (i, j]. */
        bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            t->slots[i] = t->slots[j];
            t->slots[j] = (keyslot){NULL, 0};
            i = j;
        }
    }
}

/* ---- entries and the queue ---- */

static void entry_free(entry *e)
{
    free(e->last_error);
    free(e);
}

static void queue_push_back(ddb_writer *w, entry *e)
{
    e->state = ST_QUEUED;
    e->next = NULL;
    e->prev = w->qtail;
    if (w->qtail)
        w->qtail->next = e;
    else
        w->qhead = e;
    w->qtail = e;
    w->qlen++;
}

static void queue_push_front(ddb_writer *w, entry *e)
{
    e->state = ST_QUEUED;
    e->prev = NULL;
    e->next = w->qhead;
    if (w->qhead)
        w->qhead->prev = e;
    else
        w->qtail = e;
    w->qhead = e;
    w->qlen++;
}

static void queue_unlink(ddb_writer *w, entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        w->qhead = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        w->qtail = e->prev;
    e->prev = e->next = NULL;
    w->qlen--;
}

/* Puts e in old's place in the queue. */
static void queue_replace(ddb_writer *w, entry *old, entry *e)
{
    e->state = ST_QUEUED;
    e->prev = old->prev;
    e->next = old->next;
    if (e->prev)
        e->prev->next = e;
    else
        w->qhead = e;
    if (e->next)
        e->next->prev = e;
    else
        w->qtail = e;
    old->prev = old->next = NULL;
}

static uint64_t depth(const ddb_writer *w)
{
    return w->st.queued - w->st.written - w->st.dead_letter;
}

/* ---- dead letters and outcomes ---- */

static void write_all(int fd, const char *p, size_t n, bool *ok)
{
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            *ok = false;
            return;
        }
        p += k;
        n -= (size_t)k;
    }
}

static void dead_letter_one(ddb_writer *w, entry *e, const char *reason)
{
    const char *op = e->op == OP_DELETE ? "delete" : "put";
    log_event(LOG_ERROR, "dead_letter", LF_S("reason", reason), LF_S("table", w->table), LF_S("op", op),
              LF_I("attempts", e->attempts), LF_RAW("item", e->av), LF_END);
    w->st.dead_letter++;
    if (w->dl_fd < 0)
        return;
    char t[32];
    format_time(wall_ms(w), t);
    buf line;
    buf_init(&line, e->av_len + strlen(reason) * 6 + 1024);
    buf_printf(&line, "{\"time\":\"%s\",\"table\":", t);
    json_put_string(&line, w->table, strlen(w->table));
    buf_printf(&line, ",\"op\":\"%s\",\"attempts\":%u,\"reason\":", op, (unsigned)e->attempts);
    json_put_string(&line, reason, strlen(reason));
    buf_puts(&line, ",\"item\":");
    buf_put(&line, e->av, e->av_len);
    buf_puts(&line, "}\n");
    bool ok = !line.failed;
    /* One write per line: O_APPEND keeps lines whole. */
    if (ok)
        write_all(w->dl_fd, line.data, line.len, &ok);
    if (!ok && !w->dl_error_logged) {
        log_event(LOG_ERROR, "deadletter_file_error", LF_S("file", w->deadletter_file),
                  LF_S("error", line.failed ? "line too long" : strerror(errno)), LF_END);
        w->dl_error_logged = true;
    }
    buf_clean_up(&line);
}

/* The final outcome of e, which the caller has taken out of its queue or
 * request: written (reason NULL) or a dead letter. refused: DynamoDB
 * refused this very operation (a ValidationException of its own), so the
 * operation it superseded, if any, takes its place, as sequential
 * requests would have written that one. */
static void settle(ddb_writer *w, entry *e, const char *reason, bool refused)
{
    entry *heir = NULL;
    if (reason == NULL) {
        w->st.written++;
        for (entry *c = e->superseded, *next; c; c = next) {
            next = c->superseded;
            w->st.written++;
            w->st.superseded++;
            entry_free(c);
        }
    } else {
        dead_letter_one(w, e, reason);
        if (refused && e->superseded) {
            heir = e->superseded;
        } else if (e->superseded) {
            char *why = xasprintf("replaced in the queue by a later operation on its key, which failed: %s", reason);
            for (entry *c = e->superseded, *next; c; c = next) {
                next = c->superseded;
                dead_letter_one(w, c, why);
                entry_free(c);
            }
            free(why);
        }
    }
    e->superseded = NULL;
    entry *s = e->successor;
    int64_t now = loop_now_ms(w->loop);
    if (heir) {
        if (e->key && keys_find(&w->keys, e) == e)
            keys_set(&w->keys, heir);
        heir->successor = s;
        if (s)
            s->pred = heir;
        heir->arrived_ms = now;
        queue_push_front(w, heir);
    } else {
        keys_remove(&w->keys, e);
        if (s) {
            s->pred = NULL;
            s->arrived_ms = now;
            queue_push_front(w, s);
        }
    }
    entry_free(e);
}

/* ---- accepting operations ---- */

static void accept_op(ddb_writer *w, item *it, int op)
{
    if (it == NULL)
        return;
    /* The AV JSON and the key are built in the writer's scratch buffers,
     * then copied into the entry's one allocation (no slack, one free). */
    buf *b = &w->scratch_av, *k = &w->scratch_key;
    buf_reset(b);
    buf_reset(k);
    item_write_av(it, b);
    bool keyed = false;
    if (w->hash_key) {
        const item_val *h = item_get(it, w->hash_key, strlen(w->hash_key));
        const item_val *r = w->range_key ? item_get(it, w->range_key, strlen(w->range_key)) : NULL;
        if (h && (w->range_key == NULL || r)) {
            item_val_write_av(h, k);
            if (r) {
                buf_putc(k, '\x1f');
                item_val_write_av(r, k);
            }
            keyed = !k->failed;
        }
    }
    item_free(it);
    if (b->failed) { /* cannot happen for a valid item: 400 KB make at most 2.5 MB of JSON */
        buf_reset(b);
        buf_puts(b, "{}");
    }
    size_t klen = keyed ? k->len : 0;
    entry *e = xcalloc(1, sizeof *e + (keyed ? klen + 1 : 0) + b->len + 1);
    e->op = (uint8_t)op;
    char *d = e->data;
    if (keyed) {
        memcpy(d, k->data, klen);
        d[klen] = '\0';
        e->key = d;
        e->key_len = (uint32_t)klen;
        e->key_hash = hash_bytes(d, klen);
        d += klen + 1;
    }
    memcpy(d, b->data, b->len);
    d[b->len] = '\0';
    e->av = d;
    e->av_len = (uint32_t)b->len;
    if (b->cap > SCRATCH_KEEP_BYTES) /* a rare big item: do not hold its buffer */
        buf_clean_up(b);
    if (k->cap > SCRATCH_KEEP_BYTES)
        buf_clean_up(k);
    e->arrived_ms = loop_now_ms(w->loop);
    w->st.queued++;

    entry *x = e->key ? keys_find(&w->keys, e) : NULL;
    if (e->key)
        keys_set(&w->keys, e);
    if (x == NULL) {
        queue_push_back(w, e);
    } else if (x->state == ST_QUEUED) { /* replace it where it stands */
        queue_replace(w, x, e);
        e->arrived_ms = x->arrived_ms;
        e->superseded = x;
    } else if (x->state == ST_BLOCKED) { /* replace the waiting one */
        e->state = ST_BLOCKED;
        e->pred = x->pred;
        e->pred->successor = e;
        e->superseded = x;
        x->pred = NULL;
    } else { /* in a request: wait for its outcome */
        e->state = ST_BLOCKED;
        e->pred = x;
        x->successor = e;
    }
    /* Requests start from the loop (a timer due now), never from here:
     * ddb_put may be called inside a curl callback, where libcurl refuses
     * curl_multi_add_handle. */
    if (w->busy < w->n_slots && (w->qlen >= DDB_BATCH_MAX_ITEMS || !w->timer.armed)) {
        int64_t now = loop_now_ms(w->loop);
        if (!w->timer.armed || w->timer.due_ms > now)
            loop_timer_set(w->loop, &w->timer, now, on_timer, w);
    }
}

void ddb_put(ddb_writer *w, item *it)
{
    accept_op(w, it, OP_PUT);
}

void ddb_delete(ddb_writer *w, item *key)
{
    accept_op(w, key, OP_DELETE);
}

size_t ddb_queue_depth(const ddb_writer *w)
{
    return (size_t)depth(w);
}

bool ddb_queue_full(const ddb_writer *w)
{
    return depth(w) >= w->cfg.queue_max;
}

/* ---- requests ---- */

static void ready_push(ddb_writer *w, request *r, bool front)
{
    r->next = NULL;
    if (w->ready_head == NULL) {
        w->ready_head = w->ready_tail = r;
    } else if (front) {
        r->next = w->ready_head;
        w->ready_head = r;
    } else {
        w->ready_tail->next = r;
        w->ready_tail = r;
    }
}

static void delayed_insert(ddb_writer *w, request *r)
{
    request **p = &w->delayed;
    while (*p && (*p)->due_ms <= r->due_ms)
        p = &(*p)->next;
    r->next = *p;
    *p = r;
}

/* Moves delayed requests that are due to the ready list. */
static void promote_due(ddb_writer *w, int64_t now)
{
    while (w->delayed && w->delayed->due_ms <= now) {
        request *r = w->delayed;
        w->delayed = r->next;
        ready_push(w, r, false);
    }
}

/* The first ready request that may go now: a retry must get its tokens. */
static request *take_ready(ddb_writer *w, int64_t now)
{
    for (request **p = &w->ready_head, *prev = NULL; *p; prev = *p, p = &(*p)->next) {
        request *r = *p;
        if (r->cost && !retry_bucket_take(&w->bucket, r->cost, now))
            continue;
        r->paid = r->cost;
        r->cost = 0;
        *p = r->next;
        if (w->ready_tail == r)
            w->ready_tail = prev;
        r->next = NULL;
        return r;
    }
    return NULL;
}

/* A batch from the head of the queue, when it is full or its oldest item
 * has lingered long enough (or a flush is on). */
static request *form_batch(ddb_writer *w, int64_t now)
{
    if (w->qhead == NULL)
        return NULL;
    if (!w->flushing && w->qlen < DDB_BATCH_MAX_ITEMS && now < w->qhead->arrived_ms + w->cfg.linger_ms)
        return NULL;
    request *r = xcalloc(1, sizeof *r);
    size_t bytes = BATCH_BODY_OVERHEAD + strlen(w->table);
    while (w->qhead && r->n < DDB_BATCH_MAX_ITEMS) {
        entry *e = w->qhead;
        if (r->n && bytes + e->av_len + ELEMENT_OVERHEAD > DDB_BATCH_MAX_BYTES)
            break;
        bytes += e->av_len + ELEMENT_OVERHEAD;
        queue_unlink(w, e);
        e->state = ST_SENDING;
        r->e[r->n++] = e;
    }
    return r;
}

static void set_error(entry *e, const char *msg)
{
    free(e->last_error);
    e->last_error = xstrdup(msg);
}

/* The request failed with a retryable error (msg): each item's try counts;
 * those out of tries are dead letters, the rest go again after backoff (or
 * at once, for a refreshed credential or a corrected clock). */
static void retry_request(ddb_writer *w, request *r, retry_class cls, const char *msg, bool at_once)
{
    int keep = 0;
    unsigned max_tries = 0;
    for (int i = 0; i < r->n; i++) {
        entry *e = r->e[i];
        e->attempts++;
        set_error(e, msg);
        if (e->attempts >= (unsigned)w->cfg.max_attempts) {
            char *reason = xasprintf("retries exhausted after %u attempts: %s", (unsigned)e->attempts, msg);
            settle(w, e, reason, false);
            free(reason);
            continue;
        }
        if (e->attempts > max_tries)
            max_tries = e->attempts;
        r->e[keep++] = e;
    }
    r->n = keep;
    if (r->n == 0) {
        free(r);
        return;
    }
    w->st.retried += (uint64_t)r->n;
    int64_t now = loop_now_ms(w->loop);
    int64_t wait = at_once ? 0 : retry_backoff_ms(RETRY_BASE_MS, RETRY_CAP_MS, max_tries, random32(w));
    r->due_ms = now + wait;
    r->cost = at_once ? 0 : retry_cost(cls);
    r->paid = 0;
    if (log_enabled(LOG_DEBUG))
        log_event(LOG_DEBUG, "ddb_retry", LF_S("class", retry_class_name(cls)), LF_S("error", msg),
                  LF_I("items", r->n), LF_I("attempt", max_tries), LF_I("wait_ms", wait), LF_END);
    delayed_insert(w, r);
}

/* Every item of r is a dead letter for reason. */
static void fail_request(ddb_writer *w, request *r, const char *reason, bool refused)
{
    for (int i = 0; i < r->n; i++)
        settle(w, r->e[i], reason, refused);
    free(r);
}

/* ---- sending ---- */

static void slot_reset_response(slot *s)
{
    buf_reset(&s->resp);
    s->has_crc = false;
    s->crc[0] = s->date[0] = s->errtype[0] = '\0';
    s->errbuf[0] = '\0';
}

static void slot_release(slot *s)
{
    if (s->headers) {
        for (struct curl_slist *l = s->headers; l; l = l->next)
            mem_wipe(l->data, strlen(l->data));
        curl_slist_free_all(s->headers);
        s->headers = NULL;
    }
    ddb_headers_clean_up(&s->signed_headers);
    creds_clean_up(&s->cred);
    s->req = NULL;
}

static void on_done(void *ud, CURL *easy, CURLcode result);

static void build_body(ddb_writer *w, request *r, buf *b)
{
    buf_reset(b);
    if (r->single) {
        ddb_body_single(b, w->table, r->e[0]->op == OP_DELETE, r->e[0]->av, r->e[0]->av_len);
        return;
    }
    buf_puts(b, "{\"RequestItems\":{");
    json_put_string(b, w->table, strlen(w->table));
    buf_puts(b, ":[");
    for (int i = 0; i < r->n; i++) {
        if (i)
            buf_putc(b, ',');
        ddb_body_batch_element(b, r->e[i]->op == OP_DELETE, r->e[i]->av, r->e[i]->av_len);
    }
    buf_puts(b, "]}}");
}

static const char *op_name(const request *r)
{
    if (!r->single)
        return "BatchWriteItem";
    return r->e[0]->op == OP_DELETE ? "DeleteItem" : "PutItem";
}

static void send_request(ddb_writer *w, request *r)
{
    slot *s = NULL;
    for (int i = 0; i < w->n_slots && s == NULL; i++)
        if (w->slots[i].req == NULL)
            s = &w->slots[i];
    char *err = NULL;
    if (!creds_get(w->cp, &s->cred, &err)) {
        /* creds_get made a full try, which may have blocked: pace the next. */
        w->creds_retry_ms = loop_now_ms(w->loop) + CREDS_RETRY_MS;
        w->st.no_credentials++;
        char *msg = xasprintf("cannot get AWS credentials: %s", err);
        free(err);
        if (r->paid)
            retry_bucket_put(&w->bucket, r->paid, loop_now_ms(w->loop));
        retry_request(w, r, RETRY_TRANSPORT, msg, false);
        free(msg);
        return;
    }
    build_body(w, r, &s->body);
    time_t t = (time_t)((wall_ms(w) + w->skew_ms) / 1000);
    if (s->body.failed || !ddb_sign(w->signer, &w->ep, w->region, op_name(r), s->body.data, s->body.len,
                                    &s->cred, t, &s->signed_headers, &err)) {
        char *msg = s->body.failed ? xstrdup("the request body is over its cap") : err;
        creds_clean_up(&s->cred);
        log_event(LOG_ERROR, "ddb_request_failed", LF_S("error", msg), LF_I("items", r->n), LF_END);
        fail_request(w, r, msg, false);
        free(msg);
        return;
    }
    for (size_t i = 0; i < s->signed_headers.n; i++)
        s->headers = curl_slist_append(s->headers, s->signed_headers.line[i]);
    s->headers = curl_slist_append(s->headers, "Expect:");
    s->headers = curl_slist_append(s->headers, "Accept:");
    if (s->headers == NULL) {
        fprintf(stderr, "tweetmatch: out of memory\n");
        abort();
    }
    slot_reset_response(s);
    curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->headers);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, s->body.data);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)s->body.len);
    s->req = r;
    if (!loop_add(w->loop, s->easy, on_done, s)) {
        slot_release(s);
        retry_request(w, r, RETRY_TRANSPORT, "cannot start the request (curl_multi_add_handle failed)", false);
        return;
    }
    w->busy++;
    w->st.requests++;
}

/* ---- responses ---- */

/* Splits UnprocessedItems out of a 2xx BatchWriteItem response; the rest is
 * written. */
static void batch_succeeded(ddb_writer *w, slot *s, request *r)
{
    arena *a = arena_new(4096);
    char *perr = NULL;
    json_value *v = json_parse(s->resp.data ? s->resp.data : "", s->resp.len, a, 64, &perr);
    if (v == NULL) {
        char *msg = xasprintf("unreadable BatchWriteItem response: %s", perr);
        free(perr);
        arena_free(a);
        w->st.req_server++;
        retry_request(w, r, RETRY_SERVER, msg, false);
        free(msg);
        return;
    }
    const json_value *list = json_get(json_get(v, "UnprocessedItems"), w->table);
    bool back[DDB_BATCH_MAX_ITEMS] = {false};
    int n_back = 0;
    if (list && list->type == JSON_ARRAY && list->len > 0) {
        bool matched = w->hash_key != NULL;
        buf k;
        buf_init(&k, ITEM_AV_MAX_BYTES);
        for (size_t i = 0; i < list->len && matched; i++) {
            const json_value *el = &list->u.items[i];
            const json_value *obj = json_get(json_get(el, "PutRequest"), "Item");
            if (obj == NULL)
                obj = json_get(json_get(el, "DeleteRequest"), "Key");
            buf_reset(&k);
            matched = obj && ddb_json_key(obj, w->hash_key, w->range_key, &k) && !k.failed;
            int found = -1;
            for (int j = 0; matched && j < r->n && found < 0; j++)
                if (!back[j] && r->e[j]->key && r->e[j]->key_len == k.len && memcmp(r->e[j]->key, k.data, k.len) == 0)
                    found = j;
            if (found < 0) {
                matched = false;
            } else {
                back[found] = true;
                n_back++;
            }
        }
        buf_clean_up(&k);
        if (!matched) {
            /* Which ones came back is not known: send them all again
             * (puts and deletes are idempotent). */
            log_event(LOG_WARN, "ddb_unprocessed_unmatched", LF_I("unprocessed", (int64_t)list->len),
                      LF_I("items", r->n), LF_END);
            for (int j = 0; j < r->n; j++)
                back[j] = true;
            n_back = r->n;
        }
    }
    arena_free(a);
    if (r->paid)
        retry_bucket_put(&w->bucket, r->paid, loop_now_ms(w->loop));
    else
        retry_bucket_put(&w->bucket, RETRY_SUCCESS_CREDIT, loop_now_ms(w->loop));
    if (n_back == 0) {
        w->st.req_ok++;
        for (int i = 0; i < r->n; i++)
            settle(w, r->e[i], NULL, false);
        free(r);
        return;
    }
    w->st.req_partial++;
    request *again = xcalloc(1, sizeof *again);
    unsigned tries = 0;
    for (int i = 0; i < r->n; i++) {
        if (!back[i]) {
            settle(w, r->e[i], NULL, false);
            continue;
        }
        entry *e = r->e[i];
        if (e->unprocessed < UINT16_MAX)
            e->unprocessed++;
        if (e->unprocessed > tries)
            tries = e->unprocessed;
        again->e[again->n++] = e;
    }
    free(r);
    w->st.unprocessed += (uint64_t)again->n;
    w->st.retried += (uint64_t)again->n;
    int64_t wait = retry_backoff_ms(RETRY_BASE_MS, RETRY_CAP_MS, tries, random32(w));
    again->due_ms = loop_now_ms(w->loop) + wait;
    if (log_enabled(LOG_DEBUG))
        log_event(LOG_DEBUG, "ddb_retry", LF_S("class", "unprocessed"), LF_I("items", again->n),
                  LF_I("attempt", tries), LF_I("wait_ms", wait), LF_END);
    delayed_insert(w, again);
}

/* A ValidationException: narrow it down. Halves go again at once; a single
 * item refused is a dead letter with DynamoDB's message. */
static void isolate(ddb_writer *w, request *r, const char *reason)
{
    if (r->n == 1) {
        settle(w, r->e[0], reason, true);
        free(r);
        return;
    }
    request *b = xcalloc(1, sizeof *b);
    int half = (r->n + 1) / 2;
    for (int i = half; i < r->n; i++)
        b->e[b->n++] = r->e[i];
    r->n = half;
    r->single = r->n == 1;
    b->single = b->n == 1;
    r->cost = b->cost = r->paid = 0;
    ready_push(w, b, true);
    ready_push(w, r, true);
}

static bool skewed(ddb_writer *w, const char *date)
{
    int64_t server;
    if (!date[0] || !ddb_http_date_ms(date, &server))
        return false;
    int64_t now = wall_ms(w);
    int64_t off = server - (now + w->skew_ms);
    if (off > -SKEW_THRESHOLD_MS && off < SKEW_THRESHOLD_MS)
        return false;
    w->skew_ms = server - now;
    log_event(LOG_WARN, "clock_skew", LF_S("endpoint", w->ep.url), LF_I("offset_ms", w->skew_ms), LF_END);
    return true;
}

static void on_done(void *ud, CURL *easy, CURLcode result)
{
    (void)easy;
    slot *s = ud;
    ddb_writer *w = s->w;
    request *r = s->req;
    w->busy--;
    if (result != CURLE_OK) {
        w->st.req_transport++;
        char *msg;
        if (result == CURLE_WRITE_ERROR && s->resp.failed)
            msg = xasprintf("response over %zu bytes", s->resp.max_bytes);
        else
            msg = xasprintf("%s %s: %s", result == CURLE_OPERATION_TIMEDOUT ? "timed out:" : "no response from",
                            w->ep.url, s->errbuf[0] ? s->errbuf : curl_easy_strerror(result));
        slot_release(s);
        retry_request(w, r, RETRY_TRANSPORT, msg, false);
        free(msg);
        pump(w);
        return;
    }
    long status = 0;
    curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
    const char *body = s->resp.data ? s->resp.data : "";
    if (!ddb_crc_ok(s->has_crc ? s->crc : NULL, body, s->resp.len)) {
        w->st.req_crc++;
        char *msg = xasprintf("HTTP %ld response whose x-amz-crc32 (%s) does not match its body", status, s->crc);
        slot_release(s);
        retry_request(w, r, RETRY_CRC, msg, false);
        free(msg);
        pump(w);
        return;
    }
    if (status >= 200 && status < 300) {
        slot_release(s);
        if (r->single) {
            if (r->paid)
                retry_bucket_put(&w->bucket, r->paid, loop_now_ms(w->loop));
            else
                retry_bucket_put(&w->bucket, RETRY_SUCCESS_CREDIT, loop_now_ms(w->loop));
            w->st.req_ok++;
            settle(w, r->e[0], NULL, false);
            free(r);
        } else {
            batch_succeeded(w, s, r);
        }
        pump(w);
        return;
    }
    char type[128], *message = NULL;
    ddb_parse_error(status, body, s->resp.len, s->errtype, &s->cred, type, sizeof type, &message);
    char *reason = type[0] ? xasprintf("%s: %s", type, message) : xasprintf("HTTP %ld: %s", status, message);
    if (type[0] == '\0' && strncmp(message, "HTTP ", 5) == 0) {
        free(reason);
        reason = xstrdup(message);
    }
    free(message);
    char date[64];
    snprintf(date, sizeof date, "%s", s->date);
    slot_release(s);
    retry_class cls = retry_classify(status, type);
    switch (cls) {
    case RETRY_THROTTLE:
        w->st.req_throttled++;
        retry_request(w, r, cls, reason, false);
        break;
    case RETRY_SERVER:
        w->st.req_server++;
        retry_request(w, r, cls, reason, false);
        break;
    case RETRY_REFRESH: {
        w->st.req_refresh++;
        char *err = NULL;
        if (r->refreshed) {
            char *why = xasprintf("%s (again, after a forced credential refresh)", reason);
            log_event(LOG_ERROR, "ddb_request_failed", LF_S("error", why), LF_I("items", r->n), LF_END);
            fail_request(w, r, why, false);
            free(why);
        } else if (creds_force_refresh(w->cp, &err)) {
            log_event(LOG_INFO, "credentials_refreshed", LF_S("source", creds_source_name(w->cp)),
                      LF_S("after", type), LF_END);
            r->refreshed = true;
            retry_request(w, r, cls, reason, true);
        } else {
            char *why = xasprintf("%s; refreshing the credentials failed: %s", reason, err);
            free(err);
            log_event(LOG_ERROR, "ddb_request_failed", LF_S("error", why), LF_I("items", r->n), LF_END);
            fail_request(w, r, why, false);
            free(why);
        }
        break;
    }
    case RETRY_SKEW:
        w->st.req_skew++;
        if (skewed(w, date)) {
            retry_request(w, r, cls, reason, true);
        } else {
            log_event(LOG_ERROR, "ddb_request_failed", LF_S("error", reason), LF_I("items", r->n), LF_END);
            fail_request(w, r, reason, false);
        }
        break;
    case RETRY_ITEM:
        w->st.req_invalid++;
        if (log_enabled(LOG_DEBUG))
            log_event(LOG_DEBUG, "ddb_isolate", LF_S("error", reason), LF_I("items", r->n), LF_END);
        isolate(w, r, reason);
        break;
    default:
        w->st.req_failed++;
        log_event(LOG_ERROR, "ddb_request_failed", LF_S("error", reason), LF_I("items", r->n), LF_END);
        fail_request(w, r, reason, false);
        break;
    }
    free(reason);
    pump(w);
}

/* ---- driving ---- */

static void on_timer(void *ud)
{
    pump(ud);
}

/* When something next becomes possible without a response: a delayed
 * request's due time, the linger of the queue's head, tokens for a ready
 * retry, the end of a credentials pause. INT64_MAX: nothing, or every slot
 * is busy (a completion will pump). */
static int64_t next_due(ddb_writer *w, int64_t now)
{
    if (w->busy >= w->n_slots)
        return INT64_MAX;
    if (now < w->creds_retry_ms)
        return w->creds_retry_ms;
    int64_t due = w->delayed ? w->delayed->due_ms : INT64_MAX;
    if (w->qhead && !w->flushing && w->qhead->arrived_ms + w->cfg.linger_ms < due)
        due = w->qhead->arrived_ms + w->cfg.linger_ms;
    for (request *r = w->ready_head; r; r = r->next) {
        int64_t t = r->cost ? retry_bucket_ready_ms(&w->bucket, r->cost, now) : now;
        if (t < due)
            due = t;
    }
    return due;
}

static void pump(ddb_writer *w)
{
    if (w->pumping) {
        w->repump = true;
        return;
    }
    w->pumping = true;
    do {
        w->repump = false;
        while (w->busy < w->n_slots) {
            int64_t now = loop_now_ms(w->loop);
            if (now < w->creds_retry_ms)
                break;
            promote_due(w, now);
            request *r = take_ready(w, now);
            if (r == NULL)
                r = form_batch(w, now);
            if (r == NULL)
                break;
            send_request(w, r);
        }
    } while (w->repump);
    int64_t now = loop_now_ms(w->loop);
    int64_t due = next_due(w, now);
    if (due <= now)
        due = now + 1; /* nothing more could go now: never spin on a due timer */
    if (due == INT64_MAX)
        loop_timer_cancel(w->loop, &w->timer);
    else if (!w->timer.armed || w->timer.due_ms != due)
        loop_timer_set(w->loop, &w->timer, due, on_timer, w);
    w->pumping = false;
}

/* Dead-letters everything not yet settled: requests in flight are
 * abandoned. */
static void abandon_all(ddb_writer *w, const char *why)
{
    w->pumping = true; /* settle() pushes successors to the queue: drained below */
    for (int i = 0; i < w->n_slots; i++) {
        slot *s = &w->slots[i];
        request *r = s->req;
        if (r == NULL)
            continue;
        loop_remove(w->loop, s->easy);
        slot_release(s);
        w->busy--;
        w->st.req_aborted++;
        char *reason = xasprintf("%s: abandoned in flight (it may have been written)", why);
        fail_request(w, r, reason, false);
        free(reason);
    }
    request *lists[2] = {w->ready_head, w->delayed};
    w->ready_head = w->ready_tail = w->delayed = NULL;
    for (int l = 0; l < 2; l++)
        for (request *r = lists[l], *next; r; r = next) {
            next = r->next;
            for (int i = 0; i < r->n; i++) {
                entry *e = r->e[i];
                char *reason = e->last_error ? xasprintf("%s; last error: %s", why, e->last_error) : xstrdup(why);
                settle(w, e, reason, false);
                free(reason);
            }
            free(r);
        }
    while (w->qhead) {
        entry *e = w->qhead;
        queue_unlink(w, e);
        char *reason = e->last_error ? xasprintf("%s; last error: %s", why, e->last_error) : xstrdup(why);
        settle(w, e, reason, false);
        free(reason);
    }
    loop_timer_cancel(w->loop, &w->timer);
    w->pumping = false;
    w->repump = false;
}

static void sync_deadletters(ddb_writer *w)
{
    if (w->dl_fd >= 0 && fsync(w->dl_fd) != 0 && errno != EINVAL && !w->dl_error_logged) {
        log_event(LOG_ERROR, "deadletter_file_error", LF_S("file", w->deadletter_file), LF_S("error", strerror(errno)),
                  LF_END);
        w->dl_error_logged = true;
    }
}

ddb_status ddb_flush(ddb_writer *w, int64_t deadline_ms)
{
    w->flushing = true;
    pump(w);
    while (depth(w) > 0) {
        int64_t now = loop_now_ms(w->loop);
        if (now >= deadline_ms)
            break;
        if (w->busy == 0 && next_due(w, now) >= deadline_ms)
            break; /* nothing can happen in time */
        int64_t wait = deadline_ms - now;
        if (!loop_run_once(w->loop, wait > 1000 ? 1000 : (int)wait))
            break;
    }
    ddb_status st = DDB_OK;
    if (depth(w) > 0) {
        st = DDB_DEADLINE;
        abandon_all(w, "shutdown deadline");
    }
    sync_deadletters(w);
    w->flushing = false;
    return st;
}

void ddb_get_stats(const ddb_writer *w, ddb_stats *out)
{
    *out = w->st;
    out->depth = depth(w);
    out->in_flight = (uint64_t)w->busy;
}

/* ---- set-up ---- */

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    slot *s = ud;
    buf_put(&s->resp, p, size * n);
    return s->resp.failed ? 0 : size * n;
}

static void copy_header_value(const char *p, size_t n, size_t name_len, char *out, size_t cap)
{
    const char *v = p + name_len + 1, *e = p + n;
    while (v < e && (*v == ' ' || *v == '\t'))
        v++;
    while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' ' || e[-1] == '\t'))
        e--;
    size_t len = (size_t)(e - v);
    if (len >= cap)
        len = cap - 1;
    memcpy(out, v, len);
    out[len] = '\0';
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    slot *s = ud;
    size_t len = size * n;
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) { /* a new response (after a 1xx) */
        s->has_crc = false;
        s->crc[0] = s->date[0] = s->errtype[0] = '\0';
    } else if (len > 12 && strncasecmp(p, "x-amz-crc32:", 12) == 0) {
        copy_header_value(p, len, 11, s->crc, sizeof s->crc);
        s->has_crc = true;
    } else if (len > 5 && strncasecmp(p, "date:", 5) == 0) {
        copy_header_value(p, len, 4, s->date, sizeof s->date);
    } else if (len > 17 && strncasecmp(p, "x-amzn-errortype:", 17) == 0) {
        copy_header_value(p, len, 16, s->errtype, sizeof s->errtype);
    }
    return len;
}

static bool slot_init(ddb_writer *w, slot *s)
{
    s->w = w;
    buf_init(&s->body, DDB_BATCH_MAX_BYTES + 4096);
    buf_init(&s->resp, RESPONSE_MAX_BYTES);
    ddb_headers_init(&s->signed_headers);
    creds_init(&s->cred);
    s->easy = curl_easy_init();
    if (s->easy == NULL)
        return false;
    CURL *c = s->easy;
    curl_easy_setopt(c, CURLOPT_URL, w->ep.url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (w->ca_bundle)
        curl_easy_setopt(c, CURLOPT_CAINFO, w->ca_bundle);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, w->cfg.timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, w->cfg.connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, s->errbuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, s);
    return true;
}

ddb_writer *ddb_new(const ddb_config *cfg, loop *l, creds_provider *cp, char **err)
{
    if (cfg->table == NULL || !ddb_valid_table_name(cfg->table)) {
        *err = xasprintf("bad DynamoDB table name \"%s\": 3 to 255 characters of A-Z a-z 0-9 _ . -",
                         cfg->table ? cfg->table : "");
        return NULL;
    }
    if (cfg->region == NULL || !ddb_valid_region(cfg->region)) {
        *err = xasprintf("bad AWS region \"%s\"", cfg->region ? cfg->region : "");
        return NULL;
    }
    if (cfg->max_in_flight < 1 || cfg->max_attempts < 1 || cfg->linger_ms < 0) {
        *err = xstrdup("bad writer settings: in-flight requests and attempts must be at least 1");
        return NULL;
    }
    ddb_writer *w = xcalloc(1, sizeof *w);
    w->cfg = *cfg;
    if (w->cfg.wall_clock_ms == NULL)
        w->cfg.wall_clock_ms = real_wall_ms;
    w->dl_fd = -1;
    w->loop = l;
    w->cp = cp;
    buf_init(&w->scratch_av, ITEM_AV_MAX_BYTES);
    buf_init(&w->scratch_key, ITEM_AV_MAX_BYTES);
    w->table = xstrdup(cfg->table);
    w->region = xstrdup(cfg->region);
    w->deadletter_file = cfg->deadletter_file ? xstrdup(cfg->deadletter_file) : NULL;
    w->ca_bundle = cfg->ca_bundle ? xstrdup(cfg->ca_bundle) : NULL;
    w->cfg.table = w->cfg.region = w->cfg.endpoint = w->cfg.deadletter_file = w->cfg.ca_bundle = NULL;
    w->rng = (uint64_t)real_wall_ms(NULL) * UINT64_C(6364136223846793005) ^ (uint64_t)getpid() ^
             (uint64_t)(uintptr_t)w;
    if (w->rng == 0)
        w->rng = 1;
    char *url = cfg->endpoint ? xstrdup(cfg->endpoint) : ddb_default_endpoint(cfg->region);
    char *e = NULL;
    bool ok = ddb_endpoint_parse(url, &w->ep, &e);
    free(url);
    if (!ok) {
        *err = xasprintf("bad DynamoDB endpoint: %s", e);
        free(e);
        ddb_free(w);
        return NULL;
    }
    if (w->deadletter_file) {
        w->dl_fd = open(w->deadletter_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (w->dl_fd < 0) {
            *err = xasprintf("DEADLETTER_FILE %s: cannot open it for appending: %s", w->deadletter_file,
                             strerror(errno));
            ddb_free(w);
            return NULL;
        }
    }
    w->signer = sigv4_signer_new();
    w->n_slots = cfg->max_in_flight;
    w->slots = xcalloc((size_t)w->n_slots, sizeof *w->slots);
    for (int i = 0; i < w->n_slots; i++)
        if (!slot_init(w, &w->slots[i])) {
            *err = xstrdup("cannot create a curl handle");
            ddb_free(w);
            return NULL;
        }
    retry_bucket_init(&w->bucket, RETRY_BUCKET_CAPACITY, RETRY_REFILL_PER_S, loop_now_ms(l));
    return w;
}

const char *ddb_hash_key(const ddb_writer *w)
{
    return w->hash_key;
}

const char *ddb_range_key(const ddb_writer *w)
{
    return w->range_key;
}

/* ---- DescribeTable ---- */

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

/* Reads the key schema from a DescribeTable response. */
static ddb_status read_schema(ddb_writer *w, const http_response *resp, char **why)
{
    arena *a = arena_new(4096);
    char *perr = NULL;
    json_value *v = json_parse(resp->body.data ? resp->body.data : "", resp->body.len, a, 64, &perr);
    ddb_status st = DDB_PERMANENT;
    const json_value *t = json_get(v, "Table");
    const json_value *ks = json_get(t, "KeySchema");
    if (v == NULL) {
        *why = xasprintf("unreadable DescribeTable response: %s", perr);
        free(perr);
        goto done;
    }
    if (ks == NULL || ks->type != JSON_ARRAY) {
        *why = xstrdup("the DescribeTable response has no Table.KeySchema");
        goto done;
    }
    for (size_t i = 0; i < ks->len; i++) {
        const char *name = json_get_str(&ks->u.items[i], "AttributeName", NULL);
        const char *kind = json_get_str(&ks->u.items[i], "KeyType", NULL);
        if (name == NULL || kind == NULL)
            continue;
        if (strcmp(kind, "HASH") == 0 && w->hash_key == NULL)
            w->hash_key = xstrdup(name);
        else if (strcmp(kind, "RANGE") == 0 && w->range_key == NULL)
            w->range_key = xstrdup(name);
    }
    if (w->hash_key == NULL) {
        *why = xstrdup("the DescribeTable response names no partition (HASH) key");
        goto done;
    }
    const char *status = json_get_str(t, "TableStatus", NULL);
    if (status && strcmp(status, "CREATING") == 0) {
        *why = xstrdup("the table is still being created (TableStatus CREATING)");
        st = DDB_TRANSIENT;
        goto done;
    }
    if (status && (strcmp(status, "DELETING") == 0 || strcmp(status, "ARCHIVED") == 0 ||
                   strcmp(status, "ARCHIVING") == 0 || strcmp(status, "INACCESSIBLE_ENCRYPTION_CREDENTIALS") == 0)) {
        *why = xasprintf("the table cannot be written (TableStatus %s)", status);
        goto done;
    }
    st = DDB_OK;
done:
    arena_free(a);
    return st;
}

ddb_status ddb_describe_table(ddb_writer *w, char **err)
{
    buf body;
    buf_init(&body, 4096);
    ddb_body_describe(&body, w->table);
    ddb_status st = DDB_TRANSIENT;
    char *why = NULL;
    bool refreshed = false;
    http_response resp;
    http_response_init(&resp);
    for (int attempt = 1; attempt <= DESCRIBE_TRIES; attempt++) {
        free(why);
        why = NULL;
        creds c;
        creds_init(&c);
        char *e = NULL;
        if (!creds_get(w->cp, &c, &e)) {
            why = xasprintf("cannot get AWS credentials: %s", e);
            free(e);
            st = DDB_TRANSIENT;
            break; /* creds_get made its own tries */
        }
        ddb_headers h;
        ddb_headers_init(&h);
        time_t t = (time_t)((wall_ms(w) + w->skew_ms) / 1000);
        if (!ddb_sign(w->signer, &w->ep, w->region, "DescribeTable", body.data, body.len, &c, t, &h, &e)) {
            why = e;
            st = DDB_PERMANENT;
            creds_clean_up(&c);
            break;
        }
        http_request req = {
            .method = "POST",
            .url = w->ep.url,
            .headers = (const char *const *)h.line,
            .body = body.data,
            .body_len = body.len,
            .timeout_ms = w->cfg.timeout_ms,
            .connect_timeout_ms = w->cfg.connect_timeout_ms,
        };
        bool got = http_perform(&req, &resp);
        ddb_headers_clean_up(&h);
        retry_class cls;
        char date[64] = "";
        if (!got) {
            why = xasprintf("no response from %s: %s", w->ep.url, resp.error);
            cls = RETRY_TRANSPORT;
        } else {
            char crc[24];
            bool has_crc = http_response_header(&resp, "x-amz-crc32", crc, sizeof crc);
            http_response_header(&resp, "date", date, sizeof date);
            if (!ddb_crc_ok(has_crc ? crc : NULL, resp.body.data ? resp.body.data : "", resp.body.len)) {
                why = xasprintf("HTTP %ld response whose x-amz-crc32 does not match its body", resp.status);
                cls = RETRY_CRC;
            } else if (resp.status >= 200 && resp.status < 300) {
                st = read_schema(w, &resp, &why);
                creds_clean_up(&c);
                if (st == DDB_OK || st == DDB_PERMANENT)
                    break;
                cls = RETRY_SERVER;
            } else {
                char type[128], errtype[128] = "", *message = NULL;
                http_response_header(&resp, "x-amzn-errortype", errtype, sizeof errtype);
                ddb_parse_error(resp.status, resp.body.data, resp.body.len, errtype, &c, type, sizeof type, &message);
                why = type[0] ? xasprintf("%s: %s", type, message) : xstrdup(message);
                free(message);
                cls = retry_classify(resp.status, type);
            }
        }
        creds_clean_up(&c);
        if (cls == RETRY_REFRESH && !refreshed) {
            refreshed = true;
            if (creds_force_refresh(w->cp, &e)) {
                attempt--; /* the refresh is not a try */
                continue;
            }
            char *more = xasprintf("%s; refreshing the credentials failed: %s", why, e);
            free(e);
            free(why);
            why = more;
            st = DDB_PERMANENT;
            break;
        }
        if (cls == RETRY_SKEW && skewed(w, date))
            continue;
        if (cls == RETRY_THROTTLE || cls == RETRY_SERVER || cls == RETRY_TRANSPORT || cls == RETRY_CRC) {
            st = DDB_TRANSIENT;
            if (attempt < DESCRIBE_TRIES)
                sleep_ms(retry_backoff_ms(250, 2000, (unsigned)attempt, random32(w)));
            continue;
        }
        st = DDB_PERMANENT;
        break;
    }
    http_response_clean_up(&resp);
    buf_clean_up(&body);
    if (st != DDB_OK)
        *err = xasprintf("DynamoDB table \"%s\" in %s (%s): %s", w->table, w->region, w->ep.url,
                         why ? why : "no answer");
    free(why);
    return st;
}

void ddb_free(ddb_writer *w)
{
    if (w == NULL)
        return;
    if (w->slots && w->loop && depth(w) > 0)
        abandon_all(w, "writer stopped before it was written");
    if (w->loop)
        loop_timer_cancel(w->loop, &w->timer);
    sync_deadletters(w);
    if (w->dl_fd >= 0)
        close(w->dl_fd);
    for (int i = 0; w->slots && i < w->n_slots; i++) {
        slot *s = &w->slots[i];
        slot_release(s);
        if (s->easy)
            curl_easy_cleanup(s->easy);
        buf_clean_up(&s->body);
        buf_clean_up(&s->resp);
    }
    free(w->slots);
    free(w->keys.slots);
    buf_clean_up(&w->scratch_av);
    buf_clean_up(&w->scratch_key);
    sigv4_signer_free(w->signer);
    ddb_endpoint_clean_up(&w->ep);
    free(w->table);
    free(w->region);
    free(w->deadletter_file);
    free(w->ca_bundle);
    free(w->hash_key);
    free(w->range_key);
    free(w);
}
