/*
 * conn.c - client connections (see conn.h).
 *
 * Stream offsets: everything ever queued on a connection forms one byte
 * stream.  `consumed` counts bytes already handed to the socket; `out` holds
 * the rest; `released` is the offset the durability gate has opened up to;
 * each mark is a held frame's end offset with its tag.  Releasing pops marks
 * whose tag is durable (lowering a reply's header zxid to the durable zxid:
 * conn.h conn_reply_begin); flushing sends [consumed, released).
 */
#include "conn.h"

#include <assert.h>
#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flush.h"
#include "listing.h"
#include "log.h"
#include "sasl.h"
#include "server.h"
#include "tls.h"
#include "zk/proto.h"

#define PAUSE_READ_BYTES (4u << 20)
#define RESUME_READ_BYTES (1u << 20)
#define MAX_QUEUED_BYTES (64u << 20)

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);
static void gate_frame(struct conn *c, int64_t tag, int notify);
static void alloc_in(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void alloc_tls(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
#define TLS_RBUF 65536

static void free_reqs(struct held_req **head, struct held_req **tail)
{
    while (*head) {
        struct held_req *h = *head;
        *head = h->next;
        free(h);
    }
    *tail = NULL;
}

static void free_held(struct conn *c)
{
    free_reqs(&c->held, &c->held_tail);
    free_reqs(&c->audit_fwd, &c->audit_fwd_tail);
}

static void on_close(uv_handle_t *h)
{
    struct conn *c = h->data;
    free_held(c);
    if (c->readonly)
        free(c->session);
    jute_out_free(&c->out);
    free(c->in);
    free(c->marks);
    free(c->wbuf.base);
    auth_info_free(&c->auth);
    zkd_sasl_dispose(c);
    tls_conn_free(c->tls);
    free(c->tls_rbuf);
    free(c);
}

void conn_close(struct conn *c)
{
    struct server *s = c->srv;
    if (c->state == CONN_CLOSING || c->sink)
        return;
    c->state = CONN_CLOSING;
    server_conn_closed(s, c);
    if (c->session && c->session->conn == c)
        c->session->conn = NULL;
    watch_owner_clear(&c->watches);
    pset_del(&s->held, c);
    pset_del(&s->dirty, c);
    flush_forget(s, c);
    pset_del(&s->throttled, c);
    fifo_remove(&s->backlog, &c->bq);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    assert(s->nconns > 0);
    s->nconns--;
    uv_close((uv_handle_t *)&c->tcp, on_close);
}

void conn_close_after_flush(struct conn *c)
{
    if (c->sink)
        return;
    c->close_after_flush = 1;
    uv_read_stop((uv_stream_t *)&c->tcp);
    server_mark_dirty(c->srv, c);
}

size_t conn_queued_bytes(const struct conn *c)
{
    return c->out.len + (c->writing ? c->wbuf.len : 0) + c->tls_inflight;
}

static void alloc_tls(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct conn *c = h->data;
    (void)suggested;
    buf->base = (char *)c->tls_rbuf;
    buf->len = TLS_RBUF;
}

struct raw_write {
    uv_write_t req;
    struct conn *c;
    uv_buf_t buf;
};

static void maybe_resume(struct conn *c);

static void on_raw_write(uv_write_t *req, int status)
{
    struct raw_write *w = (struct raw_write *)req;
    struct conn *c = w->c;
    assert(c->tls_inflight >= w->buf.len);
    c->tls_inflight -= w->buf.len;
    free(w->buf.base);
    free(w);
    if (c->state == CONN_CLOSING)
        return;
    if (status) {
        conn_close(c);
        return;
    }
    if (c->close_after_flush)
        server_mark_dirty(c->srv, c);
    maybe_resume(c);
}

/* Queues ciphertext on the socket (takes ownership of out's buffer). */
static int write_cipher(struct conn *c, struct jute_out *out)
{
    if (!out->len)
        return 0;
    struct raw_write *w = zk_xcalloc(1, sizeof *w);
    w->c = c;
    size_t len;
    w->buf.base = (char *)jute_out_steal(out, &len);
    w->buf.len = len;
    c->tls_inflight += len;
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &w->buf, 1, on_raw_write)) {
        c->tls_inflight -= len;
        free(w->buf.base);
        free(w);
        return -1;
    }
    return 0;
}

/* A connection's input buffer starts at IN_MIN and grows only when reads
 * fill it: an idle watcher keeps 4 KiB, where a fixed 64 KiB was 1.2 GB of
 * RSS at 19,000 connections (the heap is on huge pages, so untouched bytes
 * count too); a pipelining client reaches IN_MAX free bytes per read. */
#define IN_MIN 4096
#define IN_MAX 65536

static void alloc_in(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct conn *c = h->data;
    (void)suggested;
    if (c->in_want < IN_MIN)
        c->in_want = IN_MIN;
    if (c->in_off && c->in_cap - c->in_len < c->in_want) {
        /* Reading resumes once every whole frame is handled: what moves
         * is at most the start of one frame. */
        memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
        c->in_len -= c->in_off;
        c->in_off = 0;
    }
    if (c->in_cap - c->in_len < c->in_want) {
        size_t cap = c->in_cap ? c->in_cap * 2 : c->in_want;
        while (cap - c->in_len < c->in_want)
            cap *= 2;
        c->in = zk_xrealloc(c->in, cap);
        c->in_cap = cap;
    }
    buf->base = (char *)c->in + c->in_len;
    buf->len = c->in_cap - c->in_len;
}

struct conn *conn_create(struct server *s, int tls)
{
    struct conn *c = zk_xcalloc(1, sizeof *c);
    c->srv = s;
    c->is_tls = tls;
    uv_tcp_init(s->loop, &c->tcp);
    c->tcp.data = c;
    c->established_ms = clock_wall_ms();
    c->state = CONN_HANDSHAKE;
    c->uid = ++s->next_conn_uid;
    c->active_ms = clock_mono_ms();
    if (tls)
        c->tls_rbuf = zk_xmalloc(TLS_RBUF); /* c->tls once the peer's address is known */
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    s->stats.connections_total++;
    return c;
}

static void peer_name(struct conn *c)
{
    struct sockaddr_storage ss;
    int sl = sizeof ss;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sl))
        return;
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        uv_ip4_name(a, c->remote, sizeof c->remote);
        c->remote_port = ntohs(a->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        uv_ip6_name(a, c->remote, sizeof c->remote);
        c->remote_port = ntohs(a->sin6_port);
    }
}

int conn_accept(struct server *s, uv_stream_t *listener, int tls)
{
    struct conn *c = conn_create(s, tls);
    int rc = uv_accept(listener, (uv_stream_t *)&c->tcp);
    if (rc) {
        conn_close(c);
        return rc;
    }
    peer_name(c);
    if (s->cfg.max_client_cnxns > 0) {
        int same = 0;
        for (struct conn *o = s->conns; o; o = o->next)
            same += !strcmp(o->remote, c->remote);
        if (same > s->cfg.max_client_cnxns) {
            log_warn("too many connections from %s (max %d)", c->remote, s->cfg.max_client_cnxns);
            conn_close(c);
            return 0;
        }
    }
    uv_tcp_nodelay(&c->tcp, 1);
    auth_info_add(&c->auth, "ip", c->remote);
    if (tls)
        c->tls = tls_conn_new(s->tls_ctx, c->remote);
    uv_read_start((uv_stream_t *)&c->tcp, c->tls ? alloc_tls : alloc_in, on_read);
    return 0;
}

/* ---- input ---- */

/* Whether nothing but the socket keeps `c` from being read. */
static int may_read(const struct conn *c)
{
    return c->state == CONN_READY && !c->close_after_flush && !c->reading_paused &&
           !c->throttled && !c->backlogged;
}

static void start_reading(struct conn *c)
{
    uv_read_start((uv_stream_t *)&c->tcp, c->tls ? alloc_tls : alloc_in, on_read);
}

/* Handles the complete frames in c->in, at most `budget` requests of a ready
 * connection, and with `shared`, only while the turn's phase has room
 * (server_take_request): past that, the connection stops reading and waits
 * for its next turn (server_backlog), so neither a client that pipelines
 * thousands of requests nor thousands of clients sending one each can keep
 * the loop from everyone else for their whole batch. */
static int handle_frames(struct conn *c, size_t budget, int shared)
{
    struct server *s = c->srv;
    size_t off = c->in_off;
    int locked = 0; /* the tree write lock, for this batch (server_batch_lock) */
    while (c->state != CONN_CLOSING && !c->close_after_flush && c->in_len - off >= 4) {
        const uint8_t *p = c->in + off;
        if (c->state == CONN_HANDSHAKE && server_four_letter(s, c, p)) {
            off = c->in_len;
            break;
        }
        int32_t len = (int32_t)zk_be32_get(p);
        if (len < 0 || len > s->cfg.jute_max_buffer) {
            log_warn("closing connection from %s:%d: frame length %d outside [0, %d]", c->remote,
                     c->remote_port, len, s->cfg.jute_max_buffer);
            s->stats.bad_frames++;
            if (locked)
                server_batch_unlock(s);
            conn_close(c);
            return -1;
        }
        if (c->in_len - off - 4 < (size_t)len)
            break;
        if (c->state == CONN_READY && !c->sink && server_over_limit(s)) {
            c->throttled = 1;
            uv_read_stop((uv_stream_t *)&c->tcp);
            server_throttle(s, c);
            break;
        }
        if (c->state == CONN_READY && !c->sink &&
            (budget-- == 0 || (shared && !server_take_request(s)))) {
            conn_wait_turn(c);
            break;
        }
        if (c->state == CONN_READY && !c->sink && !locked) {
            int rc = server_batch_lock(s, p + 4, (size_t)len);
            if (rc < 0) {
                conn_wait_turn(c); /* a snapshot walker holds it: next turn */
                break;
            }
            locked = rc;
        }
        c->packets_in++;
        s->stats.packets_received++;
        if (c->state == CONN_HANDSHAKE)
            server_connect(s, c, p + 4, (size_t)len);
        else
            server_request(s, c, p + 4, (size_t)len);
        off += 4 + (size_t)len;
        if (c->reading_paused || c->listing) /* (a listing waits for its turns) */
            break;
    }
    if (locked)
        server_batch_unlock(s);
    if (c->state == CONN_CLOSING)
        return -1;
    /* The handled frames stay until a read needs their room: moving the
     * rest down after every share of requestsPerTurn moved up to 64 KiB per
     * 100 requests of a pipelining client (7% of a load's instructions). */
    if (off == c->in_len)
        c->in_len = off = 0;
    c->in_off = off;
    return 0;
}

void conn_feed(struct conn *c, const void *p, size_t len)
{
    if (!len)
        return;
    if (c->in_cap - c->in_len < len) {
        c->in_cap = c->in_len + len + 1024;
        c->in = zk_xrealloc(c->in, c->in_cap);
    }
    memcpy(c->in + c->in_len, p, len);
    c->in_len += len;
    handle_frames(c, SIZE_MAX, 0);
}

/* Requests per turn for a connection read from its socket. */
static size_t turn_budget(const struct conn *c)
{
    int n = c->srv->cfg.requests_per_turn;
    return n > 0 ? (size_t)n : SIZE_MAX;
}

void conn_wait_turn(struct conn *c)
{
    c->backlogged = 1;
    uv_read_stop((uv_stream_t *)&c->tcp);
    server_backlog(c->srv, c);
}

void conn_continue(struct conn *c)
{
    if (!c->backlogged || c->state == CONN_CLOSING)
        return;
    if (c->listing && listing_continue(c)) {
        if (c->state != CONN_CLOSING)
            server_backlog(c->srv, c); /* its next slice, next turn */
        return;
    }
    if (c->state == CONN_CLOSING)
        return;
    c->backlogged = 0;
    if (handle_frames(c, turn_budget(c), 1) == 0 && may_read(c))
        start_reading(c);
}

/* Decrypts what arrived on a TLS connection into c->in. Returns 0 or -1. */
static int tls_input(struct conn *c, const uv_buf_t *buf, size_t n)
{
    struct jute_out plain, cipher;
    jute_out_init(&plain);
    jute_out_init(&cipher);
    int was_ready = tls_conn_ready(c->tls);
    int rc = tls_conn_read(c->tls, buf->base, n, &plain, &cipher);
    if (write_cipher(c, &cipher))
        rc = -1;
    jute_out_free(&cipher);
    if (!was_ready && tls_conn_ready(c->tls)) {
        char *dn = tls_conn_peer_dn(c->tls);
        if (dn) {
            /* X509AuthenticationProvider: the configured superUser DN is super. */
            if (c->srv->cfg.x509_super_user[0] && !strcmp(dn, c->srv->cfg.x509_super_user))
                auth_info_add(&c->auth, "super", dn);
            auth_info_add(&c->auth, "x509", dn);
            free(dn);
        }
    }
    if (plain.len) {
        if (c->in_cap - c->in_len < plain.len) {
            c->in_cap = c->in_len + plain.len + 65536;
            c->in = zk_xrealloc(c->in, c->in_cap);
        }
        memcpy(c->in + c->in_len, plain.p, plain.len);
        c->in_len += plain.len;
    }
    jute_out_free(&plain);
    return rc;
}

/*
 * client.portUnification: the plain port also serves TLS.  A TLS client
 * opens with a handshake record (first byte 0x16); a ZooKeeper client opens
 * with a frame length whose top byte is 0 for any frame zkd accepts, a
 * four-letter word with a lower-case letter.  So the first byte decides.
 */
static int wants_tls(const struct conn *c, const uv_buf_t *buf)
{
    return c->srv->cfg.client_port_unification && c->srv->tls_ctx && c->packets_in == 0 &&
           (uint8_t)buf->base[0] == 0x16;
}

/* Turns a plain connection into a TLS one before its first bytes are
 * decrypted (tls_input copies them out of c->in before writing there);
 * later reads go to the TLS read buffer. */
static void become_tls(struct conn *c)
{
    c->tls_rbuf = zk_xmalloc(TLS_RBUF);
    c->tls = tls_conn_new(c->srv->tls_ctx, c->remote);
    c->is_tls = 1;
    uv_read_stop((uv_stream_t *)&c->tcp);
    uv_read_start((uv_stream_t *)&c->tcp, alloc_tls, on_read);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct conn *c = stream->data;
    c->srv->client_reads++;
    if (nread < 0) {
        if (nread != UV_EOF)
            log_debug("connection from %s:%d: %s", c->remote, c->remote_port, uv_strerror((int)nread));
        conn_close(c);
        return;
    }
    if (!c->tls && !c->in_len && nread > 0 && wants_tls(c, buf))
        become_tls(c);
    if (c->tls) {
        if (tls_input(c, buf, (size_t)nread)) {
            log_info("TLS handshake or record failure from %s:%d", c->remote, c->remote_port);
            conn_close_after_flush(c);
            return;
        }
    } else {
        if ((size_t)nread == buf->len && c->in_want < IN_MAX)
            c->in_want *= 2;
        c->in_len += (size_t)nread;
    }
    if (!c->backlogged) /* (its turn comes from conn_continue) */
        handle_frames(c, turn_budget(c), 1);
}

static void maybe_pause(struct conn *c)
{
    size_t q = conn_queued_bytes(c);
    if (q > MAX_QUEUED_BYTES) {
        log_warn("closing connection from %s:%d (session 0x%llx): %zu bytes of replies unread",
                 c->remote, c->remote_port, (unsigned long long)c->session_id, q);
        conn_close(c);
    } else if (q > PAUSE_READ_BYTES && !c->reading_paused && c->state == CONN_READY) {
        c->reading_paused = 1;
        uv_read_stop((uv_stream_t *)&c->tcp);
    }
}

static void maybe_resume(struct conn *c)
{
    if (c->reading_paused && conn_queued_bytes(c) < RESUME_READ_BYTES && c->state == CONN_READY &&
        !c->close_after_flush) {
        c->reading_paused = 0;
        if (may_read(c)) {
            start_reading(c);
            handle_frames(c, turn_budget(c), 1); /* frames that arrived before the pause */
        }
    }
}

void conn_unthrottle(struct conn *c)
{
    c->throttled = 0;
    if (!may_read(c))
        return;
    start_reading(c);
    handle_frames(c, turn_budget(c), 1); /* frames read before the stop */
}

/* ---- output ---- */

size_t conn_frame_begin(struct conn *c)
{
    size_t start = c->out.len;
    c->reply_zxid_at = 0;
    jute_put_int(&c->out, 0);
    return start;
}

static void push_mark(struct conn *c, uint64_t end, int64_t tag, uint64_t zxid_at, int notify)
{
    if (c->mark_n == c->mark_cap) {
        size_t cap = c->mark_cap ? c->mark_cap * 2 : 16;
        struct conn_mark *m = zk_xmalloc(cap * sizeof *m);
        for (size_t i = 0; i < c->mark_n; i++)
            m[i] = c->marks[(c->mark_head + i) % c->mark_cap];
        free(c->marks);
        c->marks = m;
        c->mark_cap = cap;
        c->mark_head = 0;
    }
    c->marks[(c->mark_head + c->mark_n) % c->mark_cap] = (struct conn_mark){end, tag, zxid_at, notify};
    c->mark_n++;
}

static void frame_end(struct conn *c, size_t start, int64_t tag, int32_t xid, int notify);

void conn_frame_end(struct conn *c, size_t start, int64_t tag, int32_t xid)
{
    frame_end(c, start, tag, xid, 0);
}

/* conn_frame_end; `notify`: the frame is a watch notification. */
static void frame_end(struct conn *c, size_t start, int64_t tag, int32_t xid, int notify)
{
    assert(start + 4 <= c->out.len); /* after conn_frame_begin */
    struct server *s = c->srv;
    if (c->state == CONN_CLOSING) {
        c->out.len = start;
        c->reply_zxid_at = 0;
        return;
    }
    size_t flen = c->out.len - start - 4;
    /* jute.maxbuffer bounds what zkd reads, not what it sends: Apache
     * serializes a reply of any size (ServerCnxn.sendResponse) and leaves
     * the limit to the client, so a getChildren of a million names reaches a
     * client that accepts it.  Only a frame its 32-bit length cannot state
     * becomes an error. */
    if (flen > (size_t)INT32_MAX) {
        log_warn("reply of %zu bytes to %s:%d (session 0x%llx) cannot be framed; sent "
                 "MARSHALLINGERROR", flen, c->remote, c->remote_port,
                 (unsigned long long)c->session_id);
        c->out.len = start + 4;
        jute_put_int(&c->out, xid);
        jute_put_long(&c->out, s->db.last_zxid);
        jute_put_int(&c->out, ZK_MARSHALLINGERROR);
        c->reply_zxid_at = c->consumed + start + 8; /* a ReplyHeader now, whatever it was */
        flen = c->out.len - start - 4;
    }
    jute_patch_int(&c->out, start, (int32_t)flen);
    if (c->sink) {
        c->sink(c, c->out.p + start, c->out.len - start);
        c->out.len = start;
        c->reply_zxid_at = 0;
        return;
    }
    gate_frame(c, tag, notify);
}

/* Lowers the ReplyHeader zxid at stream offset `at` (0: the frame has none)
 * to `durable` if it is above: what the client is told it has seen must
 * survive a crash (conn.h conn_reply_begin).  The frame is still in `out`:
 * only released bytes are ever written. */
static void cap_reply_zxid(struct conn *c, uint64_t at, int64_t durable)
{
    if (!at)
        return;
    assert(at >= c->consumed && at + 8 <= c->consumed + c->out.len);
    uint8_t *p = c->out.p + (size_t)(at - c->consumed);
    if ((int64_t)zk_be64_get(p) > durable)
        zk_be64_put(p, (uint64_t)durable);
}

/* Releases the frame just queued at the end of `out`, or holds it behind the
 * durability gate; `notify`: it is a watch notification (reply_end). */
static void gate_frame(struct conn *c, int64_t tag, int notify)
{
    struct server *s = c->srv;
    c->packets_out++;
    s->stats.packets_sent++;
    if (tag > c->max_tag)
        c->max_tag = tag;
    uint64_t end = c->consumed + c->out.len;
    uint64_t zxid_at = c->reply_zxid_at;
    c->reply_zxid_at = 0;
    if (c->mark_n == 0 && tag <= s->durable_zxid) {
        cap_reply_zxid(c, zxid_at, s->durable_zxid);
        c->released = end;
        if (!notify)
            c->reply_end = end;
        server_mark_dirty(s, c);
    } else {
        push_mark(c, end, tag, zxid_at, notify);
        server_hold(s, c);
    }
    maybe_pause(c);
}

void conn_put_frame(struct conn *c, const void *frame, size_t len, int64_t tag)
{
    assert(len >= 4); /* length prefix included */
    if (c->state == CONN_CLOSING)
        return;
    jute_put_raw(&c->out, frame, len);
    c->reply_zxid_at = 0; /* built elsewhere: its header stays as it is */
    gate_frame(c, tag, 0);
}

struct conn *conn_new_proxy(struct server *s, void (*sink)(struct conn *c, const uint8_t *frame,
                                                           size_t len),
                            void *data)
{
    struct conn *c = zk_xcalloc(1, sizeof *c);
    c->srv = s;
    c->state = CONN_READY;
    c->sink = sink;
    c->sink_data = data;
    jute_out_init(&c->out);
    snprintf(c->remote, sizeof c->remote, "learner");
    return c;
}

void conn_free_proxy(struct conn *c)
{
    /* A forwarded read may have set a watch (a learner forwards only writes,
     * but a peer's bytes are outside input): entries left pointing at the
     * freed owner were a use-after-free at the next trigger (fuzz_peer). */
    watch_owner_clear(&c->watches);
    jute_out_free(&c->out);
    auth_info_free(&c->auth);
    free(c);
}

size_t conn_reply_begin(struct conn *c, int32_t xid, int64_t zxid, int32_t err)
{
    size_t at = conn_frame_begin(c);
    jute_put_int(&c->out, xid);
    jute_put_long(&c->out, zxid);
    jute_put_int(&c->out, err);
    c->reply_zxid_at = c->consumed + at + 8; /* after the length and the xid */
    return at;
}

void conn_put_body(struct conn *c, size_t start, struct jute_out *body, size_t room)
{
    assert(body->len >= room);
    if (start == 0 && c->out.len == room) {
        memcpy(body->p, c->out.p, room);
        struct jute_out mine = c->out;
        c->out = *body;
        *body = mine;
    } else {
        jute_put_raw(&c->out, body->p + room, body->len - room);
    }
    jute_out_free(body);
}

void conn_reply_header(struct conn *c, int32_t xid, int64_t zxid, int32_t err, int64_t tag)
{
    conn_frame_end(c, conn_reply_begin(c, xid, zxid, err), tag, xid);
}

void conn_put_event(struct conn *c, int32_t type, const char *path, size_t len, int64_t zxid,
                    int64_t tag)
{
    /* (No assert on the path: a client's setWatches may name "" or a null
     * path, and the event echoes what it named.) */
    size_t at = conn_reply_begin(c, ZK_XID_NOTIFICATION, zxid, 0);
    jute_put_int(&c->out, type);
    jute_put_int(&c->out, ZK_STATE_SYNC_CONNECTED);
    jute_put_buffer(&c->out, path, (int32_t)len);
    frame_end(c, at, tag, ZK_XID_NOTIFICATION, 1);
}

void conn_watch_event(struct watch_owner *owner, int32_t type, const char *path, int64_t zxid,
                      const struct acl_list *acl, void *data)
{
    /* Every watch owner is a connection's `watches` member. */
    struct conn *c = (struct conn *)((char *)owner - offsetof(struct conn, watches));
    /* Apache (ZOOKEEPER-4799) tells a watcher only what it may READ, with the
     * identities its connection has now; the watch is used up either way. */
    if (acl_check(acl, ZK_PERM_READ, &c->auth) != 0)
        return;
    conn_put_event(c, type, path, strlen(path), zxid, zxid);
    (void)data;
}

void conn_session_closed(struct session *se, void *data)
{
    if (se->conn)
        se->conn->session = NULL;
    (void)data;
}

void conn_send_raw(struct conn *c, const void *p, size_t len)
{
    if (c->state == CONN_CLOSING)
        return;
    jute_put_raw(&c->out, p, len);
    if (!c->mark_n)
        c->released = c->reply_end = c->consumed + c->out.len;
    server_mark_dirty(c->srv, c);
}

int conn_release(struct conn *c, int64_t durable)
{
    int any = 0;
    while (c->mark_n && c->marks[c->mark_head].tag <= durable) {
        assert(c->marks[c->mark_head].end >= c->released); /* frames leave in stream order */
        cap_reply_zxid(c, c->marks[c->mark_head].zxid_at, durable);
        c->released = c->marks[c->mark_head].end;
        if (!c->marks[c->mark_head].notify)
            c->reply_end = c->released;
        c->mark_head = (c->mark_head + 1) % c->mark_cap;
        c->mark_n--;
        any = 1;
    }
    return any;
}

/* A failed write closes the connection; said at INFO because nothing else
 * would tell why a client lost it (the 100,000-watcher runs lost one such,
 * unexplained: bench/results/2026-12-06-fanout.md). */
static void log_write_failure(struct conn *c, int status)
{
    log_info("closing connection from %s:%d (session 0x%llx): write failed: %s", c->remote,
             c->remote_port, (unsigned long long)c->session_id, uv_strerror(status));
}

static void on_write(uv_write_t *req, int status)
{
    struct conn *c = req->data;
    c->writing = 0;
    free(c->wbuf.base);
    c->wbuf.base = NULL;
    c->wbuf.len = 0;
    if (c->state == CONN_CLOSING)
        return;
    if (status) {
        log_write_failure(c, status);
        conn_close(c);
        return;
    }
    server_mark_dirty(c->srv, c);
    maybe_resume(c);
}

/* Drops the first n bytes of out (they were handed to the socket). */
static void consume(struct conn *c, size_t n)
{
    memmove(c->out.p, c->out.p + n, c->out.len - n);
    c->out.len -= n;
    c->consumed += n;
}

static void flush_tls(struct conn *c)
{
    size_t ready = (size_t)(c->released - c->consumed);
    if (ready) {
        struct jute_out cipher;
        jute_out_init(&cipher);
        int rc = tls_conn_write(c->tls, c->out.p, ready, &cipher);
        consume(c, ready);
        if (rc || write_cipher(c, &cipher)) {
            jute_out_free(&cipher);
            conn_close(c);
            return;
        }
        jute_out_free(&cipher);
    }
    if (c->close_after_flush && !c->tls_inflight && c->out.len == 0 && !c->mark_n) {
        conn_close(c);
        return;
    }
    maybe_resume(c);
}

void conn_flush(struct conn *c)
{
    if (c->state == CONN_CLOSING || c->writing)
        return;
    if (c->tls) {
        flush_tls(c);
        return;
    }
    size_t ready = (size_t)(c->released - c->consumed);
    if (ready) {
        uv_buf_t b = uv_buf_init((char *)c->out.p, (unsigned)ready);
        int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        if (n < 0 && n != UV_EAGAIN) {
            log_write_failure(c, n);
            conn_close(c);
            return;
        }
        if (n > 0) {
            consume(c, (size_t)n);
            ready -= (size_t)n;
        }
        if (ready && ready == c->out.len) {
            /* All of it: the write takes the buffer itself (a reply of
             * megabytes was copied here once more, in one piece). */
            c->wbuf.base = (char *)jute_out_steal(&c->out, &c->wbuf.len);
            c->consumed += ready;
        } else if (ready) {
            c->wbuf.base = zk_xmalloc(ready);
            memcpy(c->wbuf.base, c->out.p, ready);
            c->wbuf.len = ready;
            consume(c, ready);
        }
        if (ready) {
            c->wreq.data = c;
            c->writing = 1;
            if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &c->wbuf, 1, on_write)) {
                c->writing = 0;
                conn_close(c);
                return;
            }
        }
        if (c->out.len == 0 && c->out.cap > (1u << 20))
            jute_out_free(&c->out); /* give back memory after a burst */
    }
    if (c->close_after_flush && !c->writing && c->out.len == 0 && !c->mark_n) {
        conn_close(c);
        return;
    }
    maybe_resume(c);
}
