/*
 * svcnotify.h - telling the service manager how zkd is doing (systemd's
 * sd_notify protocol, for units of Type=notify).
 *
 * READY=1 is sent once zkd serves clients: standalone, once it listens;
 * in an ensemble, each time this member starts serving (after it led or
 * joined an established epoch).  STOPPING=1 when a clean shutdown begins.
 * STATUS= lines say what the member does.  Without $NOTIFY_SOCKET (not under
 * systemd) or without libsystemd at build time every call does nothing.
 */
#ifndef ZKD_SVCNOTIFY_H
#define ZKD_SVCNOTIFY_H

/* READY=1 with a STATUS line (printf-style). */
void svc_ready(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* STOPPING=1. */
void svc_stopping(void);

#endif
