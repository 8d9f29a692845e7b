/*
 * txn.c - the multi builder (zk_txn_*) and the multi/multiRead codec.
 *
 * The builder copies every argument, so a transaction can be built from
 * temporaries and submitted later, several times, on any handle.  Paths are
 * stored as given (client paths); the chroot is applied when encoding.
 * See txn.h for the wire format.
 */
#include "txn.h"

#include "hosts.h"
#include "request.h"
#include "zk/proto.h"

#include <stdlib.h>
#include <string.h>

struct txn_op {
    int op; /* ZK_OP_CREATE, DELETE, SETDATA, CHECK, GETDATA, GETCHILDREN */
    char *path;
    char *data;
    int32_t len;
    struct zk_acl *acl;
    int32_t nacl;
    int mode;
    int64_t ttl;
    int32_t version;
};

struct zk_txn {
    struct txn_op *v;
    int n, cap;
};

zk_txn_t *zk_txn_new(void)
{
    return zk_xcalloc(1, sizeof(struct zk_txn));
}

void zk_txn_free(zk_txn_t *t)
{
    if (!t)
        return;
    for (int i = 0; i < t->n; i++) {
        struct txn_op *o = &t->v[i];
        free(o->path);
        free(o->data);
        for (int32_t j = 0; j < o->nacl; j++) {
            free((char *)o->acl[j].scheme);
            free((char *)o->acl[j].id);
        }
        free(o->acl);
    }
    free(t->v);
    free(t);
}

int zk_txn_count(const zk_txn_t *t)
{
    return t->n;
}

static struct txn_op *push(zk_txn_t *t, int op, const char *path)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 8;
        t->v = zk_xrealloc(t->v, (size_t)t->cap * sizeof *t->v);
    }
    struct txn_op *o = &t->v[t->n++];
    memset(o, 0, sizeof *o);
    o->op = op;
    o->path = zk_xstrndup(path, strlen(path));
    o->len = -1;
    o->version = -1;
    return o;
}

static void set_data(struct txn_op *o, const void *value, int32_t len)
{
    if (value && len >= 0) {
        o->data = zk_xmalloc((size_t)len + 1);
        memcpy(o->data, value, (size_t)len);
        o->len = len;
    }
}

int zk_txn_create(zk_txn_t *t, const char *path, const void *value, int32_t len,
                  const struct zk_acl *acl, int32_t nacl, int mode, int64_t ttl)
{
    if (!path || zk__path_validate(path, zk__mode_is_sequential(mode)) != 0 ||
        (value && (len < 0 || len > ZK_MAX_DATA)) || mode < ZK_PERSISTENT ||
        mode > ZK_PERSISTENT_SEQUENTIAL_WITH_TTL ||
        (zk__mode_is_ttl(mode) && (ttl <= 0 || ttl > ZK_MAX_TTL)))
        return ZK_BADARGUMENTS;
    struct txn_op *o = push(t, ZK_OP_CREATE, path);
    set_data(o, value, len);
    if (!acl) {
        acl = zk_acl_open_unsafe;
        nacl = 1;
    }
    o->acl = zk_xcalloc((size_t)nacl + 1, sizeof *o->acl);
    for (int32_t i = 0; i < nacl; i++) {
        o->acl[i].perms = acl[i].perms;
        o->acl[i].scheme = zk_xstrndup(acl[i].scheme ? acl[i].scheme : "",
                                       acl[i].scheme ? strlen(acl[i].scheme) : 0);
        o->acl[i].id = zk_xstrndup(acl[i].id ? acl[i].id : "", acl[i].id ? strlen(acl[i].id) : 0);
    }
    o->nacl = nacl;
    o->mode = mode;
    o->ttl = ttl;
    return 0;
}

int zk_txn_delete(zk_txn_t *t, const char *path, int32_t version)
{
    if (!path || zk__path_validate(path, 0) != 0)
        return ZK_BADARGUMENTS;
    push(t, ZK_OP_DELETE, path)->version = version;
    return 0;
}

int zk_txn_set(zk_txn_t *t, const char *path, const void *value, int32_t len, int32_t version)
{
    if (!path || zk__path_validate(path, 0) != 0 || (value && (len < 0 || len > ZK_MAX_DATA)))
        return ZK_BADARGUMENTS;
    struct txn_op *o = push(t, ZK_OP_SETDATA, path);
    set_data(o, value, len);
    o->version = version;
    return 0;
}

int zk_txn_check(zk_txn_t *t, const char *path, int32_t version)
{
    if (!path || zk__path_validate(path, 0) != 0)
        return ZK_BADARGUMENTS;
    push(t, ZK_OP_CHECK, path)->version = version;
    return 0;
}

int zk_txn_get(zk_txn_t *t, const char *path)
{
    if (!path || zk__path_validate(path, 0) != 0)
        return ZK_BADARGUMENTS;
    push(t, ZK_OP_GETDATA, path);
    return 0;
}

int zk_txn_get_children(zk_txn_t *t, const char *path)
{
    if (!path || zk__path_validate(path, 0) != 0)
        return ZK_BADARGUMENTS;
    push(t, ZK_OP_GETCHILDREN, path);
    return 0;
}

static void put_header(struct jute_out *out, int type, int done, int err)
{
    jute_put_int(out, type);
    jute_put_bool(out, done);
    jute_put_int(out, err);
}

int zk__txn_encode(const zk_txn_t *t, const char *chroot, struct jute_out *out, int *is_read)
{
    if (!t || t->n == 0)
        return ZK_BADARGUMENTS;
    int reads = 0;
    for (int i = 0; i < t->n; i++)
        reads += t->v[i].op == ZK_OP_GETDATA || t->v[i].op == ZK_OP_GETCHILDREN;
    if (reads != 0 && reads != t->n)
        return ZK_BADARGUMENTS;
    *is_read = reads != 0;
    for (int i = 0; i < t->n; i++) {
        const struct txn_op *o = &t->v[i];
        int type = o->op == ZK_OP_CREATE ? zk__create_opcode(o->mode) : o->op;
        put_header(out, type, 0, -1);
        char *full = zk__path_prepend(chroot, o->path);
        jute_put_string(out, full);
        free(full);
        switch (o->op) {
        case ZK_OP_CREATE:
            jute_put_buffer(out, o->data, o->data ? o->len : -1);
            zk__encode_acl(out, o->acl, o->nacl);
            jute_put_int(out, o->mode);
            if (type == ZK_OP_CREATETTL)
                jute_put_long(out, o->ttl);
            break;
        case ZK_OP_DELETE:
        case ZK_OP_CHECK:
            jute_put_int(out, o->version);
            break;
        case ZK_OP_SETDATA:
            jute_put_buffer(out, o->data, o->data ? o->len : -1);
            jute_put_int(out, o->version);
            break;
        case ZK_OP_GETDATA:
        case ZK_OP_GETCHILDREN:
            jute_put_bool(out, 0);
            break;
        default:
            return ZK_BADARGUMENTS;
        }
    }
    put_header(out, -1, 1, -1);
    return 0;
}

int zk__txn_decode(struct jute_in *in, const char *chroot, struct zk_result *res, int *first_err)
{
    int cap = 8;
    res->results = zk_xcalloc((size_t)cap, sizeof *res->results);
    *first_err = 0;
    for (;;) {
        int type = jute_get_int(in);
        int done = jute_get_bool(in);
        int err = jute_get_int(in);
        if (in->err)
            return ZK_MARSHALLINGERROR;
        if (done)
            break;
        (void)err;
        if (res->nresults == cap) {
            cap *= 2;
            res->results = zk_xrealloc(res->results, (size_t)cap * sizeof *res->results);
        }
        struct zk_result *r = &res->results[res->nresults++];
        memset(r, 0, sizeof *r);
        r->op = type;
        struct zk_pending fake = {.op = type};
        switch (type) {
        case -1:
            r->err = jute_get_int(in);
            if (r->err != 0 && *first_err == 0)
                *first_err = r->err;
            break;
        case ZK_OP_CREATE:
        case ZK_OP_CREATE2:
        case ZK_OP_CREATECONTAINER:
        case ZK_OP_CREATETTL:
        case ZK_OP_SETDATA:
        case ZK_OP_GETDATA:
        case ZK_OP_GETCHILDREN:
            /* Same records as the single ops. */
            if (zk__reply_decode(&fake, in, chroot, r) != 0)
                return ZK_MARSHALLINGERROR;
            break;
        case ZK_OP_DELETE:
        case ZK_OP_CHECK:
            break;
        default:
            return ZK_MARSHALLINGERROR;
        }
        if (in->err)
            return ZK_MARSHALLINGERROR;
    }
    return 0;
}
