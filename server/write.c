/*
 * write.c - see write.h.
 */
#include "write.h"

#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "digest.h"
#include "localsess.h"
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

/* The tree write lock (db.h) is held from write_begin to the end of
 * write_commit / write_abort: a snapshot walker sees whole transactions
 * only, and never a tree ahead of last_zxid. */
void write_begin(struct server *s, struct write *w, int32_t type, int64_t session, int32_t cxid)
{
    db_write_lock(&s->db);
    txn_init(&w->txn, type, session, cxid, clock_wall_ms());
    w->journal = s->journal_spare; /* its arrays' capacity, for no malloc per write */
    s->journal_spare = (struct journal){0};
    w->zxid = next_zxid(s);
    w->txn.zxid = w->zxid; /* logged in the TxnHeader */
    assert(w->zxid > s->db.last_zxid);
}

int write_apply_txn(struct server *s, struct write *w)
{
    assert(w->zxid > s->db.last_zxid); /* between write_begin and commit/abort */
    return apply_txn(&s->db, &w->txn, w->zxid, &w->journal);
}

static void write_free(struct server *s, struct write *w)
{
    assert(w->journal.nundo == 0 && w->journal.nev == 0); /* committed or undone */
    journal_free(&s->journal_spare);
    s->journal_spare = w->journal;
    w->journal = (struct journal){0};
    txn_free(&w->txn);
}

/* A transaction's record enters the log, the history window and the
 * ensemble: last_zxid moves to it. */
static void publish(struct server *s, int64_t zxid, const struct jute_out *rec)
{
    s->db.last_zxid = zxid;
    txnlog_append(s->log, zxid, rec->p, rec->len);
    if (s->keep_win)
        txnwin_push(&s->win, zxid, rec->p, rec->len);
    if (s->q)
        quorum_proposed(s->q, zxid, rec->p, rec->len);
}

/* The tree digest after the transaction `zxid` just applied, noted in the
 * `hash` history; 0 with digest.enabled=false, as Apache's NodeHashMap
 * then reports. */
static int64_t note_digest(struct server *s, int64_t zxid)
{
    int64_t d = s->cfg.digest_enabled ? digest_db(&s->db) : 0;
    digest_log_note(&s->digests, zxid, d);
    return d;
}

/*
 * Apache's DataTree.compareDigest for a committed record: with
 * digest.enabled, a TxnDigest of our version and the tree out of the fuzzy
 * stretch of a snapshot (server.h digest_zxid: at that zxid the snapshot's
 * own check runs and the stretch ends; digest_fuzzy: the first matching
 * digest ends it), the tree's digest must be the
 * logged one.  A mismatch is counted and logged in Apache's words (the
 * first with the details), and nothing else happens, as in Apache 3.8: the
 * txn checksums vouch for the bytes, so a mismatch means the two servers
 * built different trees from them -- a bug to report, not data to drop.
 */
static void check_digest(struct server *s, const struct txn *t, int64_t zxid)
{
    if (!s->cfg.digest_enabled || !t->has_digest)
        return;
    if (t->digest_version != DIGEST_VERSION) {
        log_info("Message:Digest version not the same on zxid. Value:%lld", (long long)zxid);
        return;
    }
    int64_t have = digest_db(&s->db);
    if (s->digest_fuzzy) {
        if (have != t->digest)
            return; /* still inside what the SNAP already held */
        s->digest_fuzzy = 0;
        log_info("the tree matches the leader's digest at zxid 0x%llx: the snapshot's fuzzy range "
                 "is over, every transaction's digest is compared from here",
                 (unsigned long long)zxid);
    }
    s->digests_checked++;
    if (have == t->digest)
        return;
    if (!s->digest_mismatches++)
        log_error("First digest mismatch on txn: 0x%llx (type %d), expected digest is %lld, "
                  "actual digest is %lld", (unsigned long long)zxid, t->type,
                  (long long)t->digest, (long long)have);
    log_warn("Message:Digests are not matching. Value is Zxid. Value:%lld", (long long)zxid);
}

int64_t write_commit(struct server *s, struct write *w)
{
    int64_t zxid = w->zxid;
    /* No other write may have committed between begin and commit. */
    assert(zxid > s->db.last_zxid);
    assert(w->txn.nops > 0 || w->txn.type == ZK_OP_CREATESESSION ||
           w->txn.type == ZK_OP_CLOSESESSION || w->txn.type == TXN_NEWEPOCH ||
           w->txn.type == ZK_OP_ERROR || w->txn.type == ZK_OP_MULTI);
    struct jute_out *out = &s->record; /* reused: publish's consumers copy it */
    out->len = 0;
    txn_encode(out, &w->txn);
    int64_t digest = note_digest(s, zxid); /* the tree holds the txn's changes */
    if (s->cfg.digest_enabled)
        txn_put_digest(out, digest);
    publish(s, zxid, out);
    journal_commit(&s->db, &w->journal, zxid);
    db_write_unlock(&s->db);
    if (w->txn.type == ZK_OP_RECONFIG)
        reconfig_applied(s, zxid);
    write_free(s, w);
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
    db_write_unlock(&s->db);
    write_free(s, w);
}

int64_t write_commit_failed(struct server *s, struct write *w, int32_t err, int failed,
                            int nops_total)
{
    journal_undo(&s->db, &w->journal); /* empties it: the commit fires nothing */
    txn_fail(&w->txn, err, failed, nops_total);
    return write_commit(s, w);
}

int write_apply_committed(struct server *s, int64_t zxid, const void *rec, size_t len)
{
    assert(zxid > s->db.last_zxid);
    struct txn t;
    if (txn_decode(rec, len, &t))
        return -1;
    if (t.type == ZK_OP_CREATESESSION) /* an upgrade of ours done (localsess.h) */
        localsess_committed(s, t.session);
    struct journal j = {0};
    db_write_lock(&s->db);
    int rc = apply_committed(&s->db, &t, zxid, &j);
    if (rc)
        log_warn("transaction 0x%" PRIx64 " (type %d) did not apply: %s", (uint64_t)zxid, t.type,
                 zk_errname(rc));
    else
        journal_commit(&s->db, &j, zxid);
    journal_free(&j);
    s->db.last_zxid = zxid;
    db_write_unlock(&s->db);
    if (s->digest_zxid < 0 || zxid == s->digest_zxid) {
        check_digest(s, &t, zxid);
        /* Apache records the `hash` history only out of a fuzzy stretch. */
        if (s->digest_zxid < 0 && !s->digest_fuzzy)
            note_digest(s, zxid);
    }
    if (!rc && t.type == ZK_OP_RECONFIG)
        reconfig_applied(s, zxid);
    txn_free(&t);
    return 0;
}

int64_t write_error(struct server *s, int32_t type, int64_t session, int32_t cxid, int32_t err)
{
    struct write w;
    write_begin(s, &w, type, session, cxid);
    return write_commit_failed(s, &w, err, -1, 0);
}
