/*
 * metrics.c - see metrics.h.
 */
#include "metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpd.h"
#include "monitor.h"
#include "server.h"
#include "summary.h"

struct metrics {
    struct server *s;
    struct httpd *h;
};

/* The mntr values that are Apache metrics, all gauges there (ZooKeeperServer
 * and LeaderZooKeeperServer registerGauge).  zkd's own mntr values (zxids,
 * bad_frames, poll_spin_*, epoch...) and those whose meaning differs from
 * Apache's metric of the same name (snap_count: snapshots taken here,
 * snapshots sent to learners there) are not exported. */
static const char *const gauges[] = {
    "avg_latency", "max_latency", "min_latency", "packets_received", "packets_sent",
    "num_alive_connections", "outstanding_requests", "uptime", "znode_count", "watch_count",
    "ephemerals_count", "approximate_data_size", "global_sessions", "local_sessions",
    "open_file_descriptor_count", "max_file_descriptor_count", "learners", "synced_followers",
    "synced_observers", NULL,
};

static int is_gauge(const char *name)
{
    for (int i = 0; gauges[i]; i++)
        if (!strcmp(name, gauges[i]))
            return 1;
    return 0;
}

struct prom_sink {
    struct monitor_sink k;
    struct jute_out *o;
};

static void emitf(struct jute_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emitf(struct jute_out *o, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > 0)
        jute_put_raw(o, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

static void header(struct jute_out *o, const char *name, const char *type)
{
    emitf(o, "# HELP %s %s\n# TYPE %s %s\n", name, name, name, type);
}

/* A value as Java prints a double: integral ones end in ".0". */
static const char *dbl(double v, char *buf, size_t cap)
{
    if (v == (double)(int64_t)v)
        snprintf(buf, cap, "%.1f", v);
    else
        snprintf(buf, cap, "%.6g", v);
    return buf;
}

static void p_real(struct monitor_sink *k, const char *name, double v)
{
    char b[64];
    struct jute_out *o = ((struct prom_sink *)k)->o;
    if (!is_gauge(name))
        return;
    header(o, name, "gauge");
    emitf(o, "%s %s\n", name, dbl(v, b, sizeof b));
}

static void p_num(struct monitor_sink *k, const char *name, int64_t v)
{
    p_real(k, name, (double)v);
}

static void p_text(struct monitor_sink *k, const char *name, const char *v)
{
    (void)k;
    (void)name;
    (void)v;
}

/* A summary in ms; `advanced` adds the 0.9 and 0.99 quantiles. */
static void summary_text(struct jute_out *o, const char *name, const struct summary *sm,
                         int advanced)
{
    static const double qs[] = {0.5, 0.9, 0.99};
    char b[64];
    header(o, name, "summary");
    /* An empty summary has no quantiles: NaN, as simpleclient writes it. */
    for (int i = 0; i < (advanced ? 3 : 1); i++)
        emitf(o, "%s{quantile=\"%g\",} %s\n", name, qs[i],
              sm->count ? dbl((double)summary_quantile(sm, qs[i]) / 1000.0, b, sizeof b) : "NaN");
    emitf(o, "%s_count %s\n", name, dbl((double)sm->count, b, sizeof b));
    emitf(o, "%s_sum %s\n", name, dbl((double)sm->sum / 1000.0, b, sizeof b));
}

static void p_summary(struct monitor_sink *k, const char *name, const struct summary *sm,
                      int advanced)
{
    summary_text(((struct prom_sink *)k)->o, name, sm, advanced);
}

static void counter(struct jute_out *o, const char *name, uint64_t v)
{
    char b[64];
    header(o, name, "counter");
    emitf(o, "%s %s\n", name, dbl((double)v, b, sizeof b));
}

/*
 * Apache's ServerMetrics counters that zkd keeps with the same meaning
 * (Prometheus counters, named as Apache's simpleclient exports them, without
 * a _total suffix).  Counters zkd has no source for (response caches, Apache's
 * processor queues, quorum SASL, digests) are left out rather than exported
 * as a zero that would look like data.
 */
static void counters(struct server *s, struct jute_out *o)
{
    const struct server_stats *st = &s->stats;
    counter(o, "connection_request_count", st->connections_total);
    counter(o, "snapshot_error_count", st->admin_snapshot_errors);
    counter(o, "snapshot_rate_limited_count", st->admin_snapshot_rate_limited);
    counter(o, "restore_error_count", st->admin_restore_errors);
    counter(o, "restore_rate_limited_count", st->admin_restore_rate_limited);
}

void metrics_format(struct server *s, struct jute_out *o)
{
    struct prom_sink k = {{p_num, p_real, p_text, p_summary}, o};
    monitor_collect(s, &k.k);
    counters(s, o);
}

static void serve(struct httpd_req *r, void *data)
{
    struct metrics *m = data;
    r->content_type = "text/plain; version=0.0.4; charset=utf-8";
    if (strcmp(r->path, "/metrics")) {
        r->status = 404;
        r->content_type = "text/plain";
        jute_put_raw(&r->body, "not found\n", 10);
        return;
    }
    if (strcmp(r->method, "GET") && strcmp(r->method, "HEAD")) {
        r->status = 405;
        return;
    }
    metrics_format(m->s, &r->body);
}

struct metrics *metrics_start(struct server *s)
{
    const struct zkd_config *cfg = &s->cfg;
    if (!cfg->metrics_prometheus)
        return NULL;
    struct metrics *m = zk_xcalloc(1, sizeof *m);
    m->s = s;
    m->h = httpd_start(s->loop, "Prometheus /metrics", cfg->metrics_host, cfg->metrics_port,
                       30000, 0, NULL, NULL, serve, m);
    if (!m->h) {
        free(m);
        return NULL;
    }
    return m;
}

int metrics_port(const struct metrics *m)
{
    return httpd_port(m->h);
}

void metrics_stop(struct metrics *m)
{
    if (!m)
        return;
    httpd_stop(m->h);
    free(m);
}
