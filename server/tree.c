/*
 * tree.c - the znode tree.  See tree.h for the contract.
 *
 * Children: a parent owns `ext->kids`, an open-addressing table of tagged
 * child pointers (see tree.h) probed linearly from the slot the name's hash
 * maps to (the hash times the capacity, over 2^32, so any capacity works),
 * with backward-shift deletion so there are no tombstones.  A table of up
 * to 65,536 slots grows when an insert would fill it past 7/8, to a load of
 * 3/4: ~9.9 bytes per child on average.  At 7/8 a miss probes ~32 slots, so
 * each slot carries 16 bits of the hash and a probe reads a child's name
 * only when they match.  In these tables the tag is the hash's top 16 bits
 * and alone decides the home slot, so a rebuild or a backward shift reads no
 * child.  Larger tables (a parent of ~57,000 children or more) are few: they
 * favour the loop over memory, grow at 3/4 to 3/8 and tag with the low
 * bits; a rebuild that involves one reads every child to rehash its name,
 * so it moves them a few slots per later change (kids_move_step) rather
 * than at once.  Any table shrinks when under 1/8 full.  The full hash is recomputed from the name rather
 * than stored in every znode: names are short, and ten million leaves would
 * pay 4 bytes each for it.
 *
 * Memory: see struct znode in tree.h.  A leaf with a small value costs one
 * block of the tree's node pool (header + name + value) and a slot in its
 * parent's table; the optional struct znode_ext is allocated the first time
 * a field in it leaves its default (ext_of), and freed with the node.
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

#include <assert.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "hset.h"
#include "nodepool.h"

#define DIR_MEMO_MAX 240 /* longer parent paths are not remembered */

struct tree {
    struct nodepool pool;  /* every znode's block */
    struct znode *root;
    struct acl_cache *acls;
    struct i64map owners;  /* session -> struct pset* of nodes */
    struct pset special;   /* container and TTL nodes */
    uint64_t nodes;
    uint64_t data_bytes;
    struct tree_kid_walk *walks; /* open walks (tree.h); rarely more than one */
    struct {                     /* tree_lookup_dir's last answer; node NULL: none */
        struct znode *node;
        size_t len;
        char path[DIR_MEMO_MAX];
    } dir_memo;
};

#define DLEN(n) ((n)->datalen > 0 ? (n)->datalen : 0)

/* FNV-1a, then murmur3's finalizer: the slot comes from the top bits and
 * the tag from the bottom ones, and sibling names differ in a byte or two. */
static uint32_t name_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

static uint32_t node_hash(const struct znode *n) { return name_hash(n->name, tree_namelen(n)); }

static char *inline_value(struct znode *n) { return n->name + tree_namelen(n) + 1; }

#define HEADER offsetof(struct znode, name)

/* The pool block size of a node with this name and value room. */
static size_t node_size(size_t nlen, size_t datacap)
{
    return nodepool_size(HEADER + nlen + 1 + datacap);
}

/* A zeroed node with room for at least `datacap` value bytes after its
 * name (0 when that is more than datacap can say: the value then lives out
 * of line).  A name of ZNODE_NAME_IN_EXT bytes or more needs its length
 * put in ext by the caller (once czxid is set: see ext_of). */
static struct znode *node_new(struct tree *t, const char *name, size_t nlen, size_t datacap)
{
    if (datacap > UINT16_MAX)
        datacap = 0;
    size_t size = node_size(nlen, datacap);
    struct znode *n = nodepool_alloc(&t->pool, size);
    memcpy(n->name, name, nlen);
    n->name[nlen] = 0;
    n->short_namelen = nlen < ZNODE_NAME_IN_EXT ? (uint16_t)nlen : ZNODE_NAME_IN_EXT;
    /* The pool's rounding is value room too (it is below the grain, so
     * node_size gives the same size back). */
    size_t room = size - HEADER - nlen - 1;
    n->datacap = (uint16_t)(room > UINT16_MAX ? datacap : room);
    return n;
}

/* n's ext, allocated with the defaults the accessors in tree.h report. */
static struct znode_ext *ext_of(struct znode *n)
{
    if (!n->ext) {
        n->ext = zk_xcalloc(1, sizeof *n->ext);
        n->ext->pzxid = n->czxid;
    }
    return n->ext;
}

/* Frees n, its value and its child table (not the children). */
static void node_release(struct tree *t, struct znode *n)
{
    size_t size = node_size(tree_namelen(n), n->datacap);
    if (n->ext) {
        free(n->ext->kids);
        if (n->ext->move) {
            free(n->ext->move->slots);
            free(n->ext->move);
        }
        free(n->ext->data);
        free(n->ext);
    }
    nodepool_free(&t->pool, n, size);
}

/* Stores a value, inline when it fits in datacap.  `data` may point at n's
 * current value. */
static void value_store(struct znode *n, const void *data, int32_t dlen)
{
    char *old = n->ext ? n->ext->data : NULL;
    size_t len = dlen > 0 ? (size_t)dlen : 0;
    if (len > n->datacap) {
        char *buf = zk_xmalloc(len);
        memcpy(buf, data, len);
        ext_of(n)->data = buf;
    } else {
        if (len)
            memmove(inline_value(n), data, len);
        if (old)
            n->ext->data = NULL;
    }
    free(old);
    n->datalen = dlen > 0 ? dlen : dlen < 0 ? -1 : 0; /* -1 keeps null data null */
}

static void set_owner(struct znode *n, int64_t owner)
{
    if (owner || n->ext)
        ext_of(n)->owner = owner;
}

void tree_set_cversion(struct znode *n, int32_t cversion)
{
    if (cversion || n->ext)
        ext_of(n)->cversion = cversion;
}

void tree_set_pzxid(struct znode *n, int64_t pzxid)
{
    if (pzxid != n->czxid || n->ext)
        ext_of(n)->pzxid = pzxid;
}

void tree_set_mtime(struct znode *n, int64_t mtime)
{
    int64_t delta;
    if (!__builtin_sub_overflow(mtime, n->ctime, &delta) && delta > INT32_MIN &&
        delta <= INT32_MAX) {
        n->mtime_delta = (int32_t)delta;
    } else {
        ext_of(n)->mtime = mtime;
        n->mtime_delta = ZNODE_MTIME_IN_EXT;
    }
}

void tree_set_aversion(struct znode *n, int32_t aversion)
{
    if (aversion || n->ext)
        ext_of(n)->aversion = aversion;
}

/* ---- child table ---- */

#define SLOT_PTR(s) ((struct znode *)(uintptr_t)((s) & ((UINT64_C(1) << 48) - 1)))
#define SLOT_TAG(s) ((uint16_t)((s) >> 48))

/* Tables of up to SMALL_TABLE slots place a child by its hash's top 16
 * bits alone, which are also its tag: rebuilding or shifting one reads no
 * child.  Larger ones use all 32 bits and tag with the low 16 (a tag from
 * the top bits would equal its neighbours'), so they read each child they
 * move; they also grow by 2x rather than 7/6. */
#define SMALL_TABLE 65536u

/* A rebuild that involves a larger table is incremental: rehashing every
 * child at once stalled the loop 0.3 to 1.5 s at a million children
 * (bench/results/2026-12-06-million-children.md).  The new table takes
 * inserts at once, and each later add or delete under the parent moves
 * MOVE_STEP slots of the old table (cap_old of them).  The next rebuild is
 * at least cap_old / 12 changes away (grow: 3/4 -> 3/8 load; shrink: 1/8
 * -> 3/8), so the move ends first; if not, that rebuild finishes it. */
#define MOVE_STEP 64u

static uint32_t home_slot(uint32_t h, uint32_t cap)
{
    if (cap <= SMALL_TABLE)
        return (uint32_t)(((uint64_t)(h >> 16) * cap) >> 16);
    return (uint32_t)(((uint64_t)h * cap) >> 32);
}

static uint16_t hash_tag(uint32_t h, uint32_t cap)
{
    return (uint16_t)(cap <= SMALL_TABLE ? h >> 16 : h);
}

/* The home slot of the child in slot s. */
static uint32_t slot_home(uint64_t s, uint32_t cap)
{
    if (cap <= SMALL_TABLE)
        return (uint32_t)(((uint64_t)SLOT_TAG(s) * cap) >> 16);
    return home_slot(node_hash(SLOT_PTR(s)), cap);
}

/* A table seen from slot `base` on: a live table whole (base 0), or what an
 * incremental rebuild has not moved yet of an old one.  Probes wrap from the
 * end to base, and a child whose home is below base probes from base: the
 * moved slots were the start of its run, and the rest of the run is intact
 * (the slot moved is always the view's first). */
struct kview {
    uint64_t *s;
    uint32_t cap, base;
};

#define KVIEW_NONE UINT32_MAX

static struct kview live_view(const struct znode_ext *x)
{
    return (struct kview){x->kids, x->kid_cap, 0};
}

static struct kview old_view(const struct znode_ext *x)
{
    if (!x->move)
        return (struct kview){NULL, 0, 0};
    return (struct kview){x->move->slots, x->move->cap, x->move->base};
}

static uint32_t view_next(const struct kview *v, uint32_t i)
{
    return i + 1 == v->cap ? v->base : i + 1;
}

static uint32_t view_home(const struct kview *v, uint32_t home)
{
    return home < v->base ? v->base : home;
}

/* Forward distance from slot a to slot b (both >= base) in v. */
static uint32_t view_dist(const struct kview *v, uint32_t a, uint32_t b)
{
    return b >= a ? b - a : b + (v->cap - v->base) - a;
}

/* The slot of the child named (name, len) with hash h, or KVIEW_NONE. */
static uint32_t view_find_name(const struct kview *v, uint32_t h, const char *name, size_t len)
{
    if (v->cap == v->base)
        return KVIEW_NONE;
    uint16_t tag = hash_tag(h, v->cap);
    uint32_t i = view_home(v, home_slot(h, v->cap));
    for (uint32_t left = v->cap - v->base; left && v->s[i]; left--, i = view_next(v, i)) {
        if (SLOT_TAG(v->s[i]) != tag)
            continue;
        struct znode *c = SLOT_PTR(v->s[i]);
        if (tree_namelen(c) == len && !memcmp(c->name, name, len))
            return i;
    }
    return KVIEW_NONE;
}

/* The slot holding child c (hash h), or KVIEW_NONE. */
static uint32_t view_find_node(const struct kview *v, uint32_t h, const struct znode *c)
{
    if (v->cap == v->base)
        return KVIEW_NONE;
    uint32_t i = view_home(v, home_slot(h, v->cap));
    for (uint32_t left = v->cap - v->base; left && v->s[i]; left--, i = view_next(v, i))
        if (SLOT_PTR(v->s[i]) == c)
            return i;
    return KVIEW_NONE;
}

/* Empties slot i by backward shift: a later entry of the run moves into the
 * hole unless its home lies (cyclically) after the hole.  No tombstones. */
static void view_delete_at(struct kview *v, uint32_t i)
{
    uint32_t j = i;
    for (uint32_t left = v->cap - v->base; --left;) {
        j = view_next(v, j);
        if (!v->s[j])
            break;
        uint32_t k = view_home(v, slot_home(v->s[j], v->cap));
        if (view_dist(v, k, j) >= view_dist(v, i, j)) {
            v->s[i] = v->s[j];
            i = j;
        }
    }
    v->s[i] = 0;
}

/* Puts child c (hash h) in the first free slot from its home in the live
 * table. */
static void kids_insert_raw(struct znode_ext *x, struct znode *c, uint32_t h)
{
    uint64_t p = (uint64_t)(uintptr_t)c;
    assert(p >> 48 == 0); /* see tree.h: room for the tag */
    uint32_t i = home_slot(h, x->kid_cap);
    while (x->kids[i])
        i = i + 1 == x->kid_cap ? 0 : i + 1;
    x->kids[i] = p | (uint64_t)hash_tag(h, x->kid_cap) << 48;
}

/* Moves up to n slots of the old table into the live one; frees the old
 * table once it is all moved. */
static void kids_move_step(struct znode_ext *x, uint32_t n)
{
    struct kid_move *m = x->move;
    uint32_t end = m->cap - m->base <= n ? m->cap : m->base + n;
    for (; m->base < end; m->base++) {
        uint64_t s = m->slots[m->base];
        if (!s)
            continue;
        m->slots[m->base] = 0;
        kids_insert_raw(x, SLOT_PTR(s), node_hash(SLOT_PTR(s)));
    }
    if (m->base == m->cap) {
        free(m->slots);
        free(m);
        x->move = NULL;
    }
}

/* Rebuilds x's table for its nkids children: at a load of 3/4 while that
 * is a small table, else of 3/8 (none when it has no children).  A move in
 * progress is finished first.  When the old or the new table is larger
 * than SMALL_TABLE the children move incrementally (MOVE_STEP). */
static void kids_rebuild(struct znode_ext *x)
{
    if (x->move && x->nkids == 0) { /* nothing left to move */
        free(x->move->slots);
        free(x->move);
        x->move = NULL;
    }
    if (x->move)
        kids_move_step(x, UINT32_MAX);
    uint64_t *old = x->kids;
    uint32_t oldcap = x->kid_cap;
    uint64_t want = x->nkids ? (uint64_t)x->nkids * 4 / 3 + 1 : 0;
    if (want && want < 4)
        want = 4;
    if (want > SMALL_TABLE)
        want = (uint64_t)x->nkids * 8 / 3 + 1;
    assert(want <= UINT32_MAX);
    x->kid_cap = (uint32_t)want;
    x->kids = want ? zk_xcalloc(want, sizeof *x->kids) : NULL;
    if (want && (oldcap > SMALL_TABLE || want > SMALL_TABLE)) {
        x->move = zk_xmalloc(sizeof *x->move);
        *x->move = (struct kid_move){old, oldcap, 0};
        return;
    }
    /* Only a small table's tag is the top of the hash. */
    int from_tag = oldcap <= SMALL_TABLE;
    for (uint32_t i = 0; i < oldcap; i++) {
        if (!old[i])
            continue;
        struct znode *c = SLOT_PTR(old[i]);
        uint32_t h = from_tag && x->kid_cap <= SMALL_TABLE ? (uint32_t)SLOT_TAG(old[i]) << 16
                                                           : node_hash(c);
        kids_insert_raw(x, c, h);
    }
    free(old);
}

/* Whether a table of cap slots is too full for n children: 7/8 while
 * small, 3/4 when large. */
static int kids_full(uint32_t n, uint32_t cap)
{
    return cap <= SMALL_TABLE ? (uint64_t)n * 8 > (uint64_t)cap * 7
                              : (uint64_t)n * 4 > (uint64_t)cap * 3;
}

static void kids_add(struct znode *p, struct znode *c)
{
    struct znode_ext *x = ext_of(p);
    x->nkids++;
    if (kids_full(x->nkids, x->kid_cap))
        kids_rebuild(x); /* sized for nkids, which counts c already */
    else if (x->move)
        kids_move_step(x, MOVE_STEP);
    kids_insert_raw(x, c, node_hash(c));
}

static void kids_del(struct znode *p, struct znode *c)
{
    struct znode_ext *x = p->ext;
    uint32_t h = node_hash(c);
    struct kview v = live_view(x);
    uint32_t i = view_find_node(&v, h, c);
    if (i == KVIEW_NONE) {
        v = old_view(x);
        i = view_find_node(&v, h, c);
    }
    assert(i != KVIEW_NONE);
    view_delete_at(&v, i);
    assert(x->nkids > 0);
    x->nkids--;
    if (x->nkids == 0 || (x->kid_cap > 16 && (uint64_t)x->nkids * 8 < x->kid_cap))
        kids_rebuild(x);
    else if (x->move)
        kids_move_step(x, MOVE_STEP);
}

struct znode *tree_child(const struct znode *n, const char *name, size_t len)
{
    const struct znode_ext *x = n->ext;
    if (!x || !x->kid_cap)
        return NULL;
    uint32_t h = name_hash(name, len);
    struct kview v = live_view(x);
    uint32_t i = view_find_name(&v, h, name, len);
    if (i == KVIEW_NONE && x->move) {
        v = old_view(x);
        i = view_find_name(&v, h, name, len);
    }
    return i == KVIEW_NONE ? NULL : SLOT_PTR(v.s[i]);
}

void tree_foreach_child(const struct znode *n, void (*fn)(struct znode *c, void *d), void *d)
{
    for (uint32_t i = 0; i < tree_kid_slots(n); i++)
        if (tree_kid(n, i))
            fn(tree_kid(n, i), d);
}

/* ---- walks across turns (tree.h) ---- */

/* Marks the open walks of parent p stale: its child table just changed. */
static void walks_touch(struct tree *t, const struct znode *p)
{
    for (struct tree_kid_walk *w = t->walks; w; w = w->next)
        if (w->parent == p)
            w->stale = 1;
}

void tree_kid_walk_open(struct tree *t, struct tree_kid_walk *w, struct znode *parent)
{
    *w = (struct tree_kid_walk){.t = t, .parent = parent, .next = t->walks};
    if (t->walks)
        t->walks->prev = w;
    t->walks = w;
}

int tree_kid_walk_step(struct tree_kid_walk *w, uint32_t max, void (*fn)(struct znode *c, void *d),
                       void *d)
{
    if (w->stale || !w->parent)
        return TREE_WALK_STALE;
    uint32_t end = tree_kid_slots(w->parent);
    for (uint32_t done = 0; w->slot < end && done < max; w->slot++) {
        struct znode *c = tree_kid(w->parent, w->slot);
        if (c) {
            fn(c, d);
            done++;
        }
    }
    return w->slot < end ? TREE_WALK_MORE : TREE_WALK_DONE;
}

void tree_kid_walk_close(struct tree_kid_walk *w)
{
    if (w->t) {
        if (w->prev)
            w->prev->next = w->next;
        else
            w->t->walks = w->next;
        if (w->next)
            w->next->prev = w->prev;
    }
    *w = (struct tree_kid_walk){.stale = 1};
}

/* ---- tree ---- */

static void track_owner(struct tree *t, struct znode *n)
{
    int64_t owner = tree_owner(n);
    if (owner_is_session(owner)) {
        struct pset *s = i64map_get(&t->owners, owner);
        if (!s) {
            s = zk_xcalloc(1, sizeof *s);
            i64map_put(&t->owners, owner, s);
        }
        pset_add(s, n);
    } else if (owner) {
        pset_add(&t->special, n);
    }
}

static void untrack_owner(struct tree *t, struct znode *n)
{
    int64_t owner = tree_owner(n);
    if (owner_is_session(owner)) {
        struct pset *s = i64map_get(&t->owners, owner);
        if (s && pset_del(s, n) && s->n == 0) {
            i64map_del(&t->owners, owner);
            pset_free(s);
            free(s);
        }
    } else if (owner) {
        pset_del(&t->special, n);
    }
}

struct tree *tree_new_empty(void)
{
    struct tree *t = zk_xcalloc(1, sizeof *t);
    t->acls = acl_cache_new();
    t->root = node_new(t, "", 0, 0);
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
    tree_set_aversion(config, -1); /* as Apache's DataTree.addConfigNode leaves it */
    acl_unref(t->acls, ro);
    /* The built-in nodes are not "changes": Apache shows cversion 0 here. */
    tree_set_cversion(t->root, 0);
    tree_set_cversion(zk, 0);
    return t;
}

static void free_subtree(struct tree *t, struct znode *n)
{
    for (uint32_t i = 0; i < tree_kid_slots(n); i++)
        if (tree_kid(n, i))
            free_subtree(t, tree_kid(n, i));
    node_release(t, n);
}

void tree_free(struct tree *t)
{
    if (!t)
        return;
    for (struct tree_kid_walk *w = t->walks, *next; w; w = next) {
        next = w->next;
        *w = (struct tree_kid_walk){.stale = 1}; /* (its owner closes it later) */
    }
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
    nodepool_destroy(&t->pool);
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

struct znode *tree_lookup_dir(struct tree *t, const char *path, size_t len)
{
    if (t->dir_memo.node && t->dir_memo.len == len && !memcmp(t->dir_memo.path, path, len))
        return t->dir_memo.node;
    struct znode *n = tree_lookup(t, path, len);
    if (n && len <= DIR_MEMO_MAX) {
        memcpy(t->dir_memo.path, path, len);
        t->dir_memo.len = len;
        t->dir_memo.node = n;
    }
    return n;
}

void tree_stat(const struct znode *n, struct zk_stat *st)
{
    st->czxid = n->czxid;
    st->mzxid = n->mzxid;
    st->ctime = n->ctime;
    st->mtime = tree_mtime(n);
    st->version = n->version;
    /* Apache stores only creations in cversion and reports creations plus
     * deletions, i.e. 2 * creations - current children (DataNode.copyStat). */
    st->cversion = (int32_t)(2u * (uint32_t)tree_cversion(n) - tree_nkids(n)); /* wraps like Java */
    st->aversion = tree_aversion(n);
    /* Containers and TTL nodes report 0 (Apache's getClientEphemeralOwner). */
    st->ephemeral_owner = owner_is_session(tree_owner(n)) ? tree_owner(n) : 0;
    st->data_length = n->datalen > 0 ? n->datalen : 0;
    st->num_children = (int32_t)tree_nkids(n);
    st->pzxid = tree_pzxid(n);
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
        len += 1 + tree_namelen(m);
    if (len + 1 > cap)
        return len;
    buf[len] = 0;
    size_t at = len;
    for (const struct znode *m = n; m->parent; m = m->parent) {
        at -= tree_namelen(m);
        memcpy(buf + at, m->name, tree_namelen(m));
        buf[--at] = '/';
    }
    return len;
}

struct znode *tree_add(struct tree *t, struct znode *parent, const char *name, size_t nlen,
                       const void *data, int32_t dlen, uint32_t acl, int64_t owner,
                       int64_t zxid, int64_t time)
{
    assert(parent != NULL && nlen > 0);
    struct znode *n = node_new(t, name, nlen, dlen > 0 ? (size_t)dlen : 0);
    n->parent = parent;
    n->czxid = n->mzxid = zxid; /* pzxid == czxid is the default */
    n->ctime = time;            /* mtime_delta 0: mtime == ctime */
    if (n->short_namelen == ZNODE_NAME_IN_EXT)
        ext_of(n)->namelen = nlen;
    value_store(n, data, dlen);
    n->acl = acl;
    acl_ref(t->acls, acl);
    set_owner(n, owner);
    kids_add(parent, n);
    walks_touch(t, parent);
    parent->ext->cversion++;
    parent->ext->pzxid = zxid;
    track_owner(t, n);
    t->nodes++;
    t->data_bytes += (uint64_t)DLEN(n);
    return n;
}

void tree_unlink(struct tree *t, struct znode *n)
{
    assert(n->parent != NULL); /* the root is never unlinked */
    t->dir_memo.node = NULL; /* n may be the remembered node or above it */
    kids_del(n->parent, n);
    walks_touch(t, n->parent);
    untrack_owner(t, n);
    assert(t->nodes > 0 && t->data_bytes >= (uint64_t)DLEN(n));
    t->nodes--;
    t->data_bytes -= (uint64_t)DLEN(n);
}

void tree_relink(struct tree *t, struct znode *n)
{
    kids_add(n->parent, n);
    walks_touch(t, n->parent);
    track_owner(t, n);
    t->nodes++;
    t->data_bytes += (uint64_t)DLEN(n);
}

void tree_node_free(struct tree *t, struct znode *n)
{
    walks_touch(t, n);
    for (struct tree_kid_walk *w = t->walks; w; w = w->next)
        if (w->parent == n)
            w->parent = NULL;
    acl_unref(t->acls, n->acl);
    node_release(t, n);
}

void tree_set_data(struct tree *t, struct znode *n, const void *data, int32_t dlen)
{
    assert(t->data_bytes >= (uint64_t)DLEN(n));
    t->data_bytes -= (uint64_t)DLEN(n);
    value_store(n, data, dlen);
    t->data_bytes += (uint64_t)DLEN(n);
}

char *tree_replace_data(struct tree *t, struct znode *n, const void *data, int32_t dlen,
                        int32_t *oldlen)
{
    char *old = NULL;
    *oldlen = n->datalen;
    if (n->ext && n->ext->data) {
        old = n->ext->data; /* out of line: hand the buffer over */
        n->ext->data = NULL;
    } else if (n->datalen > 0) {
        old = zk_xmalloc((size_t)n->datalen);
        memcpy(old, inline_value(n), (size_t)n->datalen);
    }
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
    for (uint32_t i = 0; i < tree_kid_slots(n); i++)
        if (tree_kid(n, i))
            c += 1 + tree_count_descendants(tree_kid(n, i));
    return c;
}

/* ---- snapshot image ---- */

/* Serializers walk the tree depth-first with the current path in one
 * growing buffer: appends "/<c's name>" after the parent's `plen` bytes and
 * returns the child's path length. */
static size_t path_push(char **path, size_t *cap, size_t plen, const struct znode *c)
{
    size_t nlen = tree_namelen(c);
    size_t need = plen + 1 + nlen + 1;
    if (need > *cap) {
        *cap = need * 2;
        *path = zk_xrealloc(*path, *cap);
    }
    (*path)[plen] = '/';
    memcpy(*path + plen + 1, c->name, nlen);
    return plen + 1 + nlen;
}

/* A znode's persisted stat (Apache's StatPersisted), in its order. */
struct pstat {
    int64_t czxid, mzxid, ctime, mtime;
    int32_t version, cversion, aversion;
    int64_t owner, pzxid;
};

#define PSTAT_LEN 60

/* One bounds check for the 60 bytes rather than nine: image loading reads
 * ten million of these. */
static void get_pstat(struct jute_in *in, struct pstat *st)
{
    if (in->err || jute_in_left(in) < PSTAT_LEN) {
        in->err = ZK_MARSHALLINGERROR;
        in->off = in->len;
        memset(st, 0, sizeof *st);
        return;
    }
    const uint8_t *p = in->p + in->off;
    st->czxid = (int64_t)zk_be64_get(p);
    st->mzxid = (int64_t)zk_be64_get(p + 8);
    st->ctime = (int64_t)zk_be64_get(p + 16);
    st->mtime = (int64_t)zk_be64_get(p + 24);
    st->version = (int32_t)zk_be32_get(p + 32);
    st->cversion = (int32_t)zk_be32_get(p + 36);
    st->aversion = (int32_t)zk_be32_get(p + 40);
    st->owner = (int64_t)zk_be64_get(p + 44);
    st->pzxid = (int64_t)zk_be64_get(p + 52);
    in->off += PSTAT_LEN;
}

void tree_put_node_record(struct jute_out *out, const char *path, size_t plen,
                          const struct znode *n)
{
    jute_put_buffer(out, path, (int32_t)plen);
    jute_put_buffer(out, tree_data(n), n->datalen);
    jute_put_long(out, n->acl);
    tree_put_pstat(out, n);
}

void tree_put_pstat(struct jute_out *out, const struct znode *n)
{
    jute_put_long(out, n->czxid);
    jute_put_long(out, n->mzxid);
    jute_put_long(out, n->ctime);
    jute_put_long(out, tree_mtime(n));
    jute_put_int(out, n->version);
    jute_put_int(out, tree_cversion(n));
    jute_put_int(out, tree_aversion(n));
    jute_put_long(out, tree_owner(n));
    jute_put_long(out, tree_pzxid(n));
}

/* The parent of the node at path[0..len) (len > 1, path[0] == '/'): `near`
 * or one of its ancestors when the path extends its path (near_path,
 * near_len bytes), as in Apache's depth-first images, where each node
 * follows its parent or a sibling of one of its ancestors; else found from
 * the root.  OUT: *name, *nlen, the last component.  NULL if there is none
 * or the path is malformed. */
static struct znode *image_parent(struct tree *t, const char *path, size_t len,
                                  struct znode *near, const char *near_path, size_t near_len,
                                  const char **name, size_t *nlen)
{
    const char *slash = path + len - 1;
    while (*slash != '/')
        slash--;
    size_t plen = (size_t)(slash - path);
    *name = slash + 1;
    *nlen = (size_t)(path + len - *name);
    if (*nlen == 0)
        return NULL;
    /* near's ancestors have the paths near_path[0..k) at component ends:
     * climb to the one as long as the parent path, then compare bytes once. */
    while (near && near_len > plen) {
        near_len -= tree_namelen(near) + (near->parent ? 1 : 0);
        near = near->parent;
    }
    if (near && near_len == plen && !memcmp(path, near_path, plen))
        return near;
    return plen ? tree_lookup(t, path, plen) : t->root;
}

/* Puts a node from an image under `parent` (NULL: n is the root),
 * replacing one of the same name.  OUT: *replaced, whether one was there.
 * Returns the node. */
static struct znode *place_node(struct tree *t, struct znode *parent, const char *name,
                                size_t nlen, struct zk_slice data, uint32_t acl,
                                const struct pstat *st, int *replaced)
{
    struct znode *n = parent ? tree_child(parent, name, nlen) : t->root;
    *replaced = n != NULL;
    if (n) {
        untrack_owner(t, n);
        tree_set_data(t, n, data.p, data.len);
        tree_set_acl(t, n, acl);
    } else {
        int32_t parent_cversion = tree_cversion(parent);
        int64_t parent_pzxid = tree_pzxid(parent);
        n = tree_add(t, parent, name, nlen, data.p, data.len, acl, 0, 0, 0);
        /* the image carries the parent's real values */
        tree_set_cversion(parent, parent_cversion);
        tree_set_pzxid(parent, parent_pzxid);
        untrack_owner(t, n);
    }
    n->czxid = st->czxid; /* before pzxid: it is pzxid's default */
    n->mzxid = st->mzxid;
    n->ctime = st->ctime;
    tree_set_mtime(n, st->mtime);
    n->version = st->version;
    tree_set_cversion(n, st->cversion);
    tree_set_aversion(n, st->aversion);
    set_owner(n, st->owner);
    tree_set_pzxid(n, st->pzxid);
    track_owner(t, n);
    return n;
}

/* ---- Apache's DataTree image ---- */

struct aser {
    int (*put)(const void *, size_t, void *);
    void *d;
    struct jute_out out;
    char *path;
    size_t pathcap;
    int rc;
    int32_t count;
};

#define ASER_FLUSH (256u << 10)

static void aser_flush(struct aser *s)
{
    if (!s->rc && s->out.len)
        s->rc = s->put(s->out.p, s->out.len, s->d);
    s->out.len = 0;
}

static void aser_count(uint32_t id, const struct acl_list *l, void *d)
{
    (void)id;
    (void)l;
    ((struct aser *)d)->count++;
}

static void aser_acl(uint32_t id, const struct acl_list *l, void *d)
{
    struct aser *s = d;
    jute_put_long(&s->out, id);
    acl_list_encode(&s->out, l);
    if (s->out.len >= ASER_FLUSH)
        aser_flush(s);
}

static void aser_node(struct aser *s, const struct znode *n, size_t plen)
{
    if (s->rc)
        return;
    tree_put_node_record(&s->out, s->path, plen, n);
    if (s->out.len >= ASER_FLUSH)
        aser_flush(s);
    for (uint32_t i = 0; i < tree_kid_slots(n) && !s->rc; i++) {
        if (!tree_kid(n, i))
            continue;
        const struct znode *c = tree_kid(n, i);
        aser_node(s, c, path_push(&s->path, &s->pathcap, plen, c));
    }
}

int tree_serialize_apache(struct tree *t, int (*put)(const void *, size_t, void *), void *d)
{
    struct aser s = {put, d, {0}, NULL, 0, 0, 0};
    jute_out_init(&s.out);
    acl_foreach(t->acls, aser_count, &s);
    jute_put_int(&s.out, s.count);
    acl_foreach(t->acls, aser_acl, &s);
    s.pathcap = 4096;
    s.path = zk_xmalloc(s.pathcap);
    aser_node(&s, t->root, 0); /* the root's path is "" */
    jute_put_string(&s.out, "/");
    aser_flush(&s);
    free(s.path);
    jute_out_free(&s.out);
    return s.rc;
}

/* Apache's ReferenceCountedACLCache.OPEN_UNSAFE_ACL_ID: a null ACL, which
 * its built-in nodes carry; it reads as world:anyone:cdrwa. */
#define OPEN_UNSAFE_ACL_ID (-1)

/* Reads the ACL cache into `ids` (Apache index -> interned id, one
 * reference each).  Returns 0 or -1. */
static int load_acl_map(struct tree *t, struct jute_in *in, struct i64map *ids)
{
    int32_t n = jute_get_int(in);
    if (n < 0)
        return -1;
    for (int32_t i = 0; i < n && !in->err; i++) {
        int64_t idx = jute_get_long(in);
        struct acl_list l;
        if (jute_in_left(in) < 4 || zk_be32_get(in->p + in->off) == 0xFFFFFFFFu ||
            acl_list_decode(in, &l))
            return -1; /* a null vector: Apache refuses it too */
        /* Apache numbers lists from 1 (and -1 is implied): 0 or a repeat is damage. */
        if (idx == 0 || idx == OPEN_UNSAFE_ACL_ID || i64map_get(ids, idx)) {
            acl_list_free(&l);
            return -1;
        }
        i64map_put(ids, idx, (void *)(uintptr_t)acl_intern(t->acls, &l));
        acl_list_free(&l);
    }
    return in->err ? -1 : 0;
}

static uint32_t map_acl(struct tree *t, struct i64map *ids, int64_t idx)
{
    if (idx == OPEN_UNSAFE_ACL_ID) {
        void *v = i64map_get(ids, idx);
        if (!v) {
            v = (void *)(uintptr_t)acl_intern(t->acls, &acl_open_unsafe);
            i64map_put(ids, idx, v);
        }
        return (uint32_t)(uintptr_t)v;
    }
    return idx ? (uint32_t)(uintptr_t)i64map_get(ids, idx) : 0;
}

int tree_load_apache(struct tree *t, struct jute_in *in, tree_image_fn each, void *d)
{
    struct i64map ids = {0};
    int rc = load_acl_map(t, in, &ids);
    int nodes = 0;
    /* The node placed last and its path (in the input, which outlives the
     * loop): the next node's parent is on its path almost always. */
    struct znode *prev = NULL;
    const char *prev_path = NULL;
    size_t prev_len = 0;
    while (!rc) {
        size_t rec = in->off;
        struct zk_slice path = jute_get_string(in);
        if (in->err || (path.len == 1 && path.p[0] == '/'))
            break;
        struct zk_slice data = jute_get_buffer(in);
        int64_t idx = jute_get_long(in);
        struct pstat st;
        get_pstat(in, &st);
        uint32_t acl = in->err ? 0 : map_acl(t, &ids, idx);
        /* The root comes first, alone with an empty path. */
        if (!acl || (nodes++ == 0) != (path.len == 0)) {
            rc = -1;
            break;
        }
        struct znode *parent = NULL;
        const char *name = NULL;
        size_t nlen = 0;
        if (path.len > 0 &&
            (path.p[0] != '/' || !(parent = image_parent(t, path.p, (size_t)path.len, prev,
                                                         prev_path, prev_len, &name, &nlen)))) {
            rc = -1;
            break;
        }
        int replaced;
        prev = place_node(t, parent, name, nlen, data, acl, &st, &replaced);
        prev_path = path.p;
        prev_len = (size_t)path.len;
        if (each) {
            struct tree_image_node node = {path.p, prev_len, prev, replaced, in->p + rec,
                                           in->p + in->off};
            each(&node, d);
        }
    }
    if (in->err || !nodes)
        rc = -1;
    int64_t key;
    void *v;
    I64MAP_FOREACH(&ids, key, v)
    {
        (void)key;
        acl_unref(t->acls, (uint32_t)(uintptr_t)v);
    }
    i64map_free(&ids);
    return rc;
}
