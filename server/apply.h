/*
 * apply.h - applying transactions to the tree, with an undo journal.
 *
 * apply_op() performs one op of a transaction on the tree at a given zxid
 * and records in a journal (a) how to undo it and (b) which watch events it
 * implies.  The caller then either commits the journal (fires the events in
 * order, frees what the ops unlinked) or undoes it (a multi whose later op
 * failed).  Log replay, learners and the live pipeline share this code, so
 * all build the same tree.  It works on the state machine alone (db.h).
 *
 * Event rules are Apache's DataTree: create fires NodeCreated on the path's
 * data watches and NodeChildrenChanged on the parent's child watches; delete
 * fires NodeDeleted on data watches, then on child watches of the path
 * (skipping owners already told), then NodeChildrenChanged on the parent;
 * setData fires NodeDataChanged; setACL fires nothing.  Each event carries the
 * ACL Apache's patched DataTree passes to triggerWatch: the node's own, or the
 * parent's for NodeChildrenChanged, as it was when the op applied (db.h says
 * what the hook does with it).
 */
#ifndef ZKD_APPLY_H
#define ZKD_APPLY_H

#include <stdint.h>

#include "db.h"
#include "tree.h"
#include "txn.h"

struct journal_undo {
    int32_t type;
    struct znode *node;
    struct znode *parent;
    int32_t parent_cversion;
    int64_t parent_pzxid;
    /* setData / setACL */
    char *old_data;
    int32_t old_datalen;
    int32_t old_version;
    int64_t old_mzxid, old_mtime;
    uint32_t old_acl;
};

struct journal_event {
    int32_t type;    /* ZK_EVENT_* */
    uint32_t acl;    /* interned ACL the watcher must READ under; one reference held */
    size_t path_at;  /* the path: journal.text + path_at, NUL-terminated */
};

/* The arrays keep their capacity when emptied, so a journal reused for
 * transaction after transaction (write.c) allocates nothing. */
struct journal {
    struct journal_undo *undo;
    int nundo, capundo;
    struct journal_event *ev;
    int nev, capev;
    char *text;      /* the events' paths, one after another */
    size_t ntext, captext;
};

/* Applies one op.  Returns 0, or a ZK error when the op does not fit the
 * tree (only possible for a bad log record; prep rules it out live). */
int apply_op(struct db *db, const struct txn *t, const struct txn_op *op, int64_t zxid,
             struct journal *j);
/* Replaces n's data through `j` without touching its version, mzxid, mtime
 * or watches (quota.c's in-place usage updates, as Apache's DataTree makes
 * them); the undo restores the old data. */
void journal_replace_data(struct db *db, struct znode *n, const void *data, int32_t len,
                          struct journal *j);
/* The node the journal's latest create made (apply_create records it),
 * or NULL. */
struct znode *journal_last_created(const struct journal *j);
/* Reverts every op in the journal, newest first, and empties it. */
void journal_undo(struct db *db, struct journal *j);
/* Fires the journal's events through db->hooks.watch_event (tagged `zxid`),
 * frees what the ops unlinked or replaced, and empties it. */
void journal_commit(struct db *db, struct journal *j, int64_t zxid);
/* Frees the journal's arrays (it must be empty: committed or undone). */
void journal_free(struct journal *j);

/*
 * Applies a whole transaction at `zxid` into the empty journal `j`: its ops,
 * or a session's creation or closing (the session's ephemeral nodes are
 * deleted through `j`; the session leaves the table at once, after
 * db->hooks.session_closed).  On failure every op is undone and the ZK error
 * returned (only a bad log record can fail); on success the caller commits
 * `j`.  Does not touch db->last_zxid: the caller, who knows whether the
 * transaction is final, advances it.
 */
int apply_txn(struct db *db, const struct txn *t, int64_t zxid, struct journal *j);

/*
 * Applies a committed (logged) transaction as Apache's DataTree.processTxn
 * does: whole if it fits, else op by op keeping what fits (a log replayed
 * onto a fuzzy snapshot repeats ops the snapshot already holds; see
 * apply.c).  Returns 0 if it (or some of it) applied -- commit `j` --, else
 * the ZK error with nothing applied.  Used by write_apply_committed and the
 * offline verify-datadir, so both build the same tree.
 */
int apply_committed(struct db *db, const struct txn *t, int64_t zxid, struct journal *j);

/* Splits "/a/b" into parent length (2 for "/a", 1 for "/a" -> "/"). */
size_t path_parent_len(const char *path, size_t len);

#endif
