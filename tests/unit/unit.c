/* unit.c: table-driven unit tests of the core, one ctest entry per case.
 *
 *   tm_unit SUITE CASE DATAFILE
 *
 * Each suite reads its cases from a tab-separated file under tests/data/unit
 * (name, then the suite's columns); CMake registers every row as a test.
 * Columns may use the escapes \t \n \\ \xHH. The tests drive the real
 * modules: the marshal suite runs Lua expressions through the rule engine
 * exactly as `tweetmatch test` does. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "frame.h"
#include "item.h"
#include "json.h"
#include "log.h"
#include "mem.h"
#include "rule.h"
#include "rule_pool.h"
#include "track.h"
#include "utf8.h"
#include "tsv.h"


typedef tsv_row row;

static int expect_str(const char *what, const char *want, const char *got)
{
    if (strcmp(want, got) == 0)
        return 0;
    fprintf(stderr, "%s differs\n  expected: %s\n  actual:   %s\n", what, want, got);
    return 1;
}

/* marshal: name, Lua expression (the body of match; `tweet` is the
 * decoded message below), expected: the AV lines joined by \n, "none" for
 * no item, "error: MESSAGE" for a rule error (first line compared), or
 * "size=N" for success with DynamoDB size N. */
static const char tweet_json[] =
    "{\"id_str\":\"42\",\"id\":1050118621198921728,\"text\":\"hello\",\"count\":1234,"
    "\"ratio\":0.5,\"nul\":null,\"arr\":[1,\"two\"],\"obj\":{\"b\":1,\"a\":2},\"big\":1e300,"
    "\"emoji\":\"\\ud83d\\ude00 caf\\u00e9\"}";

static int suite_marshal(const row *c)
{
    if (c->n < 3)
        return fprintf(stderr, "marshal case needs 3 columns\n"), 1;
    char *src = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&src, &len);
    fprintf(m, "local tm = require 'tweetmatch'\nreturn { match = function(tweet)\n%s\nend }\n", c->col[1]);
    fclose(m);
    rule_config cfg;
    rule_config_init(&cfg);
    cfg.lua_dir = TM_SOURCE_DIR "/lua";
    cfg.mem_max_bytes = (size_t)32 << 20;
    char *err = NULL;
    rule *r = rule_new_from_string("case.lua", src, len, &cfg, &err);
    free(src);
    if (r == NULL) {
        fprintf(stderr, "script did not load: %s\n", err);
        free(err);
        return 1;
    }
    rule_result res;
    rule_result_init(&res);
    rule_process(r, tweet_json, strlen(tweet_json), &res);
    buf got;
    buf_init(&got, (size_t)64 << 20);
    int fails = 0;
    const char *want = c->col[2];
    if (res.kind == RULE_ERROR) {
        char *nl = strchr(res.error, '\n');
        if (nl)
            *nl = '\0';
        buf_printf(&got, "error: %s", res.error);
    } else if (res.kind != RULE_TWEET) {
        buf_printf(&got, "unexpected kind %d: %s", (int)res.kind, res.error ? res.error : "");
    } else if (strncmp(want, "size=", 5) == 0) {
        size_t total = 0;
        for (size_t i = 0; i < res.n_items; i++)
            total += res.items[i]->size_bytes;
        buf_printf(&got, "size=%zu", total);
        /* The running count must agree with a walk of the finished tree. */
        for (size_t i = 0; i < res.n_items; i++) {
            size_t walk = 0;
            const item *it = res.items[i];
            for (uint32_t k = 0; k < it->root.len; k++)
                walk += it->root.u.attrs[k].name_len + item_val_size(&it->root.u.attrs[k].val);
            if (walk != it->size_bytes) {
                fprintf(stderr, "item %zu: running size %zu, tree size %zu\n", i, it->size_bytes, walk);
                fails++;
            }
        }
    } else if (res.n_items == 0) {
        buf_puts(&got, "none");
    } else {
        for (size_t i = 0; i < res.n_items; i++) {
            if (i)
                buf_putc(&got, '\n');
            item_write_av(res.items[i], &got);
        }
    }
    fails += expect_str("result", want, got.data ? got.data : "");
    buf_clean_up(&got);
    rule_result_clean_up(&res);
    rule_free(r);
    return fails;
}

/* utf8: name, bytes, 1 (valid) or the 1-based offset of the first bad
 * byte. */
static int suite_utf8(const row *c)
{
    size_t bad = 0;
    bool ok = utf8_valid(c->col[1], c->len[1], &bad);
    char got[32];
    snprintf(got, sizeof got, "%s", ok ? "valid" : "");
    if (!ok)
        snprintf(got, sizeof got, "bad@%zu", bad + 1);
    return expect_str("utf8", c->col[2], got);
}

/* number: name, a double in C syntax, the expected DynamoDB text ("" for
 * none). */
static int suite_number(const row *c)
{
    double d = strtod(c->col[1], NULL);
    if (strcmp(c->col[1], "nan") == 0)
        d = 0.0 / 0.0;
    char out[JSON_NUM_MAX];
    size_t n = json_format_double(d, out);
    if (n == 0)
        out[0] = '\0';
    int fails = expect_str("format", c->col[2], out);
    if (n && strtod(out, NULL) != d) {
        fprintf(stderr, "%s does not read back as %.17g\n", out, d);
        fails++;
    }
    if (c->n > 3 && n) {
        char sz[32];
        snprintf(sz, sizeof sz, "%zu", item_number_size(out, n));
        fails += expect_str("size", c->col[3], sz);
    }
    return fails;
}

/* frame: name, max_bytes, chunk size (0 = all at once), input, expected
 * events: "L:text" per line, "O:len" per oversize line, joined by '|'. */
typedef struct frame_log {
    buf b;
} frame_log;

static void log_line(void *ud, frame_event ev, const char *line, size_t len, uint64_t line_no)
{
    frame_log *l = ud;
    if (l->b.len)
        buf_putc(&l->b, '|');
    if (ev == FRAME_LINE) {
        buf_printf(&l->b, "%llu:L:", (unsigned long long)line_no);
        buf_put(&l->b, line, len);
    } else {
        buf_printf(&l->b, "%llu:O:%zu", (unsigned long long)line_no, len);
    }
}

static int suite_frame(const row *c)
{
    if (c->n < 5)
        return fprintf(stderr, "frame case needs 5 columns\n"), 1;
    size_t max = strtoul(c->col[1], NULL, 10), step = strtoul(c->col[2], NULL, 10);
    frame f;
    frame_init(&f, max);
    frame_log log;
    buf_init(&log.b, 1 << 20);
    size_t n = c->len[3];
    if (step == 0)
        step = n ? n : 1;
    for (size_t i = 0; i < n; i += step)
        frame_push(&f, c->col[3] + i, i + step > n ? n - i : step, log_line, &log);
    frame_finish(&f, log_line, &log);
    int fails = expect_str("events", c->col[4], log.b.data ? log.b.data : "");
    if (f.pending.cap > max + 2 && f.pending.cap > 512) {
        fprintf(stderr, "pending buffer grew to %zu bytes, over the cap %zu\n", f.pending.cap, max);
        fails++;
    }
    frame_clean_up(&f);
    buf_clean_up(&log.b);
    return fails;
}

/* track: name, phrases (comma-separated; "@many:N" for "p1,p2,...,pN",
 * "@long:N" for N bytes of 'a'), text ("-" for none), links joined by \n
 * ("-" for none), expected: the matching phrases joined by \n, "-" for
 * none, or "error: MESSAGE" when the list does not compile. Each case also
 * checks that a run that stops at the first match agrees, and that a second
 * run gives the same answer (no count carried over). */
static char *make_list(const row *c, size_t *len)
{
    unsigned long n;
    buf b;
    buf_init(&b, (size_t)16 << 20);
    if (sscanf(c->col[1], "@many:%lu", &n) == 1) {
        for (unsigned long i = 1; i <= n; i++)
            buf_printf(&b, "%sp%lu", i > 1 ? "," : "", i);
    } else if (sscanf(c->col[1], "@long:%lu", &n) == 1) {
        for (unsigned long i = 0; i < n; i++)
            buf_putc(&b, 'a');
    } else {
        buf_put(&b, c->col[1], c->len[1]);
    }
    return buf_steal(&b, len);
}

static void track_once(track *t, const row *c, uint32_t *found, buf *out)
{
    size_t longest = strcmp(c->col[2], "-") ? c->len[2] : 0;
    if (c->len[3] > longest)
        longest = c->len[3];
    size_t sb = track_scratch_bytes(longest);
    char *scratch = xmalloc(sb);
    track_run run;
    track_run_begin(&run, t, scratch, sb, found);
    if (strcmp(c->col[2], "-") != 0)
        track_run_text(&run, c->col[2], c->len[2]);
    if (strcmp(c->col[3], "-") != 0) {
        const char *p = c->col[3], *end = c->col[3] + c->len[3];
        while (p <= end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            const char *stop = nl ? nl : end;
            track_run_link(&run, p, (size_t)(stop - p));
            p = stop + 1;
        }
    }
    uint32_t n = track_run_end(&run);
    free(scratch);
    buf_reset(out);
    if (found == NULL) {
        buf_puts(out, n ? "some" : "-");
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        size_t len;
        const char *ph = track_phrase(t, found[i], &len);
        if (i)
            buf_putc(out, '\n');
        buf_put(out, ph, len);
    }
    if (n == 0)
        buf_putc(out, '-');
}

static int suite_track(const row *c)
{
    if (c->n < 5)
        return fprintf(stderr, "track case needs 5 columns\n"), 1;
    size_t len;
    char *list = make_list(c, &len);
    track *t = NULL;
    track_status st = track_new(list, len, &t);
    free(list);
    if (st != TRACK_OK) {
        char got[256];
        snprintf(got, sizeof got, "error: %s", track_status_str(st));
        return expect_str("status", c->col[4], got);
    }
    uint32_t *found = xcalloc(track_phrase_count(t) + 1, sizeof *found);
    buf got;
    buf_init(&got, (size_t)16 << 20);
    track_once(t, c, found, &got);
    int fails = expect_str("track_matches", c->col[4], got.data);
    track_once(t, c, found, &got);
    fails += expect_str("track_matches, again", c->col[4], got.data);
    track_once(t, c, NULL, &got);
    fails += expect_str("track_match", strcmp(c->col[4], "-") ? "some" : "-", got.data);
    buf_clean_up(&got);
    free(found);
    track_free(t);
    return fails;
}

/* json: name, input text, expected: the parsed value written back, or
 * "error: MESSAGE". */
static int suite_json(const row *c)
{
    arena *a = arena_new(256);
    char *err = NULL;
    json_value *v = json_parse(c->col[1], c->len[1], a, JSON_DEFAULT_MAX_DEPTH, &err);
    buf got;
    buf_init(&got, 1 << 20);
    if (v)
        json_write(v, &got);
    else
        buf_printf(&got, "error: %s", err);
    int fails = expect_str("result", c->col[2], got.data ? got.data : "");
    if (v && v->type == JSON_OBJECT && v->len == 2 && strcmp(c->col[0], "repeated_member_last_wins_in_get") == 0) {
        const json_value *m = json_get(v, "a");
        if (m == NULL || m->type != JSON_NUMBER || strcmp(m->u.str, "2") != 0) {
            fprintf(stderr, "json_get did not return the last of repeated members\n");
            fails++;
        }
    }
    free(err);
    buf_clean_up(&got);
    arena_free(a);
    return fails;
}

/* log: name, format (json or text), an event name, a string field value,
 * the expected line (the clock is fixed at 1.5 s after the epoch). */
static int64_t fixed_clock(void)
{
    return 1500;
}

static int suite_log(const row *c)
{
    if (c->n < 5)
        return fprintf(stderr, "log case needs 5 columns\n"), 1;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    log_setup(f, LOG_INFO, strcmp(c->col[1], "json") == 0);
    log_clock_ms = fixed_clock;
    log_event(LOG_DEBUG, "hidden", LF_END);
    log_event(LOG_WARN, c->col[2], LF_SN("v", c->col[3], c->len[3]), LF_I("n", -42), LF_D("d", 0.25),
              LF_B("b", 1), LF_RAW("raw", "{\"x\":1}"), LF_S("null", NULL), LF_END);
    fclose(f);
    log_setup(stdout, LOG_INFO, true);
    int fails = expect_str("line", c->col[4], text ? text : "");
    free(text);
    return fails;
}

/* pool: name, scenario. The small-block pool under the Lua state
 * (core/rule_pool.c), directly and under a script that fragments it. */
#define POOL_FAIL(...) (fprintf(stderr, __VA_ARGS__), fputc('\n', stderr), fails++)

static int pool_classes(void)
{
    /* Every size is served 16-aligned and writable; after the frees, the
     * same sizes are served again from the free lists alone. */
    int fails = 0;
    rule_pool p = {0};
    static void *blocks[RULE_POOL_MAX + 1];
    for (size_t n = 1; n <= RULE_POOL_MAX; n++) {
        blocks[n] = rule_pool_alloc(&p, n, SIZE_MAX);
        if (blocks[n] == NULL || (uintptr_t)blocks[n] % 16 != 0) {
            POOL_FAIL("size %zu: block %p", n, blocks[n]);
            break;
        }
        memset(blocks[n], (int)n, n);
    }
    for (size_t n = 1; fails == 0 && n <= RULE_POOL_MAX; n++)
        for (size_t i = 0; i < n; i++)
            if (((unsigned char *)blocks[n])[i] != (unsigned char)n) {
                POOL_FAIL("size %zu: byte %zu overwritten by another block", n, i);
                break;
            }
    size_t held = p.held;
    for (size_t n = 1; fails == 0 && n <= RULE_POOL_MAX; n++)
        rule_pool_free(&p, blocks[n], n);
    for (size_t n = 1; fails == 0 && n <= RULE_POOL_MAX; n++)
        if (rule_pool_alloc(&p, n, 0) == NULL)
            POOL_FAIL("size %zu: not served from the free list (a region was asked for)", n);
    if (p.held != held)
        POOL_FAIL("held %zu after reuse, %zu before", p.held, held);
    rule_pool_release(&p);
    if (p.held != 0 || p.regions != NULL)
        POOL_FAIL("release left %zu bytes", p.held);
    return fails;
}

static int pool_same_class(void)
{
    int fails = 0;
    rule_pool p = {0};
    void *a = rule_pool_alloc(&p, 17, SIZE_MAX);
    rule_pool_free(&p, a, 17);
    void *b = rule_pool_alloc(&p, 32, SIZE_MAX);
    if (b != a)
        POOL_FAIL("a 32-byte block did not reuse the freed 17-byte one (class 17..32)");
    void *c = rule_pool_alloc(&p, 33, SIZE_MAX);
    if (c == a || c == b)
        POOL_FAIL("a 33-byte block was served from the 32-byte class");
    if (!rule_pool_same_class(17, 32) || rule_pool_same_class(32, 33) || !rule_pool_same_class(1, 16))
        POOL_FAIL("rule_pool_same_class disagrees with the classes");
    rule_pool_release(&p);
    return fails;
}

static int pool_limit(void)
{
    /* The limit bounds the regions: none under one region's size; one
     * region's worth of blocks under exactly one region. */
    int fails = 0;
    rule_pool p = {0};
    if (rule_pool_alloc(&p, 16, RULE_POOL_REGION - 1) != NULL || p.held != 0)
        POOL_FAIL("a region was taken past the limit");
    size_t served = 0;
    while (rule_pool_alloc(&p, 512, RULE_POOL_REGION) != NULL)
        served++;
    if (p.held != RULE_POOL_REGION)
        POOL_FAIL("held %zu under a one-region limit", p.held);
    if (served != RULE_POOL_REGION / 512 - 1)
        POOL_FAIL("%zu blocks of 512 from one region, expected %zu", served, RULE_POOL_REGION / 512 - 1);
    /* A second region was refused; the first one's uncarved tail (496
     * bytes) still serves a smaller block. */
    if (rule_pool_alloc(&p, 256, RULE_POOL_REGION) == NULL)
        POOL_FAIL("the region's uncarved tail did not serve a smaller block");
    rule_pool_release(&p);
    return fails;
}

static int pool_region_tail(void)
{
    /* When a block does not fit the current region's tail, the tail is
     * given to the classes it fits before a new region starts. */
    int fails = 0;
    rule_pool p = {0};
    size_t blocks = 0;
    char *first = NULL; /* the first region's first block */
    while (p.held <= RULE_POOL_REGION) {
        char *b = rule_pool_alloc(&p, 500, SIZE_MAX);
        if (b == NULL) {
            POOL_FAIL("malloc failed");
            break;
        }
        if (first == NULL)
            first = b;
        blocks++;
    }
    size_t held = p.held;
    /* A region is a grain of header, then 63 blocks of 512, then the tail. */
    size_t tail = (RULE_POOL_REGION - RULE_POOL_GRAIN) % 512;
    if (blocks != (RULE_POOL_REGION - RULE_POOL_GRAIN) / 512 + 1)
        POOL_FAIL("%zu blocks before the second region", blocks);
    char *t = rule_pool_alloc(&p, tail, held);
    if (t == NULL || p.held != held || t < first || t >= first + RULE_POOL_REGION - RULE_POOL_GRAIN)
        POOL_FAIL("a block of %zu bytes was not served from the first region's tail", tail);
    rule_pool_release(&p);
    return fails;
}

static int pool_fragmenting_script(void)
{
    /* Each call fills about half the cap with strings of one size, then
     * drops them; the sizes walk through every class. Without the bound,
     * the pool would keep a region set per class (about 15 caps' worth);
     * with it, the regions stay under the cap: calls past it fail with a
     * memory error, the state is rebuilt, and later tweets are processed. */
    static const char src[] =
        "return { match = function(t)\n"
        "  local k, a = t.k, {}\n"
        "  for i = 1, (2 * 1024 * 1024) // (k + 40) do a[i] = string.rep('x', k) .. i end\n"
        "  return { id = t.id_str }\n"
        "end }\n";
    int fails = 0;
    rule_config cfg;
    rule_config_init(&cfg);
    cfg.lua_dir = TM_SOURCE_DIR "/lua";
    cfg.mem_max_bytes = (size_t)4 << 20;
    char *err = NULL;
    rule *r = rule_new_from_string("fragment.lua", src, sizeof src - 1, &cfg, &err);
    if (r == NULL) {
        fprintf(stderr, "script did not load: %s\n", err);
        free(err);
        return 1;
    }
    size_t max_held = 0, ok = 0, errors = 0;
    for (int round = 0; round < 3; round++)
        for (int k = 1; k <= 480; k += 16) {
            char line[64];
            int len = snprintf(line, sizeof line, "{\"id_str\":\"%d\",\"k\":%d}", k, k);
            rule_result res;
            rule_result_init(&res);
            rule_process(r, line, (size_t)len, &res);
            if (res.kind == RULE_TWEET && res.n_items == 1)
                ok++;
            else if (res.kind == RULE_ERROR && strstr(res.error, "memory") != NULL)
                errors++;
            else
                POOL_FAIL("k=%d: kind %d: %s", k, (int)res.kind, res.error ? res.error : "");
            rule_result_clean_up(&res);
            if (rule_pool_bytes(r) > max_held)
                max_held = rule_pool_bytes(r);
        }
    if (max_held > cfg.mem_max_bytes)
        POOL_FAIL("the pool held %zu bytes, over the cap of %zu", max_held, cfg.mem_max_bytes);
    if (ok < 30)
        POOL_FAIL("only %zu of 93 calls succeeded (%zu memory errors)", ok, errors);
    rule_free(r);
    return fails;
}

static int suite_pool(const row *c)
{
    static const struct {
        const char *name;
        int (*fn)(void);
    } scenarios[] = {
        {"classes", pool_classes}, {"same_class", pool_same_class}, {"limit", pool_limit},
        {"region_tail", pool_region_tail}, {"fragmenting_script", pool_fragmenting_script},
    };
    if (c->n < 2)
        return fprintf(stderr, "pool case needs 2 columns\n"), 1;
    for (size_t i = 0; i < sizeof scenarios / sizeof *scenarios; i++)
        if (strcmp(scenarios[i].name, c->col[1]) == 0)
            return scenarios[i].fn();
    fprintf(stderr, "unknown pool scenario %s\n", c->col[1]);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: tm_unit SUITE CASE DATAFILE\n");
        return 2;
    }
    static const struct {
        const char *name;
        int (*fn)(const row *);
    } suites[] = {
        {"marshal", suite_marshal}, {"utf8", suite_utf8}, {"number", suite_number}, {"frame", suite_frame}, {"json", suite_json}, {"log", suite_log},
        {"track", suite_track}, {"pool", suite_pool},
    };
    row c = {0};
    if (!tsv_find_row(argv[3], argv[2], &c))
        return 2;
    int fails = -1;
    for (size_t i = 0; i < sizeof suites / sizeof *suites; i++)
        if (strcmp(suites[i].name, argv[1]) == 0)
            fails = suites[i].fn(&c);
    for (int i = 0; i < c.n; i++)
        free(c.col[i]);
    if (fails < 0) {
        fprintf(stderr, "unknown suite %s\n", argv[1]);
        return 2;
    }
    return fails ? 1 : 0;
}
