/* driver.c: the DynamoDB writer driven as the daemon drives it, for the
 * tests in tests/ddb and the benchmark in tests/bench.
 *
 *   tm_ddb_driver OPS_FILE
 *
 * OPS_FILE holds one operation per line: {"put":{AV item}} or
 * {"delete":{AV key}} (DynamoDB attribute-value JSON). The driver reads the
 * environment as the daemon does (DYNAMODBTABLE, AWSREGION, the endpoint,
 * the credential chain, the DDB_* tuning variables, DEADLETTER_FILE,
 * LOG_LEVEL), makes the writer, runs DescribeTable, then puts every
 * operation through ddb_put / ddb_delete on one event loop, pausing while
 * ddb_queue_full says so, as the daemon pauses its stream; then it flushes.
 *
 * Test-only variables:
 *   TM_TEST_FLUSH_MS        the flush deadline, from the start of the flush (60000)
 *   TM_TEST_JITTER          a fixed backoff jitter in [0, 1] (else random)
 *   TM_TEST_CLOCK_OFFSET_MS added to the wall clock the writer signs with
 *   TM_TEST_CREDS_ADVANCE_MS moves the credential provider's clock forward by
 *                           this much after DescribeTable (time passing
 *                           since the credentials were fetched)
 *
 * Output: the writer's JSON log lines on stdout, then one line
 * {"event":"driver_stats",...} with the writer's counters, the flush
 * outcome, and the CPU time (user + system) and wall time of the writing
 * phase (first put to end of flush), the peak RSS and the RSS before the
 * first put.
 * Exit: 0 done (dead letters or not), 3 DDB_PERMANENT at DescribeTable (the
 * message on stderr, as the daemon prints it), 1 DDB_TRANSIENT or another
 * failure, 2 a configuration error. */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "buf.h"
#include "creds.h"
#include "ddb.h"
#include "http.h"
#include "item.h"
#include "json.h"
#include "log.h"
#include "loop.h"
#include "mem.h"

/* ---- AV JSON -> item ---- */

static bool conv(item *it, const json_value *v, item_val *out, int depth, char **err);

static bool str_of(item *it, const json_value *v, const char **s, uint32_t *n)
{
    if (v->type != JSON_STRING)
        return false;
    *s = arena_strndup(it->arena, v->u.str, v->len);
    *n = (uint32_t)v->len;
    return true;
}

static bool b64(item *it, const json_value *v, const char **s, uint32_t *n)
{
    if (v->type != JSON_STRING || v->len % 4)
        return false;
    unsigned char *out = item_alloc(it, v->len / 4 * 3 + 1);
    int k = v->len ? EVP_DecodeBlock(out, (const unsigned char *)v->u.str, (int)v->len) : 0;
    if (k < 0)
        return false;
    if (v->len >= 1 && v->u.str[v->len - 1] == '=')
        k--;
    if (v->len >= 2 && v->u.str[v->len - 2] == '=')
        k--;
    *s = (const char *)out;
    *n = (uint32_t)k;
    return true;
}

static bool conv_attrs(item *it, const json_value *obj, item_val *out, int depth, char **err)
{
    out->type = ITEM_M;
    out->len = (uint32_t)obj->len;
    item_attr *attrs = item_alloc(it, (obj->len ? obj->len : 1) * sizeof *attrs);
    for (size_t i = 0; i < obj->len; i++) {
        attrs[i].name = arena_strndup(it->arena, obj->u.members[i].name, obj->u.members[i].name_len);
        attrs[i].name_len = (uint32_t)obj->u.members[i].name_len;
        if (!conv(it, &obj->u.members[i].value, &attrs[i].val, depth + 1, err))
            return false;
    }
    if (!item_sort_attrs(attrs, obj->len)) {
        *err = xstrdup("repeated attribute name");
        return false;
    }
    out->u.attrs = attrs;
    return true;
}

static bool conv(item *it, const json_value *v, item_val *out, int depth, char **err)
{
    if (depth > ITEM_MAX_DEPTH || v->type != JSON_OBJECT || v->len != 1) {
        *err = xstrdup("an attribute value must be an object with one type key");
        return false;
    }
    const char *t = v->u.members[0].name;
    const json_value *x = &v->u.members[0].value;
    bool ok = true;
    memset(out, 0, sizeof *out);
    if (strcmp(t, "S") == 0) {
        out->type = ITEM_S;
        ok = str_of(it, x, &out->u.str, &out->len);
    } else if (strcmp(t, "N") == 0) {
        out->type = ITEM_N;
        ok = str_of(it, x, &out->u.str, &out->len);
    } else if (strcmp(t, "B") == 0) {
        out->type = ITEM_B;
        ok = b64(it, x, &out->u.str, &out->len);
    } else if (strcmp(t, "BOOL") == 0) {
        out->type = ITEM_BOOL;
        ok = x->type == JSON_TRUE || x->type == JSON_FALSE;
        out->u.boolean = x->type == JSON_TRUE;
    } else if (strcmp(t, "NULL") == 0) {
        out->type = ITEM_NULL;
    } else if (strcmp(t, "M") == 0) {
        return x->type == JSON_OBJECT ? conv_attrs(it, x, out, depth, err) : (*err = xstrdup("M: not an object"), false);
    } else if (strcmp(t, "L") == 0 || strcmp(t, "SS") == 0 || strcmp(t, "NS") == 0 || strcmp(t, "BS") == 0) {
        if (x->type != JSON_ARRAY) {
            *err = xasprintf("%s: not an array", t);
            return false;
        }
        out->type = t[0] == 'L' ? ITEM_L : t[0] == 'S' ? ITEM_SS : t[0] == 'N' ? ITEM_NS : ITEM_BS;
        out->len = (uint32_t)x->len;
        item_val *el = item_alloc(it, (x->len ? x->len : 1) * sizeof *el);
        for (size_t i = 0; i < x->len && ok; i++) {
            if (out->type == ITEM_L) {
                if (!conv(it, &x->u.items[i], &el[i], depth + 1, err))
                    return false;
            } else {
                el[i].type = out->type == ITEM_SS ? ITEM_S : out->type == ITEM_NS ? ITEM_N : ITEM_B;
                ok = out->type == ITEM_BS ? b64(it, &x->u.items[i], &el[i].u.str, &el[i].len)
                                          : str_of(it, &x->u.items[i], &el[i].u.str, &el[i].len);
            }
        }
        out->u.elems = el;
        if (out->type != ITEM_L)
            item_sort_set(out);
    } else {
        *err = xasprintf("unknown attribute type %s", t);
        return false;
    }
    if (!ok)
        *err = xasprintf("bad %s value", t);
    return ok;
}

/* An item from an AV JSON object (copied into the item's arena). */
static item *item_from_av(const json_value *obj, char **err)
{
    if (obj == NULL || obj->type != JSON_OBJECT) {
        *err = xstrdup("not an object");
        return NULL;
    }
    item *it = item_new();
    if (!conv_attrs(it, obj, &it->root, 0, err)) {
        item_free(it);
        return NULL;
    }
    size_t size = 0;
    for (uint32_t i = 0; i < it->root.len; i++)
        size += it->root.u.attrs[i].name_len + item_val_size(&it->root.u.attrs[i].val);
    it->size_bytes = size;
    return it;
}

/* ---- hooks ---- */

static uint32_t fixed_jitter;
static int64_t clock_offset_ms;

static uint32_t jitter_hook(void *ud)
{
    (void)ud;
    return fixed_jitter;
}

static int64_t wall_hook(void *ud)
{
    (void)ud;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + clock_offset_ms;
}

static int64_t creds_offset_ms;

static int64_t creds_clock_hook(void *ud)
{
    (void)ud;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + creds_offset_ms;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t cpu_ms(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
}

/* The resident set now ("VmRSS:") or its peak ("VmHWM:"), in KiB; 0 when
 * unknown (not Linux). getrusage's ru_maxrss will not do: Linux carries it
 * over an exec, so it shows the parent's size at fork when that is larger. */
static long rss_kb(const char *which)
{
    FILE *f = fopen("/proc/self/status", "r");
    char l[256];
    long kb = 0;
    while (f && fgets(l, sizeof l, f))
        if (strncmp(l, which, strlen(which)) == 0)
            kb = strtol(l + strlen(which), NULL, 10);
    if (f)
        fclose(f);
    return kb;
}

static void warn_hook(void *ud, const char *msg)
{
    (void)ud;
    log_event(LOG_WARN, "credentials_warning", LF_S("message", msg), LF_END);
}

static int64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The next operation of f; false at the end. *del: a delete. Exits 2 on a
 * bad line. */
static item *next_op(FILE *f, const char *name, size_t *lineno, bool *del)
{
    static char *line;
    static size_t line_cap;
    ssize_t len;
    while ((len = getline(&line, &line_cap, f)) > 0) {
        ++*lineno;
        if (len <= 1)
            continue;
        arena *a = arena_new(4096);
        char *err = NULL;
        json_value *v = json_parse(line, (size_t)(line[len - 1] == '\n' ? len - 1 : len), a, 64, &err);
        const json_value *put = v ? json_get(v, "put") : NULL;
        const json_value *dk = v ? json_get(v, "delete") : NULL;
        item *it = v ? item_from_av(put ? put : dk, &err) : NULL;
        arena_free(a);
        if (it == NULL) {
            fprintf(stderr, "%s:%zu: %s\n", name, *lineno, err ? err : "bad line");
            exit(2);
        }
        *del = put == NULL;
        return it;
    }
    free(line);
    line = NULL;
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: tm_ddb_driver OPS_FILE\n");
        return 2;
    }
    char *err = NULL;
    if (!log_setup_from_env(stdout, &err)) {
        fprintf(stderr, "tweetmatch: %s\n", err);
        return 2;
    }
    if (!http_global_init()) {
        fprintf(stderr, "tweetmatch: cannot initialize libcurl\n");
        return 1;
    }
    const char *j = getenv("TM_TEST_JITTER");
    const char *off = getenv("TM_TEST_CLOCK_OFFSET_MS");
    const char *fl = getenv("TM_TEST_FLUSH_MS");
    int64_t flush_ms = fl && *fl ? strtoll(fl, NULL, 10) : 60000;
    if (off && *off)
        clock_offset_ms = strtoll(off, NULL, 10);

    FILE *f = fopen(argv[1], "r");
    if (f == NULL) {
        perror(argv[1]);
        return 2;
    }

    creds_config cc;
    creds_config_from_env(&cc);
    cc.warn = warn_hook;
    cc.clock_ms = creds_clock_hook;
    creds_provider *cp = creds_new(&cc, &err);
    if (cp == NULL) {
        fprintf(stderr, "tweetmatch: %s\n", err);
        return 2;
    }
    ddb_config cfg;
    if (!ddb_config_from_env(&cfg, &err)) {
        fprintf(stderr, "tweetmatch: %s\n", err);
        return 2;
    }
    if (j && *j) {
        double x = strtod(j, NULL);
        fixed_jitter = x >= 1 ? UINT32_MAX : x <= 0 ? 0 : (uint32_t)(x * 4294967296.0);
        cfg.random32 = jitter_hook;
    }
    cfg.wall_clock_ms = wall_hook;
    loop *l = loop_new(NULL);
    ddb_writer *w = ddb_new(&cfg, l, cp, &err);
    if (w == NULL) {
        fprintf(stderr, "tweetmatch: %s\n", err);
        return 2;
    }
    ddb_status st = ddb_describe_table(w, &err);
    if (st != DDB_OK) {
        fprintf(stderr, "tweetmatch: %s\n", err);
        free(err);
        ddb_free(w);
        loop_free(l);
        creds_free(cp);
        return st == DDB_PERMANENT ? 3 : 1;
    }
    const char *adv = getenv("TM_TEST_CREDS_ADVANCE_MS");
    if (adv && *adv)
        creds_offset_ms = strtoll(adv, NULL, 10);
    log_event(LOG_INFO, "table_described", LF_S("hash_key", ddb_hash_key(w)), LF_S("range_key", ddb_range_key(w)),
              LF_END);

    /* The writing phase; reading and converting the input (the rule's
     * work in the daemon) is timed apart and left out of cpu_ms. */
    long rss_before = rss_kb("VmRSS:");
    int64_t t0 = now_ms(), c0 = cpu_ms(), parse_ns = 0;
    uint64_t paused = 0, max_depth = 0, n_ops = 0;
    size_t lineno = 0;
    for (;;) {
        bool del;
        int64_t p0 = thread_cpu_ns();
        item *it = next_op(f, argv[1], &lineno, &del);
        parse_ns += thread_cpu_ns() - p0;
        if (it == NULL)
            break;
        while (ddb_queue_full(w)) {
            paused++;
            if (!loop_run_once(l, 100)) {
                fprintf(stderr, "tweetmatch: the event loop failed\n");
                return 1;
            }
        }
        if (del)
            ddb_delete(w, it);
        else
            ddb_put(w, it);
        if (ddb_queue_depth(w) > max_depth)
            max_depth = ddb_queue_depth(w);
        if (++n_ops % 64 == 0 && !loop_run_once(l, 0)) {
            fprintf(stderr, "tweetmatch: the event loop failed\n");
            return 1;
        }
    }
    fclose(f);
    st = ddb_flush(w, loop_now_ms(l) + flush_ms);
    int64_t wall = now_ms() - t0, cpu = cpu_ms() - c0 - parse_ns / 1000000;
    ddb_stats s;
    ddb_get_stats(w, &s);
    log_event(LOG_INFO, "driver_stats", LF_I("ops", n_ops), LF_S("flush", st == DDB_OK ? "ok" : "deadline"),
              LF_I("queued", s.queued), LF_I("written", s.written), LF_I("dead_letter", s.dead_letter),
              LF_I("retried", s.retried), LF_I("unprocessed", s.unprocessed), LF_I("superseded", s.superseded),
              LF_I("depth", s.depth), LF_I("in_flight", s.in_flight), LF_I("requests", s.requests),
              LF_I("req_ok", s.req_ok), LF_I("req_partial", s.req_partial), LF_I("req_throttled", s.req_throttled),
              LF_I("req_server", s.req_server), LF_I("req_transport", s.req_transport), LF_I("req_crc", s.req_crc),
              LF_I("req_refresh", s.req_refresh), LF_I("req_skew", s.req_skew), LF_I("req_invalid", s.req_invalid),
              LF_I("req_failed", s.req_failed), LF_I("req_aborted", s.req_aborted),
              LF_I("no_credentials", s.no_credentials), LF_I("paused", paused), LF_I("max_depth", max_depth),
              LF_I("cpu_ms", cpu), LF_I("parse_cpu_ms", parse_ns / 1000000), LF_I("wall_ms", wall), LF_I("maxrss_kb", rss_kb("VmHWM:")),
              LF_I("rss_before_kb", rss_before), LF_END);
    ddb_free(w);
    loop_free(l);
    creds_free(cp);
    curl_global_cleanup();
    return 0;
}
