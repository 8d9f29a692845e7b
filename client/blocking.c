/*
 * blocking.c - the blocking API: a zk_t on a private loop thread.
 *
 * Callers on any thread append a job (the request, by pointer: the caller
 * is blocked until it completes, so the request and everything it points to
 * stay alive) to a mutex-protected list and wake the loop with a uv_async_t.
 * The loop thread submits each job with SUBMIT_OWNS_RESULT, so the result
 * is handed over to the job instead of being freed after the callback, and
 * signals the job's completion on a condition variable shared by all jobs
 * (jobs are few and short, so one broadcast is simpler than one condvar
 * each).
 *
 * Locking: `mu` guards the job list, every job's done/status/res fields and
 * open_status.  The loop thread never blocks on it for long.
 */
#include "blocking.h"
#include "conn.h"
#include "session.h"

#include "zk/zk.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

struct job {
    struct job *next;
    const struct zk_request *req;
    struct zk_result *res;
    int status;
    int done;
    int is_close;
    blocking_call_fn call; /* instead of req: code to start on the loop */
    void *arg;
};

struct zk_blocking {
    uv_loop_t loop;
    uv_async_t wake;
    uv_thread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct job *head, *tail; /* guarded by mu */
    int open_status;         /* guarded by mu: 1 connected, <0 failed, 0 waiting */
    zk_t *zk;                /* loop thread only (after open) */
    zk_session_fn user_session;
    void *user_data;
};

static void on_session(zk_t *zk, int ev, void *data)
{
    zk_blocking_t *b = data;
    pthread_mutex_lock(&b->mu);
    if (b->open_status == 0) {
        if (ev == ZK_SESSION_CONNECTED || ev == ZK_SESSION_RECONNECTED)
            b->open_status = 1;
        else if (ev == ZK_SESSION_EXPIRED)
            b->open_status = ZK_SESSIONEXPIRED;
        else if (ev == ZK_SESSION_AUTH_FAILED)
            b->open_status = ZK_AUTHFAILED;
        else if (ev == ZK_SESSION_CLOSED)
            b->open_status = ZK_CLOSING;
        pthread_cond_broadcast(&b->cv);
    }
    pthread_mutex_unlock(&b->mu);
    if (b->user_session)
        b->user_session(zk, ev, b->user_data);
}

static void job_done(zk_t *zk, int status, const struct zk_result *res, void *data)
{
    struct job *j = data;
    zk_blocking_t *b = zk_data(zk);
    pthread_mutex_lock(&b->mu);
    j->status = status;
    j->res = (struct zk_result *)res; /* SUBMIT_OWNS_RESULT: ours now */
    j->done = 1;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

static void on_wake_closed(uv_handle_t *h)
{
    (void)h;
}

static void on_zk_closed(zk_t *zk, void *data)
{
    zk_blocking_t *b = data;
    (void)zk;
    uv_close((uv_handle_t *)&b->wake, on_wake_closed);
}

static void on_wake(uv_async_t *a)
{
    zk_blocking_t *b = a->data;
    pthread_mutex_lock(&b->mu);
    struct job *j = b->head;
    b->head = b->tail = NULL;
    pthread_mutex_unlock(&b->mu);
    /* Calls queued by several threads meanwhile leave in one socket write. */
    struct conn *cork = zk__session_cork(b->zk);
    while (j) {
        struct job *next = j->next;
        if (j->is_close) {
            zk_close(b->zk, on_zk_closed, b);
            pthread_mutex_lock(&b->mu);
            j->done = 1;
            pthread_cond_broadcast(&b->cv);
            pthread_mutex_unlock(&b->mu);
        } else if (j->call) {
            j->call(b->zk, j->arg, j);
        } else {
            zk__session_submit(b->zk, j->req, job_done, j, SUBMIT_OWNS_RESULT);
        }
        j = next;
    }
    zk__conn_uncork(cork);
}

static void thread_main(void *arg)
{
    zk_blocking_t *b = arg;
    uv_run(&b->loop, UV_RUN_DEFAULT);
}

/* Queues j and waits for it.  Any thread but the loop's. */
static void run_job(zk_blocking_t *b, struct job *j)
{
    /* From the handle's own loop thread (a watcher or session callback) the
     * job would wait for the thread that is waiting: a deadlock. */
    uv_thread_t self = uv_thread_self();
    assert(!uv_thread_equal(&self, &b->thread));
    (void)self;
    pthread_mutex_lock(&b->mu);
    j->next = NULL;
    if (b->tail)
        b->tail->next = j;
    else
        b->head = j;
    b->tail = j;
    pthread_mutex_unlock(&b->mu);
    uv_async_send(&b->wake);
    pthread_mutex_lock(&b->mu);
    while (!j->done)
        pthread_cond_wait(&b->cv, &b->mu);
    pthread_mutex_unlock(&b->mu);
}

int zk_blocking_open(const struct zk_options *o, zk_blocking_t **out)
{
    if (!o)
        return ZK_BADARGUMENTS;
    zk_blocking_t *b = calloc(1, sizeof *b);
    if (!b)
        return ZK_SYSTEMERROR;
    int rc = ZK_SYSTEMERROR;
    struct zk_options mine = *o;
    b->user_session = o->on_session;
    b->user_data = o->data;
    mine.on_session = on_session;
    mine.data = b;
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    if (uv_loop_init(&b->loop) != 0)
        goto err_sync;
    if (uv_async_init(&b->loop, &b->wake, on_wake) != 0)
        goto err_loop;
    b->wake.data = b;
    rc = zk_open(&b->loop, &mine, &b->zk);
    if (rc != 0)
        goto err_async;
    zk_set_data(b->zk, b);
    if (uv_thread_create(&b->thread, thread_main, b) != 0) {
        rc = ZK_SYSTEMERROR;
        zk_close(b->zk, on_zk_closed, b);
        uv_run(&b->loop, UV_RUN_DEFAULT);
        goto err_loop_closed;
    }

    int wait_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms
                  : o->session_timeout_ms > 0 ? o->session_timeout_ms : 10000;
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += wait_ms / 1000;
    deadline.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&b->mu);
    while (b->open_status == 0)
        if (pthread_cond_timedwait(&b->cv, &b->mu, &deadline) == ETIMEDOUT)
            break;
    rc = b->open_status == 1 ? 0 : b->open_status == 0 ? ZK_CONNECTIONLOSS : b->open_status;
    if (rc != 0)
        b->open_status = rc; /* later session events are not open results */
    pthread_mutex_unlock(&b->mu);
    if (rc != 0) {
        zk_blocking_close(b);
        return rc;
    }
    *out = b;
    return 0;

err_async:
    uv_close((uv_handle_t *)&b->wake, NULL);
    uv_run(&b->loop, UV_RUN_DEFAULT);
err_loop_closed:
err_loop:
    uv_loop_close(&b->loop);
err_sync:
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
    free(b);
    return rc;
}

void zk_blocking_close(zk_blocking_t *b)
{
    if (!b)
        return;
    struct job j = {.is_close = 1};
    run_job(b, &j);
    uv_thread_join(&b->thread);
    uv_loop_close(&b->loop);
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
    free(b);
}

zk_t *zk_blocking_handle(zk_blocking_t *b)
{
    return b->zk;
}

int zk_blocking_submit(zk_blocking_t *b, const struct zk_request *req, struct zk_result **out)
{
    struct job j = {.req = req};
    run_job(b, &j);
    if (out)
        *out = j.res;
    else
        zk_result_free(j.res);
    return j.status;
}

int zk_blocking_submit_many(zk_blocking_t *b, const struct zk_request *reqs, size_t n,
                            int *statuses, struct zk_result **outs)
{
    struct job *jobs = n ? calloc(n, sizeof *jobs) : NULL;
    if (n && !jobs) {
        for (size_t i = 0; outs && i < n; i++)
            outs[i] = NULL;
        return ZK_SYSTEMERROR;
    }
    pthread_mutex_lock(&b->mu);
    for (size_t i = 0; i < n; i++) {
        jobs[i].req = &reqs[i];
        if (b->tail)
            b->tail->next = &jobs[i];
        else
            b->head = &jobs[i];
        b->tail = &jobs[i];
    }
    pthread_mutex_unlock(&b->mu);
    if (n)
        uv_async_send(&b->wake);
    pthread_mutex_lock(&b->mu);
    /* Replies come in order, so waiting for each in turn wakes up about once. */
    for (size_t i = 0; i < n; i++)
        while (!jobs[i].done)
            pthread_cond_wait(&b->cv, &b->mu);
    pthread_mutex_unlock(&b->mu);
    for (size_t i = 0; i < n; i++) {
        statuses[i] = jobs[i].status;
        if (outs)
            outs[i] = jobs[i].res;
        else
            zk_result_free(jobs[i].res);
    }
    free(jobs);
    return 0;
}

int zk_blocking_create(zk_blocking_t *b, const char *path, const void *value, int32_t len,
                       int mode, char **created)
{
    struct zk_request r = {
        .op = ZK_OP_CREATE, .path = path, .data = value, .data_len = len, .create_mode = mode,
    };
    struct zk_result *res;
    int rc = zk_blocking_submit(b, &r, &res);
    if (created) {
        *created = rc == 0 && res->path ? res->path : NULL;
        if (rc == 0)
            res->path = NULL;
    }
    zk_result_free(res);
    return rc;
}

int zk_blocking_delete(zk_blocking_t *b, const char *path, int32_t version)
{
    struct zk_request r = {.op = ZK_OP_DELETE, .path = path, .version = version};
    return zk_blocking_submit(b, &r, NULL);
}

static int stat_op(zk_blocking_t *b, const struct zk_request *r, struct zk_stat *st)
{
    struct zk_result *res;
    int rc = zk_blocking_submit(b, r, &res);
    if (st && rc == 0)
        *st = res->stat;
    zk_result_free(res);
    return rc;
}

int zk_blocking_exists(zk_blocking_t *b, const char *path, struct zk_stat *st)
{
    struct zk_request r = {.op = ZK_OP_EXISTS, .path = path};
    return stat_op(b, &r, st);
}

int zk_blocking_set(zk_blocking_t *b, const char *path, const void *value, int32_t len,
                    int32_t version, struct zk_stat *st)
{
    struct zk_request r = {
        .op = ZK_OP_SETDATA, .path = path, .data = value, .data_len = len, .version = version,
    };
    return stat_op(b, &r, st);
}

int zk_blocking_get(zk_blocking_t *b, const char *path, char **value, int32_t *len,
                    struct zk_stat *st)
{
    struct zk_request r = {.op = ZK_OP_GETDATA, .path = path};
    struct zk_result *res;
    int rc = zk_blocking_submit(b, &r, &res);
    if (rc == 0) {
        if (value) {
            *value = res->data;
            res->data = NULL;
        }
        if (len)
            *len = res->data_len;
        if (st)
            *st = res->stat;
    }
    zk_result_free(res);
    return rc;
}

int zk__blocking_call(zk_blocking_t *b, blocking_call_fn fn, void *arg)
{
    struct job j = {.call = fn, .arg = arg};
    run_job(b, &j);
    return j.status;
}

void zk__blocking_call_done(zk_t *zk, struct job *j, int status)
{
    zk_blocking_t *b = zk_data(zk);
    pthread_mutex_lock(&b->mu);
    assert(!j->done); /* exactly once */
    j->status = status;
    j->done = 1;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}
