/* fuzz_sigv4.c: SigV4 signing of arbitrary requests.
 *
 * Input: byte 0 = flags, bytes 1..4 = time, then fields cut at '\n':
 * method, path, query, body, payload_hash, region, service, access key,
 * secret, token, then header name/value pairs. sigv4_sign must return a
 * status and never crash; a success must hold a 64-hex signature, and the
 * same request signed with and without a signer (cache) must agree. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_split.h"
#include "sigv4.h"

#define N_FIXED 10
#define MAX_FIELDS (N_FIXED + 2 * (SIGV4_MAX_HEADERS + 2))

static sigv4_view view(fuzz_field f)
{
    return (sigv4_view){f.ptr, f.len};
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static sigv4_signer *signer;
    if (!signer)
        signer = sigv4_signer_new();
    if (size < 5)
        return 0;
    unsigned flags = data[0] & 7u;
    /* 1970 .. about 2106 and beyond the 9999 cap when the top bit is set. */
    uint32_t t32 = (uint32_t)data[1] << 24 | (uint32_t)data[2] << 16 | (uint32_t)data[3] << 8 | data[4];
    time_t t = (data[0] & 0x80u) ? (time_t)t32 * 64 : (time_t)t32;
    if (data[0] & 0x40u)
        t = -t;
    fuzz_field f[MAX_FIELDS];
    size_t n = fuzz_split(data + 5, size - 5, '\n', f, MAX_FIELDS);
    sigv4_header hdr[SIGV4_MAX_HEADERS + 2];
    size_t nh = 0;
    for (size_t i = N_FIXED; i < n && i + 1 < MAX_FIELDS; i += 2)
        hdr[nh++] = (sigv4_header){view(f[i]), view(f[i + 1])};
    sigv4_request req = {
        .method = view(f[0]), .path = view(f[1]), .query = view(f[2]), .body = view(f[3]),
        .payload_hash = view(f[4]), .region = view(f[5]), .service = view(f[6]),
        .headers = hdr, .n_headers = nh, .time = t, .flags = flags,
    };
    sigv4_credentials cred = {view(f[7]), view(f[8]), view(f[9])};

    sigv4_output o1, o2;
    sigv4_output_init(&o1);
    sigv4_output_init(&o2);
    sigv4_status s1 = sigv4_sign(signer, &req, &cred, &o1);
    sigv4_status s2 = sigv4_sign(NULL, &req, &cred, &o2);
    if (s1 != s2)
        abort();
    if (s1 > SIGV4_ERR_CRYPTO || !sigv4_status_str(s1))
        abort();
    if (s1 == SIGV4_OK) {
        if (strlen(o1.signature) != 64 || strspn(o1.signature, "0123456789abcdef") != 64)
            abort();
        if (strcmp(o1.signature, o2.signature) != 0)
            abort();
        if (o1.n_headers < 2 || o1.n_headers > 4)
            abort();
        for (size_t i = 0; i < o1.n_headers; i++)
            if (!o1.headers[i].name || !o1.headers[i].value)
                abort();
    } else if (o1.error[0] == '\0' || !memchr(o1.error, '\0', sizeof o1.error)) {
        abort(); /* a refusal must say why */
    }
    sigv4_output_clean_up(&o1);
    sigv4_output_clean_up(&o1);
    sigv4_output_clean_up(&o2);
    return 0;
}
