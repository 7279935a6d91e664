/* config.c: see config.h. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

bool config_env_u64(const char *name, uint64_t def, uint64_t min, uint64_t max, uint64_t *out, char **err)
{
    const char *v = getenv(name);
    if (v == NULL || *v == '\0') {
        *out = def;
        return true;
    }
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (*v < '0' || *v > '9' || *end != '\0' || errno == ERANGE || n < min || n > max) {
        /* The value is not a secret: these are tuning variables. */
        *err = xasprintf("%s=%s: must be a whole number from %llu to %llu", name, v, (unsigned long long)min,
                         (unsigned long long)max);
        return false;
    }
    *out = n;
    return true;
}

bool config_rule(rule_config *cfg, char **err)
{
    uint64_t budget, mem_mb, line, items;
    if (!config_env_u64("RULE_INSTRUCTION_BUDGET", RULE_DEFAULT_INSTR_BUDGET, 1000, UINT64_C(1) << 40, &budget,
                        err) ||
        !config_env_u64("RULE_MEMORY_MB", RULE_DEFAULT_MEM_MAX_BYTES >> 20, 1, 65536, &mem_mb, err) ||
        !config_env_u64("MAX_LINE_BYTES", RULE_DEFAULT_LINE_MAX_BYTES, 1024, (uint64_t)1 << 30, &line, err) ||
        !config_env_u64("RULE_MAX_ITEMS", RULE_DEFAULT_MAX_ITEMS, 1, 1000000, &items, err))
        return false;
    cfg->instr_budget = budget;
    cfg->mem_max_bytes = (size_t)mem_mb << 20;
    cfg->line_max_bytes = (size_t)line;
    cfg->max_items = (size_t)items;
    return true;
}
