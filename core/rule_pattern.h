/* rule_pattern.h: Lua 5.4 patterns whose work is metered, for the rule
 * sandbox (part of the rule module: it speaks Lua).
 *
 * Lua's count hook fires between VM instructions only, so work done inside
 * one C function is invisible to the instruction budget. The stock pattern
 * matcher is such a function, and a backtracking one: a rule calling
 * ("a"):rep(3e5):find(".-.-.-.-b") would hold the daemon for hours. This
 * module matches the same patterns with the same results and messages
 * (tests/pattern/ compares it with the stock string library), and charges
 * every step to a meter, which the rule engine shares with its count hook.
 *
 * A meter counts units of work in the current call against a budget. One
 * unit is one VM instruction of the count hook. */
#ifndef TM_RULE_PATTERN_H
#define TM_RULE_PATTERN_H

#include <lua.h>
#include <stdint.h>

typedef struct rule_meter rule_meter;
struct rule_meter {
    uint64_t used;     /* units charged in the current call */
    uint64_t reserved; /* units a pattern call holds while it matches */
    uint64_t budget;   /* the most a call may use */
    /* Called when a charge takes used past budget; where names the work
     * ("pattern matching"). Must not return: it raises the Lua error. NULL:
     * a plain luaL_error. */
    void (*exhausted)(lua_State *L, rule_meter *m, const char *where);
    void *ud; /* for exhausted */
};

/* Units the meter has left, neither used nor reserved (0 when spent). */
uint64_t rule_meter_left(const rule_meter *m);

/* Charges n units; when used and reserved pass the budget, raises through
 * m->exhausted. */
void rule_meter_charge(lua_State *L, rule_meter *m, uint64_t n, const char *where);

/* Pushes a new table holding find, match, gmatch and gsub, with the
 * signatures and results of Lua 5.4's string library, charging m (not
 * copied: it must outlive every use of the functions). */
void rule_pattern_push(lua_State *L, rule_meter *m);

#endif
