/*
 * localsess.h - local sessions (zoo.cfg localSessionsEnabled,
 * localSessionsUpgradingEnabled), as Apache ZooKeeper 3.5+ has them
 * (UpgradeableSessionTracker, LeaderSessionTracker, LearnerSessionTracker,
 * QuorumZooKeeperServer.checkUpgradeSession).
 *
 * With localSessionsEnabled every new session of an ensemble member is
 * local: the member that accepted it alone knows it.  Creating or closing
 * it logs no transaction and takes no zxid; it is in no snapshot and in no
 * other member's table, so it is gone when its member restarts or changes
 * role, and a client that takes it to another member finds it expired.
 * Its reads are served by its member; its writes go to the leader like
 * any other (the leader accepts a session id it does not know when the id
 * was handed out by another member, LeaderSessionTracker.checkSession).
 *
 * An ephemeral node needs a global session.  A create or create2 of an
 * ephemeral, or a multi holding one, from a local session:
 *   - localSessionsUpgradingEnabled=false: fails EPHEMERALONLOCALSESSION
 *     (-120); prep.c refuses an ephemeral of a session not in the db, and
 *     the failure is logged at a zxid like any failed write;
 *   - true: the session is upgraded first: a createSession txn for its id
 *     (proposed by the leader, or sent to it by a learner: QM_UPGRADE to a
 *     zkd leader, a createSession REQUEST to an Apache one, as Apache's
 *     learner does), after which it is an ordinary global session.
 * Apache's default for localSessionsUpgradingEnabled is false
 * (QuorumPeerConfig).  A standalone server has no local sessions (Apache's
 * ZooKeeperServer uses SessionTrackerImpl there): the keys change nothing.
 *
 * The local sessions live in the server's own table (server.h
 * local_sessions), with the same expiry queue as the global ones; every
 * member expires its own local sessions, without a txn.  An upgrade moves
 * the struct into the db's table, so connections keep their pointer: on
 * the leader at once (it logs the createSession itself); on a learner only
 * when the createSession it sent commits (localsess_committed), as
 * Apache's LearnerSessionTracker makes a session global in commitSession.
 * Until then the session is "upgrading" (struct session local == 3): still
 * in the local table, no longer refused an ephemeral, reported to the
 * leader in pings; if the leader dies before committing it, the learner's
 * change of role drops it with the local ones (Apache restarts its
 * ZooKeeperServer then), so no member keeps a global session the others
 * never committed.
 *
 * All functions run on the loop thread.
 */
#ifndef ZKD_LOCALSESS_H
#define ZKD_LOCALSESS_H

#include <stddef.h>
#include <stdint.h>

struct server;
struct session;

/* 1 when this server hands out local sessions (enabled, and an ensemble). */
int localsess_enabled(const struct server *s);
/* A new local session of `timeout` ms, in the local table. */
struct session *localsess_create(struct server *s, int32_t timeout);
/* The session `id` known here: global (db) or one of our local ones. */
struct session *localsess_find(struct server *s, int64_t id);
/* Moves `se`'s deadline to now + timeout in whichever table holds it
 * (a stand-in, local == 2, is in none). */
void localsess_touch(struct server *s, struct session *se, int64_t now);
/* Ends a local session (close or expiry): no txn; its connection, if any,
 * loses its session pointer.  se is freed. */
void localsess_close(struct server *s, struct session *se);
/* Expires the local sessions whose deadline passed (every member, each tick). */
void localsess_expire(struct server *s, int64_t now);
/* Forgets every local session (a member changing role, as Apache's server
 * restarts its session tracker then). */
void localsess_drop_all(struct server *s);
uint32_t localsess_count(const struct server *s);

/* 1 when the client frame `p` (xid, type, body) creates an ephemeral node:
 * a create/create2 with an ephemeral mode, or a multi holding one
 * (QuorumZooKeeperServer.checkUpgradeSession's test). */
int localsess_wants_global(const uint8_t *p, size_t len);
/* On the leader: makes the local session `se` global in the db's table
 * (its timeout kept); the caller logs the createSession.  Returns its
 * timeout. */
int32_t localsess_upgrade(struct server *s, struct session *se);
/* On a learner: marks the local session `se` upgrading (see above); the
 * caller forwards the createSession.  Returns its timeout. */
int32_t localsess_begin_upgrade(struct server *s, struct session *se);
/* A committed createSession of `id` is about to apply: if `id` is one of
 * our local or upgrading sessions, its struct moves into the db's table
 * (the apply then finds it there), so it is global from this zxid on and
 * no longer local (Apache's commitSession, also for a session upgraded
 * by another member after it moved). */
void localsess_committed(struct server *s, int64_t id);
/* 1 when `se` is in this server's local table: local, or upgrading (a
 * reconnect there needs no REVALIDATE from the leader). */
int localsess_in_local_table(const struct session *se);
/* 1 when the leader keeps `se` alive on our pings: a global session or an
 * upgrading one (Apache's LearnerSessionTracker.touchSession). */
int localsess_leader_tracks(const struct session *se);

/* On the leader, for a request forwarded for session `id`: the global
 * session, or (local sessions on, and `id` handed out by another member)
 * `stub` filled in as a stand-in for that member's local session, or NULL
 * (expired).  The stand-in is in no table and is never touched. */
struct session *localsess_for_forwarded(struct server *s, int64_t id, struct session *stub);

#endif
