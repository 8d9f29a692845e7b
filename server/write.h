/*
 * write.h - the write pipeline: the one path by which a transaction enters
 * the state, the log and the ensemble.
 *
 * Every writer uses it: plain ops and multi (request.c, also when the leader
 * runs a learner's forwarded request), session creation and closing
 * (request.c, server.c's expiry, quorum.c for a learner's new session),
 * reconfig (reconfig.c), the container and TTL reaper and the epoch bump
 * (quorum.c).
 *
 *   write_begin     picks the zxid (server_next_zxid) and starts the txn
 *   (ops)           prep_apply_op / apply_op put the ops into the state through the
 *                   journal at that zxid; or write_apply_txn applies a txn
 *                   built whole (session txns, reaper deletes, NEWEPOCH)
 *   write_commit    advances last_zxid, appends the record to the log and the
 *                   history window, proposes it to the learners, fires its
 *                   watch events, activates a reconfig and counts it toward
 *                   the next snapshot
 *   write_commit_failed  undoes the journal and logs the failure at the zxid
 *                   (a failed op, a failed multi), as Apache does
 *   write_abort     undoes the journal; no zxid is taken
 *
 * The other way in, write_apply_committed, takes a record that was logged
 * elsewhere (replay at start-up, a learner applying what its leader
 * committed) and applies it the same way, so every member builds the same
 * state from the same records.
 *
 * Invariant: last_zxid only grows, one transaction at a time; it is asserted
 * where it advances.  Nothing reaches a client before its zxid is durable or
 * committed: frames are tagged with the zxid (server.h, the gate).
 */
#ifndef ZKD_WRITE_H
#define ZKD_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "apply.h"
#include "txn.h"

struct server;

struct write {
    struct txn txn;          /* owned until write_commit / write_abort */
    struct journal journal;
    int64_t zxid;            /* the zxid the transaction gets */
};

/* Starts a write of a transaction of `type` for `session`/`cxid` at the next
 * zxid, timestamped now.  `w` is caller-allocated. */
void write_begin(struct server *s, struct write *w, int32_t type, int64_t session, int32_t cxid);

/* Applies w->txn as a whole (no prep: its ops are already resolved).
 * Returns 0 or the ZK error; after an error only write_abort is allowed. */
int write_apply_txn(struct server *s, struct write *w);

/* Makes the applied write final (see above) and frees `w`'s contents.  A
 * write whose txn holds no op and is not a session or epoch txn changes
 * nothing: call write_abort instead.  Returns the zxid. */
int64_t write_commit(struct server *s, struct write *w);

/* A whole session transaction through the pipeline: createSession of
 * `session` with `timeout`, or closeSession of `session` (its ephemerals
 * deleted, the session freed).  Neither can fail.  Returns the zxid. */
int64_t write_session(struct server *s, int32_t type, int64_t session, int32_t cxid,
                      int32_t timeout);

/* Undoes what the write applied and frees `w`'s contents (a write that takes
 * no zxid). */
void write_abort(struct server *s, struct write *w);

/*
 * A write that failed with `err`, committed as Apache commits one: undoes
 * what it applied, then logs it at its zxid as txn_fail describes (`failed`,
 * `nops_total`: the multi's failed op and op count; -1, 0 otherwise), so the
 * zxids that follow are Apache's.  Apache's PrepRequestProcessor gives every
 * write request a zxid before it validates it, and its failure becomes an
 * ErrorTxn (or a multi of them) that is logged, proposed and applied as a
 * no-op.  Frees `w`'s contents.  Returns the zxid, which the error reply
 * carries and waits for.
 */
int64_t write_commit_failed(struct server *s, struct write *w, int32_t err, int failed,
                            int nops_total);

/* write_commit_failed for a request of `type` that failed before it applied
 * anything (a forwarded request of a session the leader no longer has):
 * an ErrorTxn(err) at a new zxid.  Apache learners answer their client's
 * forwarded request only when its record commits (apache_leader.c).
 * Returns the zxid. */
int64_t write_error(struct server *s, int32_t type, int64_t session, int32_t cxid, int32_t err);

/*
 * Applies a committed record `rec` (txn_encode's bytes) at `zxid`, which
 * must be above last_zxid: decodes, applies, fires its watch events,
 * activates a reconfig and advances last_zxid.  A record that decodes but
 * does not fit the tree as a whole is applied op by op, keeping what fits,
 * as Apache's DataTree.processTxn does on a fuzzy snapshot; one of which
 * nothing fits is logged and skipped (last_zxid still advances);
 * returns -1 for one that does not decode, else 0.
 */
int write_apply_committed(struct server *s, int64_t zxid, const void *rec, size_t len);

#endif
