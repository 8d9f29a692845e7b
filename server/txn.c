/*
 * txn.c - encoding of transactions (layout in txn.h).
 */
#include "txn.h"

#include <stdlib.h>
#include <string.h>

#include "zk/proto.h"

void txn_init(struct txn *t, int32_t type, int64_t session, int32_t cxid, int64_t time)
{
    memset(t, 0, sizeof *t);
    t->type = type;
    t->session = session;
    t->cxid = cxid;
    t->time = time;
}

struct txn_op *txn_add_op(struct txn *t, int32_t type)
{
    t->ops = zk_xrealloc(t->ops, (size_t)(t->nops + 1) * sizeof *t->ops);
    struct txn_op *op = &t->ops[t->nops++];
    memset(op, 0, sizeof *op);
    op->type = type;
    op->data.len = -1;
    return op;
}

static void op_free(struct txn_op *op)
{
    free(op->path);
    acl_list_free(&op->acl);
}

void txn_drop_last(struct txn *t)
{
    if (t->nops > 0)
        op_free(&t->ops[--t->nops]);
}

void txn_free(struct txn *t)
{
    for (int i = 0; i < t->nops; i++)
        op_free(&t->ops[i]);
    free(t->ops);
    t->ops = NULL;
    t->nops = 0;
}

static void encode_op(struct jute_out *out, const struct txn_op *op)
{
    switch (op->type) {
    case ZK_OP_CREATE:
        jute_put_string(out, op->path);
        jute_put_slice(out, op->data);
        acl_list_encode(out, &op->acl);
        jute_put_long(out, op->owner);
        jute_put_int(out, op->parent_cversion);
        break;
    case ZK_OP_DELETE:
        jute_put_string(out, op->path);
        break;
    case ZK_OP_SETDATA:
        jute_put_string(out, op->path);
        jute_put_slice(out, op->data);
        jute_put_int(out, op->version);
        break;
    case ZK_OP_SETACL:
        jute_put_string(out, op->path);
        acl_list_encode(out, &op->acl);
        jute_put_int(out, op->version);
        break;
    default:
        break;
    }
}

static int decode_op(struct jute_in *in, struct txn_op *op)
{
    struct zk_slice path;
    switch (op->type) {
    case ZK_OP_CREATE:
        path = jute_get_string(in);
        op->data = jute_get_buffer(in);
        if (acl_list_decode(in, &op->acl))
            return -1;
        op->owner = jute_get_long(in);
        op->parent_cversion = jute_get_int(in);
        break;
    case ZK_OP_DELETE:
        path = jute_get_string(in);
        break;
    case ZK_OP_SETDATA:
        path = jute_get_string(in);
        op->data = jute_get_buffer(in);
        op->version = jute_get_int(in);
        break;
    case ZK_OP_SETACL:
        path = jute_get_string(in);
        if (acl_list_decode(in, &op->acl))
            return -1;
        op->version = jute_get_int(in);
        break;
    default:
        return -1;
    }
    if (in->err)
        return -1;
    op->path = zk_xstrndup(path.p, (size_t)path.len);
    return 0;
}

void txn_encode(struct jute_out *out, const struct txn *t)
{
    jute_put_int(out, t->type);
    jute_put_long(out, t->session);
    jute_put_int(out, t->cxid);
    jute_put_long(out, t->time);
    switch (t->type) {
    case ZK_OP_CREATESESSION:
        jute_put_int(out, t->timeout);
        break;
    case ZK_OP_CLOSESESSION:
        break;
    case TXN_NEWEPOCH:
        jute_put_long(out, t->epoch);
        break;
    case ZK_OP_MULTI:
        jute_put_int(out, t->nops);
        for (int i = 0; i < t->nops; i++) {
            jute_put_int(out, t->ops[i].type);
            encode_op(out, &t->ops[i]);
        }
        break;
    default:
        encode_op(out, &t->ops[0]);
        break;
    }
}

int txn_decode(const void *p, size_t len, struct txn *t)
{
    struct jute_in in;
    jute_in_init(&in, p, len);
    int32_t type = jute_get_int(&in);
    int64_t session = jute_get_long(&in);
    int32_t cxid = jute_get_int(&in);
    int64_t time = jute_get_long(&in);
    txn_init(t, type, session, cxid, time);
    if (in.err)
        return -1;
    switch (type) {
    case ZK_OP_CREATESESSION:
        t->timeout = jute_get_int(&in);
        if (session == 0) /* 0 is no session: no session table can hold it */
            goto fail;
        break;
    case ZK_OP_CLOSESESSION:
        break;
    case TXN_NEWEPOCH:
        t->epoch = jute_get_long(&in);
        break;
    case ZK_OP_MULTI: {
        int32_t n = jute_get_count(&in, 4);
        for (int32_t i = 0; i < n && !in.err; i++) {
            int32_t ot = jute_get_int(&in);
            if (in.err || decode_op(&in, txn_add_op(t, ot)))
                goto fail;
        }
        break;
    }
    case ZK_OP_CREATE:
    case ZK_OP_DELETE:
    case ZK_OP_SETDATA:
    case ZK_OP_SETACL:
        if (decode_op(&in, txn_add_op(t, type)))
            goto fail;
        break;
    case ZK_OP_RECONFIG: /* sets /zookeeper/config */
        if (decode_op(&in, txn_add_op(t, ZK_OP_SETDATA)))
            goto fail;
        break;
    default:
        goto fail;
    }
    if (in.err)
        goto fail;
    return 0;
fail:
    txn_free(t);
    return -1;
}
