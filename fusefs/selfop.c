/*
 * selfop.c - the thread that makes the notifier's system calls on the mount
 * (see selfop.h for why it exists).
 */
#include "selfop.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "slice.h"

struct call {
    void (*fn)(void *arg);
    void (*release)(void *arg);
    void *arg;
    int done;      /* the thread has run it */
    int abandoned; /* the caller stopped waiting: the thread frees it */
};

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pid_t tid;
    int started, quit;
    int busy;    /* a call is being made (selfop_wait_idle) */
    int own_cwd; /* the thread has a working directory of its own */
    struct call *next; /* waiting to be made */
} so = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

/* Whether the caller is the selfop thread. */
static inline int on_selfop_thread(void)
{
    return (pid_t)syscall(SYS_gettid) == so.tid;
}

int selfop_do(enum selfop_kind kind, const char *path, off_t size, struct stat *st)
{
    /* Only the selfop thread: its requests carry so.tid, which the FUSE
     * handlers use to tell the notifier's own calls apart (selfop.h). */
    assert(on_selfop_thread());
    assert(path && (kind != SELFOP_STAT || st));
    int rc;
    switch (kind) {
    case SELFOP_STAT: rc = stat(path, st); break;
    case SELFOP_TRUNCATE: rc = truncate(path, size); break;
    case SELFOP_MKNOD: rc = mknod(path, S_IFREG | 0644, 0); break;
    case SELFOP_MKDIR: rc = mkdir(path, 0755); break;
    case SELFOP_UNLINK: rc = unlink(path); break;
    case SELFOP_RMDIR: rc = rmdir(path); break;
    default: errno = EINVAL; rc = -1;
    }
    return rc == 0 ? 0 : errno;
}

int selfop_cancelled(void)
{
    pthread_mutex_lock(&so.mu);
    int q = so.quit;
    pthread_mutex_unlock(&so.mu);
    return q;
}

/* A descriptor table of this thread's own, without /dev/fuse or any other
 * descriptor of the process (a socket kept open here would outlive its
 * close elsewhere). */
static int own_descriptor_table(void)
{
    if (unshare(CLONE_FILES) != 0)
        return errno;
    return close_range(3, ~0U, 0) == 0 ? 0 : errno;
}

/* A working directory of this thread's own (selfop_enter). */
static int own_working_directory(void)
{
    return unshare(CLONE_FS) == 0 ? 0 : errno;
}

int selfop_enter(const char *dir)
{
    assert(on_selfop_thread() && dir);
    if (!so.own_cwd)
        return EPERM;
    return chdir(dir) == 0 ? 0 : errno;
}

void selfop_leave(void)
{
    if (so.own_cwd && chdir("/") != 0)
        zkfs_log(LOG_WARNING, "replay thread: chdir /: %s", strerror(errno));
}

static void *selfop_main(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "zkfs-replay"); /* for top -H, ps -L */
    slice_short(); /* each replay waits for a FUSE worker, see slice.h */
    int err = own_descriptor_table();
    if (err)
        zkfs_log(LOG_WARNING, "replay thread shares the descriptor table (%s): a SIGKILL during a "
                 "replay can hang the mount", strerror(err));
    err = own_working_directory();
    if (err)
        zkfs_log(LOG_ERR, "replay thread cannot have its own working directory (%s): remote "
                 "changes raise no inotify events", strerror(err));
    so.own_cwd = err == 0;
    pthread_mutex_lock(&so.mu);
    so.tid = (pid_t)syscall(SYS_gettid);
    so.started = 1;
    pthread_cond_broadcast(&so.cv);
    for (;;) {
        while (!so.next && !so.quit)
            pthread_cond_wait(&so.cv, &so.mu);
        if (so.quit)
            break;
        struct call *c = so.next;
        so.next = NULL;
        so.busy = 1;
        pthread_mutex_unlock(&so.mu);
        c->fn(c->arg);
        pthread_mutex_lock(&so.mu);
        c->done = 1;
        if (c->abandoned) {
            if (c->release)
                c->release(c->arg);
            free(c);
        }
        so.busy = 0; /* after the release, which may use what wait_idle guards */
        pthread_cond_broadcast(&so.cv); /* the caller, or selfop_wait_idle */
    }
    pthread_mutex_unlock(&so.mu);
    return NULL;
}

int selfop_start(void)
{
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&t, &attr, selfop_main, NULL);
    pthread_attr_destroy(&attr);
    if (rc)
        return -rc;
    pthread_mutex_lock(&so.mu);
    while (!so.started)
        pthread_cond_wait(&so.cv, &so.mu);
    pthread_mutex_unlock(&so.mu);
    return 0;
}

pid_t selfop_tid(void)
{
    return so.tid; /* written once, before selfop_start returns */
}

/* The call selfop_begin_fn handed over and selfop_finish has not waited
 * for yet.  Only the one thread that calls them (the notifier) uses it. */
static struct call *outstanding;

int selfop_begin_fn(void (*fn)(void *arg), void (*release)(void *arg), void *arg)
{
    assert(!outstanding);
    struct call *c = calloc(1, sizeof *c);
    if (!c) {
        if (release)
            release(arg);
        return ENOMEM;
    }
    c->fn = fn;
    c->release = release;
    c->arg = arg;
    pthread_mutex_lock(&so.mu);
    if (so.quit) {
        pthread_mutex_unlock(&so.mu);
        if (release)
            release(arg);
        free(c);
        return ECANCELED;
    }
    so.next = c;
    pthread_cond_broadcast(&so.cv);
    pthread_mutex_unlock(&so.mu);
    outstanding = c;
    return 0;
}

int selfop_finish(void)
{
    struct call *c = outstanding;
    if (!c)
        return 0;
    outstanding = NULL;
    pthread_mutex_lock(&so.mu);
    while (!c->done && !so.quit)
        pthread_cond_wait(&so.cv, &so.mu);
    int err = ECANCELED;
    if (c->done) {
        err = 0;
        free(c);
    } else if (so.next == c) { /* never taken */
        so.next = NULL;
        if (c->release)
            c->release(c->arg);
        free(c);
    } else {
        c->abandoned = 1; /* the thread releases it when fn returns */
    }
    pthread_mutex_unlock(&so.mu);
    return err;
}

void selfop_wait_idle(void)
{
    pthread_mutex_lock(&so.mu);
    while (so.busy)
        pthread_cond_wait(&so.cv, &so.mu);
    pthread_mutex_unlock(&so.mu);
}

void selfop_cancel(void)
{
    pthread_mutex_lock(&so.mu);
    so.quit = 1;
    pthread_cond_broadcast(&so.cv);
    pthread_mutex_unlock(&so.mu);
}
