/*
 * recipe.h - what every recipe object shares (private to client/recipes).
 *
 * Lifetime.  A recipe object is referenced by its user (until *_free or
 * *_stop), by each request it has in flight (every request completes
 * exactly once, with ZK_CLOSING at the latest), and by each one-shot watch
 * it has armed (counted in `nwatch`).  The object is freed when nothing
 * references it, so a callback of libzk never sees freed memory.  Watch
 * counting may only over-count (a re-armed watch that libzk deduplicated,
 * or one event firing a data and a child watch at once): the object then
 * lingers until its handle expires or closes, never less.  On
 * ZK_SESSION_CLOSED no callback of the handle runs again, so an object the
 * user has let go of is freed then, and one still held is marked closed and
 * freed by its *_free.
 */
#ifndef ZK_CLIENT_RECIPE_H
#define ZK_CLIENT_RECIPE_H

#include "zk/recipes.h"
#include "zk/zk.h"

#include <stdint.h>

struct recipe {
    zk_t *zk;
    int refs;     /* user + requests in flight */
    int nwatch;   /* armed one-shot watches (may over-count) */
    int released; /* the user has let go */
    int closed;   /* the handle is closed: no request may be made */
    void (*destroy)(struct recipe *r);        /* frees the containing object */
    void (*on_session)(struct recipe *r, int ev); /* may be NULL */
};

/* Starts the object with the user's reference and a session listener. */
void zk__recipe_init(struct recipe *r, zk_t *zk, void (*destroy)(struct recipe *),
                 void (*on_session)(struct recipe *, int));
/* A request in flight holds the object: hold before submitting, drop at
 * the end of its callback. */
void zk__recipe_hold(struct recipe *r);
void zk__recipe_drop(struct recipe *r);
/* The user lets go; the object is freed when nothing else holds it. */
void zk__recipe_release(struct recipe *r);
/* Account for an armed watch / a fired one (ev of the watcher). */
void zk__recipe_watch_armed(struct recipe *r);
void zk__recipe_watch_fired(struct recipe *r, const struct zk_event *ev);

/* Helpers shared by the recipes. */
/* OUT: malloc'ed "dir/name" (dir "/" handled). */
char *zk__recipe_join(const char *dir, const char *name);
/* OUT guid: 32 random hex digits and a NUL. */
void zk__recipe_guid(char guid[33]);
/* The sequence number ending a sequential node's name, or -1. */
int64_t zk__recipe_seq(const char *name);
/* 0 if path is a valid absolute path, else ZK_BADARGUMENTS. */
int zk__recipe_check_path(const char *path);
/* The parent of path (malloc'ed; "/" for top-level nodes). */
char *zk__recipe_parent(const char *path);

/* create, making missing parents on ZK_NONODE (once).  cb gets the
 * create's status and result (res NULL if the mkdirs failed). */
void zk__recipe_create(zk_t *zk, const char *path, const void *value, int32_t len, int mode,
                   zk_result_fn cb, void *data);

#endif
