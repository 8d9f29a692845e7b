/*
 * metrics.h - the Prometheus endpoint Apache's PrometheusMetricsProvider
 * serves (metricsProvider.className=org.apache.zookeeper.metrics.prometheus.
 * PrometheusMetricsProvider): GET http://<httpHost>:<httpPort>/metrics in the
 * text exposition format 0.0.4.
 *
 * Names, types and help texts are Apache's (its ServerMetrics and the gauges
 * ZooKeeperServer/LeaderZooKeeperServer register; the help text is the name,
 * as Apache's provider writes it), and the layout is that of Prometheus'
 * simpleclient 0.9 which Apache uses: values print as Java doubles, labels
 * end in a comma, an empty summary's quantiles are NaN.  Gauges come from
 * monitor.h (so /metrics, mntr and the admin monitor command agree); only
 * mntr values that are Apache metrics are exported.  readlatency and
 * updatelatency are summaries in ms with quantiles 0.5, 0.9 and 0.99 (Apache's
 * DetailLevel.ADVANCED), fsynctime and snapshottime with 0.5 only (BASIC).
 *
 * Cost: a request adds its latency to a histogram (summary.h), a few
 * instructions on the loop thread; everything else is computed when
 * scraped, on the loop thread between two batches of client I/O (httpd.h).
 */
#ifndef ZKD_METRICS_H
#define ZKD_METRICS_H

#include "zk/jute.h"

struct server;
struct metrics;

/* Starts the endpoint when the Prometheus provider is configured.  Returns
 * it, or NULL when off or when it could not listen (logged; zkd keeps
 * serving).  Loop thread. */
struct metrics *metrics_start(struct server *s);
/* The port it listens on. */
int metrics_port(const struct metrics *m);
/* Stops it (NULL is a no-op).  Loop thread. */
void metrics_stop(struct metrics *m);

/* Appends the exposition text of every metric to `o` (loop thread). */
void metrics_format(struct server *s, struct jute_out *o);

#endif
