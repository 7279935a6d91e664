/* fuzz_creds_response.c: what the credential chain reads from the ECS
 * container endpoint and from IMDSv2 (creds_parse_response,
 * creds_internal.h).
 *
 * Input: the whole response body, read once as an ECS document and once as
 * an IMDS one. On success the three strings must be the document's own
 * (the last member of each name, as json_get finds it): non-empty, no NUL
 * or other control character, the key id without spaces, and the expiry
 * must be the time Expiration names, checked against timegm for the forms
 * it can read. On failure the message must be set, start with desc, be
 * short printable ASCII, and hold none of '/', '+', '=': desc and the
 * message texts have none, base64 secrets do, so one of them in the
 * message means a value from the body leaked into it. */
#define _DEFAULT_SOURCE /* timegm */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "creds.h"
#include "creds_internal.h"
#include "json.h"
#include "mem.h"

#define DESC "the ECS credentials endpoint 127.0.0.1:8080 (fuzz)"
#define ERR_MAX 400

static void die(const char *what, bool imds)
{
    fprintf(stderr, "fuzz_creds_response (%s): %s\n", imds ? "IMDS" : "ECS", what);
    abort();
}

/* The string member name of doc, or NULL. */
static const char *member(const json_value *doc, const char *name, size_t *len)
{
    return doc ? json_get_str(doc, name, len) : NULL;
}

static void expect_member(const json_value *doc, const char *name, const char *got, bool imds)
{
    size_t len;
    const char *want = member(doc, name, &len);
    if (want == NULL || got == NULL)
        die("a field was returned that the document does not hold as a string", imds);
    if (len == 0 || strlen(got) != len || memcmp(want, got, len) != 0)
        die("a returned field differs from the document's (cut at a NUL, or another member)", imds);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)got[i] < 0x20 || got[i] == 0x7f)
            die("a returned field holds a control character", imds);
}

/* Whether s is YYYY-MM-DDTHH:MM:SS[.fff...](Z|+HH:MM|-HH:MM), and its
 * value by timegm (a reference independent of creds.c's own arithmetic). */
static bool reference_time(const char *s, int64_t *ms)
{
    struct tm tm = {0};
    char zone[8] = "";
    int n = 0;
    if (sscanf(s, "%4d-%2d-%2d%*1[Tt]%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &n) != 6 || n != 19)
        return false;
    const char *p = s + 19;
    int64_t frac = 0;
    if (*p == '.') {
        int scale = 100;
        for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
            frac += (*p - '0') * scale;
    }
    int64_t off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if ((*p == '+' || *p == '-') && strlen(p) == 6) {
        memcpy(zone, p, 6);
        off = ((zone[1] - '0') * 10 + (zone[2] - '0')) * 3600 + ((zone[4] - '0') * 10 + (zone[5] - '0')) * 60;
        if (*p == '-')
            off = -off;
        p += 6;
    }
    if (*p != '\0')
        return false;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    *ms = ((int64_t)t - off) * 1000 + frac;
    return true;
}

static void check_ok(const json_value *doc, const creds *c, bool imds)
{
    expect_member(doc, "AccessKeyId", c->access_key_id, imds);
    expect_member(doc, "SecretAccessKey", c->secret_access_key, imds);
    expect_member(doc, "Token", c->session_token, imds);
    if (strpbrk(c->access_key_id, " "))
        die("the access key id holds a space", imds);
    size_t code_len;
    const char *code = member(doc, "Code", &code_len);
    if (imds && (code == NULL || code_len != 7 || memcmp(code, "Success", 7) != 0))
        die("an IMDS document without Code = Success was accepted", imds);

    /* Years 0000-9999, offsets within a day. */
    const int64_t lo = -62167219200000LL - 86400000LL, hi = 253402300800000LL + 86400000LL;
    if (c->expiration_ms < lo || c->expiration_ms > hi)
        die("the expiry is outside years 0000-9999", imds);
    size_t exp_len;
    const char *exp = member(doc, "Expiration", &exp_len);
    int64_t want;
    if (exp && strlen(exp) == exp_len && reference_time(exp, &want) && want != c->expiration_ms) {
        fprintf(stderr, "Expiration %s: got %lld ms, timegm says %lld\n", exp, (long long)c->expiration_ms,
                (long long)want);
        die("the expiry is not the time Expiration names", imds);
    }
}

static void check_err(const char *err, bool imds)
{
    if (err == NULL)
        die("failure without a message", imds);
    size_t n = strlen(err);
    if (n > ERR_MAX)
        die("the message is too long", imds);
    if (strncmp(err, DESC ": ", strlen(DESC) + 2) != 0)
        die("the message does not start with the endpoint", imds);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)err[i] < 0x20 || (unsigned char)err[i] > 0x7e)
            die("the message holds a byte that is not printable ASCII", imds);
    if (strpbrk(err, "/+=")) {
        fprintf(stderr, "message: %s\n", err);
        die("the message holds '/', '+' or '=': a value from the body leaked into it", imds);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    buf body;
    buf_init(&body, (size_t)1 << 20);
    if (size)
        buf_put(&body, data, size);

    /* The same document as the function under test will see it, for the
     * checks. */
    arena *a = arena_new(4096);
    char *jerr = NULL;
    json_value *doc = json_parse(body.data ? body.data : "", body.len, a, 8, &jerr);
    free(jerr);
    if (doc && doc->type != JSON_OBJECT)
        doc = NULL;

    for (int imds = 0; imds <= 1; imds++) {
        creds c;
        creds_init(&c);
        char *err = NULL;
        if (creds_parse_response(DESC, &body, imds, &c, &err)) {
            if (err)
                die("success with a message", imds);
            if (doc == NULL)
                die("success on a body that is not a JSON object", imds);
            check_ok(doc, &c, imds);
        } else {
            if (c.access_key_id || c.secret_access_key || c.session_token || c.expiration_ms)
                die("failure that filled the credentials", imds);
            check_err(err, imds);
        }
        free(err);
        creds_clean_up(&c);
        creds_clean_up(&c); /* idempotent */
    }
    arena_free(a);
    buf_clean_up(&body);
    return 0;
}
