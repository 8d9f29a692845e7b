/*
 * monitor.c - see monitor.h.
 */
#include "monitor.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "conn.h"
#include "flush.h"
#include "fourlw.h"
#include "quorum.h"
#include "zk/proto.h"
#include "server.h"
#include "summary.h"
#include "localsess.h"
#include "log.h"
#include "txnlog.h"

#define ZK_COMPAT_VERSION "3.8.0"

const char *monitor_version(void)
{
    return ZK_COMPAT_VERSION "-zkd-" ZKFS_VERSION ", built on " ZKFS_BUILD_DATE;
}

const char *monitor_mode(struct server *s)
{
    if (!s->q)
        return "standalone";
    struct quorum_info qi;
    quorum_describe(s->q, &qi);
    return qi.role;
}

int64_t monitor_processed_zxid(struct server *s)
{
    int64_t z = s->db.last_zxid;
    if (!s->q)
        return z;
    struct quorum_info qi;
    quorum_describe(s->q, &qi);
    int64_t epoch_start = qi.epoch << 32;
    return !strcmp(qi.role, "leader") && epoch_start > z ? epoch_start : z;
}

static void count_eph(int64_t id, size_t n, void *d)
{
    (void)id;
    *(uint64_t *)d += n;
}

uint64_t monitor_ephemerals(struct server *s)
{
    uint64_t n = 0;
    tree_foreach_owner(s->db.tree, count_eph, &n);
    return n;
}

int64_t monitor_dir_bytes(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int64_t total = 0;
    struct dirent *e;
    char path[8192];
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, strlen(prefix)))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (!stat(path, &st))
            total += st.st_size;
    }
    closedir(d);
    return total;
}

double monitor_avg_latency(const struct server *s)
{
    return s->stats.latency_count ? (double)s->stats.latency_total_us / 1000.0 /
                                        (double)s->stats.latency_count
                                  : 0.0;
}

static int open_fds(void)
{
    int fds = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return 0;
    while (readdir(d))
        fds++;
    closedir(d);
    return fds - 2; /* "." and ".." */
}

/* Apache's AvgMinMaxCounter values in ms, and with `advanced` those of its
 * AvgMinMaxPercentileCounter (p50 ... p999) too. */
static void summary_values(struct monitor_sink *k, const char *name, const struct summary *sm,
                           int advanced)
{
    static const struct {
        const char *prefix;
        double q;
    } pct[] = {{"p50_", 0.5}, {"p95_", 0.95}, {"p99_", 0.99}, {"p999_", 0.999}};
    char key[128];
    snprintf(key, sizeof key, "avg_%s", name);
    k->real(k, key, sm->count ? (double)sm->sum / 1000.0 / (double)sm->count : 0.0);
    snprintf(key, sizeof key, "min_%s", name);
    k->num(k, key, (int64_t)(sm->min / 1000));
    snprintf(key, sizeof key, "max_%s", name);
    k->num(k, key, (int64_t)(sm->max / 1000));
    snprintf(key, sizeof key, "cnt_%s", name);
    k->num(k, key, (int64_t)sm->count);
    snprintf(key, sizeof key, "sum_%s", name);
    k->num(k, key, (int64_t)(sm->sum / 1000));
    for (size_t i = 0; advanced && i < sizeof pct / sizeof pct[0]; i++) {
        snprintf(key, sizeof key, "%s%s", pct[i].prefix, name);
        k->num(k, key, (int64_t)(summary_quantile(sm, pct[i].q) / 1000));
    }
}

static void summary_out(struct monitor_sink *k, const char *name, const struct summary *sm,
                        int advanced)
{
    if (k->summary)
        k->summary(k, name, sm, advanced);
    else
        summary_values(k, name, sm, advanced);
}

void monitor_note_fsync(struct server *s, struct txnlog *log)
{
    struct txnlog_stats ts;
    txnlog_get_stats(log, &ts);
    if (ts.fsyncs == s->stats.fsyncs_seen)
        return;
    /* Batches synced back to back between two wake-ups share the last time. */
    s->stats.fsyncs_seen = ts.fsyncs;
    summary_add(&s->stats.fsync_time, (uint64_t)(ts.last_fsync_ms * 1000.0));
    if (ts.last_fsync_ms <= (double)s->cfg.fsync_warn_ms)
        return;
    s->stats.fsync_slow++;
    log_warn("fsync-ing the write ahead log in %s took %.0fms which will adversely effect "
             "operation latency. Log size is %llu bytes. See the ZooKeeper troubleshooting guide",
             s->log_dir, ts.last_fsync_ms, (unsigned long long)ts.bytes);
}

/* Whether a request of this type starts with its path. */
static int starts_with_path(int32_t type)
{
    switch (type) {
    case ZK_OP_PING: case ZK_OP_MULTI: case ZK_OP_SETWATCHES: case ZK_OP_SETWATCHES2:
    case ZK_OP_CLOSESESSION: case ZK_OP_AUTH: case ZK_OP_SASL: case ZK_OP_RECONFIG:
    case ZK_OP_CREATESESSION: case ZK_OP_WHOAMI: case ZK_OP_MULTIREAD:
        return 0;
    default:
        return 1;
    }
}

void monitor_note_request(struct server *s, const struct conn *c, int32_t type, int update,
                          const uint8_t *body, size_t len, uint64_t us)
{
    summary_add(update ? &s->stats.update_latency : &s->stats.read_latency, us);
    if (!s->cfg.slow_request_ms || us < (uint64_t)s->cfg.slow_request_ms * 1000)
        return;
    struct zk_slice path = {0};
    if (starts_with_path(type)) {
        struct jute_in in;
        jute_in_init(&in, body, len);
        path = jute_get_string(&in);
        if (in.err || path.len < 0)
            path.len = 0;
    }
    log_warn("slow request: %s (type %d) %.*s took %llu ms (slowRequestThresholdMs %d), "
             "session 0x%llx, client %s:%d",
             fourlw_op_name(type), (int)type, path.len > 256 ? 256 : (int)path.len,
             path.len ? (const char *)path.p : "", (unsigned long long)(us / 1000),
             s->cfg.slow_request_ms, (unsigned long long)c->session_id, c->remote, c->remote_port);
}

static void hexz(struct monitor_sink *k, const char *name, int64_t zxid)
{
    char b[32];
    snprintf(b, sizeof b, "0x%llx", (unsigned long long)zxid);
    k->text(k, name, b);
}

static void quorum_values(struct server *s, struct monitor_sink *k)
{
    struct quorum_info qi;
    quorum_describe(s->q, &qi);
    k->text(k, "peer_state", qi.role);
    k->num(k, "leader_id", qi.leader_id);
    k->num(k, "epoch", qi.epoch);
    hexz(k, "commit_zxid", qi.commit);
    if (strcmp(qi.role, "leader"))
        return;
    k->num(k, "learners", qi.learners);
    k->num(k, "synced_followers", qi.synced_followers);
    k->num(k, "synced_observers", qi.synced_observers);
    k->num(k, "max_follower_lag", qi.max_lag);
}

void monitor_collect(struct server *s, struct monitor_sink *k)
{
    const struct server_stats *st = &s->stats;
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    k->text(k, "version", monitor_version());
    k->text(k, "server_state", monitor_mode(s));
    k->real(k, "avg_latency", monitor_avg_latency(s));
    k->num(k, "max_latency", (int64_t)(st->latency_max_us / 1000));
    k->num(k, "min_latency", (int64_t)(st->latency_min_us / 1000));
    k->num(k, "packets_received", (int64_t)st->packets_received);
    k->num(k, "packets_sent", (int64_t)st->packets_sent);
    k->num(k, "num_alive_connections", s->nconns);
    k->num(k, "outstanding_requests", s->db.last_zxid - s->durable_zxid);
    k->num(k, "znode_count", (int64_t)tree_node_count(s->db.tree));
    k->num(k, "watch_count",
           (int64_t)(watches_count(s->db.data_watches) + watches_count(s->db.child_watches)));
    k->num(k, "ephemerals_count", (int64_t)monitor_ephemerals(s));
    k->num(k, "approximate_data_size", (int64_t)tree_data_bytes(s->db.tree));
    k->num(k, "open_file_descriptor_count", open_fds());
    k->num(k, "max_file_descriptor_count", (int64_t)rl.rlim_cur);
    k->num(k, "global_sessions", sessions_count(&s->db.sessions));
    k->num(k, "local_sessions", localsess_count(s));
    k->num(k, "uptime", clock_wall_ms() - s->start_ms);
    summary_out(k, "fsynctime", &st->fsync_time, 0);
    summary_out(k, "snapshottime", &st->snapshot_time, 0);
    summary_out(k, "readlatency", &st->read_latency, 1);
    summary_out(k, "updatelatency", &st->update_latency, 1);
    hexz(k, "last_zxid", monitor_processed_zxid(s));
    hexz(k, "durable_zxid", s->durable_zxid);
    k->num(k, "snap_count", (int64_t)st->snapshots);
    k->num(k, "bad_frames", (int64_t)st->bad_frames);
    k->num(k, "throttled_connections", (int64_t)st->throttles);
    k->num(k, "snapshot_lock_waits", (int64_t)st->walker_waits);
    k->num(k, "poll_spin_hits", (int64_t)st->spin_hits);
    k->num(k, "poll_spin_idle_us", (int64_t)st->spin_idle_us);
    k->num(k, "notify_queued_connections", (int64_t)flush_queued(s));
    k->num(k, "backlog_connections", (int64_t)s->backlog.n);
    if (s->q)
        quorum_values(s, k);
}
