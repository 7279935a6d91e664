/* log.c: see log.h. */
#include "log.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "json.h"
#include "utf8.h"

static FILE *log_out;
static log_level log_min = LOG_INFO;
static bool log_json = true;

static int64_t real_clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t (*log_clock_ms)(void) = real_clock_ms;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_setup(FILE *out, log_level min, bool json)
{
    log_out = out;
    log_min = min;
    log_json = json;
}

bool log_setup_from_env(FILE *out, char **err)
{
    log_level min = LOG_INFO;
    bool json = true;
    const char *lv = getenv("LOG_LEVEL");
    if (lv && *lv) {
        int found = -1;
        for (int i = 0; i < 4; i++)
            if (strcmp(lv, level_names[i]) == 0)
                found = i;
        if (found < 0) {
            *err = xasprintf("LOG_LEVEL=%s: must be debug, info, warn or error", lv);
            return false;
        }
        min = (log_level)found;
    }
    const char *fmt = getenv("LOG_FORMAT");
    if (fmt && *fmt) {
        if (strcmp(fmt, "json") == 0) {
            json = true;
        } else if (strcmp(fmt, "text") == 0) {
            json = false;
        } else {
            *err = xasprintf("LOG_FORMAT=%s: must be json or text", fmt);
            return false;
        }
    }
    log_setup(out, min, json);
    return true;
}

bool log_enabled(log_level level)
{
    return level >= log_min;
}

/* Appends (s, n) as JSON string content (escaped when quoted is true),
 * replacing bytes that are not UTF-8 with U+FFFD. */
static void put_text(buf *b, const char *s, size_t n, bool quoted)
{
    size_t bad;
    while (n) {
        bool ok = utf8_valid(s, n, &bad);
        size_t good = ok ? n : bad;
        if (quoted)
            json_put_escaped(b, s, good);
        else
            buf_put(b, s, good);
        if (ok)
            break;
        buf_puts(b, "\xEF\xBF\xBD");
        s += good + 1;
        n -= good + 1;
    }
}

static void put_ts(buf *b)
{
    int64_t ms = log_clock_ms();
    time_t sec = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    char t[40];
    strftime(t, sizeof t, "%Y-%m-%dT%H:%M:%S", &tm);
    buf_printf(b, "%s.%03dZ", t, (int)(ms % 1000));
}

void log_event(log_level level, const char *event, ...)
{
    if (level < log_min)
        return;
    FILE *out = log_out ? log_out : stdout;
    buf b;
    buf_init(&b, (size_t)4 << 20); /* a dead letter carries an item: 400 KB, up to 2.5 MB as JSON */
    if (log_json) {
        buf_puts(&b, "{\"ts\":\"");
        put_ts(&b);
        buf_printf(&b, "\",\"level\":\"%s\",\"event\":\"", level_names[level]);
        put_text(&b, event, strlen(event), true);
        buf_putc(&b, '"');
    } else {
        put_ts(&b);
        buf_printf(&b, " %-5s %s", level_names[level], event);
    }
    va_list ap;
    va_start(ap, event);
    for (;;) {
        int type = va_arg(ap, int);
        if (type == LOGF_END)
            break;
        const char *key = va_arg(ap, const char *);
        if (log_json) {
            buf_puts(&b, ",\"");
            put_text(&b, key, strlen(key), true);
            buf_puts(&b, "\":");
        } else {
            buf_printf(&b, " %s=", key);
        }
        switch (type) {
        case LOGF_STR:
        case LOGF_STRN: {
            const char *v = va_arg(ap, const char *);
            size_t n = type == LOGF_STRN ? va_arg(ap, size_t) : (v ? strlen(v) : 0);
            if (v == NULL) {
                buf_puts(&b, "null");
            } else if (log_json) {
                buf_putc(&b, '"');
                put_text(&b, v, n, true);
                buf_putc(&b, '"');
            } else {
                bool spaced = memchr(v, ' ', n) != NULL || n == 0;
                if (spaced)
                    buf_putc(&b, '"');
                put_text(&b, v, n, true);
                if (spaced)
                    buf_putc(&b, '"');
            }
            break;
        }
        case LOGF_INT:
            buf_printf(&b, "%lld", (long long)va_arg(ap, int64_t));
            break;
        case LOGF_DBL: {
            char num[JSON_NUM_MAX];
            size_t n = json_format_double(va_arg(ap, double), num);
            buf_puts(&b, n ? num : "null");
            break;
        }
        case LOGF_BOOL:
            buf_puts(&b, va_arg(ap, int) ? "true" : "false");
            break;
        case LOGF_RAW: {
            const char *v = va_arg(ap, const char *);
            buf_puts(&b, v ? v : "null");
            break;
        }
        default:
            /* A malformed call: stop rather than read garbage. */
            va_end(ap);
            buf_puts(&b, log_json ? ",\"log_error\":\"bad field type\"" : " (bad field type)");
            goto done;
        }
    }
    va_end(ap);
done:
    if (log_json)
        buf_putc(&b, '}');
    buf_putc(&b, '\n');
    if (!b.failed)
        fwrite(b.data, 1, b.len, out);
    fflush(out);
    buf_clean_up(&b);
}

char *log_url(const char *url)
{
    const char *p = strstr(url, "://");
    if (p == NULL)
        return xstrdup("(url)");
    size_t scheme = (size_t)(p - url) + 3;
    const char *auth = url + scheme;
    size_t alen = strcspn(auth, "/?#");
    const char *host = auth;
    for (size_t i = 0; i < alen; i++)
        if (auth[i] == '@')
            host = auth + i + 1;
    const char *path = auth + alen;
    size_t plen = strcspn(path, "?#");
    return xasprintf("%.*s%.*s%.*s", (int)scheme, url, (int)(auth + alen - host), host, (int)plen, path);
}
