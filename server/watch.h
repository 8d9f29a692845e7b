/*
 * watch.h - watch tables with Apache's WatchManager semantics.
 *
 * zkd keeps two tables, as Apache does: data watches (getData, exists, and
 * persistent ones) and child watches (getChildren, and persistent ones of both
 * kinds: Apache puts those in both tables).
 * Each (path, owner) pair has one mode; adding again replaces the mode, as
 * Apache's WatcherModeManager does.  Standard watches are removed when they
 * fire; persistent ones stay; recursive ones fire for the path and every
 * descendant, never for NodeChildrenChanged.
 *
 * An owner is a connection: it embeds a `struct watch_owner`, and every entry
 * is linked both into its path's list and its owner's list, so dropping a
 * connection's watches is O(its watches).
 */
#ifndef ZKD_WATCH_H
#define ZKD_WATCH_H

#include <stddef.h>
#include <stdint.h>

#include "hset.h"

enum watch_mode { WATCH_STANDARD = 0, WATCH_PERSISTENT = 1, WATCH_RECURSIVE = 2 };

struct wentry;

struct watch_owner {
    struct wentry *head;
    uint32_t count;
};

struct watches;

struct watches *watches_new(void);
void watches_free(struct watches *w);

/* Adds or re-modes the watch of `owner` on `path`. */
void watches_add(struct watches *w, const char *path, size_t len, struct watch_owner *owner,
                 enum watch_mode mode);

/* Whether owner watches path; mode_mask: bit (1 << mode), or -1 for any. */
int watches_has(struct watches *w, const char *path, size_t len, struct watch_owner *owner,
                int mode_mask);

/* Removes owner's watch on path if its mode is in mode_mask; returns 1 if removed. */
int watches_remove(struct watches *w, const char *path, size_t len, struct watch_owner *owner,
                   int mode_mask);

/* Removes every watch of owner in every table (call once per table or use
 * watch_owner_clear, which knows the tables through the entries). */
void watch_owner_clear(struct watch_owner *owner);

/*
 * Fires watches for an event of `type` on `path`: calls notify(owner, d) once
 * per distinct owner, skipping owners in `suppress` (may be NULL); every
 * owner notified is added to `notified` (may be NULL).  Standard watches on
 * the path itself are consumed.
 */
void watches_trigger(struct watches *w, const char *path, size_t len, int type,
                     void (*notify)(struct watch_owner *owner, void *d), void *d,
                     const struct pset *suppress, struct pset *notified);

/* Totals for wchs / mntr. */
size_t watches_count(const struct watches *w);
size_t watches_paths(const struct watches *w);
/* List entries examined so far finding an owner's watch on a path (tests:
 * each search walks the shorter of the path's and the owner's lists). */
size_t watches_search_steps(const struct watches *w);

/* Iterates (path, owner) pairs, for wchc / wchp. */
void watches_foreach(const struct watches *w,
                     void (*fn)(const char *path, struct watch_owner *owner, void *d), void *d);

/* Iterates the paths one owner watches (any table). */
void watch_owner_foreach(const struct watch_owner *owner,
                         void (*fn)(const char *path, int is_child_table, enum watch_mode m, void *d),
                         void *d);

#endif
