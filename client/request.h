/*
 * request.h - turning zk_request into wire frames and replies into results.
 *
 * This is the only module that knows the record layout of each operation
 * (Apache's zookeeper.jute: CreateRequest, GetDataResponse, MultiHeader,
 * ...).  It is pure: no sockets, no handle, no loop, so every encoder and
 * decoder can be exercised from a unit test.  The session layer (session.c)
 * owns the queues of pending requests built here.
 *
 * A frame is  int len | int xid | int type | body.  The xid is assigned when
 * the frame is actually sent, so that xids increase in sending order even
 * for requests queued while disconnected; zk__request_set_xid patches it in.
 */
#ifndef ZK_CLIENT_REQUEST_H
#define ZK_CLIENT_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "zk/jute.h"
#include "zk/zk.h"

struct zk_pending {
    struct zk_pending *next;
    int32_t xid;
    int op;      /* opcode on the wire */
    int api_op;  /* zk_request.op as submitted (result.op) */
    uint8_t *frame;
    size_t frame_len;
    zk_result_fn cb;
    void *data;
    int owns_result; /* the callback takes the result (blocking API) */
    char *path;      /* client path: watch registration and removal */
    int watch_kind;  /* WK_* to register on success, or WK_NONE */
    zk_watcher_fn watcher;
    void *wdata;
    int watcher_type; /* removeWatches/checkWatches */
    int early_err;    /* != 0: never sent, completes with this error */
};

/* Validates and encodes `req`, paths prefixed with `chroot` (may be NULL).
 * OUT out: a new pending request; on an argument error it is still
 * returned, with early_err set, so that the error reaches the callback
 * like any other.  Returns 0 or the argument error. */
int zk__request_build(const struct zk_request *req, const char *chroot, int max_buffer,
                  struct zk_pending **out);
/* A pending request for an internal op without a body (ping, closeSession). */
struct zk_pending *zk__request_bare(int op);
/* A pending GetSASLRequest carrying one token (`token` may be NULL when
 * `len` is 0).  The caller owns the result, as with zk__request_bare. */
struct zk_pending *zk__request_sasl(const void *token, size_t len);
void zk__request_set_xid(struct zk_pending *p, int32_t xid);
void zk__pending_free(struct zk_pending *p);

/* Decodes the body of p's reply (after the reply header) into res, whose op
 * and err the caller has set.  Returns 0 or ZK_MARSHALLINGERROR. */
int zk__reply_decode(const struct zk_pending *p, struct jute_in *in, const char *chroot,
                 struct zk_result *res);

/* ConnectResponse: protocolVersion, timeOut, sessionId, passwd, and the
 * optional readOnly flag (servers before 3.4 leave it out). */
struct connect_reply {
    int32_t timeout;
    int64_t session_id;
    char passwd[16]; /* zero-padded; a longer password is cut to 16 bytes */
    int read_only;
};
/* Decodes the handshake reply frame p (n bytes, after the length).
 * OUT out.  Returns 0 or ZK_MARSHALLINGERROR. */
int zk__connect_reply_decode(const uint8_t *p, size_t n, struct connect_reply *out);

/* Decodes a WatcherEvent (the body of a reply with xid -1): OUT type, state,
 * and path (the server's path with `chroot` stripped; malloc'ed, the caller
 * frees it).  Returns 0, or ZK_MARSHALLINGERROR with *path NULL. */
int zk__event_decode(struct jute_in *in, const char *chroot, int *type, int *state, char **path);

/* Encoding helpers shared with txn.c. */
void zk__encode_acl(struct jute_out *out, const struct zk_acl *acl, int32_t nacl);
int zk__decode_acl(struct jute_in *in, struct zk_result *res);
int zk__create_opcode(int mode);
int zk__mode_is_sequential(int mode);
int zk__mode_is_ttl(int mode);
/* Frees the contents of a result, not the struct itself. */
void zk__result_clear(struct zk_result *res);

#endif
