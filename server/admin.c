/*
 * admin.c - the AdminServer's commands (see admin.h).  Each command writes
 * its members into a JSON object; run_command adds "command" and "error".
 * Everything here runs on the loop thread (httpd.c hops requests over).
 */
#include "admin.h"

#include <dirent.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "acl.h"
#include "adminsnap.h"
#include "clock.h"
#include "conn.h"
#include "fourlw.h"
#include "httpd.h"
#include "digest.h"
#include "json.h"
#include "localsess.h"
#include "log.h"
#include "monitor.h"
#include "quorum.h"
#include "server.h"
#include "tlspem.h"
#include "zk/proto.h"

struct admin {
    struct server *s;
    struct httpd *h;
    /* Apache's RateLimiter(1, admin.rateLimiterIntervalInMS) per command:
     * when each last ran (0: never). */
    uint64_t last_snapshot_ms, last_restore_ms;
};

/* What a command sees: the server, the JSON being written, the request. */
struct cmd_ctx {
    struct server *s;
    struct json *j;
    struct httpd_req *r;
    const char *error; /* set to fail the command (after its members) */
    int status;        /* HTTP status when not 200 */
    struct admin *a;
    struct jute_out raw; /* a body to send instead of the JSON (snapshot streaming) */
    int has_raw;
};

struct command {
    const char *names[4]; /* primary name first, then aliases */
    void (*run)(struct cmd_ctx *x);
    int serving;          /* needs a serving server (Apache's isServerRequired) */
    int gated;            /* Apache 3.9 AuthRequest(ALL, "/") */
    int post;             /* a POST command (Apache's PostCommand) */
};

static int serving(const struct server *s)
{
    return !s->q || quorum_serving(s->q);
}

/* ---- commands ---- */

static void c_ruok(struct cmd_ctx *x)
{
    (void)x;
}

static void c_monitor_num(struct monitor_sink *k, const char *name, int64_t v);
static void c_monitor_real(struct monitor_sink *k, const char *name, double v);
static void c_monitor_text(struct monitor_sink *k, const char *name, const char *v);

struct json_sink {
    struct monitor_sink k;
    struct json *j;
};

static void c_monitor_num(struct monitor_sink *k, const char *name, int64_t v)
{
    json_int(((struct json_sink *)k)->j, name, v);
}

static void c_monitor_real(struct monitor_sink *k, const char *name, double v)
{
    json_double(((struct json_sink *)k)->j, name, v);
}

static void c_monitor_text(struct monitor_sink *k, const char *name, const char *v)
{
    json_str(((struct json_sink *)k)->j, name, v);
}

static void c_monitor(struct cmd_ctx *x)
{
    struct json_sink k = {{c_monitor_num, c_monitor_real, c_monitor_text, NULL}, x->j};
    monitor_collect(x->s, &k.k);
}

/* A connection's address as Apache prints an InetSocketAddress. */
static void remote_address(const struct conn *c, char *buf, size_t cap)
{
    if (strchr(c->remote, ':'))
        snprintf(buf, cap, "[%s]:%d", c->remote, c->remote_port);
    else
        snprintf(buf, cap, "%s:%d", c->remote, c->remote_port);
}

static void connection(struct cmd_ctx *x, const struct conn *c, int full)
{
    struct json *j = x->j;
    char addr[96];
    remote_address(c, addr, sizeof addr);
    json_obj(j, NULL);
    json_str(j, "remote_socket_address", addr);
    json_int(j, "interest_ops", c->reading_paused ? 0 : 1);
    json_int(j, "outstanding_requests", c->fwd_pending);
    json_uint(j, "packets_received", c->packets_in);
    json_uint(j, "packets_sent", c->packets_out);
    if (full && c->session_id) {
        json_int(j, "session_id", c->session_id);
        json_str(j, "last_operation", fourlw_op_name(c->last_op));
        json_int(j, "established", c->established_ms);
        json_int(j, "session_timeout", c->timeout);
        json_int(j, "last_cxid", c->last_cxid);
        json_int(j, "last_zxid", x->s->db.last_zxid); /* as the cons 4lw shows it */
        json_int(j, "last_response_time", clock_wall_ms());
        json_int(j, "last_latency", c->last_latency_us / 1000);
        json_uint(j, "min_latency", c->lat_min_us / 1000);
        json_uint(j, "avg_latency", c->lat_count ? c->lat_total_us / 1000 / c->lat_count : 0);
        json_uint(j, "max_latency", c->lat_max_us / 1000);
    }
    json_end(j);
}

static void connections(struct cmd_ctx *x, int full)
{
    for (int secure = 0; secure < 2; secure++) {
        json_arr(x->j, secure ? "secure_connections" : "connections");
        for (const struct conn *c = x->s->conns; c; c = c->next)
            if (!!c->is_tls == secure)
                connection(x, c, full);
        json_end(x->j);
    }
}

static void c_cons(struct cmd_ctx *x)
{
    connections(x, 1);
}

static void buffer_stats(struct json *j, const char *key)
{
    /* zkd does not track reply sizes; -1 is Apache's "no data". */
    json_obj(j, key);
    json_int(j, "last_buffer_size", -1);
    json_int(j, "min_buffer_size", -1);
    json_int(j, "max_buffer_size", -1);
    json_end(j);
}

static int read_only(const struct server *s)
{
    return s->q && s->cfg.readonly_mode && quorum_readonly_ready(s->q);
}

static void server_stats(struct cmd_ctx *x)
{
    struct server *s = x->s;
    struct json *j = x->j;
    json_str(j, "version", monitor_version());
    json_bool(j, "read_only", read_only(s));
    json_obj(j, "server_stats");
    json_uint(j, "packets_sent", s->stats.packets_sent);
    json_uint(j, "packets_received", s->stats.packets_received);
    json_uint(j, "fsync_threshold_exceed_count", s->stats.fsync_slow);
    buffer_stats(j, "client_response_stats");
    json_int(j, "data_dir_size", monitor_dir_bytes(s->snap_dir, "snapshot."));
    json_int(j, "log_dir_size", monitor_dir_bytes(s->log_dir, "log."));
    json_bool(j, "provider_null", 0);
    json_str(j, "server_state", monitor_mode(s));
    json_int(j, "last_processed_zxid", monitor_processed_zxid(s));
    json_int(j, "outstanding_requests", s->db.last_zxid - s->durable_zxid);
    json_double(j, "avg_latency", monitor_avg_latency(s));
    json_uint(j, "max_latency", s->stats.latency_max_us / 1000);
    json_uint(j, "min_latency", s->stats.latency_min_us / 1000);
    json_uint(j, "num_alive_client_connections", s->nconns);
    json_int(j, "auth_failed_count", 0);
    json_int(j, "non_mtlsremote_conn_count", 0);
    json_int(j, "non_mtlslocal_conn_count", 0);
    json_int(j, "uptime", clock_wall_ms() - s->start_ms);
    json_end(j);
    buffer_stats(j, "client_response");
    json_uint(j, "node_count", tree_node_count(s->db.tree));
}

static void c_srvr(struct cmd_ctx *x)
{
    server_stats(x);
}

static void c_stat(struct cmd_ctx *x)
{
    server_stats(x);
    connections(x, 0);
}

static void c_conf(struct cmd_ctx *x)
{
    const struct zkd_config *cfg = &x->s->cfg;
    struct json *j = x->j;
    json_int(j, "client_port", cfg->client_port ? cfg->client_port : -1);
    json_str(j, "data_dir", cfg->data_dir);
    json_str(j, "data_log_dir", cfg->data_log_dir);
    json_int(j, "tick_time", cfg->tick_time);
    json_int(j, "max_client_cnxns", cfg->max_client_cnxns);
    json_int(j, "min_session_timeout", cfg->min_session_timeout);
    json_int(j, "max_session_timeout", cfg->max_session_timeout);
    json_int(j, "server_id", x->s->myid);
    json_int(j, "client_port_listen_backlog", cfg->client_listen_backlog);
}

struct dump_ctx {
    struct cmd_ctx *x;
    char path[4096];
};

static void dump_path(struct znode *n, void *d)
{
    struct dump_ctx *k = d;
    if (tree_path(n, k->path, sizeof k->path) < sizeof k->path)
        json_str(k->x->j, NULL, k->path);
}

static void dump_owner(int64_t id, size_t n, void *d)
{
    struct dump_ctx *k = d;
    char key[32];
    (void)n;
    snprintf(key, sizeof key, "%lld", (long long)id);
    json_arr(k->x->j, key);
    tree_foreach_ephemeral(k->x->s->db.tree, id, dump_path, k);
    json_end(k->x->j);
}

/* The expiry buckets of `t` as "time": [ids], leaving out the times
 * `over` has (NULL: none). */
static void expiry_buckets(struct json *j, const struct sessions *t, const struct sessions *over)
{
    char key[32];
    int64_t bucket;
    void *head;
    I64MAP_FOREACH(&t->buckets, bucket, head)
    {
        if (over && i64map_get(&over->buckets, bucket))
            continue;
        snprintf(key, sizeof key, "%lld", (long long)bucket);
        json_arr(j, key);
        for (struct session *se = head; se; se = se->bnext)
            json_int(j, NULL, se->id);
        json_end(j);
    }
}

static void c_dump(struct cmd_ctx *x)
{
    struct json *j = x->j;
    struct server *s = x->s;
    /* Apache's getSessionExpiryMap: a learner's tracker has none (its
     * global sessions expire on the leader); a leader's is its local map
     * with the global one put over it, a whole bucket per time. */
    json_obj(j, "expiry_time_to_session_ids");
    if (!s->q || !quorum_is_learner(s->q)) {
        if (localsess_enabled(s))
            expiry_buckets(j, &s->local_sessions, &s->db.sessions);
        expiry_buckets(j, &s->db.sessions, NULL);
    }
    json_end(j);
    json_obj(j, "session_id_to_ephemeral_paths");
    struct dump_ctx *k = zk_xcalloc(1, sizeof *k);
    k->x = x;
    tree_foreach_owner(x->s->db.tree, dump_owner, k);
    free(k);
    json_end(j);
}

static void env_common(struct json *j)
{
    struct utsname u;
    char host[256] = "", cwd[4096] = "";
    gethostname(host, sizeof host - 1);
    if (!getcwd(cwd, sizeof cwd))
        cwd[0] = 0;
    if (uname(&u))
        memset(&u, 0, sizeof u);
    const struct passwd *pw = getpwuid(getuid());
    json_str(j, "host.name", host);
    json_str(j, "os.name", u.sysname);
    json_str(j, "os.arch", u.machine);
    json_str(j, "os.version", u.release);
    json_str(j, "user.name", pw ? pw->pw_name : "");
    json_str(j, "user.home", pw ? pw->pw_dir : "");
    json_str(j, "user.dir", cwd);
}

static void c_envi(struct cmd_ctx *x)
{
    char pid[16];
    json_str(x->j, "zookeeper.version", monitor_version());
    env_common(x->j);
    json_str(x->j, "zkd.version", ZKFS_VERSION);
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    json_str(x->j, "zkd.pid", pid);
    json_str(x->j, "zkd.dataDir", x->s->cfg.data_dir);
}

static void c_sysp(struct cmd_ctx *x)
{
    json_str(x->j, "file.separator", "/");
    json_str(x->j, "line.separator", "\n");
    json_str(x->j, "path.separator", ":");
    env_common(x->j);
    json_str(x->j, "zkd.version", ZKFS_VERSION);
    json_str(x->j, "zookeeper.version", monitor_version());
}

/* ---- watches ---- */

struct owner_set {
    struct pset owners;
};

static void count_owner(const char *path, struct watch_owner *w, void *d)
{
    (void)path;
    pset_add(&((struct owner_set *)d)->owners, w);
}

static void c_wchs(struct cmd_ctx *x)
{
    const struct db *db = &x->s->db;
    struct owner_set o = {{0}};
    watches_foreach(db->data_watches, count_owner, &o);
    watches_foreach(db->child_watches, count_owner, &o);
    json_uint(x->j, "num_connections", o.owners.n);
    json_uint(x->j, "num_paths", watches_paths(db->data_watches) + watches_paths(db->child_watches));
    json_uint(x->j, "num_total_watches",
              watches_count(db->data_watches) + watches_count(db->child_watches));
    pset_free(&o.owners);
}

static void watched_path(const char *path, int is_child, enum watch_mode m, void *d)
{
    (void)is_child;
    (void)m;
    json_str(d, NULL, path);
}

static void c_wchc(struct cmd_ctx *x)
{
    char key[32];
    json_obj(x->j, "session_id_to_watched_paths");
    for (struct conn *c = x->s->conns; c; c = c->next) {
        if (!c->watches.count)
            continue;
        snprintf(key, sizeof key, "%lld", (long long)c->session_id);
        json_arr(x->j, key);
        watch_owner_foreach(&c->watches, watched_path, x->j);
        json_end(x->j);
    }
    json_end(x->j);
}

/* watches_foreach gives one (path, owner) pair per registration, a path's
 * pairs in a row: group them into "path" : [ sessions ]. */
struct by_path {
    struct json *j;
    char last[4096];
    int open;
};

static void path_owner(const char *path, struct watch_owner *w, void *d)
{
    struct by_path *b = d;
    if (!b->open || strcmp(b->last, path)) {
        if (b->open)
            json_end(b->j);
        snprintf(b->last, sizeof b->last, "%s", path);
        json_arr(b->j, path);
        b->open = 1;
    }
    json_int(b->j, NULL, fourlw_owner_session(w));
}

static void c_wchp(struct cmd_ctx *x)
{
    struct by_path *b = zk_xcalloc(1, sizeof *b);
    b->j = x->j;
    json_obj(x->j, "path_to_session_ids");
    watches_foreach(x->s->db.data_watches, path_owner, b);
    if (b->open)
        json_end(x->j);
    b->open = 0;
    watches_foreach(x->s->db.child_watches, path_owner, b);
    if (b->open)
        json_end(x->j);
    json_end(x->j);
    free(b);
}

/* ---- state of the server and the ensemble ---- */

static void c_dirs(struct cmd_ctx *x)
{
    json_int(x->j, "datadir_size", monitor_dir_bytes(x->s->snap_dir, "snapshot."));
    json_int(x->j, "logdir_size", monitor_dir_bytes(x->s->log_dir, "log."));
}

static void c_isro(struct cmd_ctx *x)
{
    json_bool(x->j, "read_only", read_only(x->s));
}

static void c_lead(struct cmd_ctx *x)
{
    if (!x->s->q) {
        x->error = "server is not initialized";
        return;
    }
    struct quorum_info qi;
    quorum_describe(x->s->q, &qi);
    const struct zkd_server_line *l = config_server(&x->s->cfg, qi.leader_id);
    json_bool(x->j, "is_leader", quorum_is_leader(x->s->q));
    json_int(x->j, "leader_id", qi.leader_id);
    json_str(x->j, "leader_ip", l ? l->host : "");
}

/* The newest snapshot file's modification time, in seconds (0: none). */
static int64_t snapshot_mtime(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int64_t newest = 0;
    char path[8192];
    struct dirent *e;
    struct stat st;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "snapshot.", 9))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (!stat(path, &st) && st.st_mtime > newest)
            newest = st.st_mtime;
    }
    closedir(d);
    return newest;
}

static void c_lsnp(struct cmd_ctx *x)
{
    char zxid[32];
    snprintf(zxid, sizeof zxid, "%llx", (unsigned long long)x->s->snap_zxid);
    json_str(x->j, "zxid", zxid);
    json_int(x->j, "timestamp", snapshot_mtime(x->s->snap_dir));
}

static void c_obsr(struct cmd_ctx *x)
{
    struct quorum_info qi = {0};
    if (x->s->q)
        quorum_describe(x->s->q, &qi);
    json_int(x->j, "synced_observers", qi.synced_observers);
    json_arr(x->j, "observers");
    json_end(x->j);
}

static void address(const char *host, int port, char *buf, size_t cap)
{
    snprintf(buf, cap, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host[0] ? host : "0.0.0.0", port);
}

static void c_voting_view(struct cmd_ctx *x)
{
    const struct zkd_config *cfg = &x->s->cfg;
    struct json *j = x->j;
    char key[16], a[300];
    json_obj(j, "current_config");
    for (int i = 0; x->s->q && i < cfg->nservers; i++) {
        const struct zkd_server_line *l = &cfg->servers[i];
        snprintf(key, sizeof key, "%d", l->id);
        json_obj(j, key);
        json_arr(j, "serverAddresses");
        address(l->host, l->quorum_port, a, sizeof a);
        json_str(j, NULL, a);
        json_end(j);
        json_arr(j, "electionAddresses");
        address(l->host, l->election_port, a, sizeof a);
        json_str(j, NULL, a);
        json_end(j);
        address(l->client_host, l->client_port, a, sizeof a);
        json_str(j, "clientAddress", l->client_port ? a : "");
        json_str(j, "learnerType", l->observer ? "observer" : "participant");
        json_end(j);
    }
    json_end(j);
}

static void c_zabstate(struct cmd_ctx *x)
{
    struct server *s = x->s;
    if (!s->q) {
        json_bool(x->j, "voting", 0);
        json_str(x->j, "zabstate", "");
        return;
    }
    struct quorum_info qi;
    quorum_describe(s->q, &qi);
    const struct zkd_server_line *me = config_server(&s->cfg, s->myid);
    char a[300], z[32];
    json_int(x->j, "myid", s->myid);
    json_bool(x->j, "is_leader", quorum_is_leader(s->q));
    address(me ? me->host : "", me ? me->quorum_port : 0, a, sizeof a);
    json_str(x->j, "quorum_address", a);
    address(me ? me->host : "", me ? me->election_port : 0, a, sizeof a);
    json_str(x->j, "election_address", a);
    address(s->cfg.client_port_address, s->cfg.client_port, a, sizeof a);
    json_str(x->j, "client_address", a);
    json_bool(x->j, "voting", config_is_voter(&s->cfg, s->myid));
    snprintf(z, sizeof z, "0x%llx", (unsigned long long)s->db.last_zxid);
    json_str(x->j, "last_zxid", z);
    json_int(x->j, "zab_epoch", (int64_t)((uint64_t)s->db.last_zxid >> 32));
    json_int(x->j, "zab_counter", (int64_t)((uint64_t)s->db.last_zxid & 0xffffffffu));
    json_str(x->j, "zabstate", !strcmp(qi.role, "looking") ? "election"
                               : quorum_serving(s->q)      ? "broadcast"
                                                           : "synchronization");
}

static void c_hash(struct cmd_ctx *x)
{
    /* Apache's DigestCommand: the digest history (digest.h), oldest first,
     * each a ZxidDigest in Jackson's snake_case. */
    const struct digest_log *l = &x->s->digests;
    json_arr(x->j, "digests");
    for (int i = 0; i < l->n; i++) {
        const struct digest_entry *e = digest_log_at(l, i);
        json_obj(x->j, NULL);
        json_int(x->j, "zxid", e->zxid);
        json_int(x->j, "digest_version", DIGEST_VERSION);
        json_int(x->j, "digest", e->digest);
        json_end(x->j);
    }
    json_end(x->j);
}

static void c_icfg(struct cmd_ctx *x)
{
    FILE *f = fopen(x->s->cfg.path, "r");
    struct jute_out text;
    jute_out_init(&text);
    if (f) {
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, f)) > 0 && text.len < (4u << 20))
            jute_put_raw(&text, buf, n);
        fclose(f);
    }
    json_strn(x->j, "initial_configuration", text.len ? (const char *)text.p : "", text.len);
    jute_out_free(&text);
}

static void c_crst(struct cmd_ctx *x)
{
    for (struct conn *c = x->s->conns; c; c = c->next) {
        c->packets_in = c->packets_out = 0;
        c->lat_total_us = c->lat_count = c->lat_min_us = c->lat_max_us = 0;
    }
}

static void c_srst(struct cmd_ctx *x)
{
    memset(&x->s->stats, 0, sizeof x->s->stats);
}

static void c_orst(struct cmd_ctx *x)
{
    (void)x; /* observer connections keep no resettable counters in zkd */
}

static void c_gtmk(struct cmd_ctx *x)
{
    json_int(x->j, "tracemask", 0); /* zkd has no trace log */
}

/* Query arguments the commands read, in httpd_req.args order. */
enum { ARG_TRACEMASK, ARG_LEVEL, ARG_STREAMING };
static const char *const arg_names[] = {"traceMask", "level", "streaming", NULL};

static void c_stmk(struct cmd_ctx *x)
{
    const char *a = x->r->args[ARG_TRACEMASK];
    char *end = NULL;
    long long v = a ? strtoll(a, &end, 10) : 0;
    if (!a || !*a || *end) {
        x->error = "setTraceMask requires long traceMask argument";
        return;
    }
    json_int(x->j, "tracemask", v); /* accepted, has no effect: no trace log */
}

/* zkd's own: the log level, changed with ?level=error|warn|info|debug.  Like
 * Apache's set_trace_mask it is not gated. */
static void c_log_level(struct cmd_ctx *x)
{
    const char *want = x->r->args[ARG_LEVEL];
    if (want) {
        int l = zkd_log_level_parse(want);
        if (l < 0) {
            x->status = 400;
            x->error = "level must be error, warn, info or debug";
            return;
        }
        enum zkd_log_level was = zkd_log_get_level();
        zkd_log_set_level((enum zkd_log_level)l);
        log_warn("AdminServer: log level %s -> %s (from %s)", zkd_log_level_name(was),
                 zkd_log_level_name((enum zkd_log_level)l), x->r->remote);
    }
    json_str(x->j, "level", zkd_log_level_name(zkd_log_get_level()));
}

/* Apache's RateLimiter(1, interval): the first call passes, then one per
 * interval.  Returns 1 if this call may run (and counts it). */
static int rate_allow(uint64_t *last_ms, int interval_ms)
{
    uint64_t now = clock_mono_ms();
    if (*last_ms && now - *last_ms < (uint64_t)interval_ms)
        return 0;
    *last_ms = now ? now : 1;
    return 1;
}

/*
 * snapshot?streaming=true|false (Apache 3.9 SnapshotCommand): a snapshot
 * stream of the state now, with headers last_zxid (0x...) and
 * snapshot_size; streaming=false answers only the headers and the JSON.
 * Disabled (admin.snapshot.enabled=false): 503; over the rate: 429.
 */
static void c_snapshot(struct cmd_ctx *x)
{
    if (!x->s->cfg.admin_snapshot_enabled) {
        log_warn("AdminServer: snapshot command is disabled (admin.snapshot.enabled)");
        x->status = 503;
        return;
    }
    if (!rate_allow(&x->a->last_snapshot_ms, x->s->cfg.admin_rate_limit_ms)) {
        log_warn("AdminServer: snapshot request from %s was rate limited", x->r->remote);
        x->s->stats.admin_snapshot_rate_limited++;
        x->status = 429;
        return;
    }
    const char *st = x->r->args[ARG_STREAMING];
    int streaming = !st || !strcasecmp(st, "true"); /* Boolean.parseBoolean */
    int64_t zxid;
    jute_out_init(&x->raw);
    int rc = adminsnap_take(x->s, &x->raw, &zxid);
    if (rc || x->raw.len == 0) {
        log_warn("AdminServer: snapshot failed: %s", strerror(rc ? -rc : EIO));
        x->s->stats.admin_snapshot_errors++;
        jute_out_free(&x->raw);
        x->status = 500;
        return;
    }
    char v[32];
    snprintf(v, sizeof v, "0x%llx", (unsigned long long)zxid);
    httpd_add_header(x->r, "last_zxid", v);
    snprintf(v, sizeof v, "%zu", x->raw.len);
    httpd_add_header(x->r, "snapshot_size", v);
    log_info("AdminServer: snapshot at 0x%llx (%zu bytes) for %s", (unsigned long long)zxid,
             x->raw.len, x->r->remote);
    if (streaming)
        x->has_raw = 1;
    else
        jute_out_free(&x->raw);
}

/*
 * restore (POST, Apache 3.9 RestoreCommand): replaces the state by the
 * uploaded snapshot stream (adminsnap.h) and answers last_zxid.  Disabled:
 * 503; no body: 400; over the rate: 429; a bad stream or a failure: 500.
 */
static void c_restore(struct cmd_ctx *x)
{
    if (!x->s->cfg.admin_restore_enabled) {
        log_warn("AdminServer: restore command is disabled (admin.restore.enabled)");
        x->status = 503;
        return;
    }
    if (!x->r->upload_len) {
        x->status = 400;
        x->error = "restore needs a snapshot stream as the request body";
        return;
    }
    if (!rate_allow(&x->a->last_restore_ms, x->s->cfg.admin_rate_limit_ms)) {
        log_warn("AdminServer: restore request from %s was rate limited", x->r->remote);
        x->s->stats.admin_restore_rate_limited++;
        x->status = 429;
        return;
    }
    int64_t zxid;
    const char *why = NULL;
    if (adminsnap_restore(x->s, x->r->upload, x->r->upload_len, &zxid, &why)) {
        log_warn("AdminServer: restore from %s failed: %s", x->r->remote, why);
        x->s->stats.admin_restore_errors++;
        x->status = 500;
        x->error = why;
        return;
    }
    json_int(x->j, "last_zxid", zxid);
}

static void c_unsupported(struct cmd_ctx *x)
{
    x->status = 503;
    x->error = "not supported by zkd yet";
}

static const struct command commands[] = {
    {{"connection_stat_reset", "crst"}, c_crst, 1, 0, 0},
    {{"configuration", "conf", "config"}, c_conf, 1, 0, 0},
    {{"connections", "cons"}, c_cons, 1, 0, 0},
    {{"hash"}, c_hash, 1, 0, 0},
    {{"dirs"}, c_dirs, 1, 0, 0},
    {{"dump"}, c_dump, 1, 0, 0},
    {{"environment", "env", "envi"}, c_envi, 0, 0, 0},
    {{"get_trace_mask", "gtmk"}, c_gtmk, 0, 0, 0},
    {{"initial_configuration", "icfg"}, c_icfg, 1, 0, 0},
    {{"is_read_only", "isro"}, c_isro, 1, 0, 0},
    {{"last_snapshot", "lsnp"}, c_lsnp, 1, 0, 0},
    {{"log_level"}, c_log_level, 0, 0, 0}, /* zkd extension */
    {{"leader", "lead"}, c_lead, 1, 0, 0},
    {{"monitor", "mntr"}, c_monitor, 0, 0, 0},
    {{"observer_connection_stat_reset", "orst"}, c_orst, 1, 0, 0},
    {{"restore", "rest"}, c_restore, 1, 1, 1},
    {{"ruok"}, c_ruok, 1, 0, 0},
    {{"set_trace_mask", "stmk"}, c_stmk, 0, 0, 0},
    {{"shed_connections", "shed"}, c_unsupported, 1, 1, 1},
    {{"snapshot", "snap"}, c_snapshot, 1, 1, 0},
    {{"server_stats", "srvr"}, c_srvr, 1, 0, 0},
    {{"stats", "stat"}, c_stat, 1, 0, 0},
    {{"stat_reset", "srst"}, c_srst, 1, 0, 0},
    {{"observers", "obsr"}, c_obsr, 1, 0, 0},
    {{"system_properties", "sysp"}, c_sysp, 0, 0, 0},
    {{"voting_view"}, c_voting_view, 1, 0, 0},
    {{"watches", "wchc"}, c_wchc, 1, 0, 0},
    {{"watches_by_path", "wchp"}, c_wchp, 1, 0, 0},
    {{"watch_summary", "wchs"}, c_wchs, 1, 0, 0},
    {{"zabstate"}, c_zabstate, 0, 0, 0},
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        for (int k = 0; k < 4 && commands[i].names[k]; k++)
            if (!strcmp(name, commands[i].names[k]))
                return &commands[i];
    return NULL;
}

/* ---- authentication (Apache 3.9 Commands.handleAuthentication) ---- */

/*
 * Checks the Authorization header of a gated command against the ACL of "/":
 * 0 when allowed, else the HTTP status (401 or 403) with *why set.  The
 * header is "<scheme>" or "<scheme> <auth>", split on one space as Apache
 * splits it.
 */
static int authorize(struct server *s, const struct httpd_req *r, const char **why)
{
    if (!r->auth) {
        *why = "Auth info is missing for the command";
        return 401;
    }
    *why = "Not authenticated";
    const char *sp = strchr(r->auth, ' ');
    if (sp && strchr(sp + 1, ' '))
        return 401; /* more than two fields */
    size_t slen = sp ? (size_t)(sp - r->auth) : strlen(r->auth);
    struct auth_info ids = {0};
    if (slen == 6 && !strncmp(r->auth, "digest", 6) && sp && sp[1]) {
        char *id = NULL;
        if (acl_digest(sp + 1, strlen(sp + 1), &id) == 0) {
            if (s->cfg.super_digest[0] && !strcmp(id, s->cfg.super_digest))
                auth_info_add(&ids, "super", "");
            auth_info_add(&ids, "digest", id);
            free(id);
        }
    } else if (slen == 2 && !strncmp(r->auth, "ip", 2) && r->remote[0]) {
        auth_info_add(&ids, "ip", r->remote);
    } else if (slen == 4 && !strncmp(r->auth, "x509", 4) && r->peer_dn[0]) {
        /* X509AuthenticationProvider.handleAuthentication(request): the verified
         * client certificate's subject, and super if it is superUser's. */
        if (s->cfg.x509_super_user[0] && !strcmp(r->peer_dn, s->cfg.x509_super_user))
            auth_info_add(&ids, "super", r->peer_dn);
        auth_info_add(&ids, "x509", r->peer_dn);
    }
    if (!ids.n) {
        auth_info_free(&ids);
        return 401;
    }
    int status = 0;
    struct znode *root = tree_lookup(s->db.tree, "/", 1);
    const struct acl_list *acl = root ? acl_get(tree_acls(s->db.tree), root->acl) : NULL;
    for (int32_t bit = 1; bit <= ZK_PERM_ALL; bit <<= 1)
        if ((ZK_PERM_ALL & bit) && acl_check(acl, bit, &ids)) {
            *why = "Not authorized";
            status = 403;
            break;
        }
    auth_info_free(&ids);
    return status;
}

/* ---- HTTP ---- */

static void links(struct admin *a, struct httpd_req *r)
{
    static const char fmt[] = "<a href=\"%s/%s\">%s</a>\n<br/>\n";
    const char *url = a->s->cfg.admin_command_url;
    /* Apache lists the primary names sorted. */
    const char *names[NCOMMANDS];
    for (size_t i = 0; i < NCOMMANDS; i++)
        names[i] = commands[i].names[0];
    for (size_t i = 1; i < NCOMMANDS; i++)
        for (size_t k = i; k > 0 && strcmp(names[k - 1], names[k]) > 0; k--) {
            const char *t = names[k];
            names[k] = names[k - 1];
            names[k - 1] = t;
        }
    for (size_t i = 0; i < NCOMMANDS; i++) {
        char line[512];
        int n = snprintf(line, sizeof line, fmt, url, names[i], names[i]);
        if (n > 0 && (size_t)n < sizeof line)
            jute_put_raw(&r->body, line, (size_t)n);
    }
    r->content_type = "text/html";
}

static void text_answer(struct httpd_req *r, int status, const char *text)
{
    r->status = status;
    r->content_type = "text/plain";
    jute_put_raw(&r->body, text, strlen(text));
}

static void run_command(struct admin *a, struct httpd_req *r, const char *name, int post)
{
    struct json j;
    struct cmd_ctx x = {a->s, &j, r, NULL, 0, a, {0}, 0};
    char why[600];
    const struct command *c = find_command(name);
    json_open(&j, &r->body);
    if (!c) {
        snprintf(why, sizeof why, "Unknown command: %.500s", name);
        x.error = why; /* 200, as Apache keeps it for old clients */
    } else if (c->post != post) {
        x.status = 405;
        x.error = c->post ? "this command takes POST" : "this command takes GET";
    } else if (c->serving && !serving(a->s)) {
        x.error = "This ZooKeeper instance is not currently serving requests";
    } else if (c->gated && (x.status = authorize(a->s, r, &x.error)) != 0) {
        log_warn("AdminServer: %s from %s refused: %s", c->names[0], r->remote, x.error);
    } else {
        x.error = NULL; /* authorize's "Not authenticated" stays only on refusal */
        c->run(&x);
    }
    json_str(&j, "command", c ? c->names[0] : name);
    json_str(&j, "error", x.error);
    json_close(&j);
    r->status = x.status;
    if (x.has_raw) { /* the snapshot stream instead of the JSON */
        jute_out_free(&r->body);
        r->body = x.raw;
        r->content_type = "application/octet-stream";
    }
}

static void serve(struct httpd_req *r, void *data)
{
    struct admin *a = data;
    const char *url = a->s->cfg.admin_command_url;
    size_t ulen = strlen(url);
    int get = !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD");
    if (!get && strcmp(r->method, "POST")) {
        text_answer(r, 405, "method not allowed\n");
        return;
    }
    if (strncmp(r->path, url, ulen) || (r->path[ulen] && r->path[ulen] != '/')) {
        text_answer(r, 404, "not found\n");
        return;
    }
    const char *name = r->path + ulen + (r->path[ulen] == '/');
    if (!*name) {
        links(a, r);
        return;
    }
    run_command(a, r, name, !get);
}

/*
 * The AdminServer's TLS, as Apache's JettyAdminServer sets it up from the
 * quorum key and trust stores (QuorumX509Util): HTTPS only with
 * admin.forceHttps, HTTPS and HTTP on the one port with
 * admin.portUnification (forceHttps wins when both are set), client
 * certificates required and verified against the trust store with
 * admin.needClientAuth.  Returns 0 with *tls filled in (strings the caller
 * frees with free_tls), 1 for plain HTTP, -1 (logged) when a store fails.
 */
static int admin_tls(const struct zkd_config *cfg, struct httpd_tls *tls)
{
    memset(tls, 0, sizeof *tls);
    if (!cfg->admin_force_https && !cfg->admin_port_unification)
        return 1;
    char *key = NULL, *cert = NULL, *trust = NULL, err[512];
    const char *key_name = cfg->admin_force_https ? "admin.forceHttps" : "admin.portUnification";
    if (tlspem_identity(&cfg->tls_quorum, &key, &cert, err, sizeof err)) {
        log_error("AdminServer: %s: %s; not started (clients are served)", key_name, err);
        return -1;
    }
    if (cfg->admin_need_client_auth && tlspem_trust(&cfg->tls_quorum, &trust, err, sizeof err)) {
        log_error("AdminServer: admin.needClientAuth: %s; not started (clients are served)", err);
        tlspem_free_key(key);
        free(cert);
        return -1;
    }
    tls->key_pem = key;
    tls->cert_pem = cert;
    tls->trust_pem = trust;
    tls->plain_too = !cfg->admin_force_https;
    return 0;
}

static void free_tls(struct httpd_tls *tls)
{
    tlspem_free_key((char *)(uintptr_t)tls->key_pem);
    free((char *)(uintptr_t)tls->cert_pem);
    free((char *)(uintptr_t)tls->trust_pem);
}

struct admin *admin_start(struct server *s)
{
    const struct zkd_config *cfg = &s->cfg;
    if (!cfg->admin_enable)
        return NULL;
    struct httpd_tls tls;
    int plain = admin_tls(cfg, &tls);
    if (plain < 0)
        return NULL;
    struct admin *a = zk_xcalloc(1, sizeof *a);
    a->s = s;
    size_t max_body = cfg->admin_restore_enabled ? (size_t)cfg->admin_restore_max_mb << 20 : 0;
    a->h = httpd_start(s->loop, "AdminServer", cfg->admin_address, cfg->admin_port,
                       cfg->admin_idle_timeout_ms, max_body, plain ? NULL : &tls, arg_names, serve,
                       a);
    if (!plain)
        free_tls(&tls);
    if (!a->h) {
        free(a);
        return NULL;
    }
    return a;
}

int admin_port(const struct admin *a)
{
    return httpd_port(a->h);
}

void admin_stop(struct admin *a)
{
    if (!a)
        return;
    httpd_stop(a->h);
    free(a);
}
