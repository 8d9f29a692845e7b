/*
 * log.c - see log.h.  Lines are formatted into a stack buffer and written with
 * one write(2) so concurrent threads never interleave within a line.
 */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "json.h"

static const char *const level_names[] = {"error", "warn", "info", "debug"};

static atomic_int threshold = -1; /* -1: not yet read from ZKD_LOG_LEVEL */
static atomic_int json_format;

int zkd_log_level_parse(const char *name)
{
    for (int i = 0; name && i < 4; i++)
        if (!strcasecmp(name, level_names[i]))
            return i;
    return -1;
}

const char *zkd_log_level_name(enum zkd_log_level level)
{
    return level_names[(unsigned)level < 4 ? level : ZKD_LOG_INFO];
}

enum zkd_log_level zkd_log_get_level(void)
{
    int t = atomic_load_explicit(&threshold, memory_order_relaxed);
    if (t < 0) {
        t = zkd_log_level_parse(getenv("ZKD_LOG_LEVEL"));
        if (t < 0)
            t = ZKD_LOG_INFO;
        int unset = -1; /* a concurrent zkd_log_set_level wins */
        atomic_compare_exchange_strong(&threshold, &unset, t);
        t = atomic_load_explicit(&threshold, memory_order_relaxed);
    }
    return (enum zkd_log_level)t;
}

void zkd_log_set_level(enum zkd_log_level level)
{
    atomic_store(&threshold, (int)level);
}

void zkd_log_set_json(int json)
{
    atomic_store(&json_format, !!json);
}

/* The message as a JSON string body (no quotes) into out; returns its length. */
static int json_body(char *out, int cap, const char *msg, int len)
{
    int n = 0;
    for (int i = 0; i < len; i++) {
        char esc[8];
        size_t e = json_escape_char((unsigned char)msg[i], esc);
        if (n + (int)(e ? e : 1) >= cap)
            break;
        if (e)
            memcpy(out + n, esc, e), n += (int)e;
        else
            out[n++] = msg[i];
    }
    return n;
}

void zkd_log(enum zkd_log_level level, const char *fmt, ...)
{
    static const char *const names[] = {"ERROR", "WARN ", "INFO ", "DEBUG"};
    static const char *const json_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
    if ((int)level > (int)zkd_log_get_level())
        return;
    char msg[2048], line[4608];
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (m < 0)
        m = 0;
    if (m > (int)sizeof msg - 1)
        m = (int)sizeof msg - 1;
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    int n;
    if (atomic_load_explicit(&json_format, memory_order_relaxed)) {
        char ts[32], zone[8];
        strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
        strftime(zone, sizeof zone, "%z", &tm);
        n = snprintf(line, sizeof line, "{\"ts\":\"%s.%03d%s\",\"level\":\"%s\",\"msg\":\"", ts,
                     (int)(tv.tv_usec / 1000), zone, json_names[level]);
        n += json_body(line + n, (int)sizeof line - n - 4, msg, m);
        n += snprintf(line + n, sizeof line - (size_t)n, "\"}");
    } else {
        n = (int)strftime(line, sizeof line, "%Y-%m-%d %H:%M:%S", &tm);
        n += snprintf(line + n, sizeof line - (size_t)n, ".%03d %s %.*s", (int)(tv.tv_usec / 1000),
                      names[level], m, msg);
    }
    if (n > (int)sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    ssize_t w = write(2, line, (size_t)n);
    (void)w;
}
