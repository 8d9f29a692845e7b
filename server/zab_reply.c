/*
 * zab_reply.c - replies a learner of an Apache leader builds itself (see
 * zab_reply.h).  The body of each reply follows Apache's
 * FinalRequestProcessor for the committed record's type, read from the
 * TxnHeader (the logged opcode: create and create2 answer differently):
 *   create(1)                         CreateResponse: string path
 *   create2, createContainer, TTL     Create2Response: path, Stat
 *   delete, deleteContainer           nothing
 *   setData, setACL                   Stat
 *   error(-1)                         the ErrorTxn's code in the header
 *   createSession(-10)                the ConnectResponse
 *   closeSession(-11)                 nothing (the connection then closes)
 *   multi(14)                         MultiResponse: per op a MultiHeader
 *                                     (type, done=false, err) and the op's
 *                                     response, then (-1, true, -1); the
 *                                     ReplyHeader's err stays 0 (as on an
 *                                     Apache follower: the per-op results
 *                                     carry the failure)
 * A Stat in a reply is the node's after the whole transaction (Apache's
 * is after that op: they differ only when one multi changes a node twice).
 */
#include "zab_reply.h"

#include <string.h>

#include "clock.h"
#include "conn.h"
#include "log.h"
#include "server.h"
#include "zk/proto.h"

static void connect_response(struct server *s, struct conn *c, int64_t session, int64_t zxid)
{
    struct session *se = sessions_get(&s->db.sessions, session);
    if (!se) {
        conn_close(c);
        return;
    }
    if (c->session == se) /* our local session's upgrade (localsess.h): nothing to answer */
        return;
    server_attach(s, c, se);
    sessions_touch(&s->db.sessions, se, clock_mono_ms());
    uint8_t pw[16];
    sessions_password(&s->db.sessions, se->id, pw);
    size_t at = conn_frame_begin(c);
    jute_put_int(&c->out, 0);
    jute_put_int(&c->out, se->timeout);
    jute_put_long(&c->out, se->id);
    jute_put_buffer(&c->out, pw, 16);
    jute_put_bool(&c->out, 0);
    conn_frame_end(c, at, zxid, 0);
}

static void put_path_stat(struct server *s, struct conn *c, const char *path, size_t len)
{
    struct znode *n = tree_lookup(s->db.tree, path, len);
    struct zk_stat st;
    memset(&st, 0, sizeof st);
    if (n)
        tree_stat(n, &st);
    jute_put_stat(&c->out, &st);
}

static void put_node_stat(struct server *s, struct conn *c, const struct txn_op *op)
{
    put_path_stat(s, c, op->path, strlen(op->path));
}

/* The response body of one op of `type` whose record is `in` (positioned
 * at its start: every record here begins with the path). */
static void put_op_result(struct server *s, struct conn *c, int32_t type, struct jute_in *in)
{
    struct zk_slice path = jute_get_string(in);
    size_t n = in->err || path.len < 0 ? 0 : (size_t)path.len;
    switch (type) {
    case ZK_OP_CREATE:
        jute_put_slice(&c->out, path);
        break;
    case ZK_OP_CREATE2:
    case ZK_OP_CREATECONTAINER:
    case ZK_OP_CREATETTL:
        jute_put_slice(&c->out, path);
        put_path_stat(s, c, path.p, n);
        break;
    case ZK_OP_SETDATA:
        put_path_stat(s, c, path.p, n);
        break;
    default: /* delete, deleteContainer, check: nothing */
        break;
    }
}

static int32_t multi_result_type(int32_t type)
{
    /* Apache answers createTTL/createContainer in a multi as create2 */
    if (type == ZK_OP_CREATETTL || type == ZK_OP_CREATECONTAINER)
        return ZK_OP_CREATE2;
    if (type == ZK_OP_DELETECONTAINER)
        return ZK_OP_DELETE;
    return type;
}

static void multi_response(struct server *s, struct conn *c, int32_t xid, int64_t zxid,
                           const uint8_t *rec, size_t len)
{
    struct jute_in in;
    jute_in_init(&in, rec + TXN_HEADER, len - TXN_HEADER);
    int32_t count = jute_get_count(&in, 8);
    /* A failed multi (any ErrorTxn) applied nothing: as DataTree.processTxn,
     * ops before the failing one answer OK errors, ops after it
     * RUNTIMEINCONSISTENCY. */
    int failed = 0;
    for (int32_t i = 0; i < count && !in.err; i++) {
        failed |= jute_get_int(&in) == ZK_OP_ERROR;
        (void)jute_get_buffer(&in);
    }
    jute_in_init(&in, rec + TXN_HEADER, len - TXN_HEADER);
    count = jute_get_count(&in, 8);
    int post_failed = 0;
    size_t at = conn_reply_begin(c, xid, zxid, 0);
    for (int32_t i = 0; i < count && !in.err; i++) {
        int32_t type = jute_get_int(&in);
        struct zk_slice sub = jute_get_buffer(&in);
        if (in.err || sub.len < 0)
            break;
        struct jute_in op;
        jute_in_init(&op, sub.p, (size_t)sub.len);
        int32_t err = type == ZK_OP_ERROR ? jute_get_int(&op) : 0;
        post_failed |= type == ZK_OP_ERROR;
        if (failed && type != ZK_OP_ERROR) {
            err = post_failed ? ZK_RUNTIMEINCONSISTENCY : ZK_OK;
            type = ZK_OP_ERROR;
        }
        int32_t rtype = multi_result_type(type);
        jute_put_int(&c->out, rtype);
        jute_put_bool(&c->out, 0);
        jute_put_int(&c->out, err);
        if (type == ZK_OP_ERROR)
            jute_put_int(&c->out, err);
        else
            put_op_result(s, c, type, &op);
    }
    jute_put_int(&c->out, -1);
    jute_put_bool(&c->out, 1);
    jute_put_int(&c->out, -1);
    conn_frame_end(c, at, zxid, xid);
}

int32_t zab_reply_local_error(const struct conn *c, int32_t err)
{
    /* The leader refuses an ephemeral of our local session SESSIONEXPIRED
     * (the only write of one it refuses so); Apache's follower answers its
     * own EPHEMERALONLOCALSESSION instead (localsess.h). */
    if (err == ZK_SESSIONEXPIRED && c->session && c->session->local == SESSION_LOCAL)
        return ZK_EPHEMERALONLOCALSESSION;
    return err;
}

int zab_reply_committed(struct server *s, struct conn *c, int64_t zxid, const uint8_t *rec,
                        size_t len)
{
    if (len < TXN_HEADER)
        return -1;
    int32_t wire = txn_peek_type(rec);
    int32_t xid = (int32_t)zk_be32_get(rec + 8);
    if (wire == ZK_OP_ERROR) {
        int32_t err = len >= TXN_HEADER + 4 ? (int32_t)zk_be32_get(rec + TXN_HEADER) : ZK_SYSTEMERROR;
        conn_reply_header(c, xid, zxid, zab_reply_local_error(c, err), zxid);
        return 0;
    }
    if (wire == ZK_OP_CLOSESESSION) {
        conn_reply_header(c, xid, zxid, 0, zxid);
        conn_close_after_flush(c);
        return 0;
    }
    if (wire == ZK_OP_MULTI) {
        multi_response(s, c, xid, zxid, rec, len);
        return 0;
    }
    struct txn t;
    if (txn_decode(rec, len, &t))
        return -1;
    int rc = 0;
    if (wire == ZK_OP_CREATESESSION) {
        connect_response(s, c, t.session, zxid);
    } else if (t.nops != 1) {
        conn_reply_header(c, xid, zxid, ZK_UNIMPLEMENTED, zxid);
    } else {
        size_t at = conn_reply_begin(c, xid, zxid, 0);
        const struct txn_op *op = &t.ops[0];
        switch (wire) {
        case ZK_OP_CREATE:
            jute_put_string(&c->out, op->path);
            break;
        case ZK_OP_CREATE2:
        case ZK_OP_CREATECONTAINER:
        case ZK_OP_CREATETTL:
            jute_put_string(&c->out, op->path);
            put_node_stat(s, c, op);
            break;
        case ZK_OP_SETDATA:
        case ZK_OP_SETACL:
            put_node_stat(s, c, op);
            break;
        default: /* delete, deleteContainer: an empty body */
            break;
        }
        conn_frame_end(c, at, zxid, xid);
    }
    txn_free(&t);
    return rc;
}

void zab_reply_sync(struct server *s, struct conn *c, int32_t xid, const char *path, int64_t zxid)
{
    (void)s;
    size_t at = conn_reply_begin(c, xid, zxid, 0);
    jute_put_string(&c->out, path);
    conn_frame_end(c, at, zxid, xid);
}
