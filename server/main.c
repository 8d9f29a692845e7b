/*
 * main.c - `zkd CONFIG`: start a ZooKeeper-compatible server in the
 * foreground, logging to stderr, as Apache's `QuorumPeerMain zoo.cfg`.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

#include "audit.h"
#include "config.h"
#include "datatool.h"
#include "hugepage.h"
#include "log.h"
#include "server.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: zkd CONFIG\n"
            "       zkd --check CONFIG\n"
            "       zkd snapshot-dump FILE [--json] | log-dump FILE | verify-datadir DIR\n"
            "       zkd --help | --version\n"
            "\n"
            "Runs a ZooKeeper-compatible server configured by CONFIG, a zoo.cfg file\n"
            "(Apache ZooKeeper 3.8 syntax and keys; see docs/zkd.md).  Stays in the\n"
            "foreground and logs to stderr; ZKD_LOG_LEVEL=error|warn|info|debug.\n"
            "SIGTERM or SIGINT shut down cleanly.  --check parses and validates\n"
            "CONFIG (and dataDir/myid for an ensemble member), prints what is wrong\n"
            "and exits 0 if zkd would start with it, 2 if not.\n"
            "\n"
            "Data directory tools (Apache ZooKeeper's format, which zkd uses; nothing is\n"
            "changed): snapshot-dump prints a snapshot's tree with every Stat field and\n"
            "its sessions (--json: as JSON, with ACLs), log-dump one line per logged\n"
            "transaction, verify-datadir checks every snapshot and log in DIR (a dataDir\n"
            "or its version-2) for damage and gaps; exit 1 if it finds any.\n");
}

/* What this binary checks at run time (the suite requires assertions in
 * the sanitizer build: tests/unit/test_c_units.py). */
static const char *build_assertions(void)
{
#ifdef NDEBUG
    return "off";
#else
    return "on";
#endif
}

static const char *build_sanitizers(void)
{
#if defined(__SANITIZE_ADDRESS__)
    return "on";
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    return "on";
#else
    return "off";
#endif
#else
    return "off";
#endif
}

/* SERVER_JVMFLAGS then JVMFLAGS, as zkServer.sh hands them to java (a later
 * -D wins); a heap string or NULL when neither is set. */
static char *jvmflags(void)
{
    const char *server = getenv("SERVER_JVMFLAGS"), *all = getenv("JVMFLAGS");
    if (!server && !all)
        return NULL;
    size_t n = (server ? strlen(server) : 0) + (all ? strlen(all) : 0) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s %s", server ? server : "", all ? all : "");
    return s;
}

/* --check: the checks start-up would make without binding any port, then the
 * effective settings. */
static int check(const char *path, const struct zkd_config *cfg)
{
    if (config_is_distributed(cfg) && config_read_myid(cfg->data_dir) < 0) {
        fprintf(stderr, "zkd: %s: an ensemble member needs its id in %s/myid\n", path,
                cfg->data_dir);
        return 2;
    }
    if (server_check_security(cfg)) {
        fprintf(stderr, "zkd: %s: the TLS or SASL settings cannot be used (see above)\n", path);
        return 2;
    }
    printf("%s: OK (%s, dataDir %s, clientPort %d)\n", path,
           config_is_distributed(cfg) ? "ensemble member" : "standalone", cfg->data_dir,
           cfg->client_port);
    static char text[65536];
    if (config_format_effective(cfg, text, sizeof text) >= 0)
        fputs(text, stdout);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        usage(stdout);
        return 0;
    }
    if (argc == 2 && !strcmp(argv[1], "--version")) {
        printf("zkd %s (ZooKeeper 3.8 protocol; standalone and ensemble)\n", ZKFS_VERSION);
        printf("build: assertions %s, sanitizers %s\n", build_assertions(), build_sanitizers());
        return 0;
    }
    if (argc >= 2 && datatool_is_command(argv[1]))
        return datatool_main(argc, argv);
    int check_only = argc == 3 && !strcmp(argv[1], "--check");
    if (argc != 2 && !check_only) {
        usage(stderr);
        return 2;
    }
    /* Before anything else: the re-executed process must be the one that
     * parses, logs and listens (hugepage.h). */
    const char *hugepages = "";
    if (!check_only)
        hugepage_reexec(argv, &hugepages);
    const char *path = argv[argc - 1];
    static struct zkd_config cfg;
    char err[1024];
    char *flags = jvmflags();
    int rc = config_parse_flags(path, flags, &cfg, err, sizeof err);
    free(flags);
    if (rc) {
        fprintf(stderr, "zkd: %s\n", err);
        return 2;
    }
    if (check_only)
        return check(path, &cfg);
    signal(SIGPIPE, SIG_IGN);
    server_log_settings(&cfg);
    if (audit_open(&cfg))
        return 1;
    log_info("zkd %s starting with %s (dataDir %s, clientPort %d)", ZKFS_VERSION, cfg.path,
             cfg.data_dir, cfg.client_port);
    log_info("malloc huge pages: %s", hugepages);
    uv_loop_t *loop = uv_default_loop();
    static struct server srv;
    if (server_start(&srv, loop, &cfg)) {
        log_error("startup failed");
        audit_server("serverStart", AUDIT_FAILURE);
        audit_close();
        /* The tree may be loaded already.  Its child tables keep hash bits
         * in their pointers' spare bits, which LeakSanitizer cannot follow:
         * a sanitizer build would report every node as leaked at exit. */
        db_free(&srv.db);
        return 1;
    }
    audit_server("serverStart", AUDIT_SUCCESS);
    server_run(&srv);
    audit_server("serverStop", AUDIT_INVOKED);
    server_free(&srv);
    audit_close();
    uv_loop_close(loop);
    return 0;
}
