/*
 * log.h - zkd's diagnostic log: one line per event that matters, to stderr.
 *
 * Format: "2026-11-22 10:00:00.123 INFO  message".  The level threshold comes
 * from ZKD_LOG_LEVEL (error, warn, info, debug; default info).  Safe to call
 * from any thread (one write(2) per line).
 */
#ifndef ZKD_LOG_H
#define ZKD_LOG_H

enum zkd_log_level { ZKD_LOG_ERROR, ZKD_LOG_WARN, ZKD_LOG_INFO, ZKD_LOG_DEBUG };

void zkd_log(enum zkd_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_error(...) zkd_log(ZKD_LOG_ERROR, __VA_ARGS__)
#define log_warn(...) zkd_log(ZKD_LOG_WARN, __VA_ARGS__)
#define log_info(...) zkd_log(ZKD_LOG_INFO, __VA_ARGS__)
#define log_debug(...) zkd_log(ZKD_LOG_DEBUG, __VA_ARGS__)

#endif
