/*
 * proto.h - constants of Apache ZooKeeper's client wire protocol (3.8).
 *
 * Shared by zkd, libzk, zkfs and zkbench.  Values are Apache's, from
 * ZooDefs.OpCode, KeeperException.Code, Watcher.Event and CreateMode; they are
 * on the wire and must never change.
 *
 * Errors follow one X-macro table so that the name, the numeric code and the
 * human text are defined in exactly one place (zk_strerror, zk_errname).
 */
#ifndef ZK_PROTO_H
#define ZK_PROTO_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ZK_EXPORT __attribute__((visibility("default")))

/* A znode's Stat, as on the wire (ZooKeeper's data.Stat). */
struct zk_stat {
    int64_t czxid;
    int64_t mzxid;
    int64_t ctime;
    int64_t mtime;
    int32_t version;
    int32_t cversion;
    int32_t aversion;
    int64_t ephemeral_owner;
    int32_t data_length;
    int32_t num_children;
    int64_t pzxid;
};

/* Opcodes (RequestHeader.type). */
enum zk_op {
    ZK_OP_NOTIFICATION = 0,
    ZK_OP_CREATE = 1,
    ZK_OP_DELETE = 2,
    ZK_OP_EXISTS = 3,
    ZK_OP_GETDATA = 4,
    ZK_OP_SETDATA = 5,
    ZK_OP_GETACL = 6,
    ZK_OP_SETACL = 7,
    ZK_OP_GETCHILDREN = 8,
    ZK_OP_SYNC = 9,
    ZK_OP_PING = 11,
    ZK_OP_GETCHILDREN2 = 12,
    ZK_OP_CHECK = 13,
    ZK_OP_MULTI = 14,
    ZK_OP_CREATE2 = 15,
    ZK_OP_RECONFIG = 16,
    ZK_OP_CHECKWATCHES = 17,
    ZK_OP_REMOVEWATCHES = 18,
    ZK_OP_CREATECONTAINER = 19,
    ZK_OP_DELETECONTAINER = 20,
    ZK_OP_CREATETTL = 21,
    ZK_OP_MULTIREAD = 22,
    ZK_OP_AUTH = 100,
    ZK_OP_SETWATCHES = 101,
    ZK_OP_SASL = 102,
    ZK_OP_GETEPHEMERALS = 103,
    ZK_OP_GETALLCHILDRENNUMBER = 104,
    ZK_OP_SETWATCHES2 = 105,
    ZK_OP_ADDWATCH = 106,
    ZK_OP_WHOAMI = 107,
    ZK_OP_CREATESESSION = -10,
    ZK_OP_CLOSESESSION = -11,
    ZK_OP_ERROR = -1,
};

/* Special xids used by Apache's clients and servers. */
#define ZK_XID_NOTIFICATION (-1)
#define ZK_XID_PING (-2)
#define ZK_XID_AUTH (-4)
#define ZK_XID_SETWATCHES (-8)

/* Error table: X(name, code, text). */
#define ZK_ERRNO_MAP(X)                                                        \
    X(OK, 0, "ok")                                                             \
    X(SYSTEMERROR, -1, "system error")                                         \
    X(RUNTIMEINCONSISTENCY, -2, "runtime inconsistency")                       \
    X(DATAINCONSISTENCY, -3, "data inconsistency")                             \
    X(CONNECTIONLOSS, -4, "connection loss")                                   \
    X(MARSHALLINGERROR, -5, "marshalling error")                               \
    X(UNIMPLEMENTED, -6, "unimplemented")                                      \
    X(OPERATIONTIMEOUT, -7, "operation timeout")                               \
    X(BADARGUMENTS, -8, "bad arguments")                                       \
    X(UNKNOWNSESSION, -12, "unknown session")                                  \
    X(NEWCONFIGNOQUORUM, -13, "new config has no quorum")                      \
    X(RECONFIGINPROGRESS, -14, "reconfig in progress")                         \
    X(APIERROR, -100, "api error")                                             \
    X(NONODE, -101, "no node")                                                 \
    X(NOAUTH, -102, "not authenticated")                                       \
    X(BADVERSION, -103, "bad version")                                         \
    X(NOCHILDRENFOREPHEMERALS, -108, "no children for ephemerals")             \
    X(NODEEXISTS, -110, "node exists")                                         \
    X(NOTEMPTY, -111, "directory not empty")                                   \
    X(SESSIONEXPIRED, -112, "session expired")                                 \
    X(INVALIDCALLBACK, -113, "invalid callback")                               \
    X(INVALIDACL, -114, "invalid acl")                                         \
    X(AUTHFAILED, -115, "authentication failed")                               \
    X(CLOSING, -116, "zookeeper is closing")                                   \
    X(NOTHING, -117, "no server responses to process")                         \
    X(SESSIONMOVED, -118, "session moved to another server")                   \
    X(NOTREADONLY, -119, "not a read-only call")                               \
    X(EPHEMERALONLOCALSESSION, -120, "ephemeral on local session")             \
    X(NOWATCHER, -121, "no such watcher")                                      \
    X(RECONFIGDISABLED, -123, "reconfig is disabled")                          \
    X(SESSIONCLOSEDREQUIRESASLAUTH, -124, "session closed, requires SASL")     \
    X(QUOTAEXCEEDED, -125, "quota exceeded")                                   \
    X(THROTTLEDOP, -127, "operation throttled")

enum zk_err {
#define ZK_ERR_ENUM(name, code, text) ZK_##name = code,
    ZK_ERRNO_MAP(ZK_ERR_ENUM)
#undef ZK_ERR_ENUM
};

/* Returns Apache's text for an error code ("unknown error" otherwise). */
ZK_EXPORT const char *zk_strerror(int err);
/* Returns the code's name without prefix, e.g. "NONODE"; "UNKNOWN" otherwise. */
ZK_EXPORT const char *zk_errname(int err);

/* Watcher.Event.EventType */
enum zk_event_type {
    ZK_EVENT_NONE = -1,
    ZK_EVENT_CREATED = 1,
    ZK_EVENT_DELETED = 2,
    ZK_EVENT_CHANGED = 3,
    ZK_EVENT_CHILD = 4,
    ZK_EVENT_DATA_WATCH_REMOVED = 5,
    ZK_EVENT_CHILD_WATCH_REMOVED = 6,
    ZK_EVENT_PERSISTENT_WATCH_REMOVED = 7,
};

/* Watcher.Event.KeeperState */
enum zk_state {
    ZK_STATE_DISCONNECTED = 0,
    ZK_STATE_SYNC_CONNECTED = 3,
    ZK_STATE_AUTH_FAILED = 4,
    ZK_STATE_CONNECTED_READONLY = 5,
    ZK_STATE_SASL_AUTHENTICATED = 6,
    ZK_STATE_CLOSED = 7,
    ZK_STATE_EXPIRED = -112,
};

/* CreateMode flags in CreateRequest.flags. */
enum zk_create_mode {
    ZK_PERSISTENT = 0,
    ZK_EPHEMERAL = 1,
    ZK_PERSISTENT_SEQUENTIAL = 2,
    ZK_EPHEMERAL_SEQUENTIAL = 3,
    ZK_CONTAINER = 4,
    ZK_PERSISTENT_WITH_TTL = 5,
    ZK_PERSISTENT_SEQUENTIAL_WITH_TTL = 6,
};

/* ACL permission bits. */
enum zk_perm {
    ZK_PERM_READ = 1,
    ZK_PERM_WRITE = 2,
    ZK_PERM_CREATE = 4,
    ZK_PERM_DELETE = 8,
    ZK_PERM_ADMIN = 16,
    ZK_PERM_ALL = 31,
};

/* WatcherType for checkWatches/removeWatches. */
enum zk_watcher_type { ZK_WATCH_CHILDREN = 1, ZK_WATCH_DATA = 2, ZK_WATCH_ANY = 3 };

/* AddWatchMode */
enum zk_addwatch_mode { ZK_ADDWATCH_PERSISTENT = 0, ZK_ADDWATCH_PERSISTENT_RECURSIVE = 1 };

/* Default jute.maxbuffer (bytes of one frame) and the data limit clients know. */
#define ZK_DEFAULT_MAX_BUFFER (1024 * 1024 - 1)
#define ZK_MAX_DATA (1024 * 1024)

/* TTL limits (EphemeralType.TTL): 40 bits of milliseconds. */
#define ZK_MAX_TTL ((INT64_C(1) << 40) - 1)

#ifdef __cplusplus
}
#endif
#endif
