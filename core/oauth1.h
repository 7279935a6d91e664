/* oauth1.h: OAuth 1.0a request signing (RFC 5849) with HMAC-SHA1, as the
 * Twitter v1.1 API wants it.
 *
 * Signing is a pure function of the request (method, URL with its query,
 * form body), the four keys, a nonce and a timestamp: no clock and no
 * randomness of its own, so Twitter's "Creating a signature" example runs
 * against it as a fixed vector.
 *
 *   - percent-encoding (RFC 5849 3.6): every byte but ALPHA, DIGIT, '-',
 *     '.', '_' and '~' becomes %XX with upper-case hex (so a space is %20,
 *     never '+');
 *   - base string URI (3.4.1.2): scheme and host lower-cased, the port kept
 *     only when it is not the scheme's default, the path as sent (empty
 *     means "/"), no user info, query or fragment;
 *   - parameters (3.4.1.3): the query and the form body, both decoded as
 *     application/x-www-form-urlencoded ('+' is a space, %XX a byte, a
 *     malformed escape stays literal), and the oauth_* protocol parameters
 *     (not oauth_signature); each name and value encoded, sorted by name then
 *     value (byte order), joined as name=value with '&';
 *   - signing key: encode(consumer secret) '&' encode(token secret).
 *
 * The keys are secrets: nothing here logs, and what holds them (the signing
 * key, the header) is wiped before it is freed. */
#ifndef TM_OAUTH1_H
#define TM_OAUTH1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "mem.h"

typedef struct oauth1_keys {
    const char *consumer_key;    /* CONSUMERKEY */
    const char *consumer_secret; /* CONSUMERSECRETKEY */
    const char *token;           /* ACCESSTOKEN */
    const char *token_secret;    /* ACCESSTOKENSECRET */
} oauth1_keys;

/* base64 of a SHA-1 digest is 28 characters. */
#define OAUTH1_SIGNATURE_MAX 32
/* A nonce: 32 alphanumerics. */
#define OAUTH1_NONCE_LEN 32

/* Appends (s, n) percent-encoded (RFC 5849 3.6). */
void oauth1_encode(buf *out, const char *s, size_t n);

/* Appends the base string URI of url (3.4.1.2). Returns false when url is
 * not an absolute http:// or https:// URL (nothing appended). */
bool oauth1_base_uri(buf *out, const char *url) TM_MUST_CHECK;

/* Appends the signature base string (3.4.1): method '&' encode(base URI) '&'
 * encode(parameters). form is the request's form body (not copied; NULL
 * when none), nonce and timestamp the oauth_nonce and oauth_timestamp sent.
 * Returns false when url is not usable (see oauth1_base_uri). */
bool oauth1_base_string(buf *out, const char *method, const char *url, const char *form, size_t form_len,
                        const oauth1_keys *k, const char *nonce, const char *timestamp) TM_MUST_CHECK;

/* HMAC-SHA1 of (base, n) under the signing key, base64 (28 characters),
 * written NUL-terminated into out. */
void oauth1_sign(const char *base, size_t n, const oauth1_keys *k, char out[OAUTH1_SIGNATURE_MAX]);

/* The value of the Authorization header for the request:
 *   OAuth oauth_consumer_key="...", oauth_nonce="...", oauth_signature="...",
 *   oauth_signature_method="HMAC-SHA1", oauth_timestamp="...",
 *   oauth_token="...", oauth_version="1.0"
 * (each value percent-encoded). Returns NULL when url is not usable.
 * OUT: caller frees with mem_free_secret (it holds the key and token). */
char *oauth1_authorization(const char *method, const char *url, const char *form, size_t form_len,
                           const oauth1_keys *k, const char *nonce, const char *timestamp) TM_MUST_CHECK;

/* Fills out with OAUTH1_NONCE_LEN alphanumerics drawn from rnd, and a NUL. */
void oauth1_nonce(char out[OAUTH1_NONCE_LEN + 1], uint64_t (*rnd)(void *ud), void *ud);

#endif
