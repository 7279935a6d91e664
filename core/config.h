/* config.h: settings read from the environment.
 *
 * Every value is checked before use; a bad one is a configuration error
 * whose message names the variable and what it must be. */
#ifndef TM_CONFIG_H
#define TM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "mem.h"
#include "rule.h"

/* Reads the unsigned integer in variable name into *out, or def when it is
 * unset or empty; it must lie in [min, max]. On error sets *err (caller
 * frees) and returns false. */
bool config_env_u64(const char *name, uint64_t def, uint64_t min, uint64_t max, uint64_t *out,
                    char **err) TM_MUST_CHECK;

/* The rule engine's limits: RULE_INSTRUCTION_BUDGET, RULE_MEMORY_MB,
 * MAX_LINE_BYTES, RULE_MAX_ITEMS. */
bool config_rule(rule_config *cfg, char **err) TM_MUST_CHECK;

#endif
