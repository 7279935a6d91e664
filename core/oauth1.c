/* oauth1.c: see oauth1.h. */
#include "oauth1.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void oauth1_encode(buf *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                     c == '.' || c == '_' || c == '~';
        if (plain)
            continue;
        buf_put(out, s + run, i - run);
        char e[3] = {'%', hex[c >> 4], hex[c & 15]};
        buf_put(out, e, 3);
        run = i + 1;
    }
    buf_put(out, s + run, n - run);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes (s, n) as a form-urlencoded name or value into out. */
static void form_decode(buf *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            buf_putc(out, ' ');
        } else if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            buf_putc(out, (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2])));
            i += 2;
        } else {
            buf_putc(out, s[i]);
        }
    }
}

typedef struct param {
    char *name;  /* encoded */
    char *value; /* encoded */
} param;

typedef struct params {
    param *p;
    size_t n, cap;
} params;

/* Adds a pair given raw (decoded) name and value. */
static void add_raw(params *ps, const char *name, size_t nn, const char *value, size_t vn)
{
    if (ps->n == ps->cap) {
        ps->cap = ps->cap ? ps->cap * 2 : 16;
        ps->p = xrealloc(ps->p, ps->cap * sizeof *ps->p);
    }
    buf b;
    buf_init(&b, (size_t)1 << 30);
    oauth1_encode(&b, name, nn);
    ps->p[ps->n].name = b.data ? buf_steal(&b, NULL) : xstrdup("");
    buf_init(&b, (size_t)1 << 30);
    oauth1_encode(&b, value, vn);
    ps->p[ps->n].value = b.data ? buf_steal(&b, NULL) : xstrdup("");
    ps->n++;
}

/* Adds the pairs of a form-urlencoded string (a query or a body). */
static void add_form(params *ps, const char *s, size_t n)
{
    buf name, value;
    buf_init(&name, (size_t)1 << 30);
    buf_init(&value, (size_t)1 << 30);
    size_t i = 0;
    while (i < n) {
        const char *amp = memchr(s + i, '&', n - i);
        size_t end = amp ? (size_t)(amp - s) : n;
        if (end > i) {
            const char *eq = memchr(s + i, '=', end - i);
            size_t ne = eq ? (size_t)(eq - s) : end;
            buf_reset(&name);
            buf_reset(&value);
            form_decode(&name, s + i, ne - i);
            if (eq)
                form_decode(&value, eq + 1, end - ne - 1);
            add_raw(ps, name.data ? name.data : "", name.len, value.data ? value.data : "", value.len);
        }
        i = end + 1;
    }
    buf_clean_up(&name);
    buf_clean_up(&value);
}

static int param_cmp(const void *a, const void *b)
{
    const param *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

static void params_free(params *ps)
{
    for (size_t i = 0; i < ps->n; i++) {
        /* oauth_token and oauth_consumer_key are credentials too. */
        mem_free_secret(ps->p[i].name);
        mem_free_secret(ps->p[i].value);
    }
    free(ps->p);
}

/* Splits an absolute http(s) URL: the base string URI goes to out (when
 * not NULL), the query (without '?') to *q, *qn. */
static bool split_url(const char *url, buf *out, const char **q, size_t *qn)
{
    size_t slen;
    bool https;
    if (strncasecmp(url, "http://", 7) == 0) {
        slen = 7;
        https = false;
    } else if (strncasecmp(url, "https://", 8) == 0) {
        slen = 8;
        https = true;
    } else {
        return false;
    }
    const char *auth = url + slen;
    size_t alen = strcspn(auth, "/?#");
    if (alen == 0)
        return false;
    /* Drop user info: everything up to the last '@' of the authority. */
    const char *host = auth;
    for (size_t i = 0; i < alen; i++)
        if (auth[i] == '@')
            host = auth + i + 1;
    size_t hlen = (size_t)(auth + alen - host);
    if (hlen == 0)
        return false;
    /* The port: after the last ':' not inside an IPv6 literal. */
    size_t name_len = hlen;
    const char *port = NULL;
    size_t port_len = 0;
    for (size_t i = hlen; i-- > 0;) {
        if (host[i] == ']')
            break;
        if (host[i] == ':') {
            name_len = i;
            port = host + i + 1;
            port_len = hlen - i - 1;
            break;
        }
    }
    const char *path = auth + alen;
    size_t plen = strcspn(path, "?#");
    if (out) {
        buf_puts(out, https ? "https://" : "http://");
        for (size_t i = 0; i < name_len; i++) {
            char c = host[i];
            buf_putc(out, (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c);
        }
        bool default_port = port_len == 0 || (https && port_len == 3 && memcmp(port, "443", 3) == 0) ||
                            (!https && port_len == 2 && memcmp(port, "80", 2) == 0);
        if (!default_port) {
            buf_putc(out, ':');
            buf_put(out, port, port_len);
        }
        if (plen)
            buf_put(out, path, plen);
        else
            buf_putc(out, '/');
    }
    *q = NULL;
    *qn = 0;
    if (path[plen] == '?') {
        *q = path + plen + 1;
        *qn = strcspn(*q, "#");
    }
    return true;
}

bool oauth1_base_uri(buf *out, const char *url)
{
    const char *q;
    size_t qn;
    buf tmp;
    buf_init(&tmp, (size_t)1 << 20);
    bool ok = split_url(url, &tmp, &q, &qn);
    if (ok)
        buf_put(out, tmp.data, tmp.len);
    buf_clean_up(&tmp);
    return ok;
}

bool oauth1_base_string(buf *out, const char *method, const char *url, const char *form, size_t form_len,
                        const oauth1_keys *k, const char *nonce, const char *timestamp)
{
    buf uri;
    buf_init(&uri, (size_t)1 << 20);
    const char *q;
    size_t qn;
    if (!split_url(url, &uri, &q, &qn)) {
        buf_clean_up(&uri);
        return false;
    }
    params ps = {0};
    if (q)
        add_form(&ps, q, qn);
    if (form)
        add_form(&ps, form, form_len);
    static const char *const names[] = {"oauth_consumer_key", "oauth_nonce", "oauth_signature_method",
                                        "oauth_timestamp", "oauth_token", "oauth_version"};
    const char *values[] = {k->consumer_key, nonce, "HMAC-SHA1", timestamp, k->token, "1.0"};
    for (size_t i = 0; i < 6; i++)
        add_raw(&ps, names[i], strlen(names[i]), values[i], strlen(values[i]));
    qsort(ps.p, ps.n, sizeof *ps.p, param_cmp);

    buf joined;
    buf_init(&joined, (size_t)1 << 30);
    for (size_t i = 0; i < ps.n; i++) {
        if (i)
            buf_putc(&joined, '&');
        buf_puts(&joined, ps.p[i].name);
        buf_putc(&joined, '=');
        buf_puts(&joined, ps.p[i].value);
    }
    for (const char *m = method; *m; m++)
        buf_putc(out, (*m >= 'a' && *m <= 'z') ? (char)(*m - 'a' + 'A') : *m);
    buf_putc(out, '&');
    oauth1_encode(out, uri.data, uri.len);
    buf_putc(out, '&');
    oauth1_encode(out, joined.data ? joined.data : "", joined.len);
    buf_clean_up_secret(&joined);
    buf_clean_up(&uri);
    params_free(&ps);
    return true;
}

void oauth1_sign(const char *base, size_t n, const oauth1_keys *k, char out[OAUTH1_SIGNATURE_MAX])
{
    buf key;
    buf_init(&key, (size_t)1 << 20);
    oauth1_encode(&key, k->consumer_secret, strlen(k->consumer_secret));
    buf_putc(&key, '&');
    oauth1_encode(&key, k->token_secret, strlen(k->token_secret));
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (HMAC(EVP_sha1(), key.data, (int)key.len, (const unsigned char *)base, n, md, &md_len) == NULL) {
        /* Only a broken OpenSSL gets here; like a failed allocation. */
        fprintf(stderr, "tweetmatch: OpenSSL cannot compute HMAC-SHA1\n");
        abort();
    }
    buf_clean_up_secret(&key);
    EVP_EncodeBlock((unsigned char *)out, md, (int)md_len);
    mem_wipe(md, sizeof md);
}

char *oauth1_authorization(const char *method, const char *url, const char *form, size_t form_len,
                           const oauth1_keys *k, const char *nonce, const char *timestamp)
{
    buf base;
    buf_init(&base, (size_t)1 << 30);
    if (!oauth1_base_string(&base, method, url, form, form_len, k, nonce, timestamp)) {
        buf_clean_up_secret(&base);
        return NULL;
    }
    char sig[OAUTH1_SIGNATURE_MAX];
    oauth1_sign(base.data, base.len, k, sig);
    buf_clean_up_secret(&base);

    static const char *const names[] = {"oauth_consumer_key", "oauth_nonce", "oauth_signature",
                                        "oauth_signature_method", "oauth_timestamp", "oauth_token",
                                        "oauth_version"};
    const char *values[] = {k->consumer_key, nonce, sig, "HMAC-SHA1", timestamp, k->token, "1.0"};
    buf h;
    buf_init(&h, (size_t)1 << 20);
    buf_puts(&h, "OAuth ");
    for (size_t i = 0; i < 7; i++) {
        if (i)
            buf_puts(&h, ", ");
        buf_puts(&h, names[i]);
        buf_puts(&h, "=\"");
        oauth1_encode(&h, values[i], strlen(values[i]));
        buf_putc(&h, '"');
    }
    mem_wipe(sig, sizeof sig);
    return buf_steal(&h, NULL);
}

void oauth1_nonce(char out[OAUTH1_NONCE_LEN + 1], uint64_t (*rnd)(void *ud), void *ud)
{
    static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    for (size_t i = 0; i < OAUTH1_NONCE_LEN; i++)
        out[i] = alnum[rnd(ud) % 62];
    out[OAUTH1_NONCE_LEN] = '\0';
}
