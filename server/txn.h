/*
 * txn.h - transactions: the unit that is logged, replicated and applied.
 *
 * A transaction is the *resolved* effect of a write request (sequential names
 * chosen, ACLs fixed up, versions computed, time taken), so that applying it
 * is deterministic: the log replay, a follower and the leader all reach the
 * same tree.
 *
 * The encoded form is exactly an entry of Apache ZooKeeper's transaction log
 * (Util.marshallTxnEntry without the digest), so zkd's log files are Apache's
 * and the peer protocol carries the same bytes:
 *   TxnHeader  long clientId | int cxid | long zxid | long time | int type
 *   then the record of `type` (zookeeper.jute):
 *   create(1), create2(15)  CreateTxn: string path, buffer data, ACL vector,
 *                           bool ephemeral, int parentCVersion
 *   createContainer(19)     CreateContainerTxn: path, data, acl, int parentCVersion
 *   createTTL(21)           CreateTTLTxn: path, data, acl, int parentCVersion, long ttl
 *   delete(2), deleteContainer(20)  DeleteTxn: string path
 *   setData(5), reconfig(16)        SetDataTxn: string path, buffer data, int version
 *   setACL(7)               SetACLTxn: string path, ACL vector, int version
 *   check(13)               CheckVersionTxn: string path, int version (in a multi)
 *   createSession(-10)      CreateSessionTxn: int timeOut
 *   closeSession(-11)       CloseSessionTxn: vector<string> paths2Delete (3.6+;
 *                           an empty body, as older versions write, reads too)
 *   multi(14)               MultiTxn: vector of {int type, buffer record}
 *   error(-1)               ErrorTxn: int err
 * A TxnDigest (int version, long digest of the tree after the txn) that
 * Apache appends when digest.enabled is appended by txn_put_digest and read
 * back by txn_decode.
 *
 * zkd's epoch bump (NEWEPOCH below) is logged as an ErrorTxn with clientId 0,
 * cxid 0 and a positive err holding the epoch: Apache's replay applies an
 * ErrorTxn as a no-op (every err it writes itself is <= 0), so its tools and
 * servers read zkd's logs unchanged.
 */
#ifndef ZKD_TXN_H
#define ZKD_TXN_H

#include <stdint.h>

#include "acl.h"
#include "zk/jute.h"

struct znode;

/* Not an Apache opcode: see NEWEPOCH above. */
#define TXN_NEWEPOCH (-100)

struct txn_op {
    int32_t type;          /* ZK_OP_CREATE/DELETE/SETDATA/SETACL/CHECK: what applies;
                            * ZK_OP_ERROR: an ErrorTxn(version) in a failed multi */
    int32_t req_type;      /* the opcode logged, when it differs (create2, deleteContainer);
                            * 0: `type`.  Container and TTL creates follow from `owner`. */
    char *path;            /* owned */
    struct zk_slice data;  /* borrowed from the request or log record */
    struct acl_list acl;   /* owned */
    int64_t owner;
    int32_t version;       /* new version / new aversion */
    int32_t parent_cversion;
    struct znode *parent;  /* CREATE: the parent as prep found it, set only while prep
                            * applies the op (apply.c then neither looks it up nor asks
                            * again whether the name exists); NULL */
};


struct txn {
    int32_t type;          /* a zk_op, ZK_OP_MULTI, ZK_OP_ERROR (applies nothing) or TXN_NEWEPOCH */
    int64_t session;
    int32_t cxid;
    int64_t zxid;          /* in the TxnHeader; write_begin sets it */
    int64_t time;
    int32_t timeout;       /* CREATESESSION */
    int32_t err;           /* ERROR: the ErrorTxn's code (a failed write, txn_fail) */
    int has_digest;        /* decoded: a TxnDigest followed the record */
    int32_t digest_version;
    int64_t digest;        /* the tree's digest after the txn (digest.h) */
    int64_t epoch;         /* NEWEPOCH */
    int nops;
    struct txn_op *ops;    /* owned; for CLOSESESSION, DELETE ops naming the
                            * session's ephemerals (paths2Delete: logged, not applied) */
    struct txn_op first;   /* ops[0] until a second op comes (no malloc for the usual
                            * one-op txn): a struct txn points into itself, so it is
                            * never copied, only filled in place (txn_init, txn_decode) */
};

void txn_init(struct txn *t, int32_t type, int64_t session, int32_t cxid, int64_t time);
/* Appends an op (zeroed) and returns it. */
struct txn_op *txn_add_op(struct txn *t, int32_t type);
/* Removes the last op (used when prep fails after adding it). */
void txn_drop_last(struct txn *t);
void txn_free(struct txn *t);

/*
 * Turns `t` into the record Apache's PrepRequestProcessor logs for a write
 * that failed with `err` (a KeeperException, or MARSHALLINGERROR for bytes
 * that do not decode): such a write still takes a zxid and is logged.
 *  - a multi whose op `failed` (0-based, of `nops_total`) failed stays a
 *    multi: the ops prepared before it keep their records, op `failed` is
 *    ErrorTxn(err), every later op ErrorTxn(RUNTIMEINCONSISTENCY).  The
 *    caller has left exactly the `failed` prepared ops in `t`.
 *  - anything else (failed < 0) becomes a TxnHeader of type error holding
 *    ErrorTxn(err), its ops dropped.
 * Such a txn applies nothing (apply_txn, and DataTree.processTxn).
 */
void txn_fail(struct txn *t, int32_t err, int failed, int nops_total);

void txn_encode(struct jute_out *out, const struct txn *t);
/* Appends a TxnDigest (version DIGEST_VERSION) after txn_encode's bytes. */
void txn_put_digest(struct jute_out *out, int64_t digest);
/* Decodes a payload; data slices point into `p`; a TxnDigest after the
 * record sets has_digest.  Returns 0 or -1. */
int txn_decode(const void *p, size_t len, struct txn *t);

/* The size of a TxnHeader, and the zxid and type read from one (the caller
 * checked len >= TXN_HEADER). */
#define TXN_HEADER 32
int64_t txn_peek_zxid(const void *rec);
int32_t txn_peek_type(const void *rec);

#endif
