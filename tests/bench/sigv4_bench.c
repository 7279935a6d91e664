/* sigv4_bench.c: the cost of signing a DynamoDB BatchWriteItem request.
 *
 *   tm_sigv4_bench [RUNS [ITERATIONS]]     (default 9 runs of 2000)
 *
 * The request is what the writer sends: POST / to dynamodb.us-east-1 with
 * host, content-type application/x-amz-json-1.0 and x-amz-target
 * DynamoDB_20120810.BatchWriteItem, a 25-item body of about 100 KB, and
 * session credentials (a 1 KB token). Each run times, interleaved:
 *   sign     sigv4_sign with a warm signer (cached key), hashing the body;
 *   sha256   OpenSSL's SHA-256 of the same body, alone;
 *   prehash  sigv4_sign given the body's hash (no body hashing at all);
 *   cold     sigv4_sign without a signer (key derivation, OpenSSL fetches).
 * Figures are medians over the runs of the mean per operation. The goal: a
 * signature costs under 10 us beyond hashing its payload (sign - sha256, and
 * prehash, which measures the same thing directly). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "buf.h"
#include "sigv4.h"

#define MAX_RUNS 101

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* 25 PutRequests of tweet-shaped items, about 4 KB each. */
static char *batch_body(size_t *len)
{
    buf b;
    buf_init(&b, (size_t)1 << 20);
    buf_puts(&b, "{\"RequestItems\":{\"tweets\":[");
    for (int i = 0; i < 25; i++) {
        buf_printf(&b,
                   "%s{\"PutRequest\":{\"Item\":{\"id\":{\"S\":\"1050118621198921%03d\"},"
                   "\"created_at\":{\"S\":\"Wed Oct 10 20:19:24 +0000 2018\"},\"lang\":{\"S\":\"en\"},"
                   "\"text\":{\"S\":\"",
                   i ? "," : "", i);
        for (int k = 0; k < 30; k++)
            buf_printf(&b, "cloud computing %d-%d ", i, k);
        buf_puts(&b, "\"},\"user\":{\"M\":{\"screen_name\":{\"S\":\"someone\"},\"followers_count\":{\"N\":\"1234\"},"
                     "\"description\":{\"S\":\"");
        for (int k = 0; k < 60; k++)
            buf_puts(&b, "lorem ipsum ");
        buf_puts(&b, "\"}}},\"hashtags\":{\"L\":[{\"S\":\"cloud\"},{\"S\":\"computing\"}]},\"raw\":{\"S\":\"");
        for (int k = 0; k < 150; k++)
            buf_puts(&b, "0123456789abcdef");
        buf_puts(&b, "\"}}}}");
    }
    buf_puts(&b, "]}}");
    return buf_steal(&b, len);
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 9;
    long iters = argc > 2 ? atol(argv[2]) : 2000;
    if (runs < 1 || runs > MAX_RUNS || iters < 1) {
        fprintf(stderr, "usage: tm_sigv4_bench [RUNS (1..%d) [ITERATIONS]]\n", MAX_RUNS);
        return 2;
    }
    size_t body_len;
    char *body = batch_body(&body_len);
    char token[1024];
    for (size_t i = 0; i < sizeof token; i++)
        token[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[(i * 7 + 3) % 64];
    sigv4_header headers[] = {
        {SIGV4_LIT("host"), SIGV4_LIT("dynamodb.us-east-1.amazonaws.com")},
        {SIGV4_LIT("content-type"), SIGV4_LIT("application/x-amz-json-1.0")},
        {SIGV4_LIT("x-amz-target"), SIGV4_LIT("DynamoDB_20120810.BatchWriteItem")},
    };
    sigv4_request req = {
        .method = SIGV4_LIT("POST"),
        .path = SIGV4_LIT("/"),
        .headers = headers,
        .n_headers = 3,
        .body = {body, body_len},
        .region = SIGV4_LIT("us-east-1"),
        .service = SIGV4_LIT("dynamodb"),
        .time = 1717243199,
    };
    sigv4_credentials cred = {
        .access_key_id = SIGV4_LIT("ASIAIOSFODNN7EXAMPLE"),
        .secret_access_key = SIGV4_LIT("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        .session_token = {token, sizeof token},
    };
    sigv4_signer *signer = sigv4_signer_new();
    sigv4_output out;
    sigv4_output_init(&out);
    if (sigv4_sign(signer, &req, &cred, &out) != SIGV4_OK) {
        fprintf(stderr, "signing failed: %s\n", out.error);
        return 1;
    }
    char hash[65];
    memcpy(hash, out.payload_hash, sizeof hash);
    sigv4_request pre = req;
    pre.payload_hash = (sigv4_view){hash, 64};
    pre.body = (sigv4_view){NULL, 0};
    EVP_MD *sha = EVP_MD_fetch(NULL, "SHA256", NULL);
    unsigned char digest[32];
    double sign[MAX_RUNS], plain[MAX_RUNS], prehash[MAX_RUNS], cold[MAX_RUNS];
    long cold_iters = iters / 10 > 0 ? iters / 10 : 1;
    int bad = 0;
    for (int r = -1; r < runs; r++) { /* run -1 warms up */
        double t0 = now_us();
        for (long i = 0; i < iters; i++)
            bad |= sigv4_sign(signer, &req, &cred, &out) != SIGV4_OK;
        double t1 = now_us();
        for (long i = 0; i < iters; i++)
            bad |= !EVP_Digest(body, body_len, digest, NULL, sha, NULL);
        double t2 = now_us();
        for (long i = 0; i < iters; i++)
            bad |= sigv4_sign(signer, &pre, &cred, &out) != SIGV4_OK;
        double t3 = now_us();
        for (long i = 0; i < cold_iters; i++)
            bad |= sigv4_sign(NULL, &pre, &cred, &out) != SIGV4_OK;
        double t4 = now_us();
        if (r >= 0) {
            sign[r] = (t1 - t0) / (double)iters;
            plain[r] = (t2 - t1) / (double)iters;
            prehash[r] = (t3 - t2) / (double)iters;
            cold[r] = (t4 - t3) / (double)cold_iters;
        }
    }
    if (bad) {
        fprintf(stderr, "a signing or hashing failed\n");
        return 1;
    }
    double s = median(sign, runs), h = median(plain, runs), p = median(prehash, runs), c = median(cold, runs);
    printf("sigv4 benchmark: BatchWriteItem, 25 items, %zu-byte body, session token; median of %d runs of %ld\n",
           body_len, runs, iters);
    printf("  sign (hashing the body)          %8.2f us\n", s);
    printf("  OpenSSL SHA-256 of the body      %8.2f us   (%.0f MB/s)\n", h, (double)body_len / h);
    printf("  sign - SHA-256                   %8.2f us   goal < 10 us %s\n", s - h, s - h < 10 ? "met" : "MISSED");
    printf("  sign given the payload hash      %8.2f us   goal < 10 us %s\n", p, p < 10 ? "met" : "MISSED");
    printf("  sign without a signer (cold key) %8.2f us\n", c);
    printf("  canonical request %zu bytes, Authorization %zu bytes\n", out.canonical_request.len,
           out.authorization.len);
    EVP_MD_free(sha);
    sigv4_output_clean_up(&out);
    sigv4_signer_free(signer);
    free(body);
    return 0;
}
