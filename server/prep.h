/*
 * prep.h - turning write requests into transactions (Apache's
 * PrepRequestProcessor): decode, validate the path, check ACLs and versions
 * against the current tree, resolve sequential names and owners, then apply
 * the op to the tree through the undo journal so that the next op of a multi
 * sees its effect.  Checks happen in Apache's order so that a request with
 * several faults gets the same error code from zkd as from Apache.
 */
#ifndef ZKD_PREP_H
#define ZKD_PREP_H

#include <stdint.h>

#include "acl.h"
#include "apply.h"
#include "db.h"
#include "zk/jute.h"


/* The outcome of one write op, for building its reply. */
struct prep_result {
    int32_t type;        /* request opcode (create2, check, ...) */
    int32_t err;
    char *path;          /* created path (owned), for create replies */
    struct znode *node;  /* the node created/changed */
    struct zk_stat stat; /* its Stat right after this op (a later op may change it) */
};

/*
 * Decodes a write request body of opcode `type` from `in`, validates it
 * against `db` for a client holding the identities `auth` (NULL: none) and
 * applies it at `zxid` through `j`, appending the resolved op to `t` (check
 * adds none).  OUT: *res (res->path is the caller's to free).  Returns 0 or
 * the ZK error (nothing applied; ZK_MARSHALLINGERROR also sets in->err).
 */
int prep_apply_op(struct db *db, const struct auth_info *auth, int32_t type, struct jute_in *in,
                  struct txn *t, int64_t zxid, struct journal *j, struct prep_result *res);

/* Consumes the body of a multi member of opcode `type` without looking at
 * the state (the members after a failed one).  Returns 0, or
 * ZK_MARSHALLINGERROR (in->err set) for a body that does not decode or a type
 * a multi may not hold. */
int prep_skip_op(int32_t type, struct jute_in *in);

/* Apache's PathUtils.validatePath. Returns 0 or ZK_BADARGUMENTS. */
int prep_validate_path(const char *path, size_t len);

/* Whether opcode `type` is a write handled by prep_apply_op. */
int prep_is_write(int32_t type);

#endif
