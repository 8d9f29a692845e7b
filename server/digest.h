/*
 * digest.h - Apache ZooKeeper's tree digest (digest.enabled, 3.6+).
 *
 * Apache keeps a digest of its whole data tree (DataTree's DigestCalculator,
 * digest version 2, summed by NodeHashMapImpl's AdHash): the 64-bit wrapping
 * sum, over every node except those under "/zookeeper/", of
 *
 *   CRC-32( path bytes, "" for the root
 *           || data bytes (none for null data)
 *           || [i64 czxid][i64 mzxid][i64 pzxid][i64 ctime][i64 mtime]
 *              [i32 version][i32 cversion][i32 aversion][i64 ephemeralOwner] )
 *
 * over the StatPersisted fields as stored (cversion counts creations, as the
 * snapshot holds it; not the cversion a client sees).  A sum lets the digest
 * follow single-node changes: zkd writes it in a snapshot's ZxidDigest
 * trailer and checks a loaded snapshot's trailer, as Apache's FileSnap does,
 * and keeps it per transaction (digest_db) for the TxnDigest after each log
 * entry and the `hash` command's history.
 */
#ifndef ZKD_DIGEST_H
#define ZKD_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#include "tree.h"

#define DIGEST_VERSION 2

/* The digest of one node whose full path is path[0..plen) ("/" or "" for
 * the root); 0 for nodes under "/zookeeper/", which Apache leaves out. */
uint32_t digest_node(const char *path, size_t plen, const struct znode *n);

/* The digest of the whole tree: one walk over every node. */
int64_t digest_tree(struct tree *t);

/* The digest of one node from its record in an Apache DataTree image
 * ([i32 len][path][i32 len][data][i64 acl index][StatPersisted, 60 bytes];
 * -1 lengths are null), which the caller has parsed: the lengths are
 * trusted.  OUT: *end, the end of the record. */
uint32_t digest_record(const uint8_t *rec, const uint8_t **end);

/*
 * Summing the digest of an image on a second thread while it loads: the
 * loader adds each node record once it has parsed it (so the worker reads
 * only bytes the loader vouched for, which stay in place until finish), in
 * the image's order, back to back; the worker hashes them in batches behind
 * it.  Without a thread, finish hashes them all.  Loader's thread only.
 */
struct digest_follow;
struct digest_follow *digest_follow_start(void);
void digest_follow_add(struct digest_follow *f, const uint8_t *rec, const uint8_t *end);
/* Waits for the worker and frees f.  OUT: *sum, the sum of the records'
 * digests.  Returns 0, or -1 if the records were not back to back (then
 * *sum is not the image's digest). */
int digest_follow_finish(struct digest_follow *f, int64_t *sum);

/*
 * The running digest of db's tree, as Apache's DataTree keeps it
 * (getTreeDigest).  The first call after the tree was created or reset walks
 * the tree once (digest_tree); from then on apply.c keeps the sum exact by
 * taking each node it changes out before the change (digest_sub) and back in
 * after it (digest_add), so a write costs the hashes of the nodes it touches.
 * Until the first call digest_sub/digest_add do nothing (digest.enabled=false
 * costs no hashing).  Loop thread (the thread applying transactions).
 */
struct db;
int64_t digest_db(struct db *db);
void digest_sub(struct db *db, const struct znode *n);
void digest_add(struct db *db, const struct znode *n);
/* The same, given n's path as tree_path would write it (or "" for the
 * root), which spares walking up the tree; path NULL walks. */
void digest_sub_at(struct db *db, const struct znode *n, const char *path, size_t len);
void digest_add_at(struct db *db, const struct znode *n, const char *path, size_t len);

/*
 * The digest history the `hash` command reports, as Apache's DataTree keeps
 * it (logZxidDigest): the tree digest after every applied transaction whose
 * zxid is a multiple of DIGEST_LOG_INTERVAL, the newest DIGEST_LOG_LIMIT of
 * them, oldest first.  Caller-allocated, zeroed; digest_log_free releases it.
 */
#define DIGEST_LOG_INTERVAL 128
#define DIGEST_LOG_LIMIT 1024

struct digest_log {
    struct digest_entry {
        int64_t zxid, digest;
    } *v;          /* ring of DIGEST_LOG_LIMIT, allocated on first use */
    int n, head;   /* entries held; index of the oldest */
};

/* Notes the digest after the transaction `zxid` (kept if zxid is due). */
void digest_log_note(struct digest_log *l, int64_t zxid, int64_t digest);
/* The i-th entry, oldest first (0 <= i < l->n). */
const struct digest_entry *digest_log_at(const struct digest_log *l, int i);
void digest_log_free(struct digest_log *l);

#endif
