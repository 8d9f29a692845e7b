/*
 * request.c - encoders and decoders of the client operations.
 *
 * Request records (zookeeper.jute, 3.8):
 *   CreateRequest      path, data, acl vector, flags
 *   CreateTTLRequest   path, data, acl vector, flags, ttl
 *   DeleteRequest      path, version
 *   ExistsRequest, GetDataRequest, GetChildrenRequest   path, watch
 *   SetDataRequest     path, data, version
 *   GetACLRequest, SyncRequest, GetAllChildrenNumberRequest   path
 *   SetACLRequest      path, acl vector, version
 *   CheckVersionRequest  path, version
 *   RemoveWatchesRequest, CheckWatchesRequest   path, type
 *   AddWatchRequest    path, mode
 *   GetEphemeralsRequest  prefixPath
 *   whoAmI, closeSession  no body
 * and the responses read by zk__reply_decode, plus the two records that answer
 * no request: ConnectResponse (zk__connect_reply_decode) and WatcherEvent
 * (zk__event_decode).  The Apache client checks paths
 * before sending; so do we, and data over ZK_MAX_DATA or a frame the server
 * would refuse (over jute.maxbuffer) is ZK_BADARGUMENTS rather than a
 * connection the server drops.
 */
#include "request.h"

#include "hosts.h"
#include "txn.h"
#include "watch.h"
#include "zk/proto.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

int zk__create_opcode(int mode)
{
    if (mode == ZK_CONTAINER)
        return ZK_OP_CREATECONTAINER;
    if (zk__mode_is_ttl(mode))
        return ZK_OP_CREATETTL;
    return ZK_OP_CREATE;
}

int zk__mode_is_sequential(int mode)
{
    return mode == ZK_PERSISTENT_SEQUENTIAL || mode == ZK_EPHEMERAL_SEQUENTIAL ||
           mode == ZK_PERSISTENT_SEQUENTIAL_WITH_TTL;
}

int zk__mode_is_ttl(int mode)
{
    return mode == ZK_PERSISTENT_WITH_TTL || mode == ZK_PERSISTENT_SEQUENTIAL_WITH_TTL;
}

void zk__encode_acl(struct jute_out *out, const struct zk_acl *acl, int32_t nacl)
{
    if (!acl) {
        acl = zk_acl_open_unsafe;
        nacl = 1;
    }
    jute_put_int(out, nacl);
    for (int32_t i = 0; i < nacl; i++) {
        jute_put_int(out, acl[i].perms);
        jute_put_string(out, acl[i].scheme ? acl[i].scheme : "");
        jute_put_string(out, acl[i].id ? acl[i].id : "");
    }
}

static int put_path(struct jute_out *out, const char *chroot, const char *path, int seq)
{
    int rc = zk__path_validate(path, seq);
    if (rc != 0)
        return rc;
    char *full = zk__path_prepend(chroot, path);
    jute_put_string(out, full);
    free(full);
    return 0;
}

static int check_data(const void *data, int32_t len)
{
    if (data && (len < 0 || len > ZK_MAX_DATA))
        return ZK_BADARGUMENTS;
    return 0;
}

/* Body of one op; shared by single requests.  Returns the wire op or error. */
static int encode_body(const struct zk_request *r, const char *chroot, struct jute_out *o,
                       struct zk_pending *p)
{
    int rc;
    int watch = r->watcher != NULL;
    switch (r->op) {
    case ZK_OP_CREATE:
    case ZK_OP_CREATE2:
    case ZK_OP_CREATECONTAINER:
    case ZK_OP_CREATETTL: {
        int mode = r->create_mode;
        if (mode < ZK_PERSISTENT || mode > ZK_PERSISTENT_SEQUENTIAL_WITH_TTL)
            return ZK_BADARGUMENTS;
        if (zk__mode_is_ttl(mode) && (r->ttl <= 0 || r->ttl > ZK_MAX_TTL))
            return ZK_BADARGUMENTS;
        if ((rc = check_data(r->data, r->data_len)) != 0)
            return rc;
        if ((rc = put_path(o, chroot, r->path, zk__mode_is_sequential(mode))) != 0)
            return rc;
        jute_put_buffer(o, r->data, r->data ? r->data_len : -1);
        zk__encode_acl(o, r->acl, r->nacl);
        jute_put_int(o, mode);
        int op = zk__create_opcode(mode);
        if (op == ZK_OP_CREATETTL)
            jute_put_long(o, r->ttl);
        if (op == ZK_OP_CREATE && r->op == ZK_OP_CREATE2)
            op = ZK_OP_CREATE2;
        return op;
    }
    case ZK_OP_DELETE:
    case ZK_OP_CHECK:
        if ((rc = put_path(o, chroot, r->path, 0)) != 0)
            return rc;
        jute_put_int(o, r->version);
        return r->op;
    case ZK_OP_EXISTS:
    case ZK_OP_GETDATA:
    case ZK_OP_GETCHILDREN:
    case ZK_OP_GETCHILDREN2:
        if ((rc = put_path(o, chroot, r->path, 0)) != 0)
            return rc;
        jute_put_bool(o, watch);
        if (watch)
            p->watch_kind = r->op == ZK_OP_GETCHILDREN || r->op == ZK_OP_GETCHILDREN2 ? WK_CHILD
                                                                                    : WK_DATA;
        return r->op;
    case ZK_OP_SETDATA:
        if ((rc = check_data(r->data, r->data_len)) != 0)
            return rc;
        if ((rc = put_path(o, chroot, r->path, 0)) != 0)
            return rc;
        jute_put_buffer(o, r->data, r->data ? r->data_len : -1);
        jute_put_int(o, r->version);
        return r->op;
    case ZK_OP_GETACL:
    case ZK_OP_SYNC:
    case ZK_OP_GETALLCHILDRENNUMBER:
        if ((rc = put_path(o, chroot, r->path, 0)) != 0)
            return rc;
        return r->op;
    case ZK_OP_GETEPHEMERALS: {
        /* A prefix, not a path: "/a/b" matches "/a/bc" too. */
        const char *pre = r->path ? r->path : "/";
        if (pre[0] != '/')
            return ZK_BADARGUMENTS;
        char *full = zk__path_prepend(chroot, pre);
        jute_put_string(o, full);
        free(full);
        return r->op;
    }
    case ZK_OP_SETACL:
        if ((rc = put_path(o, chroot, r->path, 0)) != 0)
            return rc;
        zk__encode_acl(o, r->acl, r->nacl);
        jute_put_int(o, r->version);
        return r->op;
    case ZK_OP_REMOVEWATCHES:
    case ZK_OP_CHECKWATCHES:
        if (r->watcher_type < ZK_WATCH_CHILDREN || r->watcher_type > ZK_WATCH_ANY)
            return ZK_BADARGUMENTS;
        if ((rc = put_path(o, chroot, r->path, 0)) != 0)
            return rc;
        jute_put_int(o, r->watcher_type);
        p->watcher_type = r->watcher_type;
        return r->op;
    case ZK_OP_ADDWATCH:
        if (!r->watcher || (r->watch_mode != ZK_ADDWATCH_PERSISTENT &&
                            r->watch_mode != ZK_ADDWATCH_PERSISTENT_RECURSIVE))
            return ZK_BADARGUMENTS;
        if ((rc = put_path(o, chroot, r->path, 0)) != 0)
            return rc;
        jute_put_int(o, r->watch_mode);
        p->watch_kind = r->watch_mode == ZK_ADDWATCH_PERSISTENT ? WK_PERSISTENT : WK_RECURSIVE;
        return r->op;
    case ZK_OP_WHOAMI:
    case ZK_OP_CLOSESESSION:
        return r->op;
    case ZK_OP_MULTI:
    case ZK_OP_MULTIREAD: {
        int is_read = 0;
        if (!r->txn)
            return ZK_BADARGUMENTS;
        if ((rc = zk__txn_encode(r->txn, chroot, o, &is_read)) != 0)
            return rc;
        return is_read ? ZK_OP_MULTIREAD : ZK_OP_MULTI;
    }
    default:
        return ZK_UNIMPLEMENTED;
    }
}

int zk__request_build(const struct zk_request *req, const char *chroot, int max_buffer,
                  struct zk_pending **out)
{
    assert(req && out);
    struct zk_pending *p = zk_xcalloc(1, sizeof *p);
    p->api_op = req->op;
    p->watch_kind = WK_NONE;
    p->watcher = req->watcher;
    p->wdata = req->watcher_data;
    if (req->path)
        p->path = zk_xstrndup(req->path, strlen(req->path));
    *out = p;

    struct jute_out o;
    jute_out_init(&o);
    jute_put_int(&o, 0); /* length, patched below */
    jute_put_int(&o, 0); /* xid, patched at send */
    jute_put_int(&o, 0); /* type, patched below */
    int op = encode_body(req, chroot, &o, p);
    if (op < 0 && op != ZK_OP_CLOSESESSION) {
        jute_out_free(&o);
        p->early_err = op;
        return op;
    }
    if (o.len - 4 > (size_t)max_buffer) {
        jute_out_free(&o);
        p->early_err = ZK_BADARGUMENTS;
        return ZK_BADARGUMENTS;
    }
    p->op = op;
    jute_patch_int(&o, 0, (int32_t)(o.len - 4));
    jute_patch_int(&o, 8, op);
    p->frame = jute_out_steal(&o, &p->frame_len);
    return 0;
}

/* A request without a path: header, then `body` as a jute buffer when
 * `body` is not NULL. */
static struct zk_pending *request_raw(int op, const void *body, size_t len)
{
    struct zk_pending *p = zk_xcalloc(1, sizeof *p);
    p->op = p->api_op = op;
    p->watch_kind = WK_NONE;
    struct jute_out o;
    jute_out_init(&o);
    jute_put_int(&o, 0); /* length, patched below */
    jute_put_int(&o, 0); /* xid, patched at send */
    jute_put_int(&o, op);
    if (body)
        jute_put_buffer(&o, body, (int32_t)len);
    jute_patch_int(&o, 0, (int32_t)(o.len - 4));
    p->frame = jute_out_steal(&o, &p->frame_len);
    return p;
}

struct zk_pending *zk__request_bare(int op)
{
    return request_raw(op, NULL, 0);
}

struct zk_pending *zk__request_sasl(const void *token, size_t len)
{
    assert(token || len == 0);
    return request_raw(ZK_OP_SASL, token ? token : "", len);
}

void zk__request_set_xid(struct zk_pending *p, int32_t xid)
{
    assert(p->frame && p->frame_len >= 12); /* length, xid, type */
    p->xid = xid;
    zk_be32_put(p->frame + 4, (uint32_t)xid);
}

void zk__pending_free(struct zk_pending *p)
{
    if (!p)
        return;
    free(p->frame);
    free(p->path);
    free(p);
}

/* ---- replies ---- */

static char *dup_slice(struct zk_slice s)
{
    return zk_xstrndup(s.p ? s.p : "", s.len > 0 ? (size_t)s.len : 0);
}

static void decode_strings(struct jute_in *in, const char *chroot, struct zk_result *res)
{
    int32_t n = jute_get_count(in, 4);
    res->children = zk_xcalloc((size_t)n + 1, sizeof *res->children);
    for (int32_t i = 0; i < n && !in->err; i++) {
        struct zk_slice s = jute_get_string(in);
        if (in->err)
            break;
        res->children[i] = chroot ? zk__path_strip(chroot, s.p, (size_t)s.len) : dup_slice(s);
        res->nchildren = i + 1;
    }
}

int zk__decode_acl(struct jute_in *in, struct zk_result *res)
{
    int32_t n = jute_get_count(in, 12);
    res->acl = zk_xcalloc((size_t)n + 1, sizeof *res->acl);
    for (int32_t i = 0; i < n && !in->err; i++) {
        int32_t perms = jute_get_int(in);
        struct zk_slice sch = jute_get_string(in);
        struct zk_slice id = jute_get_string(in);
        if (in->err)
            break;
        res->acl[i].perms = perms;
        res->acl[i].scheme = dup_slice(sch);
        res->acl[i].id = dup_slice(id);
        res->nacl = i + 1;
    }
    return in->err;
}

static void decode_path(struct jute_in *in, const char *chroot, struct zk_result *res)
{
    struct zk_slice s = jute_get_string(in);
    if (!in->err)
        res->path = zk__path_strip(chroot, s.p, (size_t)s.len);
}

static void decode_stat(struct jute_in *in, struct zk_result *res)
{
    jute_get_stat(in, &res->stat);
    res->has_stat = !in->err;
}

int zk__connect_reply_decode(const uint8_t *p, size_t n, struct connect_reply *out)
{
    struct jute_in in;
    jute_in_init(&in, p, n);
    memset(out, 0, sizeof *out);
    (void)jute_get_int(&in); /* protocolVersion */
    out->timeout = jute_get_int(&in);
    out->session_id = jute_get_long(&in);
    struct zk_slice pw = jute_get_buffer(&in);
    out->read_only = jute_in_left(&in) >= 1 ? jute_get_bool(&in) : 0;
    if (in.err)
        return ZK_MARSHALLINGERROR;
    if (pw.len > 0)
        memcpy(out->passwd, pw.p, pw.len > 16 ? 16 : (size_t)pw.len);
    return 0;
}

int zk__event_decode(struct jute_in *in, const char *chroot, int *type, int *state, char **path)
{
    assert(in && type && state && path);
    *type = jute_get_int(in);
    *state = jute_get_int(in);
    struct zk_slice s = jute_get_string(in);
    *path = in->err ? NULL : zk__path_strip(chroot, s.p, (size_t)s.len);
    return in->err ? ZK_MARSHALLINGERROR : 0;
}

int zk__reply_decode(const struct zk_pending *p, struct jute_in *in, const char *chroot,
                 struct zk_result *res)
{
    if (p->op == ZK_OP_MULTI || p->op == ZK_OP_MULTIREAD) {
        int first = 0;
        if (jute_in_left(in) == 0)
            return 0;
        int rc = zk__txn_decode(in, chroot, res, &first);
        if (rc == 0 && res->err == 0 && p->op == ZK_OP_MULTI)
            res->err = first;
        return rc;
    }
    if (res->err != 0)
        return 0;
    switch (p->op) {
    case ZK_OP_CREATE:
    case ZK_OP_SYNC:
        decode_path(in, chroot, res);
        break;
    case ZK_OP_CREATE2:
    case ZK_OP_CREATECONTAINER:
    case ZK_OP_CREATETTL:
        decode_path(in, chroot, res);
        decode_stat(in, res);
        break;
    case ZK_OP_EXISTS:
    case ZK_OP_SETDATA:
    case ZK_OP_SETACL:
        decode_stat(in, res);
        break;
    case ZK_OP_GETDATA: {
        struct zk_slice d = jute_get_buffer(in);
        if (in->err)
            break;
        res->data_len = d.len;
        res->data = d.len >= 0 ? zk_xstrndup(d.p ? d.p : "", (size_t)d.len) : NULL;
        decode_stat(in, res);
        break;
    }
    case ZK_OP_GETACL:
        zk__decode_acl(in, res);
        decode_stat(in, res);
        break;
    case ZK_OP_GETCHILDREN:
        decode_strings(in, NULL, res);
        break;
    case ZK_OP_GETCHILDREN2:
        decode_strings(in, NULL, res);
        decode_stat(in, res);
        break;
    case ZK_OP_GETEPHEMERALS:
        decode_strings(in, chroot, res);
        break;
    case ZK_OP_GETALLCHILDRENNUMBER:
        res->number = jute_get_int(in);
        break;
    case ZK_OP_WHOAMI: {
        int32_t n = jute_get_count(in, 8);
        res->clients = zk_xcalloc((size_t)n + 1, sizeof *res->clients);
        for (int32_t i = 0; i < n && !in->err; i++) {
            struct zk_slice a = jute_get_string(in);
            struct zk_slice u = jute_get_string(in);
            if (in->err)
                break;
            res->clients[i].scheme = dup_slice(a);
            res->clients[i].user = dup_slice(u);
            res->nclients = i + 1;
        }
        break;
    }
    default: /* delete, check, watches ops, closeSession: no body */
        break;
    }
    return in->err ? ZK_MARSHALLINGERROR : 0;
}

void zk__result_clear(struct zk_result *r)
{
    free(r->path);
    free(r->data);
    for (int32_t i = 0; i < r->nchildren; i++)
        free(r->children[i]);
    free(r->children);
    for (int32_t i = 0; i < r->nacl; i++) {
        free((char *)r->acl[i].scheme);
        free((char *)r->acl[i].id);
    }
    free(r->acl);
    for (int32_t i = 0; i < r->nclients; i++) {
        free(r->clients[i].scheme);
        free(r->clients[i].user);
    }
    free(r->clients);
    for (int32_t i = 0; i < r->nresults; i++)
        zk__result_clear(&r->results[i]);
    free(r->results);
    memset(r, 0, sizeof *r);
}

void zk_result_free(struct zk_result *res)
{
    if (!res)
        return;
    zk__result_clear(res);
    free(res);
}
