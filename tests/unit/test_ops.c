/*
 * test_ops.c - the pieces of zkd's operational interfaces that need no
 * server: latency summaries (summary.h), the JSON writer (json.h), and the
 * admin.* / metricsProvider.* / fsync.* keys of zoo.cfg.
 */
#include <math.h>

#include "config.h"
#include "json.h"
#include "summary.h"
#include "ztest.h"

static struct summary sm; /* 10 KB: not on the stack */

static void test_summary_empty(void)
{
    summary_reset(&sm);
    ASSERT_INT_EQ(summary_quantile(&sm, 0.5), 0);
    ASSERT_INT_EQ(sm.count, 0);
}

/* Quantiles of 1..100000 are within the 1/32 bucket width of the truth. */
static void test_summary_quantiles(void)
{
    summary_reset(&sm);
    for (uint64_t v = 1; v <= 100000; v++)
        summary_add(&sm, v);
    ASSERT_INT_EQ(sm.count, 100000);
    ASSERT_INT_EQ(sm.min, 1);
    ASSERT_INT_EQ(sm.max, 100000);
    ASSERT_INT_EQ(sm.sum, 100000ull * 100001 / 2);
    const double qs[] = {0.5, 0.9, 0.95, 0.99, 0.999};
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        double want = qs[i] * 100000, got = (double)summary_quantile(&sm, qs[i]);
        if (fabs(got - want) > want / 32)
            ZT_FAIL("q%.3f: %.0f, want %.0f +- 3%%", qs[i], got, want);
    }
    ASSERT_INT_EQ(summary_quantile(&sm, 1.0), 100000);
}

/* Small values are exact; huge ones land in the last bucket, capped by max. */
static void test_summary_extremes(void)
{
    summary_reset(&sm);
    summary_add(&sm, 0);
    summary_add(&sm, 7);
    summary_add(&sm, 7);
    ASSERT_INT_EQ(summary_quantile(&sm, 0.5), 7);
    ASSERT_INT_EQ(summary_quantile(&sm, 0.1), 0);
    summary_add(&sm, UINT64_MAX / 2);
    ASSERT_INT_EQ(summary_quantile(&sm, 1.0), UINT64_MAX / 2);
}

static void test_json_writer(void)
{
    struct jute_out o;
    struct json j;
    jute_out_init(&o);
    json_open(&j, &o);
    json_str(&j, "s", "a\"b\\c\n\x01");
    json_int(&j, "i", -5);
    json_double(&j, "d", 0.0);
    json_bool(&j, "b", 1);
    json_null(&j, "n");
    json_arr(&j, "empty");
    json_end(&j);
    json_obj(&j, "o");
    json_arr(&j, "a");
    json_uint(&j, NULL, 1);
    json_uint(&j, NULL, 2);
    json_close(&j);
    jute_put_raw(&o, "", 1);
    ASSERT_STR_EQ((const char *)o.p, "{\n"
                                      "  \"s\" : \"a\\\"b\\\\c\\n\\u0001\",\n"
                                      "  \"i\" : -5,\n"
                                      "  \"d\" : 0.0000,\n"
                                      "  \"b\" : true,\n"
                                      "  \"n\" : null,\n"
                                      "  \"empty\" : [ ],\n"
                                      "  \"o\" : {\n"
                                      "    \"a\" : [\n"
                                      "      1,\n"
                                      "      2\n"
                                      "    ]\n"
                                      "  }\n"
                                      "}\n");
    jute_out_free(&o);
}

static char dir[] = "/tmp/zkd-test-ops-XXXXXX";
static char path[600];
static char err[1024];
static struct zkd_config cfg;

static int parse(const char *text)
{
    FILE *f = fopen(path, "w");
    ASSERT_TRUE(f != NULL);
    fprintf(f, "dataDir=/var/zk\nclientPort=2181\n%s", text);
    fclose(f);
    return config_parse(path, &cfg, err, sizeof err);
}

static void setup(void)
{
    ASSERT_TRUE(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/zoo.cfg", dir);
}

static void teardown(void)
{
    unlink(path);
    rmdir(dir);
}

static void test_config_defaults(void)
{
    setup();
    ASSERT_INT_EQ(parse(""), 0);
    ASSERT_INT_EQ(cfg.admin_enable, 1);
    ASSERT_STR_EQ(cfg.admin_address, "0.0.0.0");
    ASSERT_INT_EQ(cfg.admin_port, 8080);
    ASSERT_STR_EQ(cfg.admin_command_url, "/commands");
    ASSERT_INT_EQ(cfg.admin_idle_timeout_ms, 30000);
    ASSERT_INT_EQ(cfg.metrics_prometheus, 0);
    ASSERT_STR_EQ(cfg.metrics_host, "0.0.0.0");
    ASSERT_INT_EQ(cfg.metrics_port, 7000);
    ASSERT_INT_EQ(cfg.fsync_warn_ms, 1000);
    ASSERT_INT_EQ(cfg.slow_request_ms, 1000);
    ASSERT_INT_EQ(cfg.log_level, -1);
    ASSERT_INT_EQ(cfg.log_json, 0);
    teardown();
}

static void test_config_keys(void)
{
    setup();
    ASSERT_INT_EQ(parse("admin.enableServer=false\nadmin.serverAddress=127.0.0.1\n"
                        "admin.serverPort=9090\nadmin.commandURL=/cmds//\n"
                        "admin.idleTimeout=1500\nadmin.forceHttps=false\n"
                        "zookeeper.admin.needClientAuth=false\n"
                        "metricsProvider.className=org.apache.zookeeper.metrics.prometheus."
                        "PrometheusMetricsProvider\nmetricsProvider.httpHost=127.0.0.1\n"
                        "metricsProvider.httpPort=7001\nmetricsProvider.exportJvmInfo=false\n"
                        "fsync.warningthresholdms=50\n"),
                  0);
    ASSERT_INT_EQ(cfg.admin_enable, 0);
    ASSERT_STR_EQ(cfg.admin_address, "127.0.0.1");
    ASSERT_INT_EQ(cfg.admin_port, 9090);
    ASSERT_STR_EQ(cfg.admin_command_url, "/cmds");
    ASSERT_INT_EQ(cfg.admin_idle_timeout_ms, 1500);
    ASSERT_INT_EQ(cfg.metrics_prometheus, 1);
    ASSERT_STR_EQ(cfg.metrics_host, "127.0.0.1");
    ASSERT_INT_EQ(cfg.metrics_port, 7001);
    ASSERT_INT_EQ(cfg.fsync_warn_ms, 50);
    ASSERT_INT_EQ(parse("zookeeper.admin.serverPort=9091\n"), 0); /* system-property form */
    ASSERT_INT_EQ(cfg.admin_port, 9091);
    ASSERT_INT_EQ(parse("admin.serverPort=70000\n"), -1);
    ASSERT_INT_EQ(parse("admin.commandURL=commands\n"), -1);
    ASSERT_INT_EQ(parse("admin.forceHttps=true\n"), -1); /* no key store */
    /* HTTPS settings without their stores refuse start-up; needClientAuth alone
     * (no TLS on the admin port) means nothing, as in Apache. */
    ASSERT_INT_EQ(parse("admin.portUnification=true\n"), -1);
    ASSERT_INT_EQ(parse("zookeeper.admin.needClientAuth=true\n"), 0);
    ASSERT_INT_EQ(cfg.admin_need_client_auth, 1);
    ASSERT_INT_EQ(parse("admin.snapshot.enabled=false\nadmin.restore.enabled=false\n"
                        "admin.rateLimiterIntervalInMS=10\naudit.enable=true\n"
                        "audit.logFile=syslog\naudit.sessionEvents=true\n"),
                  0);
    ASSERT_INT_EQ(cfg.admin_snapshot_enabled, 0);
    ASSERT_INT_EQ(cfg.admin_restore_enabled, 0);
    ASSERT_INT_EQ(cfg.admin_rate_limit_ms, 10);
    ASSERT_INT_EQ(cfg.audit_enable, 1);
    ASSERT_STR_EQ(cfg.audit_log_file, "syslog");
    ASSERT_INT_EQ(cfg.audit_session_events, 1);
    ASSERT_INT_EQ(parse("logLevel=DEBUG\nlogFormat=json\nslowRequestThresholdMs=0\n"), 0);
    ASSERT_INT_EQ(cfg.log_level, 3);
    ASSERT_INT_EQ(cfg.log_json, 1);
    ASSERT_INT_EQ(cfg.slow_request_ms, 0);
    ASSERT_INT_EQ(parse("logLevel=loud\n"), -1);
    ASSERT_INT_EQ(parse("logFormat=xml\n"), -1);
    ASSERT_INT_EQ(parse("metricsProvider.className=com.example.Other\n"), 0);
    ASSERT_INT_EQ(cfg.metrics_prometheus, 0);
    teardown();
}

ZTEST_MAIN(ZT(test_summary_empty), ZT(test_summary_quantiles), ZT(test_summary_extremes),
           ZT(test_json_writer), ZT(test_config_defaults), ZT(test_config_keys))
