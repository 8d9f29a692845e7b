/*
 * write.c - see write.h.
 */
#include "write.h"

#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>

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
    assert(w->zxid > s->db.last_zxid);
}

int write_apply_txn(struct server *s, struct write *w)
{
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

int64_t write_session(struct server *s, int32_t type, int64_t session, int32_t cxid,
                      int32_t timeout)
{
    assert(type == ZK_OP_CREATESESSION || type == ZK_OP_CLOSESESSION);
    struct write w;
    write_begin(s, &w, type, session, cxid);
    w.txn.timeout = timeout;
    int rc = write_apply_txn(s, &w);
    assert(rc == 0);
    (void)rc;
    return write_commit(s, &w);
}

void write_abort(struct server *s, struct write *w)
{
    journal_undo(&s->db, &w->journal);
    write_free(w);
}

int write_apply_committed(struct server *s, int64_t zxid, const void *rec, size_t len)
{
    assert(zxid > s->db.last_zxid);
    struct txn t;
    if (txn_decode(rec, len, &t))
        return -1;
    struct journal j = {0};
    int rc = apply_txn(&s->db, &t, zxid, &j);
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
