/* stream_bench.c: the stream client's side of tests/bench/stream_run.sh.
 *
 *   tm_stream_bench stream URL [SCRIPT]   read the NDJSON stream at URL through
 *                                         the stream client (loop, curl,
 *                                         framing, classification) until the
 *                                         server ends it; with SCRIPT, run
 *                                         each line through the rule engine
 *   tm_stream_bench rule FILE SCRIPT      the rule engine alone over the
 *                                         lines of FILE, read into memory first
 *   tm_stream_bench frame FILE            framing and classification alone,
 *                                         over FILE in memory, in 16 KiB chunks
 *
 * Prints one JSON object: lines, bytes, wall_s, cpu_s, and for the rule
 * runs tweets, matched, errors. FILTER and the rule variables are read from
 * the environment as `tweetmatch test` reads them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "config.h"
#include "frame.h"
#include "http.h"
#include "log.h"
#include "loop.h"
#include "paths.h"
#include "rule.h"
#include "stream.h"

typedef struct bench {
    rule *r;
    rule_result res;
    uint64_t lines, tweets, matched, errors;
    bool done;
    stream *s;
} bench;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static void process(bench *b, const char *line, size_t len)
{
    b->lines++;
    if (b->r == NULL)
        return;
    rule_kind k = rule_process(b->r, line, len, &b->res);
    if (k == RULE_TWEET) {
        b->tweets++;
        if (b->res.n_items)
            b->matched++;
    } else if (k == RULE_ERROR || k == RULE_BAD_INPUT) {
        b->errors++;
    }
}

static void on_line(void *ud, const char *line, size_t len, stream_msg_type type)
{
    (void)type;
    process(ud, line, len);
}

static void on_state(void *ud, const stream_status *st)
{
    bench *b = ud;
    if (st->state == STREAM_BACKOFF || st->state == STREAM_FAILED) {
        if (st->reason != STREAM_REASON_CLOSED)
            fprintf(stderr, "tm_stream_bench: stream ended: %s %s\n", stream_reason_name(st->reason), st->message);
        b->done = true;
        stream_stop(b->s);
    }
}

static void on_frame(void *ud, frame_event ev, const char *line, size_t len, uint64_t no)
{
    (void)no;
    bench *b = ud;
    if (ev == FRAME_LINE && len) {
        b->lines++;
        b->tweets += stream_classify(line, len) == STREAM_MSG_TWEET;
    }
}

static rule *load_rule(const char *script)
{
    rule_config cfg;
    rule_config_init(&cfg);
    char *err = NULL;
    if (!config_rule(&cfg, &err)) {
        fprintf(stderr, "tm_stream_bench: %s\n", err);
        exit(2);
    }
    char *lua_dir = paths_lua_dir();
    cfg.lua_dir = lua_dir;
    rule *r = rule_new(script, &cfg, &err);
    free(lua_dir);
    if (r == NULL) {
        fprintf(stderr, "tm_stream_bench: %s\n", err);
        exit(2);
    }
    return r;
}

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *d = xmalloc((size_t)len + 1);
    if (fread(d, 1, (size_t)len, f) != (size_t)len) {
        perror(path);
        exit(2);
    }
    fclose(f);
    *n = (size_t)len;
    return d;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: tm_stream_bench stream URL [SCRIPT] | rule FILE SCRIPT | frame FILE\n");
        return 2;
    }
    log_setup(stderr, LOG_WARN, true);
    bench b = {0};
    rule_result_init(&b.res);
    uint64_t bytes = 0;
    double t0, c0;
    if (strcmp(argv[1], "stream") == 0) {
        if (argc > 3)
            b.r = load_rule(argv[3]);
        if (!http_global_init())
            return 1;
        loop *l = loop_new(NULL);
        stream_config cfg;
        stream_config_init(&cfg);
        cfg.mode = STREAM_MODE_NDJSON;
        cfg.url = argv[2];
        char *err = NULL;
        b.s = stream_new(&cfg, l, (stream_callbacks){on_line, on_state, &b}, &err);
        if (b.s == NULL) {
            fprintf(stderr, "tm_stream_bench: %s\n", err);
            return 2;
        }
        t0 = now_s();
        c0 = cpu_s();
        stream_start(b.s);
        while (!b.done)
            if (!loop_run_once(l, 1000))
                return 1;
        stream_stats st;
        stream_get_stats(b.s, &st);
        bytes = st.bytes;
        stream_free(b.s);
        loop_free(l);
    } else if (strcmp(argv[1], "rule") == 0 && argc == 4) {
        b.r = load_rule(argv[3]);
        size_t n;
        char *d = slurp(argv[2], &n);
        bytes = n;
        t0 = now_s();
        c0 = cpu_s();
        for (size_t i = 0; i < n;) {
            char *nl = memchr(d + i, '\n', n - i);
            size_t e = nl ? (size_t)(nl - d) : n;
            size_t len = e - i;
            if (len && d[i + len - 1] == '\r')
                len--;
            if (len)
                process(&b, d + i, len);
            i = e + 1;
        }
        free(d);
    } else if (strcmp(argv[1], "frame") == 0) {
        size_t n;
        char *d = slurp(argv[2], &n);
        bytes = n;
        frame f;
        frame_init(&f, (size_t)1 << 20);
        t0 = now_s();
        c0 = cpu_s();
        for (size_t i = 0; i < n; i += 16384)
            frame_push(&f, d + i, n - i < 16384 ? n - i : 16384, on_frame, &b);
        frame_finish(&f, on_frame, &b);
        frame_clean_up(&f);
        free(d);
    } else {
        fprintf(stderr, "tm_stream_bench: unknown mode %s\n", argv[1]);
        return 2;
    }
    double wall = now_s() - t0, cpu = cpu_s() - c0;
    printf("{\"lines\":%llu,\"bytes\":%llu,\"wall_s\":%.6f,\"cpu_s\":%.6f,\"tweets\":%llu,\"matched\":%llu,"
           "\"errors\":%llu}\n",
           (unsigned long long)b.lines, (unsigned long long)bytes, wall, cpu, (unsigned long long)b.tweets,
           (unsigned long long)b.matched, (unsigned long long)b.errors);
    rule_result_clean_up(&b.res);
    rule_free(b.r);
    curl_global_cleanup();
    return 0;
}
