/*
 * watch.h - the client's table of registered watches.
 *
 * Keyed by client path (chroot stripped), each entry holds five lists of
 * watchers, one per kind: data (getData, or exists on an existing node),
 * exist (exists on an absent node), child (getChildren), persistent and
 * persistent-recursive (addWatch).  Watchers are (fn, data) pairs; adding a
 * pair a kind already holds is a no-op, as in Apache's ZKWatchManager where
 * watchers live in sets.
 *
 * Triggering follows ZooKeeper's semantics (ZKWatchManager.materialize):
 *   NodeCreated, NodeDataChanged  data + exist watches of the path
 *   NodeDeleted                   data + exist + child watches of the path
 *   NodeChildrenChanged           child watches of the path
 * one-shot watches are removed as they fire; persistent watches of the path
 * fire for every event; persistent-recursive watches of the path and of
 * each ancestor fire for every event except NodeChildrenChanged.  A watcher
 * is called once per event even if it matched several ways.
 */
#ifndef ZK_CLIENT_WATCH_H
#define ZK_CLIENT_WATCH_H

#include <stddef.h>

#include "zk/zk.h"

enum watch_kind {
    WK_DATA,
    WK_EXIST,
    WK_CHILD,
    WK_PERSISTENT,
    WK_RECURSIVE,
    WK_COUNT,
    WK_NONE = -1,
};

struct watch_ref {
    zk_watcher_fn fn;
    void *data;
    int event_type; /* for removals: the *_WATCH_REMOVED type to deliver */
};

struct watch_node;

struct watch_table {
    struct watch_node **buckets;
    size_t nbuckets;
    size_t npaths;
};

void zk__watch_table_init(struct watch_table *t);
void zk__watch_table_free(struct watch_table *t);
/* Registers (fn, data) of `kind` on `path` (copied). */
void zk__watch_add(struct watch_table *t, const char *path, int kind, zk_watcher_fn fn, void *data);
/* Returns 1 if any watch of a ZK_WATCH_* type is held on path. */
int zk__watch_has(const struct watch_table *t, const char *path, int wtype);
/* Collects the watchers an event fires, removing one-shot ones.
 * OUT out: malloc'ed array (caller frees).  Returns its length. */
size_t zk__watch_trigger(struct watch_table *t, int event_type, const char *path,
                     struct watch_ref **out);
/* Removes watchers of ZK_WATCH_* `wtype` on path matching (fn, data), or all
 * of them when fn is NULL.  OUT out: the removed ones with the event type to
 * deliver (caller frees).  Returns the count. */
size_t zk__watch_remove(struct watch_table *t, const char *path, int wtype, zk_watcher_fn fn,
                    void *data, struct watch_ref **out);
/* Returns 1 if (fn,data) (or anything, when fn is NULL) of wtype is on path. */
int zk__watch_match(const struct watch_table *t, const char *path, int wtype, zk_watcher_fn fn,
                void *data);
/* Which server watches removing (fn, data) of ZK_WATCH_* `wtype` from
 * path must drop too.  The server holds one watch per path and class (data
 * and exist watches are one class, child watches another, persistent ones a
 * third), so a class still used by another local watcher must keep its
 * server watch.  Returns 0 when no class empties (remove locally only), the
 * one emptied class's ZK_WATCH_CHILDREN/ZK_WATCH_DATA type, or `wtype` when
 * several classes (or a persistent one) empty. */
int zk__watch_server_type(const struct watch_table *t, const char *path, int wtype, zk_watcher_fn fn,
                      void *data);
/* Calls fn(path, kind, ud) for every (path, kind) holding at least one
 * watcher, for re-arming after a reconnect. */
void zk__watch_each(const struct watch_table *t, void (*fn)(const char *path, int kind, void *ud),
                void *ud);
/* Drops every watcher, returning each distinct (fn, data) once (for the
 * session-end event). */
size_t zk__watch_clear(struct watch_table *t, struct watch_ref **out);

#endif
