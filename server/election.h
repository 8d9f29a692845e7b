/*
 * election.h - leader election by votes (Apache's fast leader election).
 *
 * Every member listens on its electionPort and keeps one outgoing link to
 * every other member, over which it sends notifications: its state
 * (looking, following, leading, observing), its vote (candidate id, the
 * candidate's last zxid and epoch) and its election round.  Votes are
 * ordered by (epoch, zxid, id).  A looking voter adopts any better vote it
 * hears in its round and re-broadcasts; once a majority of voters hold its
 * vote and no better one arrives within a short grace period, the vote's
 * candidate is elected.  A member that finds a majority already following
 * one leader (which says it leads) joins it.  Observers never vote: they
 * follow the leader that a majority of voters report.
 *
 * Election only picks a candidate with the most advanced history it heard of;
 * safety does not rest on it: Zab's discovery (quorum.c) refuses to lead
 * when a follower turns out to be ahead.
 */
#ifndef ZKD_ELECTION_H
#define ZKD_ELECTION_H

#include <stdint.h>
#include <uv.h>

#include "config.h"

enum peer_state { PEER_LOOKING = 0, PEER_FOLLOWING = 1, PEER_LEADING = 2, PEER_OBSERVING = 3 };

struct vote {
    int leader;
    int64_t zxid;
    int64_t epoch;
};

struct election;

/* Called on the loop thread when a leader is chosen (`leader` may be myid). */
typedef void (*election_decided_fn)(struct election *e, int leader, void *data);

/* Creates the election service for member `myid` of `cfg` and starts
 * listening; members are connected lazily.  Returns NULL on failure
 * (logged). */
struct election *election_new(uv_loop_t *loop, const struct zkd_config *cfg, int myid,
                              election_decided_fn decided, void *data);

/* Starts a new round as a looking member with this server's history
 * (last zxid and current epoch). */
void election_look(struct election *e, int64_t last_zxid, int64_t current_epoch);

/* Records that this member now follows/leads/observes `leader`, so lookers
 * that ask are told. */
void election_settle(struct election *e, enum peer_state state, int leader);

/* The leader we settled on established `epoch`: our vote carries it from
 * now on (Apache's QuorumPeer.updateElectionVote; Apache lookers count
 * settled votes equal only when their peer epochs match). */
void election_update_epoch(struct election *e, int64_t epoch);

/* The member list changed (reconfig): links to members that left are
 * closed, new members are connected at the next tick. */
void election_reconfigure(struct election *e, const struct zkd_config *cfg);

/* Current state and round, for logs and four-letter words. */
enum peer_state election_state(const struct election *e);
int64_t election_round(const struct election *e);

/* Closes every link and the listener.  The memory goes with the loop's
 * close callbacks. */
void election_close(struct election *e);

#endif
