/*
 * session.h - the handle (struct zk) and the session state machine.
 *
 * Private to libzk.  session.c owns the handle's lifecycle, the connection
 * attempts, the frame reader and the request queues; ops.c and blocking.c
 * reach it only through zk__session_submit and the accessors in zk.h.
 *
 * Phases of a handle:
 *
 *   IDLE --start_attempt--> RESOLVING --> CONNECTING --on_ready--> HANDSHAKE
 *     ^                                        |                      |
 *     +------ attempt failed / lost -----------+----------------------+
 *                                                                     v
 *   DEAD (expired, auth failed) <---------------------------------- CONNECTED
 *   CLOSING (closeSession sent) --> CLOSED (handles closing, then freed)
 */
#ifndef ZK_CLIENT_SESSION_H
#define ZK_CLIENT_SESSION_H

#include "zk/zk.h"

enum {
    SUBMIT_OWNS_RESULT = 1, /* the callback takes ownership of the result */
    SUBMIT_NO_CHROOT = 2,   /* the path is absolute on the server */
};

/* Queues (or fails) a request; see zk_submit.  Loop thread only. */
void zk__session_submit(zk_t *zk, const struct zk_request *req, zk_result_fn cb, void *data,
                    int flags);

/* Heartbeat pings written so far: each is a socket write of its own, which
 * tests of write batching must tell apart from request writes. */
uint64_t zk__session_pings_sent(const zk_t *zk);

/* Corks the handle's current connection (conn.h) and returns it, or NULL if
 * there is none; release it with zk__conn_uncork.  For batches of submissions. */
struct conn *zk__session_cork(zk_t *zk);

/* Foreign-loop mode keeps its private loop here (see foreign.c). */
void zk__session_set_foreign(zk_t *zk, void *f);
void *zk__session_foreign(const zk_t *zk);

#endif
