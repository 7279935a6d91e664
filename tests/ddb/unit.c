/* unit.c: table-driven unit tests of the DynamoDB writer's pure parts, one
 * ctest entry per row.
 *
 *   tm_ddb_unit SUITE CASE TABLE.tsv
 *
 * Suites (columns after the name, tab-separated; \t \n \\ \xHH escapes):
 *   retry   classify STATUS TYPE -> CLASS
 *           backoff ATTEMPT RAND32 -> MS            (base 25 ms, cap 20 s)
 *           bucket STEPS                            (capacity 500, 5 tokens/s)
 *             each step: Tcost@ms=0|1 (take), Pn@ms (put back), N@ms=tokens,
 *             Rcost@ms=when (ready time)
 *   wire    endpoint URL -> "url host path" | "error: TEXT"
 *           default REGION -> URL
 *           table NAME -> 0|1 ; region NAME -> 0|1
 *           scrub MESSAGE -> SCRUBBED  (secret "SeCrEtKeY/123", token "ToKeN+456")
 *           crc HEADER BODY -> 0|1     (HEADER "-": absent)
 *           error STATUS BODY ERRTYPE_HEADER -> "TYPE|MESSAGE"
 *           date HTTP_DATE -> MS | -1
 *           jsonkey JSON HASH RANGE -> KEY (RANGE "-": none; \x1f shown as "|") | "missing"
 *   config  VAR=VALUE;... -> "key=value ..." | "error: TEXT"  (the environment is
 *           cleared of the writer's variables first) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "ddb.h"
#include "ddb_wire.h"
#include "json.h"
#include "mem.h"
#include "retry.h"
#include "tsv.h"


typedef tsv_row row;

static int verdict(const char *got, const char *want)
{
    if (strcmp(got, want) == 0)
        return 0;
    printf("expected: %s\n     got: %s\n", want, got);
    return 1;
}

/* ---- retry ---- */

static int suite_retry(row *r)
{
    const char *kind = r->col[1];
    char got[256];
    if (strcmp(kind, "classify") == 0 && r->n >= 5) {
        retry_class c = retry_classify(strtol(r->col[2], NULL, 10), r->col[3]);
        return verdict(retry_class_name(c), r->col[4]);
    }
    if (strcmp(kind, "backoff") == 0 && r->n >= 5) {
        int64_t ms = retry_backoff_ms(RETRY_BASE_MS, RETRY_CAP_MS, (unsigned)strtoul(r->col[2], NULL, 10),
                                      (uint32_t)strtoul(r->col[3], NULL, 10));
        snprintf(got, sizeof got, "%lld", (long long)ms);
        return verdict(got, r->col[4]);
    }
    if (strcmp(kind, "bucket") == 0 && r->n >= 3) {
        retry_bucket b;
        retry_bucket_init(&b, RETRY_BUCKET_CAPACITY, RETRY_REFILL_PER_S, 0);
        int fails = 0;
        char *steps = r->col[2], *save = NULL;
        for (char *s = strtok_r(steps, " ", &save); s; s = strtok_r(NULL, " ", &save)) {
            char op = s[0];
            long long a = 0, at = 0, want = 0;
            int k = op == 'N' ? sscanf(s + 1, "@%lld=%lld", &at, &want) : sscanf(s + 1, "%lld@%lld=%lld", &a, &at, &want);
            long long val;
            switch (op) {
            case 'T': val = retry_bucket_take(&b, (int)a, at); break;
            case 'P': retry_bucket_put(&b, (int)a, at); continue;
            case 'N': val = retry_bucket_tokens(&b, at); break;
            case 'R': val = retry_bucket_ready_ms(&b, (int)a, at); break;
            default: printf("bad step %s\n", s); return 1;
            }
            if (k < (op == 'N' ? 2 : 3) || val != want) {
                printf("step %s: got %lld\n", s, val);
                fails++;
            }
        }
        return fails != 0;
    }
    printf("bad row\n");
    return 1;
}

/* ---- wire ---- */

static int suite_wire(row *r)
{
    const char *kind = r->col[1];
    char got[4096];
    if (strcmp(kind, "endpoint") == 0 && r->n >= 4) {
        ddb_endpoint ep;
        char *err = NULL;
        if (ddb_endpoint_parse(r->col[2], &ep, &err)) {
            snprintf(got, sizeof got, "%s %s %s", ep.url, ep.host, ep.path);
            ddb_endpoint_clean_up(&ep);
        } else {
            snprintf(got, sizeof got, "error: %s", err);
            free(err);
        }
        return verdict(got, r->col[3]);
    }
    if (strcmp(kind, "default") == 0 && r->n >= 4) {
        char *u = ddb_default_endpoint(r->col[2]);
        int rc = verdict(u, r->col[3]);
        free(u);
        return rc;
    }
    if ((strcmp(kind, "table") == 0 || strcmp(kind, "region") == 0) && r->n >= 4) {
        bool ok = kind[0] == 't' ? ddb_valid_table_name(r->col[2]) : ddb_valid_region(r->col[2]);
        return verdict(ok ? "1" : "0", r->col[3]);
    }
    if (strcmp(kind, "scrub") == 0 && r->n >= 4) {
        creds c = {.access_key_id = "AKID", .secret_access_key = "SeCrEtKeY/123", .session_token = "ToKeN+456"};
        char *s = ddb_scrub(r->col[2], strlen(r->col[2]), &c);
        int rc = verdict(s, r->col[3]);
        free(s);
        return rc;
    }
    if (strcmp(kind, "crc") == 0 && r->n >= 5) {
        bool ok = ddb_crc_ok(strcmp(r->col[2], "-") == 0 ? NULL : r->col[2], r->col[3], strlen(r->col[3]));
        return verdict(ok ? "1" : "0", r->col[4]);
    }
    if (strcmp(kind, "error") == 0 && r->n >= 6) {
        char type[64], *msg = NULL;
        creds c = {.access_key_id = "AKID", .secret_access_key = "SeCrEtKeY/123", .session_token = "ToKeN+456"};
        ddb_parse_error(strtol(r->col[2], NULL, 10), r->col[3], strlen(r->col[3]), r->col[4], &c, type, sizeof type,
                        &msg);
        snprintf(got, sizeof got, "%s|%s", type, msg);
        free(msg);
        return verdict(got, r->col[5]);
    }
    if (strcmp(kind, "date") == 0 && r->n >= 4) {
        int64_t ms = -1;
        if (!ddb_http_date_ms(r->col[2], &ms))
            ms = -1;
        snprintf(got, sizeof got, "%lld", (long long)ms);
        return verdict(got, r->col[3]);
    }
    if (strcmp(kind, "jsonkey") == 0 && r->n >= 6) {
        arena *a = arena_new(1024);
        char *err = NULL;
        json_value *v = json_parse(r->col[2], strlen(r->col[2]), a, 16, &err);
        if (v == NULL) {
            printf("bad JSON: %s\n", err);
            return 1;
        }
        buf b;
        buf_init(&b, 1 << 16);
        bool ok = ddb_json_key(v, r->col[3], strcmp(r->col[4], "-") == 0 ? NULL : r->col[4], &b);
        for (size_t i = 0; i < b.len; i++)
            if (b.data[i] == '\x1f')
                b.data[i] = '|';
        int rc = verdict(ok ? (b.data ? b.data : "") : "missing", r->col[5]);
        buf_clean_up(&b);
        arena_free(a);
        return rc;
    }
    printf("bad row\n");
    return 1;
}

/* ---- config ---- */

static int suite_config(row *r)
{
    static const char *const vars[] = {
        "DYNAMODBTABLE", "AWSREGION", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL_DYNAMODB",
        "AWS_ENDPOINT_URL", "DEADLETTER_FILE", "AWS_CA_BUNDLE", "DDB_MAX_IN_FLIGHT", "DDB_LINGER_MS",
        "DDB_MAX_ATTEMPTS", "DDB_QUEUE_MAX", "DDB_TIMEOUT_MS", "DDB_CONNECT_TIMEOUT_MS",
    };
    if (r->n < 3) {
        printf("bad row\n");
        return 1;
    }
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
    char *save = NULL;
    for (char *kv = strtok_r(r->col[1], ";", &save); kv; kv = strtok_r(NULL, ";", &save)) {
        char *eq = strchr(kv, '=');
        if (eq == NULL)
            continue;
        *eq = '\0';
        setenv(kv, eq + 1, 1);
    }
    ddb_config cfg;
    char *err = NULL, got[2048];
    if (!ddb_config_from_env(&cfg, &err)) {
        snprintf(got, sizeof got, "error: %s", err);
        free(err);
    } else {
        snprintf(got, sizeof got,
                 "table=%s region=%s endpoint=%s dl=%s inflight=%d linger=%d attempts=%d queue=%zu timeout=%ld "
                 "connect=%ld",
                 cfg.table, cfg.region, cfg.endpoint ? cfg.endpoint : "-", cfg.deadletter_file ? cfg.deadletter_file : "-",
                 cfg.max_in_flight, cfg.linger_ms, cfg.max_attempts, cfg.queue_max, cfg.timeout_ms,
                 cfg.connect_timeout_ms);
    }
    return verdict(got, r->col[2]);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: tm_ddb_unit SUITE CASE TABLE\n");
        return 2;
    }
    row r;
    if (!tsv_find_row(argv[3], argv[2], &r))
        return 2;
    int rc;
    if (strcmp(argv[1], "retry") == 0)
        rc = suite_retry(&r);
    else if (strcmp(argv[1], "wire") == 0)
        rc = suite_wire(&r);
    else if (strcmp(argv[1], "config") == 0)
        rc = suite_config(&r);
    else {
        fprintf(stderr, "unknown suite %s\n", argv[1]);
        rc = 2;
    }
    for (int i = 0; i < r.n; i++)
        free(r.col[i]);
    return rc;
}
