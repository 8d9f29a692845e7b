/*
 * zconn.h - the ZooKeeper session of a mount.
 *
 * One libzk blocking handle serves every FUSE worker thread (its calls may
 * be made concurrently from any thread; requests are pipelined).  The
 * session carries one persistent recursive watch on "/" (of the chroot):
 * every NodeCreated, NodeDeleted and NodeDataChanged below the mount root
 * reaches `on_event`, on libzk's thread, which must only queue work.
 *
 * libzk itself moves to another server when one dies, resumes the session
 * and re-arms the watch.  When the session expires, zconn_renew (called
 * from a thread that is not libzk's) opens a new session, authenticates
 * again and re-arms the watch; requests made meanwhile wait for it.
 */
#ifndef ZKFS_ZCONN_H
#define ZKFS_ZCONN_H

#include <stddef.h>
#include <stdint.h>

#include "zk/zk.h"

struct zkfs_conn_config {
    const char *hosts;   /* connect string, with /chroot */
    int session_timeout_ms;
    const char *digest;  /* "user:password" or NULL */
    int use_tls;
    struct zk_tls_options tls;
    /* Called on libzk's thread for every watch event (path relative to
     * the chroot) and every session change. */
    void (*on_event)(int type, const char *path, void *data);
    void (*on_session)(int event, void *data);
    void *data;
};

struct zkfs_conn;

/* Opens the session, authenticates and arms the watch.  OUT out.
 * Returns 0 or a ZK_* status (the handle is not made then). */
int zconn_open(const struct zkfs_conn_config *cfg, struct zkfs_conn **out);

/* Runs one request (see zk_blocking_submit).  OUT res (may be NULL): owned
 * by the caller.  Returns the request's status.  Any thread but libzk's. */
int zconn_submit(struct zkfs_conn *c, const struct zk_request *req, struct zk_result **res);

/* Runs n requests pipelined (see zk_blocking_submit_many).  OUT statuses,
 * OUT outs (owned by the caller).  Returns 0 or ZK_SYSTEMERROR.  Any thread
 * but libzk's. */
int zconn_submit_many(struct zkfs_conn *c, const struct zk_request *reqs, size_t n, int *statuses,
                      struct zk_result **outs);

/* Replaces an expired session by a new one.  Returns 0 or a ZK_* status. */
int zconn_renew(struct zkfs_conn *c);

/* The session id (for logs). */
int64_t zconn_session_id(struct zkfs_conn *c);

/* Closes the session (its ephemerals go) and frees `c`. */
void zconn_close(struct zkfs_conn *c);

#endif
