/*
 * watch.c - the watch table (see watch.h for the semantics).
 *
 * A chained hash table of path nodes (FNV-1a), doubling when the load
 * passes 1.  Each node holds one singly linked list of watchers per kind;
 * a node with no watchers left is unlinked at once, so the table only ever
 * holds paths that something is watching — this is what makes re-arming
 * after a reconnect proportional to the number of watches.
 */
#include "watch.h"

#include "zk/jute.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct watcher {
    zk_watcher_fn fn;
    void *data;
    struct watcher *next;
};

struct watch_node {
    struct watch_node *next;
    struct watcher *w[WK_COUNT];
    char path[];
};

static uint64_t hash_path(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

void zk__watch_table_init(struct watch_table *t)
{
    t->nbuckets = 64;
    t->buckets = zk_xcalloc(t->nbuckets, sizeof *t->buckets);
    t->npaths = 0;
}

static void free_list(struct watcher *w)
{
    while (w) {
        struct watcher *n = w->next;
        free(w);
        w = n;
    }
}

void zk__watch_table_free(struct watch_table *t)
{
    for (size_t i = 0; i < t->nbuckets; i++) {
        struct watch_node *n = t->buckets[i];
        while (n) {
            struct watch_node *next = n->next;
            for (int k = 0; k < WK_COUNT; k++)
                free_list(n->w[k]);
            free(n);
            n = next;
        }
    }
    free(t->buckets);
    t->buckets = NULL;
    t->nbuckets = t->npaths = 0;
}

static struct watch_node **find_slot(const struct watch_table *t, const char *path)
{
    struct watch_node **pp = &t->buckets[hash_path(path) & (t->nbuckets - 1)];
    while (*pp && strcmp((*pp)->path, path) != 0)
        pp = &(*pp)->next;
    return pp;
}

static void grow(struct watch_table *t)
{
    size_t nb = t->nbuckets * 2;
    struct watch_node **b = zk_xcalloc(nb, sizeof *b);
    for (size_t i = 0; i < t->nbuckets; i++) {
        struct watch_node *n = t->buckets[i];
        while (n) {
            struct watch_node *next = n->next;
            size_t j = hash_path(n->path) & (nb - 1);
            n->next = b[j];
            b[j] = n;
            n = next;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = nb;
}

void zk__watch_add(struct watch_table *t, const char *path, int kind, zk_watcher_fn fn, void *data)
{
    if (kind < 0 || kind >= WK_COUNT || !fn)
        return;
    struct watch_node **pp = find_slot(t, path);
    struct watch_node *n = *pp;
    if (!n) {
        size_t len = strlen(path);
        n = zk_xcalloc(1, sizeof *n + len + 1);
        memcpy(n->path, path, len + 1);
        *pp = n;
        if (++t->npaths > t->nbuckets)
            grow(t);
    }
    for (struct watcher *w = n->w[kind]; w; w = w->next)
        if (w->fn == fn && w->data == data)
            return;
    struct watcher *w = zk_xmalloc(sizeof *w);
    w->fn = fn;
    w->data = data;
    w->next = n->w[kind];
    n->w[kind] = w;
}

static void maybe_unlink(struct watch_table *t, const char *path)
{
    struct watch_node **pp = find_slot(t, path);
    struct watch_node *n = *pp;
    if (!n)
        return;
    for (int k = 0; k < WK_COUNT; k++)
        if (n->w[k])
            return;
    *pp = n->next;
    free(n);
    assert(t->npaths > 0);
    t->npaths--;
}

/* Kinds a ZK_WATCH_* type covers. */
static int kinds_of(int wtype, int kinds[WK_COUNT])
{
    int n = 0;
    if (wtype == ZK_WATCH_CHILDREN || wtype == ZK_WATCH_ANY)
        kinds[n++] = WK_CHILD;
    if (wtype == ZK_WATCH_DATA || wtype == ZK_WATCH_ANY) {
        kinds[n++] = WK_DATA;
        kinds[n++] = WK_EXIST;
    }
    if (wtype == ZK_WATCH_ANY) {
        kinds[n++] = WK_PERSISTENT;
        kinds[n++] = WK_RECURSIVE;
    }
    return n;
}

int zk__watch_match(const struct watch_table *t, const char *path, int wtype, zk_watcher_fn fn,
                void *data)
{
    struct watch_node *n = *find_slot(t, path);
    if (!n)
        return 0;
    int kinds[WK_COUNT];
    int nk = kinds_of(wtype, kinds);
    for (int i = 0; i < nk; i++)
        for (struct watcher *w = n->w[kinds[i]]; w; w = w->next)
            if (!fn || (w->fn == fn && w->data == data))
                return 1;
    return 0;
}

int zk__watch_has(const struct watch_table *t, const char *path, int wtype)
{
    return zk__watch_match(t, path, wtype, NULL, NULL);
}

struct refs {
    struct watch_ref *v;
    size_t n, cap;
};

static void refs_push(struct refs *r, zk_watcher_fn fn, void *data, int type)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->v[i].fn == fn && r->v[i].data == data)
            return;
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 8;
        r->v = zk_xrealloc(r->v, r->cap * sizeof *r->v);
    }
    r->v[r->n].fn = fn;
    r->v[r->n].data = data;
    r->v[r->n].event_type = type;
    r->n++;
}

/* Moves every watcher of kind k on node n into r (one-shot firing). */
static void take_kind(struct watch_node *n, int k, struct refs *r, int type)
{
    struct watcher *w = n->w[k];
    n->w[k] = NULL;
    while (w) {
        struct watcher *next = w->next;
        refs_push(r, w->fn, w->data, type);
        free(w);
        w = next;
    }
}

static void copy_kind(struct watch_node *n, int k, struct refs *r, int type)
{
    for (struct watcher *w = n->w[k]; w; w = w->next)
        refs_push(r, w->fn, w->data, type);
}

size_t zk__watch_trigger(struct watch_table *t, int type, const char *path, struct watch_ref **out)
{
    struct refs r = {0};
    struct watch_node *n = *find_slot(t, path);
    if (n) {
        switch (type) {
        case ZK_EVENT_CREATED:
        case ZK_EVENT_CHANGED:
            take_kind(n, WK_DATA, &r, type);
            take_kind(n, WK_EXIST, &r, type);
            break;
        case ZK_EVENT_DELETED:
            take_kind(n, WK_DATA, &r, type);
            take_kind(n, WK_EXIST, &r, type);
            take_kind(n, WK_CHILD, &r, type);
            break;
        case ZK_EVENT_CHILD:
            take_kind(n, WK_CHILD, &r, type);
            break;
        default:
            break;
        }
        copy_kind(n, WK_PERSISTENT, &r, type);
        maybe_unlink(t, path);
    }
    if (type != ZK_EVENT_CHILD && path[0] == '/') {
        /* The path itself and every ancestor, longest first. */
        size_t len = strlen(path);
        char *p = zk_xstrndup(path, len);
        for (;;) {
            struct watch_node *a = *find_slot(t, p);
            if (a)
                copy_kind(a, WK_RECURSIVE, &r, type);
            if (len == 1)
                break;
            char *slash = strrchr(p, '/');
            len = slash == p ? 1 : (size_t)(slash - p);
            p[len] = 0;
        }
        free(p);
    }
    *out = r.v;
    return r.n;
}

size_t zk__watch_remove(struct watch_table *t, const char *path, int wtype, zk_watcher_fn fn,
                    void *data, struct watch_ref **out)
{
    struct refs r = {0};
    struct watch_node *n = *find_slot(t, path);
    if (n) {
        int kinds[WK_COUNT];
        int nk = kinds_of(wtype, kinds);
        for (int i = 0; i < nk; i++) {
            int k = kinds[i];
            int type = k == WK_CHILD ? ZK_EVENT_CHILD_WATCH_REMOVED
                       : (k == WK_DATA || k == WK_EXIST) ? ZK_EVENT_DATA_WATCH_REMOVED
                                                          : ZK_EVENT_PERSISTENT_WATCH_REMOVED;
            struct watcher **pp = &n->w[k];
            while (*pp) {
                struct watcher *w = *pp;
                if (!fn || (w->fn == fn && w->data == data)) {
                    *pp = w->next;
                    refs_push(&r, w->fn, w->data, type);
                    free(w);
                } else {
                    pp = &w->next;
                }
            }
        }
        maybe_unlink(t, path);
    }
    *out = r.v;
    return r.n;
}

/* 1 if kind k holds a watcher other than (fn, data) / holds (fn, data). */
static int kind_has_other(const struct watch_node *n, int k, zk_watcher_fn fn, void *data)
{
    for (const struct watcher *w = n->w[k]; w; w = w->next)
        if (w->fn != fn || w->data != data)
            return 1;
    return 0;
}

static int kind_has_it(const struct watch_node *n, int k, zk_watcher_fn fn, void *data)
{
    for (const struct watcher *w = n->w[k]; w; w = w->next)
        if (w->fn == fn && w->data == data)
            return 1;
    return 0;
}

int zk__watch_server_type(const struct watch_table *t, const char *path, int wtype, zk_watcher_fn fn,
                      void *data)
{
    const struct watch_node *n = *find_slot(t, path);
    if (!n || !fn)
        return wtype;
    /* The classes as the server sees them, and the kinds each holds. */
    static const struct {
        int type, kinds[2];
    } classes[3] = {
        {ZK_WATCH_CHILDREN, {WK_CHILD, WK_CHILD}},
        {ZK_WATCH_DATA, {WK_DATA, WK_EXIST}},
        {ZK_WATCH_ANY, {WK_PERSISTENT, WK_RECURSIVE}},
    };
    int emptied = 0, which = 0;
    for (int c = 0; c < 3; c++) {
        if (classes[c].type != wtype && wtype != ZK_WATCH_ANY)
            continue;
        int has_it = 0, others = 0;
        for (int i = 0; i < 2; i++) {
            has_it |= kind_has_it(n, classes[c].kinds[i], fn, data);
            others |= kind_has_other(n, classes[c].kinds[i], fn, data);
        }
        if (has_it && !others) {
            emptied++;
            which = classes[c].type;
        }
    }
    if (emptied == 0)
        return 0;
    if (emptied == 1 && which != ZK_WATCH_ANY)
        return which;
    return wtype;
}

void zk__watch_each(const struct watch_table *t, void (*fn)(const char *path, int kind, void *ud),
                void *ud)
{
    for (size_t i = 0; i < t->nbuckets; i++)
        for (struct watch_node *n = t->buckets[i]; n; n = n->next)
            for (int k = 0; k < WK_COUNT; k++)
                if (n->w[k])
                    fn(n->path, k, ud);
}

size_t zk__watch_clear(struct watch_table *t, struct watch_ref **out)
{
    struct refs r = {0};
    for (size_t i = 0; i < t->nbuckets; i++) {
        struct watch_node *n = t->buckets[i];
        while (n) {
            struct watch_node *next = n->next;
            for (int k = 0; k < WK_COUNT; k++)
                take_kind(n, k, &r, ZK_EVENT_NONE);
            free(n);
            n = next;
        }
        t->buckets[i] = NULL;
    }
    t->npaths = 0;
    *out = r.v;
    return r.n;
}
