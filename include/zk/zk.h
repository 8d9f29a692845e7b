/*
 * zk.h - libzk, the zkfs client library for ZooKeeper-compatible servers.
 *
 * libzk speaks Apache ZooKeeper's 3.8 client protocol to zkd or to Apache's
 * own server.  It has two faces:
 *
 *   - The asynchronous API (zk_t) runs on a libuv loop that the caller owns.
 *     Every call returns at once; its outcome arrives exactly once, as the
 *     `status` of a zk_result_fn callback on that loop.  Every zk_* function
 *     that takes a zk_t must be called on the loop's thread (the thread that
 *     runs uv_run on it), and every callback is made on that thread.  There
 *     is no global state: any number of handles, on one or many loops, may
 *     live in one process.
 *
 *   - The blocking API (zk_blocking_t) owns a private loop on a private
 *     thread.  Its calls may be made from any thread (concurrently), and
 *     each waits for its reply.  Watchers and the session callback of a
 *     blocking handle run on the private thread.
 *
 * Sessions.  zk_open parses a connect string "h1:2181,h2:2181/chroot",
 * shuffles the hosts, and connects to them in turn.  On losing a connection
 * the handle moves to the next host and resumes the session with its id and
 * password; every watch it holds is re-armed (setWatches, or setWatches2
 * when persistent watches exist) relative to the last zxid it has seen, in
 * frames below the server's size limit.  A server that has seen less than
 * the client (a lagging follower) refuses the session by closing the
 * connection, and the handle simply tries the next host, as Apache's does.
 *
 * Session changes are reported to zk_options.on_session:
 *   CONNECTED      first session established
 *   SUSPENDED      connection lost; requests in flight failed with
 *                  ZK_CONNECTIONLOSS; the handle is reconnecting
 *   RECONNECTED    session resumed on some server, watches re-armed
 *   EXPIRED        the server declared the session dead; requests fail with
 *                  ZK_SESSIONEXPIRED from now on; close the handle
 *   AUTH_FAILED    an addauth was refused; the server closed the session
 *   CLOSED         zk_close finished (the last callback before the close cb)
 *
 * Requests are pipelined: any number may be in flight, they are sent in the
 * order they were made, and the server answers them in that order (replies
 * are matched by xid; a reply out of order is a protocol error and costs
 * the connection).  Requests made while the handle is between connections
 * are queued, then sent when it reconnects, or failed with
 * ZK_CONNECTIONLOSS when a whole round of hosts has failed.
 *
 * Errors are the negative codes of include/zk/proto.h (zk_strerror,
 * zk_errname).  Arguments libzk can check itself are refused before anything
 * is sent: a bad path, data over ZK_MAX_DATA or a request frame over the
 * server's limit give ZK_BADARGUMENTS.
 */
#ifndef ZK_ZK_H
#define ZK_ZK_H

#include <stddef.h>
#include <stdint.h>

#include "zk/proto.h" /* error codes, opcodes, create modes, struct zk_stat, ZK_EXPORT */

#ifdef __cplusplus
extern "C" {
#endif

struct uv_loop_s;

typedef struct zk zk_t;                   /* an asynchronous session handle */
typedef struct zk_blocking zk_blocking_t; /* a blocking session handle */
typedef struct zk_txn zk_txn_t;           /* a multi / multiRead builder */

/* ---- ACLs ---- */

/* One ACL entry.  In arguments libzk copies what it needs before returning;
 * in results the strings belong to the result. */
struct zk_acl {
    int32_t perms; /* ZK_PERM_* bits */
    const char *scheme;
    const char *id;
};

/* world:anyone with all permissions (one entry). */
ZK_EXPORT extern const struct zk_acl zk_acl_open_unsafe[1];
/* world:anyone read-only (one entry). */
ZK_EXPORT extern const struct zk_acl zk_acl_read_unsafe[1];
/* auth:"" with all permissions: the creator's authenticated ids (one entry). */
ZK_EXPORT extern const struct zk_acl zk_acl_creator_all[1];

/* ---- events ---- */

enum zk_session_event {
    ZK_SESSION_CONNECTED = 1,
    ZK_SESSION_SUSPENDED = 2,
    ZK_SESSION_RECONNECTED = 3,
    ZK_SESSION_EXPIRED = 4,
    ZK_SESSION_AUTH_FAILED = 5,
    ZK_SESSION_CLOSED = 6,
};

/* "CONNECTED", "SUSPENDED", ...; "UNKNOWN" otherwise. */
ZK_EXPORT const char *zk_session_event_name(int ev);
/* "NodeCreated", "NodeDeleted", ... (Apache's names); "None" otherwise. */
ZK_EXPORT const char *zk_event_type_name(int type);

/* A watch notification.  `path` is relative to the chroot and valid only
 * during the watcher call. */
struct zk_event {
    int type;  /* enum zk_event_type */
    int state; /* enum zk_state, ZK_STATE_SYNC_CONNECTED for server events */
    const char *path;
    int64_t zxid; /* of the notification frame; -1 for local events */
};

/* Called for each event of a watch (on the loop thread).  One-shot watches
 * (data, exists, children) fire once, persistent ones until removed.  The
 * same (fn, data) pair registered several times on one path and kind is
 * one watch, as in Apache (a watcher object in a set). */
typedef void (*zk_watcher_fn)(zk_t *zk, const struct zk_event *ev, void *data);

/* Called on each session change (enum zk_session_event), on the loop thread. */
typedef void (*zk_session_fn)(zk_t *zk, int event, void *data);

/* ---- results ---- */

/* whoAmI entry. */
struct zk_client_info {
    char *scheme;
    char *user;
};

/* The outcome of one request.  Only the fields of its op are set, the rest
 * are zero.  A result handed to a zk_result_fn belongs to libzk and is valid
 * during the callback only; one returned by the blocking API belongs to the
 * caller, who frees it with zk_result_free. */
struct zk_result {
    int op;       /* ZK_OP_* of the request */
    int err;      /* 0 or ZK_*; for multi, each sub-result has its own */
    int64_t zxid; /* of the reply */
    char *path;   /* create*: the created path (chroot stripped); sync */
    char *data;   /* getData: NUL-terminated copy; NULL for null data */
    int32_t data_len; /* -1 for null data */
    int has_stat;
    struct zk_stat stat; /* create2/TTL/container, exists, getData, setData,
                            getACL, setACL, getChildren2 */
    char **children;   /* getChildren*, getEphemerals: names or paths */
    int32_t nchildren;
    struct zk_acl *acl; /* getACL (strings owned by the result) */
    int32_t nacl;
    int64_t number; /* getAllChildrenNumber */
    struct zk_client_info *clients; /* whoAmI */
    int32_t nclients;
    struct zk_result *results; /* multi, multiRead: one per op, in order */
    int32_t nresults;
};

/* Frees a result returned by the blocking API (NULL is fine). */
ZK_EXPORT void zk_result_free(struct zk_result *res);

/* The completion of a request: `status` is 0 or a ZK_* code, `res` is
 * never NULL (see struct zk_result for its lifetime).  For multi, a failed
 * transaction has status = the first failing op's error and res->results
 * still lists every op's error. */
typedef void (*zk_result_fn)(zk_t *zk, int status, const struct zk_result *res, void *data);

/* Called once when zk_close has finished; the handle is freed after it returns. */
typedef void (*zk_close_fn)(zk_t *zk, void *data);

/* ---- options ---- */

struct zk_tls_options {
    const char *ca_file;   /* PEM trust anchors; NULL uses the system store */
    const char *cert_file; /* PEM client certificate, or NULL */
    const char *key_file;  /* PEM client key, or NULL */
    int verify_peer;       /* default 1 */
    int verify_hostname;   /* default 1: the host part of the connect string */
    const char *server_name; /* expected name instead of the host, or NULL */
};

/* SASL authentication, run on every new connection before any request
 * (Apache's ZooKeeperSaslClient).  DIGEST-MD5 is what zkd and Apache's
 * DigestLoginModule offer; GSSAPI is Kerberos (Apache's Krb5LoginModule),
 * through Cyrus SASL's GSSAPI plugin and MIT Kerberos (KRB5_CONFIG /
 * /etc/krb5.conf).  A refused login ends the session
 * (ZK_SESSION_AUTH_FAILED), with the reason logged (zk_set_log). */
struct zk_sasl_options {
    const char *mechanism;   /* "DIGEST-MD5" or "GSSAPI"; NULL: no SASL */
    const char *user;        /* DIGEST-MD5 (required there) */
    const char *password;    /* DIGEST-MD5 (required there) */
    const char *service;     /* default "zookeeper" (zookeeper.sasl.client.username) */
    const char *server_name; /* default "zk-sasl-md5" (Java's DIGEST-MD5 name); for
                                GSSAPI, the host of the server dialed: the ticket is
                                for service/host, as Apache's client asks */
    /* (added in libzk 1.1) GSSAPI only: log in from this keytab (JAAS keyTab=)
     * as `principal` (JAAS principal=; NULL: the keytab's first), keeping the
     * tickets in memory.  NULL: the default ticket cache (KRB5CCNAME, kinit). */
    const char *keytab;
    const char *principal;
};

struct zk_options {
    const char *hosts;      /* "h1:2181,[::1]:2182/chroot" (required) */
    int session_timeout_ms; /* requested; default 10000 */
    int connect_timeout_ms; /* per attempt (TCP + TLS + handshake); default
                               session_timeout / number of hosts, >= 1000 */
    int64_t session_id;     /* != 0: resume this session */
    const char *password;   /* 16 bytes, with session_id */
    int read_only;          /* allow read-only servers */
    int no_shuffle;         /* try hosts in the order given (tests) */
    int max_buffer;         /* server's jute.maxbuffer; default ZK_DEFAULT_MAX_BUFFER */
    int use_tls;
    struct zk_tls_options tls;
    zk_session_fn on_session; /* may be NULL */
    void *data;               /* handed to on_session; see also zk_data() */
    struct zk_sasl_options sasl; /* (added later, zero means none) */
    /* Largest reply frame accepted, in bytes; 0: 4 x max_buffer + 64 KiB.
     * Servers send replies of any size (a getChildren of a million names is
     * megabytes); a larger one fails its request with ZK_MARSHALLINGERROR and
     * the session carries on.  (added in libzk 1.1) */
    int max_reply;
    /* (added in libzk 1.1) With use_tls and verify_peer: check every
     * certificate of the server's chain for revocation through OCSP
     * (Apache's zookeeper.ssl.ocsp), falling back to the CRLs in ca_file,
     * refusing the server when neither answers; see docs/libzk.md. */
    int tls_ocsp;
};

/* Fills `o` with defaults (all zero except verify flags and timeouts). */
ZK_EXPORT void zk_options_init(struct zk_options *o);

/* ---- asynchronous API: lifecycle and state ---- */

/* Creates a handle on `loop` and starts connecting.
 * OUT out: the handle, owned by libzk until zk_close's callback returns.
 * Returns 0, ZK_BADARGUMENTS (bad connect string or options), or
 * ZK_SYSTEMERROR (TLS context could not be set up).  Loop thread only. */
ZK_EXPORT int zk_open(struct uv_loop_s *loop, const struct zk_options *o, zk_t **out);

/* Ends the session (closeSession if connected), fails queued and pending
 * requests with ZK_CLOSING, closes every libuv handle, reports
 * ZK_SESSION_CLOSED, then calls `cb` and frees the handle.  No call on `zk`
 * is allowed after zk_close.  `cb` may be NULL.  Loop thread only. */
ZK_EXPORT void zk_close(zk_t *zk, zk_close_fn cb, void *data);

/* Drops the current connection as if it were lost and moves to the next host
 * (requests in flight get ZK_CONNECTIONLOSS).  For tests and rebalancing. */
ZK_EXPORT void zk_reconnect(zk_t *zk);

/* Accessors.  zk_state and zk_session_id may be read from any thread (they
 * are atomic); the others on the loop thread only. */
ZK_EXPORT int zk_state(const zk_t *zk); /* ZK_STATE_* (CONNECTED = SYNC_CONNECTED) */
ZK_EXPORT int64_t zk_session_id(const zk_t *zk);
/* OUT pw: the 16-byte session password. */
ZK_EXPORT void zk_session_password(const zk_t *zk, char pw[16]);
ZK_EXPORT int zk_session_timeout(const zk_t *zk); /* negotiated, ms */
ZK_EXPORT int64_t zk_last_zxid(const zk_t *zk);
/* "host:port" of the current server, or NULL when not connected. */
ZK_EXPORT const char *zk_current_host(const zk_t *zk);
ZK_EXPORT void *zk_data(const zk_t *zk);
ZK_EXPORT void zk_set_data(zk_t *zk, void *data);
/* Counters since zk_open (loop thread): requests sent to a server (each
 * resend after a reconnect counts again), watch notifications received. */
struct zk_stats {
    uint64_t requests;
    uint64_t notifications;
    uint64_t socket_writes; /* writes handed to the socket: requests sent from
                               one batch of replies share one (client/conn.c) */
};
ZK_EXPORT void zk_get_stats(const zk_t *zk, struct zk_stats *out);

/* ---- diagnostics ----
 * libzk reports what it cannot return to a caller (a TLS file that does not
 * load, a host that does not resolve, a server that stops answering) as one
 * line per event.  By default the line goes to stderr prefixed "libzk: ";
 * a program (a daemon with its own log, such as zkfs) installs a handler to
 * route it.  The handler is process-wide, may be called from any thread that
 * runs a libzk loop, and must not call back into libzk.  NULL restores the
 * default.  Lines below `min_level` are dropped (default ZK_LOG_WARN). */
enum zk_log_level { ZK_LOG_ERROR = 0, ZK_LOG_WARN = 1, ZK_LOG_INFO = 2, ZK_LOG_DEBUG = 3 };
typedef void (*zk_log_fn)(enum zk_log_level level, const char *line, void *data);
ZK_EXPORT void zk_set_log(zk_log_fn fn, void *data, enum zk_log_level min_level);

/* The loop the handle runs on (for timers of code built on libzk). */
ZK_EXPORT struct uv_loop_s *zk_loop(const zk_t *zk);

/* Extra session listeners, called after zk_options.on_session for every
 * session event, in the order added (recipes use them to hear of loss and
 * expiry without taking on_session from the program).  A listener may
 * remove itself or others during the call; one added during an event hears
 * the next event first.  ZK_SESSION_CLOSED is the last event, after which
 * no watcher or completion of the handle runs.  Loop thread only. */
ZK_EXPORT void zk_add_session_listener(zk_t *zk, zk_session_fn fn, void *data);
/* Removes the first listener equal to (fn, data); no-op if there is none. */
ZK_EXPORT void zk_remove_session_listener(zk_t *zk, zk_session_fn fn, void *data);

/* ---- asynchronous API: requests ----
 *
 * All functions below return nothing: their outcome, including argument
 * errors found before sending, arrives once through `cb` (which may be NULL
 * to ignore it).  Strings and buffers are copied before the call returns.
 * A watcher (`w`, may be NULL) is registered only when the request succeeds
 * (exists: also on ZK_NONODE, as a creation watch), before `cb` runs.
 */

/* A generic request: every typed call below fills one of these and calls
 * zk_submit.  Unused fields must be zero. */
struct zk_request {
    int op;                /* ZK_OP_* */
    const char *path;      /* absolute, relative to the chroot */
    const void *data;      /* NULL for a null buffer */
    int32_t data_len;
    const struct zk_acl *acl; /* create/setACL; NULL means zk_acl_open_unsafe */
    int32_t nacl;
    int32_t create_mode;   /* ZK_PERSISTENT ... */
    int64_t ttl;           /* ms, TTL modes */
    int32_t version;       /* -1 matches any */
    int32_t watch_mode;    /* addWatch: ZK_ADDWATCH_* */
    int32_t watcher_type;  /* removeWatches/checkWatches: ZK_WATCH_* */
    zk_watcher_fn watcher; /* exists/getData/getChildren*, addWatch, removeWatches */
    void *watcher_data;
    const char *scheme;    /* addauth */
    const zk_txn_t *txn;   /* multi/multiRead */
    int no_chroot;         /* path is absolute on the server (e.g. /zookeeper/config) */
};

ZK_EXPORT void zk_submit(zk_t *zk, const struct zk_request *req, zk_result_fn cb, void *data);

/* create (op 1; container and TTL modes use ops 19 and 21 and return a stat).
 * res->path is the created path.  ttl is used by TTL modes only. */
ZK_EXPORT void zk_create(zk_t *zk, const char *path, const void *value, int32_t len,
                         const struct zk_acl *acl, int32_t nacl, int mode, int64_t ttl,
                         zk_result_fn cb, void *data);
/* create2 (op 15): like zk_create, and res->stat is the new node's stat. */
ZK_EXPORT void zk_create2(zk_t *zk, const char *path, const void *value, int32_t len,
                          const struct zk_acl *acl, int32_t nacl, int mode, int64_t ttl,
                          zk_result_fn cb, void *data);
ZK_EXPORT void zk_delete(zk_t *zk, const char *path, int32_t version, zk_result_fn cb, void *data);
/* res->has_stat is 0 and status ZK_NONODE when the node is absent. */
ZK_EXPORT void zk_exists(zk_t *zk, const char *path, zk_watcher_fn w, void *wdata,
                         zk_result_fn cb, void *data);
ZK_EXPORT void zk_get(zk_t *zk, const char *path, zk_watcher_fn w, void *wdata,
                      zk_result_fn cb, void *data);
ZK_EXPORT void zk_set(zk_t *zk, const char *path, const void *value, int32_t len,
                      int32_t version, zk_result_fn cb, void *data);
/* getChildren (op 8), or getChildren2 (op 12, with res->stat) if with_stat. */
ZK_EXPORT void zk_get_children(zk_t *zk, const char *path, int with_stat, zk_watcher_fn w,
                               void *wdata, zk_result_fn cb, void *data);
ZK_EXPORT void zk_get_acl(zk_t *zk, const char *path, zk_result_fn cb, void *data);
ZK_EXPORT void zk_set_acl(zk_t *zk, const char *path, const struct zk_acl *acl, int32_t nacl,
                          int32_t version, zk_result_fn cb, void *data);
/* res->path is the synced path. */
ZK_EXPORT void zk_sync(zk_t *zk, const char *path, zk_result_fn cb, void *data);
/* check (op 13) outside a multi; servers older than 3.9 may refuse it. */
ZK_EXPORT void zk_check(zk_t *zk, const char *path, int32_t version, zk_result_fn cb, void *data);
/* multi (op 14) for a write transaction, multiRead (op 22) when every op of
 * `txn` is a read; mixing them gives ZK_BADARGUMENTS.  `txn` may be freed
 * as soon as this returns. */
ZK_EXPORT void zk_multi(zk_t *zk, const zk_txn_t *txn, zk_result_fn cb, void *data);
/* addWatch (op 106): a persistent (recursive) watch calling `w`. */
ZK_EXPORT void zk_add_watch(zk_t *zk, const char *path, int mode, zk_watcher_fn w, void *wdata,
                            zk_result_fn cb, void *data);
/* removeWatches (op 18) of `type` (ZK_WATCH_*) on path: those of (w, wdata),
 * or all of that type when w is NULL.  ZK_NOWATCHER (without a round trip)
 * if no such watch is held.  The server keeps one watch per path and class
 * (data+exist, child, persistent) for the session: it is asked to drop only
 * the classes no other local watcher still uses (with none, the removal is
 * local and completes without a round trip); removing all watchers (w NULL)
 * always asks it.  Removed watchers get a *_WATCH_REMOVED event.
 * ZK_WATCH_ANY also removes persistent watches. */
ZK_EXPORT void zk_remove_watches(zk_t *zk, const char *path, int type, zk_watcher_fn w,
                                 void *wdata, zk_result_fn cb, void *data);
/* checkWatches (op 17): 0 if a watch of `type` is held, else ZK_NOWATCHER. */
ZK_EXPORT void zk_check_watches(zk_t *zk, const char *path, int type, zk_result_fn cb,
                                void *data);
/* getEphemerals (op 103): this session's ephemeral nodes whose path starts
 * with `prefix` ("/" for all), as full paths (chroot stripped) in
 * res->children. */
ZK_EXPORT void zk_get_ephemerals(zk_t *zk, const char *prefix, zk_result_fn cb, void *data);
/* getAllChildrenNumber (op 104): res->number. */
ZK_EXPORT void zk_get_all_children_number(zk_t *zk, const char *path, zk_result_fn cb,
                                          void *data);
/* whoAmI (op 107): res->clients. */
ZK_EXPORT void zk_whoami(zk_t *zk, zk_result_fn cb, void *data);
/* addauth: remembered and re-sent on every reconnect.  A refused auth ends
 * the session (ZK_SESSION_AUTH_FAILED) and completes with ZK_AUTHFAILED. */
ZK_EXPORT void zk_add_auth(zk_t *zk, const char *scheme, const void *cred, int32_t len,
                           zk_result_fn cb, void *data);
/* getData("/zookeeper/config"), outside the chroot. */
ZK_EXPORT void zk_get_config(zk_t *zk, zk_watcher_fn w, void *wdata, zk_result_fn cb,
                             void *data);

/* ---- foreign-loop mode ----
 *
 * For programs with their own event loop (Apache's zookeeper_interest and
 * zookeeper_process): the handle runs on a private loop, and the program
 * polls one file descriptor for reading, with a timeout, then calls
 * zk_process.  Every callback runs inside zk_process; every call on the
 * handle must be made on the thread that calls zk_process.
 *
 *   zk_open_foreign(&o, &zk);
 *   for (;;) {
 *       int fd, ms;
 *       zk_interest(zk, &fd, &ms);
 *       struct pollfd p = {fd, POLLIN, 0};
 *       poll(&p, 1, ms);          (plus the program's own descriptors)
 *       zk_process(zk);
 *   }
 */
/* Like zk_open, on a private loop.  Returns what zk_open returns. */
ZK_EXPORT int zk_open_foreign(const struct zk_options *o, zk_t **out);
/* OUT fd: poll it for reading; OUT timeout_ms: call zk_process within
 * this many ms even if fd stays quiet (-1: no deadline).  Returns 0, or
 * ZK_BADARGUMENTS for a handle not opened with zk_open_foreign. */
ZK_EXPORT int zk_interest(zk_t *zk, int *fd, int *timeout_ms);
/* Runs whatever is ready (I/O, timers, callbacks) without blocking. */
ZK_EXPORT int zk_process(zk_t *zk);
/* zk_close for a foreign-loop handle: blocks until the session is closed
 * (at most the closeSession round trip), calls cb, frees everything. */
ZK_EXPORT void zk_close_foreign(zk_t *zk, zk_close_fn cb, void *data);

/* ---- transactions (multi builder) ----
 *
 * A builder copies its arguments; it is not tied to a handle and may be
 * used from any thread, but not concurrently.  Each add returns 0 or
 * ZK_BADARGUMENTS (checked again when submitted).
 */
ZK_EXPORT zk_txn_t *zk_txn_new(void);
ZK_EXPORT void zk_txn_free(zk_txn_t *txn);
ZK_EXPORT int zk_txn_count(const zk_txn_t *txn);
ZK_EXPORT int zk_txn_create(zk_txn_t *txn, const char *path, const void *value, int32_t len,
                            const struct zk_acl *acl, int32_t nacl, int mode, int64_t ttl);
ZK_EXPORT int zk_txn_delete(zk_txn_t *txn, const char *path, int32_t version);
ZK_EXPORT int zk_txn_set(zk_txn_t *txn, const char *path, const void *value, int32_t len,
                         int32_t version);
ZK_EXPORT int zk_txn_check(zk_txn_t *txn, const char *path, int32_t version);
/* Reads, for multiRead. */
ZK_EXPORT int zk_txn_get(zk_txn_t *txn, const char *path);
ZK_EXPORT int zk_txn_get_children(zk_txn_t *txn, const char *path);

/* ---- blocking API ----
 *
 * A blocking handle runs a zk_t on a private loop thread.  Every call may
 * be made from any thread; it hands the request to that thread and waits.
 * Watchers and on_session run on the private thread: they must not call
 * the blocking API of the same handle (it would deadlock waiting for
 * itself), and should return quickly.
 */

/* Opens a session and waits until it is established, or fails.
 * OUT out: the handle; close it with zk_blocking_close.
 * Returns 0, ZK_BADARGUMENTS, ZK_CONNECTIONLOSS (no server answered within
 * the session timeout), ZK_SESSIONEXPIRED (resumed session is gone),
 * ZK_SYSTEMERROR. */
ZK_EXPORT int zk_blocking_open(const struct zk_options *o, zk_blocking_t **out);
/* Closes the session, joins the thread, frees everything. */
ZK_EXPORT void zk_blocking_close(zk_blocking_t *b);
/* Runs any request.  OUT out (may be NULL): the result, owned by the caller
 * (zk_result_free), set even on error.  Returns the request's status. */
ZK_EXPORT int zk_blocking_submit(zk_blocking_t *b, const struct zk_request *req,
                                 struct zk_result **out);
/* Runs n requests at once: they are handed to the loop thread together and
 * leave pipelined (one socket write), so n reads cost about one round trip
 * instead of n.  Replies arrive in order, as always; each request has its own
 * outcome.  OUT statuses[i]: request i's status; OUT outs[i] (outs may be
 * NULL): its result, owned by the caller (zk_result_free), set even on error.
 * Returns 0, or ZK_SYSTEMERROR (out of memory: nothing was sent, outs[i] are
 * NULL).  Any thread but the handle's loop thread. */
ZK_EXPORT int zk_blocking_submit_many(zk_blocking_t *b, const struct zk_request *reqs, size_t n,
                                      int *statuses, struct zk_result **outs);
/* The underlying handle, for zk_state and zk_session_id only. */
ZK_EXPORT zk_t *zk_blocking_handle(zk_blocking_t *b);

/* Typed conveniences over zk_blocking_submit. */
/* OUT created (may be NULL): malloc'ed created path. */
ZK_EXPORT int zk_blocking_create(zk_blocking_t *b, const char *path, const void *value,
                                 int32_t len, int mode, char **created);
ZK_EXPORT int zk_blocking_delete(zk_blocking_t *b, const char *path, int32_t version);
/* OUT st (may be NULL).  Returns 0 or ZK_NONODE, among others. */
ZK_EXPORT int zk_blocking_exists(zk_blocking_t *b, const char *path, struct zk_stat *st);
/* OUT value: malloc'ed, NUL-terminated (NULL for null data); OUT len; OUT st
 * (each may be NULL). */
ZK_EXPORT int zk_blocking_get(zk_blocking_t *b, const char *path, char **value,
                              int32_t *len, struct zk_stat *st);
ZK_EXPORT int zk_blocking_set(zk_blocking_t *b, const char *path, const void *value,
                              int32_t len, int32_t version, struct zk_stat *st);

#ifdef __cplusplus
}
#endif
#endif
