/*
 * ops.c - the typed asynchronous calls of zk.h.
 *
 * Each call only fills a struct zk_request and hands it to zk__session_submit;
 * all checking, encoding and queueing live there and in request.c, so the
 * typed calls cannot drift apart (the twin-function trap of Apache's
 * zoo_awget/zoo_awgetconfig).  Also the constant ACLs and event names.
 */
#include "session.h"

#include "zk/zk.h"

#include <string.h>

const struct zk_acl zk_acl_open_unsafe[1] = {{ZK_PERM_ALL, "world", "anyone"}};
const struct zk_acl zk_acl_read_unsafe[1] = {{ZK_PERM_READ, "world", "anyone"}};
const struct zk_acl zk_acl_creator_all[1] = {{ZK_PERM_ALL, "auth", ""}};

const char *zk_session_event_name(int ev)
{
    switch (ev) {
    case ZK_SESSION_CONNECTED: return "CONNECTED";
    case ZK_SESSION_SUSPENDED: return "SUSPENDED";
    case ZK_SESSION_RECONNECTED: return "RECONNECTED";
    case ZK_SESSION_EXPIRED: return "EXPIRED";
    case ZK_SESSION_AUTH_FAILED: return "AUTH_FAILED";
    case ZK_SESSION_CLOSED: return "CLOSED";
    }
    return "UNKNOWN";
}

const char *zk_event_type_name(int type)
{
    switch (type) {
    case ZK_EVENT_CREATED: return "NodeCreated";
    case ZK_EVENT_DELETED: return "NodeDeleted";
    case ZK_EVENT_CHANGED: return "NodeDataChanged";
    case ZK_EVENT_CHILD: return "NodeChildrenChanged";
    case ZK_EVENT_DATA_WATCH_REMOVED: return "DataWatchRemoved";
    case ZK_EVENT_CHILD_WATCH_REMOVED: return "ChildWatchRemoved";
    case ZK_EVENT_PERSISTENT_WATCH_REMOVED: return "PersistentWatchRemoved";
    }
    return "None";
}

static void create_common(zk_t *zk, int op, const char *path, const void *value, int32_t len,
                          const struct zk_acl *acl, int32_t nacl, int mode, int64_t ttl,
                          zk_result_fn cb, void *data)
{
    struct zk_request r = {
        .op = op, .path = path, .data = value, .data_len = len,
        .acl = acl, .nacl = nacl, .create_mode = mode, .ttl = ttl,
    };
    zk__session_submit(zk, &r, cb, data, 0);
}

void zk_create(zk_t *zk, const char *path, const void *value, int32_t len,
               const struct zk_acl *acl, int32_t nacl, int mode, int64_t ttl, zk_result_fn cb,
               void *data)
{
    create_common(zk, ZK_OP_CREATE, path, value, len, acl, nacl, mode, ttl, cb, data);
}

void zk_create2(zk_t *zk, const char *path, const void *value, int32_t len,
                const struct zk_acl *acl, int32_t nacl, int mode, int64_t ttl, zk_result_fn cb,
                void *data)
{
    create_common(zk, ZK_OP_CREATE2, path, value, len, acl, nacl, mode, ttl, cb, data);
}

void zk_delete(zk_t *zk, const char *path, int32_t version, zk_result_fn cb, void *data)
{
    struct zk_request r = {.op = ZK_OP_DELETE, .path = path, .version = version};
    zk__session_submit(zk, &r, cb, data, 0);
}

static void read_op(zk_t *zk, int op, const char *path, zk_watcher_fn w, void *wdata,
                    zk_result_fn cb, void *data, int flags)
{
    struct zk_request r = {.op = op, .path = path, .watcher = w, .watcher_data = wdata};
    zk__session_submit(zk, &r, cb, data, flags);
}

void zk_exists(zk_t *zk, const char *path, zk_watcher_fn w, void *wdata, zk_result_fn cb,
               void *data)
{
    read_op(zk, ZK_OP_EXISTS, path, w, wdata, cb, data, 0);
}

void zk_get(zk_t *zk, const char *path, zk_watcher_fn w, void *wdata, zk_result_fn cb,
            void *data)
{
    read_op(zk, ZK_OP_GETDATA, path, w, wdata, cb, data, 0);
}

void zk_get_config(zk_t *zk, zk_watcher_fn w, void *wdata, zk_result_fn cb, void *data)
{
    read_op(zk, ZK_OP_GETDATA, "/zookeeper/config", w, wdata, cb, data, SUBMIT_NO_CHROOT);
}

void zk_get_children(zk_t *zk, const char *path, int with_stat, zk_watcher_fn w, void *wdata,
                     zk_result_fn cb, void *data)
{
    read_op(zk, with_stat ? ZK_OP_GETCHILDREN2 : ZK_OP_GETCHILDREN, path, w, wdata, cb, data, 0);
}

void zk_set(zk_t *zk, const char *path, const void *value, int32_t len, int32_t version,
            zk_result_fn cb, void *data)
{
    struct zk_request r = {
        .op = ZK_OP_SETDATA, .path = path, .data = value, .data_len = len, .version = version,
    };
    zk__session_submit(zk, &r, cb, data, 0);
}

void zk_get_acl(zk_t *zk, const char *path, zk_result_fn cb, void *data)
{
    read_op(zk, ZK_OP_GETACL, path, NULL, NULL, cb, data, 0);
}

void zk_set_acl(zk_t *zk, const char *path, const struct zk_acl *acl, int32_t nacl,
                int32_t version, zk_result_fn cb, void *data)
{
    struct zk_request r = {
        .op = ZK_OP_SETACL, .path = path, .acl = acl, .nacl = nacl, .version = version,
    };
    zk__session_submit(zk, &r, cb, data, 0);
}

void zk_sync(zk_t *zk, const char *path, zk_result_fn cb, void *data)
{
    read_op(zk, ZK_OP_SYNC, path, NULL, NULL, cb, data, 0);
}

void zk_check(zk_t *zk, const char *path, int32_t version, zk_result_fn cb, void *data)
{
    struct zk_request r = {.op = ZK_OP_CHECK, .path = path, .version = version};
    zk__session_submit(zk, &r, cb, data, 0);
}

void zk_multi(zk_t *zk, const zk_txn_t *txn, zk_result_fn cb, void *data)
{
    struct zk_request r = {.op = ZK_OP_MULTI, .txn = txn};
    zk__session_submit(zk, &r, cb, data, 0);
}

void zk_add_watch(zk_t *zk, const char *path, int mode, zk_watcher_fn w, void *wdata,
                  zk_result_fn cb, void *data)
{
    struct zk_request r = {
        .op = ZK_OP_ADDWATCH, .path = path, .watch_mode = mode, .watcher = w, .watcher_data = wdata,
    };
    zk__session_submit(zk, &r, cb, data, 0);
}

void zk_remove_watches(zk_t *zk, const char *path, int type, zk_watcher_fn w, void *wdata,
                       zk_result_fn cb, void *data)
{
    struct zk_request r = {
        .op = ZK_OP_REMOVEWATCHES, .path = path, .watcher_type = type, .watcher = w,
        .watcher_data = wdata,
    };
    zk__session_submit(zk, &r, cb, data, 0);
}

void zk_check_watches(zk_t *zk, const char *path, int type, zk_result_fn cb, void *data)
{
    struct zk_request r = {.op = ZK_OP_CHECKWATCHES, .path = path, .watcher_type = type};
    zk__session_submit(zk, &r, cb, data, 0);
}

void zk_get_ephemerals(zk_t *zk, const char *prefix, zk_result_fn cb, void *data)
{
    read_op(zk, ZK_OP_GETEPHEMERALS, prefix ? prefix : "/", NULL, NULL, cb, data, 0);
}

void zk_get_all_children_number(zk_t *zk, const char *path, zk_result_fn cb, void *data)
{
    read_op(zk, ZK_OP_GETALLCHILDRENNUMBER, path, NULL, NULL, cb, data, 0);
}

void zk_whoami(zk_t *zk, zk_result_fn cb, void *data)
{
    struct zk_request r = {.op = ZK_OP_WHOAMI};
    zk__session_submit(zk, &r, cb, data, 0);
}

void zk_add_auth(zk_t *zk, const char *scheme, const void *cred, int32_t len, zk_result_fn cb,
                 void *data)
{
    struct zk_request r = {.op = ZK_OP_AUTH, .scheme = scheme, .data = cred, .data_len = len};
    zk__session_submit(zk, &r, cb, data, 0);
}
