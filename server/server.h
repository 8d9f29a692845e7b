/*
 * server.h - the zkd server: one event loop, one ordered stream of zxids.
 *
 * Layers, bottom up (the include graph follows them):
 *
 *   state machine   db.h: tree.c, acl.c, session.c, watch.c, txn.c, prep.c,
 *                   apply.c; no connections, log or quorum (see db.h)
 *   persistence     txnlog.c, snapshot.c, datadir.c (beside the state machine)
 *   pipeline        write.c: zxid, apply, log, history window, proposal
 *   serving         server.c (lifecycle, the gate below, snapshots, expiry),
 *                   conn.c (sockets, frames), request.c (dispatch), fourlw.c,
 *                   sasl.c, tls.c; quorum.c, election.c, peer.c, reconfig.c
 *                   for an ensemble
 *
 * Request pipeline (standalone), all on the loop thread:
 *
 *   conn.c      frames in -> request.c dispatch
 *   request.c   reads answered from the tree; writes go to the pipeline:
 *   write.c     write_begin picks the zxid; prep.c checks the request and
 *               applies it to the state through the undo journal; write_commit
 *               appends the txn to the log buffer (txnlog.h), proposes it in
 *               an ensemble and fires its watch events
 *   reply       queued on the connection, tagged with the zxid it depends on
 *
 * Durability gate: the tree is updated at once, but no byte that depends on
 * an update (its reply, a watch event, a later read's reply, on any
 * connection) leaves the server before the update is durable: every queued
 * frame carries a tag (the zxid the server had applied when it was queued;
 * for a read's reply, the last zxid that changed what it shows, request.c
 * read_tag), and a connection only sends frames whose tag is <= `durable_zxid`.  Before
 * the loop sleeps, the log batch is handed to the fsync thread (group
 * commit); when it completes, durable_zxid advances and the held frames go
 * out in order.  So a client can never observe a write that a crash could
 * lose, and per-connection FIFO order is kept because tags never decrease.
 * Nor can it be told of one: a reply's header zxid (its last zxid seen) is
 * lowered to the durable zxid as the reply leaves (conn.h conn_reply_begin).
 * In an ensemble the gate becomes the quorum-commit zxid (see quorum.h).
 */
#ifndef ZKD_SERVER_H
#define ZKD_SERVER_H

#include <stdint.h>
#include <uv.h>

#include "apply.h"
#include "clock.h"
#include "config.h"
#include "db.h"
#include "digest.h"
#include "fifo.h"
#include "hset.h"
#include "session.h"
#include "snapshot.h"
#include "summary.h"
#include "tree.h"
#include "txn.h"
#include "txnwin.h"
#include "watch.h"

struct conn;
struct txnlog;
struct quorum;
struct admin;
struct metrics;

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
    uint64_t throttles;          /* connections stopped by globalOutstandingLimit */
    uint64_t walker_waits;       /* batches put off: a snapshot walker held the tree lock */
    uint64_t spin_hits;    /* client input caught by the poll window (server_run) */
    uint64_t spin_idle_us; /* windows that ran out with no input: CPU spent for nothing */
    uint64_t snapshots;
    double last_snapshot_s;
    struct summary read_latency;   /* us, per read request (monitor.h) */
    struct summary update_latency; /* us, per write request */
    uint64_t fsync_slow;           /* fsyncs over fsync.warningthresholdms */
    uint64_t fsyncs_seen;          /* txnlog batches already counted (monitor_note_fsync) */
    struct summary fsync_time;     /* us, per log batch write + fdatasync */
    struct summary snapshot_time;  /* us, per snapshot */
    /* AdminServer snapshot/restore (Apache's ServerMetrics counters) */
    uint64_t admin_snapshot_errors, admin_snapshot_rate_limited;
    uint64_t admin_restore_errors, admin_restore_rate_limited;
};

struct server {
    struct zkd_config cfg;
    uv_loop_t *loop;
    struct db db;          /* the state machine: tree, sessions, watches, last zxid */
    struct journal journal_spare; /* write.c: an emptied journal kept for the next write */
    struct jute_out record;       /* write.c: the buffer each write's log record is encoded in */
    struct sessions local_sessions; /* this member's local sessions (localsess.h) */
    struct txnlog *log;

    int64_t durable_zxid;  /* last on disk (standalone) / committed (ensemble);
                              written atomically: the snapshot thread reads it */
    int64_t snap_zxid;     /* zxid of the newest snapshot */
    int64_t digest_zxid, digest_want; /* recovery: a snapshot digest to check
                                       * when the tree reaches digest_zxid, or -1 */
    struct digest_log digests;   /* the `hash` history (digest.h) */
    uint64_t digests_checked, digest_mismatches; /* TxnDigests compared on apply, and
                                                  * how many did not match */
    /* A learner's tree came from a fuzzy SNAP (quorum.c load_snap_stream):
     * it may already hold the next transactions, so TxnDigests are not
     * compared until the tree's digest first equals one (the stretch the
     * snapshot covered is over), as Apache's digestFromLoadedSnapshot
     * defers the check past a fuzzy snapshot file's range. */
    int digest_fuzzy;
    uint64_t txns_since_snap;
    int snap_trigger;      /* txn count that starts the next snapshot */
    int no_snapshot;       /* recovery found none: one is written right after start */
    struct dbwalk *snap_walk; /* the running background snapshot's producer, or NULL */
    int64_t snap_end_zxid; /* last_zxid when its walk ended, or -1 while it walks
                              (the snapshot thread's: server.c snap_step) */
    int snap_restarts;     /* attempts given up for a new ACL list (server.c) */
    int snap_step_pause_ms; /* ZKD_TEST_SNAPSHOT_STEP_MS: tests stretch the walk */
    const char *snap_hold;  /* ZKD_TEST_SNAPSHOT_HOLD (snap_step); NULL when unset */
    int snap_held;          /* the walker's: the hold is over */
    struct snapshot_digest snap_dg; /* its trailer (snap_step may move it to the walk's end) */
    int snap_digest_live;  /* db.digest is kept per write: snap_step may read it */

    struct conn *conns;          /* all connections (doubly linked) */
    uint32_t nconns;
    struct pset held;            /* conns with frames waiting on the gate */
    struct pset dirty;           /* conns with frames ready to write */
    struct pset throttled;       /* conns not read while over globalOutstandingLimit */
    struct fifo backlog;         /* conns waiting for their next turn's requests, oldest
                                  * first (conn.h, server_backlog) */
    uv_idle_t backlog_idle;      /* active while `backlog` is not empty */
    size_t phase_taken;          /* requests taken in this phase of the turn
                                  * (server_take_request) */
    int flush_deferred;          /* loop turns the log batch waited for a backlog (server.c) */
    int walker_waited;           /* a batch waited for a walker this turn (server_batch_lock) */
    /* connections whose ready output is only watch notifications, written a
     * share per turn (flush.h) */
    struct fifo notify;
    uv_idle_t notify_idle;       /* active while the queue is not empty */
    size_t listings;             /* connections in the backlog for a listing's next slice
                                  * (listing.h): no writer's batch to wait for */

    uv_tcp_t listener;
    uv_tcp_t tls_listener;
    int listening, tls_listening;
    uv_prepare_t before_sleep;
    uv_timer_t tick_timer;
    uv_timer_t reaper_timer;
    /* The reaper's candidates of one check, deleted one per pace tick
     * (server.c, Apache's ContainerManager): paths still to delete. */
    uv_timer_t reap_pace;
    char **reap_paths;
    int reap_n, reap_next;
    uv_timer_t purge_timer;
    uv_signal_t sigterm, sigint;
    uv_signal_t sighup;          /* re-reads zoo.cfg's log settings */
    int stopping;
    uint64_t client_reads;       /* reads from client sockets (server_run's spin) */
    int64_t start_ms;
    char snap_dir[4200];   /* dataDir/version-2: snapshots, acceptedEpoch, currentEpoch */
    char log_dir[4200];    /* dataLogDir/version-2: the transaction log */
    struct server_stats stats;
    struct tls_ctx *tls_ctx;     /* NULL when TLS is off */

    /* ensemble */
    int myid;                    /* dataDir/myid; 0 standalone */
    struct quorum *q;            /* NULL when standalone */
    struct txnwin win;           /* recent history, kept in an ensemble */
    int keep_win;
    uint64_t next_conn_uid;
    int64_t config_version;      /* of the membership (reconfig.h) */

    /* operational interfaces (admin.h, metrics.h); NULL when off */
    struct admin *admin;
    struct metrics *metrics;
};

/* The digest of the current tree (digest.h), the running one when
 * digest.enabled.  Loop thread. */
int64_t server_tree_digest(struct server *s);

/*
 * Starts the server on `loop` with a parsed config: recovers the tree from
 * dataDir (snapshot + log), opens the log, listens.  Returns 0 or -1 with the
 * reason logged.  `s` is caller-allocated and must stay valid until
 * server_close's loop run finishes.
 */
int server_start(struct server *s, uv_loop_t *loop, const struct zkd_config *cfg);
/* What server_start would refuse in the security settings, without binding
 * anything: loads the key and trust stores (client port and sslQuorum) and
 * the JAAS file.  Returns 0, or -1 with the reasons logged (zkd --check). */
int server_check_security(const struct zkd_config *cfg);
/* Runs the loop until the server has stopped and closed every handle. */
void server_run(struct server *s);
/* Begins a clean shutdown: stop accepting, fsync, flush replies, close all. */
void server_stop(struct server *s);
/* Applies logLevel (when set) and logFormat of `cfg` to the log (log.h). */
void server_log_settings(const struct zkd_config *cfg);
/* Frees what server_start allocated (after the loop has finished). */
void server_free(struct server *s);

/* ---- used by conn.c / request.c / prep.c / apply.c ---- */

/* Handles one request frame (after the handshake). */
void server_request(struct server *s, struct conn *c, const uint8_t *p, size_t len);
/*
 * The tree write lock (db.h) for a turn's batch of one connection's
 * requests (conn.c), taken before the first write of the batch the loop
 * applies here, with a try: 1 taken (server_batch_unlock after the batch),
 * 0 not needed (a read, a write a learner forwards, or the batch holds it),
 * -1 a snapshot walker holds it: the connection waits for its next turn
 * (counted in mntr zk_snapshot_lock_waits).  So a walker preempted in a
 * step stalls the writers, never the loop: other clients' reads are
 * answered meanwhile (issue 20: the loop waited up to 46 ms for a walker
 * at nice 10, bench/results/2026-12-06-wide-deletes.md).
 */
int server_batch_lock(struct server *s, const uint8_t *frame, size_t len);
void server_batch_unlock(struct server *s);
/* Handles the ConnectRequest frame of a new connection. */
void server_connect(struct server *s, struct conn *c, const uint8_t *p, size_t len);
/* Finishes the handshake of `c` reconnecting to session `id`: attaches it
 * with `timeout` when `valid` (the password, and on an Apache-wire learner
 * the leader's REVALIDATE answer) and this member holds the session, else
 * answers "expired" and closes. */
void server_reconnect(struct server *s, struct conn *c, int64_t id, int32_t timeout, int valid);
/* Answers a connection whose first 4 bytes `p` are a four-letter word and
 * returns 1 (the connection closes after the answer); returns 0 otherwise. */
int server_four_letter(struct server *s, struct conn *c, const uint8_t *p);
/* Called by conn_close before `c` is torn down: the quorum forgets the
 * requests it forwarded for `c`. */
void server_conn_closed(struct server *s, struct conn *c);

/* Marks `c` as holding frames behind the gate. */
void server_hold(struct server *s, struct conn *c);
/* Marks `c` as having bytes to write before the loop sleeps. */
void server_mark_dirty(struct server *s, struct conn *c);

/*
 * globalOutstandingLimit, as Apache's throttle: while that many transactions
 * wait for the gate (logged but not yet durable, or proposed but not yet
 * committed), no client request is read.  Without it one loop iteration
 * could take in every request a flood has buffered (libuv reads up to 32
 * socket buffers per wake-up) before the log is flushed, and no reply, not
 * even to a ping, would leave for that long.  conn.c stops a connection at a
 * frame boundary with server_throttle(); before the loop sleeps the server
 * reads them again once it is back under the limit.
 */
int server_over_limit(const struct server *s);
void server_throttle(struct server *s, struct conn *c);

/* Queues `c`, which holds requests beyond its turn's share (requestsPerTurn,
 * conn.h) or beyond the phase's (server_take_request), at the tail of the
 * backlog: conn_continue() runs for it in a later loop turn, oldest first,
 * and the loop does not sleep while one waits. */
void server_backlog(struct server *s, struct conn *c);
/*
 * Requests taken across connections, per phase of a loop turn (issue 20:
 * 19,000 watchers re-arming at once).  A turn has two phases, each taking at
 * most requestsPerLoopTurn requests (config.h; 0 = no cap) of socket
 * connections in the ready state:
 *
 *   1. the backlog's: before the poll, the connections waiting in the
 *      backlog, oldest first, each up to its requestsPerTurn;
 *   2. the poll's: what the poll reads, in the kernel's order; a connection
 *      read past the cap keeps its bytes unhandled, stops being read, and
 *      joins the backlog's tail.
 *
 * So a turn answers at most 2 x requestsPerLoopTurn requests, and a request
 * read when few others arrive with it is answered in its own turn, ahead of
 * a burst that an earlier poll read and left in the backlog.  Returns 1 and
 * counts the request when the phase may take it, 0 when it is full.
 */
int server_take_request(struct server *s);

/* Session lifecycle (session id's owner connection may be NULL). */
void server_expire_session(struct server *s, struct session *se);

/* Durable-log callback target: advances the gate and releases frames. */
void server_durable(struct server *s, int64_t zxid);

/* Snapshot now (background); used by snapCount and the `snap` tests. */
void server_snapshot(struct server *s);

/* ---- reads answered across turns (listing.h; request.c) ---- */

/* Finds the node at `path` for a read by `c`: 0, NONODE (*n NULL), or
 * NOAUTH (*n set) when c may not READ it. */
int server_read_lookup(struct server *s, struct conn *c, struct zk_slice path, struct znode **n);
/* Answers a getData/exists/getChildren(2) whose outcome is `rc` on `n`, as
 * of now: arms the watch it asked for (`watch`), tags the reply with what
 * it shows (the durability gate) and encodes it.  `children`, when not
 * NULL, is a getChildren body already encoded (count + names, listing.h)
 * after CONN_REPLY_HEAD bytes of room, to send in place of n's children;
 * its buffer is taken or freed (conn_put_body). */
void server_read_answer(struct server *s, struct conn *c, int32_t xid, int32_t type, int rc,
                        const struct znode *n, struct zk_slice path, int watch,
                        struct jute_out *children);

/* ---- used by quorum.c (ensemble) ---- */

/* Dispatches one request frame without routing it to the leader (a learner
 * replaying held requests; the leader running forwarded ones). */
void server_request_local(struct server *s, struct conn *c, const uint8_t *p, size_t len);
/* Binds connection `c` to session `se` (which it may take from another). */
void server_attach(struct server *s, struct conn *c, struct session *se);
/* Closes every client connection (a member that stops serving). */
void server_close_clients(struct server *s);
/* Counts one applied transaction toward the next snapshot. */
void server_count_txn(struct server *s);
/* Drops every transaction after `zxid` from the log and rebuilds the tree
 * from disk.  Returns 0 or -1 (logged). */
int server_truncate(struct server *s, int64_t zxid);
/* Writes a consistent snapshot of the state now (an Apache snapshot file's
 * bytes, uncompressed, with the lastProcessedZxid trailer Apache 3.9's
 * AdminServer `restore` reads) to `fd`, synchronously, on the loop thread.
 * Returns 0 or -errno.  To load one, see snapshot_load_buffer() with
 * db_load_snapshot_body(). */
int server_snapshot_to_fd(struct server *s, int fd);
/* Replaces the state by an image received from a leader: begin empties the
 * state (the caller then loads the image into s->db, e.g. with
 * db_load_snapshot_body), end writes it as a snapshot at `zxid` and restarts
 * the log there.  end returns 0 or -1 (logged). */
void server_image_begin(struct server *s);
int server_image_end(struct server *s, int64_t zxid);

#endif
