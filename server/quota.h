/*
 * quota.h - Apache ZooKeeper's quotas: usage kept in the data tree, limits
 * checked before a write (DataTree.updateQuotaStat/updateQuotaForPath/
 * setupQuota, ZooKeeperServer.checkQuota in 3.8).
 *
 * The data lives in ordinary znodes, so it is logged, snapshotted and
 * replicated like any other: a quota on /a is the node
 * /zookeeper/quota/a/zookeeper_limits (the limits, zk/statstrack.h text such
 * as "count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=10") beside
 * /zookeeper/quota/a/zookeeper_stats (the usage: "count=N,bytes=B", N
 * counting /a itself and every node under it, B their data bytes).
 *
 * Which quota covers a path.  Apache keeps a trie of the paths whose
 * zookeeper_limits node was created and not deleted; the covering quota is
 * the deepest such prefix of the path (the path itself included), never "/".
 * zkd derives the same answer from the tree itself, walking the path's
 * components down /zookeeper/quota, so there is no second structure to keep
 * in step with undo, replay, snapshots and SNAP syncs.
 *
 * Cost without quotas.  db->quota_nodes says whether /zookeeper/quota may
 * have children; until it does, every hook returns at once (no lookup: the
 * two lookups of /zookeeper/quota per write were ~700 instructions, 10% of a
 * setData).  It is set when a node is created under /zookeeper/quota (and
 * stays set: a false positive only costs the lookups), and recomputed by
 * quota_recount, which therefore must follow every load of a state image
 * (snapshot or SNAP sync) into the tree.
 *
 * Usage upkeep (quota_on_*), called by apply.c after the op changed the tree,
 * on the leader, on learners and on replay alike since it is part of applying
 * the transaction: the covering quota's zookeeper_stats data is rewritten
 * in place (no version, mzxid or watch event, as in Apache) through the undo
 * journal, so a multi that fails leaves it as it was.  Creating a
 * zookeeper_stats node itself recounts its quota's subtree into it (Apache's
 * updateQuotaForPath), overwriting whatever the creator wrote.
 *
 * Enforcement (quota_check), called by prep.c where Apache's
 * PrepRequestProcessor calls checkQuota: only when db->enforce_quota.  A
 * count or byte limit that the write would exceed is logged at WARN in
 * Apache's words ("Quota exceeded: /a [current count=3, softCountLimit=2]",
 * rate-limited as Apache's RateLogger does) and, for a hard limit, refused
 * with ZK_QUOTAEXCEEDED.  Like Apache 3.8, soft limits are not logged
 * without enforceQuota.
 *
 * Differences from Apache, on purpose or by construction:
 *   - The check sees the tree as every earlier write, including the earlier
 *     ops of the same multi, left it.  Apache checks against its committed
 *     DataTree, so a multi (or a burst of pipelined writes) can overshoot a
 *     hard limit there; zkd refuses the op that would cross it.
 *   - zookeeper_stats data that does not parse is left alone with an error
 *     logged (Apache's apply throws).  Limits or stats that do not parse when
 *     a check needs them fail the write with ZK_MARSHALLINGERROR, as
 *     Apache's PrepRequestProcessor answers a RuntimeException.
 *   - A quota on "/" (/zookeeper/quota/zookeeper_limits) covers nothing.
 *
 * All calls run on the thread that applies transactions (the loop thread).
 */
#ifndef ZKD_QUOTA_H
#define ZKD_QUOTA_H

#include <stddef.h>
#include <stdint.h>

#include "apply.h"
#include "db.h"

/* After node `n` was created at `path` (`len` bytes). */
void quota_on_create(struct db *db, const struct znode *n, const char *path, size_t len,
                     struct journal *j);
/* After a node of `datalen` bytes (-1: null) at `path` was deleted. */
void quota_on_delete(struct db *db, const char *path, size_t len, int32_t datalen,
                     struct journal *j);
/* After the data at `path` went from `oldlen` to `newlen` bytes (-1: null). */
void quota_on_setdata(struct db *db, const char *path, size_t len, int32_t oldlen,
                      int32_t newlen, struct journal *j);

/*
 * Whether a write may proceed: creating a node of `newlen` data bytes at
 * `path` (create != 0), or changing its data from `oldlen` to `newlen` bytes.
 * Returns 0, ZK_QUOTAEXCEEDED (a hard limit) or ZK_MARSHALLINGERROR
 * (unparseable quota nodes); always 0 unless db->enforce_quota.
 */
int quota_check(struct db *db, const char *path, size_t len, int create, int32_t oldlen,
                int32_t newlen);

/* Recounts every quota's usage into its zookeeper_stats node, as Apache's
 * setupQuota does after loading a snapshot, and resets db->quota_nodes.  Not
 * journaled: call it on a tree just loaded from an image, before any
 * transaction applies (a tree loaded without it may hold quotas that are
 * neither counted nor enforced). */
void quota_recount(struct db *db);

#endif
