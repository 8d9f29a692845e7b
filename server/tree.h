/*
 * tree.h - the in-memory znode tree (Apache's DataTree).
 *
 * A znode stores its own name, not its path; each node indexes its children
 * in an open-addressing hash table of child pointers, so a lookup walks the
 * path's components (O(depth)) and nothing per node is stored twice.  Name,
 * stat and (usually) value share one allocation; see struct znode.  The
 * tree also tracks ephemeral znodes per owning session, and owns the ACL
 * cache its nodes refer to.
 *
 * Mutations here do no validation: the caller (txn.c) has checked existence,
 * versions and ACLs, and they are deterministic so that log replay reproduces
 * the same tree.  All calls are made on the loop thread.
 */
#ifndef ZKD_TREE_H
#define ZKD_TREE_H

#include <stddef.h>
#include <stdint.h>

#include "acl.h"
#include "zk/jute.h"

/* ephemeralOwner values with special meaning (Apache's EphemeralType). */
#define ZK_OWNER_CONTAINER ((int64_t)0x8000000000000000ULL)
#define ZK_OWNER_TTL_MASK ((int64_t)0xFF00000000000000ULL)
#define ZK_OWNER_TTL_MAX_BITS ((int64_t)0x000000FFFFFFFFFFULL)

/* Distinguishes sessions from special owners. */
static inline int owner_is_session(int64_t owner)
{
    return owner != 0 && owner != ZK_OWNER_CONTAINER &&
           (owner & ZK_OWNER_TTL_MASK) != ZK_OWNER_TTL_MASK;
}
static inline int owner_is_ttl(int64_t owner)
{
    return (owner & ZK_OWNER_TTL_MASK) == ZK_OWNER_TTL_MASK && owner != ZK_OWNER_CONTAINER;
}

/*
 * Memory layout.  A znode is one block of the tree's node pool (nodepool.h)
 * that never moves once linked (watch.c, the ephemeral sets, apply.c's undo
 * journal and the reaper keep znode pointers): the 60-byte header below,
 * then the NUL-terminated name, then `datacap` bytes reserved for the value
 * (the creation size plus the pool's rounding).  A value that outgrows that
 * room lives in a separate buffer (ext->data) and comes back inline when it
 * fits again.
 *
 * The fields most znodes leave at their defaults live in `ext`, which is NULL
 * for a leaf that never had children, is not ephemeral, never had its ACL
 * changed, keeps its value inline, was modified within ~24 days of its
 * creation and has a name shorter than 65,535 bytes.  With ext NULL: no
 * children, cversion 0, aversion 0, pzxid == czxid, owner 0, mtime == ctime +
 * mtime_delta, namelen == short_namelen.  Read those fields through the
 * accessors below and write them through tree.c, which allocates `ext` on
 * demand.
 *
 * Why: a leaf named "n00000" with a 100-byte value is one 168-byte pool block
 * plus ~9.6 bytes of its parent's child table (a load of 75-87.5% for up to
 * 57,344 children, see tree.c), 178 bytes in all, near the floor of 146 (value, name, and the Stat fields a leaf
 * cannot derive: czxid, mzxid, ctime, mtime, version).  Node struct, name and
 * value as three mallocs would cost 256 bytes, one malloc with all Stat
 * fields 208.
 *
 * Child tables: open addressing over `kid_cap` slots (any capacity, not a
 * power of two), each 0 or a child's pointer with 16 bits of its name's hash
 * in the top bits (user-space addresses on Linux fit in 48 bits), so a probe
 * reads the child only when those bits match.  Use tree_kid() to read one.
 * A large table is rebuilt a few slots per change (struct kid_move): while
 * that runs the parent's children are split between the new table and the
 * rest of the old one, and tree_kid_slots/tree_kid span both.
 */
#define ZNODE_MTIME_IN_EXT INT32_MIN /* mtime_delta: mtime is ext->mtime */
#define ZNODE_NAME_IN_EXT UINT16_MAX /* short_namelen: the length is ext->namelen */

/* The old table of an incremental rebuild (tree.c): slots below `base`
 * have moved to the new table and are 0. */
struct kid_move {
    uint64_t *slots;
    uint32_t cap, base;
};

struct znode_ext {
    uint64_t *kids;      /* tagged child slots, see above; 0 = empty */
    uint32_t kid_cap;    /* 0 when there are no children */
    uint32_t nkids;
    int32_t cversion;    /* creations only; see tree_stat */
    int32_t aversion;
    int64_t pzxid, owner;
    int64_t mtime;       /* when mtime_delta == ZNODE_MTIME_IN_EXT */
    char *data;          /* the value when it does not fit inline, else NULL */
    size_t namelen;      /* when short_namelen == ZNODE_NAME_IN_EXT */
    struct kid_move *move; /* a rebuild of kids in progress, or NULL (same
                              malloc size class as without it) */
};

struct znode {
    struct znode *parent;
    struct znode_ext *ext; /* NULL while every field in it has its default */
    int64_t czxid, mzxid, ctime;
    uint32_t acl;          /* id in the tree's acl cache */
    int32_t datalen;       /* -1: null data (distinct from empty, as in Apache) */
    int32_t version;
    int32_t mtime_delta;   /* mtime - ctime, or ZNODE_MTIME_IN_EXT */
    uint16_t short_namelen; /* the name's length, or ZNODE_NAME_IN_EXT */
    uint16_t datacap;      /* value bytes reserved after the name */
    char name[];           /* namelen bytes + NUL, then datacap bytes */
};

static inline size_t tree_namelen(const struct znode *n)
{
    return n->short_namelen != ZNODE_NAME_IN_EXT ? n->short_namelen : n->ext->namelen;
}
static inline int64_t tree_mtime(const struct znode *n)
{
    return n->mtime_delta != ZNODE_MTIME_IN_EXT ? n->ctime + n->mtime_delta : n->ext->mtime;
}
static inline int32_t tree_aversion(const struct znode *n) { return n->ext ? n->ext->aversion : 0; }
static inline uint32_t tree_nkids(const struct znode *n) { return n->ext ? n->ext->nkids : 0; }
static inline int32_t tree_cversion(const struct znode *n)
{
    return n->ext ? n->ext->cversion : 0;
}
static inline int64_t tree_pzxid(const struct znode *n)
{
    return n->ext ? n->ext->pzxid : n->czxid;
}
/* ephemeralOwner as stored (a session, or a container/TTL marker, or 0). */
static inline int64_t tree_owner(const struct znode *n) { return n->ext ? n->ext->owner : 0; }
/* n's value: datalen bytes, or NULL when datalen <= 0 (jute_put_buffer
 * encodes a NULL with length -1 as null data).  Valid until the next change
 * of n's data. */
static inline const char *tree_data(const struct znode *n)
{
    if (n->datalen <= 0)
        return NULL;
    if (n->ext && n->ext->data)
        return n->ext->data;
    return n->name + tree_namelen(n) + 1;
}
/* Child-table slots of n, for walks that keep their own stack: slot i
 * (i < tree_kid_slots(n)) holds a child or NULL.  During a rebuild the old
 * table's slots follow the new table's. */
static inline uint32_t tree_kid_slots(const struct znode *n)
{
    if (!n->ext)
        return 0;
    return n->ext->kid_cap + (n->ext->move ? n->ext->move->cap : 0);
}
static inline struct znode *tree_kid(const struct znode *n, uint32_t i)
{
    const struct znode_ext *x = n->ext;
    uint64_t s = i < x->kid_cap ? x->kids[i] : x->move->slots[i - x->kid_cap];
    return (struct znode *)(uintptr_t)(s & ((UINT64_C(1) << 48) - 1));
}

struct tree;

/* A new tree holding "/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config". */
struct tree *tree_new(void);
/* A tree with only an ACL-less root and an empty ACL cache: the target of a
 * snapshot load, whose image carries the built-in nodes itself. */
struct tree *tree_new_empty(void);
void tree_free(struct tree *t);

struct acl_cache *tree_acls(struct tree *t);
struct znode *tree_root(struct tree *t);
uint64_t tree_node_count(const struct tree *t);
uint64_t tree_data_bytes(const struct tree *t);

/* Finds the node at `path` (absolute, `len` bytes), or NULL. */
struct znode *tree_lookup(struct tree *t, const char *path, size_t len);
/* The same for the parent of a node being created, remembering the last
 * answer: creates come in runs under one parent (a queue, a lock
 * directory, a load), and the walk from the root was a sixth of a create.
 * Any tree_unlink forgets it; a path names one node while it is linked.
 * The writer's thread only (it changes the tree). */
struct znode *tree_lookup_dir(struct tree *t, const char *path, size_t len);
/* Finds a child by name, or NULL. */
struct znode *tree_child(const struct znode *n, const char *name, size_t len);

/* Fills a wire Stat for `n`. */
void tree_stat(const struct znode *n, struct zk_stat *st);
/* Writes n's absolute path into buf (NUL-terminated) and returns its length,
 * or the length it would need if cap is too small. */
size_t tree_path(const struct znode *n, char *buf, size_t cap);

/*
 * Links a new child `name` under `parent` with the given contents and stat.
 * Increments parent's cversion and sets its pzxid to zxid.  Takes a
 * reference on `acl`.  Returns the node, whose address stays fixed until
 * tree_node_free (its value is stored inline, see struct znode).
 */
struct znode *tree_add(struct tree *t, struct znode *parent, const char *name, size_t nlen,
                       const void *data, int32_t dlen, uint32_t acl, int64_t owner,
                       int64_t zxid, int64_t time);

/* Unlinks childless `n` from its parent (no stat change) and from its owner's
 * ephemeral set; the node stays allocated (see tree_node_free, tree_relink). */
void tree_unlink(struct tree *t, struct znode *n);
/* Puts back a node removed by tree_unlink (undo of a failed multi). */
void tree_relink(struct tree *t, struct znode *n);
/* Frees an unlinked node and drops its ACL reference. */
void tree_node_free(struct tree *t, struct znode *n);

/* Sets cversion / pzxid of `n` (a parent's child-change stat). */
void tree_set_cversion(struct znode *n, int32_t cversion);
void tree_set_pzxid(struct znode *n, int64_t pzxid);
/* Sets n's mtime (after its ctime, which it is stored relative to). */
void tree_set_mtime(struct znode *n, int64_t mtime);
/* Sets n's ACL version. */
void tree_set_aversion(struct znode *n, int32_t aversion);

/* Replaces n's data (copied). */
void tree_set_data(struct tree *t, struct znode *n, const void *data, int32_t dlen);
/* Like tree_set_data, but hands a malloc'd copy of the old value to the
 * caller, who frees it (NULL when the old datalen was <= 0).  OUT: *oldlen. */
char *tree_replace_data(struct tree *t, struct znode *n, const void *data, int32_t dlen,
                        int32_t *oldlen);
/* Replaces n's ACL id (takes a reference on the new one, drops the old). */
void tree_set_acl(struct tree *t, struct znode *n, uint32_t acl);

/* Calls fn for every ephemeral node owned by `session` (any order). */
void tree_foreach_ephemeral(struct tree *t, int64_t session,
                            void (*fn)(struct znode *n, void *d), void *d);
/* Number of ephemeral nodes of a session. */
size_t tree_ephemeral_count(struct tree *t, int64_t session);
/* Calls fn(session, count) per session that owns ephemerals. */
void tree_foreach_owner(struct tree *t, void (*fn)(int64_t session, size_t count, void *d), void *d);

/* Calls fn for each child of n (table order). */
void tree_foreach_child(const struct znode *n, void (*fn)(struct znode *c, void *d), void *d);
/*
 * A walk over one parent's children that may span loop turns (a getChildren
 * of a wide parent encoded in slices: listing.h).  The caller owns the
 * struct; the tree keeps a list of the open ones and, when a child of the
 * walked parent is added or removed (tree_add, tree_unlink, tree_relink) or
 * the parent itself is freed (tree_node_free, tree_free), marks the walk
 * stale.  A walk that is not stale is exact: the child table is changed
 * only by those calls (the incremental rebuild moves slots only inside
 * them), so the slot cursor still points into the same table and every
 * child it has not reached yet is still allocated; the children it yields
 * across all its steps are the parent's children at any moment since
 * tree_kid_walk_open, each once.  A stale walk yields nothing more: its
 * caller starts over (tree_kid_walk_close, then _open on a fresh lookup).
 * Costs nothing per change while no walk is open.
 */
struct tree_kid_walk {
    struct tree *t;          /* NULL once the tree was freed */
    struct znode *parent;    /* NULL once it was freed */
    struct tree_kid_walk *prev, *next; /* the tree's open walks */
    uint32_t slot;           /* next slot to read (tree_kid_slots) */
    int stale;
};
enum { TREE_WALK_STALE = -1, TREE_WALK_DONE = 0, TREE_WALK_MORE = 1 };
void tree_kid_walk_open(struct tree *t, struct tree_kid_walk *w, struct znode *parent);
/* Calls fn for up to `max` more children.  Returns TREE_WALK_DONE when the
 * last child was passed, TREE_WALK_MORE when some remain, TREE_WALK_STALE
 * (calling fn for none) when the walk went stale. */
int tree_kid_walk_step(struct tree_kid_walk *w, uint32_t max, void (*fn)(struct znode *c, void *d),
                       void *d);
/* Takes w off its tree's list (safe after the tree was freed, and twice). */
void tree_kid_walk_close(struct tree_kid_walk *w);

/* Total number of descendants of n. */
uint64_t tree_count_descendants(const struct znode *n);

/* Calls fn for every container and TTL node (for the reaper). */
void tree_foreach_special(struct tree *t, void (*fn)(struct znode *n, void *d), void *d);

/* ---- snapshot image ---- */

/* Apache's DataTree.serialize: the ACL cache (int count; long index, ACL
 * vector), the nodes depth-first (string path, the root's being "";
 * buffer data; long acl; StatPersisted), then the path "/".  Emitted in
 * chunks through `put`; returns 0 or its first non-zero result. */
int tree_serialize_apache(struct tree *t, int (*put)(const void *p, size_t len, void *d),
                          void *d);
/* A snapshot's node record, as Apache's DataTree.serializeNode writes it:
 * path, data, ACL id, StatPersisted (dbwalk.c writes the same image a
 * slice at a time). */
void tree_put_node_record(struct jute_out *out, const char *path, size_t plen,
                          const struct znode *n);
/* One node's StatPersisted, as that image carries it. */
void tree_put_pstat(struct jute_out *out, const struct znode *n);
/* Reads that image into a tree from tree_new_empty(), as Apache's
 * DataTree.deserialize: ACL index -1 is world:anyone:cdrwa, every other
 * index must be in the cache, every parent must come before its children.
 * Calls `each` (if not NULL) after placing each node (see struct
 * tree_image_node): the place for per-node work such as the digest.
 * Returns 0, or -1 when the bytes do not parse (in->off then tells where).
 * Parents are found from the previous node's path, so the cost per node
 * does not grow with the depth of the tree. */
struct tree_image_node {
    const char *path;        /* as the image spells it: "" for the root */
    size_t plen;
    const struct znode *n;   /* the node placed */
    int replaced;            /* it replaced one of the same path (only a
                              * damaged image repeats a path; the root
                              * always replaces tree_new_empty's) */
    const uint8_t *rec, *end; /* its whole record in the input: path, data,
                               * ACL index, StatPersisted */
};
typedef void (*tree_image_fn)(const struct tree_image_node *node, void *d);
int tree_load_apache(struct tree *t, struct jute_in *in, tree_image_fn each, void *d);

#endif
