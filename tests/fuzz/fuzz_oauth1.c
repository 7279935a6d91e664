/* fuzz_oauth1.c: OAuth 1.0a percent-encoding and base strings.
 *
 * oauth1_encode must emit only unreserved bytes and %XX (upper-case hex)
 * and decode back to its input. Then fields cut at '\n' (method, URL, form
 * body, nonce, timestamp, four keys) go through oauth1_base_uri,
 * oauth1_base_string and oauth1_authorization, which must agree on whether
 * the URL is usable. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fuzz_split.h"
#include "mem.h"
#include "oauth1.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1; /* lower-case hex is not allowed either */
}

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static void check_encode(const char *s, size_t n)
{
    buf out;
    buf_init(&out, (size_t)16 << 20);
    oauth1_encode(&out, s, n);
    if (out.failed)
        abort();
    size_t j = 0;
    for (size_t i = 0; i < out.len;) {
        unsigned char c = (unsigned char)out.data[i];
        unsigned char want;
        if (c == '%') {
            if (i + 2 >= out.len)
                abort();
            int hi = hexval(out.data[i + 1]), lo = hexval(out.data[i + 2]);
            if (hi < 0 || lo < 0)
                abort();
            want = (unsigned char)(hi * 16 + lo);
            if (unreserved(want))
                abort(); /* an unreserved byte must not be escaped */
            i += 3;
        } else {
            if (!unreserved(c))
                abort();
            want = c;
            i++;
        }
        if (j >= n || (unsigned char)s[j] != want)
            abort();
        j++;
    }
    if (j != n)
        abort();
    buf_clean_up(&out);
}

static char *cstr(fuzz_field f)
{
    char *s = malloc(f.len + 1);
    memcpy(s, f.ptr, f.len);
    s[f.len] = '\0';
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_encode((const char *)data, size);

    fuzz_field f[9];
    fuzz_split(data, size, '\n', f, 9);
    char *method = cstr(f[0]), *url = cstr(f[1]), *nonce = cstr(f[3]), *ts = cstr(f[4]);
    char *ck = cstr(f[5]), *cs = cstr(f[6]), *tk = cstr(f[7]), *tks = cstr(f[8]);
    oauth1_keys k = {ck, cs, tk, tks};
    /* The form body as its own heap block of exactly its length. */
    char *form = f[2].len ? malloc(f[2].len) : NULL;
    if (form)
        memcpy(form, f[2].ptr, f[2].len);

    buf u, b;
    buf_init(&u, (size_t)16 << 20);
    buf_init(&b, (size_t)16 << 20);
    bool ok_uri = oauth1_base_uri(&u, url);
    if (!ok_uri && u.len)
        abort(); /* nothing appended on failure */
    bool ok_base = oauth1_base_string(&b, method, url, form, f[2].len, &k, nonce, ts);
    if (ok_uri != ok_base)
        abort();
    if (ok_base) {
        char sig[OAUTH1_SIGNATURE_MAX];
        oauth1_sign(b.data, b.len, &k, sig);
        if (strlen(sig) != 28)
            abort();
    }
    char *auth = oauth1_authorization(method, url, form, f[2].len, &k, nonce, ts);
    if ((auth != NULL) != ok_uri)
        abort();
    if (auth) {
        if (strncmp(auth, "OAuth ", 6) != 0 || strpbrk(auth, "\r\n"))
            abort();
        mem_free_secret(auth);
    }
    buf_clean_up(&u);
    buf_clean_up_secret(&b);
    free(form);
    free(method), free(url), free(nonce), free(ts), free(ck), free(cs), free(tk), free(tks);
    return 0;
}
