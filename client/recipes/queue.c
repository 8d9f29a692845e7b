/*
 * queue.c - a distributed FIFO queue (ZooKeeper recipes page, "Queues";
 * kazoo's Queue).
 *
 * Producers create dir/qn-<seq> (persistent sequential).  A consumer lists
 * dir, and walks the items in sequence order: it reads one, then deletes it
 * at the version it read.  The consumer whose delete succeeds owns the
 * item; the others see NONODE and move to the next item.  An empty list
 * arms a child watch and waits.
 */
#include "recipe.h"

#include "zk/jute.h"

#include <stdlib.h>
#include <string.h>

/* ---- put ---- */

struct put_ctx {
    zk_status_fn cb;
    void *data;
};

static void put_done(zk_t *zk, int status, const struct zk_result *res, void *data)
{
    struct put_ctx *c = data;
    (void)zk;
    (void)res;
    if (c->cb)
        c->cb(status, c->data);
    free(c);
}

void zk_queue_put(zk_t *zk, const char *dir, const void *value, int32_t len, zk_status_fn cb,
                  void *data)
{
    struct put_ctx *c = zk_xcalloc(1, sizeof *c);
    c->cb = cb;
    c->data = data;
    char *path = zk__recipe_join(dir, "qn-");
    zk__recipe_create(zk, path, value, value ? len : -1, ZK_PERSISTENT_SEQUENTIAL, put_done, c);
    free(path);
}

/* ---- get ---- */

struct zk_queue {
    struct recipe r;
    char *dir;
    char **items; /* sorted names of the last listing */
    int nitems, next;
    char *taking; /* full path being read or deleted */
    char *value;
    int32_t len;
    zk_queue_fn cb;
    void *data;
};

static void q_list(zk_queue_t *q);
static void q_take_next(zk_queue_t *q);
static void q_dir_made(int status, void *data);

static void q_clear_items(zk_queue_t *q)
{
    for (int i = 0; i < q->nitems; i++)
        free(q->items[i]);
    free(q->items);
    q->items = NULL;
    q->nitems = q->next = 0;
}

static void q_finish(zk_queue_t *q, int status)
{
    zk_queue_fn cb = q->cb;
    q->cb = NULL;
    char *value = q->value;
    q->value = NULL;
    if (cb)
        cb(q, status, value, status == 0 ? q->len : -1, q->data);
    free(value);
}

static int by_seq(const void *a, const void *b)
{
    int64_t x = zk__recipe_seq(*(char *const *)a), y = zk__recipe_seq(*(char *const *)b);
    return x < y ? -1 : x > y;
}

static void q_watcher(zk_t *zk, const struct zk_event *ev, void *data)
{
    zk_queue_t *q = data;
    (void)zk;
    zk__recipe_hold(&q->r);
    zk__recipe_watch_fired(&q->r, ev);
    if (ev->type == ZK_EVENT_NONE)
        q_finish(q, ZK_SESSIONEXPIRED);
    else if (q->cb && q->nitems == 0)
        q_list(q);
    zk__recipe_drop(&q->r);
}

static void q_listed(zk_t *zk, int status, const struct zk_result *res, void *data)
{
    zk_queue_t *q = data;
    (void)zk;
    int empty = 1;
    if (status == 0 && res->nchildren > 0) {
        q_clear_items(q);
        q->items = zk_xcalloc((size_t)res->nchildren, sizeof *q->items);
        for (int i = 0; i < res->nchildren; i++)
            if (zk__recipe_seq(res->children[i]) >= 0)
                q->items[q->nitems++] = zk_xstrndup(res->children[i], strlen(res->children[i]));
        qsort(q->items, (size_t)q->nitems, sizeof *q->items, by_seq);
        empty = q->nitems == 0;
    }
    if (status == 0)
        zk__recipe_watch_armed(&q->r);
    if (!q->cb) {
    } else if (status == ZK_CONNECTIONLOSS && !q->r.closed) {
        q_list(q);
    } else if (status == ZK_NONODE) {
        zk__recipe_hold(&q->r); /* no queue yet: make it, then watch it */
        zk_mkdirs(q->r.zk, q->dir, q_dir_made, q);
    } else if (status != 0) {
        q_finish(q, status);
    } else if (!empty) {
        q_take_next(q);
    }
    /* else: empty: the watch says when to look again */
    zk__recipe_drop(&q->r);
}

static void q_dir_made(int status, void *data)
{
    zk_queue_t *q = data;
    if (!q->cb) {
    } else if (status == 0) {
        q_list(q);
    } else {
        q_finish(q, status);
    }
    zk__recipe_drop(&q->r);
}

/* Lists with a child watch. */
static void q_list(zk_queue_t *q)
{
    zk__recipe_hold(&q->r);
    q_clear_items(q);
    zk_get_children(q->r.zk, q->dir, 0, q_watcher, q, q_listed, q);
}

static void q_deleted(zk_t *zk, int status, const struct zk_result *res, void *data)
{
    zk_queue_t *q = data;
    (void)zk;
    (void)res;
    if (!q->cb) {
    } else if (status == 0) {
        q_finish(q, 0);
    } else if (status == ZK_NONODE || status == ZK_BADVERSION) {
        q_take_next(q); /* another consumer took it */
    } else {
        q_finish(q, status);
    }
    zk__recipe_drop(&q->r);
}

static void q_read(zk_t *zk, int status, const struct zk_result *res, void *data)
{
    zk_queue_t *q = data;
    if (!q->cb) {
    } else if (status == 0) {
        free(q->value);
        q->len = res->data_len < 0 ? 0 : res->data_len;
        q->value = zk_xmalloc((size_t)q->len + 1);
        memcpy(q->value, res->data ? res->data : "", (size_t)q->len);
        q->value[q->len] = '\0';
        zk__recipe_hold(&q->r);
        zk_delete(zk, q->taking, res->stat.version, q_deleted, q);
    } else if (status == ZK_NONODE) {
        q_take_next(q);
    } else if (status == ZK_CONNECTIONLOSS && !q->r.closed) {
        q->next--; /* read it again */
        q_take_next(q);
    } else {
        q_finish(q, status);
    }
    zk__recipe_drop(&q->r);
}

static void q_take_next(zk_queue_t *q)
{
    if (q->next >= q->nitems) {
        q_list(q);
        return;
    }
    free(q->taking);
    q->taking = zk__recipe_join(q->dir, q->items[q->next++]);
    zk__recipe_hold(&q->r);
    zk_get(q->r.zk, q->taking, NULL, NULL, q_read, q);
}

static void q_destroy(struct recipe *r)
{
    zk_queue_t *q = (zk_queue_t *)r;
    q_clear_items(q);
    free(q->dir);
    free(q->taking);
    free(q->value);
    free(q);
}

int zk_queue_new(zk_t *zk, const char *dir, zk_queue_t **out)
{
    *out = NULL;
    if (!zk || zk__recipe_check_path(dir) != 0)
        return ZK_BADARGUMENTS;
    zk_queue_t *q = zk_xcalloc(1, sizeof *q);
    zk__recipe_init(&q->r, zk, q_destroy, NULL);
    q->dir = zk_xstrndup(dir, strlen(dir));
    *out = q;
    return 0;
}

void zk_queue_get(zk_queue_t *q, zk_queue_fn cb, void *data)
{
    if (q->cb || q->r.closed || !cb) {
        if (cb)
            cb(q, q->r.closed ? ZK_CLOSING : ZK_APIERROR, NULL, -1, data);
        return;
    }
    q->cb = cb;
    q->data = data;
    if (q->next < q->nitems)
        q_take_next(q); /* items left from the last listing */
    else
        q_list(q);
}

void zk_queue_free(zk_queue_t *q)
{
    if (!q)
        return;
    q->cb = NULL;
    zk__recipe_release(&q->r);
}
