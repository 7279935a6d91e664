/* rss_floor.c: the memory floor under tweetmatch, for the pipeline benchmark.
 *
 * Linked against exactly the libraries tweetmatch is (tmcore: Debian's
 * libcurl with all its dependencies, OpenSSL, Lua, lua-cjson), it does the
 * least a program doing tweetmatch's job must: initialise libcurl and make
 * one HTTP request. Its peak RSS is what no code of ours can go below with
 * these packages; the benchmark prints it beside tweetmatch's.
 *
 *   tm_rss_floor URL     prints "<VmHWM KiB> <RssAnon KiB> <RssFile KiB>"
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n;
}

static long status_kib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return -1;
    char line[256];
    long v = -1;
    size_t n = strlen(field);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0 && line[n] == ':')
            v = strtol(line + n + 1, NULL, 10);
    fclose(f);
    return v;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: tm_rss_floor URL\n");
        return 2;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "tm_rss_floor: curl_global_init failed\n");
        return 1;
    }
    CURL *e = curl_easy_init();
    if (e == NULL) {
        fprintf(stderr, "tm_rss_floor: curl_easy_init failed\n");
        return 1;
    }
    curl_easy_setopt(e, CURLOPT_URL, argv[1]);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    CURLcode rc = curl_easy_perform(e);
    if (rc != CURLE_OK) {
        fprintf(stderr, "tm_rss_floor: %s: %s\n", argv[1], curl_easy_strerror(rc));
        return 1;
    }
    printf("%ld %ld %ld\n", status_kib("VmHWM"), status_kib("RssAnon"), status_kib("RssFile"));
    curl_easy_cleanup(e);
    curl_global_cleanup();
    return 0;
}
