/*
 * apache_leader.c - zkd leading Apache learners (see apache_leader.h).
 */
#include "apache_leader.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "db.h"
#include "localsess.h"
#include "log.h"
#include "peer.h"
#include "quorum_int.h"
#include "reconfig.h"
#include "server.h"
#include "txn.h"
#include "txnwin.h"
#include "write.h"
#include "zab.h"
#include "zk/proto.h"

/* A learner's forwarded sync: answered once `target` has committed. */
struct aleader_sync {
    struct aleader_sync *next;
    int sid;
    int64_t target;
};

static long framer(struct peer_link *l, const uint8_t *p, size_t len)
{
    (void)l;
    return zab_packet_frame(p, len, PEER_MAX_MSG);
}

static void send_packet(struct learner *ln, int32_t type, int64_t zxid, const void *d, int32_t dlen)
{
    struct jute_out o;
    jute_out_init(&o);
    zab_put_packet(&o, type, zxid, d, dlen);
    peer_send_raw(ln->l, o.p, o.len);
    jute_out_free(&o);
}

static int synced(const struct learner *ln) { return learner_live(ln) && ln->st >= L_SYNCED; }

/* Whether a learner has had its UPTODATE: only then does it take COMMITs and
 * INFORMs (see aleader_uptodate). */
static int active(const struct learner *ln) { return learner_live(ln) && ln->st >= L_ACTIVE; }

void aleader_accepted(struct learner *ln) { ln->l->frame = framer; }

void aleader_leaderinfo(struct quorum *q, struct learner *ln)
{
    uint8_t ver[4];
    zk_be32_put(ver, ZAB_LEARNER_PROTOCOL);
    send_packet(ln, ZAB_LEADERINFO, q->epoch << 32, ver, 4);
}

/* ---- sync ---- */

/* rec without its TxnDigest, if it has one: its length. */
static size_t without_digest(const void *rec, size_t len)
{
    struct txn t;
    size_t n = len;
    if (!txn_decode(rec, len, &t) && t.has_digest)
        n = len - 12; /* int version, long digest (txn.h) */
    txn_free(&t);
    return n;
}

/*
 * LearnerHandler.queueCommittedProposals: no TRUNC followed by transactions
 * of a later epoch than the learner's last (a leader deposed with proposals
 * it could not commit): Apache's leader sends a SNAP there.  Its learner
 * applies what follows a TRUNC in memory and writes it only in the snapshot
 * it takes at NEWLEADER, unsynced (Learner.syncWithLeader: syncSnapshot is
 * set for a SNAP only), so an ACKed transaction could be lost in a crash.
 * A TRUNC with nothing after it (the learner is past our whole history) is
 * Apache's too.
 */
static int trunc_crosses_epoch(const struct txnwin *w, size_t from, int64_t peer)
{
    return from < w->n && (txnwin_at(w, from)->zxid >> 32) != (peer >> 32);
}

/*
 * w's entries from index `from` (PROPOSAL, and COMMIT up to what
 * the learner may apply), then NEWLEADER: its history now ends at our last
 * zxid.  `known`: where its history stood before them.  `fuzzy`: they
 * follow a fuzzy SNAP, so they go without their TxnDigests: the learner's
 * tree may already hold some of their effects (walkstream.h), and Apache's
 * learner compares every TxnDigest it gets (DataTree.compareDigest) and
 * would report "Digests are not matching" for those.  From NEWLEADER on its
 * tree is exact and every proposal carries its digest again.
 */
static void sync_tail(struct quorum *q, struct learner *ln, int64_t known, const struct txnwin *w,
                      size_t from, int fuzzy)
{
    struct server *s = q->s;
    int64_t last = s->db.last_zxid;
    /* What the learner may apply at once: before the epoch is established
     * the leader's whole history is (a quorum will hold it before anyone
     * serves); after, only what a quorum has acknowledged. */
    int64_t committed = q->established ? q->commit : last;
    for (size_t i = from; i < w->n; i++) {
        const struct txnwin_entry *e = txnwin_at(w, i);
        if (e->zxid > committed && ln->observer)
            break; /* INFORMs carry the rest */
        size_t len = fuzzy ? without_digest(e->rec, e->len) : e->len;
        send_packet(ln, ZAB_PROPOSAL, e->zxid, e->rec, (int32_t)len);
        if (e->zxid <= committed)
            send_packet(ln, ZAB_COMMIT, e->zxid, NULL, -1);
    }
    ln->zab_committed = known > committed ? known : committed;
    /* NEWLEADER carries the membership (LearnerHandler: the leader's last
     * seen QuorumVerifier): a learner that missed a reconfig, whose commit
     * came in the DIFF as a plain COMMIT, activates it at UPTODATE. */
    int32_t clen;
    const char *config = reconfig_text(s, &clen);
    send_packet(ln, ZAB_NEWLEADER, q->epoch << 32, config, config ? clen : -1);
    ln->sync_zxid = last;
    ln->st = L_SYNCED;
}

void aleader_sync(struct quorum *q, struct learner *ln, int64_t peer)
{
    struct server *s = q->s;
    int64_t last = s->db.last_zxid;
    size_t from = 0;
    int64_t trunc = 0;
    int plan = quorum_sync_plan(q, peer, &from, &trunc);
    if (plan == TXNWIN_TRUNC && trunc_crosses_epoch(&s->win, from, peer))
        plan = TXNWIN_SNAP;
    if (plan == TXNWIN_SNAP) {
        send_packet(ln, ZAB_SNAP, last, NULL, -1);
        quorum_snap_start(q, ln); /* aleader_snap_end follows */
        return;
    }
    int64_t known; /* the learner's history after this packet */
    if (plan == TXNWIN_TRUNC) {
        send_packet(ln, ZAB_TRUNC, trunc, NULL, -1);
        known = trunc;
    } else {
        send_packet(ln, ZAB_DIFF, last, NULL, -1);
        known = peer;
    }
    log_info("quorum: syncing server %d by %s 0x%" PRIx64 " + %zu transactions", ln->sid,
             plan == TXNWIN_TRUNC ? "TRUNC to" : "DIFF from", (uint64_t)known, s->win.n - from);
    sync_tail(q, ln, known, &s->win, from, 0);
}

void aleader_snap_end(struct quorum *q, struct learner *ln, int64_t z, const struct txnwin *held)
{
    sync_tail(q, ln, z, held, 0, 1);
}

static void commit_to(struct quorum *q, struct learner *ln, int64_t c);

/*
 * UPTODATE, then the commits held back since NEWLEADER.  Apache 3.8.0's
 * Learner.syncWithLeader logs the proposals it holds when NEWLEADER comes and
 * forgets them; a COMMIT between NEWLEADER and UPTODATE then finds no
 * proposal and the sync dies (NullPointerException, ZOOKEEPER-4394, fixed
 * in 3.9), leaving behind a SyncThread that writes to the log the next sync
 * uses and dies too.  A proposal sent in the sync above the commit point is
 * committed in that window whenever the learner is slower to ACK NEWLEADER
 * than the other voters are to ACK the proposal (a TRUNC, which reloads its
 * database, is).  After UPTODATE a follower commits each pending proposal in
 * order (FollowerZooKeeperServer.commit), an observer applies each INFORM.
 */
void aleader_uptodate(struct quorum *q, struct learner *ln)
{
    send_packet(ln, ZAB_UPTODATE, -1, NULL, -1);
    commit_to(q, ln, q->commit);
}

/* ---- broadcast ---- */

void aleader_propose(struct quorum *q, int64_t zxid, const void *rec, size_t len)
{
    for (struct learner *ln = q->learners; ln; ln = ln->next)
        if (synced(ln) && !ln->observer)
            send_packet(ln, ZAB_PROPOSAL, zxid, rec, (int32_t)len);
}

/* Index of the first window entry above `zxid` (commits are recent: scan
 * from the newest). */
static size_t win_after(const struct txnwin *w, int64_t zxid)
{
    size_t i = w->n;
    while (i > 0 && txnwin_at(w, i - 1)->zxid > zxid)
        i--;
    return i;
}

/*
 * The commit of one zxid to one learner.  A reconfig's is COMMITANDACTIVATE
 * (long designated leader) to a follower and INFORMANDACTIVATE (long
 * designated leader, then the txn) to an observer, as Apache's
 * Leader.tryToCommit sends it: with a plain COMMIT an Apache learner applies
 * the new /zookeeper/config but keeps running the old membership.
 */
static void send_commit(struct quorum *q, struct learner *ln, const struct txnwin_entry *e)
{
    if (txn_peek_type(e->rec) != ZK_OP_RECONFIG) {
        if (ln->observer)
            send_packet(ln, ZAB_INFORM, e->zxid, e->rec, (int32_t)e->len);
        else
            send_packet(ln, ZAB_COMMIT, e->zxid, NULL, -1);
        return;
    }
    size_t n = 8 + (ln->observer ? e->len : 0);
    uint8_t *d = zk_xmalloc(n);
    zk_be64_put(d, (uint64_t)quorum_designated_leader(q, e->zxid));
    if (ln->observer)
        memcpy(d + 8, e->rec, e->len);
    send_packet(ln, ln->observer ? ZAB_INFORMANDACTIVATE : ZAB_COMMITANDACTIVATE, e->zxid, d,
                (int32_t)n);
    free(d);
}

static void commit_to(struct quorum *q, struct learner *ln, int64_t c)
{
    const struct txnwin *w = &q->s->win;
    if (ln->zab_committed >= c)
        return;
    if (ln->zab_committed < w->base) {
        quorum_learner_drop(ln, "its commits fell out of the history window");
        return;
    }
    for (size_t i = win_after(w, ln->zab_committed); i < w->n; i++) {
        const struct txnwin_entry *e = txnwin_at(w, i);
        if (e->zxid > c)
            break;
        send_commit(q, ln, e);
    }
    ln->zab_committed = c;
}

static struct learner *learner_by_sid(struct quorum *q, int sid)
{
    for (struct learner *ln = q->learners; ln; ln = ln->next)
        if (learner_live(ln) && ln->sid == sid)
            return ln;
    return NULL;
}

static void commit_all(struct quorum *q, int64_t c)
{
    for (struct learner *ln = q->learners; ln; ln = ln->next)
        if (active(ln))
            commit_to(q, ln, c); /* (the others get theirs after UPTODATE) */
}

/*
 * Each released SYNC goes right after the commits up to its target, before
 * those of later proposals, as Apache's Leader sends it (pendingSyncs, keyed
 * by the last proposal when the sync came).  The learner forwarded its sync
 * before the writes it forwarded next: Apache's CommitProcessor takes a
 * commit for its own request only when that request heads its queue, so a
 * COMMIT of a later request before the SYNC is taken as another member's
 * write, the request it was for then heads the queue for ever, and the
 * learner answers none of its clients' writes again (nor a new session).
 */
void aleader_commit(struct quorum *q, int64_t c)
{
    while (q->asyncs && q->asyncs->target <= c) {
        struct aleader_sync *y = q->asyncs;
        q->asyncs = y->next;
        commit_all(q, y->target);
        struct learner *ln = learner_by_sid(q, y->sid);
        if (ln)
            send_packet(ln, ZAB_SYNC, 0, NULL, -1);
        free(y);
    }
    commit_all(q, c);
}

void aleader_ping(struct quorum *q)
{
    for (struct learner *ln = q->learners; ln; ln = ln->next)
        if (synced(ln))
            send_packet(ln, ZAB_PING, q->logged, NULL, -1);
}

void aleader_reset(struct quorum *q)
{
    while (q->asyncs) {
        struct aleader_sync *y = q->asyncs;
        q->asyncs = y->next;
        free(y);
    }
}

/* ---- from learners ---- */

static void on_info(struct quorum *q, struct learner *ln, const struct zab_packet *pk)
{
    int64_t sid, config_version;
    if (ln->st != L_NEW || zab_get_learnerinfo(pk, &sid, &config_version)) {
        quorum_learner_drop(ln, "unexpected or malformed LearnerInfo");
        return;
    }
    if (config_version > q->s->config_version) {
        quorum_learner_drop(ln, "it has a later configuration");
        return;
    }
    ln->accepted_epoch = (int64_t)((uint64_t)pk->zxid >> 32);
    ln->current_epoch = -1;
    quorum_learner_info(q, ln, sid > INT32_MAX ? -1 : (int)sid,
                        pk->type == ZAB_OBSERVERINFO);
}

static void on_ackepoch(struct quorum *q, struct learner *ln, const struct zab_packet *pk)
{
    if (pk->dlen < 4) {
        quorum_learner_drop(ln, "short ACKEPOCH");
        return;
    }
    /* (-1: it had accepted this epoch already; its current epoch is then
     * not told, as with Apache's own leader) */
    int64_t cur = (int32_t)zk_be32_get(pk->data);
    ln->last_zxid = pk->zxid;
    quorum_learner_ackepoch(q, ln, cur, pk->zxid);
}

static void on_ack(struct quorum *q, struct learner *ln, const struct zab_packet *pk)
{
    if (ln->st < L_SYNCED)
        return;
    if ((pk->zxid & 0xffffffff) == 0) {
        /* NEWLEADER's ACK says it holds everything sent before it; the one
         * after UPTODATE says nothing new. */
        if (pk->zxid == q->epoch << 32)
            quorum_learner_acked(q, ln, ln->sync_zxid);
        return;
    }
    quorum_learner_acked(q, ln, pk->zxid);
}

static void on_ping(struct quorum *q, const struct zab_packet *pk)
{
    struct sessions *ss = &q->s->db.sessions;
    int64_t now = clock_mono_ms();
    for (int32_t off = 0; off + 12 <= pk->dlen; off += 12) {
        struct session *se = sessions_get(ss, (int64_t)zk_be64_get(pk->data + off));
        if (se && !se->closing)
            sessions_touch(ss, se, now);
    }
}

static void on_revalidate(struct quorum *q, struct learner *ln, const struct zab_packet *pk)
{
    if (pk->dlen < 12) {
        quorum_learner_drop(ln, "short REVALIDATE");
        return;
    }
    struct sessions *ss = &q->s->db.sessions;
    int64_t id = (int64_t)zk_be64_get(pk->data);
    struct session *se = sessions_get(ss, id);
    int valid = se && !se->closing && q->established;
    if (valid)
        sessions_touch(ss, se, clock_mono_ms());
    uint8_t d[9];
    zk_be64_put(d, (uint64_t)id);
    d[8] = (uint8_t)valid;
    send_packet(ln, ZAB_REVALIDATE, pk->zxid, d, 9);
}

/* The proxy's replies: only the one to the request running now matters
 * (whether it failed); Apache learners answer their clients themselves. */
static void proxy_sink(struct conn *c, const uint8_t *frame, size_t len)
{
    struct learner *ln = c->sink_data;
    struct quorum *q = ln->q;
    if (q->areply.len == 0)
        jute_put_raw(&q->areply, frame, len);
}

/* The client identities of a REQUEST (its authinfo) become the proxy's. */
static int take_auth(struct conn *p, const uint8_t *frame, size_t len)
{
    struct zk_slice schemes[64], ids[64];
    int n = zab_packet_auth(frame, len, schemes, ids, 64);
    auth_info_free(&p->auth);
    for (int i = 0; i < n; i++) {
        char *sc = zk_xstrndup(schemes[i].p, (size_t)schemes[i].len);
        char *ident = zk_xstrndup(ids[i].p, (size_t)ids[i].len);
        auth_info_add(&p->auth, sc, ident);
        free(sc);
        free(ident);
    }
    return n < 0 ? -1 : 0;
}

/*
 * A forwarded request that took no zxid.  request.c gives every failed write
 * its ErrorTxn (or failed MultiTxn) as Apache's PrepRequestProcessor does, so
 * this only catches a path that answered an error without one: the Apache
 * learner answers its client only when a record for the request commits, so
 * an ErrorTxn(err) is logged rather than leave that client waiting.
 */
static void log_failure(struct quorum *q, int64_t session, int32_t cxid, int32_t type)
{
    const uint8_t *r = q->areply.p;
    if (q->areply.len < 20)
        return;
    int32_t err = (int32_t)zk_be32_get(r + 16);
    if (err)
        write_error(q->s, type, session, cxid, err);
}

static void queue_sync(struct quorum *q, struct learner *ln)
{
    int64_t target = q->s->db.last_zxid;
    if (target <= q->commit) {
        send_packet(ln, ZAB_SYNC, 0, NULL, -1);
        return;
    }
    struct aleader_sync *y = zk_xcalloc(1, sizeof *y), **pp = &q->asyncs;
    y->sid = ln->sid;
    y->target = target;
    while (*pp)
        pp = &(*pp)->next;
    *pp = y;
}

/* Whether a closeSession of `session` is proposed and not yet committed
 * (the last entries of the history window, above the commit point). */
static int close_uncommitted(const struct quorum *q, int64_t session)
{
    const struct txnwin *w = &q->s->win;
    for (size_t i = w->n; i > 0; i--) {
        const struct txnwin_entry *e = txnwin_at(w, i - 1);
        if (e->zxid <= q->commit)
            break;
        if (e->len >= TXN_HEADER && (int64_t)zk_be64_get(e->rec) == session &&
            (int32_t)zk_be32_get(e->rec + TXN_HEADER - 4) == ZK_OP_CLOSESESSION)
            return 1;
    }
    return 0;
}

/*
 * A learner's createSession: logged whether or not the session exists, as
 * Apache's PrepRequestProcessor does (its trackSession touches an existing
 * session, the commit sets the new timeout), since the learner answers its
 * client only from this commit.  A learner repeats an id only after its
 * clock went back (ids are monotonic ms since boot).  While the session's
 * close is in flight, Apache's setOwner finds it closing and the request
 * fails: an ErrorTxn(SESSIONEXPIRED), and the close then removes the
 * session.  zkd applied the close already, so the session is gone here and
 * a createSession would make it live again.
 */
static void create_session(struct quorum *q, int64_t session, int32_t cxid, int32_t timeout)
{
    struct server *s = q->s;
    if (!sessions_get(&s->db.sessions, session) && close_uncommitted(q, session))
        write_error(s, ZK_OP_CREATESESSION, session, cxid, ZK_SESSIONEXPIRED);
    else
        write_session(s, ZK_OP_CREATESESSION, session, cxid, timeout);
}

static void on_request(struct quorum *q, struct learner *ln, const struct zab_packet *pk,
                       const uint8_t *frame, size_t flen)
{
    struct server *s = q->s;
    if (!q->established || ln->st < L_SYNCED)
        return; /* (it forwards only once serving, which we have not allowed) */
    struct zab_request r;
    if (zab_get_request(pk, &r)) {
        quorum_learner_drop(ln, "short REQUEST");
        return;
    }
    int64_t session = r.session;
    int32_t cxid = r.cxid, type = r.type;
    struct session *se = sessions_get(&s->db.sessions, session);
    switch (type) {
    case ZK_OP_SYNC:
        queue_sync(q, ln);
        return;
    case ZK_OP_CREATESESSION:
        if (r.flen < 12) {
            quorum_learner_drop(ln, "short createSession");
            return;
        }
        if (session)
            create_session(q, session, cxid, (int32_t)zk_be32_get(r.frame + 8));
        return;
    case ZK_OP_CLOSESESSION:
        if (se && !se->closing) {
            write_session(s, ZK_OP_CLOSESESSION, session, cxid, 0);
        } else {
            write_error(s, type, session, cxid, ZK_SESSIONEXPIRED);
        }
        return;
    }
    if (!ln->proxy)
        ln->proxy = conn_new_proxy(s, proxy_sink, ln);
    struct conn *p = ln->proxy;
    if (take_auth(p, frame, flen)) {
        quorum_learner_drop(ln, "malformed REQUEST authinfo");
        return;
    }
    p->session = se ? se : localsess_for_forwarded(s, session, &ln->foreign);
    p->session_id = session;
    p->state = CONN_READY;
    int64_t before = s->db.last_zxid;
    q->areply.len = 0;
    server_request_local(s, p, r.frame, r.flen);
    if (s->db.last_zxid == before)
        log_failure(q, session, cxid, type);
}

void aleader_on_msg(struct peer_link *l, const uint8_t *p, size_t len)
{
    struct learner *ln = l->owner;
    struct quorum *q = ln->q;
    struct zab_packet pk;
    if (zab_packet_decode(p, len, &pk)) {
        quorum_learner_drop(ln, "malformed packet");
        return;
    }
    int info = pk.type == ZAB_FOLLOWERINFO || pk.type == ZAB_OBSERVERINFO;
    if (q->role != R_LEADING && !(q->role == R_LOOKING && info)) {
        quorum_learner_drop(ln, "message while not leading");
        return;
    }
    if (!info && ln->st == L_NEW) {
        quorum_learner_drop(ln, "did not introduce itself");
        return;
    }
    switch (pk.type) {
    case ZAB_FOLLOWERINFO:
    case ZAB_OBSERVERINFO:
        on_info(q, ln, &pk);
        break;
    case ZAB_ACKEPOCH:
        on_ackepoch(q, ln, &pk);
        break;
    case ZAB_ACK:
        on_ack(q, ln, &pk);
        break;
    case ZAB_PING:
        on_ping(q, &pk);
        break;
    case ZAB_REQUEST:
        on_request(q, ln, &pk, p, len);
        break;
    case ZAB_REVALIDATE:
        on_revalidate(q, ln, &pk);
        break;
    default:
        quorum_learner_drop(ln, "unexpected packet type");
    }
}
