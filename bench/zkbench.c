/*
 * zkbench - a load generator for ZooKeeper-compatible servers, on libzk.
 *
 * It speaks the standard client protocol, so it measures zkd and Apache
 * ZooKeeper alike.  N sessions (--clients) share one libuv loop on one
 * thread; each keeps K requests in flight (--inflight, closed loop), or the
 * whole run issues --rate requests per second on a 1 ms timer (open loop;
 * latency is then measured from the scheduled send time, so a stalled server
 * is not hidden by the generator waiting for it: no coordinated omission).
 *
 * Every reply is verified (status, and for reads the value's length); a
 * failed request is counted under its error code, never as an operation.
 * Latencies go to a log-linear histogram (64 sub-buckets per power of two,
 * under 1.6% error), from which p50/p90/p99/p99.9/max are read.  A progress
 * line goes to stderr each second; `--json` adds one JSON line at the end.
 *
 * Modes (--op): create, set, get, exists, children, multi (create+set+delete
 * of one key), mixed:R/W (R% reads, W% writes), fanout (M --watchers
 * sessions watch one node; time from setData to the last notification),
 * churn (connect, create an ephemeral, close, repeatedly), and load (--count
 * N znodes in the fixed layout ROOT/dNNN/nNNNNN under --parents P: what
 * bench/scale.py loads, from one C thread beside the server).
 *
 * The load layout has a twin in bench/loader.py (layout, znode_path), which
 * reads the tree back; scale.py checks after every load that the last path
 * zkbench reports is the one loader.py computes, and that it exists.
 */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <unistd.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <uv.h>

#include "zk/zk.h"

enum mode {
    M_CREATE, M_SET, M_GET, M_EXISTS, M_CHILDREN, M_MULTI, M_MIXED, M_FANOUT, M_CHURN, M_LOAD
};

static const char *const mode_names[] = {"create", "set",   "get",    "exists", "children",
                                         "multi",  "mixed", "fanout", "churn",  "load"};
#define NMODES (sizeof mode_names / sizeof mode_names[0])

/* ---- histogram ---- */

#define SUB 64
#define EXPS 40

struct hist {
    uint64_t b[EXPS * SUB];
    uint64_t n, max;
};

static size_t bucket_of(uint64_t v)
{
    if (v < SUB)
        return (size_t)v;
    int e = 63 - __builtin_clzll(v) - 6; /* v >> e lies in [SUB, 2*SUB) */
    size_t i = (size_t)e * SUB + (size_t)(v >> e);
    return i < EXPS * SUB ? i : EXPS * SUB - 1;
}

static uint64_t bucket_value(size_t i)
{
    if (i < 2 * SUB)
        return i;
    size_t e = i / SUB - 1;
    return (uint64_t)(i - e * SUB) << e;
}

static void hist_add(struct hist *h, uint64_t v)
{
    h->b[bucket_of(v)]++;
    h->n++;
    if (v > h->max)
        h->max = v;
}

static uint64_t hist_pct(const struct hist *h, double p)
{
    uint64_t want = (uint64_t)ceil(p / 100.0 * (double)h->n), seen = 0;
    for (size_t i = 0; i < EXPS * SUB; i++) {
        seen += h->b[i];
        if (seen >= want && h->b[i])
            return bucket_value(i);
    }
    return h->max;
}

/* ---- run state ---- */

struct client;

struct bench {
    uv_loop_t *loop;
    const char *hosts;
    enum mode mode;
    int clients, inflight, keys, size, read_pct, watchers;
    double duration, rate;
    uint64_t count;
    int json, quiet;
    char *value;
    struct client *cl;
    struct hist hist;
    uint64_t issued, done_ok, errors[256];
    uint64_t run_id;        /* random, in created names: runs against one server never collide */
    uint64_t start_ns, end_ns, last_report_ns, last_report_ok;
    int stopping;
    int connected;
    uint64_t seq;
    uv_timer_t tick;
    uint64_t open_sent; /* open loop: requests issued on the schedule so far */
    /* fanout */
    int fan_armed, fan_seen, fan_rounds, fan_round_target;
    uint64_t fan_start;
    /* load: --count znodes under `parents` directories of `per_parent` each */
    const char *root;
    uint64_t parents, per_parent;
    /* our own CPU over the measured run (start_load to the last reply) */
    struct rusage ru_start, ru_end;
};

/* ---- the load layout (twin: bench/loader.py layout and znode_path) ---- */

#define PATH_MAX_LEN 512
#define ROOT_MAX_LEN 400

/* n znodes under min(parents, n) directories, ceil(n / parents) each; the
 * last directory may be short. */
static void layout(struct bench *b, uint64_t n, uint64_t parents)
{
    b->parents = parents < 1 ? 1 : parents > n ? n : parents;
    b->per_parent = (n + b->parents - 1) / b->parents;
}

/* `v` in decimal, at least `width` digits (printf's %0*llu).  By hand:
 * snprintf was a fifth of the loader's CPU, twice per create. */
static char *put_decimal(char *p, uint64_t v, int width)
{
    char tmp[24];
    int n = 0;
    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (n < width)
        tmp[n++] = '0';
    while (n)
        *p++ = tmp[--n];
    return p;
}

/* ROOT/dNNN, and its end; the root is at most ROOT_MAX_LEN bytes. */
static char *parent_path(const struct bench *b, uint64_t d, char *out)
{
    size_t rl = strlen(b->root);
    memcpy(out, b->root, rl);
    out[rl] = '/';
    out[rl + 1] = 'd';
    char *end = put_decimal(out + rl + 2, d, 3);
    *end = 0;
    return end;
}

/* Znode k (0-based, creation order) of the layout: ROOT/dNNN/nNNNNN. */
static void znode_path(const struct bench *b, uint64_t k, char *out)
{
    char *p = parent_path(b, k / b->per_parent, out);
    *p++ = '/';
    *p++ = 'n';
    *put_decimal(p, k % b->per_parent, 5) = 0;
}

struct client {
    struct bench *b;
    zk_t *zk;
    int inflight;
    int id;
};

struct op_ctx {
    struct client *c;
    uint64_t t0;
    uint64_t seq; /* load: which znode of the layout */
    int kind;
};

static uint64_t now_ns(void) { return uv_hrtime(); }

static void count_error(struct bench *b, int status)
{
    int code = -status;
    b->errors[code >= 0 && code < 256 ? code : 255]++;
}

static int finished(struct bench *b)
{
    if (b->stopping)
        return 1;
    if (b->count && b->issued >= b->count)
        return 1;
    if (b->duration > 0 && (double)(now_ns() - b->start_ns) / 1e9 >= b->duration)
        return 1;
    return 0;
}

static void issue(struct client *c, uint64_t t0);

static int created_as_asked(const struct bench *b, uint64_t k, const char *got)
{
    char want[PATH_MAX_LEN];
    znode_path(b, k, want);
    return got && !strcmp(got, want);
}

static void on_reply(zk_t *zk, int status, const struct zk_result *res, void *data)
{
    struct op_ctx *o = data;
    struct client *c = o->c;
    struct bench *b = c->b;
    (void)zk;
    c->inflight--;
    int ok = status == 0;
    /* Verify what came back, not just the status. */
    if (ok && (o->kind == M_GET) && res->data_len != b->size)
        ok = 0, status = ZK_DATAINCONSISTENCY;
    if (ok && o->kind == M_EXISTS && !res->has_stat)
        ok = 0, status = ZK_DATAINCONSISTENCY;
    if (ok && o->kind == M_MULTI && res->nresults != 3)
        ok = 0, status = ZK_DATAINCONSISTENCY;
    if (ok && o->kind == M_LOAD && !created_as_asked(b, o->seq, res->path))
        ok = 0, status = ZK_DATAINCONSISTENCY;
    if (ok) {
        b->done_ok++;
        hist_add(&b->hist, (now_ns() - o->t0) / 1000);
    } else {
        count_error(b, status);
    }
    free(o);
    if (b->rate <= 0 && !finished(b))
        issue(c, now_ns());
}

static enum mode pick_mode(struct bench *b)
{
    if (b->mode != M_MIXED)
        return b->mode;
    return (int)(b->seq % 100) < b->read_pct ? M_GET : M_SET;
}

static void issue(struct client *c, uint64_t t0)
{
    struct bench *b = c->b;
    struct op_ctx *o = malloc(sizeof *o);
    o->c = c;
    o->t0 = t0;
    o->kind = pick_mode(b);
    uint64_t n = b->seq++;
    o->seq = n;
    char path[PATH_MAX_LEN];
    if (o->kind != M_LOAD) /* a key; load names its own znodes */
        snprintf(path, sizeof path, "/zkbench/k%" PRIu64, n % (uint64_t)b->keys);
    c->inflight++;
    b->issued++;
    switch (o->kind) {
    case M_CREATE:
        snprintf(path, sizeof path, "/zkbench/c%" PRIx64 "-%d-%" PRIu64, b->run_id, c->id, n);
        zk_create(c->zk, path, b->value, b->size, NULL, 0, ZK_PERSISTENT, 0, on_reply, o);
        break;
    case M_LOAD:
        znode_path(b, n, path);
        zk_create(c->zk, path, b->value, b->size, NULL, 0, ZK_PERSISTENT, 0, on_reply, o);
        break;
    case M_SET:
        zk_set(c->zk, path, b->value, b->size, -1, on_reply, o);
        break;
    case M_GET:
        zk_get(c->zk, path, NULL, NULL, on_reply, o);
        break;
    case M_EXISTS:
        zk_exists(c->zk, path, NULL, NULL, on_reply, o);
        break;
    case M_CHILDREN:
        zk_get_children(c->zk, "/zkbench/dir", 0, NULL, NULL, on_reply, o);
        break;
    case M_MULTI: {
        zk_txn_t *t = zk_txn_new();
        snprintf(path, sizeof path, "/zkbench/m%" PRIx64 "-%d-%" PRIu64, b->run_id, c->id, n);
        zk_txn_create(t, path, b->value, b->size, NULL, 0, ZK_PERSISTENT, 0);
        zk_txn_set(t, path, b->value, b->size, -1);
        zk_txn_delete(t, path, -1);
        zk_multi(c->zk, t, on_reply, o);
        zk_txn_free(t);
        break;
    }
    default:
        abort();
    }
}

/* ---- setup: root, keys, directory ---- */

static int setup_pending;

static void setup_done(zk_t *zk, int status, const struct zk_result *res, void *data);

static void start_load(struct bench *b);

static void setup_one(struct bench *b, const char *path, int size)
{
    setup_pending++;
    zk_create(b->cl[0].zk, path, b->value, size, NULL, 0, ZK_PERSISTENT, 0, setup_done, b);
}

/* The keys were created through client 0's server; the others may be served
 * by members that have not applied those creates yet (ZooKeeper orders reads
 * per session only), so each session syncs before the load starts. */
static int sync_pending;

static void sync_done(zk_t *zk, int status, const struct zk_result *res, void *data)
{
    struct bench *b = data;
    (void)zk;
    (void)res;
    if (status) {
        fprintf(stderr, "zkbench: sync after setup failed: %s\n", zk_errname(status));
        exit(1);
    }
    if (--sync_pending == 0)
        start_load(b);
}

static void sync_all(struct bench *b)
{
    sync_pending = b->clients;
    for (int i = 0; i < b->clients; i++)
        zk_sync(b->cl[i].zk, b->mode == M_LOAD ? b->root : "/zkbench", sync_done, b);
}

static void setup_done(zk_t *zk, int status, const struct zk_result *res, void *data)
{
    struct bench *b = data;
    (void)zk;
    (void)res;
    if (status && status != ZK_NODEEXISTS) {
        fprintf(stderr, "zkbench: setup failed: %s\n", zk_errname(status));
        exit(1);
    }
    if (--setup_pending == 0)
        sync_all(b);
}

/* load: the root and its directories, empty; the timed run creates only
 * the leaves. */
static void setup_layout(struct bench *b)
{
    char path[PATH_MAX_LEN];
    setup_one(b, b->root, 0);
    for (uint64_t d = 0; d < b->parents; d++) {
        parent_path(b, d, path);
        setup_one(b, path, 0);
    }
}

static void setup(struct bench *b)
{
    char path[64];
    if (b->mode == M_LOAD) {
        setup_layout(b);
        return;
    }
    setup_one(b, "/zkbench", 0);
    setup_one(b, "/zkbench/dir", 0);
    setup_one(b, "/zkbench/fan", 0);
    for (int i = 0; i < b->keys; i++) {
        snprintf(path, sizeof path, "/zkbench/k%d", i);
        setup_one(b, path, b->size);
    }
    for (int i = 0; i < (b->mode == M_CHILDREN ? b->keys : 0); i++) {
        snprintf(path, sizeof path, "/zkbench/dir/c%d", i);
        setup_one(b, path, 0);
    }
}

/* ---- reporting ---- */

static double tv_seconds(struct timeval a, struct timeval b)
{
    return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_usec - a.tv_usec) / 1e6;
}

static const char *mode_name(enum mode m)
{
    return mode_names[m];
}

/* load: the layout and its last path, which scale.py checks against loader.py's. */
static void report_layout_json(const struct bench *b)
{
    char last[PATH_MAX_LEN];
    znode_path(b, b->count - 1, last);
    printf(",\"root\":\"%s\",\"parents\":%" PRIu64 ",\"per_parent\":%" PRIu64
           ",\"last_path\":\"%s\"", b->root, b->parents, b->per_parent, last);
}

static void report(struct bench *b)
{
    double secs = (double)(b->end_ns - b->start_ns) / 1e9;
    double ops = b->done_ok / (secs > 0 ? secs : 1);
    uint64_t errs = 0;
    for (int i = 0; i < 256; i++)
        errs += b->errors[i];
    double cpu_user = tv_seconds(b->ru_start.ru_utime, b->ru_end.ru_utime);
    double cpu_sys = tv_seconds(b->ru_start.ru_stime, b->ru_end.ru_stime);
    double cpu = cpu_user + cpu_sys;
    printf("zkbench %s: %" PRIu64 " ok, %" PRIu64 " errors in %.2fs = %.0f ops/s; "
           "latency us p50 %" PRIu64 " p90 %" PRIu64 " p99 %" PRIu64 " p99.9 %" PRIu64
           " max %" PRIu64 "; generator cpu %.0f%%\n",
           mode_name(b->mode), b->done_ok, errs, secs, ops, hist_pct(&b->hist, 50),
           hist_pct(&b->hist, 90), hist_pct(&b->hist, 99), hist_pct(&b->hist, 99.9), b->hist.max,
           100.0 * cpu / (secs > 0 ? secs : 1));
    for (int i = 1; i < 256; i++)
        if (b->errors[i])
            printf("  errors %s: %" PRIu64 "\n", zk_errname(-i), b->errors[i]);
    if (b->json) {
        printf("{\"op\":\"%s\",\"clients\":%d,\"inflight\":%d,\"size\":%d,\"ok\":%" PRIu64
               ",\"errors\":%" PRIu64 ",\"seconds\":%.3f,\"ops_per_sec\":%.1f,\"p50_us\":%" PRIu64
               ",\"p90_us\":%" PRIu64 ",\"p99_us\":%" PRIu64 ",\"p999_us\":%" PRIu64
               ",\"max_us\":%" PRIu64 ",\"generator_cpu\":%.3f,\"cpu_user_s\":%.3f"
               ",\"cpu_sys_s\":%.3f",
               mode_name(b->mode), b->clients, b->inflight, b->size, b->done_ok, errs, secs, ops,
               hist_pct(&b->hist, 50), hist_pct(&b->hist, 90), hist_pct(&b->hist, 99),
               hist_pct(&b->hist, 99.9), b->hist.max, cpu / (secs > 0 ? secs : 1), cpu_user,
               cpu_sys);
        if (b->mode == M_LOAD)
            report_layout_json(b);
        printf(",\"errors_by_code\":{");
        const char *sep = "";
        for (int i = 1; i < 256; i++)
            if (b->errors[i]) {
                printf("%s\"%s\":%" PRIu64, sep, zk_errname(-i), b->errors[i]);
                sep = ",";
            }
        printf("}}\n");
    }
}

/* ---- fan-out: M watchers on one node ---- */

static void fan_arm(struct bench *b);

/* One per watcher: libzk, like Apache's client, notifies a (function, data)
 * pair once per path, so each watcher needs its own data. */
struct fan_watcher {
    struct bench *b;
    int idx;
};

static void fan_fired(zk_t *zk, const struct zk_event *ev, void *data)
{
    struct bench *b = ((struct fan_watcher *)data)->b;
    (void)zk;
    (void)ev;
    if (++b->fan_seen == b->watchers) {
        b->done_ok++;
        hist_add(&b->hist, (now_ns() - b->fan_start) / 1000);
        if (++b->fan_rounds >= b->fan_round_target || finished(b))
            b->stopping = 1;
        else
            fan_arm(b);
    }
}

static void fan_set_done(zk_t *zk, int status, const struct zk_result *res, void *data)
{
    (void)zk;
    (void)res;
    if (status)
        count_error(data, status);
}

static void fan_watch_set(zk_t *zk, int status, const struct zk_result *res, void *data)
{
    struct bench *b = data;
    (void)zk;
    (void)res;
    if (status) {
        count_error(b, status);
        return;
    }
    if (++b->fan_armed == b->watchers) {
        b->fan_start = now_ns();
        b->issued++;
        zk_set(b->cl[0].zk, "/zkbench/fan", "x", 1, -1, fan_set_done, b);
    }
}

static void fan_arm(struct bench *b)
{
    static struct fan_watcher *w;
    if (!w) {
        w = calloc((size_t)b->watchers, sizeof *w);
        for (int i = 0; i < b->watchers; i++)
            w[i] = (struct fan_watcher){b, i};
    }
    b->fan_armed = b->fan_seen = 0;
    for (int i = 0; i < b->watchers; i++) {
        struct client *c = &b->cl[1 + i % (b->clients - 1)];
        zk_exists(c->zk, "/zkbench/fan", fan_fired, &w[i], fan_watch_set, b);
    }
}

/* ---- churn: connect, ephemeral, close ---- */

static void churn_next(struct bench *b);

static void churn_closed(zk_t *zk, void *data)
{
    struct op_ctx *o = data;
    struct bench *b = o->c->b;
    (void)zk;
    b->done_ok++;
    hist_add(&b->hist, (now_ns() - o->t0) / 1000);
    free(o);
    if (!finished(b))
        churn_next(b);
    else if (--b->connected == 0)
        b->stopping = 1;
}

static void churn_created(zk_t *zk, int status, const struct zk_result *res, void *data)
{
    (void)res;
    if (status)
        count_error(((struct op_ctx *)data)->c->b, status);
    zk_close(zk, churn_closed, data);
}

static void churn_session(zk_t *zk, int event, void *data)
{
    struct op_ctx *o = data;
    if (event == ZK_SESSION_CONNECTED) {
        char path[64];
        snprintf(path, sizeof path, "/zkbench/e%" PRIu64, o->c->b->seq++);
        zk_create(zk, path, NULL, 0, NULL, 0, ZK_EPHEMERAL, 0, churn_created, o);
    }
}

static void churn_next(struct bench *b)
{
    struct op_ctx *o = calloc(1, sizeof *o);
    o->c = &b->cl[0];
    o->t0 = now_ns();
    b->issued++;
    struct zk_options opt;
    zk_options_init(&opt);
    opt.hosts = b->hosts;
    opt.on_session = churn_session;
    opt.data = o;
    zk_t *zk;
    if (zk_open(b->loop, &opt, &zk)) {
        fprintf(stderr, "zkbench: cannot open a session\n");
        exit(1);
    }
}

/* ---- driving ---- */

/* Open loop: issues every request the schedule (rate per second from the
 * start) owes by `now`, each stamped with its scheduled time.  Counting timer
 * ticks instead lowered the rate silently on a loaded machine, where libuv
 * runs a late 1 ms timer once for all the intervals it missed. */
static void issue_due(struct bench *b, uint64_t now)
{
    double elapsed = (double)(now - b->start_ns) / 1e9;
    if (b->duration > 0 && elapsed > b->duration)
        elapsed = b->duration;
    uint64_t due = (uint64_t)(b->rate * elapsed);
    if (b->count && due > b->count)
        due = b->count;
    while (b->open_sent < due) {
        uint64_t at = b->start_ns + (uint64_t)((double)b->open_sent * 1e9 / b->rate);
        b->open_sent++;
        issue(&b->cl[b->seq % (uint64_t)b->clients], at);
    }
}

static void on_tick(uv_timer_t *t)
{
    struct bench *b = t->data;
    uint64_t now = now_ns();
    if (b->rate > 0 && !b->stopping)
        issue_due(b, now);
    if (!b->quiet && now - b->last_report_ns >= 1000000000ull) {
        fprintf(stderr, "zkbench: %.0fs %" PRIu64 " ok (%.0f ops/s)\n",
                (double)(now - b->start_ns) / 1e9, b->done_ok,
                (double)(b->done_ok - b->last_report_ok) * 1e9 / (double)(now - b->last_report_ns));
        b->last_report_ns = now;
        b->last_report_ok = b->done_ok;
    }
    int idle = 1;
    for (int i = 0; i < b->clients; i++)
        idle &= b->cl[i].inflight == 0;
    if ((finished(b) && idle && b->mode != M_CHURN) || b->stopping) {
        b->end_ns = now;
        getrusage(RUSAGE_SELF, &b->ru_end);
        uv_timer_stop(t);
        for (int i = 0; i < b->clients; i++)
            zk_close(b->cl[i].zk, NULL, NULL);
        uv_close((uv_handle_t *)t, NULL);
    }
}

static void start_load(struct bench *b)
{
    b->start_ns = b->last_report_ns = now_ns();
    getrusage(RUSAGE_SELF, &b->ru_start);
    uv_timer_init(b->loop, &b->tick);
    b->tick.data = b;
    uv_timer_start(&b->tick, on_tick, 1, 1);
    if (b->mode == M_FANOUT) {
        fan_arm(b);
    } else if (b->mode == M_CHURN) {
        for (int i = 0; i < b->inflight; i++) {
            b->connected++;
            churn_next(b);
        }
    } else if (b->rate <= 0) {
        /* --count below clients x inflight: issue only what it allows (a load's
         * request past --count names a znode under a parent that does not exist) */
        for (int k = 0; k < b->inflight; k++)
            for (int i = 0; i < b->clients && !finished(b); i++)
                issue(&b->cl[i], now_ns());
    }
}

static void on_session(zk_t *zk, int event, void *data)
{
    struct bench *b = data;
    (void)zk;
    if (event == ZK_SESSION_CONNECTED && ++b->connected == b->clients) {
        b->connected = 0;
        setup(b);
    } else if (event == ZK_SESSION_EXPIRED || event == ZK_SESSION_AUTH_FAILED) {
        fprintf(stderr, "zkbench: session %s\n", zk_session_event_name(event));
        exit(1);
    }
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: zkbench --hosts H:P[,...] [--op OP] [--clients N] [--inflight K]\n"
            "               [--keys N] [--size BYTES] [--duration S | --count N] [--rate R]\n"
            "               [--watchers M] [--root PATH] [--parents P] [--json] [--quiet]\n"
            "OP: create set get exists children multi mixed:R/W fanout churn load\n"
            "    (default get)\n"
            "Closed loop with K requests in flight per session unless --rate R (ops/s, open\n"
            "loop). fanout: M watchers on one node, latency = setData to last event.\n"
            "churn: connect + create ephemeral + close, K sessions at a time.\n"
            "load: --count N znodes PATH/dNNN/nNNNNN under P directories (default\n"
            "/zkbench-load, 100), which it creates first.\n");
}

int main(int argc, char **argv)
{
    static struct bench b;
    /* pid ^ time, as it was, collided for runs started seconds apart (pids and
     * seconds both step by small amounts): NODEEXISTS in a later run. */
    if (getrandom(&b.run_id, sizeof b.run_id, 0) != sizeof b.run_id)
        b.run_id = ((uint64_t)time(NULL) << 32) ^ (uint64_t)getpid();
    b.clients = 1;
    b.inflight = 1;
    b.keys = 100;
    b.size = 100;
    b.duration = 10;
    b.mode = M_GET;
    b.watchers = 100;
    b.root = "/zkbench-load";
    uint64_t parents = 100;
    static const struct option opts[] = {
        {"hosts", 1, 0, 'h'}, {"op", 1, 0, 'o'},       {"clients", 1, 0, 'c'},
        {"inflight", 1, 0, 'k'}, {"keys", 1, 0, 'n'},  {"size", 1, 0, 's'},
        {"duration", 1, 0, 'd'}, {"count", 1, 0, 'C'}, {"rate", 1, 0, 'r'},
        {"watchers", 1, 0, 'w'}, {"json", 0, 0, 'j'},  {"quiet", 0, 0, 'q'},
        {"root", 1, 0, 'R'},     {"parents", 1, 0, 'P'}, {"help", 0, 0, 'H'},
        {0, 0, 0, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'h': b.hosts = optarg; break;
        case 'c': b.clients = atoi(optarg); break;
        case 'k': b.inflight = atoi(optarg); break;
        case 'n': b.keys = atoi(optarg); break;
        case 's': b.size = atoi(optarg); break;
        case 'd': b.duration = atof(optarg); break;
        case 'C': b.count = strtoull(optarg, NULL, 10); b.duration = 0; break;
        case 'r': b.rate = atof(optarg); break;
        case 'w': b.watchers = atoi(optarg); break;
        case 'j': b.json = 1; break;
        case 'q': b.quiet = 1; break;
        case 'R': b.root = optarg; break;
        case 'P': parents = strtoull(optarg, NULL, 10); break;
        case 'H': usage(stdout); return 0;
        case 'o':
            if (!strncmp(optarg, "mixed:", 6)) {
                b.mode = M_MIXED;
                b.read_pct = atoi(optarg + 6);
            } else {
                int found = -1;
                for (size_t i = 0; i < NMODES; i++)
                    if (!strcmp(optarg, mode_names[i]))
                        found = (int)i;
                if (found < 0 || found == M_MIXED) {
                    usage(stderr);
                    return 2;
                }
                b.mode = (enum mode)found;
            }
            break;
        default: usage(stderr); return 2;
        }
    }
    if (!b.hosts || b.clients < 1 || b.inflight < 1 || b.keys < 1 || b.size < 0 ||
        b.size > ZK_MAX_DATA || (!b.count && b.duration <= 0)) {
        usage(stderr);
        return 2;
    }
    if (b.mode == M_LOAD) {
        /* a name per znode, so the run is bounded by --count, not a time */
        size_t rl = strlen(b.root);
        if (!b.count || b.duration > 0 || parents < 1 || b.root[0] != '/' ||
            rl < 2 || rl > ROOT_MAX_LEN || b.root[rl - 1] == '/') {
            usage(stderr);
            return 2;
        }
        layout(&b, b.count, parents);
    }
    if (b.mode == M_FANOUT) {
        if (b.clients < 2)
            b.clients = 2;
        b.fan_round_target = b.count ? (int)b.count : 1000000;
    }
    b.value = malloc((size_t)b.size + 1);
    memset(b.value, 'v', (size_t)b.size);
    b.loop = uv_default_loop();
    b.cl = calloc((size_t)b.clients, sizeof *b.cl);
    for (int i = 0; i < b.clients; i++) {
        struct zk_options o;
        zk_options_init(&o);
        o.hosts = b.hosts;
        o.session_timeout_ms = 30000;
        o.on_session = on_session;
        o.data = &b;
        b.cl[i].b = &b;
        b.cl[i].id = i;
        if (zk_open(b.loop, &o, &b.cl[i].zk)) {
            fprintf(stderr, "zkbench: bad --hosts '%s'\n", b.hosts);
            return 2;
        }
    }
    uv_run(b.loop, UV_RUN_DEFAULT);
    report(&b);
    uint64_t errs = 0;
    for (int i = 0; i < 256; i++)
        errs += b.errors[i];
    free(b.value);
    free(b.cl);
    return errs ? 1 : 0;
}
