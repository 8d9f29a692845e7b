/*
 * log.h - libzk's diagnostics, routed through the handler a program installs
 * with zk_set_log (include/zk/zk.h), or to stderr.
 */
#ifndef LIBZK_LOG_H
#define LIBZK_LOG_H

#include "zk/zk.h"

/* Formats one line and hands it to the handler if `level` passes the filter. */
void zk__log(enum zk_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
