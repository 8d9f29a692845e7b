/*
 * svcnotify.c - see svcnotify.h.
 */
#include "svcnotify.h"

#include <stdarg.h>
#include <stdio.h>

#ifdef ZKD_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

void svc_ready(const char *fmt, ...)
{
    char status[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(status, sizeof status, fmt, ap);
    va_end(ap);
#ifdef ZKD_HAVE_SYSTEMD
    sd_notifyf(0, "READY=1\nSTATUS=%s", status);
#endif
}

void svc_stopping(void)
{
#ifdef ZKD_HAVE_SYSTEMD
    sd_notify(0, "STOPPING=1\nSTATUS=shutting down");
#endif
}
