/* fuzz_rule_line.c: the rule engine fed arbitrary stream lines.
 *
 * A fixed script returns parts of the tweet (strings, numbers, nested maps
 * and lists, whatever the line holds), so the input reaches decode, match
 * and marshal. Every item produced must write as attribute-value JSON that
 * is valid UTF-8 and that the core's strict JSON parser reads back. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "item.h"
#include "json.h"
#include "mem.h"
#include "rule.h"
#include "utf8.h"

static const char script[] =
    "return {\n"
    "  match = function(tweet)\n"
    "    return { id = tweet.id_str, t = tweet.text, n = tweet.n, m = tweet.m, l = tweet.l,\n"
    "             u = tweet.user, e = tweet.entities, b = tweet.b, x = tweet.x }\n"
    "  end,\n"
    "  on_delete = function(d)\n"
    "    return { id = d.id_str }\n"
    "  end,\n"
    "}\n";

static void quiet(void *ud, const char *msg, size_t len)
{
    (void)ud, (void)msg, (void)len;
}

static rule *the_rule(void)
{
    static rule *r;
    if (!r) {
        rule_config cfg;
        rule_config_init(&cfg);
        cfg.instr_budget = 200000;
        cfg.mem_max_bytes = (size_t)16 << 20;
        cfg.print = quiet;
        char *err = NULL;
        r = rule_new_from_string("fuzz.lua", script, sizeof script - 1, &cfg, &err);
        if (!r) {
            fprintf(stderr, "fuzz_rule_line: %s\n", err ? err : "rule_new_from_string failed");
            abort();
        }
    }
    return r;
}

static void check_item(const item *it)
{
    buf out;
    buf_init(&out, (size_t)64 << 20);
    item_write_av(it, &out);
    if (out.failed)
        abort();
    size_t bad = 0;
    if (!utf8_valid(out.data ? out.data : "", out.len, &bad)) {
        fprintf(stderr, "item_write_av: invalid UTF-8 at byte %zu\n", bad);
        abort();
    }
    arena *a = arena_new(4096);
    char *err = NULL;
    json_value *v = json_parse(out.data ? out.data : "", out.len, a, ITEM_MAX_DEPTH * 2 + 8, &err);
    if (!v) {
        fprintf(stderr, "item_write_av wrote JSON the core cannot read: %s\n%.*s\n", err, (int)out.len,
                out.data);
        abort();
    }
    arena_free(a);
    buf_clean_up(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rule *r = the_rule();
    rule_result res;
    rule_result_init(&res);
    rule_kind k = rule_process(r, (const char *)data, size, &res);
    if (k != res.kind)
        abort();
    if ((k == RULE_BAD_INPUT || k == RULE_ERROR) && (!res.error || res.n_items))
        abort();
    for (size_t i = 0; i < res.n_items; i++)
        check_item(res.items[i]);
    rule_result_clean_up(&res);
    rule_result_clean_up(&res); /* idempotent */
    return 0;
}
