/*
 * audit.h - the audit log (audit.enable): who changed what, in Apache
 * ZooKeeper's format, so that tools reading Apache's zookeeper_audit.log read
 * zkd's unchanged.
 *
 * A line is what Apache's Slf4jAuditLogger writes through its stock logback
 * pattern "%d{ISO8601} %p %c{2}: %m%n":
 *
 *   2026-12-05 18:20:01,123 INFO audit.Slf4jAuditLogger: session=0x1000a\t
 *       user=127.0.0.1,alice\tip=127.0.0.1\toperation=create\tznode=/a\t
 *       znode_type=persistent\tresult=success
 *
 * fields in Apache's order (session, user, ip, operation, znode, znode_type,
 * acl), separated by one TAB, each left out when it has no value, then
 * result=success|failure|invoked; failures are logged at ERROR, the rest at
 * INFO.  Events, as Apache 3.8/3.9 log them (AuditHelper, DataTree,
 * ZKAuditProvider):
 *   serverStart (success/failure), serverStop (invoked) with the server's user;
 *   create/delete/setData/setAcl (acl=scheme:id:perms...) of each client, with
 *   the client's users (AuthUtil.getUsers: one per auth id, digest ids cut at
 *   ':') and ip; a multi logs each op, or one multiOperation failure;
 *   reconfig; ephemeralZNodeDeletionOnSessionCloseOrExpire per ephemeral of a
 *   closing session, with the server's user and no ip.
 * zkd extension, off by default so that the stream equals Apache's:
 * audit.sessionEvents=true adds createSession, closeSession, expireSession and
 * addAuth (result failure when the credentials are refused).
 *
 * Where: audit.logFile (a zkd key), default zookeeper_audit.log in
 * $ZOO_LOG_DIR (zkServer.sh's zookeeper.log.dir, where Apache's appender
 * writes) or else in dataDir; "syslog" sends the lines to syslog(3) (ident
 * zkd-audit, facility LOG_AUTH) without the timestamp.
 *
 * Cost on the loop thread: audit_* stages a compact record of the line
 * (struct rec in audit.c: the result, pointers to the operation's and
 * znode type's names, the time, then the bytes of the first fields, the
 * path and a setAcl's ACL text) in a buffer only the loop thread touches
 * (no lock, no formatting); the wall clock is read once per loop iteration,
 * so a line's time is its iteration's.  audit_flush, called once per loop
 * iteration before the loop sleeps (or when the stage reaches 64 KiB),
 * hands the stage to the writer thread under a mutex, by swapping buffers
 * when the writer has taken the last batch.  The writer formats the
 * records into Apache's lines and writes them with one write(2) per
 * 256 KiB (appending, no fsync: like log4j's buffered appender).  Only an
 * idle writer is signalled; a busy one takes a batch every 20 ms, so a
 * stream of writes costs the loop no wake-up or context switch per line.
 * A client's first fields (session, user, ip) are formatted once per
 * connection identity and then copied (struct auth_info's cache, acl.h);
 * paths are copied straight from the request's bytes.  If the disk falls
 * behind by more than AUDIT_MAX_BUFFER bytes of records, lines are dropped
 * and counted, and the writer says how many in the audit log itself and in
 * zkd's log: the loop never blocks on the audit disk.
 *
 * Threads: audit_open/audit_close and every logging call from the loop
 * thread (main, before and after the loop runs).
 */
#ifndef ZKD_AUDIT_H
#define ZKD_AUDIT_H

#include <stddef.h>
#include <stdint.h>

struct zkd_config;
struct auth_info;

enum audit_result { AUDIT_SUCCESS, AUDIT_FAILURE, AUDIT_INVOKED };

#define AUDIT_MAX_BUFFER (16u << 20)

/* Set while the audit log is open: test it before building an event. */
extern int audit_on;

/* Opens the audit log if cfg->audit_enable and starts its writer thread.
 * Returns 0, or -1 (logged) when the file cannot be opened. */
int audit_open(const struct zkd_config *cfg);
/* Writes what is buffered, stops the writer, closes the file.  Idempotent. */
void audit_close(void);
/* Hands the lines formatted since the last call to the writer thread: the
 * loop calls it before it sleeps (server.c before_sleep). */
void audit_flush(void);

/* serverStart/serverStop with the server's user (`operation`: a literal,
 * as for audit_request). */
void audit_server(const char *operation, enum audit_result result);

/*
 * One event of a client's session.  `auth` gives the user field and the ip
 * (its "ip" id); `znode`, `znode_type` may be NULL (field left out).
 * `operation` and `znode_type` must have static storage (literals): the
 * writer thread formats the line later, from pointers to them.  The
 * line's first fields are cached in `auth` (acl.h), which is why it is not
 * const; it may be NULL.
 */
void audit_request(int64_t session, struct auth_info *auth, const char *operation,
                   const char *znode, const char *znode_type, enum audit_result result);

/*
 * One write op of a client, as AuditHelper logs it: create* (znode_type from
 * the flags), delete*, setData, setACL (acl); other types log nothing.
 * `body` is a reader positioned at the op's request body (a copy: it is
 * consumed here) for the requested path, flags and ACL; `done_path` (NULL:
 * the requested one) is the path the op changed, a sequential create's real
 * name.  `err` is 0 or the op's ZK error.  In a successful multi
 * (`in_multi`), Apache looks a create's mode up by the path it created, so a
 * sequential or TTL create there has no znode_type; zkd logs the same.
 */
struct jute_in;
void audit_write_op(int64_t session, struct auth_info *auth, int32_t type, struct jute_in body,
                    const char *done_path, int err, int in_multi);

/*
 * Which member writes a client's write lines: the one the client is
 * connected to, as in Apache, whose FinalRequestProcessor logs only where
 * the request has a connection (the leader runs a learner's forwarded
 * request without one).  So the leader logs nothing for a request it runs
 * for a learner, and the learner logs it when the reply comes back:
 * audit_forwarded, with the request it kept (audit_forwarded_type says which
 * to keep).  `req` is the client's frame without its length (xid, type,
 * body), `reply` the reply frame without its length (xid, zxid, err,
 * response).  Lines are as the leader would have written them; bytes that do
 * not decode log nothing.  Every member logs the ephemerals a closing
 * session loses (Apache's DataTree.killSession runs on each).
 */
void audit_forwarded(int64_t session, struct auth_info *auth, const uint8_t *req, size_t req_len,
                     const uint8_t *reply, size_t reply_len);
int audit_forwarded_type(int32_t type);

/* An ephemeral node deleted because its session closed or expired. */
void audit_ephemeral_deleted(int64_t session, const char *path);

/* zkd extension (audit.sessionEvents): createSession, closeSession,
 * expireSession, addAuth (`operation`: a literal); no-op unless enabled. */
void audit_session_event(int64_t session, struct auth_info *auth, const char *operation,
                         enum audit_result result);

/* Apache's CreateMode name for create flags ("persistent_sequential"...). */
const char *audit_create_mode(int32_t flags);

#endif
