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
 * zkfs dies, the connection ends and so does the call in flight.  It also
 * has a working directory of its own (unshare(CLONE_FS)): during a batch
 * it works inside the mount, with relative paths (selfop_enter).
 *
 * selfop_begin_fn and selfop_finish are called by one thread only (the
 * notifier).  A batch of replays is one selfop_begin_fn: the whole batch
 * runs on this thread, calling selfop_do for each system call, so a replay
 * costs its system call and not also two thread switches, and the notifier
 * prepares the next batch meanwhile.
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
/* Hands fn(arg) to the thread and returns at once; fn makes its calls
 * with selfop_do.  At most one call is outstanding: the caller waits for
 * it with selfop_finish before it hands over the next, and may meanwhile
 * prepare that next one (the notifier reads batch k+1 while batch k is
 * replayed).  Returns 0, or ENOMEM, or ECANCELED once selfop_cancel has
 * been called; on either error arg was released with release(arg). */
int selfop_begin_fn(void (*fn)(void *arg), void (*release)(void *arg), void *arg);
/* Waits for the outstanding call.  Returns 0 (fn has returned; the caller
 * keeps its arg; also when nothing is outstanding), or ECANCELED once
 * selfop_cancel has been called: then arg is released with release(arg),
 * at once if fn never started, else by the thread when fn returns (fn may
 * be stopped in a call that ends only when the connection does). */
int selfop_finish(void);
/* Inside a selfop_begin_fn function: makes `dir` the thread's working
 * directory (its own: unshare(CLONE_FS), the process's is not touched),
 * so that relative paths stay on the mount found there; selfop_leave goes
 * back to "/".  Returns 0 or an errno. */
int selfop_enter(const char *dir);
void selfop_leave(void);
/* One call, made on the calling thread, which must be this thread (inside
 * a selfop_begin_fn function).  Returns 0 or its errno. */
int selfop_do(enum selfop_kind kind, const char *path, off_t size, struct stat *st);
/* 1 once selfop_cancel has been called: a selfop_begin_fn function stops. */
int selfop_cancelled(void);
/* Wakes a waiting selfop_finish and stops the thread after its current call. */
void selfop_cancel(void);
/* Waits until the thread is making no call.  After selfop_cancel, a call
 * abandoned by its caller may still be running (a replay waiting for the
 * FUSE connection to close); the daemon calls this once the connection is
 * closed and before it frees what a call uses (nodes, the session). */
void selfop_wait_idle(void);

#endif
