/* sigv4_test.c: the SigV4 signer against data, one ctest entry per case.
 *
 *   tm_sigv4_test vector CASE_DIR      a test-suite case (files, as aws-c-auth)
 *   tm_sigv4_test unit CASE TABLE      a row of tests/data/sigv4/unit.tsv
 *   tm_sigv4_test cross [FILE]         requests signed by botocore (stdin or FILE)
 *
 * A case directory holds context.txt (key=value lines: region, service,
 * timestamp, access_key_id, secret_access_key, and optionally session_token,
 * normalize=false, flags=s3,..., payload_hash), request.txt (the request as
 * the AWS test suite writes it: request line, "Name:value" lines where a line
 * starting with a blank is one more value of the header above, a blank line,
 * the body) and the expected canonical-request.txt, string-to-sign.txt,
 * signature.txt; authorization.txt and signed-request.txt (the request with
 * the headers the signer adds) are checked when present. Every case is signed
 * three ways (fresh signer, the same signer again from its cache, no signer)
 * and all must agree.
 *
 * The cross-check stream is a sequence of fields "KEY LEN\n" LEN bytes "\n";
 * a request ends with the field "end" (see crosscheck.py). */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mem.h"
#include "sigv4.h"
#include "tsv.h"

#define MAX_REQ_HEADERS 300

/* ---- small helpers ---- */

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    buf b;
    buf_init(&b, (size_t)64 << 20);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_put(&b, chunk, n);
    fclose(f);
    return buf_steal(&b, len);
}

static char *read_case_file(const char *dir, const char *name, size_t *len)
{
    char *path = xasprintf("%s/%s", dir, name);
    char *s = read_file(path, len);
    free(path);
    return s;
}

static void strip_newlines(char *s, size_t *len)
{
    while (*len && (s[*len - 1] == '\n' || s[*len - 1] == '\r'))
        s[--*len] = '\0';
}

static int fails;

static void failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void failf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fails++;
}

static void expect_bytes(const char *what, const char *want, size_t want_len, const char *got, size_t got_len)
{
    if (want_len == got_len && (want_len == 0 || memcmp(want, got, want_len) == 0))
        return;
    failf("%s differs\n--- expected (%zu bytes)\n%.*s\n--- actual (%zu bytes)\n%.*s\n---", what, want_len,
          (int)want_len, want, got_len, (int)got_len, got ? got : "");
}

static void expect_str(const char *what, const char *want, const char *got)
{
    expect_bytes(what, want, strlen(want), got ? got : "", got ? strlen(got) : 0);
}

static bool ieq(const char *a, size_t an, const char *b)
{
    size_t bn = strlen(b);
    if (an != bn)
        return false;
    for (size_t i = 0; i < an; i++) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z')
            x = (char)(x + 32);
        if (y >= 'A' && y <= 'Z')
            y = (char)(y + 32);
        if (x != y)
            return false;
    }
    return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static long long days_from_civil(long long y, unsigned m, unsigned d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long long)doe - 719468;
}

/* "2015-08-30T12:36:00Z", or seconds since the epoch. */
static bool parse_time(const char *s, time_t *out)
{
    int y, mo, d, h, mi, se;
    if (sscanf(s, "%d-%d-%dT%d:%d:%dZ", &y, &mo, &d, &h, &mi, &se) == 6) {
        *out = (time_t)(days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se);
        return true;
    }
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*s == '\0' || *end != '\0')
        return false;
    *out = (time_t)v;
    return true;
}

/* ---- a request under test ---- */

typedef struct tcase {
    sigv4_request req;
    sigv4_credentials cred;
    sigv4_header headers[MAX_REQ_HEADERS];
    arena *mem; /* every string of the case */
} tcase;

static void tcase_init(tcase *t)
{
    memset(t, 0, sizeof *t);
    t->mem = arena_new(1 << 16);
    t->req.headers = t->headers;
    t->req.region = SIGV4_LIT("us-east-1");
    t->req.service = SIGV4_LIT("service");
    t->req.time = 1440938160; /* 2015-08-30T12:36:00Z */
    t->cred.access_key_id = SIGV4_LIT("AKIDEXAMPLE");
    t->cred.secret_access_key = SIGV4_LIT("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
}

static sigv4_view keep(tcase *t, const char *p, size_t n)
{
    return (sigv4_view){arena_strndup(t->mem, p, n), n};
}

static bool add_header(tcase *t, sigv4_view name, sigv4_view value)
{
    if (t->req.n_headers == MAX_REQ_HEADERS)
        return false;
    t->headers[t->req.n_headers++] = (sigv4_header){name, value};
    return true;
}

/* Parses the test suite's request format; false when malformed. */
static bool parse_request(tcase *t, const char *s, size_t n)
{
    const char *end = s + n;
    const char *nl = memchr(s, '\n', n);
    const char *line_end = nl ? nl : end;
    const char *sp1 = memchr(s, ' ', (size_t)(line_end - s));
    const char *sp2 = line_end;
    while (sp2 > s && sp2[-1] != ' ')
        sp2--;
    if (sp1 == NULL || sp2 <= sp1 + 1)
        return false;
    sp2--;
    t->req.method = keep(t, s, (size_t)(sp1 - s));
    const char *target = sp1 + 1;
    const char *q = memchr(target, '?', (size_t)(sp2 - target));
    t->req.path = keep(t, target, (size_t)((q ? q : sp2) - target));
    t->req.query = q ? keep(t, q + 1, (size_t)(sp2 - q - 1)) : keep(t, "", 0);
    const char *p = nl ? nl + 1 : end;
    sigv4_view last_name = {NULL, 0};
    while (p < end) {
        nl = memchr(p, '\n', (size_t)(end - p));
        line_end = nl ? nl : end;
        if (line_end == p) {
            p = nl + 1;
            t->req.body = keep(t, p, (size_t)(end - p));
            return true;
        }
        if (*p == ' ' || *p == '\t') {
            if (last_name.ptr == NULL || !add_header(t, last_name, keep(t, p, (size_t)(line_end - p))))
                return false;
        } else {
            const char *colon = memchr(p, ':', (size_t)(line_end - p));
            if (colon == NULL)
                return false;
            last_name = keep(t, p, (size_t)(colon - p));
            if (!add_header(t, last_name, keep(t, colon + 1, (size_t)(line_end - colon - 1))))
                return false;
        }
        p = nl ? nl + 1 : end;
    }
    t->req.body = keep(t, "", 0);
    return true;
}

/* key=value settings of a case (context.txt lines, or ';'-separated). */
static bool apply_setting(tcase *t, const char *key, const char *val)
{
    size_t vn = strlen(val);
    if (strcmp(key, "region") == 0)
        t->req.region = keep(t, val, vn);
    else if (strcmp(key, "service") == 0)
        t->req.service = keep(t, val, vn);
    else if (strcmp(key, "timestamp") == 0 || strcmp(key, "time") == 0)
        return parse_time(val, &t->req.time);
    else if (strcmp(key, "access_key_id") == 0)
        t->cred.access_key_id = keep(t, val, vn);
    else if (strcmp(key, "secret_access_key") == 0)
        t->cred.secret_access_key = keep(t, val, vn);
    else if (strcmp(key, "session_token") == 0)
        t->cred.session_token = keep(t, val, vn);
    else if (strcmp(key, "payload_hash") == 0)
        t->req.payload_hash = keep(t, val, vn);
    else if (strcmp(key, "normalize") == 0)
        t->req.flags = strcmp(val, "false") == 0 ? t->req.flags | SIGV4_NO_NORMALIZE
                                                 : t->req.flags & ~(unsigned)SIGV4_NO_NORMALIZE;
    else if (strcmp(key, "flags") == 0) {
        char *copy = xstrdup(val), *save = NULL;
        for (char *f = strtok_r(copy, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
            if (strcmp(f, "s3") == 0)
                t->req.flags |= SIGV4_S3;
            else if (strcmp(f, "no-normalize") == 0)
                t->req.flags |= SIGV4_NO_NORMALIZE;
            else if (strcmp(f, "single-encode") == 0)
                t->req.flags |= SIGV4_SINGLE_ENCODE;
            else if (strcmp(f, "content-sha256") == 0)
                t->req.flags |= SIGV4_CONTENT_SHA256;
            else {
                free(copy);
                return false;
            }
        }
        free(copy);
    } else
        return false;
    return true;
}

static bool apply_context(tcase *t, char *text)
{
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#' || line[0] == '\0')
            continue;
        char *eq = strchr(line, '=');
        if (eq == NULL) {
            fprintf(stderr, "context line without '=': %s\n", line);
            return false;
        }
        *eq = '\0';
        if (!apply_setting(t, line, eq + 1)) {
            fprintf(stderr, "bad context setting %s=%s\n", line, eq + 1);
            return false;
        }
    }
    return true;
}

static bool same_output(const char *what, const sigv4_output *a, const sigv4_output *b)
{
    int before = fails;
    expect_str(what, a->canonical_request.data, b->canonical_request.data);
    expect_str(what, a->string_to_sign.data, b->string_to_sign.data);
    expect_str(what, a->authorization.data, b->authorization.data);
    if (a->n_headers != b->n_headers)
        failf("%s: %zu headers against %zu", what, a->n_headers, b->n_headers);
    for (size_t i = 0; i < a->n_headers && i < b->n_headers; i++) {
        expect_str(what, a->headers[i].name, b->headers[i].name);
        expect_str(what, a->headers[i].value, b->headers[i].value);
    }
    return fails == before;
}

/* Signs t with a fresh signer into out; again from the cache and with no
 * signer, which must agree. */
static sigv4_status sign_three_ways(const tcase *t, sigv4_output *out)
{
    sigv4_signer *s = sigv4_signer_new();
    sigv4_status st = sigv4_sign(s, &t->req, &t->cred, out);
    if (st == SIGV4_OK) {
        sigv4_output again;
        sigv4_output_init(&again);
        if (sigv4_sign(s, &t->req, &t->cred, &again) != SIGV4_OK)
            failf("second signing failed: %s", again.error);
        else
            same_output("signing from the cache", out, &again);
        if (sigv4_sign(NULL, &t->req, &t->cred, &again) != SIGV4_OK)
            failf("signing without a signer failed: %s", again.error);
        else
            same_output("signing without a signer", out, &again);
        sigv4_output_clean_up(&again);
    }
    sigv4_signer_free(s);
    return st;
}

/* The Authorization value must restate the scope, signed headers and
 * signature. */
static void check_authorization(const tcase *t, const sigv4_output *out)
{
    char *want = xasprintf("AWS4-HMAC-SHA256 Credential=%.*s/%.8s/%.*s/%.*s/aws4_request, SignedHeaders=%s, "
                           "Signature=%s",
                           (int)t->cred.access_key_id.len, t->cred.access_key_id.ptr, out->amz_date,
                           (int)t->req.region.len, t->req.region.ptr, (int)t->req.service.len,
                           t->req.service.ptr, out->signed_headers.data, out->signature);
    expect_str("authorization (restating its parts)", want, out->authorization.data);
    free(want);
}

/* ---- vector ---- */

static int run_vector(const char *dir)
{
    tcase t;
    tcase_init(&t);
    size_t n;
    char *ctx = read_case_file(dir, "context.txt", &n);
    char *req = read_case_file(dir, "request.txt", &n);
    if (ctx == NULL || req == NULL) {
        fprintf(stderr, "%s: needs context.txt and request.txt\n", dir);
        return 2;
    }
    if (!apply_context(&t, ctx) || !parse_request(&t, req, n)) {
        fprintf(stderr, "%s: cannot read the case\n", dir);
        return 2;
    }
    sigv4_output out;
    sigv4_output_init(&out);
    sigv4_status st = sign_three_ways(&t, &out);
    if (st != SIGV4_OK) {
        failf("signing failed: %s: %s", sigv4_status_str(st), out.error);
    } else {
        static const char *const stages[] = {"canonical-request.txt", "string-to-sign.txt", "signature.txt",
                                             "authorization.txt"};
        const char *got[] = {out.canonical_request.data, out.string_to_sign.data, out.signature,
                             out.authorization.data};
        for (int i = 0; i < 4; i++) {
            size_t wn;
            char *want = read_case_file(dir, stages[i], &wn);
            if (want == NULL) {
                if (i < 3)
                    failf("%s/%s missing", dir, stages[i]);
                continue;
            }
            strip_newlines(want, &wn);
            expect_bytes(stages[i], want, wn, got[i], strlen(got[i]));
            free(want);
        }
        check_authorization(&t, &out);
        size_t sn;
        char *sreq = read_case_file(dir, "signed-request.txt", &sn);
        if (sreq) {
            tcase s;
            tcase_init(&s);
            if (!parse_request(&s, sreq, sn)) {
                failf("signed-request.txt is malformed");
            } else {
                static const char *const added[] = {"authorization", "x-amz-date", "x-amz-security-token",
                                                    "x-amz-content-sha256"};
                size_t matched = 0;
                for (size_t i = 0; i < s.req.n_headers; i++) {
                    const sigv4_header *h = &s.headers[i];
                    bool is_added = false;
                    for (int k = 0; k < 4; k++)
                        is_added = is_added || ieq(h->name.ptr, h->name.len, added[k]);
                    if (!is_added)
                        continue;
                    const char *mine = NULL;
                    for (size_t k = 0; k < out.n_headers; k++)
                        if (ieq(h->name.ptr, h->name.len, out.headers[k].name))
                            mine = out.headers[k].value;
                    char *what = xasprintf("added header %.*s", (int)h->name.len, h->name.ptr);
                    expect_bytes(what, h->value.ptr, h->value.len, mine ? mine : "", mine ? strlen(mine) : 0);
                    free(what);
                    matched++;
                }
                if (matched != out.n_headers)
                    failf("the signer adds %zu headers, signed-request.txt has %zu", out.n_headers, matched);
            }
            arena_free(s.mem);
            free(sreq);
        }
    }
    sigv4_output_clean_up(&out);
    arena_free(t.mem);
    free(ctx);
    free(req);
    return fails ? 1 : 0;
}

/* ---- unit ---- */

typedef tsv_row row;

static char *repeat(char c, size_t n)
{
    char *s = xmalloc(n + 1);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* Options of a sign row: context settings, and inputs too big to write out:
 * many-headers=N, fat-headers=N (8000-byte values), long-header=BYTES,
 * long-path=BYTES, many-params=N,
 * long-query=BYTES, long-token=BYTES, long-secret=BYTES, long-akid=BYTES. */
static bool apply_option(tcase *t, const char *key, const char *val)
{
    size_t n = strtoul(val, NULL, 10);
    buf b;
    buf_init(&b, (size_t)1 << 24);
    bool ok = true;
    if (strcmp(key, "many-headers") == 0) {
        for (size_t i = 0; i < n && ok; i++) {
            char name[32];
            int k = snprintf(name, sizeof name, "X-H-%zu", i);
            ok = add_header(t, keep(t, name, (size_t)k), SIGV4_LIT("v"));
        }
    } else if (strcmp(key, "long-header") == 0) {
        char *v = repeat('a', n);
        ok = add_header(t, SIGV4_LIT("X-Long"), keep(t, v, n));
        free(v);
    } else if (strcmp(key, "fat-headers") == 0) {
        char *v = repeat('f', 8000);
        for (size_t i = 0; i < n && ok; i++) {
            char name[32];
            int k = snprintf(name, sizeof name, "X-Fat-%zu", i);
            ok = add_header(t, keep(t, name, (size_t)k), keep(t, v, 8000));
        }
        free(v);
    } else if (strcmp(key, "long-path") == 0) {
        char *v = repeat('a', n);
        v[0] = '/';
        t->req.path = keep(t, v, n);
        free(v);
    } else if (strcmp(key, "many-params") == 0) {
        for (size_t i = 0; i < n; i++)
            buf_printf(&b, "%sp%zu=v", i ? "&" : "", i);
        t->req.query = keep(t, b.data ? b.data : "", b.len);
    } else if (strcmp(key, "long-query") == 0) {
        char *v = repeat('q', n);
        t->req.query = keep(t, v, n);
        free(v);
    } else if (strcmp(key, "long-token") == 0 || strcmp(key, "long-secret") == 0 ||
               strcmp(key, "long-akid") == 0) {
        char *v = repeat('K', n);
        sigv4_view kept = keep(t, v, n);
        free(v);
        if (key[5] == 't')
            t->cred.session_token = kept;
        else if (key[5] == 's')
            t->cred.secret_access_key = kept;
        else
            t->cred.access_key_id = kept;
    } else {
        ok = apply_setting(t, key, val);
    }
    buf_clean_up(&b);
    return ok;
}

static const char *status_name(sigv4_status st)
{
    static const char *const names[] = {
        "SIGV4_OK", "SIGV4_ERR_ARGUMENT", "SIGV4_ERR_METHOD", "SIGV4_ERR_PATH", "SIGV4_ERR_QUERY",
        "SIGV4_ERR_HEADER_COUNT", "SIGV4_ERR_HEADER_NAME", "SIGV4_ERR_HEADER_VALUE", "SIGV4_ERR_HEADERS_BYTES",
        "SIGV4_ERR_HEADER_RESERVED", "SIGV4_ERR_NO_HOST", "SIGV4_ERR_PAYLOAD_HASH", "SIGV4_ERR_SCOPE",
        "SIGV4_ERR_CREDENTIALS", "SIGV4_ERR_TIME", "SIGV4_ERR_CRYPTO",
    };
    return (size_t)st < sizeof names / sizeof *names ? names[st] : "?";
}

/* Line k (0-based) of the canonical request, or from line k to the blank
 * line when to_blank. */
static char *creq_lines(const char *creq, int k, bool to_blank)
{
    const char *p = creq;
    for (int i = 0; i < k && p; i++) {
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    if (p == NULL)
        return xstrdup("");
    const char *e = to_blank ? strstr(p, "\n\n") : strchr(p, '\n');
    return e ? xstrndup(p, (size_t)(e - p)) : xstrdup(p);
}

/* sign: options, request, expected: "error:STATUS", "method:", "uri:", "query:",
 * "headers:" (canonical header lines), "signed:", "payload:", "creq:",
 * "sts:", "signature:", "auth:", "date:", or "out:" (the added headers, Name=value
 * joined by '|'; Authorization by name only, its value being checked against
 * its parts in every row). */
static int unit_sign(const row *r)
{
    if (r->n < 5) {
        fprintf(stderr, "a sign row needs 5 columns\n");
        return 2;
    }
    tcase t;
    tcase_init(&t);
    if (!parse_request(&t, r->col[3], r->len[3])) {
        fprintf(stderr, "malformed request column\n");
        return 2;
    }
    char *opts = xstrdup(r->col[2]), *save = NULL;
    for (char *o = strtok_r(opts, ";", &save); o; o = strtok_r(NULL, ";", &save)) {
        char *eq = strchr(o, '=');
        if (strcmp(o, "-") == 0)
            continue;
        if (eq)
            *eq = '\0';
        if (!apply_option(&t, o, eq ? eq + 1 : "")) {
            fprintf(stderr, "bad option %s\n", o);
            return 2;
        }
    }
    free(opts);
    sigv4_output out;
    sigv4_output_init(&out);
    sigv4_status st = sign_three_ways(&t, &out);
    const char *want = r->col[4];
    const char *colon = strchr(want, ':');
    if (colon == NULL) {
        fprintf(stderr, "expected column needs KIND:VALUE\n");
        return 2;
    }
    size_t kind_len = (size_t)(colon - want);
    const char *val = colon + 1;
    if (strncmp(want, "error", kind_len) == 0) {
        expect_str("status", val, status_name(st));
        if (st != SIGV4_OK && out.error[0] == '\0')
            failf("no error message");
        if (st != SIGV4_OK && out.n_headers != 0)
            failf("headers returned with an error");
        if (st != SIGV4_OK)
            printf("%s: %s\n", status_name(st), out.error);
    } else if (st != SIGV4_OK) {
        failf("signing failed: %s: %s", status_name(st), out.error);
    } else {
        char *got = NULL;
        const char *cr = out.canonical_request.data;
        if (strncmp(want, "method", kind_len) == 0)
            got = creq_lines(cr, 0, false);
        else if (strncmp(want, "date", kind_len) == 0)
            got = xstrdup(out.amz_date);
        else if (strncmp(want, "uri", kind_len) == 0)
            got = creq_lines(cr, 1, false);
        else if (strncmp(want, "query", kind_len) == 0)
            got = creq_lines(cr, 2, false);
        else if (strncmp(want, "headers", kind_len) == 0)
            got = creq_lines(cr, 3, true);
        else if (strncmp(want, "signed", kind_len) == 0)
            got = xstrdup(out.signed_headers.data);
        else if (strncmp(want, "payload", kind_len) == 0)
            got = xstrdup(out.payload_hash);
        else if (strncmp(want, "creq", kind_len) == 0)
            got = xstrdup(cr);
        else if (strncmp(want, "sts", kind_len) == 0)
            got = xstrdup(out.string_to_sign.data);
        else if (strncmp(want, "signature", kind_len) == 0)
            got = xstrdup(out.signature);
        else if (strncmp(want, "auth", kind_len) == 0)
            got = xstrdup(out.authorization.data);
        else if (strncmp(want, "out", kind_len) == 0) {
            buf b;
            buf_init(&b, 1 << 20);
            for (size_t i = 0; i < out.n_headers; i++) {
                buf_printf(&b, "%s%s", i ? "|" : "", out.headers[i].name);
                if (strcmp(out.headers[i].name, "Authorization") != 0)
                    buf_printf(&b, "=%s", out.headers[i].value);
            }
            got = buf_steal(&b, NULL);
        } else {
            fprintf(stderr, "unknown expectation %.*s\n", (int)kind_len, want);
            return 2;
        }
        expect_bytes(want, val, r->len[4] - (size_t)(val - want), got, strlen(got));
        check_authorization(&t, &out);
        free(got);
    }
    sigv4_output_clean_up(&out);
    arena_free(t.mem);
    return fails ? 1 : 0;
}

/* key: "secret|date|region|service", expected hex key or status name. */
static int unit_key(const row *r)
{
    char *parts[4] = {0};
    char *copy = xstrdup(r->col[3]), *p = copy;
    for (int i = 0; i < 4; i++) {
        parts[i] = p;
        char *bar = p ? strchr(p, '|') : NULL;
        if (bar)
            *bar = '\0';
        p = bar ? bar + 1 : NULL;
    }
    unsigned char key[32];
    char hex[65];
    sigv4_status st = sigv4_signing_key(sigv4_cstr(parts[0]), sigv4_cstr(parts[1]), sigv4_cstr(parts[2]),
                                        sigv4_cstr(parts[3]), key);
    if (st == SIGV4_OK) {
        for (int i = 0; i < 32; i++)
            snprintf(hex + 2 * i, 3, "%02x", key[i]);
        expect_str("signing key", r->col[4], hex);
    } else {
        expect_str("signing key status", r->col[4], status_name(st));
    }
    free(copy);
    return fails ? 1 : 0;
}

static sigv4_status sign_with(sigv4_signer *s, tcase *t, const char *secret, const char *region, time_t when,
                              char sig[65])
{
    t->cred.secret_access_key = sigv4_cstr(secret);
    t->req.region = sigv4_cstr(region);
    t->req.time = when;
    sigv4_output out;
    sigv4_output_init(&out);
    sigv4_status st = sigv4_sign(s, &t->req, &t->cred, &out);
    memcpy(sig, out.signature, 65);
    sigv4_output_clean_up(&out);
    return st;
}

/* cache: scenarios of the signer's key cache; each signature from a long
 * lived signer must equal the one from a fresh signer. */
static int unit_cache(const row *r)
{
    tcase t;
    tcase_init(&t);
    const char *req = "POST / HTTP/1.1\nHost:example.amazonaws.com\n\nbody";
    if (!parse_request(&t, req, strlen(req)))
        return 2;
    static const char *const secrets[] = {"secret-one", "secret-two", "secret-one-longer", "s"};
    static const char *const regions[] = {"us-east-1", "eu-west-1", "ap-south-1", "us-west-2", "sa-east-1",
                                          "ca-central-1"};
    sigv4_signer *s = sigv4_signer_new();
    const char *scenario = r->col[3];
    int steps = 0;
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 6; i++) {
            const char *secret = "secret-one", *region = "us-east-1";
            time_t when = 1440938160;
            if (strcmp(scenario, "secret-change") == 0)
                secret = secrets[i % 4];
            else if (strcmp(scenario, "region-cycle") == 0)
                region = regions[i];
            else if (strcmp(scenario, "date-change") == 0)
                when += (time_t)(i % 3) * 86400 + (i % 2) * 3600;
            else if (strcmp(scenario, "prefix-secret") == 0)
                secret = i % 2 ? "secret-one" : "secret-one-longer";
            else {
                fprintf(stderr, "unknown cache scenario %s\n", scenario);
                return 2;
            }
            char cached[65], fresh[65];
            if (sign_with(s, &t, secret, region, when, cached) != SIGV4_OK ||
                sign_with(NULL, &t, secret, region, when, fresh) != SIGV4_OK) {
                failf("signing failed");
                break;
            }
            if (strcmp(cached, fresh) != 0)
                failf("step %d (secret %s, region %s, time %lld): cached signature %s, fresh %s", steps, secret,
                      region, (long long)when, cached, fresh);
            steps++;
        }
    }
    sigv4_signer_free(s);
    arena_free(t.mem);
    return fails ? 1 : 0;
}

/* output: one output reused across signings and a failure gives what fresh
 * outputs give; clean-up is idempotent and leaves nothing behind. */
static int unit_output(const row *r)
{
    (void)r;
    tcase t;
    tcase_init(&t);
    const char *req = "GET /a/b?x=1 HTTP/1.1\nHost:example.amazonaws.com\nMy-Header: v\n\n";
    if (!parse_request(&t, req, strlen(req)))
        return 2;
    t.cred.session_token = SIGV4_LIT("TOKEN/with+chars==");
    sigv4_output reused, fresh;
    sigv4_output_init(&reused);
    for (int i = 0; i < 3; i++) {
        sigv4_output_init(&fresh);
        t.req.time = 1440938160 + i * 86400;
        if (sigv4_sign(NULL, &t.req, &t.cred, &reused) != SIGV4_OK || sigv4_sign(NULL, &t.req, &t.cred, &fresh))
            failf("signing failed");
        same_output("reused output", &fresh, &reused);
        sigv4_output_clean_up(&fresh);
        sigv4_header bad = {SIGV4_LIT("Authorization"), SIGV4_LIT("x")};
        sigv4_request broken = t.req;
        broken.headers = &bad;
        broken.n_headers = 1;
        if (sigv4_sign(NULL, &broken, &t.cred, &reused) != SIGV4_ERR_HEADER_RESERVED || reused.n_headers != 0)
            failf("a failed signing left headers behind");
    }
    if (sigv4_sign(NULL, NULL, &t.cred, &reused) != SIGV4_ERR_ARGUMENT || sigv4_sign(NULL, &t.req, NULL, &reused) !=
                                                                              SIGV4_ERR_ARGUMENT)
        failf("NULL request or credentials accepted");
    if (sigv4_sign(NULL, &t.req, &t.cred, NULL) != SIGV4_ERR_ARGUMENT)
        failf("NULL output accepted");
    sigv4_request nulls = t.req;
    nulls.query = (sigv4_view){NULL, 3};
    if (sigv4_sign(NULL, &nulls, &t.cred, &reused) != SIGV4_ERR_ARGUMENT)
        failf("a NULL view with a length accepted");
    nulls = t.req;
    nulls.headers = NULL;
    if (sigv4_sign(NULL, &nulls, &t.cred, &reused) != SIGV4_ERR_ARGUMENT)
        failf("NULL headers with n_headers accepted");
    sigv4_output_clean_up(&reused);
    sigv4_output_clean_up(&reused);
    sigv4_output_clean_up(NULL);
    sigv4_signer_free(NULL);
    if (reused.canonical_request.data || reused.token.data || reused.authorization.data || reused.n_headers ||
        reused.signature[0])
        failf("clean-up left data behind");
    arena_free(t.mem);
    return fails ? 1 : 0;
}

/* ---- random inputs ---- */

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return n ? (uint32_t)((rng_state >> 33) % n) : 0;
}

/* Bytes drawn mostly from alphabet, sometimes anything, in a heap block of
 * exactly len bytes (NULL when empty), so that a read past the end is
 * caught by AddressSanitizer. */
static size_t wild; /* one byte in `wild` is any byte */

static sigv4_view rnd_bytes(size_t max, const char *alphabet, void **blocks, size_t *n_blocks)
{
    size_t len = rnd((uint32_t)max + 1);
    if (len == 0)
        return (sigv4_view){NULL, 0};
    char *p = xmalloc(len);
    size_t an = strlen(alphabet);
    for (size_t i = 0; i < len; i++)
        p[i] = rnd((uint32_t)wild) ? alphabet[rnd((uint32_t)an)] : (char)rnd(256);
    blocks[(*n_blocks)++] = p;
    return (sigv4_view){p, len};
}

/* random: "SEED:COUNT" requests of random bytes, biased toward well-formed
 * ones so that every stage is reached. Each must sign or be refused with a
 * message; a cached signer and no signer must agree. */
static int unit_random(const row *r)
{
    unsigned long long seed = 1, count = 1000;
    if (sscanf(r->col[3], "%llu:%llu", &seed, &count) != 2) {
        fprintf(stderr, "random needs SEED:COUNT\n");
        return 2;
    }
    rng_state = seed;
    sigv4_signer *s = sigv4_signer_new();
    sigv4_output a, b;
    sigv4_output_init(&a);
    sigv4_output_init(&b);
    static const char tok[] = "GETPOSTputdelete-!#$%&'*+.^_`|~";
    static const char path[] = "/////....abc%%2e%2F%41 ~-_";
    static const char query[] = "&&&===%%%41%2B+ab~-_. /?";
    static const char name[] = "HhOoSsTtXx-Aa-mz-date-security-token-";
    static const char name_ok[] = "abcXYZ-_";
    static const char value[] = "  \t\tab,\"c%d\xc3\xa9";
    static const char scope[] = "us-east-1s3dynamodb._~/";
    static const char visible[] = "AKIDEXAMPLE/+=,;ab01";
    size_t ok = 0, by_status[SIGV4_ERR_CRYPTO + 1] = {0};
    for (unsigned long long i = 0; i < count && fails == 0; i++) {
        wild = rnd(2) ? 8 : 500;
        void *blocks[600];
        size_t nb = 0;
        sigv4_header h[SIGV4_MAX_HEADERS + 6];
        sigv4_request q = {0};
        sigv4_credentials c = {0};
        q.method = rnd(4) ? SIGV4_LIT("POST") : rnd_bytes(40, tok, blocks, &nb);
        q.path = rnd_bytes(rnd(10) ? 60 : 5000, path, blocks, &nb);
        if (q.path.len && rnd(10))
            *(char *)q.path.ptr = '/';
        q.query = rnd_bytes(rnd(10) ? 60 : 9000, query, blocks, &nb);
        q.n_headers = rnd(10) ? rnd(8) : rnd(SIGV4_MAX_HEADERS + 6);
        size_t host_at = rnd(10) ? rnd((uint32_t)q.n_headers + 1) : SIGV4_MAX_HEADERS + 6;
        for (size_t k = 0; k < q.n_headers; k++) {
            h[k].name = k == host_at ? SIGV4_LIT("Host") : rnd_bytes(12, rnd(4) ? name_ok : name, blocks, &nb);
            h[k].value = rnd_bytes(rnd(20) ? 30 : 9000, value, blocks, &nb);
        }
        q.headers = h;
        q.body = rnd_bytes(100, value, blocks, &nb);
        if (rnd(4) == 0)
            q.payload_hash =
                rnd(2) ? SIGV4_LIT("UNSIGNED-PAYLOAD") : rnd_bytes(70, "0123456789abcdefUNSIGED-", blocks, &nb);
        q.region = rnd(4) ? SIGV4_LIT("us-east-1") : rnd_bytes(70, scope, blocks, &nb);
        q.service = rnd(3) ? SIGV4_LIT("s3") : rnd(2) ? SIGV4_LIT("dynamodb") : rnd_bytes(70, scope, blocks, &nb);
        q.time = rnd(10) ? (time_t)rnd(2000000000u) * 2 : (time_t)((long long)rnd(0xffffffffu) * 70000 - 1000);
        q.flags = rnd(8);
        c.access_key_id = rnd(4) ? SIGV4_LIT("AKIDEXAMPLE") : rnd_bytes(140, visible, blocks, &nb);
        c.secret_access_key = rnd(4) ? SIGV4_LIT("secret") : rnd_bytes(140, visible, blocks, &nb);
        c.session_token = rnd(2) ? (sigv4_view){NULL, 0} : rnd_bytes(rnd(10) ? 100 : 9000, visible, blocks, &nb);
        sigv4_status st = sigv4_sign(s, &q, &c, &a);
        sigv4_status st2 = sigv4_sign(NULL, &q, &c, &b);
        by_status[st]++;
        if (st != st2)
            failf("request %llu: status %s with a signer, %s without", i, status_name(st), status_name(st2));
        else if (st != SIGV4_OK && a.error[0] == '\0')
            failf("request %llu: %s without a message", i, status_name(st));
        else if (st == SIGV4_OK) {
            ok++;
            same_output("random request", &a, &b);
            if (strlen(a.signature) != 64 || a.n_headers < 2)
                failf("request %llu: malformed output", i);
        }
        for (size_t k = 0; k < nb; k++)
            free(blocks[k]);
    }
    printf("%llu random requests, %zu signed; refused:", count, ok);
    for (int k = 1; k <= SIGV4_ERR_CRYPTO; k++)
        if (by_status[k])
            printf(" %s %zu", status_name((sigv4_status)k), by_status[k]);
    printf("\n");
    sigv4_output_clean_up(&a);
    sigv4_output_clean_up(&b);
    sigv4_signer_free(s);
    return fails ? 1 : 0;
}

static int run_unit(const char *name, const char *table)
{
    row r = {0};
    if (!tsv_find_row(table, name, &r))
        return 2;
    int rc;
    if (r.n < 2)
        rc = 2;
    else if (strcmp(r.col[1], "sign") == 0)
        rc = unit_sign(&r);
    else if (strcmp(r.col[1], "key") == 0)
        rc = unit_key(&r);
    else if (strcmp(r.col[1], "cache") == 0)
        rc = unit_cache(&r);
    else if (strcmp(r.col[1], "output") == 0)
        rc = unit_output(&r);
    else if (strcmp(r.col[1], "random") == 0)
        rc = unit_random(&r);
    else {
        fprintf(stderr, "unknown check %s\n", r.col[1]);
        rc = 2;
    }
    for (int i = 0; i < r.n; i++)
        free(r.col[i]);
    return rc;
}

/* ---- cross-check ---- */

typedef struct field {
    char key[32];
    char *val;
    size_t len;
} field;

/* Reads one field; false at the end of the stream or on a malformed one
 * (*bad set). */
static bool read_field(FILE *f, field *out, bool *bad)
{
    char line[128];
    *bad = false;
    if (fgets(line, sizeof line, f) == NULL)
        return false;
    unsigned long long n;
    if (sscanf(line, "%31s %llu", out->key, &n) != 2 || n > ((size_t)64 << 20)) {
        *bad = true;
        return false;
    }
    out->val = xmalloc((size_t)n + 1);
    if (fread(out->val, 1, (size_t)n, f) != n || fgetc(f) != '\n') {
        free(out->val);
        *bad = true;
        return false;
    }
    out->val[n] = '\0';
    out->len = (size_t)n;
    return true;
}

typedef struct expected {
    char *creq, *sts, *sig, *auth, *date, *token, *content;
} expected;

static const char *added_value(const sigv4_output *out, const char *name)
{
    for (size_t i = 0; i < out->n_headers; i++)
        if (ieq(out->headers[i].name, strlen(out->headers[i].name), name))
            return out->headers[i].value;
    return NULL;
}

static void compare_cross(const char *id, const expected *x, const sigv4_output *out, int *shown)
{
    int before = fails;
    bool quiet = *shown >= 5;
    const char *token = added_value(out, "x-amz-security-token");
    const char *content = added_value(out, "x-amz-content-sha256");
    struct {
        const char *what, *want, *got;
    } cmp[] = {
        {"canonical request", x->creq, out->canonical_request.data},
        {"string to sign", x->sts, out->string_to_sign.data},
        {"signature", x->sig, out->signature},
        {"authorization", x->auth, out->authorization.data},
        {"x-amz-date", x->date, added_value(out, "x-amz-date")},
        {"x-amz-security-token", x->token ? x->token : "", token ? token : ""},
        {"x-amz-content-sha256", x->content ? x->content : "", content ? content : ""},
    };
    for (size_t i = 0; i < sizeof cmp / sizeof *cmp; i++) {
        const char *want = cmp[i].want ? cmp[i].want : "", *got = cmp[i].got ? cmp[i].got : "";
        if (strcmp(want, got) == 0)
            continue;
        if (quiet)
            fails++;
        else {
            char *what = xasprintf("request %s: %s", id, cmp[i].what);
            expect_str(what, want, got);
            free(what);
        }
    }
    if (fails != before)
        (*shown)++;
}

static int run_cross(const char *file)
{
    FILE *f = file ? fopen(file, "rb") : stdin;
    if (f == NULL) {
        perror(file);
        return 2;
    }
    sigv4_signer *signer = sigv4_signer_new();
    sigv4_output out;
    sigv4_output_init(&out);
    size_t compared = 0, mismatched = 0;
    int shown = 0;
    for (;;) {
        tcase t;
        tcase_init(&t);
        expected x = {0};
        char id[64] = "?";
        field fl;
        bool bad = false, any = false, ended = false;
        while (read_field(f, &fl, &bad)) {
            any = true;
            sigv4_view v = {fl.val, fl.len};
            const char *k = fl.key;
            bool owned = false;
            if (strcmp(k, "end") == 0)
                ended = true;
            else if (strcmp(k, "id") == 0)
                snprintf(id, sizeof id, "%s", fl.val);
            else if (strcmp(k, "method") == 0)
                t.req.method = keep(&t, v.ptr, v.len);
            else if (strcmp(k, "path") == 0)
                t.req.path = keep(&t, v.ptr, v.len);
            else if (strcmp(k, "query") == 0)
                t.req.query = keep(&t, v.ptr, v.len);
            else if (strcmp(k, "hname") == 0) {
                if (!add_header(&t, keep(&t, v.ptr, v.len), SIGV4_LIT("")))
                    bad = true;
            } else if (strcmp(k, "hvalue") == 0 && t.req.n_headers)
                t.headers[t.req.n_headers - 1].value = keep(&t, v.ptr, v.len);
            else if (strcmp(k, "body") == 0) {
                t.req.body = v;
                owned = true;
            } else if (strcmp(k, "payload_hash") == 0)
                t.req.payload_hash = keep(&t, v.ptr, v.len);
            else if (strcmp(k, "region") == 0)
                t.req.region = keep(&t, v.ptr, v.len);
            else if (strcmp(k, "service") == 0)
                t.req.service = keep(&t, v.ptr, v.len);
            else if (strcmp(k, "time") == 0)
                bad = !parse_time(fl.val, &t.req.time);
            else if (strcmp(k, "flags") == 0)
                bad = !apply_setting(&t, "flags", fl.val);
            else if (strcmp(k, "akid") == 0)
                t.cred.access_key_id = keep(&t, v.ptr, v.len);
            else if (strcmp(k, "secret") == 0)
                t.cred.secret_access_key = keep(&t, v.ptr, v.len);
            else if (strcmp(k, "token") == 0)
                t.cred.session_token = keep(&t, v.ptr, v.len);
            else if (strcmp(k, "x_creq") == 0)
                x.creq = fl.val, owned = true;
            else if (strcmp(k, "x_sts") == 0)
                x.sts = fl.val, owned = true;
            else if (strcmp(k, "x_sig") == 0)
                x.sig = fl.val, owned = true;
            else if (strcmp(k, "x_auth") == 0)
                x.auth = fl.val, owned = true;
            else if (strcmp(k, "x_date") == 0)
                x.date = fl.val, owned = true;
            else if (strcmp(k, "x_token") == 0)
                x.token = fl.val, owned = true;
            else if (strcmp(k, "x_content") == 0)
                x.content = fl.val, owned = true;
            else
                bad = true;
            if (!owned)
                free(fl.val);
            if (bad) {
                fprintf(stderr, "request %s: bad field %s\n", id, k);
                break;
            }
            if (ended)
                break;
        }
        if (!bad && any && ended) {
            sigv4_status st = sigv4_sign(signer, &t.req, &t.cred, &out);
            if (st != SIGV4_OK) {
                failf("request %s: signing failed: %s: %s", id, sigv4_status_str(st), out.error);
                mismatched++;
            } else {
                int before = fails;
                compare_cross(id, &x, &out, &shown);
                mismatched += fails != before;
            }
            compared++;
        }
        free((char *)t.req.body.ptr);
        free(x.creq);
        free(x.sts);
        free(x.sig);
        free(x.auth);
        free(x.date);
        free(x.token);
        free(x.content);
        arena_free(t.mem);
        if (bad || (any && !ended)) {
            fprintf(stderr, "malformed cross-check stream after %zu requests\n", compared);
            fails++;
            break;
        }
        if (!any)
            break;
    }
    if (file)
        fclose(f);
    sigv4_output_clean_up(&out);
    sigv4_signer_free(signer);
    printf("sigv4 cross-check: %zu requests signed and compared with botocore, %zu mismatched\n", compared,
           mismatched);
    if (compared == 0) {
        fprintf(stderr, "no requests read\n");
        return 1;
    }
    return fails ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "vector") == 0)
        return run_vector(argv[2]);
    if (argc == 4 && strcmp(argv[1], "unit") == 0)
        return run_unit(argv[2], argv[3]);
    if ((argc == 2 || argc == 3) && strcmp(argv[1], "cross") == 0)
        return run_cross(argc == 3 && strcmp(argv[2], "-") != 0 ? argv[2] : NULL);
    fprintf(stderr, "usage: tm_sigv4_test vector CASE_DIR | unit CASE TABLE | cross [FILE]\n");
    return 2;
}
