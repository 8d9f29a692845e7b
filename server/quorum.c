/*
 * quorum.c - Zab for zkd (see quorum.h).
 *
 * Messages on the quorum port (one peer message each, first byte the type):
 *   learner -> leader
 *     FINFO     int sid, bool observer, long acceptedEpoch, long currentEpoch, long lastZxid
 *     ACKEPOCH  long currentEpoch, long lastZxid (-1: "I need a snapshot")
 *     ACK       long zxid: everything up to zxid is in my log, fsync'd
 *     REQUEST   long session, long connUid, int nauth, nauth x (string scheme, string id), frame
 *     CONNECT   long session, long connUid, int timeout
 *     PINGACK   int n, n x long session (sessions active since the last ping)
 *     UPGRADE   long session, int timeout: make this local session global
 *               (localsess.h); no reply, the requests after it see it
 *   leader -> learner
 *     LINFO     long epoch (earlier zkds added a session secret, now unused:
 *               a learner ignores what follows the epoch)
 *     TRUNC     long zxid
 *     SNAPBEGIN long zxid; SNAPREC bytes; SNAPEND long zxid (the SNAPRECs'
 *               bytes, in order, are Apache's SNAP stream, fuzzy at the zxid:
 *               quorum_snap_start; the PROPOSALs after Z follow SNAPEND)
 *     PROPOSAL  long zxid, txn
 *     NEWLEADER long epoch, long zxid (the end of the history just sent)
 *     UPTODATE  long commit (serve clients now)
 *     COMMIT    long zxid
 *     REPLY     long connUid, byte flags (1: a ConnectResponse), frame
 *     PING      long commit
 *
 * With memberProtocol=apache every link speaks Apache's protocol instead
 * (zab.h): this file keeps the state machines of both roles, and
 * apache_leader.c (leading) and apache_learner.c (following or observing)
 * encode what is sent and decode what is received (quorum_int.h).
 *
 * All role changes happen from a zero-delay timer (`transition`), never from
 * inside a message or close callback, so no handler ever finds the
 * structures it is using freed under it.  Learner records that lost their
 * link are marked dead and swept on the next tick for the same reason.
 */
#include "quorum_int.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "conn.h"
#include "election.h"
#include "localsess.h"
#include "log.h"
#include "peer.h"
#include "quorum_auth.h"
#include "quorum_verifier.h"
#include "prep.h"
#include "server.h"
#include "svcnotify.h"
#include "txn.h"
#include "txnlog.h"
#include "txnwin.h"
#include "walkstream.h"
#include "write.h"
#include "zab.h"
#include "zab_reply.h"
#include "apache_leader.h"
#include "apache_learner.h"
#include "zk/proto.h"

static int64_t now_ms(void) { return clock_mono_ms(); }

/* ---- persistent epochs (dataDir/version-2/acceptedEpoch, .../currentEpoch, as Apache) ---- */

static int64_t read_epoch(const struct server *s, const char *name, int64_t dflt)
{
    char path[4400], text[32];
    snprintf(path, sizeof path, "%s/%s", s->snap_dir, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return dflt;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    char *end;
    long long v = strtoll(text, &end, 10);
    return end == text || v < 0 ? dflt : v;
}

static void write_epoch(const struct server *s, const char *name, int64_t v)
{
    char path[4400], tmp[4500], text[32];
    snprintf(path, sizeof path, "%s/%s", s->snap_dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int n = snprintf(text, sizeof text, "%lld\n", (long long)v);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int ok = fd >= 0 && write(fd, text, (size_t)n) == n && fsync(fd) == 0;
    if (fd >= 0)
        close(fd);
    if (!ok || rename(tmp, path)) {
        /* Promises about epochs are what keeps two leaders apart. */
        log_error("cannot write %s: %s; stopping", path, strerror(errno));
        abort();
    }
    int dfd = open(s->snap_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
}

void quorum_set_accepted_epoch(struct quorum *q, int64_t e)
{
    q->accepted_epoch = e;
    write_epoch(q->s, "acceptedEpoch", e);
}

void quorum_set_current_epoch(struct quorum *q, int64_t e)
{
    q->current_epoch = e;
    write_epoch(q->s, "currentEpoch", e);
}

/* ---- message helpers ---- */

static void msg_begin(struct jute_out *o, enum qmsg type)
{
    jute_out_init(o);
    uint8_t t = (uint8_t)type;
    jute_put_raw(o, &t, 1);
}

static void send_long(struct peer_link *l, enum qmsg type, int64_t v)
{
    struct jute_out o;
    msg_begin(&o, type);
    jute_put_long(&o, v);
    peer_send_out(l, &o);
    jute_out_free(&o);
}

static void send_proposal(struct peer_link *l, int64_t zxid, const void *rec, size_t len)
{
    struct jute_out o;
    msg_begin(&o, QM_PROPOSAL);
    jute_put_long(&o, zxid);
    jute_put_raw(&o, rec, len);
    peer_send_out(l, &o);
    jute_out_free(&o);
}

/* ================= leader ================= */

void quorum_learner_drop(struct learner *ln, const char *why)
{
    if (!ln->l)
        return;
    log_info("quorum: dropping server %d (%s): %s", ln->sid, ln->l->desc, why);
    peer_close(ln->l); /* on_learner_close marks it dead */
}

/* The proposals held for a learner while its SNAP streams (quorum_snap_start). */
static void held_free(struct learner *ln)
{
    if (ln->held)
        txnwin_free(ln->held);
    free(ln->held);
    ln->held = NULL;
}

static void free_learner(struct learner *ln)
{
    assert(ln->q->s->db.write_depth == 0); /* walkstream_free may wait for a step */
    walkstream_free(ln->ws);
    held_free(ln);
    if (ln->proxy)
        conn_free_proxy(ln->proxy);
    free(ln);
}

static void sweep_learners(struct quorum *q)
{
    struct learner **pp = &q->learners;
    while (*pp) {
        struct learner *ln = *pp;
        if (learner_live(ln)) {
            pp = &ln->next;
            continue;
        }
        *pp = ln->next;
        free_learner(ln);
    }
}

static void broadcast(struct quorum *q, const struct jute_out *o, enum learner_state min)
{
    for (struct learner *ln = q->learners; ln; ln = ln->next)
        if (learner_live(ln) && ln->st >= min)
            peer_send_out(ln->l, o);
}

static void send_uptodate(struct quorum *q, struct learner *ln)
{
    if (q->apache)
        aleader_uptodate(q, ln);
    else
        send_long(ln->l, QM_UPTODATE, q->commit);
    ln->st = L_ACTIVE;
    log_info("quorum: server %d is in sync (%s, acked 0x%" PRIx64 ")", ln->sid,
             ln_voter(ln) ? "follower" : "observer", (uint64_t)ln->acked);
}

static void establish(struct quorum *q)
{
    struct server *s = q->s;
    quorum_set_current_epoch(q, q->epoch);
    q->established = 1;
    q->commit = s->db.last_zxid;
    server_durable(s, q->commit);
    /* Sessions get a whole timeout to find a member of the new epoch. */
    int64_t id;
    void *v;
    I64MAP_FOREACH(&s->db.sessions.map, id, v) sessions_touch(&s->db.sessions, v, now_ms());
    char who[256] = "";
    size_t n = 0;
    for (struct learner *ln = q->learners; ln; ln = ln->next) {
        if (!learner_live(ln) || ln->st != L_SYNCED || ln->acked < ln->sync_zxid)
            continue;
        n += (size_t)snprintf(who + n, n < sizeof who ? sizeof who - n : 0, " %d", ln->sid);
        send_uptodate(q, ln);
    }
    q->serving = 1;
    svc_ready("leading epoch %lld", (long long)q->epoch);
    /* Our vote now carries the established epoch, as our learners' do (Apache's
     * Leader.startZkServer, ZOOKEEPER-1732): an Apache member that starts looking
     * counts settled votes equal only when their peer epochs match, and would never
     * join a leader that still reports the epoch it was elected in. */
    election_update_epoch(q->el, q->epoch);
    election_settle(q->el, PEER_LEADING, q->myid);
    log_info("quorum: leading epoch %lld from zxid 0x%" PRIx64 " with followers:%s",
             (long long)q->epoch, (uint64_t)q->commit, who);
}


/* The highest zxid a quorum of the voters of configuration `v` has made
 * durable, or -1 if not enough of them are connected. */
static int64_t commit_point(struct quorum *q, const struct zkd_server_line *v, int n)
{
    int64_t vals[ZKD_MAX_SERVERS];
    int ids[ZKD_MAX_SERVERS];
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (v[i].observer)
            continue;
        if (v[i].id == q->myid) {
            ids[k] = q->myid;
            vals[k++] = q->log_durable;
            continue;
        }
        for (struct learner *ln = q->learners; ln; ln = ln->next)
            if (learner_live(ln) && ln->sid == v[i].id && ln->st >= L_SYNCED) {
                ids[k] = ln->sid;
                vals[k++] = ln->acked;
                break;
            }
    }
    return qv_quorum_value(v, n, ids, vals, k); /* quorum_verifier.h */
}

static void reconfig_committed(struct quorum *q, int designated);

/* Advances the commit zxid: a quorum of voters has it on disk (of both the
 * old and the new configuration while a reconfig is pending, as Apache). */
static void update_commit(struct quorum *q)
{
    const struct zkd_config *cfg = &q->s->cfg;
    if (q->designated >= 0)
        return; /* another leads the new membership: Apache's allowedToCommit=false */
    int64_t c = commit_point(q, cfg->servers, cfg->nservers);
    int designated = q->myid;
    if (q->reconfig_zxid) {
        int64_t old = commit_point(q, q->old_servers, q->nold);
        if (old < c)
            c = old;
        /* A reconfig that hands the leadership on is the last commit of
         * ours (Leader.tryToCommit); the designated leader commits what
         * follows it, having acknowledged the most of it. */
        if (q->apache && c >= q->reconfig_zxid &&
            (designated = quorum_designated_leader(q, q->reconfig_zxid)) != q->myid)
            c = q->reconfig_zxid;
    }
    if (c < 0)
        return;
    if (!q->established) {
        /* Everyone counted has acknowledged NEWLEADER (a learner acks only
         * after it), so a quorum holds the whole history. */
        if (q->epoch_decided && c >= q->s->db.last_zxid)
            establish(q);
        return;
    }
    if (c <= q->commit)
        return;
    q->commit = c;
    if (q->bump_state == 2 && c >= q->bump_zxid)
        q->bump_state = 3;
    server_durable(q->s, c);
    if (q->apache) {
        aleader_commit(q, c);
    } else {
        struct jute_out o;
        msg_begin(&o, QM_COMMIT);
        jute_put_long(&o, c);
        broadcast(q, &o, L_SYNCED);
        jute_out_free(&o);
    }
    if (q->reconfig_zxid && c >= q->reconfig_zxid)
        reconfig_committed(q, designated);
}

static void send_linfo(struct quorum *q, struct learner *ln)
{
    if (q->apache) {
        aleader_leaderinfo(q, ln);
        ln->st = L_EPOCH;
        return;
    }
    struct jute_out o;
    msg_begin(&o, QM_LINFO);
    jute_put_long(&o, q->epoch);
    peer_send_out(ln->l, &o);
    jute_out_free(&o);
    ln->st = L_EPOCH;
}

/* A quorum of voters (us included) has told us its accepted epoch: pick a
 * new one above all of them. */
static void maybe_decide_epoch(struct quorum *q)
{
    if (q->epoch_decided)
        return;
    struct qv_set set = {0};
    qv_set_add(&set, q->myid);
    int64_t max = q->accepted_epoch;
    for (struct learner *ln = q->learners; ln; ln = ln->next) {
        if (!learner_live(ln) || !ln_voter(ln) || ln->st < L_INFO)
            continue;
        qv_set_add(&set, ln->sid);
        if (ln->accepted_epoch > max)
            max = ln->accepted_epoch;
    }
    if (!qv_cfg_is_quorum(&q->s->cfg, &set))
        return;
    int n = set.n;
    q->epoch = max + 1;
    quorum_set_accepted_epoch(q, q->epoch);
    q->epoch_decided = 1;
    log_info("quorum: new epoch %lld agreed by %d voters", (long long)q->epoch, n);
    for (struct learner *ln = q->learners; ln; ln = ln->next)
        if (learner_live(ln) && ln->st == L_INFO)
            send_linfo(q, ln);
}

int quorum_sync_plan(struct quorum *q, int64_t peer, size_t *from, int64_t *trunc)
{
    struct txnwin *w = &q->s->win;
    if (peer < 0)
        return TXNWIN_SNAP;
    if (peer == q->s->db.last_zxid) {
        *from = w->n;
        return TXNWIN_DIFF;
    }
    return txnwin_plan(w, peer, from, trunc);
}

/* Sends w's proposals from index `from`, then NEWLEADER: the
 * learner's history now ends at our last zxid, and it receives every
 * proposal from here. */
static void sync_tail(struct quorum *q, struct learner *ln, const struct txnwin *w, size_t from)
{
    struct server *s = q->s;
    for (size_t i = from; i < w->n; i++) {
        const struct txnwin_entry *e = txnwin_at(w, i);
        send_proposal(ln->l, e->zxid, e->rec, e->len);
    }
    struct jute_out o;
    msg_begin(&o, QM_NEWLEADER);
    jute_put_long(&o, q->epoch);
    jute_put_long(&o, s->db.last_zxid);
    peer_send_out(ln->l, &o);
    jute_out_free(&o);
    ln->sync_zxid = s->db.last_zxid;
    ln->st = L_SYNCED;
}

/* Brings a learner whose history ends at `peer` in line with ours: a DIFF
 * or TRUNC at once, a SNAP by stream (quorum_snap_start). */
static void sync_learner(struct quorum *q, struct learner *ln, int64_t peer)
{
    struct server *s = q->s;
    size_t from = 0;
    int64_t trunc = 0;
    if (q->apache) {
        aleader_sync(q, ln, peer);
        return;
    }
    enum txnwin_plan plan = quorum_sync_plan(q, peer, &from, &trunc);
    if (plan == TXNWIN_SNAP) {
        send_long(ln->l, QM_SNAPBEGIN, s->db.last_zxid);
        quorum_snap_start(q, ln);
        return;
    }
    if (plan == TXNWIN_TRUNC)
        send_long(ln->l, QM_TRUNC, trunc);
    log_info("quorum: syncing server %d by %s%" PRIx64 " + %zu transactions", ln->sid,
             plan == TXNWIN_TRUNC ? "truncation to 0x" : "diff from 0x",
             (uint64_t)(plan == TXNWIN_TRUNC ? trunc : peer), s->win.n - from);
    sync_tail(q, ln, &s->win, from);
}

/* ---- SNAP by stream (quorum_int.h) ---- */

/* More of the stream goes to the link only while less than this waits for
 * the socket: the learner's reading paces the walk (walkstream.h). */
#define SNAP_LOW_WATER (128u << 10)
/* What a learner's held proposals may take (as the leader's own window). */
#define SNAP_HELD_BYTES (256u << 20)


/* Bytes of the SNAP stream: raw on Apache's wire, a SNAPREC on zkd's. */
static void snap_send(struct quorum *q, struct learner *ln, const void *p, size_t len)
{
    if (q->apache) {
        peer_send_raw(ln->l, p, len);
        return;
    }
    struct jute_out o;
    msg_begin(&o, QM_SNAPREC);
    jute_put_raw(&o, p, len);
    peer_send_out(ln->l, &o);
    jute_out_free(&o);
}

static void snap_end(struct quorum *q, struct learner *ln)
{
    int64_t z = walkstream_zxid(ln->ws);
    uint64_t nodes = walkstream_nodes(ln->ws);
    walkstream_free(ln->ws); /* its thread has finished */
    ln->ws = NULL;
    ln->l->on_sent = NULL;
    if (ln->held->base != z) {
        quorum_learner_drop(ln, "the proposals held for it outgrew their bound");
        return;
    }
    log_info("quorum: streamed a snapshot at 0x%" PRIx64 " to server %d (%llu znodes), "
             "+ %zu transactions held since",
             (uint64_t)z, ln->sid, (unsigned long long)nodes, ln->held->n);
    struct jute_out sig;
    jute_out_init(&sig);
    jute_put_string(&sig, ZAB_SNAP_SIGNATURE);
    snap_send(q, ln, sig.p, sig.len);
    jute_out_free(&sig);
    if (q->apache)
        aleader_snap_end(q, ln, z, ln->held);
    else {
        send_long(ln->l, QM_SNAPEND, z);
        sync_tail(q, ln, ln->held, 0);
    }
    held_free(ln);
}

/* Hands the link what the walk has queued, while the socket keeps up. */
static void snap_pump(struct learner *ln)
{
    struct quorum *q = ln->q;
    while (learner_live(ln) && ln->ws && peer_queued(ln->l) < SNAP_LOW_WATER) {
        struct jute_out c;
        int rc = walkstream_take(ln->ws, &c);
        if (rc == 0)
            return; /* walkstream's `ready` calls again */
        if (rc < 0) {
            quorum_learner_drop(ln, rc == -EAGAIN ? "an ACL list new since its snapshot began"
                                                  : "its snapshot walk failed");
            return;
        }
        if (rc == 2) {
            snap_end(q, ln);
            return;
        }
        snap_send(q, ln, c.p, c.len);
        jute_out_free(&c);
    }
}

static void on_snap_ready(void *d) { snap_pump(d); }

static void on_snap_sent(struct peer_link *l) { snap_pump(l->owner); }

void quorum_snap_start(struct quorum *q, struct learner *ln)
{
    struct server *s = q->s;
    log_info("quorum: syncing server %d by %s at 0x%" PRIx64 " (its last zxid 0x%" PRIx64
             "), streamed from a walk",
             ln->sid, q->apache ? "SNAP" : "snapshot", (uint64_t)s->db.last_zxid, (uint64_t)ln->last_zxid);
    ln->ws = walkstream_start(s->loop, &s->db, on_snap_ready, ln);
    if (!ln->ws) {
        quorum_learner_drop(ln, "no thread for its snapshot");
        return;
    }
    ln->held = zk_xmalloc(sizeof *ln->held);
    txnwin_init(ln->held, walkstream_zxid(ln->ws), SIZE_MAX, SNAP_HELD_BYTES);
    ln->st = L_STREAMING;
    ln->l->on_sent = on_snap_sent;
}

static void proxy_sink(struct conn *c, const uint8_t *frame, size_t len)
{
    struct learner *ln = c->sink_data;
    struct quorum *q = ln->q;
    if (!learner_live(ln))
        return;
    struct jute_out o;
    msg_begin(&o, QM_REPLY);
    jute_put_long(&o, (int64_t)q->cur_uid);
    uint8_t flags = 0;
    jute_put_raw(&o, &flags, 1);
    jute_put_raw(&o, frame, len);
    peer_send_out(ln->l, &o);
    jute_out_free(&o);
}

static void handle_request(struct quorum *q, struct learner *ln, struct jute_in *in)
{
    struct server *s = q->s;
    int64_t session = jute_get_long(in);
    uint64_t uid = (uint64_t)jute_get_long(in);
    int32_t nauth = jute_get_count(in, 8);
    if (in->err) {
        quorum_learner_drop(ln, "malformed request");
        return;
    }
    if (!ln->proxy)
        ln->proxy = conn_new_proxy(s, proxy_sink, ln);
    struct conn *p = ln->proxy;
    auth_info_free(&p->auth);
    for (int32_t i = 0; i < nauth && !in->err; i++) {
        struct zk_slice scheme = jute_get_string(in), id = jute_get_string(in);
        if (in->err)
            break;
        char *sc = zk_xstrndup(scheme.p, (size_t)scheme.len), *ident = zk_xstrndup(id.p, (size_t)id.len);
        auth_info_add(&p->auth, sc, ident);
        free(sc);
        free(ident);
    }
    if (in->err) {
        quorum_learner_drop(ln, "malformed request");
        return;
    }
    p->session = localsess_for_forwarded(s, session, &ln->foreign);
    p->session_id = session;
    p->state = CONN_READY;
    q->cur_uid = uid;
    server_request_local(s, p, in->p + in->off, jute_in_left(in));
}

static void handle_connect(struct quorum *q, struct learner *ln, struct jute_in *in)
{
    struct server *s = q->s;
    int64_t id = jute_get_long(in);
    uint64_t uid = (uint64_t)jute_get_long(in);
    int32_t timeout = jute_get_int(in);
    if (in->err || !id) {
        quorum_learner_drop(ln, "malformed session request");
        return;
    }
    if (!sessions_get(&s->db.sessions, id)) {
        write_session(s, ZK_OP_CREATESESSION, id, 0, timeout);
    }
    uint8_t pw[16];
    sessions_password(&s->db.sessions, id, pw);
    struct jute_out o;
    msg_begin(&o, QM_REPLY);
    jute_put_long(&o, (int64_t)uid);
    uint8_t flags = 1;
    jute_put_raw(&o, &flags, 1);
    size_t at = o.len;
    jute_put_int(&o, 0); /* frame length, patched */
    jute_put_int(&o, 0); /* protocolVersion */
    jute_put_int(&o, timeout);
    jute_put_long(&o, id);
    jute_put_buffer(&o, pw, 16);
    jute_put_bool(&o, 0);
    jute_patch_int(&o, at, (int32_t)(o.len - at - 4));
    peer_send_out(ln->l, &o);
    jute_out_free(&o);
}

/* A learner's local session becomes global (localsess.h): its createSession
 * is logged before the request that needed it, which follows on the link. */
static void handle_upgrade(struct quorum *q, struct learner *ln, struct jute_in *in)
{
    struct server *s = q->s;
    int64_t id = jute_get_long(in);
    int32_t timeout = jute_get_int(in);
    if (in->err || !id || timeout <= 0) {
        quorum_learner_drop(ln, "malformed session upgrade");
        return;
    }
    if (!sessions_get(&s->db.sessions, id))
        write_session(s, ZK_OP_CREATESESSION, id, 0, timeout);
}

static void handle_pingack(struct quorum *q, struct jute_in *in)
{
    struct server *s = q->s;
    int32_t n = jute_get_count(in, 8);
    for (int32_t i = 0; i < n && !in->err; i++) {
        struct session *se = sessions_get(&s->db.sessions, jute_get_long(in));
        if (se && !se->closing)
            sessions_touch(&s->db.sessions, se, now_ms());
    }
}

static void handle_finfo(struct quorum *q, struct learner *ln, struct jute_in *in)
{
    int sid = jute_get_int(in);
    int observer = jute_get_bool(in);
    ln->accepted_epoch = jute_get_long(in);
    ln->current_epoch = jute_get_long(in);
    ln->last_zxid = jute_get_long(in);
    if (in->err) {
        quorum_learner_drop(ln, "bad server id");
        return;
    }
    quorum_learner_info(q, ln, sid, observer);
}

void quorum_learner_info(struct quorum *q, struct learner *ln, int sid, int observer)
{
    if (sid < 0 || sid == q->myid) {
        quorum_learner_drop(ln, "bad server id");
        return;
    }
    /* A server not in our configuration (one about to join by reconfig)
     * follows as a non-voter; the configuration, not its claim, decides. */
    if (!config_server(&q->s->cfg, sid))
        log_info("quorum: server %d is not in the configuration; it follows as a non-voter", sid);
    for (struct learner *o = q->learners; o; o = o->next)
        if (o != ln && learner_live(o) && o->sid == sid)
            quorum_learner_drop(o, "it connected again");
    ln->sid = sid;
    ln->observer = observer;
    ln->st = L_INFO;
    snprintf(ln->l->desc, sizeof ln->l->desc, "server %d", sid);
    if (q->role != R_LEADING)
        return;
    if (q->epoch_decided) {
        if (ln->accepted_epoch > q->epoch) {
            quorum_learner_drop(ln, "it promised a newer epoch");
            return;
        }
        send_linfo(q, ln);
    } else {
        maybe_decide_epoch(q);
    }
}

static void handle_ackepoch(struct quorum *q, struct learner *ln, struct jute_in *in)
{
    int64_t cur = jute_get_long(in), last = jute_get_long(in);
    if (in->err) {
        quorum_learner_drop(ln, "unexpected ACKEPOCH");
        return;
    }
    quorum_learner_ackepoch(q, ln, cur, last);
}

void quorum_learner_ackepoch(struct quorum *q, struct learner *ln, int64_t cur, int64_t last)
{
    struct server *s = q->s;
    if (ln->st != L_EPOCH) {
        quorum_learner_drop(ln, "unexpected ACKEPOCH");
        return;
    }
    if (ln_voter(ln) && !q->established &&
        (cur > q->current_epoch || (cur == q->current_epoch && last > s->db.last_zxid))) {
        quorum_schedule_look(q, "server %d has a more recent history (epoch %lld, zxid 0x%" PRIx64
                         ") than ours (epoch %lld, zxid 0x%" PRIx64 ")",
                      ln->sid, (long long)cur, (uint64_t)last, (long long)q->current_epoch,
                      (uint64_t)s->db.last_zxid);
        return;
    }
    sync_learner(q, ln, last);
}

static void handle_ack(struct quorum *q, struct learner *ln, struct jute_in *in)
{
    int64_t z = jute_get_long(in);
    if (!in->err)
        quorum_learner_acked(q, ln, z);
}

void quorum_learner_acked(struct quorum *q, struct learner *ln, int64_t z)
{
    if (ln->st < L_SYNCED)
        return;
    if (z > ln->acked)
        ln->acked = z;
    if (q->established && ln->st == L_SYNCED && ln->acked >= ln->sync_zxid)
        send_uptodate(q, ln);
    if (ln_voter(ln) || q->reconfig_zxid)
        update_commit(q);
}

static void on_learner_msg(struct peer_link *l, const uint8_t *p, size_t len)
{
    struct learner *ln = l->owner;
    struct quorum *q = ln->q;
    if (!len || (q->role != R_LEADING && !(q->role == R_LOOKING && p[0] == QM_FINFO))) {
        quorum_learner_drop(ln, "message while not leading");
        return;
    }
    struct jute_in in;
    jute_in_init(&in, p + 1, len - 1);
    if (p[0] != QM_FINFO && ln->st == L_NEW) {
        quorum_learner_drop(ln, "did not introduce itself");
        return;
    }
    switch (p[0]) {
    case QM_FINFO:
        handle_finfo(q, ln, &in);
        break;
    case QM_ACKEPOCH:
        handle_ackepoch(q, ln, &in);
        break;
    case QM_ACK:
        handle_ack(q, ln, &in);
        break;
    case QM_REQUEST:
        if (q->established)
            handle_request(q, ln, &in);
        break;
    case QM_CONNECT:
        if (q->established)
            handle_connect(q, ln, &in);
        break;
    case QM_PINGACK:
        handle_pingack(q, &in);
        break;
    case QM_UPGRADE:
        if (q->established)
            handle_upgrade(q, ln, &in);
        break;
    default:
        quorum_learner_drop(ln, "unknown message type");
    }
}

static void on_learner_close(struct peer_link *l, int status)
{
    struct learner *ln = l->owner;
    (void)status;
    ln->l = NULL;
    if (ln->sid >= 0 && !ln->q->stopping)
        log_info("quorum: lost the link to server %d", ln->sid);
}

static void on_quorum_connection(uv_stream_t *listener, int status)
{
    struct quorum *q = listener->data;
    if (status < 0)
        return;
    struct learner *ln = zk_xcalloc(1, sizeof *ln);
    ln->q = q;
    ln->sid = -1;
    ln->l = peer_accept(listener, ln, q->apache ? aleader_on_msg : on_learner_msg,
                        on_learner_close);
    if (!ln->l) {
        free(ln);
        return;
    }
    if (q->apache)
        aleader_accepted(ln);
    if (q->role != R_LEADING && q->role != R_LOOKING) {
        peer_close(ln->l);
        free(ln);
        return;
    }
    /* While looking, a member that already chose us may introduce itself;
     * keep it until we know whether we lead. */
    ln->next = q->learners;
    q->learners = ln;
}

/* Read-only clients go once this member rejoins a quorum: they should
 * reconnect as ordinary sessions. */
static void close_readonly_clients(struct server *s)
{
    struct conn *next;
    for (struct conn *c = s->conns; c; c = next) {
        next = c->next;
        if (c->readonly)
            conn_close(c);
    }
}

static void lead(struct quorum *q)
{
    close_readonly_clients(q->s);
    q->role = R_LEADING;
    q->leader_id = q->myid;
    q->epoch_decided = q->established = 0;
    q->deadline = now_ms() + (int64_t)q->s->cfg.init_limit * q->s->cfg.tick_time;
    election_settle(q->el, PEER_LEADING, q->myid);
    log_info("quorum: trying to lead (last zxid 0x%" PRIx64 ", accepted epoch %lld)",
             (uint64_t)q->s->db.last_zxid, (long long)q->accepted_epoch);
    maybe_decide_epoch(q); /* a one-voter ensemble needs nobody */
    update_commit(q);
}

/* How long learner ln may stay silent.  Until it has acknowledged NEWLEADER
 * it is still loading what the sync sent (a JVM learner, or a big DIFF, can
 * take seconds): Apache's LearnerHandler gives it initLimit + syncLimit
 * ticks (getTickOfInitialAckDeadline), then syncLimit per ack. */
static int64_t silence_limit_ms(const struct quorum *q, const struct learner *ln)
{
    const struct zkd_config *cfg = &q->s->cfg;
    int64_t ticks = ln->st == L_ACTIVE ? cfg->sync_limit : (int64_t)cfg->init_limit + cfg->sync_limit;
    return ticks * cfg->tick_time;
}

static void leader_tick(struct quorum *q)
{
    int64_t now = now_ms();
    sweep_learners(q);
    if (!q->established) {
        if (now > q->deadline)
            quorum_schedule_look(q, "no quorum followed within initLimit");
        return;
    }
    if (q->apache) {
        aleader_ping(q);
    } else {
        struct jute_out o;
        msg_begin(&o, QM_PING);
        jute_put_long(&o, q->commit);
        broadcast(q, &o, L_SYNCED);
        jute_out_free(&o);
    }
    struct qv_set alive = {0};
    qv_set_add(&alive, q->myid);
    for (struct learner *ln = q->learners; ln; ln = ln->next)
        if (learner_live(ln) && ln_voter(ln) && ln->st >= L_SYNCED &&
            now - ln->l->last_heard_ms <= silence_limit_ms(q, ln))
            qv_set_add(&alive, ln->sid);
    if (qv_cfg_is_quorum(&q->s->cfg, &alive))
        ;
    else if (q->designated >= 0)
        /* Our learners left for the designated leader (Apache's leader
         * shuts down on losing them, then follows its vote). */
        quorum_rejoin(q, q->designated, "the designated leader %d leads the new membership; "
                      "following it", q->designated);
    else
        quorum_schedule_look(q, "lost the quorum: %d of %d voters heard within syncLimit", alive.n,
                      q->nvoters);
    for (struct learner *ln = q->learners; ln; ln = ln->next)
        if (learner_live(ln) && ln->st >= L_SYNCED &&
            now - ln->l->last_heard_ms > silence_limit_ms(q, ln))
            quorum_learner_drop(ln, ln->st == L_ACTIVE ? "silent for longer than syncLimit"
                                                       : "no NEWLEADER ACK within initLimit");
}

/* ================= learner ================= */

static void pending_push(struct quorum *q, struct pending *p)
{
    p->next = NULL;
    if (q->qtail)
        q->qtail->next = p;
    else
        q->qhead = p;
    q->qtail = p;
}

static struct pending *pending_new(size_t len)
{
    struct pending *p = zk_xmalloc(sizeof *p + len);
    memset(p, 0, sizeof *p);
    p->len = len;
    return p;
}

/* ---- the audit lines of forwarded writes (audit.h) ---- */

/* Keeps a copy of the client frame `p` (xid, type, body) being forwarded, if
 * the audit log wants its line once the reply is back. */
void quorum_audit_keep(struct conn *c, const uint8_t *p, size_t len)
{
    if (!audit_on || len < 8)
        return;
    int32_t type = (int32_t)zk_be32_get(p + 4);
    if (type == ZK_OP_CLOSESESSION) /* (logged now, as the leader would before applying it) */
        audit_session_event(c->session_id, &c->auth, "closeSession", AUDIT_SUCCESS);
    if (!audit_forwarded_type(type))
        return;
    struct held_req *h = zk_xmalloc(sizeof *h + len);
    h->next = NULL;
    h->type = type;
    h->len = len;
    memcpy(h->data, p, len);
    if (c->audit_fwd_tail)
        c->audit_fwd_tail->next = h;
    else
        c->audit_fwd = h;
    c->audit_fwd_tail = h;
}

/* The reply frame `f` (length prefix included) to one of c's forwarded
 * requests came back: writes the audit lines of the kept request it answers.
 * Replies come in request order, so a kept request older than the reply
 * never got one (the leader went away). */
void quorum_audit_replied(struct conn *c, const uint8_t *f, size_t len)
{
    if (!c->audit_fwd || len < 8)
        return;
    int32_t xid = (int32_t)zk_be32_get(f + 4);
    struct held_req *h;
    while ((h = c->audit_fwd)) {
        int32_t kept = (int32_t)zk_be32_get(h->data);
        if (kept != xid && (int32_t)((uint32_t)xid - (uint32_t)kept) < 0)
            return; /* a reply to a request not kept */
        c->audit_fwd = h->next;
        if (!c->audit_fwd)
            c->audit_fwd_tail = NULL;
        if (kept == xid)
            audit_forwarded(c->session_id, &c->auth, h->data, h->len, f + 4, len - 4);
        free(h);
        if (kept == xid)
            return;
    }
}

/* Apache's DataTree.killSession logs every ephemeral a closing session
 * loses, on every member: a learner applying a closeSession logs them as
 * the leader did when it ran it (the record lists them). */
static void audit_closed_session(const uint8_t *rec, size_t len)
{
    struct txn t;
    if (txn_decode(rec, len, &t))
        return;
    for (int i = 0; i < t.nops; i++)
        audit_ephemeral_deleted(t.session, t.ops[i].path);
    txn_free(&t);
}

static void apply_committed_txn(struct quorum *q, int64_t zxid, const uint8_t *rec, size_t len)
{
    struct server *s = q->s;
    struct conn *closing = NULL;
    /* (TxnHeader: the session id first, the type last) */
    int close_session = len >= TXN_HEADER &&
                        (int32_t)zk_be32_get(rec + TXN_HEADER - 4) == ZK_OP_CLOSESESSION;
    if (close_session) {
        struct session *se = sessions_get(&s->db.sessions, (int64_t)zk_be64_get(rec));
        closing = se ? se->conn : NULL;
    }
    if (write_apply_committed(s, zxid, rec, len)) {
        log_error("quorum: proposal 0x%" PRIx64 " does not decode; stopping", (uint64_t)zxid);
        abort();
    }
    if (audit_on && close_session)
        audit_closed_session(rec, len);
    server_count_txn(s);
    if (q->apache && q->serving) /* (leave_role applies what it logged: no replies) */
        alearner_reply_forwarded(q, zxid, rec, len);
    /* (an expired session's connection; or, Apache's wire, our forwarded
     * closeSession just answered) */
    if (closing && !closing->fwd_pending)
        conn_close_after_flush(closing);
}

/* An Apache learner's createSession REQUEST for c's session (Learner:
 * the request body is the session's timeout). */
static void forward_create_session(struct quorum *q, struct conn *c, int32_t timeout)
{
    uint8_t to[4];
    zk_be32_put(to, (uint32_t)timeout);
    alearner_forward(q, c, ZK_OP_CREATESESSION, to, sizeof to);
}

/*
 * Before forwarding an ephemeral create of one of our local sessions
 * (localsess.h), with upgrading on: the session turns global here and its
 * createSession goes to the leader first, as Apache's learner sends it (a
 * createSession REQUEST to an Apache leader, UPGRADE to ours).  Without
 * upgrading the request goes as it is and the leader refuses it (prep.c;
 * an Apache leader's SESSIONEXPIRED becomes -120 in zab_reply.c).
 */
static void upgrade_before_forward(struct quorum *q, struct conn *c, const uint8_t *p, size_t len)
{
    struct server *s = q->s;
    if (!c->session || c->session->local != SESSION_LOCAL || !s->cfg.local_sessions_upgrading ||
        !localsess_wants_global(p, len))
        return;
    int32_t timeout = localsess_begin_upgrade(s, c->session);
    if (q->apache) {
        forward_create_session(q, c, timeout);
        return;
    }
    struct jute_out o;
    msg_begin(&o, QM_UPGRADE);
    jute_put_long(&o, c->session->id);
    jute_put_int(&o, timeout);
    peer_send_out(q->leader, &o);
    jute_out_free(&o);
}

static void forward(struct quorum *q, struct conn *c, const uint8_t *p, size_t len)
{
    upgrade_before_forward(q, c, p, len);
    if (q->apache) {
        alearner_forward(q, c, len >= 8 ? (int32_t)zk_be32_get(p + 4) : 0, p, len);
        return;
    }
    struct jute_out o;
    msg_begin(&o, QM_REQUEST);
    jute_put_long(&o, c->session_id);
    jute_put_long(&o, (int64_t)c->uid);
    jute_put_int(&o, c->auth.n);
    for (int i = 0; i < c->auth.n; i++) {
        jute_put_string(&o, c->auth.ids[i].scheme);
        jute_put_string(&o, c->auth.ids[i].id);
    }
    jute_put_raw(&o, p, len);
    peer_send_out(q->leader, &o);
    jute_out_free(&o);
    quorum_audit_keep(c, p, len);
    c->fwd_pending++;
    i64map_put(&q->fwd, (int64_t)c->uid, c);
}

/* (a local session closes here, without the leader: localsess.h) */
static int is_forwarded(const struct conn *c, int32_t type)
{
    if (type == ZK_OP_CLOSESESSION)
        return !c->session || c->session->local != SESSION_LOCAL;
    return prep_is_write(type) || type == ZK_OP_MULTI || type == ZK_OP_SYNC ||
           type == ZK_OP_RECONFIG;
}

/* Runs held requests of `c` until one must wait for a forwarded write. */
void quorum_drain_held(struct quorum *q, struct conn *c)
{
    while (c->held && c->state == CONN_READY && !c->listing) { /* (listing.h) */
        struct held_req *h = c->held;
        if (is_forwarded(c, h->type)) {
            c->held = h->next;
            forward(q, c, h->data, h->len);
            free(h);
            continue;
        }
        if (c->fwd_pending)
            break;
        c->held = h->next;
        server_request_local(q->s, c, h->data, h->len);
        free(h);
    }
    if (!c->held)
        c->held_tail = NULL;
}

static void deliver_reply(struct quorum *q, struct pending *p)
{
    struct server *s = q->s;
    struct conn *c = i64map_get(&q->fwd, (int64_t)p->uid);
    if (!c)
        return;
    if (p->flags & 1) {
        struct session *se = sessions_get(&s->db.sessions, c->session_id);
        if (se) {
            server_attach(s, c, se);
            audit_session_event(se->id, &c->auth, "createSession", AUDIT_SUCCESS);
        }
    } else {
        if (p->len >= 20) { /* ReplyHeader after the length prefix: xid, zxid, err */
            int32_t err = (int32_t)zk_be32_get(p->data + 16);
            zk_be32_put(p->data + 16, (uint32_t)zab_reply_local_error(c, err));
        }
        quorum_audit_replied(c, p->data, p->len);
    }
    conn_put_frame(c, p->data, p->len, s->db.last_zxid);
    if (c->fwd_pending > 0)
        c->fwd_pending--;
    if (!c->fwd_pending)
        i64map_del(&q->fwd, (int64_t)p->uid);
    quorum_drain_held(q, c);
    if (!c->session && !c->fwd_pending && c->state == CONN_READY)
        conn_close_after_flush(c);
}

/* Applies queued proposals up to the commit zxid and delivers the replies
 * between them, in order. */
static void apply_queue(struct quorum *q)
{
    while (q->qhead) {
        struct pending *p = q->qhead;
        if (!p->is_reply && p->zxid > q->commit)
            break;
        q->qhead = p->next;
        if (!q->qhead)
            q->qtail = NULL;
        if (p->is_reply)
            deliver_reply(q, p);
        else if (p->zxid > q->s->db.last_zxid)
            apply_committed_txn(q, p->zxid, p->data, p->len);
        free(p);
    }
    server_durable(q->s, q->commit);
}

void quorum_learner_commit(struct quorum *q, int64_t c)
{
    if (c > q->commit)
        q->commit = c;
    if (q->phase >= F_NEWLEADER)
        apply_queue(q);
}

static void send_ack(struct quorum *q)
{
    if (q->apache) {
        alearner_send_acks(q);
        return;
    }
    if (q->leader && q->phase >= F_NEWLEADER && q->log_durable >= q->newleader_zxid)
        send_long(q->leader, QM_ACK, q->log_durable);
}

void quorum_learner_fail(struct quorum *q, const char *why)
{
    quorum_schedule_look(q, "leaving leader %d: %s", q->leader_id, why);
}

static void handle_linfo(struct quorum *q, struct jute_in *in)
{
    int64_t epoch = jute_get_long(in);
    if (in->err) {
        quorum_learner_fail(q, "malformed LEADERINFO");
        return;
    }
    if (epoch < q->accepted_epoch) {
        quorum_learner_fail(q, "its epoch is older than one we promised");
        return;
    }
    if (epoch > q->accepted_epoch)
        quorum_set_accepted_epoch(q, epoch);
    q->epoch = epoch;
    struct jute_out o;
    msg_begin(&o, QM_ACKEPOCH);
    jute_put_long(&o, q->current_epoch);
    jute_put_long(&o, q->need_snap ? -1 : q->logged);
    peer_send_out(q->leader, &o);
    jute_out_free(&o);
    q->phase = F_EPOCH_ACKED;
}

void quorum_truncate(struct quorum *q, int64_t z)
{
    struct server *s = q->s;
    if (s->snap_zxid > z) {
        q->need_snap = 1;
        quorum_learner_fail(q, "asked to truncate below our newest snapshot; "
                               "will ask for a snapshot");
        return;
    }
    log_info("quorum: truncating our history after 0x%" PRIx64 " (leader %d)", (uint64_t)z,
             q->leader_id);
    if (server_truncate(s, z)) {
        quorum_learner_fail(q, "truncation failed");
        return;
    }
    q->logged = q->log_durable = s->db.last_zxid;
}

/* The leader's snapshot at `z` was loaded (server_image_begin .. here):
 * stores it, or fails the learner. */
static void snapshot_loaded(struct quorum *q, int64_t z)
{
    struct server *s = q->s;
    if (server_image_end(s, z)) {
        q->need_snap = 1;
        quorum_learner_fail(q, "could not store the snapshot");
        return;
    }
    q->need_snap = 0;
    q->logged = q->log_durable = z;
    /* An Apache leader's snapshot is its committed tree (it applies a txn
     * on commit), so it is committed: without this a learner that synced
     * by snapshot held every reply, even a ConnectResponse, behind the gate
     * until the epoch's first commit.  (zkd's leader applies on proposal.) */
    if (q->apache && z > q->commit)
        q->commit = z;
    log_info("quorum: loaded the leader's snapshot at 0x%" PRIx64 " (%llu znodes)", (uint64_t)z,
             (unsigned long long)tree_node_count(s->db.tree));
}

void quorum_load_snap_stream(struct quorum *q, const uint8_t *p, size_t len, int64_t z, int fuzzy)
{
    struct server *s = q->s;
    size_t body = 0, used = 0;
    server_image_begin(s);
    if (zab_snap_frame(p, len, &body) != (long)len ||
        db_load_snapshot_body(&s->db, p, body, &used, clock_mono_ms()) || used != body) {
        quorum_learner_fail(q, "the leader's snapshot does not load");
        return;
    }
    s->digest_fuzzy = fuzzy; /* before the snapshot at `z` is written (server.c produce) */
    snapshot_loaded(q, z);
}

static void snap_buf_drop(struct quorum *q)
{
    jute_out_free(&q->snap_buf);
    q->snap_buf_zxid = -1;
}

/* The epoch a NEWEPOCH proposal announces, or 0 for any other record. */
static int64_t newepoch_of(const void *rec, size_t len)
{
    if (txn_peek_type(rec) != ZK_OP_ERROR)
        return 0;
    struct txn t;
    if (txn_decode(rec, len, &t))
        return 0;
    int64_t epoch = t.type == TXN_NEWEPOCH ? t.epoch : 0;
    txn_free(&t);
    return epoch;
}

static void handle_proposal(struct quorum *q, struct jute_in *in)
{
    int64_t zxid = jute_get_long(in);
    if (in->err || q->phase < F_EPOCH_ACKED) {
        quorum_learner_fail(q, "unexpected proposal");
        return;
    }
    quorum_log_proposal(q, zxid, in->p + in->off, jute_in_left(in));
}

/* A proposal from the leader (either wire): logged, queued for its commit. */
void quorum_log_proposal(struct quorum *q, int64_t zxid, const uint8_t *rec, size_t len)
{
    struct server *s = q->s;
    if (zxid <= q->logged)
        return;
    if (!len) {
        quorum_learner_fail(q, "empty proposal");
        return;
    }
    if (len < TXN_HEADER || txn_peek_zxid(rec) != zxid) {
        quorum_learner_fail(q, "malformed proposal");
        return;
    }
    int64_t epoch = newepoch_of(rec, len);
    if (epoch) {
        /* Promise the leader's next epoch before acknowledging it. */
        if (epoch <= q->epoch) {
            quorum_learner_fail(q, "malformed NEWEPOCH");
            return;
        }
        if (epoch > q->accepted_epoch)
            quorum_set_accepted_epoch(q, epoch);
    }
    if ((zxid >> 32) > q->epoch) {
        if ((zxid >> 32) > q->accepted_epoch) {
            quorum_learner_fail(q, "proposal from an epoch we never promised");
            return;
        }
        q->epoch = zxid >> 32;
        quorum_set_current_epoch(q, q->epoch);
    }
    txnlog_append(s->log, zxid, rec, len);
    txnwin_push(&s->win, zxid, rec, len);
    q->logged = zxid;
    struct pending *p = pending_new(len);
    p->zxid = zxid;
    memcpy(p->data, rec, len);
    pending_push(q, p);
}

static void handle_reply(struct quorum *q, struct jute_in *in)
{
    uint64_t uid = (uint64_t)jute_get_long(in);
    int flags = in->off < in->len ? in->p[in->off++] : 0;
    if (in->err) {
        quorum_learner_fail(q, "malformed reply");
        return;
    }
    size_t len = jute_in_left(in);
    struct pending *p = pending_new(len);
    p->is_reply = 1;
    p->uid = uid;
    p->flags = flags;
    memcpy(p->data, in->p + in->off, len);
    pending_push(q, p);
    if (q->phase >= F_SERVING)
        apply_queue(q);
}

static void send_pingack(struct quorum *q)
{
    struct server *s = q->s;
    int64_t since = q->last_report_ms;
    q->last_report_ms = now_ms();
    struct jute_out o;
    msg_begin(&o, QM_PINGACK);
    size_t at = o.len;
    jute_put_int(&o, 0);
    int32_t n = 0;
    for (struct conn *c = s->conns; c; c = c->next)
        if (c->session && localsess_leader_tracks(c->session) && c->active_ms >= since) {
            jute_put_long(&o, c->session->id);
            n++;
        }
    jute_patch_int(&o, at, n);
    peer_send_out(q->leader, &o);
    jute_out_free(&o);
}

static void on_leader_msg(struct peer_link *l, const uint8_t *p, size_t len)
{
    struct quorum *q = l->owner;
    if (!len || q->leader != l)
        return;
    struct jute_in in;
    jute_in_init(&in, p + 1, len - 1);
    switch (p[0]) {
    case QM_LINFO:
        handle_linfo(q, &in);
        break;
    case QM_TRUNC: {
        int64_t z = jute_get_long(&in);
        if (!in.err && q->phase == F_EPOCH_ACKED)
            quorum_truncate(q, z);
        else
            quorum_learner_fail(q, "unexpected TRUNC");
        break;
    }
    case QM_SNAPBEGIN: {
        int64_t z = jute_get_long(&in);
        if (in.err || q->phase != F_EPOCH_ACKED || q->snap_buf_zxid >= 0) {
            quorum_learner_fail(q, "unexpected snapshot");
            break;
        }
        jute_out_init(&q->snap_buf);
        q->snap_buf_zxid = z;
        break;
    }
    case QM_SNAPREC:
        if (q->snap_buf_zxid < 0) {
            quorum_learner_fail(q, "unexpected snapshot bytes");
            break;
        }
        jute_put_raw(&q->snap_buf, in.p, in.len);
        break;
    case QM_SNAPEND: {
        int64_t z = jute_get_long(&in);
        if (in.err || z != q->snap_buf_zxid || z < 0) {
            quorum_learner_fail(q, "unexpected end of snapshot");
            break;
        }
        /* Fuzzy: the leader walked its tree while writes went on. */
        quorum_load_snap_stream(q, q->snap_buf.p, q->snap_buf.len, z, 1);
        snap_buf_drop(q);
        break;
    }
    case QM_PROPOSAL:
        handle_proposal(q, &in);
        break;
    case QM_NEWLEADER: {
        int64_t epoch = jute_get_long(&in), z = jute_get_long(&in);
        if (in.err || q->phase != F_EPOCH_ACKED || epoch != q->epoch) {
            quorum_learner_fail(q, "unexpected NEWLEADER");
            break;
        }
        if (epoch > q->current_epoch)
            quorum_set_current_epoch(q, epoch);
        q->newleader_zxid = z;
        q->phase = F_NEWLEADER;
        send_ack(q);
        break;
    }
    case QM_UPTODATE: {
        int64_t c = jute_get_long(&in);
        if (in.err || q->phase != F_NEWLEADER) {
            quorum_learner_fail(q, "unexpected UPTODATE");
            break;
        }
        q->phase = F_SERVING;
        q->serving = 1;
        svc_ready("%s leader %d in epoch %lld", q->voter ? "following" : "observing",
                  q->leader_id, (long long)q->epoch);
        q->last_report_ms = now_ms();
        election_settle(q->el, q->voter ? PEER_FOLLOWING : PEER_OBSERVING, q->leader_id);
        log_info("quorum: %s leader %d in epoch %lld, serving from zxid 0x%" PRIx64,
                 q->voter ? "following" : "observing", q->leader_id, (long long)q->epoch,
                 (uint64_t)c);
        quorum_learner_commit(q, c);
        break;
    }
    case QM_COMMIT: {
        int64_t c = jute_get_long(&in);
        if (!in.err)
            quorum_learner_commit(q, c);
        break;
    }
    case QM_PING: {
        int64_t c = jute_get_long(&in);
        if (!in.err && q->phase >= F_NEWLEADER)
            quorum_learner_commit(q, c);
        send_pingack(q);
        break;
    }
    case QM_REPLY:
        handle_reply(q, &in);
        break;
    default:
        quorum_learner_fail(q, "unknown message from the leader");
    }
}

/* A leader just elected may not listen on its quorum port yet (an Apache
 * leader opens it only once it has set itself up, a few hundred ms after
 * the election on a loaded machine): as Apache's Learner.connectToLeader,
 * a refused connect is tried again, LEADER_DIAL_TRIES times in all, a tick
 * apart (at least LEADER_DIAL_GAP_MS, Apache's leaderConnectDelayDuringRetryMs),
 * within initLimit (learner_tick), before the election runs again. */
#define LEADER_DIAL_TRIES 5
#define LEADER_DIAL_GAP_MS 100

static void dial_leader(struct quorum *q);

static void on_leader_close(struct peer_link *l, int status)
{
    struct quorum *q = l->owner;
    if (q->leader != l)
        return;
    q->leader = NULL;
    if (q->stopping)
        return;
    if (!l->connected && q->phase == F_CONNECTING && ++q->dial_tries < LEADER_DIAL_TRIES) {
        log_info("quorum: cannot connect to leader %d (%s), try %d of %d", q->leader_id,
                 status ? uv_strerror(status) : "closed", q->dial_tries, LEADER_DIAL_TRIES);
        q->dial_at = now_ms() + LEADER_DIAL_GAP_MS;
        return;
    }
    quorum_learner_fail(q, status ? uv_strerror(status) : "link closed");
}

static void on_leader_connect(struct peer_link *l, int status)
{
    struct quorum *q = l->owner;
    if (status || q->leader != l)
        return;
    struct jute_out o;
    msg_begin(&o, QM_FINFO);
    jute_put_int(&o, q->myid);
    jute_put_bool(&o, !q->voter);
    jute_put_long(&o, q->accepted_epoch);
    jute_put_long(&o, q->current_epoch);
    jute_put_long(&o, q->need_snap ? -1 : q->logged);
    peer_send_out(l, &o);
    jute_out_free(&o);
    q->phase = F_INFO_SENT;
}

static void follow(struct quorum *q, int leader)
{
    close_readonly_clients(q->s);
    for (struct learner *ln = q->learners; ln; ln = ln->next)
        quorum_learner_drop(ln, "we follow another leader");
    sweep_learners(q);
    q->role = q->voter ? R_FOLLOWING : R_OBSERVING;
    q->leader_id = leader;
    q->phase = F_CONNECTING;
    q->commit = 0; /* the new leader tells us what is committed */
    q->deadline = now_ms() + (int64_t)q->s->cfg.init_limit * q->s->cfg.tick_time;
    q->dial_tries = 0;
    alearner_reset(q);
    snap_buf_drop(q);
    dial_leader(q);
    if (!q->leader) {
        quorum_schedule_look(q, "cannot reach leader %d", leader);
        return;
    }
    election_settle(q->el, q->voter ? PEER_FOLLOWING : PEER_OBSERVING, leader);
}

/* Connects to leader q->leader_id's quorum port (q->leader; NULL when its
 * address does not resolve). */
static void dial_leader(struct quorum *q)
{
    const struct zkd_server_line *line = config_server(&q->s->cfg, q->leader_id);
    q->dial_at = 0;
    q->leader = line ? peer_connect(q->s->loop, line->host, line->quorum_port, q,
                                    q->apache ? alearner_on_connect : on_leader_connect,
                                    q->apache ? alearner_on_msg : on_leader_msg, on_leader_close)
                     : NULL;
    if (!q->leader)
        return;
    if (q->apache)
        alearner_link_up(q->leader);
    snprintf(q->leader->desc, sizeof q->leader->desc, "leader %d (%s:%d)", q->leader_id,
             line->host, line->quorum_port);
}

static void learner_tick(struct quorum *q)
{
    int64_t now = now_ms();
    if (q->phase < F_SERVING) {
        if (now > q->deadline) {
            quorum_learner_fail(q, "not in sync within initLimit");
        } else if (!q->leader && q->dial_at && now >= q->dial_at) {
            dial_leader(q);
            if (!q->leader)
                quorum_learner_fail(q, "cannot reach the leader");
        }
        return;
    }
    int64_t limit = (int64_t)q->s->cfg.sync_limit * q->s->cfg.tick_time;
    if (q->leader && now - q->leader->last_heard_ms > limit)
        quorum_learner_fail(q, "silent for longer than syncLimit");
}

/* ================= roles ================= */

/* Stops serving and drops the links of the current role.  The tree stays
 * equal to the log: a learner applies what it has logged (a new leader's
 * sync will truncate whatever of it was never committed). */
static void leave_role(struct quorum *q)
{
    struct server *s = q->s;
    q->serving = 0;
    q->designated = -1;
    q->activate_zxid = 0; /* (what is applied below names no leader to go to) */
    server_close_clients(s);
    localsess_drop_all(s);
    for (struct learner *ln = q->learners; ln; ln = ln->next)
        if (learner_live(ln))
            peer_close(ln->l);
    sweep_learners(q);
    q->epoch_decided = q->established = 0;
    q->bump_state = 0;
    q->reconfig_zxid = 0;
    aleader_reset(q);
    if (q->leader) {
        struct peer_link *l = q->leader;
        q->leader = NULL;
        peer_close(l);
    }
    while (q->qhead) {
        struct pending *p = q->qhead;
        q->qhead = p->next;
        if (!p->is_reply && p->zxid > s->db.last_zxid)
            apply_committed_txn(q, p->zxid, p->data, p->len);
        free(p);
    }
    q->qtail = NULL;
    i64map_free(&q->fwd);
    i64map_free(&q->fwd_orphans);
    q->phase = F_CONNECTING;
    if (q->logged < s->db.last_zxid)
        q->logged = s->db.last_zxid;
}

static void on_transition(uv_timer_t *t)
{
    struct quorum *q = t->data;
    enum action a = q->action;
    q->action = A_NONE;
    if (q->stopping)
        return;
    if (a == A_LOOK) {
        log_info("quorum: %s", q->look_reason);
        leave_role(q);
        q->role = R_LOOKING;
        q->looking_since = now_ms();
        election_look(q->el, q->logged, q->current_epoch);
    } else if (a == A_LEAD && q->role == R_LOOKING) {
        lead(q);
    } else if (a == A_FOLLOW && q->role == R_LOOKING) {
        follow(q, q->action_leader);
    } else if (a == A_REJOIN) {
        log_info("quorum: %s", q->look_reason);
        leave_role(q);
        q->role = R_LOOKING;
        q->looking_since = now_ms();
        if (q->action_leader == q->myid)
            lead(q);
        else
            follow(q, q->action_leader); /* (looks if it cannot) */
    }
}

static void schedule(struct quorum *q, enum action a)
{
    q->action = a;
    /* Apache's wire: a leader that keeps refusing us is not retried in a
     * tight loop (Apache's own learners wait as long). */
    uv_timer_start(&q->transition, on_transition, q->apache && a == A_LOOK ? 200 : 0, 0);
}

/* Why the role is left (logged when the transition runs). */
static void set_look_reason(struct quorum *q, const char *fmt, va_list ap)
{
    vsnprintf(q->look_reason, sizeof q->look_reason, fmt, ap);
}

void quorum_schedule_look(struct quorum *q, const char *fmt, ...)
{
    /* (A_REJOIN stays: the link to the leader we leave may close first) */
    if (q->action == A_LOOK || q->action == A_REJOIN || (q->role == R_LOOKING && q->action == A_NONE))
        return;
    va_list ap;
    va_start(ap, fmt);
    set_look_reason(q, fmt, ap);
    va_end(ap);
    /* From now on nothing is served, though the role ends only when the
     * transition runs: a request arriving meanwhile must not be taken as a
     * standalone server's. */
    q->serving = 0;
    schedule(q, A_LOOK);
}

void quorum_rejoin(struct quorum *q, int leader, const char *fmt, ...)
{
    if (q->action == A_REJOIN)
        return;
    va_list ap;
    va_start(ap, fmt);
    set_look_reason(q, fmt, ap);
    va_end(ap);
    q->serving = 0;
    q->action_leader = leader;
    q->action = A_REJOIN;
    uv_timer_start(&q->transition, on_transition, 0, 0);
}

static void on_decided(struct election *e, int leader, void *data)
{
    struct quorum *q = data;
    (void)e;
    q->action_leader = leader;
    schedule(q, leader == q->myid ? A_LEAD : A_FOLLOW);
}

static void on_tick(uv_timer_t *t)
{
    struct quorum *q = t->data;
    if (q->role == R_LEADING)
        leader_tick(q);
    else if (q->role != R_LOOKING)
        learner_tick(q);
}

/* ================= API ================= */

static void free_handle(uv_handle_t *h) { free(h); }

static int same_quorum_address(const struct zkd_server_line *a, const struct zkd_server_line *b)
{
    return a && b && a->quorum_port == b->quorum_port && !strcmp(a->host, b->host);
}

/* Listens for learners on `me`'s quorum address (OUT: q->listener).
 * Returns 0 or -1 (logged; the handle peer_listen closed is left to the
 * loop, not freed under it). */
static int listen_quorum(struct quorum *q, const struct zkd_server_line *me)
{
    uv_tcp_t *h = zk_xmalloc(sizeof *h);
    if (peer_listen(q->s->loop, h, peer_bind_host(&q->s->cfg, me->host), me->quorum_port, q,
                    on_quorum_connection))
        return -1;
    q->listener = h;
    return 0;
}

/* A reconfig moved our quorum address: learners (of a later term of ours)
 * connect to the new one, as to an Apache member's. */
static void move_quorum_address(struct quorum *q, const struct zkd_server_line *old, int nold)
{
    const struct zkd_server_line *now = config_server(&q->s->cfg, q->myid), *was = NULL;
    for (int i = 0; i < nold; i++)
        if (old[i].id == q->myid)
            was = &old[i];
    if (!now || !was || !q->listening || same_quorum_address(now, was))
        return;
    uv_tcp_t *prev = q->listener;
    if (listen_quorum(q, now)) {
        log_warn("quorum: still listening on the old quorum port %d", was->quorum_port);
        return;
    }
    uv_close((uv_handle_t *)prev, free_handle);
    log_info("quorum: quorum port moved from %s:%d to %s:%d", was->host, was->quorum_port,
             now->host, now->quorum_port);
}

int quorum_start(struct server *s)
{
    const struct zkd_config *cfg = &s->cfg;
    const struct zkd_server_line *me = config_server(cfg, s->myid);
    if (!me) {
        log_error("this server's id %d (dataDir/myid) has no server.%d line", s->myid, s->myid);
        return -1;
    }
    if (cfg->ssl_quorum && peer_tls_init(cfg))
        return -1;
    if (quorum_auth_init(cfg)) /* quorum.auth.*: peer.c runs the exchange on every link */
        return -1;
    struct quorum *q = zk_xcalloc(1, sizeof *q);
    q->s = s;
    q->myid = s->myid;
    q->voter = !me->observer;
    q->apache = cfg->apache_members;
    q->nvoters = config_voters(cfg);
    q->leader_id = -1;
    q->designated = -1;
    q->snap_buf_zxid = -1;
    q->logged = q->log_durable = s->db.last_zxid;
    q->current_epoch = read_epoch(s, "currentEpoch", s->db.last_zxid >> 32);
    q->accepted_epoch = read_epoch(s, "acceptedEpoch", q->current_epoch);
    if (q->accepted_epoch < q->current_epoch)
        q->accepted_epoch = q->current_epoch;
    if (listen_quorum(q, me)) {
        free(q);
        return -1;
    }
    q->listening = 1;
    q->el = election_new(s->loop, cfg, q->myid, on_decided, q);
    if (!q->el) {
        uv_close((uv_handle_t *)q->listener, free_handle);
        free(q);
        return -1;
    }
    s->q = q;
    uv_timer_init(s->loop, &q->tick);
    q->tick.data = q;
    int half = cfg->tick_time / 2 > 0 ? cfg->tick_time / 2 : 1;
    uv_timer_start(&q->tick, on_tick, (uint64_t)half, (uint64_t)half);
    uv_timer_init(s->loop, &q->transition);
    q->transition.data = q;
    uv_timer_init(s->loop, &q->bump);
    q->bump.data = q;
    q->counter_limit = 0xffffffffu;
    const char *lim = getenv("ZKD_TEST_ZXID_COUNTER_LIMIT"); /* tests reach the limit quickly */
    if (lim && atoll(lim) >= 16 && atoll(lim) < 0xffffffffLL)
        q->counter_limit = (uint32_t)atoll(lim);
    q->counter_margin = q->counter_limit / 4 < 1000000 ? q->counter_limit / 4 : 1000000;
    log_info("quorum: server %d (%s) of %d voters; quorum port %s:%d, current epoch %lld",
             q->myid, q->voter ? "voter" : "observer", q->nvoters, me->host, me->quorum_port,
             (long long)q->current_epoch);
    q->role = R_LOOKING;
    q->looking_since = now_ms();
    election_look(q->el, q->logged, q->current_epoch);
    return 0;
}

static void free_quorum(uv_handle_t *h)
{
    struct quorum *q = h->data;
    alearner_reset(q);
    free(q->acks);
    aleader_reset(q);
    jute_out_free(&q->areply);
    jute_out_free(&q->snap_buf);
    free(q);
}

void quorum_stop(struct server *s)
{
    struct quorum *q = s->q;
    if (!q)
        return;
    q->stopping = 1;
    leave_role(q);
    election_close(q->el);
    if (q->listening)
        uv_close((uv_handle_t *)q->listener, free_handle);
    uv_close((uv_handle_t *)&q->tick, NULL);
    uv_close((uv_handle_t *)&q->bump, NULL);
    uv_close((uv_handle_t *)&q->transition, free_quorum);
    s->q = NULL;
}

int quorum_serving(const struct quorum *q) { return q->serving; }
int64_t quorum_election_round(const struct quorum *q) { return election_round(q->el); }

/* As Apache's QuorumPeer: the read-only server starts only after
 * max(2 s, tickTime) of looking, so the short elections of an ensemble that
 * is merely changing leaders (or a stale vote for a member that just died)
 * do not hand out read-only sessions that the next transition closes. */
int quorum_readonly_ready(const struct quorum *q)
{
    int64_t delay = q->s->cfg.tick_time > 2000 ? q->s->cfg.tick_time : 2000;
    return q->role == R_LOOKING && !q->serving && now_ms() - q->looking_since >= delay;
}
int quorum_is_leader(const struct quorum *q)
{
    return q->role == R_LEADING && q->established && q->serving;
}
int quorum_is_learner(const struct quorum *q)
{
    return (q->role == R_FOLLOWING || q->role == R_OBSERVING) && q->phase >= F_SERVING && q->serving;
}

static void on_bump(uv_timer_t *t);

int64_t quorum_next_zxid(struct quorum *q, int64_t last)
{
    if ((last >> 32) < q->epoch)
        return (q->epoch << 32) | 1;
    uint32_t counter = (uint32_t)(last & 0xffffffff);
    if (counter + 1 >= q->counter_limit && q->bump_state == 3) {
        log_info("quorum: zxid counter at its limit; moving from epoch %lld to %lld",
                 (long long)q->epoch, (long long)q->bump_epoch);
        q->epoch = q->bump_epoch;
        quorum_set_current_epoch(q, q->epoch);
        q->bump_state = 0;
        return (q->epoch << 32) | 1;
    }
    /* (Apache's wire: Apache members know no NEWEPOCH; at the limit the
     * ensemble elects again, as an Apache leader's does) */
    if (counter + 1 >= q->counter_limit - q->counter_margin && q->bump_state == 0 && !q->apache) {
        q->bump_state = 1; /* proposed from a timer: we are inside write_begin */
        uv_timer_start(&q->bump, on_bump, 0, 0);
    }
    if (counter + 1 >= q->counter_limit)
        quorum_schedule_look(q, "zxid counter exhausted before the new epoch committed");
    if (counter == 0xffffffffu) {
        log_error("quorum: zxid counter overflow; stopping");
        abort();
    }
    return last + 1;
}

static void on_bump(uv_timer_t *t)
{
    struct quorum *q = t->data;
    if (q->bump_state != 1 || !quorum_is_leader(q))
        return;
    struct write w;
    write_begin(q->s, &w, TXN_NEWEPOCH, 0, 0);
    int64_t next = (q->accepted_epoch > q->epoch ? q->accepted_epoch : q->epoch) + 1;
    w.txn.epoch = next;
    quorum_set_accepted_epoch(q, next);
    q->bump_epoch = next;
    q->bump_state = 2;
    write_apply_txn(q->s, &w); /* changes nothing: the epoch is the members' promise */
    q->bump_zxid = write_commit(q->s, &w);
    log_info("quorum: proposed epoch %lld at zxid 0x%" PRIx64 " (counter limit approaching)",
             (long long)next, (uint64_t)q->bump_zxid);
}

void quorum_proposed(struct quorum *q, int64_t zxid, const void *rec, size_t len)
{
    assert(zxid > q->logged); /* proposals go out in zxid order */
    q->logged = zxid;
    for (struct learner *ln = q->learners; ln; ln = ln->next)
        if (learner_live(ln) && ln->st == L_STREAMING && zxid > txnwin_last(ln->held))
            txnwin_push(ln->held, zxid, rec, len); /* quorum_snap_start */
    if (q->apache) {
        aleader_propose(q, zxid, rec, len);
        return;
    }
    for (struct learner *ln = q->learners; ln; ln = ln->next)
        if (learner_live(ln) && ln->st >= L_SYNCED)
            send_proposal(ln->l, zxid, rec, len);
}

void quorum_log_durable(struct quorum *q, int64_t zxid)
{
    if (zxid > q->log_durable)
        q->log_durable = zxid;
    if (q->role == R_LEADING)
        update_commit(q);
    else if (q->role != R_LOOKING)
        send_ack(q);
}

int quorum_route(struct server *s, struct conn *c, const uint8_t *p, size_t len, int32_t type)
{
    struct quorum *q = s->q;
    if (!quorum_is_learner(q) || !q->leader)
        return 0;
    int fwd = is_forwarded(c, type);
    if (c->held || (!fwd && c->fwd_pending)) {
        struct held_req *h = zk_xmalloc(sizeof *h + len);
        h->next = NULL;
        h->type = type;
        h->len = len;
        memcpy(h->data, p, len);
        if (c->held_tail)
            c->held_tail->next = h;
        else
            c->held = h;
        c->held_tail = h;
        return 1;
    }
    if (!fwd)
        return 0;
    forward(q, c, p, len);
    return 1;
}

void quorum_forward_connect(struct server *s, struct conn *c, int64_t id, int32_t timeout)
{
    struct quorum *q = s->q;
    if (!q->leader) {
        conn_close(c);
        return;
    }
    c->session_id = id;
    c->timeout = timeout;
    if (q->apache) {
        forward_create_session(q, c, timeout);
        return;
    }
    struct jute_out o;
    msg_begin(&o, QM_CONNECT);
    jute_put_long(&o, id);
    jute_put_long(&o, (int64_t)c->uid);
    jute_put_int(&o, timeout);
    peer_send_out(q->leader, &o);
    jute_out_free(&o);
    c->fwd_pending++;
    i64map_put(&q->fwd, (int64_t)c->uid, c);
}

int quorum_revalidate(struct server *s, struct conn *c, int64_t id, int32_t timeout)
{
    struct quorum *q = s->q;
    if (!q || !q->apache || !quorum_is_learner(q) || !q->leader)
        return -1;
    alearner_revalidate(q, c, id, timeout);
    return 0;
}

void quorum_conn_resume(struct server *s, struct conn *c)
{
    if (s->q && c->held)
        quorum_drain_held(s->q, c);
}

void quorum_conn_closed(struct server *s, struct conn *c)
{
    struct quorum *q = s->q;
    if (q && q->apache)
        alearner_conn_closed(q, c);
    else if (q && c->fwd_pending)
        i64map_del(&q->fwd, (int64_t)c->uid);
}

static void reconfig_committed(struct quorum *q, int designated)
{
    q->reconfig_zxid = 0;
    const struct zkd_server_line *me = config_server(&q->s->cfg, q->myid);
    log_info("quorum: reconfiguration committed; %d voters", q->nvoters);
    if (!q->apache) {
        q->voter = me && !me->observer;
        if (!q->voter)
            quorum_schedule_look(q, "this leader is no longer a voter after reconfig");
        return;
    }
    /* Apache's wire: as Apache's leader (Leader.tryToCommit, QuorumPeer.
     * processReconfig): left out, it stays a non-voting participant
     * (updateLearnerType); not the designated leader, it commits nothing
     * more and stops serving, and its learners, told the designated leader
     * by COMMITANDACTIVATE, leave it; then it follows that leader too. */
    q->voter = me ? !me->observer : 1;
    if (designated == q->myid)
        return;
    q->designated = designated;
    q->serving = 0;
    log_info("quorum: server %d is the designated leader of the new membership: committing "
             "nothing more, following it once our learners have left",
             designated);
}

int quorum_designated_leader(const struct quorum *q, int64_t zxid)
{
    const struct zkd_server_line *now = config_server(&q->s->cfg, q->myid), *was = NULL;
    for (int i = 0; i < q->nold; i++)
        if (q->old_servers[i].id == q->myid)
            was = &q->old_servers[i];
    if (now && !now->observer && same_quorum_address(now, q->reconfig_zxid ? was : now))
        return q->myid;
    const struct learner *best = NULL;
    for (const struct learner *ln = q->learners; ln; ln = ln->next)
        if (learner_live(ln) && ln_voter(ln) && ln->acked >= zxid &&
            (!best || ln->acked > best->acked || (ln->acked == best->acked && ln->sid < best->sid)))
            best = ln;
    return best ? best->sid : q->myid;
}

void quorum_learner_activate(struct quorum *q, int64_t zxid, int64_t leader)
{
    if (leader < 0 || leader > ZKD_MAX_SERVER_ID)
        return; /* (not a server id: the membership alone decides) */
    q->activate_zxid = zxid;
    q->activate_leader = (int)leader;
}

int quorum_reconfig_pending(const struct quorum *q) { return q->reconfig_zxid != 0; }

int quorum_new_config_ok(const struct quorum *q, const struct zkd_server_line *v, int n)
{
    struct qv_set synced = {0};
    for (int i = 0; i < n; i++) {
        if (v[i].observer)
            continue;
        if (v[i].id == q->myid) {
            qv_set_add(&synced, q->myid);
            continue;
        }
        for (const struct learner *ln = q->learners; ln; ln = ln->next)
            if (learner_live(ln) && ln->sid == v[i].id && ln->st == L_ACTIVE) {
                qv_set_add(&synced, ln->sid);
                break;
            }
    }
    return qv_is_quorum(v, n, &synced);
}

void quorum_reconfigured(struct quorum *q, const struct zkd_server_line *old, int nold, int64_t zxid)
{
    const struct zkd_config *cfg = &q->s->cfg;
    q->nvoters = config_voters(cfg);
    election_reconfigure(q->el, cfg);
    move_quorum_address(q, old, nold);
    if (q->role == R_LEADING) {
        memcpy(q->old_servers, old, (size_t)nold * sizeof *old);
        q->nold = nold;
        q->reconfig_zxid = zxid;
        return;
    }
    const struct zkd_server_line *me = config_server(cfg, q->myid);
    /* Not in the membership: zkd's wire makes it an observer; Apache's
     * (QuorumPeer.updateLearnerType) a non-voting participant, which keeps
     * following (a new server that learns the membership from NEWLEADER
     * before the reconfig adding it commits must not start looking). */
    int voter = me ? !me->observer : q->apache && q->voter;
    if (!me)
        log_warn("quorum: this server is not in the membership (removed, or not added yet); "
                 "it follows as a non-voter");
    int changed = voter != q->voter;
    q->voter = voter;
    /* The leader named the new membership's leader (Apache's wire): a learner
     * whose leader or role that changes goes straight to it, or leads if it
     * is us, as Apache's does (processReconfig: updateVote, then
     * updateServerState without an election). */
    int named = zxid && zxid == q->activate_zxid ? q->activate_leader : -1;
    if (named >= 0)
        q->activate_zxid = 0;
    if (named >= 0 && (changed || named != q->leader_id)) {
        quorum_rejoin(q, named, "reconfig 0x%" PRIx64 " names server %d the leader%s",
                      (uint64_t)zxid, named, changed ? "; our role changed" : "");
        return;
    }
    if (changed)
        quorum_schedule_look(q, "our role changed by reconfig (now %s)", voter ? "a voter" : "a non-voter");
}

void quorum_describe(const struct quorum *q, struct quorum_info *info)
{
    memset(info, 0, sizeof *info);
    static const char *const names[] = {"looking", "leader", "follower", "observer"};
    info->role = names[q->role];
    if (q->role == R_LEADING && !q->established)
        info->role = "looking";
    if ((q->role == R_FOLLOWING || q->role == R_OBSERVING) && q->phase < F_SERVING)
        info->role = "looking";
    info->leader_id = q->leader_id;
    info->epoch = q->epoch;
    info->commit = q->commit;
    for (const struct learner *ln = q->learners; ln; ln = ln->next) {
        if (!learner_live(ln) || ln->sid < 0)
            continue;
        info->learners++;
        if (ln->st == L_ACTIVE) {
            if (!ln_voter(ln))
                info->synced_observers++;
            else
                info->synced_followers++;
            int64_t lag = q->s->db.last_zxid - ln->acked;
            if (ln_voter(ln) && lag > info->max_lag)
                info->max_lag = lag;
        }
    }
}

void quorum_learner_lines(const struct quorum *q, void (*line)(const char *text, void *d), void *d)
{
    static const char *const st[] = {[L_NEW] = "connecting", [L_INFO] = "introduced",
                                     [L_EPOCH] = "epoch", [L_STREAMING] = "streaming",
                                     [L_SYNCED] = "syncing", [L_ACTIVE] = "synced"};
    _Static_assert(sizeof st / sizeof *st == L_ACTIVE + 1, "a name for every learner state");
    for (const struct learner *ln = q->learners; ln; ln = ln->next) {
        if (!learner_live(ln) || ln->sid < 0)
            continue;
        char buf[256];
        snprintf(buf, sizeof buf, "server %d %s %s acked 0x%" PRIx64 " lag %lld", ln->sid,
                 ln_voter(ln) ? "follower" : "observer", st[ln->st], (uint64_t)ln->acked,
                 (long long)(q->s->db.last_zxid - ln->acked));
        line(buf, d);
    }
}
