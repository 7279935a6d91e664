/* ddb_wire.c: see ddb_wire.h. */
#include "ddb_wire.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

/* ---- endpoint ---- */

bool ddb_endpoint_parse(const char *url, ddb_endpoint *out, char **err)
{
    memset(out, 0, sizeof *out);
    bool https;
    size_t skip;
    if (strncasecmp(url, "https://", 8) == 0) {
        https = true;
        skip = 8;
    } else if (strncasecmp(url, "http://", 7) == 0) {
        https = false;
        skip = 7;
    } else {
        *err = xasprintf("\"%s\" is not an http:// or https:// URL", url);
        return false;
    }
    const char *auth = url + skip;
    size_t alen = strcspn(auth, "/?#");
    const char *rest = auth + alen;
    if (*rest == '?' || *rest == '#' || strpbrk(rest, "?#")) {
        *err = xasprintf("\"%s\": an endpoint URL may not have a query or a fragment", url);
        return false;
    }
    if (memchr(auth, '@', alen)) {
        *err = xstrdup("the endpoint URL may not hold user information (user:password@)");
        return false;
    }
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f) {
            *err = xasprintf("\"%s\": the endpoint URL holds a space or a control character", url);
            return false;
        }
    /* host, optional :port; an IPv6 literal is bracketed. */
    size_t hlen = alen;
    const char *port = NULL;
    if (alen && auth[0] == '[') {
        const char *close = memchr(auth, ']', alen);
        if (close == NULL) {
            *err = xasprintf("\"%s\": unclosed '[' in the host", url);
            return false;
        }
        hlen = (size_t)(close - auth) + 1;
        if (hlen < alen) {
            if (auth[hlen] != ':') {
                *err = xasprintf("\"%s\": bad text after the host", url);
                return false;
            }
            port = auth + hlen + 1;
        }
    } else {
        const char *colon = memchr(auth, ':', alen);
        if (colon) {
            hlen = (size_t)(colon - auth);
            port = colon + 1;
        }
    }
    if (hlen == 0) {
        *err = xasprintf("\"%s\": no host", url);
        return false;
    }
    size_t plen = port ? (size_t)(auth + alen - port) : 0;
    long portnum = 0;
    if (port) {
        if (plen == 0 || plen > 5 || strspn(port, "0123456789") < plen) {
            *err = xasprintf("\"%s\": the port must be a number", url);
            return false;
        }
        portnum = strtol(port, NULL, 10);
        if (portnum < 1 || portnum > 65535) {
            *err = xasprintf("\"%s\": the port must be from 1 to 65535", url);
            return false;
        }
    }
    bool default_port = port && portnum == (https ? 443 : 80);
    out->host = default_port ? xstrndup(auth, hlen) : xstrndup(auth, alen);
    out->path = *rest ? xstrdup(rest) : xstrdup("/");
    out->url = *rest ? xstrdup(url) : xasprintf("%s/", url);
    return true;
}

void ddb_endpoint_clean_up(ddb_endpoint *e)
{
    if (e == NULL)
        return;
    free(e->url);
    free(e->host);
    free(e->path);
    e->url = e->host = e->path = NULL;
}

char *ddb_default_endpoint(const char *region)
{
    bool china = strncmp(region, "cn-", 3) == 0;
    return xasprintf("https://dynamodb.%s.amazonaws.com%s", region, china ? ".cn" : "");
}

bool ddb_valid_table_name(const char *s)
{
    size_t n = strlen(s);
    return n >= 3 && n <= 255 &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

bool ddb_valid_region(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= 64 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

/* ---- signed headers ---- */

void ddb_headers_init(ddb_headers *h)
{
    memset(h, 0, sizeof *h);
}

void ddb_headers_clean_up(ddb_headers *h)
{
    if (h == NULL)
        return;
    for (size_t i = 0; i < h->n; i++)
        mem_free_secret(h->line[i]);
    memset(h, 0, sizeof *h);
}

bool ddb_sign(sigv4_signer *signer, const ddb_endpoint *ep, const char *region, const char *op,
              const char *body, size_t len, const creds *c, time_t t, ddb_headers *h, char **err)
{
    ddb_headers_clean_up(h);
    char target[96];
    snprintf(target, sizeof target, DDB_TARGET_PREFIX "%s", op);
    sigv4_header hs[] = {
        {SIGV4_LIT("Host"), sigv4_cstr(ep->host)},
        {SIGV4_LIT("Content-Type"), SIGV4_LIT(DDB_CONTENT_TYPE)},
        {SIGV4_LIT("X-Amz-Target"), sigv4_cstr(target)},
        {SIGV4_LIT("Accept-Encoding"), SIGV4_LIT("identity")},
    };
    sigv4_request req = {
        .method = SIGV4_LIT("POST"),
        .path = sigv4_cstr(ep->path),
        .headers = hs,
        .n_headers = sizeof hs / sizeof hs[0],
        .body = {body, len},
        .region = sigv4_cstr(region),
        .service = SIGV4_LIT("dynamodb"),
        .time = t,
    };
    sigv4_credentials cred = {
        .access_key_id = sigv4_cstr(c->access_key_id),
        .secret_access_key = sigv4_cstr(c->secret_access_key),
        .session_token = sigv4_cstr(c->session_token),
    };
    sigv4_output out;
    sigv4_output_init(&out);
    sigv4_status st = sigv4_sign(signer, &req, &cred, &out);
    if (st != SIGV4_OK) {
        *err = xasprintf("cannot sign the request: %s", out.error[0] ? out.error : sigv4_status_str(st));
        sigv4_output_clean_up(&out);
        return false;
    }
    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++)
        h->line[h->n++] = xasprintf("%.*s: %.*s", (int)hs[i].name.len, hs[i].name.ptr, (int)hs[i].value.len,
                                    hs[i].value.ptr);
    for (size_t i = 0; i < out.n_headers && h->n < DDB_MAX_HEADER_LINES; i++)
        h->line[h->n++] = xasprintf("%s: %s", out.headers[i].name, out.headers[i].value);
    h->line[h->n] = NULL;
    sigv4_output_clean_up(&out);
    return true;
}

/* ---- bodies ---- */

void ddb_body_describe(buf *out, const char *table)
{
    buf_puts(out, "{\"TableName\":");
    json_put_string(out, table, strlen(table));
    buf_putc(out, '}');
}

void ddb_body_batch_element(buf *out, bool is_delete, const char *av, size_t av_len)
{
    buf_puts(out, is_delete ? "{\"DeleteRequest\":{\"Key\":" : "{\"PutRequest\":{\"Item\":");
    buf_put(out, av, av_len);
    buf_puts(out, "}}");
}

void ddb_body_single(buf *out, const char *table, bool is_delete, const char *av, size_t av_len)
{
    buf_puts(out, "{\"TableName\":");
    json_put_string(out, table, strlen(table));
    buf_puts(out, is_delete ? ",\"Key\":" : ",\"Item\":");
    buf_put(out, av, av_len);
    buf_putc(out, '}');
}

/* ---- responses ---- */

bool ddb_crc_ok(const char *header, const char *body, size_t len)
{
    if (header == NULL)
        return true;
    char *end;
    unsigned long long want = strtoull(header, &end, 10);
    if (end == header || *end != '\0')
        return false;
    uLong crc = crc32(0L, Z_NULL, 0);
    const Bytef *p = (const Bytef *)body;
    while (len) { /* crc32 takes a uInt length */
        uInt take = len > (1u << 30) ? (1u << 30) : (uInt)len;
        crc = crc32(crc, p, take);
        p += take;
        len -= take;
    }
    return want == (unsigned long long)crc;
}

/* Finds needle in (s, n); NULL when absent. */
static const char *find(const char *s, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    if (k == 0 || k > n)
        return NULL;
    for (size_t i = 0; i + k <= n; i++)
        if (s[i] == needle[0] && memcmp(s + i, needle, k) == 0)
            return s + i;
    return NULL;
}

static void redact(buf *b, const char *secret)
{
    if (secret == NULL || strlen(secret) < 4 || b->data == NULL)
        return;
    size_t k = strlen(secret);
    const char *hit;
    while ((hit = find(b->data, b->len, secret)) != NULL) {
        size_t at = (size_t)(hit - b->data);
        buf t;
        buf_init(&t, b->max_bytes + 64);
        buf_put(&t, b->data, at);
        buf_puts(&t, "[redacted]");
        buf_put(&t, b->data + at + k, b->len - at - k);
        buf_clean_up_secret(b);
        *b = t;
    }
}

char *ddb_scrub(const char *msg, size_t len, const creds *c)
{
    static const char *const cuts[] = {"The Canonical String", "The String-to-Sign", "Canonical String",
                                       "String-to-Sign", "StringToSign", "CanonicalRequest"};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        const char *hit = find(msg, len, cuts[i]);
        if (hit)
            len = (size_t)(hit - msg);
    }
    buf b;
    buf_init(&b, len + 16);
    buf_put(&b, msg, len);
    if (c) {
        redact(&b, c->secret_access_key);
        redact(&b, c->session_token);
    }
    /* Trim whitespace, then cap at a UTF-8 boundary. */
    size_t n = b.len, start = 0;
    while (start < n && (b.data[start] == ' ' || b.data[start] == '\n' || b.data[start] == '\r' ||
                         b.data[start] == '\t'))
        start++;
    while (n > start && (b.data[n - 1] == ' ' || b.data[n - 1] == '\n' || b.data[n - 1] == '\r' ||
                         b.data[n - 1] == '\t'))
        n--;
    bool capped = false;
    if (n - start > DDB_MESSAGE_MAX) {
        n = start + DDB_MESSAGE_MAX;
        while (n > start && ((unsigned char)b.data[n] & 0xC0) == 0x80)
            n--;
        capped = true;
    }
    char *out = xasprintf("%.*s%s", (int)(n - start), b.data ? b.data + start : "", capped ? "..." : "");
    buf_clean_up_secret(&b);
    return out;
}

void ddb_parse_error(long status, const char *body, size_t len, const char *errtype_header, const creds *c,
                     char *type, size_t type_cap, char **message)
{
    type[0] = '\0';
    *message = NULL;
    arena *a = arena_new(1024);
    char *perr = NULL;
    json_value *v = body && len ? json_parse(body, len, a, 16, &perr) : NULL;
    free(perr);
    size_t tlen = 0;
    const char *t = v ? json_get_str(v, "__type", &tlen) : NULL;
    if (t == NULL)
        t = v ? json_get_str(v, "code", &tlen) : NULL;
    if (t) {
        const char *hash = memchr(t, '#', tlen) ? strrchr(t, '#') : NULL;
        if (hash) {
            tlen -= (size_t)(hash + 1 - t);
            t = hash + 1;
        }
    } else if (errtype_header && *errtype_header) {
        t = errtype_header;
        tlen = strcspn(t, ":");
    }
    if (t && tlen && type_cap) {
        size_t k = tlen < type_cap - 1 ? tlen : type_cap - 1;
        size_t ok = 0;
        while (ok < k && ((t[ok] >= 'A' && t[ok] <= 'Z') || (t[ok] >= 'a' && t[ok] <= 'z') ||
                          (t[ok] >= '0' && t[ok] <= '9') || t[ok] == '_' || t[ok] == '.' || t[ok] == '-'))
            ok++;
        memcpy(type, t, ok);
        type[ok] = '\0';
    }
    size_t mlen = 0;
    const char *m = v ? json_get_str(v, "message", &mlen) : NULL;
    if (m == NULL && v)
        m = json_get_str(v, "Message", &mlen);
    if (m && mlen)
        *message = ddb_scrub(m, mlen, c);
    else
        *message = xasprintf("HTTP %ld", status);
    arena_free(a);
}

bool ddb_http_date_ms(const char *s, int64_t *ms_out)
{
    time_t t = curl_getdate(s, NULL);
    /* Years past 9999 are no server's clock (and year 2014163275 overflowed
     * the milliseconds: found by the ddb_response fuzzer). */
    if (t == (time_t)-1 || t < 0 || t > (time_t)253402300799) /* 9999-12-31T23:59:59Z */
        return false;
    *ms_out = (int64_t)t * 1000;
    return true;
}

bool ddb_json_key(const json_value *obj, const char *hash, const char *range, buf *out)
{
    const json_value *h = json_get(obj, hash);
    if (h == NULL)
        return false;
    json_write(h, out);
    if (range) {
        const json_value *r = json_get(obj, range);
        if (r == NULL)
            return false;
        buf_putc(out, '\x1f');
        json_write(r, out);
    }
    return true;
}
