/*
 * prep.c - see prep.h.
 */
#include "prep.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quota.h"
#include "zk/proto.h"

int prep_is_write(int32_t type)
{
    switch (type) {
    case ZK_OP_CREATE:
    case ZK_OP_CREATE2:
    case ZK_OP_CREATECONTAINER:
    case ZK_OP_CREATETTL:
    case ZK_OP_DELETE:
    case ZK_OP_DELETECONTAINER:
    case ZK_OP_SETDATA:
    case ZK_OP_SETACL:
    case ZK_OP_CHECK:
    case ZK_OP_MULTI:
        return 1;
    }
    return 0;
}

/* Decodes one UTF-8 code point; returns its length or 0 if malformed. */
static int utf8_next(const unsigned char *p, size_t n, uint32_t *cp)
{
    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    }
    int len = (p[0] & 0xE0) == 0xC0 ? 2 : (p[0] & 0xF0) == 0xE0 ? 3 : (p[0] & 0xF8) == 0xF0 ? 4 : 0;
    if (!len || (size_t)len > n)
        return 0;
    uint32_t v = p[0] & (0x7F >> len);
    for (int i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (p[i] & 0x3F);
    }
    *cp = v;
    return len;
}

/* Whether p[0, n) is printable ASCII (0x20-0x7E) only: eight bytes at a
 * time, as a word (bytes under 0x20 borrow into their high bit; bytes of
 * 0x7F and up carry into it or have it). */
static int printable_ascii(const char *p, size_t n)
{
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    uint64_t bad = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        bad |= ((w - 0x20 * ones) | (w + ones) | w) & highs;
    }
    for (; i < n; i++)
        bad |= (unsigned char)p[i] < 0x20 || (unsigned char)p[i] >= 0x7F;
    return !bad;
}

/* The components of `path` (it starts with '/' and does not end
 * with one): none empty, ".", or "..".  Returns 0 or ZK_BADARGUMENTS. */
static int check_components(const char *path, size_t len)
{
    const char *p = path + 1, *end = path + len;
    while (p <= end) {
        const char *slash = memchr(p, '/', (size_t)(end - p));
        size_t n = (size_t)((slash ? slash : end) - p);
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return ZK_BADARGUMENTS;
        if (!slash)
            break;
        p = slash + 1;
    }
    return 0;
}

/* Whether p[0, n) is well-formed UTF-8 of code points Apache's
 * PathUtils.validatePath accepts in a path ('/' included). */
static int valid_code_points(const char *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int l = utf8_next((const unsigned char *)p + i, n - i, &cp);
        if (!l)
            return 0;
        /* Java sees code points above U+FFFF as surrogates, which it rejects. */
        if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || (cp >= 0xD800 && cp <= 0xF8FF) ||
            cp >= 0xFFF0)
            return 0;
        i += (size_t)l;
    }
    return 1;
}

int prep_validate_path(const char *path, size_t len)
{
    if (len == 0 || path[0] != '/')
        return ZK_BADARGUMENTS;
    if (len == 1)
        return 0;
    if (path[len - 1] == '/')
        return ZK_BADARGUMENTS;
    if (!printable_ascii(path + 1, len - 1) && !valid_code_points(path + 1, len - 1))
        return ZK_BADARGUMENTS;
    return check_components(path, len);
}

/* Apache's isSpecialPath: nodes that can never be deleted or replaced. */
static int is_special(const char *p, size_t n)
{
    return (n == 1 && p[0] == '/') || (n == 10 && !memcmp(p, "/zookeeper", 10)) ||
           (n == 16 && !memcmp(p, "/zookeeper/quota", 16)) ||
           (n == 17 && !memcmp(p, "/zookeeper/config", 17));
}

static int check_acl(struct db *db, const struct auth_info *auth, const struct znode *n, int32_t perm)
{
    return acl_check(acl_get(tree_acls(db->tree), n->acl), perm, auth);
}

static int check_version(int32_t current, int32_t expected)
{
    return expected != -1 && expected != current ? ZK_BADVERSION : 0;
}

/* Applies the op just added to `t`; on failure removes it again. */
static int apply_added(struct db *db, struct txn *t, int64_t zxid, struct journal *j)
{
    int rc = apply_op(db, t, &t->ops[t->nops - 1], zxid, j);
    if (rc)
        txn_drop_last(t);
    return rc;
}

/*
 * An ephemeral needs a global session (Apache's validateCreateRequest); a
 * local one (localsess.h) is in no member's db table.  The code is the one
 * Apache's leader logs in the ErrorTxn: EPHEMERALONLOCALSESSION for its own
 * local session (LeaderRequestProcessor's checkUpgradeSession refused it),
 * SESSIONEXPIRED for another member's (checkGlobalSession: the refusal of
 * the member holding the session never reaches the leader).  That member
 * answers its client EPHEMERALONLOCALSESSION in place of the leader's
 * SESSIONEXPIRED (zab_reply_local_error), except inside a multi, whose op
 * results come from the leader's txn.
 */
static int not_global(const struct db *db, const struct txn *t)
{
    int ours = (int)((uint64_t)t->session >> 56) == (db->server_id ? db->server_id : 1);
    return ours ? ZK_EPHEMERALONLOCALSESSION : ZK_SESSIONEXPIRED;
}

static int prep_create(struct db *db, const struct auth_info *auth, int32_t type,
                       struct jute_in *in, struct txn *t, int64_t zxid, struct journal *j,
                       struct prep_result *res)
{
    struct zk_slice path = jute_get_string(in);
    struct zk_slice data = jute_get_buffer(in);
    struct acl_list acl;
    if (acl_list_decode(in, &acl))
        return ZK_MARSHALLINGERROR;
    int32_t flags = jute_get_int(in);
    int64_t ttl = type == ZK_OP_CREATETTL ? jute_get_long(in) : -1;
    int rc = in->err ? ZK_MARSHALLINGERROR : 0;
    if (type == ZK_OP_CREATECONTAINER)
        flags = ZK_CONTAINER;
    int is_ttl = flags == ZK_PERSISTENT_WITH_TTL || flags == ZK_PERSISTENT_SEQUENTIAL_WITH_TTL;
    int sequential = flags == ZK_PERSISTENT_SEQUENTIAL || flags == ZK_EPHEMERAL_SEQUENTIAL ||
                     flags == ZK_PERSISTENT_SEQUENTIAL_WITH_TTL;
    int ephemeral = flags == ZK_EPHEMERAL || flags == ZK_EPHEMERAL_SEQUENTIAL;
    if (!rc && (flags < 0 || flags > ZK_PERSISTENT_SEQUENTIAL_WITH_TTL))
        rc = ZK_BADARGUMENTS;
    if (!rc && is_ttl && !db->extended_types)
        rc = ZK_UNIMPLEMENTED;
    if (!rc && is_ttl && (ttl <= 0 || ttl > ZK_OWNER_TTL_MAX_BITS))
        rc = ZK_BADARGUMENTS;
    if (!rc && !is_ttl && ttl >= 0)
        rc = ZK_BADARGUMENTS;
    if (!rc && ephemeral && !sessions_get(&db->sessions, t->session))
        rc = not_global(db, t);
    if (!rc && data.len > db->max_data)
        rc = ZK_BADARGUMENTS;
    size_t plen = 0;
    if (!rc) {
        const char *slash = path.len > 0 ? memrchr(path.p, '/', (size_t)path.len) : NULL;
        if (!slash || memchr(path.p, 0, (size_t)path.len))
            rc = ZK_BADARGUMENTS;
        else
            plen = slash == path.p ? 1 : (size_t)(slash - path.p);
    }
    if (!rc)
        rc = acl_fixup(&acl, auth ? auth : &(struct auth_info){0});
    struct znode *parent = NULL;
    if (!rc) {
        parent = tree_lookup_dir(db->tree, path.p, plen);
        if (!parent)
            rc = ZK_NONODE;
    }
    if (!rc)
        rc = check_acl(db, auth, parent, ZK_PERM_CREATE);
    char *full = NULL;
    const char *name = NULL; /* the new node's name, in full */
    size_t flen = 0, nlen = 0;
    if (!rc) {
        size_t n = (size_t)path.len;
        full = zk_xmalloc(n + 12);
        memcpy(full, path.p, n);
        full[n] = 0;
        if (sequential)
            snprintf(full + n, 12, "%010d", tree_cversion(parent));
        flen = strlen(full);
        name = full + plen + (plen > 1);
        nlen = flen - (size_t)(name - full);
        rc = prep_validate_path(full, flen);
        /* The parent is known: look the name up under it, not the path
         * from the root again (a create's lookups were a tenth of a load's
         * loop thread). */
        if (!rc && (!nlen || tree_child(parent, name, nlen))) /* no name: "/" itself */
            rc = ZK_NODEEXISTS;
        if (!rc && owner_is_session(tree_owner(parent)))
            rc = ZK_NOCHILDRENFOREPHEMERALS;
        if (!rc)
            rc = quota_check(db, full, flen, 1, -1, data.len);
    }
    if (rc) {
        free(full);
        acl_list_free(&acl);
        return rc;
    }
    struct txn_op *op = txn_add_op(t, ZK_OP_CREATE);
    op->req_type = type == ZK_OP_CREATE2 ? type : 0; /* logged as Apache does */
    op->path = full;
    op->data = data;
    op->acl = acl;
    op->owner = ephemeral ? t->session
                : is_ttl  ? (ZK_OWNER_TTL_MASK | ttl)
                : flags == ZK_CONTAINER ? ZK_OWNER_CONTAINER
                                        : 0;
    op->parent_cversion = tree_cversion(parent) + 1;
    op->parent = parent;
    if ((rc = apply_added(db, t, zxid, j)))
        return rc; /* (and the op is dropped) */
    op->parent = NULL; /* the txn outlives this call (proposals, a multi's undo) */
    res->path = zk_xstrndup(full, flen);
    res->node = journal_last_created(j);
    return 0;
}

static int prep_delete(struct db *db, const struct auth_info *auth, int32_t type,
                       struct jute_in *in, struct txn *t, int64_t zxid, struct journal *j)
{
    struct zk_slice path = jute_get_string(in);
    int32_t version = type == ZK_OP_DELETECONTAINER ? -1 : jute_get_int(in);
    if (in->err)
        return ZK_MARSHALLINGERROR;
    const char *slash = path.len > 0 ? memrchr(path.p, '/', (size_t)path.len) : NULL;
    if (!slash || memchr(path.p, 0, (size_t)path.len) || is_special(path.p, (size_t)path.len))
        return ZK_BADARGUMENTS;
    /* No validatePath here: Apache answers NONODE for "/a/" or "//". */
    int rc;
    size_t plen = slash == path.p ? 1 : (size_t)(slash - path.p);
    struct znode *parent = tree_lookup(db->tree, path.p, plen);
    if (!parent)
        return ZK_NONODE;
    if ((rc = check_acl(db, auth, parent, ZK_PERM_DELETE)))
        return rc;
    struct znode *n = tree_lookup(db->tree, path.p, (size_t)path.len);
    if (!n)
        return ZK_NONODE;
    if ((rc = check_version(n->version, version)))
        return rc;
    if (tree_nkids(n))
        return ZK_NOTEMPTY;
    if (type == ZK_OP_DELETECONTAINER && tree_owner(n) != ZK_OWNER_CONTAINER && !owner_is_ttl(tree_owner(n)))
        return ZK_BADARGUMENTS;
    struct txn_op *op = txn_add_op(t, ZK_OP_DELETE);
    op->req_type = type == ZK_OP_DELETECONTAINER ? type : 0; /* logged as Apache does */
    op->path = zk_xstrndup(path.p, (size_t)path.len);
    return apply_added(db, t, zxid, j);
}

static int prep_setdata(struct db *db, const struct auth_info *auth, struct jute_in *in,
                        struct txn *t, int64_t zxid, struct journal *j, struct prep_result *res)
{
    struct zk_slice path = jute_get_string(in);
    struct zk_slice data = jute_get_buffer(in);
    int32_t version = jute_get_int(in);
    if (in->err)
        return ZK_MARSHALLINGERROR;
    int rc = prep_validate_path(path.p, (size_t)path.len);
    if (rc)
        return rc;
    if (data.len > db->max_data)
        return ZK_BADARGUMENTS;
    struct znode *n = tree_lookup(db->tree, path.p, (size_t)path.len);
    if (!n)
        return ZK_NONODE;
    if ((rc = check_acl(db, auth, n, ZK_PERM_WRITE)))
        return rc;
    if ((rc = quota_check(db, path.p, (size_t)path.len, 0, n->datalen, data.len)))
        return rc;
    if ((rc = check_version(n->version, version)))
        return rc;
    struct txn_op *op = txn_add_op(t, ZK_OP_SETDATA);
    op->path = zk_xstrndup(path.p, (size_t)path.len);
    op->data = data;
    op->version = n->version + 1;
    if ((rc = apply_added(db, t, zxid, j)))
        return rc;
    res->node = n;
    return 0;
}

static int prep_setacl(struct db *db, const struct auth_info *auth, struct jute_in *in,
                       struct txn *t, int64_t zxid, struct journal *j, struct prep_result *res)
{
    struct zk_slice path = jute_get_string(in);
    struct acl_list acl;
    if (acl_list_decode(in, &acl))
        return ZK_MARSHALLINGERROR;
    int32_t version = jute_get_int(in);
    int rc = in->err ? ZK_MARSHALLINGERROR : prep_validate_path(path.p, (size_t)path.len);
    if (!rc)
        rc = acl_fixup(&acl, auth ? auth : &(struct auth_info){0});
    struct znode *n = NULL;
    if (!rc && !(n = tree_lookup(db->tree, path.p, (size_t)path.len)))
        rc = ZK_NONODE;
    if (!rc)
        rc = check_acl(db, auth, n, ZK_PERM_ADMIN);
    if (!rc)
        rc = check_version(tree_aversion(n), version);
    if (rc) {
        acl_list_free(&acl);
        return rc;
    }
    struct txn_op *op = txn_add_op(t, ZK_OP_SETACL);
    op->path = zk_xstrndup(path.p, (size_t)path.len);
    op->acl = acl;
    op->version = tree_aversion(n) + 1;
    if ((rc = apply_added(db, t, zxid, j)))
        return rc;
    res->node = n;
    return 0;
}

/* A check inside a multi is logged as Apache logs it: a CheckVersionTxn
 * holding the node's version + 1 (PrepRequestProcessor.checkAndIncVersion),
 * which changes nothing when applied. */
static int prep_check(struct db *db, const struct auth_info *auth, struct jute_in *in,
                      struct txn *t, int64_t zxid, struct journal *j)
{
    struct zk_slice path = jute_get_string(in);
    int32_t version = jute_get_int(in);
    if (in->err)
        return ZK_MARSHALLINGERROR;
    int rc = prep_validate_path(path.p, (size_t)path.len);
    if (rc)
        return rc;
    struct znode *n = tree_lookup(db->tree, path.p, (size_t)path.len);
    if (!n)
        return ZK_NONODE;
    if ((rc = check_acl(db, auth, n, ZK_PERM_READ)))
        return rc;
    if ((rc = check_version(n->version, version)))
        return rc;
    struct txn_op *op = txn_add_op(t, ZK_OP_CHECK);
    op->path = zk_xstrndup(path.p, (size_t)path.len);
    op->version = n->version + 1;
    return apply_added(db, t, zxid, j);
}

int prep_apply_op(struct db *db, const struct auth_info *auth, int32_t type, struct jute_in *in,
                  struct txn *t, int64_t zxid, struct journal *j, struct prep_result *res)
{
    memset(res, 0, sizeof *res);
    res->type = type;
    int rc;
    switch (type) {
    case ZK_OP_CREATE:
    case ZK_OP_CREATE2:
    case ZK_OP_CREATECONTAINER:
    case ZK_OP_CREATETTL:
        rc = prep_create(db, auth, type, in, t, zxid, j, res);
        break;
    case ZK_OP_DELETE:
    case ZK_OP_DELETECONTAINER:
        rc = prep_delete(db, auth, type, in, t, zxid, j);
        break;
    case ZK_OP_SETDATA:
        rc = prep_setdata(db, auth, in, t, zxid, j, res);
        break;
    case ZK_OP_SETACL:
        rc = prep_setacl(db, auth, in, t, zxid, j, res);
        break;
    case ZK_OP_CHECK:
        rc = prep_check(db, auth, in, t, zxid, j);
        break;
    default:
        rc = ZK_BADARGUMENTS;
    }
    res->err = rc;
    if (!rc && res->node)
        tree_stat(res->node, &res->stat);
    return rc;
}

int prep_skip_op(int32_t type, struct jute_in *in)
{
    struct acl_list acl;
    (void)jute_get_string(in);
    switch (type) {
    case ZK_OP_CREATE:
    case ZK_OP_CREATE2:
    case ZK_OP_CREATECONTAINER:
    case ZK_OP_CREATETTL:
        (void)jute_get_buffer(in);
        if (acl_list_decode(in, &acl))
            return ZK_MARSHALLINGERROR;
        acl_list_free(&acl);
        (void)jute_get_int(in);
        if (type == ZK_OP_CREATETTL)
            (void)jute_get_long(in);
        break;
    case ZK_OP_SETDATA:
        (void)jute_get_buffer(in);
        (void)jute_get_int(in);
        break;
    case ZK_OP_DELETE:
    case ZK_OP_CHECK:
        (void)jute_get_int(in);
        break;
    default:
        in->err = ZK_MARSHALLINGERROR;
    }
    return in->err ? ZK_MARSHALLINGERROR : 0;
}
