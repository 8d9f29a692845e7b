/*
 * main.c - zkfs HOSTS[/chroot] MOUNTPOINT [-o options]: mounts a ZooKeeper
 * namespace with FUSE.
 *
 * Start-up order matters: the mount and a probe session are made before
 * daemonizing, so errors reach the shell; the real session and every
 * thread are started after fork (threads do not survive fuse_daemonize).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "selfop.h"
#include "zconn.h"
#include "log.h"
#include "nodes.h"
#include "notify.h"
#include "zkfs.h"

struct options {
    char *hosts;
    int read_only;
    int session_timeout;
    char *digest;
    int tls;
    char *tls_ca, *tls_cert, *tls_key;
    int tls_noverify;
    double cache_timeout;
    int help;
    int version;
};

enum { KEY_RO, KEY_HELP, KEY_VERSION };

#define OPT(t, p) {t, offsetof(struct options, p), 1}
static const struct fuse_opt zkfs_opts[] = {
    OPT("session_timeout=%d", session_timeout),
    OPT("digest=%s", digest),
    OPT("tls", tls),
    OPT("tls_ca=%s", tls_ca),
    OPT("tls_cert=%s", tls_cert),
    OPT("tls_key=%s", tls_key),
    OPT("tls_noverify", tls_noverify),
    OPT("cache_timeout=%lf", cache_timeout),
    FUSE_OPT_KEY("ro", KEY_RO),
    FUSE_OPT_KEY("-h", KEY_HELP),
    FUSE_OPT_KEY("--help", KEY_HELP),
    FUSE_OPT_KEY("-V", KEY_VERSION),
    FUSE_OPT_KEY("--version", KEY_VERSION),
    FUSE_OPT_END,
};

static int opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
    struct options *o = data;
    switch (key) {
    case KEY_RO:
        /* Enforced by zkfs, not the kernel: the notifier must still be able
         * to replay remote changes on the mount (see docs/zkfs.md). */
        o->read_only = 1;
        return 0;
    case KEY_HELP:
        o->help = 1;
        return 0;
    case KEY_VERSION:
        o->version = 1;
        return 0;
    case FUSE_OPT_KEY_NONOPT:
        if (!o->hosts) {
            o->hosts = strdup(arg);
            return 0;
        }
        return 1; /* the mount point, for fuse_parse_cmdline */
    default:
        return 1;
    }
}

static void usage(const char *prog)
{
    printf("usage: %s HOSTS[/chroot] MOUNTPOINT [options]\n\n"
           "  HOSTS                   host:port[,host:port...] of the ensemble\n"
           "zkfs options (-o name=value):\n"
           "  ro                      refuse every change (EROFS)\n"
           "  session_timeout=MS      requested session timeout (default 10000)\n"
           "  digest=USER:PASSWORD    authenticate with the digest scheme\n"
           "  tls                     connect with TLS\n"
           "  tls_ca=FILE tls_cert=FILE tls_key=FILE  PEM files for TLS\n"
           "  tls_noverify            do not verify the server's certificate\n"
           "  cache_timeout=SECONDS   kernel attribute/entry cache lifetime (default 1)\n"
           "FUSE options:\n",
           prog);
    fuse_cmdline_help();
    fuse_lowlevel_help();
}

static int args_mention(const struct fuse_args *a, const char *key)
{
    for (int i = 0; i < a->argc; i++)
        if (strstr(a->argv[i], key))
            return 1;
    return 0;
}

/* Adds -o fsname=HOSTS, escaping the commas of a host list. */
static void add_fsname(struct fuse_args *a, const char *hosts)
{
    char opt[PATH_MAX];
    size_t n = (size_t)snprintf(opt, sizeof opt, "-ofsname=");
    for (const char *p = hosts; *p && n + 3 < sizeof opt; p++) {
        if (*p == ',' || *p == '\\')
            opt[n++] = '\\';
        opt[n++] = *p;
    }
    opt[n] = '\0';
    fuse_opt_add_arg(a, opt);
}

static struct fuse_session *mount_fs(struct fuse_args *args, const char *mnt, struct zkfs *z)
{
    struct fuse_session *se = fuse_session_new(args, &zkfs_ops, sizeof zkfs_ops, z);
    if (!se)
        return NULL;
    if (fuse_session_mount(se, mnt) != 0) {
        fuse_session_destroy(se);
        return NULL;
    }
    return se;
}

/* libzk's diagnostics go to zkfs's log (stderr, or syslog once daemonized). */
static void route_libzk_log(enum zk_log_level level, const char *line, void *data)
{
    static const int syslog_level[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
    zkfs_log(syslog_level[level <= ZK_LOG_DEBUG ? level : ZK_LOG_DEBUG], "libzk: %s", line);
    (void)data;
}

/* Tests stretch the time before the session is closed at exit, while
 * remote changes keep coming (tests/zkfs/test_robust.py). */
static void test_close_delay(void)
{
    const char *ms = getenv("ZKFS_TEST_CLOSE_DELAY_MS");
    if (ms)
        usleep((useconds_t)atoi(ms) * 1000);
}

int main(int argc, char **argv)
{
    struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
    struct options o = {.cache_timeout = 1.0};
    struct fuse_cmdline_opts co = {0};
    int ret = 1;
    if (fuse_opt_parse(&args, &o, zkfs_opts, opt_proc) != 0)
        return 2;
    if (o.help || o.version) {
        if (o.help)
            usage(argv[0]);
        else
            printf("zkfs %s (libfuse %s)\n", ZKFS_VERSION, fuse_pkgversion());
        fuse_opt_free_args(&args);
        return 0;
    }
    if (fuse_parse_cmdline(&args, &co) != 0)
        goto out_args;
    if (!o.hosts || !co.mountpoint) {
        fprintf(stderr, "usage: %s HOSTS[/chroot] MOUNTPOINT [-o options] (--help for more)\n", argv[0]);
        ret = 2;
        goto out_args;
    }
    if (co.debug)
        zkfs_log_level(LOG_DEBUG);
    zk_set_log(route_libzk_log, NULL, co.debug ? ZK_LOG_DEBUG : ZK_LOG_INFO);

    struct zkfs_conn_config cfg = {
        .hosts = o.hosts,
        .session_timeout_ms = o.session_timeout,
        .digest = o.digest,
        .use_tls = o.tls,
        .tls = {.ca_file = o.tls_ca, .cert_file = o.tls_cert, .key_file = o.tls_key,
                .verify_peer = !o.tls_noverify, .verify_hostname = !o.tls_noverify},
        .on_event = notify_zk_event,
        .on_session = notify_zk_session,
    };
    struct zkfs z = {.read_only = o.read_only, .max_data = ZK_MAX_DATA - 1024,
                     .timeout = o.cache_timeout};
    struct zkfs_conn *probe;
    int rc = zconn_open(&cfg, &probe); /* fail here, before the mount, with a clear message */
    if (rc) {
        fprintf(stderr, "zkfs: cannot open a session on %s: %s\n", o.hosts, zk_strerror(rc));
        goto out_args;
    }
    if (co.foreground) {
        z.conn = probe;
        probe = NULL;
    } else {
        zconn_close(probe);
    }
    char mnt[PATH_MAX];
    if (!realpath(co.mountpoint, mnt)) {
        fprintf(stderr, "zkfs: %s: %s\n", co.mountpoint, strerror(errno));
        goto out_conn;
    }
    if (nodes_init() != 0)
        goto out_conn;
    /* mount(8), df and /proc/mounts show the namespace as the source
     * ("127.0.0.1:2181/app on /mnt type fuse.zkfs"), unless -o fsname= says
     * otherwise; fsname is a mount option, so commas in a host list stay. */
    if (!args_mention(&args, "subtype="))
        fuse_opt_add_arg(&args, "-osubtype=zkfs");
    if (!args_mention(&args, "fsname="))
        add_fsname(&args, o.hosts);
    struct fuse_session *se = mount_fs(&args, mnt, &z);
    if (!se)
        goto out_conn;
    if (fuse_set_signal_handlers(se) != 0)
        goto out_session;
    if (!co.foreground) {
        if (fuse_daemonize(0) != 0)
            goto out_signals;
        zkfs_log_to_syslog();
        rc = zconn_open(&cfg, &z.conn);
        if (rc) {
            zkfs_log(LOG_ERR, "cannot open a session on %s: %s", o.hosts, zk_strerror(rc));
            goto out_signals;
        }
    }
    nodes_set_caching(1); /* the recursive watch is armed */
    if (notify_start(se, z.conn, mnt) != 0)
        goto out_signals;
    zkfs_log(LOG_NOTICE, "mounted %s on %s, session 0x%" PRIx64, o.hosts, mnt,
             zconn_session_id(z.conn));
    struct fuse_loop_config lc = {.clone_fd = co.clone_fd,
                                 .max_idle_threads = co.max_idle_threads == UINT_MAX ? 10 : co.max_idle_threads};
    ret = co.singlethread ? fuse_session_loop(se) : fuse_session_loop_mt(se, &lc);
    if (ret < 0)
        ret = 1;
    notify_stop();
out_signals:
    fuse_remove_signal_handlers(se);
out_session:
    fuse_session_unmount(se);
    fuse_session_destroy(se);
    /* The connection is closed: a replay still in flight returns now; it
     * must be over before the nodes and the session it uses are freed. */
    selfop_wait_idle();
out_conn:
    /* The session before the node table: until it is closed, libzk's
     * thread delivers watch events into the table (notify_zk_event); the
     * other order crashed a lazily unmounted zkfs with SIGSEGV in a burst
     * of remote changes.  (nodes_fini is a no-op before nodes_init.) */
    test_close_delay();
    zconn_close(z.conn);
    nodes_fini();
out_args:
    free(co.mountpoint);
    free(o.hosts);
    free(o.digest);
    free(o.tls_ca);
    free(o.tls_cert);
    free(o.tls_key);
    fuse_opt_free_args(&args);
    return ret;
}
