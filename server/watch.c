/*
 * watch.c - see watch.h.
 *
 * Layout: `paths` is an open-addressing table of struct wpath keyed by the
 * path's FNV-1a hash.  A wpath heads a doubly linked list of wentry (one per
 * owner); each wentry is also in its owner's singly... doubly linked list, so
 * either side can unlink it in O(1).  A wpath is freed when its list empties.
 *
 * Triggering walks the path itself and, only when the table holds recursive
 * watches, each ancestor up to "/" (Apache's PathParentIterator).
 */
#include "watch.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "zk/jute.h"
#include "zk/proto.h"

struct wpath;

struct wentry {
    struct wpath *path;
    struct watch_owner *owner;
    struct wentry *pprev, *pnext; /* in path list */
    struct wentry *oprev, *onext; /* in owner list */
    enum watch_mode mode;
};

struct wpath {
    struct watches *table;
    struct wentry *head;
    uint32_t count; /* entries in the list */
    uint32_t hash;
    uint32_t len;
    char path[];
};

struct watches {
    struct wpath **slots;
    size_t cap, n;
    size_t entries;
    size_t recursive; /* entries with WATCH_RECURSIVE */
    size_t search_steps; /* list entries find_entry examined (watches_search_steps) */
};

static uint32_t path_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

struct watches *watches_new(void)
{
    struct watches *w = zk_xcalloc(1, sizeof *w);
    w->cap = 64;
    w->slots = zk_xcalloc(w->cap, sizeof *w->slots);
    return w;
}

/* Takes `e` off its owner's list of watches. */
static void owner_unlink(struct wentry *e)
{
    if (e->oprev)
        e->oprev->onext = e->onext;
    else
        e->owner->head = e->onext;
    if (e->onext)
        e->onext->oprev = e->oprev;
    assert(e->owner->count > 0);
    e->owner->count--;
}

void watches_free(struct watches *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->cap; i++) {
        struct wpath *p = w->slots[i];
        if (!p)
            continue;
        while (p->head) {
            struct wentry *e = p->head;
            p->head = e->pnext;
            owner_unlink(e);
            free(e);
        }
        free(p);
    }
    free(w->slots);
    free(w);
}

static size_t find_slot(const struct watches *w, const char *path, size_t len, uint32_t h)
{
    size_t mask = w->cap - 1;
    size_t i = h & mask;
    for (; w->slots[i]; i = (i + 1) & mask) {
        const struct wpath *p = w->slots[i];
        if (p->hash == h && p->len == len && !memcmp(p->path, path, len))
            break;
    }
    return i;
}

static struct wpath *lookup(const struct watches *w, const char *path, size_t len)
{
    return w->slots[find_slot(w, path, len, path_hash(path, len))];
}

static void grow(struct watches *w)
{
    struct wpath **old = w->slots;
    size_t oldcap = w->cap;
    w->cap *= 2;
    w->slots = zk_xcalloc(w->cap, sizeof *w->slots);
    for (size_t i = 0; i < oldcap; i++)
        if (old[i])
            w->slots[find_slot(w, old[i]->path, old[i]->len, old[i]->hash)] = old[i];
    free(old);
}

static void path_remove(struct watches *w, struct wpath *p)
{
    size_t mask = w->cap - 1;
    size_t i = find_slot(w, p->path, p->len, p->hash);
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!w->slots[j])
            break;
        size_t k = w->slots[j]->hash & mask;
        if ((j > i && (k <= i || k > j)) || (j < i && (k <= i && k > j))) {
            w->slots[i] = w->slots[j];
            i = j;
        }
    }
    w->slots[i] = NULL;
    assert(w->n > 0);
    w->n--;
    free(p);
}

static void entry_unlink(struct wentry *e)
{
    struct wpath *p = e->path;
    struct watches *w = p->table;
    if (e->pprev)
        e->pprev->pnext = e->pnext;
    else
        p->head = e->pnext;
    if (e->pnext)
        e->pnext->pprev = e->pprev;
    assert(p->count > 0);
    p->count--;
    owner_unlink(e);
    assert(w->entries > 0);
    assert(e->mode != WATCH_RECURSIVE || w->recursive > 0);
    w->entries--;
    if (e->mode == WATCH_RECURSIVE)
        w->recursive--;
    free(e);
    if (!p->head)
        path_remove(w, p);
}

/* The entry of `owner` on `p`, from the shorter of the two lists: a path
 * 100,000 sessions watch is searched through the owner's few watches, so
 * that the sessions re-arming after a fan-out cost O(1) each, not O(n). */
static struct wentry *find_entry(const struct wpath *p, const struct watch_owner *owner)
{
    if (!p)
        return NULL;
    size_t *steps = &p->table->search_steps;
    if (owner->count < p->count) {
        for (struct wentry *e = owner->head; e; e = e->onext, ++*steps)
            if (e->path == p)
                return e;
        return NULL;
    }
    for (struct wentry *e = p->head; e; e = e->pnext, ++*steps)
        if (e->owner == owner)
            return e;
    return NULL;
}

void watches_add(struct watches *w, const char *path, size_t len, struct watch_owner *owner,
                 enum watch_mode mode)
{
    assert(owner != NULL);
    uint32_t h = path_hash(path, len);
    size_t i = find_slot(w, path, len, h);
    struct wpath *p = w->slots[i];
    if (!p) {
        if ((w->n + 1) * 10 > w->cap * 7) {
            grow(w);
            i = find_slot(w, path, len, h);
        }
        p = zk_xcalloc(1, sizeof *p + len + 1);
        p->table = w;
        p->hash = h;
        p->len = (uint32_t)len;
        memcpy(p->path, path, len);
        w->slots[i] = p;
        w->n++;
    }
    struct wentry *e = find_entry(p, owner);
    if (e) {
        w->recursive -= e->mode == WATCH_RECURSIVE;
        e->mode = mode;
        w->recursive += mode == WATCH_RECURSIVE;
        return;
    }
    e = zk_xcalloc(1, sizeof *e);
    e->path = p;
    e->owner = owner;
    e->mode = mode;
    e->pnext = p->head;
    if (p->head)
        p->head->pprev = e;
    p->head = e;
    p->count++;
    e->onext = owner->head;
    if (owner->head)
        owner->head->oprev = e;
    owner->head = e;
    owner->count++;
    w->entries++;
    w->recursive += mode == WATCH_RECURSIVE;
}

int watches_has(struct watches *w, const char *path, size_t len, struct watch_owner *owner,
                int mode_mask)
{
    struct wentry *e = find_entry(lookup(w, path, len), owner);
    return e && (mode_mask & (1 << e->mode));
}

int watches_remove(struct watches *w, const char *path, size_t len, struct watch_owner *owner,
                   int mode_mask)
{
    struct wentry *e = find_entry(lookup(w, path, len), owner);
    if (!e || !(mode_mask & (1 << e->mode)))
        return 0;
    entry_unlink(e);
    return 1;
}

void watch_owner_clear(struct watch_owner *owner)
{
    while (owner->head)
        entry_unlink(owner->head);
}

static void fire_path(struct watches *w, const char *path, size_t len, int type, int at_parent,
                      void (*notify)(struct watch_owner *, void *), void *d,
                      const struct pset *suppress, struct pset *seen)
{
    if (!w->n)
        return; /* no watched path: spare hashing it (every write asks) */
    struct wpath *p = lookup(w, path, len);
    if (!p)
        return;
    struct wentry *next;
    for (struct wentry *e = p->head; e; e = next) {
        next = e->pnext;
        int fire;
        if (e->mode == WATCH_RECURSIVE)
            fire = type != ZK_EVENT_CHILD;
        else
            fire = !at_parent;
        if (!fire)
            continue;
        struct watch_owner *o = e->owner;
        int consume = e->mode == WATCH_STANDARD;
        if (consume) {
            /* Unlinking may free p when e is the last entry: stop after it. */
            int last = !e->pnext && p->head == e;
            entry_unlink(e);
            if (last)
                next = NULL;
        }
        if (suppress && pset_has(suppress, o))
            continue;
        if (pset_add(seen, o))
            notify(o, d);
    }
}

void watches_trigger(struct watches *w, const char *path, size_t len, int type,
                     void (*notify)(struct watch_owner *, void *), void *d,
                     const struct pset *suppress, struct pset *notified)
{
    struct pset local = {0};
    struct pset *seen = notified ? notified : &local;
    fire_path(w, path, len, type, 0, notify, d, suppress, seen);
    if (w->recursive) {
        size_t l = len;
        while (l > 1) {
            while (l > 0 && path[l - 1] != '/')
                l--;
            size_t plen = l > 1 ? l - 1 : 1; /* parent path length ("/" stays 1) */
            fire_path(w, path, plen, type, 1, notify, d, suppress, seen);
            l = plen;
        }
    }
    pset_free(&local);
}

size_t watches_count(const struct watches *w) { return w->entries; }
size_t watches_paths(const struct watches *w) { return w->n; }
size_t watches_search_steps(const struct watches *w) { return w->search_steps; }

void watches_foreach(const struct watches *w,
                     void (*fn)(const char *, struct watch_owner *, void *), void *d)
{
    for (size_t i = 0; i < w->cap; i++)
        for (struct wentry *e = w->slots[i] ? w->slots[i]->head : NULL; e; e = e->pnext)
            fn(w->slots[i]->path, e->owner, d);
}

void watch_owner_foreach(const struct watch_owner *owner,
                         void (*fn)(const char *, int, enum watch_mode, void *), void *d)
{
    for (struct wentry *e = owner->head; e; e = e->onext)
        fn(e->path->path, 0, e->mode, d);
}
