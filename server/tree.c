/*
 * tree.c - the znode tree.  See tree.h for the contract.
 *
 * Children: each node owns `kids`, an open-addressing table of child pointers
 * probed linearly by the child's name hash (FNV-1a), with backward-shift
 * deletion so there are no tombstones.  The table is kept under 75% full and
 * shrinks when a node loses most of its children.
 *
 * Ephemerals: `owners` maps a session id to a pset of its nodes, so closing a
 * session finds its ephemerals without a tree walk (Apache's
 * DataTree.ephemerals).  `special` is the set of container and TTL nodes the
 * reaper has to look at.
 *
 * Snapshot image records (all jute-encoded, first byte = kind):
 *   'A' u32 id, ACL vector           - one per live ACL list
 *   'N' path, data, u32 acl id, Stat fields (czxid mzxid ctime mtime version
 *       cversion aversion owner pzxid)   - pre-order, so parents come first
 */
#include "tree.h"

#include <stdlib.h>
#include <string.h>

#include "hset.h"

struct tree {
    struct znode *root;
    struct acl_cache *acls;
    struct i64map owners;  /* session -> struct pset* of nodes */
    struct pset special;   /* container and TTL nodes */
    uint64_t nodes;
    uint64_t data_bytes;
};

#define DLEN(n) ((n)->datalen > 0 ? (n)->datalen : 0)

static uint32_t name_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

static struct znode *node_new(const char *name, size_t nlen)
{
    struct znode *n = zk_xcalloc(1, sizeof *n + nlen + 1);
    memcpy(n->name, name, nlen);
    n->name[nlen] = 0;
    n->namelen = (uint32_t)nlen;
    n->hash = name_hash(name, nlen);
    return n;
}

/* ---- child table ---- */

static void kids_insert_raw(struct znode *p, struct znode *c)
{
    uint32_t mask = p->kid_cap - 1;
    uint32_t i = c->hash & mask;
    while (p->kids[i])
        i = (i + 1) & mask;
    p->kids[i] = c;
}

static void kids_resize(struct znode *p, uint32_t cap)
{
    struct znode **old = p->kids;
    uint32_t oldcap = p->kid_cap;
    p->kid_cap = cap;
    p->kids = cap ? zk_xcalloc(cap, sizeof *p->kids) : NULL;
    for (uint32_t i = 0; i < oldcap; i++)
        if (old[i])
            kids_insert_raw(p, old[i]);
    free(old);
}

static void kids_add(struct znode *p, struct znode *c)
{
    if ((p->nkids + 1) * 4 > p->kid_cap * 3)
        kids_resize(p, p->kid_cap ? p->kid_cap * 2 : 4);
    kids_insert_raw(p, c);
    p->nkids++;
}

static void kids_del(struct znode *p, struct znode *c)
{
    uint32_t mask = p->kid_cap - 1;
    uint32_t i = c->hash & mask;
    while (p->kids[i] != c)
        i = (i + 1) & mask;
    uint32_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!p->kids[j])
            break;
        uint32_t k = p->kids[j]->hash & mask;
        if ((j > i && (k <= i || k > j)) || (j < i && (k <= i && k > j))) {
            p->kids[i] = p->kids[j];
            i = j;
        }
    }
    p->kids[i] = NULL;
    p->nkids--;
    if (p->nkids == 0)
        kids_resize(p, 0);
    else if (p->kid_cap > 16 && p->nkids * 8 < p->kid_cap)
        kids_resize(p, p->kid_cap / 2);
}

struct znode *tree_child(const struct znode *n, const char *name, size_t len)
{
    if (!n->kid_cap)
        return NULL;
    uint32_t h = name_hash(name, len);
    uint32_t mask = n->kid_cap - 1;
    for (uint32_t i = h & mask; n->kids[i]; i = (i + 1) & mask) {
        struct znode *c = n->kids[i];
        if (c->hash == h && c->namelen == len && !memcmp(c->name, name, len))
            return c;
    }
    return NULL;
}

void tree_foreach_child(const struct znode *n, void (*fn)(struct znode *c, void *d), void *d)
{
    for (uint32_t i = 0; i < n->kid_cap; i++)
        if (n->kids[i])
            fn(n->kids[i], d);
}

/* ---- tree ---- */

static void track_owner(struct tree *t, struct znode *n)
{
    if (owner_is_session(n->owner)) {
        struct pset *s = i64map_get(&t->owners, n->owner);
        if (!s) {
            s = zk_xcalloc(1, sizeof *s);
            i64map_put(&t->owners, n->owner, s);
        }
        pset_add(s, n);
    } else if (n->owner) {
        pset_add(&t->special, n);
    }
}

static void untrack_owner(struct tree *t, struct znode *n)
{
    if (owner_is_session(n->owner)) {
        struct pset *s = i64map_get(&t->owners, n->owner);
        if (s && pset_del(s, n) && s->n == 0) {
            i64map_del(&t->owners, n->owner);
            pset_free(s);
            free(s);
        }
    } else if (n->owner) {
        pset_del(&t->special, n);
    }
}

struct tree *tree_new_empty(void)
{
    struct tree *t = zk_xcalloc(1, sizeof *t);
    t->acls = acl_cache_new();
    t->root = node_new("", 0);
    t->nodes = 1;
    return t;
}

struct tree *tree_new(void)
{
    struct tree *t = tree_new_empty();
    t->root->acl = acl_intern(t->acls, &acl_open_unsafe);
    struct znode *zk = tree_add(t, t->root, "zookeeper", 9, NULL, 0,
                                acl_intern(t->acls, &acl_open_unsafe), 0, 0, 0);
    acl_unref(t->acls, zk->acl);
    uint32_t open = acl_intern(t->acls, &acl_open_unsafe);
    tree_add(t, zk, "quota", 5, NULL, 0, open, 0, 0, 0);
    acl_unref(t->acls, open);
    uint32_t ro = acl_intern(t->acls, &acl_read_unsafe);
    struct znode *config = tree_add(t, zk, "config", 6, NULL, 0, ro, 0, 0, 0);
    config->aversion = -1; /* as Apache's DataTree.addConfigNode leaves it */
    acl_unref(t->acls, ro);
    /* The built-in nodes are not "changes": Apache shows cversion 0 here. */
    t->root->cversion = 0;
    zk->cversion = 0;
    return t;
}

static void free_subtree(struct tree *t, struct znode *n)
{
    for (uint32_t i = 0; i < n->kid_cap; i++)
        if (n->kids[i])
            free_subtree(t, n->kids[i]);
    free(n->kids);
    free(n->data);
    free(n);
}

void tree_free(struct tree *t)
{
    if (!t)
        return;
    free_subtree(t, t->root);
    int64_t k;
    void *v;
    I64MAP_FOREACH(&t->owners, k, v)
    {
        pset_free(v);
        free(v);
    }
    i64map_free(&t->owners);
    pset_free(&t->special);
    acl_cache_free(t->acls);
    free(t);
}

struct acl_cache *tree_acls(struct tree *t) { return t->acls; }
struct znode *tree_root(struct tree *t) { return t->root; }
uint64_t tree_node_count(const struct tree *t) { return t->nodes; }
uint64_t tree_data_bytes(const struct tree *t) { return t->data_bytes; }

struct znode *tree_lookup(struct tree *t, const char *path, size_t len)
{
    if (len == 0)
        return t->root; /* Apache's DataTree also maps "" to the root */
    if (path[0] != '/')
        return NULL;
    struct znode *n = t->root;
    size_t i = 1;
    while (i < len && n) {
        size_t j = i;
        while (j < len && path[j] != '/')
            j++;
        if (j == i)
            return NULL; /* empty component */
        n = tree_child(n, path + i, j - i);
        i = j + 1;
        if (j + 1 == len && j < len)
            return NULL; /* trailing slash */
    }
    return n;
}

void tree_stat(const struct znode *n, struct zk_stat *st)
{
    st->czxid = n->czxid;
    st->mzxid = n->mzxid;
    st->ctime = n->ctime;
    st->mtime = n->mtime;
    st->version = n->version;
    /* Apache stores only creations in cversion and reports creations plus
     * deletions, i.e. 2 * creations - current children (DataNode.copyStat). */
    st->cversion = (int32_t)(2u * (uint32_t)n->cversion - n->nkids); /* wraps like Java */
    st->aversion = n->aversion;
    /* Containers and TTL nodes report 0 (Apache's getClientEphemeralOwner). */
    st->ephemeral_owner = owner_is_session(n->owner) ? n->owner : 0;
    st->data_length = n->datalen > 0 ? n->datalen : 0;
    st->num_children = (int32_t)n->nkids;
    st->pzxid = n->pzxid;
}

size_t tree_path(const struct znode *n, char *buf, size_t cap)
{
    if (!n->parent) {
        if (cap >= 2) {
            buf[0] = '/';
            buf[1] = 0;
        }
        return 1;
    }
    size_t len = 0;
    for (const struct znode *m = n; m->parent; m = m->parent)
        len += 1 + m->namelen;
    if (len + 1 > cap)
        return len;
    buf[len] = 0;
    size_t at = len;
    for (const struct znode *m = n; m->parent; m = m->parent) {
        at -= m->namelen;
        memcpy(buf + at, m->name, m->namelen);
        buf[--at] = '/';
    }
    return len;
}

struct znode *tree_add(struct tree *t, struct znode *parent, const char *name, size_t nlen,
                       const void *data, int32_t dlen, uint32_t acl, int64_t owner,
                       int64_t zxid, int64_t time)
{
    struct znode *n = node_new(name, nlen);
    n->parent = parent;
    if (dlen > 0) {
        n->data = zk_xmalloc((size_t)dlen);
        memcpy(n->data, data, (size_t)dlen);
        n->datalen = dlen;
    } else {
        n->datalen = dlen < 0 ? -1 : 0; /* -1 keeps a null value null, as Apache does */
    }
    n->acl = acl;
    acl_ref(t->acls, acl);
    n->owner = owner;
    n->czxid = n->mzxid = n->pzxid = zxid;
    n->ctime = n->mtime = time;
    kids_add(parent, n);
    parent->cversion++;
    parent->pzxid = zxid;
    track_owner(t, n);
    t->nodes++;
    t->data_bytes += (uint64_t)DLEN(n);
    return n;
}

void tree_unlink(struct tree *t, struct znode *n)
{
    kids_del(n->parent, n);
    untrack_owner(t, n);
    t->nodes--;
    t->data_bytes -= (uint64_t)DLEN(n);
}

void tree_relink(struct tree *t, struct znode *n)
{
    kids_add(n->parent, n);
    track_owner(t, n);
    t->nodes++;
    t->data_bytes += (uint64_t)DLEN(n);
}

void tree_node_free(struct tree *t, struct znode *n)
{
    acl_unref(t->acls, n->acl);
    free(n->kids);
    free(n->data);
    free(n);
}

void tree_set_data(struct tree *t, struct znode *n, const void *data, int32_t dlen)
{
    t->data_bytes -= (uint64_t)DLEN(n);
    free(n->data);
    n->data = NULL;
    n->datalen = dlen > 0 ? dlen : dlen < 0 ? -1 : 0;
    if (dlen > 0) {
        n->data = zk_xmalloc((size_t)dlen);
        memcpy(n->data, data, (size_t)dlen);
    }
    t->data_bytes += (uint64_t)DLEN(n);
}

char *tree_replace_data(struct tree *t, struct znode *n, const void *data, int32_t dlen,
                        int32_t *oldlen)
{
    char *old = n->data;
    *oldlen = n->datalen;
    t->data_bytes -= (uint64_t)DLEN(n);
    n->data = NULL;
    n->datalen = 0;
    tree_set_data(t, n, data, dlen);
    return old;
}

void tree_set_acl(struct tree *t, struct znode *n, uint32_t acl)
{
    acl_ref(t->acls, acl);
    acl_unref(t->acls, n->acl);
    n->acl = acl;
}

void tree_foreach_ephemeral(struct tree *t, int64_t session, void (*fn)(struct znode *, void *),
                            void *d)
{
    struct pset *s = i64map_get(&t->owners, session);
    if (!s)
        return;
    /* fn may delete nodes: iterate over a copy. */
    size_t n = 0;
    struct znode **v = zk_xmalloc((s->n ? s->n : 1) * sizeof *v);
    void *p;
    PSET_FOREACH(s, p) v[n++] = p;
    for (size_t i = 0; i < n; i++)
        fn(v[i], d);
    free(v);
}

size_t tree_ephemeral_count(struct tree *t, int64_t session)
{
    struct pset *s = i64map_get(&t->owners, session);
    return s ? s->n : 0;
}

void tree_foreach_owner(struct tree *t, void (*fn)(int64_t, size_t, void *), void *d)
{
    int64_t k;
    void *v;
    I64MAP_FOREACH(&t->owners, k, v) fn(k, ((struct pset *)v)->n, d);
}

void tree_foreach_special(struct tree *t, void (*fn)(struct znode *, void *), void *d)
{
    size_t n = 0;
    struct znode **v = zk_xmalloc((t->special.n ? t->special.n : 1) * sizeof *v);
    void *p;
    PSET_FOREACH(&t->special, p) v[n++] = p;
    for (size_t i = 0; i < n; i++)
        fn(v[i], d);
    free(v);
}

uint64_t tree_count_descendants(const struct znode *n)
{
    uint64_t c = 0;
    for (uint32_t i = 0; i < n->kid_cap; i++)
        if (n->kids[i])
            c += 1 + tree_count_descendants(n->kids[i]);
    return c;
}

/* ---- snapshot image ---- */

struct ser {
    int (*put)(const void *, size_t, void *);
    void *d;
    struct jute_out out;
    char *path;
    size_t pathcap;
    int rc;
};

static void ser_acl(uint32_t id, const struct acl_list *l, void *d)
{
    struct ser *s = d;
    if (s->rc)
        return;
    s->out.len = 0;
    jute_put_raw(&s->out, "A", 1);
    jute_put_int(&s->out, (int32_t)id);
    acl_list_encode(&s->out, l);
    s->rc = s->put(s->out.p, s->out.len, s->d);
}

static void ser_node(struct ser *s, struct znode *n, size_t plen)
{
    if (s->rc)
        return;
    s->out.len = 0;
    jute_put_raw(&s->out, "N", 1);
    jute_put_buffer(&s->out, s->path, (int32_t)(plen ? plen : 1));
    jute_put_buffer(&s->out, n->data, n->datalen);
    jute_put_int(&s->out, (int32_t)n->acl);
    jute_put_long(&s->out, n->czxid);
    jute_put_long(&s->out, n->mzxid);
    jute_put_long(&s->out, n->ctime);
    jute_put_long(&s->out, n->mtime);
    jute_put_int(&s->out, n->version);
    jute_put_int(&s->out, n->cversion);
    jute_put_int(&s->out, n->aversion);
    jute_put_long(&s->out, n->owner);
    jute_put_long(&s->out, n->pzxid);
    s->rc = s->put(s->out.p, s->out.len, s->d);
    for (uint32_t i = 0; i < n->kid_cap && !s->rc; i++) {
        struct znode *c = n->kids[i];
        if (!c)
            continue;
        size_t need = plen + 1 + c->namelen + 1;
        if (need > s->pathcap) {
            s->pathcap = need * 2;
            s->path = zk_xrealloc(s->path, s->pathcap);
        }
        s->path[plen] = '/';
        memcpy(s->path + plen + 1, c->name, c->namelen);
        ser_node(s, c, plen + 1 + c->namelen);
    }
}

int tree_serialize(struct tree *t, int (*put)(const void *, size_t, void *), void *d)
{
    struct ser s = {put, d, {0}, NULL, 0, 0};
    jute_out_init(&s.out);
    acl_foreach(t->acls, ser_acl, &s);
    s.pathcap = 4096;
    s.path = zk_xmalloc(s.pathcap);
    s.path[0] = '/';
    ser_node(&s, t->root, 0);
    free(s.path);
    jute_out_free(&s.out);
    return s.rc;
}

static int load_node(struct tree *t, struct jute_in *in)
{
    struct zk_slice path = jute_get_buffer(in);
    struct zk_slice data = jute_get_buffer(in);
    uint32_t acl = (uint32_t)jute_get_int(in);
    struct znode tmp;
    tmp.czxid = jute_get_long(in);
    tmp.mzxid = jute_get_long(in);
    tmp.ctime = jute_get_long(in);
    tmp.mtime = jute_get_long(in);
    tmp.version = jute_get_int(in);
    tmp.cversion = jute_get_int(in);
    tmp.aversion = jute_get_int(in);
    tmp.owner = jute_get_long(in);
    tmp.pzxid = jute_get_long(in);
    if (in->err || path.len < 1 || path.p[0] != '/' || !acl_get(t->acls, acl))
        return -1;
    struct znode *n;
    if (path.len == 1) {
        n = t->root;
        tree_set_data(t, n, data.p, data.len);
        tree_set_acl(t, n, acl);
    } else {
        const char *slash = path.p + path.len - 1;
        while (*slash != '/')
            slash--;
        size_t plen = (size_t)(slash - path.p);
        struct znode *parent = plen ? tree_lookup(t, path.p, plen) : t->root;
        if (!parent)
            return -1;
        const char *name = slash + 1;
        size_t nlen = (size_t)(path.p + path.len - name);
        n = tree_child(parent, name, nlen);
        if (n) {
            untrack_owner(t, n);
            tree_set_data(t, n, data.p, data.len);
            tree_set_acl(t, n, acl);
        } else {
            int32_t cversion = parent->cversion;
            int64_t pzxid = parent->pzxid;
            n = tree_add(t, parent, name, nlen, data.p, data.len, acl, 0, 0, 0);
            parent->cversion = cversion; /* the image carries the real values */
            parent->pzxid = pzxid;
            untrack_owner(t, n);
        }
    }
    n->czxid = tmp.czxid;
    n->mzxid = tmp.mzxid;
    n->ctime = tmp.ctime;
    n->mtime = tmp.mtime;
    n->version = tmp.version;
    n->cversion = tmp.cversion;
    n->aversion = tmp.aversion;
    n->owner = tmp.owner;
    n->pzxid = tmp.pzxid;
    track_owner(t, n);
    return 0;
}

int tree_load_record(struct tree *t, const void *rec, size_t len)
{
    if (len < 1)
        return -1;
    struct jute_in in;
    jute_in_init(&in, (const uint8_t *)rec + 1, len - 1);
    char kind = *(const char *)rec;
    if (kind == 'A') {
        uint32_t id = (uint32_t)jute_get_int(&in);
        struct acl_list l;
        if (acl_list_decode(&in, &l))
            return -1;
        int rc = acl_install(t->acls, id, &l);
        acl_list_free(&l);
        return rc;
    }
    if (kind == 'N')
        return load_node(t, &in);
    return -1;
}
