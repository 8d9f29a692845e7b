/*
 * selfop.h - the thread that makes the notifier's system calls on the mount.
 *
 * The notifier replays remote changes as real system calls on this mount
 * (see notify.h), and each waits for this process's FUSE loop to answer.
 * Once a worker has read such a request, the kernel waits for the answer
 * uninterruptibly, even through SIGKILL.  A dying process ends its FUSE
 * connection only when its last descriptor of /dev/fuse closes, which is
 * when its last thread exits: a waiting thread that shares the process's
 * descriptors would wait for ever, and the process would stay a zombie with
 * a hung mount.
 *
 * So the calls are made by one thread with a descriptor table of its own
 * (unshare(CLONE_FILES)) that holds no descriptor at all besides 0-2: when
 * zkfs dies, the connection ends and so does the call in flight.
 *
 * selfop_run is called by one thread at a time (the notifier).
 */
#ifndef ZKFS_SELFOP_H
#define ZKFS_SELFOP_H

#include <sys/stat.h>
#include <sys/types.h>

enum selfop_kind {
    SELFOP_STAT,     /* stat(path, st) */
    SELFOP_TRUNCATE, /* truncate(path, size) */
    SELFOP_MKNOD,    /* mknod(path, S_IFREG | 0644) */
    SELFOP_MKDIR,    /* mkdir(path, 0755) */
    SELFOP_UNLINK,
    SELFOP_RMDIR,
};

/* Starts the thread (detached).  Returns 0 or -errno. */
int selfop_start(void);
/* Its thread id: requests from it carry this as their pid.  0 before start. */
pid_t selfop_tid(void);
/* Makes one call and waits for it: 0 or its errno; ECANCELED once
 * selfop_cancel has been called (the call may still be in flight; it ends
 * when the connection does).  `st` is filled by SELFOP_STAT. */
int selfop_run(enum selfop_kind kind, const char *path, off_t size, struct stat *st);
/* Wakes a waiting selfop_run and stops the thread after its current call. */
void selfop_cancel(void);

#endif
