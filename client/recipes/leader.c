/*
 * leader.c - leader election (Curator's LeaderLatch), as an exclusive lock
 * that is never released voluntarily: the participant holding it leads.
 * Waiting participants watch only their predecessor (no herd), and a
 * leader whose session expires (or whose node is deleted) is told LOST.
 */
#include "recipe.h"

#include "zk/jute.h"

#include <stdlib.h>

struct zk_leader {
    zk_lock_t *lock;
    zk_leader_fn cb;
    void *data;
};

static void on_elected(zk_lock_t *lock, int status, void *data)
{
    zk_leader_t *l = data;
    (void)lock;
    l->cb(l, status == 0 ? ZK_LEADER_ELECTED : ZK_LEADER_FAILED, status, l->data);
}

static void on_lost(zk_lock_t *lock, int status, void *data)
{
    zk_leader_t *l = data;
    (void)lock;
    l->cb(l, ZK_LEADER_LOST, status, l->data);
}

int zk_leader_start(zk_t *zk, const char *dir, const char *id, zk_leader_fn cb, void *data,
                    zk_leader_t **out)
{
    *out = NULL;
    if (!cb)
        return ZK_BADARGUMENTS;
    zk_lock_t *lock;
    int rc = zk_lock_new(zk, dir, ZK_LOCK_EXCLUSIVE, id, &lock);
    if (rc != 0)
        return rc;
    zk_leader_t *l = zk_xcalloc(1, sizeof *l);
    l->lock = lock;
    l->cb = cb;
    l->data = data;
    zk_lock_on_lost(lock, on_lost, l);
    *out = l;
    zk_lock_acquire(lock, 0, on_elected, l);
    return 0;
}

int zk_leader_is_leader(const zk_leader_t *l)
{
    return zk_lock_is_held(l->lock);
}

void zk_leader_stop(zk_leader_t *l)
{
    if (!l)
        return;
    zk_lock_free(l->lock);
    free(l);
}
