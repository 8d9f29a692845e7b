/*
 * peer.h - message links between ensemble members.
 *
 * A link is one TCP connection carrying messages framed as [u32 length][bytes]
 * (big-endian).  Used by leader election (election.c) and by Zab
 * (quorum.c); all on the server's loop thread.  Sends are buffered and
 * written in batches: every peer_send() appends to the link's pending buffer
 * and a write of everything pending starts when none is in flight, so a burst
 * of proposals costs one write() per loop iteration, not one per message.
 *
 * With quorum.auth.enableSasl, every link first runs the SASL exchange of
 * quorum_auth.h (after TLS): the connecting side as learner, the accepting
 * side as server.  Until it succeeds the owner's messages wait in `pending`
 * and nothing reaches on_msg; a failed exchange closes the link (on_close
 * with UV_EACCES).  Owners need not know about it, except on Apache's
 * election port, where the exchange follows the connecting side's hello
 * (QuorumCnxManager.startConnection / handleConnection): that side queues
 * the hello with peer_send_preamble, the accepting side sets
 * auth_after_frame so that the hello reaches on_msg first.
 *
 * A message longer than PEER_MAX_MSG closes the link (a peer that sends one is
 * broken or hostile).  When a link fails or is closed, `on_close` runs once;
 * the memory is freed after libuv has closed the handle, so the owner must
 * drop its pointer in `on_close` and never touch the link again.
 */
#ifndef ZKD_PEER_H
#define ZKD_PEER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "zk/jute.h"

struct tls_conn;
struct quorum_auth;

#define PEER_MAX_MSG (512u << 20)

struct peer_link;

/* One complete message (valid during the call).  The callback may close the
 * link; the rest of the input is then dropped. */
typedef void (*peer_msg_fn)(struct peer_link *l, const uint8_t *p, size_t len);
/* The link is gone (error, EOF, or peer_close).  `status` is 0 for a local
 * close, else a libuv error code. */
typedef void (*peer_close_fn)(struct peer_link *l, int status);
/* An outgoing connect finished: status 0, or a libuv error (then on_close
 * follows). */
typedef void (*peer_connect_fn)(struct peer_link *l, int status);
/* A custom framing (Apache's member protocol, zab.h): the length of the
 * frame at the start of p[0..len), 0 if incomplete, < 0 if malformed (the
 * link closes).  The callback may change l->frame for what follows. */
typedef long (*peer_frame_fn)(struct peer_link *l, const uint8_t *p, size_t len);

struct peer_link {
    uv_tcp_t tcp;
    uv_connect_t creq;
    void *owner;      /* the owner's context */
    int id;           /* the remote server id, once known (-1 before) */
    int connected;
    int closing;
    peer_msg_fn on_msg;
    peer_close_fn on_close;
    peer_connect_fn on_connect;
    peer_frame_fn frame;      /* NULL: [u32 length] framing; else on_msg gets whole frames */
    /* If set: called after each batch the socket took, so a producer can
     * queue more as the peer reads (a leader's SNAP stream, quorum.c).  It
     * may send or close the link. */
    void (*on_sent)(struct peer_link *l);
    uint8_t *in;
    size_t in_len, in_cap;
    struct jute_out pending;  /* framed messages not yet handed to the socket */
    struct jute_out inflight; /* the batch being written */
    uv_write_t wreq;
    int64_t last_heard_ms;    /* monotonic time of the last message received */
    struct tls_conn *tls;     /* sslQuorum */
    struct jute_out cipher;   /* TLS records not yet handed to the socket */
    uint8_t *cbuf;            /* ciphertext read buffer */
    struct quorum_auth *auth; /* quorum SASL exchange still running, or NULL */
    struct jute_out auth_out; /* its packets, sent ahead of `pending` */
    int close_when_sent;      /* the exchange failed: close once auth_out is out */
    int auth_after_frame;     /* accepting side: one `frame` reaches on_msg before the
                               * SASL exchange starts (Apache's election hello) */
    char desc[320];           /* for logs: "server 3 (127.0.0.1:2888)" */
    char ip[64];              /* the peer's numeric address (TLS checks it) */
    char host[256];           /* the host it was dialled as ("" for an accepted link) */
};

/* Starts connecting to host:port (numeric IPv4/IPv6 or a name resolved
 * synchronously).  Returns a link (callbacks set by the caller before the
 * loop runs), or NULL with the reason logged. */
struct peer_link *peer_connect(uv_loop_t *loop, const char *host, int port, void *owner,
                               peer_connect_fn on_connect, peer_msg_fn on_msg,
                               peer_close_fn on_close);

/* Accepts a pending connection on `listener`.  Returns the link or NULL. */
struct peer_link *peer_accept(uv_stream_t *listener, void *owner, peer_msg_fn on_msg,
                              peer_close_fn on_close);

/* Queues one message (`p` is copied). */
void peer_send(struct peer_link *l, const void *p, size_t len);
/* Queues bytes as they are, with no length prefix (custom framings). */
void peer_send_raw(struct peer_link *l, const void *p, size_t len);
/* Queues bytes that go out as they are, ahead of the quorum SASL exchange
 * (Apache's election hello); call before the link has connected. */
void peer_send_preamble(struct peer_link *l, const void *p, size_t len);
/* Queues a message built in `out` (its bytes are copied). */
static inline void peer_send_out(struct peer_link *l, const struct jute_out *out)
{
    peer_send(l, out->p, out->len);
}
/* Bytes queued and not yet written. */
size_t peer_queued(const struct peer_link *l);

/* Closes the link: on_close(l, 0) runs now; queued output is dropped. */
void peer_close(struct peer_link *l);

/* Makes every later link TLS (sslQuorum), both ends authenticated by
 * certificates from the configured CA.  Returns 0 or -1 (logged). */
struct zkd_config;
int peer_tls_init(const struct zkd_config *cfg);

/* The address to bind a quorum or election port of a server line's `host`:
 * the wildcard with quorumListenOnAllIPs=true (IPv6 "::" for an IPv6 host),
 * else the host itself. */
const char *peer_bind_host(const struct zkd_config *cfg, const char *host);

/* Binds and listens on host:port for peer connections.  Returns 0 or -1
 * (logged). */
int peer_listen(uv_loop_t *loop, uv_tcp_t *h, const char *host, int port, void *data,
                uv_connection_cb cb);

#endif
