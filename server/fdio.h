/*
 * fdio.h - whole-buffer I/O on a blocking file descriptor.
 *
 * write(2) may write less than asked (a signal, a socket's buffer, a file
 * system nearly full) and may be interrupted; every caller that means "all
 * of it or an error" shares this one loop instead of its own.  Safe in a
 * forked child (snapshot.c): no locks, no allocation.
 */
#ifndef ZKD_FDIO_H
#define ZKD_FDIO_H

#include <stddef.h>

/* Writes all `n` bytes at `p` to `fd`, retrying short and interrupted
 * writes.  Returns 0, or -errno of the failed write; -ENOSPC when a write
 * makes no progress without an error (a full file system).  Bytes before
 * the failure may have been written. */
int fdio_write_all(int fd, const void *p, size_t n);

#endif
