/*
 * zk_client_test.c - scenario driver for libzk, run by
 * tests/integration/test_libzk*.py against a live server (zkd or Apache).
 *
 *   zk_client_test <scenario> <connect-string> [base-path]
 *
 * Each scenario is a function in the registry below.  It drives the
 * asynchronous API on its own loop through a small "await" helper (submit,
 * then run the loop until the callback has fired), checks every outcome
 * with typed asserts that print both sides, and prints "PASS <scenario>"
 * at the end.  Any failed check prints "FAIL file:line: ..." and exits 1.
 * Scenarios that need a hand from the outside (a server restart, a change
 * made by another client) print a line starting with "READY" and then wait
 * for a line on stdin; the pytest side reads the output as it comes.
 *
 * Watch events are appended to a log as "<EventType> <path>" strings, which
 * the scenarios compare with what they expect.
 */
#include "live_check.h"
#include "session.h"

#include "zk/zk.h"

#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <time.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

/* ---- harness ---- */

struct ctx {
    uv_loop_t loop;
    zk_t *zk;
    const char *hosts;
    char base[256];
    int session_events[16];
    int nsession;
    char *events[65536];
    int nevents;
};

static struct ctx C;

static void on_session(zk_t *zk, int ev, void *data)
{
    struct ctx *c = data;
    (void)zk;
    printf("session %s\n", zk_session_event_name(ev));
    fflush(stdout);
    if (c->nsession < 16)
        c->session_events[c->nsession++] = ev;
}

static void watcher(zk_t *zk, const struct zk_event *ev, void *data)
{
    struct ctx *c = &C;
    char buf[600];
    (void)zk;
    snprintf(buf, sizeof buf, "%s%s %s", data ? (const char *)data : "",
             zk_event_type_name(ev->type), ev->path);
    if (c->nevents < 65536)
        c->events[c->nevents++] = strdup(buf);
}

static void clear_events(void)
{
    for (int i = 0; i < C.nevents; i++)
        free(C.events[i]);
    C.nevents = 0;
}

static int has_event(const char *s)
{
    for (int i = 0; i < C.nevents; i++)
        if (strcmp(C.events[i], s) == 0)
            return 1;
    return 0;
}

static int count_events(const char *s)
{
    int n = 0;
    for (int i = 0; i < C.nevents; i++)
        n += strcmp(C.events[i], s) == 0;
    return n;
}

static void dump_events(void)
{
    for (int i = 0; i < C.nevents; i++)
        printf("  event %s\n", C.events[i]);
}

/* Runs the loop until *flag or `ms` elapse. */
static void run_until(int *flag, int ms)
{
    uint64_t end = uv_now(&C.loop) + (uint64_t)ms;
    while (!*flag && uv_now(&C.loop) < end)
        uv_run(&C.loop, UV_RUN_ONCE);
}

static void run_for(int ms)
{
    int never = 0;
    run_until(&never, ms);
}

static int wait_session(int ev, int ms)
{
    uint64_t end = uv_now(&C.loop) + (uint64_t)ms;
    for (;;) {
        for (int i = 0; i < C.nsession; i++)
            if (C.session_events[i] == ev) {
                /* consume it */
                memmove(&C.session_events[i], &C.session_events[i + 1],
                        (size_t)(C.nsession - i - 1) * sizeof(int));
                C.nsession--;
                return 1;
            }
        if (uv_now(&C.loop) >= end)
            return 0;
        uv_run(&C.loop, UV_RUN_ONCE);
    }
}

static int wait_events(int n, int ms)
{
    uint64_t end = uv_now(&C.loop) + (uint64_t)ms;
    while (C.nevents < n && uv_now(&C.loop) < end)
        uv_run(&C.loop, UV_RUN_ONCE);
    return C.nevents >= n;
}

/* What a completion left behind: a deep copy of the result. */
struct got {
    int done;
    int status;
    struct zk_result *res;
};

static void on_done(zk_t *zk, int status, const struct zk_result *res, void *data)
{
    struct got *g = data;
    (void)zk;
    g->done = 1;
    g->status = status;
    g->res = (struct zk_result *)res; /* submitted with SUBMIT_OWNS_RESULT */
}

/* For typed calls: the result is libzk's, so keep only the status. */
static void on_done_typed(zk_t *zk, int status, const struct zk_result *res, void *data)
{
    struct got *g = data;
    (void)zk;
    (void)res;
    g->done = 1;
    g->status = status;
}

static int call(const struct zk_request *r, struct zk_result **out)
{
    struct got g = {0};
    zk__session_submit(C.zk, r, on_done, &g, SUBMIT_OWNS_RESULT);
    run_until(&g.done, 30000);
    if (!g.done)
        FAILF("no reply to op %d on %s", r->op, r->path ? r->path : "-");
    if (out)
        *out = g.res;
    else
        zk_result_free(g.res);
    return g.status;
}

/* Shorthands over call(). */
static int do_create(const char *path, const char *val, int mode, struct zk_result **out)
{
    struct zk_request r = {.op = ZK_OP_CREATE2, .path = path, .data = val,
                           .data_len = val ? (int32_t)strlen(val) : -1, .create_mode = mode};
    return call(&r, out);
}

static int do_delete(const char *path, int version)
{
    struct zk_request r = {.op = ZK_OP_DELETE, .path = path, .version = version};
    return call(&r, NULL);
}

static int do_set(const char *path, const char *val, int version)
{
    struct zk_request r = {.op = ZK_OP_SETDATA, .path = path, .data = val,
                           .data_len = (int32_t)strlen(val), .version = version};
    return call(&r, NULL);
}

static int do_read(int op, const char *path, const char *tag, struct zk_result **out)
{
    struct zk_request r = {.op = op, .path = path, .watcher = tag ? watcher : NULL,
                           .watcher_data = (void *)tag};
    return call(&r, out);
}

static void deleteall(const char *path)
{
    struct zk_result *res;
    if (do_read(ZK_OP_GETCHILDREN, path, NULL, &res) == 0) {
        for (int i = 0; i < res->nchildren; i++) {
            char child[512];
            snprintf(child, sizeof child, "%s/%s", path, res->children[i]);
            deleteall(child);
        }
    }
    zk_result_free(res);
    do_delete(path, -1);
}

static void path_of(char *buf, size_t n, const char *rel)
{
    snprintf(buf, n, "%s%s", C.base, rel);
}

static zk_t *open_handle(const char *hosts, struct zk_options *extra)
{
    struct zk_options o;
    if (extra)
        o = *extra;
    else
        zk_options_init(&o);
    o.hosts = hosts;
    if (getenv("ZK_TEST_SESSION_TIMEOUT"))
        o.session_timeout_ms = atoi(getenv("ZK_TEST_SESSION_TIMEOUT"));
    o.on_session = on_session;
    o.data = &C;
    zk_t *zk;
    int rc = zk_open(&C.loop, &o, &zk);
    if (rc != 0)
        FAILF("zk_open(%s): %s", hosts, zk_errname(rc));
    return zk;
}

static void close_handle(zk_t *zk)
{
    zk_close(zk, NULL, NULL);
    if (!wait_session(ZK_SESSION_CLOSED, 5000))
        FAILF("no CLOSED event");
    run_for(50);
}

static void connect_main(void)
{
    C.zk = open_handle(C.hosts, NULL);
    if (!wait_session(ZK_SESSION_CONNECTED, 15000))
        FAILF("no CONNECTED within 15 s");
    deleteall(C.base);
    CHECK_RC(do_create(C.base, "", ZK_PERSISTENT, NULL), 0);
}

static void finish_main(void)
{
    deleteall(C.base);
    close_handle(C.zk);
}

/* ---- scenarios ---- */

static void t_basic(void)
{
    char p[512], q[512];
    struct zk_result *r;
    connect_main();
    path_of(p, sizeof p, "/n");

    /* create (op 1) returns the path; a second create fails. */
    struct zk_request cr = {.op = ZK_OP_CREATE, .path = p, .data = "x", .data_len = 1};
    CHECK_RC(call(&cr, &r), 0);
    CHECK_STR(r->path, p);
    CHECK_INT(r->has_stat, 0);
    zk_result_free(r);
    CHECK_RC(call(&cr, NULL), ZK_NODEEXISTS);

    CHECK_RC(do_read(ZK_OP_GETDATA, p, NULL, &r), 0);
    CHECK_INT(r->data_len, 1);
    CHECK_STR(r->data, "x");
    CHECK_INT(r->stat.version, 0);
    CHECK_INT(r->stat.data_length, 1);
    int64_t czxid = r->stat.czxid;
    CHECK(czxid > 0);
    zk_result_free(r);

    CHECK_RC(do_set(p, "yy", 0), 0);
    CHECK_RC(do_set(p, "zz", 0), ZK_BADVERSION);
    CHECK_RC(do_read(ZK_OP_EXISTS, p, NULL, &r), 0);
    CHECK_INT(r->has_stat, 1);
    CHECK_INT(r->stat.version, 1);
    CHECK_INT(r->stat.czxid, czxid);
    CHECK(r->stat.mzxid > czxid);
    zk_result_free(r);
    path_of(q, sizeof q, "/absent");
    CHECK_RC(do_read(ZK_OP_EXISTS, q, NULL, &r), ZK_NONODE);
    CHECK_INT(r->has_stat, 0);
    zk_result_free(r);
    CHECK_RC(do_read(ZK_OP_GETDATA, q, NULL, NULL), ZK_NONODE);

    /* create2 gives a stat. */
    path_of(q, sizeof q, "/n/a");
    CHECK_RC(do_create(q, "1", ZK_PERSISTENT, &r), 0);
    CHECK_INT(r->has_stat, 1);
    CHECK_INT(r->stat.data_length, 1);
    CHECK_STR(r->path, q);
    zk_result_free(r);
    path_of(q, sizeof q, "/n/b");
    CHECK_RC(do_create(q, NULL, ZK_PERSISTENT, NULL), 0);
    CHECK_RC(do_read(ZK_OP_GETDATA, q, NULL, &r), 0);
    CHECK(r->data_len <= 0);
    zk_result_free(r);

    CHECK_RC(do_read(ZK_OP_GETCHILDREN, p, NULL, &r), 0);
    CHECK_INT(r->nchildren, 2);
    CHECK_INT(r->has_stat, 0);
    CHECK((!strcmp(r->children[0], "a") && !strcmp(r->children[1], "b")) ||
          (!strcmp(r->children[0], "b") && !strcmp(r->children[1], "a")));
    zk_result_free(r);
    CHECK_RC(do_read(ZK_OP_GETCHILDREN2, p, NULL, &r), 0);
    CHECK_INT(r->nchildren, 2);
    CHECK_INT(r->has_stat, 1);
    CHECK_INT(r->stat.num_children, 2);
    zk_result_free(r);
    CHECK_RC(do_read(ZK_OP_GETALLCHILDRENNUMBER, C.base, NULL, &r), 0);
    CHECK_INT(r->number, 3);
    zk_result_free(r);

    /* ACLs, on a leaf (a READ-only node could not lose its children). */
    path_of(p, sizeof p, "/acl");
    CHECK_RC(do_create(p, "", ZK_PERSISTENT, NULL), 0);
    CHECK_RC(do_read(ZK_OP_GETACL, p, NULL, &r), 0);
    CHECK_INT(r->nacl, 1);
    CHECK_INT(r->acl[0].perms, ZK_PERM_ALL);
    CHECK_STR(r->acl[0].scheme, "world");
    CHECK_STR(r->acl[0].id, "anyone");
    CHECK_INT(r->stat.aversion, 0);
    zk_result_free(r);
    struct zk_request sa = {.op = ZK_OP_SETACL, .path = p, .acl = zk_acl_read_unsafe, .nacl = 1,
                            .version = 0};
    CHECK_RC(call(&sa, &r), 0);
    CHECK_INT(r->stat.aversion, 1);
    zk_result_free(r);
    CHECK_RC(do_set(p, "w", -1), ZK_NOAUTH);
    /* READ only lacks ADMIN too, so the ACL cannot be changed back. */
    sa.acl = zk_acl_open_unsafe;
    sa.version = -1;
    CHECK_RC(call(&sa, NULL), ZK_NOAUTH);

    CHECK_RC(do_delete(p, -1), 0);
    path_of(p, sizeof p, "/n");

    /* sync */
    struct zk_request sy = {.op = ZK_OP_SYNC, .path = p};
    CHECK_RC(call(&sy, &r), 0);
    CHECK_STR(r->path, p);
    zk_result_free(r);

    /* delete */
    CHECK_RC(do_delete(p, -1), ZK_NOTEMPTY);
    path_of(q, sizeof q, "/n/a");
    CHECK_RC(do_delete(q, 7), ZK_BADVERSION);
    CHECK_RC(do_delete(q, 0), 0);
    CHECK_RC(do_delete(q, -1), ZK_NONODE);

    /* whoAmI */
    struct zk_request wh = {.op = ZK_OP_WHOAMI};
    CHECK_RC(call(&wh, &r), 0);
    CHECK(r->nclients >= 1);
    CHECK_STR(r->clients[0].scheme, "ip");
    zk_result_free(r);

    /* Typed async calls go through the same path; spot-check two. */
    struct got g = {0};
    zk_exists(C.zk, C.base, NULL, NULL, on_done_typed, &g);
    run_until(&g.done, 10000);
    CHECK_RC(g.status, 0);
    finish_main();
}

static void t_badargs(void)
{
    connect_main();
    struct zk_result *r;
    CHECK_RC(do_create("relative", "x", ZK_PERSISTENT, NULL), ZK_BADARGUMENTS);
    CHECK_RC(do_create("/a/", "x", ZK_PERSISTENT, NULL), ZK_BADARGUMENTS);
    CHECK_RC(do_create("/a//b", "x", ZK_PERSISTENT, NULL), ZK_BADARGUMENTS);
    CHECK_RC(do_create("/a/./b", "x", ZK_PERSISTENT, NULL), ZK_BADARGUMENTS);
    CHECK_RC(do_read(ZK_OP_GETDATA, "", NULL, NULL), ZK_BADARGUMENTS);
    char p[512];
    path_of(p, sizeof p, "/big");
    char *big = calloc(1, ZK_MAX_DATA + 2);
    memset(big, 'a', ZK_MAX_DATA + 1);
    struct zk_request cr = {.op = ZK_OP_CREATE, .path = p, .data = big,
                            .data_len = ZK_MAX_DATA + 1};
    CHECK_RC(call(&cr, NULL), ZK_BADARGUMENTS);
    /* Exactly the data limit: the frame is over jute.maxbuffer. */
    cr.data_len = ZK_MAX_DATA;
    CHECK_RC(call(&cr, NULL), ZK_BADARGUMENTS);
    /* Just under: accepted. */
    cr.data_len = ZK_MAX_DATA - 1024;
    CHECK_RC(call(&cr, NULL), 0);
    CHECK_RC(do_read(ZK_OP_GETDATA, p, NULL, &r), 0);
    CHECK_INT(r->data_len, ZK_MAX_DATA - 1024);
    zk_result_free(r);
    free(big);
    /* TTL mode without a TTL. */
    struct zk_request ttl = {.op = ZK_OP_CREATE, .path = p, .create_mode = ZK_PERSISTENT_WITH_TTL};
    CHECK_RC(call(&ttl, NULL), ZK_BADARGUMENTS);
    /* removeWatches with nothing registered. */
    struct zk_request rw = {.op = ZK_OP_REMOVEWATCHES, .path = p, .watcher_type = ZK_WATCH_ANY};
    CHECK_RC(call(&rw, NULL), ZK_NOWATCHER);
    struct zk_request cw = {.op = ZK_OP_CHECKWATCHES, .path = p, .watcher_type = ZK_WATCH_DATA};
    CHECK_RC(call(&cw, NULL), ZK_NOWATCHER);
    /* The session is still fine. */
    CHECK_RC(do_read(ZK_OP_EXISTS, p, NULL, NULL), 0);
    CHECK_STR(zk_strerror(ZK_NONODE), "no node");
    CHECK_STR(zk_errname(ZK_BADARGUMENTS), "BADARGUMENTS");
    finish_main();
}

static void t_modes(void)
{
    char p[512], q[512];
    struct zk_result *r;
    connect_main();

    /* Sequential: 10-digit counter suffix. */
    path_of(p, sizeof p, "/seq-");
    CHECK_RC(do_create(p, "", ZK_PERSISTENT_SEQUENTIAL, &r), 0);
    CHECK_INT(strlen(r->path), strlen(p) + 10);
    CHECK(strncmp(r->path, p, strlen(p)) == 0);
    zk_result_free(r);
    CHECK_RC(do_create(p, "", ZK_PERSISTENT_SEQUENTIAL, &r), 0);
    CHECK_STR(r->path + strlen(p), "0000000001");
    zk_result_free(r);

    /* Ephemeral: owner is us, listed by getEphemerals, no children. */
    path_of(p, sizeof p, "/eph");
    CHECK_RC(do_create(p, "e", ZK_EPHEMERAL, &r), 0);
    CHECK_INT(r->stat.ephemeral_owner, zk_session_id(C.zk));
    zk_result_free(r);
    path_of(q, sizeof q, "/eph/child");
    CHECK_RC(do_create(q, "", ZK_PERSISTENT, NULL), ZK_NOCHILDRENFOREPHEMERALS);
    path_of(q, sizeof q, "/eseq-");
    CHECK_RC(do_create(q, "", ZK_EPHEMERAL_SEQUENTIAL, NULL), 0);
    struct zk_request ge = {.op = ZK_OP_GETEPHEMERALS, .path = C.base};
    CHECK_RC(call(&ge, &r), 0);
    CHECK_INT(r->nchildren, 2);
    zk_result_free(r);

    /* Container (op 19) and TTL (op 21) both come back with a stat. */
    path_of(p, sizeof p, "/cont");
    CHECK_RC(do_create(p, "", ZK_CONTAINER, &r), 0);
    CHECK_INT(r->has_stat, 1);
    CHECK_STR(r->path, p);
    zk_result_free(r);
    path_of(p, sizeof p, "/ttl");
    struct zk_request ttl = {.op = ZK_OP_CREATE, .path = p, .create_mode = ZK_PERSISTENT_WITH_TTL,
                             .ttl = 60000};
    CHECK_RC(call(&ttl, &r), 0);
    CHECK_INT(r->has_stat, 1);
    zk_result_free(r);
    path_of(p, sizeof p, "/ttlseq-");
    ttl.path = p;
    ttl.create_mode = ZK_PERSISTENT_SEQUENTIAL_WITH_TTL;
    CHECK_RC(call(&ttl, &r), 0);
    CHECK_INT(strlen(r->path), strlen(p) + 10);
    zk_result_free(r);

    /* Digest auth: a node only "user:pw" may read. */
    struct zk_request au = {.op = ZK_OP_AUTH, .scheme = "digest", .data = "user:pw", .data_len = 7};
    CHECK_RC(call(&au, NULL), 0);
    path_of(p, sizeof p, "/secret");
    struct zk_request cr = {.op = ZK_OP_CREATE, .path = p, .data = "s", .data_len = 1,
                            .acl = zk_acl_creator_all, .nacl = 1};
    CHECK_RC(call(&cr, NULL), 0);
    CHECK_RC(do_read(ZK_OP_GETDATA, p, NULL, NULL), 0);
    CHECK_RC(do_read(ZK_OP_GETACL, p, NULL, &r), 0);
    CHECK_STR(r->acl[0].scheme, "digest");
    CHECK(strncmp(r->acl[0].id, "user:", 5) == 0);
    zk_result_free(r);
    struct zk_request wh = {.op = ZK_OP_WHOAMI};
    CHECK_RC(call(&wh, &r), 0);
    int found = 0;
    for (int i = 0; i < r->nclients; i++)
        found |= !strcmp(r->clients[i].scheme, "digest") && !strcmp(r->clients[i].user, "user");
    CHECK(found);
    zk_result_free(r);

    /* Another session without the credential is refused. */
    zk_t *mine = C.zk;
    C.zk = open_handle(C.hosts, NULL);
    CHECK(wait_session(ZK_SESSION_CONNECTED, 10000));
    CHECK_RC(do_read(ZK_OP_GETDATA, p, NULL, NULL), ZK_NOAUTH);
    /* The ephemerals of the first session are not ours. */
    CHECK_RC(call(&ge, &r), 0);
    CHECK_INT(r->nchildren, 0);
    zk_result_free(r);
    close_handle(C.zk);
    C.zk = mine;
    /* Closing the first session removes its ephemerals. */
    close_handle(C.zk);
    C.zk = open_handle(C.hosts, NULL);
    CHECK(wait_session(ZK_SESSION_CONNECTED, 10000));
    path_of(p, sizeof p, "/eph");
    CHECK_RC(do_read(ZK_OP_EXISTS, p, NULL, NULL), ZK_NONODE);
    au.data = "user:pw";
    CHECK_RC(call(&au, NULL), 0);
    finish_main();
}

/* Requests sent from a reply's callback leave in one socket write, not one
 * each (client/conn.c corks writes while replies are handled). */
enum { CHAIN_N = 64 };
struct chain {
    struct got gs[CHAIN_N];
    const char *path;
    uint64_t writes_before, pings_before;
};

static void chain_start(zk_t *zk, int status, const struct zk_result *res, void *data)
{
    struct chain *ch = data;
    (void)res;
    CHECK_RC(status, 0);
    struct zk_stats st;
    zk_get_stats(zk, &st);
    ch->writes_before = st.socket_writes;
    ch->pings_before = zk__session_pings_sent(zk);
    for (int i = 0; i < CHAIN_N; i++) {
        struct zk_request r = {.op = ZK_OP_GETDATA, .path = ch->path};
        zk__session_submit(zk, &r, on_done, &ch->gs[i], SUBMIT_OWNS_RESULT);
    }
}

static void check_callback_requests_share_a_write(const char *path)
{
    static struct chain ch;
    memset(&ch, 0, sizeof ch);
    ch.path = path;
    struct zk_request first = {.op = ZK_OP_EXISTS, .path = path};
    zk__session_submit(C.zk, &first, chain_start, &ch, 0);
    run_until(&ch.gs[CHAIN_N - 1].done, 30000);
    for (int i = 0; i < CHAIN_N; i++) {
        CHECK(ch.gs[i].done);
        CHECK_RC(ch.gs[i].status, 0);
        zk_result_free(ch.gs[i].res);
    }
    struct zk_stats st;
    zk_get_stats(C.zk, &st);
    /* One write for the batch.  Heartbeats that fell due meanwhile (a slow
     * run: sanitizers on a loaded machine) are writes of their own: not counted. */
    uint64_t pings = zk__session_pings_sent(C.zk) - ch.pings_before;
    uint64_t writes = st.socket_writes - ch.writes_before - pings;
    if (writes != 1)
        FAILF("%d requests from one callback took %" PRIu64 " socket writes (%" PRIu64
              " pings besides)", CHAIN_N, writes, pings);
}

static void t_pipeline(void)
{
    enum { N = 2000 };
    connect_main();
    static struct got gs[N];
    static char paths[N][300];
    for (int i = 0; i < N; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/p%04d", C.base, i);
        if (i % 2 == 0) {
            struct zk_request r = {.op = ZK_OP_CREATE, .path = paths[i], .data = "v",
                                   .data_len = 1};
            zk__session_submit(C.zk, &r, on_done, &gs[i], SUBMIT_OWNS_RESULT);
        } else {
            /* Reads the node created just before it: FIFO order. */
            struct zk_request r = {.op = ZK_OP_GETDATA, .path = paths[i - 1]};
            zk__session_submit(C.zk, &r, on_done, &gs[i], SUBMIT_OWNS_RESULT);
        }
    }
    int all = 0;
    uint64_t end = uv_now(&C.loop) + 60000;
    while (!all && uv_now(&C.loop) < end) {
        uv_run(&C.loop, UV_RUN_ONCE);
        all = 1;
        for (int i = 0; i < N && all; i++)
            all = gs[i].done;
    }
    CHECK(all);
    int64_t last = 0;
    for (int i = 0; i < N; i++) {
        CHECK_RC(gs[i].status, 0);
        if (i % 2 == 1) {
            CHECK_STR(gs[i].res->data, "v");
            CHECK(gs[i].res->stat.czxid > last);
            last = gs[i].res->stat.czxid;
        }
        zk_result_free(gs[i].res);
    }
    struct zk_result *r;
    CHECK_RC(do_read(ZK_OP_GETALLCHILDRENNUMBER, C.base, NULL, &r), 0);
    CHECK_INT(r->number, N / 2);
    zk_result_free(r);
    check_callback_requests_share_a_write(C.base);
    finish_main();
}

static void t_watches(void)
{
    char p[512], q[512], e[700];
    struct zk_result *r;
    connect_main();
    path_of(p, sizeof p, "/w");

    /* exists on an absent node: a creation watch. */
    CHECK_RC(do_read(ZK_OP_EXISTS, p, "A:", &r), ZK_NONODE);
    zk_result_free(r);
    CHECK_RC(do_create(p, "0", ZK_PERSISTENT, NULL), 0);
    snprintf(e, sizeof e, "A:NodeCreated %s", p);
    CHECK(wait_events(1, 5000));
    CHECK_STR(C.events[0], e);
    clear_events();

    /* Data watch fires once. */
    CHECK_RC(do_read(ZK_OP_GETDATA, p, "D:", NULL), 0);
    /* Registering the same watcher twice is one watch. */
    CHECK_RC(do_read(ZK_OP_GETDATA, p, "D:", NULL), 0);
    CHECK_RC(do_set(p, "1", -1), 0);
    CHECK_RC(do_set(p, "2", -1), 0);
    run_for(300);
    snprintf(e, sizeof e, "D:NodeDataChanged %s", p);
    CHECK_INT(count_events(e), 1);
    CHECK_INT(C.nevents, 1);
    clear_events();

    /* Child watch, and deletion fires data + child watches. */
    CHECK_RC(do_read(ZK_OP_GETCHILDREN, p, "C:", NULL), 0);
    path_of(q, sizeof q, "/w/kid");
    CHECK_RC(do_create(q, "", ZK_PERSISTENT, NULL), 0);
    CHECK(wait_events(1, 5000));
    snprintf(e, sizeof e, "C:NodeChildrenChanged %s", p);
    CHECK_STR(C.events[0], e);
    clear_events();
    CHECK_RC(do_delete(q, -1), 0);
    CHECK_RC(do_read(ZK_OP_GETDATA, p, "D:", NULL), 0);
    CHECK_RC(do_read(ZK_OP_GETCHILDREN, p, "C:", NULL), 0);
    CHECK_RC(do_delete(p, -1), 0);
    CHECK(wait_events(2, 5000));
    run_for(200);
    snprintf(e, sizeof e, "D:NodeDeleted %s", p);
    CHECK(has_event(e));
    snprintf(e, sizeof e, "C:NodeDeleted %s", p);
    CHECK(has_event(e));
    CHECK_INT(C.nevents, 2);
    clear_events();

    /* checkWatches / removeWatches. */
    CHECK_RC(do_create(p, "0", ZK_PERSISTENT, NULL), 0);
    CHECK_RC(do_read(ZK_OP_GETDATA, p, "R:", NULL), 0);
    struct zk_request cw = {.op = ZK_OP_CHECKWATCHES, .path = p, .watcher_type = ZK_WATCH_DATA};
    CHECK_RC(call(&cw, NULL), 0);
    cw.watcher_type = ZK_WATCH_CHILDREN;
    CHECK_RC(call(&cw, NULL), ZK_NOWATCHER);
    struct zk_request rw = {.op = ZK_OP_REMOVEWATCHES, .path = p, .watcher_type = ZK_WATCH_DATA,
                            .watcher = watcher, .watcher_data = "R:"};
    CHECK_RC(call(&rw, NULL), 0);
    snprintf(e, sizeof e, "R:DataWatchRemoved %s", p);
    CHECK(has_event(e));
    clear_events();
    CHECK_RC(do_set(p, "x", -1), 0);
    run_for(300);
    CHECK_INT(C.nevents, 0);

    /* Removing one of two watchers keeps the server's watch for the other. */
    CHECK_RC(do_read(ZK_OP_GETDATA, p, "R:", NULL), 0);
    CHECK_RC(do_read(ZK_OP_GETDATA, p, "S:", NULL), 0);
    CHECK_RC(call(&rw, NULL), 0);
    snprintf(e, sizeof e, "R:DataWatchRemoved %s", p);
    CHECK(has_event(e));
    clear_events();
    CHECK_RC(do_set(p, "y", -1), 0);
    CHECK(wait_events(1, 5000));
    snprintf(e, sizeof e, "S:NodeDataChanged %s", p);
    CHECK(has_event(e));
    CHECK_INT(C.nevents, 1);
    clear_events();

    /* Persistent watch: every event on the node, not on children's data. */
    struct zk_request aw = {.op = ZK_OP_ADDWATCH, .path = p, .watch_mode = ZK_ADDWATCH_PERSISTENT,
                            .watcher = watcher, .watcher_data = "P:"};
    CHECK_RC(call(&aw, NULL), 0);
    CHECK_RC(do_set(p, "1", -1), 0);
    CHECK_RC(do_set(p, "2", -1), 0);
    path_of(q, sizeof q, "/w/c");
    CHECK_RC(do_create(q, "", ZK_PERSISTENT, NULL), 0);
    CHECK_RC(do_set(q, "z", -1), 0);
    CHECK(wait_events(3, 5000));
    run_for(300);
    snprintf(e, sizeof e, "P:NodeDataChanged %s", p);
    CHECK_INT(count_events(e), 2);
    snprintf(e, sizeof e, "P:NodeChildrenChanged %s", p);
    CHECK_INT(count_events(e), 1);
    CHECK_INT(C.nevents, 3);
    clear_events();

    /* Persistent recursive: data and existence events below the node. */
    aw.watch_mode = ZK_ADDWATCH_PERSISTENT_RECURSIVE;
    aw.watcher_data = "T:";
    CHECK_RC(call(&aw, NULL), 0);
    path_of(q, sizeof q, "/w/c/d");
    CHECK_RC(do_create(q, "", ZK_PERSISTENT, NULL), 0);
    CHECK_RC(do_set(q, "1", -1), 0);
    CHECK_RC(do_delete(q, -1), 0);
    CHECK(wait_events(3, 5000));
    run_for(300);
    dump_events();
    snprintf(e, sizeof e, "T:NodeCreated %s", q);
    CHECK(has_event(e));
    snprintf(e, sizeof e, "T:NodeDataChanged %s", q);
    CHECK(has_event(e));
    snprintf(e, sizeof e, "T:NodeDeleted %s", q);
    CHECK(has_event(e));
    CHECK_INT(C.nevents, 3);
    clear_events();

    /* removeWatches ANY drops the persistent ones. */
    struct zk_request ra = {.op = ZK_OP_REMOVEWATCHES, .path = p, .watcher_type = ZK_WATCH_ANY};
    CHECK_RC(call(&ra, NULL), 0);
    CHECK(C.nevents >= 1);
    clear_events();
    CHECK_RC(do_set(p, "3", -1), 0);
    run_for(300);
    CHECK_INT(C.nevents, 0);
    finish_main();
}

static void t_multi(void)
{
    char p[512], q[512];
    struct zk_result *r;
    connect_main();
    path_of(p, sizeof p, "/m1");
    path_of(q, sizeof q, "/m2");

    zk_txn_t *t = zk_txn_new();
    CHECK_RC(zk_txn_create(t, p, "a", 1, NULL, 0, ZK_PERSISTENT, 0), 0);
    CHECK_RC(zk_txn_create(t, q, "b", 1, NULL, 0, ZK_PERSISTENT, 0), 0);
    CHECK_RC(zk_txn_set(t, p, "c", 1, 0), 0);
    CHECK_RC(zk_txn_check(t, q, 0), 0);
    CHECK_RC(zk_txn_create(t, "bad//path", NULL, 0, NULL, 0, ZK_PERSISTENT, 0), ZK_BADARGUMENTS);
    CHECK_INT(zk_txn_count(t), 4);
    struct zk_request m = {.op = ZK_OP_MULTI, .txn = t};
    CHECK_RC(call(&m, &r), 0);
    CHECK_INT(r->nresults, 4);
    CHECK_STR(r->results[0].path, p);
    CHECK_STR(r->results[1].path, q);
    CHECK_INT(r->results[2].has_stat, 1);
    CHECK_INT(r->results[2].stat.version, 1);
    for (int i = 0; i < 4; i++)
        CHECK_RC(r->results[i].err, 0);
    zk_result_free(r);
    zk_txn_free(t);

    /* A failing transaction changes nothing and names the culprit. */
    t = zk_txn_new();
    zk_txn_set(t, p, "zzz", 3, -1);
    zk_txn_delete(t, q, 5); /* wrong version */
    zk_txn_delete(t, p, -1);
    m.txn = t;
    CHECK_RC(call(&m, &r), ZK_BADVERSION);
    CHECK_INT(r->nresults, 3);
    CHECK_RC(r->results[0].err, 0);
    CHECK_RC(r->results[1].err, ZK_BADVERSION);
    CHECK_RC(r->results[2].err, ZK_RUNTIMEINCONSISTENCY);
    zk_result_free(r);
    zk_txn_free(t);
    CHECK_RC(do_read(ZK_OP_GETDATA, p, NULL, &r), 0);
    CHECK_STR(r->data, "c");
    zk_result_free(r);

    /* multiRead: per-op results, errors do not abort the rest. */
    t = zk_txn_new();
    zk_txn_get(t, p);
    zk_txn_get_children(t, C.base);
    char nx[512];
    path_of(nx, sizeof nx, "/nope");
    zk_txn_get(t, nx);
    m.txn = t;
    CHECK_RC(call(&m, &r), 0);
    CHECK_INT(r->nresults, 3);
    CHECK_STR(r->results[0].data, "c");
    CHECK_INT(r->results[0].has_stat, 1);
    CHECK_INT(r->results[1].nchildren, 2);
    CHECK_RC(r->results[2].err, ZK_NONODE);
    zk_result_free(r);
    /* Mixed reads and writes are refused locally. */
    zk_txn_delete(t, p, -1);
    CHECK_RC(call(&m, NULL), ZK_BADARGUMENTS);
    zk_txn_free(t);

    /* Typed call. */
    t = zk_txn_new();
    zk_txn_delete(t, p, -1);
    zk_txn_delete(t, q, -1);
    struct got g = {0};
    zk_multi(C.zk, t, on_done_typed, &g);
    zk_txn_free(t); /* allowed right after submitting */
    run_until(&g.done, 10000);
    CHECK_RC(g.status, 0);
    CHECK_RC(do_read(ZK_OP_EXISTS, p, NULL, NULL), ZK_NONODE);
    finish_main();
}

static void t_chroot(void)
{
    char hosts[512];
    struct zk_result *r;
    connect_main(); /* creates C.base */
    snprintf(hosts, sizeof hosts, "%s%s", C.hosts, C.base);
    zk_t *outer = C.zk;
    C.zk = open_handle(hosts, NULL);
    CHECK(wait_session(ZK_SESSION_CONNECTED, 10000));
    CHECK_RC(do_create("/x", "1", ZK_PERSISTENT, &r), 0);
    CHECK_STR(r->path, "/x");
    zk_result_free(r);
    CHECK_RC(do_create("/s-", "1", ZK_EPHEMERAL_SEQUENTIAL, &r), 0);
    CHECK(strncmp(r->path, "/s-", 3) == 0);
    zk_result_free(r);
    CHECK_RC(do_read(ZK_OP_GETCHILDREN, "/", NULL, &r), 0);
    CHECK_INT(r->nchildren, 2);
    zk_result_free(r);
    struct zk_request ge = {.op = ZK_OP_GETEPHEMERALS, .path = "/"};
    CHECK_RC(call(&ge, &r), 0);
    CHECK_INT(r->nchildren, 1);
    CHECK(strncmp(r->children[0], "/s-", 3) == 0);
    zk_result_free(r);
    CHECK_RC(do_read(ZK_OP_GETDATA, "/x", "X:", NULL), 0);
    struct zk_request sy = {.op = ZK_OP_SYNC, .path = "/x"};
    CHECK_RC(call(&sy, &r), 0);
    CHECK_STR(r->path, "/x");
    zk_result_free(r);
    /* A change through the outer handle is seen at the chroot path. */
    zk_t *inner = C.zk;
    C.zk = outer;
    char p[512];
    path_of(p, sizeof p, "/x");
    CHECK_RC(do_set(p, "2", -1), 0);
    C.zk = inner;
    CHECK(wait_events(1, 5000));
    CHECK_STR(C.events[0], "X:NodeDataChanged /x");
    clear_events();
    /* getConfig ignores the chroot. */
    struct got g = {0};
    zk_get_config(C.zk, NULL, NULL, on_done_typed, &g);
    run_until(&g.done, 5000);
    CHECK(g.status == 0 || g.status == ZK_NONODE);
    close_handle(inner);
    C.zk = outer;
    finish_main();
}

/* Re-arming: thousands of watches survive a dropped connection. */
static void t_rearm(void)
{
    enum { N = 3000 };
    char p[512];
    connect_main();
    /* Long names so the setWatches payload needs several frames. */
    for (int i = 0; i < N; i++) {
        snprintf(p, sizeof p, "%s/a-rather-long-node-name-to-fill-set-watches-frames-%05d", C.base,
                 i);
        struct zk_request r = {.op = ZK_OP_CREATE, .path = p, .data = "", .data_len = 0};
        zk__session_submit(C.zk, &r, NULL, NULL, 0);
    }
    for (int i = 0; i < N; i++) {
        snprintf(p, sizeof p, "%s/a-rather-long-node-name-to-fill-set-watches-frames-%05d", C.base,
                 i);
        struct zk_request r = {.op = ZK_OP_GETDATA, .path = p, .watcher = watcher};
        zk__session_submit(C.zk, &r, NULL, NULL, 0);
    }
    /* Plus a child watch, and a persistent recursive watch elsewhere (Apache
     * lets a recursive watch replace a child watch on the same path). */
    char rec[512];
    path_of(rec, sizeof rec, "/rec");
    CHECK_RC(do_create(rec, "", ZK_PERSISTENT, NULL), 0);
    CHECK_RC(do_read(ZK_OP_GETCHILDREN, C.base, "C:", NULL), 0);
    struct zk_request aw = {.op = ZK_OP_ADDWATCH, .path = rec,
                            .watch_mode = ZK_ADDWATCH_PERSISTENT_RECURSIVE, .watcher = watcher,
                            .watcher_data = "T:"};
    CHECK_RC(call(&aw, NULL), 0);
    int64_t sid = zk_session_id(C.zk);

    zk_reconnect(C.zk);
    CHECK(wait_session(ZK_SESSION_SUSPENDED, 5000));
    CHECK(wait_session(ZK_SESSION_RECONNECTED, 15000));
    CHECK_INT(zk_session_id(C.zk), sid);
    /* Change every node through a second session. */
    zk_t *mine = C.zk;
    C.zk = open_handle(C.hosts, NULL);
    CHECK(wait_session(ZK_SESSION_CONNECTED, 10000));
    for (int i = 0; i < N; i++) {
        snprintf(p, sizeof p, "%s/a-rather-long-node-name-to-fill-set-watches-frames-%05d", C.base,
                 i);
        struct zk_request r = {.op = ZK_OP_SETDATA, .path = p, .data = "x", .data_len = 1,
                               .version = -1};
        zk__session_submit(C.zk, &r, NULL, NULL, 0);
    }
    path_of(p, sizeof p, "/newkid");
    CHECK_RC(do_create(p, "", ZK_PERSISTENT, NULL), 0);
    path_of(p, sizeof p, "/rec/newkid");
    CHECK_RC(do_create(p, "", ZK_PERSISTENT, NULL), 0);
    for (int i = 0; i < 3; i++) {
        CHECK_RC(do_set(rec, "r", -1), 0);
    }
    close_handle(C.zk);
    C.zk = mine;
    /* N one-shot data changes, one child event, one create + 3 changes. */
    wait_events(N + 5, 20000);
    run_for(300);
    if (C.nevents < N + 5) {
        for (int i = 0; i < C.nevents && i < 10; i++)
            printf("  event %s\n", C.events[i]);
    }
    int data = 0, nrec = 0;
    for (int i = 0; i < C.nevents; i++) {
        data += strncmp(C.events[i], "NodeDataChanged", 15) == 0;
        nrec += strncmp(C.events[i], "T:NodeDataChanged", 17) == 0;
    }
    CHECK_INT(data, N);
    CHECK_INT(nrec, 3);
    char e[700];
    snprintf(e, sizeof e, "C:NodeChildrenChanged %s", C.base);
    CHECK(has_event(e));
    snprintf(e, sizeof e, "T:NodeCreated %s/newkid", rec);
    CHECK(has_event(e));
    CHECK_INT(C.nevents, N + 5);
    clear_events();
    struct zk_request rm = {.op = ZK_OP_REMOVEWATCHES, .path = rec, .watcher_type = ZK_WATCH_ANY};
    CHECK_RC(call(&rm, NULL), 0);
    clear_events();
    finish_main();
}

/* In-flight requests get CONNECTIONLOSS when the connection drops. */
static void t_loss(void)
{
    enum { N = 200 };
    connect_main();
    static struct got gs[N];
    for (int i = 0; i < N; i++) {
        struct zk_request r = {.op = ZK_OP_EXISTS, .path = C.base};
        zk__session_submit(C.zk, &r, on_done, &gs[i], SUBMIT_OWNS_RESULT);
    }
    zk_reconnect(C.zk); /* before the loop has run: nothing answered yet */
    CHECK(wait_session(ZK_SESSION_SUSPENDED, 5000));
    int loss = 0, ok = 0;
    for (int i = 0; i < N; i++) {
        CHECK(gs[i].done);
        loss += gs[i].status == ZK_CONNECTIONLOSS;
        ok += gs[i].status == 0;
        zk_result_free(gs[i].res);
    }
    CHECK_INT(loss + ok, N);
    CHECK(loss > 0);
    CHECK(wait_session(ZK_SESSION_RECONNECTED, 15000));
    /* Requests made while disconnected wait for the next connection. */
    zk_reconnect(C.zk);
    struct got g = {0};
    struct zk_request r = {.op = ZK_OP_EXISTS, .path = C.base};
    CHECK(wait_session(ZK_SESSION_SUSPENDED, 5000));
    zk__session_submit(C.zk, &r, on_done, &g, SUBMIT_OWNS_RESULT);
    run_until(&g.done, 15000);
    CHECK_RC(g.status, 0);
    zk_result_free(g.res);
    finish_main();
}

/* Expiry: another handle resumes our session and closes it. */
static void t_expire(void)
{
    connect_main();
    char p[512];
    path_of(p, sizeof p, "/eph");
    CHECK_RC(do_create(p, "", ZK_EPHEMERAL, NULL), 0);
    CHECK_RC(do_read(ZK_OP_GETDATA, p, "E:", NULL), 0);
    /* A blocking twin, on its own thread, resumes the session and closes it
     * while our loop is not running (so we cannot take the session back). */
    struct zk_options o;
    zk_options_init(&o);
    o.hosts = C.hosts;
    o.session_id = zk_session_id(C.zk);
    char pw[16];
    zk_session_password(C.zk, pw);
    o.password = pw;
    zk_blocking_t *twin;
    CHECK_RC(zk_blocking_open(&o, &twin), 0);
    CHECK_INT(zk_session_id(zk_blocking_handle(twin)), zk_session_id(C.zk));
    struct zk_stat st;
    CHECK_RC(zk_blocking_exists(twin, p, &st), 0);
    CHECK_INT(st.ephemeral_owner, zk_session_id(C.zk));
    zk_blocking_close(twin); /* closeSession ends the shared session */
    CHECK(wait_session(ZK_SESSION_EXPIRED, 30000));
    CHECK_INT(zk_state(C.zk), ZK_STATE_EXPIRED);
    /* Watchers hear about it; later requests fail at once. */
    CHECK(C.nevents >= 1);
    struct zk_request r = {.op = ZK_OP_EXISTS, .path = C.base};
    CHECK_RC(call(&r, NULL), ZK_SESSIONEXPIRED);
    close_handle(C.zk);
    C.zk = open_handle(C.hosts, NULL);
    CHECK(wait_session(ZK_SESSION_CONNECTED, 10000));
    CHECK_RC(do_read(ZK_OP_EXISTS, p, NULL, NULL), ZK_NONODE);
    finish_main();
}

/* Survives a server restart done by the pytest side: prints READY, waits
 * for a line on stdin (while the loop keeps running), then expects the
 * session to be resumed and its watches to fire for changes made by
 * another client after the restart. */
static int stdin_line;

static void stdin_alloc(uv_handle_t *h, size_t n, uv_buf_t *b)
{
    static char buf[256];
    (void)h;
    (void)n;
    *b = uv_buf_init(buf, sizeof buf);
}

static void stdin_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    (void)b;
    if (n != 0) {
        stdin_line = 1;
        uv_read_stop(s);
    }
}

static void t_restart(void)
{
    char p[512], e[700];
    connect_main();
    path_of(p, sizeof p, "/r");
    CHECK_RC(do_create(p, "0", ZK_PERSISTENT, NULL), 0);
    CHECK_RC(do_read(ZK_OP_GETDATA, p, "W:", NULL), 0);
    CHECK_RC(do_read(ZK_OP_GETCHILDREN, p, "C:", NULL), 0);
    int64_t sid = zk_session_id(C.zk);
    uv_pipe_t in;
    uv_pipe_init(&C.loop, &in, 0);
    uv_pipe_open(&in, 0);
    uv_read_start((uv_stream_t *)&in, stdin_alloc, stdin_read);
    printf("READY %s\n", p);
    run_until(&stdin_line, 120000);
    CHECK(stdin_line);
    uv_close((uv_handle_t *)&in, NULL);
    CHECK(wait_session(ZK_SESSION_SUSPENDED, 1));
    CHECK(wait_session(ZK_SESSION_RECONNECTED, 30000));
    CHECK_INT(zk_session_id(C.zk), sid);
    printf("RESUMED\n");
    CHECK(wait_events(2, 30000));
    snprintf(e, sizeof e, "W:NodeDataChanged %s", p);
    CHECK(has_event(e));
    snprintf(e, sizeof e, "C:NodeChildrenChanged %s", p);
    CHECK(has_event(e));
    clear_events();
    finish_main();
}

/* hosts = "real,fake": the fake server reads our ConnectRequest and hangs up
 * (as a lagging server does); we must resume on the real one. */
static void t_failover(void)
{
    struct zk_options o;
    zk_options_init(&o);
    o.no_shuffle = 1;
    C.zk = open_handle(C.hosts, &o);
    CHECK(wait_session(ZK_SESSION_CONNECTED, 15000));
    deleteall(C.base);
    CHECK_RC(do_create(C.base, "", ZK_PERSISTENT, NULL), 0);
    const char *first = zk_current_host(C.zk);
    CHECK(first != NULL);
    char host0[300];
    snprintf(host0, sizeof host0, "%s", first);
    int64_t sid = zk_session_id(C.zk);
    printf("SID %" PRId64 " ZXID %" PRId64 " HOST %s\n", sid, zk_last_zxid(C.zk), host0);
    zk_reconnect(C.zk);
    CHECK(wait_session(ZK_SESSION_SUSPENDED, 5000));
    CHECK(wait_session(ZK_SESSION_RECONNECTED, 20000));
    CHECK_INT(zk_session_id(C.zk), sid);
    CHECK_STR(zk_current_host(C.zk), host0);
    finish_main();
}

/* TLS: ZK_TEST_CA, ZK_TEST_CERT, ZK_TEST_KEY, ZK_TEST_SERVER_NAME from the
 * environment; ZK_TEST_EXPECT_FAIL=1 expects no session at all. */
static void t_tls(void)
{
    struct zk_options o;
    zk_options_init(&o);
    o.use_tls = 1;
    o.tls.ca_file = getenv("ZK_TEST_CA");
    o.tls.cert_file = getenv("ZK_TEST_CERT");
    o.tls.key_file = getenv("ZK_TEST_KEY");
    o.tls.server_name = getenv("ZK_TEST_SERVER_NAME");
    o.connect_timeout_ms = 2000;
    C.zk = open_handle(C.hosts, &o);
    if (getenv("ZK_TEST_EXPECT_FAIL")) {
        CHECK(!wait_session(ZK_SESSION_CONNECTED, 4000));
        close_handle(C.zk);
        return;
    }
    CHECK(wait_session(ZK_SESSION_CONNECTED, 15000));
    deleteall(C.base);
    CHECK_RC(do_create(C.base, "", ZK_PERSISTENT, NULL), 0);
    char p[512];
    path_of(p, sizeof p, "/big");
    /* Several TLS records per frame, both ways. */
    size_t n = 700000;
    char *big = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)('a' + i % 26);
    big[n] = 0;
    struct zk_request cr = {.op = ZK_OP_CREATE, .path = p, .data = big, .data_len = (int32_t)n};
    CHECK_RC(call(&cr, NULL), 0);
    struct zk_result *r;
    CHECK_RC(do_read(ZK_OP_GETDATA, p, NULL, &r), 0);
    CHECK_INT(r->data_len, n);
    CHECK(memcmp(r->data, big, n) == 0);
    zk_result_free(r);
    free(big);
    check_callback_requests_share_a_write(p);
    finish_main();
}

/* The blocking API from several threads at once. */
struct bt_arg {
    zk_blocking_t *b;
    int id;
    int failures;
};

static void *blocking_worker(void *p)
{
    struct bt_arg *a = p;
    char path[512];
    for (int i = 0; i < 100; i++) {
        snprintf(path, sizeof path, "%s/t%d-%d", C.base, a->id, i);
        char *created = NULL;
        if (zk_blocking_create(a->b, path, "v", 1, ZK_PERSISTENT, &created) != 0 ||
            strcmp(created, path) != 0)
            a->failures++;
        free(created);
        char *val = NULL;
        int32_t len = 0;
        struct zk_stat st;
        if (zk_blocking_get(a->b, path, &val, &len, &st) != 0 || len != 1 || val[0] != 'v')
            a->failures++;
        free(val);
        if (zk_blocking_set(a->b, path, "w", 1, st.version, &st) != 0 || st.version != 1)
            a->failures++;
        if (zk_blocking_delete(a->b, path, 1) != 0)
            a->failures++;
        if (zk_blocking_exists(a->b, path, NULL) != ZK_NONODE)
            a->failures++;
    }
    return NULL;
}

/* Foreign-loop mode: the scenario's own poll() loop drives the handle. */
static int fg_has_session(int ev)
{
    for (int i = 0; i < C.nsession; i++)
        if (C.session_events[i] == ev)
            return 1;
    return 0;
}

static int fg_done_flag(void *p)
{
    return *(int *)p;
}

static int fg_event_flag(void *e)
{
    return has_event(e);
}

static int fg_session_flag(void *p)
{
    return fg_has_session(*(int *)p);
}

/* poll + zk_process until pred(arg), at most ms. */
static void fg_pump(zk_t *zk, int (*pred)(void *), void *arg, int ms)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (!pred(arg)) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        long el = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
        if (el > ms)
            FAILF("foreign loop: condition not met in %d ms", ms);
        int fd, timeout;
        CHECK_RC(zk_interest(zk, &fd, &timeout), 0);
        CHECK(fd >= 0);
        if (timeout < 0 || timeout > 100)
            timeout = 100;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        poll(&pfd, 1, timeout);
        CHECK_RC(zk_process(zk), 0);
    }
}

/* A completion that submits again while the handle closes, three deep. */
static struct got fg_again;
static int fg_retries;
static void fg_resubmit(zk_t *zk, int status, const struct zk_result *res, void *data)
{
    (void)res;
    (void)data;
    if (status == ZK_CLOSING && ++fg_retries < 3)
        zk_exists(zk, "/", NULL, NULL, fg_resubmit, NULL);
    else if (status == ZK_CLOSING)
        zk_exists(zk, "/", NULL, NULL, on_done_typed, &fg_again);
}

static void t_foreign(void)
{
    /* Not for a handle on a caller's libuv loop. */
    connect_main();
    int fd, timeout;
    CHECK_RC(zk_interest(C.zk, &fd, &timeout), ZK_BADARGUMENTS);
    finish_main();
    C.nsession = 0;

    struct zk_options o;
    zk_options_init(&o);
    o.hosts = C.hosts;
    o.on_session = on_session;
    o.data = &C;
    zk_t *zk;
    CHECK_RC(zk_open_foreign(&o, &zk), 0);
    int want = ZK_SESSION_CONNECTED;
    fg_pump(zk, fg_session_flag, &want, 10000);

    char p[512];
    path_of(p, sizeof p, "");
    struct got g = {0};
    zk_create(zk, p, "f", 1, NULL, 0, ZK_PERSISTENT, 0, on_done_typed, &g);
    fg_pump(zk, fg_done_flag, &g.done, 10000);
    CHECK(g.status == 0 || g.status == ZK_NODEEXISTS);
    memset(&g, 0, sizeof g);
    zk_get(zk, p, watcher, "F:", on_done_typed, &g);
    CHECK(!g.done); /* nothing runs outside zk_process */
    fg_pump(zk, fg_done_flag, &g.done, 10000);
    CHECK_RC(g.status, 0);
    memset(&g, 0, sizeof g);
    zk_set(zk, p, "g", 1, -1, on_done_typed, &g);
    fg_pump(zk, fg_done_flag, &g.done, 10000);
    CHECK_RC(g.status, 0);
    char e[600];
    snprintf(e, sizeof e, "F:NodeDataChanged %s", p);
    fg_pump(zk, fg_event_flag, e, 10000);
    clear_events();
    /* Queued while disconnected when the close begins: it fails with
     * ZK_CLOSING, and so does the retry its callback makes. */
    zk_reconnect(zk);
    want = ZK_SESSION_SUSPENDED;
    fg_pump(zk, fg_session_flag, &want, 10000);
    zk_exists(zk, "/", NULL, NULL, fg_resubmit, NULL);
    zk_close_foreign(zk, NULL, NULL);
    CHECK(fg_has_session(ZK_SESSION_CLOSED));
    CHECK(fg_again.done);
    CHECK_RC(fg_again.status, ZK_CLOSING);
}

/* SASL DIGEST-MD5 as bob/bobsecret (the server's JAAS users, see
 * test_libzk.py): the login gives the id sasl:bob, requests made before it
 * completes wait for it, and a wrong password ends the session. */
static void t_sasl(void)
{
    struct zk_options o;
    zk_options_init(&o);
    o.sasl.mechanism = "DIGEST-MD5";
    o.sasl.user = "bob";
    o.sasl.password = "bobsecret";
    C.zk = open_handle(C.hosts, &o);
    /* Queued before the session exists: sent only after the login. */
    struct got g = {0};
    zk_whoami(C.zk, on_done_typed, &g);
    CHECK(wait_session(ZK_SESSION_CONNECTED, 10000));
    run_until(&g.done, 10000);
    CHECK_RC(g.status, 0);
    struct zk_request w = {.op = ZK_OP_WHOAMI};
    struct zk_result *res;
    CHECK_RC(call(&w, &res), 0);
    int found = 0;
    for (int i = 0; i < res->nclients; i++)
        found |= strcmp(res->clients[i].scheme, "sasl") == 0 &&
                 strcmp(res->clients[i].user, "bob") == 0;
    zk_result_free(res);
    CHECK(found);
    char p[512];
    path_of(p, sizeof p, "");
    struct zk_acl bob = {ZK_PERM_ALL, "sasl", "bob"};
    struct zk_request cr = {.op = ZK_OP_CREATE, .path = p, .data = "s", .data_len = 1,
                            .acl = &bob, .nacl = 1};
    int rc = call(&cr, NULL);
    CHECK(rc == 0 || rc == ZK_NODEEXISTS);
    CHECK_RC(do_read(ZK_OP_GETDATA, p, NULL, NULL), 0);
    /* After a reconnect the login runs again: still bob. */
    zk_reconnect(C.zk);
    CHECK(wait_session(ZK_SESSION_RECONNECTED, 10000));
    CHECK_RC(do_read(ZK_OP_GETDATA, p, NULL, NULL), 0);
    close_handle(C.zk);

    /* Anonymous: no access to bob's node. */
    C.zk = open_handle(C.hosts, NULL);
    CHECK(wait_session(ZK_SESSION_CONNECTED, 10000));
    CHECK_RC(do_read(ZK_OP_GETDATA, p, NULL, NULL), ZK_NOAUTH);
    close_handle(C.zk);

    /* A wrong password: the session ends as AUTH_FAILED. */
    o.sasl.password = "wrong";
    C.zk = open_handle(C.hosts, &o);
    CHECK(wait_session(ZK_SESSION_AUTH_FAILED, 15000));
    CHECK_RC(do_read(ZK_OP_EXISTS, "/", NULL, NULL), ZK_AUTHFAILED);
    close_handle(C.zk);
}

static void t_blocking(void)
{
    struct zk_options o;
    zk_options_init(&o);
    o.hosts = C.hosts;
    zk_blocking_t *b;
    CHECK_RC(zk_blocking_open(&o, &b), 0);
    CHECK_INT(zk_state(zk_blocking_handle(b)), ZK_STATE_SYNC_CONNECTED);
    zk_blocking_create(b, C.base, "", 0, ZK_PERSISTENT, NULL);
    enum { T = 4 };
    pthread_t th[T];
    struct bt_arg args[T];
    for (int i = 0; i < T; i++) {
        args[i] = (struct bt_arg){.b = b, .id = i};
        pthread_create(&th[i], NULL, blocking_worker, &args[i]);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        CHECK_INT(args[i].failures, 0);
    }
    /* Generic submit, and an error. */
    struct zk_request r = {.op = ZK_OP_GETCHILDREN, .path = C.base};
    struct zk_result *res;
    CHECK_RC(zk_blocking_submit(b, &r, &res), 0);
    CHECK_INT(res->nchildren, 0);
    zk_result_free(res);
    CHECK_RC(zk_blocking_delete(b, "/no/such/node", -1), ZK_NONODE);
    /* Many at once: each its own outcome, in order. */
    char kid[512];
    snprintf(kid, sizeof kid, "%s/kid", C.base);
    CHECK_RC(zk_blocking_create(b, kid, "k", 1, ZK_PERSISTENT, NULL), 0);
    struct zk_request many[3] = {{.op = ZK_OP_GETDATA, .path = kid},
                                 {.op = ZK_OP_GETDATA, .path = "/no/such/node"},
                                 {.op = ZK_OP_GETCHILDREN, .path = C.base}};
    int st[3];
    struct zk_result *outs[3];
    CHECK_RC(zk_blocking_submit_many(b, many, 3, st, outs), 0);
    CHECK_RC(st[0], 0);
    CHECK_STR(outs[0]->data, "k");
    CHECK_RC(st[1], ZK_NONODE);
    CHECK(outs[1] != NULL);
    CHECK_RC(st[2], 0);
    CHECK_INT(outs[2]->nchildren, 1);
    for (int i = 0; i < 3; i++)
        zk_result_free(outs[i]);
    CHECK_RC(zk_blocking_submit_many(b, many, 0, st, NULL), 0);
    CHECK_RC(zk_blocking_delete(b, kid, -1), 0);
    CHECK_RC(zk_blocking_delete(b, C.base, -1), 0);
    zk_blocking_close(b);
    /* Nobody listening. */
    o.hosts = "127.0.0.1:1";
    o.connect_timeout_ms = 1000;
    CHECK_RC(zk_blocking_open(&o, &b), ZK_CONNECTIONLOSS);
    o.hosts = "bad:host:string";
    CHECK_RC(zk_blocking_open(&o, &b), ZK_BADARGUMENTS);
}

struct log_seen {
    int n;
    enum zk_log_level level;
    char line[256];
};

static void capture_log(enum zk_log_level level, const char *line, void *data)
{
    struct log_seen *seen = data;
    seen->n++;
    seen->level = level;
    snprintf(seen->line, sizeof seen->line, "%s", line);
}

/* zk_set_log: libzk's diagnostics reach the installed handler (and not
 * stderr: the pytest side checks), and NULL restores the default. */
static void t_log(void)
{
    struct log_seen seen = {0};
    struct zk_options o;
    zk_options_init(&o);
    o.hosts = C.hosts;
    o.use_tls = 1;
    o.tls.ca_file = "/nonexistent/zk-ca.pem";
    zk_t *zk;
    zk_set_log(capture_log, &seen, ZK_LOG_WARN);
    CHECK(zk_open(&C.loop, &o, &zk) != 0);
    CHECK_INT(seen.n, 1);
    CHECK_INT(seen.level, ZK_LOG_ERROR);
    CHECK(strstr(seen.line, "cannot load CA file /nonexistent/zk-ca.pem") != NULL);
    /* At the filter's level: still passed on. */
    zk_set_log(capture_log, &seen, ZK_LOG_ERROR);
    CHECK(zk_open(&C.loop, &o, &zk) != 0);
    CHECK_INT(seen.n, 2);
    /* Default again: to stderr, which the test reads. */
    zk_set_log(NULL, NULL, ZK_LOG_WARN);
    CHECK(zk_open(&C.loop, &o, &zk) != 0);
    CHECK_INT(seen.n, 2);
}

static const struct {
    const char *name;
    void (*fn)(void);
} scenarios[] = {
    {"basic", t_basic},   {"badargs", t_badargs}, {"modes", t_modes},   {"pipeline", t_pipeline},
    {"watches", t_watches}, {"multi", t_multi},   {"chroot", t_chroot}, {"rearm", t_rearm},
    {"loss", t_loss},     {"expire", t_expire}, {"sasl", t_sasl}, {"foreign", t_foreign},   {"restart", t_restart},
    {"failover", t_failover}, {"tls", t_tls},     {"blocking", t_blocking}, {"log", t_log},
};

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s <scenario> <hosts> [base]\n", argv[0]);
        for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++)
            fprintf(stderr, "  %s\n", scenarios[i].name);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    uv_loop_init(&C.loop);
    C.hosts = argv[2];
    snprintf(C.base, sizeof C.base, "%s", argc > 3 ? argv[3] : "/zk_client_test");
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
        if (strcmp(scenarios[i].name, argv[1]) == 0) {
            scenarios[i].fn();
            clear_events();
            printf("PASS %s\n", argv[1]);
            uv_run(&C.loop, UV_RUN_NOWAIT);
            uv_loop_close(&C.loop);
            return 0;
        }
    }
    fprintf(stderr, "unknown scenario %s\n", argv[1]);
    return 2;
}
