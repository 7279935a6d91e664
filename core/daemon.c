/* daemon.c: see daemon.h. */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "config.h"
#include "creds.h"
#include "ddb.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "loop.h"
#include "paths.h"
#include "rule.h"
#include "stream.h"

#define DEFAULT_HEALTH_FILE "/tmp/tweetmatch.health"

typedef struct settings {
    const char *script;          /* MATCHER_SCRIPT, else the installed filter.lua */
    char *default_script;        /* owned, when script is the default */
    const char *filter;          /* FILTER */
    const char *health_file;     /* HEALTH_FILE */
    int64_t shutdown_ms;         /* SHUTDOWN_DEADLINE_SECONDS, default 25 */
    int64_t reload_check_ms;     /* RELOAD_CHECK_SECONDS, default 5; 0 off */
    int64_t stats_ms;            /* STATS_INTERVAL_SECONDS, default 60 */
    int64_t heartbeat_ms;        /* HEALTH_INTERVAL_SECONDS, default 5 */
    int64_t stream_down_ms;      /* HEALTH_STREAM_DOWN_SECONDS, default 600 */
    int64_t writer_stuck_ms;     /* HEALTH_WRITER_STUCK_SECONDS, default 120 */
    int64_t start_retry_ms;      /* START_RETRY_SECONDS: how long start-up
                                    retries a transient DescribeTable failure, default 60 */
    const char *metrics_namespace; /* METRICS_NAMESPACE, default "tweetmatch" */
} settings;

typedef struct counters {
    uint64_t tweets, matched, items, deletes, control, rule_errors, bad_input, reloads, reload_failures;
} counters;

typedef struct daemon {
    settings set;
    rule_config rule_cfg;
    char *lua_dir;
    rule *rule;
    rule_result res;
    char **track;                /* in effect, NULL-terminated (owned) */
    struct timespec script_mtime;
    off_t script_size;
    loop *loop;
    creds_provider *creds;
    ddb_writer *ddb;
    stream *stream;
    stream_state stream_state;
    stream_reason stream_reason;
    long stream_http_status;
    int64_t stream_ok_ms;        /* loop time the stream was last connected (or started):
                                    set on connecting and on leaving the connected state */
    int64_t last_message_ms;
    int64_t last_progress_ms;    /* loop time the writer last wrote or emptied */
    uint64_t last_written, last_dead;
    bool paused_by_us;
    size_t queue_max;            /* the writer's queue bound */
    int fatal_code;              /* set when the daemon must stop with an error */
    counters c, c_last;          /* c_last: at the previous stats line */
    uint64_t written_last, dead_last, reconnects_last, bad_last;
    loop_timer heartbeat, stats, reload_check;
} daemon_t;

static volatile sig_atomic_t got_stop, got_reload;
static loop *signal_loop;

static void on_signal(int sig)
{
    if (sig == SIGHUP)
        got_reload = 1;
    else
        got_stop = 1;
    if (signal_loop)
        loop_wakeup(signal_loop);
}

/* ---- configuration ---- */

static bool env_seconds(const char *name, int64_t def_s, int64_t min_s, int64_t max_s, int64_t *out_ms, char **err)
{
    uint64_t v;
    if (!config_env_u64(name, (uint64_t)def_s, (uint64_t)min_s, (uint64_t)max_s, &v, err))
        return false;
    *out_ms = (int64_t)v * 1000;
    return true;
}

static const char *env_or(const char *name, const char *def)
{
    const char *v = getenv(name);
    return v && *v ? v : def;
}

static bool read_settings(settings *s, char **err)
{
    memset(s, 0, sizeof *s);
    s->script = env_or("MATCHER_SCRIPT", NULL);
    if (s->script == NULL)
        s->script = s->default_script = paths_default_script();
    s->filter = env_or("FILTER", "");
    s->health_file = env_or("HEALTH_FILE", DEFAULT_HEALTH_FILE);
    s->metrics_namespace = env_or("METRICS_NAMESPACE", "tweetmatch");
    return env_seconds("SHUTDOWN_DEADLINE_SECONDS", 25, 1, 3600, &s->shutdown_ms, err) &&
           env_seconds("RELOAD_CHECK_SECONDS", 5, 0, 3600, &s->reload_check_ms, err) &&
           env_seconds("STATS_INTERVAL_SECONDS", 60, 1, 86400, &s->stats_ms, err) &&
           env_seconds("HEALTH_INTERVAL_SECONDS", 5, 1, 3600, &s->heartbeat_ms, err) &&
           env_seconds("HEALTH_STREAM_DOWN_SECONDS", 600, 1, 86400, &s->stream_down_ms, err) &&
           env_seconds("HEALTH_WRITER_STUCK_SECONDS", 120, 1, 86400, &s->writer_stuck_ms, err) &&
           env_seconds("START_RETRY_SECONDS", 60, 0, 3600, &s->start_retry_ms, err);
}

static const char *set_or_not(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? "set" : "not set";
}

/* ---- the rule and its track phrases ---- */

static void free_list(char **l)
{
    if (l == NULL)
        return;
    for (char **p = l; *p; p++)
        free(*p);
    free(l);
}

/* The phrases the stream filters on: the script's track, else FILTER. */
static char **track_of(const rule *r, const char *filter)
{
    const char *const *t = rule_track(r);
    size_t n = 0, cap = 8;
    char **out = xcalloc(cap, sizeof *out);
    if (t) {
        for (; t[n]; n++) {
            if (n + 1 >= cap)
                out = xrealloc(out, (cap *= 2) * sizeof *out);
            out[n] = xstrdup(t[n]);
        }
    } else {
        const char *p = filter;
        while (*p) {
            const char *comma = strchr(p, ',');
            size_t len = comma ? (size_t)(comma - p) : strlen(p);
            const char *a = p, *b = p + len;
            while (a < b && (*a == ' ' || *a == '\t'))
                a++;
            while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
                b--;
            if (b > a) {
                if (n + 1 >= cap)
                    out = xrealloc(out, (cap *= 2) * sizeof *out);
                out[n++] = xstrndup(a, (size_t)(b - a));
            }
            p += len + (comma ? 1 : 0);
        }
    }
    out[n] = NULL;
    return out;
}

static bool same_list(char **a, char **b)
{
    for (; *a && *b; a++, b++)
        if (strcmp(*a, *b) != 0)
            return false;
    return *a == NULL && *b == NULL;
}

static void print_to_log(void *ud, const char *msg, size_t len)
{
    (void)ud;
    log_event(LOG_INFO, "script_print", LF_SN("message", msg, len), LF_END);
}

/* Loads the script and runs its examples; NULL with *err on failure. */
static rule *load_rule(daemon_t *d, char **err)
{
    rule *r = rule_new(d->set.script, &d->rule_cfg, err);
    if (r == NULL)
        return NULL;
    size_t total = 0;
    char *report = NULL;
    size_t report_len = 0;
    FILE *f = open_memstream(&report, &report_len);
    size_t failed = rule_run_examples(r, f, &total);
    fclose(f);
    if (failed) {
        *err = xasprintf("%s: %zu of %zu examples fail:\n%s", d->set.script, failed, total, report);
        free(report);
        rule_free(r);
        return NULL;
    }
    free(report);
    return r;
}

static void note_script_stat(daemon_t *d)
{
    struct stat st;
    if (stat(d->set.script, &st) == 0) {
        d->script_mtime = st.st_mtim;
        d->script_size = st.st_size;
    }
}

static void reload(daemon_t *d, const char *why)
{
    note_script_stat(d);
    char *err = NULL;
    rule *r = load_rule(d, &err);
    if (r == NULL) {
        d->c.reload_failures++;
        log_event(LOG_ERROR, "reload_failed", LF_S("script", d->set.script), LF_S("trigger", why),
                  LF_S("error", err), LF_S("action", "the previous rules keep running"), LF_END);
        free(err);
        return;
    }
    char **track = track_of(r, d->set.filter);
    bool track_changed = !same_list(track, d->track);
    if (track_changed && !stream_set_track(d->stream, (const char *const *)track, &err)) {
        d->c.reload_failures++;
        log_event(LOG_ERROR, "reload_failed", LF_S("script", d->set.script), LF_S("trigger", why),
                  LF_S("error", err), LF_S("action", "the previous rules keep running"), LF_END);
        free(err);
        free_list(track);
        rule_free(r);
        return;
    }
    rule_free(d->rule);
    d->rule = r;
    free_list(d->track);
    d->track = track;
    d->c.reloads++;
    size_t n = 0;
    while (track[n])
        n++;
    log_event(LOG_INFO, "reload", LF_S("script", d->set.script), LF_S("trigger", why),
              LF_B("track_changed", track_changed), LF_I("track_phrases", n), LF_END);
}

/* ---- the pipeline ---- */

static size_t queue_depth(const daemon_t *d)
{
    return ddb_queue_depth(d->ddb);
}

static void first_line(const char *msg, const char **out, size_t *len)
{
    const char *nl = strchr(msg, '\n');
    *out = msg;
    *len = nl ? (size_t)(nl - msg) : strlen(msg);
}

static void on_line(void *ud, const char *line, size_t len, stream_msg_type type)
{
    (void)type;
    daemon_t *d = ud;
    d->last_message_ms = loop_now_ms(d->loop);
    rule_result *res = &d->res;
    switch (rule_process(d->rule, line, len, res)) {
    case RULE_TWEET:
        d->c.tweets++;
        d->c.matched += res->n_items > 0;
        d->c.items += res->n_items;
        for (size_t i = 0; i < res->n_items; i++)
            ddb_put(d->ddb, rule_result_take(res, i));
        break;
    case RULE_DELETE:
        d->c.control++;
        d->c.deletes += res->n_items;
        d->c.items += res->n_items;
        for (size_t i = 0; i < res->n_items; i++)
            ddb_delete(d->ddb, rule_result_take(res, i));
        break;
    case RULE_CONTROL:
        d->c.control++;
        break;
    case RULE_BAD_INPUT:
        d->c.bad_input++;
        log_event(LOG_WARN, "bad_input", LF_S("error", res->error), LF_I("bytes", len), LF_END);
        break;
    case RULE_ERROR: {
        d->c.rule_errors++;
        if (res->message == RULE_TWEET)
            d->c.tweets++;
        else
            d->c.control++;
        const char *msg;
        size_t mlen;
        first_line(res->error, &msg, &mlen);
        log_event(LOG_WARN, "rule_error", LF_S("tweet_id", res->id), LF_SN("error", msg, mlen),
                  LF_S("traceback", res->error), LF_END);
        break;
    }
    }
    rule_result_clean_up(res);
    if (!d->paused_by_us && queue_depth(d) >= d->queue_max) {
        d->paused_by_us = true;
        stream_pause(d->stream);
        log_event(LOG_INFO, "backpressure", LF_S("action", "pause"), LF_I("queue_depth", queue_depth(d)), LF_END);
    }
}

static void on_state(void *ud, const stream_status *st)
{
    daemon_t *d = ud;
    /* Down time is counted from the end of the last connection, not from
     * its start: a drop after hours of streaming is not an outage yet. */
    if (st->state == STREAM_CONNECTED || d->stream_state == STREAM_CONNECTED)
        d->stream_ok_ms = loop_now_ms(d->loop);
    d->stream_state = st->state;
    d->stream_reason = st->reason;
    d->stream_http_status = st->http_status;
    if (st->state == STREAM_FAILED) {
        log_event(LOG_ERROR, "fatal", LF_S("component", "stream"), LF_I("http_status", st->http_status),
                  LF_S("error", st->message), LF_END);
        /* As for every other fatal error, a line on stderr too. */
        const char *hint = st->http_status == 401   ? " (check the Twitter credentials)"
                           : st->http_status == 404 ? " (check STREAM_URL)"
                                                    : "";
        fprintf(stderr, "tweetmatch run: the stream refused the connection: HTTP %ld: %s%s\n", st->http_status,
                st->message, hint);
        d->fatal_code = st->reason == STREAM_REASON_AUTH ? EXIT_AUTH : EXIT_FAIL;
        loop_wakeup(d->loop);
    }
}

/* Resumes a paused stream once the queue has drained to half its bound. */
static void maybe_resume(daemon_t *d)
{
    if (!d->paused_by_us || ddb_queue_depth(d->ddb) > d->queue_max / 2)
        return;
    d->paused_by_us = false;
    stream_resume(d->stream);
    log_event(LOG_INFO, "backpressure", LF_S("action", "resume"), LF_I("queue_depth", ddb_queue_depth(d->ddb)),
              LF_END);
}

/* ---- health, stats ---- */

static bool stream_healthy(const daemon_t *d, int64_t now, const char **why)
{
    if (d->stream_state == STREAM_FAILED) {
        *why = "the stream failed permanently";
        return false;
    }
    if (d->stream_state != STREAM_CONNECTED && now - d->stream_ok_ms > d->set.stream_down_ms) {
        *why = "the stream has not been connected for longer than HEALTH_STREAM_DOWN_SECONDS";
        return false;
    }
    return true;
}

static bool writer_healthy(daemon_t *d, int64_t now, const char **why)
{
    ddb_stats s;
    ddb_get_stats(d->ddb, &s);
    /* Progress is a write, or an empty queue that did not get empty by
     * dead-lettering: a writer whose every request is refused (table
     * deleted, access revoked) keeps its queue empty and writes nothing. */
    if (s.written != d->last_written || (s.depth == 0 && s.dead_letter == d->last_dead)) {
        d->last_written = s.written;
        d->last_progress_ms = now;
    }
    d->last_dead = s.dead_letter;
    if (now - d->last_progress_ms > d->set.writer_stuck_ms) {
        *why = "the writer has written nothing for longer than HEALTH_WRITER_STUCK_SECONDS";
        return false;
    }
    return true;
}

static const char *state_name(const daemon_t *d)
{
    switch (d->stream_state) {
    case STREAM_CONNECTED: return "connected";
    case STREAM_CONNECTING: return "connecting";
    case STREAM_BACKOFF: return "reconnecting";
    case STREAM_FAILED: return "failed";
    case STREAM_IDLE: return "starting";
    }
    return "unknown";
}

/* Writes the heartbeat file atomically (a temporary file, then rename). */
static void write_health(daemon_t *d, const char *override_state)
{
    int64_t now = loop_now_ms(d->loop);
    const char *why = "", *writer_why = "";
    bool stream_ok = stream_healthy(d, now, &why);
    bool writer_ok = writer_healthy(d, now, &writer_why);
    if (stream_ok && !writer_ok)
        why = writer_why;
    bool ok = stream_ok && writer_ok;
    if (override_state) {
        ok = false;
        why = override_state;
    }
    ddb_stats s;
    ddb_get_stats(d->ddb, &s);
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    buf b;
    buf_init(&b, 8192);
    buf_printf(&b, "{\"ts_ms\":%lld,\"pid\":%ld,\"state\":\"%s\",\"healthy\":%s,\"reason\":",
               (long long)wall.tv_sec * 1000 + wall.tv_nsec / 1000000, (long)getpid(),
               override_state ? "stopping" : state_name(d), ok ? "true" : "false");
    json_put_string(&b, why, strlen(why));
    buf_printf(&b, ",\"last_message_age_ms\":%lld,\"last_write_age_ms\":%lld,\"queue_depth\":%llu,"
                   "\"interval_ms\":%lld}\n",
               d->last_message_ms ? (long long)(now - d->last_message_ms) : -1LL,
               (long long)(now - d->last_progress_ms), (unsigned long long)s.depth, (long long)d->set.heartbeat_ms);
    char *tmp = xasprintf("%s.tmp.%ld", d->set.health_file, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    bool wrote = fd >= 0 && write(fd, b.data, b.len) == (ssize_t)b.len;
    if (fd >= 0)
        close(fd);
    if (!wrote || rename(tmp, d->set.health_file) != 0) {
        static bool warned;
        if (!warned)
            log_event(LOG_WARN, "health_file", LF_S("path", d->set.health_file), LF_S("error", strerror(errno)),
                      LF_END);
        warned = true;
        unlink(tmp);
    }
    free(tmp);
    buf_clean_up(&b);
}

static void on_heartbeat(void *ud)
{
    daemon_t *d = ud;
    write_health(d, NULL);
    loop_timer_set(d->loop, &d->heartbeat, loop_now_ms(d->loop) + d->set.heartbeat_ms, on_heartbeat, d);
}

static uint64_t reconnects_total(const daemon_t *d)
{
    stream_stats ss;
    stream_get_stats(d->stream, &ss);
    uint64_t n = 0;
    for (int i = 0; i < STREAM_REASON_COUNT; i++)
        n += ss.reconnects[i];
    return n;
}

/* Bad lines: those the rule could not read, and those the stream dropped
 * for being over the line cap (they never reach the rule). */
static uint64_t bad_input_total(const daemon_t *d)
{
    stream_stats ss;
    stream_get_stats(d->stream, &ss);
    return d->c.bad_input + ss.oversize;
}

/* One stats line: the totals, and the same counters for the interval in
 * CloudWatch Embedded Metric Format, so the awslogs driver makes metrics. */
static void log_stats(daemon_t *d, const char *event)
{
    ddb_stats s;
    ddb_get_stats(d->ddb, &s);
    uint64_t reconnects = reconnects_total(d);
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    static const char *const names[] = {"Tweets", "Matched", "Items", "Written", "DeadLetters",
                                        "RuleErrors", "BadInput", "Reconnects", "QueueDepth"};
    uint64_t deltas[] = {d->c.tweets - d->c_last.tweets, d->c.matched - d->c_last.matched,
                         d->c.items - d->c_last.items, s.written - d->written_last,
                         s.dead_letter - d->dead_last, d->c.rule_errors - d->c_last.rule_errors,
                         bad_input_total(d) - d->bad_last, reconnects - d->reconnects_last, s.depth};
    buf emf;
    buf_init(&emf, 4096);
    buf_printf(&emf, "{\"Timestamp\":%lld,\"CloudWatchMetrics\":[{\"Namespace\":",
               (long long)wall.tv_sec * 1000 + wall.tv_nsec / 1000000);
    json_put_string(&emf, d->set.metrics_namespace, strlen(d->set.metrics_namespace));
    buf_puts(&emf, ",\"Dimensions\":[[]],\"Metrics\":[");
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        buf_printf(&emf, "%s{\"Name\":\"%s\",\"Unit\":\"Count\"}", i ? "," : "", names[i]);
    buf_puts(&emf, "]}]}");
    log_event(LOG_INFO, event, LF_I("tweets", d->c.tweets), LF_I("matched", d->c.matched), LF_I("items", d->c.items),
              LF_I("deletes", d->c.deletes), LF_I("written", s.written), LF_I("dead_letter", s.dead_letter),
              LF_I("rule_errors", d->c.rule_errors), LF_I("bad_input", bad_input_total(d)),
              LF_I("control", d->c.control), LF_I("reconnects", reconnects), LF_I("queue_depth", s.depth),
              LF_I("retried", s.retried), LF_I("reloads", d->c.reloads), LF_I("rule_memory_bytes", rule_mem_bytes(d->rule)),
              LF_I(names[0], deltas[0]), LF_I(names[1], deltas[1]), LF_I(names[2], deltas[2]),
              LF_I(names[3], deltas[3]), LF_I(names[4], deltas[4]), LF_I(names[5], deltas[5]),
              LF_I(names[6], deltas[6]), LF_I(names[7], deltas[7]), LF_I(names[8], deltas[8]),
              LF_RAW("_aws", emf.data), LF_END);
    buf_clean_up(&emf);
    d->c_last = d->c;
    d->written_last = s.written;
    d->dead_last = s.dead_letter;
    d->reconnects_last = reconnects;
    d->bad_last = bad_input_total(d);
}

static void on_stats(void *ud)
{
    daemon_t *d = ud;
    log_stats(d, "stats");
    loop_timer_set(d->loop, &d->stats, loop_now_ms(d->loop) + d->set.stats_ms, on_stats, d);
}

static void on_reload_check(void *ud)
{
    daemon_t *d = ud;
    struct stat st;
    if (stat(d->set.script, &st) == 0 &&
        (st.st_mtim.tv_sec != d->script_mtime.tv_sec || st.st_mtim.tv_nsec != d->script_mtime.tv_nsec ||
         st.st_size != d->script_size))
        reload(d, "file changed");
    loop_timer_set(d->loop, &d->reload_check, loop_now_ms(d->loop) + d->set.reload_check_ms, on_reload_check, d);
}

/* ---- start-up ---- */

static void log_start(const daemon_t *d, const stream_config *sc, const ddb_config *dc)
{
    const char *mode = sc->mode == STREAM_MODE_V1   ? "v1.1"
                       : sc->mode == STREAM_MODE_V2 ? "v2"
                                                    : "ndjson";
    const char *why = sc->mode == STREAM_MODE_V1   ? "CONSUMERKEY, CONSUMERSECRETKEY, ACCESSTOKEN and ACCESSTOKENSECRET are set"
                      : sc->mode == STREAM_MODE_V2 ? "BEARERTOKEN is set"
                                                   : "STREAM_URL is set and no Twitter credentials are";
    size_t n = 0;
    while (d->track[n])
        n++;
    char *stream_url = sc->url ? log_url(sc->url) : xstrdup("(default)");
    char *endpoint = dc->endpoint ? log_url(dc->endpoint) : xstrdup("(default)");
    log_event(LOG_INFO, "start", LF_S("version", TM_VERSION), LF_S("stream_mode", mode),
              LF_S("stream_mode_reason", why), LF_S("stream_url", stream_url),
              LF_S("table", dc->table), LF_S("region", dc->region),
              LF_S("endpoint", endpoint), LF_S("script", d->set.script),
              LF_I("track_phrases", n), LF_S("credentials", creds_source_name(d->creds)),
              LF_S("CONSUMERKEY", set_or_not("CONSUMERKEY")),
              LF_S("CONSUMERSECRETKEY", set_or_not("CONSUMERSECRETKEY")),
              LF_S("ACCESSTOKEN", set_or_not("ACCESSTOKEN")),
              LF_S("ACCESSTOKENSECRET", set_or_not("ACCESSTOKENSECRET")),
              LF_S("BEARERTOKEN", set_or_not("BEARERTOKEN")),
              LF_S("AWS_SECRET_ACCESS_KEY", set_or_not("AWS_SECRET_ACCESS_KEY")),
              LF_S("deadletter_file", dc->deadletter_file ? dc->deadletter_file : "(none)"),
              LF_S("health_file", d->set.health_file), LF_END);
    free(stream_url);
    free(endpoint);
}

static void config_error(const char *msg)
{
    log_event(LOG_ERROR, "config_error", LF_S("error", msg), LF_END);
    fprintf(stderr, "tweetmatch run: %s\n", msg);
}

static const char run_usage[] =
    "usage: tweetmatch [run]\n"
    "\n"
    "The daemon: reads the stream, runs each tweet through the rule script and\n"
    "writes the items to DynamoDB. Configured from the environment (see the\n"
    "README): DYNAMODBTABLE, AWSREGION, FILTER, CONSUMERKEY/CONSUMERSECRETKEY/\n"
    "ACCESSTOKEN/ACCESSTOKENSECRET or BEARERTOKEN, STREAM_URL, MATCHER_SCRIPT, ...\n"
    "SIGTERM or SIGINT: stop, flush, exit 0. SIGHUP: reload the script.\n"
    "\n"
    "exit: 0 clean stop; 2 configuration error; 3 permanent auth/permission/\n"
    "missing-table error; 1 other fatal error\n";

int daemon_run(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(run_usage, stdout);
        return EXIT_OK;
    }
    if (argc > 1) {
        fprintf(stderr, "tweetmatch run: unexpected argument '%s'\n%s", argv[1], run_usage);
        return EXIT_USAGE;
    }
    char *err = NULL;
    if (!log_setup_from_env(stdout, &err)) {
        fprintf(stderr, "tweetmatch run: %s\n", err);
        free(err);
        return EXIT_CONFIG;
    }
    static daemon_t dd;
    daemon_t *d = &dd;
    memset(d, 0, sizeof *d);
    int code = EXIT_CONFIG;
    ddb_config dc;
    stream_config sc;
    creds_config cc;
    rule_config_init(&d->rule_cfg);
    /* Every configuration problem is reported before giving up. */
    bool ok = true;
    if (!read_settings(&d->set, &err) || !config_rule(&d->rule_cfg, &err)) {
        config_error(err);
        free(err), err = NULL;
        ok = false;
    }
    if (!ddb_config_from_env(&dc, &err)) {
        config_error(err);
        free(err), err = NULL;
        ok = false;
    }
    stream_config_init(&sc);
    if (!stream_config_from_env(&sc, &err)) {
        config_error(err);
        free(err), err = NULL;
        ok = false;
    }
    creds_config_from_env(&cc);
    if (ok) {
        d->creds = creds_new(&cc, &err);
        if (d->creds == NULL) {
            config_error(err);
            free(err), err = NULL;
            ok = false;
        }
    }
    if (!ok)
        goto out;
    if (!http_global_init()) {
        config_error("cannot initialise libcurl");
        code = EXIT_FAIL;
        goto out;
    }
    d->lua_dir = paths_lua_dir();
    d->rule_cfg.lua_dir = d->lua_dir;
    d->rule_cfg.print = print_to_log;
    note_script_stat(d);
    d->rule = load_rule(d, &err);
    if (d->rule == NULL) {
        log_event(LOG_ERROR, "script_error", LF_S("script", d->set.script), LF_S("error", err), LF_END);
        fprintf(stderr, "tweetmatch run: cannot load the script: %s\n", err);
        free(err);
        goto out;
    }
    d->track = track_of(d->rule, d->set.filter);
    sc.track = (const char *const *)d->track;
    sc.max_line_bytes = d->rule_cfg.line_max_bytes;

    d->loop = loop_new(NULL);
    if (d->loop == NULL) {
        code = EXIT_FAIL;
        goto out;
    }
    d->queue_max = dc.queue_max;
    d->ddb = ddb_new(&dc, d->loop, d->creds, &err);
    if (d->ddb == NULL) {
        config_error(err);
        free(err);
        goto out;
    }
    stream_callbacks cb = {.on_line = on_line, .on_state = on_state, .ud = d};
    d->stream = stream_new(&sc, d->loop, cb, &err);
    if (d->stream == NULL) {
        config_error(err);
        free(err);
        goto out;
    }
    log_start(d, &sc, &dc);

    signal_loop = d->loop;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* DescribeTable: fail fast on permanent errors, wait out transient ones. */
    int64_t give_up = loop_now_ms(d->loop) + d->set.start_retry_ms;
    for (int64_t wait_ms = 1000;; wait_ms = wait_ms * 2 > 10000 ? 10000 : wait_ms * 2) {
        ddb_status st = ddb_describe_table(d->ddb, &err);
        if (st == DDB_OK)
            break;
        if (got_stop && st != DDB_PERMANENT) {
            /* Stopped before anything was read: nothing to flush. */
            log_event(LOG_INFO, "shutdown", LF_S("reason", "signal during start-up"), LF_END);
            log_stats(d, "stats");
            free(err);
            code = EXIT_OK;
            goto out;
        }
        if (st == DDB_PERMANENT || loop_now_ms(d->loop) + wait_ms > give_up) {
            log_event(LOG_ERROR, "fatal", LF_S("component", "dynamodb"), LF_S("error", err), LF_END);
            fprintf(stderr, "tweetmatch run: %s\n", err);
            free(err);
            code = st == DDB_PERMANENT ? EXIT_AUTH : EXIT_FAIL;
            goto out;
        }
        log_event(LOG_WARN, "start_retry", LF_S("component", "dynamodb"), LF_S("error", err),
                  LF_I("wait_ms", wait_ms), LF_END);
        free(err), err = NULL;
        struct timespec ts = {wait_ms / 1000, (wait_ms % 1000) * 1000000};
        nanosleep(&ts, NULL);
    }
    log_event(LOG_INFO, "table", LF_S("table", dc.table), LF_S("hash_key", ddb_hash_key(d->ddb)),
              LF_S("range_key", ddb_range_key(d->ddb)), LF_END);

    int64_t now = loop_now_ms(d->loop);
    d->stream_ok_ms = d->last_progress_ms = now;
    stream_start(d->stream);
    write_health(d, NULL);
    loop_timer_set(d->loop, &d->heartbeat, now + d->set.heartbeat_ms, on_heartbeat, d);
    loop_timer_set(d->loop, &d->stats, now + d->set.stats_ms, on_stats, d);
    if (d->set.reload_check_ms)
        loop_timer_set(d->loop, &d->reload_check, now + d->set.reload_check_ms, on_reload_check, d);

    while (!got_stop && !d->fatal_code) {
        if (got_reload) {
            got_reload = 0;
            reload(d, "SIGHUP");
        }
        if (!loop_run_once(d->loop, 1000)) {
            log_event(LOG_ERROR, "fatal", LF_S("component", "loop"), LF_S("error", "curl multi failed"), LF_END);
            d->fatal_code = EXIT_FAIL;
            break;
        }
        maybe_resume(d);
    }

    /* Stop reading, flush within the deadline, report. */
    const char *why = got_stop ? "signal" : "fatal error";
    log_event(LOG_INFO, "shutdown", LF_S("reason", why), LF_I("queue_depth", ddb_queue_depth(d->ddb)),
              LF_I("deadline_ms", d->set.shutdown_ms), LF_END);
    stream_stop(d->stream);
    write_health(d, "shutting down");
    ddb_status fl = ddb_flush(d->ddb, loop_now_ms(d->loop) + d->set.shutdown_ms);
    if (fl != DDB_OK)
        log_event(LOG_WARN, "flush_deadline", LF_S("error", "items left at the deadline were dead-lettered"),
                  LF_END);
    log_stats(d, "stats");
    code = d->fatal_code ? d->fatal_code : EXIT_OK;
out:
    signal_loop = NULL;
    stream_free(d->stream);
    ddb_free(d->ddb);
    loop_free(d->loop);
    creds_free(d->creds);
    rule_result_clean_up(&d->res);
    rule_free(d->rule);
    free_list(d->track);
    free(d->lua_dir);
    free(d->set.default_script);
    return code;
}

/* ---- tweetmatch health ---- */

static const char health_usage[] =
    "usage: tweetmatch health\n"
    "\n"
    "For a container health check: exits 0 when the daemon's heartbeat file\n"
    "(HEALTH_FILE, default " DEFAULT_HEALTH_FILE ") is fresh and says the daemon\n"
    "is healthy, else 1 with the reason on stderr.\n";

int daemon_health(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(health_usage, stdout);
        return EXIT_OK;
    }
    const char *path = env_or("HEALTH_FILE", DEFAULT_HEALTH_FILE);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "unhealthy: cannot read %s: %s\n", path, strerror(errno));
        return EXIT_FAIL;
    }
    char text[8192];
    size_t n = fread(text, 1, sizeof text, f);
    fclose(f);
    arena *a = arena_new(1024);
    char *err = NULL;
    json_value *v = json_parse(text, n, a, 8, &err);
    int code = EXIT_FAIL;
    if (v == NULL) {
        fprintf(stderr, "unhealthy: %s is not a heartbeat: %s\n", path, err);
        free(err);
        goto out;
    }
    const json_value *ts = json_get(v, "ts_ms"), *iv = json_get(v, "interval_ms"), *ok = json_get(v, "healthy");
    if (ts == NULL || ts->type != JSON_NUMBER || iv == NULL || iv->type != JSON_NUMBER || ok == NULL) {
        fprintf(stderr, "unhealthy: %s is not a heartbeat (fields missing)\n", path);
        goto out;
    }
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    long long now = (long long)wall.tv_sec * 1000 + wall.tv_nsec / 1000000;
    long long age = now - atoll(ts->u.str), max_age = 3 * atoll(iv->u.str) + 5000;
    const char *state = json_get_str(v, "state", NULL), *reason = json_get_str(v, "reason", NULL);
    if (age > max_age) {
        fprintf(stderr, "unhealthy: the heartbeat is %lld ms old (allowed %lld ms)\n", age, max_age);
        goto out;
    }
    if (ok->type != JSON_TRUE) {
        fprintf(stderr, "unhealthy: %s (%s)\n", reason && *reason ? reason : "the daemon says so",
                state ? state : "?");
        goto out;
    }
    printf("healthy: %s, heartbeat %lld ms old\n", state ? state : "?", age);
    code = EXIT_OK;
out:
    arena_free(a);
    return code;
}
