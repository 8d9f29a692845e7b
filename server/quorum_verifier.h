/*
 * quorum_verifier.h - which sets of members form a quorum.
 *
 * Apache ZooKeeper has two rules (org.apache.zookeeper.server.quorum.flexible),
 * and zkd applies the one the configuration names, everywhere a quorum is
 * needed: votes in the election (election.c), the epoch a new leader picks,
 * the NEWLEADER acknowledgements, every commit, and the leader's check that
 * its followers are still with it (quorum.c).
 *
 *   Majority (QuorumMaj, the default): more than half of the participants.
 *
 *   Hierarchical (QuorumHierarchical, zoo.cfg has group.G / weight.S lines):
 *     group.G=s1:s2:...   puts the participants s1, s2... in group G; every
 *                         participant must be in exactly one group;
 *     weight.S=w          the weight of participant S's vote (default 1).
 *   A set is a quorum when more than half of the groups are "won", a group
 *   being won when the weight of its members in the set is more than half of
 *   the group's total weight.  Groups whose total weight is 0 do not count in
 *   "half of the groups" and can never be won.  A participant of weight 0
 *   takes part in the protocol (it follows, acks, serves) but its ack counts
 *   for nothing and, as in Apache's FastLeaderElection.totalOrderPredicate,
 *   no one votes for it as leader.
 *
 * Integer arithmetic is Apache's exactly: a group is won when
 * weight_in_set > total / 2 (integer division) and the set is a quorum when
 * won_groups > counted_groups / 2.
 *
 * Where zkd refuses what Apache would accept (config_parse fails, naming the
 * key): a group listing a server with no server.N line or an observer (Apache
 * then fails with a NullPointerException unless weight.S is given), weights
 * outside 0..2^31-1, groups that all weigh 0 (no quorum could ever form), and
 * reconfigEnabled=true with groups (zkd's reconfig writes plain majority
 * configurations).
 *
 * The functions work on arrays of server lines so that the leader can test
 * both the old and the proposed configuration during a reconfig.  They are
 * pure; no I/O, no allocation.
 */
#ifndef ZKD_QUORUM_VERIFIER_H
#define ZKD_QUORUM_VERIFIER_H

#include <stdint.h>

#include "config.h"

/* A set of server ids (duplicates are ignored). */
struct qv_set {
    int n;
    int id[ZKD_MAX_SERVERS];
};

static inline void qv_set_clear(struct qv_set *s) { s->n = 0; }
/* Adds `id` unless it is already there or the set is full. */
void qv_set_add(struct qv_set *s, int id);

/* Whether the configuration v[0..n) uses groups (hierarchical rule). */
int qv_hierarchical(const struct zkd_server_line *v, int n);

/* Whether the members in `set` form a quorum of the configuration v[0..n).
 * Ids that are not participants of v are ignored. */
int qv_is_quorum(const struct zkd_server_line *v, int n, const struct qv_set *set);
int qv_cfg_is_quorum(const struct zkd_config *cfg, const struct qv_set *set);

/* Whether `id` may be elected leader of cfg: a participant whose vote
 * weighs more than 0. */
int qv_can_lead(const struct zkd_config *cfg, int id);

/*
 * The highest value x such that the members whose value is >= x form a
 * quorum of v[0..n), or -1 if all of them together do not.  ids[i] holds
 * vals[i] (k entries, values >= 0): for acknowledged zxids this is the
 * highest zxid a quorum has made durable.
 */
int64_t qv_quorum_value(const struct zkd_server_line *v, int n, const int *ids,
                        const int64_t *vals, int k);

/* ---- configuration (config.c calls these for group.* / weight.* keys) ---- */

/* Records `group.<gid>=<list>` (list: sids separated by ':'); a later line
 * for the same gid replaces the earlier one, as java.util.Properties does.
 * Returns 0, or -1 with *why set. */
int qv_parse_group(struct zkd_config *cfg, const char *gid, const char *list, const char **why);
/* Records `weight.<sid>=<w>`.  Returns 0, or -1 with *why set. */
int qv_parse_weight(struct zkd_config *cfg, const char *sid, const char *w, const char **why);

/* After the whole configuration is read: puts each participant's group and
 * weight on its server line and checks the rules above.  Returns 0, or -1
 * with a message in err. */
int qv_resolve(struct zkd_config *cfg, char *err, int errlen);

/* Writes the group.G and weight.S lines of cfg ("" for a majority
 * configuration), each ending in '\n', as Apache's
 * QuorumHierarchical.toString does.  Returns snprintf's count. */
int qv_format(const struct zkd_config *cfg, char *buf, int cap);
/* The same for the lines v[0..n) (the contents of /zookeeper/config). */
int qv_format_lines(const struct zkd_server_line *v, int n, char *buf, int cap);

#endif
