/*
 * lock.c - exclusive and read/write locks, the herd-free recipe of the
 * ZooKeeper documentation ("Locks", "Shared Locks").
 *
 * A contender creates dir/_c_<guid>-<kind>-<seq> (ephemeral, sequential),
 * lists dir, and finds its predecessor: the next lower node of any kind for
 * a write (exclusive) lock, the next lower write node for a read lock.  No
 * predecessor: the lock is held.  Otherwise it reads the predecessor with a
 * watch (getData, so nothing is armed on an absent node) and lists again
 * when that node goes; only one waiter wakes per release.
 *
 * The guid is Curator's protection mode: a create that fails with
 * CONNECTIONLOSS may have succeeded, so the contender lists dir and adopts
 * the node carrying its guid before it would create another (a duplicate
 * would be a node nobody deletes until the session ends, blocking every
 * later contender).
 *
 * States: IDLE -> CREATING -> CHECKING <-> WAITING -> HELD -> RELEASING ->
 * IDLE.  `want` says whether the user still wants the lock; every step
 * that learns of a node while !want deletes it (withdraw), so freeing or a
 * failed try-lock never leaves a node behind on a live session.
 */
#include "recipe.h"

#include "zk/jute.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum lock_state { L_IDLE, L_CREATING, L_CHECKING, L_WAITING, L_HELD, L_RELEASING };

struct zk_lock {
    struct recipe r;
    char *dir;
    char *id;
    int kind;
    char prefix[64]; /* "_c_<guid>-<kind>-" */
    char *node;      /* our node's full path, once known */
    char *watching;  /* the predecessor watched while WAITING */
    enum lock_state st;
    int want;
    int try_only;
    zk_lock_fn acq_cb, rel_cb, lost_cb;
    void *acq_data, *rel_data, *lost_data;
};

static void lock_create(zk_lock_t *l);
static void lock_find(zk_lock_t *l);
static void lock_check(zk_lock_t *l);
static void lock_withdraw(zk_lock_t *l);
static void start_acquire(zk_lock_t *l);

static const char *kind_name(int kind)
{
    return kind == ZK_LOCK_READ ? "read" : "write";
}

/* A node's kind from its name: Curator's "__READ__" and ours "-read-". */
static int node_is_read(const char *name)
{
    return strstr(name, "-read-") != NULL || strstr(name, "__READ__") != NULL;
}

static void set_node(zk_lock_t *l, const char *path)
{
    free(l->node);
    l->node = path ? zk_xstrndup(path, strlen(path)) : NULL;
}

static void finish_acquire(zk_lock_t *l, int status)
{
    zk_lock_fn cb = l->acq_cb;
    void *data = l->acq_data;
    l->acq_cb = NULL;
    if (status != 0) {
        l->want = 0;
        if (l->node && status != ZK_SESSIONEXPIRED && status != ZK_CLOSING)
            lock_withdraw(l);
        else if (l->st != L_RELEASING)
            l->st = L_IDLE;
    } else {
        l->st = L_HELD;
    }
    if (cb)
        cb(l, status, data);
}

/* Requests end with ZK_CLOSING when the handle closes: give up quietly. */
static int handle_gone(zk_lock_t *l, int status)
{
    if (status == ZK_CLOSING || l->r.closed) {
        l->st = L_IDLE;
        l->want = 0;
        return 1;
    }
    return 0;
}

/* We know our node: go on, or delete it when nobody wants it anymore. */
static void have_node(zk_lock_t *l)
{
    if (l->want)
        lock_check(l);
    else
        lock_withdraw(l);
}

static void on_mkdirs(int status, void *data)
{
    zk_lock_t *l = data;
    if (!handle_gone(l, status)) {
        if (status == 0 && l->want)
            lock_create(l);
        else if (l->want)
            finish_acquire(l, status);
        else
            l->st = L_IDLE;
    }
    zk__recipe_drop(&l->r);
}

static void on_created(zk_t *zk, int status, const struct zk_result *res, void *data)
{
    zk_lock_t *l = data;
    (void)zk;
    if (handle_gone(l, status)) {
    } else if (status == 0) {
        set_node(l, res->path);
        have_node(l);
    } else if (status == ZK_NONODE && l->want) {
        zk__recipe_hold(&l->r);
        zk_mkdirs(l->r.zk, l->dir, on_mkdirs, l);
    } else if (status == ZK_CONNECTIONLOSS) {
        lock_find(l);
    } else if (l->want) {
        finish_acquire(l, status);
    } else {
        l->st = L_IDLE;
    }
    zk__recipe_drop(&l->r);
}

static void lock_create(zk_lock_t *l)
{
    char *path = zk__recipe_join(l->dir, l->prefix);
    l->st = L_CREATING;
    zk__recipe_hold(&l->r);
    zk_create(l->r.zk, path, l->id, l->id ? (int32_t)strlen(l->id) : -1, NULL, 0,
              ZK_EPHEMERAL_SEQUENTIAL, 0, on_created, l);
    free(path);
}

/* After a lost create: adopt the node with our guid, if it was made. */
static void on_found(zk_t *zk, int status, const struct zk_result *res, void *data)
{
    zk_lock_t *l = data;
    (void)zk;
    if (handle_gone(l, status)) {
    } else if (status == 0) {
        const char *mine = NULL;
        for (int i = 0; i < res->nchildren && !mine; i++)
            if (strncmp(res->children[i], l->prefix, strlen(l->prefix)) == 0)
                mine = res->children[i];
        if (mine) {
            char *p = zk__recipe_join(l->dir, mine);
            set_node(l, p);
            free(p);
            have_node(l);
        } else if (l->want) {
            lock_create(l);
        } else {
            l->st = L_IDLE;
        }
    } else if (status == ZK_CONNECTIONLOSS) {
        lock_find(l);
    } else if (status == ZK_NONODE && l->want) {
        lock_create(l);
    } else if (l->want) {
        finish_acquire(l, status);
    } else {
        l->st = L_IDLE;
    }
    zk__recipe_drop(&l->r);
}

static void lock_find(zk_lock_t *l)
{
    zk__recipe_hold(&l->r);
    zk_get_children(l->r.zk, l->dir, 0, NULL, NULL, on_found, l);
}

static void lock_watcher(zk_t *zk, const struct zk_event *ev, void *data)
{
    zk_lock_t *l = data;
    (void)zk;
    zk__recipe_hold(&l->r);
    zk__recipe_watch_fired(&l->r, ev);
    if (ev->type == ZK_EVENT_NONE) {
        if (l->st == L_WAITING && l->want)
            finish_acquire(l, ZK_SESSIONEXPIRED);
    } else if (l->st == L_WAITING && l->watching && strcmp(ev->path, l->watching) == 0) {
        have_node(l);
    }
    zk__recipe_drop(&l->r);
}

static void on_pred(zk_t *zk, int status, const struct zk_result *res, void *data)
{
    zk_lock_t *l = data;
    (void)zk;
    (void)res;
    if (status == 0)
        zk__recipe_watch_armed(&l->r);
    if (handle_gone(l, status)) {
    } else if (status == 0) {
        if (!l->want)
            lock_withdraw(l);
        /* else wait for the watch */
    } else if (status == ZK_NONODE || status == ZK_CONNECTIONLOSS) {
        have_node(l);
    } else if (l->want) {
        finish_acquire(l, status);
    }
    zk__recipe_drop(&l->r);
}

/* Our predecessor among `children` (the highest lower node that blocks us).
 * Returns its name, NULL if none; *own_found says whether we are listed. */
static const char *predecessor(const zk_lock_t *l, const struct zk_result *res, int *own_found)
{
    const char *own = strrchr(l->node, '/') + 1;
    int64_t own_seq = zk__recipe_seq(own);
    const char *best = NULL;
    int64_t best_seq = -1;
    *own_found = 0;
    for (int i = 0; i < res->nchildren; i++) {
        const char *c = res->children[i];
        if (strcmp(c, own) == 0) {
            *own_found = 1;
            continue;
        }
        int64_t s = zk__recipe_seq(c);
        if (s < 0 || s >= own_seq || s <= best_seq)
            continue;
        if (l->kind == ZK_LOCK_READ && node_is_read(c))
            continue; /* readers share */
        best = c;
        best_seq = s;
    }
    return best;
}

static void on_children(zk_t *zk, int status, const struct zk_result *res, void *data)
{
    zk_lock_t *l = data;
    (void)zk;
    if (handle_gone(l, status)) {
    } else if (!l->want) {
        lock_withdraw(l);
    } else if (status == ZK_CONNECTIONLOSS) {
        lock_check(l);
    } else if (status != 0) {
        finish_acquire(l, status);
    } else {
        int own_found;
        const char *pred = predecessor(l, res, &own_found);
        if (!own_found) {
            /* Our node vanished (deleted by someone): start over. */
            set_node(l, NULL);
            lock_create(l);
        } else if (!pred) {
            finish_acquire(l, 0);
        } else if (l->try_only) {
            finish_acquire(l, ZK_NODEEXISTS);
        } else {
            free(l->watching);
            l->watching = zk__recipe_join(l->dir, pred);
            l->st = L_WAITING;
            zk__recipe_hold(&l->r);
            zk_get(l->r.zk, l->watching, lock_watcher, l, on_pred, l);
        }
    }
    zk__recipe_drop(&l->r);
}

static void lock_check(zk_lock_t *l)
{
    l->st = L_CHECKING;
    zk__recipe_hold(&l->r);
    zk_get_children(l->r.zk, l->dir, 0, NULL, NULL, on_children, l);
}

static void on_deleted(zk_t *zk, int status, const struct zk_result *res, void *data)
{
    zk_lock_t *l = data;
    (void)zk;
    (void)res;
    if (status == ZK_CONNECTIONLOSS && !l->r.closed && l->node) {
        zk__recipe_hold(&l->r);
        zk_delete(l->r.zk, l->node, -1, on_deleted, l);
    } else {
        /* Gone, or gone with the session (expired), or the handle closed. */
        set_node(l, NULL);
        if (l->st == L_RELEASING)
            l->st = L_IDLE;
        zk_lock_fn cb = l->rel_cb;
        l->rel_cb = NULL;
        if (cb)
            cb(l, status == ZK_NONODE || status == ZK_SESSIONEXPIRED ? 0 : status, l->rel_data);
        if (l->want && l->st == L_IDLE && !l->r.closed)
            start_acquire(l); /* an acquire waited for this withdrawal */
    }
    zk__recipe_drop(&l->r);
}

static void lock_withdraw(zk_lock_t *l)
{
    if (l->st == L_RELEASING)
        return; /* a delete is already under way */
    l->st = L_RELEASING;
    zk__recipe_hold(&l->r);
    if (!l->node || l->r.closed) {
        on_deleted(l->r.zk, 0, NULL, l);
        return;
    }
    zk_delete(l->r.zk, l->node, -1, on_deleted, l);
}

/* After a reconnect: is the held lock's node still there? */
static void on_verified(zk_t *zk, int status, const struct zk_result *res, void *data)
{
    zk_lock_t *l = data;
    (void)zk;
    (void)res;
    if (status == ZK_NONODE && l->st == L_HELD) {
        l->st = L_IDLE;
        l->want = 0;
        set_node(l, NULL);
        if (l->lost_cb)
            l->lost_cb(l, ZK_NONODE, l->lost_data);
    }
    zk__recipe_drop(&l->r);
}

static void lock_session(struct recipe *r, int ev)
{
    zk_lock_t *l = (zk_lock_t *)r;
    if (l->st != L_HELD)
        return;
    if (ev == ZK_SESSION_EXPIRED || ev == ZK_SESSION_AUTH_FAILED) {
        l->st = L_IDLE;
        l->want = 0;
        set_node(l, NULL);
        if (l->lost_cb)
            l->lost_cb(l, ZK_SESSIONEXPIRED, l->lost_data);
    } else if (ev == ZK_SESSION_RECONNECTED) {
        zk__recipe_hold(r);
        zk_exists(r->zk, l->node, NULL, NULL, on_verified, l);
    }
}

static void lock_destroy(struct recipe *r)
{
    zk_lock_t *l = (zk_lock_t *)r;
    free(l->dir);
    free(l->id);
    free(l->node);
    free(l->watching);
    free(l);
}

int zk_lock_new(zk_t *zk, const char *dir, int kind, const char *id, zk_lock_t **out)
{
    *out = NULL;
    if (!zk || zk__recipe_check_path(dir) != 0 || (kind != ZK_LOCK_EXCLUSIVE && kind != ZK_LOCK_READ))
        return ZK_BADARGUMENTS;
    zk_lock_t *l = zk_xcalloc(1, sizeof *l);
    zk__recipe_init(&l->r, zk, lock_destroy, lock_session);
    l->dir = zk_xstrndup(dir, strlen(dir));
    l->id = id ? zk_xstrndup(id, strlen(id)) : NULL;
    l->kind = kind;
    *out = l;
    return 0;
}

/* A fresh guid per attempt: a node of an earlier attempt still being
 * deleted must not be mistaken for this one's. */
static void start_acquire(zk_lock_t *l)
{
    char guid[33];
    zk__recipe_guid(guid);
    snprintf(l->prefix, sizeof l->prefix, "_c_%s-%s-", guid, kind_name(l->kind));
    lock_create(l);
}

void zk_lock_acquire(zk_lock_t *l, int try_only, zk_lock_fn cb, void *data)
{
    /* While an earlier node is being withdrawn, the attempt starts once it
     * is gone (RELEASING without want). */
    int withdrawing = l->st == L_RELEASING && !l->want;
    if (l->want || (l->st != L_IDLE && !withdrawing) || l->r.closed) {
        if (cb)
            cb(l, l->r.closed ? ZK_CLOSING : ZK_APIERROR, data);
        return;
    }
    l->want = 1;
    l->try_only = try_only;
    l->acq_cb = cb;
    l->acq_data = data;
    if (!withdrawing)
        start_acquire(l);
}

void zk_lock_release(zk_lock_t *l, zk_lock_fn cb, void *data)
{
    if (l->st != L_HELD) {
        if (cb)
            cb(l, ZK_APIERROR, data);
        return;
    }
    l->want = 0;
    l->rel_cb = cb;
    l->rel_data = data;
    lock_withdraw(l);
}

void zk_lock_on_lost(zk_lock_t *l, zk_lock_fn cb, void *data)
{
    l->lost_cb = cb;
    l->lost_data = data;
}

int zk_lock_is_held(const zk_lock_t *l)
{
    return l->st == L_HELD;
}

const char *zk_lock_node(const zk_lock_t *l)
{
    return l->node;
}

void zk_lock_free(zk_lock_t *l)
{
    if (!l)
        return;
    l->acq_cb = l->rel_cb = l->lost_cb = NULL;
    l->want = 0;
    /* CREATING and CHECKING withdraw when their reply comes. */
    if (!l->r.closed && l->node && (l->st == L_HELD || l->st == L_WAITING))
        lock_withdraw(l);
    zk__recipe_release(&l->r);
}
