/*
 * fdio.c - see fdio.h.
 */
#include "fdio.h"

#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <unistd.h>

int fdio_write_all(int fd, const void *p, size_t n)
{
    assert(fd >= 0 && (p || n == 0));
    const uint8_t *at = p;
    while (n) {
        ssize_t w = write(fd, at, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? -errno : -ENOSPC;
        at += w;
        n -= (size_t)w;
    }
    return 0;
}
