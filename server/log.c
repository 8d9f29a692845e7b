/*
 * log.c - see log.h.  Lines are formatted into a stack buffer and written with
 * one write(2) so concurrent threads never interleave within a line.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int threshold = -1;

static int log_threshold(void)
{
    if (threshold < 0) {
        const char *e = getenv("ZKD_LOG_LEVEL");
        threshold = ZKD_LOG_INFO;
        if (e && !strcasecmp(e, "error"))
            threshold = ZKD_LOG_ERROR;
        else if (e && !strcasecmp(e, "warn"))
            threshold = ZKD_LOG_WARN;
        else if (e && !strcasecmp(e, "debug"))
            threshold = ZKD_LOG_DEBUG;
    }
    return threshold;
}

void zkd_log(enum zkd_log_level level, const char *fmt, ...)
{
    static const char *const names[] = {"ERROR", "WARN ", "INFO ", "DEBUG"};
    if ((int)level > log_threshold())
        return;
    char line[2048];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    int n = (int)strftime(line, sizeof line, "%Y-%m-%d %H:%M:%S", &tm);
    n += snprintf(line + n, sizeof line - (size_t)n, ".%03d %s ", (int)(tv.tv_usec / 1000),
                  names[level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        m = 0;
    n += m;
    if (n > (int)sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    ssize_t w = write(2, line, (size_t)n);
    (void)w;
}
