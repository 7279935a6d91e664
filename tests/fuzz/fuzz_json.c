/* fuzz_json.c: json_parse and json_write round trip.
 *
 * What parses must write as valid UTF-8 JSON that parses again, and the
 * second write must equal the first. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "mem.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    arena *a = arena_new(4096);
    char *err = NULL;
    json_value *v = json_parse((const char *)data, size, a, JSON_DEFAULT_MAX_DEPTH, &err);
    if (!v) {
        if (!err)
            abort(); /* a failure must say why */
        free(err);
        arena_free(a);
        return 0;
    }
    buf w1, w2;
    buf_init(&w1, (size_t)64 << 20);
    buf_init(&w2, (size_t)64 << 20);
    json_write(v, &w1);
    if (w1.failed || !utf8_valid(w1.data ? w1.data : "", w1.len, NULL))
        abort();
    arena *a2 = arena_new(4096);
    json_value *v2 = json_parse(w1.data ? w1.data : "", w1.len, a2, JSON_DEFAULT_MAX_DEPTH, &err);
    if (!v2) {
        fprintf(stderr, "json_write output does not parse: %s\n%.*s\n", err, (int)w1.len, w1.data);
        abort();
    }
    json_write(v2, &w2);
    if (w1.len != w2.len || (w1.len && memcmp(w1.data, w2.data, w1.len) != 0)) {
        fprintf(stderr, "round trip differs:\n%.*s\n%.*s\n", (int)w1.len, w1.data, (int)w2.len, w2.data);
        abort();
    }
    /* Lookups on whatever came out. */
    size_t n = 0;
    (void)json_get_str(v, "a", &n);
    (void)json_get(v, "__type");
    buf_clean_up(&w1);
    buf_clean_up(&w2);
    arena_free(a2);
    arena_free(a);
    return 0;
}
