/*
 * peer.c - framed message links between ensemble members (see peer.h).
 */
#include "peer.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "clock.h"
#include "quorum_auth.h"
#include "tls.h"

/* sslQuorum: one client and one server context for every link. */
static struct tls_ctx *tls_server_ctx, *tls_client_ctx;

int peer_tls_init(const struct zkd_config *cfg)
{
    if (tls_server_ctx)
        return 0;
    tls_server_ctx = tls_quorum_ctx_new(cfg, 1);
    tls_client_ctx = tls_server_ctx ? tls_quorum_ctx_new(cfg, 0) : NULL;
    return tls_client_ctx ? 0 : -1;
}

static void on_handle_closed(uv_handle_t *h)
{
    struct peer_link *l = h->data;
    tls_conn_free(l->tls);
    quorum_auth_free(l->auth);
    jute_out_free(&l->auth_out);
    jute_out_free(&l->cipher);
    free(l->cbuf);
    free(l->in);
    jute_out_free(&l->pending);
    jute_out_free(&l->inflight);
    free(l);
}

static void link_fail(struct peer_link *l, int status)
{
    if (l->closing)
        return;
    l->closing = 1;
    if (l->on_close)
        l->on_close(l, status);
    uv_close((uv_handle_t *)&l->tcp, on_handle_closed);
}

void peer_close(struct peer_link *l) { link_fail(l, 0); }

static void start_write(struct peer_link *l);

static void on_write(uv_write_t *req, int status)
{
    struct peer_link *l = req->data;
    l->inflight.len = 0;
    if (l->closing)
        return;
    if (status) {
        log_info("link to %s failed: %s", l->desc, uv_strerror(status));
        link_fail(l, status);
        return;
    }
    start_write(l);
    if (l->close_when_sent && !l->inflight.len) {
        link_fail(l, UV_EACCES);
        return;
    }
    if (l->on_sent && !l->closing)
        l->on_sent(l);
}

static void start_write(struct peer_link *l)
{
    if (l->closing || !l->connected || l->inflight.len)
        return;
    /* The owner's messages wait while the quorum SASL exchange runs. */
    struct jute_out *src = l->auth || l->close_when_sent ? &l->auth_out : &l->pending;
    if (l->tls) {
        /* Plaintext waits for the handshake; then it is encrypted behind
         * whatever the handshake still has to send. */
        if (tls_conn_ready(l->tls) && src->len) {
            if (tls_conn_write(l->tls, src->p, src->len, &l->cipher)) {
                link_fail(l, UV_EPROTO);
                return;
            }
            src->len = 0;
        }
        src = &l->cipher;
    }
    if (!src->len)
        return;
    struct jute_out t = l->inflight;
    l->inflight = *src;
    *src = t;
    src->len = 0;
    uv_buf_t b = uv_buf_init((char *)l->inflight.p, (unsigned)l->inflight.len);
    l->wreq.data = l;
    int rc = uv_write(&l->wreq, (uv_stream_t *)&l->tcp, &b, 1, on_write);
    if (rc) {
        l->inflight.len = 0;
        link_fail(l, rc);
    }
}

void peer_send(struct peer_link *l, const void *p, size_t len)
{
    if (l->closing || l->close_when_sent)
        return;
    jute_put_int(&l->pending, (int32_t)len);
    jute_put_raw(&l->pending, p, len);
    start_write(l);
}

void peer_send_raw(struct peer_link *l, const void *p, size_t len)
{
    if (l->closing)
        return;
    jute_put_raw(&l->pending, p, len);
    start_write(l);
}

void peer_send_preamble(struct peer_link *l, const void *p, size_t len)
{
    /* auth_out is written first; on_connected appends the exchange's first
     * packet, or moves it ahead of `pending` when there is no exchange. */
    if (!l->closing)
        jute_put_raw(&l->auth_out, p, len);
}

/* What the exchange (or peer_send_preamble) queued goes out ahead of the
 * owner's messages, on the link's one output from now on. */
static void auth_out_ahead(struct peer_link *l)
{
    jute_put_raw(&l->auth_out, l->pending.p, l->pending.len);
    struct jute_out t = l->pending;
    l->pending = l->auth_out;
    l->auth_out = t;
    l->auth_out.len = 0;
}

size_t peer_queued(const struct peer_link *l) { return l->pending.len + l->inflight.len; }

static void alloc_in(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct peer_link *l = h->data;
    (void)suggested;
    if (l->in_cap - l->in_len < 65536) {
        l->in_cap = l->in_cap ? l->in_cap * 2 : 131072;
        l->in = zk_xrealloc(l->in, l->in_cap);
    }
    buf->base = (char *)l->in + l->in_len;
    buf->len = l->in_cap - l->in_len;
}

static void process_input(struct peer_link *l);

static void alloc_cipher(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct peer_link *l = h->data;
    (void)suggested;
    if (!l->cbuf)
        l->cbuf = zk_xmalloc(65536);
    buf->base = (char *)l->cbuf;
    buf->len = 65536;
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    struct peer_link *l = st->data;
    if (n < 0) {
        if (n != UV_EOF)
            log_info("link to %s: %s", l->desc, uv_strerror((int)n));
        link_fail(l, (int)n);
        return;
    }
    if (l->tls) {
        struct jute_out plain;
        jute_out_init(&plain);
        int rc = tls_conn_read(l->tls, buf->base, (size_t)n, &plain, &l->cipher);
        if (plain.len) {
            if (l->in_cap - l->in_len < plain.len) {
                l->in_cap = l->in_len + plain.len + 65536;
                l->in = zk_xrealloc(l->in, l->in_cap);
            }
            memcpy(l->in + l->in_len, plain.p, plain.len);
            l->in_len += plain.len;
        }
        jute_out_free(&plain);
        start_write(l);
        if (rc > 0) { /* close_notify: Apache closes a smaller sid's election link so */
            link_fail(l, UV_EOF);
            return;
        }
        if (rc) {
            log_warn("link to %s: TLS failed (certificate not trusted?); closing", l->desc);
            link_fail(l, UV_EPROTO);
            return;
        }
    } else {
        l->in_len += (size_t)n;
    }
    process_input(l);
}

/* Drops the first n bytes of the input buffer. */
static void consume_input(struct peer_link *l, size_t n)
{
    memmove(l->in, l->in + n, l->in_len - n);
    l->in_len -= n;
}

/* Runs the quorum SASL exchange on the input.  Returns 0 when the link is
 * ready for member messages (the rest of the input is theirs), -1 while the
 * exchange needs more bytes or after it failed. */
static int run_auth(struct peer_link *l)
{
    if (l->close_when_sent)
        return -1; /* a refused peer's further bytes are not read */
    if (!l->auth)
        return 0;
    size_t used = 0;
    int rc = quorum_auth_feed(l->auth, l->in, l->in_len, &used, &l->auth_out);
    consume_input(l, used);
    if (rc == QUORUM_AUTH_MORE) {
        start_write(l);
        return -1;
    }
    quorum_auth_free(l->auth);
    l->auth = NULL;
    if (rc == QUORUM_AUTH_FAIL) {
        l->close_when_sent = 1;
        start_write(l);
        if (!l->inflight.len && !l->closing)
            link_fail(l, UV_EACCES);
        return -1;
    }
    /* The exchange's last packet goes out ahead of the owner's messages. */
    auth_out_ahead(l);
    start_write(l);
    return 0;
}

/* auth_after_frame: hands the owner its first frame, which precedes the
 * SASL exchange.  Returns 0 once it has (or when there is none to wait
 * for), -1 while it is incomplete or after the link failed. */
static int first_frame_before_auth(struct peer_link *l)
{
    if (!l->auth || !l->auth_after_frame || !l->frame)
        return 0;
    long n = l->frame(l, l->in, l->in_len);
    if (n < 0 || (size_t)n > PEER_MAX_MSG) {
        log_warn("link to %s: malformed frame; closing", l->desc);
        link_fail(l, UV_EPROTO);
        return -1;
    }
    if (!n)
        return -1;
    l->auth_after_frame = 0;
    l->last_heard_ms = clock_mono_ms();
    l->on_msg(l, l->in, (size_t)n);
    if (l->closing)
        return -1;
    consume_input(l, (size_t)n);
    return 0;
}

static void process_input(struct peer_link *l)
{
    size_t off = 0;
    if (first_frame_before_auth(l) || run_auth(l))
        return;
    while (!l->closing && l->frame && l->in_len > off) {
        long n = l->frame(l, l->in + off, l->in_len - off);
        if (n < 0 || (size_t)n > PEER_MAX_MSG) {
            log_warn("link to %s: malformed frame; closing", l->desc);
            link_fail(l, UV_EPROTO);
            return;
        }
        if (!n)
            break;
        l->last_heard_ms = clock_mono_ms();
        l->on_msg(l, l->in + off, (size_t)n);
        off += (size_t)n;
    }
    while (!l->closing && !l->frame && l->in_len - off >= 4) {
        uint32_t len = zk_be32_get(l->in + off);
        if (len > PEER_MAX_MSG) {
            if (quorum_auth_is_packet(l->in + off, l->in_len - off))
                log_warn("link to %s: the peer authenticates with quorum SASL, but "
                         "quorum.auth.enableSasl is false here; closing", l->desc);
            else
                log_warn("link to %s: message of %u bytes is over the limit; closing", l->desc,
                         len);
            link_fail(l, UV_EPROTO);
            return;
        }
        if (l->in_len - off - 4 < len) {
            /* Wait for the rest.  The buffer grows as bytes arrive (alloc_in),
             * never ahead to a length the peer merely claims: 4 bytes must not
             * cost 512 MiB. */
            break;
        }
        l->last_heard_ms = clock_mono_ms();
        l->on_msg(l, l->in + off + 4, len);
        off += 4 + (size_t)len;
    }
    if (l->closing || !off)
        return;
    consume_input(l, off);
}

static void link_init(struct peer_link *l, uv_loop_t *loop, void *owner, peer_msg_fn on_msg,
                      peer_close_fn on_close)
{
    uv_tcp_init(loop, &l->tcp);
    uv_tcp_nodelay(&l->tcp, 1);
    l->tcp.data = l;
    l->owner = owner;
    l->id = -1;
    l->on_msg = on_msg;
    l->on_close = on_close;
    l->last_heard_ms = clock_mono_ms();
}

static void on_connected(uv_connect_t *req, int status)
{
    struct peer_link *l = req->data;
    if (l->closing)
        return;
    if (status) {
        if (l->on_connect)
            l->on_connect(l, status);
        link_fail(l, status);
        return;
    }
    l->connected = 1;
    l->last_heard_ms = clock_mono_ms();
    if (tls_client_ctx)
        l->tls = tls_conn_new_client(tls_client_ctx, l->ip, &l->cipher);
    uv_read_start((uv_stream_t *)&l->tcp, l->tls ? alloc_cipher : alloc_in, on_read);
    if ((l->auth = quorum_auth_new(QUORUM_AUTH_LEARNER, l->host, l->desc)) &&
        quorum_auth_start(l->auth, &l->auth_out) != QUORUM_AUTH_MORE) {
        if (l->on_connect) /* as for a failed connect: on_connect, then on_close */
            l->on_connect(l, UV_EACCES);
        link_fail(l, UV_EACCES);
        return;
    }
    if (!l->auth && l->auth_out.len) /* a preamble, and no exchange behind it */
        auth_out_ahead(l);
    if (l->on_connect)
        l->on_connect(l, 0);
    start_write(l);
}

/* The numeric address of ss into ip (size cap); returns the port. */
static int sockaddr_ip(const struct sockaddr_storage *ss, char *ip, size_t cap)
{
    if (ss->ss_family == AF_INET) {
        uv_ip4_name((const struct sockaddr_in *)ss, ip, cap);
        return ntohs(((const struct sockaddr_in *)ss)->sin_port);
    }
    uv_ip6_name((const struct sockaddr_in6 *)ss, ip, cap);
    return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

static int resolve(const char *host, int port, struct sockaddr_storage *ss)
{
    if (!uv_ip4_addr(host, port, (struct sockaddr_in *)ss) ||
        !uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss))
        return 0;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo(host, NULL, &hints, &res) || !res)
        return -1;
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
    freeaddrinfo(res);
    return 0;
}

struct peer_link *peer_connect(uv_loop_t *loop, const char *host, int port, void *owner,
                               peer_connect_fn on_connect, peer_msg_fn on_msg,
                               peer_close_fn on_close)
{
    struct sockaddr_storage ss;
    if (resolve(host, port, &ss)) {
        log_warn("cannot resolve peer address %s", host);
        return NULL;
    }
    struct peer_link *l = zk_xcalloc(1, sizeof *l);
    link_init(l, loop, owner, on_msg, on_close);
    l->on_connect = on_connect;
    snprintf(l->desc, sizeof l->desc, "%s:%d", host, port);
    snprintf(l->host, sizeof l->host, "%s", host);
    sockaddr_ip(&ss, l->ip, sizeof l->ip);
    l->creq.data = l;
    int rc = uv_tcp_connect(&l->creq, &l->tcp, (struct sockaddr *)&ss, on_connected);
    if (rc) {
        log_warn("cannot connect to %s: %s", l->desc, uv_strerror(rc));
        l->closing = 1;
        uv_close((uv_handle_t *)&l->tcp, on_handle_closed);
        return NULL;
    }
    return l;
}

struct peer_link *peer_accept(uv_stream_t *listener, void *owner, peer_msg_fn on_msg,
                              peer_close_fn on_close)
{
    struct peer_link *l = zk_xcalloc(1, sizeof *l);
    link_init(l, listener->loop, owner, on_msg, on_close);
    if (uv_accept(listener, (uv_stream_t *)&l->tcp)) {
        l->closing = 1;
        uv_close((uv_handle_t *)&l->tcp, on_handle_closed);
        return NULL;
    }
    struct sockaddr_storage ss;
    int sl = sizeof ss;
    int port = 0;
    snprintf(l->ip, sizeof l->ip, "?");
    if (!uv_tcp_getpeername(&l->tcp, (struct sockaddr *)&ss, &sl))
        port = sockaddr_ip(&ss, l->ip, sizeof l->ip);
    snprintf(l->desc, sizeof l->desc, "%s:%d", l->ip, port);
    l->connected = 1;
    if (tls_server_ctx)
        l->tls = tls_conn_new(tls_server_ctx, l->ip);
    l->auth = quorum_auth_new(QUORUM_AUTH_SERVER, l->ip, l->desc);
    uv_read_start((uv_stream_t *)&l->tcp, l->tls ? alloc_cipher : alloc_in, on_read);
    return l;
}

const char *peer_bind_host(const struct zkd_config *cfg, const char *host)
{
    if (!cfg->quorum_listen_all)
        return host;
    return strchr(host, ':') ? "::" : "0.0.0.0";
}

int peer_listen(uv_loop_t *loop, uv_tcp_t *h, const char *host, int port, void *data,
                uv_connection_cb cb)
{
    struct sockaddr_storage ss;
    if (resolve(host, port, &ss)) {
        log_error("cannot resolve %s", host);
        return -1;
    }
    uv_tcp_init(loop, h);
    h->data = data;
    int rc = uv_tcp_bind(h, (struct sockaddr *)&ss, 0);
    if (!rc)
        rc = uv_listen((uv_stream_t *)h, 64, cb);
    if (rc) {
        log_error("cannot listen on %s:%d: %s", host, port, uv_strerror(rc));
        uv_close((uv_handle_t *)h, NULL);
        return -1;
    }
    return 0;
}
