/*
 * dbwalk.c - a fuzzy snapshot body in slices (see dbwalk.h).
 *
 * The stack: level 0 is the root; level i+1 is the child of level i named
 * by level i's last visited name.  A level owns its node's child names as
 * they were when the node was written, in one blob; `next` indexes the next
 * one to visit.  Between steps the tree may change, so a step first finds
 * every level's node again by name (depth lookups, nothing per node); where
 * a name is gone the walk drops that level and those below it: the node
 * was deleted after Z, and the log deletes it (or its replacement's create,
 * under the fuzzy rules, recreates it).
 */
#include "dbwalk.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "tree.h"

struct level {
    struct znode *node; /* valid within one step only */
    size_t plen;        /* its path's length in w->path */
    char *names;        /* its children's names, each NUL-terminated */
    uint32_t *off;      /* offsets of the names in `names` */
    uint32_t n, next;
};

struct dbwalk {
    struct db *db;
    struct level *lv;
    size_t depth, cap;
    char *path;
    size_t pathcap;
    uint8_t *acl_in;    /* acl_in[id]: the ACL section lists id */
    uint32_t acl_n;
    uint64_t nodes;
    struct jute_out head; /* what dbwalk_new wrote, for the first step */
    int head_rc;          /* and how that went */
    int started, done;
};

static int start(struct dbwalk *w, struct jute_out *out);

struct dbwalk *dbwalk_new(struct db *db)
{
    struct dbwalk *w = zk_xcalloc(1, sizeof *w);
    w->db = db;
    w->pathcap = 4096;
    w->path = zk_xmalloc(w->pathcap);
    jute_out_init(&w->head);
    w->head_rc = start(w, &w->head);
    return w;
}

uint64_t dbwalk_nodes(const struct dbwalk *w) { return w->nodes; }

static void level_free(struct level *l)
{
    free(l->names);
    free(l->off);
    memset(l, 0, sizeof *l);
}

void dbwalk_free(struct dbwalk *w)
{
    if (!w)
        return;
    while (w->depth)
        level_free(&w->lv[--w->depth]);
    free(w->lv);
    free(w->path);
    free(w->acl_in);
    jute_out_free(&w->head);
    free(w);
}

/* ---- the ACL section ---- */

static void note_acl(struct dbwalk *w, uint32_t id)
{
    if (id >= w->acl_n) {
        uint32_t n = id + 1 > 2 * w->acl_n ? id + 1 : 2 * w->acl_n;
        w->acl_in = zk_xrealloc(w->acl_in, n);
        memset(w->acl_in + w->acl_n, 0, n - w->acl_n);
        w->acl_n = n;
    }
    w->acl_in[id] = 1;
}

struct acl_emit {
    struct dbwalk *w;
    struct jute_out *out;
    int32_t count;
};

static void count_acl(uint32_t id, const struct acl_list *l, void *d)
{
    (void)id;
    (void)l;
    ((struct acl_emit *)d)->count++;
}

static void emit_acl(uint32_t id, const struct acl_list *l, void *d)
{
    struct acl_emit *e = d;
    jute_put_long(e->out, id);
    acl_list_encode(e->out, l);
    note_acl(e->w, id);
}

/* ---- nodes ---- */

/* Writes n's record; -EAGAIN if its ACL list is not in the section. */
static int emit_node(struct dbwalk *w, struct jute_out *out, const struct znode *n, size_t plen)
{
    if (n->acl >= w->acl_n || !w->acl_in[n->acl])
        return -EAGAIN;
    tree_put_node_record(out, w->path, plen, n);
    w->nodes++;
    return 0;
}

/* Pushes a level for n (path w->path[0, plen)) holding a copy of its
 * children's names; nothing when it has none. */
static void push_level(struct dbwalk *w, struct znode *n, size_t plen)
{
    uint32_t nk = tree_nkids(n);
    if (!nk)
        return;
    if (w->depth == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 16;
        w->lv = zk_xrealloc(w->lv, w->cap * sizeof *w->lv);
    }
    struct level *l = &w->lv[w->depth++];
    memset(l, 0, sizeof *l);
    l->node = n;
    l->plen = plen;
    l->off = zk_xmalloc(nk * sizeof *l->off);
    size_t bytes = 0, cap = (size_t)nk * 16;
    l->names = zk_xmalloc(cap);
    for (uint32_t i = 0, slots = tree_kid_slots(n); i < slots && l->n < nk; i++) {
        const struct znode *c = tree_kid(n, i);
        if (!c)
            continue;
        size_t len = tree_namelen(c);
        if (bytes + len + 1 > cap) {
            cap = 2 * cap > bytes + len + 1 ? 2 * cap : bytes + len + 1;
            l->names = zk_xrealloc(l->names, cap);
        }
        memcpy(l->names + bytes, c->name, len + 1);
        l->off[l->n++] = (uint32_t)bytes;
        bytes += len + 1;
    }
}

/* Appends "/" + name to the path after plen bytes; returns the new length. */
static size_t path_push(struct dbwalk *w, size_t plen, const char *name, size_t nlen)
{
    if (plen + nlen + 2 > w->pathcap) {
        w->pathcap = 2 * (plen + nlen + 2);
        w->path = zk_xrealloc(w->path, w->pathcap);
    }
    w->path[plen] = '/';
    memcpy(w->path + plen + 1, name, nlen);
    return plen + 1 + nlen;
}

/* Finds every level's node again after the tree may have changed; drops
 * the levels whose node is gone. */
static void revalidate(struct dbwalk *w)
{
    if (!w->depth)
        return;
    w->lv[0].node = tree_root(w->db->tree);
    for (size_t i = 1; i < w->depth; i++) {
        const struct level *up = &w->lv[i - 1];
        const char *name = up->names + up->off[up->next - 1];
        struct znode *n = tree_child(up->node, name, strlen(name));
        if (!n) {
            while (w->depth > i)
                level_free(&w->lv[--w->depth]);
            return;
        }
        w->lv[i].node = n;
    }
}

/* The part taken at Z, on the loop thread (dbwalk.h): the sessions, the
 * ACL section, the root and its child names. */
static int start(struct dbwalk *w, struct jute_out *out)
{
    db_put_sessions(w->db, out);
    struct acl_emit e = {w, out, 0};
    struct acl_cache *acls = tree_acls(w->db->tree);
    acl_foreach(acls, count_acl, &e);
    jute_put_int(out, e.count);
    acl_foreach(acls, emit_acl, &e);
    struct znode *root = tree_root(w->db->tree);
    int rc = emit_node(w, out, root, 0); /* the root's path is "" */
    if (!rc)
        push_level(w, root, 0);
    return rc;
}

int dbwalk_step(struct dbwalk *w, struct jute_out *out, size_t max_nodes)
{
    if (w->done)
        return 1;
    if (!w->started) {
        w->started = 1;
        jute_put_raw(out, w->head.p, w->head.len);
        jute_out_free(&w->head);
        jute_out_init(&w->head);
        return w->head_rc;
    }
    revalidate(w);
    for (size_t k = 0; k < max_nodes && w->depth;) {
        struct level *l = &w->lv[w->depth - 1];
        if (l->next == l->n) {
            level_free(l);
            w->depth--;
            continue;
        }
        const char *name = l->names + l->off[l->next++];
        size_t nlen = strlen(name);
        struct znode *c = tree_child(l->node, name, nlen);
        if (!c)
            continue; /* deleted since its parent was written */
        size_t plen = path_push(w, l->plen, name, nlen);
        int rc = emit_node(w, out, c, plen);
        if (rc)
            return rc;
        k++;
        push_level(w, c, plen); /* may move w->lv: l is not used again */
    }
    if (w->depth)
        return 0;
    jute_put_string(out, "/");
    w->done = 1;
    return 1;
}
