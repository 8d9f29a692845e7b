/*
 * blocking_recipes.c - blocking conveniences over the recipes.
 *
 * Each call packs its arguments, runs a starter on the blocking handle's
 * loop thread (blocking.h), and waits for the recipe's callback there to
 * report.  The recipe objects live on the loop thread; a zk_lock_t handed
 * out by zk_blocking_lock is only ever touched again through
 * zk_blocking_unlock, on that thread.
 */
#include "../blocking.h"
#include "recipe.h"

#include "zk/jute.h"

#include <stdlib.h>
#include <string.h>

struct bargs {
    struct job *job;
    zk_t *zk;
    const char *path;
    int kind, try_only;
    const char *id;
    zk_lock_t *lock;
    int64_t delta, value;
    const void *in;
    int32_t in_len;
    char *out;
    int32_t out_len;
    zk_queue_t *queue;
};

static void done_status(int status, void *data)
{
    struct bargs *a = data;
    zk__blocking_call_done(a->zk, a->job, status);
}

/* ---- lock ---- */

static void on_locked(zk_lock_t *l, int status, void *data)
{
    struct bargs *a = data;
    if (status != 0) {
        zk_lock_free(l);
        a->lock = NULL;
    }
    zk__blocking_call_done(a->zk, a->job, status);
}

static void start_lock(zk_t *zk, void *arg, struct job *job)
{
    struct bargs *a = arg;
    a->zk = zk;
    a->job = job;
    int rc = zk_lock_new(zk, a->path, a->kind, a->id, &a->lock);
    if (rc != 0) {
        zk__blocking_call_done(zk, job, rc);
        return;
    }
    zk_lock_acquire(a->lock, a->try_only, on_locked, a);
}

int zk_blocking_lock(zk_blocking_t *b, const char *dir, int kind, const char *id, int try_only,
                     zk_lock_t **out)
{
    struct bargs a = {.path = dir, .kind = kind, .id = id, .try_only = try_only};
    int rc = zk__blocking_call(b, start_lock, &a);
    *out = rc == 0 ? a.lock : NULL;
    return rc;
}

static void on_unlocked(zk_lock_t *l, int status, void *data)
{
    struct bargs *a = data;
    zk_lock_free(l);
    zk__blocking_call_done(a->zk, a->job, status);
}

static void start_unlock(zk_t *zk, void *arg, struct job *job)
{
    struct bargs *a = arg;
    a->zk = zk;
    a->job = job;
    if (!zk_lock_is_held(a->lock)) {
        zk_lock_free(a->lock); /* lost meanwhile: nothing to release */
        zk__blocking_call_done(zk, job, ZK_SESSIONEXPIRED);
        return;
    }
    zk_lock_release(a->lock, on_unlocked, a);
}

int zk_blocking_unlock(zk_blocking_t *b, zk_lock_t *lock)
{
    if (!lock)
        return ZK_BADARGUMENTS;
    struct bargs a = {.lock = lock};
    return zk__blocking_call(b, start_unlock, &a);
}

/* ---- counter ---- */

static void on_counted(int status, int64_t value, void *data)
{
    struct bargs *a = data;
    a->value = value;
    zk__blocking_call_done(a->zk, a->job, status);
}

static void start_counter(zk_t *zk, void *arg, struct job *job)
{
    struct bargs *a = arg;
    a->zk = zk;
    a->job = job;
    zk_counter_add(zk, a->path, a->delta, on_counted, a);
}

int zk_blocking_counter_add(zk_blocking_t *b, const char *path, int64_t delta, int64_t *value)
{
    struct bargs a = {.path = path, .delta = delta};
    int rc = zk__blocking_call(b, start_counter, &a);
    if (value)
        *value = a.value;
    return rc;
}

/* ---- barrier, mkdirs ---- */

static void start_barrier(zk_t *zk, void *arg, struct job *job)
{
    struct bargs *a = arg;
    a->zk = zk;
    a->job = job;
    zk_barrier_wait(zk, a->path, done_status, a);
}

int zk_blocking_barrier_wait(zk_blocking_t *b, const char *path)
{
    struct bargs a = {.path = path};
    return zk__blocking_call(b, start_barrier, &a);
}

static void start_mkdirs(zk_t *zk, void *arg, struct job *job)
{
    struct bargs *a = arg;
    a->zk = zk;
    a->job = job;
    zk_mkdirs(zk, a->path, done_status, a);
}

int zk_blocking_mkdirs(zk_blocking_t *b, const char *path)
{
    struct bargs a = {.path = path};
    return zk__blocking_call(b, start_mkdirs, &a);
}

/* ---- queue ---- */

static void start_put(zk_t *zk, void *arg, struct job *job)
{
    struct bargs *a = arg;
    a->zk = zk;
    a->job = job;
    zk_queue_put(zk, a->path, a->in, a->in_len, done_status, a);
}

int zk_blocking_queue_put(zk_blocking_t *b, const char *dir, const void *value, int32_t len)
{
    struct bargs a = {.path = dir, .in = value, .in_len = len};
    return zk__blocking_call(b, start_put, &a);
}

static void on_taken(zk_queue_t *q, int status, const char *value, int32_t len, void *data)
{
    struct bargs *a = data;
    if (status == 0) {
        a->out = zk_xmalloc((size_t)len + 1);
        memcpy(a->out, value, (size_t)len + 1);
        a->out_len = len;
    }
    zk_queue_free(q);
    zk__blocking_call_done(a->zk, a->job, status);
}

static void start_take(zk_t *zk, void *arg, struct job *job)
{
    struct bargs *a = arg;
    a->zk = zk;
    a->job = job;
    int rc = zk_queue_new(zk, a->path, &a->queue);
    if (rc != 0) {
        zk__blocking_call_done(zk, job, rc);
        return;
    }
    zk_queue_get(a->queue, on_taken, a);
}

int zk_blocking_queue_take(zk_blocking_t *b, const char *dir, char **value, int32_t *len)
{
    struct bargs a = {.path = dir};
    int rc = zk__blocking_call(b, start_take, &a);
    if (value)
        *value = a.out;
    else
        free(a.out);
    if (len)
        *len = rc == 0 ? a.out_len : -1;
    return rc;
}
