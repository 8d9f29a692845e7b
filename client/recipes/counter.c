/*
 * counter.c - a shared counter by versioned compare-and-set (Curator's
 * DistributedAtomicLong without its promoted-lock mode): read value and
 * version, write value+delta at that version, and start again on
 * BADVERSION.  Reads are retried through connection loss; a lost write is
 * reported, since it may have been applied.
 */
#include "recipe.h"

#include "zk/jute.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Each loss means a whole round of hosts failed; give up after a few. */
#define MAX_LOSSES 5

struct counter_op {
    char *path;
    int64_t delta;
    int add; /* 0: only read */
    int64_t value;
    int losses; /* consecutive lost reads */
    zk_counter_fn cb;
    void *data;
};

static void c_read(zk_t *zk, struct counter_op *c);

static void c_finish(struct counter_op *c, int status)
{
    if (c->cb)
        c->cb(status, status == 0 ? c->value : 0, c->data);
    free(c->path);
    free(c);
}

/* 0 and the value, or ZK_BADARGUMENTS for data that is not a number. */
static int parse_value(const struct zk_result *res, int64_t *v)
{
    if (!res->data || res->data_len == 0) {
        *v = 0;
        return 0;
    }
    char *end;
    errno = 0;
    long long x = strtoll(res->data, &end, 10);
    if (errno || end == res->data || *end != '\0')
        return ZK_BADARGUMENTS;
    *v = x;
    return 0;
}

static void c_written(zk_t *zk, int status, const struct zk_result *res, void *data)
{
    struct counter_op *c = data;
    (void)res;
    if (status == ZK_BADVERSION || status == ZK_NODEEXISTS)
        c_read(zk, c); /* lost the race: again */
    else
        c_finish(c, status);
}

static void c_got(zk_t *zk, int status, const struct zk_result *res, void *data)
{
    struct counter_op *c = data;
    if (status == ZK_CONNECTIONLOSS && ++c->losses < MAX_LOSSES) {
        c_read(zk, c);
        return;
    }
    c->losses = 0;
    char buf[32];
    if (status == ZK_NONODE) {
        c->value = 0;
        if (!c->add) {
            c_finish(c, 0);
            return;
        }
        c->value = c->delta;
        int n = snprintf(buf, sizeof buf, "%" PRId64, c->value);
        zk__recipe_create(zk, c->path, buf, n, ZK_PERSISTENT, c_written, c);
        return;
    }
    if (status == 0)
        status = parse_value(res, &c->value);
    if (status != 0 || !c->add) {
        c_finish(c, status);
        return;
    }
    c->value += c->delta;
    int n = snprintf(buf, sizeof buf, "%" PRId64, c->value);
    zk_set(zk, c->path, buf, n, res->stat.version, c_written, c);
}

static void c_read(zk_t *zk, struct counter_op *c)
{
    zk_get(zk, c->path, NULL, NULL, c_got, c);
}

static void c_start(zk_t *zk, const char *path, int add, int64_t delta, zk_counter_fn cb,
                    void *data)
{
    struct counter_op *c = zk_xcalloc(1, sizeof *c);
    c->path = zk_xstrndup(path, strlen(path));
    c->add = add;
    c->delta = delta;
    c->cb = cb;
    c->data = data;
    c_read(zk, c);
}

void zk_counter_add(zk_t *zk, const char *path, int64_t delta, zk_counter_fn cb, void *data)
{
    c_start(zk, path, 1, delta, cb, data);
}

void zk_counter_get(zk_t *zk, const char *path, zk_counter_fn cb, void *data)
{
    c_start(zk, path, 0, 0, cb, data);
}
