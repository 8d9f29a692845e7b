/*
 * zconn.c - the mount's ZooKeeper session: open, watch, renew after expiry.
 *
 * The handle pointer is guarded by a read-write lock: requests hold it for
 * reading while they run, zconn_renew holds it for writing while it swaps
 * an expired handle for a new one, so no request ever uses a closed one.
 */
#include "zconn.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct zkfs_conn {
    struct zkfs_conn_config cfg;
    pthread_rwlock_t lock;
    zk_blocking_t *b; /* guarded by lock */
};

static void on_watch(zk_t *zk, const struct zk_event *ev, void *data)
{
    struct zkfs_conn *c = data;
    if (ev->path && ev->type != ZK_EVENT_NONE)
        c->cfg.on_event(ev->type, ev->path, c->cfg.data);
}

static void on_session(zk_t *zk, int event, void *data)
{
    struct zkfs_conn *c = data;
    c->cfg.on_session(event, c->cfg.data);
}

/* Opens a session, authenticates, arms the recursive watch. */
static int open_handle(struct zkfs_conn *c, zk_blocking_t **out)
{
    struct zk_options o;
    zk_options_init(&o);
    o.hosts = c->cfg.hosts;
    if (c->cfg.session_timeout_ms > 0)
        o.session_timeout_ms = c->cfg.session_timeout_ms;
    o.use_tls = c->cfg.use_tls;
    if (c->cfg.use_tls)
        o.tls = c->cfg.tls;
    o.on_session = on_session;
    o.data = c;
    /* A directory of a million entries is one getChildren reply of megabytes;
     * servers send it whatever their jute.maxbuffer (docs/zkfs.md, large
     * directories), so zkfs takes any reply a frame can carry. */
    o.max_reply = INT32_MAX;
    zk_blocking_t *b;
    int rc = zk_blocking_open(&o, &b);
    if (rc)
        return rc;
    if (c->cfg.digest) {
        struct zk_request auth = {.op = ZK_OP_AUTH, .scheme = "digest", .data = c->cfg.digest,
                                  .data_len = (int32_t)strlen(c->cfg.digest)};
        rc = zk_blocking_submit(b, &auth, NULL);
        if (rc)
            goto err_close;
    }
    struct zk_request w = {.op = ZK_OP_ADDWATCH, .path = "/",
                           .watch_mode = ZK_ADDWATCH_PERSISTENT_RECURSIVE,
                           .watcher = on_watch, .watcher_data = c};
    rc = zk_blocking_submit(b, &w, NULL);
    if (rc)
        goto err_close;
    *out = b;
    return 0;
err_close:
    zk_blocking_close(b);
    return rc;
}

int zconn_open(const struct zkfs_conn_config *cfg, struct zkfs_conn **out)
{
    struct zkfs_conn *c = calloc(1, sizeof *c);
    if (!c)
        return ZK_SYSTEMERROR;
    c->cfg = *cfg;
    pthread_rwlock_init(&c->lock, NULL);
    int rc = open_handle(c, &c->b);
    if (rc) {
        pthread_rwlock_destroy(&c->lock);
        free(c);
        return rc;
    }
    *out = c;
    return 0;
}

int zconn_submit(struct zkfs_conn *c, const struct zk_request *req, struct zk_result **res)
{
    pthread_rwlock_rdlock(&c->lock);
    int rc = zk_blocking_submit(c->b, req, res);
    pthread_rwlock_unlock(&c->lock);
    return rc;
}

int zconn_submit_many(struct zkfs_conn *c, const struct zk_request *reqs, size_t n, int *statuses,
                      struct zk_result **outs)
{
    pthread_rwlock_rdlock(&c->lock);
    int rc = zk_blocking_submit_many(c->b, reqs, n, statuses, outs);
    pthread_rwlock_unlock(&c->lock);
    return rc;
}

int zconn_renew(struct zkfs_conn *c)
{
    zk_blocking_t *b;
    int rc = open_handle(c, &b);
    if (rc)
        return rc;
    pthread_rwlock_wrlock(&c->lock);
    zk_blocking_t *old = c->b;
    c->b = b;
    pthread_rwlock_unlock(&c->lock);
    zk_blocking_close(old);
    return 0;
}

int64_t zconn_session_id(struct zkfs_conn *c)
{
    pthread_rwlock_rdlock(&c->lock);
    int64_t id = zk_session_id(zk_blocking_handle(c->b));
    pthread_rwlock_unlock(&c->lock);
    return id;
}

void zconn_close(struct zkfs_conn *c)
{
    if (!c)
        return;
    zk_blocking_close(c->b);
    pthread_rwlock_destroy(&c->lock);
    free(c);
}
