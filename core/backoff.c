/* backoff.c: see backoff.h. */
#include "backoff.h"

static int64_t or_default(int64_t v, int64_t def)
{
    return v > 0 ? v : def;
}

void backoff_init(backoff *b, const backoff_config *cfg)
{
    backoff_config c = cfg ? *cfg : (backoff_config){0};
    c.network_step_ms = or_default(c.network_step_ms, 250);
    c.network_max_ms = or_default(c.network_max_ms, 16000);
    c.http_first_ms = or_default(c.http_first_ms, 5000);
    c.http_max_ms = or_default(c.http_max_ms, 320000);
    c.rate_first_ms = or_default(c.rate_first_ms, 60000);
    c.rate_max_ms = or_default(c.rate_max_ms, 960000);
    if (c.jitter_pct > 100)
        c.jitter_pct = 100;
    b->cfg = c;
    backoff_reset(b);
}

void backoff_reset(backoff *b)
{
    b->failures[0] = b->failures[1] = b->failures[2] = 0;
    b->fresh = true;
}

/* first * 2^(n-1), capped, without overflow. */
static int64_t doubling(int64_t first, int64_t max, uint32_t n)
{
    int64_t w = first;
    for (uint32_t i = 1; i < n && w < max; i++)
        w *= 2;
    return w < max ? w : max;
}

int64_t backoff_next(backoff *b, backoff_kind k)
{
    bool was_fresh = b->fresh;
    b->fresh = false;
    switch (k) {
    case BACKOFF_NETWORK:
        /* "Reconnect once at once": the first drop of a healthy stream. */
        if (was_fresh)
            return 0;
        if (b->failures[k] < UINT32_MAX)
            b->failures[k]++;
        {
            int64_t w = b->cfg.network_step_ms * (int64_t)b->failures[k];
            return w < b->cfg.network_max_ms ? w : b->cfg.network_max_ms;
        }
    case BACKOFF_HTTP:
        if (b->failures[k] < UINT32_MAX)
            b->failures[k]++;
        return doubling(b->cfg.http_first_ms, b->cfg.http_max_ms, b->failures[k]);
    case BACKOFF_RATE:
        if (b->failures[k] < UINT32_MAX)
            b->failures[k]++;
        return doubling(b->cfg.rate_first_ms, b->cfg.rate_max_ms, b->failures[k]);
    }
    return b->cfg.http_first_ms;
}

int64_t backoff_jitter(const backoff *b, int64_t nominal_ms, uint64_t r)
{
    if (nominal_ms <= 0 || b->cfg.jitter_pct == 0)
        return nominal_ms;
    uint64_t span = (uint64_t)nominal_ms * b->cfg.jitter_pct / 100 + 1;
    return nominal_ms + (int64_t)(r % span);
}

uint32_t backoff_failures(const backoff *b, backoff_kind k)
{
    return b->failures[k];
}
