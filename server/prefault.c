/*
 * prefault.c - see prefault.h.
 *
 * One process-wide thread and a small ring of ranges under one mutex.  The
 * thread is detached and sleeps on a condition variable when idle; it lives
 * as long as the process.
 */
#include "prefault.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>

#include "log.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

#define RING 16

struct range {
    void *p;
    size_t len;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work = PTHREAD_COND_INITIALIZER;  /* a range was queued */
static pthread_cond_t idle = PTHREAD_COND_INITIALIZER;  /* the ring emptied */
static struct range ring[RING];
static unsigned head, count; /* under lock */
static int busy;             /* under lock: the thread holds a range */
static int state;            /* under lock: 0 not started, 1 running, -1 unavailable */
static unsigned long done_n, dropped_n;

static void populate(const struct range *r)
{
    if (madvise(r->p, r->len, MADV_POPULATE_WRITE) == 0)
        return;
    if (errno == EINVAL) {
        pthread_mutex_lock(&lock);
        state = -1; /* an older kernel: stop queueing */
        pthread_mutex_unlock(&lock);
    }
    /* ENOMEM/EFAULT: the range went away meanwhile; nothing to do. */
}

static void *run(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    for (;;) {
        while (!count)
            pthread_cond_wait(&work, &lock);
        struct range r = ring[head];
        head = (head + 1) % RING;
        count--;
        busy = 1;
        pthread_mutex_unlock(&lock);
        populate(&r);
        pthread_mutex_lock(&lock);
        busy = 0;
        done_n++;
        if (!count)
            pthread_cond_broadcast(&idle);
    }
    return NULL;
}

/* Under lock: whether the thread runs (starting it the first time). */
static int started(void)
{
    if (state == 0) {
        pthread_t t;
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        state = pthread_create(&t, &a, run, NULL) ? -1 : 1;
        pthread_attr_destroy(&a);
        if (state < 0)
            log_warn("prefault: no thread; fresh memory is faulted in where it is used");
    }
    return state > 0;
}

void prefault_async(void *p, size_t len)
{
    pthread_mutex_lock(&lock);
    if (!started() || count == RING) {
        dropped_n++;
    } else {
        ring[(head + count) % RING] = (struct range){p, len};
        count++;
        pthread_cond_signal(&work);
    }
    pthread_mutex_unlock(&lock);
}

void prefault_drain(void)
{
    pthread_mutex_lock(&lock);
    while (count || busy)
        pthread_cond_wait(&idle, &lock);
    pthread_mutex_unlock(&lock);
}

void prefault_counts(unsigned long *done, unsigned long *dropped)
{
    pthread_mutex_lock(&lock);
    *done = done_n;
    *dropped = dropped_n;
    pthread_mutex_unlock(&lock);
}
