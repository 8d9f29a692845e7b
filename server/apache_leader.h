/*
 * apache_leader.h - zkd leading Apache ZooKeeper learners: the leader's end
 * of Apache's member protocol (Leader/LearnerHandler, 3.5-3.9), used for
 * every learner when memberProtocol=apache.
 *
 * The state machine is quorum.c's (quorum_int.h): epoch agreement with a
 * quorum, sync, commit by a quorum of voters' ACKs, session expiry by the
 * leader.  This module only speaks the wire (zab.h) and keeps what the wire
 * needs beyond it:
 *
 *   learner -> leader                     leader -> learner
 *   FOLLOWERINFO/OBSERVERINFO             LEADERINFO (new epoch << 32, 0x10000)
 *     (acceptedEpoch << 32, LearnerInfo)
 *   ACKEPOCH (last zxid, current epoch    DIFF (PROPOSAL+COMMIT pairs), TRUNC
 *     or -1)                                (then pairs) or SNAP + database +
 *                                           "BenWasHere"; NEWLEADER (epoch << 32,
 *                                           the membership text)
 *   ACK of NEWLEADER (epoch << 32)        UPTODATE once a quorum holds the history
 *   ACK per proposal once logged          PROPOSAL (txn + TxnDigest) to
 *                                           followers; per zxid, in order, COMMIT
 *                                           to followers or INFORM (with the txn)
 *                                           to observers; for a reconfig
 *                                           COMMITANDACTIVATE / INFORMANDACTIVATE
 *                                           (designated leader first)
 *   PING with {long session, int          PING (last proposed zxid) every tick
 *     timeout}* touched since the last
 *   REQUEST (long session, int cxid,      (its transaction's PROPOSAL/COMMIT;
 *     int type, body; authinfo)             createSession is logged even for a
 *                                           known session id, as Apache does; a
 *                                           request that fails is logged as
 *                                           Apache does: an ErrorTxn, or a
 *                                           MultiTxn of ErrorTxns, so the
 *                                           learner answers its client)
 *   REQUEST sync                          SYNC once everything before it committed
 *   REVALIDATE (long session, int to)     REVALIDATE (long session, bool valid)
 *
 * Invariants kept for Apache's learners (which exit on a violation):
 *   - a learner gets COMMIT (INFORM) for each zxid exactly once, in zxid
 *     order, only after it has that zxid's PROPOSAL (or state): per learner,
 *     `zab_committed` is how far it knows the commits;
 *   - an observer gets no PROPOSAL: its history ends at the commit point and
 *     INFORMs carry the rest;
 *   - nothing but DIFF, TRUNC or SNAP follows ACKEPOCH.
 * Forwarded requests run on the leader like its own clients' (a proxy
 * connection per learner); their replies are dropped, since Apache learners
 * answer from the committed transaction.
 */
#ifndef ZKD_APACHE_LEADER_H
#define ZKD_APACHE_LEADER_H

#include <stddef.h>
#include <stdint.h>

struct quorum;
struct learner;
struct peer_link;

/* A learner connected: its link now uses Apache's framing. */
void aleader_accepted(struct learner *ln);
/* The link's message callback (peer.h) for Apache learners. */
void aleader_on_msg(struct peer_link *l, const uint8_t *p, size_t len);
/* Sends the decided epoch (LEADERINFO). */
void aleader_leaderinfo(struct quorum *q, struct learner *ln);
/* Brings a learner whose history ends at `peer` in line (DIFF, TRUNC or
 * SNAP), then NEWLEADER; it is L_SYNCED from here.  A SNAP is streamed
 * (quorum_snap_start): the SNAP packet goes now, the rest from
 * aleader_snap_end. */
void aleader_sync(struct quorum *q, struct learner *ln, int64_t peer);
/* The SNAP stream (fuzzy at `z`) is out, signature too: the proposals
 * held for it since (`held`: those after z; sent without their digests, and
 * COMMITs up to the commit point), NEWLEADER. */
struct txnwin;
void aleader_snap_end(struct quorum *q, struct learner *ln, int64_t z, const struct txnwin *held);
/* The learner may serve (UPTODATE); then the commits up to the commit point
 * it has not had, which a learner gets only after UPTODATE (Apache 3.8.0's
 * learner dies on a COMMIT between NEWLEADER and UPTODATE). */
void aleader_uptodate(struct quorum *q, struct learner *ln);
/* A new transaction: PROPOSAL to the synced followers. */
void aleader_propose(struct quorum *q, int64_t zxid, const void *rec, size_t len);
/* Everything up to `c` is committed: COMMIT or INFORM per zxid to each
 * learner past UPTODATE, then the syncs it releases. */
void aleader_commit(struct quorum *q, int64_t c);
/* The leader's tick: PING every synced learner. */
void aleader_ping(struct quorum *q);
/* The leader role ends: forgets pending syncs. */
void aleader_reset(struct quorum *q);

#endif
