/* http.c: see http.h. */
#include "http.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool http_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

void http_response_init(http_response *r)
{
    r->status = 0;
    buf_init(&r->headers, 64 << 10);
    buf_init(&r->body, 1 << 20);
    r->error[0] = '\0';
    r->timed_out = false;
}

void http_response_clean_up(http_response *r)
{
    if (r == NULL)
        return;
    buf_clean_up(&r->headers);
    buf_clean_up_secret(&r->body); /* credential responses hold secrets */
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    buf *b = ud;
    buf_put(b, p, size * n);
    return b->failed ? 0 : size * n; /* 0 aborts the transfer */
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    buf *b = ud;
    /* A new status line starts the block of a later response (after a
     * 1xx); keep only the last block. */
    if (size * n >= 5 && memcmp(p, "HTTP/", 5) == 0)
        buf_reset(b);
    buf_put(b, p, size * n);
    return size * n;
}

void http_setup_common(CURL *c, const char *url)
{
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    const char *ca = getenv("AWS_CA_BUNDLE");
    if (ca && *ca)
        curl_easy_setopt(c, CURLOPT_CAINFO, ca);
}

bool http_perform(const http_request *req, http_response *r)
{
    CURL *c = curl_easy_init();
    if (c == NULL) {
        snprintf(r->error, sizeof r->error, "cannot create a curl handle");
        return false;
    }
    r->body.max_bytes = req->max_response_bytes ? req->max_response_bytes : (size_t)1 << 20;
    buf_reset(&r->body);
    buf_reset(&r->headers);
    struct curl_slist *h = NULL;
    bool has_accept = false;
    for (const char *const *p = req->headers; p && *p; p++) {
        h = curl_slist_append(h, *p);
        if (strncasecmp(*p, "accept:", 7) == 0)
            has_accept = true;
    }
    h = curl_slist_append(h, "Expect:");
    if (!has_accept)
        h = curl_slist_append(h, "Accept:");
    char errbuf[CURL_ERROR_SIZE] = "";
    http_setup_common(c, req->url);
    if (req->no_proxy)
        curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, req->timeout_ms ? req->timeout_ms : 10000L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, req->connect_timeout_ms ? req->connect_timeout_ms : 2000L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r->headers);
    if (strcmp(req->method, "GET") == 0) {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
        if (req->body || strcmp(req->method, "HEAD") != 0) {
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? req->body : "");
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        }
    }
    CURLcode rc = curl_easy_perform(c);
    bool ok = rc == CURLE_OK;
    if (!ok) {
        r->status = 0;
        r->timed_out = rc == CURLE_OPERATION_TIMEDOUT;
        if (rc == CURLE_WRITE_ERROR && r->body.failed)
            snprintf(r->error, sizeof r->error, "response body over %zu bytes", r->body.max_bytes);
        else
            snprintf(r->error, sizeof r->error, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
    } else {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    }
    for (struct curl_slist *s = h; s; s = s->next) /* headers may carry tokens */
        mem_wipe(s->data, strlen(s->data));
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return ok;
}

bool http_response_header(const http_response *r, const char *name, char *out, size_t out_len)
{
    size_t n = strlen(name);
    const char *p = r->headers.data, *end = p ? p + r->headers.len : NULL;
    while (p && p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (eol == NULL)
            eol = end;
        if ((size_t)(eol - p) > n && p[n] == ':' && strncasecmp(p, name, n) == 0) {
            const char *v = p + n + 1, *e = eol;
            while (v < e && (*v == ' ' || *v == '\t'))
                v++;
            while (e > v && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
                e--;
            size_t len = (size_t)(e - v);
            if (out_len) {
                if (len >= out_len)
                    len = out_len - 1;
                memcpy(out, v, len);
                out[len] = '\0';
            }
            return true;
        }
        p = eol + 1;
    }
    return false;
}
