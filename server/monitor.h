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
 * p95_, p99_, p999_readlatency, in milliseconds; fsynctime and snapshottime
 * are AvgMinMaxCounters (no percentiles).  zkd measures a request's
 * latency from the loop taking it up to its reply being queued (for a write, before
 * the group fsync that releases it).
 *
 * Loop thread only (reads server state).
 */
#ifndef ZKD_MONITOR_H
#define ZKD_MONITOR_H

#include <stddef.h>
#include <stdint.h>

struct server;
struct summary;

struct monitor_sink {
    void (*num)(struct monitor_sink *k, const char *name, int64_t v);
    void (*real)(struct monitor_sink *k, const char *name, double v);
    void (*text)(struct monitor_sink *k, const char *name, const char *v);
    /* One summary (microseconds); `advanced` for Apache's DetailLevel.ADVANCED
     * (percentiles), else BASIC.  NULL = emit its values through num/real as
     * Apache's mntr does. */
    void (*summary)(struct monitor_sink *k, const char *name, const struct summary *sm,
                    int advanced);
};

struct txnlog;

/* Called when a log batch is durable: counts the batches `log` synced since
 * the last call into the fsynctime summary, and for one slower than
 * fsync.warningthresholdms logs Apache's warning (time, log directory, bytes)
 * and counts it (fsync_threshold_exceed_count).  Loop thread. */
void monitor_note_fsync(struct server *s, struct txnlog *log);

struct conn;

/*
 * Called after each request (request.c): adds its latency `us` to the read
 * or update summary, and when it took slowRequestThresholdMs or more logs
 * it with its session, client address, operation and path (decoded from
 * `body`, the request after its header, for operations that start with a
 * path).  Loop thread.
 */
void monitor_note_request(struct server *s, const struct conn *c, int32_t type, int update,
                          const uint8_t *body, size_t len, uint64_t us);

/* Emits every value, in mntr's order. */
void monitor_collect(struct server *s, struct monitor_sink *k);

/* Apache's version string with zkd's own: "3.8.0-zkd-<v>, built on <date>". */
const char *monitor_version(void);
/* "standalone", or the member's role as Apache names it (leader, follower,
 * observer, looking). */
const char *monitor_mode(struct server *s);
/* The zxid srvr/stat and the AdminServer show as the last processed one:
 * the db's, except on an established leader whose epoch has logged nothing
 * yet, where Apache's Leader.lead has set it to <epoch>00000000 (its
 * followers keep their own: Apache's do unless synced by snapshot). */
int64_t monitor_processed_zxid(struct server *s);
/* Ephemeral znodes in the tree. */
uint64_t monitor_ephemerals(struct server *s);
/* Total size of the files in `dir` whose name starts with `prefix`. */
int64_t monitor_dir_bytes(const char *dir, const char *prefix);
/* Average request latency in ms since the last reset. */
double monitor_avg_latency(const struct server *s);

#endif
