/*
 * log.h - zkfs's log: stderr in the foreground, syslog once daemonized.
 */
#ifndef ZKFS_LOG_H
#define ZKFS_LOG_H

#include <syslog.h>

/* Switches to syslog (after fuse_daemonize). */
void zkfs_log_to_syslog(void);
/* Sets the lowest level printed (LOG_DEBUG with -d). */
void zkfs_log_level(int level);
/* Logs one line at `level` (LOG_ERR ... LOG_DEBUG).  Any thread. */
void zkfs_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
