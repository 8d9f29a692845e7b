/*
 * test_client_codec.c - libzk's pure modules: connect strings and paths
 * (client/hosts.c), the watch table (client/watch.c), and request/reply
 * encoding (client/request.c, client/txn.c).
 *
 * tests/CMakeLists.txt links unit tests against zkdcore only, so the client
 * modules under test are compiled into this file directly; none of them
 * touches the network or libuv.  The live-server tests of libzk are in
 * tests/integration/test_libzk.py.
 */
#include "../../client/hosts.c"
#include "../../client/request.c"
#include "../../client/txn.c"
#include "../../client/watch.c"
#include "ztest.h"

/* request.c uses the default ACL, which lives in ops.c with the handle. */
const struct zk_acl zk_acl_open_unsafe[1] = {{ZK_PERM_ALL, "world", "anyone"}};

static void test_hosts_parse(void)
{
    struct zk_hostlist hl;
    ASSERT_INT_EQ(zk__hosts_parse("a:1, b:2 ,[::1]:2183,c/app/x", &hl), 0);
    ASSERT_INT_EQ(hl.n, 4);
    ASSERT_STR_EQ(hl.v[0].host, "a");
    ASSERT_INT_EQ(hl.v[0].port, 1);
    ASSERT_STR_EQ(hl.v[1].host, "b");
    ASSERT_STR_EQ(hl.v[2].host, "::1");
    ASSERT_INT_EQ(hl.v[2].port, 2183);
    ASSERT_INT_EQ(hl.v[3].port, 2181);
    ASSERT_STR_EQ(hl.chroot, "/app/x");
    zk__hosts_shuffle(&hl);
    ASSERT_INT_EQ(hl.n, 4);
    zk__hosts_free(&hl);
    ASSERT_INT_EQ(zk__hosts_parse("h:2181/", &hl), 0);
    ASSERT_TRUE(hl.chroot == NULL);
    zk__hosts_free(&hl);
    const char *bad[] = {"", ":1", "h:0", "h:65536", "h:x", "[::1", "[::1]x", "h:1,,h:2",
                         "h/a//b", "h/a/", "h:"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (zk__hosts_parse(bad[i], &hl) != ZK_BADARGUMENTS)
            ZT_FAIL("accepted \"%s\"", bad[i]);
    }
}

static void test_paths(void)
{
    ASSERT_INT_EQ(zk__path_validate("/", 0), 0);
    ASSERT_INT_EQ(zk__path_validate("/a/b-c.d", 0), 0);
    ASSERT_INT_EQ(zk__path_validate("a", 0), ZK_BADARGUMENTS);
    ASSERT_INT_EQ(zk__path_validate("/a/", 0), ZK_BADARGUMENTS);
    ASSERT_INT_EQ(zk__path_validate("/a/", 1), 0);
    ASSERT_INT_EQ(zk__path_validate("/a/../b", 0), ZK_BADARGUMENTS);
    ASSERT_INT_EQ(zk__path_validate("/a/\x01", 0), ZK_BADARGUMENTS);
    char *p = zk__path_prepend("/app", "/");
    ASSERT_STR_EQ(p, "/app");
    free(p);
    p = zk__path_prepend("/app", "/x");
    ASSERT_STR_EQ(p, "/app/x");
    free(p);
    p = zk__path_strip("/app", "/app/x", 6);
    ASSERT_STR_EQ(p, "/x");
    free(p);
    p = zk__path_strip("/app", "/app", 4);
    ASSERT_STR_EQ(p, "/");
    free(p);
    p = zk__path_strip("/app", "/apple", 6);
    ASSERT_STR_EQ(p, "/apple");
    free(p);
}

static void w1(zk_t *zk, const struct zk_event *ev, void *data) { (void)zk, (void)ev, (void)data; }
static void w2(zk_t *zk, const struct zk_event *ev, void *data) { (void)zk, (void)ev, (void)data; }

static void test_watch_table(void)
{
    struct watch_table t;
    struct watch_ref *r;
    zk__watch_table_init(&t);
    zk__watch_add(&t, "/a", WK_DATA, w1, NULL);
    zk__watch_add(&t, "/a", WK_DATA, w1, NULL); /* same pair: one watch */
    zk__watch_add(&t, "/a", WK_EXIST, w2, NULL);
    zk__watch_add(&t, "/a", WK_CHILD, w1, "c");
    ASSERT_INT_EQ(zk__watch_trigger(&t, ZK_EVENT_CHANGED, "/a", &r), 2);
    free(r);
    ASSERT_INT_EQ(zk__watch_trigger(&t, ZK_EVENT_CHANGED, "/a", &r), 0); /* one-shot */
    free(r);
    ASSERT_TRUE(zk__watch_has(&t, "/a", ZK_WATCH_CHILDREN));
    ASSERT_TRUE(!zk__watch_has(&t, "/a", ZK_WATCH_DATA));
    ASSERT_INT_EQ(zk__watch_trigger(&t, ZK_EVENT_DELETED, "/a", &r), 1);
    ASSERT_TRUE(r[0].data != NULL);
    free(r);
    ASSERT_INT_EQ(t.npaths, 0);

    zk__watch_add(&t, "/p", WK_PERSISTENT, w1, NULL);
    zk__watch_add(&t, "/", WK_RECURSIVE, w2, NULL);
    zk__watch_add(&t, "/p/q", WK_DATA, w1, NULL);
    ASSERT_INT_EQ(zk__watch_trigger(&t, ZK_EVENT_CHILD, "/p", &r), 1); /* persistent only */
    free(r);
    ASSERT_INT_EQ(zk__watch_trigger(&t, ZK_EVENT_CHANGED, "/p/q", &r), 2); /* data + recursive */
    free(r);
    ASSERT_INT_EQ(zk__watch_trigger(&t, ZK_EVENT_CHANGED, "/p/q", &r), 1); /* recursive stays */
    free(r);
    ASSERT_INT_EQ(zk__watch_trigger(&t, ZK_EVENT_CHANGED, "/p", &r), 2);
    free(r);
    ASSERT_INT_EQ(zk__watch_remove(&t, "/p", ZK_WATCH_DATA, NULL, NULL, &r), 0);
    free(r);
    ASSERT_INT_EQ(zk__watch_remove(&t, "/p", ZK_WATCH_ANY, NULL, NULL, &r), 1);
    ASSERT_INT_EQ(r[0].event_type, ZK_EVENT_PERSISTENT_WATCH_REMOVED);
    free(r);
    /* Many paths: the table grows and keeps them all. */
    char path[64];
    for (int i = 0; i < 5000; i++) {
        snprintf(path, sizeof path, "/n/%d", i);
        zk__watch_add(&t, path, WK_CHILD, w1, NULL);
    }
    ASSERT_INT_EQ(t.npaths, 5001);
    ASSERT_TRUE(zk__watch_has(&t, "/n/4999", ZK_WATCH_CHILDREN));
    ASSERT_INT_EQ(zk__watch_clear(&t, &r), 2); /* each distinct watcher once */
    free(r);
    zk__watch_table_free(&t);
}

/* Which server watch classes a removal of one watcher empties. */
static void test_watch_server_type(void)
{
    struct watch_table t;
    zk__watch_table_init(&t);
    zk__watch_add(&t, "/a", WK_DATA, w1, NULL);
    zk__watch_add(&t, "/a", WK_EXIST, w2, NULL);
    zk__watch_add(&t, "/a", WK_CHILD, w1, NULL);
    /* w2 still uses the data class: removing w1's data watch is local. */
    ASSERT_INT_EQ(zk__watch_server_type(&t, "/a", ZK_WATCH_DATA, w1, NULL), 0);
    /* w1 is the only child watcher: the server drops the child class. */
    ASSERT_INT_EQ(zk__watch_server_type(&t, "/a", ZK_WATCH_CHILDREN, w1, NULL), ZK_WATCH_CHILDREN);
    /* ANY for w1 empties only the child class: ask for exactly that. */
    ASSERT_INT_EQ(zk__watch_server_type(&t, "/a", ZK_WATCH_ANY, w1, NULL), ZK_WATCH_CHILDREN);
    /* w2 alone in the data class. */
    ASSERT_INT_EQ(zk__watch_server_type(&t, "/a", ZK_WATCH_DATA, w2, NULL), 0);
    struct watch_ref *r;
    ASSERT_INT_EQ(zk__watch_remove(&t, "/a", ZK_WATCH_DATA, w1, NULL, &r), 1);
    free(r);
    ASSERT_INT_EQ(zk__watch_server_type(&t, "/a", ZK_WATCH_DATA, w2, NULL), ZK_WATCH_DATA);
    /* Removing everything (no watcher given) always asks the server. */
    ASSERT_INT_EQ(zk__watch_server_type(&t, "/a", ZK_WATCH_ANY, NULL, NULL), ZK_WATCH_ANY);
    zk__watch_table_free(&t);
}

static void test_request_frames(void)
{
    struct zk_pending *p;
    struct zk_request get = {.op = ZK_OP_GETDATA, .path = "/x", .watcher = w1};
    ASSERT_INT_EQ(zk__request_build(&get, "/app", ZK_DEFAULT_MAX_BUFFER, &p), 0);
    zk__request_set_xid(p, 7);
    /* len | xid | type | path "/app/x" | watch */
    static const uint8_t want[] = {0, 0, 0, 19, 0, 0, 0, 7, 0, 0, 0, 4, 0, 0, 0, 6,
                                   '/', 'a', 'p', 'p', '/', 'x', 1};
    ASSERT_INT_EQ(p->frame_len, sizeof want);
    ASSERT_TRUE(memcmp(p->frame, want, sizeof want) == 0);
    ASSERT_INT_EQ(p->watch_kind, WK_DATA);
    zk__pending_free(p);

    struct zk_request big = {.op = ZK_OP_SETDATA, .path = "/x", .data = "", .data_len = ZK_MAX_DATA + 1};
    ASSERT_INT_EQ(zk__request_build(&big, NULL, ZK_DEFAULT_MAX_BUFFER, &p), ZK_BADARGUMENTS);
    ASSERT_INT_EQ(p->early_err, ZK_BADARGUMENTS);
    zk__pending_free(p);

    struct zk_request ttl = {.op = ZK_OP_CREATE, .path = "/t", .create_mode = ZK_PERSISTENT_WITH_TTL,
                             .ttl = 5};
    ASSERT_INT_EQ(zk__request_build(&ttl, NULL, ZK_DEFAULT_MAX_BUFFER, &p), 0);
    ASSERT_INT_EQ(p->op, ZK_OP_CREATETTL);
    zk__pending_free(p);

    /* getChildren2 reply: ["a","b"] + stat. */
    struct jute_out o;
    jute_out_init(&o);
    jute_put_int(&o, 2);
    jute_put_string(&o, "a");
    jute_put_string(&o, "b");
    struct zk_stat st = {.czxid = 5, .num_children = 2};
    jute_put_stat(&o, &st);
    struct zk_pending gc = {.op = ZK_OP_GETCHILDREN2};
    struct zk_result res = {0};
    struct jute_in in;
    jute_in_init(&in, o.p, o.len);
    ASSERT_INT_EQ(zk__reply_decode(&gc, &in, NULL, &res), 0);
    ASSERT_INT_EQ(res.nchildren, 2);
    ASSERT_STR_EQ(res.children[1], "b");
    ASSERT_INT_EQ(res.stat.czxid, 5);
    zk__result_clear(&res);
    /* Truncated: an error, never a read past the end. */
    jute_in_init(&in, o.p, o.len - 3);
    ASSERT_INT_EQ(zk__reply_decode(&gc, &in, NULL, &res), ZK_MARSHALLINGERROR);
    zk__result_clear(&res);
    jute_out_free(&o);
}

static void test_txn(void)
{
    zk_txn_t *t = zk_txn_new();
    ASSERT_INT_EQ(zk_txn_create(t, "/a", "x", 1, NULL, 0, ZK_PERSISTENT, 0), 0);
    ASSERT_INT_EQ(zk_txn_check(t, "/a", 0), 0);
    ASSERT_INT_EQ(zk_txn_delete(t, "bad", 0), ZK_BADARGUMENTS);
    struct jute_out o;
    jute_out_init(&o);
    int is_read = -1;
    ASSERT_INT_EQ(zk__txn_encode(t, NULL, &o, &is_read), 0);
    ASSERT_INT_EQ(is_read, 0);
    jute_out_free(&o);
    zk_txn_get(t, "/a");
    jute_out_init(&o);
    ASSERT_INT_EQ(zk__txn_encode(t, NULL, &o, &is_read), ZK_BADARGUMENTS); /* mixed */
    jute_out_free(&o);
    zk_txn_free(t);

    /* A failed multi's reply: per-op errors, first error reported. */
    jute_out_init(&o);
    int errs[] = {0, ZK_BADVERSION, ZK_RUNTIMEINCONSISTENCY};
    for (int i = 0; i < 3; i++) {
        jute_put_int(&o, -1);
        jute_put_bool(&o, 0);
        jute_put_int(&o, errs[i]);
        jute_put_int(&o, errs[i]);
    }
    jute_put_int(&o, -1);
    jute_put_bool(&o, 1);
    jute_put_int(&o, -1);
    struct zk_result res = {0};
    struct jute_in in;
    jute_in_init(&in, o.p, o.len);
    int first = 0;
    ASSERT_INT_EQ(zk__txn_decode(&in, NULL, &res, &first), 0);
    ASSERT_INT_EQ(res.nresults, 3);
    ASSERT_INT_EQ(first, ZK_BADVERSION);
    ASSERT_INT_EQ(res.results[2].err, ZK_RUNTIMEINCONSISTENCY);
    zk__result_clear(&res);
    jute_out_free(&o);
}

ZTEST_MAIN(ZT(test_hosts_parse), ZT(test_paths), ZT(test_watch_table), ZT(test_watch_server_type), ZT(test_request_frames),
           ZT(test_txn))
