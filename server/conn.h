/*
 * conn.h - one client connection: framing in, gated frame queue out.
 *
 * Input: length-prefixed frames (int32 big-endian length).  A length below
 * zero or above jute.maxbuffer closes the connection (as Apache does: "Len
 * error"), so a hostile client can make zkd hold at most one maximal frame
 * per connection.  The first frame of a connection is either a four-letter
 * word (its 4 bytes read as the length) or a ConnectRequest.
 *
 * Output: frames are serialized straight into `out`; each carries the zxid
 * tag described in server.h and is released to the socket only once the
 * server's durable zxid reaches it.  If a client stops reading, zkd stops
 * reading its requests (backpressure) and, should notifications pile up past
 * a hard limit, closes the connection rather than grow without bound.
 */
#ifndef ZKD_CONN_H
#define ZKD_CONN_H

#include <stdint.h>
#include <uv.h>

#include "acl.h"
#include "fifo.h"
#include "watch.h"
#include "zk/jute.h"

struct server;
struct session;
struct listing;

enum conn_state { CONN_HANDSHAKE, CONN_READY, CONN_CLOSING };

/* A request a learner holds until the session's forwarded writes are done. */
struct held_req {
    struct held_req *next;
    int32_t type;
    size_t len;
    uint8_t data[];
};

struct conn_mark {
    uint64_t end;     /* absolute stream offset of the frame's end */
    int64_t tag;
    uint64_t zxid_at; /* absolute stream offset of its ReplyHeader zxid, or 0 (see
                       * conn_reply_begin) */
    int notify;       /* the frame is a watch notification (flush.h) */
};

struct conn {
    struct server *srv;
    uv_tcp_t tcp;
    struct conn *prev, *next;
    enum conn_state state;
    int close_after_flush;
    int reading_paused;    /* its replies queue up unread (conn.c) */
    int throttled;         /* the server is over globalOutstandingLimit (server.h) */
    int backlogged;        /* used its turn's requests; waits for conn_continue */
    struct fifo_link bq;   /* its place in the server's backlog (server_backlog) */
    struct listing *listing; /* a getChildren being answered in slices, one per
                              * turn (listing.h); no later frame of this
                              * connection is taken until it is answered */
    int is_tls;

    struct session *session;
    int64_t session_id;
    int32_t timeout;
    struct watch_owner watches;
    struct auth_info auth;
    void *sasl;            /* sasl_conn_t*, when SASL is in progress */

    uint8_t *in;
    size_t in_len, in_cap;
    size_t in_off;         /* in[0, in_off) are handled frames, dropped when the
                            * next read needs room (conn.c alloc_in) */
    size_t in_want;        /* free bytes a read gets: 4 KiB, doubled on each read that
                            * filled its buffer (conn.c alloc_in) */

    struct jute_out out;   /* bytes [consumed, consumed + out.len) of the stream */
    uint64_t consumed;
    uint64_t released;     /* stream offset up to which bytes may be sent */
    uint64_t reply_end;    /* end of the last released frame that is not a watch
                            * notification: a reply is unwritten while > consumed */
    int64_t max_tag;       /* the highest tag queued so far (tags never decrease) */
    uint64_t reply_zxid_at; /* the frame being built: its ReplyHeader zxid's stream
                             * offset (conn_reply_begin), or 0 */
    struct conn_mark *marks;
    size_t mark_head, mark_n, mark_cap;
    uv_write_t wreq;
    uv_buf_t wbuf;
    int writing;
    /* flush.h's queue of connections whose ready output is only notifications */
    struct fifo_link nq;
    struct tls_conn *tls;  /* NULL on the plain port */
    uint8_t *tls_rbuf;     /* ciphertext read buffer */
    size_t tls_inflight;   /* ciphertext bytes handed to uv_write */

    /* ensemble (quorum.c) */
    uint64_t uid;          /* unique per server process */
    int fwd_pending;       /* requests forwarded to the leader, reply not yet delivered */
    int revalidating;      /* its reconnect waits for the leader's REVALIDATE answer */
    int readonly;          /* a read-only session (owned by the conn, not in the table) */
    struct held_req *held, *held_tail;
    /* audit.enable: the writes forwarded to the leader whose audit lines
     * this member writes when their replies come back (audit.h). */
    struct held_req *audit_fwd, *audit_fwd_tail;
    int64_t active_ms;     /* last request or connect (monotonic) */
    /* A proxy connection (the leader running a learner's forwarded
     * requests) has no socket: every finished frame goes to `sink`. */
    void (*sink)(struct conn *c, const uint8_t *frame, size_t len);
    void *sink_data;

    char remote[64];
    int remote_port;
    int64_t established_ms;
    uint64_t packets_in, packets_out;
    int32_t last_cxid;
    int64_t last_zxid;
    int32_t last_op;
    int64_t last_latency_us;
    uint64_t lat_total_us, lat_count, lat_min_us, lat_max_us;
};

/* Whether `c` is the leader's proxy for a learner's forwarded requests:
 * their audit lines are the learner's to write (audit.h). */
static inline int conn_is_proxy(const struct conn *c)
{
    return c->sink != NULL;
}

/* Accepts a pending connection on `listener`. Returns 0 or a uv error. */
int conn_accept(struct server *s, uv_stream_t *listener, int tls);

/* Creates a connection object on an unconnected TCP handle (used by
 * conn_accept and by the fuzz harness).  It is in the handshake state. */
struct conn *conn_create(struct server *s, int tls);
/* Appends received bytes and processes every complete frame, exactly as if
 * they had arrived on the socket. */
void conn_feed(struct conn *c, const void *p, size_t len);

/* A socketless connection whose frames go to `sink` (see struct conn). */
struct conn *conn_new_proxy(struct server *s, void (*sink)(struct conn *c, const uint8_t *frame,
                                                           size_t len),
                            void *data);
void conn_free_proxy(struct conn *c);

/* Queues a complete frame (length prefix included) built elsewhere, gated on
 * `tag` like conn_frame_end. */
void conn_put_frame(struct conn *c, const void *frame, size_t len, int64_t tag);

/* Starts a frame; returns its start offset within c->out. */
size_t conn_frame_begin(struct conn *c);
/*
 * Ends the frame started at `start`, gated on `tag`.  A reply larger than
 * jute.maxbuffer is sent as Apache sends it (the client's limit decides);
 * one above INT32_MAX bytes, which no length prefix can state, is replaced by
 * a reply header carrying ZK_MARSHALLINGERROR for `xid`.
 */
void conn_frame_end(struct conn *c, size_t start, int64_t tag, int32_t xid);
/*
 * Starts a reply frame with its ReplyHeader; the body follows, then
 * conn_frame_end.  Returns the frame's start, as conn_frame_begin.
 *
 * The header's `zxid` is what the client keeps as lastZxidSeen and presents
 * on reconnect, and a server behind it refuses the client; so it must never
 * name a transaction a crash could lose.  The frame leaves with
 * min(zxid, the durable zxid when it is released): a read's reply may say the
 * last zxid applied (as Apache sends its last processed zxid) while its tag,
 * what the gate waits for, is only what the reply shows (request.c
 * read_tag).  Both terms grow frame by frame, so a connection's header zxids
 * never go backwards.  (A proxy connection's frames are not gated here:
 * their header is left as given.)
 */
size_t conn_reply_begin(struct conn *c, int32_t xid, int64_t zxid, int32_t err);
/* Bytes conn_reply_begin writes: the length prefix and the ReplyHeader
 * (xid, zxid, err). */
#define CONN_REPLY_HEAD 20
/* Appends the bytes of `body` from offset `room` on to the frame begun at
 * `start`.  When that frame is all c->out holds and its bytes so far are
 * exactly `room` long, they are copied into body's first `room` bytes and
 * body's buffer becomes c->out instead: a body of megabytes (listing.h) is
 * not copied again.  Frees or takes body's buffer; body is left empty. */
void conn_put_body(struct conn *c, size_t start, struct jute_out *body, size_t room);
/* Convenience: a frame with just a ReplyHeader. */
void conn_reply_header(struct conn *c, int32_t xid, int64_t zxid, int32_t err, int64_t tag);
/* Queues a watch notification (WatcherEvent `type` on `path`, `len` bytes,
 * which may be empty: setWatches echoes what the client named), gated on `tag`.
 * Its ReplyHeader carries `zxid`: the transaction that fired it, as Apache
 * 3.9 sends (ZOOKEEPER-4655; 3.8 sent -1, which clients ignore), or -1. */
void conn_put_event(struct conn *c, int32_t type, const char *path, size_t len, int64_t zxid,
                    int64_t tag);

/* The state machine's hooks (db.h): a watch of the connection embedding
 * `owner` fired (queues the notification, gated on `zxid`, if the
 * connection's identities may READ under `acl`); session `se` closed (its
 * connection, if any, no longer has a session). */
void conn_watch_event(struct watch_owner *owner, int32_t type, const char *path, int64_t zxid,
                      const struct acl_list *acl, void *data);
void conn_session_closed(struct session *se, void *data);

/* Queues unframed bytes (four-letter-word answers), not gated. */
void conn_send_raw(struct conn *c, const void *p, size_t len);
/* Releases every held frame with tag <= durable. Returns 1 if any. */
int conn_release(struct conn *c, int64_t durable);
/* Writes released bytes (called before the loop sleeps). */
void conn_flush(struct conn *c);
/* Closes now (pending output is dropped). Safe to call twice. */
void conn_close(struct conn *c);
/* Closes once everything queued so far has been written. */
void conn_close_after_flush(struct conn *c);

/* Reads `c` again after server_throttle() (server.h) stopped it, handling
 * the frames it already holds first. */
void conn_unthrottle(struct conn *c);
/*
 * Fairness between connections: one read from a connection's socket handles
 * at most requestsPerTurn requests (config.h; default 100), and only while
 * the turn's phase has room (server_take_request: requestsPerLoopTurn
 * across connections).  A connection that holds more stops reading and is
 * queued with server_backlog(); its
 * next turn, conn_continue(), handles the next share and reads again once
 * it is drained.  Per-connection FIFO order is unchanged (frames are taken
 * in order, and a backlogged connection reads nothing new until its queue
 * is drained); a pipelined client's throughput costs one more loop turn per
 * share.  conn_feed() and a proxy connection take every frame at once.
 * A connection with a listing (listing.h) gets its next slice here
 * instead, and takes frames again once that is answered.
 */
void conn_continue(struct conn *c);
/*
 * Whether everything `c` has ready to write is watch notifications (flush.h
 * writes such connections a bounded number per loop turn); 0 when a reply
 * or a four-letter word's answer is among it, when it waits to close, or
 * when nothing is ready.  A connection's output is one byte stream, so a
 * reply queued behind a notification is written after it, whatever the
 * answer here.
 */
static inline int conn_only_notifications(const struct conn *c)
{
    return c->released > c->consumed && c->reply_end <= c->consumed && !c->close_after_flush;
}
/* Takes no more frames from `c` until its next turn (conn_continue): used
 * when a request of it is answered across turns (listing.h). */
void conn_wait_turn(struct conn *c);
/* Whether frames are waiting on the gate. */
static inline int conn_has_held(const struct conn *c) { return c->mark_n > 0; }
/* Bytes queued and not yet written. */
size_t conn_queued_bytes(const struct conn *c);

#endif
