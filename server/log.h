/*
 * log.h - zkd's diagnostic log: one line per event that matters, to stderr.
 *
 * Formats (logFormat in zoo.cfg, a zkd extension):
 *   plain  "2026-11-22 10:00:00.123 INFO  message"   (the default)
 *   json   {"ts":"2026-11-22T10:00:00.123+0000","level":"INFO","msg":"message"}
 *          one object a line, for log shippers; the message is escaped as a
 *          JSON string.
 *
 * Level threshold: logLevel in zoo.cfg (error, warn, info, debug), else the
 * ZKD_LOG_LEVEL environment variable, else info.  Both can change while
 * zkd runs (SIGHUP re-reads zoo.cfg; the AdminServer's log_level command).
 * Safe to call from any thread: one write(2) per line, and the level and
 * format are atomics.
 */
#ifndef ZKD_LOG_H
#define ZKD_LOG_H

enum zkd_log_level { ZKD_LOG_ERROR, ZKD_LOG_WARN, ZKD_LOG_INFO, ZKD_LOG_DEBUG };

void zkd_log(enum zkd_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The level named `name` (error, warn, info, debug; any case), or -1. */
int zkd_log_level_parse(const char *name);
/* The lower-case name of a level. */
const char *zkd_log_level_name(enum zkd_log_level level);
/* The current threshold. */
enum zkd_log_level zkd_log_get_level(void);
/* Sets the threshold (any thread). */
void zkd_log_set_level(enum zkd_log_level level);
/* Selects one JSON object a line (1) or plain lines (0) (any thread). */
void zkd_log_set_json(int json);

#define log_error(...) zkd_log(ZKD_LOG_ERROR, __VA_ARGS__)
#define log_warn(...) zkd_log(ZKD_LOG_WARN, __VA_ARGS__)
#define log_info(...) zkd_log(ZKD_LOG_INFO, __VA_ARGS__)
#define log_debug(...) zkd_log(ZKD_LOG_DEBUG, __VA_ARGS__)

#endif
