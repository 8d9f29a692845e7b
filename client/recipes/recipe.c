/*
 * recipe.c - the shared lifetime of recipe objects and small helpers, and
 * zk_mkdirs.  See recipe.h for the reference rules.
 */
#include "recipe.h"

#include "zk/jute.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static void recipe_session(zk_t *zk, int ev, void *data)
{
    struct recipe *r = data;
    (void)zk;
    if (ev == ZK_SESSION_CLOSED) {
        /* Nothing of the handle runs after this: no request or watch can
         * still reach the object. */
        r->closed = 1;
        r->refs = r->released ? 0 : 1;
        r->nwatch = 0;
        zk_remove_session_listener(r->zk, recipe_session, r);
        if (r->released) {
            r->destroy(r);
            return;
        }
    }
    if (ev == ZK_SESSION_EXPIRED || ev == ZK_SESSION_AUTH_FAILED)
        r->nwatch = 0; /* libzk dropped every watch of the handle */
    if (r->on_session && !r->closed) {
        zk__recipe_hold(r);
        r->on_session(r, ev);
        zk__recipe_drop(r);
    }
}

void zk__recipe_init(struct recipe *r, zk_t *zk, void (*destroy)(struct recipe *),
                 void (*on_session)(struct recipe *, int))
{
    r->zk = zk;
    r->refs = 1;
    r->nwatch = 0;
    r->released = 0;
    r->closed = 0;
    r->destroy = destroy;
    r->on_session = on_session;
    zk_add_session_listener(zk, recipe_session, r);
}

static void maybe_free(struct recipe *r)
{
    if (r->refs > 0 || r->nwatch > 0)
        return;
    if (!r->closed)
        zk_remove_session_listener(r->zk, recipe_session, r);
    r->destroy(r);
}

void zk__recipe_hold(struct recipe *r)
{
    r->refs++;
}

void zk__recipe_drop(struct recipe *r)
{
    if (--r->refs <= 0)
        maybe_free(r);
}

void zk__recipe_release(struct recipe *r)
{
    r->released = 1;
    if (r->closed) {
        r->destroy(r);
        return;
    }
    zk__recipe_drop(r);
}

void zk__recipe_watch_armed(struct recipe *r)
{
    r->nwatch++;
}

void zk__recipe_watch_fired(struct recipe *r, const struct zk_event *ev)
{
    if (ev->type == ZK_EVENT_NONE)
        r->nwatch = 0;
    else if (r->nwatch > 0)
        r->nwatch--;
}

/* ---- helpers ---- */

char *zk__recipe_join(const char *dir, const char *name)
{
    size_t dl = strlen(dir), nl = strlen(name);
    if (dl == 1 && dir[0] == '/')
        dl = 0;
    char *p = zk_xmalloc(dl + nl + 2);
    memcpy(p, dir, dl);
    p[dl] = '/';
    memcpy(p + dl + 1, name, nl + 1);
    return p;
}

char *zk__recipe_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path)
        return zk_xstrndup("/", 1);
    return zk_xstrndup(path, (size_t)(slash - path));
}

void zk__recipe_guid(char guid[33])
{
    unsigned char b[16];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
        /* Practically never; fall back on something unlikely to collide. */
        uint64_t x = (uint64_t)(uintptr_t)guid ^ (uint64_t)rand() << 20;
        memcpy(b, &x, 8);
        memcpy(b + 8, &x, 8);
    }
    for (int i = 0; i < 16; i++)
        snprintf(guid + 2 * i, 3, "%02x", b[i]);
}

int64_t zk__recipe_seq(const char *name)
{
    size_t n = strlen(name);
    if (n < 10)
        return -1;
    int64_t v = 0;
    for (size_t i = n - 10; i < n; i++) {
        if (name[i] < '0' || name[i] > '9')
            return -1;
        v = v * 10 + (name[i] - '0');
    }
    return v;
}

int zk__recipe_check_path(const char *path)
{
    if (!path || path[0] != '/')
        return ZK_BADARGUMENTS;
    size_t n = strlen(path);
    if (n > 1 && path[n - 1] == '/')
        return ZK_BADARGUMENTS;
    if (strstr(path, "//"))
        return ZK_BADARGUMENTS;
    return 0;
}

/* ---- zk_mkdirs: one create per missing level, pipelined in order ---- */

struct mkdirs {
    int left;
    int err;
    zk_status_fn cb;
    void *data;
};

static void mkdirs_done(zk_t *zk, int status, const struct zk_result *res, void *data)
{
    struct mkdirs *m = data;
    (void)zk;
    (void)res;
    if (status != 0 && status != ZK_NODEEXISTS && !m->err)
        m->err = status;
    if (--m->left == 0) {
        if (m->cb)
            m->cb(m->err, m->data);
        free(m);
    }
}

void zk_mkdirs(zk_t *zk, const char *path, zk_status_fn cb, void *data)
{
    struct mkdirs *m = zk_xcalloc(1, sizeof *m);
    m->cb = cb;
    m->data = data;
    if (zk__recipe_check_path(path) != 0) {
        m->left = 1;
        zk_sync(zk, "/", mkdirs_done, m); /* reports asynchronously, as promised */
        m->err = ZK_BADARGUMENTS;
        return;
    }
    size_t n = strlen(path);
    char *buf = zk_xstrndup(path, n);
    m->left = 1; /* guard while submitting */
    for (size_t i = 1; n > 1 && i <= n; i++) {
        if (i == n || buf[i] == '/') {
            char c = buf[i];
            buf[i] = '\0';
            m->left++;
            zk_create(zk, buf, NULL, -1, NULL, 0, ZK_PERSISTENT, 0, mkdirs_done, m);
            buf[i] = c;
        }
    }
    free(buf);
    if (path[1] == '\0') { /* "/" always exists */
        m->left++;
        zk_exists(zk, "/", NULL, NULL, mkdirs_done, m);
    }
    mkdirs_done(zk, 0, NULL, m);
}

/* ---- create with parents ---- */

struct rcreate {
    zk_t *zk;
    char *path;
    char *value;
    int32_t len;
    int mode;
    int retried;
    zk_result_fn cb;
    void *data;
};

static void rcreate_done(zk_t *zk, int status, const struct zk_result *res, void *data);

static void rcreate_send(struct rcreate *c)
{
    zk_create(c->zk, c->path, c->value, c->len, NULL, 0, c->mode, 0, rcreate_done, c);
}

static void rcreate_free(struct rcreate *c)
{
    free(c->path);
    free(c->value);
    free(c);
}

static void rcreate_parents(int status, void *data)
{
    struct rcreate *c = data;
    if (status != 0) {
        struct zk_result res = {.err = status, .data_len = -1};
        c->cb(c->zk, status, &res, c->data);
        rcreate_free(c);
        return;
    }
    rcreate_send(c);
}

static void rcreate_done(zk_t *zk, int status, const struct zk_result *res, void *data)
{
    struct rcreate *c = data;
    if (status == ZK_NONODE && !c->retried) {
        c->retried = 1;
        char *parent = zk__recipe_parent(c->path);
        zk_mkdirs(zk, parent, rcreate_parents, c);
        free(parent);
        return;
    }
    c->cb(zk, status, res, c->data);
    rcreate_free(c);
}

void zk__recipe_create(zk_t *zk, const char *path, const void *value, int32_t len, int mode,
                   zk_result_fn cb, void *data)
{
    struct rcreate *c = zk_xcalloc(1, sizeof *c);
    c->zk = zk;
    c->path = zk_xstrndup(path, strlen(path));
    c->len = value ? len : -1;
    if (value) {
        c->value = zk_xmalloc((size_t)len + 1);
        memcpy(c->value, value, (size_t)len);
    }
    c->mode = mode;
    c->cb = cb;
    c->data = data;
    rcreate_send(c);
}
