/*
 * test_tree.c - unit tests of the data tree, ACL interning, watch tables,
 * transactions and the containers under them.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "digest.h"
#include "hset.h"
#include "nodepool.h"
#include "prefault.h"
#include "tree.h"
#include "txn.h"
#include "watch.h"
#include "zk/proto.h"
#include "ztest.h"

static struct znode *add(struct tree *t, const char *parent, const char *name, const char *data)
{
    struct znode *p = tree_lookup(t, parent, strlen(parent));
    ASSERT_TRUE(p != NULL);
    uint32_t acl = acl_intern(tree_acls(t), &acl_open_unsafe);
    struct znode *n = tree_add(t, p, name, strlen(name), data, data ? (int32_t)strlen(data) : -1,
                               acl, 0, 7, 1000);
    acl_unref(tree_acls(t), acl);
    return n;
}

static void test_builtin_nodes(void)
{
    struct tree *t = tree_new();
    ASSERT_INT_EQ(tree_node_count(t), 4);
    ASSERT_TRUE(tree_lookup(t, "/zookeeper/quota", 16) != NULL);
    ASSERT_TRUE(tree_lookup(t, "/zookeeper/config", 17) != NULL);
    ASSERT_TRUE(tree_lookup(t, "", 0) == tree_root(t)); /* Apache maps "" to the root */
    ASSERT_TRUE(tree_lookup(t, "/zookeeper/", 11) == NULL);
    ASSERT_TRUE(tree_lookup(t, "//zookeeper", 11) == NULL);
    struct zk_stat st;
    tree_stat(tree_lookup(t, "/zookeeper/config", 17), &st);
    ASSERT_INT_EQ(st.aversion, -1);
    tree_free(t);
}

static void test_many_children_and_paths(void)
{
    struct tree *t = tree_new();
    add(t, "/", "d", "x");
    char name[32], path[64];
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof name, "c%d", i);
        add(t, "/d", name, "v");
    }
    struct znode *d = tree_lookup(t, "/d", 2);
    ASSERT_INT_EQ(tree_nkids(d), 5000);
    for (int i = 0; i < 5000; i += 2) {
        snprintf(path, sizeof path, "/d/c%d", i);
        struct znode *n = tree_lookup(t, path, strlen(path));
        ASSERT_TRUE(n != NULL);
        char back[64];
        ASSERT_INT_EQ(tree_path(n, back, sizeof back), strlen(path));
        ASSERT_STR_EQ(back, path);
        tree_unlink(t, n);
        tree_node_free(t, n);
    }
    ASSERT_INT_EQ(tree_nkids(d), 2500);
    ASSERT_TRUE(tree_lookup(t, "/d/c2", 5) == NULL);
    ASSERT_TRUE(tree_lookup(t, "/d/c3", 5) != NULL);
    ASSERT_INT_EQ(tree_count_descendants(d), 2500);
    tree_free(t);
}

/* tree_lookup_dir remembers its last answer until a node is unlinked: a
 * directory deleted and made again under the same path is the new node. */
static void test_lookup_dir_forgets_on_unlink(void)
{
    struct tree *t = tree_new();
    struct znode *q = add(t, "/", "q", NULL);
    ASSERT_TRUE(tree_lookup_dir(t, "/q", 2) == q);
    ASSERT_TRUE(tree_lookup_dir(t, "/q", 2) == q); /* remembered */
    ASSERT_TRUE(tree_lookup_dir(t, "/qq", 3) == NULL);
    ASSERT_TRUE(tree_lookup_dir(t, "/q", 2) == q);
    tree_unlink(t, q);
    tree_node_free(t, q);
    ASSERT_TRUE(tree_lookup_dir(t, "/q", 2) == NULL);
    struct znode *q2 = add(t, "/", "q", NULL);
    ASSERT_TRUE(tree_lookup_dir(t, "/q", 2) == q2);
    struct znode *kid = add(t, "/q", "k", NULL); /* unlinking any node forgets */
    tree_unlink(t, kid);
    tree_node_free(t, kid);
    tree_unlink(t, q2);
    tree_node_free(t, q2);
    ASSERT_TRUE(tree_lookup_dir(t, "/q", 2) == NULL);
    tree_free(t);
}

static void test_cversion_reports_creates_plus_deletes(void)
{
    struct tree *t = tree_new();
    add(t, "/", "p", NULL);
    struct znode *a = add(t, "/p", "a", NULL);
    add(t, "/p", "b", NULL);
    tree_unlink(t, a);
    tree_node_free(t, a);
    struct zk_stat st;
    tree_stat(tree_lookup(t, "/p", 2), &st);
    ASSERT_INT_EQ(st.cversion, 3); /* 2 creates + 1 delete, as Apache reports */
    ASSERT_INT_EQ(st.num_children, 1);
    ASSERT_INT_EQ(st.data_length, 0);
    tree_free(t);
}

/* A value lives inline up to its creation size (plus the node pool's
 * rounding: under 8 bytes), moves out of line when it grows, and comes back
 * when it fits again; the node never moves. */
static void test_value_inline_and_out_of_line(void)
{
    struct tree *t = tree_new();
    struct znode *n = add(t, "/", "v", "12345");
    ASSERT_TRUE(n->ext == NULL); /* a plain leaf needs no ext */
    ASSERT_TRUE(n->datacap >= 5 && n->datacap < 5 + 8);
    ASSERT_INT_EQ(tree_pzxid(n), n->czxid);
    tree_set_data(t, n, "abc", 3);
    ASSERT_TRUE(n->ext == NULL);
    ASSERT_TRUE(!memcmp(tree_data(n), "abc", 3));
    const char *grown = "0123456789abcdefghij";
    tree_set_data(t, n, grown, 20);
    ASSERT_TRUE(n->ext != NULL && n->ext->data != NULL);
    ASSERT_TRUE(!memcmp(tree_data(n), grown, 20));
    ASSERT_INT_EQ(tree_data_bytes(t), 20);
    int32_t oldlen = 0;
    char *old = tree_replace_data(t, n, "xy", 2, &oldlen);
    ASSERT_INT_EQ(oldlen, 20);
    ASSERT_TRUE(!memcmp(old, grown, 20));
    free(old);
    ASSERT_TRUE(n->ext->data == NULL);
    ASSERT_TRUE(!memcmp(tree_data(n), "xy", 2));
    old = tree_replace_data(t, n, NULL, -1, &oldlen);
    ASSERT_INT_EQ(oldlen, 2);
    ASSERT_TRUE(!memcmp(old, "xy", 2));
    free(old);
    ASSERT_TRUE(tree_data(n) == NULL);
    ASSERT_INT_EQ(n->datalen, -1);
    ASSERT_TRUE(tree_lookup(t, "/v", 2) == n);
    ASSERT_INT_EQ(tree_owner(n), 0);
    ASSERT_INT_EQ(tree_cversion(n), 0);
    ASSERT_INT_EQ(tree_pzxid(n), n->czxid);
    tree_free(t);
}

static int append(const void *p, size_t len, void *d)
{
    jute_put_raw(d, p, len);
    return 0;
}

/* t written as Apache's snapshot body and read back into a new tree, which
 * must consume the whole image. */
static struct tree *image_copy(struct tree *t)
{
    struct jute_out img;
    jute_out_init(&img);
    ASSERT_INT_EQ(tree_serialize_apache(t, append, &img), 0);
    struct tree *u = tree_new_empty();
    struct jute_in in;
    jute_in_init(&in, img.p, img.len);
    ASSERT_INT_EQ(tree_load_apache(u, &in, NULL, NULL), 0);
    ASSERT_INT_EQ(in.off, img.len);
    jute_out_free(&img);
    return u;
}

static void test_serialize_roundtrip(void)
{
    struct tree *t = tree_new();
    add(t, "/", "a", "hello");
    add(t, "/a", "b", NULL);
    uint32_t open = acl_intern(tree_acls(t), &acl_open_unsafe);
    struct znode *e = tree_add(t, tree_lookup(t, "/a", 2), "e", 1, "", 0, open, 0x1234, 7, 1000);
    acl_unref(tree_acls(t), open);
    struct acl_list l = {0, NULL};
    struct acl_entry entry = {ZK_PERM_READ, "digest", "u:hash"};
    struct acl_list one = {1, &entry};
    acl_list_copy(&l, &one);
    uint32_t id = acl_intern(tree_acls(t), &l);
    tree_set_acl(t, e, id);
    acl_unref(tree_acls(t), id);
    acl_list_free(&l);

    struct tree *u = image_copy(t);
    ASSERT_INT_EQ(tree_node_count(u), tree_node_count(t));
    struct znode *a = tree_lookup(u, "/a", 2);
    ASSERT_INT_EQ(a->datalen, 5);
    ASSERT_TRUE(!memcmp(tree_data(a), "hello", 5));
    ASSERT_INT_EQ(tree_lookup(u, "/a/b", 4)->datalen, -1); /* null stays null */
    struct znode *e2 = tree_lookup(u, "/a/e", 4);
    ASSERT_INT_EQ(tree_owner(e2), 0x1234);
    ASSERT_INT_EQ(tree_ephemeral_count(u, 0x1234), 1);
    const struct acl_list *l2 = acl_get(tree_acls(u), e2->acl);
    ASSERT_STR_EQ(l2->e[0].scheme, "digest");
    ASSERT_INT_EQ(tree_cversion(tree_lookup(u, "/", 1)), tree_cversion(tree_lookup(t, "/", 1)));
    tree_free(u);
    tree_free(t);
}

static void test_acl_interning_and_checks(void)
{
    struct acl_cache *c = acl_cache_new();
    uint32_t a = acl_intern(c, &acl_open_unsafe);
    uint32_t b = acl_intern(c, &acl_open_unsafe);
    ASSERT_INT_EQ(a, b);
    ASSERT_INT_EQ(acl_cache_size(c), 1);
    struct auth_info auth = {0};
    auth_info_add(&auth, "ip", "10.1.2.3");
    struct acl_entry ip = {ZK_PERM_READ, "ip", "10.1.0.0/16"};
    struct acl_list l = {1, &ip};
    ASSERT_INT_EQ(acl_check(&l, ZK_PERM_READ, &auth), 0);
    ASSERT_INT_EQ(acl_check(&l, ZK_PERM_WRITE, &auth), ZK_NOAUTH);
    char *id;
    acl_digest("super:secret", 12, &id);
    ASSERT_STR_EQ(id, "super:lK75jTNcA+U9vtVEw5vB51mj/w4=");
    free(id);
    /* auth expands to the caller's ids; without any it is INVALIDACL. */
    struct acl_entry ae = {ZK_PERM_ALL, "auth", ""};
    struct acl_list one = {1, &ae}, fix;
    acl_list_copy(&fix, &one);
    ASSERT_INT_EQ(acl_fixup(&fix, &auth), ZK_INVALIDACL);
    auth_info_add(&auth, "digest", "u:h");
    ASSERT_INT_EQ(acl_fixup(&fix, &auth), 0);
    ASSERT_INT_EQ(fix.n, 1);
    ASSERT_STR_EQ(fix.e[0].id, "u:h");
    acl_list_free(&fix);
    auth_info_free(&auth);
    acl_cache_free(c);
}

static int fired;
static void count_owner(struct watch_owner *o, void *d)
{
    (void)o;
    (void)d;
    fired++;
}

static void test_watch_modes(void)
{
    struct watches *w = watches_new();
    struct watch_owner o1 = {0}, o2 = {0};
    watches_add(w, "/a", 2, &o1, WATCH_STANDARD);
    watches_add(w, "/", 1, &o2, WATCH_RECURSIVE);
    fired = 0;
    watches_trigger(w, "/a", 2, ZK_EVENT_CHANGED, count_owner, NULL, NULL, NULL);
    ASSERT_INT_EQ(fired, 2);
    fired = 0;
    watches_trigger(w, "/a", 2, ZK_EVENT_CHANGED, count_owner, NULL, NULL, NULL);
    ASSERT_INT_EQ(fired, 1); /* the standard watch was consumed, the recursive one stays */
    fired = 0;
    watches_trigger(w, "/a", 2, ZK_EVENT_CHILD, count_owner, NULL, NULL, NULL);
    ASSERT_INT_EQ(fired, 0); /* recursive watches never see NodeChildrenChanged */
    ASSERT_INT_EQ(watches_count(w), 1);
    watch_owner_clear(&o2);
    ASSERT_INT_EQ(watches_count(w), 0);
    watches_free(w);
}

/* An owner's watch is found through the shorter list: 20,000 sessions
 * arming one path cost O(1) each (a scan of the path's list made it 2e8
 * steps), one session arming 2,000 paths too; and both ways find it. */
static void test_watch_search_takes_the_shorter_list(void)
{
    enum { OWNERS = 20000, PATHS = 2000 };
    struct watches *w = watches_new();
    struct watch_owner *owners = calloc(OWNERS, sizeof *owners);
    for (int i = 0; i < OWNERS; i++)
        watches_add(w, "/fan", 4, &owners[i], WATCH_STANDARD);
    ASSERT_TRUE(watches_search_steps(w) <= OWNERS);
    char path[32];
    for (int i = 0; i < PATHS; i++) {
        int n = snprintf(path, sizeof path, "/p%d", i);
        watches_add(w, path, (size_t)n, &owners[0], WATCH_STANDARD);
        watches_add(w, path, (size_t)n, &owners[1], WATCH_STANDARD);
    }
    ASSERT_TRUE(watches_search_steps(w) <= OWNERS + 2 * PATHS);
    /* owners[0] has more watches than /p7 has owners: searched from the path */
    ASSERT_TRUE(watches_has(w, "/p7", 3, &owners[0], -1));
    ASSERT_TRUE(!watches_has(w, "/p7", 3, &owners[2], -1));
    /* /fan has more owners than owners[5] has watches: searched from the owner */
    ASSERT_TRUE(watches_has(w, "/fan", 4, &owners[5], 1 << WATCH_STANDARD));
    watches_add(w, "/fan", 4, &owners[5], WATCH_PERSISTENT); /* re-modes, adds nothing */
    ASSERT_INT_EQ(watches_count(w), OWNERS + 2 * PATHS);
    ASSERT_TRUE(watches_has(w, "/fan", 4, &owners[5], 1 << WATCH_PERSISTENT));
    ASSERT_INT_EQ(watches_remove(w, "/fan", 4, &owners[5], -1), 1);
    ASSERT_TRUE(!watches_has(w, "/fan", 4, &owners[5], -1));
    ASSERT_TRUE(watches_has(w, "/fan", 4, &owners[6], -1));
    fired = 0;
    watches_trigger(w, "/fan", 4, ZK_EVENT_CHANGED, count_owner, NULL, NULL, NULL);
    ASSERT_INT_EQ(fired, OWNERS - 1);
    ASSERT_INT_EQ(watches_count(w), 2 * PATHS);
    for (int i = 0; i < OWNERS; i++)
        watch_owner_clear(&owners[i]);
    ASSERT_INT_EQ(watches_count(w), 0);
    free(owners);
    watches_free(w);
}

static void test_txn_roundtrip(void)
{
    struct txn t;
    txn_init(&t, ZK_OP_MULTI, 42, 7, 1000);
    struct txn_op *op = txn_add_op(&t, ZK_OP_CREATE);
    op->path = strdup("/x");
    op->data = (struct zk_slice){"abc", 3};
    acl_list_copy(&op->acl, &acl_open_unsafe);
    op->parent_cversion = 5;
    op = txn_add_op(&t, ZK_OP_SETDATA);
    op->path = strdup("/y");
    op->data = (struct zk_slice){NULL, -1};
    op->version = 3;
    struct jute_out out;
    jute_out_init(&out);
    txn_encode(&out, &t);
    struct txn u;
    ASSERT_INT_EQ(txn_decode(out.p, out.len, &u), 0);
    ASSERT_INT_EQ(u.nops, 2);
    ASSERT_STR_EQ(u.ops[0].path, "/x");
    ASSERT_INT_EQ(u.ops[0].parent_cversion, 5);
    ASSERT_INT_EQ(u.ops[1].data.len, -1);
    for (size_t cut = 0; cut < out.len; cut++) { /* every truncation is refused */
        struct txn v;
        ASSERT_INT_EQ(txn_decode(out.p, cut, &v), -1);
    }
    txn_free(&u);
    txn_free(&t);
    jute_out_free(&out);
}

static void test_hset(void)
{
    struct pset s = {0};
    int v[1000];
    for (int i = 0; i < 1000; i++)
        ASSERT_INT_EQ(pset_add(&s, &v[i]), 1);
    for (int i = 0; i < 1000; i += 3)
        ASSERT_INT_EQ(pset_del(&s, &v[i]), 1);
    for (int i = 0; i < 1000; i++)
        ASSERT_INT_EQ(pset_has(&s, &v[i]), i % 3 != 0);
    pset_free(&s);
    struct i64map m = {0};
    for (int64_t k = 1; k <= 1000; k++)
        i64map_put(&m, k * 7919, &v[k % 1000]);
    for (int64_t k = 1; k <= 1000; k += 2)
        ASSERT_TRUE(i64map_del(&m, k * 7919) == &v[k % 1000]);
    ASSERT_INT_EQ(m.n, 500);
    ASSERT_TRUE(i64map_get(&m, 2 * 7919) == &v[2]);
    ASSERT_TRUE(i64map_get(&m, 3 * 7919) == NULL);
    i64map_free(&m);
}

/* Apache 3.8 logs "digest is 1371985504" for its empty tree ("" and
 * /zookeeper count; /zookeeper/quota and /zookeeper/config do not). */
static void test_digest_of_the_empty_tree_is_apaches(void)
{
    struct tree *t = tree_new();
    ASSERT_INT_EQ(digest_tree(t), 1371985504);
    struct znode *root = tree_root(t);
    ASSERT_INT_EQ(digest_node("/", 1, root), digest_node("", 0, root));
    ASSERT_INT_EQ(digest_node("/zookeeper/quota", 16, root), 0);
    tree_free(t);
}

struct follow {
    struct digest_follow *f;
    int replaced, nodes;
    const uint8_t *second, *last; /* where the root's record ends; the last one's end */
};

static void follow_node(const struct tree_image_node *node, void *d)
{
    struct follow *fl = d;
    digest_follow_add(fl->f, node->rec, node->end);
    fl->replaced += node->replaced && node->plen;
    fl->nodes++;
    if (!node->plen)
        fl->second = node->end;
    fl->last = node->end;
}

/* An Apache image loads back into the same tree (its parents found from
 * the previous node's path: depth-first, with jumps back up several
 * levels), and the digest summed from its records on a second thread
 * equals the walk's over both trees. */
static void test_apache_image_roundtrip_and_digest(void)
{
    struct tree *t = tree_new();
    add(t, "/", "a", "1");
    add(t, "/a", "b", NULL);
    add(t, "/a/b", "c", "deep");
    add(t, "/a/b/c", "d", "deeper");
    add(t, "/a", "bb", "");
    add(t, "/", "ab", "x"); /* a sibling whose name extends another's */
    add(t, "/ab", "a", "y");
    for (int i = 0; i < 300; i++) { /* more records than one hand-over */
        char name[16];
        snprintf(name, sizeof name, "n%03d", i);
        add(t, i % 2 ? "/a/b" : "/ab", name, i % 3 ? "value" : NULL);
    }
    char big[1000];
    memset(big, 'v', sizeof big);
    struct znode *n = add(t, "/a", "big", NULL);
    tree_set_data(t, n, big, sizeof big); /* hashed in parts, not in one buffer */
    add(t, "/zookeeper", "x", "left out of the digest");

    struct jute_out img, again;
    jute_out_init(&img);
    jute_out_init(&again);
    ASSERT_INT_EQ(tree_serialize_apache(t, append, &img), 0);
    struct tree *u = tree_new_empty();
    struct jute_in in;
    jute_in_init(&in, img.p, img.len);
    struct follow fl = {digest_follow_start(), 0, 0, NULL, NULL};
    ASSERT_INT_EQ(tree_load_apache(u, &in, follow_node, &fl), 0);
    int64_t sum;
    ASSERT_INT_EQ(digest_follow_finish(fl.f, &sum), 0);
    ASSERT_INT_EQ(in.off, img.len);
    ASSERT_INT_EQ(fl.replaced, 0);
    ASSERT_INT_EQ(fl.nodes, (int)tree_node_count(t));
    ASSERT_INT_EQ(tree_node_count(u), tree_node_count(t));
    ASSERT_INT_EQ(sum, digest_tree(t));
    ASSERT_INT_EQ(sum, digest_tree(u));
    ASSERT_INT_EQ(tree_serialize_apache(u, append, &again), 0);
    ASSERT_INT_EQ(again.len, img.len);
    ASSERT_TRUE(tree_lookup(u, "/a/b/c/d", 8) != NULL);
    ASSERT_TRUE(tree_lookup(u, "/ab/a", 5) != NULL);
    ASSERT_INT_EQ(tree_nkids(tree_lookup(u, "/a/b", 4)), 151);
    tree_free(u);

    /* The nodes twice over (the root once): each of the second copy
     * replaces one, as the hook is told, for the walk's digest is then no
     * longer the records' sum. */
    struct jute_out twice;
    jute_out_init(&twice);
    jute_put_raw(&twice, img.p, (size_t)(fl.last - img.p));
    jute_put_raw(&twice, fl.second, (size_t)(fl.last - fl.second));
    jute_put_raw(&twice, fl.last, img.len - (size_t)(fl.last - img.p));
    jute_in_init(&in, twice.p, twice.len);
    u = tree_new_empty();
    int nodes = fl.nodes;
    fl = (struct follow){digest_follow_start(), 0, 0, NULL, NULL};
    ASSERT_INT_EQ(tree_load_apache(u, &in, follow_node, &fl), 0);
    ASSERT_INT_EQ(digest_follow_finish(fl.f, &sum), 0);
    ASSERT_INT_EQ(fl.replaced, nodes - 1);
    ASSERT_INT_EQ(tree_node_count(u), tree_node_count(t));
    ASSERT_INT_EQ(digest_tree(u), digest_tree(t));
    ASSERT_TRUE(sum != digest_tree(u));
    tree_free(u);
    jute_out_free(&twice);
    jute_out_free(&img);
    jute_out_free(&again);
    tree_free(t);
}

/* The layout the memory budget of issue 20 rests on: a 60-byte header, so
 * that a leaf named "n00000" with 100 bytes of value is one 168-byte pool
 * block (see struct znode). */
static void test_leaf_layout(void)
{
    ASSERT_INT_EQ(offsetof(struct znode, name), 60);
    ASSERT_INT_EQ(nodepool_size(offsetof(struct znode, name) + 7 + 100), 168);
    struct tree *t = tree_new();
    char v[101];
    memset(v, 'x', 100);
    v[100] = 0;
    struct znode *n = add(t, "/", "n00000", v);
    ASSERT_TRUE(n->ext == NULL);
    ASSERT_INT_EQ(n->datacap, 101); /* 168 - 60 - 7 */
    tree_free(t);
}

/* mtime is kept as a 32-bit offset from ctime, in ext when it is further
 * (or the subtraction would overflow): every value reads back exactly. */
static void test_mtime_far_from_ctime(void)
{
    struct tree *t = tree_new();
    struct znode *n = add(t, "/", "m", "v"); /* ctime 1000 */
    const int64_t cases[] = {1000, 1000 + (int64_t)INT32_MAX, 1000 + (int64_t)INT32_MAX + 1,
                             1000 + (int64_t)INT32_MIN, 1000 + (int64_t)INT32_MIN + 1,
                             INT64_MAX, INT64_MIN, -5, 1001};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tree_set_mtime(n, cases[i]);
        ASSERT_INT_EQ(tree_mtime(n), cases[i]);
        struct zk_stat st;
        tree_stat(n, &st);
        ASSERT_INT_EQ(st.mtime, cases[i]);
        ASSERT_INT_EQ(st.ctime, 1000);
    }
    struct znode *far = add(t, "/", "far", "v");
    ASSERT_TRUE(far->ext == NULL);
    tree_set_mtime(far, 1000 + 30LL * 24 * 3600 * 1000); /* 30 days on */
    ASSERT_TRUE(far->ext != NULL);
    ASSERT_INT_EQ(tree_mtime(far), 1000 + 30LL * 24 * 3600 * 1000);
    ASSERT_INT_EQ(tree_pzxid(far), far->czxid); /* ext starts at the defaults */
    ASSERT_INT_EQ(tree_aversion(far), 0);

    /* Both survive an image round trip, as does an ACL version. */
    tree_set_aversion(n, 7);
    struct tree *u = image_copy(t);
    ASSERT_INT_EQ(tree_mtime(tree_lookup(u, "/m", 2)), 1001);
    ASSERT_INT_EQ(tree_aversion(tree_lookup(u, "/m", 2)), 7);
    ASSERT_INT_EQ(tree_mtime(tree_lookup(u, "/far", 4)), 1000 + 30LL * 24 * 3600 * 1000);
    ASSERT_INT_EQ(digest_tree(u), digest_tree(t));
    tree_free(u);
    tree_free(t);
}

/* A name too long for the 16-bit length keeps its length in ext; every
 * path operation still sees the whole name. */
static void test_long_name(void)
{
    struct tree *t = tree_new();
    size_t len = 70000;
    char *name = malloc(len + 2);
    memset(name, 'l', len);
    name[len] = 0;
    struct znode *n = add(t, "/", name, "value");
    ASSERT_INT_EQ(tree_namelen(n), len);
    ASSERT_TRUE(!memcmp(tree_data(n), "value", 5));
    char *path = malloc(len + 2);
    path[0] = '/';
    memcpy(path + 1, name, len + 1);
    ASSERT_TRUE(tree_lookup(t, path, len + 1) == n);
    ASSERT_TRUE(tree_lookup(t, path, len) == NULL);
    char *back = malloc(len + 2);
    ASSERT_INT_EQ(tree_path(n, back, len + 2), len + 1);
    ASSERT_TRUE(!memcmp(back, path, len + 2));
    add(t, path, "kid", "k");
    struct tree *u = image_copy(t);
    ASSERT_INT_EQ(digest_tree(u), digest_tree(t));
    ASSERT_INT_EQ(tree_nkids(tree_lookup(u, path, len + 1)), 1);
    tree_free(u);
    struct znode *kid = tree_child(n, "kid", 3);
    tree_unlink(t, kid);
    tree_node_free(t, kid);
    tree_unlink(t, n);
    tree_node_free(t, n);
    ASSERT_INT_EQ(tree_node_count(t), 4);
    free(name);
    free(path);
    free(back);
    tree_free(t);
}

static int kid_present(const struct znode *p, const struct znode *c)
{
    for (uint32_t i = 0; i < tree_kid_slots(p); i++)
        if (tree_kid(p, i) == c)
            return 1;
    return 0;
}

/* The child table under churn: random creates and deletes under one
 * parent, each checked against a plain array, with the table's load kept
 * between 1/8 (once past 16 slots) and 7/8. */
static void test_child_table_churn(void)
{
    struct tree *t = tree_new();
    struct znode *p = add(t, "/", "p", NULL);
    enum { N = 6000 };
    struct znode **live = calloc(N, sizeof *live);
    uint32_t seed = 12345, count = 0;
    char name[16];
    for (int step = 0; step < 60000; step++) {
        seed = seed * 1103515245u + 12345u;
        uint32_t k = (seed >> 8) % N;
        /* Grow for the first half, then shrink: tables go both ways. */
        int grow = step < 30000 ? (seed >> 4) % 4 != 0 : (seed >> 4) % 4 == 0;
        snprintf(name, sizeof name, "k%u", k);
        struct znode *c = tree_child(p, name, strlen(name));
        ASSERT_TRUE(c == live[k]);
        if (grow && !c) {
            live[k] = add(t, "/p", name, "v");
            count++;
        } else if (!grow && c) {
            tree_unlink(t, c);
            tree_node_free(t, c);
            live[k] = NULL;
            count--;
        }
        uint32_t cap = tree_kid_slots(p);
        ASSERT_INT_EQ(tree_nkids(p), count);
        ASSERT_TRUE((uint64_t)count * 8 <= (uint64_t)cap * 7);
        ASSERT_TRUE(cap <= 16 || (uint64_t)count * 8 >= cap);
        if (step % 5000 == 0) {
            for (uint32_t i = 0; i < N; i++) {
                snprintf(name, sizeof name, "k%u", i);
                ASSERT_TRUE(tree_child(p, name, strlen(name)) == live[i]);
                ASSERT_TRUE(!live[i] || kid_present(p, live[i]));
            }
        }
    }
    for (uint32_t i = 0; i < N; i++)
        if (live[i]) {
            tree_unlink(t, live[i]);
            tree_node_free(t, live[i]);
        }
    ASSERT_INT_EQ(tree_nkids(p), 0);
    ASSERT_INT_EQ(tree_kid_slots(p), 0); /* the table is gone */
    free(live);
    tree_free(t);
}

/* A table past 65,536 slots places children by the whole hash and doubles
 * as it grows; on the way down it turns small again. */
static void test_wide_child_table(void)
{
    struct tree *t = tree_new();
    struct znode *p = add(t, "/", "w", NULL);
    enum { N = 150000 };
    struct znode **v = calloc(N, sizeof *v);
    char name[24];
    for (uint32_t i = 0; i < N; i++) {
        snprintf(name, sizeof name, "lock-%010u", i);
        v[i] = add(t, "/w", name, NULL);
    }
    ASSERT_TRUE(tree_kid_slots(p) > 65536);
    ASSERT_TRUE((uint64_t)N * 4 <= (uint64_t)tree_kid_slots(p) * 3);
    for (uint32_t i = 0; i < N; i += 2) {
        tree_unlink(t, v[i]);
        tree_node_free(t, v[i]);
        v[i] = NULL;
    }
    for (uint32_t i = 0; i < N; i += 3) {
        snprintf(name, sizeof name, "lock-%010u", i);
        ASSERT_TRUE(tree_child(p, name, strlen(name)) == v[i]);
    }
    for (uint32_t i = 1; i < N; i += 2) {
        tree_unlink(t, v[i]);
        tree_node_free(t, v[i]);
        if (i % 1001 == 0) {
            snprintf(name, sizeof name, "lock-%010u", i + 2);
            ASSERT_TRUE(i + 2 >= N || tree_child(p, name, strlen(name)) == v[i + 2]);
        }
    }
    ASSERT_INT_EQ(tree_nkids(p), 0);
    ASSERT_INT_EQ(tree_kid_slots(p), 0);
    free(v);
    tree_free(t);
}

/* Every live child is found by name and by a tree_kid walk, and nothing
 * else is there. */
static void check_kids(const struct znode *p, struct znode **v, uint32_t n, uint32_t count)
{
    char name[24];
    uint32_t seen = 0;
    for (uint32_t i = 0; i < tree_kid_slots(p); i++)
        seen += tree_kid(p, i) != NULL;
    ASSERT_INT_EQ(seen, count);
    ASSERT_INT_EQ(tree_nkids(p), count);
    for (uint32_t i = 0; i < n; i++) {
        snprintf(name, sizeof name, "m%u", i);
        ASSERT_TRUE(tree_child(p, name, strlen(name)) == v[i]);
    }
}

/* A rebuild that involves a table past 65,536 slots is incremental: right
 * after the change that starts it, almost every child is still in the old
 * table, and each later change moves a few slots; lookups, deletes from
 * either table and walks stay right throughout, growing and shrinking
 * (random order, so deletes hit the old table mid-move). */
static void test_incremental_child_table_rebuild(void)
{
    struct tree *t = tree_new();
    struct znode *p = add(t, "/", "m", NULL);
    enum { N = 140000 };
    struct znode **v = calloc(N, sizeof *v);
    uint32_t *order = malloc(N * sizeof *order);
    char name[24];
    int moves = 0;
    for (uint32_t i = 0; i < N; i++) {
        snprintf(name, sizeof name, "m%u", i);
        int moving = p->ext && p->ext->move != NULL;
        v[i] = add(t, "/m", name, NULL);
        if (!moving && p->ext->move) { /* this add started a move */
            moves++;
            ASSERT_TRUE(p->ext->move->base == 0);
            ASSERT_TRUE(p->ext->move->cap >= 32768);
            check_kids(p, v, N, i + 1); /* children split between two tables */
        }
        if (i % 20011 == 0)
            check_kids(p, v, N, i + 1);
    }
    ASSERT_TRUE(moves >= 1);
    check_kids(p, v, N, N);
    uint32_t seed = 99;
    for (uint32_t i = 0; i < N; i++)
        order[i] = i;
    for (uint32_t i = N - 1; i > 0; i--) {
        seed = seed * 1103515245u + 12345u;
        uint32_t j = (seed >> 8) % (i + 1), x = order[i];
        order[i] = order[j];
        order[j] = x;
    }
    int shrink_moves = 0;
    for (uint32_t k = 0; k < N; k++) {
        uint32_t i = order[k];
        int moving = p->ext->move != NULL;
        tree_unlink(t, v[i]);
        tree_node_free(t, v[i]);
        v[i] = NULL;
        if (!moving && p->ext && p->ext->move) {
            shrink_moves++;
            check_kids(p, v, N, N - k - 1);
        }
        if (k % 20011 == 0 || (p->ext && p->ext->move && p->ext->move->base % 4096 == 64))
            check_kids(p, v, N, N - k - 1);
    }
    ASSERT_TRUE(shrink_moves >= 1);
    ASSERT_INT_EQ(tree_nkids(p), 0);
    ASSERT_INT_EQ(tree_kid_slots(p), 0);
    free(order);
    free(v);
    tree_free(t);
}

/* The pool reuses a freed block for its class, hands it out zeroed, and
 * sends what is above NODEPOOL_MAX to malloc. */
static void count_kid(struct znode *c, void *d)
{
    (void)c;
    ++*(int *)d;
}

/* tree_kid_walk (listing.h's cursor across loop turns): exact while the
 * parent's children do not change, during an incremental rebuild too;
 * stale after any add, unlink or relink under it, or when it is freed,
 * or its tree; other parents' changes leave it alone. */
static void test_kid_walk_across_changes(void)
{
    struct tree *t = tree_new();
    add(t, "/", "w", NULL);
    add(t, "/", "other", NULL);
    char name[32];
    struct znode *w = tree_lookup(t, "/w", 2);
    int n = 0;
    while (!w->ext || !w->ext->move || w->ext->move->base < 1000) { /* a large rebuild under way */
        snprintf(name, sizeof name, "c%05d", n++);
        add(t, "/w", name, NULL);
    }
    struct tree_kid_walk k;
    tree_kid_walk_open(t, &k, w);
    int seen = 0, st;
    while ((st = tree_kid_walk_step(&k, 1000, count_kid, &seen)) == TREE_WALK_MORE) {
        snprintf(name, sizeof name, "o%d", seen);
        add(t, "/other", name, NULL);
    }
    ASSERT_INT_EQ(st, TREE_WALK_DONE);
    ASSERT_INT_EQ(seen, n);
    ASSERT_TRUE(w->ext->move != NULL); /* (the walk spanned both tables) */
    tree_kid_walk_close(&k);

    struct znode *c = tree_lookup(t, "/w/c00001", 9);
    for (int op = 0; op < 3; op++) { /* add, unlink, relink */
        tree_kid_walk_open(t, &k, w);
        seen = 0;
        ASSERT_INT_EQ(tree_kid_walk_step(&k, 10, count_kid, &seen), TREE_WALK_MORE);
        if (op == 0)
            add(t, "/w", "new", NULL);
        else if (op == 1)
            tree_unlink(t, c);
        else
            tree_relink(t, c);
        ASSERT_INT_EQ(tree_kid_walk_step(&k, 10, count_kid, &seen), TREE_WALK_STALE);
        ASSERT_INT_EQ(seen, 10);
        tree_kid_walk_close(&k);
    }
    struct znode *gone = add(t, "/", "gone", NULL);
    add(t, "/gone", "x", NULL);
    struct znode *x = tree_lookup(t, "/gone/x", 7);
    tree_kid_walk_open(t, &k, gone);
    struct tree_kid_walk k2;
    tree_kid_walk_open(t, &k2, w);
    tree_unlink(t, x);
    tree_node_free(t, x);
    tree_unlink(t, gone);
    tree_node_free(t, gone);
    ASSERT_INT_EQ(tree_kid_walk_step(&k, 10, count_kid, &seen), TREE_WALK_STALE);
    ASSERT_TRUE(k.parent == NULL);
    tree_kid_walk_close(&k);
    tree_free(t); /* with k2 open: it goes stale and closes without the tree */
    ASSERT_INT_EQ(tree_kid_walk_step(&k2, 10, count_kid, &seen), TREE_WALK_STALE);
    tree_kid_walk_close(&k2);
}

static void test_nodepool(void)
{
    struct nodepool pool = {0};
    ASSERT_INT_EQ(nodepool_size(1), 8);
    ASSERT_INT_EQ(nodepool_size(168), 168);
    ASSERT_INT_EQ(nodepool_size(169), 176);
    unsigned char *a = nodepool_alloc(&pool, 168);
    memset(a, 0xAB, 168);
    nodepool_free(&pool, a, 168);
    unsigned char *b = nodepool_alloc(&pool, 168);
    for (int i = 0; i < 168; i++)
        ASSERT_INT_EQ(b[i], 0);
    void *many[20000];
    for (int i = 0; i < 20000; i++) { /* several slabs, several classes */
        size_t size = nodepool_size(8 + (size_t)(i % 130) * 8);
        many[i] = nodepool_alloc(&pool, size);
        memset(many[i], i & 0xFF, size);
    }
    if (pool.nslabs) { /* not under ASan, where each block is a malloc */
        /* Past PREFAULT_FROM slabs the next one is made ahead and faulted
         * in by prefault.h's thread. */
        ASSERT_TRUE(pool.nslabs >= 2);
        ASSERT_TRUE(pool.spare != NULL);
        prefault_drain();
        unsigned long done, dropped;
        prefault_counts(&done, &dropped);
        ASSERT_TRUE(done >= 1);
    }
    for (int i = 0; i < 20000; i++) {
        size_t size = nodepool_size(8 + (size_t)(i % 130) * 8);
        ASSERT_INT_EQ(((unsigned char *)many[i])[size - 1], i & 0xFF);
        nodepool_free(&pool, many[i], size);
    }
    nodepool_free(&pool, b, 168);
    nodepool_destroy(&pool);
    ASSERT_TRUE(pool.slabs == NULL);
}

ZTEST_MAIN(ZT(test_kid_walk_across_changes), ZT(test_leaf_layout), ZT(test_mtime_far_from_ctime), ZT(test_long_name),
           ZT(test_child_table_churn), ZT(test_wide_child_table), ZT(test_incremental_child_table_rebuild), ZT(test_nodepool), ZT(test_builtin_nodes), ZT(test_digest_of_the_empty_tree_is_apaches),
           ZT(test_apache_image_roundtrip_and_digest), ZT(test_many_children_and_paths),
           ZT(test_cversion_reports_creates_plus_deletes), ZT(test_lookup_dir_forgets_on_unlink), ZT(test_watch_search_takes_the_shorter_list), ZT(test_value_inline_and_out_of_line),
           ZT(test_serialize_roundtrip),
           ZT(test_acl_interning_and_checks), ZT(test_watch_modes), ZT(test_txn_roundtrip),
           ZT(test_hset))
