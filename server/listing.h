/*
 * listing.h - getChildren of a wide parent, answered in slices across loop
 * turns (issue 20: a million children under one parent).
 *
 * Encoding a million names (10.9 MB) took 150-320 ms of loop CPU in one
 * piece, during which no other client was served.  A getChildren or
 * getChildren2 of a parent with more than `getChildrenSlice` children
 * (config.h, default 16,384; 0 = always at once) is instead encoded that
 * many names per loop turn into a buffer of its own; between two slices
 * the loop polls and serves every other connection.  The connection that
 * asked waits: it takes no later frame until the reply is queued
 * (conn_wait_turn, conn_continue), so its replies stay in request order,
 * and a learner's held requests wait too (quorum_drain_held).
 *
 * Consistency.  The reply shows one state of the parent: the state at the
 * turn its last slice runs, which is where the read takes effect (as if
 * it had run whole then).  The walk (tree_kid_walk, tree.h) goes stale
 * when a child of the parent is added or removed, or the parent is freed,
 * in any turn between two slices; a stale listing starts over from a fresh
 * lookup of the path (the node may be gone: NONODE, or replaced: the new
 * node's children).  While the walk is not stale the child table is exactly
 * as it was, so its slot cursor stays valid and every child not yet
 * encoded is still allocated; names already encoded are copies.  After
 * LISTING_MAX_RESTARTS restarts the next attempt is encoded whole in one
 * turn, so a parent that changes all the time delays the reply by at most
 * that many partial attempts and costs at most one stall, as before.
 *
 * What "as of the last slice" means for the rest of the reply: the READ
 * check is made again then (setACL changes no child), the watch the request
 * asked for is armed then (so every change after the state it shows fires
 * it: armed at the start, a change during the slices would fire it before
 * the client has the reply and leave nothing armed for the state the reply
 * shows), and the Stat of getChildren2 and the reply's header/durability
 * tag are taken then (server_read_answer, the same code as a read answered
 * at once).  Watch events for this connection that fire during the slices
 * are queued at once, ahead of the reply: each is for a change the reply
 * shows (any child change restarted it; a data change of the parent is in
 * its Stat), so ZooKeeper's order -- the event before any reply that shows
 * the change -- holds.
 *
 * Size.  The names are copied into the connection's output in one piece at
 * the end (a memcpy); conn_frame_end's rules apply unchanged: a reply
 * larger than jute.maxbuffer is sent, as Apache sends it (its limit is on
 * what a server reads), and one no 32-bit length can frame becomes
 * MARSHALLINGERROR.
 *
 * Lifetime.  A listing belongs to its connection (struct conn.listing);
 * closing the connection (conn_close -> server_conn_closed ->
 * listing_cancel) frees it unanswered, whatever slice it is at.  A session
 * that expires meanwhile closes its connection the same way.  All calls
 * are on the loop thread.
 */
#ifndef ZKD_LISTING_H
#define ZKD_LISTING_H

#include <stdint.h>

#include "zk/jute.h"

struct server;
struct conn;
struct znode;

/* Restarts after which a listing is encoded whole in one turn. */
#define LISTING_MAX_RESTARTS 3

/* Whether a getChildren(2) of `n` by `c` is answered in slices: n has more
 * children than getChildrenSlice, and c is a client's connection (a
 * leader's proxy for forwarded requests answers at once). */
int listing_wanted(const struct server *s, const struct conn *c, const struct znode *n);

/*
 * Answers getChildren (`type` ZK_OP_GETCHILDREN or ZK_OP_GETCHILDREN2)
 * request `xid` of `c` for `path` (copied), which names `n` (READ already
 * checked), `watch` its watch flag.  Encodes the first slice now; the rest
 * follow one per turn from conn_continue (listing_continue), and `c` takes
 * no frame until the reply is queued.
 */
void listing_start(struct server *s, struct conn *c, int32_t xid, int32_t type,
                   struct zk_slice path, int watch, struct znode *n);

/* The next slice of c's listing (conn_continue); on the last, queues the
 * reply and runs c's held requests (learner).  Returns 1 while c has a
 * listing after it (this one, or one a held request started); may close c. */
int listing_continue(struct conn *c);

/* Frees c's listing, if any, unanswered (c is closing). */
void listing_cancel(struct conn *c);

#endif
