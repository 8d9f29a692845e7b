/*
 * recipes_test.c - many-contender scenarios for the recipes of
 * include/zk/recipes.h, run by tests/integration/test_recipes.py against a
 * live server (zkd or Apache).
 *
 *   recipes_test <scenario> <connect-string> <base-path> [contenders]
 *
 * Every scenario opens `contenders` independent sessions on one loop (each
 * a separate zk_t, so the server sees them as distinct clients), lets them
 * compete, and checks the property the recipe promises: mutual exclusion
 * (a znode incremented by a non-atomic read-then-write under the lock comes
 * out exact, and at most one holder at a time), one leader at a time, a
 * barrier that releases nobody early, each queue item consumed once, an
 * exact counter, a group listing that follows joins and departures, a tree
 * cache equal to the server's tree.  A failed check prints "FAIL
 * file:line: ..." and exits 1; success prints "PASS <scenario>".
 */
#include "live_check.h"
#include "zk/recipes.h"
#include "zk/zk.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define MAXH 32
#define TIMEOUT_MS 60000

static uv_loop_t loop;
static const char *hosts;
static char base[256];
static int nh = 15;
static zk_t *H[MAXH];
static int connected[MAXH];
static int expire_ok; /* a scenario kills a session on purpose */

/* ---- harness ---- */

static void on_session(zk_t *zk, int ev, void *data)
{
    (void)zk;
    int i = (int)(intptr_t)data;
    if (ev == ZK_SESSION_CONNECTED || ev == ZK_SESSION_RECONNECTED)
        connected[i] = 1;
    else if (ev == ZK_SESSION_SUSPENDED)
        connected[i] = 0;
    else if (ev == ZK_SESSION_EXPIRED && !expire_ok)
        FAILF("session %d expired", i);
}

typedef int (*cond_fn)(void);

/* Runs the loop until cond() holds; fails after TIMEOUT_MS. */
static void run_until(cond_fn cond, const char *what)
{
    uint64_t end = uv_now(&loop) + TIMEOUT_MS;
    while (!cond()) {
        if (uv_now(&loop) >= end)
            FAILF("timed out waiting for %s", what);
        uv_run(&loop, UV_RUN_ONCE);
    }
}

static int all_connected(void)
{
    for (int i = 0; i < nh; i++)
        if (!connected[i])
            return 0;
    return 1;
}

static void open_all(void)
{
    for (int i = 0; i < nh; i++) {
        struct zk_options o;
        zk_options_init(&o);
        o.hosts = hosts;
        o.on_session = on_session;
        o.data = (void *)(intptr_t)i;
        CHECK_RC(zk_open(&loop, &o, &H[i]), 0);
    }
    run_until(all_connected, "sessions");
}

static int nclosed;
static void on_closed(zk_t *zk, void *data)
{
    (void)zk;
    (void)data;
    nclosed++;
}

static void close_one(int i)
{
    if (!H[i])
        return;
    zk_close(H[i], on_closed, NULL);
    H[i] = NULL;
}

static int expect_closed;
static int all_closed(void)
{
    return nclosed >= expect_closed;
}

static void close_all(void)
{
    for (int i = 0; i < nh; i++)
        if (H[i]) {
            expect_closed++;
            close_one(i);
        }
    run_until(all_closed, "close");
}

/* Synchronous-looking helpers on one handle. */
struct got {
    int done, status;
    int64_t mzxid;
    char *data;
    int nchildren;
    char **children;
};

static void got_cb(zk_t *zk, int status, const struct zk_result *res, void *data)
{
    struct got *g = data;
    (void)zk;
    g->done = 1;
    g->status = status;
    g->mzxid = res->has_stat ? res->stat.mzxid : 0;
    if (status == 0 && res->data)
        g->data = strdup(res->data);
    if (status == 0 && res->nchildren > 0) {
        g->nchildren = res->nchildren;
        g->children = calloc((size_t)res->nchildren, sizeof(char *));
        for (int i = 0; i < res->nchildren; i++)
            g->children[i] = strdup(res->children[i]);
    }
}

static struct got *waiting;
static int got_done(void)
{
    return waiting->done;
}

static void got_free(struct got *g)
{
    free(g->data);
    for (int i = 0; i < g->nchildren; i++)
        free(g->children[i]);
    free(g->children);
    memset(g, 0, sizeof *g);
}

static void await(struct got *g)
{
    waiting = g;
    run_until(got_done, "a reply");
}

static int s_done;
static int s_status;
static void status_cb(int status, void *data)
{
    (void)data;
    s_status = status;
    s_done = 1;
}
static int s_is_done(void)
{
    return s_done;
}
static int await_status(void)
{
    run_until(s_is_done, "a recipe call");
    s_done = 0;
    return s_status;
}

static void path_of(char *buf, size_t n, const char *rel)
{
    snprintf(buf, n, "%s%s", base, rel);
}

static int64_t read_int(zk_t *zk, const char *path)
{
    struct got g = {0};
    zk_get(zk, path, NULL, NULL, got_cb, &g);
    await(&g);
    CHECK_RC(g.status, 0);
    int64_t v = strtoll(g.data ? g.data : "0", NULL, 10);
    got_free(&g);
    return v;
}

static int count_children(zk_t *zk, const char *path)
{
    struct got g = {0};
    zk_get_children(zk, path, 0, NULL, NULL, got_cb, &g);
    await(&g);
    CHECK_RC(g.status, 0);
    int n = g.nchildren;
    got_free(&g);
    return n;
}

static void make_node(zk_t *zk, const char *path, const char *value)
{
    zk_mkdirs(zk, path, status_cb, NULL);
    CHECK_RC(await_status(), 0);
    struct got g = {0};
    zk_set(zk, path, value, (int32_t)strlen(value), -1, got_cb, &g);
    await(&g);
    CHECK_RC(g.status, 0);
}

/* ---- lock and read/write lock ----
 *
 * Each contender loops `rounds` times: acquire; read the counter znode;
 * write it back plus one (the non-atomic step the lock must protect);
 * release.  With `chaos`, after each release some other handle's
 * connection is dropped (zk_reconnect), so creates and deletes meet
 * connection loss; the critical section then re-reads to learn whether its
 * write landed (it holds the lock, so nobody else wrote).
 */
struct contender {
    int i;
    int rounds_left;
    int is_reader;
    zk_lock_t *lock;
    int64_t seen;
    int32_t version;
    int done;
};

static struct contender K[MAXH];
static char counter_path[300], lock_dir[300];
static int writers_in, readers_in, max_readers, finished, chaos, holders_max;
static int64_t expected_total;

static void cs_step(struct contender *c);
static void contender_acquire(struct contender *c);

static void on_released(zk_lock_t *l, int status, void *data)
{
    struct contender *c = data;
    (void)l;
    CHECK_RC(status, 0);
    if (chaos && rand() % 3 == 0)
        zk_reconnect(H[rand() % nh]);
    if (--c->rounds_left == 0) {
        c->done = 1;
        finished++;
        return;
    }
    contender_acquire(c);
}

static void leave_cs(struct contender *c)
{
    if (c->is_reader)
        readers_in--;
    else
        writers_in--;
    zk_lock_release(c->lock, on_released, c);
}

static void on_check_write(zk_t *zk, int status, const struct zk_result *res, void *data)
{
    struct contender *c = data;
    (void)zk;
    if (status == ZK_CONNECTIONLOSS) {
        cs_step(c); /* nothing known yet: read again */
        return;
    }
    CHECK_RC(status, 0);
    if (res->stat.version == c->version) { /* the write did not land */
        cs_step(c);
        return;
    }
    CHECK_INT(res->stat.version, c->version + 1);
    CHECK_INT(strtoll(res->data, NULL, 10), c->seen + 1);
    leave_cs(c);
}

static void on_written(zk_t *zk, int status, const struct zk_result *res, void *data)
{
    struct contender *c = data;
    (void)res;
    if (status == ZK_CONNECTIONLOSS && chaos) {
        zk_get(zk, counter_path, NULL, NULL, on_check_write, c);
        return;
    }
    CHECK_RC(status, 0);
    leave_cs(c);
}

static void on_read(zk_t *zk, int status, const struct zk_result *res, void *data)
{
    struct contender *c = data;
    if (status == ZK_CONNECTIONLOSS && chaos) {
        cs_step(c);
        return;
    }
    CHECK_RC(status, 0);
    if (c->is_reader) {
        leave_cs(c);
        return;
    }
    c->seen = strtoll(res->data, NULL, 10);
    c->version = res->stat.version;
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%" PRId64, c->seen + 1);
    /* Any version: the lock, not the version check, must keep this exact. */
    zk_set(zk, counter_path, buf, n, -1, on_written, c);
}

static void cs_step(struct contender *c)
{
    zk_get(H[c->i], counter_path, NULL, NULL, on_read, c);
}

static void on_acquired(zk_lock_t *l, int status, void *data)
{
    struct contender *c = data;
    CHECK_RC(status, 0);
    CHECK(zk_lock_is_held(l));
    if (c->is_reader) {
        if (writers_in != 0)
            FAILF("reader %d got in with a writer inside", c->i);
        readers_in++;
        if (readers_in > max_readers)
            max_readers = readers_in;
    } else {
        if (writers_in != 0 || readers_in != 0)
            FAILF("writer %d got in with %d writers and %d readers inside", c->i, writers_in,
                  readers_in);
        writers_in++;
    }
    if (writers_in + readers_in > holders_max)
        holders_max = writers_in + readers_in;
    cs_step(c);
}

static void on_lost(zk_lock_t *l, int status, void *data)
{
    (void)l;
    FAILF("contender %d lost its lock: %s", ((struct contender *)data)->i, zk_errname(status));
}

static void contender_acquire(struct contender *c)
{
    zk_lock_acquire(c->lock, 0, on_acquired, c);
}

static int all_finished(void)
{
    return finished == nh;
}

static void run_lock(int readers, int rounds)
{
    open_all();
    path_of(counter_path, sizeof counter_path, "/counter");
    path_of(lock_dir, sizeof lock_dir, "/lock");
    make_node(H[0], counter_path, "0");
    expected_total = 0;
    for (int i = 0; i < nh; i++) {
        struct contender *c = &K[i];
        c->i = i;
        c->rounds_left = rounds;
        c->is_reader = i < readers;
        if (!c->is_reader)
            expected_total += rounds;
        char id[32];
        snprintf(id, sizeof id, "contender-%d", i);
        CHECK_RC(zk_lock_new(H[i], lock_dir, c->is_reader ? ZK_LOCK_READ : ZK_LOCK_WRITE, id,
                             &c->lock),
                 0);
        zk_lock_on_lost(c->lock, on_lost, c);
    }
    for (int i = 0; i < nh; i++)
        contender_acquire(&K[i]);
    run_until(all_finished, "every contender's rounds");
    for (int i = 0; i < nh; i++)
        if (!connected[i])
            run_until(all_connected, "reconnects");
    CHECK_INT(read_int(H[0], counter_path), expected_total);
    /* No node left behind: a duplicate from a lost create would show here. */
    CHECK_INT(count_children(H[0], lock_dir), 0);
    printf("holders_max %d max_readers %d\n", holders_max, max_readers);
    /* No herd: a waiter is woken only when the one node it watches goes,
     * so all contenders together hear at most one notification per
     * acquisition (a herd would wake every waiter on every change). */
    uint64_t notes = 0;
    for (int i = 0; i < nh; i++) {
        struct zk_stats st;
        zk_get_stats(H[i], &st);
        notes += st.notifications;
    }
    printf("notifications %llu for %d acquisitions\n", (unsigned long long)notes, nh * rounds);
    if (!chaos && notes > (uint64_t)(nh * rounds))
        FAILF("%llu notifications for %d acquisitions: a herd", (unsigned long long)notes,
              nh * rounds);
    for (int i = 0; i < nh; i++)
        zk_lock_free(K[i].lock);
    close_all();
}

static void scenario_lock(void)
{
    run_lock(0, 8);
    CHECK_INT(holders_max, 1);
}

static void scenario_lock_chaos(void)
{
    chaos = 1;
    run_lock(0, 6);
    CHECK_INT(holders_max, 1);
}

static void scenario_rwlock(void)
{
    run_lock(nh * 2 / 3, 6);
}

/* try-lock: with the lock held elsewhere, try_only fails at once and
 * leaves no node behind. */
static int try_status;
static int try_done;
static void on_try(zk_lock_t *l, int status, void *data)
{
    (void)l;
    (void)data;
    try_status = status;
    try_done = 1;
}
static int try_is_done(void)
{
    return try_done;
}

static void scenario_trylock(void)
{
    nh = 2;
    open_all();
    path_of(lock_dir, sizeof lock_dir, "/trylock");
    zk_lock_t *a, *b;
    CHECK_RC(zk_lock_new(H[0], lock_dir, ZK_LOCK_EXCLUSIVE, "a", &a), 0);
    CHECK_RC(zk_lock_new(H[1], lock_dir, ZK_LOCK_EXCLUSIVE, "b", &b), 0);
    zk_lock_acquire(a, 1, on_try, NULL);
    run_until(try_is_done, "try a");
    CHECK_RC(try_status, 0);
    try_done = 0;
    zk_lock_acquire(b, 1, on_try, NULL);
    run_until(try_is_done, "try b");
    CHECK_RC(try_status, ZK_NODEEXISTS);
    CHECK(!zk_lock_is_held(b));
    /* Again at once, while the first node is still being withdrawn. */
    try_done = 0;
    zk_lock_acquire(b, 1, on_try, NULL);
    run_until(try_is_done, "try b twice");
    CHECK_RC(try_status, ZK_NODEEXISTS);
    try_done = 0;
    zk_lock_release(a, on_try, NULL);
    run_until(try_is_done, "release a");
    CHECK_RC(try_status, 0);
    /* b's withdrawn node is gone once its delete is through. */
    struct got g = {0};
    zk_sync(H[1], lock_dir, got_cb, &g);
    await(&g);
    got_free(&g);
    CHECK_INT(count_children(H[0], lock_dir), 0);
    try_done = 0;
    zk_lock_acquire(b, 1, on_try, NULL);
    run_until(try_is_done, "try b again");
    CHECK_RC(try_status, 0);
    /* Freeing a held lock deletes its node. */
    zk_lock_free(b);
    zk_sync(H[1], lock_dir, got_cb, &g);
    await(&g);
    got_free(&g);
    CHECK_INT(count_children(H[0], lock_dir), 0);
    zk_lock_free(a);
    close_all();
}

/* ---- leader election ----
 *
 * Every participant runs; the elected one checks that nobody else leads,
 * bumps the term counter, then resigns (its session closes), electing the
 * next.  All must lead exactly once, one at a time.
 */
static zk_leader_t *L[MAXH];
static int leaders_now, elected_count, led[MAXH];

static void on_term_written(zk_t *zk, int status, const struct zk_result *res, void *data)
{
    int i = (int)(intptr_t)data;
    (void)zk;
    (void)res;
    CHECK_RC(status, 0);
    leaders_now--;
    zk_leader_stop(L[i]);
    L[i] = NULL;
    expect_closed++;
    close_one(i); /* a dying leader, as in production */
}

static void on_leader(zk_leader_t *l, int event, int status, void *data)
{
    int i = (int)(intptr_t)data;
    (void)l;
    if (event != ZK_LEADER_ELECTED)
        FAILF("participant %d: leader event %d status %s", i, event, zk_errname(status));
    if (leaders_now != 0)
        FAILF("participant %d elected while another leads", i);
    CHECK(!led[i]);
    led[i] = 1;
    leaders_now++;
    elected_count++;
    char buf[16];
    int n = snprintf(buf, sizeof buf, "%d", i);
    zk_set(H[i], counter_path, buf, n, -1, on_term_written, (void *)(intptr_t)i);
}

static int all_led(void)
{
    return elected_count == nh && nclosed == nh;
}

static void scenario_leader(void)
{
    open_all();
    path_of(counter_path, sizeof counter_path, "/term");
    path_of(lock_dir, sizeof lock_dir, "/election");
    make_node(H[0], counter_path, "-");
    for (int i = 0; i < nh; i++) {
        char id[32];
        snprintf(id, sizeof id, "p%d", i);
        CHECK_RC(zk_leader_start(H[i], lock_dir, id, on_leader, (void *)(intptr_t)i, &L[i]), 0);
    }
    run_until(all_led, "every participant to lead once");
    for (int i = 0; i < nh; i++)
        CHECK(led[i]);
}

/* ---- barrier ---- */

static int released_count;
static void on_released_barrier(int status, void *data)
{
    (void)data;
    CHECK_RC(status, 0);
    released_count++;
}
static int all_released(void)
{
    return released_count == nh;
}

/* A sync on every handle: its reply comes after everything sent before. */
static int synced;
static void on_synced(zk_t *zk, int status, const struct zk_result *res, void *data)
{
    (void)zk;
    (void)res;
    (void)data;
    CHECK_RC(status, 0);
    synced++;
}
static int all_synced(void)
{
    return synced == nh;
}
static int all_synced_one(void)
{
    return synced == 1;
}
static void sync_all(void)
{
    synced = 0;
    for (int i = 0; i < nh; i++)
        zk_sync(H[i], "/", on_synced, NULL);
    run_until(all_synced, "syncs");
}

static void scenario_barrier(void)
{
    open_all();
    char path[300];
    path_of(path, sizeof path, "/barrier");
    zk_barrier_set(H[0], path, status_cb, NULL);
    CHECK_RC(await_status(), 0);
    for (int i = 0; i < nh; i++)
        zk_barrier_wait(H[i], path, on_released_barrier, NULL);
    sync_all(); /* every waiter has looked at the barrier */
    sync_all();
    CHECK_INT(released_count, 0);
    zk_barrier_remove(H[0], path, status_cb, NULL);
    CHECK_RC(await_status(), 0);
    run_until(all_released, "every waiter released");
    close_all();
}

/* ---- double barrier ---- */

static zk_dbarrier_t *DB[MAXH];
static int entered, left;
static void on_entered(int status, void *data)
{
    (void)data;
    CHECK_RC(status, 0);
    entered++;
}
static void on_left(int status, void *data)
{
    (void)data;
    CHECK_RC(status, 0);
    left++;
}
static int all_entered(void)
{
    return entered == nh;
}
static int all_left(void)
{
    return left == nh;
}

static int members_wanted;
static char db_dir[300];
static int members_seen(void)
{
    struct got g = {0};
    zk_get_children(H[0], db_dir, 0, NULL, NULL, got_cb, &g);
    await(&g);
    int n = 0;
    for (int i = 0; i < g.nchildren; i++)
        n += strcmp(g.children[i], "ready") != 0;
    got_free(&g);
    return n == members_wanted;
}

static void scenario_dbarrier(void)
{
    open_all();
    path_of(db_dir, sizeof db_dir, "/dbarrier");
    for (int i = 0; i < nh; i++) {
        char id[16];
        snprintf(id, sizeof id, "m%d", i);
        CHECK_RC(zk_dbarrier_new(H[i], db_dir, id, nh, &DB[i]), 0);
    }
    for (int i = 0; i < nh - 1; i++)
        zk_dbarrier_enter(DB[i], on_entered, NULL);
    members_wanted = nh - 1;
    run_until(members_seen, "all but one to join");
    sync_all();
    CHECK_INT(entered, 0); /* nobody may pass with one missing */
    zk_dbarrier_enter(DB[nh - 1], on_entered, NULL);
    run_until(all_entered, "everyone entered");
    for (int i = 0; i < nh - 1; i++)
        zk_dbarrier_leave(DB[i], on_left, NULL);
    members_wanted = 1;
    run_until(members_seen, "all but one to leave");
    sync_all();
    CHECK_INT(left, 0); /* nobody may finish leaving with one still in */
    zk_dbarrier_leave(DB[nh - 1], on_left, NULL);
    run_until(all_left, "everyone left");
    for (int i = 0; i < nh; i++)
        zk_dbarrier_free(DB[i]);
    close_all();
}

/* ---- queue ---- */

#define PRODUCERS 4
#define ITEMS 50
static int seen_item[PRODUCERS][ITEMS];
static int consumed, produced;
static zk_queue_t *Q[MAXH];
static char q_dir[300];

static void on_item(zk_queue_t *q, int status, const char *value, int32_t len, void *data);

static void on_put(int status, void *data)
{
    (void)data;
    CHECK_RC(status, 0);
    produced++;
}

static void on_item(zk_queue_t *q, int status, const char *value, int32_t len, void *data)
{
    (void)len;
    CHECK_RC(status, 0);
    int p, j;
    if (sscanf(value, "p%d-%d", &p, &j) != 2 || p < 0 || p >= PRODUCERS || j < 0 || j >= ITEMS)
        FAILF("bad item '%s'", value);
    if (seen_item[p][j]++)
        FAILF("item %s consumed twice", value);
    consumed++;
    if (consumed < PRODUCERS * ITEMS)
        zk_queue_get(q, on_item, data); /* keep consuming */
}

static int all_consumed(void)
{
    return consumed == PRODUCERS * ITEMS && produced == PRODUCERS * ITEMS;
}

static void scenario_queue(void)
{
    open_all();
    path_of(q_dir, sizeof q_dir, "/queue");
    /* Consumers first: they wait on the empty (absent) queue. */
    for (int i = PRODUCERS; i < nh; i++) {
        CHECK_RC(zk_queue_new(H[i], q_dir, &Q[i]), 0);
        zk_queue_get(Q[i], on_item, NULL);
    }
    for (int j = 0; j < ITEMS; j++)
        for (int p = 0; p < PRODUCERS; p++) {
            char buf[32];
            int n = snprintf(buf, sizeof buf, "p%d-%d", p, j);
            zk_queue_put(H[p], q_dir, buf, n, on_put, NULL);
        }
    run_until(all_consumed, "every item consumed");
    for (int p = 0; p < PRODUCERS; p++)
        for (int j = 0; j < ITEMS; j++)
            CHECK_INT(seen_item[p][j], 1);
    CHECK_INT(count_children(H[0], q_dir), 0);
    for (int i = PRODUCERS; i < nh; i++)
        zk_queue_free(Q[i]);
    close_all();
}

/* ---- counter ---- */

#define ADDS 20
static int adds_left[MAXH], adds_done;
static char *value_seen;
static char ctr_path[300];

static void on_added(int status, int64_t value, void *data)
{
    int i = (int)(intptr_t)data;
    CHECK_RC(status, 0);
    if (value < 1 || value > nh * ADDS)
        FAILF("counter value %" PRId64 " out of range", value);
    if (value_seen[value]++)
        FAILF("counter value %" PRId64 " returned twice", value);
    adds_done++;
    if (--adds_left[i] > 0)
        zk_counter_add(H[i], ctr_path, 1, on_added, data);
}

static int all_added(void)
{
    return adds_done == nh * ADDS;
}

static int64_t ctr_value;
static void on_ctr(int status, int64_t value, void *data)
{
    (void)data;
    CHECK_RC(status, 0);
    ctr_value = value;
    s_done = 1;
}

static void scenario_counter(void)
{
    open_all();
    path_of(ctr_path, sizeof ctr_path, "/counters/c");
    value_seen = calloc((size_t)nh * ADDS + 1, 1);
    zk_counter_get(H[0], ctr_path, on_ctr, NULL);
    run_until(s_is_done, "counter get");
    s_done = 0;
    CHECK_INT(ctr_value, 0);
    for (int i = 0; i < nh; i++) {
        adds_left[i] = ADDS;
        zk_counter_add(H[i], ctr_path, 1, on_added, (void *)(intptr_t)i);
    }
    run_until(all_added, "every add");
    zk_counter_get(H[0], ctr_path, on_ctr, NULL);
    run_until(s_is_done, "counter get");
    CHECK_INT(ctr_value, nh * ADDS);
    free(value_seen);
    close_all();
}

/* ---- group membership ---- */

static int group_size = -1, group_updates;
static void on_members(zk_group_t *g, int status, char *const *members, int n, void *data)
{
    (void)g;
    (void)data;
    CHECK_RC(status, 0);
    for (int i = 1; i < n; i++)
        CHECK(strcmp(members[i - 1], members[i]) < 0);
    group_size = n;
    group_updates++;
}
static int group_want;
static int group_is(void)
{
    return group_size == group_want;
}
static int joined;
static void on_joined(int status, void *data)
{
    (void)data;
    CHECK_RC(status, 0);
    joined++;
}
static int all_joined(void)
{
    return joined == nh;
}

static void scenario_group(void)
{
    open_all();
    char dir[300];
    path_of(dir, sizeof dir, "/group");
    zk_group_t *g;
    CHECK_RC(zk_group_watch(H[0], dir, on_members, NULL, &g), 0);
    for (int i = 0; i < nh; i++) {
        char name[16], addr[32];
        snprintf(name, sizeof name, "m%02d", i);
        int n = snprintf(addr, sizeof addr, "10.0.0.%d:80", i);
        zk_group_join(H[i], dir, name, addr, n, on_joined, NULL);
    }
    run_until(all_joined, "joins");
    group_want = nh;
    run_until(group_is, "the watcher to see everyone");
    /* Joining twice from the same session is fine (it owns the node). */
    zk_group_join(H[1], dir, "m01", "x", 1, status_cb, NULL);
    CHECK_RC(await_status(), 0);
    /* ...from another session it is not. */
    zk_group_join(H[2], dir, "m01", "x", 1, status_cb, NULL);
    CHECK_RC(await_status(), ZK_NODEEXISTS);
    /* Five members die, one leaves politely. */
    for (int i = nh - 5; i < nh; i++) {
        expect_closed++;
        close_one(i);
    }
    zk_group_leave(H[1], dir, "m01", status_cb, NULL);
    CHECK_RC(await_status(), 0);
    group_want = nh - 6;
    run_until(group_is, "the watcher to see the departures");
    printf("group updates %d\n", group_updates);
    zk_group_unwatch(g);
    close_all();
}

/* ---- tree cache ----
 *
 * Writers make a random burst of creates, deletes and sets under the
 * cached root (one writer also drops the cache's connection once); then
 * the server's tree is read and the cache must come to equal it.
 */
static zk_treecache_t *TC;
static int tc_initialized, tc_events, tc_resynced;
static char tc_root[300];
static int ops_left, ops_done;

static void on_tc(zk_treecache_t *tc, int event, int status, const char *path, void *data)
{
    (void)tc;
    (void)path;
    (void)data;
    if (event == ZK_TREECACHE_STOPPED)
        FAILF("tree cache stopped: %s", zk_errname(status));
    if (event == ZK_TREECACHE_INITIALIZED)
        tc_initialized = 1;
    if (event == ZK_TREECACHE_RESYNCED)
        tc_resynced++;
    tc_events++;
}
static int tc_ready(void)
{
    return tc_initialized;
}

static const char *names[] = {"a", "b", "c", "d"};

static void random_path(char *buf, size_t n)
{
    int depth = 1 + rand() % 3;
    int off = snprintf(buf, n, "%s", tc_root);
    for (int d = 0; d < depth; d++)
        off += snprintf(buf + off, n - (size_t)off, "/%s", names[rand() % 4]);
}

static void random_op(int w);

static void on_op(zk_t *zk, int status, const struct zk_result *res, void *data)
{
    (void)zk;
    (void)res;
    if (status != 0 && status != ZK_NONODE && status != ZK_NODEEXISTS &&
        status != ZK_NOTEMPTY)
        FAILF("writer op: %s", zk_errname(status));
    ops_done++;
    if (ops_left > 0)
        random_op((int)(intptr_t)data);
}

static void random_op(int w)
{
    char path[400], val[32];
    random_path(path, sizeof path);
    int n = snprintf(val, sizeof val, "v%d", rand() % 1000);
    ops_left--;
    if (ops_left == 150)
        zk_reconnect(H[0]); /* the cache must resync */
    switch (rand() % 3) {
    case 0:
        zk_create(H[w], path, val, n, NULL, 0, ZK_PERSISTENT, 0, on_op, (void *)(intptr_t)w);
        break;
    case 1:
        zk_delete(H[w], path, -1, on_op, (void *)(intptr_t)w);
        break;
    default:
        zk_set(H[w], path, val, n, -1, on_op, (void *)(intptr_t)w);
        break;
    }
}

/* The server's tree, read node by node on a writer's handle. */
struct snode {
    char path[400];
    char value[64];
    int64_t mzxid;
};
static struct snode server_tree[4096];
static int nserver;

static void read_server(zk_t *zk, const char *path)
{
    struct got g = {0};
    zk_get(zk, path, NULL, NULL, got_cb, &g);
    await(&g);
    CHECK_RC(g.status, 0);
    CHECK(nserver < 4096);
    struct snode *s = &server_tree[nserver++];
    snprintf(s->path, sizeof s->path, "%s", path);
    snprintf(s->value, sizeof s->value, "%s", g.data ? g.data : "");
    s->mzxid = g.mzxid;
    CHECK(s->mzxid > 0); /* the comparison below must mean something */
    got_free(&g);
    zk_get_children(zk, path, 0, NULL, NULL, got_cb, &g);
    await(&g);
    CHECK_RC(g.status, 0);
    struct got kids = g;
    for (int i = 0; i < kids.nchildren; i++) {
        char child[400];
        snprintf(child, sizeof child, "%s/%s", path, kids.children[i]);
        read_server(zk, child);
    }
    got_free(&kids);
}

static int cache_matches(void)
{
    if (zk_treecache_size(TC) != nserver)
        return 0;
    for (int i = 0; i < nserver; i++) {
        const char *v;
        int32_t len;
        struct zk_stat st;
        if (zk_treecache_get(TC, server_tree[i].path, &v, &len, &st) != 0)
            return 0;
        if (strcmp(v ? v : "", server_tree[i].value) != 0 || st.mzxid != server_tree[i].mzxid)
            return 0;
    }
    return 1;
}

static int writers_done(void)
{
    return ops_left <= 0 && ops_done >= 400;
}

static void run_treecache(int flags)
{
    nh = 4;
    open_all();
    srand(42);
    path_of(tc_root, sizeof tc_root, "/tree");
    make_node(H[1], tc_root, "root");
    char pre[400];
    snprintf(pre, sizeof pre, "%s/a", tc_root);
    make_node(H[1], pre, "pre");
    CHECK_RC(zk_treecache_start(H[0], tc_root, flags, on_tc, NULL, &TC), 0);
    run_until(tc_ready, "the initial load");
    CHECK_INT(zk_treecache_size(TC), 2);
    CHECK_INT(zk_treecache_recursive(TC), !(flags & ZK_TREECACHE_NODE_WATCHES));
    const char *v;
    CHECK_RC(zk_treecache_get(TC, pre, &v, NULL, NULL), 0);
    CHECK(strcmp(v, "pre") == 0);
    ops_left = 400;
    for (int w = 1; w < nh; w++)
        random_op(w);
    run_until(writers_done, "the writers");
    run_until(all_connected, "the cache's reconnect");
    read_server(H[1], tc_root);
    printf("server tree %d nodes, cache events %d, resyncs %d\n", nserver, tc_events,
           tc_resynced);
    run_until(cache_matches, "the cache to equal the server");
    CHECK(tc_resynced >= 1);
    char **kids;
    int n = zk_treecache_children(TC, tc_root, &kids);
    CHECK(n >= 0);
    for (int i = 0; i < n; i++)
        free(kids[i]);
    free(kids);
    zk_treecache_stop(TC);
    close_all();
}

static void scenario_treecache(void)
{
    run_treecache(0);
}

static void scenario_treecache_nodes(void)
{
    run_treecache(ZK_TREECACHE_NODE_WATCHES);
}

/* ---- expiry ----
 *
 * Handle 0 holds a lock and leads an election; handle 1 waits for both.
 * A twin resumes handle 0's session and closes it: handle 0 must be told
 * (lock lost, leadership lost, with ZK_SESSIONEXPIRED), and handle 1 must
 * get both, since the ephemeral nodes went with the session.
 */
static int x_lost, x_leader_lost, x_acquired[2], x_elected[2];

static void x_on_lost(zk_lock_t *l, int status, void *data)
{
    (void)l;
    (void)data;
    CHECK_RC(status, ZK_SESSIONEXPIRED);
    x_lost++;
}

static void x_on_acquired(zk_lock_t *l, int status, void *data)
{
    (void)l;
    CHECK_RC(status, 0);
    x_acquired[(intptr_t)data]++;
}

static void x_on_leader(zk_leader_t *l, int event, int status, void *data)
{
    (void)l;
    int i = (int)(intptr_t)data;
    if (event == ZK_LEADER_ELECTED) {
        x_elected[i]++;
    } else {
        CHECK_INT(event, ZK_LEADER_LOST);
        CHECK_RC(status, ZK_SESSIONEXPIRED);
        CHECK_INT(i, 0);
        x_leader_lost++;
    }
}

static int x_tc_stopped, x_tc_ready, x_group_stopped, x_group_seen;

static void x_on_tc(zk_treecache_t *tc, int event, int status, const char *path, void *data)
{
    (void)tc;
    (void)path;
    (void)data;
    if (event == ZK_TREECACHE_INITIALIZED)
        x_tc_ready = 1;
    if (event == ZK_TREECACHE_STOPPED) {
        CHECK_RC(status, ZK_SESSIONEXPIRED);
        x_tc_stopped++;
    }
}

static void x_on_members(zk_group_t *g, int status, char *const *members, int n, void *data)
{
    (void)g;
    (void)members;
    (void)n;
    (void)data;
    if (status == 0) {
        x_group_seen = 1;
    } else {
        CHECK_RC(status, ZK_SESSIONEXPIRED);
        x_group_stopped++;
    }
}

static int x_first(void)
{
    return x_acquired[0] == 1 && x_elected[0] == 1 && x_tc_ready && x_group_seen;
}

static int x_after(void)
{
    return x_lost == 1 && x_leader_lost == 1 && x_acquired[1] == 1 && x_elected[1] == 1 &&
           x_tc_stopped == 1 && x_group_stopped == 1;
}

static void scenario_lock_expire(void)
{
    nh = 2;
    open_all();
    char edir[300];
    path_of(lock_dir, sizeof lock_dir, "/xlock");
    path_of(edir, sizeof edir, "/xelection");
    zk_lock_t *lk[2];
    zk_leader_t *ld[2];
    CHECK_RC(zk_lock_new(H[0], lock_dir, ZK_LOCK_EXCLUSIVE, "h0", &lk[0]), 0);
    zk_lock_on_lost(lk[0], x_on_lost, NULL);
    zk_lock_acquire(lk[0], 0, x_on_acquired, (void *)0);
    CHECK_RC(zk_leader_start(H[0], edir, "h0", x_on_leader, (void *)0, &ld[0]), 0);
    /* Watchers on the doomed session hear of its end too. */
    zk_treecache_t *tc;
    zk_group_t *grp;
    CHECK_RC(zk_treecache_start(H[0], edir, 0, x_on_tc, NULL, &tc), 0);
    CHECK_RC(zk_group_watch(H[0], edir, x_on_members, NULL, &grp), 0);
    run_until(x_first, "handle 0 to hold and lead");
    CHECK_RC(zk_lock_new(H[1], lock_dir, ZK_LOCK_EXCLUSIVE, "h1", &lk[1]), 0);
    zk_lock_acquire(lk[1], 0, x_on_acquired, (void *)1);
    CHECK_RC(zk_leader_start(H[1], edir, "h1", x_on_leader, (void *)1, &ld[1]), 0);
    synced = 0;
    zk_sync(H[1], "/", on_synced, NULL);
    run_until(all_synced_one, "handle 1 queued");
    CHECK_INT(x_acquired[1], 0);
    CHECK_INT(x_elected[1], 0);

    expire_ok = 1;
    struct zk_options o;
    zk_options_init(&o);
    o.hosts = hosts;
    o.session_id = zk_session_id(H[0]);
    char pw[16];
    zk_session_password(H[0], pw);
    o.password = pw;
    zk_blocking_t *twin;
    CHECK_RC(zk_blocking_open(&o, &twin), 0);
    zk_blocking_close(twin); /* ends the shared session */
    run_until(x_after, "loss reported and the lock and leadership moved");
    CHECK(!zk_lock_is_held(lk[0]));
    CHECK(!zk_leader_is_leader(ld[0]));
    CHECK(zk_lock_is_held(lk[1]));
    CHECK(zk_leader_is_leader(ld[1]));
    for (int i = 0; i < 2; i++) {
        zk_lock_free(lk[i]);
        zk_leader_stop(ld[i]);
    }
    zk_treecache_stop(tc);
    zk_group_unwatch(grp);
    close_all();
}

/* ---- blocking conveniences ----
 *
 * Threads, each with its own blocking handle: a lock-protected
 * non-atomic increment, counter adds, and a queue with producer and
 * consumer threads.
 */
#define BL_ROUNDS 10
#define BL_ITEMS 25
static atomic_int bl_inside, bl_max_inside;
static atomic_int bl_taken[MAXH][BL_ITEMS];

static zk_blocking_t *bl_open(void)
{
    struct zk_options o;
    zk_options_init(&o);
    o.hosts = hosts;
    zk_blocking_t *b;
    CHECK_RC(zk_blocking_open(&o, &b), 0);
    return b;
}

static void *bl_thread(void *arg)
{
    int i = (int)(intptr_t)arg;
    zk_blocking_t *b = bl_open();
    char lock[300], ctr[300], cas[300], q[300];
    path_of(lock, sizeof lock, "/block");
    path_of(ctr, sizeof ctr, "/bcounter");
    path_of(cas, sizeof cas, "/bcas");
    path_of(q, sizeof q, "/bqueue");
    for (int r = 0; r < BL_ROUNDS; r++) {
        zk_lock_t *l;
        CHECK_RC(zk_blocking_lock(b, lock, ZK_LOCK_EXCLUSIVE, NULL, 0, &l), 0);
        int in = atomic_fetch_add(&bl_inside, 1) + 1;
        if (in > atomic_load(&bl_max_inside))
            atomic_store(&bl_max_inside, in);
        char *v;
        CHECK_RC(zk_blocking_get(b, ctr, &v, NULL, NULL), 0);
        char buf[32];
        int n = snprintf(buf, sizeof buf, "%lld", strtoll(v, NULL, 10) + 1);
        free(v);
        CHECK_RC(zk_blocking_set(b, ctr, buf, n, -1, NULL), 0);
        atomic_fetch_sub(&bl_inside, 1);
        CHECK_RC(zk_blocking_unlock(b, l), 0);
        CHECK_RC(zk_blocking_counter_add(b, cas, 1, NULL), 0);
    }
    if (i % 2 == 0) {
        for (int j = 0; j < BL_ITEMS; j++) {
            char item[32];
            int n = snprintf(item, sizeof item, "%d-%d", i, j);
            CHECK_RC(zk_blocking_queue_put(b, q, item, n), 0);
        }
    } else {
        for (int j = 0; j < BL_ITEMS; j++) {
            char *v;
            int32_t len;
            CHECK_RC(zk_blocking_queue_take(b, q, &v, &len), 0);
            int p, k;
            CHECK(sscanf(v, "%d-%d", &p, &k) == 2 && p >= 0 && p < MAXH && k >= 0 &&
                  k < BL_ITEMS);
            CHECK_INT((int32_t)strlen(v), len);
            if (atomic_fetch_add(&bl_taken[p][k], 1) != 0)
                FAILF("item %s taken twice", v);
            free(v);
        }
    }
    zk_blocking_close(b);
    return NULL;
}

static void scenario_blocking(void)
{
    int n = nh > 8 ? 8 : nh & ~1; /* even: as many producers as consumers */
    zk_blocking_t *b = bl_open();
    char ctr[300];
    path_of(ctr, sizeof ctr, "/bcounter");
    CHECK_RC(zk_blocking_mkdirs(b, ctr), 0);
    CHECK_RC(zk_blocking_set(b, ctr, "0", 1, -1, NULL), 0);
    pthread_t t[MAXH];
    for (int i = 0; i < n; i++)
        pthread_create(&t[i], NULL, bl_thread, (void *)(intptr_t)i);
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    char *v;
    CHECK_RC(zk_blocking_get(b, ctr, &v, NULL, NULL), 0);
    CHECK_INT(strtoll(v, NULL, 10), n * BL_ROUNDS);
    free(v);
    char cas[300];
    path_of(cas, sizeof cas, "/bcas");
    int64_t total;
    CHECK_RC(zk_blocking_counter_add(b, cas, 0, &total), 0);
    CHECK_INT(total, n * BL_ROUNDS);
    CHECK_INT(atomic_load(&bl_max_inside), 1);
    for (int i = 0; i < n; i += 2)
        for (int j = 0; j < BL_ITEMS; j++)
            CHECK_INT(atomic_load(&bl_taken[i][j]), 1);
    zk_lock_t *l;
    char lock[300];
    path_of(lock, sizeof lock, "/block");
    CHECK_RC(zk_blocking_lock(b, lock, ZK_LOCK_EXCLUSIVE, "last", 1, &l), 0);
    CHECK_RC(zk_blocking_unlock(b, l), 0);
    zk_blocking_close(b);
}

/* ---- registry ---- */

static const struct {
    const char *name;
    void (*fn)(void);
} scenarios[] = {
    {"lock", scenario_lock},
    {"lock_chaos", scenario_lock_chaos},
    {"lock_expire", scenario_lock_expire},
    {"rwlock", scenario_rwlock},
    {"trylock", scenario_trylock},
    {"leader", scenario_leader},
    {"barrier", scenario_barrier},
    {"dbarrier", scenario_dbarrier},
    {"queue", scenario_queue},
    {"counter", scenario_counter},
    {"group", scenario_group},
    {"blocking", scenario_blocking},
    {"treecache", scenario_treecache},
    {"treecache_nodes", scenario_treecache_nodes},
};

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s <scenario> <hosts> <base> [contenders]\n", argv[0]);
        for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++)
            fprintf(stderr, "  %s\n", scenarios[i].name);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    uv_loop_init(&loop);
    hosts = argv[2];
    snprintf(base, sizeof base, "%s", argv[3]);
    if (argc > 4)
        nh = atoi(argv[4]);
    if (nh < 2 || nh > MAXH) {
        fprintf(stderr, "contenders must be 2..%d\n", MAXH);
        return 2;
    }
    srand(1);
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
        if (strcmp(scenarios[i].name, argv[1]) == 0) {
            scenarios[i].fn();
            printf("PASS %s\n", argv[1]);
            uv_run(&loop, UV_RUN_NOWAIT);
            uv_loop_close(&loop);
            return 0;
        }
    }
    fprintf(stderr, "unknown scenario %s\n", argv[1]);
    return 2;
}
