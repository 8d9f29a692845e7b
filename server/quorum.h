/*
 * quorum.h - zkd as a member of a replicated ensemble (Zab).
 *
 * Roles: a member is LOOKING (election.c picks a leader), then LEADING,
 * FOLLOWING (a voter) or OBSERVING (a non-voter); it serves clients only
 * once synchronized with an established leader.
 *
 * Leader (one per epoch): a new epoch is agreed with a quorum of voters
 * (each promises it, `acceptedEpoch`), every learner is brought in line with
 * the leader's history (DIFF of the missing transactions from the recent
 * history window, TRUNC of transactions the leader never had, or a whole
 * SNAP), and once a quorum has logged that history (`currentEpoch`), the
 * leader serves.  Writes are prepared and applied on the leader's tree at
 * once (server.c), logged, and proposed to every learner; a write commits
 * when a quorum of voters (the leader included) has fsync'd it.  The commit
 * zxid is the durability gate of server.h: no reply or event that depends on
 * a transaction leaves any member before that transaction has committed.
 *
 * Learners log each proposal, acknowledge it once fsync'd (observers do
 * not), and apply it when the commit arrives, so their tree only ever holds
 * committed state (except briefly after a snapshot sync, which the gate
 * covers).  Writes, sync and session creation from their clients are
 * forwarded to the leader, which runs them exactly as its own clients' and
 * sends the reply frame back in stream order; the learner releases it when
 * everything before it has been applied, and holds a session's later reads
 * until then (FIFO order and read-your-writes).
 *
 * Sessions are global: created and closed by transactions, touched by
 * whichever member the client talks to (learners report activity on every
 * ping), and expired by the leader alone.
 *
 * Safety rests on Zab, not on election: the leader refuses to lead when a
 * follower of its quorum has a more advanced history; a member that loses
 * its leader or its quorum stops serving and looks again.
 */
#ifndef ZKD_QUORUM_H
#define ZKD_QUORUM_H

#include <stddef.h>
#include <stdint.h>

struct server;
struct conn;
struct quorum;

/* Starts ensemble membership (election first).  The server must have
 * recovered its state and opened its log.  Returns 0 or -1 (logged). */
int quorum_start(struct server *s);
/* Leaves the ensemble: closes links and timers (loop thread). */
void quorum_stop(struct server *s);

/* Whether clients may be served now. */
int quorum_serving(const struct quorum *q);
/* The round of this member's current (or last) leader election. */
int64_t quorum_election_round(const struct quorum *q);
/* Whether read-only sessions may be served now (readonlymode.enabled): this
 * member has been looking for a leader for max(2 s, tickTime). */
int quorum_readonly_ready(const struct quorum *q);
/* Leader of an established epoch (runs expiry and the container reaper). */
int quorum_is_leader(const struct quorum *q);
/* A synchronized follower or observer (forwards writes). */
int quorum_is_learner(const struct quorum *q);

/* The zxid for the leader's next transaction after `last`.  Asking again
 * before that transaction is committed gives the same answer. */
int64_t quorum_next_zxid(struct quorum *q, int64_t last);
/* Leader: a transaction was applied and logged; propose it. */
void quorum_proposed(struct quorum *q, int64_t zxid, const void *rec, size_t len);
/* The local log made everything up to `zxid` durable. */
void quorum_log_durable(struct quorum *q, int64_t zxid);

/*
 * Learner: routes one client request frame (xid, type, body): forwards
 * writes, sync and closeSession to the leader, or holds the request behind
 * the session's forwarded writes.  Returns 1 if it took the request, 0 if
 * the caller should answer it locally now.
 */
int quorum_route(struct server *s, struct conn *c, const uint8_t *p, size_t len, int32_t type);
/* Learner: asks the leader to create session `id` for connection `c`
 * (ConnectRequest with no session). */
void quorum_forward_connect(struct server *s, struct conn *c, int64_t id, int32_t timeout);
/* Learner over Apache's member protocol: asks the leader whether session
 * `id` lives (REVALIDATE) for connection `c` reconnecting to it; returns 0
 * when asked (server_reconnect answers the client later), -1 when this
 * member decides itself (not an Apache-wire learner). */
int quorum_revalidate(struct server *s, struct conn *c, int64_t id, int32_t timeout);
/* A client connection is going away. */
void quorum_conn_closed(struct server *s, struct conn *c);
/* Runs the requests a learner held for `c` that may run now: called when a
 * listing (listing.h), which they waited behind, has been answered. */
void quorum_conn_resume(struct server *s, struct conn *c);

/* ---- dynamic reconfiguration (reconfig.c) ---- */

struct zkd_server_line;
/* Leader: a reconfig was proposed and not yet committed. */
int quorum_reconfig_pending(const struct quorum *q);
/* Leader: whether a quorum of the voters of configuration `v` is in sync
 * with us now (else the new configuration could not commit anything). */
int quorum_new_config_ok(const struct quorum *q, const struct zkd_server_line *v, int n);
/* The server configuration changed at `zxid` (s->cfg.servers now holds the
 * new one, `old` the previous).  On the leader this happens when the
 * reconfig is proposed; commits then need both quorums until it commits. */
void quorum_reconfigured(struct quorum *q, const struct zkd_server_line *old, int nold, int64_t zxid);

/* For srvr/stat/mntr. */
struct quorum_info {
    const char *role;          /* "leader", "follower", "observer", "looking" */
    int leader_id;
    int64_t epoch;
    int64_t commit;
    int learners, synced_followers, synced_observers;
    int64_t max_lag;           /* leader: largest (last zxid - acked) among synced followers */
};
void quorum_describe(const struct quorum *q, struct quorum_info *info);
/* Writes one line per learner ("server N follower acked 0x.. lag K") for mntr. */
void quorum_learner_lines(const struct quorum *q, void (*line)(const char *text, void *d), void *d);

#endif
