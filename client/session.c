/*
 * session.c - libzk's handle: connection attempts, the session handshake,
 * the frame reader, request queues, pings, reconnects and close.
 *
 * Wire protocol (Apache ZooKeeper 3.8, ClientCnxn).  Every message is a
 * frame: a 4-byte big-endian length and that many bytes.  The first frame
 * each way is the handshake:
 *
 *   ConnectRequest   int protocolVersion(0), long lastZxidSeen, int timeOut,
 *                    long sessionId, buffer passwd(16), bool readOnly
 *   ConnectResponse  int protocolVersion, int timeOut, long sessionId,
 *                    buffer passwd, [bool readOnly]
 *
 * A timeOut <= 0 in the response means the session we asked to resume has
 * expired.  A server whose data is older than lastZxidSeen refuses us by
 * closing the socket; that is an ordinary failed attempt, and we move on to
 * the next host.  After the handshake, requests are  int xid, int type, body
 * and replies  int xid, long zxid, int err, body.  Special xids: -1 watch
 * notification (WatcherEvent: type, state, path), -2 ping, -4 auth, -8
 * setWatches.  Everything else must answer the oldest request in flight:
 * the server processes one session's requests in order, so an xid that
 * does not match the head of the sent queue is a protocol error and costs
 * the connection.
 *
 * Queues.  `outq` holds requests made while not connected (sent in order
 * once a session is established), `sentq` the requests awaiting replies,
 * `authq` the completions of auth packets (replies with xid -4 come in
 * order), and `doneq` requests that fail before being sent: their callback
 * runs from a zero-delay timer, so that no callback is ever made from inside
 * the call that submitted it.
 *
 * Timers.  One repeating tick drives everything time-based: the per-attempt
 * connect timeout, the read timeout (2/3 of the negotiated session timeout
 * without any frame from the server means the connection is dead), pings
 * (sent after 1/3 of the session timeout without sending anything), the
 * retry backoff after a whole round of hosts has failed, and the bound on
 * waiting for closeSession's reply.
 *
 * Re-entrancy.  User callbacks may call anything, including zk_close and
 * zk_reconnect.  Code that runs after a user callback re-checks the phase
 * and the current connection before touching either; memory is only freed
 * in libuv close callbacks, never inside a user callback.
 */
#include "sasl.h"
#include "session.h"

#include "conn.h"
#include "hosts.h"
#include "log.h"
#include "request.h"
#include "watch.h"
#include "zk/jute.h"
#include "zk/proto.h"

#include <assert.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define TICK_MS 50
#define CLOSE_WAIT_MS 2000
#define SETWATCHES_MAX_BYTES (128 * 1024)
#define MAX_ADDRS 8

enum phase {
    P_IDLE,
    P_RESOLVING,
    P_CONNECTING,
    P_HANDSHAKE,
    P_CONNECTED,
    P_DEAD,
    P_CLOSING,
    P_CLOSED,
};

struct pqueue {
    struct zk_pending *head, *tail;
};

struct auth {
    struct auth *next;
    char *scheme;
    char *cred;
    int32_t len;
    struct zk_pending *pend; /* completion not yet bound to a sent packet */
};

struct zk {
    uv_loop_t *loop;
    struct zk_options opts; /* string fields point into the copies below */
    struct zk_hostlist hl;
    void *tls_ctx;
    const struct conn_type *ctype;
    void *user_data;

    enum phase phase;
    _Atomic int state;
    _Atomic int64_t session_id;
    char passwd[16];
    int negotiated_timeout;
    int64_t last_zxid;
    struct zk_stats stats;
    uint64_t pings_sent;   /* heartbeats written (tests tell them from request writes) */
    int32_t next_xid;
    int ever_connected;
    int dead_err; /* ZK_SESSIONEXPIRED or ZK_AUTHFAILED once DEAD */

    size_t host_idx;      /* next host to try */
    size_t tried_in_round;
    struct sockaddr_storage addrs[MAX_ADDRS];
    int naddrs, addr_idx;
    const struct zk_host *cur;
    unsigned resolve_gen; /* identifies the lookup the current attempt waits for */
    int resolving;        /* lookups still running (each holds the handle) */
    struct conn *conn;
    char cur_name[300];
    uint64_t attempt_start, last_recv, last_send, retry_at, close_deadline;
    int loss_pending; /* connection loss to handle from the defer timer */

    uv_timer_t tick;
    uv_timer_t defer;
    int open_handles;
    struct pqueue outq, sentq, authq, doneq;
    struct auth *auths;
    struct watch_table watches;

    uint8_t *in;
    size_t inlen, incap;
    size_t skip; /* bytes still to discard of an oversized reply (skip_oversized) */

    zk_close_fn close_cb;
    void *close_data;

    /* Extra session listeners (recipes); a removed entry has fn == NULL
     * until the outermost emit_session compacts the array. */
    struct session_listener {
        zk_session_fn fn;
        void *data;
    } *listeners;
    int nlisteners, caplisteners;
    int emitting;

    void *foreign;      /* foreign-loop mode: its private loop (foreign.c) */
    struct zsasl *sasl; /* the SASL exchange of the current connection */
    struct zsasl_login *sasl_login; /* GSSAPI keytab login, kept across connections */
    int sasl_busy;      /* connected, SASL not done: hold every request */
};

static void start_attempt(zk_t *zk);
static void connection_lost(zk_t *zk);
static void attempt_failed(zk_t *zk);
static void finish_close(zk_t *zk);
static void fail_auth_waiters(zk_t *zk, int err);

/* ---- small helpers ---- */

static void pq_push(struct pqueue *q, struct zk_pending *p)
{
    p->next = NULL;
    if (q->tail)
        q->tail->next = p;
    else
        q->head = p;
    q->tail = p;
}

static struct zk_pending *pq_pop(struct pqueue *q)
{
    struct zk_pending *p = q->head;
    if (p) {
        q->head = p->next;
        if (!q->head)
            q->tail = NULL;
        p->next = NULL;
    }
    return p;
}

static struct zk_pending *pq_take_all(struct pqueue *q)
{
    struct zk_pending *p = q->head;
    q->head = q->tail = NULL;
    return p;
}

static void emit_session(zk_t *zk, int ev)
{
    if (zk->opts.on_session)
        zk->opts.on_session(zk, ev, zk->opts.data);
    /* Listeners added during this emission hear the next event only. */
    int n = zk->nlisteners;
    zk->emitting++;
    for (int i = 0; i < n; i++) {
        struct session_listener l = zk->listeners[i];
        if (l.fn)
            l.fn(zk, ev, l.data);
    }
    if (--zk->emitting == 0) {
        int j = 0;
        for (int i = 0; i < zk->nlisteners; i++)
            if (zk->listeners[i].fn)
                zk->listeners[j++] = zk->listeners[i];
        zk->nlisteners = j;
    }
}

void zk_add_session_listener(zk_t *zk, zk_session_fn fn, void *data)
{
    assert(zk && fn); /* a NULL fn marks a listener removed during an event */
    if (zk->nlisteners == zk->caplisteners) {
        zk->caplisteners = zk->caplisteners ? 2 * zk->caplisteners : 8;
        zk->listeners =
            zk_xrealloc(zk->listeners, (size_t)zk->caplisteners * sizeof *zk->listeners);
    }
    zk->listeners[zk->nlisteners++] = (struct session_listener){fn, data};
}

void zk_remove_session_listener(zk_t *zk, zk_session_fn fn, void *data)
{
    for (int i = 0; i < zk->nlisteners; i++) {
        if (zk->listeners[i].fn == fn && zk->listeners[i].data == data) {
            if (zk->emitting) {
                zk->listeners[i].fn = NULL;
            } else {
                memmove(&zk->listeners[i], &zk->listeners[i + 1],
                        (size_t)(zk->nlisteners - i - 1) * sizeof *zk->listeners);
                zk->nlisteners--;
            }
            return;
        }
    }
}

/* Calls the request's callback with `res` (which it consumes) and frees p. */
static void complete(zk_t *zk, struct zk_pending *p, int status, struct zk_result *res)
{
    if (p->cb) {
        p->cb(zk, status, res, p->data);
        if (!p->owns_result)
            zk_result_free(res);
    } else {
        zk_result_free(res);
    }
    zk__pending_free(p);
}

static void complete_err(zk_t *zk, struct zk_pending *p, int err)
{
    struct zk_result *res = zk_xcalloc(1, sizeof *res);
    res->op = p->api_op;
    res->err = err;
    res->data_len = -1;
    complete(zk, p, err, res);
}

/* early_err of a removeWatches that other local watchers keep the server
 * watch for: it completes locally, with success. */
#define EARLY_LOCAL_REMOVE 1

static void deliver_watches(zk_t *zk, struct watch_ref *refs, size_t n, int type, int state,
                            const char *path, int64_t zxid);

static void remove_watches_locally(zk_t *zk, struct zk_pending *p)
{
    struct watch_ref *refs;
    size_t n = zk__watch_remove(&zk->watches, p->path, p->watcher_type, p->watcher, p->wdata, &refs);
    deliver_watches(zk, refs, n, ZK_EVENT_NONE, ZK_STATE_SYNC_CONNECTED, p->path, -1);
    struct zk_result *res = zk_xcalloc(1, sizeof *res);
    res->op = p->api_op;
    res->data_len = -1;
    complete(zk, p, 0, res);
}

/* Fails every request of a list (detached first: callbacks may submit). */
static void fail_list(zk_t *zk, struct zk_pending *p, int err)
{
    while (p) {
        struct zk_pending *next = p->next;
        if (p->early_err == EARLY_LOCAL_REMOVE && err != ZK_CLOSING)
            remove_watches_locally(zk, p);
        else
            complete_err(zk, p, p->early_err && p->early_err != EARLY_LOCAL_REMOVE ? p->early_err
                                                                                   : err);
        p = next;
    }
}

static void fail_all(zk_t *zk, int err)
{
    struct zk_pending *sent = pq_take_all(&zk->sentq);
    struct zk_pending *auth = pq_take_all(&zk->authq);
    struct zk_pending *out = pq_take_all(&zk->outq);
    fail_list(zk, sent, err);
    fail_list(zk, auth, err);
    fail_list(zk, out, err);
}

static void deliver_watches(zk_t *zk, struct watch_ref *refs, size_t n, int type, int state,
                            const char *path, int64_t zxid)
{
    for (size_t i = 0; i < n; i++) {
        struct zk_event ev = {
            .type = refs[i].event_type == ZK_EVENT_NONE ? type : refs[i].event_type,
            .state = state,
            .path = path,
            .zxid = zxid,
        };
        refs[i].fn(zk, &ev, refs[i].data);
    }
    free(refs);
}

static void defer_cb(uv_timer_t *t);

static void kick_defer(zk_t *zk)
{
    if (zk->phase != P_CLOSED)
        uv_timer_start(&zk->defer, defer_cb, 0, 0);
}

/* ---- sending ---- */

static int send_frame(zk_t *zk, const uint8_t *p, size_t n)
{
    if (!zk->conn || zk__conn_write(zk->conn, p, n) != 0) {
        zk->loss_pending = 1;
        kick_defer(zk);
        return ZK_CONNECTIONLOSS;
    }
    zk->last_send = uv_now(zk->loop);
    return 0;
}

static void send_pending(zk_t *zk, struct zk_pending *p)
{
    zk->stats.requests++;
    int32_t xid = zk->next_xid++;
    if (zk->next_xid <= 0)
        zk->next_xid = 1;
    zk__request_set_xid(p, xid);
    send_frame(zk, p->frame, p->frame_len);
    free(p->frame);
    p->frame = NULL;
    pq_push(&zk->sentq, p);
}

/* Sends a's packet; its reply completes `p` (NULL: a re-send nobody waits for). */
static void send_auth_packet(zk_t *zk, const struct auth *a, struct zk_pending *p)
{
    struct jute_out o;
    jute_out_init(&o);
    jute_put_int(&o, 0);
    jute_put_int(&o, ZK_XID_AUTH);
    jute_put_int(&o, ZK_OP_AUTH);
    jute_put_int(&o, 0); /* AuthPacket.type */
    jute_put_string(&o, a->scheme);
    jute_put_buffer(&o, a->cred, a->len);
    jute_patch_int(&o, 0, (int32_t)(o.len - 4));
    send_frame(zk, o.p, o.len);
    jute_out_free(&o);
    if (!p) {
        p = zk_xcalloc(1, sizeof *p);
        p->op = p->api_op = ZK_OP_AUTH;
        p->watch_kind = WK_NONE;
    }
    p->xid = ZK_XID_AUTH;
    pq_push(&zk->authq, p);
}

/* setWatches / setWatches2: every watch path by kind, in frames of at most
 * SETWATCHES_MAX_BYTES of paths (Apache's ClientCnxn.SET_WATCHES_MAX_LENGTH). */
struct wlists {
    const char *chroot;
    char **v[WK_COUNT];
    size_t n[WK_COUNT], cap[WK_COUNT];
};

static void collect_watch(const char *path, int kind, void *ud)
{
    struct wlists *w = ud;
    if (w->n[kind] == w->cap[kind]) {
        w->cap[kind] = w->cap[kind] ? w->cap[kind] * 2 : 16;
        w->v[kind] = zk_xrealloc(w->v[kind], w->cap[kind] * sizeof(char *));
    }
    w->v[kind][w->n[kind]++] = zk__path_prepend(w->chroot, path);
}

static void send_set_watches(zk_t *zk)
{
    struct wlists w;
    memset(&w, 0, sizeof w);
    w.chroot = zk->hl.chroot;
    zk__watch_each(&zk->watches, collect_watch, &w);
    size_t total = 0;
    for (int k = 0; k < WK_COUNT; k++)
        total += w.n[k];
    if (total == 0)
        return;
    int v2 = w.n[WK_PERSISTENT] + w.n[WK_RECURSIVE] > 0;
    /* Wire order of the lists: data, exist, child[, persistent, recursive]. */
    static const int order[WK_COUNT] = {WK_DATA, WK_EXIST, WK_CHILD, WK_PERSISTENT, WK_RECURSIVE};
    int nlists = v2 ? 5 : 3;
    size_t idx[WK_COUNT] = {0};
    for (;;) {
        size_t left = 0;
        for (int i = 0; i < nlists; i++)
            left += w.n[order[i]] - idx[order[i]];
        if (left == 0)
            break;
        struct jute_out o;
        jute_out_init(&o);
        jute_put_int(&o, 0);
        jute_put_int(&o, ZK_XID_SETWATCHES);
        jute_put_int(&o, v2 ? ZK_OP_SETWATCHES2 : ZK_OP_SETWATCHES);
        jute_put_long(&o, zk->last_zxid);
        size_t bytes = 0;
        for (int i = 0; i < nlists; i++) {
            int k = order[i];
            size_t count_at = o.len;
            jute_put_int(&o, 0);
            int32_t cnt = 0;
            while (idx[k] < w.n[k] && bytes < SETWATCHES_MAX_BYTES) {
                const char *p = w.v[k][idx[k]++];
                jute_put_string(&o, p);
                bytes += strlen(p);
                cnt++;
            }
            jute_patch_int(&o, count_at, cnt);
        }
        jute_patch_int(&o, 0, (int32_t)(o.len - 4));
        send_frame(zk, o.p, o.len);
        jute_out_free(&o);
    }
    for (int k = 0; k < WK_COUNT; k++) {
        for (size_t i = 0; i < w.n[k]; i++)
            free(w.v[k][i]);
        free(w.v[k]);
    }
}

/* ---- connection attempts ---- */

static void on_conn_ready(struct conn *c, void *ud);
static void on_conn_data(struct conn *c, const uint8_t *p, size_t n, void *ud);
static void on_conn_error(struct conn *c, int status, void *ud);

static const struct conn_upcalls upcalls = {
    .on_ready = on_conn_ready,
    .on_data = on_conn_data,
    .on_error = on_conn_error,
};

static void drop_conn(zk_t *zk)
{
    zk__conn_close(zk->conn);
    zk->conn = NULL;
    zk->inlen = 0;
    zk->skip = 0;
    zk->cur_name[0] = 0;
}

static void connect_next_addr(zk_t *zk)
{
    const struct zk_host *h = zk->cur;
    const struct sockaddr *sa = (const struct sockaddr *)&zk->addrs[zk->addr_idx++];
    const char *verify = "";
    if (zk->opts.use_tls && zk->opts.tls.verify_hostname)
        verify = zk->opts.tls.server_name ? zk->opts.tls.server_name : h->host;
    snprintf(zk->cur_name, sizeof zk->cur_name, strchr(h->host, ':') ? "[%s]:%d" : "%s:%d",
             h->host, h->port);
    zk->phase = P_CONNECTING;
    zk->attempt_start = uv_now(zk->loop);
    if (zk__conn_open(zk->loop, zk->ctype, zk->tls_ctx, sa, verify, &upcalls, zk, &zk->conn) != 0) {
        zk->conn = NULL;
        attempt_failed(zk);
        return;
    }
    zk->conn->write_count = &zk->stats.socket_writes;
}

/* A lookup; allocated per attempt because an abandoned one (timed out) may
 * still be running in libuv's thread pool when the next one starts. */
struct resolve {
    uv_getaddrinfo_t req;
    zk_t *zk;
    unsigned gen;
};

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct resolve *r = (struct resolve *)req;
    zk_t *zk = r->zk;
    unsigned gen = r->gen;
    free(r);
    assert(zk->resolving > 0);
    zk->resolving--;
    if (zk->phase == P_CLOSED) {
        uv_freeaddrinfo(res);
        finish_close(zk); /* may now free */
        return;
    }
    if (gen != zk->resolve_gen || zk->phase != P_RESOLVING) {
        uv_freeaddrinfo(res);
        return;
    }
    zk->naddrs = zk->addr_idx = 0;
    if (status == 0) {
        for (struct addrinfo *ai = res; ai && zk->naddrs < MAX_ADDRS; ai = ai->ai_next) {
            if (ai->ai_addrlen > sizeof zk->addrs[0])
                continue;
            memcpy(&zk->addrs[zk->naddrs], ai->ai_addr, ai->ai_addrlen);
            ((struct sockaddr_in *)&zk->addrs[zk->naddrs])->sin_port = htons((uint16_t)zk->cur->port);
            zk->naddrs++;
        }
    }
    uv_freeaddrinfo(res);
    if (zk->phase != P_RESOLVING)
        return;
    if (status)
        zk__log(ZK_LOG_WARN, "cannot resolve %s: %s", zk->cur->host, uv_strerror(status));
    if (zk->naddrs == 0)
        attempt_failed(zk);
    else
        connect_next_addr(zk);
}

static void start_attempt(zk_t *zk)
{
    if (zk->phase != P_IDLE)
        return;
    if (zk->addr_idx < zk->naddrs) {
        connect_next_addr(zk);
        return;
    }
    zk->cur = &zk->hl.v[zk->host_idx];
    zk->host_idx = (zk->host_idx + 1) % zk->hl.n;
    zk->tried_in_round++;
    zk->naddrs = zk->addr_idx = 0;
    struct sockaddr_in6 a6;
    struct sockaddr_in a4;
    if (uv_ip4_addr(zk->cur->host, zk->cur->port, &a4) == 0) {
        memcpy(&zk->addrs[0], &a4, sizeof a4);
        zk->naddrs = 1;
    } else if (uv_ip6_addr(zk->cur->host, zk->cur->port, &a6) == 0) {
        memcpy(&zk->addrs[0], &a6, sizeof a6);
        zk->naddrs = 1;
    }
    if (zk->naddrs) {
        connect_next_addr(zk);
        return;
    }
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    struct resolve *r = zk_xcalloc(1, sizeof *r);
    r->zk = zk;
    r->gen = ++zk->resolve_gen;
    zk->phase = P_RESOLVING;
    zk->attempt_start = uv_now(zk->loop);
    if (uv_getaddrinfo(zk->loop, &r->req, on_resolved, zk->cur->host, NULL, &hints) != 0) {
        free(r);
        attempt_failed(zk);
        return;
    }
    zk->resolving++;
}

/* Fails the addauth calls still waiting for a connection. */
static void fail_auth_waiters(zk_t *zk, int err)
{
    for (struct auth *a = zk->auths; a; a = a->next) {
        if (a->pend) {
            struct zk_pending *p = a->pend;
            a->pend = NULL;
            complete_err(zk, p, err);
        }
    }
}

/* An attempt (TCP, TLS or handshake) failed before a session was established
 * on it: try the next address or host, or back off after a whole round. */
static void attempt_failed(zk_t *zk)
{
    drop_conn(zk);
    zk->resolve_gen++; /* a lookup still running is now stale */
    zk->phase = P_IDLE;
    if (zk->addr_idx < zk->naddrs || zk->tried_in_round < zk->hl.n) {
        start_attempt(zk);
        return;
    }
    /* A whole round failed: requests waiting for a connection give up. */
    zk->tried_in_round = 0;
    zk->retry_at = uv_now(zk->loop) + 100 + (uint64_t)(zk->next_xid % 400);
    struct zk_pending *out = pq_take_all(&zk->outq);
    fail_list(zk, out, ZK_CONNECTIONLOSS);
    fail_auth_waiters(zk, ZK_CONNECTIONLOSS);
}

/* An established connection is gone: fail what was in flight, tell the
 * application, and go find another server for the same session. */
static void connection_lost(zk_t *zk)
{
    if (zk->phase != P_CONNECTED) {
        if (zk->phase >= P_RESOLVING && zk->phase <= P_HANDSHAKE)
            attempt_failed(zk);
        return;
    }
    drop_conn(zk);
    zk->phase = P_IDLE;
    zk->state = ZK_STATE_DISCONNECTED;
    zk->tried_in_round = 0;
    fail_all(zk, ZK_CONNECTIONLOSS);
    if (zk->phase != P_IDLE)
        return; /* a callback closed the handle */
    emit_session(zk, ZK_SESSION_SUSPENDED);
    if (zk->phase == P_IDLE)
        start_attempt(zk);
}

/* The session is over for good (expired, or auth refused). */
static void session_dead(zk_t *zk, int err, int state, int ev)
{
    drop_conn(zk);
    zk->phase = P_DEAD;
    zk->dead_err = err;
    zk->state = state;
    fail_all(zk, err);
    fail_auth_waiters(zk, err);
    struct watch_ref *refs;
    size_t n = zk__watch_clear(&zk->watches, &refs);
    deliver_watches(zk, refs, n, ZK_EVENT_NONE, state, "", -1);
    if (zk->phase == P_DEAD)
        emit_session(zk, ev);
}

static void on_conn_ready(struct conn *c, void *ud)
{
    zk_t *zk = ud;
    if (c != zk->conn)
        return;
    struct jute_out o;
    jute_out_init(&o);
    jute_put_int(&o, 0);
    jute_put_int(&o, 0); /* protocolVersion */
    jute_put_long(&o, zk->last_zxid);
    jute_put_int(&o, zk->opts.session_timeout_ms);
    jute_put_long(&o, zk->session_id);
    jute_put_buffer(&o, zk->passwd, sizeof zk->passwd);
    jute_put_bool(&o, zk->opts.read_only);
    jute_patch_int(&o, 0, (int32_t)(o.len - 4));
    zk->phase = P_HANDSHAKE;
    zk->last_recv = uv_now(zk->loop);
    send_frame(zk, o.p, o.len);
    jute_out_free(&o);
}

static void on_conn_error(struct conn *c, int status, void *ud)
{
    zk_t *zk = ud;
    (void)status;
    if (c != zk->conn)
        return;
    if (zk->phase == P_CLOSING)
        finish_close(zk);
    else
        connection_lost(zk);
}

static void session_ready(zk_t *zk);

/* Sends one SASL token (GetSASLRequest) with a regular xid. */
static void sasl_send(zk_t *zk, const char *tok, unsigned len)
{
    send_pending(zk, zk__request_sasl(tok, len));
}

static void sasl_fail(zk_t *zk)
{
    zk__zsasl_free(zk->sasl);
    zk->sasl = NULL;
    zk->sasl_busy = 0;
    session_dead(zk, ZK_AUTHFAILED, ZK_STATE_AUTH_FAILED, ZK_SESSION_AUTH_FAILED);
}

/* Steps the exchange with the server's token (NULL to start). */
static void sasl_continue(zk_t *zk, const char *in, unsigned inlen)
{
    const char *out;
    unsigned outlen;
    int rc = zk__zsasl_step(zk->sasl, in, inlen, &out, &outlen);
    if (rc < 0) {
        sasl_fail(zk);
    } else if (rc == 1 || outlen > 0) {
        sasl_send(zk, out, outlen);
    } else {
        zk__zsasl_free(zk->sasl);
        zk->sasl = NULL;
        zk->sasl_busy = 0;
        session_ready(zk);
    }
}

static void sasl_begin(zk_t *zk)
{
    zk__zsasl_free(zk->sasl);
    zk->sasl = NULL;
    if (zk__zsasl_new(&zk->opts.sasl, zk->cur ? zk->cur->host : NULL, &zk->sasl_login,
                      &zk->sasl) != 0) {
        sasl_fail(zk);
        return;
    }
    zk->sasl_busy = 1;
    sasl_continue(zk, NULL, 0);
}

/* SetSASLResponse: the server's next token, or AUTHFAILED. */
static void handle_sasl_reply(zk_t *zk, struct zk_pending *p, int err, struct jute_in *in)
{
    zk__pending_free(p);
    if (!zk->sasl) {
        return; /* a reply for an exchange already over */
    }
    struct zk_slice tok = jute_get_buffer(in);
    if (err != 0 || in->err) {
        sasl_fail(zk);
        return;
    }
    sasl_continue(zk, (const char *)tok.p, tok.len > 0 ? (unsigned)tok.len : 0);
}

static void handle_connect_response(zk_t *zk, const uint8_t *p, size_t n)
{
    struct connect_reply cr;
    if (zk__connect_reply_decode(p, n, &cr)) {
        attempt_failed(zk);
        return;
    }
    if (cr.timeout <= 0) {
        session_dead(zk, ZK_SESSIONEXPIRED, ZK_STATE_EXPIRED, ZK_SESSION_EXPIRED);
        return;
    }
    zk->negotiated_timeout = cr.timeout;
    zk->session_id = cr.session_id;
    memcpy(zk->passwd, cr.passwd, sizeof zk->passwd);
    zk->phase = P_CONNECTED;
    zk->state = cr.read_only ? ZK_STATE_CONNECTED_READONLY : ZK_STATE_SYNC_CONNECTED;
    zk->tried_in_round = 0;
    zk->naddrs = zk->addr_idx = 0;
    zk->last_recv = uv_now(zk->loop);
    if (zk->opts.sasl.mechanism) {
        sasl_begin(zk);
        return;
    }
    session_ready(zk);
}

/* The connection may carry requests now (after SASL, if any). */
static void session_ready(zk_t *zk)
{
    /* Order matters: credentials first, then watches, then requests queued
     * while disconnected; the server handles them in this order. */
    for (struct auth *a = zk->auths; a; a = a->next) {
        struct zk_pending *w = a->pend;
        a->pend = NULL;
        send_auth_packet(zk, a, w);
    }
    send_set_watches(zk);
    struct zk_pending *q;
    while (zk->phase == P_CONNECTED && (q = pq_pop(&zk->outq)) != NULL)
        send_pending(zk, q);
    int ev = zk->ever_connected ? ZK_SESSION_RECONNECTED : ZK_SESSION_CONNECTED;
    zk->ever_connected = 1;
    emit_session(zk, ev);
}

static void handle_notification(zk_t *zk, struct jute_in *in, int64_t zxid)
{
    zk->stats.notifications++;
    int type, state;
    char *path;
    if (zk__event_decode(in, zk->hl.chroot, &type, &state, &path)) {
        connection_lost(zk);
        return;
    }
    struct watch_ref *refs;
    size_t n = zk__watch_trigger(&zk->watches, type, path, &refs);
    deliver_watches(zk, refs, n, type, state, path, zxid);
    free(path);
}

static void handle_auth_reply(zk_t *zk, int err)
{
    struct zk_pending *p = pq_pop(&zk->authq);
    if (p)
        complete_err(zk, p, err);
    if (err == ZK_AUTHFAILED && zk->phase == P_CONNECTED)
        session_dead(zk, ZK_AUTHFAILED, ZK_STATE_AUTH_FAILED, ZK_SESSION_AUTH_FAILED);
}

static void handle_reply(zk_t *zk, struct zk_pending *p, int err, int64_t zxid,
                         struct jute_in *in)
{
    struct zk_result *res = zk_xcalloc(1, sizeof *res);
    res->op = p->api_op;
    res->err = err;
    res->zxid = zxid;
    res->data_len = -1;
    if (zk__reply_decode(p, in, zk->hl.chroot, res) != 0) {
        /* A reply we cannot parse: fail this request, keep the session. */
        zk__result_clear(res);
        res->op = p->api_op;
        res->err = ZK_MARSHALLINGERROR;
        res->data_len = -1;
    }
    int status = res->err;
    if (p->op == ZK_OP_MULTIREAD)
        status = err;

    if (p->watch_kind != WK_NONE && p->path) {
        if (status == 0)
            zk__watch_add(&zk->watches, p->path, p->watch_kind, p->watcher, p->wdata);
        else if (status == ZK_NONODE && p->op == ZK_OP_EXISTS)
            zk__watch_add(&zk->watches, p->path, WK_EXIST, p->watcher, p->wdata);
    }
    if (p->op == ZK_OP_REMOVEWATCHES && status == 0) {
        struct watch_ref *refs;
        size_t n = zk__watch_remove(&zk->watches, p->path, p->watcher_type, p->watcher, p->wdata,
                                &refs);
        deliver_watches(zk, refs, n, ZK_EVENT_NONE, ZK_STATE_SYNC_CONNECTED, p->path, -1);
    }
    complete(zk, p, status, res);
}

/* One frame after the handshake. */
static void handle_frame(zk_t *zk, const uint8_t *p, size_t n)
{
    struct jute_in in;
    jute_in_init(&in, p, n);
    int32_t xid = jute_get_int(&in);
    int64_t zxid = jute_get_long(&in);
    int32_t err = jute_get_int(&in);
    if (in.err) {
        connection_lost(zk);
        return;
    }
    if (zxid > 0 && zxid > zk->last_zxid)
        zk->last_zxid = zxid;
    switch (xid) {
    case ZK_XID_NOTIFICATION:
        handle_notification(zk, &in, zxid);
        return;
    case ZK_XID_PING:
    case ZK_XID_SETWATCHES:
        return;
    case ZK_XID_AUTH:
        handle_auth_reply(zk, err);
        return;
    default:
        break;
    }
    struct zk_pending *head = zk->sentq.head;
    if (!head || head->xid != xid) {
        zk__log(ZK_LOG_WARN, "reply xid %d out of order (expected %d); reconnecting", xid,
                head ? head->xid : 0);
        connection_lost(zk);
        return;
    }
    pq_pop(&zk->sentq);
    if (head->op == ZK_OP_SASL) {
        handle_sasl_reply(zk, head, err, &in);
        return;
    }
    handle_reply(zk, head, err, zxid, &in);
}

/* The ReplyHeader (xid, zxid, err) that starts every frame after the
 * handshake. */
#define REPLY_HEADER_LEN 16

/* Largest frame accepted: the max_reply option, or by default four times
 * the server's jute.maxbuffer plus 64 KiB. */
static size_t reply_limit(const zk_t *zk)
{
    if (zk->opts.max_reply > 0)
        return (size_t)zk->opts.max_reply;
    return (size_t)zk->opts.max_buffer * 4 + 65536;
}

/* A reply of `len` bytes over reply_limit starts at zk->in + off, its header
 * already received.  Rather than drop the connection as Apache's Java client
 * does ("Packet len is out of range"), fails that one request with
 * ZK_MARSHALLINGERROR and discards the body as it arrives (zk->skip), so the
 * session carries on.  Returns the offset after what was consumed. */
static size_t skip_oversized(zk_t *zk, size_t off, size_t len)
{
    uint8_t hdr[REPLY_HEADER_LEN];
    memcpy(hdr, zk->in + off + 4, sizeof hdr);
    zk_be32_put(hdr + 12, (uint32_t)ZK_MARSHALLINGERROR);
    zk__log(ZK_LOG_WARN, "reply of %zu bytes from %s is over the %zu accepted (max_reply); "
            "failed with MARSHALLINGERROR", len, zk->cur_name, reply_limit(zk));
    size_t have = zk->inlen - off - 4;
    if (have >= len) {
        off += 4 + len;
    } else {
        zk->skip = len - have;
        off = zk->inlen;
    }
    handle_frame(zk, hdr, sizeof hdr);
    return off;
}

static void on_conn_data(struct conn *c, const uint8_t *p, size_t n, void *ud)
{
    zk_t *zk = ud;
    if (c != zk->conn)
        return;
    zk->last_recv = uv_now(zk->loop);
    if (zk->skip) {
        size_t k = n < zk->skip ? n : zk->skip;
        zk->skip -= k;
        p += k;
        n -= k;
    }
    if (zk->inlen + n > zk->incap) {
        size_t cap = zk->incap ? zk->incap : 65536;
        while (cap < zk->inlen + n)
            cap *= 2;
        zk->in = zk_xrealloc(zk->in, cap);
        zk->incap = cap;
    }
    memcpy(zk->in + zk->inlen, p, n);
    zk->inlen += n;
    size_t off = 0;
    size_t limit = reply_limit(zk);
    while (zk->inlen - off >= 4) {
        int32_t len = (int32_t)zk_be32_get(zk->in + off);
        int over = len >= 0 && (size_t)len > limit;
        if (len < 0 || (over && ((zk->phase != P_CONNECTED && zk->phase != P_CLOSING) ||
                                len < REPLY_HEADER_LEN))) {
            zk__log(ZK_LOG_WARN, "bad frame length %d from %s", len, zk->cur_name);
            connection_lost(zk);
            return;
        }
        if (over) {
            if (zk->inlen - off - 4 < REPLY_HEADER_LEN)
                break;
            off = skip_oversized(zk, off, (size_t)len);
            if (zk->conn != c)
                return;
            continue;
        }
        if (zk->inlen - off - 4 < (size_t)len)
            break;
        const uint8_t *frame = zk->in + off + 4;
        off += 4 + (size_t)len;
        if (zk->phase == P_HANDSHAKE)
            handle_connect_response(zk, frame, (size_t)len);
        else if (zk->phase == P_CONNECTED || zk->phase == P_CLOSING)
            handle_frame(zk, frame, (size_t)len);
        if (zk->conn != c)
            return; /* dropped (and the buffer reset) while handling */
    }
    if (off) { /* (a large frame arrives in many reads: no copy until it is whole) */
        memmove(zk->in, zk->in + off, zk->inlen - off);
        zk->inlen -= off;
    }
}

/* ---- timers ---- */

static void tick_cb(uv_timer_t *t)
{
    zk_t *zk = t->data;
    uint64_t now = uv_now(zk->loop);
    switch (zk->phase) {
    case P_RESOLVING:
    case P_CONNECTING:
    case P_HANDSHAKE:
        if (now - zk->attempt_start > (uint64_t)zk->opts.connect_timeout_ms)
            attempt_failed(zk);
        break;
    case P_CONNECTED: {
        uint64_t to = (uint64_t)zk->negotiated_timeout;
        if (now - zk->last_recv > to * 2 / 3) {
            zk__log(ZK_LOG_WARN, "no reply from %s in %llu ms; reconnecting", zk->cur_name,
                    (unsigned long long)(now - zk->last_recv));
            connection_lost(zk);
        } else if (now - zk->last_send >= to / 3) {
            struct zk_pending *ping = zk__request_bare(ZK_OP_PING);
            zk__request_set_xid(ping, ZK_XID_PING);
            send_frame(zk, ping->frame, ping->frame_len);
            zk__pending_free(ping);
            zk->pings_sent++;
        }
        break;
    }
    case P_IDLE:
        if (now >= zk->retry_at)
            start_attempt(zk);
        break;
    case P_CLOSING:
        if (now >= zk->close_deadline)
            finish_close(zk);
        break;
    default:
        break;
    }
}

static void defer_cb(uv_timer_t *t)
{
    zk_t *zk = t->data;
    if (zk->loss_pending) {
        zk->loss_pending = 0;
        if (zk->phase == P_CONNECTED)
            connection_lost(zk);
        else if (zk->phase >= P_RESOLVING && zk->phase <= P_HANDSHAKE)
            attempt_failed(zk);
    }
    struct zk_pending *p = pq_take_all(&zk->doneq);
    fail_list(zk, p, ZK_SYSTEMERROR);
}

/* ---- public lifecycle ---- */

void zk_options_init(struct zk_options *o)
{
    memset(o, 0, sizeof *o);
    o->session_timeout_ms = 10000;
    o->max_buffer = ZK_DEFAULT_MAX_BUFFER;
    o->tls.verify_peer = 1;
    o->tls.verify_hostname = 1;
}

static char *dup_opt(const char *s)
{
    return s ? zk_xstrndup(s, strlen(s)) : NULL;
}

static void free_opts(struct zk_options *o)
{
    free((char *)o->hosts);
    free((char *)o->tls.ca_file);
    free((char *)o->tls.cert_file);
    free((char *)o->tls.key_file);
    free((char *)o->tls.server_name);
    free((char *)o->sasl.mechanism);
    free((char *)o->sasl.user);
    free((char *)o->sasl.password);
    free((char *)o->sasl.service);
    free((char *)o->sasl.server_name);
    free((char *)o->sasl.keytab);
    free((char *)o->sasl.principal);
}

int zk_open(uv_loop_t *loop, const struct zk_options *o, zk_t **out)
{
    assert(out); /* OUT: always written on success */
    if (!loop || !o || !o->hosts || o->session_timeout_ms < 0 || o->connect_timeout_ms < 0)
        return ZK_BADARGUMENTS;
    zk_t *zk = zk_xcalloc(1, sizeof *zk);
    if (zk__hosts_parse(o->hosts, &zk->hl) != 0) {
        free(zk);
        return ZK_BADARGUMENTS;
    }
    zk->loop = loop;
    zk->opts = *o;
    zk->opts.hosts = dup_opt(o->hosts);
    zk->opts.tls.ca_file = dup_opt(o->tls.ca_file);
    zk->opts.tls.cert_file = dup_opt(o->tls.cert_file);
    zk->opts.tls.key_file = dup_opt(o->tls.key_file);
    zk->opts.tls.server_name = dup_opt(o->tls.server_name);
    zk->opts.sasl.mechanism = dup_opt(o->sasl.mechanism);
    zk->opts.sasl.user = dup_opt(o->sasl.user);
    zk->opts.sasl.password = dup_opt(o->sasl.password);
    zk->opts.sasl.service = dup_opt(o->sasl.service);
    zk->opts.sasl.server_name = dup_opt(o->sasl.server_name);
    zk->opts.sasl.keytab = dup_opt(o->sasl.keytab);
    zk->opts.sasl.principal = dup_opt(o->sasl.principal);
    if (o->sasl.mechanism && strcmp(o->sasl.mechanism, "GSSAPI") &&
        (!o->sasl.user || !o->sasl.password)) {
        free_opts(&zk->opts);
        zk__hosts_free(&zk->hl);
        free(zk);
        return ZK_BADARGUMENTS;
    }
    if (zk->opts.session_timeout_ms == 0)
        zk->opts.session_timeout_ms = 10000;
    if (zk->opts.max_buffer <= 0)
        zk->opts.max_buffer = ZK_DEFAULT_MAX_BUFFER;
    if (zk->opts.connect_timeout_ms == 0) {
        int t = zk->opts.session_timeout_ms / (int)zk->hl.n;
        zk->opts.connect_timeout_ms = t < 1000 ? 1000 : t;
    }
    zk->user_data = o->data;
    zk->ctype = &zk__conn_plain_type;
    if (o->use_tls) {
        if (zk__conn_tls_ctx_new(&zk->opts.tls, zk->opts.tls_ocsp, &zk->tls_ctx) != 0)
            goto err_opts;
        zk->ctype = &zk__conn_tls_type;
    }
    if (!o->no_shuffle)
        zk__hosts_shuffle(&zk->hl);
    if (o->session_id) {
        zk->session_id = o->session_id;
        if (o->password)
            memcpy(zk->passwd, o->password, sizeof zk->passwd);
    }
    zk->state = ZK_STATE_DISCONNECTED;
    zk->next_xid = 1;
    zk->phase = P_IDLE;
    zk__watch_table_init(&zk->watches);
    uv_timer_init(loop, &zk->tick);
    uv_timer_init(loop, &zk->defer);
    zk->tick.data = zk->defer.data = zk;
    zk->open_handles = 2;
    uv_timer_start(&zk->tick, tick_cb, TICK_MS, TICK_MS);
    *out = zk;
    start_attempt(zk);
    return 0;

err_opts:
    free_opts(&zk->opts);
    zk__hosts_free(&zk->hl);
    free(zk);
    return ZK_SYSTEMERROR;
}

/* Requests made by callbacks while the handle closes (a ZK_CLOSING
 * completion that tries again, say) still complete once, with ZK_CLOSING.
 * Bounded, against a callback that resubmits forever. */
static void drain_closing(zk_t *zk)
{
    for (int round = 0; round < 64; round++) {
        struct zk_pending *p = pq_take_all(&zk->doneq);
        if (!p)
            return;
        fail_list(zk, p, ZK_CLOSING);
    }
    for (struct zk_pending *p = pq_take_all(&zk->doneq), *next; p; p = next) {
        next = p->next;
        zk__pending_free(p);
    }
}

static void free_handle(zk_t *zk)
{
    zk_close_fn cb = zk->close_cb;
    void *data = zk->close_data;
    drain_closing(zk);
    if (cb)
        cb(zk, data);
    drain_closing(zk);
    zk__watch_table_free(&zk->watches);
    free(zk->listeners);
    zk__zsasl_free(zk->sasl);
    zk__zsasl_login_free(zk->sasl_login);
    while (zk->auths) {
        struct auth *a = zk->auths;
        zk->auths = a->next;
        free(a->scheme);
        free(a->cred);
        free(a);
    }
    if (zk->tls_ctx)
        zk__conn_tls_ctx_free(zk->tls_ctx);
    free(zk->in);
    free_opts(&zk->opts);
    zk__hosts_free(&zk->hl);
    free(zk);
}

static void on_timer_closed(uv_handle_t *h)
{
    zk_t *zk = h->data;
    if (--zk->open_handles == 0 && !zk->resolving)
        free_handle(zk);
}

/* Tears everything down; called again from on_resolved if a lookup was
 * still running, and frees once the last handle has closed. */
static void finish_close(zk_t *zk)
{
    if (zk->phase == P_CLOSED) {
        if (zk->open_handles == 0 && !zk->resolving)
            free_handle(zk);
        return;
    }
    zk->phase = P_CLOSED;
    zk->state = ZK_STATE_CLOSED;
    drop_conn(zk);
    fail_all(zk, ZK_CLOSING);
    struct zk_pending *done = pq_take_all(&zk->doneq);
    fail_list(zk, done, ZK_CLOSING);
    fail_auth_waiters(zk, ZK_CLOSING);
    emit_session(zk, ZK_SESSION_CLOSED);
    uv_timer_stop(&zk->tick);
    uv_timer_stop(&zk->defer);
    uv_close((uv_handle_t *)&zk->tick, on_timer_closed);
    uv_close((uv_handle_t *)&zk->defer, on_timer_closed);
}

static void on_close_reply(zk_t *zk, int status, const struct zk_result *res, void *data)
{
    (void)status;
    (void)res;
    (void)data;
    if (zk->phase == P_CLOSING)
        finish_close(zk);
}

void zk_close(zk_t *zk, zk_close_fn cb, void *data)
{
    if (!zk || zk->phase == P_CLOSING || zk->phase == P_CLOSED)
        return;
    zk->close_cb = cb;
    zk->close_data = data;
    if (zk->phase == P_CONNECTED) {
        struct zk_pending *p = zk__request_bare(ZK_OP_CLOSESESSION);
        p->cb = on_close_reply;
        zk->phase = P_CLOSING;
        uint64_t wait = (uint64_t)zk->negotiated_timeout;
        zk->close_deadline = uv_now(zk->loop) + (wait < CLOSE_WAIT_MS ? wait : CLOSE_WAIT_MS);
        send_pending(zk, p);
        return;
    }
    finish_close(zk);
}

void zk_reconnect(zk_t *zk)
{
    if (zk->phase >= P_RESOLVING && zk->phase <= P_CONNECTED) {
        zk->loss_pending = 1;
        kick_defer(zk);
    }
}

int zk_state(const zk_t *zk)
{
    return atomic_load(&((zk_t *)zk)->state);
}

int64_t zk_session_id(const zk_t *zk)
{
    return atomic_load(&((zk_t *)zk)->session_id);
}

void zk_session_password(const zk_t *zk, char pw[16])
{
    assert(zk && pw);
    memcpy(pw, zk->passwd, 16);
}

int zk_session_timeout(const zk_t *zk)
{
    return zk->negotiated_timeout;
}

int64_t zk_last_zxid(const zk_t *zk)
{
    return zk->last_zxid;
}

const char *zk_current_host(const zk_t *zk)
{
    return zk->phase == P_CONNECTED && zk->cur_name[0] ? zk->cur_name : NULL;
}

void zk__session_set_foreign(zk_t *zk, void *f)
{
    zk->foreign = f;
}

void *zk__session_foreign(const zk_t *zk)
{
    return zk->foreign;
}

uint64_t zk__session_pings_sent(const zk_t *zk)
{
    return zk->pings_sent;
}

struct conn *zk__session_cork(zk_t *zk)
{
    zk__conn_cork(zk->conn);
    return zk->conn;
}

void zk_get_stats(const zk_t *zk, struct zk_stats *out)
{
    assert(zk && out);
    *out = zk->stats;
}

struct uv_loop_s *zk_loop(const zk_t *zk)
{
    return zk->loop;
}

void *zk_data(const zk_t *zk)
{
    return zk->user_data;
}

void zk_set_data(zk_t *zk, void *data)
{
    zk->user_data = data;
}

/* ---- submitting ---- */

/* Remembers the credential (re-sent on every reconnect) and sends it now,
 * or when connected; p is its completion. */
static void submit_auth(zk_t *zk, const struct zk_request *req, struct zk_pending *p)
{
    struct auth *a = zk_xcalloc(1, sizeof *a);
    a->scheme = zk_xstrndup(req->scheme, strlen(req->scheme));
    a->len = req->data ? req->data_len : 0;
    a->cred = zk_xmalloc((size_t)a->len + 1);
    if (a->len)
        memcpy(a->cred, req->data, (size_t)a->len);
    struct auth **pp = &zk->auths;
    while (*pp)
        pp = &(*pp)->next;
    *pp = a;
    if (zk->phase == P_CONNECTED && !zk->sasl_busy)
        send_auth_packet(zk, a, p);
    else
        a->pend = p;
}

static void fail_early(zk_t *zk, struct zk_pending *p, int err)
{
    p->early_err = err;
    pq_push(&zk->doneq, p);
    kick_defer(zk);
}

void zk__session_submit(zk_t *zk, const struct zk_request *req, zk_result_fn cb, void *data,
                    int flags)
{
    assert(zk && req);
    struct zk_pending *p = NULL;
    const char *chroot = (flags & SUBMIT_NO_CHROOT) || req->no_chroot ? NULL : zk->hl.chroot;
    if (req->op == ZK_OP_AUTH) {
        p = zk_xcalloc(1, sizeof *p);
        p->op = p->api_op = ZK_OP_AUTH;
        p->watch_kind = WK_NONE;
        if (!req->scheme || (req->data && req->data_len < 0))
            p->early_err = ZK_BADARGUMENTS;
    } else if (req->op == ZK_OP_REMOVEWATCHES && req->watcher && req->path) {
        /* Ask the server only for the watch classes this removal empties. */
        struct zk_request narrowed = *req;
        int t = zk__watch_server_type(&zk->watches, req->path, req->watcher_type, req->watcher,
                                  req->watcher_data);
        if (t != 0)
            narrowed.watcher_type = t;
        zk__request_build(&narrowed, chroot, zk->opts.max_buffer, &p);
        p->watcher_type = req->watcher_type; /* what to remove locally */
        if (t == 0 && !p->early_err && zk->phase < P_CLOSING &&
            zk__watch_match(&zk->watches, p->path, p->watcher_type, p->watcher, p->wdata)) {
            p->cb = cb;
            p->data = data;
            p->owns_result = (flags & SUBMIT_OWNS_RESULT) != 0;
            fail_early(zk, p, EARLY_LOCAL_REMOVE);
            return;
        }
    } else {
        zk__request_build(req, chroot, zk->opts.max_buffer, &p);
    }
    p->cb = cb;
    p->data = data;
    p->owns_result = (flags & SUBMIT_OWNS_RESULT) != 0;
    if (req->op == ZK_OP_AUTH && !p->early_err && zk->phase < P_DEAD) {
        submit_auth(zk, req, p);
        return;
    }
    if (zk->phase == P_CLOSING || zk->phase == P_CLOSED) {
        fail_early(zk, p, ZK_CLOSING);
        return;
    }
    if (zk->phase == P_DEAD) {
        fail_early(zk, p, zk->dead_err);
        return;
    }
    if (p->early_err) {
        fail_early(zk, p, p->early_err);
        return;
    }
    if (p->op == ZK_OP_CHECKWATCHES || p->op == ZK_OP_REMOVEWATCHES) {
        if (!zk__watch_match(&zk->watches, p->path, p->watcher_type, p->watcher, p->wdata)) {
            fail_early(zk, p, ZK_NOWATCHER);
            return;
        }
        if (p->op == ZK_OP_CHECKWATCHES)
            p->watcher = NULL;
    }
    if (zk->phase == P_CONNECTED && !zk->sasl_busy)
        send_pending(zk, p);
    else
        pq_push(&zk->outq, p);
}

void zk_submit(zk_t *zk, const struct zk_request *req, zk_result_fn cb, void *data)
{
    zk__session_submit(zk, req, cb, data, 0);
}
