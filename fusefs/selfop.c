/*
 * selfop.c - the thread that makes the notifier's system calls on the mount
 * (see selfop.h for why it exists).
 */
#include "selfop.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"

struct call {
    enum selfop_kind kind;
    off_t size;
    struct stat st;
    int err;
    int done;      /* the thread has made it */
    int abandoned; /* the caller stopped waiting: the thread frees it */
    char path[];
};

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pid_t tid;
    int started, quit;
    struct call *next; /* waiting to be made */
} so = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static int make_call(struct call *c)
{
    int rc;
    switch (c->kind) {
    case SELFOP_STAT: rc = stat(c->path, &c->st); break;
    case SELFOP_TRUNCATE: rc = truncate(c->path, c->size); break;
    case SELFOP_MKNOD: rc = mknod(c->path, S_IFREG | 0644, 0); break;
    case SELFOP_MKDIR: rc = mkdir(c->path, 0755); break;
    case SELFOP_UNLINK: rc = unlink(c->path); break;
    case SELFOP_RMDIR: rc = rmdir(c->path); break;
    default: errno = EINVAL; rc = -1;
    }
    return rc == 0 ? 0 : errno;
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

static void *selfop_main(void *arg)
{
    (void)arg;
    int err = own_descriptor_table();
    if (err)
        zkfs_log(LOG_WARNING, "replay thread shares the descriptor table (%s): a SIGKILL during a "
                 "replay can hang the mount", strerror(err));
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
        pthread_mutex_unlock(&so.mu);
        int e = make_call(c);
        pthread_mutex_lock(&so.mu);
        c->err = e;
        c->done = 1;
        if (c->abandoned)
            free(c);
        else
            pthread_cond_broadcast(&so.cv);
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

int selfop_run(enum selfop_kind kind, const char *path, off_t size, struct stat *st)
{
    size_t len = strlen(path);
    struct call *c = calloc(1, sizeof *c + len + 1);
    if (!c)
        return ENOMEM;
    c->kind = kind;
    c->size = size;
    memcpy(c->path, path, len + 1);
    pthread_mutex_lock(&so.mu);
    if (so.quit) {
        pthread_mutex_unlock(&so.mu);
        free(c);
        return ECANCELED;
    }
    so.next = c;
    pthread_cond_broadcast(&so.cv);
    while (!c->done && !so.quit)
        pthread_cond_wait(&so.cv, &so.mu);
    int err = ECANCELED;
    if (c->done) {
        err = c->err;
        if (st)
            *st = c->st;
        free(c);
    } else if (so.next == c) { /* never taken */
        so.next = NULL;
        free(c);
    } else {
        c->abandoned = 1;
    }
    pthread_mutex_unlock(&so.mu);
    return err;
}

void selfop_cancel(void)
{
    pthread_mutex_lock(&so.mu);
    so.quit = 1;
    pthread_cond_broadcast(&so.cv);
    pthread_mutex_unlock(&so.mu);
}
