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
 * A multi is answered ZUNIMPLEMENTED for now (docs/member-protocol.md).
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

static void put_node_stat(struct server *s, struct conn *c, const struct txn_op *op)
{
    struct znode *n = tree_lookup(s->db.tree, op->path, strlen(op->path));
    struct zk_stat st;
    memset(&st, 0, sizeof st);
    if (n)
        tree_stat(n, &st);
    jute_put_stat(&c->out, &st);
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
        conn_reply_header(c, xid, zxid, err, zxid);
        return 0;
    }
    if (wire == ZK_OP_CLOSESESSION) {
        conn_reply_header(c, xid, zxid, 0, zxid);
        conn_close_after_flush(c);
        return 0;
    }
    struct txn t;
    if (txn_decode(rec, len, &t))
        return -1;
    int rc = 0;
    if (wire == ZK_OP_CREATESESSION) {
        connect_response(s, c, t.session, zxid);
    } else if (wire == ZK_OP_MULTI || t.nops != 1) {
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
