/* drive.c: runs the stream client against a server and records what it
 * sees, for tests/stream/cases.py (which runs the fake server and checks).
 *
 *   tm_stream_drive [options]
 *
 * The configuration comes from the environment (stream_config_from_env:
 * CONSUMERKEY..., BEARERTOKEN, STREAM_URL), as the daemon reads it; options
 * adjust it. Logs (log.h) go to stdout; --lines gets every line on_line
 * receives, --events a JSON line per state change and the final counters.
 *
 * Time: the loop's clock is the monotonic clock plus an offset. With
 * --fake-clock, each backoff wait is skipped by moving the offset forward
 * by it, so Twitter's waits (up to minutes) take no real time, while the
 * clock still reads as if they had passed: the events show each attempt's
 * time on this clock, and the test checks the gaps.
 *
 * Exit: 0 when a stop condition was met, 3 at the real-time deadline, 2 on
 * a usage or configuration error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http.h"
#include "log.h"
#include "loop.h"
#include "mem.h"
#include "stream.h"

typedef struct driver {
    stream *s;
    loop *l;
    FILE *lines, *events;
    uint64_t n_lines;
    uint64_t n_backoffs, n_connected;
    uint64_t stop_after_lines, stop_after_backoffs, stop_after_connects;
    uint64_t pause_at_line, reconnect_at_line, set_track_at_line, stop_at_line;
    int64_t pause_ms;
    char **new_track;
    bool fake_clock, stop_on_closed;
    int64_t warp_ms;
    bool done;
    loop_timer resume_timer;
    uint64_t lines_while_paused;
} driver;

static int64_t clock_offset_ms;

static int64_t real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t test_clock(void)
{
    return real_ms() + clock_offset_ms;
}

static uint64_t fixed_random_value;
static bool fixed_random;
static uint64_t xs_state = 88172645463325252ull;

static uint64_t test_random(void *ud)
{
    (void)ud;
    if (fixed_random)
        return fixed_random_value;
    xs_state ^= xs_state << 13;
    xs_state ^= xs_state >> 7;
    xs_state ^= xs_state << 17;
    return xs_state;
}

static int64_t wall_clock_value;
static int64_t test_wall_clock(void)
{
    return wall_clock_value;
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static char **split_commas(const char *s)
{
    size_t n = 1;
    for (const char *p = s; *p; p++)
        n += *p == ',';
    char **v = xcalloc(n + 1, sizeof *v);
    size_t k = 0;
    const char *p = s;
    for (;;) {
        size_t len = strcspn(p, ",");
        v[k++] = xstrndup(p, len);
        if (p[len] == '\0')
            break;
        p += len + 1;
    }
    return v;
}

static void free_strv(char **v)
{
    for (char **p = v; p && *p; p++)
        free(*p);
    free(v);
}

static void resume_now(void *ud)
{
    driver *d = ud;
    if (d->events) {
        fprintf(d->events, "{\"ev\":\"resume\",\"line\":%llu,\"t\":%lld}\n", (unsigned long long)d->n_lines,
                (long long)loop_now_ms(d->l));
        fflush(d->events);
    }
    stream_resume(d->s);
}

static void finish(driver *d)
{
    if (!d->done) {
        d->done = true;
        stream_stop(d->s);
    }
}

static void on_line(void *ud, const char *line, size_t len, stream_msg_type type)
{
    driver *d = ud;
    d->n_lines++;
    if (stream_paused(d->s))
        d->lines_while_paused++;
    if (d->lines) {
        fwrite(line, 1, len, d->lines);
        fputc('\n', d->lines);
    }
    if (d->events && type != STREAM_MSG_TWEET) {
        fprintf(d->events, "{\"ev\":\"line\",\"n\":%llu,\"type\":\"%s\"}\n", (unsigned long long)d->n_lines,
                stream_msg_type_name(type));
        fflush(d->events);
    }
    if (d->n_lines == d->pause_at_line) {
        if (d->events) {
            fprintf(d->events, "{\"ev\":\"pause\",\"line\":%llu,\"t\":%lld}\n", (unsigned long long)d->n_lines,
                    (long long)loop_now_ms(d->l));
            fflush(d->events);
        }
        stream_pause(d->s);
        loop_timer_set(d->l, &d->resume_timer, loop_now_ms(d->l) + d->pause_ms, resume_now, d);
    }
    if (d->n_lines == d->reconnect_at_line)
        stream_reconnect(d->s);
    if (d->n_lines == d->set_track_at_line) {
        char *err = NULL;
        if (!stream_set_track(d->s, (const char *const *)d->new_track, &err)) {
            fprintf(stderr, "tm_stream_drive: %s\n", err);
            free(err);
        }
    }
    if (d->n_lines == d->stop_at_line || (d->stop_after_lines && d->n_lines >= d->stop_after_lines))
        finish(d);
}

static void on_state(void *ud, const stream_status *st)
{
    driver *d = ud;
    if (d->events) {
        fprintf(d->events, "{\"ev\":\"state\",\"state\":\"%s\",\"reason\":\"%s\",\"status\":%ld,\"message\":",
                stream_state_name(st->state), stream_reason_name(st->reason), st->http_status);
        json_str(d->events, st->message);
        fprintf(d->events, ",\"wait_ms\":%lld,\"delay_ms\":%lld,\"attempt\":%u,\"t\":%lld,\"lines\":%llu}\n",
                (long long)st->wait_ms, (long long)st->delay_ms, st->attempt, (long long)loop_now_ms(d->l),
                (unsigned long long)d->n_lines);
        fflush(d->events);
    }
    if (st->state == STREAM_CONNECTED) {
        d->n_connected++;
        if (d->stop_after_connects && d->n_connected >= d->stop_after_connects)
            finish(d);
    }
    if (st->state == STREAM_BACKOFF) {
        d->n_backoffs++;
        if (d->fake_clock)
            d->warp_ms = st->delay_ms;
        if ((d->stop_after_backoffs && d->n_backoffs >= d->stop_after_backoffs) ||
            (d->stop_on_closed && st->reason == STREAM_REASON_CLOSED))
            finish(d);
    }
    if (st->state == STREAM_FAILED)
        d->done = true;
}

static void write_stats(driver *d)
{
    stream_stats st;
    stream_get_stats(d->s, &st);
    FILE *f = d->events;
    fprintf(f, "{\"ev\":\"stats\",\"attempts\":%llu,\"connects\":%llu,\"bytes\":%llu,\"keepalives\":%llu,"
               "\"oversize\":%llu,\"bad_lines\":%llu,\"truncated\":%llu,\"v2_other_rules\":%llu,\"rules_added\":%llu,"
               "\"rules_deleted\":%llu,\"rules_refused\":%llu,\"pauses\":%llu,\"paused_ms\":%lld,"
               "\"lines\":%llu,\"lines_while_paused\":%llu,\"stall_ms\":%lld,\"final_state\":\"%s\",\"reconnects\":{",
            (unsigned long long)st.attempts, (unsigned long long)st.connects, (unsigned long long)st.bytes,
            (unsigned long long)st.keepalives, (unsigned long long)st.oversize, (unsigned long long)st.bad_lines, (unsigned long long)st.truncated,
            (unsigned long long)st.v2_other_rules, (unsigned long long)st.rules_added,
            (unsigned long long)st.rules_deleted, (unsigned long long)st.rules_refused,
            (unsigned long long)st.pauses, (long long)st.paused_ms, (unsigned long long)d->n_lines,
            (unsigned long long)d->lines_while_paused, (long long)stream_stall_ms(d->s),
            stream_state_name(stream_get_state(d->s)));
    for (int r = 1; r < STREAM_REASON_COUNT; r++)
        fprintf(f, "%s\"%s\":%llu", r > 1 ? "," : "", stream_reason_name((stream_reason)r),
                (unsigned long long)st.reconnects[r]);
    fprintf(f, "},\"messages\":{");
    for (int t = 0; t < STREAM_MSG_COUNT; t++)
        fprintf(f, "%s\"%s\":%llu", t ? "," : "", stream_msg_type_name((stream_msg_type)t),
                (unsigned long long)st.messages[t]);
    fprintf(f, "}}\n");
}

static int usage(void)
{
    fprintf(stderr,
            "usage: tm_stream_drive [--env-check] [--mode v1|v2|ndjson] [--url URL] [--track A,B]\n"
            "  [--stall-ms N] [--healthy-ms N] [--max-line N] [--jitter PCT] [--random N] [--wall-clock S]\n"
            "  [--fake-clock] [--lines FILE] [--events FILE] [--log-level L] [--deadline-ms N]\n"
            "  [--stop-after-lines N] [--stop-after-backoffs N] [--stop-after-connects N] [--stop-on-closed]\n"
            "  [--pause-at-line N --pause-ms M] [--reconnect-at-line N] [--stop-at-line N]\n"
            "  [--set-track-at-line N --new-track A,B]\n");
    return 2;
}

int main(int argc, char **argv)
{
    driver d = {0};
    stream_config cfg;
    char *err = NULL;
    bool env_check = false;
    const char *mode = NULL, *url = NULL, *track = NULL, *lines_path = NULL, *events_path = NULL;
    const char *level = "info";
    int64_t stall_ms = 0, healthy_ms = 0, deadline_ms = 20000;
    long long max_line = 0, jitter = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define OPT(name) (strcmp(a, name) == 0 && v && ++i)
        if (strcmp(a, "--env-check") == 0) env_check = true;
        else if (strcmp(a, "--fake-clock") == 0) d.fake_clock = true;
        else if (strcmp(a, "--stop-on-closed") == 0) d.stop_on_closed = true;
        else if (OPT("--mode")) mode = v;
        else if (OPT("--url")) url = v;
        else if (OPT("--track")) track = v;
        else if (OPT("--stall-ms")) stall_ms = atoll(v);
        else if (OPT("--healthy-ms")) healthy_ms = atoll(v);
        else if (OPT("--max-line")) max_line = atoll(v);
        else if (OPT("--jitter")) jitter = atoll(v);
        else if (OPT("--random")) { fixed_random = true; fixed_random_value = strtoull(v, NULL, 10); }
        else if (OPT("--wall-clock")) wall_clock_value = atoll(v);
        else if (OPT("--lines")) lines_path = v;
        else if (OPT("--events")) events_path = v;
        else if (OPT("--log-level")) level = v;
        else if (OPT("--deadline-ms")) deadline_ms = atoll(v);
        else if (OPT("--stop-after-lines")) d.stop_after_lines = strtoull(v, NULL, 10);
        else if (OPT("--stop-after-backoffs")) d.stop_after_backoffs = strtoull(v, NULL, 10);
        else if (OPT("--stop-after-connects")) d.stop_after_connects = strtoull(v, NULL, 10);
        else if (OPT("--pause-at-line")) d.pause_at_line = strtoull(v, NULL, 10);
        else if (OPT("--pause-ms")) d.pause_ms = atoll(v);
        else if (OPT("--reconnect-at-line")) d.reconnect_at_line = strtoull(v, NULL, 10);
        else if (OPT("--stop-at-line")) d.stop_at_line = strtoull(v, NULL, 10);
        else if (OPT("--set-track-at-line")) d.set_track_at_line = strtoull(v, NULL, 10);
        else if (OPT("--new-track")) d.new_track = split_commas(v);
        else return usage();
#undef OPT
    }
    log_level lv = strcmp(level, "debug") == 0 ? LOG_DEBUG : strcmp(level, "warn") == 0 ? LOG_WARN : LOG_INFO;
    log_setup(stdout, lv, true);
    if (!stream_config_from_env(&cfg, &err)) {
        printf("config error: %s\n", err);
        free(err);
        return 2;
    }
    if (env_check) {
        printf("mode=%s url=%s stall_ms=%lld max_line=%zu rule_tag=%s\n",
               cfg.mode == STREAM_MODE_V1 ? "v1.1" : cfg.mode == STREAM_MODE_V2 ? "v2" : "ndjson",
               cfg.url ? "set" : "default", (long long)cfg.stall_ms, cfg.max_line_bytes,
               cfg.rule_tag ? cfg.rule_tag : "default");
        return 0;
    }
    if (mode)
        cfg.mode = strcmp(mode, "v1") == 0 ? STREAM_MODE_V1 : strcmp(mode, "v2") == 0 ? STREAM_MODE_V2 : STREAM_MODE_NDJSON;
    if (url)
        cfg.url = url;
    char **track_v = track ? split_commas(track) : NULL;
    cfg.track = (const char *const *)track_v;
    if (stall_ms)
        cfg.stall_ms = stall_ms;
    if (healthy_ms)
        cfg.healthy_ms = healthy_ms;
    if (max_line)
        cfg.max_line_bytes = (size_t)max_line;
    if (jitter >= 0)
        cfg.backoff.jitter_pct = (unsigned)jitter;
    cfg.random = test_random;
    if (wall_clock_value)
        cfg.wall_clock_s = test_wall_clock;

    if (!http_global_init()) {
        fprintf(stderr, "tm_stream_drive: curl_global_init failed\n");
        return 1;
    }
    d.l = loop_new(test_clock);
    d.s = stream_new(&cfg, d.l, (stream_callbacks){on_line, on_state, &d}, &err);
    free_strv(track_v);
    if (d.s == NULL) {
        printf("config error: %s\n", err);
        free(err);
        loop_free(d.l);
        curl_global_cleanup();
        return 2;
    }
    d.lines = lines_path ? fopen(lines_path, "wb") : NULL;
    d.events = events_path ? fopen(events_path, "w") : NULL;
    if ((lines_path && !d.lines) || (events_path && !d.events)) {
        perror("tm_stream_drive: output file");
        return 2;
    }
    stream_start(d.s);
    int64_t deadline = real_ms() + deadline_ms;
    int rc = 0;
    while (!d.done) {
        if (d.warp_ms) {
            clock_offset_ms += d.warp_ms;
            d.warp_ms = 0;
        }
        if (!loop_run_once(d.l, 50)) {
            fprintf(stderr, "tm_stream_drive: loop_run_once failed\n");
            rc = 1;
            break;
        }
        if (real_ms() > deadline) {
            fprintf(stderr, "tm_stream_drive: deadline of %lld ms passed\n", (long long)deadline_ms);
            rc = 3;
            break;
        }
    }
    if (d.events) {
        write_stats(&d);
        fclose(d.events);
    }
    if (d.lines)
        fclose(d.lines);
    loop_timer_cancel(d.l, &d.resume_timer);
    stream_free(d.s);
    loop_free(d.l);
    free_strv(d.new_track);
    curl_global_cleanup();
    return rc;
}
