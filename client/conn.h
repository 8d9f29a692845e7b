/*
 * conn.h - one client connection: a TCP stream, optionally wrapped in TLS.
 *
 * The session layer (session.c) sees a byte pipe with three upcalls:
 * on_ready (the stream can carry ZooKeeper frames: TCP connected, and for
 * TLS the handshake done and the peer verified), on_data (plaintext bytes
 * as they arrive, in arbitrary pieces) and on_error (the stream is dead;
 * called at most once).  Plain and TLS streams differ only in a type
 * vtable (struct conn_type), chosen once per handle, as Redis's
 * ConnectionType does; the TCP plumbing is shared.
 *
 * Lifetime: zk__conn_open allocates; zk__conn_close detaches the upcalls at once (no
 * upcall is made after it returns, even from inside an upcall) and frees the
 * memory once libuv has closed the socket.  Loop thread only.
 */
#ifndef ZK_CLIENT_CONN_H
#define ZK_CLIENT_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct conn;
struct zk_tls_options;

struct conn_upcalls {
    void (*on_ready)(struct conn *c, void *ud);
    void (*on_data)(struct conn *c, const uint8_t *p, size_t n, void *ud);
    void (*on_error)(struct conn *c, int status, void *ud); /* status: ZK_* */
};

/* The part that differs between plain TCP and TLS. */
struct conn_type {
    const char *name;
    /* TCP is connected: start the upper layer (TLS: the handshake). */
    int (*start)(struct conn *c);
    /* Raw bytes from the socket. */
    void (*input)(struct conn *c, const uint8_t *p, size_t n);
    /* Plaintext to send; copied.  Returns 0 or ZK_CONNECTIONLOSS. */
    int (*write)(struct conn *c, const uint8_t *p, size_t n);
    void (*destroy)(struct conn *c);
};

struct conn {
    uv_tcp_t tcp;
    uv_connect_t connect_req;
    const struct conn_type *type;
    struct conn_upcalls up;
    void *ud;
    int closing;    /* zk__conn_close called: no more upcalls */
    int tcp_inited;
    void *tls;       /* TLS state (conn_tls.c) */
    void *type_ctx;  /* SSL_CTX for TLS */
    char *peer_name; /* host part of the connect string, for verification */
    int corked;           /* > 0: writes collect in `cork` (zk__conn_cork nesting depth) */
    struct wblock *cork;  /* bytes written while corked, sent after (conn.c) */
    uint64_t *write_count; /* if set, counts socket writes (zk_stats) */
    char rbuf[65536];
};

extern const struct conn_type zk__conn_plain_type;
extern const struct conn_type zk__conn_tls_type;

/* Starts connecting to `addr`.  type_ctx: the SSL_CTX for zk__conn_tls_type.
 * peer_name: the host as written (for SNI and hostname checks).  OUT out.
 * Returns 0 or ZK_CONNECTIONLOSS (the socket could not even be started). */
int zk__conn_open(uv_loop_t *loop, const struct conn_type *type, void *type_ctx,
              const struct sockaddr *addr, const char *peer_name,
              const struct conn_upcalls *up, void *ud, struct conn **out);
/* Sends plaintext (copied).  Returns 0 or ZK_CONNECTIONLOSS. */
int zk__conn_write(struct conn *c, const uint8_t *p, size_t n);
/* Between zk__conn_cork and the matching zk__conn_uncork, writes collect and then
 * leave in one socket write, in order (nestable; NULL is fine).  A conn
 * closed meanwhile drops them.  The memory stays valid until the loop's
 * close phase, so a cork taken in a callback may be released in it. */
void zk__conn_cork(struct conn *c);
void zk__conn_uncork(struct conn *c);
/* Detaches and closes; see the lifetime rule above.  NULL is fine. */
void zk__conn_close(struct conn *c);

/* For the type implementations: raw socket write (copied), upcall helpers
 * that respect `closing`. */
int zk__conn_raw_write(struct conn *c, const uint8_t *p, size_t n);
void zk__conn_up_ready(struct conn *c);
void zk__conn_up_data(struct conn *c, const uint8_t *p, size_t n);
void zk__conn_up_error(struct conn *c, int status);

/* TLS context for a handle.  OUT ctx (an SSL_CTX *).  Returns 0 or
 * ZK_SYSTEMERROR with a message on stderr naming the file that failed. */
/* ocsp: check revocation through OCSP (zk/ocsp.h) on every handshake. */
int zk__conn_tls_ctx_new(const struct zk_tls_options *o, int ocsp, void **ctx);
void zk__conn_tls_ctx_free(void *ctx);

#endif
