/*
 * conn.c - the TCP half of a client connection, and the plain stream type.
 *
 * A conn owns one uv_tcp_t.  Writes copy the bytes into a block that also
 * holds the uv_write_t, freed in the write callback, so callers never keep
 * buffers alive.  Reads land in the conn's own buffer and go straight to
 * the type's input function.
 *
 * Writes made while input is being handled are corked: replies run the
 * callers' callbacks, which usually send the next requests, and one write
 * system call for all of them costs a fraction of one per request (on
 * loopback a write is most of a request's client-side CPU).  The corked
 * bytes go out, in order, as soon as that input has been handled, so no
 * request waits for anything but the reply batch it was sent from.  Other
 * batches (the blocking API's queue of calls from other threads) cork the
 * same way with zk__conn_cork/zk__conn_uncork.
 *
 * Errors from libuv are reported upward once as ZK_CONNECTIONLOSS; after
 * zk__conn_close no upcall happens, and the memory is released in the uv_close
 * callback (libuv's rule: free a handle only after its close callback).
 */
#include "conn.h"

#include "zk/jute.h"
#include "zk/proto.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

struct wblock {
    uv_write_t req;
    size_t len, cap;
    uint8_t bytes[];
};

void zk__conn_up_ready(struct conn *c)
{
    if (!c->closing && c->up.on_ready)
        c->up.on_ready(c, c->ud);
}

void zk__conn_up_data(struct conn *c, const uint8_t *p, size_t n)
{
    if (!c->closing && c->up.on_data)
        c->up.on_data(c, p, n, c->ud);
}

void zk__conn_up_error(struct conn *c, int status)
{
    if (c->closing || !c->up.on_error)
        return;
    void (*fn)(struct conn *, int, void *) = c->up.on_error;
    c->up.on_error = NULL; /* once */
    fn(c, status, c->ud);
}

static void on_write(uv_write_t *req, int status)
{
    struct wblock *w = (struct wblock *)req;
    struct conn *c = req->data;
    free(w);
    if (status < 0 && status != UV_ECANCELED)
        zk__conn_up_error(c, ZK_CONNECTIONLOSS);
}

static int write_block(struct conn *c, struct wblock *w)
{
    if (c->write_count)
        ++*c->write_count;
    w->req.data = c;
    uv_buf_t b = uv_buf_init((char *)w->bytes, (unsigned)w->len);
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write) != 0) {
        free(w);
        return ZK_CONNECTIONLOSS;
    }
    return 0;
}

/* Appends to the cork block, growing it (its address may change). */
static void cork_append(struct conn *c, const uint8_t *p, size_t n)
{
    struct wblock *w = c->cork;
    if (!w || w->len + n > w->cap) {
        size_t cap = w ? w->cap * 2 : 4096;
        while (cap < (w ? w->len : 0) + n)
            cap *= 2;
        w = zk_xrealloc(w, sizeof *w + cap);
        if (!c->cork)
            w->len = 0;
        w->cap = cap;
        c->cork = w;
    }
    memcpy(w->bytes + w->len, p, n);
    w->len += n;
}

/* Sends what was corked; a closing conn drops it (libuv would cancel it). */
static void cork_flush(struct conn *c)
{
    struct wblock *w = c->cork;
    c->cork = NULL;
    if (!w)
        return;
    if (c->closing) {
        free(w);
        return;
    }
    if (write_block(c, w) != 0)
        zk__conn_up_error(c, ZK_CONNECTIONLOSS);
}

void zk__conn_cork(struct conn *c)
{
    if (c)
        c->corked++;
}

void zk__conn_uncork(struct conn *c)
{
    assert(!c || c->corked > 0); /* pairs with zk__conn_cork */
    if (c && --c->corked == 0)
        cork_flush(c);
}

int zk__conn_raw_write(struct conn *c, const uint8_t *p, size_t n)
{
    if (c->closing)
        return ZK_CONNECTIONLOSS;
    if (c->corked) {
        cork_append(c, p, n);
        return 0;
    }
    struct wblock *w = zk_xmalloc(sizeof *w + n);
    memcpy(w->bytes, p, n);
    w->len = w->cap = n;
    return write_block(c, w);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct conn *c = h->data;
    (void)suggested;
    *buf = uv_buf_init(c->rbuf, sizeof c->rbuf);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct conn *c = s->data;
    (void)buf;
    if (n < 0) {
        zk__conn_up_error(c, ZK_CONNECTIONLOSS);
        return;
    }
    if (n > 0 && !c->closing) {
        zk__conn_cork(c);
        c->type->input(c, (const uint8_t *)c->rbuf, (size_t)n);
        zk__conn_uncork(c);
    }
}

static void on_connect(uv_connect_t *req, int status)
{
    struct conn *c = req->data;
    if (c->closing)
        return;
    if (status < 0) {
        zk__conn_up_error(c, ZK_CONNECTIONLOSS);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0 || c->type->start(c) != 0)
        zk__conn_up_error(c, ZK_CONNECTIONLOSS);
}

int zk__conn_open(uv_loop_t *loop, const struct conn_type *type, void *type_ctx,
              const struct sockaddr *addr, const char *peer_name,
              const struct conn_upcalls *up, void *ud, struct conn **out)
{
    struct conn *c = zk_xcalloc(1, sizeof *c);
    c->type = type;
    c->type_ctx = type_ctx;
    c->up = *up;
    c->ud = ud;
    c->peer_name = zk_xstrndup(peer_name, strlen(peer_name));
    if (uv_tcp_init(loop, &c->tcp) != 0)
        goto err_free;
    c->tcp_inited = 1;
    c->tcp.data = c;
    c->connect_req.data = c;
    if (uv_tcp_connect(&c->connect_req, &c->tcp, addr, on_connect) != 0)
        goto err_close;
    *out = c;
    return 0;

err_close:
    c->up.on_error = NULL;
    zk__conn_close(c);
    return ZK_CONNECTIONLOSS;
err_free:
    free(c->peer_name);
    free(c);
    return ZK_CONNECTIONLOSS;
}

int zk__conn_write(struct conn *c, const uint8_t *p, size_t n)
{
    if (c->closing)
        return ZK_CONNECTIONLOSS;
    return c->type->write(c, p, n);
}

static void on_closed(uv_handle_t *h)
{
    struct conn *c = h->data;
    if (c->type->destroy)
        c->type->destroy(c);
    free(c->cork);
    free(c->peer_name);
    free(c);
}

void zk__conn_close(struct conn *c)
{
    if (!c || c->closing)
        return;
    c->closing = 1;
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

/* ---- plain TCP ---- */

static int plain_start(struct conn *c)
{
    zk__conn_up_ready(c);
    return 0;
}

static void plain_input(struct conn *c, const uint8_t *p, size_t n)
{
    zk__conn_up_data(c, p, n);
}

static int plain_write(struct conn *c, const uint8_t *p, size_t n)
{
    return zk__conn_raw_write(c, p, n);
}

const struct conn_type zk__conn_plain_type = {
    .name = "plain",
    .start = plain_start,
    .input = plain_input,
    .write = plain_write,
    .destroy = NULL,
};
