/* sigv4.c: see sigv4.h.
 *
 * References: the AWS General Reference, "Create a canonical request for
 * Signature Version 4" and "Create a signed AWS API request"; the AWS SigV4
 * test suite (aws-c-auth tests/aws-signing-test-suite); botocore's
 * SigV4Auth/S3SigV4Auth, whose results the cross-check compares with. */
#include "sigv4.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#define ALGORITHM "AWS4-HMAC-SHA256"
#define CACHE_SLOTS 4
/* Far above what capped inputs can produce (about 100 KB). */
#define OUT_MAX_BYTES ((size_t)1 << 20)
/* 9999-12-31T23:59:59Z */
#define MAX_TIME 253402300799LL

static const char hex_upper[] = "0123456789ABCDEF";
static const char hex_lower[] = "0123456789abcdef";

typedef struct key_slot {
    bool used;
    char date[8];
    unsigned char region_len, service_len;
    char region[SIGV4_MAX_SCOPE_BYTES];
    char service[SIGV4_MAX_SCOPE_BYTES];
    size_t secret_len;
    unsigned char secret[SIGV4_MAX_SECRET_BYTES];
    unsigned char key[32];
} key_slot;

struct sigv4_signer {
    EVP_MD *sha256;
    EVP_MD_CTX *md;
    EVP_MAC *hmac;
    EVP_MAC_CTX *mac;
    key_slot slots[CACHE_SLOTS];
    unsigned next_slot;
};

sigv4_view sigv4_cstr(const char *s)
{
    return (sigv4_view){s, s ? strlen(s) : 0};
}

const char *sigv4_status_str(sigv4_status st)
{
    switch (st) {
    case SIGV4_OK: return "signed";
    case SIGV4_ERR_ARGUMENT: return "missing argument";
    case SIGV4_ERR_METHOD: return "bad method";
    case SIGV4_ERR_PATH: return "bad path";
    case SIGV4_ERR_QUERY: return "query too long or with too many parameters";
    case SIGV4_ERR_HEADER_COUNT: return "too many headers";
    case SIGV4_ERR_HEADER_NAME: return "bad header name";
    case SIGV4_ERR_HEADER_VALUE: return "bad header value";
    case SIGV4_ERR_HEADERS_BYTES: return "headers too long";
    case SIGV4_ERR_HEADER_RESERVED: return "header set by the signer passed in";
    case SIGV4_ERR_NO_HOST: return "no Host header";
    case SIGV4_ERR_PAYLOAD_HASH: return "bad payload hash";
    case SIGV4_ERR_SCOPE: return "bad region or service";
    case SIGV4_ERR_CREDENTIALS: return "bad credentials";
    case SIGV4_ERR_TIME: return "time out of range";
    case SIGV4_ERR_CRYPTO: return "OpenSSL failure";
    }
    return "unknown status";
}

static sigv4_status fail(sigv4_output *out, sigv4_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static sigv4_status fail(sigv4_output *out, sigv4_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->error, sizeof out->error, fmt, ap);
    va_end(ap);
    return st;
}

/* ---- bytes ---- */

static bool is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '.' || c == '~';
}

/* RFC 9110 tchar. */
static bool is_tchar(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int hex_val(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static bool view_ok(sigv4_view v)
{
    return v.len == 0 || v.ptr != NULL;
}

/* Case-insensitive equality with a lowercase literal. */
static bool name_is(const char *p, size_t n, const char *lit)
{
    size_t k = strlen(lit);
    if (n != k)
        return false;
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)p[i]) != (unsigned char)lit[i])
            return false;
    return true;
}

static void put_pct(buf *b, unsigned char c)
{
    char e[3] = {'%', hex_upper[c >> 4], hex_upper[c & 15]};
    buf_put(b, e, 3);
}

/* Percent-encodes all but unreserved bytes (and '/' when keep_slash). */
static void put_encoded(buf *b, const char *p, size_t n, bool keep_slash)
{
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (is_unreserved(c) || (keep_slash && c == '/'))
            continue;
        buf_put(b, p + run, i - run);
        put_pct(b, c);
        run = i + 1;
    }
    buf_put(b, p + run, n - run);
}

static void put_lower(buf *b, const char *p, size_t n)
{
    char chunk[64];
    while (n) {
        size_t k = n < sizeof chunk ? n : sizeof chunk;
        for (size_t i = 0; i < k; i++)
            chunk[i] = (char)lower((unsigned char)p[i]);
        buf_put(b, chunk, k);
        p += k;
        n -= k;
    }
}

static void put_hex(char *out, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex_lower[p[i] >> 4];
        out[2 * i + 1] = hex_lower[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static void truncate_to(buf *b, size_t len)
{
    b->len = len;
    if (b->data)
        b->data[len] = '\0';
}

/* ---- crypto ---- */

static void crypto_abort(const char *what)
{
    fprintf(stderr, "tweetmatch: OpenSSL could not create %s (out of memory?)\n", what);
    abort();
}

sigv4_signer *sigv4_signer_new(void)
{
    sigv4_signer *s = xcalloc(1, sizeof *s);
    s->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (s->sha256 == NULL)
        crypto_abort("a SHA-256 digest");
    s->md = EVP_MD_CTX_new();
    if (s->md == NULL)
        crypto_abort("a digest context");
    s->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (s->hmac == NULL)
        crypto_abort("an HMAC");
    s->mac = EVP_MAC_CTX_new(s->hmac);
    if (s->mac == NULL)
        crypto_abort("an HMAC context");
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    if (!EVP_MAC_CTX_set_params(s->mac, params))
        crypto_abort("an HMAC-SHA256 context");
    return s;
}

void sigv4_signer_free(sigv4_signer *s)
{
    if (s == NULL)
        return;
    EVP_MAC_CTX_free(s->mac);
    EVP_MAC_free(s->hmac);
    EVP_MD_CTX_free(s->md);
    EVP_MD_free(s->sha256);
    mem_wipe(s, sizeof *s);
    free(s);
}

static bool sha256(sigv4_signer *s, const void *p, size_t n, unsigned char out[32])
{
    unsigned int len = 0;
    return EVP_DigestInit_ex2(s->md, s->sha256, NULL) && EVP_DigestUpdate(s->md, p, n) &&
           EVP_DigestFinal_ex(s->md, out, &len) && len == 32;
}

static bool hmac(sigv4_signer *s, const void *key, size_t key_len, const void *msg, size_t n,
                 unsigned char out[32])
{
    size_t len = 0;
    return EVP_MAC_init(s->mac, key, key_len, NULL) && EVP_MAC_update(s->mac, msg, n) &&
           EVP_MAC_final(s->mac, out, &len, 32) && len == 32;
}

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" secret, date), region), service),
 * "aws4_request"). */
static bool derive_key(sigv4_signer *s, sigv4_view secret, const char *date, sigv4_view region,
                       sigv4_view service, unsigned char key[32])
{
    unsigned char k0[4 + SIGV4_MAX_SECRET_BYTES];
    unsigned char k1[32], k2[32], k3[32];
    memcpy(k0, "AWS4", 4);
    memcpy(k0 + 4, secret.ptr, secret.len);
    bool ok = hmac(s, k0, 4 + secret.len, date, 8, k1) && hmac(s, k1, 32, region.ptr, region.len, k2) &&
              hmac(s, k2, 32, service.ptr, service.len, k3) && hmac(s, k3, 32, "aws4_request", 12, key);
    mem_wipe(k0, sizeof k0);
    mem_wipe(k1, sizeof k1);
    mem_wipe(k2, sizeof k2);
    mem_wipe(k3, sizeof k3);
    return ok;
}

static bool slot_matches(const key_slot *k, sigv4_view secret, const char *date, sigv4_view region,
                         sigv4_view service)
{
    return k->used && memcmp(k->date, date, 8) == 0 && k->region_len == region.len &&
           memcmp(k->region, region.ptr, region.len) == 0 && k->service_len == service.len &&
           memcmp(k->service, service.ptr, service.len) == 0 && k->secret_len == secret.len &&
           CRYPTO_memcmp(k->secret, secret.ptr, secret.len) == 0;
}

/* The signing key, from the cache or derived and cached. Inputs are
 * validated (lengths within the slot's fields). */
static bool cached_key(sigv4_signer *s, sigv4_view secret, const char *date, sigv4_view region,
                       sigv4_view service, unsigned char key[32])
{
    for (unsigned i = 0; i < CACHE_SLOTS; i++) {
        if (slot_matches(&s->slots[i], secret, date, region, service)) {
            memcpy(key, s->slots[i].key, 32);
            return true;
        }
    }
    if (!derive_key(s, secret, date, region, service, key))
        return false;
    key_slot *k = &s->slots[s->next_slot];
    s->next_slot = (s->next_slot + 1) % CACHE_SLOTS;
    mem_wipe(k, sizeof *k);
    k->used = true;
    memcpy(k->date, date, 8);
    k->region_len = (unsigned char)region.len;
    memcpy(k->region, region.ptr, region.len);
    k->service_len = (unsigned char)service.len;
    memcpy(k->service, service.ptr, service.len);
    k->secret_len = secret.len;
    memcpy(k->secret, secret.ptr, secret.len);
    memcpy(k->key, key, 32);
    return true;
}

/* ---- validation ---- */

static bool scope_part_ok(sigv4_view v)
{
    if (v.len == 0 || v.len > SIGV4_MAX_SCOPE_BYTES)
        return false;
    for (size_t i = 0; i < v.len; i++) {
        unsigned char c = (unsigned char)v.ptr[i];
        if (!(is_unreserved(c) && c != '~'))
            return false;
    }
    return true;
}

static bool payload_hash_ok(sigv4_view v)
{
    if (v.len == 64) {
        bool hex = true;
        for (size_t i = 0; i < 64 && hex; i++)
            hex = (v.ptr[i] >= '0' && v.ptr[i] <= '9') || (v.ptr[i] >= 'a' && v.ptr[i] <= 'f');
        if (hex)
            return true;
    }
    bool literal = (v.len > 9 && memcmp(v.ptr, "UNSIGNED-", 9) == 0) ||
                   (v.len > 10 && memcmp(v.ptr, "STREAMING-", 10) == 0);
    if (!literal || v.len > 64)
        return false;
    for (size_t i = 0; i < v.len; i++) {
        char c = v.ptr[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'))
            return false;
    }
    return true;
}

/* Headers the signer sets itself. */
static const char *const reserved_headers[] = {"authorization", "x-amz-date", "x-amz-security-token",
                                               "x-amz-content-sha256"};

/* Headers never signed: hop-by-hop ones a proxy may drop or rewrite, and
 * those botocore and aws-c-auth leave out (user-agent, expect,
 * x-amzn-trace-id, the websocket handshake). */
static const char *const skipped_headers[] = {
    "connection", "expect", "keep-alive", "proxy-authorization", "proxy-connection", "te", "trailer",
    "transfer-encoding", "upgrade", "user-agent", "x-amzn-trace-id", "sec-websocket-key",
    "sec-websocket-protocol", "sec-websocket-version",
};

static bool is_skipped(sigv4_view name)
{
    for (size_t i = 0; i < sizeof skipped_headers / sizeof *skipped_headers; i++)
        if (name_is(name.ptr, name.len, skipped_headers[i]))
            return true;
    return false;
}

static sigv4_status check_headers(const sigv4_request *req, sigv4_output *out)
{
    if (req->n_headers > SIGV4_MAX_HEADERS)
        return fail(out, SIGV4_ERR_HEADER_COUNT, "%zu headers, over the cap of %d", req->n_headers,
                    SIGV4_MAX_HEADERS);
    if (req->n_headers && req->headers == NULL)
        return fail(out, SIGV4_ERR_ARGUMENT, "headers is NULL with n_headers %zu", req->n_headers);
    size_t total = 0;
    bool host = false;
    for (size_t i = 0; i < req->n_headers; i++) {
        sigv4_view n = req->headers[i].name, v = req->headers[i].value;
        if (!view_ok(n) || !view_ok(v))
            return fail(out, SIGV4_ERR_ARGUMENT, "header %zu: NULL pointer with a length", i);
        if (n.len == 0 || n.len > SIGV4_MAX_HEADER_NAME_BYTES)
            return fail(out, SIGV4_ERR_HEADER_NAME, "header %zu: name of %zu bytes (1..%d)", i, n.len,
                        SIGV4_MAX_HEADER_NAME_BYTES);
        for (size_t k = 0; k < n.len; k++)
            if (!is_tchar((unsigned char)n.ptr[k]))
                return fail(out, SIGV4_ERR_HEADER_NAME,
                            "header %zu: name byte 0x%02X at offset %zu is not a token character", i,
                            (unsigned char)n.ptr[k], k);
        if (v.len > SIGV4_MAX_HEADER_VALUE_BYTES)
            return fail(out, SIGV4_ERR_HEADER_VALUE, "header %zu '%.*s': value of %zu bytes, over the cap of %d", i,
                        (int)n.len, n.ptr, v.len, SIGV4_MAX_HEADER_VALUE_BYTES);
        for (size_t k = 0; k < v.len; k++) {
            unsigned char c = (unsigned char)v.ptr[k];
            if ((c < 0x20 && c != '\t') || c == 0x7f)
                return fail(out, SIGV4_ERR_HEADER_VALUE, "header %zu '%.*s': control byte 0x%02X at offset %zu", i,
                            (int)n.len, n.ptr, c, k);
        }
        total += n.len + v.len;
        if (total > SIGV4_MAX_HEADERS_BYTES)
            return fail(out, SIGV4_ERR_HEADERS_BYTES, "headers over %d bytes at header %zu", SIGV4_MAX_HEADERS_BYTES,
                        i);
        for (size_t r = 0; r < sizeof reserved_headers / sizeof *reserved_headers; r++)
            if (name_is(n.ptr, n.len, reserved_headers[r]))
                return fail(out, SIGV4_ERR_HEADER_RESERVED, "header %zu '%.*s' is set by the signer", i, (int)n.len,
                            n.ptr);
        host = host || name_is(n.ptr, n.len, "host");
    }
    if (!host)
        return fail(out, SIGV4_ERR_NO_HOST, "no Host header among %zu headers", req->n_headers);
    return SIGV4_OK;
}

static sigv4_status check_request(const sigv4_request *req, const sigv4_credentials *cred, sigv4_output *out)
{
    if (!view_ok(req->method) || !view_ok(req->path) || !view_ok(req->query) || !view_ok(req->body) ||
        !view_ok(req->payload_hash) || !view_ok(req->region) || !view_ok(req->service) ||
        !view_ok(cred->access_key_id) || !view_ok(cred->secret_access_key) || !view_ok(cred->session_token))
        return fail(out, SIGV4_ERR_ARGUMENT, "a view has a NULL pointer and a length");
    sigv4_view m = req->method;
    if (m.len == 0 || m.len > SIGV4_MAX_METHOD_BYTES)
        return fail(out, SIGV4_ERR_METHOD, "method of %zu bytes (1..%d)", m.len, SIGV4_MAX_METHOD_BYTES);
    for (size_t i = 0; i < m.len; i++)
        if (!is_tchar((unsigned char)m.ptr[i]))
            return fail(out, SIGV4_ERR_METHOD, "method byte 0x%02X at offset %zu is not a token character",
                        (unsigned char)m.ptr[i], i);
    if (req->path.len > SIGV4_MAX_PATH_BYTES)
        return fail(out, SIGV4_ERR_PATH, "path of %zu bytes, over the cap of %d", req->path.len,
                    SIGV4_MAX_PATH_BYTES);
    if (req->path.len && req->path.ptr[0] != '/')
        return fail(out, SIGV4_ERR_PATH, "path does not start with '/'");
    if (req->query.len > SIGV4_MAX_QUERY_BYTES)
        return fail(out, SIGV4_ERR_QUERY, "query of %zu bytes, over the cap of %d", req->query.len,
                    SIGV4_MAX_QUERY_BYTES);
    sigv4_status st = check_headers(req, out);
    if (st != SIGV4_OK)
        return st;
    if (req->payload_hash.len && !payload_hash_ok(req->payload_hash))
        return fail(out, SIGV4_ERR_PAYLOAD_HASH,
                    "payload_hash of %zu bytes is neither 64 lowercase hex digits nor an UNSIGNED-/STREAMING- "
                    "literal of [A-Z0-9-]",
                    req->payload_hash.len);
    if (!scope_part_ok(req->region))
        return fail(out, SIGV4_ERR_SCOPE, "region of %zu bytes: need 1..%d of [A-Za-z0-9._-]", req->region.len,
                    SIGV4_MAX_SCOPE_BYTES);
    if (!scope_part_ok(req->service))
        return fail(out, SIGV4_ERR_SCOPE, "service of %zu bytes: need 1..%d of [A-Za-z0-9._-]", req->service.len,
                    SIGV4_MAX_SCOPE_BYTES);
    sigv4_view a = cred->access_key_id;
    if (a.len == 0 || a.len > SIGV4_MAX_ACCESS_KEY_BYTES)
        return fail(out, SIGV4_ERR_CREDENTIALS, "access_key_id of %zu bytes (1..%d)", a.len,
                    SIGV4_MAX_ACCESS_KEY_BYTES);
    for (size_t i = 0; i < a.len; i++) {
        unsigned char c = (unsigned char)a.ptr[i];
        if (c <= 0x20 || c >= 0x7f || c == ',' || c == '/' || c == ';' || c == '=')
            return fail(out, SIGV4_ERR_CREDENTIALS, "access_key_id: byte 0x%02X at offset %zu not allowed", c, i);
    }
    if (cred->secret_access_key.len == 0 || cred->secret_access_key.len > SIGV4_MAX_SECRET_BYTES)
        return fail(out, SIGV4_ERR_CREDENTIALS, "secret_access_key of %zu bytes (1..%d)",
                    cred->secret_access_key.len, SIGV4_MAX_SECRET_BYTES);
    sigv4_view t = cred->session_token;
    if (t.len > SIGV4_MAX_TOKEN_BYTES)
        return fail(out, SIGV4_ERR_CREDENTIALS, "session_token of %zu bytes, over the cap of %d", t.len,
                    SIGV4_MAX_TOKEN_BYTES);
    for (size_t i = 0; i < t.len; i++) {
        unsigned char c = (unsigned char)t.ptr[i];
        if (c <= 0x20 || c >= 0x7f)
            return fail(out, SIGV4_ERR_CREDENTIALS, "session_token: byte 0x%02X at offset %zu is not visible ASCII",
                        c, i);
    }
    long long when = (long long)req->time;
    if (when < 0 || when > MAX_TIME)
        return fail(out, SIGV4_ERR_TIME, "time %lld is outside 1970..9999", when);
    return SIGV4_OK;
}

/* ---- canonical request ---- */

static void format_amz_date(time_t t, char out[17])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    int v[6] = {tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec};
    char *p = out;
    for (int i = 0; i < 6; i++) {
        int digits = i == 0 ? 4 : 2;
        for (int d = digits - 1; d >= 0; d--) {
            p[d] = (char)('0' + v[i] % 10);
            v[i] /= 10;
        }
        p += digits;
        if (i == 2)
            *p++ = 'T';
    }
    *p++ = 'Z';
    *p = '\0';
}

/* RFC 3986 section 5.2.4 on an absolute path, and repeated slashes
 * dropped, as botocore's remove_dot_segments: a trailing slash is kept
 * unless nothing is left. path starts with '/'. */
static void normalize_path(buf *o, const char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (p[i] == '/') {
            i++;
            continue;
        }
        size_t j = i;
        while (j < n && p[j] != '/')
            j++;
        size_t len = j - i;
        if (len == 2 && p[i] == '.' && p[i + 1] == '.') {
            size_t k = o->len;
            while (k > 0 && o->data[k - 1] != '/')
                k--;
            truncate_to(o, k > 0 ? k - 1 : 0);
        } else if (!(len == 1 && p[i] == '.')) {
            buf_putc(o, '/');
            buf_put(o, p + i, len);
        }
        i = j;
    }
    if (o->len == 0 || p[n - 1] == '/')
        buf_putc(o, '/');
}

static void put_canonical_uri(buf *b, buf *scratch, sigv4_view path, unsigned flags)
{
    if (path.len == 0) {
        buf_putc(b, '/');
        return;
    }
    const char *p = path.ptr;
    size_t n = path.len;
    if (!(flags & SIGV4_NO_NORMALIZE)) {
        buf_reset(scratch);
        normalize_path(scratch, p, n);
        p = scratch->data;
        n = scratch->len;
    }
    if (!(flags & SIGV4_SINGLE_ENCODE)) {
        put_encoded(b, p, n, true);
        return;
    }
    /* Already encoded once: keep its escapes, encode what may not appear in
     * a URI. */
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (is_unreserved(c) || c == '/')
            continue;
        if (c == '%' && i + 2 < n && hex_val((unsigned char)p[i + 1]) >= 0 &&
            hex_val((unsigned char)p[i + 2]) >= 0) {
            i += 2;
            continue;
        }
        buf_put(b, p + run, i - run);
        put_pct(b, c);
        run = i + 1;
    }
    buf_put(b, p + run, n - run);
}

/* Decodes %XX escapes of (p, n) and encodes the result for the query. */
static void put_query_part(buf *b, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '%' && i + 2 < n && hex_val((unsigned char)p[i + 1]) >= 0 &&
            hex_val((unsigned char)p[i + 2]) >= 0) {
            c = (unsigned char)(hex_val((unsigned char)p[i + 1]) << 4 | hex_val((unsigned char)p[i + 2]));
            i += 2;
        }
        if (is_unreserved(c))
            buf_putc(b, (char)c);
        else
            put_pct(b, c);
    }
}

typedef int (*cmp_fn)(const void *ctx, uint16_t a, uint16_t b);

/* Stable bottom-up merge sort of n indexes; tmp holds n. */
static void merge_sort(uint16_t *idx, uint16_t *tmp, size_t n, cmp_fn cmp, const void *ctx)
{
    uint16_t *src = idx, *dst = tmp;
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n;
            size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t a = lo, b = mid, o = lo;
            while (a < mid && b < hi)
                dst[o++] = cmp(ctx, src[b], src[a]) < 0 ? src[b++] : src[a++];
            while (a < mid)
                dst[o++] = src[a++];
            while (b < hi)
                dst[o++] = src[b++];
        }
        uint16_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != idx)
        memcpy(idx, src, n * sizeof *idx);
}

typedef struct qparam {
    uint32_t name_off, name_len, value_off, value_len;
} qparam;

typedef struct qctx {
    const qparam *p;
    const char *base;
} qctx;

static int cmp_bytes(const char *a, size_t an, const char *b, size_t bn)
{
    size_t n = an < bn ? an : bn;
    int c = n ? memcmp(a, b, n) : 0;
    if (c)
        return c;
    return an < bn ? -1 : an > bn;
}

static int cmp_qparam(const void *ctx, uint16_t a, uint16_t b)
{
    const qctx *q = ctx;
    const qparam *x = &q->p[a], *y = &q->p[b];
    int c = cmp_bytes(q->base + x->name_off, x->name_len, q->base + y->name_off, y->name_len);
    if (c)
        return c;
    return cmp_bytes(q->base + x->value_off, x->value_len, q->base + y->value_off, y->value_len);
}

static sigv4_status put_canonical_query(buf *b, buf *scratch, sigv4_view query, sigv4_output *out)
{
    qparam params[SIGV4_MAX_QUERY_PARAMS];
    uint16_t order[SIGV4_MAX_QUERY_PARAMS], tmp[SIGV4_MAX_QUERY_PARAMS];
    size_t n = 0;
    if (query.len == 0)
        return SIGV4_OK;
    buf_reset(scratch);
    buf_put(scratch, "", 0); /* storage, so that offsets have a base */
    const char *p = query.ptr, *end = query.ptr + query.len;
    for (;;) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        if (stop > p) {
            if (n == SIGV4_MAX_QUERY_PARAMS)
                return fail(out, SIGV4_ERR_QUERY, "query has over %d parameters", SIGV4_MAX_QUERY_PARAMS);
            const char *eq = memchr(p, '=', (size_t)(stop - p));
            const char *name_end = eq ? eq : stop;
            qparam *q = &params[n];
            q->name_off = (uint32_t)scratch->len;
            put_query_part(scratch, p, (size_t)(name_end - p));
            q->name_len = (uint32_t)(scratch->len - q->name_off);
            q->value_off = (uint32_t)scratch->len;
            if (eq)
                put_query_part(scratch, eq + 1, (size_t)(stop - eq - 1));
            q->value_len = (uint32_t)(scratch->len - q->value_off);
            order[n] = (uint16_t)n;
            n++;
        }
        if (amp == NULL)
            break;
        p = amp + 1;
    }
    qctx ctx = {params, scratch->data};
    merge_sort(order, tmp, n, cmp_qparam, &ctx);
    for (size_t i = 0; i < n; i++) {
        const qparam *q = &params[order[i]];
        if (i)
            buf_putc(b, '&');
        buf_put(b, scratch->data + q->name_off, q->name_len);
        buf_putc(b, '=');
        buf_put(b, scratch->data + q->value_off, q->value_len);
    }
    return SIGV4_OK;
}

typedef struct hdr {
    sigv4_view name, value;
} hdr;

static int cmp_hdr(const void *ctx, uint16_t a, uint16_t b)
{
    const hdr *h = ctx;
    const char *x = h[a].name.ptr, *y = h[b].name.ptr;
    size_t xn = h[a].name.len, yn = h[b].name.len, n = xn < yn ? xn : yn;
    for (size_t i = 0; i < n; i++) {
        unsigned char cx = lower((unsigned char)x[i]), cy = lower((unsigned char)y[i]);
        if (cx != cy)
            return cx < cy ? -1 : 1;
    }
    return xn < yn ? -1 : xn > yn;
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t';
}

/* The value trimmed, inner runs of blanks folded to one space. */
static void put_trimmed(buf *b, const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && is_ws(p[i]))
        i++;
    while (n > i && is_ws(p[n - 1]))
        n--;
    while (i < n) {
        size_t j = i;
        while (j < n && !is_ws(p[j]))
            j++;
        buf_put(b, p + i, j - i);
        i = j;
        if (i < n) {
            buf_putc(b, ' ');
            while (i < n && is_ws(p[i]))
                i++;
        }
    }
}

/* Canonical headers (each "name:value\n") to b, "a;b" to signed. */
static void put_canonical_headers(buf *b, buf *signed_headers, const sigv4_request *req, const hdr *added,
                                  size_t n_added)
{
    hdr h[SIGV4_MAX_HEADERS + 3];
    uint16_t order[SIGV4_MAX_HEADERS + 3], tmp[SIGV4_MAX_HEADERS + 3];
    size_t n = 0;
    for (size_t i = 0; i < req->n_headers; i++) {
        if (is_skipped(req->headers[i].name))
            continue;
        h[n] = (hdr){req->headers[i].name, req->headers[i].value};
        order[n] = (uint16_t)n;
        n++;
    }
    for (size_t i = 0; i < n_added; i++) {
        h[n] = added[i];
        order[n] = (uint16_t)n;
        n++;
    }
    merge_sort(order, tmp, n, cmp_hdr, h);
    for (size_t i = 0; i < n; i++) {
        const hdr *x = &h[order[i]];
        bool same = i > 0 && cmp_hdr(h, order[i - 1], order[i]) == 0;
        if (same) {
            buf_putc(b, ',');
        } else {
            if (i > 0) {
                buf_putc(b, '\n');
                buf_putc(signed_headers, ';');
            }
            put_lower(b, x->name.ptr, x->name.len);
            buf_putc(b, ':');
            put_lower(signed_headers, x->name.ptr, x->name.len);
        }
        put_trimmed(b, x->value.ptr, x->value.len);
    }
    buf_putc(b, '\n');
}

/* ---- signing ---- */

static void reset_output(sigv4_output *out)
{
    out->n_headers = 0;
    out->amz_date[0] = out->payload_hash[0] = out->signature[0] = out->error[0] = '\0';
    buf_reset(&out->authorization);
    buf_reset(&out->canonical_request);
    buf_reset(&out->string_to_sign);
    buf_reset(&out->signed_headers);
    buf_reset(&out->token);
    buf_reset(&out->scratch);
}

void sigv4_output_init(sigv4_output *out)
{
    memset(out, 0, sizeof *out);
    buf_init(&out->authorization, OUT_MAX_BYTES);
    buf_init(&out->canonical_request, OUT_MAX_BYTES);
    buf_init(&out->string_to_sign, OUT_MAX_BYTES);
    buf_init(&out->signed_headers, OUT_MAX_BYTES);
    buf_init(&out->token, OUT_MAX_BYTES);
    buf_init(&out->scratch, OUT_MAX_BYTES);
}

void sigv4_output_clean_up(sigv4_output *out)
{
    if (out == NULL)
        return;
    buf_clean_up_secret(&out->authorization);
    buf_clean_up_secret(&out->canonical_request);
    buf_clean_up_secret(&out->string_to_sign);
    buf_clean_up_secret(&out->signed_headers);
    buf_clean_up_secret(&out->token);
    buf_clean_up_secret(&out->scratch);
    out->n_headers = 0;
    mem_wipe(out->headers, sizeof out->headers);
    mem_wipe(out->amz_date, sizeof out->amz_date);
    mem_wipe(out->payload_hash, sizeof out->payload_hash);
    mem_wipe(out->signature, sizeof out->signature);
    mem_wipe(out->error, sizeof out->error);
}

static sigv4_status sign_checked(sigv4_signer *s, const sigv4_request *req, const sigv4_credentials *cred,
                                 unsigned flags, sigv4_output *out)
{
    unsigned char digest[32], key[32], mac[32];
    format_amz_date(req->time, out->amz_date);
    if (req->payload_hash.len) {
        memcpy(out->payload_hash, req->payload_hash.ptr, req->payload_hash.len);
        out->payload_hash[req->payload_hash.len] = '\0';
    } else {
        if (!sha256(s, req->body.ptr ? req->body.ptr : "", req->body.len, digest))
            return fail(out, SIGV4_ERR_CRYPTO, "SHA-256 of the body failed");
        put_hex(out->payload_hash, digest, 32);
    }
    if (cred->session_token.len)
        buf_put(&out->token, cred->session_token.ptr, cred->session_token.len);

    hdr added[3];
    size_t n_added = 0;
    added[n_added++] = (hdr){SIGV4_LIT("x-amz-date"), {out->amz_date, 16}};
    if (cred->session_token.len)
        added[n_added++] = (hdr){SIGV4_LIT("x-amz-security-token"), cred->session_token};
    if (flags & SIGV4_CONTENT_SHA256)
        added[n_added++] = (hdr){SIGV4_LIT("x-amz-content-sha256"), sigv4_cstr(out->payload_hash)};

    buf *cr = &out->canonical_request;
    buf_put(cr, req->method.ptr, req->method.len);
    buf_putc(cr, '\n');
    put_canonical_uri(cr, &out->scratch, req->path, flags);
    buf_putc(cr, '\n');
    sigv4_status st = put_canonical_query(cr, &out->scratch, req->query, out);
    if (st != SIGV4_OK)
        return st;
    buf_putc(cr, '\n');
    put_canonical_headers(cr, &out->signed_headers, req, added, n_added);
    buf_putc(cr, '\n');
    buf_put(cr, out->signed_headers.data, out->signed_headers.len);
    buf_putc(cr, '\n');
    buf_puts(cr, out->payload_hash);
    if (cr->failed || out->signed_headers.failed || out->scratch.failed)
        return fail(out, SIGV4_ERR_ARGUMENT, "canonical request over %zu bytes", OUT_MAX_BYTES);

    if (!sha256(s, cr->data, cr->len, digest))
        return fail(out, SIGV4_ERR_CRYPTO, "SHA-256 of the canonical request failed");
    char digest_hex[65];
    put_hex(digest_hex, digest, 32);
    buf *sts = &out->string_to_sign;
    buf_puts(sts, ALGORITHM "\n");
    buf_put(sts, out->amz_date, 16);
    buf_putc(sts, '\n');
    size_t scope_at = sts->len;
    buf_put(sts, out->amz_date, 8);
    buf_putc(sts, '/');
    buf_put(sts, req->region.ptr, req->region.len);
    buf_putc(sts, '/');
    buf_put(sts, req->service.ptr, req->service.len);
    buf_puts(sts, "/aws4_request");
    size_t scope_len = sts->len - scope_at;
    buf_putc(sts, '\n');
    buf_put(sts, digest_hex, 64);

    bool ok = cached_key(s, cred->secret_access_key, out->amz_date, req->region, req->service, key) &&
              hmac(s, key, 32, sts->data, sts->len, mac);
    mem_wipe(key, sizeof key);
    if (!ok)
        return fail(out, SIGV4_ERR_CRYPTO, "HMAC-SHA256 failed");
    put_hex(out->signature, mac, 32);

    buf *auth = &out->authorization;
    buf_puts(auth, ALGORITHM " Credential=");
    buf_put(auth, cred->access_key_id.ptr, cred->access_key_id.len);
    buf_putc(auth, '/');
    buf_put(auth, sts->data + scope_at, scope_len);
    buf_puts(auth, ", SignedHeaders=");
    buf_put(auth, out->signed_headers.data, out->signed_headers.len);
    buf_puts(auth, ", Signature=");
    buf_puts(auth, out->signature);

    out->headers[out->n_headers++] = (sigv4_out_header){"Authorization", auth->data};
    out->headers[out->n_headers++] = (sigv4_out_header){"X-Amz-Date", out->amz_date};
    if (cred->session_token.len)
        out->headers[out->n_headers++] = (sigv4_out_header){"X-Amz-Security-Token", out->token.data};
    if (flags & SIGV4_CONTENT_SHA256)
        out->headers[out->n_headers++] = (sigv4_out_header){"X-Amz-Content-Sha256", out->payload_hash};
    return SIGV4_OK;
}

sigv4_status sigv4_sign(sigv4_signer *signer, const sigv4_request *req, const sigv4_credentials *cred,
                        sigv4_output *out)
{
    if (out == NULL)
        return SIGV4_ERR_ARGUMENT;
    reset_output(out);
    if (req == NULL || cred == NULL)
        return fail(out, SIGV4_ERR_ARGUMENT, "%s is NULL", req == NULL ? "request" : "credentials");
    sigv4_status st = check_request(req, cred, out);
    if (st != SIGV4_OK)
        return st;
    unsigned flags = req->flags;
    if (req->service.len == 2 && memcmp(req->service.ptr, "s3", 2) == 0)
        flags |= SIGV4_S3;
    sigv4_signer *own = NULL;
    if (signer == NULL)
        signer = own = sigv4_signer_new();
    st = sign_checked(signer, req, cred, flags, out);
    sigv4_signer_free(own);
    if (st != SIGV4_OK)
        out->n_headers = 0;
    return st;
}

sigv4_status sigv4_signing_key(sigv4_view secret, sigv4_view date, sigv4_view region, sigv4_view service,
                               unsigned char key_out[32])
{
    if (!view_ok(secret) || !view_ok(date) || key_out == NULL)
        return SIGV4_ERR_ARGUMENT;
    if (secret.len == 0 || secret.len > SIGV4_MAX_SECRET_BYTES)
        return SIGV4_ERR_CREDENTIALS;
    if (!scope_part_ok(region) || !scope_part_ok(service))
        return SIGV4_ERR_SCOPE;
    if (date.len != 8)
        return SIGV4_ERR_TIME;
    for (size_t i = 0; i < 8; i++)
        if (date.ptr[i] < '0' || date.ptr[i] > '9')
            return SIGV4_ERR_TIME;
    sigv4_signer *s = sigv4_signer_new();
    bool ok = derive_key(s, secret, date.ptr, region, service, key_out);
    sigv4_signer_free(s);
    return ok ? SIGV4_OK : SIGV4_ERR_CRYPTO;
}
