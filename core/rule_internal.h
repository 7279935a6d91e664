/* rule_internal.h: what rule.c and rule_marshal.c share. Not for other
 * modules: it includes lua.h. */
#ifndef TM_RULE_INTERNAL_H
#define TM_RULE_INTERNAL_H

#include <lua.h>

#include "rule.h"

/* Fixed stack slots of the main thread (see rule.c). */
enum {
    SLOT_MSGH = 1, SLOT_DECODE, SLOT_MATCH, SLOT_ON_DELETE, SLOT_LIST_MT, SLOT_SET_MT,
    SLOT_BINARY_MT, SLOT_SCRIPT, SLOT_COUNT = SLOT_SCRIPT
};

/* A state's memory account: the allocator's ud. */
typedef struct rule_acct {
    size_t used_bytes;
    size_t max_bytes;
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
    uint64_t instr_used; /* in the current call */
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

#endif
