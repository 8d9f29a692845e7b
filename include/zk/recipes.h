/*
 * recipes.h - coordination recipes on libzk (as Curator and kazoo offer them).
 *
 * Every recipe is asynchronous and lives on the loop of the zk_t it is given:
 * all calls must be made on the loop thread, and every callback is made on
 * it.  An outcome is reported exactly once through the callback of the call
 * (status 0 or a negative ZK_* code); a call made in the wrong state (an
 * acquire while one is pending, say) is refused with ZK_APIERROR before it
 * returns.  Recipe objects are created with a _new or _start call and ended
 * with _free or _stop; after that call no callback of the object runs
 * again.  An object that still has a watch armed on the
 * server lingers internally until the watch fires or the handle closes
 * (libzk then frees it); the program never sees it again.  After zk_close
 * of its handle an object does nothing, but must still be ended by its
 * owner to be freed.
 *
 * Connection loss and expiry.  A request that fails with ZK_CONNECTIONLOSS
 * may or may not have been applied.  Recipes that create sequential nodes
 * (lock, read/write lock, leader election) name them
 * "_c_<32 hex guid>-<kind>-<seq>" (Curator's protection mode): after a loss
 * they list the parent and adopt the node carrying their guid instead of
 * creating a second one.  Reads and idempotent steps are simply retried;
 * libzk queues them until the session is back.  On session expiry every
 * ephemeral node is gone: a held lock or leadership is reported lost
 * through the object's "lost" callback, and pending operations fail with
 * ZK_SESSIONEXPIRED.  While disconnected (SUSPENDED) a holder cannot know
 * whether its session still lives; it is told only once the outcome is known
 * (RECONNECTED: the node is checked, EXPIRED: lost).  Programs that must not
 * act on a stale lock use the node's czxid as a fencing token.
 *
 * Paths are absolute (relative to the handle's chroot); parents that do not
 * exist are created as persistent nodes with an open ACL.
 */
#ifndef ZK_RECIPES_H
#define ZK_RECIPES_H

#include <stdint.h>

#include "zk/zk.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Completion of recipe calls that only report a status. */
typedef void (*zk_status_fn)(int status, void *data);

/* Creates `path` and its missing ancestors (persistent, open ACL); an
 * existing node is success.  The creates are pipelined. */
ZK_EXPORT void zk_mkdirs(zk_t *zk, const char *path, zk_status_fn cb, void *data);

/* ---- lock and read/write lock ----
 *
 * The herd-free algorithm of the ZooKeeper recipes page: each contender
 * creates an ephemeral sequential node under `dir` and watches only its
 * predecessor: for an exclusive (or write) lock the next lower node of any
 * kind, for a read lock the next lower write node.  An exclusive lock and
 * the write side of a read/write lock on the same dir exclude each other.
 */
enum zk_lock_kind { ZK_LOCK_EXCLUSIVE = 0, ZK_LOCK_READ = 1, ZK_LOCK_WRITE = ZK_LOCK_EXCLUSIVE };

typedef struct zk_lock zk_lock_t;
/* status 0: acquired (acquire) or released (release).  The lost callback
 * gets ZK_SESSIONEXPIRED (session expired) or ZK_NONODE (the node was
 * deleted behind our back) once the lock is no longer held. */
typedef void (*zk_lock_fn)(zk_lock_t *lock, int status, void *data);

/* OUT out: a lock object on `dir` of `kind`.  `id` (may be NULL) is stored
 * as the node's data so others can see who holds it.  Returns 0 or
 * ZK_BADARGUMENTS. */
ZK_EXPORT int zk_lock_new(zk_t *zk, const char *dir, int kind, const char *id, zk_lock_t **out);
/* Acquires; cb gets 0 once held.  try_only != 0: fail with ZK_NODEEXISTS
 * (and withdraw the node in the background) instead of waiting.  One
 * acquire at a time per object (ZK_APIERROR otherwise, also when held or
 * being released); an acquire made while a node is being withdrawn starts
 * once it is gone. */
ZK_EXPORT void zk_lock_acquire(zk_lock_t *lock, int try_only, zk_lock_fn cb, void *data);
/* Releases the held lock (deletes the node, retrying through connection
 * loss).  ZK_APIERROR if it is not held. */
ZK_EXPORT void zk_lock_release(zk_lock_t *lock, zk_lock_fn cb, void *data);
/* Sets the callback for losing a held lock (may be NULL). */
ZK_EXPORT void zk_lock_on_lost(zk_lock_t *lock, zk_lock_fn cb, void *data);
ZK_EXPORT int zk_lock_is_held(const zk_lock_t *lock);
/* The lock node's path once created, else NULL (valid until the next call). */
ZK_EXPORT const char *zk_lock_node(const zk_lock_t *lock);
/* Withdraws (deletes the node if any, in the background) and frees.  A
 * pending acquire is dropped without a callback. */
ZK_EXPORT void zk_lock_free(zk_lock_t *lock);

/* ---- leader election (latch) ----
 *
 * Every participant joins with an ephemeral sequential node under `dir`;
 * the lowest is the leader, each other watches its predecessor (the lock
 * algorithm above, without a herd).
 */
typedef struct zk_leader zk_leader_t;
enum zk_leader_event { ZK_LEADER_ELECTED = 1, ZK_LEADER_LOST = 2, ZK_LEADER_FAILED = 3 };
/* ELECTED: this participant leads.  LOST (status ZK_SESSIONEXPIRED or
 * ZK_NONODE): it no longer does, and the latch is out of the election.
 * FAILED: joining failed with `status`. */
typedef void (*zk_leader_fn)(zk_leader_t *l, int event, int status, void *data);
/* OUT out: a participant, already running for election.  Returns 0 or
 * ZK_BADARGUMENTS. */
ZK_EXPORT int zk_leader_start(zk_t *zk, const char *dir, const char *id, zk_leader_fn cb,
                              void *data, zk_leader_t **out);
ZK_EXPORT int zk_leader_is_leader(const zk_leader_t *l);
/* Resigns (deletes the node in the background) and frees. */
ZK_EXPORT void zk_leader_stop(zk_leader_t *l);

/* ---- barrier ----
 *
 * A barrier is up while node `path` exists.  wait completes with 0 once it
 * does not (at once if it is down).
 */
ZK_EXPORT void zk_barrier_set(zk_t *zk, const char *path, zk_status_fn cb, void *data);
ZK_EXPORT void zk_barrier_remove(zk_t *zk, const char *path, zk_status_fn cb, void *data);
ZK_EXPORT void zk_barrier_wait(zk_t *zk, const char *path, zk_status_fn cb, void *data);

/* ---- double barrier ----
 *
 * `count` participants enter under `dir` (an ephemeral node each, named by
 * `id`, unique per participant); enter completes for all once `count` are
 * in (the one completing the count creates dir/ready).  leave deletes the
 * participant's node and completes once every participant's node is gone.
 */
typedef struct zk_dbarrier zk_dbarrier_t;
ZK_EXPORT int zk_dbarrier_new(zk_t *zk, const char *dir, const char *id, int count,
                              zk_dbarrier_t **out);
ZK_EXPORT void zk_dbarrier_enter(zk_dbarrier_t *b, zk_status_fn cb, void *data);
ZK_EXPORT void zk_dbarrier_leave(zk_dbarrier_t *b, zk_status_fn cb, void *data);
ZK_EXPORT void zk_dbarrier_free(zk_dbarrier_t *b);

/* ---- distributed queue ----
 *
 * Items are persistent sequential nodes dir/qn-<seq>; consumers take the
 * lowest by reading then deleting it: the one whose delete succeeds owns
 * the item, so each item is consumed once.  A delete that fails with
 * ZK_CONNECTIONLOSS is checked after reconnecting; if the item is gone
 * nobody can tell whether this consumer took it, and the item is counted
 * as consumed by nobody (reported as ZK_CONNECTIONLOSS): at most once.
 */
ZK_EXPORT void zk_queue_put(zk_t *zk, const char *dir, const void *value, int32_t len,
                            zk_status_fn cb, void *data);
typedef struct zk_queue zk_queue_t;
/* value: the item (NUL-terminated copy, valid during the call) on status 0. */
typedef void (*zk_queue_fn)(zk_queue_t *q, int status, const char *value, int32_t len,
                            void *data);
ZK_EXPORT int zk_queue_new(zk_t *zk, const char *dir, zk_queue_t **out);
/* Takes the next item, waiting (children watch) while the queue is empty.
 * One get at a time per object (ZK_APIERROR otherwise). */
ZK_EXPORT void zk_queue_get(zk_queue_t *q, zk_queue_fn cb, void *data);
ZK_EXPORT void zk_queue_free(zk_queue_t *q);

/* ---- group membership / service discovery ---- */

/* Joins: ephemeral node dir/member holding `value`. */
ZK_EXPORT void zk_group_join(zk_t *zk, const char *dir, const char *member, const void *value,
                             int32_t len, zk_status_fn cb, void *data);
ZK_EXPORT void zk_group_leave(zk_t *zk, const char *dir, const char *member, zk_status_fn cb,
                              void *data);
typedef struct zk_group zk_group_t;
/* The sorted member names, valid during the call; called at once with the
 * current members and again on every change (status != 0: watching
 * stopped, e.g. ZK_SESSIONEXPIRED). */
typedef void (*zk_group_fn)(zk_group_t *g, int status, char *const *members, int n,
                            void *data);
ZK_EXPORT int zk_group_watch(zk_t *zk, const char *dir, zk_group_fn cb, void *data,
                             zk_group_t **out);
ZK_EXPORT void zk_group_unwatch(zk_group_t *g);

/* ---- shared counter ----
 *
 * A signed 64-bit decimal in the data of `path`, changed by versioned
 * compare-and-set (read, set with the read version, retry on BADVERSION).
 * A set that fails with ZK_CONNECTIONLOSS may have been applied: it is
 * reported, not retried, so a counter is never incremented twice.
 */
typedef void (*zk_counter_fn)(int status, int64_t value, void *data);
/* Adds delta (creating the node at 0 first); value: the new value. */
ZK_EXPORT void zk_counter_add(zk_t *zk, const char *path, int64_t delta, zk_counter_fn cb,
                              void *data);
/* value: the current value (0 if the node is absent). */
ZK_EXPORT void zk_counter_get(zk_t *zk, const char *path, zk_counter_fn cb, void *data);

/* ---- tree cache ----
 *
 * Keeps a local copy (data and stat) of the subtree at `root` current.  It
 * uses one persistent recursive watch (addWatch) on the root, or with
 * ZK_TREECACHE_NODE_WATCHES (and on servers without addWatch) a data and a
 * child watch on every node.  After a reconnect the whole subtree is read
 * again and differences are reported, as events may have been missed;
 * after expiry the cache stops (ZK_TREECACHE_STOPPED, ZK_SESSIONEXPIRED).
 */
typedef struct zk_treecache zk_treecache_t;
enum zk_treecache_event {
    ZK_TREECACHE_ADDED = 1,
    ZK_TREECACHE_UPDATED = 2,
    ZK_TREECACHE_REMOVED = 3,
    ZK_TREECACHE_INITIALIZED = 4, /* first full load done (path = root) */
    ZK_TREECACHE_RESYNCED = 5,    /* re-read after a reconnect done */
    ZK_TREECACHE_STOPPED = 6,     /* status says why; the cache is frozen */
};
enum { ZK_TREECACHE_NODE_WATCHES = 1 };
typedef void (*zk_treecache_fn)(zk_treecache_t *tc, int event, int status, const char *path,
                                void *data);
ZK_EXPORT int zk_treecache_start(zk_t *zk, const char *root, int flags, zk_treecache_fn cb,
                                 void *data, zk_treecache_t **out);
/* OUT value/len/st (each may be NULL): the cached node; value valid until
 * the cache next changes.  Returns 0 or ZK_NONODE. */
ZK_EXPORT int zk_treecache_get(const zk_treecache_t *tc, const char *path, const char **value,
                               int32_t *len, struct zk_stat *st);
/* OUT names: malloc'ed sorted array of malloc'ed child names (free each and
 * the array).  Returns the count, or ZK_NONODE. */
ZK_EXPORT int zk_treecache_children(const zk_treecache_t *tc, const char *path, char ***names);
/* Number of cached nodes (the root included once it exists). */
ZK_EXPORT int zk_treecache_size(const zk_treecache_t *tc);
/* 1 when persistent recursive watching is in use. */
ZK_EXPORT int zk_treecache_recursive(const zk_treecache_t *tc);
ZK_EXPORT void zk_treecache_stop(zk_treecache_t *tc);

/* ---- blocking conveniences ----
 *
 * For programs on the blocking API: each call runs the recipe on the
 * handle's loop thread and waits for its outcome.  Any thread but the
 * handle's own (not from its watchers or on_session).  A lock's loss is
 * seen through on_session (EXPIRED) and by zk_blocking_unlock returning
 * ZK_SESSIONEXPIRED.
 */
/* Waits until the lock is held (try_only: ZK_NODEEXISTS at once if it is
 * not free).  OUT out: the held lock, for zk_blocking_unlock only. */
ZK_EXPORT int zk_blocking_lock(zk_blocking_t *b, const char *dir, int kind, const char *id,
                               int try_only, zk_lock_t **out);
/* Releases and frees a lock from zk_blocking_lock. */
ZK_EXPORT int zk_blocking_unlock(zk_blocking_t *b, zk_lock_t *lock);
/* OUT value (may be NULL): the new value. */
ZK_EXPORT int zk_blocking_counter_add(zk_blocking_t *b, const char *path, int64_t delta,
                                      int64_t *value);
ZK_EXPORT int zk_blocking_barrier_wait(zk_blocking_t *b, const char *path);
ZK_EXPORT int zk_blocking_mkdirs(zk_blocking_t *b, const char *path);
ZK_EXPORT int zk_blocking_queue_put(zk_blocking_t *b, const char *dir, const void *value,
                                    int32_t len);
/* Waits for an item.  OUT value: malloc'ed, NUL-terminated (caller frees);
 * OUT len (may be NULL). */
ZK_EXPORT int zk_blocking_queue_take(zk_blocking_t *b, const char *dir, char **value,
                                     int32_t *len);

#ifdef __cplusplus
}
#endif
#endif
