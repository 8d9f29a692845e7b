/*
 * server.h - the zkd server: one event loop, one ordered stream of zxids.
 *
 * Request pipeline (standalone), all on the loop thread:
 *
 *   conn.c    frames in -> request.c dispatch
 *   prep.c    write request -> validated, resolved transaction (txn.h)
 *   apply.c   transaction -> tree + sessions + watch events; the zxid is
 *             assigned and the txn appended to the log buffer (txnlog.h)
 *   reply     queued on the connection, tagged with the zxid it depends on
 *
 * Durability gate: the tree is updated at once, but no byte that depends on
 * an update (its reply, a watch event, a later read's reply, on any
 * connection) leaves the server before the update is durable: every queued
 * frame carries a tag (the zxid the server had applied when it was queued),
 * and a connection only sends frames whose tag is <= `durable_zxid`.  Before
 * the loop sleeps, the log batch is handed to the fsync thread (group
 * commit); when it completes, durable_zxid advances and the held frames go
 * out in order.  So a client can never observe a write that a crash could
 * lose, and per-connection FIFO order is kept because tags never decrease.
 * In an ensemble the gate becomes the quorum-commit zxid (see quorum/).
 */
#ifndef ZKD_SERVER_H
#define ZKD_SERVER_H

#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "hset.h"
#include "session.h"
#include "tree.h"
#include "txn.h"
#include "watch.h"

struct conn;
struct txnlog;

struct server_stats {
    uint64_t packets_received;
    uint64_t packets_sent;
    uint64_t requests;
    uint64_t writes;
    uint64_t reads;
    uint64_t latency_total_us;
    uint64_t latency_count;
    uint64_t latency_min_us;
    uint64_t latency_max_us;
    uint64_t connections_total;
    uint64_t bad_frames;
    uint64_t snapshots;
    double last_snapshot_s;
};

struct server {
    struct zkd_config cfg;
    uv_loop_t *loop;
    struct tree *tree;
    struct sessions sessions;
    struct watches *data_watches;
    struct watches *child_watches;
    struct txnlog *log;

    int64_t last_zxid;     /* last applied */
    int64_t durable_zxid;  /* last on disk (standalone) / committed (ensemble) */
    int64_t snap_zxid;     /* zxid of the newest snapshot */
    uint64_t txns_since_snap;
    int snap_trigger;      /* txn count that starts the next snapshot */

    struct conn *conns;          /* all connections (doubly linked) */
    uint32_t nconns;
    struct pset held;            /* conns with frames waiting on the gate */
    struct pset dirty;           /* conns with frames ready to write */

    uv_tcp_t listener;
    uv_tcp_t tls_listener;
    int listening, tls_listening;
    uv_prepare_t before_sleep;
    uv_timer_t tick_timer;
    uv_timer_t reaper_timer;
    uv_timer_t purge_timer;
    uv_signal_t sigterm, sigint;
    int stopping;
    int64_t start_ms;
    char secret_path[4200];
    struct server_stats stats;
    void *tls_ctx;               /* SSL_CTX*, NULL when TLS is off */
};

/* Monotonic milliseconds (session expiry). */
int64_t server_now_ms(void);
/* Wall-clock milliseconds (znode ctime/mtime). */
int64_t server_wall_ms(void);

/*
 * Starts the server on `loop` with a parsed config: recovers the tree from
 * dataDir (snapshot + log), opens the log, listens.  Returns 0 or -1 with the
 * reason logged.  `s` is caller-allocated and must stay valid until
 * server_close's loop run finishes.
 */
int server_start(struct server *s, uv_loop_t *loop, const struct zkd_config *cfg);
/* Begins a clean shutdown: stop accepting, fsync, flush replies, close all. */
void server_stop(struct server *s);
/* Frees what server_start allocated (after the loop has finished). */
void server_free(struct server *s);

/* ---- used by conn.c / request.c / prep.c / apply.c ---- */

/* Handles one request frame (after the handshake). */
void server_request(struct server *s, struct conn *c, const uint8_t *p, size_t len);
/* Handles the ConnectRequest frame of a new connection. */
void server_connect(struct server *s, struct conn *c, const uint8_t *p, size_t len);

/*
 * Assigns the next zxid to `t`, applies it to the tree (firing watches) and
 * appends it to the log.  `t` must have passed prep.  Returns the zxid.
 */
int64_t server_commit(struct server *s, struct txn *t);

/* Marks `c` as holding frames behind the gate. */
void server_hold(struct server *s, struct conn *c);
/* Marks `c` as having bytes to write before the loop sleeps. */
void server_mark_dirty(struct server *s, struct conn *c);

/* Session lifecycle (session id's owner connection may be NULL). */
void server_expire_session(struct server *s, struct session *se);

/* Durable-log callback target: advances the gate and releases frames. */
void server_durable(struct server *s, int64_t zxid);

/* Snapshot now (background); used by snapCount and the `snap` tests. */
void server_snapshot(struct server *s);

#endif
