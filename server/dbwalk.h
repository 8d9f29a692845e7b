/*
 * dbwalk.h - a fuzzy snapshot body of the db, produced a slice at a time.
 *
 * The body is db_snapshot_body's (db.h: sessions, the ACL cache, the nodes
 * depth-first, the terminator "/"), byte for byte the format Apache reads,
 * but it is not taken at one instant: the tree may change between steps
 * (creates, deletes, child tables growing or shrinking, the same path
 * deleted and created again).  This is Apache's fuzzy snapshot: sessions and
 * ACLs are as of dbwalk_new, at zxid Z (db->last_zxid then); each node as of
 * the step that writes it; a node deleted before its turn is skipped (with
 * its subtree); one created meanwhile under a node still to be visited may
 * or may not be in the image.  Replaying the log from Z+1 onto the image
 * (apply.c's fuzzy rules) gives the exact tree of the end of the log.
 *
 * Threads (the contract of db.h's tree write lock).  dbwalk_new runs on the
 * loop thread, outside any write: it copies the sessions, the ACL section
 * and the root's child names there, so the walk never reads the session
 * table or the ACL cache again.  dbwalk_step may run on any one other
 * thread, with db_walk_lock held around each call and released between
 * calls (the loop then applies writes between steps); or on the loop
 * itself, between writes.  dbwalk_free and dbwalk_nodes: on whichever
 * thread owns the walk, once no step runs.
 *
 * How the walk survives changes: each visited node's child names are copied
 * when it is visited (Apache copies its child list the same way), and the
 * stack holds names, not pointers; every step looks the nodes of its stack
 * up again from the root, so nothing freed between steps is ever touched.
 *
 * One limit: an ACL list interned after dbwalk_new (a node created or
 * changed meanwhile with a list no node had) is not in the image's ACL
 * section, and the format allows no second one: dbwalk_step then fails with
 * -EAGAIN and the caller starts over (or writes an exact image at once).
 */
#ifndef ZKD_DBWALK_H
#define ZKD_DBWALK_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "zk/jute.h"

struct dbwalk;

/* Nodes per dbwalk_step for a walker thread: the tree write lock is held
 * for one step, so this bounds how long a write on the loop may wait for
 * a walk (server.c's background snapshot, walkstream.c's SNAP stream). */
#define DBWALK_STEP_NODES 128

/* Starts a walk of db at its last_zxid (loop thread; its tree must stay the
 * same object until dbwalk_free: a caller replacing db->tree abandons the
 * walk first). */
struct dbwalk *dbwalk_new(struct db *db);

/* Appends the next part of the body to `out`: at most about `max_nodes`
 * nodes (the first step also writes the sessions and the ACL section).
 * Off the loop thread, only with db_walk_lock held.
 * Returns 1 when the body is complete (the terminator written), 0 when
 * there is more, or -EAGAIN (see above). */
int dbwalk_step(struct dbwalk *w, struct jute_out *out, size_t max_nodes);

/* Nodes written so far. */
uint64_t dbwalk_nodes(const struct dbwalk *w);

/* Frees the walk; touches neither the db nor its tree. */
void dbwalk_free(struct dbwalk *w);

#endif
