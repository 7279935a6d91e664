/* creds_internal.h: the parts of creds.c that tests reach without them being
 * exported in creds.h (curl's UNITTEST idea). Only creds.c and tests
 * include it; the daemon's modules use creds.h. */
#ifndef TM_CREDS_INTERNAL_H
#define TM_CREDS_INTERNAL_H

#include <stdbool.h>

#include "buf.h"
#include "creds.h"

/* Reads a credentials document, the body of a 200 response from the ECS
 * endpoint (imds false) or from IMDS's security-credentials/<role> (imds
 * true): AccessKeyId, SecretAccessKey, Token and Expiration, strings that
 * are non-empty and free of control characters (NUL included), and for
 * IMDS Code = "Success". AccessKeyId holds no space. Expiration is an ISO
 * 8601 / RFC 3339 time with a zone, years 0000-9999.
 *
 * desc names the endpoint in messages; not copied. body is not copied and
 * need not be NUL-terminated. OUT: out (initialized and empty) gets copies
 * of the three strings (caller cleans up) and the expiry in Unix ms. On
 * failure out is untouched and *err is set (caller frees) to a message that
 * starts with desc and names the field, never a value from the body (the
 * only exception: a Code made of letters, digits, '_' and '-'). */
bool creds_parse_response(const char *desc, const buf *body, bool imds, creds *out, char **err) TM_MUST_CHECK;

#endif
