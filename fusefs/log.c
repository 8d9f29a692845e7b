/*
 * log.c - one log line per call, to stderr or syslog.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static int use_syslog;
static int min_level = LOG_INFO;

void zkfs_log_to_syslog(void)
{
    openlog("zkfs", LOG_PID, LOG_DAEMON);
    use_syslog = 1;
}

void zkfs_log_level(int level)
{
    min_level = level;
}

void zkfs_log(int level, const char *fmt, ...)
{
    if (level > min_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    if (use_syslog) {
        vsyslog(level, fmt, ap);
    } else {
        char line[1024];
        vsnprintf(line, sizeof line, fmt, ap);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        fprintf(stderr, "%02d:%02d:%02d.%03ld zkfs: %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
                ts.tv_nsec / 1000000, line);
    }
    va_end(ap);
}
