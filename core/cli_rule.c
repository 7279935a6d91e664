/* cli_rule.c: `tweetmatch test` and `tweetmatch check`, local rule
 * testing with no network: NDJSON in, one item per line out, exactly what
 * the daemon would write. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "config.h"
#include "frame.h"
#include "paths.h"
#include "rule.h"

#define OUT_FLUSH_BYTES (64u << 10)
#define OUT_MAX_BYTES ((size_t)1 << 30)
#define EXPECT_MAX_BYTES ((size_t)1 << 30)
#define MAX_DIFFS_SHOWN 5

static const char test_usage[] =
    "usage: tweetmatch test [--expect FILE] [--plain] SCRIPT [INPUT...]\n"
    "\n"
    "Feeds NDJSON messages (one JSON object per line) from each INPUT file, or\n"
    "from stdin when INPUT is '-' or absent, through the rule SCRIPT, and prints\n"
    "each item the rule returns on its own line, exactly as it would be written\n"
    "to DynamoDB (attribute-value JSON, keys sorted). Delete notices go to the\n"
    "script's on_delete; each key it returns prints as a DeleteRequest. A\n"
    "summary line goes to stderr last.\n"
    "\n"
    "  --plain        print items as plain JSON instead of attribute-value JSON\n"
    "  --expect FILE  compare the output with FILE line by line; show the first\n"
    "                 differences and exit 1 if any\n"
    "\n"
    "exit: 0 all good; 1 a rule error, a bad input line or a difference from\n"
    "--expect; 2 a usage error, an unreadable file or a script that does not load\n";

static const char check_usage[] =
    "usage: tweetmatch check SCRIPT\n"
    "\n"
    "Loads the rule SCRIPT and runs the examples it declares\n"
    "(examples = { { name = ..., tweet = {...} or json = '...', expect = ... } }),\n"
    "printing each failing example with what was expected and what came out.\n"
    "\n"
    "exit: 0 all examples pass; 1 some fail; 2 a usage error or a script that\n"
    "does not load\n";

typedef struct input {
    const char *name; /* for messages: the path, or "<stdin>" */
    FILE *f;
} input;

typedef struct expect {
    char *text;   /* the whole file */
    char **lines; /* into text */
    size_t n;
} expect;

typedef struct run {
    rule *r;
    rule_result res;
    bool plain;
    const char *input_name;
    buf out;       /* pending stdout */
    buf line;      /* one output line */
    expect *exp;   /* NULL without --expect */
    const char *expect_path;
    size_t line_max; /* longest input line */
    size_t out_lines;
    size_t diffs;
    unsigned long long tweets, matched, items, deletes, control, errors;
} run;

static void flush_out(run *x)
{
    if (x->out.len)
        fwrite(x->out.data, 1, x->out.len, stdout);
    buf_reset(&x->out);
}

static void show_diff(run *x, size_t line_no, const char *want, const char *got)
{
    x->diffs++;
    if (x->diffs > MAX_DIFFS_SHOWN)
        return;
    fprintf(stderr, "%s:%zu: differs from the output\n", x->expect_path, line_no);
    fprintf(stderr, "  expected: %s\n", want ? want : "(no line)");
    fprintf(stderr, "  actual:   %s\n", got ? got : "(no line)");
}

static void emit(run *x, const item *it, bool is_key)
{
    buf *l = &x->line;
    buf_reset(l);
    if (is_key)
        buf_puts(l, "{\"DeleteRequest\":{\"Key\":");
    if (x->plain)
        item_write_plain(it, l);
    else
        item_write_av(it, l);
    if (is_key)
        buf_puts(l, "}}");
    buf_put(&x->out, l->data, l->len);
    buf_putc(&x->out, '\n');
    x->out_lines++;
    if (x->exp) {
        const char *want = x->out_lines <= x->exp->n ? x->exp->lines[x->out_lines - 1] : NULL;
        if (want == NULL || strcmp(want, l->data) != 0)
            show_diff(x, x->out_lines, want, l->data);
    }
    if (x->out.len >= OUT_FLUSH_BYTES)
        flush_out(x);
}

/* Prints a multi-line message with continuation lines indented. */
static void print_message(const char *prefix, const char *msg)
{
    fputs(prefix, stderr);
    for (const char *p = msg; *p; p++) {
        fputc(*p, stderr);
        if (*p == '\n')
            fputs("    ", stderr);
    }
    fputc('\n', stderr);
}

static void on_line(void *ud, frame_event ev, const char *line, size_t len, uint64_t line_no)
{
    run *x = ud;
    char prefix[512];
    if (ev == FRAME_OVERSIZE) {
        x->errors++;
        flush_out(x);
        fprintf(stderr, "%s:%llu: bad input: line is %zu bytes, over the limit of %zu (MAX_LINE_BYTES)\n",
                x->input_name, (unsigned long long)line_no, len, x->line_max);
        return;
    }
    if (len == 0)
        return; /* a blank line: a keep-alive */
    rule_kind kind = rule_process(x->r, line, len, &x->res);
    rule_result *res = &x->res;
    switch (kind) {
    case RULE_TWEET:
        x->tweets++;
        x->matched += res->n_items > 0;
        x->items += res->n_items;
        for (size_t i = 0; i < res->n_items; i++)
            emit(x, res->items[i], false);
        break;
    case RULE_DELETE:
        x->deletes++;
        for (size_t i = 0; i < res->n_items; i++)
            emit(x, res->items[i], true);
        break;
    case RULE_CONTROL:
        x->control++;
        break;
    case RULE_BAD_INPUT:
        x->errors++;
        flush_out(x);
        snprintf(prefix, sizeof prefix, "%s:%llu: bad input: ", x->input_name, (unsigned long long)line_no);
        print_message(prefix, res->error);
        break;
    case RULE_ERROR:
        x->errors++;
        if (res->message == RULE_DELETE)
            x->deletes++;
        else
            x->tweets++;
        flush_out(x);
        snprintf(prefix, sizeof prefix, "%s:%llu: rule error (%s %s): ", x->input_name,
                 (unsigned long long)line_no, res->message == RULE_DELETE ? "delete of tweet" : "tweet",
                 res->id[0] ? res->id : "without id");
        print_message(prefix, res->error);
        break;
    }
}

/* Reads the --expect file into lines. */
static bool load_expect(const char *path, expect *e, char **err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        *err = xasprintf("--expect %s: cannot open: %s", path, strerror(errno));
        return false;
    }
    buf b;
    buf_init(&b, EXPECT_MAX_BYTES);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_put(&b, chunk, n);
    bool bad = ferror(f) || b.failed;
    fclose(f);
    if (bad) {
        *err = xasprintf("--expect %s: cannot read it", path);
        buf_clean_up(&b);
        return false;
    }
    size_t len;
    e->text = buf_steal(&b, &len);
    size_t cap = 16;
    e->lines = xmalloc(cap * sizeof *e->lines);
    e->n = 0;
    char *p = e->text, *end = e->text + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *stop = nl ? nl : end;
        if (stop > p && stop[-1] == '\r')
            stop[-1] = '\0';
        *stop = '\0';
        if (e->n == cap)
            e->lines = xrealloc(e->lines, (cap *= 2) * sizeof *e->lines);
        e->lines[e->n++] = p;
        p = stop + 1;
    }
    return true;
}

/* Loads the rule with the environment's limits; on failure prints why. */
static rule *load_rule(const char *cmd, const char *path, size_t *line_max)
{
    rule_config cfg;
    rule_config_init(&cfg);
    char *err = NULL;
    if (!config_rule(&cfg, &err)) {
        fprintf(stderr, "tweetmatch %s: %s\n", cmd, err);
        free(err);
        return NULL;
    }
    if (line_max)
        *line_max = cfg.line_max_bytes;
    char *lua_dir = paths_lua_dir();
    cfg.lua_dir = lua_dir;
    rule *r = rule_new(path, &cfg, &err);
    free(lua_dir);
    if (r == NULL) {
        fprintf(stderr, "tweetmatch %s: cannot load the script: ", cmd);
        print_message("", err);
        free(err);
    }
    return r;
}

int cli_test(int argc, char **argv)
{
    const char *expect_path = NULL, *script = NULL;
    bool plain = false, opts_done = false;
    const char **inputs = xcalloc((size_t)argc + 1, sizeof *inputs);
    size_t n_inputs = 0;
    int code = EXIT_USAGE;
    input *ins = NULL;
    expect exp = {0};
    run x = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!opts_done && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
            fputs(test_usage, stdout);
            code = EXIT_OK;
            goto out;
        } else if (!opts_done && strcmp(a, "--plain") == 0) {
            plain = true;
        } else if (!opts_done && strcmp(a, "--expect") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "tweetmatch test: --expect needs a FILE\n%s", test_usage);
                goto out;
            }
            expect_path = argv[++i];
        } else if (!opts_done && strncmp(a, "--expect=", 9) == 0) {
            expect_path = a + 9;
        } else if (!opts_done && strcmp(a, "--") == 0) {
            opts_done = true;
        } else if (!opts_done && a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "tweetmatch test: unknown option '%s'\n%s", a, test_usage);
            goto out;
        } else if (script == NULL) {
            script = a;
        } else {
            inputs[n_inputs++] = a;
        }
    }
    if (script == NULL) {
        fprintf(stderr, "tweetmatch test: no SCRIPT given\n%s", test_usage);
        goto out;
    }
    if (n_inputs == 0)
        inputs[n_inputs++] = "-";

    /* Open every input first: a missing one is found before any output. */
    ins = xcalloc(n_inputs, sizeof *ins);
    int stdin_uses = 0;
    for (size_t i = 0; i < n_inputs; i++) {
        if (strcmp(inputs[i], "-") == 0) {
            if (stdin_uses++) {
                fprintf(stderr, "tweetmatch test: stdin ('-') given more than once\n");
                goto out;
            }
            ins[i].name = "<stdin>";
            ins[i].f = stdin;
            continue;
        }
        ins[i].name = inputs[i];
        ins[i].f = fopen(inputs[i], "rb");
        if (ins[i].f == NULL) {
            fprintf(stderr, "tweetmatch test: cannot open input %s: %s\n", inputs[i], strerror(errno));
            goto out;
        }
    }
    if (expect_path) {
        char *err = NULL;
        if (!load_expect(expect_path, &exp, &err)) {
            fprintf(stderr, "tweetmatch test: %s\n", err);
            free(err);
            goto out;
        }
        x.exp = &exp;
        x.expect_path = expect_path;
    }
    x.r = load_rule("test", script, &x.line_max);
    if (x.r == NULL)
        goto out;
    x.plain = plain;
    rule_result_init(&x.res);
    buf_init(&x.out, OUT_MAX_BYTES);
    buf_init(&x.line, OUT_MAX_BYTES);

    static char chunk[1 << 16];
    bool read_failed = false;
    for (size_t i = 0; i < n_inputs; i++) {
        frame fr;
        frame_init(&fr, x.line_max);
        x.input_name = ins[i].name;
        size_t n;
        while ((n = fread(chunk, 1, sizeof chunk, ins[i].f)) > 0)
            frame_push(&fr, chunk, n, on_line, &x);
        if (ferror(ins[i].f)) {
            flush_out(&x);
            fprintf(stderr, "tweetmatch test: reading %s failed: %s\n", ins[i].name, strerror(errno));
            read_failed = true;
        }
        frame_finish(&fr, on_line, &x);
        frame_clean_up(&fr);
    }
    flush_out(&x);
    fflush(stdout);
    if (x.exp && x.out_lines < x.exp->n)
        for (size_t l = x.out_lines; l < x.exp->n; l++)
            show_diff(&x, l + 1, x.exp->lines[l], NULL);
    if (x.diffs > MAX_DIFFS_SHOWN)
        fprintf(stderr, "%s: %zu lines differ in all (the first %d shown)\n", expect_path, x.diffs,
                MAX_DIFFS_SHOWN);
    fprintf(stderr, "tweets: %llu, matched: %llu, items: %llu, deletes: %llu, control: %llu, errors: %llu\n",
            x.tweets, x.matched, x.items, x.deletes, x.control, x.errors);
    code = read_failed ? EXIT_USAGE : (x.errors || x.diffs) ? EXIT_FAIL : EXIT_OK;
out:
    for (size_t i = 0; ins && i < n_inputs; i++)
        if (ins[i].f && ins[i].f != stdin)
            fclose(ins[i].f);
    free(ins);
    free(inputs);
    free(exp.text);
    free(exp.lines);
    rule_result_clean_up(&x.res);
    buf_clean_up(&x.out);
    buf_clean_up(&x.line);
    rule_free(x.r);
    return code;
}

int cli_check(int argc, char **argv)
{
    const char *script = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(check_usage, stdout);
            return EXIT_OK;
        }
        if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "tweetmatch check: unknown option '%s'\n%s", argv[i], check_usage);
            return EXIT_USAGE;
        }
        if (script) {
            fprintf(stderr, "tweetmatch check: one SCRIPT only ('%s' is extra)\n%s", argv[i], check_usage);
            return EXIT_USAGE;
        }
        script = argv[i];
    }
    if (script == NULL) {
        fprintf(stderr, "tweetmatch check: no SCRIPT given\n%s", check_usage);
        return EXIT_USAGE;
    }
    rule *r = load_rule("check", script, NULL);
    if (r == NULL)
        return EXIT_USAGE;
    size_t total = 0;
    size_t failed = rule_run_examples(r, stdout, &total);
    fflush(stdout);
    if (total == 0)
        fprintf(stderr, "%s: loads; it declares no examples\n", script);
    else
        fprintf(stderr, "%s: examples: %zu, passed: %zu, failed: %zu\n", script, total, total - failed, failed);
    rule_free(r);
    return failed ? EXIT_FAIL : EXIT_OK;
}
