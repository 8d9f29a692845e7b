/*
 * barrier.c - the barrier (Curator's DistributedBarrier) and the double
 * barrier (ZooKeeper recipes page, "Double Barriers").
 *
 * Barrier: up while its node exists.  A waiter reads the node with a watch
 * (getData arms nothing on an absent node) and completes when it is gone.
 *
 * Double barrier: each participant creates dir/<id> (ephemeral), arms an
 * exists watch on dir/ready, and lists dir; the participant that sees
 * `count` members creates dir/ready, whose creation wakes everyone.  To
 * leave, a participant deletes its node and waits (child watch on dir)
 * until no member node is left.  A dir serves one round.
 */
#include "recipe.h"

#include "zk/jute.h"

#include <stdlib.h>
#include <string.h>

/* ---- simple status completions ---- */

struct status_ctx {
    zk_status_fn cb;
    void *data;
};

static void status_done(zk_t *zk, int status, const struct zk_result *res, void *data)
{
    struct status_ctx *c = data;
    (void)zk;
    (void)res;
    if (status == ZK_NODEEXISTS && res && res->op != ZK_OP_DELETE)
        status = 0; /* an existing barrier is up */
    if (c->cb)
        c->cb(status, c->data);
    free(c);
}

static struct status_ctx *status_ctx(zk_status_fn cb, void *data)
{
    struct status_ctx *c = zk_xcalloc(1, sizeof *c);
    c->cb = cb;
    c->data = data;
    return c;
}

void zk_barrier_set(zk_t *zk, const char *path, zk_status_fn cb, void *data)
{
    zk__recipe_create(zk, path, NULL, -1, ZK_PERSISTENT, status_done, status_ctx(cb, data));
}

static void removed(zk_t *zk, int status, const struct zk_result *res, void *data)
{
    status_done(zk, status == ZK_NONODE ? 0 : status, res, data);
}

void zk_barrier_remove(zk_t *zk, const char *path, zk_status_fn cb, void *data)
{
    zk_delete(zk, path, -1, removed, status_ctx(cb, data));
}

/* ---- barrier wait ---- */

struct bwait {
    struct recipe r;
    char *path;
    zk_status_fn cb;
    void *data;
};

static void bwait_check(struct bwait *w);

static void bwait_finish(struct bwait *w, int status)
{
    zk_status_fn cb = w->cb;
    w->cb = NULL;
    if (cb) {
        cb(status, w->data);
        zk__recipe_release(&w->r);
    }
}

static void bwait_watcher(zk_t *zk, const struct zk_event *ev, void *data)
{
    struct bwait *w = data;
    (void)zk;
    zk__recipe_hold(&w->r);
    zk__recipe_watch_fired(&w->r, ev);
    if (ev->type == ZK_EVENT_NONE)
        bwait_finish(w, ZK_SESSIONEXPIRED);
    else if (w->cb)
        bwait_check(w);
    zk__recipe_drop(&w->r);
}

static void bwait_got(zk_t *zk, int status, const struct zk_result *res, void *data)
{
    struct bwait *w = data;
    (void)zk;
    (void)res;
    if (status == 0)
        zk__recipe_watch_armed(&w->r); /* wait for it */
    else if (status == ZK_NONODE)
        bwait_finish(w, 0);
    else if (status == ZK_CONNECTIONLOSS && !w->r.closed)
        bwait_check(w);
    else
        bwait_finish(w, status);
    zk__recipe_drop(&w->r);
}

static void bwait_check(struct bwait *w)
{
    zk__recipe_hold(&w->r);
    zk_get(w->r.zk, w->path, bwait_watcher, w, bwait_got, w);
}

static void bwait_destroy(struct recipe *r)
{
    struct bwait *w = (struct bwait *)r;
    free(w->path);
    free(w);
}

void zk_barrier_wait(zk_t *zk, const char *path, zk_status_fn cb, void *data)
{
    struct bwait *w = zk_xcalloc(1, sizeof *w);
    zk__recipe_init(&w->r, zk, bwait_destroy, NULL);
    w->path = zk_xstrndup(path, strlen(path));
    w->cb = cb ? cb : NULL;
    w->data = data;
    if (!cb) {
        zk__recipe_release(&w->r);
        return;
    }
    bwait_check(w);
}

/* ---- double barrier ---- */

enum db_state { DB_IDLE, DB_ENTERING, DB_ENTERED, DB_LEAVING, DB_LEFT };

struct zk_dbarrier {
    struct recipe r;
    char *dir, *node, *ready;
    int count;
    enum db_state st;
    zk_status_fn cb;
    void *data;
};

static void db_finish(zk_dbarrier_t *b, int status, enum db_state next)
{
    zk_status_fn cb = b->cb;
    b->cb = NULL;
    b->st = status == 0 ? next : DB_IDLE;
    if (cb)
        cb(status, b->data);
}

static void db_list(zk_dbarrier_t *b);
static void db_leave_check(zk_dbarrier_t *b);

static void db_watcher(zk_t *zk, const struct zk_event *ev, void *data)
{
    zk_dbarrier_t *b = data;
    (void)zk;
    zk__recipe_hold(&b->r);
    zk__recipe_watch_fired(&b->r, ev);
    if (ev->type == ZK_EVENT_NONE) {
        if (b->st == DB_ENTERING || b->st == DB_LEAVING)
            db_finish(b, ZK_SESSIONEXPIRED, DB_IDLE);
    } else if (b->st == DB_ENTERING && strcmp(ev->path, b->ready) == 0) {
        /* The creation itself is the signal: ready may be gone again
         * already if everyone else has left. */
        db_finish(b, 0, DB_ENTERED);
    } else if (b->st == DB_LEAVING && ev->type == ZK_EVENT_CHILD) {
        db_leave_check(b);
    }
    zk__recipe_drop(&b->r);
}

static void db_ready_made(zk_t *zk, int status, const struct zk_result *res, void *data)
{
    zk_dbarrier_t *b = data;
    (void)zk;
    (void)res;
    /* The ready watch fires for everyone, us included; only failures here. */
    if (status != 0 && status != ZK_NODEEXISTS && b->st == DB_ENTERING) {
        if (status == ZK_CONNECTIONLOSS && !b->r.closed)
            db_list(b);
        else
            db_finish(b, status, DB_IDLE);
    }
    zk__recipe_drop(&b->r);
}

/* Members in a double barrier's directory listing: every child but "ready". */
static int count_members(const struct zk_result *res)
{
    int members = 0;
    for (int i = 0; i < res->nchildren; i++)
        members += strcmp(res->children[i], "ready") != 0;
    return members;
}

static void db_listed(zk_t *zk, int status, const struct zk_result *res, void *data)
{
    zk_dbarrier_t *b = data;
    (void)zk;
    if (b->st != DB_ENTERING) {
    } else if (status == ZK_CONNECTIONLOSS && !b->r.closed) {
        db_list(b);
    } else if (status != 0) {
        db_finish(b, status, DB_IDLE);
    } else {
        if (count_members(res) >= b->count) {
            zk__recipe_hold(&b->r);
            zk_create(b->r.zk, b->ready, NULL, -1, NULL, 0, ZK_PERSISTENT, 0, db_ready_made, b);
        }
    }
    zk__recipe_drop(&b->r);
}

static void db_list(zk_dbarrier_t *b)
{
    zk__recipe_hold(&b->r);
    zk_get_children(b->r.zk, b->dir, 0, NULL, NULL, db_listed, b);
}

static void db_ready_checked(zk_t *zk, int status, const struct zk_result *res, void *data)
{
    zk_dbarrier_t *b = data;
    (void)zk;
    (void)res;
    if (status == 0 || status == ZK_NONODE)
        zk__recipe_watch_armed(&b->r);
    if (b->st != DB_ENTERING) {
    } else if (status == 0) {
        db_finish(b, 0, DB_ENTERED);
    } else if (status == ZK_NONODE || (status == ZK_CONNECTIONLOSS && !b->r.closed)) {
        db_list(b); /* (after a loss the watch may be missing: the list retries) */
    } else {
        db_finish(b, status, DB_IDLE);
    }
    zk__recipe_drop(&b->r);
}

static void db_joined(zk_t *zk, int status, const struct zk_result *res, void *data)
{
    zk_dbarrier_t *b = data;
    (void)res;
    if (b->st != DB_ENTERING) {
    } else if (status == ZK_CONNECTIONLOSS && !b->r.closed) {
        zk__recipe_hold(&b->r); /* retry; NODEEXISTS then means it was made */
        zk__recipe_create(zk, b->node, NULL, -1, ZK_EPHEMERAL, db_joined, b);
    } else if (status != 0 && status != ZK_NODEEXISTS) {
        db_finish(b, status, DB_IDLE);
    } else {
        zk__recipe_hold(&b->r);
        zk_exists(zk, b->ready, db_watcher, b, db_ready_checked, b);
    }
    zk__recipe_drop(&b->r);
}

static void db_leave_listed(zk_t *zk, int status, const struct zk_result *res, void *data)
{
    zk_dbarrier_t *b = data;
    (void)zk;
    if (status == 0)
        zk__recipe_watch_armed(&b->r);
    if (b->st != DB_LEAVING) {
    } else if (status == ZK_CONNECTIONLOSS && !b->r.closed) {
        db_leave_check(b);
    } else if (status == ZK_NONODE) {
        db_finish(b, 0, DB_LEFT);
    } else if (status != 0) {
        db_finish(b, status, DB_IDLE);
    } else {
        if (count_members(res) == 0)
            db_finish(b, 0, DB_LEFT);
        /* else wait for the child watch */
    }
    zk__recipe_drop(&b->r);
}

static void db_leave_check(zk_dbarrier_t *b)
{
    zk__recipe_hold(&b->r);
    zk_get_children(b->r.zk, b->dir, 0, db_watcher, b, db_leave_listed, b);
}

static void db_deleted(zk_t *zk, int status, const struct zk_result *res, void *data)
{
    zk_dbarrier_t *b = data;
    (void)res;
    if (b->st != DB_LEAVING) {
    } else if (status == ZK_CONNECTIONLOSS && !b->r.closed) {
        zk__recipe_hold(&b->r);
        zk_delete(zk, b->node, -1, db_deleted, b);
    } else if (status != 0 && status != ZK_NONODE) {
        db_finish(b, status, DB_IDLE);
    } else {
        db_leave_check(b);
    }
    zk__recipe_drop(&b->r);
}

static void db_destroy(struct recipe *r)
{
    zk_dbarrier_t *b = (zk_dbarrier_t *)r;
    free(b->dir);
    free(b->node);
    free(b->ready);
    free(b);
}

int zk_dbarrier_new(zk_t *zk, const char *dir, const char *id, int count, zk_dbarrier_t **out)
{
    *out = NULL;
    if (!zk || zk__recipe_check_path(dir) != 0 || !id || !*id || strchr(id, '/') ||
        strcmp(id, "ready") == 0 || count < 1)
        return ZK_BADARGUMENTS;
    zk_dbarrier_t *b = zk_xcalloc(1, sizeof *b);
    zk__recipe_init(&b->r, zk, db_destroy, NULL);
    b->dir = zk_xstrndup(dir, strlen(dir));
    b->node = zk__recipe_join(dir, id);
    b->ready = zk__recipe_join(dir, "ready");
    b->count = count;
    *out = b;
    return 0;
}

void zk_dbarrier_enter(zk_dbarrier_t *b, zk_status_fn cb, void *data)
{
    if (b->st != DB_IDLE || b->r.closed) {
        if (cb)
            cb(b->r.closed ? ZK_CLOSING : ZK_APIERROR, data);
        return;
    }
    b->st = DB_ENTERING;
    b->cb = cb;
    b->data = data;
    zk__recipe_hold(&b->r);
    zk__recipe_create(b->r.zk, b->node, NULL, -1, ZK_EPHEMERAL, db_joined, b);
}

void zk_dbarrier_leave(zk_dbarrier_t *b, zk_status_fn cb, void *data)
{
    if (b->st != DB_ENTERED || b->r.closed) {
        if (cb)
            cb(b->r.closed ? ZK_CLOSING : ZK_APIERROR, data);
        return;
    }
    b->st = DB_LEAVING;
    b->cb = cb;
    b->data = data;
    zk__recipe_hold(&b->r);
    zk_delete(b->r.zk, b->node, -1, db_deleted, b);
}

void zk_dbarrier_free(zk_dbarrier_t *b)
{
    if (!b)
        return;
    b->cb = NULL;
    if (!b->r.closed && (b->st == DB_ENTERING || b->st == DB_ENTERED)) {
        zk__recipe_hold(&b->r); /* withdraw; the ephemeral would go with the session anyway */
        b->st = DB_LEFT;
        zk_delete(b->r.zk, b->node, -1, db_deleted, b);
    }
    b->st = DB_LEFT;
    zk__recipe_release(&b->r);
}
