/*
 * quorum_int.h - private to the Zab modules: quorum.c (the roles, zkd's own
 * member wire, the leader's and the learner's state machines),
 * apache_leader.c and apache_learner.c (the two sides of Apache's wire).
 * Not for any other module.
 *
 * The leader's state machine is one for both wires: a learner introduces
 * itself (quorum_learner_info), acknowledges the new epoch
 * (quorum_learner_ackepoch, which syncs it), and acknowledges what it has
 * logged (quorum_learner_acked, which advances the commit).  Only the
 * encoding of what goes to a learner differs, and q->apache chooses it.
 */
#ifndef ZKD_QUORUM_INT_H
#define ZKD_QUORUM_INT_H

#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "hset.h"
#include "quorum.h"
#include "server.h"

enum qmsg {
    QM_FINFO = 1,
    QM_LINFO,
    QM_ACKEPOCH,
    QM_TRUNC,
    QM_SNAPBEGIN,
    QM_SNAPREC,
    QM_SNAPEND,
    QM_PROPOSAL,
    QM_NEWLEADER,
    QM_ACK,
    QM_UPTODATE,
    QM_COMMIT,
    QM_REQUEST,
    QM_REPLY,
    QM_CONNECT,
    QM_PING,
    QM_PINGACK,
    QM_UPGRADE,
};

enum role { R_LOOKING, R_LEADING, R_FOLLOWING, R_OBSERVING };
/* A_REJOIN: leave the role and go straight to action_leader (lead if it is
 * us), without an election: Apache's QuorumPeer.updateServerState with its
 * reconfigFlag set, after a reconfig named a designated leader. */
enum action { A_NONE, A_LOOK, A_LEAD, A_FOLLOW, A_REJOIN };

/* The leader's record of one learner: how far its sync has come. */
/* L_STREAMING: its SNAP is being streamed (quorum_snap_start); proposals and
 * commits are not sent to it until the stream ends. */
enum learner_state { L_NEW, L_INFO, L_EPOCH, L_STREAMING, L_SYNCED, L_ACTIVE };

/* This member's own progress as a learner, in order: connecting to the
 * leader, FINFO sent, ACKEPOCH sent, NEWLEADER received (history synced:
 * it logs and acknowledges), UPTODATE received (it serves clients). */
enum follow_phase { F_CONNECTING, F_INFO_SENT, F_EPOCH_ACKED, F_NEWLEADER, F_SERVING };
struct learner {
    struct quorum *q;
    struct peer_link *l;     /* NULL once the link is gone (dead) */
    struct learner *next;
    int sid, observer;
    enum learner_state st;
    int64_t accepted_epoch, current_epoch, last_zxid;
    int64_t sync_zxid;       /* end of the history sent before NEWLEADER */
    int64_t acked;
    int64_t zab_committed;   /* Apache's wire: it knows everything up to here is committed */
    struct walkstream *ws;   /* its SNAP being streamed (L_STREAMING), or NULL */
    struct txnwin *held;     /* meanwhile: the proposals after its Z, held for it */
    struct conn *proxy;      /* runs this learner's forwarded requests */
    struct session foreign;  /* the proxy's stand-in for a local session of the
                              * learner (localsess_for_forwarded) */
};

/* A learner's queue of proposals awaiting commit and replies awaiting
 * their turn, in the order the leader sent them. */
struct pending {
    struct pending *next;
    int is_reply;
    int64_t zxid;            /* proposal */
    uint64_t uid;            /* reply: connection */
    int flags;
    size_t len;
    uint8_t data[];
};

struct quorum {
    struct server *s;
    int myid, voter, nvoters;
    struct election *el;
    enum role role;
    int serving;
    int64_t looking_since;      /* now_ms() when the role last became R_LOOKING */
    int64_t accepted_epoch, current_epoch;
    int64_t epoch;           /* of the leader we lead or follow */
    int leader_id;
    int64_t log_durable;     /* highest zxid our log has made durable */
    int64_t logged;          /* highest zxid appended to our log */
    uv_timer_t tick;
    uv_timer_t transition;
    uv_timer_t bump;
    enum action action;
    int action_leader;
    char look_reason[160];
    int64_t deadline;        /* of the current phase (monotonic ms) */
    int stopping;

    /* leader */
    uv_tcp_t *listener;      /* our quorum address (moved by a reconfig) */
    int listening;
    struct learner *learners;
    int epoch_decided, established;
    int64_t commit;
    uint64_t cur_uid;        /* connection of the forwarded request running now */
    /* Moving to the next epoch before the zxid counter runs out: a NEWEPOCH
     * transaction is proposed `margin` zxids before the limit; once a quorum
     * has logged it (each member promising the epoch as it does), the
     * leader switches at the limit without an election. */
    uint32_t counter_limit, counter_margin;
    int bump_state;          /* 0 none, 1 to propose, 2 proposed, 3 committed */
    /* A reconfig the leader has proposed but not committed: until then both
     * configurations must have a quorum for anything to commit. */
    int64_t reconfig_zxid;
    struct zkd_server_line old_servers[ZKD_MAX_SERVERS];
    int nold;
    int64_t bump_zxid, bump_epoch;
    struct learner *cur_learner;
    /* Apache's wire: a committed reconfig made server `designated` (not us)
     * the leader.  Nothing commits any more (Apache's allowedToCommit=false)
     * and we leave to follow it once our learners have left us. -1: none. */
    int designated;

    /* learner */
    struct peer_link *leader;
    enum follow_phase phase; /* how far this learner's sync with its leader has come */
    int64_t newleader_zxid;
    int need_snap;
    int dial_tries;          /* connects to this leader's quorum port that failed */
    int64_t dial_at;         /* when to connect again (monotonic ms), or 0 */
    struct pending *qhead, *qtail;
    /* Apache's wire: the designated leader a COMMITANDACTIVATE (or
     * INFORMANDACTIVATE) named for the reconfig `activate_zxid`, acted on
     * when that reconfig is applied (quorum_reconfigured). */
    int64_t activate_zxid;
    int activate_leader;
    struct i64map fwd;       /* connection uid (Apache's wire: session id) -> conn
                              * with forwarded requests */
    struct i64map fwd_orphans; /* Apache's wire: session id -> how many leader
                                * answers still belong to a connection of that
                                * session that no longer waits (apache_learner.c) */
    int64_t last_report_ms;

    /* Apache's wire (memberProtocol=apache) */
    int apache;
    int64_t snap_in_zxid;    /* a SNAP stream is expected, for this zxid */
    /* zkd's wire: the SNAP stream arriving in SNAPREC chunks, for the zxid
     * of its SNAPBEGIN (-1: none is arriving) */
    struct jute_out snap_buf;
    int64_t snap_buf_zxid;
    struct zab_ack { int64_t after, zxid; } *acks; /* ACKs owed once `after` is durable */
    size_t nacks, cap_acks;
    struct zab_sync *syncs, *syncs_tail; /* forwarded syncs, answered by SYNC in order */
    struct aleader_sync *asyncs;         /* leader: learners' syncs awaiting their commit */
    struct jute_out areply;              /* leader: the reply to the forwarded request running */
};


struct peer_link;
struct conn;
struct jute_in;
struct walkstream;
struct txnwin;

static inline int learner_live(const struct learner *ln) { return ln->l != NULL; }
/* Voter-ness always comes from the current configuration (reconfig may
 * change it; a member that is in no configuration follows as a non-voter). */
static inline int is_voter(const struct quorum *q, int sid) { return config_is_voter(&q->s->cfg, sid); }
static inline int ln_voter(const struct learner *ln) { return is_voter(ln->q, ln->sid); }

void quorum_schedule_look(struct quorum *q, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Leaves the current role for `leader` (leads if it is us) without an
 * election, saying why (A_REJOIN). */
void quorum_rejoin(struct quorum *q, int leader, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Apache's Leader.getDesignatedLeader for the reconfig `zxid` the leader is
 * committing: us if the new membership keeps us a voter at the same quorum
 * address, else the voter of it that acknowledged the most (the lowest sid
 * of those). */
int quorum_designated_leader(const struct quorum *q, int64_t zxid);
/* Learner: the leader's COMMITANDACTIVATE / INFORMANDACTIVATE of reconfig
 * `zxid` named `leader` (Apache's suggested leader). */
void quorum_learner_activate(struct quorum *q, int64_t zxid, int64_t leader);
/* Closes a learner's link (it is swept later). */
void quorum_learner_drop(struct learner *ln, const char *why);
/* The learner said who it is: `sid`, observer or not, its accepted epoch in
 * ln->accepted_epoch.  Drops it or answers with the epoch when decided. */
void quorum_learner_info(struct quorum *q, struct learner *ln, int sid, int observer);
/* The learner accepted the epoch; its history ends at `last` (current epoch
 * `cur`, -1 unknown).  Refuses to lead if it is ahead, else syncs it. */
void quorum_learner_ackepoch(struct quorum *q, struct learner *ln, int64_t cur, int64_t last);
/* The learner has everything up to `z` durable. */
void quorum_learner_acked(struct quorum *q, struct learner *ln, int64_t z);
/* How to sync a learner whose history ends at `peer` (txnwin.h's plan). */
int quorum_sync_plan(struct quorum *q, int64_t peer, size_t *from, int64_t *trunc);
/*
 * A SNAP sync, on either wire.  The stream is Apache's LearnerHandler's:
 * the snapshot file's body (sessions, ACL cache, nodes) and then the
 * ZAB_SNAP_SIGNATURE string, and it is FUZZY as Apache's: Z is last_zxid
 * when it starts, a walk on a thread (walkstream.h) produces it while the
 * loop goes on applying writes, and the loop hands it to the learner's link
 * as the socket takes it.  Meanwhile the learner is L_STREAMING: what is
 * proposed after Z is held for it (ln->held, a txnwin of its own: bounded
 * by bytes, SNAP_HELD_BYTES, not by the leader's snapCount window).  When
 * the body is out, the wire's end (zkd: SNAPEND; Apache: the signature) and
 * the held proposals follow (Apache's wire: with their COMMITs up to the
 * commit point), then NEWLEADER.  If the held proposals outgrew their bound
 * or the walk fails, the learner is dropped (it syncs again).  Loop
 * thread, outside any write.
 */
void quorum_snap_start(struct quorum *q, struct learner *ln);

/*
 * The learner's state machine, for either wire (apache_learner.c drives it
 * on Apache's).  Loop thread.
 */
/* Leaves the leader (the role ends from the transition timer) saying why. */
void quorum_learner_fail(struct quorum *q, const char *why);
/* Everything up to `c` is committed: applies the queued proposals once the
 * history is synced (phase F_NEWLEADER on). */
void quorum_learner_commit(struct quorum *q, int64_t c);
/* Logs the leader's proposal `rec` of `zxid` (ignored if already logged)
 * and queues it for its commit; a malformed one fails the learner. */
void quorum_log_proposal(struct quorum *q, int64_t zxid, const uint8_t *rec, size_t len);
/* TRUNC: drops our history after `z` (or fails, asking for a snapshot next
 * time, if a snapshot of ours is newer). */
void quorum_truncate(struct quorum *q, int64_t z);
/*
 * Replaces our state by a SNAP stream at `z` (quorum_snap_start's bytes,
 * `len` of them at `p`, from either wire) and stores it as a snapshot, or
 * fails the learner.  `fuzzy`: the leader may have serialized transactions
 * above `z` into it, as Apache's LearnerHandler does (it writes the tree
 * after releasing the log lock, while commits go on), so the TxnDigests of
 * the first transactions replayed onto it describe a tree we are already
 * past (server.h digest_fuzzy).  zkd's leader streams a fuzzy one too
 * (quorum_snap_start), so a learner always loads with fuzzy=1 now.
 */
void quorum_load_snap_stream(struct quorum *q, const uint8_t *p, size_t len, int64_t z, int fuzzy);
/* Runs c's held requests until one must wait for a forwarded write. */
void quorum_drain_held(struct quorum *q, struct conn *c);
/* The audit lines of forwarded writes: keeps the client frame `p` being
 * forwarded; writes its lines when the reply frame `f` comes back. */
void quorum_audit_keep(struct conn *c, const uint8_t *p, size_t len);
void quorum_audit_replied(struct conn *c, const uint8_t *f, size_t len);
/* The epochs this member promised and acknowledged, kept on disk. */
void quorum_set_accepted_epoch(struct quorum *q, int64_t e);
void quorum_set_current_epoch(struct quorum *q, int64_t e);

#endif
