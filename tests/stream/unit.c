/* unit.c: table-driven unit tests of the stream's pure parts, one ctest
 * entry per case.
 *
 *   tm_stream_unit vector FILE           an OAuth 1.0a vector (a .vec file of tests/data/oauth1)
 *   tm_stream_unit SUITE CASE TABLE      a row of a tab-separated table
 *
 * Suites: encode, base_uri (tests/data/oauth1), backoff, jitter, classify,
 * rule_value (tests/stream/data). Columns may use the escapes \t \n \r \\
 * \xHH. A failure prints what was expected and what came out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "buf.h"
#include "mem.h"
#include "oauth1.h"
#include "stream.h"
#include "tsv.h"


typedef tsv_row row;

static int check_str(const char *what, const char *want, const char *got)
{
    if (strcmp(want, got) == 0)
        return 1;
    fprintf(stderr, "%s differs\n  expected: %s\n  actual:   %s\n", what, want, got);
    return 0;
}

/* ---- OAuth 1.0a vectors: "key: value" lines ---- */

static const char *vec_get(char **keys, char **vals, int n, const char *key)
{
    for (int i = 0; i < n; i++)
        if (strcmp(keys[i], key) == 0)
            return vals[i];
    return NULL;
}

static int run_vector(const char *file)
{
    FILE *f = fopen(file, "r");
    if (f == NULL) {
        perror(file);
        return 1;
    }
    char *keys[32], *vals[32];
    int n = 0;
    static char line[1 << 14];
    while (n < 32 && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *colon = strstr(line, ": ");
        if (line[0] == '#' || colon == NULL)
            continue;
        *colon = '\0';
        keys[n] = xstrdup(line);
        vals[n] = xstrdup(colon + 2);
        n++;
    }
    fclose(f);
    const char *method = vec_get(keys, vals, n, "method"), *url = vec_get(keys, vals, n, "url");
    const char *body = vec_get(keys, vals, n, "body");
    oauth1_keys k = {vec_get(keys, vals, n, "consumer_key"), vec_get(keys, vals, n, "consumer_secret"),
                     vec_get(keys, vals, n, "token"), vec_get(keys, vals, n, "token_secret")};
    const char *nonce = vec_get(keys, vals, n, "nonce"), *ts = vec_get(keys, vals, n, "timestamp");
    int ok = 1;
    if (!method || !url || !k.consumer_key || !k.consumer_secret || !k.token || !k.token_secret || !nonce || !ts) {
        fprintf(stderr, "%s: a vector needs method, url, the four keys, nonce and timestamp\n", file);
        ok = 0;
        goto done;
    }
    buf base;
    buf_init(&base, 1 << 20);
    if (!oauth1_base_string(&base, method, url, body, body ? strlen(body) : 0, &k, nonce, ts)) {
        fprintf(stderr, "base string refused the URL\n");
        ok = 0;
    }
    const char *want;
    int checks = 0;
    if ((want = vec_get(keys, vals, n, "base")) != NULL) {
        ok &= check_str("base string", want, base.data ? base.data : "");
        checks++;
    }
    char sig[OAUTH1_SIGNATURE_MAX];
    oauth1_sign(base.data, base.len, &k, sig);
    if ((want = vec_get(keys, vals, n, "signature")) != NULL) {
        ok &= check_str("signature", want, sig);
        checks++;
    }
    char *hdr = oauth1_authorization(method, url, body, body ? strlen(body) : 0, &k, nonce, ts);
    if ((want = vec_get(keys, vals, n, "header")) != NULL) {
        ok &= check_str("Authorization header", want, hdr ? hdr : "(null)");
        checks++;
    }
    mem_free_secret(hdr);
    buf_clean_up(&base);
    if (checks == 0) {
        fprintf(stderr, "%s: nothing to check (base, signature or header)\n", file);
        ok = 0;
    }
done:
    for (int i = 0; i < n; i++) {
        free(keys[i]);
        free(vals[i]);
    }
    return ok ? 0 : 1;
}

/* ---- suites ---- */

static int suite_encode(row *r)
{
    buf b;
    buf_init(&b, 1 << 20);
    oauth1_encode(&b, r->col[1], r->len[1]);
    int ok = check_str("encoding", r->col[2], b.data ? b.data : "");
    buf_clean_up(&b);
    return ok;
}

static int suite_base_uri(row *r)
{
    buf b;
    buf_init(&b, 1 << 20);
    bool got = oauth1_base_uri(&b, r->col[1]);
    int ok = check_str("base string URI", r->col[2], got ? (b.data ? b.data : "") : "-");
    buf_clean_up(&b);
    return ok;
}

static int suite_backoff(row *r)
{
    backoff b;
    backoff_init(&b, NULL);
    buf got;
    buf_init(&got, 1 << 20);
    char *save = NULL;
    for (char *tok = strtok_r(r->col[1], " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        if (strcmp(tok, "reset") == 0) {
            backoff_reset(&b);
            continue;
        }
        backoff_kind k = tok[0] == 'n' ? BACKOFF_NETWORK : tok[0] == 'h' ? BACKOFF_HTTP : BACKOFF_RATE;
        buf_printf(&got, "%s%lld", got.len ? " " : "", (long long)backoff_next(&b, k));
    }
    int ok = check_str("waits", r->col[2], got.data ? got.data : "");
    buf_clean_up(&got);
    return ok;
}

static int suite_jitter(row *r)
{
    backoff_config c = {.jitter_pct = (unsigned)atoi(r->col[1])};
    backoff b;
    backoff_init(&b, &c);
    char got[32];
    snprintf(got, sizeof got, "%lld",
             (long long)backoff_jitter(&b, atoll(r->col[2]), strtoull(r->col[3], NULL, 10)));
    return check_str("delay", r->col[4], got);
}

static int suite_classify(row *r)
{
    return check_str("type", r->col[2], stream_msg_type_name(stream_classify(r->col[1], r->len[1])));
}

static int suite_rule_value(row *r)
{
    char *v = stream_v2_rule_value(r->col[1]);
    int ok = check_str("rule value", r->col[2], v);
    free(v);
    return ok;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "vector") == 0)
        return run_vector(argv[2]);
    if (argc != 4) {
        fprintf(stderr, "usage: tm_stream_unit vector FILE | tm_stream_unit SUITE CASE TABLE\n");
        return 2;
    }
    static const struct {
        const char *name;
        int (*fn)(row *);
        int cols;
    } suites[] = {
        {"encode", suite_encode, 3},     {"base_uri", suite_base_uri, 3}, {"backoff", suite_backoff, 3},
        {"jitter", suite_jitter, 5},     {"classify", suite_classify, 3}, {"rule_value", suite_rule_value, 3},
    };
    for (size_t i = 0; i < sizeof suites / sizeof *suites; i++) {
        if (strcmp(argv[1], suites[i].name) != 0)
            continue;
        row r = {0};
        if (!tsv_find_row(argv[3], argv[2], &r))
            return 2;
        int ok = 0;
        if (r.n < suites[i].cols)
            fprintf(stderr, "%s: case %s has %d columns, needs %d\n", argv[3], argv[2], r.n, suites[i].cols);
        else
            ok = suites[i].fn(&r);
        tsv_row_free(&r);
        return ok ? 0 : 1;
    }
    fprintf(stderr, "tm_stream_unit: no suite %s\n", argv[1]);
    return 2;
}
