/* rule.h: the rule engine, the one place that speaks Lua.
 *
 * A rule is a user's Lua 5.4 script loaded into its own sandboxed state. For
 * each stream message the engine decodes the JSON (inside the state, into
 * exactly the values lua-cjson would make: rule_decode.c), sorts tweets
 * from control messages, calls the script's `match` (or `on_delete` for
 * delete notices) and turns what it returns into items (item.h) by the
 * contract's type mapping.
 *
 * Every call into the script runs under lua_pcall with a traceback, an
 * instruction budget and the state's memory cap, so a faulty rule costs one
 * message, never the process. The budget counts VM instructions (the count
 * hook) and the work the hook cannot see: pattern matching
 * (rule_pattern.c), library functions that loop over their arguments
 * (rule_cost.c), allocation, cjson.encode's walk (rule_cjson.c); a wall
 * clock limit ends what is left. A rule that fails a message produces no
 * items for it at all (a tweet's items are all or nothing).
 *
 * Nothing outside this module includes lua.h. */
#ifndef TM_RULE_H
#define TM_RULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "item.h"
#include "mem.h"

#define RULE_DEFAULT_INSTR_BUDGET 1000000u
#define RULE_DEFAULT_MEM_MAX_BYTES ((size_t)64 << 20)
#define RULE_DEFAULT_LINE_MAX_BYTES ((size_t)1 << 20)
#define RULE_DEFAULT_MAX_ITEMS 1000u

typedef struct rule_config {
    uint64_t instr_budget;   /* VM instructions per call into the script */
    size_t mem_max_bytes;    /* cap on the Lua state's memory */
    size_t line_max_bytes;   /* longest message decoded */
    size_t max_items;        /* most items one message may produce */
    const char *lua_dir;     /* the installed lua/ folder (for require) */
    /* Where the script's print() goes; NULL: stderr. msg is not copied. */
    void (*print)(void *ud, const char *msg, size_t len);
    void *print_ud;
} rule_config;

/* A config with every default, lua_dir NULL. */
void rule_config_init(rule_config *cfg);

typedef enum rule_kind {
    RULE_TWEET,      /* a tweet: match ran (items may be empty: no match) */
    RULE_DELETE,     /* a delete notice: on_delete ran; items are keys */
    RULE_CONTROL,    /* another stream control message; control names it */
    RULE_BAD_INPUT,  /* not a JSON object, or too long; error says why */
    RULE_ERROR,      /* the script failed on this message; error says why */
} rule_kind;

typedef struct rule_result {
    rule_kind kind;      /* the outcome */
    rule_kind message;   /* what the message was: RULE_TWEET, RULE_DELETE,
                            RULE_CONTROL, or RULE_BAD_INPUT if unreadable */
    char id[32];         /* tweet or deleted tweet id ("" if none) */
    char control[32];    /* control message type: "limit", "disconnect",... */
    item **items;        /* items (RULE_TWEET) or keys (RULE_DELETE) */
    size_t n_items;
    size_t cap_items;
    char *error;         /* RULE_BAD_INPUT, RULE_ERROR: a message; owned */
    char *detail;        /* RULE_CONTROL: the message as compact JSON, capped */
} rule_result;

void rule_result_init(rule_result *res);
/* Frees items still held and the messages; NULL-safe, idempotent. */
void rule_result_clean_up(rule_result *res);
/* Takes item i out of the result (caller frees it with item_free). */
item *rule_result_take(rule_result *res, size_t i);

typedef struct rule rule;

/* Loads the script at path (read as text; bytecode is refused) and runs its
 * top level. On failure returns NULL and sets *err (caller frees) to a
 * message naming the file and line. cfg is copied. */
rule *rule_new(const char *path, const rule_config *cfg, char **err) TM_MUST_CHECK;
/* The same from source text; name is what messages call it. */
rule *rule_new_from_string(const char *name, const char *src, size_t len,
                           const rule_config *cfg, char **err) TM_MUST_CHECK;
void rule_free(rule *r);

/* Runs one message (a line of JSON, not NUL-terminated, not copied) through
 * the rule. Always fills res (rule_result_init'ed by the caller, cleaned up
 * by this call first). Returns res->kind. */
rule_kind rule_process(rule *r, const char *line, size_t len, rule_result *res);

/* The script's `track` phrases (NULL-terminated, owned by the rule), or
 * NULL when it declares none. */
const char *const *rule_track(const rule *r);

/* Runs the script's `examples`; writes a line per failure (and a summary)
 * to report. Returns the number that failed; *total gets how many ran. */
size_t rule_run_examples(rule *r, FILE *report, size_t *total);

/* Memory the Lua state holds now, in bytes. */
size_t rule_mem_bytes(const rule *r);

/* Bytes of the regions the state's small-block pool holds (rule_pool.h);
 * bounded by the memory cap. */
size_t rule_pool_bytes(const rule *r);

/* "Lua 5.4.4" */
const char *rule_lua_version(void);

#endif
