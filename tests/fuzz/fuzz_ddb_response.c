/* fuzz_ddb_response.c: what the writer reads from DynamoDB responses.
 *
 * Input: byte 0 picks the HTTP status, then fields cut at '\n': body,
 * X-Amzn-ErrorType header, x-amz-crc32 header, Date header, hash key name,
 * range key name. Runs ddb_parse_error, ddb_scrub, ddb_crc_ok,
 * ddb_http_date_ms, and ddb_json_key on every element of UnprocessedItems
 * as the writer walks them. The scrubbed message must never hold the secret
 * key or the session token, must be capped, and must be valid UTF-8 when the
 * body is. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "creds.h"
#include "ddb_wire.h"
#include "fuzz_split.h"
#include "json.h"
#include "mem.h"
#include "utf8.h"

#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define TOKEN "FQoGZXIvYXdzEJr//////////wEaDOCSESSIONTOKEN"

static const long statuses[] = {200, 400, 403, 413, 429, 500, 503, 0, 301, 404, 599, -1};

static char *cstr(fuzz_field f)
{
    char *s = malloc(f.len + 1);
    memcpy(s, f.ptr, f.len);
    s[f.len] = '\0';
    return s;
}

static void check_message(const char *msg, bool body_utf8)
{
    if (!msg)
        abort();
    size_t n = strlen(msg);
    if (n > DDB_MESSAGE_MAX + 3) /* "..." marks a cut */
        abort();
    if (strstr(msg, SECRET) || strstr(msg, TOKEN))
        abort();
    if (body_utf8 && !utf8_valid(msg, n, NULL)) {
        fprintf(stderr, "scrubbed message is not UTF-8: %s\n", msg);
        abort();
    }
}

static void walk_unprocessed(const json_value *v, const char *hash, const char *range)
{
    const json_value *u = json_get(v, "UnprocessedItems");
    if (!u || u->type != JSON_OBJECT)
        return;
    buf k;
    buf_init(&k, 1 << 20);
    for (size_t t = 0; t < u->len; t++) {
        const json_value *reqs = &u->u.members[t].value;
        if (reqs->type != JSON_ARRAY)
            continue;
        for (size_t i = 0; i < reqs->len; i++) {
            const json_value *e = &reqs->u.items[i];
            const json_value *put = json_get(e, "PutRequest");
            const json_value *del = json_get(e, "DeleteRequest");
            const json_value *obj = put ? json_get(put, "Item") : del ? json_get(del, "Key") : NULL;
            buf_reset(&k);
            if (ddb_json_key(obj, hash, range, &k) && !k.failed && !utf8_valid(k.data ? k.data : "", k.len, NULL))
                abort();
        }
    }
    buf_clean_up(&k);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    long status = statuses[data[0] % (sizeof statuses / sizeof statuses[0])];
    fuzz_field f[6];
    fuzz_split(data + 1, size - 1, '\n', f, 6);
    char *body = cstr(f[0]);
    char *errtype = cstr(f[1]);
    char *crc = cstr(f[2]);
    char *date = cstr(f[3]);
    char *hash = cstr(f[4]);
    char *range = cstr(f[5]);
    bool body_utf8 = utf8_valid(f[0].ptr, f[0].len, NULL);

    creds c;
    creds_init(&c);
    c.access_key_id = strdup("AKIDEXAMPLE");
    c.secret_access_key = strdup(SECRET);
    c.session_token = strdup(TOKEN);

    char type[128];
    char *message = NULL;
    memset(type, 'x', sizeof type);
    ddb_parse_error(status, f[0].ptr, f[0].len, f[1].len || (data[0] & 0x80) ? errtype : NULL, &c, type,
                    sizeof type, &message);
    if (!memchr(type, '\0', sizeof type))
        abort();
    check_message(message, body_utf8 && utf8_valid(errtype, strlen(errtype), NULL));
    free(message);

    char *scrubbed = ddb_scrub(f[0].ptr, f[0].len, &c);
    check_message(scrubbed, body_utf8);
    free(scrubbed);
    scrubbed = ddb_scrub(f[0].ptr, f[0].len, NULL);
    if (!scrubbed)
        abort();
    free(scrubbed);

    (void)ddb_crc_ok(f[2].len ? crc : NULL, f[0].ptr, f[0].len);
    int64_t ms = 0;
    (void)ddb_http_date_ms(date, &ms);

    arena *a = arena_new(4096);
    char *err = NULL;
    json_value *v = json_parse(body, f[0].len, a, JSON_DEFAULT_MAX_DEPTH, &err);
    if (v)
        walk_unprocessed(v, hash, range[0] ? range : NULL);
    free(err);
    arena_free(a);

    creds_clean_up(&c);
    free(body), free(errtype), free(crc), free(date), free(hash), free(range);
    return 0;
}
