/* fuzz_decode.c: the host's JSON decoder (core/rule_decode.c) against
 * lua-cjson on arbitrary bytes: the same value (types, math.type, float
 * bits, strings, tables), or the same error message, and never a text that
 * only one of them accepts (tests/decode/decode_compare.h). Any difference
 * aborts with what differs. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../decode/decode_compare.h"

static lua_State *state;
static unsigned long runs;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (state == NULL) {
        state = luaL_newstate();
        if (state == NULL || !dc_open(state))
            abort();
    }
    dc_result r;
    if (!dc_check(state, (const char *)data, size, &r)) {
        fprintf(stderr, "rule_decode differs from lua-cjson on %zu bytes: %s\n", size, r.why);
        abort();
    }
    if (++runs % 1024 == 0)
        lua_gc(state, LUA_GCCOLLECT);
    return 0;
}
