/*
 * apache_learner.h - zkd as a follower or observer over Apache ZooKeeper's
 * member protocol (Learner/Follower/Observer, 3.5-3.9), used for the link
 * to the leader when memberProtocol=apache, whoever leads (an Apache member
 * or a zkd one; the leader's end is apache_leader.h).
 *
 * The learner's state machine stays quorum.c's (quorum_int.h): the phases
 * of its sync (enum follow_phase), logging a proposal and applying what is
 * committed, truncation and snapshot loading, and the forwarded requests'
 * bookkeeping.  This module speaks the wire and keeps what the wire needs
 * beyond it (per-proposal ACKs owed, the SNAP stream, forwarded syncs):
 *
 *   learner -> leader                     leader -> learner
 *   FOLLOWERINFO/OBSERVERINFO             LEADERINFO (new epoch << 32)
 *     (acceptedEpoch << 32, LearnerInfo)
 *   ACKEPOCH (last logged zxid, current   DIFF, TRUNC or SNAP (+ the database
 *     epoch or -1 if already accepted)      stream and "BenWasHere"), then
 *                                           PROPOSAL/COMMIT (INFORM)
 *   ACK of NEWLEADER once durable         NEWLEADER (epoch << 32)
 *   ACK epoch << 32                       UPTODATE: serve clients
 *   ACK per proposal once durable         PROPOSAL, COMMIT (observer: INFORM)
 *   PING with {long session, int          PING
 *     timeout}* active since the last
 *   REQUEST (long session, int cxid,      (answered here when its commit
 *     int type, body; authinfo)             applies: zab_reply.h)
 *   REQUEST sync                          SYNC, in order of the syncs
 *
 * A packet out of its phase or malformed makes the member leave the leader
 * (quorum_learner_fail) and look again; it never crashes.  Not handled:
 * COMMITANDACTIVATE / INFORMANDACTIVATE (logged and ignored: reconfig under
 * an Apache leader does not activate on zkd) and REVALIDATE (never sent).
 * Loop thread only.
 */
#ifndef ZKD_APACHE_LEARNER_H
#define ZKD_APACHE_LEARNER_H

#include <stddef.h>
#include <stdint.h>

struct quorum;
struct conn;
struct peer_link;

/* The link to the leader was just created (peer_connect with the two
 * callbacks below): it now uses Apache's framing. */
void alearner_link_up(struct peer_link *l);
/* peer.h callbacks of the link to the leader: the connect sends
 * FOLLOWERINFO or OBSERVERINFO; messages drive the sync and broadcast. */
void alearner_on_connect(struct peer_link *l, int status);
void alearner_on_msg(struct peer_link *l, const uint8_t *p, size_t len);
/* Forgets what the wire kept for the previous leader: ACKs owed, a SNAP
 * stream expected, forwarded syncs (their clients' connections are closed
 * by the caller). */
void alearner_reset(struct quorum *q);
/* Sends a client's request to the leader as REQUEST with c's auth ids.
 * `p` is the client frame (int xid, int type, body), or for createSession
 * just its body (int timeout).  c counts it in fwd_pending. */
void alearner_forward(struct quorum *q, struct conn *c, int32_t type, const void *p,
                      size_t len);
/* The committed record `rec` of `zxid` was applied: answers the forwarded
 * request of ours it commits, if any. */
void alearner_reply_forwarded(struct quorum *q, int64_t zxid, const uint8_t *rec, size_t len);
/* A client reconnects to session `id` (its password checked): asks the
 * leader whether the session lives, as Apache's Learner.validateSession
 * does (which also makes this learner the session's owner on an Apache
 * leader: without it the session's writes through us fail SESSIONMOVED).
 * The answer finishes the handshake (server_reconnect).  c counts it in
 * fwd_pending. */
void alearner_revalidate(struct quorum *q, struct conn *c, int64_t id, int32_t timeout);
/* `c` closes: the leader's answers to what it forwarded go to no one
 * (nor to a later connection of the same session). */
void alearner_conn_closed(struct quorum *q, struct conn *c);
/* Sends the ACKs owed for proposals the log has made durable. */
void alearner_send_acks(struct quorum *q);

#endif
