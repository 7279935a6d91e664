/* rule_internal.h: what the files of the rule module (rule.c,
 * rule_marshal.c, rule_track.c, rule_pattern.c, rule_cost.c, rule_cjson.c,
 * rule_decode.c, rule_pool.c) share. Not for other modules: it includes lua.h. */
#ifndef TM_RULE_INTERNAL_H
#define TM_RULE_INTERNAL_H

#include <lua.h>

#include "rule.h"
#include "rule_pattern.h"
#include "rule_pool.h"

/* Fixed stack slots of the main thread (see rule.c). */
enum {
    SLOT_MSGH = 1, SLOT_DECODE, SLOT_MATCH, SLOT_ON_DELETE, SLOT_LIST_MT, SLOT_SET_MT,
    SLOT_BINARY_MT, SLOT_SCRIPT, SLOT_COUNT = SLOT_SCRIPT
};

/* A state's memory account: the allocator's ud. Growth is also charged to
 * the meter (a C function that builds a big string does work the count hook
 * does not see), and when that spends the budget, L's hook is made to fire
 * at its next instruction. */
typedef struct rule_acct {
    size_t used_bytes;
    size_t max_bytes;
    rule_meter *meter; /* NULL: not charged */
    lua_State *L;      /* the state's main thread, once it exists */
    unsigned refusals; /* allocations refused in a row */
    rule_pool pool;    /* blocks of up to RULE_POOL_MAX bytes; its regions count towards max_bytes too */
} rule_acct;

struct rule {
    lua_State *L;
    rule_acct *acct;     /* L's memory */
    rule_config cfg;
    char *name;          /* the script's path as given */
    char *chunkname;     /* "@" name */
    char *src;           /* the script's text, kept to rebuild the state */
    size_t src_len;
    char *script_dir;
    char *lua_dir;
    char **track;        /* NULL-terminated, or NULL */
    rule_meter meter;    /* the budget of the current call: the count hook,
                            pattern matching, allocation and cjson charge it */
    const char *exceeded_in; /* what spent the budget, if not the VM */
    bool timed_out;      /* the call ran past its time (rule.c) */
    uint64_t call_start_ns, last_hook_ns;
    size_t printed_bytes; /* by print() in the current call */
    bool worn;           /* a memory error left the state near its cap */
    int busy;            /* > 0 while examples run: no rebuild then */
    unsigned rebuilds;
};

/* Turns the value at idx (what match or on_delete returned: nil, an item,
 * or a list of items) into items added to res. On failure returns false
 * and sets *err (caller frees) to a message naming the bad value. */
bool rule_marshal_result(rule *r, int idx, rule_result *res, char **err);

void rule_result_add(rule_result *res, item *it);
void rule_track_open(lua_State *L); /* rule_track.c: adds track_* to the native table on top */

/* Bytes allocated that cost one unit of the budget (rule.c's allocator). */
#define RULE_ALLOC_BYTES_PER_UNIT 256

/* rule_cost.c: replaces the standard library's C functions whose work
 * grows with their arguments (table.move, insert, remove, sort, concat,
 * unpack, string.byte, string.char, utf8.*, load, collectgarbage) in L's
 * globals with ones that charge the rule's meter first. */
void rule_cost_wrap(lua_State *L);

/* rule_cjson.c: sets preload["cjson"] and preload["cjson.safe"] of the
 * package.preload table at preload to loaders of guarded lua-cjson
 * instances. They find the rule in L's extra space. */
void rule_cjson_preload(lua_State *L, int preload);

/* rule_decode.c: the host's JSON decoder, a lua_CFunction taking one string
 * and returning its value, exactly as lua-cjson's decode (strict numbers)
 * would; upvalue 1 is that cjson.decode, which makes the error message for
 * any text this decoder does not accept. Make it with rule_decode_push. */
int rule_decode(lua_State *L);
/* Pops a cjson.decode function and pushes the decoder closure over it, with
 * its cache of object keys (upvalue 2). May raise a memory error. */
void rule_decode_push(lua_State *L);
/* The decoding itself: pushes the value of the len bytes at s (a Lua
 * string's, so s[len] is NUL; not copied) and returns true, or pushes
 * nothing and returns false where cjson would raise an error (and perhaps
 * in a few other cases: the caller then asks cjson). May raise a memory
 * error. For rule_decode and the tests. */
bool rule_decode_value(lua_State *L, const char *s, size_t len);

#endif
