/*
 * apply.c - see apply.h.
 */
#include "apply.h"

#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "digest.h"
#include "log.h"
#include "quota.h"
#include "zk/proto.h"

size_t path_parent_len(const char *path, size_t len)
{
    const char *slash = len > 0 ? memrchr(path, '/', len) : NULL;
    return slash && slash > path ? (size_t)(slash - path) : 1;
}

static struct journal_undo *push_undo(struct journal *j, int32_t type, struct znode *n)
{
    if (j->nundo == j->capundo) {
        j->capundo = j->capundo ? j->capundo * 2 : 4;
        j->undo = zk_xrealloc(j->undo, (size_t)j->capundo * sizeof *j->undo);
    }
    struct journal_undo *u = &j->undo[j->nundo++];
    memset(u, 0, sizeof *u);
    u->type = type;
    u->node = n;
    u->parent = n->parent;
    if (n->parent) {
        u->parent_cversion = tree_cversion(n->parent);
        u->parent_pzxid = tree_pzxid(n->parent);
    }
    return u;
}

/* Queues an event about `path` for watchers who may read under ACL `acl`
 * (referenced here; journal_commit or journal_undo lets go). */
static void push_event(struct db *db, struct journal *j, int32_t type, const char *path, size_t len,
                       uint32_t acl)
{
    if (j->nev == j->capev) {
        j->capev = j->capev ? j->capev * 2 : 4;
        j->ev = zk_xrealloc(j->ev, (size_t)j->capev * sizeof *j->ev);
    }
    if (j->ntext + len + 1 > j->captext) {
        j->captext = j->captext * 2 > j->ntext + len + 1 ? j->captext * 2 : j->ntext + len + 256;
        j->text = zk_xrealloc(j->text, j->captext);
    }
    memcpy(j->text + j->ntext, path, len);
    j->text[j->ntext + len] = '\0';
    j->ev[j->nev] = (struct journal_event){.type = type, .acl = acl, .path_at = j->ntext};
    j->ntext += len + 1;
    acl_ref(tree_acls(db->tree), acl);
    j->nev++;
}

/* Lets go of every queued event. */
static void drop_events(struct db *db, struct journal *j)
{
    for (int i = 0; i < j->nev; i++)
        acl_unref(tree_acls(db->tree), j->ev[i].acl);
    j->nev = 0;
    j->ntext = 0;
}

static int apply_create(struct db *db, const struct txn *t, const struct txn_op *op,
                        int64_t zxid, struct journal *j)
{
    size_t len = strlen(op->path);
    size_t plen = path_parent_len(op->path, len);
    struct znode *parent = op->parent ? op->parent : tree_lookup_dir(db->tree, op->path, plen);
    if (!parent)
        return ZK_NONODE;
    const char *name = op->path + plen + (plen > 1);
    size_t nlen = len - (size_t)(name - op->path);
    if (nlen == 0)
        return ZK_BADARGUMENTS; /* "/" or "/a/": only a bad log record names no node */
    if (!op->parent && tree_child(parent, name, nlen)) /* (prep has just asked) */
        return ZK_NODEEXISTS;
    int32_t old_cv = tree_cversion(parent);
    int64_t old_pz = tree_pzxid(parent);
    /* Paths prep validated are the nodes' own: hash them without walking. */
    const char *ppath = op->parent ? op->path : NULL;
    digest_sub_at(db, parent, ppath, plen);
    uint32_t acl = acl_intern(tree_acls(db->tree), &op->acl);
    struct znode *n = tree_add(db->tree, parent, name, nlen, op->data.p, op->data.len, acl,
                               op->owner, zxid, t->time);
    acl_unref(tree_acls(db->tree), acl);
    /* Apache's DataTree.createNode: the parent takes the txn's cversion (and
     * this zxid as pzxid) only if it is higher, which live writes always are;
     * replayed onto a fuzzy snapshot it may not be. */
    int32_t cv = op->parent_cversion == -1 ? old_cv + 1 : op->parent_cversion;
    if (cv > old_cv) {
        tree_set_cversion(parent, cv);
    } else {
        tree_set_cversion(parent, old_cv);
        tree_set_pzxid(parent, old_pz);
    }
    digest_add_at(db, parent, ppath, plen);
    digest_add_at(db, n, ppath, len);
    struct journal_undo *u = push_undo(j, ZK_OP_CREATE, n);
    u->parent_cversion = old_cv;
    u->parent_pzxid = old_pz;
    push_event(db, j, ZK_EVENT_CREATED, op->path, len, n->acl);
    push_event(db, j, ZK_EVENT_CHILD, op->path, plen, parent->acl);
    quota_on_create(db, n, op->path, len, j);
    return 0;
}

static void delete_node(struct db *db, struct znode *n, int64_t zxid, struct journal *j,
                        const char *path, size_t len)
{
    struct znode *parent = n->parent;
    push_undo(j, ZK_OP_DELETE, n);
    size_t plen = path_parent_len(path, len);
    digest_sub_at(db, n, path, len); /* the path found n: it is n's own */
    digest_sub_at(db, parent, path, plen);
    tree_unlink(db->tree, n);
    /* Apache (DataTree.deleteNode) moves only pzxid; cversion counts
     * creations (tree_stat derives the reported value). */
    if (zxid > tree_pzxid(parent))
        tree_set_pzxid(parent, zxid);
    digest_add_at(db, parent, path, plen);
    push_event(db, j, ZK_EVENT_DELETED, path, len, n->acl);
    push_event(db, j, ZK_EVENT_CHILD, path, plen, parent->acl);
    quota_on_delete(db, path, len, n->datalen, j);
}

static int apply_delete(struct db *db, const struct txn_op *op, int64_t zxid, struct journal *j)
{
    size_t len = strlen(op->path);
    struct znode *n = tree_lookup(db->tree, op->path, len);
    if (!n || !n->parent)
        return ZK_NONODE;
    if (tree_nkids(n))
        return ZK_NOTEMPTY;
    delete_node(db, n, zxid, j, op->path, len);
    return 0;
}

static int apply_setdata(struct db *db, const struct txn *t, const struct txn_op *op,
                         int64_t zxid, struct journal *j)
{
    size_t len = strlen(op->path);
    struct znode *n = tree_lookup(db->tree, op->path, len);
    if (!n)
        return ZK_NONODE;
    struct journal_undo *u = push_undo(j, ZK_OP_SETDATA, n);
    u->old_version = n->version;
    u->old_mzxid = n->mzxid;
    u->old_mtime = tree_mtime(n);
    digest_sub_at(db, n, op->path, len); /* the path found n: it is n's own */
    u->old_data = tree_replace_data(db->tree, n, op->data.p, op->data.len, &u->old_datalen);
    n->version = op->version;
    n->mzxid = zxid;
    tree_set_mtime(n, t->time);
    digest_add_at(db, n, op->path, len);
    push_event(db, j, ZK_EVENT_CHANGED, op->path, len, n->acl);
    quota_on_setdata(db, op->path, len, u->old_datalen, op->data.len, j);
    return 0;
}

void journal_replace_data(struct db *db, struct znode *n, const void *data, int32_t len,
                          struct journal *j)
{
    struct journal_undo *u = push_undo(j, ZK_OP_SETDATA, n);
    u->old_version = n->version;
    u->old_mzxid = n->mzxid;
    u->old_mtime = tree_mtime(n);
    digest_sub(db, n);
    u->old_data = tree_replace_data(db->tree, n, data, len, &u->old_datalen);
    digest_add(db, n);
}

static int apply_setacl(struct db *db, const struct txn_op *op, struct journal *j)
{
    struct znode *n = tree_lookup(db->tree, op->path, strlen(op->path));
    if (!n)
        return ZK_NONODE;
    struct journal_undo *u = push_undo(j, ZK_OP_SETACL, n);
    u->old_acl = n->acl;
    u->old_version = tree_aversion(n);
    acl_ref(tree_acls(db->tree), n->acl); /* keep the old list alive for undo */
    uint32_t acl = acl_intern(tree_acls(db->tree), &op->acl);
    tree_set_acl(db->tree, n, acl);
    acl_unref(tree_acls(db->tree), acl);
    digest_sub(db, n); /* the ACL is not hashed, aversion is */
    tree_set_aversion(n, op->version);
    digest_add(db, n);
    return 0;
}

int apply_op(struct db *db, const struct txn *t, const struct txn_op *op, int64_t zxid,
             struct journal *j)
{
    assert(op->path != NULL);
    assert(zxid > db->last_zxid); /* ops apply at the zxid of the txn being written */
    switch (op->type) {
    case ZK_OP_CREATE:
        return apply_create(db, t, op, zxid, j);
    case ZK_OP_DELETE:
        return apply_delete(db, op, zxid, j);
    case ZK_OP_SETDATA:
        return apply_setdata(db, t, op, zxid, j);
    case ZK_OP_SETACL:
        db->acl_zxid = zxid; /* (left as is if undone: later than needed is safe) */
        return apply_setacl(db, op, j);
    case ZK_OP_CHECK: /* logged inside a multi by Apache; changes nothing */
        return 0;
    default:
        return ZK_BADARGUMENTS;
    }
}

void journal_undo(struct db *db, struct journal *j)
{
    for (int i = j->nundo - 1; i >= 0; i--) {
        struct journal_undo *u = &j->undo[i];
        struct znode *n = u->node;
        /* The digest: out go the nodes as they are, in as they were. */
        if (u->type != ZK_OP_DELETE)
            digest_sub(db, n);
        if (u->parent)
            digest_sub(db, u->parent);
        switch (u->type) {
        case ZK_OP_CREATE:
            tree_unlink(db->tree, n);
            tree_node_free(db->tree, n);
            break;
        case ZK_OP_DELETE:
            tree_relink(db->tree, n);
            break;
        case ZK_OP_SETDATA:
            tree_set_data(db->tree, n, u->old_data, u->old_datalen);
            free(u->old_data);
            n->version = u->old_version;
            n->mzxid = u->old_mzxid;
            tree_set_mtime(n, u->old_mtime);
            u->old_data = NULL;
            break;
        case ZK_OP_SETACL:
            tree_set_acl(db->tree, n, u->old_acl);
            acl_unref(tree_acls(db->tree), u->old_acl);
            tree_set_aversion(n, u->old_version);
            break;
        }
        if (u->parent) {
            tree_set_cversion(u->parent, u->parent_cversion);
            tree_set_pzxid(u->parent, u->parent_pzxid);
            digest_add(db, u->parent);
        }
        if (u->type != ZK_OP_CREATE)
            digest_add(db, n);
    }
    j->nundo = 0;
    drop_events(db, j);
}

/* ---- firing events ---- */

struct notify_ctx {
    struct db *db;
    int32_t type;
    const char *path;
    const struct acl_list *acl; /* the event's */
    int64_t zxid;
};

static void notify_owner(struct watch_owner *o, void *d)
{
    struct notify_ctx *n = d;
    n->db->hooks.watch_event(o, n->type, n->path, n->zxid, n->acl, n->db->hooks.data);
}

static void fire(struct db *db, const struct journal *j, const struct journal_event *e,
                 int64_t zxid)
{
    const char *path = j->text + e->path_at;
    struct notify_ctx n = {db, e->type, path, acl_get(tree_acls(db->tree), e->acl), zxid};
    size_t len = strlen(path);
    switch (e->type) {
    case ZK_EVENT_CREATED:
    case ZK_EVENT_CHANGED:
        watches_trigger(db->data_watches, path, len, e->type, notify_owner, &n, NULL, NULL);
        break;
    case ZK_EVENT_CHILD:
        watches_trigger(db->child_watches, path, len, e->type, notify_owner, &n, NULL, NULL);
        break;
    case ZK_EVENT_DELETED: {
        struct pset told = {0};
        watches_trigger(db->data_watches, path, len, e->type, notify_owner, &n, NULL, &told);
        watches_trigger(db->child_watches, path, len, e->type, notify_owner, &n, &told, NULL);
        pset_free(&told);
        break;
    }
    }
}

struct znode *journal_last_created(const struct journal *j)
{
    for (int i = j->nundo; i-- > 0;) /* quota updates may follow the create */
        if (j->undo[i].type == ZK_OP_CREATE)
            return j->undo[i].node;
    return NULL;
}

void journal_commit(struct db *db, struct journal *j, int64_t zxid)
{
    for (int i = 0; i < j->nev; i++)
        fire(db, j, &j->ev[i], zxid);
    drop_events(db, j);
    for (int i = 0; i < j->nundo; i++) {
        struct journal_undo *u = &j->undo[i];
        if (u->type == ZK_OP_DELETE)
            tree_node_free(db->tree, u->node);
        else if (u->type == ZK_OP_SETDATA)
            free(u->old_data);
        else if (u->type == ZK_OP_SETACL)
            acl_unref(tree_acls(db->tree), u->old_acl);
    }
    j->nundo = 0;
}

void journal_free(struct journal *j)
{
    assert(j->nundo == 0 && j->nev == 0); /* committed or undone first */
    free(j->undo);
    free(j->ev);
    free(j->text);
    memset(j, 0, sizeof *j);
}

/* ---- whole transactions ---- */

struct close_ctx {
    struct db *db;
    int64_t zxid;
    struct journal *j;
    char *buf;
    size_t cap;
};

static void close_ephemeral(struct znode *n, void *d)
{
    struct close_ctx *cc = d;
    size_t len = tree_path(n, cc->buf, cc->cap);
    if (len + 1 > cc->cap) {
        cc->cap = 2 * (len + 1);
        cc->buf = zk_xrealloc(cc->buf, cc->cap);
        len = tree_path(n, cc->buf, cc->cap);
    }
    if (tree_nkids(n) == 0)
        delete_node(cc->db, n, cc->zxid, cc->j, cc->buf, len);
}

/* A delete's mark on the parent when the node is already gone: a fuzzy
 * snapshot (dbwalk.h) can hold the parent as it was before the delete and
 * miss the node, so replaying the delete must still move the parent's
 * pzxid (Apache's replay leaves it stale, and its digest then differs). */
static void bump_parent_pzxid(struct db *db, const char *path, int64_t zxid)
{
    size_t len = strlen(path);
    if (len < 2)
        return;
    struct znode *parent = tree_lookup(db->tree, path, path_parent_len(path, len));
    if (parent && zxid > tree_pzxid(parent)) {
        digest_sub(db, parent);
        tree_set_pzxid(parent, zxid);
        digest_add(db, parent);
    }
}

static void close_session(struct db *db, const struct txn *t, int64_t zxid, struct journal *j)
{
    int64_t id = t->session;
    struct close_ctx cc = {db, zxid, j, zk_xmalloc(256), 256};
    tree_foreach_ephemeral(db->tree, id, close_ephemeral, &cc);
    free(cc.buf);
    /* paths2Delete: a no-op but for a replay onto a fuzzy snapshot. */
    for (int i = 0; i < t->nops; i++)
        if (t->ops[i].path)
            bump_parent_pzxid(db, t->ops[i].path, zxid);
    struct session *se = sessions_get(&db->sessions, id);
    if (se) {
        if (db->hooks.session_closed)
            db->hooks.session_closed(se, db->hooks.data);
        sessions_remove(&db->sessions, se);
    }
}

int apply_txn(struct db *db, const struct txn *t, int64_t zxid, struct journal *j)
{
    assert(j->nundo == 0 && j->nev == 0);
    int rc = 0;
    switch (t->type) {
    case ZK_OP_CREATESESSION:
        sessions_add(&db->sessions, t->session, t->timeout, clock_mono_ms());
        break;
    case ZK_OP_CLOSESESSION:
        close_session(db, t, zxid, j);
        break;
    default:
        for (int i = 0; i < t->nops && !rc; i++)
            rc = apply_op(db, t, &t->ops[i], zxid, j);
        if (rc)
            journal_undo(db, j);
    }
    return rc;
}

/* Apache's fix-up for a create whose node a fuzzy snapshot already holds
 * (DataTree.processTxn): the parent takes the create's cversion and zxid if
 * the snapshot missed them (the node was created, then deleted, around it). */
static void fix_parent(struct db *db, const struct txn_op *op, int64_t zxid)
{
    size_t len = strlen(op->path);
    struct znode *parent = tree_lookup(db->tree, op->path, path_parent_len(op->path, len));
    if (parent && op->parent_cversion > tree_cversion(parent)) {
        digest_sub(db, parent);
        tree_set_cversion(parent, op->parent_cversion);
        tree_set_pzxid(parent, zxid);
        digest_add(db, parent);
    }
}

/*
 * Applies a committed txn that does not fit the tree as a whole, op by op,
 * keeping what fits.  Apache's snapshots are fuzzy (taken while writes go
 * on), so the log replayed onto one may repeat ops the snapshot already
 * holds: Apache's DataTree.processTxn applies each op of a multi on its
 * own, ignores NodeExists and NoNode, and fixes up the parent of a create
 * that exists, and here also marks the parent of a delete whose node is
 * gone.  zkd's background snapshots are fuzzy too (dbwalk.h).  Returns 0
 * if some op applied.
 */
static int apply_fuzzy(struct db *db, const struct txn *t, int64_t zxid, struct journal *j)
{
    int applied = 0, rc = 0;
    for (int i = 0; i < t->nops; i++) {
        int r = apply_op(db, t, &t->ops[i], zxid, j);
        if (r == ZK_NODEEXISTS && t->ops[i].type == ZK_OP_CREATE)
            fix_parent(db, &t->ops[i], zxid);
        if (r == ZK_NONODE && t->ops[i].type == ZK_OP_DELETE)
            bump_parent_pzxid(db, t->ops[i].path, zxid);
        applied |= r == 0;
        if (r && !rc)
            rc = r;
    }
    /* A log replayed onto a snapshot walked during a fast load repeats up
     * to millions of its creates: one line each made a restart at 10M
     * znodes spend seconds formatting them.  The first ten, then powers of
     * two. */
    static unsigned long partial_n;
    if (rc && (++partial_n <= 10 || (partial_n & (partial_n - 1)) == 0))
        log_info("transaction 0x%" PRIx64 " (type %d) applied in part: %s (replay onto a fuzzy "
                 "snapshot; %lu so far)", (uint64_t)zxid, t->type, zk_errname(rc), partial_n);
    return applied || t->nops == 0 ? 0 : rc;
}

int apply_committed(struct db *db, const struct txn *t, int64_t zxid, struct journal *j)
{
    int rc = apply_txn(db, t, zxid, j);
    if (rc && t->nops > 0)
        rc = apply_fuzzy(db, t, zxid, j);
    return rc;
}
