/* http.h: one HTTP exchange over libcurl, sent exactly as described.
 *
 * The request goes out with the caller's headers and no others that matter:
 * no "Expect: 100-continue", no default "Accept", no User-Agent, no
 * redirects followed, http and https only, TLS always verified (CA bundle
 * from AWS_CA_BUNDLE when set). That is what SigV4 needs: the bytes signed
 * are the bytes sent. The response body is capped.
 *
 * This is the blocking form, for start-up and for the credential
 * providers; http_easy_setup prepares the same handle for a curl multi
 * loop. */
#ifndef TM_HTTP_H
#define TM_HTTP_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "mem.h"

typedef struct http_request {
    const char *method;         /* "GET", "PUT", "POST" */
    const char *url;            /* http:// or https:// */
    const char *const *headers; /* "Name: value", NULL-terminated; may be NULL */
    const char *body;           /* not copied; may be NULL */
    size_t body_len;
    long timeout_ms;            /* whole exchange; 0: 10 s */
    long connect_timeout_ms;    /* 0: 2 s */
    size_t max_response_bytes;  /* body cap; 0: 1 MiB */
    bool no_proxy;              /* ignore *_proxy variables (link-local endpoints) */
} http_request;

typedef struct http_response {
    long status;    /* HTTP status, 0 when none arrived */
    buf headers;    /* the raw header block of the final response */
    buf body;
    char error[256];/* what went wrong in transport, when status is 0 */
    bool timed_out;
} http_response;

/* Once per process, before any other call. */
bool http_global_init(void) TM_MUST_CHECK;

/* The settings every transfer to a remote endpoint shares: url (not
 * copied: it must outlive the transfer), http and https only, no signals,
 * no redirects, TLS always verified, against AWS_CA_BUNDLE when it is set. */
void http_setup_common(CURL *c, const char *url);

void http_response_init(http_response *r);
void http_response_clean_up(http_response *r);

/* Performs req. Returns true when a response arrived (any status), false on
 * a transport failure (r->error says what; r->timed_out for timeouts, or a
 * body over the cap). */
bool http_perform(const http_request *req, http_response *r) TM_MUST_CHECK;

/* The value of response header name (case-insensitive), trimmed, copied into
 * out (NUL-terminated, truncated to out_len - 1); false when absent. */
bool http_response_header(const http_response *r, const char *name, char *out, size_t out_len);

#endif
