/*
 * txn.c - encoding of transactions (layout in txn.h).
 */
#include "txn.h"

#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "tree.h"
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
    /* Grow to the next power of two when full: a 2000-op multi must not copy
     * the array 2000 times (quadratic under ASan, whose realloc always moves). */
    if (!t->ops) {
        t->ops = &t->first;
    } else if (t->ops == &t->first) {
        if (t->nops == 1) { /* a second op: to the heap, room for two */
            t->ops = zk_xmalloc(2 * sizeof *t->ops);
            t->ops[0] = t->first;
        }
    } else if (t->nops >= 2 && (t->nops & (t->nops - 1)) == 0) {
        t->ops = zk_xrealloc(t->ops, 2 * (size_t)t->nops * sizeof *t->ops);
    }
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
    if (t->ops != &t->first)
        free(t->ops);
    t->ops = NULL;
    t->nops = 0;
}

void txn_fail(struct txn *t, int32_t err, int failed, int nops_total)
{
    if (t->type != ZK_OP_MULTI || failed < 0) {
        txn_free(t);
        t->type = ZK_OP_ERROR;
        t->err = err;
        return;
    }
    while (t->nops > failed) /* defensive: the caller left only the prepared ops */
        txn_drop_last(t);
    for (int i = failed; i < nops_total; i++)
        txn_add_op(t, ZK_OP_ERROR)->version = i == failed ? err : ZK_RUNTIMEINCONSISTENCY;
}

/* The opcode an op is logged under (Apache's record type follows from it). */
static int32_t op_wire_type(const struct txn_op *op)
{
    if (op->type == ZK_OP_CREATE && op->owner == ZK_OWNER_CONTAINER)
        return ZK_OP_CREATECONTAINER;
    if (op->type == ZK_OP_CREATE && owner_is_ttl(op->owner))
        return ZK_OP_CREATETTL;
    return op->req_type ? op->req_type : op->type;
}

static void encode_op(struct jute_out *out, int32_t wire, const struct txn_op *op)
{
    switch (wire) {
    case ZK_OP_CREATE:
    case ZK_OP_CREATE2:
    case ZK_OP_CREATECONTAINER:
    case ZK_OP_CREATETTL:
        jute_put_string(out, op->path);
        jute_put_slice(out, op->data);
        acl_list_encode(out, &op->acl);
        if (wire == ZK_OP_CREATE || wire == ZK_OP_CREATE2)
            jute_put_bool(out, owner_is_session(op->owner));
        jute_put_int(out, op->parent_cversion);
        if (wire == ZK_OP_CREATETTL)
            jute_put_long(out, op->owner & ZK_OWNER_TTL_MAX_BITS);
        break;
    case ZK_OP_DELETE:
    case ZK_OP_DELETECONTAINER:
        jute_put_string(out, op->path);
        break;
    case ZK_OP_SETDATA:
    case ZK_OP_RECONFIG:
        jute_put_string(out, op->path);
        jute_put_slice(out, op->data);
        jute_put_int(out, op->version);
        break;
    case ZK_OP_SETACL:
        jute_put_string(out, op->path);
        acl_list_encode(out, &op->acl);
        jute_put_int(out, op->version);
        break;
    case ZK_OP_CHECK:
        jute_put_string(out, op->path);
        jute_put_int(out, op->version);
        break;
    case ZK_OP_ERROR:
        jute_put_int(out, op->version);
        break;
    default:
        break;
    }
}

/* Decodes the record of one op logged as `wire` into a new op of `t`.
 * Returns 0, 1 for an ErrorTxn (no op added), or -1. */
static int decode_op(struct jute_in *in, int32_t wire, struct txn *t)
{
    struct txn_op op = {.req_type = wire, .data.len = -1};
    struct zk_slice path;
    switch (wire) {
    case ZK_OP_CREATE:
    case ZK_OP_CREATE2:
    case ZK_OP_CREATECONTAINER:
    case ZK_OP_CREATETTL:
        op.type = ZK_OP_CREATE;
        path = jute_get_string(in);
        op.data = jute_get_buffer(in);
        if (acl_list_decode(in, &op.acl))
            return -1;
        if (wire == ZK_OP_CREATE || wire == ZK_OP_CREATE2)
            op.owner = jute_get_bool(in) ? t->session : 0;
        op.parent_cversion = jute_get_int(in);
        if (wire == ZK_OP_CREATECONTAINER)
            op.owner = ZK_OWNER_CONTAINER;
        if (wire == ZK_OP_CREATETTL) {
            int64_t ttl = jute_get_long(in);
            if (ttl <= 0 || ttl > ZK_OWNER_TTL_MAX_BITS)
                in->err = 1;
            op.owner = ZK_OWNER_TTL_MASK | ttl;
        }
        break;
    case ZK_OP_DELETE:
    case ZK_OP_DELETECONTAINER:
        op.type = ZK_OP_DELETE;
        path = jute_get_string(in);
        break;
    case ZK_OP_SETDATA:
    case ZK_OP_RECONFIG: /* sets /zookeeper/config */
        op.type = ZK_OP_SETDATA;
        path = jute_get_string(in);
        op.data = jute_get_buffer(in);
        op.version = jute_get_int(in);
        break;
    case ZK_OP_SETACL:
        op.type = ZK_OP_SETACL;
        path = jute_get_string(in);
        if (acl_list_decode(in, &op.acl))
            return -1;
        op.version = jute_get_int(in);
        break;
    case ZK_OP_CHECK:
        op.type = ZK_OP_CHECK;
        path = jute_get_string(in);
        op.version = jute_get_int(in);
        break;
    case ZK_OP_ERROR:
        (void)jute_get_int(in);
        return in->err ? -1 : 1;
    default:
        return -1;
    }
    if (in->err) {
        acl_list_free(&op.acl);
        return -1;
    }
    if (op.req_type == op.type || (op.type == ZK_OP_CREATE && op.req_type != ZK_OP_CREATE2))
        op.req_type = 0; /* implied by type and owner */
    op.path = zk_xstrndup(path.p, (size_t)path.len);
    struct txn_op *dst = txn_add_op(t, op.type);
    *dst = op;
    return 0;
}

static void encode_multi(struct jute_out *out, const struct txn *t)
{
    struct jute_out sub;
    jute_out_init(&sub);
    jute_put_int(out, t->nops);
    for (int i = 0; i < t->nops; i++) {
        int32_t wire = op_wire_type(&t->ops[i]);
        sub.len = 0;
        encode_op(&sub, wire, &t->ops[i]);
        jute_put_int(out, wire);
        jute_put_buffer(out, sub.p, (int32_t)sub.len);
    }
    jute_out_free(&sub);
}

/* The type in the TxnHeader. */
static int32_t header_type(const struct txn *t)
{
    switch (t->type) {
    case TXN_NEWEPOCH:
        return ZK_OP_ERROR;
    case ZK_OP_CREATESESSION:
    case ZK_OP_CLOSESESSION:
    case ZK_OP_MULTI:
    case ZK_OP_RECONFIG:
    case ZK_OP_ERROR:
        return t->type;
    default:
        return t->nops == 1 ? op_wire_type(&t->ops[0]) : t->type;
    }
}

void txn_encode(struct jute_out *out, const struct txn *t)
{
    int32_t type = header_type(t);
    jute_put_long(out, t->session);
    jute_put_int(out, t->cxid);
    jute_put_long(out, t->zxid);
    jute_put_long(out, t->time);
    jute_put_int(out, type);
    switch (t->type) {
    case ZK_OP_CREATESESSION:
        jute_put_int(out, t->timeout);
        break;
    case ZK_OP_CLOSESESSION:
        jute_put_int(out, t->nops);
        for (int i = 0; i < t->nops; i++)
            jute_put_string(out, t->ops[i].path);
        break;
    case TXN_NEWEPOCH:
        jute_put_int(out, (int32_t)t->epoch);
        break;
    case ZK_OP_ERROR:
        jute_put_int(out, t->err);
        break;
    case ZK_OP_MULTI:
        encode_multi(out, t);
        break;
    default:
        encode_op(out, type, &t->ops[0]);
        break;
    }
}

void txn_put_digest(struct jute_out *out, int64_t digest)
{
    jute_put_int(out, DIGEST_VERSION);
    jute_put_long(out, digest);
}

int64_t txn_peek_zxid(const void *rec) { return (int64_t)zk_be64_get((const uint8_t *)rec + 12); }
int32_t txn_peek_type(const void *rec) { return (int32_t)zk_be32_get((const uint8_t *)rec + 28); }

static int decode_multi(struct jute_in *in, struct txn *t)
{
    int32_t n = jute_get_count(in, 8);
    int failed = 0;
    for (int32_t i = 0; i < n && !in->err; i++) {
        int32_t wire = jute_get_int(in);
        struct zk_slice rec = jute_get_buffer(in);
        if (in->err || rec.len < 0)
            return -1;
        struct jute_in sub;
        jute_in_init(&sub, rec.p, (size_t)rec.len);
        failed |= wire == ZK_OP_ERROR;
        if (decode_op(&sub, wire, t) < 0 || jute_in_left(&sub))
            return -1;
    }
    /* Apache's leader logs a failed multi with the ops before the failing
     * one as they were prepared; DataTree.processTxn applies none of them
     * once any op is an ErrorTxn.  So does zkd. */
    while (failed && t->nops)
        txn_drop_last(t);
    return in->err ? -1 : 0;
}

static int decode_close(struct jute_in *in, struct txn *t)
{
    if (!jute_in_left(in))
        return 0; /* written before 3.6, or with closeSessionTxn disabled */
    int32_t n = jute_get_count(in, 4);
    for (int32_t i = 0; i < n && !in->err; i++) {
        struct zk_slice path = jute_get_string(in);
        if (!in->err)
            txn_add_op(t, ZK_OP_DELETE)->path = zk_xstrndup(path.p, (size_t)path.len);
    }
    return in->err ? -1 : 0;
}

int txn_decode(const void *p, size_t len, struct txn *t)
{
    struct jute_in in;
    jute_in_init(&in, p, len);
    int64_t session = jute_get_long(&in);
    int32_t cxid = jute_get_int(&in);
    int64_t zxid = jute_get_long(&in);
    int64_t time = jute_get_long(&in);
    int32_t type = jute_get_int(&in);
    txn_init(t, type, session, cxid, time);
    t->zxid = zxid;
    if (in.err)
        return -1;
    int rc = 0;
    switch (type) {
    case ZK_OP_CREATESESSION:
        t->timeout = jute_get_int(&in);
        if (session == 0) /* 0 is no session: no session table can hold it */
            goto fail;
        break;
    case ZK_OP_CLOSESESSION:
        rc = decode_close(&in, t);
        break;
    case ZK_OP_ERROR: {
        int32_t err = jute_get_int(&in);
        t->err = err;
        if (session == 0 && cxid == 0 && err > 0) {
            t->type = TXN_NEWEPOCH;
            t->epoch = err;
        }
        break;
    }
    case ZK_OP_MULTI:
        rc = decode_multi(&in, t);
        break;
    case ZK_OP_RECONFIG:
        rc = decode_op(&in, type, t);
        break;
    default:
        rc = decode_op(&in, type, t);
        if (rc == 0)
            t->type = t->ops[0].type;
        else if (rc > 0)
            goto fail; /* an ErrorTxn under another type */
        break;
    }
    if (rc < 0 || in.err)
        goto fail;
    /* What may follow is Apache's TxnDigest (int version, long digest). */
    if (jute_in_left(&in) >= 12) {
        t->digest_version = jute_get_int(&in);
        t->digest = jute_get_long(&in);
        t->has_digest = !in.err;
    }
    return 0;
fail:
    txn_free(t);
    return -1;
}
