/*
 * monitor.h - the server's vital signs, named as Apache's `mntr` names them.
 *
 * One collector feeds three outputs, so they never disagree: the `mntr`
 * four-letter word ("zk_<name>\t<value>"), the AdminServer's `monitor`
 * command (JSON), and the Prometheus endpoint.  Names are Apache 3.8's
 * (MonitorCommand / ServerMetrics), without the "zk_" prefix; zkd adds a few
 * of its own (durable_zxid, bad_frames, poll_spin_*), which tools ignore.
 *
 * Latency summaries follow Apache's AvgMinMaxPercentileCounter: for
 * "readlatency" the values avg_readlatency, min_, max_, cnt_, sum_, p50_,
 * p95_, p99_, p999_readlatency, in milliseconds.  zkd measures a request's
 * latency from its arrival to its reply being queued (for a write, before
 * the group fsync that releases it).
 *
 * Loop thread only (reads server state).
 */
#ifndef ZKD_MONITOR_H
#define ZKD_MONITOR_H

#include <stdint.h>

struct server;
struct summary;

struct monitor_sink {
    void (*num)(struct monitor_sink *k, const char *name, int64_t v);
    void (*real)(struct monitor_sink *k, const char *name, double v);
    void (*text)(struct monitor_sink *k, const char *name, const char *v);
    /* One summary (latencies in microseconds); NULL = emit its values
     * through num/real as Apache's mntr does. */
    void (*summary)(struct monitor_sink *k, const char *name, const struct summary *sm);
};

/* Emits every value, in mntr's order. */
void monitor_collect(struct server *s, struct monitor_sink *k);

/* Apache's version string with zkd's own: "3.8.0-zkd-<v>, built on <date>". */
const char *monitor_version(void);
/* "standalone", or the member's role as Apache names it (leader, follower,
 * observer, looking). */
const char *monitor_mode(struct server *s);
/* Ephemeral znodes in the tree. */
uint64_t monitor_ephemerals(struct server *s);
/* Total size of the files in `dir` whose name starts with `prefix`. */
int64_t monitor_dir_bytes(const char *dir, const char *prefix);
/* Average request latency in ms since the last reset. */
double monitor_avg_latency(const struct server *s);

#endif
