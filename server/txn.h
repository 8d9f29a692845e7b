/*
 * txn.h - transactions: the unit that is logged, replicated and applied.
 *
 * A transaction is the *resolved* effect of a write request (sequential names
 * chosen, ACLs fixed up, versions computed, time taken), so that applying it
 * is deterministic: the log replay, a follower and the leader all reach the
 * same tree.  Payload layout (jute):
 *   int type | long session | int cxid | long time | body
 * bodies by type:
 *   CREATE       string path, buffer data, ACL vector, long owner, int parentCversion
 *   DELETE       string path
 *   SETDATA      string path, buffer data, int newVersion
 *   SETACL       string path, ACL vector, int newAversion
 *   CREATESESSION int timeout
 *   CLOSESESSION (none: the ephemerals are found in the tree when applied)
 *   NEWEPOCH     long epoch (ensemble: the leader moves to a new epoch before
 *                the 32-bit zxid counter runs out; applying it changes nothing)
 *   MULTI        int count, then count x (int type, body)
 *   RECONFIG     a SETDATA body for /zookeeper/config (see reconfig.h)
 * Types reuse Apache's opcodes (zk_op).
 */
#ifndef ZKD_TXN_H
#define ZKD_TXN_H

#include <stdint.h>

#include "acl.h"
#include "zk/jute.h"

/* Not an Apache opcode: see NEWEPOCH above. */
#define TXN_NEWEPOCH (-100)

struct txn_op {
    int32_t type;
    char *path;            /* owned */
    struct zk_slice data;  /* borrowed from the request or log record */
    struct acl_list acl;   /* owned */
    int64_t owner;
    int32_t version;       /* new version / new aversion */
    int32_t parent_cversion;
};

#define TXN_MAX_OPS_INLINE 1

struct txn {
    int32_t type;          /* a zk_op, or ZK_OP_MULTI */
    int64_t session;
    int32_t cxid;
    int64_t time;
    int32_t timeout;       /* CREATESESSION */
    int64_t epoch;         /* NEWEPOCH */
    int nops;
    struct txn_op *ops;    /* owned */
};

void txn_init(struct txn *t, int32_t type, int64_t session, int32_t cxid, int64_t time);
/* Appends an op (zeroed) and returns it. */
struct txn_op *txn_add_op(struct txn *t, int32_t type);
/* Removes the last op (used when prep fails after adding it). */
void txn_drop_last(struct txn *t);
void txn_free(struct txn *t);

void txn_encode(struct jute_out *out, const struct txn *t);
/* Decodes a payload; data slices point into `p`.  Returns 0 or -1. */
int txn_decode(const void *p, size_t len, struct txn *t);

#endif
