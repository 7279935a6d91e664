/* creds.c: see creds.h.
 *
 * Three layers: configuration (creds_new picks the source), the fetch
 * logic (a small state machine: the request of the current step, then what
 * its response means), and the blocking transport that performs the steps
 * with retries. The refresh rules sit on top, in creds_get. */
#include "creds.h"
#include "creds_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "http.h"
#include "json.h"

#define MINUTE_MS (60 * 1000LL)
#define ADVISORY_MS (15 * MINUTE_MS)
#define MANDATORY_MS (10 * MINUTE_MS)
#define MARGIN_MS MINUTE_MS
#define ADVISORY_GAP_MS (60 * 1000LL)
#define MANDATORY_GAP_MS (10 * 1000LL)
#define FORCE_GAP_MS (10 * 1000LL)
#define BODY_MAX ((size_t)16 << 10)
#define TOKEN_FILE_MAX ((size_t)16 << 10)

#define DEFAULT_ECS_ENDPOINT "http://169.254.170.2"
#define DEFAULT_IMDS_ENDPOINT "http://169.254.169.254"
#define IMDS_TOKEN_PATH "/latest/api/token"
#define IMDS_ROLE_PATH "/latest/meta-data/iam/security-credentials/"

typedef enum source { SRC_ENV, SRC_ECS, SRC_IMDS } source;

struct creds_provider {
    source src;
    creds cur;                 /* env: the static set; else the last fetched */
    bool have;                 /* cur holds credentials */
    bool rejected;             /* a forced refresh failed: cur is not handed out */
    int64_t last_try_ms, last_success_ms;

    char *ecs_url;
    char *auth_token;          /* secret, from AWS_CONTAINER_AUTHORIZATION_TOKEN */
    char *auth_token_file;
    char *imds_endpoint;       /* no trailing '/' */
    char *not_found;           /* the sources skipped before IMDS, for the first error */

    long connect_timeout_ms, timeout_ms, backoff_ms;
    int max_attempts;
    int64_t (*clock_ms)(void *ud);
    void (*sleep_ms)(void *ud, int64_t ms);
    void *clock_ud;
    void (*warn)(void *ud, const char *msg);
    void *warn_ud;
};

/* ---- credentials ---- */

void creds_init(creds *c)
{
    c->access_key_id = c->secret_access_key = c->session_token = NULL;
    c->expiration_ms = 0;
}

void creds_clean_up(creds *c)
{
    if (c == NULL)
        return;
    mem_free_secret(c->access_key_id);
    mem_free_secret(c->secret_access_key);
    mem_free_secret(c->session_token);
    creds_init(c);
}

static void creds_copy(creds *dst, const creds *src)
{
    dst->access_key_id = xstrdup(src->access_key_id);
    dst->secret_access_key = xstrdup(src->secret_access_key);
    dst->session_token = src->session_token ? xstrdup(src->session_token) : NULL;
    dst->expiration_ms = src->expiration_ms;
}

/* ---- time ---- */

static int64_t real_clock_ms(void *ud)
{
    (void)ud;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void real_sleep_ms(void *ud, int64_t ms)
{
    (void)ud;
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
 * (H. Hinnant's days_from_civil): no timegm, no TZ, no locale. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static bool two_digits(const char *s, int *out)
{
    if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
        return false;
    *out = (s[0] - '0') * 10 + (s[1] - '0');
    return true;
}

/* ISO 8601 / RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS[.fraction] then Z or
 * +HH:MM / -HH:MM. Fractions below a millisecond are dropped. */
static bool parse_time(const char *s, size_t n, int64_t *ms_out)
{
    int c, yy, mo, d, h, mi, se;
    if (n < 20 || !two_digits(s, &c) || !two_digits(s + 2, &yy) || s[4] != '-' || !two_digits(s + 5, &mo) ||
        s[7] != '-' || !two_digits(s + 8, &d) || (s[10] != 'T' && s[10] != 't') || !two_digits(s + 11, &h) ||
        s[13] != ':' || !two_digits(s + 14, &mi) || s[16] != ':' || !two_digits(s + 17, &se))
        return false;
    int y = c * 100 + yy;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mo < 1 || mo > 12 || h > 23 || mi > 59 || se > 59)
        return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d < 1 || d > mdays[mo - 1] + (mo == 2 && leap))
        return false;
    size_t i = 19;
    int64_t frac_ms = 0;
    if (i < n && s[i] == '.') {
        size_t start = ++i;
        for (int scale = 100; i < n && s[i] >= '0' && s[i] <= '9'; i++, scale /= 10)
            frac_ms += (s[i] - '0') * scale;
        if (i == start)
            return false;
    }
    int64_t offset_s = 0;
    if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (n - i == 6 && (s[i] == '+' || s[i] == '-')) {
        int oh, om;
        if (!two_digits(s + i + 1, &oh) || s[i + 3] != ':' || !two_digits(s + i + 4, &om) || oh > 23 || om > 59)
            return false;
        offset_s = (oh * 3600 + om * 60) * (s[i] == '-' ? -1 : 1);
        i += 6;
    } else {
        return false;
    }
    if (i != n)
        return false;
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset_s;
    *ms_out = secs * 1000 + frac_ms;
    return true;
}

static void format_time(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, 32, "(time %lld ms)", (long long)ms);
}

/* ---- configuration ---- */

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static const char *nonempty(const char *s)
{
    return s && *s ? s : NULL;
}

void creds_config_init(creds_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->imds_endpoint = DEFAULT_IMDS_ENDPOINT;
    cfg->ecs_endpoint = DEFAULT_ECS_ENDPOINT;
    cfg->connect_timeout_ms = 1000;
    cfg->timeout_ms = 5000;
    cfg->max_attempts = 3;
    cfg->backoff_ms = 200;
    cfg->clock_ms = real_clock_ms;
    cfg->sleep_ms = real_sleep_ms;
}

void creds_config_from_env(creds_config *cfg)
{
    creds_config_init(cfg);
    cfg->access_key_id = env("AWS_ACCESS_KEY_ID");
    cfg->secret_access_key = env("AWS_SECRET_ACCESS_KEY");
    cfg->session_token = env("AWS_SESSION_TOKEN");
    cfg->ecs_relative_uri = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    cfg->ecs_full_uri = env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    cfg->ecs_auth_token = env("AWS_CONTAINER_AUTHORIZATION_TOKEN");
    cfg->ecs_auth_token_file = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    if (env("AWS_EC2_METADATA_SERVICE_ENDPOINT"))
        cfg->imds_endpoint = env("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    const char *off = env("AWS_EC2_METADATA_DISABLED");
    cfg->imds_disabled = off && strcasecmp(off, "true") == 0;
    if (env("TM_TEST_ECS_ENDPOINT"))
        cfg->ecs_endpoint = env("TM_TEST_ECS_ENDPOINT");
}

/* A control character (CR, LF, NUL, DEL, ...) in (s, n). */
static bool has_ctl(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return true;
    return false;
}

/* A space or control character: a URL or an access key id may hold neither. */
static bool has_blank(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || *s == 0x7f)
            return true;
    return false;
}

/* "http://host..." or "https://host...", no blanks; the error names var. */
static char *check_url(const char *var, const char *url)
{
    if (has_blank(url))
        return xasprintf("%s holds a space or control character", var);
    size_t skip = strncasecmp(url, "https://", 8) == 0 ? 8 : strncasecmp(url, "http://", 7) == 0 ? 7 : 0;
    if (skip == 0)
        return xasprintf("%s (%s) must be an http:// or https:// URL", var, url);
    if (strcspn(url + skip, "/?#") == 0)
        return xasprintf("%s (%s) has no host", var, url);
    return NULL;
}

static bool allowed_http_host(const char *host, bool bracketed)
{
    if (bracketed) {
        struct in6_addr a, loop, ecs;
        if (inet_pton(AF_INET6, host, &a) != 1 || inet_pton(AF_INET6, "::1", &loop) != 1 ||
            inet_pton(AF_INET6, "fd00:ec2::23", &ecs) != 1)
            return false;
        return memcmp(&a, &loop, sizeof a) == 0 || memcmp(&a, &ecs, sizeof a) == 0;
    }
    if (strcasecmp(host, "localhost") == 0)
        return true;
    struct in_addr a;
    if (inet_pton(AF_INET, host, &a) != 1)
        return false;
    const unsigned char *b = (const unsigned char *)&a.s_addr;
    return b[0] == 127 || (b[0] == 169 && b[1] == 254 && b[2] == 170 && (b[3] == 2 || b[3] == 23));
}

/* The SDKs' rule for AWS_CONTAINER_CREDENTIALS_FULL_URI: https anywhere,
 * plain http only to this host or the container agent. The host is judged
 * as written, without DNS. */
static char *check_full_uri(const char *uri)
{
    static const char var[] = "AWS_CONTAINER_CREDENTIALS_FULL_URI";
    const char *sep = strstr(uri, "://");
    const char *auth = sep ? sep + 3 : uri;
    size_t alen = strcspn(auth, "/?#");
    if (memchr(auth, '@', alen)) /* not echoed: it may hold a password */
        return xasprintf("%s must not hold user information (user@host)", var);
    char *e = check_url(var, uri);
    if (e)
        return e;
    if (strncasecmp(uri, "https://", 8) == 0)
        return NULL;
    const char *end = auth + alen, *host = auth, *port;
    size_t hlen;
    bool bracketed = auth[0] == '[';
    if (bracketed) {
        const char *close = memchr(auth, ']', alen);
        if (close == NULL)
            return xasprintf("%s (%s) is not a valid URL", var, uri);
        host = auth + 1;
        hlen = (size_t)(close - host);
        port = close + 1;
    } else {
        const char *colon = memchr(auth, ':', alen);
        hlen = colon ? (size_t)(colon - auth) : alen;
        port = auth + hlen;
    }
    if (port < end) {
        bool ok = *port++ == ':' && port < end;
        for (const char *q = port; ok && q < end; q++)
            ok = *q >= '0' && *q <= '9';
        if (!ok)
            return xasprintf("%s (%s) is not a valid URL", var, uri);
    }
    char h[64];
    if (hlen > 0 && hlen < sizeof h) {
        memcpy(h, host, hlen);
        h[hlen] = '\0';
        if (allowed_http_host(h, bracketed))
            return NULL;
    }
    return xasprintf("%s (%s) is not allowed: an http:// URL must name a loopback host (127.0.0.0/8, ::1, "
                     "localhost) or the ECS/EKS container endpoint (169.254.170.2, 169.254.170.23, "
                     "fd00:ec2::23); use https:// for any other host", var, uri);
}

static char *strip_slashes(const char *url)
{
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/')
        n--;
    return xstrndup(url, n);
}

creds_provider *creds_new(const creds_config *cfg, char **err)
{
    creds_provider *p = xcalloc(1, sizeof *p);
    creds_init(&p->cur);
    p->connect_timeout_ms = cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : 1000;
    p->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 5000;
    p->max_attempts = cfg->max_attempts > 0 ? cfg->max_attempts : 3;
    p->backoff_ms = cfg->backoff_ms < 0 ? 200 : cfg->backoff_ms > 60000 ? 60000 : cfg->backoff_ms;
    p->clock_ms = cfg->clock_ms ? cfg->clock_ms : real_clock_ms;
    p->sleep_ms = cfg->sleep_ms ? cfg->sleep_ms : real_sleep_ms;
    p->clock_ud = cfg->clock_ud;
    p->warn = cfg->warn;
    p->warn_ud = cfg->warn_ud;

    const char *akid = nonempty(cfg->access_key_id), *secret = nonempty(cfg->secret_access_key);
    const char *token = nonempty(cfg->session_token);
    if (akid || secret) {
        p->src = SRC_ENV;
        if (akid == NULL) {
            *err = xstrdup("AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not: set both, or neither");
            goto fail;
        }
        if (secret == NULL) {
            *err = xstrdup("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not: set both, or neither");
            goto fail;
        }
        const char *bad = has_blank(akid)                          ? "AWS_ACCESS_KEY_ID holds a space or"
                          : has_ctl(secret, strlen(secret))        ? "AWS_SECRET_ACCESS_KEY holds a"
                          : token && has_ctl(token, strlen(token)) ? "AWS_SESSION_TOKEN holds a"
                                                                   : NULL;
        if (bad) {
            *err = xasprintf("%s control character (a trailing newline?)", bad);
            goto fail;
        }
        p->cur.access_key_id = xstrdup(akid);
        p->cur.secret_access_key = xstrdup(secret);
        p->cur.session_token = token ? xstrdup(token) : NULL;
        p->have = true;
        return p;
    }

    const char *rel = nonempty(cfg->ecs_relative_uri), *full = nonempty(cfg->ecs_full_uri);
    if (rel || full) {
        p->src = SRC_ECS;
        if (rel) {
            if (rel[0] != '/' || has_blank(rel)) {
                *err = xstrdup("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI must be a path starting with '/', "
                               "without spaces or control characters");
                goto fail;
            }
            const char *base = nonempty(cfg->ecs_endpoint) ? cfg->ecs_endpoint : DEFAULT_ECS_ENDPOINT;
            if ((*err = check_url("the ECS endpoint (TM_TEST_ECS_ENDPOINT)", base)) != NULL)
                goto fail;
            char *b = strip_slashes(base);
            p->ecs_url = xasprintf("%s%s", b, rel);
            free(b);
        } else {
            if ((*err = check_full_uri(full)) != NULL)
                goto fail;
            p->ecs_url = xstrdup(full);
        }
        const char *tok = nonempty(cfg->ecs_auth_token);
        if (nonempty(cfg->ecs_auth_token_file)) {
            p->auth_token_file = xstrdup(cfg->ecs_auth_token_file);
        } else if (tok) {
            if (has_ctl(tok, strlen(tok))) {
                *err = xstrdup("AWS_CONTAINER_AUTHORIZATION_TOKEN holds a CR, LF or other control character; "
                               "refusing to send it as a header");
                goto fail;
            }
            p->auth_token = xstrdup(tok);
        }
        return p;
    }

    p->src = SRC_IMDS;
    static const char skipped[] = "AWS_ACCESS_KEY_ID not set; ECS endpoint not configured "
                                  "(AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and "
                                  "AWS_CONTAINER_CREDENTIALS_FULL_URI unset)";
    if (cfg->imds_disabled) {
        *err = xasprintf("no AWS credentials: %s; IMDS disabled (AWS_EC2_METADATA_DISABLED=true)", skipped);
        goto fail;
    }
    const char *imds = nonempty(cfg->imds_endpoint) ? cfg->imds_endpoint : DEFAULT_IMDS_ENDPOINT;
    if ((*err = check_url("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds)) != NULL)
        goto fail;
    p->imds_endpoint = strip_slashes(imds);
    p->not_found = xstrdup(skipped);
    return p;

fail:
    creds_free(p);
    return NULL;
}

void creds_free(creds_provider *p)
{
    if (p == NULL)
        return;
    creds_clean_up(&p->cur);
    free(p->ecs_url);
    mem_free_secret(p->auth_token);
    free(p->auth_token_file);
    free(p->imds_endpoint);
    free(p->not_found);
    free(p);
}

const char *creds_source_name(const creds_provider *p)
{
    switch (p->src) {
    case SRC_ENV: return "environment";
    case SRC_ECS: return "ecs";
    case SRC_IMDS: return "imds";
    }
    return "?";
}

static char *source_desc(const creds_provider *p)
{
    if (p->src == SRC_ECS)
        return xasprintf("the ECS credentials endpoint %s", p->ecs_url);
    return xasprintf("IMDS at %s", p->imds_endpoint);
}

/* ---- the fetch logic: requests and what their responses mean ---- */

typedef enum step { STEP_ECS, STEP_IMDS_TOKEN, STEP_IMDS_ROLE, STEP_IMDS_CREDS } step;

typedef enum feed_result { FEED_NEXT, FEED_DONE, FEED_RETRY, FEED_FAIL } feed_result;

typedef struct fetch {
    step step;
    const char *method;
    char *url;
    char *header; /* secret: "Authorization: ..." (ECS) or the IMDS token header */
    char *role;
} fetch;

static void fetch_clean_up(fetch *f)
{
    free(f->url);
    mem_free_secret(f->header);
    free(f->role);
}

/* Reads the token file with read(2): stdio would leave a copy in its
 * buffer. OUT: *tok, a secret (mem_free_secret). */
static bool read_token_file(const char *path, char **tok, char **err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *err = xasprintf("cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %s: %s", path, strerror(errno));
        return false;
    }
    char *b = xmalloc(TOKEN_FILE_MAX + 1);
    size_t n = 0;
    int read_errno = 0;
    while (n <= TOKEN_FILE_MAX) {
        ssize_t r = read(fd, b + n, TOKEN_FILE_MAX + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            read_errno = errno;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    if (read_errno) {
        *err = xasprintf("cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %s: %s", path, strerror(read_errno));
    } else if (n > TOKEN_FILE_MAX) {
        *err = xasprintf("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %s is over %zu bytes", path, TOKEN_FILE_MAX);
    } else {
        while (n > 0 && (b[n - 1] == '\n' || b[n - 1] == '\r'))
            n--;
        b[n] = '\0';
        if (n == 0)
            *err = xasprintf("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %s is empty", path);
        else if (has_ctl(b, n))
            *err = xasprintf("the token in AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %s holds a CR, LF or other "
                             "control character; refusing to send it as a header", path);
        else {
            *tok = b;
            return true;
        }
    }
    mem_wipe(b, TOKEN_FILE_MAX + 1);
    free(b);
    return false;
}

static bool fetch_start(const creds_provider *p, fetch *f, char **err)
{
    memset(f, 0, sizeof *f);
    if (p->src == SRC_IMDS) {
        f->step = STEP_IMDS_TOKEN;
        f->method = "PUT";
        f->url = xasprintf("%s%s", p->imds_endpoint, IMDS_TOKEN_PATH);
        return true;
    }
    f->step = STEP_ECS;
    f->method = "GET";
    f->url = xstrdup(p->ecs_url);
    if (p->auth_token_file) {
        char *tok;
        if (!read_token_file(p->auth_token_file, &tok, err))
            return false;
        f->header = xasprintf("Authorization: %s", tok);
        mem_free_secret(tok);
    } else if (p->auth_token) {
        f->header = xasprintf("Authorization: %s", p->auth_token);
    }
    return true;
}

/* The request of the current step; it points into f (and headers). */
static void fetch_request(const creds_provider *p, const fetch *f, http_request *req, const char *headers[2])
{
    headers[0] = f->step == STEP_IMDS_TOKEN ? "X-aws-ec2-metadata-token-ttl-seconds: 21600" : f->header;
    headers[1] = NULL;
    memset(req, 0, sizeof *req);
    req->method = f->method;
    req->url = f->url;
    req->headers = headers;
    req->timeout_ms = p->timeout_ms;
    req->connect_timeout_ms = p->connect_timeout_ms;
    req->max_response_bytes = BODY_MAX;
    req->no_proxy = true; /* link-local and loopback endpoints, as the SDKs do */
}

/* What the messages call the current step. */
static char *step_desc(const creds_provider *p, const fetch *f)
{
    if (f->step == STEP_ECS)
        return xasprintf("the ECS credentials endpoint %s", f->url);
    return xasprintf("IMDS at %s (%s %s)", p->imds_endpoint, f->method, f->url + strlen(p->imds_endpoint));
}

/* The string member name of v: present, a string, non-empty, no control
 * character. Never prints the value. */
static const char *field(const json_value *v, const char *name, const char *desc, char **err)
{
    const json_value *m = json_get(v, name);
    if (m == NULL)
        *err = xasprintf("%s: the response has no %s", desc, name);
    else if (m->type != JSON_STRING)
        *err = xasprintf("%s: %s in the response is not a string", desc, name);
    else if (m->len == 0)
        *err = xasprintf("%s: %s in the response is empty", desc, name);
    else if (has_ctl(m->u.str, m->len))
        *err = xasprintf("%s: %s in the response holds a control character", desc, name);
    else
        return m->u.str;
    return NULL;
}

/* See creds_internal.h. */
bool creds_parse_response(const char *desc, const buf *body, bool imds, creds *out, char **err)
{
    arena *a = arena_new(4096);
    char *jerr = NULL;
    bool ok = false;
    json_value *v = json_parse(body->data ? body->data : "", body->len, a, 8, &jerr);
    if (v == NULL) {
        *err = xasprintf("%s: the response is not valid JSON (%s)", desc, jerr);
        goto out;
    }
    if (v->type != JSON_OBJECT) {
        *err = xasprintf("%s: the response is not a JSON object", desc);
        goto out;
    }
    if (imds) {
        const char *code = field(v, "Code", desc, err);
        if (code == NULL)
            goto out;
        if (strcmp(code, "Success") != 0) {
            bool plain = strlen(code) <= 40 && strspn(code, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                                            "0123456789_-") == strlen(code);
            *err = plain ? xasprintf("%s: Code is %s, not Success", desc, code)
                         : xasprintf("%s: Code is not Success", desc);
            goto out;
        }
    }
    const char *akid = field(v, "AccessKeyId", desc, err);
    const char *secret = akid ? field(v, "SecretAccessKey", desc, err) : NULL;
    const char *token = secret ? field(v, "Token", desc, err) : NULL;
    const char *exp = token ? field(v, "Expiration", desc, err) : NULL;
    if (exp == NULL)
        goto out;
    if (has_blank(akid)) {
        *err = xasprintf("%s: AccessKeyId in the response holds a space", desc);
        goto out;
    }
    int64_t exp_ms;
    if (!parse_time(exp, strlen(exp), &exp_ms)) {
        *err = xasprintf("%s: Expiration in the response is not an ISO 8601 time like 2026-11-29T06:52:00Z", desc);
        goto out;
    }
    out->access_key_id = xstrdup(akid);
    out->secret_access_key = xstrdup(secret);
    out->session_token = xstrdup(token);
    out->expiration_ms = exp_ms;
    ok = true;
out:
    free(jerr);
    arena_free_secret(a);
    return ok;
}

/* IAM role names: [\w+=,.@-]{1,64}. Checked before the name goes into a
 * path. */
static bool valid_role(const char *s, size_t n)
{
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("_+=,.@-", c)))
            return false;
    }
    return true;
}

/* A successful (200) response of the current step. */
static feed_result step_ok(const creds_provider *p, fetch *f, const buf *body, const char *desc, creds *out,
                           char **err)
{
    const char *b = body->data ? body->data : "";
    switch (f->step) {
    case STEP_ECS:
        return creds_parse_response(desc, body, false, out, err) ? FEED_DONE : FEED_FAIL;
    case STEP_IMDS_TOKEN:
        if (body->len == 0 || body->len > 4096 || has_blank(b)) {
            *err = xasprintf("%s: the response is not a session token", desc);
            return FEED_FAIL;
        }
        f->header = xasprintf("X-aws-ec2-metadata-token: %s", b);
        f->step = STEP_IMDS_ROLE;
        f->method = "GET";
        free(f->url);
        f->url = xasprintf("%s%s", p->imds_endpoint, IMDS_ROLE_PATH);
        return FEED_NEXT;
    case STEP_IMDS_ROLE: {
        size_t n = strcspn(b, "\n");
        while (n > 0 && (b[n - 1] == '\r' || b[n - 1] == ' '))
            n--;
        if (n == 0) {
            *err = xasprintf("%s: no IAM role is attached to this instance (empty role list)", desc);
            return FEED_FAIL;
        }
        if (!valid_role(b, n)) {
            *err = xasprintf("%s: the response is not an IAM role name", desc);
            return FEED_FAIL;
        }
        f->role = xstrndup(b, n);
        f->step = STEP_IMDS_CREDS;
        free(f->url);
        f->url = xasprintf("%s%s%s", p->imds_endpoint, IMDS_ROLE_PATH, f->role);
        return FEED_NEXT;
    }
    case STEP_IMDS_CREDS:
        return creds_parse_response(desc, body, true, out, err) ? FEED_DONE : FEED_FAIL;
    }
    return FEED_FAIL;
}

/* What the response (or the transport failure) of the current step means. */
static feed_result fetch_feed(const creds_provider *p, fetch *f, bool arrived, const http_response *r, creds *out,
                              char **err)
{
    char *desc = step_desc(p, f);
    feed_result res;
    if (!arrived) {
        *err = xasprintf("%s %s: %s", desc, r->timed_out ? "timed out" : "unreachable", r->error);
        res = r->body.failed ? FEED_FAIL : FEED_RETRY;
    } else if (r->status == 429 || r->status >= 500) {
        *err = xasprintf("%s: HTTP %ld", desc, r->status);
        res = FEED_RETRY;
    } else if (r->status == 404 && f->step == STEP_IMDS_ROLE) {
        *err = xasprintf("%s: HTTP 404: no IAM role is attached to this instance", desc);
        res = FEED_FAIL;
    } else if (r->status != 200) {
        *err = xasprintf("%s: HTTP %ld", desc, r->status);
        res = FEED_FAIL;
    } else {
        res = step_ok(p, f, &r->body, desc, out, err);
    }
    free(desc);
    return res;
}

/* ---- the blocking transport ---- */

/* Gives the body its full capacity up front: growing it by realloc would
 * leave unwiped copies of the secrets it receives. */
static void reserve_body(buf *b)
{
    static const char zeros[1024];
    for (size_t i = 0; i < BODY_MAX / sizeof zeros; i++)
        buf_put(b, zeros, sizeof zeros);
    buf_reset(b);
}

static feed_result perform_step(const creds_provider *p, fetch *f, creds *out, char **err)
{
    const char *headers[2];
    http_request req;
    fetch_request(p, f, &req, headers);
    http_response r;
    http_response_init(&r);
    reserve_body(&r.body);
    bool arrived = http_perform(&req, &r);
    feed_result res = fetch_feed(p, f, arrived, &r, out, err);
    http_response_clean_up(&r);
    return res;
}

/* One try: every step, each retried up to attempts times. */
static bool run_fetch(const creds_provider *p, int attempts, creds *out, char **err)
{
    fetch f;
    char *e = NULL;
    feed_result res = FEED_FAIL;
    if (fetch_start(p, &f, &e)) {
        do {
            for (int attempt = 1;; attempt++) {
                free(e);
                e = NULL;
                res = perform_step(p, &f, out, &e);
                if (res != FEED_RETRY)
                    break;
                if (attempt >= attempts) {
                    if (attempts > 1) {
                        char *m = xasprintf("%s (%d attempts)", e, attempts);
                        free(e);
                        e = m;
                    }
                    break;
                }
                int shift = attempt - 1 < 10 ? attempt - 1 : 10;
                p->sleep_ms(p->clock_ud, (int64_t)p->backoff_ms << shift);
            }
        } while (res == FEED_NEXT);
    }
    fetch_clean_up(&f);
    if (res == FEED_DONE)
        return true;
    creds_clean_up(out);
    *err = e;
    return false;
}

/* ---- refresh rules ---- */

static bool refresh(creds_provider *p, int attempts, char **err)
{
    creds n;
    creds_init(&n);
    bool ok = run_fetch(p, attempts, &n, err);
    int64_t now = p->clock_ms(p->clock_ud);
    if (ok && n.expiration_ms - MARGIN_MS <= now) {
        char t[32], *d = source_desc(p);
        format_time(n.expiration_ms, t);
        *err = xasprintf("%s returned credentials that expire at %s, in less than a minute (is the clock right?)",
                         d, t);
        free(d);
        creds_clean_up(&n);
        ok = false;
    }
    p->last_try_ms = now;
    if (!ok)
        return false;
    creds_clean_up(&p->cur);
    p->cur = n;
    p->have = true;
    p->rejected = false;
    p->last_success_ms = now;
    return true;
}

static void warn(const creds_provider *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(const creds_provider *p, const char *fmt, ...)
{
    if (p->warn == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    char *m = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(m, (size_t)n + 1, fmt, ap);
    va_end(ap);
    p->warn(p->warn_ud, m);
    free(m);
}

bool creds_get(creds_provider *p, creds *out, char **err)
{
    creds_clean_up(out);
    if (p->src != SRC_ENV) {
        int64_t now = p->clock_ms(p->clock_ud);
        char *e = NULL;
        int64_t exp = p->cur.expiration_ms;
        if (p->have && !p->rejected && now < exp - MARGIN_MS) {
            if (now < exp - ADVISORY_MS)
                goto give;
            bool urgent = now >= exp - MANDATORY_MS;
            /* Paced whatever the outcome: IMDS serves the same set until
             * about 5 min before its expiry. */
            if (now - p->last_try_ms < (urgent ? MANDATORY_GAP_MS : ADVISORY_GAP_MS))
                goto give;
            if (!refresh(p, urgent ? p->max_attempts : 1, &e)) {
                char t[32];
                format_time(exp, t);
                warn(p, "refreshing the %s credentials failed: %s; still using the current ones, which expire at %s",
                     creds_source_name(p), e, t);
                free(e);
            }
            goto give;
        }
        if (refresh(p, p->max_attempts, &e))
            goto give;
        char t[32];
        format_time(exp, t);
        if (!p->have)
            *err = p->not_found ? xasprintf("no AWS credentials: %s; %s", p->not_found, e)
                                : xasprintf("no AWS credentials: %s", e);
        else if (p->rejected)
            *err = xasprintf("the %s credentials were rejected and fetching new ones failed: %s",
                             creds_source_name(p), e);
        else
            *err = xasprintf("the %s credentials expire%s at %s%s and refreshing them failed: %s",
                             creds_source_name(p), now >= exp ? "d" : "", t,
                             now >= exp ? "" : ", in less than a minute,", e);
        free(e);
        return false;
    }
give:
    creds_copy(out, &p->cur);
    return true;
}

bool creds_force_refresh(creds_provider *p, char **err)
{
    if (p->src == SRC_ENV) {
        *err = xstrdup("the credentials from the environment (AWS_ACCESS_KEY_ID) cannot be refreshed");
        return false;
    }
    int64_t now = p->clock_ms(p->clock_ud);
    if (p->have && !p->rejected && now - p->last_success_ms < FORCE_GAP_MS)
        return true;
    char *e = NULL;
    if (refresh(p, p->max_attempts, &e))
        return true;
    if (p->have)
        p->rejected = true;
    *err = xasprintf("fetching new %s credentials failed: %s", creds_source_name(p), e);
    free(e);
    return false;
}
