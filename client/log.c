/*
 * log.c - see log.h.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>

/* Set once at start-up by the program, read by the loop threads: plain
 * loads and stores of pointers and an int, as zoo_set_log_stream does. */
static zk_log_fn handler;
static void *handler_data;
static enum zk_log_level min_level = ZK_LOG_WARN;

void zk_set_log(zk_log_fn fn, void *data, enum zk_log_level level)
{
    handler = fn;
    handler_data = data;
    min_level = level;
}

void zk__log(enum zk_log_level level, const char *fmt, ...)
{
    if (level > min_level)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    zk_log_fn fn = handler;
    if (fn)
        fn(level, line, handler_data);
    else
        fprintf(stderr, "libzk: %s\n", line);
}
