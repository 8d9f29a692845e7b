/*
 * treecache.c - a local copy of a subtree kept current by watches
 * (Curator's TreeCache, kazoo's TreeCache).
 *
 * Loading.  A load walks the subtree: getData and getChildren for a node,
 * then the same for each child, all pipelined.  Each reply updates the
 * copy and stamps the node with the load's generation; when the last reply
 * of the walk is in, nodes still carrying an older generation are gone on
 * the server and are removed (REMOVED events), and INITIALIZED (first
 * load) or RESYNCED is reported.
 *
 * Keeping current.  Preferred: one persistent recursive watch on the root
 * (addWatch).  Each NodeCreated/NodeDataChanged is answered with a getData
 * of that node; NodeDeleted removes it.  Replies and notifications share
 * one ordered stream from the server, so applying them in arrival order
 * converges on the server's tree.  Fallback (flag, or a server without
 * addWatch): getData and getChildren carry one-shot watches on every node,
 * re-armed by the reads their events cause; a missing root is waited for
 * with an exists watch.
 *
 * Reconnect: libzk re-arms the watches, but a persistent watch does not
 * replay what happened while disconnected, so the whole subtree is loaded
 * again and the differences reported.  Expiry stops the cache (STOPPED).
 */
#include "recipe.h"

#include "zk/jute.h"

#include <stdlib.h>
#include <string.h>

struct tnode {
    struct tnode *next; /* hash chain */
    char *path;
    char *value;
    int32_t len;
    struct zk_stat st;
    unsigned gen;
};

struct zk_treecache {
    struct recipe r;
    char *root;
    int node_watches; /* 1: one-shot watches per node */
    int stopped;
    zk_treecache_fn cb;
    void *data;
    struct tnode **buckets;
    size_t nbuckets, count;
    unsigned gen;     /* generation of the current load */
    int loading;      /* replies of the current load still to come */
    int initialized;
};

/* ---- the table ---- */

static size_t hash_path(const char *s)
{
    size_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static struct tnode **find_slot(const zk_treecache_t *tc, const char *path)
{
    struct tnode **pp = &tc->buckets[hash_path(path) & (tc->nbuckets - 1)];
    while (*pp && strcmp((*pp)->path, path) != 0)
        pp = &(*pp)->next;
    return pp;
}

static void grow(zk_treecache_t *tc)
{
    size_t n = tc->nbuckets * 2;
    struct tnode **b = zk_xcalloc(n, sizeof *b);
    for (size_t i = 0; i < tc->nbuckets; i++) {
        for (struct tnode *t = tc->buckets[i], *next; t; t = next) {
            next = t->next;
            size_t h = hash_path(t->path) & (n - 1);
            t->next = b[h];
            b[h] = t;
        }
    }
    free(tc->buckets);
    tc->buckets = b;
    tc->nbuckets = n;
}

static void tnode_free(struct tnode *t)
{
    free(t->path);
    free(t->value);
    free(t);
}

static void emit(zk_treecache_t *tc, int ev, int status, const char *path)
{
    if (tc->cb && !tc->stopped)
        tc->cb(tc, ev, status, path, tc->data);
}

/* Applies a getData reply. */
static void upsert(zk_treecache_t *tc, const char *path, const struct zk_result *res)
{
    struct tnode **pp = find_slot(tc, path);
    struct tnode *t = *pp;
    int ev = ZK_TREECACHE_UPDATED;
    if (!t) {
        if (tc->count + 1 > tc->nbuckets) {
            grow(tc);
            pp = find_slot(tc, path);
        }
        t = zk_xcalloc(1, sizeof *t);
        t->path = zk_xstrndup(path, strlen(path));
        *pp = t;
        tc->count++;
        ev = ZK_TREECACHE_ADDED;
    } else if (t->st.mzxid == res->stat.mzxid && t->st.czxid == res->stat.czxid &&
               t->st.cversion == res->stat.cversion) {
        t->gen = tc->gen;
        return; /* nothing new */
    }
    t->gen = tc->gen;
    free(t->value);
    t->len = res->data_len;
    t->value = zk_xmalloc(res->data_len > 0 ? (size_t)res->data_len + 1 : 1);
    if (res->data_len > 0)
        memcpy(t->value, res->data, (size_t)res->data_len);
    t->value[res->data_len > 0 ? res->data_len : 0] = '\0';
    t->st = res->stat;
    emit(tc, ev, 0, path);
}

static void remove_node(zk_treecache_t *tc, const char *path)
{
    struct tnode **pp = find_slot(tc, path);
    struct tnode *t = *pp;
    if (!t)
        return;
    *pp = t->next;
    tc->count--;
    emit(tc, ZK_TREECACHE_REMOVED, 0, t->path);
    tnode_free(t);
}

/* Removes every node of an older generation (after a complete load). */
static void sweep(zk_treecache_t *tc)
{
    for (size_t i = 0; i < tc->nbuckets; i++) {
        struct tnode **pp = &tc->buckets[i];
        while (*pp) {
            struct tnode *t = *pp;
            if (t->gen != tc->gen) {
                *pp = t->next;
                tc->count--;
                emit(tc, ZK_TREECACHE_REMOVED, 0, t->path);
                tnode_free(t);
            } else {
                pp = &t->next;
            }
        }
    }
}

/* ---- reads ---- */

struct tread {
    zk_treecache_t *tc;
    unsigned gen; /* the load it belongs to, or 0 for event-driven reads */
    char path[];
};

static void tc_watcher(zk_t *zk, const struct zk_event *ev, void *data);
static void read_node(zk_treecache_t *tc, const char *path, unsigned gen);

static struct tread *tread_new(zk_treecache_t *tc, const char *path, unsigned gen)
{
    size_t n = strlen(path);
    struct tread *t = zk_xmalloc(sizeof *t + n + 1);
    t->tc = tc;
    t->gen = gen;
    memcpy(t->path, path, n + 1);
    zk__recipe_hold(&tc->r);
    if (gen)
        tc->loading++;
    return t;
}

/* A read of the load is done: the last one ends the load. */
static void tread_end(struct tread *t)
{
    zk_treecache_t *tc = t->tc;
    if (t->gen && t->gen == tc->gen && --tc->loading == 0 && !tc->stopped) {
        sweep(tc);
        emit(tc, tc->initialized ? ZK_TREECACHE_RESYNCED : ZK_TREECACHE_INITIALIZED, 0,
             tc->root);
        tc->initialized = 1;
    }
    free(t);
    zk__recipe_drop(&tc->r);
}

static void tc_stop(zk_treecache_t *tc, int status)
{
    if (tc->stopped)
        return;
    emit(tc, ZK_TREECACHE_STOPPED, status, tc->root);
    tc->stopped = 1;
}

/* Errors other than a vanished node stop the cache, but connection loss:
 * the reconnect triggers a full load that repairs what this read missed. */
static int read_failed(zk_treecache_t *tc, int status)
{
    if (status == ZK_CONNECTIONLOSS || status == ZK_NONODE)
        return 0;
    tc_stop(tc, status);
    return 1;
}

/* Books the watch a successful read armed (node-watch mode); returns 1 if
 * the cache still wants the answer. */
static int tread_answered(struct tread *t, int status)
{
    zk_treecache_t *tc = t->tc;
    if (status == 0 && tc->node_watches)
        zk__recipe_watch_armed(&tc->r);
    return !tc->stopped && !tc->r.released;
}

static void on_data(zk_t *zk, int status, const struct zk_result *res, void *data)
{
    struct tread *t = data;
    zk_treecache_t *tc = t->tc;
    (void)zk;
    if (!tread_answered(t, status)) {
    } else if (status == 0) {
        upsert(tc, t->path, res);
    } else if (status == ZK_NONODE) {
        remove_node(tc, t->path);
        if (tc->node_watches && strcmp(t->path, tc->root) == 0) {
            /* wait for the root to appear */
            zk__recipe_hold(&tc->r);
            zk_exists(tc->r.zk, tc->root, tc_watcher, tc, NULL, NULL);
            zk__recipe_watch_armed(&tc->r);
            zk__recipe_drop(&tc->r);
        }
    } else {
        read_failed(tc, status);
    }
    tread_end(t);
}

static void on_children(zk_t *zk, int status, const struct zk_result *res, void *data)
{
    struct tread *t = data;
    zk_treecache_t *tc = t->tc;
    (void)zk;
    if (!tread_answered(t, status)) {
    } else if (status == 0) {
        for (int i = 0; i < res->nchildren; i++) {
            char *child = zk__recipe_join(t->path, res->children[i]);
            /* A load walks everything; an event-driven listing (node
             * watches) only reads children it does not have yet. */
            if (t->gen || !*find_slot(tc, child))
                read_node(tc, child, t->gen);
            free(child);
        }
    } else {
        read_failed(tc, status);
    }
    tread_end(t);
}

static void read_data(zk_treecache_t *tc, const char *path, unsigned gen)
{
    zk_watcher_fn w = tc->node_watches ? tc_watcher : NULL;
    zk_get(tc->r.zk, path, w, w ? tc : NULL, on_data, tread_new(tc, path, gen));
}

static void read_children(zk_treecache_t *tc, const char *path, unsigned gen)
{
    zk_watcher_fn w = tc->node_watches ? tc_watcher : NULL;
    zk_get_children(tc->r.zk, path, 0, w, w ? tc : NULL, on_children, tread_new(tc, path, gen));
}

static void read_node(zk_treecache_t *tc, const char *path, unsigned gen)
{
    read_data(tc, path, gen);
    read_children(tc, path, gen);
}

static void load(zk_treecache_t *tc)
{
    if (++tc->gen == 0)
        tc->gen = 1; /* 0 marks event-driven reads */
    tc->loading = 0;
    read_node(tc, tc->root, tc->gen);
}

/* ---- events ---- */

static void remove_subtree(zk_treecache_t *tc, const char *path)
{
    size_t n = strlen(path);
    for (size_t i = 0; i < tc->nbuckets; i++) {
        struct tnode *t = tc->buckets[i];
        while (t) {
            struct tnode *next = t->next;
            if (strncmp(t->path, path, n) == 0 && t->path[n] == '/')
                remove_node(tc, t->path);
            t = next;
        }
    }
    remove_node(tc, path);
}

static void tc_watcher(zk_t *zk, const struct zk_event *ev, void *data)
{
    zk_treecache_t *tc = data;
    (void)zk;
    zk__recipe_hold(&tc->r);
    if (tc->node_watches || ev->type == ZK_EVENT_NONE ||
        ev->type == ZK_EVENT_PERSISTENT_WATCH_REMOVED)
        zk__recipe_watch_fired(&tc->r, ev);
    if (tc->stopped || tc->r.released) {
    } else if (ev->type == ZK_EVENT_NONE) {
        tc_stop(tc, ZK_SESSIONEXPIRED);
    } else if (ev->type == ZK_EVENT_DELETED) {
        remove_subtree(tc, ev->path);
    } else if (ev->type == ZK_EVENT_CREATED && tc->node_watches) {
        read_node(tc, ev->path, 0); /* the root appeared */
    } else if (ev->type == ZK_EVENT_CREATED || ev->type == ZK_EVENT_CHANGED) {
        read_data(tc, ev->path, 0);
    } else if (ev->type == ZK_EVENT_CHILD) {
        read_children(tc, ev->path, 0);
    }
    zk__recipe_drop(&tc->r);
}

static void on_added(zk_t *zk, int status, const struct zk_result *res, void *data)
{
    zk_treecache_t *tc = data;
    (void)zk;
    (void)res;
    if (status == 0)
        zk__recipe_watch_armed(&tc->r);
    if (tc->r.released && status == 0 && !tc->r.closed) {
        /* stopped while the watch was being added */
        zk_remove_watches(tc->r.zk, tc->root, ZK_WATCH_ANY, tc_watcher, tc, NULL, NULL);
    } else if (tc->stopped || tc->r.released) {
    } else if (status == 0) {
        load(tc);
    } else if (status == ZK_CONNECTIONLOSS) {
        zk__recipe_hold(&tc->r);
        zk_add_watch(tc->r.zk, tc->root, ZK_ADDWATCH_PERSISTENT_RECURSIVE, tc_watcher, tc,
                     on_added, tc);
    } else if (status == ZK_UNIMPLEMENTED || status == ZK_MARSHALLINGERROR) {
        tc->node_watches = 1; /* an older server */
        load(tc);
    } else {
        tc_stop(tc, status);
    }
    zk__recipe_drop(&tc->r);
}

static void tc_session(struct recipe *r, int ev)
{
    zk_treecache_t *tc = (zk_treecache_t *)r;
    if (tc->stopped || tc->r.released)
        return;
    if (ev == ZK_SESSION_RECONNECTED && tc->initialized)
        load(tc);
    else if (ev == ZK_SESSION_EXPIRED || ev == ZK_SESSION_AUTH_FAILED)
        tc_stop(tc, ev == ZK_SESSION_EXPIRED ? ZK_SESSIONEXPIRED : ZK_AUTHFAILED);
}

static void tc_destroy(struct recipe *r)
{
    zk_treecache_t *tc = (zk_treecache_t *)r;
    for (size_t i = 0; i < tc->nbuckets; i++) {
        for (struct tnode *t = tc->buckets[i], *next; t; t = next) {
            next = t->next;
            tnode_free(t);
        }
    }
    free(tc->buckets);
    free(tc->root);
    free(tc);
}

int zk_treecache_start(zk_t *zk, const char *root, int flags, zk_treecache_fn cb, void *data,
                       zk_treecache_t **out)
{
    *out = NULL;
    if (!zk || zk__recipe_check_path(root) != 0)
        return ZK_BADARGUMENTS;
    zk_treecache_t *tc = zk_xcalloc(1, sizeof *tc);
    zk__recipe_init(&tc->r, zk, tc_destroy, tc_session);
    tc->root = zk_xstrndup(root, strlen(root));
    tc->cb = cb;
    tc->data = data;
    tc->nbuckets = 64;
    tc->buckets = zk_xcalloc(tc->nbuckets, sizeof *tc->buckets);
    tc->node_watches = (flags & ZK_TREECACHE_NODE_WATCHES) != 0;
    *out = tc;
    if (tc->node_watches) {
        load(tc);
    } else {
        zk__recipe_hold(&tc->r);
        zk_add_watch(zk, root, ZK_ADDWATCH_PERSISTENT_RECURSIVE, tc_watcher, tc, on_added, tc);
    }
    return 0;
}

int zk_treecache_get(const zk_treecache_t *tc, const char *path, const char **value,
                     int32_t *len, struct zk_stat *st)
{
    const struct tnode *t = *find_slot(tc, path);
    if (!t)
        return ZK_NONODE;
    if (value)
        *value = t->len >= 0 ? t->value : NULL;
    if (len)
        *len = t->len;
    if (st)
        *st = t->st;
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int zk_treecache_children(const zk_treecache_t *tc, const char *path, char ***names)
{
    *names = NULL;
    if (!*find_slot(tc, path))
        return ZK_NONODE;
    size_t pl = strcmp(path, "/") == 0 ? 0 : strlen(path);
    int n = 0, cap = 8;
    char **v = zk_xcalloc((size_t)cap, sizeof *v);
    for (size_t i = 0; i < tc->nbuckets; i++) {
        for (const struct tnode *t = tc->buckets[i]; t; t = t->next) {
            const char *p = t->path;
            if (strncmp(p, path, pl) != 0 || p[pl] != '/' || p[pl + 1] == '\0' ||
                strchr(p + pl + 1, '/'))
                continue;
            if (n == cap) {
                cap *= 2;
                v = zk_xrealloc(v, (size_t)cap * sizeof *v);
            }
            v[n++] = zk_xstrndup(p + pl + 1, strlen(p + pl + 1));
        }
    }
    qsort(v, (size_t)n, sizeof *v, by_name);
    *names = v;
    return n;
}

int zk_treecache_size(const zk_treecache_t *tc)
{
    return (int)tc->count;
}

int zk_treecache_recursive(const zk_treecache_t *tc)
{
    return !tc->node_watches;
}

void zk_treecache_stop(zk_treecache_t *tc)
{
    if (!tc)
        return;
    tc->cb = NULL;
    if (!tc->node_watches && !tc->r.closed && !tc->stopped) {
        /* Our persistent watch is ours alone (distinct fn, data). */
        zk_remove_watches(tc->r.zk, tc->root, ZK_WATCH_ANY, tc_watcher, tc, NULL, NULL);
    }
    tc->stopped = 1;
    zk__recipe_release(&tc->r);
}
