/*
 * write.c - see write.h.
 */
#include "write.h"

#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "log.h"
#include "quorum.h"
#include "reconfig.h"
#include "server.h"
#include "txnlog.h"
#include "zk/proto.h"

/* The zxid the next transaction gets: the next counter value, or the first of
 * a new epoch (quorum_next_zxid also starts the epoch bump near the limit). */
static int64_t next_zxid(struct server *s)
{
    return s->q ? quorum_next_zxid(s->q, s->db.last_zxid) : s->db.last_zxid + 1;
}

void write_begin(struct server *s, struct write *w, int32_t type, int64_t session, int32_t cxid)
{
    txn_init(&w->txn, type, session, cxid, clock_wall_ms());
    w->journal = (struct journal){0};
    w->zxid = next_zxid(s);
    w->txn.zxid = w->zxid; /* logged in the TxnHeader */
    assert(w->zxid > s->db.last_zxid);
}

int write_apply_txn(struct server *s, struct write *w)
{
    assert(w->zxid > s->db.last_zxid); /* between write_begin and commit/abort */
    return apply_txn(&s->db, &w->txn, w->zxid, &w->journal);
}

static void write_free(struct write *w)
{
    journal_free(&w->journal);
    txn_free(&w->txn);
}

int64_t write_commit(struct server *s, struct write *w)
{
    int64_t zxid = w->zxid;
    /* No other write may have committed between begin and commit. */
    assert(zxid > s->db.last_zxid);
    assert(w->txn.nops > 0 || w->txn.type == ZK_OP_CREATESESSION ||
           w->txn.type == ZK_OP_CLOSESESSION || w->txn.type == TXN_NEWEPOCH);
    s->db.last_zxid = zxid;
    struct jute_out out;
    jute_out_init(&out);
    txn_encode(&out, &w->txn);
    txnlog_append(s->log, zxid, out.p, out.len);
    if (s->keep_win)
        txnwin_push(&s->win, zxid, out.p, out.len);
    if (s->q)
        quorum_proposed(s->q, zxid, out.p, out.len);
    jute_out_free(&out);
    journal_commit(&s->db, &w->journal, zxid);
    if (w->txn.type == ZK_OP_RECONFIG)
        reconfig_applied(s, zxid);
    write_free(w);
    server_count_txn(s);
    return zxid;
}

/* Lists a closing session's ephemerals in its txn (Apache's paths2Delete). */
static void add_ephemeral(struct znode *n, void *d)
{
    struct txn *t = d;
    size_t need = tree_path(n, NULL, 0);
    char *path = zk_xmalloc(need + 1);
    tree_path(n, path, need + 1);
    txn_add_op(t, ZK_OP_DELETE)->path = path;
}

int64_t write_session(struct server *s, int32_t type, int64_t session, int32_t cxid,
                      int32_t timeout)
{
    assert(type == ZK_OP_CREATESESSION || type == ZK_OP_CLOSESESSION);
    struct write w;
    write_begin(s, &w, type, session, cxid);
    w.txn.timeout = timeout;
    if (type == ZK_OP_CLOSESESSION)
        tree_foreach_ephemeral(s->db.tree, session, add_ephemeral, &w.txn);
    int rc = write_apply_txn(s, &w);
    assert(rc == 0);
    (void)rc;
    /* Apache's DataTree.deleteNodes logs each ephemeral it deletes. */
    for (int i = 0; audit_on && i < w.txn.nops; i++)
        audit_ephemeral_deleted(session, w.txn.ops[i].path);
    return write_commit(s, &w);
}

void write_abort(struct server *s, struct write *w)
{
    assert(w->zxid > s->db.last_zxid); /* nothing committed since write_begin */
    journal_undo(&s->db, &w->journal);
    write_free(w);
}

/* Apache's fix-up for a create whose node a fuzzy snapshot already holds
 * (DataTree.processTxn): the parent takes the create's cversion and zxid if
 * the snapshot missed them (the node was created, then deleted, around it). */
static void fix_parent(struct db *db, const struct txn_op *op, int64_t zxid)
{
    size_t len = strlen(op->path);
    struct znode *parent = tree_lookup(db->tree, op->path, path_parent_len(op->path, len));
    if (parent && op->parent_cversion > tree_cversion(parent)) {
        tree_set_cversion(parent, op->parent_cversion);
        tree_set_pzxid(parent, zxid);
    }
}

/*
 * Applies a committed txn that does not fit the tree as a whole, op by op,
 * keeping what fits.  Apache's snapshots are fuzzy (taken while writes go
 * on), so the log replayed onto one may repeat ops the snapshot already
 * holds: Apache's DataTree.processTxn applies each op of a multi on its
 * own, ignores NodeExists and NoNode, and fixes up the parent of a create
 * that exists.  A zkd snapshot is exact, so only a snapshot Apache wrote
 * (or a bad record) gets here.  Returns 0 if some op applied.
 */
static int apply_fuzzy(struct db *db, const struct txn *t, int64_t zxid, struct journal *j)
{
    int applied = 0, rc = 0;
    for (int i = 0; i < t->nops; i++) {
        int r = apply_op(db, t, &t->ops[i], zxid, j);
        if (r == ZK_NODEEXISTS && t->ops[i].type == ZK_OP_CREATE)
            fix_parent(db, &t->ops[i], zxid);
        applied |= r == 0;
        if (r && !rc)
            rc = r;
    }
    if (rc)
        log_info("transaction 0x%" PRIx64 " (type %d) applied in part: %s (replay onto a fuzzy "
                 "snapshot)", (uint64_t)zxid, t->type, zk_errname(rc));
    return applied || t->nops == 0 ? 0 : rc;
}

int write_apply_committed(struct server *s, int64_t zxid, const void *rec, size_t len)
{
    assert(zxid > s->db.last_zxid);
    struct txn t;
    if (txn_decode(rec, len, &t))
        return -1;
    struct journal j = {0};
    int rc = apply_txn(&s->db, &t, zxid, &j);
    if (rc && t.nops > 0)
        rc = apply_fuzzy(&s->db, &t, zxid, &j);
    if (rc)
        log_warn("transaction 0x%" PRIx64 " (type %d) did not apply: %s", (uint64_t)zxid, t.type,
                 zk_errname(rc));
    else
        journal_commit(&s->db, &j, zxid);
    journal_free(&j);
    s->db.last_zxid = zxid;
    if (!rc && t.type == ZK_OP_RECONFIG)
        reconfig_applied(s, zxid);
    txn_free(&t);
    return 0;
}
