/*
 * election.c - fast leader election (see election.h).
 *
 * Notification (one peer message):
 *   u8 'N' | int sender | u8 state | int leader | long zxid | long epoch | long round
 * An outgoing link starts with a hello message ('H', int sender) so the
 * receiver knows who talks; every member sends only on its own outgoing
 * links and only reads its incoming ones, so a pair never has to pick which
 * of two connections to keep.
 *
 * With memberProtocol=apache the wire is Apache's (zab.h): a raw hello
 * (protocol version, sid, address), then [int length][notification]
 * messages, and ONE link per pair carrying both directions, the one the
 * larger sid initiated.  A smaller sid still connects (that is how Apache
 * learns it should connect back) and then uses the link the larger opens.
 */
#include "election.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "peer.h"
#include "clock.h"
#include "quorum_verifier.h"
#include "zab.h"

#define FINALIZE_WAIT_MS 60
#define RESEND_MS 200
#define RECONNECT_MS 100
/* How long a link of ours must have existed before a smaller sid dialing
 * us proves it dead (Apache's wire): a younger one may still be on its
 * way to that member. */
#define STALE_LINK_MS 1000

struct member {
    struct election *e;
    int id;
    int voter;
    const struct zkd_server_line *line;
    struct peer_link *out;    /* our outgoing link, or NULL */
    int64_t out_since_ms;     /* when `out` was dialed or adopted */
    int64_t next_connect_ms;
    /* what this member last told us */
    int heard;
    enum peer_state state;
    struct vote vote;
    int64_t round;
};

struct election {
    uv_loop_t *loop;
    const struct zkd_config *cfg;
    int myid;
    int is_voter;
    struct member *members;  /* every other member */
    int nmembers;
    uv_tcp_t listener;
    int listening;
    uv_timer_t timer;        /* resend / reconnect */
    uv_timer_t finalize;
    election_decided_fn decided;
    void *data;

    enum peer_state state;
    int64_t round;
    struct vote proposal;
    struct vote mine;        /* this server's own candidacy */
    int leader;              /* when settled */
    int looking;             /* searching for a leader */
    struct zkd_server_line listen_line; /* where we listen (kept across reconfigs) */
    struct peer_link *in[2 * ZKD_MAX_SERVERS]; /* incoming links */
    int apache;              /* Apache's wire (memberProtocol=apache) */
};

static const char *state_name(enum peer_state s)
{
    static const char *const names[] = {"looking", "following", "leading", "observing"};
    return names[s];
}

static int better(const struct vote *a, const struct vote *b)
{
    if (a->epoch != b->epoch)
        return a->epoch > b->epoch;
    if (a->zxid != b->zxid)
        return a->zxid > b->zxid;
    return a->leader > b->leader;
}

static struct member *member(struct election *e, int id)
{
    for (int i = 0; i < e->nmembers; i++)
        if (e->members[i].id == id)
            return &e->members[i];
    return NULL;
}

/* ---- sending ---- */

/* Our configuration as Apache's QuorumVerifier.toString() writes it, which
 * Apache's notifications carry (version 0: a static configuration). */
static void put_apache_config(struct election *e, struct jute_out *o)
{
    char line[700];
    for (int i = 0; i < e->cfg->nservers; i++) {
        int n = config_format_server(&e->cfg->servers[i], line, sizeof line);
        if (n > 0 && (size_t)n < sizeof line - 1) {
            line[n++] = '\n';
            jute_put_raw(o, line, (size_t)n);
        }
    }
    char groups[ZKD_MAX_SERVERS * 48]; /* hierarchical quorums: group.G and weight.S lines */
    int n = qv_format(e->cfg, groups, sizeof groups);
    if (n > 0 && n < (int)sizeof groups)
        jute_put_raw(o, groups, (size_t)n);
    jute_put_raw(o, "version=0", 9);
}

static void put_notification(struct election *e, struct jute_out *o)
{
    if (e->apache) {
        struct jute_out cfg;
        jute_out_init(&cfg);
        put_apache_config(e, &cfg);
        struct zab_note n = {(int32_t)e->state, e->proposal.leader, e->proposal.zxid, e->round,
                             e->proposal.epoch, 2, cfg.p, (int32_t)cfg.len};
        zab_put_note(o, &n);
        jute_out_free(&cfg);
        return;
    }
    jute_put_raw(o, "N", 1);
    jute_put_int(o, e->myid);
    uint8_t st = (uint8_t)e->state;
    jute_put_raw(o, &st, 1);
    jute_put_int(o, e->proposal.leader);
    jute_put_long(o, e->proposal.zxid);
    jute_put_long(o, e->proposal.epoch);
    jute_put_long(o, e->round);
}

static void send_to(struct election *e, struct member *m)
{
    if (!m->out) /* a link still connecting queues the message */
        return;
    struct jute_out o;
    jute_out_init(&o);
    put_notification(e, &o);
    peer_send_out(m->out, &o);
    jute_out_free(&o);
}

static void broadcast(struct election *e)
{
    for (int i = 0; i < e->nmembers; i++)
        send_to(e, &e->members[i]);
}

static void on_out_close(struct peer_link *l, int status)
{
    struct member *m = l->owner;
    (void)status;
    if (m->out == l)
        m->out = NULL;
    /* Apache closes a smaller sid's connection and connects back: do not
     * knock again at once. */
    m->next_connect_ms = clock_mono_ms() + (m->e->apache && m->id > m->e->myid ? 1000 : RECONNECT_MS);
}

static void handle_notification(struct election *e, struct member *m, struct jute_in *in);
static void handle_apache_note(struct election *e, struct member *m, struct peer_link *l,
                               const uint8_t *p, size_t len);

/* Members answer on our own link only when they do not know us (we are not
 * in their configuration yet: a server about to join by reconfig). */
static void on_out_msg(struct peer_link *l, const uint8_t *p, size_t len)
{
    struct member *m = l->owner;
    if (m->e->apache) {
        handle_apache_note(m->e, m, l, p, len);
        return;
    }
    if (len < 1 || p[0] != 'N')
        return;
    struct jute_in in;
    jute_in_init(&in, p + 1, len - 1);
    handle_notification(m->e, m, &in);
}

static void connect_member(struct election *e, struct member *m)
{
    m->out = peer_connect(e->loop, m->line->host, m->line->election_port, m, NULL, on_out_msg,
                          on_out_close);
    m->out_since_ms = clock_mono_ms();
    m->next_connect_ms = m->out_since_ms + RECONNECT_MS;
    if (!m->out)
        return;
    snprintf(m->out->desc, sizeof m->out->desc, "server %d election port (%s:%d)", m->id,
             m->line->host, m->line->election_port);
    m->out->id = m->id;
    /* Queued now, written once connected: hello, then where we stand. */
    struct jute_out o;
    jute_out_init(&o);
    if (e->apache) {
        char addr[300];
        snprintf(addr, sizeof addr, "%s:%d", e->listen_line.host, e->listen_line.election_port);
        zab_put_hello(&o, e->myid, addr);
        peer_send_preamble(m->out, o.p, o.len); /* ahead of quorum SASL, as Apache's */
        o.len = 0;
        put_notification(e, &o);
        peer_send_out(m->out, &o);
        jute_out_free(&o);
        return;
    }
    jute_put_raw(&o, "H", 1);
    jute_put_int(&o, e->myid);
    peer_send_out(m->out, &o);
    o.len = 0;
    put_notification(e, &o);
    peer_send_out(m->out, &o);
    jute_out_free(&o);
}

static void on_timer(uv_timer_t *t)
{
    struct election *e = t->data;
    int64_t now = clock_mono_ms();
    for (int i = 0; i < e->nmembers; i++) {
        struct member *m = &e->members[i];
        if (!m->out && now >= m->next_connect_ms)
            connect_member(e, m);
    }
    if (e->looking)
        broadcast(e);
}

/* ---- deciding ---- */

static void decide(struct election *e, int leader)
{
    uv_timer_stop(&e->finalize);
    e->looking = 0;
    e->leader = leader;
    log_info("election round %lld: server %d is the leader (vote zxid 0x%llx, epoch %lld)%s",
             (long long)e->round, leader, (unsigned long long)e->proposal.zxid,
             (long long)e->proposal.epoch, leader == e->myid ? "; leading" : "");
    e->decided(e, leader, e->data);
}

/* Whether the looking voters (this one included) whose vote in round
 * `round` names `leader` form a quorum (quorum_verifier.h). */
static int votes_quorum(struct election *e, int leader, int64_t round)
{
    struct qv_set set = {0};
    if (e->proposal.leader == leader && e->round == round)
        qv_set_add(&set, e->myid);
    for (int i = 0; i < e->nmembers; i++) {
        struct member *m = &e->members[i];
        if (m->voter && m->heard && m->state == PEER_LOOKING && m->vote.leader == leader &&
            m->round == round)
            qv_set_add(&set, m->id);
    }
    return qv_cfg_is_quorum(e->cfg, &set);
}

static void on_finalize(uv_timer_t *t)
{
    struct election *e = t->data;
    if (e->looking)
        decide(e, e->proposal.leader);
}

/* A majority already follows `leader`, which says it leads: join them.  Or
 * a majority settled on us while we still looked: lead. */
static int join_settled(struct election *e, const struct member *from)
{
    int leader = from->vote.leader;
    if (!config_is_voter(e->cfg, leader))
        return 0;
    const struct member *lm = member(e, leader);
    if (leader != e->myid && (!lm || !lm->heard || lm->state != PEER_LEADING))
        return 0;
    struct qv_set set = {0};
    if (e->is_voter) /* a voter that joins counts itself */
        qv_set_add(&set, e->myid);
    for (int i = 0; i < e->nmembers; i++) {
        const struct member *m = &e->members[i];
        if (m->voter && m->heard && m->vote.leader == leader &&
            (m->state == PEER_FOLLOWING || m->state == PEER_LEADING))
            qv_set_add(&set, m->id);
    }
    if (!qv_cfg_is_quorum(e->cfg, &set))
        return 0;
    if (from->round > e->round)
        e->round = from->round;
    e->proposal = from->vote;
    decide(e, leader);
    return 1;
}

static void handle_vote(struct election *e, struct member *m, enum peer_state st,
                        struct vote v, int64_t round);

static void handle_notification(struct election *e, struct member *m, struct jute_in *in)
{
    uint8_t st = 0;
    int sender = jute_get_int(in);
    if (in->off < in->len)
        st = in->p[in->off++];
    struct vote v;
    v.leader = jute_get_int(in);
    v.zxid = jute_get_long(in);
    v.epoch = jute_get_long(in);
    int64_t round = jute_get_long(in);
    if (in->err || sender != m->id || st > PEER_OBSERVING)
        return;
    handle_vote(e, m, st, v, round);
}

/* An Apache notification on member m's link; a malformed one closes it. */
static void handle_apache_note(struct election *e, struct member *m, struct peer_link *l,
                               const uint8_t *p, size_t len)
{
    struct zab_note n;
    if (zab_get_note(p, len, &n) || n.leader < INT32_MIN || n.leader > INT32_MAX) {
        log_warn("election: %s sent a malformed notification; closing", l->desc);
        peer_close(l);
        return;
    }
    struct vote v = {(int)n.leader, n.zxid, n.peer_epoch};
    handle_vote(e, m, (enum peer_state)n.state, v, n.election_epoch);
}

static void handle_vote(struct election *e, struct member *m, enum peer_state st,
                        struct vote v, int64_t round)
{
    m->heard = 1;
    m->state = st;
    m->vote = v;
    m->round = round;

    if (!e->looking) {
        /* Settled: tell a looking member where we stand. */
        if (st == PEER_LOOKING || st == PEER_OBSERVING)
            send_to(e, m);
        return;
    }
    if (!e->is_voter) {
        /* An observer looks for the leader a majority reports. */
        if (st == PEER_FOLLOWING || st == PEER_LEADING)
            join_settled(e, m);
        return;
    }
    if (st == PEER_OBSERVING) {
        send_to(e, m);
        return;
    }
    if (st != PEER_LOOKING) {
        join_settled(e, m);
        return;
    }
    if (!m->voter)
        return;
    if (round > e->round) {
        e->round = round;
        /* A vote for a member of weight 0 is never taken up (Apache's
         * totalOrderPredicate). */
        e->proposal = better(&v, &e->mine) && qv_can_lead(e->cfg, v.leader) ? v : e->mine;
        uv_timer_stop(&e->finalize);
        broadcast(e);
    } else if (round < e->round) {
        send_to(e, m);
        return;
    } else if (better(&v, &e->proposal) && qv_can_lead(e->cfg, v.leader)) {
        e->proposal = v;
        uv_timer_stop(&e->finalize);
        broadcast(e);
    }
    if (votes_quorum(e, e->proposal.leader, e->round) &&
        !uv_is_active((uv_handle_t *)&e->finalize))
        uv_timer_start(&e->finalize, on_finalize, FINALIZE_WAIT_MS, 0);
}

/* ---- incoming links ---- */

static void on_in_close(struct peer_link *l, int status);

/* Apache's wire: the hello on an incoming link.  A larger sid's link
 * becomes that member's one link; a smaller sid is told (by our own
 * connection) to use ours instead. */
static long apache_hello_frame(struct peer_link *l, const uint8_t *p, size_t len)
{
    int64_t sid = -1;
    long n = zab_hello_frame(p, len, &sid);
    if (n > 0)
        l->id = sid >= 0 && sid <= INT32_MAX ? (int)sid : -2;
    return n;
}

/* Apache's wire: a server not in our configuration, with a larger sid (one
 * about to join by reconfig), keeps its link, as Apache's QuorumCnxManager
 * keeps a larger sid's connection.  Each notification it sends is answered
 * on that link with where we stand, as FastLeaderElection answers a
 * non-voter (it must hear the leader itself before it follows), and its vote
 * counts for nothing.  (A smaller unknown sid cannot be connected back to:
 * Apache fails the same way.) */
static void on_apache_stranger_msg(struct peer_link *l, const uint8_t *p, size_t len)
{
    struct election *e = l->owner;
    struct zab_note n;
    if (zab_get_note(p, len, &n)) {
        log_warn("election: %s sent a malformed notification; closing", l->desc);
        peer_close(l);
        return;
    }
    struct jute_out o;
    jute_out_init(&o);
    put_notification(e, &o);
    peer_send_out(l, &o);
    jute_out_free(&o);
}

static void on_apache_in_hello(struct peer_link *l, const uint8_t *p, size_t len)
{
    struct election *e = l->owner;
    (void)p;
    (void)len;
    l->frame = NULL; /* notifications follow, [int length] framed */
    struct member *m = l->id >= 0 ? member(e, l->id) : NULL;
    if (!m && l->id > e->myid) {
        l->on_msg = on_apache_stranger_msg; /* (an incoming link still: on_in_close) */
        return;
    }
    if (!m || l->id == e->myid) {
        peer_close(l);
        return;
    }
    if (l->id < e->myid) {
        peer_close(l);
        /* Apache's QuorumCnxManager dials only a member it holds no link
         * with: a link of ours it should have is dead on its side (a reset
         * that never reached us), and while we keep it, it never hears our
         * votes.  Replace it, unless it is young enough to be still on its
         * way there. */
        if (m->out && clock_mono_ms() - m->out_since_ms >= STALE_LINK_MS) {
            log_info("election: server %d dialed us while our link to it is %lld ms old: "
                     "it does not have that link; connecting again", m->id,
                     (long long)(clock_mono_ms() - m->out_since_ms));
            struct peer_link *old = m->out;
            m->out = NULL;
            peer_close(old);
        }
        if (!m->out)
            connect_member(e, m);
        return;
    }
    for (size_t i = 0; i < sizeof e->in / sizeof e->in[0]; i++)
        if (e->in[i] == l)
            e->in[i] = NULL;
    if (m->out) {
        struct peer_link *old = m->out;
        m->out = NULL;
        peer_close(old);
    }
    m->out = l;
    m->out_since_ms = clock_mono_ms();
    l->owner = m;
    l->on_msg = on_out_msg;
    l->on_close = on_out_close;
    send_to(e, m);
}

static void on_in_msg(struct peer_link *l, const uint8_t *p, size_t len)
{
    struct election *e = l->owner;
    if (len < 1)
        return;
    struct jute_in in;
    jute_in_init(&in, p + 1, len - 1);
    if (p[0] == 'H') {
        int id = jute_get_int(&in);
        if (in.err || id < 0 || id == e->myid) {
            log_warn("election: %s sent a bad hello; closing", l->desc);
            peer_close(l);
            return;
        }
        l->id = id;
        struct member *m = member(e, id);
        /* Make sure we can answer: connect back now rather than at the next tick. */
        if (m && !m->out)
            connect_member(e, m);
        return;
    }
    if (l->id < 0) {
        peer_close(l);
        return;
    }
    struct member *m = member(e, l->id);
    if (!m) {
        /* Not in our configuration (yet): tell it where we stand, on its own
         * link, and let its vote count for nothing. */
        if (p[0] == 'N') {
            struct jute_out o;
            jute_out_init(&o);
            put_notification(e, &o);
            peer_send_out(l, &o);
            jute_out_free(&o);
        }
        return;
    }
    if (p[0] == 'N')
        handle_notification(e, m, &in);
}

static void on_in_close(struct peer_link *l, int status)
{
    struct election *e = l->owner;
    (void)status;
    for (size_t i = 0; i < sizeof e->in / sizeof e->in[0]; i++)
        if (e->in[i] == l)
            e->in[i] = NULL;
}

static void on_peer_connection(uv_stream_t *listener, int status)
{
    struct election *e = listener->data;
    if (status < 0)
        return;
    struct peer_link *l = peer_accept(listener, e, e->apache ? on_apache_in_hello : on_in_msg,
                                      on_in_close);
    if (!l)
        return;
    if (e->apache) {
        l->frame = apache_hello_frame;
        l->auth_after_frame = 1; /* Apache authenticates after the hello */
    }
    for (size_t i = 0; i < sizeof e->in / sizeof e->in[0]; i++)
        if (!e->in[i]) {
            e->in[i] = l;
            return;
        }
    peer_close(l); /* more connections than members: someone misbehaves */
}

/* ---- API ---- */

struct election *election_new(uv_loop_t *loop, const struct zkd_config *cfg, int myid,
                              election_decided_fn decided, void *data)
{
    const struct zkd_server_line *me = config_server(cfg, myid);
    if (!me)
        return NULL;
    struct election *e = zk_xcalloc(1, sizeof *e);
    e->loop = loop;
    e->cfg = cfg;
    e->myid = myid;
    e->is_voter = !me->observer;
    e->apache = cfg->apache_members;
    e->listen_line = *me;
    e->decided = decided;
    e->data = data;
    e->leader = -1;
    e->members = zk_xcalloc((size_t)cfg->nservers, sizeof *e->members);
    for (int i = 0; i < cfg->nservers; i++) {
        if (cfg->servers[i].id == myid)
            continue;
        struct member *m = &e->members[e->nmembers++];
        m->e = e;
        m->id = cfg->servers[i].id;
        m->voter = !cfg->servers[i].observer;
        m->line = &cfg->servers[i];
    }
    if (peer_listen(loop, &e->listener, peer_bind_host(cfg, me->host), me->election_port, e,
                    on_peer_connection)) {
        free(e->members);
        free(e);
        return NULL;
    }
    e->listening = 1;
    log_info("election: listening on %s:%d as server %d (%s)", me->host, me->election_port, myid,
             e->is_voter ? "voter" : "observer");
    uv_timer_init(loop, &e->timer);
    e->timer.data = e;
    uv_timer_start(&e->timer, on_timer, 0, RESEND_MS);
    uv_timer_init(loop, &e->finalize);
    e->finalize.data = e;
    return e;
}

void election_look(struct election *e, int64_t last_zxid, int64_t current_epoch)
{
    e->round++;
    e->leader = -1;
    /* Apache's wire too: a voter proposes itself with its history, as
     * Apache's FastLeaderElection does, and leads if that history (epoch,
     * zxid, then sid) is the best of a quorum's (apache_leader.h). */
    e->mine = (struct vote){e->is_voter ? e->myid : -1, last_zxid, current_epoch};
    e->proposal = e->mine;
    e->state = e->is_voter ? PEER_LOOKING : PEER_OBSERVING;
    e->looking = 1;
    uv_timer_stop(&e->finalize);
    log_info("election: looking for a leader (round %lld, last zxid 0x%llx, epoch %lld)",
             (long long)e->round, (unsigned long long)last_zxid, (long long)current_epoch);
    /* Forget what members said before: a leader we just lost may have told
     * us it leads, and that must not bring us straight back to it.  A vote
     * of a member already looking in this round (or a later one) counts:
     * Apache sends it once, and a member whose own vote is better never
     * answers ours again. */
    for (int i = 0; i < e->nmembers; i++) {
        struct member *m = &e->members[i];
        m->heard = m->heard && m->state == PEER_LOOKING && m->round >= e->round;
    }
    broadcast(e);
    for (int i = 0; i < e->nmembers && e->looking; i++) {
        struct member *m = &e->members[i];
        if (m->heard)
            handle_vote(e, m, m->state, m->vote, m->round);
    }
    /* A sole voter (observers only besides it) is a quorum by itself and
     * hears no other voter's vote, the only place that checked: without
     * this it looked forever.  Apache's voter counts its own notification. */
    if (e->looking && e->is_voter && votes_quorum(e, e->proposal.leader, e->round) &&
        !uv_is_active((uv_handle_t *)&e->finalize))
        uv_timer_start(&e->finalize, on_finalize, FINALIZE_WAIT_MS, 0);
}

void election_settle(struct election *e, enum peer_state state, int leader)
{
    e->looking = 0;
    e->state = state;
    e->leader = leader;
    e->proposal.leader = leader;
    log_debug("election: %s server %d", state_name(state), leader);
    broadcast(e);
}

void election_update_epoch(struct election *e, int64_t epoch) { e->proposal.epoch = epoch; }

void election_reconfigure(struct election *e, const struct zkd_config *cfg)
{
    struct member *v = zk_xcalloc((size_t)cfg->nservers + 1, sizeof *v);
    int n = 0;
    for (int i = 0; i < cfg->nservers; i++) {
        const struct zkd_server_line *line = &cfg->servers[i];
        if (line->id == e->myid)
            continue;
        struct member *m = &v[n++];
        struct member *old = member(e, line->id);
        if (old) {
            *m = *old;
            old->out = NULL;
            if (m->out && (strcmp(m->line->host, line->host) || m->line->election_port != line->election_port)) {
                peer_close(m->out); /* it moved: reconnect at the next tick */
                m->out = NULL;
            }
        } else {
            m->e = e;
            m->id = line->id;
        }
        m->line = line;
        m->voter = !line->observer;
        if (m->out)
            m->out->owner = m;
    }
    for (int i = 0; i < e->nmembers; i++)
        if (e->members[i].out) {
            struct peer_link *l = e->members[i].out;
            e->members[i].out = NULL;
            l->on_close = NULL;
            peer_close(l);
        }
    free(e->members);
    e->members = v;
    e->nmembers = n;
    e->cfg = cfg;
    const struct zkd_server_line *me = config_server(cfg, e->myid);
    e->is_voter = me && !me->observer;
}

enum peer_state election_state(const struct election *e) { return e->state; }
int64_t election_round(const struct election *e) { return e->round; }

static void free_after_close(uv_handle_t *h)
{
    struct election *e = h->data;
    free(e->members);
    free(e);
}

void election_close(struct election *e)
{
    for (int i = 0; i < e->nmembers; i++)
        if (e->members[i].out)
            peer_close(e->members[i].out);
    for (size_t i = 0; i < sizeof e->in / sizeof e->in[0]; i++)
        if (e->in[i])
            peer_close(e->in[i]);
    if (e->listening)
        uv_close((uv_handle_t *)&e->listener, NULL);
    uv_close((uv_handle_t *)&e->finalize, NULL);
    uv_timer_stop(&e->timer);
    uv_close((uv_handle_t *)&e->timer, free_after_close);
}
