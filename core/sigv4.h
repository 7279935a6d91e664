/* sigv4.h: AWS Signature Version 4, header-based (the Authorization header).
 *
 * Signing is a pure function of the request (method, path, query, headers,
 * payload or its hash), the credentials, the region and service, and a time
 * passed in: no I/O and no clock of its own, so fixed-time test vectors run
 * against it. It follows the AWS SigV4 specification as botocore (SigV4Auth,
 * S3SigV4Auth) and aws-c-auth implement it:
 *
 *   - canonical URI: `path` is the request target's path as it goes on the
 *     wire (already percent-encoded; empty means "/"; it must start with
 *     '/'). Except for S3, '.' and '..' segments and repeated slashes are
 *     removed (RFC 3986 section 5.2.4, plus AWS's slash rule), then every
 *     byte but A-Za-z0-9-_.~ and '/' is percent-encoded, '%' included: the
 *     wire form is encoded a second time, as AWS services do. For S3 the path
 *     is neither normalised nor re-encoded: it is expected in canonical form,
 *     and only bytes that may not appear in a URI at all are encoded (a '%'
 *     that starts a %XX escape is kept);
 *   - canonical query: `query` (what follows '?', as on the wire) is split on
 *     '&' (empty pieces ignored) and each piece on its first '='; names and
 *     values are percent-decoded ('+' stays '+', a malformed escape stays
 *     literal), then encoded apart (unreserved bytes kept, others %XX with
 *     uppercase hex, space as %20), sorted by name then value, bytewise; a
 *     missing value is kept as "name=";
 *   - canonical headers: names lower-cased and sorted, values trimmed with
 *     inner runs of spaces and tabs folded to one space, repeated headers
 *     joined with ',' in the order given. Every header passed is signed
 *     except the hop-by-hop and proxy-rewritten ones (connection, expect,
 *     keep-alive, proxy-authorization, proxy-connection, te, trailer,
 *     transfer-encoding, upgrade, user-agent, x-amzn-trace-id, and the
 *     sec-websocket-* handshake headers), which may still be sent unsigned;
 *   - payload: the hex SHA-256 of `body`, or `payload_hash` as given;
 *   - the signer adds, and signs, X-Amz-Date, X-Amz-Security-Token when the
 *     credentials carry a session token, and X-Amz-Content-Sha256 for S3.
 *
 * The request must carry a Host header (it is always signed). The headers
 * the signer adds (Authorization, X-Amz-Date, X-Amz-Security-Token,
 * X-Amz-Content-Sha256) may not be passed in.
 *
 * Inputs are arbitrary bytes: anything over a cap below, or that cannot be
 * sent in an HTTP/1.1 header (a control byte, a name that is not a token), is
 * refused with a status and a message naming the field; nothing is read past
 * a view's length.
 *
 * Views are not copied and need not be NUL-terminated; the output holds its
 * own copies of everything it returns. */
#ifndef TM_SIGV4_H
#define TM_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "buf.h"
#include "mem.h"

/* Caps on inputs. */
#define SIGV4_MAX_METHOD_BYTES 32
#define SIGV4_MAX_PATH_BYTES 4096
#define SIGV4_MAX_QUERY_BYTES 8192
#define SIGV4_MAX_QUERY_PARAMS 256
#define SIGV4_MAX_HEADERS 64
#define SIGV4_MAX_HEADER_NAME_BYTES 128
#define SIGV4_MAX_HEADER_VALUE_BYTES 8192
#define SIGV4_MAX_HEADERS_BYTES 32768 /* names and values of all headers */
#define SIGV4_MAX_SCOPE_BYTES 64      /* region, service */
#define SIGV4_MAX_ACCESS_KEY_BYTES 128
#define SIGV4_MAX_SECRET_BYTES 128
#define SIGV4_MAX_TOKEN_BYTES 8192

/* (pointer, length); ptr may be NULL when len is 0. */
typedef struct sigv4_view {
    const char *ptr;
    size_t len;
} sigv4_view;

#define SIGV4_LIT(s) ((sigv4_view){(s), sizeof(s) - 1})

/* A view of a NUL-terminated string (NULL gives an empty view). */
sigv4_view sigv4_cstr(const char *s);

typedef struct sigv4_header {
    sigv4_view name, value;
} sigv4_header;

/* Flags of a request. A service named "s3" always gets SIGV4_S3. */
enum {
    SIGV4_NO_NORMALIZE = 1u << 0,   /* keep '.', '..' and '//' in the path */
    SIGV4_SINGLE_ENCODE = 1u << 1,  /* the path is not encoded a second time */
    SIGV4_CONTENT_SHA256 = 1u << 2, /* add and sign X-Amz-Content-Sha256 */
    SIGV4_S3 = SIGV4_NO_NORMALIZE | SIGV4_SINGLE_ENCODE | SIGV4_CONTENT_SHA256,
};

typedef struct sigv4_request {
    sigv4_view method;          /* "POST": an HTTP token, used as given */
    sigv4_view path;            /* "/", as on the wire, without the query */
    sigv4_view query;           /* after '?', as on the wire; empty for none */
    const sigv4_header *headers; /* n_headers of them, Host among them */
    size_t n_headers;
    sigv4_view body;            /* hashed, unless payload_hash is set */
    sigv4_view payload_hash;    /* 64 lowercase hex digits, or a literal
                                   UNSIGNED-... or STREAMING-... ([A-Z0-9-],
                                   up to 64 bytes); empty: hash the body */
    sigv4_view region;          /* "us-east-1" */
    sigv4_view service;         /* "dynamodb" */
    time_t time;                /* the signing time, 1970..9999 */
    unsigned flags;             /* SIGV4_* above */
} sigv4_request;

typedef struct sigv4_credentials {
    sigv4_view access_key_id;     /* visible ASCII but , / ; = */
    sigv4_view secret_access_key; /* any bytes, 1..SIGV4_MAX_SECRET_BYTES */
    sigv4_view session_token;     /* empty for long-term keys; visible ASCII */
} sigv4_credentials;

typedef enum sigv4_status {
    SIGV4_OK = 0,
    SIGV4_ERR_ARGUMENT,        /* a NULL where a value is required */
    SIGV4_ERR_METHOD,          /* empty, over the cap, or not a token */
    SIGV4_ERR_PATH,            /* over the cap, or not starting with '/' */
    SIGV4_ERR_QUERY,           /* over the byte or parameter cap */
    SIGV4_ERR_HEADER_COUNT,    /* over SIGV4_MAX_HEADERS */
    SIGV4_ERR_HEADER_NAME,     /* empty, over the cap, or not a token */
    SIGV4_ERR_HEADER_VALUE,    /* over the cap, or a control byte but tab */
    SIGV4_ERR_HEADERS_BYTES,   /* all headers over SIGV4_MAX_HEADERS_BYTES */
    SIGV4_ERR_HEADER_RESERVED, /* a header the signer sets was passed in */
    SIGV4_ERR_NO_HOST,         /* no Host header */
    SIGV4_ERR_PAYLOAD_HASH,    /* not a hex SHA-256 nor an UNSIGNED-/STREAMING- literal */
    SIGV4_ERR_SCOPE,           /* region or service empty, long or not [A-Za-z0-9._-] */
    SIGV4_ERR_CREDENTIALS,     /* access key, secret or token empty/long/bad byte */
    SIGV4_ERR_TIME,            /* before 1970 or after 9999 */
    SIGV4_ERR_CRYPTO,          /* OpenSSL failed */
} sigv4_status;

/* A sentence naming the status (static storage). */
const char *sigv4_status_str(sigv4_status st);

/* A header to add to the request: name and value are NUL-terminated and
 * owned by the output. */
typedef struct sigv4_out_header {
    const char *name;
    const char *value;
} sigv4_out_header;

/* What a signing produces, in caller storage. Reuse one output for many
 * signings: its buffers keep their storage. It may hold the session token:
 * sigv4_output_clean_up wipes it. */
typedef struct sigv4_output {
    /* Authorization, X-Amz-Date, then X-Amz-Security-Token and
     * X-Amz-Content-Sha256 when they apply. */
    sigv4_out_header headers[4];
    size_t n_headers;
    char amz_date[17];      /* 20150830T123600Z */
    char payload_hash[65];  /* as signed */
    char signature[65];     /* lowercase hex */
    buf authorization;      /* the Authorization value */
    buf canonical_request;  /* for tests and debugging: what was hashed */
    buf string_to_sign;
    buf signed_headers;     /* "host;x-amz-date" */
    char error[200];        /* on failure: which field, and why */
    /* private */
    buf token;
    buf scratch;
} sigv4_output;

void sigv4_output_init(sigv4_output *out);
/* Wipes and frees; NULL-safe and idempotent. */
void sigv4_output_clean_up(sigv4_output *out);

/* A signer: crypto contexts and a small cache of derived signing keys, keyed
 * by (date, region, service, secret key). It holds secret material, wiped by
 * sigv4_signer_free. Use one signer from one thread at a time. */
typedef struct sigv4_signer sigv4_signer;

sigv4_signer *sigv4_signer_new(void);
/* Wipes and frees; NULL-safe. */
void sigv4_signer_free(sigv4_signer *s);

/* Signs req with cred. signer may be NULL (no cache: slower, same result).
 * On SIGV4_OK, out holds the headers to add and every stage of the
 * signature; otherwise out->error says which input was refused and why (it
 * never quotes a secret or a token), and the rest of out is unspecified. */
sigv4_status sigv4_sign(sigv4_signer *signer, const sigv4_request *req, const sigv4_credentials *cred,
                        sigv4_output *out) TM_MUST_CHECK;

/* The signing key of (secret, date "YYYYMMDD", region, service) into
 * key_out, as AWS documents its derivation. The caller wipes key_out. */
sigv4_status sigv4_signing_key(sigv4_view secret, sigv4_view date, sigv4_view region, sigv4_view service,
                               unsigned char key_out[32]) TM_MUST_CHECK;

#endif
