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

#include "config.h"
#include "log.h"
#include "server.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: zkd CONFIG\n"
            "       zkd --check CONFIG\n"
            "       zkd --help | --version\n"
            "\n"
            "Runs a ZooKeeper-compatible server configured by CONFIG, a zoo.cfg file\n"
            "(Apache ZooKeeper 3.8 syntax and keys; see docs/zkd.md).  Stays in the\n"
            "foreground and logs to stderr; ZKD_LOG_LEVEL=error|warn|info|debug.\n"
            "SIGTERM or SIGINT shut down cleanly.  --check parses and validates\n"
            "CONFIG (and dataDir/myid for an ensemble member), prints what is wrong\n"
            "and exits 0 if zkd would start with it, 2 if not.\n");
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

/*
 * The value of -D<name>=VALUE in $SERVER_JVMFLAGS, else in $JVMFLAGS (what
 * Apache's zkServer.sh hands the JVM), copied into buf.  Returns 1 when found
 * (and it fits), else 0.
 */
static int jvm_flag(const char *name, char *buf, size_t cap)
{
    const char *envs[] = {"SERVER_JVMFLAGS", "JVMFLAGS", NULL};
    char key[256];
    snprintf(key, sizeof key, "-D%s=", name);
    for (int i = 0; envs[i]; i++) {
        const char *v = getenv(envs[i]);
        const char *k = v ? strstr(v, key) : NULL;
        if (!k)
            continue;
        k += strlen(key);
        size_t n = strcspn(k, " \t");
        if (n >= cap)
            return 0;
        memcpy(buf, k, n);
        buf[n] = 0;
        return 1;
    }
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
    int check_only = argc == 3 && !strcmp(argv[1], "--check");
    if (argc != 2 && !check_only) {
        usage(stderr);
        return 2;
    }
    const char *path = argv[argc - 1];
    static struct zkd_config cfg;
    char err[1024];
    if (config_parse(path, &cfg, err, sizeof err)) {
        fprintf(stderr, "zkd: %s\n", err);
        return 2;
    }
    if (check_only) {
        if (config_is_distributed(&cfg) && config_read_myid(cfg.data_dir) < 0) {
            fprintf(stderr, "zkd: %s: an ensemble member needs its id in %s/myid\n", path,
                    cfg.data_dir);
            return 2;
        }
        printf("%s: OK (%s, dataDir %s, clientPort %d)\n", path,
               config_is_distributed(&cfg) ? "ensemble member" : "standalone", cfg.data_dir,
               cfg.client_port);
        return 0;
    }
    /* Operators of Apache pass some settings as JVM flags; honour those too.
     * zoo.cfg wins, as it does in Apache (it sets the system property). */
    char flag[4096];
    if (!cfg.jaas_file[0] && jvm_flag("java.security.auth.login.config", flag, sizeof flag))
        snprintf(cfg.jaas_file, sizeof cfg.jaas_file, "%s", flag);
    if (cfg.enforce_quota < 0)
        cfg.enforce_quota = jvm_flag("zookeeper.enforceQuota", flag, sizeof flag) &&
                            !strcasecmp(flag, "true"); /* Boolean.parseBoolean */
    signal(SIGPIPE, SIG_IGN);
    log_info("zkd %s starting with %s (dataDir %s, clientPort %d)", ZKFS_VERSION, cfg.path,
             cfg.data_dir, cfg.client_port);
    uv_loop_t *loop = uv_default_loop();
    static struct server srv;
    if (server_start(&srv, loop, &cfg)) {
        log_error("startup failed");
        return 1;
    }
    server_run(&srv);
    server_free(&srv);
    uv_loop_close(loop);
    return 0;
}
