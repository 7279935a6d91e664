/* log.h: the daemon's log: one line per event on stdout.
 *
 * JSON lines by default ({"ts":"...","level":"info","event":"connect",...}),
 * or text for people (LOG_FORMAT=text). Every line has ts, level and event;
 * fields follow in the order given. Strings are escaped, and bytes that are
 * not UTF-8 are replaced, so every line is valid JSON.
 *
 * Fields are passed as a list of typed pairs ended by LF_END:
 *   log_event(LOG_INFO, "connect", LF_S("url", url), LF_I("status", 200), LF_END);
 * Secrets never go in: pass "set" / "not set" for them. */
#ifndef TM_LOG_H
#define TM_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "mem.h"

typedef enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR } log_level;

enum log_field_type { LOGF_END, LOGF_STR, LOGF_STRN, LOGF_INT, LOGF_DBL, LOGF_BOOL, LOGF_RAW };

#define LF_END LOGF_END
#define LF_S(k, v) LOGF_STR, (const char *)(k), (const char *)(v)
/* A string of known length (need not be NUL-terminated). */
#define LF_SN(k, v, n) LOGF_STRN, (const char *)(k), (const char *)(v), (size_t)(n)
#define LF_I(k, v) LOGF_INT, (const char *)(k), (int64_t)(v)
#define LF_D(k, v) LOGF_DBL, (const char *)(k), (double)(v)
#define LF_B(k, v) LOGF_BOOL, (const char *)(k), (int)(v)
/* Already-encoded JSON (an object, a number), written as is in JSON mode. */
#define LF_RAW(k, v) LOGF_RAW, (const char *)(k), (const char *)(v)

/* Where lines go (default stdout), the lowest level written (default
 * info) and the format (default JSON). */
void log_setup(FILE *out, log_level min, bool json);
/* From LOG_LEVEL and LOG_FORMAT; on a bad value sets *err (caller frees). */
bool log_setup_from_env(FILE *out, char **err) TM_MUST_CHECK;
bool log_enabled(log_level level);

void log_event(log_level level, const char *event, ...);

/* A URL fit for a log line: scheme://host[:port]/path, without user
 * information, query or fragment, which may hold credentials. Caller
 * frees. */
char *log_url(const char *url);

/* Milliseconds since the epoch, for "ts"; tests may replace it. */
extern int64_t (*log_clock_ms)(void);

#endif
