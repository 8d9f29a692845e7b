/*
 * db.h - the replicated state machine (Apache's ZKDatabase): the data tree
 * with its ACL cache, the session table, the two watch tables and the zxid
 * of the last transaction applied.
 *
 * Layers.  The state machine is the bottom of the server: db.c (the state and
 * its image), prep.c (requests -> transactions, checked against the state) and
 * apply.c (transactions -> state changes and watch events) use only the tree,
 * ACL, session, watch and transaction modules below them.  They know nothing
 * of connections, the log, the quorum or reconfiguration.  Callers pass plain
 * inputs (an auth-identity list; a transaction) and learn of effects through
 * the hooks below.  Beside it sits persistence (txnlog.c, snapshot.c,
 * datadir.c); above both, server.c runs the write pipeline (zxid, log,
 * proposal, durability gate), conn.c/request.c the clients and quorum.c the
 * ensemble.
 *
 * Hooks.  `watch_event` is called once per (watcher, event) when a
 * transaction's journal is committed (apply.h), in Apache's order; the owner
 * is whatever embedded the `struct watch_owner` when it set the watch (zkd:
 * a connection).  `acl` is the ACL the node the event is about had when the
 * op applied (for NodeChildrenChanged: the parent's); the hook delivers the
 * event only if the owner may READ under it, as Apache does since
 * ZOOKEEPER-4799 (CVE-2024-23944, in 3.8.4 and in Debian's 3.8.0): the state
 * machine cannot judge, since identities belong to connections.  A watch is
 * used up whether or not its event is delivered.  `session_closed` is called
 * when a closeSession transaction removes a session, just before it is freed,
 * so that whatever refers to it can let go.  Both run on the loop thread, which applies
 * every transaction (see the tree write lock below).
 */
#ifndef ZKD_DB_H
#define ZKD_DB_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "acl.h"
#include "session.h"
#include "tree.h"
#include "watch.h"

struct db_hooks {
    void (*watch_event)(struct watch_owner *owner, int32_t type, const char *path, int64_t zxid,
                        const struct acl_list *acl, void *data);
    void (*session_closed)(struct session *se, void *data);
    void *data;
};

struct db {
    struct tree *tree;           /* NULL until recovery creates or loads one */
    struct sessions sessions;
    struct watches *data_watches;
    struct watches *child_watches;
    int64_t last_zxid;           /* of the last transaction applied */
    int64_t acl_zxid;            /* of the last setACL applied (no stat field has it) */
    int tick_ms, server_id;      /* as given to db_init (db_reset reuses them) */

    /* Limits prep enforces (from zoo.cfg). */
    int extended_types;          /* extendedTypesEnabled: TTL nodes allowed */
    int32_t max_data;            /* jute.maxbuffer: largest znode data */
    int enforce_quota;           /* enforceQuota: hard quota limits refuse writes (quota.h) */
    int quota_nodes;             /* /zookeeper/quota may have children: quota.h's fast path */

    /* Apache's tree digest (digest.h): valid only while digest_of == tree;
     * digest_db computes it with one walk, then apply.c keeps it per node
     * change.  db_reset forgets it. */
    int64_t digest;
    const struct tree *digest_of;

    struct db_hooks hooks;

    /* Apache's digest of the tree (digest.h) as db_load_snapshot_body left
     * it, summed while loading; loaded_digest_ok says it is valid.  Whoever
     * changes the tree after the load and still wants it clears the flag. */
    int64_t loaded_digest;
    int loaded_digest_ok;

    /* The tree write lock (below). */
    pthread_mutex_t write_lock;
    int write_depth;             /* loop thread only: db_write_lock nesting */
    int loop_waits;              /* atomic: a write of the loop was refused the lock
                                  * (db_write_trylock); walkers let it have it first */
};

/*
 * The tree write lock.  The loop thread is the only one that changes the
 * tree, its ACL cache and last_zxid; walker threads (dbwalk.h: background
 * snapshots) read the tree beside it.  So:
 *
 *  - every change of the tree, its ACL cache (interning, references) or
 *    last_zxid happens with the loop holding db_write_lock: the write
 *    pipeline (write.c) takes it from write_begin to the end of
 *    write_commit / write_abort, and around write_apply_committed, so a
 *    walker never sees half a transaction (a multi applied op by op and then
 *    undone) nor a tree ahead of last_zxid; the in-place updates outside
 *    transactions (quota.c's recount, reconfig.c's /zookeeper/config) and
 *    db_reset take it too;
 *  - the loop READS the tree without it (no read path changes anything:
 *    lookups do not move child-table slots, nothing is cached lazily);
 *  - a walker thread holds it (db_walk_lock) while it runs one batch of
 *    reads and lets go between batches; a batch is short, but the thread
 *    can be preempted in one for as long as the scheduler likes (tens of
 *    milliseconds on a loaded machine), so client writes take the lock with
 *    db_write_trylock and wait for the next loop turn when a walker holds
 *    it (server_batch_lock), and the loop goes on answering reads;
 *  - replacing the tree (db_reset, a snapshot load, truncation) needs every
 *    walk abandoned first (snapshot_cancel): a walk keeps using db->tree.
 *
 * The session table and the watch tables are the loop's alone: walkers do
 * not read them (dbwalk_new copies the sessions on the loop).
 *
 * db_write_lock nests on the loop thread (a counter); it must not be held
 * while the loop waits for a walker thread (snapshot_cancel joins one).
 */
void db_write_lock(struct db *db);
void db_write_unlock(struct db *db);
/* db_write_lock if the lock is free or already the loop's: 1, else 0 (a
 * walker holds it; nothing taken).  A refusal makes walkers wait before
 * their next batch until the loop got the lock or gave up waiting
 * (db_write_wait_over): without that, a walker that takes the lock again
 * right after each batch kept the loop's writes out for a whole snapshot,
 * the loop spinning on them. */
int db_write_trylock(struct db *db);
/* The loop: no write of this turn waits for the lock any more. */
void db_write_wait_over(struct db *db);
/* For a walker thread: the plain mutex, around one batch. */
void db_walk_lock(struct db *db);
void db_walk_unlock(struct db *db);

/*
 * Initializes an empty state machine: no tree yet (see db_reset), an empty
 * session table whose ids carry `server_id`, empty watch tables.  `db` is
 * caller-allocated; db_free releases what this allocates.
 */
void db_init(struct db *db, int tick_ms, int server_id);
void db_free(struct db *db);

/* Empties the tree (to a root with nothing under it: an image will fill it)
 * and the session table.  Watches stay. */
void db_reset(struct db *db);

/*
 * The body of a snapshot file (and of a SNAP sync, quorum_int.h), exactly as Apache's
 * SerializeUtils.serializeSnapshot writes it: int session count, then per
 * session (long id, int timeout), then the tree (tree_serialize_apache).
 * db_snapshot_body emits it through `put` in chunks and returns 0 or the
 * first non-zero `put` result.  db_load_snapshot_body reads one from the
 * start of `p` into a db just reset (db_reset): sessions come back with
 * fresh timers from `now_ms`, as Apache's do on restart, and keep their
 * ephemerals.  OUT: *used, the body's length; db->loaded_digest(_ok).
 * Returns 0 or -1.
 */
/* The body's first part, the session table (dbwalk.c writes the rest). */
void db_put_sessions(const struct db *db, struct jute_out *out);
int db_snapshot_body(struct db *db, int (*put)(const void *p, size_t len, void *d), void *d);
int db_load_snapshot_body(struct db *db, const void *p, size_t len, size_t *used,
                          int64_t now_ms);

#endif
