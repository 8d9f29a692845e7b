/*
 * fourlw.c - four-letter words, formatted as Apache ZooKeeper 3.8 prints
 * them (FourLetterCommands / *Command classes), so monitoring scripts and
 * kazoo's server_version() work unchanged.  zkd adds its own name and
 * version on a separate line where Apache prints the build.
 */
#include "fourlw.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "conn.h"
#include "localsess.h"
#include "monitor.h"
#include "server.h"
#include "quorum.h"
#include "snapshot.h"
#include "zk/proto.h"

static int command_index(const uint8_t *p)
{
    for (int i = 0; zkd_4lw_names[i]; i++)
        if (!memcmp(zkd_4lw_names[i], p, 4))
            return i;
    return -1;
}

int fourlw_is_command(const uint8_t *p)
{
    /* A ConnectRequest starts with a small positive length; letters can't. */
    return command_index(p) >= 0;
}

static void outf(struct jute_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void outf(struct jute_out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0)
        return;
    jute_out_reserve(o, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf((char *)o->p + o->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    o->len += (size_t)n;
}

static void learner_line(const char *text, void *d)
{
    outf(d, "zk_learner\t%s\n", text);
}

static void srvr(struct server *s, struct jute_out *o, int with_clients)
{
    if (s->q && !quorum_serving(s->q)) {
        outf(o, "This ZooKeeper instance is not currently serving requests\n");
        return;
    }
    outf(o, "Zookeeper version: %s\n", monitor_version());
    if (with_clients) {
        outf(o, "Clients:\n");
        for (struct conn *c = s->conns; c; c = c->next)
            outf(o, " /%s:%d[%d](queued=%zu,recved=%llu,sent=%llu)\n", c->remote, c->remote_port,
                 c->state == CONN_READY, conn_queued_bytes(c), (unsigned long long)c->packets_in,
                 (unsigned long long)c->packets_out);
        outf(o, "\n");
    }
    outf(o, "Latency min/avg/max: %llu/%.4f/%llu\n",
         (unsigned long long)(s->stats.latency_min_us / 1000), monitor_avg_latency(s),
         (unsigned long long)(s->stats.latency_max_us / 1000));
    outf(o, "Received: %llu\n", (unsigned long long)s->stats.packets_received);
    outf(o, "Sent: %llu\n", (unsigned long long)s->stats.packets_sent);
    outf(o, "Connections: %u\n", s->nconns);
    outf(o, "Outstanding: %zu\n", (size_t)(s->db.last_zxid - s->durable_zxid));
    outf(o, "Zxid: 0x%llx\n", (unsigned long long)monitor_processed_zxid(s));
    outf(o, "Mode: %s\n", monitor_mode(s));
    outf(o, "Node count: %llu\n", (unsigned long long)tree_node_count(s->db.tree));
}

/* mntr: "zk_<name>\t<value>" for every value monitor.h collects. */
struct mntr_sink {
    struct monitor_sink k;
    struct jute_out *o;
};

static void mntr_num(struct monitor_sink *k, const char *name, int64_t v)
{
    outf(((struct mntr_sink *)k)->o, "zk_%s\t%lld\n", name, (long long)v);
}

static void mntr_real(struct monitor_sink *k, const char *name, double v)
{
    outf(((struct mntr_sink *)k)->o, "zk_%s\t%.4f\n", name, v);
}

static void mntr_text(struct monitor_sink *k, const char *name, const char *v)
{
    outf(((struct mntr_sink *)k)->o, "zk_%s\t%s\n", name, v);
}

static void mntr(struct server *s, struct jute_out *o)
{
    struct mntr_sink k = {{mntr_num, mntr_real, mntr_text, NULL}, o};
    monitor_collect(s, &k.k);
    if (s->q && !strcmp(monitor_mode(s), "leader"))
        quorum_learner_lines(s->q, learner_line, o);
}

const char *fourlw_op_name(int32_t op)
{
    switch (op) {
    case ZK_OP_CREATE: case ZK_OP_CREATE2: case ZK_OP_CREATECONTAINER: case ZK_OP_CREATETTL:
        return "CREA";
    case ZK_OP_DELETE: return "DELE";
    case ZK_OP_EXISTS: return "EXIS";
    case ZK_OP_GETDATA: return "GETD";
    case ZK_OP_SETDATA: return "SETD";
    case ZK_OP_GETACL: return "GACL";
    case ZK_OP_SETACL: return "SACL";
    case ZK_OP_GETCHILDREN: return "GETC";
    case ZK_OP_GETCHILDREN2: return "GETC";
    case ZK_OP_SYNC: return "SYNC";
    case ZK_OP_PING: return "PING";
    case ZK_OP_MULTI: return "MULT";
    case ZK_OP_SETWATCHES: case ZK_OP_SETWATCHES2: return "SETW";
    case ZK_OP_CLOSESESSION: return "CLOS";
    default: return "NA";
    }
}

static void cons(struct server *s, struct jute_out *o)
{
    for (struct conn *c = s->conns; c; c = c->next) {
        outf(o, " /%s:%d[%d](queued=%zu,recved=%llu,sent=%llu", c->remote, c->remote_port,
             c->state == CONN_READY, conn_queued_bytes(c), (unsigned long long)c->packets_in,
             (unsigned long long)c->packets_out);
        if (c->session_id)
            outf(o, ",sid=0x%llx,lop=%s,est=%lld,to=%d,lcxid=0x%x,lzxid=0x%llx,lresp=%lld,"
                    "llat=%lld,minlat=%llu,avglat=%llu,maxlat=%llu",
                 (unsigned long long)c->session_id, fourlw_op_name(c->last_op), (long long)c->established_ms,
                 c->timeout, (unsigned)c->last_cxid, (unsigned long long)s->db.last_zxid,
                 (long long)clock_wall_ms(), (long long)(c->last_latency_us / 1000),
                 (unsigned long long)(c->lat_min_us / 1000),
                 (unsigned long long)(c->lat_count ? c->lat_total_us / 1000 / c->lat_count : 0),
                 (unsigned long long)(c->lat_max_us / 1000));
        outf(o, ")\n");
    }
    outf(o, "\n");
}

static void envi(struct server *s, struct jute_out *o)
{
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    char cwd[4096] = "";
    if (!getcwd(cwd, sizeof cwd))
        cwd[0] = 0;
    outf(o, "Environment:\n");
    outf(o, "zookeeper.version=%s\n", monitor_version());
    outf(o, "zkd.version=%s\n", ZKFS_VERSION);
    outf(o, "host.name=%s\n", host);
    outf(o, "os.name=Linux\n");
    outf(o, "user.dir=%s\n", cwd);
    outf(o, "zkd.pid=%d\n", (int)getpid());
    outf(o, "zkd.dataDir=%s\n", s->cfg.data_dir);
}

struct wctx {
    struct jute_out *o;
    struct pset owners;
    int64_t want_sid;
};

int64_t fourlw_owner_session(const struct watch_owner *w)
{
    const struct conn *c = (const struct conn *)((const char *)w - offsetof(struct conn, watches));
    return c->session_id;
}

static void wchp_one(const char *path, struct watch_owner *w, void *d)
{
    struct wctx *x = d;
    outf(x->o, "%s\n\t0x%llx\n", path, (unsigned long long)fourlw_owner_session(w));
}

static void wchc_path(const char *path, int is_child, enum watch_mode m, void *d)
{
    (void)is_child;
    (void)m;
    outf(d, "\t%s\n", path);
}

static void wchs_owner(const char *path, struct watch_owner *w, void *d)
{
    (void)path;
    pset_add(&((struct wctx *)d)->owners, w);
}

static void watches_cmd(struct server *s, struct jute_out *o, char which)
{
    struct wctx x = {o, {0}, 0};
    if (which == 's') {
        watches_foreach(s->db.data_watches, wchs_owner, &x);
        watches_foreach(s->db.child_watches, wchs_owner, &x);
        outf(o, "%zu connections watching %zu paths\nTotal watches:%zu\n", x.owners.n,
             watches_paths(s->db.data_watches) + watches_paths(s->db.child_watches),
             watches_count(s->db.data_watches) + watches_count(s->db.child_watches));
    } else if (which == 'p') {
        watches_foreach(s->db.data_watches, wchp_one, &x);
        watches_foreach(s->db.child_watches, wchp_one, &x);
    } else {
        for (struct conn *c = s->conns; c; c = c->next) {
            if (!c->watches.count)
                continue;
            outf(o, "0x%llx\n", (unsigned long long)c->session_id);
            watch_owner_foreach(&c->watches, wchc_path, o);
        }
    }
    pset_free(&x.owners);
}

struct dump_ctx {
    struct server *s;
    struct jute_out *o;
    char buf[4096];
};

static void dump_node(struct znode *n, void *d)
{
    struct dump_ctx *x = d;
    if (tree_path(n, x->buf, sizeof x->buf) < sizeof x->buf)
        outf(x->o, "\t%s\n", x->buf);
}

static void dump_owner(int64_t id, size_t n, void *d)
{
    struct dump_ctx *x = d;
    (void)n;
    outf(x->o, "0x%llx:\n", (unsigned long long)id);
    tree_foreach_ephemeral(x->s->db.tree, id, dump_node, x);
}

static void count_owner(int64_t id, size_t n, void *d)
{
    (void)id;
    (void)n;
    (*(int *)d)++;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The keys of `m` in ascending (signed) order, as Java's TreeSet<Long> and
 * Collections.sort give them; the caller frees the array.  OUT: n */
static int64_t *sorted_keys(const struct i64map *m, size_t *n)
{
    int64_t *keys = zk_xcalloc(m->n ? m->n : 1, sizeof *keys);
    int64_t k;
    void *v;
    *n = 0;
    I64MAP_FOREACH(m, k, v)
    {
        (void)v;
        keys[(*n)++] = k;
    }
    qsort(keys, *n, sizeof *keys, cmp_i64);
    return keys;
}

/* Apache's ExpiryQueue.dump: "Sets (buckets)/(sessions):", then per bucket,
 * earliest first, "<n> expire at <Date.toString()>:" and a tab-indented
 * line per session id.  Buckets are monotonic ms; the date is wall time. */
static void expiry_sets(struct jute_out *o, const struct sessions *t)
{
    size_t n;
    int64_t *keys = sorted_keys(&t->buckets, &n);
    int64_t wall_minus_mono = clock_wall_ms() - clock_mono_ms();
    outf(o, "Sets (%zu)/(%u):\n", n, sessions_count(t));
    for (size_t i = 0; i < n; i++) {
        const struct session *head = i64map_get(&t->buckets, keys[i]);
        size_t count = 0;
        for (const struct session *se = head; se; se = se->bnext)
            count++;
        time_t when = (time_t)((keys[i] + wall_minus_mono) / 1000);
        struct tm tm;
        char date[64] = "";
        if (localtime_r(&when, &tm))
            strftime(date, sizeof date, "%a %b %d %H:%M:%S %Z %Y", &tm);
        outf(o, "%zu expire at %s:\n", count, date);
        for (const struct session *se = head; se; se = se->bnext)
            outf(o, "\t0x%llx\n", (unsigned long long)se->id);
    }
    free(keys);
}

/* A learner's LearnerSessionTracker: "Global Sessions(N):" and a line
 * "0x<id>\t<timeout>ms" per global session, by id. */
static void global_list(struct jute_out *o, const struct sessions *t)
{
    size_t n;
    int64_t *keys = sorted_keys(&t->map, &n);
    outf(o, "Global Sessions(%zu):\n", n);
    for (size_t i = 0; i < n; i++) {
        const struct session *se = i64map_get(&t->map, keys[i]);
        outf(o, "0x%llx\t%dms\n", (unsigned long long)se->id, se->timeout);
    }
    free(keys);
}

/*
 * The session tracker's part of dump, as Apache's tracker of each role
 * prints it (SessionTrackerImpl, LeaderSessionTracker, LearnerSessionTracker
 * .dumpSessions): standalone "Session Sets ..."; a leader "Session Sets",
 * or with local sessions "Local Session Sets ..." then "Global Session
 * Sets ..."; a learner "Global Sessions(N)" after, with local sessions,
 * "Local Session Sets ...".
 */
static void dump_sessions(struct server *s, struct jute_out *o)
{
    int local = localsess_enabled(s);
    if (local) {
        outf(o, "Local Session ");
        expiry_sets(o, &s->local_sessions);
    }
    if (s->q && quorum_is_learner(s->q)) {
        global_list(o, &s->db.sessions);
        return;
    }
    outf(o, local ? "Global Session " : "Session ");
    expiry_sets(o, &s->db.sessions);
}

static void dump(struct server *s, struct jute_out *o)
{
    outf(o, "SessionTracker dump:\n");
    dump_sessions(s, o);
    int owners = 0;
    tree_foreach_owner(s->db.tree, count_owner, &owners);
    outf(o, "ephemeral nodes dump:\nSessions with Ephemerals (%d):\n", owners);
    struct dump_ctx *x = zk_xcalloc(1, sizeof *x);
    x->s = s;
    x->o = o;
    tree_foreach_owner(s->db.tree, dump_owner, x);
    free(x);
    outf(o, "Connections dump:\nConnections Sets (1)/(%u):\n", s->nconns);
}

void fourlw_run(struct server *s, struct conn *c, const uint8_t *p)
{
    int i = command_index(p);
    char cmd[5];
    memcpy(cmd, p, 4);
    cmd[4] = 0;
    struct jute_out o;
    jute_out_init(&o);
    if (!(s->cfg.fourlw_mask & (1u << i))) {
        outf(&o, "%s is not executed because it is not in the whitelist.\n", cmd);
    } else if (!strcmp(cmd, "ruok")) {
        outf(&o, "imok");
    } else if (!strcmp(cmd, "srvr")) {
        srvr(s, &o, 0);
    } else if (!strcmp(cmd, "stat")) {
        srvr(s, &o, 1);
    } else if (!strcmp(cmd, "mntr")) {
        mntr(s, &o);
    } else if (!strcmp(cmd, "conf")) {
        char buf[16384];
        int n = config_format(&s->cfg, buf, sizeof buf);
        if (n > 0)
            jute_put_raw(&o, buf, (size_t)n);
    } else if (!strcmp(cmd, "cons")) {
        cons(s, &o);
    } else if (!strcmp(cmd, "crst")) {
        for (struct conn *x = s->conns; x; x = x->next) {
            x->packets_in = x->packets_out = 0;
            x->lat_total_us = x->lat_count = x->lat_min_us = x->lat_max_us = 0;
        }
        outf(&o, "Connection stats reset.\n");
    } else if (!strcmp(cmd, "srst")) {
        memset(&s->stats, 0, sizeof s->stats);
        outf(&o, "Server stats reset.\n");
    } else if (!strcmp(cmd, "envi")) {
        envi(s, &o);
    } else if (!strcmp(cmd, "wchs") || !strcmp(cmd, "wchc") || !strcmp(cmd, "wchp")) {
        watches_cmd(s, &o, cmd[3]);
    } else if (!strcmp(cmd, "dump")) {
        dump(s, &o);
    } else if (!strcmp(cmd, "dirs")) {
        outf(&o, "datadir_size: %lld\nlogdir_size: %lld\n",
             (long long)monitor_dir_bytes(s->snap_dir, "snapshot."),
             (long long)monitor_dir_bytes(s->log_dir, "log."));
    } else if (!strcmp(cmd, "hash")) {
        /* Apache's DigestCommand: "zxid-hex: digest" per entry of the
         * digest history (digest.h), oldest first. */
        if (s->q && !quorum_serving(s->q))
            outf(&o, "This ZooKeeper instance is not currently serving requests\n");
        else
            for (int k = 0; k < s->digests.n; k++) {
                const struct digest_entry *e = digest_log_at(&s->digests, k);
                outf(&o, "%llx: %lld\n", (unsigned long long)e->zxid, (long long)e->digest);
            }
    } else if (!strcmp(cmd, "isro")) {
        outf(&o, "%s", s->q && s->cfg.readonly_mode && quorum_readonly_ready(s->q) ? "ro" : "rw");
    } else {
        outf(&o, "%s is not supported by zkd.\n", cmd);
    }
    conn_send_raw(c, o.p, o.len);
    jute_out_free(&o);
    conn_close_after_flush(c);
}
