/*
 * apache_learner.c - zkd following (or observing) a leader over Apache's
 * member protocol (see apache_learner.h).
 */
#include "apache_learner.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "conn.h"
#include "db.h"
#include "election.h"
#include "localsess.h"
#include "log.h"
#include "peer.h"
#include "quorum_int.h"
#include "server.h"
#include "svcnotify.h"
#include "txn.h"
#include "zab.h"
#include "zab_reply.h"
#include "zk/proto.h"

/* A forwarded sync: the leader answers each with a SYNC packet, in order,
 * once everything committed before it has been sent to us. */
struct zab_sync {
    struct zab_sync *next;
    int64_t session;
    int32_t xid;
    char path[];
};

static void zab_sync_push(struct quorum *q, struct conn *c, const uint8_t *p, size_t len)
{
    struct jute_in in;
    jute_in_init(&in, p + 8, len - 8);
    struct zk_slice path = jute_get_string(&in);
    size_t n = in.err || path.len < 0 ? 0 : (size_t)path.len;
    struct zab_sync *y = zk_xmalloc(sizeof *y + n + 1);
    y->next = NULL;
    y->session = c->session_id;
    y->xid = (int32_t)zk_be32_get(p);
    memcpy(y->path, n ? path.p : "", n);
    y->path[n] = 0;
    if (q->syncs_tail)
        q->syncs_tail->next = y;
    else
        q->syncs = y;
    q->syncs_tail = y;
}

static void syncs_free(struct quorum *q)
{
    while (q->syncs) {
        struct zab_sync *y = q->syncs;
        q->syncs = y->next;
        free(y);
    }
    q->syncs_tail = NULL;
}

/*
 * Which connection a leader's answer goes to.  Apache's wire names only the
 * session in a REQUEST, so answers (commits, SYNCs, REVALIDATE) are routed
 * by session id to the connection that forwarded for it (q->fwd).  A client
 * that reconnects to this member while its old connection still waits for
 * answers makes a second connection of the same session: the old one's
 * answers, which the leader gives first (it handles a session's requests in
 * order), must not reach the new one, whose client would read a reply to an
 * xid it never sent there (kazoo: "xids do not match").  So when a
 * connection stops waiting (it closes, or another connection of its session
 * forwards), its outstanding commits and SYNCs are counted as orphans of the
 * session, and that many of the session's next answers are dropped, as
 * Apache drops replies to a closed connection.  (A REVALIDATE answer is not
 * ordered with them; it goes to whichever connection revalidates.)
 */
static void fwd_disown(struct quorum *q, struct conn *old)
{
    int owed = old->fwd_pending - (old->revalidating ? 1 : 0);
    if (owed > 0) {
        uintptr_t n = (uintptr_t)i64map_get(&q->fwd_orphans, old->session_id);
        i64map_put(&q->fwd_orphans, old->session_id, (void *)(n + (uintptr_t)owed));
    }
    old->fwd_pending = 0;
    old->revalidating = 0;
}

/* `c` forwards one more request of its session: the answers are its now. */
static void fwd_take(struct quorum *q, struct conn *c)
{
    struct conn *old = i64map_get(&q->fwd, c->session_id);
    if (old && old != c)
        fwd_disown(q, old);
    c->fwd_pending++;
    i64map_put(&q->fwd, c->session_id, c);
}

/* 1 when the leader's next answer for `session` (a commit or a SYNC) is
 * owed to a connection that no longer waits; it is consumed. */
static int fwd_orphaned(struct quorum *q, int64_t session)
{
    uintptr_t n = (uintptr_t)i64map_get(&q->fwd_orphans, session);
    if (!n)
        return 0;
    if (n == 1)
        i64map_del(&q->fwd_orphans, session);
    else
        i64map_put(&q->fwd_orphans, session, (void *)(n - 1));
    return 1;
}

void alearner_conn_closed(struct quorum *q, struct conn *c)
{
    if (c->fwd_pending && i64map_get(&q->fwd, c->session_id) == c) {
        fwd_disown(q, c);
        i64map_del(&q->fwd, c->session_id);
    }
}

static void zab_sync_done(struct quorum *q)
{
    struct zab_sync *y = q->syncs;
    if (!y) {
        quorum_learner_fail(q, "SYNC with no sync outstanding");
        return;
    }
    q->syncs = y->next;
    if (!q->syncs)
        q->syncs_tail = NULL;
    struct conn *c = fwd_orphaned(q, y->session) ? NULL : i64map_get(&q->fwd, y->session);
    if (c && c->fwd_pending) {
        zab_reply_sync(q->s, c, y->xid, y->path, q->s->db.last_zxid);
        if (--c->fwd_pending == 0)
            i64map_del(&q->fwd, y->session);
        quorum_drain_held(q, c);
    }
    free(y);
}

static long zab_frame(struct peer_link *l, const uint8_t *p, size_t len)
{
    (void)l;
    return zab_packet_frame(p, len, PEER_MAX_MSG);
}

static long zab_snap_stream(struct peer_link *l, const uint8_t *p, size_t len)
{
    size_t body;
    (void)l;
    return zab_snap_frame(p, len, &body);
}

static void zab_send(struct quorum *q, int32_t type, int64_t zxid, const void *d, int32_t dlen)
{
    if (!q->leader)
        return;
    struct jute_out o;
    jute_out_init(&o);
    zab_put_packet(&o, type, zxid, d, dlen);
    peer_send_raw(q->leader, o.p, o.len);
    jute_out_free(&o);
}

void alearner_revalidate(struct quorum *q, struct conn *c, int64_t id, int32_t timeout)
{
    uint8_t d[12];
    zk_be64_put(d, (uint64_t)id);
    zk_be32_put(d + 8, (uint32_t)timeout);
    c->session_id = id;
    c->timeout = timeout;
    fwd_take(q, c);
    c->revalidating = 1;
    zab_send(q, ZAB_REVALIDATE, -1, d, sizeof d);
}

/* The leader's answer (long session, bool valid): the reconnect waiting
 * for it is answered. */
static void zab_revalidated(struct quorum *q, const struct zab_packet *pk)
{
    if (pk->dlen < 9) {
        quorum_learner_fail(q, "short REVALIDATE");
        return;
    }
    int64_t id = (int64_t)zk_be64_get(pk->data);
    struct conn *c = i64map_get(&q->fwd, id);
    if (!c || !c->revalidating) {
        log_info("quorum: REVALIDATE answer for session 0x%" PRIx64 ", whose client is gone",
                 (uint64_t)id);
        return;
    }
    c->revalidating = 0;
    if (--c->fwd_pending == 0)
        i64map_del(&q->fwd, id);
    server_reconnect(q->s, c, id, c->timeout, pk->data[8] != 0);
}

/* Owes the leader an ACK of `zxid` once the log is durable up to `after`
 * (Apache counts ACKs per proposal, not "everything up to"). */
static void zab_owe_ack(struct quorum *q, int64_t after, int64_t zxid)
{
    if (q->nacks == q->cap_acks) {
        q->cap_acks = q->cap_acks ? 2 * q->cap_acks : 64;
        q->acks = zk_xrealloc(q->acks, q->cap_acks * sizeof *q->acks);
    }
    q->acks[q->nacks++] = (struct zab_ack){after, zxid};
    alearner_send_acks(q);
}

void alearner_send_acks(struct quorum *q)
{
    size_t i = 0;
    while (i < q->nacks && q->acks[i].after <= q->log_durable) {
        /* (observers too: the leader waits for their NEWLEADER ACK; they
         * get INFORMs, which owe none) */
        zab_send(q, ZAB_ACK, q->acks[i].zxid, NULL, -1);
        i++;
    }
    if (i == 0)
        return; /* (q->acks may be NULL: nothing owed yet) */
    memmove(q->acks, q->acks + i, (q->nacks - i) * sizeof *q->acks);
    q->nacks -= i;
}

void alearner_on_connect(struct peer_link *l, int status)
{
    struct quorum *q = l->owner;
    if (status || q->leader != l)
        return;
    struct jute_out li;
    jute_out_init(&li);
    zab_put_learnerinfo(&li, q->myid, q->s->config_version);
    zab_send(q, q->voter ? ZAB_FOLLOWERINFO : ZAB_OBSERVERINFO, q->accepted_epoch << 32, li.p,
             (int32_t)li.len);
    jute_out_free(&li);
    q->phase = F_INFO_SENT;
}

static void zab_leaderinfo(struct quorum *q, const struct zab_packet *pk)
{
    int64_t epoch = (int64_t)((uint64_t)pk->zxid >> 32);
    if (pk->dlen < 4 || q->phase != F_INFO_SENT) {
        quorum_learner_fail(q, "unexpected LEADERINFO");
        return;
    }
    if (epoch < q->accepted_epoch) {
        quorum_learner_fail(q, "its epoch is older than one we promised");
        return;
    }
    uint8_t ack[4];
    zk_be32_put(ack, (uint32_t)(epoch > q->accepted_epoch ? (int32_t)q->current_epoch : -1));
    if (epoch > q->accepted_epoch)
        quorum_set_accepted_epoch(q, epoch);
    q->epoch = epoch;
    zab_send(q, ZAB_ACKEPOCH, q->logged, ack, 4);
    q->phase = F_EPOCH_ACKED;
}

/* The database stream that follows a SNAP packet. */
static void zab_snapshot(struct quorum *q, const uint8_t *p, size_t len)
{
    int64_t z = q->snap_in_zxid;
    q->snap_in_zxid = -1;
    q->leader->frame = zab_frame;
    quorum_load_snap_stream(q, p, len, z, 1);
}

static void zab_uptodate(struct quorum *q)
{
    if (q->phase != F_NEWLEADER) {
        quorum_learner_fail(q, "unexpected UPTODATE");
        return;
    }
    q->phase = F_SERVING;
    q->serving = 1;
    svc_ready("%s leader %d in epoch %lld", q->voter ? "following" : "observing", q->leader_id,
              (long long)q->epoch);
    q->last_report_ms = clock_mono_ms();
    election_update_epoch(q->el, q->epoch);
    election_settle(q->el, q->voter ? PEER_FOLLOWING : PEER_OBSERVING, q->leader_id);
    log_info("quorum: %s Apache leader %d in epoch %lld, serving from zxid 0x%" PRIx64,
             q->voter ? "following" : "observing", q->leader_id, (long long)q->epoch,
             (uint64_t)q->s->db.last_zxid);
    zab_owe_ack(q, q->logged, q->epoch << 32);
    quorum_learner_commit(q, q->commit);
}

static void zab_ping(struct quorum *q, const struct zab_packet *pk)
{
    struct server *s = q->s;
    int64_t since = q->last_report_ms;
    q->last_report_ms = clock_mono_ms();
    struct jute_out o;
    jute_out_init(&o);
    for (struct conn *c = s->conns; c; c = c->next)
        if (c->session && !c->readonly && localsess_leader_tracks(c->session) &&
            c->active_ms >= since) {
            jute_put_long(&o, c->session->id);
            jute_put_int(&o, c->session->timeout);
        }
    zab_send(q, ZAB_PING, pk->zxid, o.p, (int32_t)o.len);
    jute_out_free(&o);
}

static void zab_proposal(struct quorum *q, const struct zab_packet *pk, int inform)
{
    if (q->phase < F_EPOCH_ACKED || pk->dlen < TXN_HEADER) {
        quorum_learner_fail(q, "unexpected proposal");
        return;
    }
    int64_t zxid = txn_peek_zxid(pk->data);
    if (inform && zxid != pk->zxid) {
        quorum_learner_fail(q, "malformed INFORM");
        return;
    }
    quorum_log_proposal(q, zxid, pk->data, (size_t)pk->dlen);
    if (inform)
        quorum_learner_commit(q, zxid);
    else if (q->phase >= F_NEWLEADER)
        zab_owe_ack(q, zxid, zxid);
}

void alearner_on_msg(struct peer_link *l, const uint8_t *p, size_t len)
{
    struct quorum *q = l->owner;
    if (q->leader != l)
        return;
    if (q->snap_in_zxid >= 0) {
        zab_snapshot(q, p, len);
        return;
    }
    struct zab_packet pk;
    if (zab_packet_decode(p, len, &pk)) {
        quorum_learner_fail(q, "malformed packet from the leader");
        return;
    }
    switch (pk.type) {
    case ZAB_LEADERINFO:
        zab_leaderinfo(q, &pk);
        break;
    case ZAB_DIFF:
        if (q->phase != F_EPOCH_ACKED)
            quorum_learner_fail(q, "unexpected DIFF");
        break;
    case ZAB_TRUNC:
        if (q->phase != F_EPOCH_ACKED)
            quorum_learner_fail(q, "unexpected TRUNC");
        else
            quorum_truncate(q, pk.zxid);
        break;
    case ZAB_SNAP:
        if (q->phase != F_EPOCH_ACKED) {
            quorum_learner_fail(q, "unexpected SNAP");
            break;
        }
        q->snap_in_zxid = pk.zxid;
        l->frame = zab_snap_stream;
        break;
    case ZAB_PROPOSAL:
        zab_proposal(q, &pk, 0);
        break;
    case ZAB_INFORM:
        zab_proposal(q, &pk, 1);
        break;
    case ZAB_COMMITANDACTIVATE:
        /* A reconfig's commit: applying the txn adopts the membership
         * (reconfig.h), and then we go to the designated leader it names if
         * it is not ours (quorum_reconfigured). */
        if (pk.dlen < 8) {
            quorum_learner_fail(q, "short COMMITANDACTIVATE");
            break;
        }
        quorum_learner_activate(q, pk.zxid, (int64_t)zk_be64_get(pk.data));
        quorum_learner_commit(q, pk.zxid);
        break;
    case ZAB_COMMIT:
        quorum_learner_commit(q, pk.zxid);
        break;
    case ZAB_INFORMANDACTIVATE:
        if (pk.dlen < 8) {
            quorum_learner_fail(q, "short INFORMANDACTIVATE");
            break;
        }
        quorum_learner_activate(q, pk.zxid, (int64_t)zk_be64_get(pk.data));
        pk.data += 8;
        pk.dlen -= 8;
        zab_proposal(q, &pk, 1);
        break;
    case ZAB_NEWLEADER:
        if (q->phase != F_EPOCH_ACKED || (pk.zxid >> 32) != q->epoch) {
            quorum_learner_fail(q, "unexpected NEWLEADER");
            break;
        }
        if (q->epoch > q->current_epoch)
            quorum_set_current_epoch(q, q->epoch);
        q->newleader_zxid = pk.zxid;
        q->phase = F_NEWLEADER;
        zab_owe_ack(q, q->logged, pk.zxid);
        break;
    case ZAB_UPTODATE:
        zab_uptodate(q);
        break;
    case ZAB_PING:
        zab_ping(q, &pk);
        break;
    case ZAB_SYNC:
        zab_sync_done(q);
        break;
    case ZAB_REVALIDATE:
        zab_revalidated(q, &pk);
        break;
    default:
        log_warn("quorum: leader %d sent a packet of type %d; ignored", q->leader_id, pk.type);
    }
}

/* REQUEST: long sessionId, int cxid, int type, then the request's body.
 * `p` is the client frame (int xid, int type, body), or for createSession
 * just the body (int timeout). */
void alearner_forward(struct quorum *q, struct conn *c, int32_t type, const void *p,
                      size_t len)
{
    struct jute_out o;
    jute_out_init(&o);
    if (type == ZK_OP_SYNC && len >= 8)
        zab_sync_push(q, c, p, len);
    jute_put_long(&o, c->session_id);
    if (type == ZK_OP_CREATESESSION) {
        jute_put_int(&o, 0);
        jute_put_int(&o, type);
    }
    jute_put_raw(&o, p, len);
    const char *schemes[64], *ids[64];
    int n = 0;
    for (int i = 0; i < c->auth.n && n < 64; i++, n++) {
        schemes[n] = c->auth.ids[i].scheme;
        ids[n] = c->auth.ids[i].id;
    }
    struct jute_out pk;
    jute_out_init(&pk);
    zab_put_packet_auth(&pk, ZAB_REQUEST, -1, o.p, (int32_t)o.len, schemes, ids, n);
    if (q->leader)
        peer_send_raw(q->leader, pk.p, pk.len);
    jute_out_free(&pk);
    jute_out_free(&o);
    if (type != ZK_OP_CREATESESSION)
        quorum_audit_keep(c, p, len);
    fwd_take(q, c);
}

/* A committed record was applied: answer the request of ours it commits. */
void alearner_reply_forwarded(struct quorum *q, int64_t zxid, const uint8_t *rec, size_t len)
{
    if (len < TXN_HEADER)
        return;
    int64_t session = (int64_t)zk_be64_get(rec);
    struct conn *c = fwd_orphaned(q, session) ? NULL : i64map_get(&q->fwd, session);
    size_t at = c ? c->out.len : 0;
    if (!c || !c->fwd_pending || zab_reply_committed(q->s, c, zxid, rec, len))
        return;
    if (c->out.len > at) /* (nothing queued on a closing connection) */
        quorum_audit_replied(c, c->out.p + at, c->out.len - at);
    if (--c->fwd_pending == 0)
        i64map_del(&q->fwd, session);
    quorum_drain_held(q, c);
}

void alearner_link_up(struct peer_link *l) { l->frame = zab_frame; }

void alearner_reset(struct quorum *q)
{
    q->nacks = 0;
    q->snap_in_zxid = -1;
    syncs_free(q);
}
