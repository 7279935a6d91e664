/* ddb_wire.h: DynamoDB's JSON protocol on the wire, for the writer (ddb.c)
 * and its tests: the endpoint, the signed headers, request bodies, and what
 * a response says (error type and message, the x-amz-crc32 check, the Date
 * of a clock-skew error, the keys of UnprocessedItems).
 *
 * A request is `POST <path>` with exactly these headers, all signed:
 *   Host, Content-Type: application/x-amz-json-1.0,
 *   X-Amz-Target: DynamoDB_20120810.<Op>, Accept-Encoding: identity,
 *   X-Amz-Date, X-Amz-Security-Token (session credentials), Authorization.
 * (curl adds Content-Length; "Expect:" and "Accept:" lines remove its
 * defaults.) Messages from AWS are scrubbed before anyone sees them: they are
 * cut before any quoted canonical request or string to sign (which would
 * hold the session token) and any copy of the secret key or token left in
 * them is replaced. Internal: not part of the writer's contract. */
#ifndef TM_DDB_WIRE_H
#define TM_DDB_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "creds.h"
#include "json.h"
#include "mem.h"
#include "sigv4.h"

#define DDB_TARGET_PREFIX "DynamoDB_20120810."
#define DDB_CONTENT_TYPE "application/x-amz-json-1.0"
#define DDB_MESSAGE_MAX 600 /* bytes of an AWS message kept */

typedef struct ddb_endpoint {
    char *url;  /* as given, with "/" added when it has no path */
    char *host; /* the Host header: authority without a default port */
    char *path; /* "/" or the endpoint's path */
} ddb_endpoint;

/* Parses an http:// or https:// URL with no user information, query or
 * fragment. On error returns false with *err (caller frees) saying what is
 * wrong (the URL is not a secret). */
bool ddb_endpoint_parse(const char *url, ddb_endpoint *out, char **err) TM_MUST_CHECK;
void ddb_endpoint_clean_up(ddb_endpoint *e);
/* https://dynamodb.<region>.amazonaws.com (.com.cn for cn- regions);
 * caller frees. */
char *ddb_default_endpoint(const char *region);

/* DynamoDB's rules: 3..255 bytes of A-Z a-z 0-9 _ . - */
bool ddb_valid_table_name(const char *s);
/* 1..64 bytes of a-z 0-9 - */
bool ddb_valid_region(const char *s);

/* The header lines ("Name: value") of a signed request; they may hold the
 * session token and are wiped by ddb_headers_clean_up. */
#define DDB_MAX_HEADER_LINES 10
typedef struct ddb_headers {
    char *line[DDB_MAX_HEADER_LINES + 1]; /* NULL-terminated */
    size_t n;
} ddb_headers;

void ddb_headers_init(ddb_headers *h);
void ddb_headers_clean_up(ddb_headers *h);

/* Signs POST (body, len) for operation op ("BatchWriteItem") at Unix time
 * t with c, into h. signer may be NULL. On failure returns false with *err
 * (caller frees) naming the refused field (never a secret). */
bool ddb_sign(sigv4_signer *signer, const ddb_endpoint *ep, const char *region, const char *op,
              const char *body, size_t len, const creds *c, time_t t, ddb_headers *h,
              char **err) TM_MUST_CHECK;

/* Request bodies. Each appends to out. */
void ddb_body_describe(buf *out, const char *table);
/* One element of a batch: {"PutRequest":{"Item":AV}} or
 * {"DeleteRequest":{"Key":AV}}. */
void ddb_body_batch_element(buf *out, bool is_delete, const char *av, size_t av_len);
/* {"TableName":"t","Item":AV} (PutItem) or {"TableName":"t","Key":AV}. */
void ddb_body_single(buf *out, const char *table, bool is_delete, const char *av, size_t av_len);

/* True when header (the x-amz-crc32 value; NULL when absent) is the
 * CRC-32 of (body, len), or absent. */
bool ddb_crc_ok(const char *header, const char *body, size_t len);

/* What an error response says: the AWS error type (after the last '#' of
 * __type, else from the X-Amzn-ErrorType header up to ':'), into type
 * (empty when none), and a scrubbed message (caller frees; "HTTP <status>"
 * when there is none). c: the credentials the request was signed with,
 * for scrubbing; may be NULL. */
void ddb_parse_error(long status, const char *body, size_t len, const char *errtype_header,
                     const creds *c, char *type, size_t type_cap, char **message);

/* A copy of (msg, len) cut before "The Canonical String" / "The
 * String-to-Sign" (and anything after), with the secret key and session
 * token of c replaced by "[redacted]", trimmed and capped at
 * DDB_MESSAGE_MAX bytes. Caller frees. */
char *ddb_scrub(const char *msg, size_t len, const creds *c);

/* An HTTP date (the Date header) as Unix ms; false when unreadable or
 * outside 1970..9999. */
bool ddb_http_date_ms(const char *s, int64_t *ms_out);

/* The canonical key of a JSON item or key object: the AV JSON of the hash
 * key attribute, then (with a range key) "\x1f" and that of the range key,
 * as the writer forms it from an item. False when an attribute is
 * missing. */
bool ddb_json_key(const json_value *obj, const char *hash, const char *range, buf *out);

#endif
