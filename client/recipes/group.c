/*
 * group.c - group membership and service discovery (kazoo's Party,
 * Curator's ServiceDiscovery in its simplest form): a member is an
 * ephemeral node dir/<member> holding its data (an address, say); a
 * watcher lists dir with a child watch and reports every new listing.
 */
#include "recipe.h"

#include "zk/jute.h"

#include <stdlib.h>
#include <string.h>

struct join_ctx {
    char *path;
    zk_status_fn cb;
    void *data;
};

static void join_finish(struct join_ctx *c, int status)
{
    if (c->cb)
        c->cb(status, c->data);
    free(c->path);
    free(c);
}

/* NODEEXISTS after a lost create: ours if our session owns the node. */
static void join_owner(zk_t *zk, int status, const struct zk_result *res, void *data)
{
    struct join_ctx *c = data;
    if (status == 0)
        status = res->stat.ephemeral_owner == zk_session_id(zk) ? 0 : ZK_NODEEXISTS;
    join_finish(c, status);
}

static void join_done(zk_t *zk, int status, const struct zk_result *res, void *data)
{
    struct join_ctx *c = data;
    (void)res;
    if (status == ZK_NODEEXISTS) {
        zk_exists(zk, c->path, NULL, NULL, join_owner, c);
        return;
    }
    join_finish(c, status);
}

void zk_group_join(zk_t *zk, const char *dir, const char *member, const void *value,
                   int32_t len, zk_status_fn cb, void *data)
{
    struct join_ctx *c = zk_xcalloc(1, sizeof *c);
    c->path = zk__recipe_join(dir, member);
    c->cb = cb;
    c->data = data;
    zk__recipe_create(zk, c->path, value, value ? len : -1, ZK_EPHEMERAL, join_done, c);
}

static void leave_done(zk_t *zk, int status, const struct zk_result *res, void *data)
{
    (void)zk;
    (void)res;
    join_finish(data, status == ZK_NONODE ? 0 : status);
}

void zk_group_leave(zk_t *zk, const char *dir, const char *member, zk_status_fn cb,
                    void *data)
{
    struct join_ctx *c = zk_xcalloc(1, sizeof *c);
    c->path = zk__recipe_join(dir, member);
    c->cb = cb;
    c->data = data;
    zk_delete(zk, c->path, -1, leave_done, c);
}

/* ---- watching ---- */

struct zk_group {
    struct recipe r;
    char *dir;
    zk_group_fn cb;
    void *data;
};

static void g_list(zk_group_t *g);

static void g_stop(zk_group_t *g, int status)
{
    zk_group_fn cb = g->cb;
    g->cb = NULL;
    if (cb)
        cb(g, status, NULL, 0, g->data);
}

static void g_watcher(zk_t *zk, const struct zk_event *ev, void *data)
{
    zk_group_t *g = data;
    (void)zk;
    zk__recipe_hold(&g->r);
    zk__recipe_watch_fired(&g->r, ev);
    if (ev->type == ZK_EVENT_NONE)
        g_stop(g, ZK_SESSIONEXPIRED);
    else if (g->cb)
        g_list(g);
    zk__recipe_drop(&g->r);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void g_exists(zk_t *zk, int status, const struct zk_result *res, void *data)
{
    zk_group_t *g = data;
    (void)zk;
    (void)res;
    if (status == 0 || status == ZK_NONODE)
        zk__recipe_watch_armed(&g->r);
    if (!g->cb) {
    } else if (status == 0 || (status == ZK_CONNECTIONLOSS && !g->r.closed)) {
        g_list(g); /* created meanwhile */
    } else if (status == ZK_NONODE) {
        g->cb(g, 0, NULL, 0, g->data); /* no group yet: wait for it */
    } else {
        g_stop(g, status);
    }
    zk__recipe_drop(&g->r);
}

static void g_listed(zk_t *zk, int status, const struct zk_result *res, void *data)
{
    zk_group_t *g = data;
    if (status == 0)
        zk__recipe_watch_armed(&g->r);
    if (!g->cb) {
    } else if (status == 0) {
        qsort(res->children, (size_t)res->nchildren, sizeof *res->children, by_name);
        g->cb(g, 0, res->children, res->nchildren, g->data);
    } else if (status == ZK_NONODE) {
        zk__recipe_hold(&g->r);
        zk_exists(zk, g->dir, g_watcher, g, g_exists, g);
    } else if (status == ZK_CONNECTIONLOSS && !g->r.closed) {
        g_list(g);
    } else {
        g_stop(g, status);
    }
    zk__recipe_drop(&g->r);
}

static void g_list(zk_group_t *g)
{
    zk__recipe_hold(&g->r);
    zk_get_children(g->r.zk, g->dir, 0, g_watcher, g, g_listed, g);
}

static void g_destroy(struct recipe *r)
{
    zk_group_t *g = (zk_group_t *)r;
    free(g->dir);
    free(g);
}

int zk_group_watch(zk_t *zk, const char *dir, zk_group_fn cb, void *data, zk_group_t **out)
{
    *out = NULL;
    if (!zk || !cb || zk__recipe_check_path(dir) != 0)
        return ZK_BADARGUMENTS;
    zk_group_t *g = zk_xcalloc(1, sizeof *g);
    zk__recipe_init(&g->r, zk, g_destroy, NULL);
    g->dir = zk_xstrndup(dir, strlen(dir));
    g->cb = cb;
    g->data = data;
    *out = g;
    g_list(g);
    return 0;
}

void zk_group_unwatch(zk_group_t *g)
{
    if (!g)
        return;
    g->cb = NULL;
    zk__recipe_release(&g->r);
}
