/*
 * test_config.c - zoo.cfg parsing (server/config.c).
 *
 * Each test writes its config into a private temporary directory (which also
 * serves as dataDir when a test needs a myid file), parses it, and checks the
 * struct or the exact error text.  The directory is removed at the end of the
 * test; a failing test leaves it behind under /tmp/zkd-config-test.* for
 * inspection.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "config.h"
#include "ztest.h"

#include <ftw.h>
#include <stdarg.h>

static struct zkd_config cfg;
static char dir[256];
static char cfg_path[512];
static char err[1024];

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/zkd-config-test.XXXXXX");
    ASSERT_TRUE(mkdtemp(dir) != NULL);
    snprintf(cfg_path, sizeof cfg_path, "%s/zoo.cfg", dir);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void remove_dir(void)
{
    nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* Writes text verbatim to dir/name; returns the full path (static buffer per call site). */
static void write_file(const char *name, const char *text, char *path, size_t size)
{
    snprintf(path, size, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    ASSERT_TRUE(f != NULL);
    fputs(text, f);
    fclose(f);
}

/* Parses text as zoo.cfg; "@DIR@" in text stands for the test directory. */
static int parse_text(const char *text)
{
    char expanded[8192], *w = expanded;
    for (const char *s = text; *s;) {
        if (!strncmp(s, "@DIR@", 5)) {
            w += sprintf(w, "%s", dir);
            s += 5;
        } else {
            *w++ = *s++;
        }
    }
    *w = '\0';
    char path[512];
    write_file("zoo.cfg", expanded, path, sizeof path);
    return config_parse(cfg_path, &cfg, err, sizeof err);
}

static void parse_ok(const char *text)
{
    if (parse_text(text) != 0)
        ZT_FAIL("config_parse failed: %s", err);
}

/* Asserts that parsing fails with exactly "zoo.cfg-path:<suffix>". */
static void parse_fails(const char *text, const char *suffix)
{
    char want[1024];
    ASSERT_INT_EQ(parse_text(text), -1);
    snprintf(want, sizeof want, "%s%s", cfg_path, suffix);
    ASSERT_STR_EQ(err, want);
}

#define MINIMAL "dataDir=/var/zk\nclientPort=2181\n"

static unsigned bit(const char *name)
{
    for (int i = 0; zkd_4lw_names[i]; i++)
        if (!strcmp(zkd_4lw_names[i], name))
            return 1u << i;
    ZT_FAIL("no such 4lw %s", name);
}

static void test_defaults(void)
{
    make_dir();
    parse_ok(MINIMAL);
    ASSERT_STR_EQ(cfg.path, cfg_path);
    ASSERT_INT_EQ(cfg.tick_time, 2000);
    ASSERT_INT_EQ(cfg.init_limit, 0);
    ASSERT_INT_EQ(cfg.sync_limit, 0);
    ASSERT_STR_EQ(cfg.data_dir, "/var/zk");
    ASSERT_STR_EQ(cfg.data_log_dir, "/var/zk");
    ASSERT_INT_EQ(cfg.client_port, 2181);
    ASSERT_STR_EQ(cfg.client_port_address, "");
    ASSERT_INT_EQ(cfg.secure_client_port, 0);
    ASSERT_INT_EQ(cfg.max_client_cnxns, 60);
    ASSERT_INT_EQ(cfg.min_session_timeout, 4000);
    ASSERT_INT_EQ(cfg.max_session_timeout, 40000);
    ASSERT_INT_EQ(cfg.jute_max_buffer, 0xfffff);
    ASSERT_INT_EQ(cfg.snap_count, 100000);
    ASSERT_INT_EQ(cfg.autopurge_snap_retain_count, 3);
    ASSERT_INT_EQ(cfg.autopurge_purge_interval, 0);
    ASSERT_INT_EQ(cfg.fourlw_mask, bit("srvr"));
    ASSERT_INT_EQ(cfg.extended_types_enabled, 0);
    ASSERT_STR_EQ(cfg.super_digest, "");
    ASSERT_INT_EQ(cfg.standalone_enabled, 1);
    ASSERT_INT_EQ(cfg.reconfig_enabled, 0);
    ASSERT_INT_EQ(cfg.readonly_mode, 0);
    ASSERT_INT_EQ(cfg.global_outstanding_limit, 1000);
    ASSERT_INT_EQ(cfg.poll_spin_us, 100);
    ASSERT_INT_EQ(cfg.notify_writes_per_turn, 4);
    ASSERT_INT_EQ(cfg.requests_per_turn, 100);
    ASSERT_INT_EQ(cfg.sasl_enabled, 0);
    ASSERT_STR_EQ(cfg.jaas_file, "");
    ASSERT_STR_EQ(cfg.tls.cert, "");
    ASSERT_INT_EQ(cfg.tls.client_auth, 2);
    ASSERT_INT_EQ(cfg.nservers, 0);
    ASSERT_STR_EQ(cfg.dynamic_config_file, "");

    struct zkd_config d;
    config_defaults(&d);
    ASSERT_INT_EQ(d.min_session_timeout, 4000);
    ASSERT_INT_EQ(d.max_session_timeout, 40000);
    ASSERT_INT_EQ(d.client_port, 0);
    remove_dir();
}

static void test_properties_syntax(void)
{
    make_dir();
    parse_ok("# a comment\n"
             "! another comment\n"
             "\n"
             "   \t\n"
             "  tickTime = 3000  \n"
             "initLimit:7\n"
             "syncLimit 4\n"
             "maxClientCnxns\t=\t9\r\n"
             "dataDir=/first\r"
             "dataDir=/data/zk with space  \n"
             "clientPort=2181\n"
             "snapCount=1\\\n"
             "    2345\n"
             "#dataDir=/commented \\\n"
             "clientPortAddress=127.0.0.1\n"
             "dataLogDir=/l\\u00e9g\\\\x\\:y\n"
             "maxSessionTimeout=99999");
    ASSERT_INT_EQ(cfg.tick_time, 3000);
    ASSERT_INT_EQ(cfg.init_limit, 7);
    ASSERT_INT_EQ(cfg.sync_limit, 4);
    ASSERT_INT_EQ(cfg.max_client_cnxns, 9);
    ASSERT_STR_EQ(cfg.data_dir, "/data/zk with space");
    ASSERT_INT_EQ(cfg.snap_count, 12345);
    ASSERT_STR_EQ(cfg.client_port_address, "127.0.0.1");
    ASSERT_STR_EQ(cfg.data_log_dir, "/l\xc3\xa9g\\x:y");
    ASSERT_INT_EQ(cfg.max_session_timeout, 99999);
    /* Derived from the final tickTime, whatever the order. */
    ASSERT_INT_EQ(cfg.min_session_timeout, 6000);
    remove_dir();
}

static void test_line_numbers_count_continuations(void)
{
    make_dir();
    parse_fails("dataDir=/d\n"
                "clientPort=\\\n"
                "  2181\n"
                "\r\n"
                "tickTyme=1\n",
                ":5: unknown key 'tickTyme'");
    parse_fails("dataDir=/d\nsnapCount=1\\\n  x\n", ":2: invalid value '1x' for key "
                                                   "'snapCount' (not an integer)");
    remove_dir();
}

static void test_all_keys(void)
{
    make_dir();
    parse_ok("tickTime=100\n"
             "initLimit=10\n"
             "syncLimit=5\n"
             "dataDir=/d\n"
             "dataLogDir=/log\n"
             "clientPort=2181\n"
             "clientPortAddress=0.0.0.0\n"
             "secureClientPort=2281\n"
             "secureClientPortAddress=::1\n"
             "maxClientCnxns=0\n"
             "minSessionTimeout=150\n"
             "maxSessionTimeout=-1\n"
             "jute.maxbuffer=0x100000\n"
             "snapCount=50\n"
             "autopurge.snapRetainCount=5\n"
             "autopurge.purgeInterval=24\n"
             "4lw.commands.whitelist=ruok, stat ,mntr,,conf\n"
             "zookeeper.extendedTypesEnabled=true\n"
             "DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=\n"
             "standaloneEnabled=false\n"
             "reconfigEnabled=TRUE\n"
             "readonlymode.enabled=true\n"
             "globalOutstandingLimit=7\n"
             "authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\n"
             "authProvider.2=org.apache.zookeeper.server.auth.X509AuthenticationProvider\n"
             "jaasLoginFile=/etc/zk/jaas.conf\n"
             "pollSpinMicros=0\n"
             "requestsPerTurn=0\n"
             "notifyWritesPerTurn=0\n"
             "ssl.keyStore.location=/etc/zk/server.pem\n"
             "ssl.keyStore.password=secret\n"
             "ssl.trustStore.location=/etc/zk/ca.pem\n"
             "ssl.keyStore.type=PEM\n"
             "ssl.clientAuth=want\n"
             "electionAlg=3\n"
             "server.1=127.0.0.1:2888:3888\n"
             "server.2=127.0.0.1:2889:3889\n"
             "server.3=127.0.0.1:2890:3890\n");
    ASSERT_INT_EQ(cfg.tick_time, 100);
    ASSERT_INT_EQ(cfg.init_limit, 10);
    ASSERT_INT_EQ(cfg.sync_limit, 5);
    ASSERT_STR_EQ(cfg.data_log_dir, "/log");
    ASSERT_STR_EQ(cfg.client_port_address, "0.0.0.0");
    ASSERT_INT_EQ(cfg.secure_client_port, 2281);
    ASSERT_STR_EQ(cfg.secure_client_port_address, "::1");
    ASSERT_INT_EQ(cfg.max_client_cnxns, 0);
    ASSERT_INT_EQ(cfg.min_session_timeout, 150);
    ASSERT_INT_EQ(cfg.max_session_timeout, 2000);
    ASSERT_INT_EQ(cfg.jute_max_buffer, 0x100000);
    ASSERT_INT_EQ(cfg.snap_count, 50);
    ASSERT_INT_EQ(cfg.autopurge_snap_retain_count, 5);
    ASSERT_INT_EQ(cfg.autopurge_purge_interval, 24);
    ASSERT_INT_EQ(cfg.fourlw_mask,
                  bit("ruok") | bit("stat") | bit("mntr") | bit("conf") | bit("srvr") |
                      bit("isro"));
    ASSERT_INT_EQ(cfg.extended_types_enabled, 1);
    ASSERT_STR_EQ(cfg.super_digest, "super:D/InIHSb7yEEbrWz8b9l71RjZJU=");
    ASSERT_INT_EQ(cfg.standalone_enabled, 0);
    ASSERT_INT_EQ(cfg.reconfig_enabled, 1);
    ASSERT_INT_EQ(cfg.readonly_mode, 1);
    ASSERT_INT_EQ(cfg.global_outstanding_limit, 7);
    ASSERT_INT_EQ(cfg.sasl_enabled, 1);
    ASSERT_STR_EQ(cfg.jaas_file, "/etc/zk/jaas.conf");
    ASSERT_INT_EQ(cfg.poll_spin_us, 0);
    ASSERT_INT_EQ(cfg.requests_per_turn, 0);
    ASSERT_INT_EQ(cfg.notify_writes_per_turn, 0);
    ASSERT_STR_EQ(cfg.tls.cert, "/etc/zk/server.pem");
    ASSERT_STR_EQ(cfg.tls.key, ""); /* in the key store */
    ASSERT_STR_EQ(cfg.tls.ca, "/etc/zk/ca.pem");
    ASSERT_STR_EQ(cfg.tls.key_password, "secret");
    ASSERT_INT_EQ(cfg.tls.client_auth, 1);
    ASSERT_INT_EQ(cfg.nservers, 3);
    remove_dir();
}

static void test_last_assignment_wins(void)
{
    make_dir();
    parse_ok(MINIMAL "clientPort=3000\nsuperDigest=a:b\nsuperDigest=c:d\n");
    ASSERT_INT_EQ(cfg.client_port, 3000);
    ASSERT_STR_EQ(cfg.super_digest, "c:d");
    remove_dir();
}

static void test_session_timeouts(void)
{
    make_dir();
    parse_ok(MINIMAL "maxSessionTimeout=60000\ntickTime=1000\n");
    ASSERT_INT_EQ(cfg.min_session_timeout, 2000);
    ASSERT_INT_EQ(cfg.max_session_timeout, 60000);
    parse_fails(MINIMAL "minSessionTimeout=5000\nmaxSessionTimeout=4000\n",
                ": minSessionTimeout (5000) must not be larger than maxSessionTimeout (4000)");
    parse_fails(MINIMAL "tickTime=100\nminSessionTimeout=5000\n",
                ": minSessionTimeout (5000) must not be larger than maxSessionTimeout (2000)");
    parse_fails(MINIMAL "minSessionTimeout=-2\n",
                ":3: invalid value '-2' for key 'minSessionTimeout' (must be >= -1)");
    remove_dir();
}

static void test_unknown_key(void)
{
    make_dir();
    parse_fails(MINIMAL "tickTyme=2000\n", ":3: unknown key 'tickTyme'");
    parse_fails("\n\nfoo.bar baz\n", ":3: unknown key 'foo.bar'");
    remove_dir();
}

static void test_bad_numbers(void)
{
    make_dir();
    parse_fails("dataDir=/d\nclientPort=abc\n",
                ":2: invalid value 'abc' for key 'clientPort' (not an integer)");
    parse_fails("dataDir=/d\nclientPort=70000\n",
                ":2: invalid value '70000' for key 'clientPort' (must be between 0 and 65535)");
    parse_fails(MINIMAL "tickTime=0\n",
                ":3: invalid value '0' for key 'tickTime' (must be between 1 and 107374182)");
    parse_fails(MINIMAL "tickTime=\n", ":3: invalid value '' for key 'tickTime' (not an integer)");
    parse_fails(MINIMAL "tickTime=99999999999\n",
                ":3: invalid value '99999999999' for key 'tickTime' (must be between 1 and 107374182)");
    /* 20 ticks (the default maxSessionTimeout) must fit in an int. */
    parse_fails(MINIMAL "tickTime=2000000000\n",
                ":3: invalid value '2000000000' for key 'tickTime' (must be between 1 and 107374182)");
    parse_fails(MINIMAL "maxClientCnxns=1.5\n",
                ":3: invalid value '1.5' for key 'maxClientCnxns' (not an integer)");
    parse_fails(MINIMAL "snapCount=0x10\n",
                ":3: invalid value '0x10' for key 'snapCount' (not an integer)");
    parse_fails(MINIMAL "reconfigEnabled=yes\n",
                ":3: invalid value 'yes' for key 'reconfigEnabled' (must be true or false)");
    parse_fails(MINIMAL "pollSpinMicros=-5\n",
                ":3: invalid value '-5' for key 'pollSpinMicros' (must be between 0 and 1000000)");
    parse_fails(MINIMAL "electionAlg=1\n", ":3: invalid value '1' for key 'electionAlg' "
                                          "(only 3, fast leader election, is supported)");
    remove_dir();
}

static void test_missing_data_dir(void)
{
    make_dir();
    parse_fails("clientPort=2181\n", ": dataDir is not set");
    parse_fails("dataDir=\nclientPort=2181\n",
                ":1: invalid value '' for key 'dataDir' (must not be empty)");
    remove_dir();
}

static void test_missing_file(void)
{
    make_dir();
    ASSERT_INT_EQ(config_parse("/nonexistent/zoo.cfg", &cfg, err, sizeof err), -1);
    ASSERT_STR_EQ(err, "/nonexistent/zoo.cfg: cannot open: No such file or directory");
    remove_dir();
}

static void test_client_port_required(void)
{
    make_dir();
    parse_fails("dataDir=/d\n", ": no client port: set clientPort, secureClientPort, or a "
                                ";port on a server.N line");
    parse_fails("dataDir=/d\nclientPort=0\nclientPortAddress=127.0.0.1\n",
                ": clientPortAddress is set but clientPort is not");
    /* A single server line carrying the client port is enough. */
    parse_ok("dataDir=/d\nserver.1=localhost:2888:3888;2181\n");
    ASSERT_INT_EQ(cfg.client_port, 0);
    ASSERT_INT_EQ(cfg.servers[0].client_port, 2181);
    remove_dir();
}

static void test_whitelist(void)
{
    make_dir();
    parse_ok(MINIMAL "4lw.commands.whitelist=*\n");
    for (int i = 0; zkd_4lw_names[i]; i++)
        ASSERT_TRUE(cfg.fourlw_mask & (1u << i));
    parse_ok(MINIMAL "4lw.commands.whitelist=stat, *\n");
    ASSERT_INT_EQ(cfg.fourlw_mask & bit("dump"), bit("dump"));
    parse_ok(MINIMAL "4lw.commands.whitelist=\n");
    ASSERT_INT_EQ(cfg.fourlw_mask, bit("srvr"));
    parse_ok(MINIMAL "zookeeper.4lw.commands.whitelist=ruok\n");
    ASSERT_INT_EQ(cfg.fourlw_mask, bit("ruok") | bit("srvr"));
    parse_fails(MINIMAL "4lw.commands.whitelist=ruok,bogus,stat\n",
                ":3: invalid value 'ruok,bogus,stat' for key '4lw.commands.whitelist' "
                "(unknown four-letter word 'bogus')");
    parse_fails(MINIMAL "4lw.commands.whitelist=RUOK\n",
                ":3: invalid value 'RUOK' for key '4lw.commands.whitelist' "
                "(unknown four-letter word 'RUOK')");
    remove_dir();
}

static void test_server_lines(void)
{
    make_dir();
    parse_ok("dataDir=/d\n"
             "initLimit=5\n"
             "syncLimit=2\n"
             "server.1=zk1.example.com:2888:3888\n"
             "server.2=zk2:2888:3888:participant;2181\n"
             "server.3=zk3:2888:3888:observer;10.0.0.3:2182\n"
             "server.4=[fe80::1]:2888:3888:Observer;[::1]:2183\n"
             "server.200 = 10.0.0.9:2888:3888 ; 2184\n");
    ASSERT_INT_EQ(cfg.nservers, 5);
    const struct zkd_server_line *s = cfg.servers;
    ASSERT_INT_EQ(s[0].id, 1);
    ASSERT_STR_EQ(s[0].host, "zk1.example.com");
    ASSERT_INT_EQ(s[0].quorum_port, 2888);
    ASSERT_INT_EQ(s[0].election_port, 3888);
    ASSERT_INT_EQ(s[0].observer, 0);
    ASSERT_STR_EQ(s[0].client_host, "");
    ASSERT_INT_EQ(s[0].client_port, 0);
    ASSERT_INT_EQ(s[1].id, 2);
    ASSERT_INT_EQ(s[1].observer, 0);
    ASSERT_STR_EQ(s[1].client_host, "");
    ASSERT_INT_EQ(s[1].client_port, 2181);
    ASSERT_INT_EQ(s[2].observer, 1);
    ASSERT_STR_EQ(s[2].client_host, "10.0.0.3");
    ASSERT_INT_EQ(s[2].client_port, 2182);
    ASSERT_STR_EQ(s[3].host, "fe80::1");
    ASSERT_INT_EQ(s[3].observer, 1);
    ASSERT_STR_EQ(s[3].client_host, "::1");
    ASSERT_INT_EQ(s[3].client_port, 2183);
    ASSERT_INT_EQ(s[4].id, 200);
    ASSERT_STR_EQ(s[4].host, "10.0.0.9");
    ASSERT_INT_EQ(s[4].client_port, 2184);

    /* The same id twice: the last line wins, in place. */
    parse_ok("dataDir=/d\nclientPort=2181\ninitLimit=5\nsyncLimit=2\n"
             "server.1=a:1:2\nserver.2=b:1:2\nserver.1=c:3:4\n");
    ASSERT_INT_EQ(cfg.nservers, 2);
    ASSERT_STR_EQ(cfg.servers[0].host, "c");
    ASSERT_INT_EQ(cfg.servers[0].quorum_port, 3);
    remove_dir();
}

static void test_server_line_errors(void)
{
    make_dir();
    parse_fails(MINIMAL "server.1=a:2888\n",
                ":3: invalid value 'a:2888' for key 'server.1' "
                "(expected host:quorumPort:electionPort[:participant|:observer])");
    parse_fails(MINIMAL "server.1=a:2888:2888\n",
                ":3: invalid value 'a:2888:2888' for key 'server.1' "
                "(quorum and election ports must differ)");
    parse_fails(MINIMAL "server.1=a:2888:3888:leader\n",
                ":3: invalid value 'a:2888:3888:leader' for key 'server.1' "
                "(role must be participant or observer)");
    parse_fails(MINIMAL "server.1=a:2888:x\n", ":3: invalid value 'a:2888:x' for key 'server.1' "
                                              "(ports must be integers between 1 and 65535)");
    parse_fails(MINIMAL "server.1=a:1:2;b:x\n", ":3: invalid value 'a:1:2;b:x' for key "
                                               "'server.1' (ports must be integers between 1 "
                                               "and 65535)");
    parse_fails(MINIMAL "server.1=a:1:2|b:1:x\n",
                ":3: invalid value 'a:1:2|b:1:x' for key 'server.1' "
                "(ports must be integers between 1 and 65535)");
    parse_fails(MINIMAL "initLimit=5\nsyncLimit=2\nserver.1=a:1:2|b:1:2\nserver.2=c:1:2\n",
                ": server.1 has several addresses but multiAddress.enabled is not true");
    parse_ok(MINIMAL "initLimit=5\nsyncLimit=2\nserver.1=a:1:2|b:3:4\nserver.2=c:1:2\n"
             "multiAddress.enabled=true\nmultiAddress.reachabilityCheckTimeoutMs=100\n");
    ASSERT_STR_EQ(cfg.servers[0].host, "a");
    ASSERT_INT_EQ(cfg.servers[0].extra_addrs, 1);
    parse_fails(MINIMAL "server.x=a:1:2\n",
                ":3: invalid server id in key 'server.x' (must be an integer 0..2147483647)");
    parse_fails(MINIMAL "server.2147483648=a:1:2\n", ":3: invalid server id in key "
                "'server.2147483648' (must be an integer 0..2147483647)");
    parse_ok(MINIMAL "initLimit=5\nsyncLimit=2\nserver.1000=a:1:2\nserver.2=c:1:2\n");
    ASSERT_INT_EQ(cfg.servers[0].id, 1000);
    parse_fails(MINIMAL "initLimit=5\nsyncLimit=2\nserver.258=a:1:2\nserver.2=c:1:2\n",
                ": server.258 and server.2: ids that agree in their low byte would give the "
                "same session ids");
    parse_fails(MINIMAL "initLimit=5\nsyncLimit=2\nserver.300=a:1:2\nserver.2=c:1:2\n"
                "extendedTypesEnabled=true\n",
                ": server.300: extendedTypesEnabled needs server ids below 255");
    remove_dir();
}

/* group.G / weight.S: resolved onto the server lines after the whole file
 * (a group line may come before its servers), refused where zkd cannot
 * follow Apache (quorum_verifier.h). */
static void test_hierarchical_quorum_keys(void)
{
    make_dir();
#define ENS MINIMAL "initLimit=5\nsyncLimit=2\n"
#define FIVE "server.1=a:1:2\nserver.2=b:1:2\nserver.3=c:1:2\nserver.4=d:1:2\nserver.5=e:1:2\n"
    parse_ok(ENS "group.1=1:2\ngroup.2=3:4\ngroup.3=5\nweight.5=0\n" FIVE "weight.2=3\n");
    ASSERT_INT_EQ(cfg.hierarchical, 1);
    ASSERT_INT_EQ(cfg.servers[0].grouped, 1);
    ASSERT_INT_EQ(cfg.servers[0].group, 1);
    ASSERT_INT_EQ(cfg.servers[0].weight, 1);
    ASSERT_INT_EQ(cfg.servers[1].weight, 3);
    ASSERT_INT_EQ(cfg.servers[3].group, 2);
    ASSERT_INT_EQ(cfg.servers[4].group, 3);
    ASSERT_INT_EQ(cfg.servers[4].weight, 0);
    /* A repeated group key replaces the earlier line, as java.util.Properties. */
    parse_ok(ENS "group.1=1:2:3\ngroup.1=1:2\ngroup.2=3:4:5\n" FIVE);
    ASSERT_INT_EQ(cfg.servers[2].group, 2);
    /* Without groups, weights start at 1 and nothing is grouped. */
    parse_ok(ENS FIVE);
    ASSERT_INT_EQ(cfg.hierarchical, 0);
    ASSERT_INT_EQ(cfg.servers[0].grouped, 0);
    parse_fails(ENS "group.1=1:2\ngroup.2=2:3\n" FIVE,
                ":6: invalid value '2:3' for key 'group.2' (a server is in more than one group)");
    parse_fails(ENS "group.1=1:2\ngroup.2=3:4\n" FIVE,
                ": server.5 is not in a group (with group.N lines, every participant must be in "
                "one)");
    parse_fails(ENS "weight.1=2\n" FIVE,
                ": server.1 is not in a group (with group.N lines, every participant must be in "
                "one)");
    parse_fails(ENS "group.1=1:2:3\ngroup.2=4:5:6\n" FIVE,
                ": group.2 lists server 6, which is not a server.N line");
    parse_fails(ENS "group.1=1:2:3\ngroup.2=4:5:6\n" FIVE "server.6=f:1:2:observer\n",
                ": group.2 lists server 6, which is an observer (only participants are in "
                "groups)");
    parse_fails(ENS "group.1=1:2:x\n", ":5: invalid value '1:2:x' for key 'group.1' (expected "
                "server ids separated by ':')");
    parse_fails(ENS "group.1=\n", ":5: invalid value '' for key 'group.1' (expected server ids "
                "separated by ':')");
    parse_fails(ENS "group.x=1\n", ":5: invalid value '1' for key 'group.x' (the group id "
                "after 'group.' must be an integer)");
    parse_fails(ENS "weight.1=-1\n", ":5: invalid value '-1' for key 'weight.1' (a weight is "
                "an integer 0..2147483647)");
    parse_fails(ENS "group.1=1:2:3:4:5\nweight.1=0\nweight.2=0\nweight.3=0\nweight.4=0\n"
                "weight.5=0\n" FIVE, ": every group weighs 0: no quorum could ever form");
    parse_fails(ENS "reconfigEnabled=true\ngroup.1=1:2:3:4:5\n" FIVE,
                ": reconfigEnabled=true with group.N/weight.N lines: zkd does not reconfigure "
                "hierarchical quorums");
    /* `zkd --check` shows the groups and every participant's weight. */
    parse_ok(ENS "group.1=1:2\ngroup.2=3:4\ngroup.3=5\nweight.5=0\n" FIVE);
    char buf[8192];
    ASSERT_TRUE(config_format_effective(&cfg, buf, sizeof buf) > 0);
    ASSERT_TRUE(strstr(buf, "group.1=1:2\ngroup.2=3:4\ngroup.3=5\nweight.1=1\nweight.2=1\n"
                            "weight.3=1\nweight.4=1\nweight.5=0\n") != NULL);
#undef FIVE
#undef ENS
    remove_dir();
}

static void test_ensemble_validation(void)
{
    make_dir();
    parse_fails(MINIMAL "server.1=a:1:2\nserver.2=b:1:2\n",
                ": initLimit is not set (required for an ensemble)");
    parse_fails(MINIMAL "initLimit=5\nserver.1=a:1:2\nserver.2=b:1:2\n",
                ": syncLimit is not set (required for an ensemble)");
    parse_fails(MINIMAL "server.1=a:1:2:observer\n", ": observers without participants");
    parse_fails(MINIMAL "standaloneEnabled=false\n",
                ": standaloneEnabled=false needs at least one participant server.N line");
    /* One participant with standaloneEnabled (the default) runs standalone. */
    parse_ok(MINIMAL "server.1=a:1:2\n");
    remove_dir();
}

static void test_dynamic_config_file(void)
{
    char dyn[512];
    make_dir();
    write_file("zoo.cfg.dynamic.100000000",
               "server.1=127.0.0.1:2888:3888:participant;127.0.0.1:2181\n"
               "server.2=127.0.0.1:2889:3889:participant;127.0.0.1:2182\n"
               "server.3=127.0.0.1:2890:3890:observer;127.0.0.1:2183\n",
               dyn, sizeof dyn);
    parse_ok("dataDir=/d\ninitLimit=5\nsyncLimit=2\nreconfigEnabled=true\n"
             "dynamicConfigFile=@DIR@/zoo.cfg.dynamic.100000000\n");
    ASSERT_STR_EQ(cfg.dynamic_config_file, dyn);
    ASSERT_INT_EQ(cfg.nservers, 3);
    ASSERT_INT_EQ(cfg.servers[2].observer, 1);
    ASSERT_INT_EQ(cfg.servers[1].client_port, 2182);

    char want[1024];
    parse_fails("dataDir=/d\nserver.1=a:1:2;2181\n"
                "dynamicConfigFile=@DIR@/zoo.cfg.dynamic.100000000\n",
                (snprintf(want, sizeof want,
                          ":2: server.N lines must be in the dynamic config file '%s'", dyn),
                 want));

    write_file("bad.dynamic", "server.1=a:1:2;2181\nclientPort=5\n", dyn, sizeof dyn);
    ASSERT_INT_EQ(parse_text("dataDir=/d\ndynamicConfigFile=@DIR@/bad.dynamic\n"), -1);
    snprintf(want, sizeof want,
             "%s:2: unknown key 'clientPort' (a dynamic config file holds only server.N, "
             "group.N and weight.N lines)", dyn);
    ASSERT_STR_EQ(err, want);
    /* Apache writes a hierarchical quorum's groups into the dynamic file. */
    write_file("groups.dynamic", "server.1=a:1:2;2181\nserver.2=b:1:2;2182\n"
               "server.3=c:1:2;2183\ngroup.7=1:2\ngroup.8=3\nweight.3=2\n", dyn, sizeof dyn);
    parse_ok("dataDir=/d\ninitLimit=5\nsyncLimit=2\ndynamicConfigFile=@DIR@/groups.dynamic\n");
    ASSERT_INT_EQ(cfg.servers[2].group, 8);
    ASSERT_INT_EQ(cfg.servers[2].weight, 2);
    remove_dir();
}

static void test_tls_keys(void)
{
    make_dir();
    /* Explicit cert/key files win over the key store whatever the order. */
    parse_ok("dataDir=/d\nsecureClientPort=2281\n"
             "ssl.keyFile=/k.pem\nssl.keyStore.location=/store.pem\nssl.caFile=/ca.pem\n"
             "ssl.trustStore.location=/trust.pem\nssl.clientAuth=NONE\n"
             "ssl.protocol=TLSv1.3\nssl.hostnameVerification=false\nzookeeper.ssl.quorum.x=1\n");
    ASSERT_STR_EQ(cfg.tls.cert, "/store.pem");
    ASSERT_STR_EQ(cfg.tls.key, "/k.pem");
    ASSERT_STR_EQ(cfg.tls.ca, "/ca.pem");
    ASSERT_INT_EQ(cfg.tls.client_auth, 0);
    ASSERT_INT_EQ(cfg.client_port, 0);

    parse_ok("dataDir=/d\nsecureClientPort=2281\nssl.certFile=/c.pem\nssl.keyFile=/k.pem\n"
             "ssl.clientAuth=need\n");
    ASSERT_STR_EQ(cfg.tls.cert, "/c.pem");
    ASSERT_STR_EQ(cfg.tls.key, "/k.pem");
    ASSERT_STR_EQ(cfg.tls.ca, "");
    ASSERT_INT_EQ(cfg.tls.client_auth, 2);

    parse_fails(MINIMAL "ssl.clientAuth=maybe\n",
                ":3: invalid value 'maybe' for key 'ssl.clientAuth' (must be none, want or need)");
    parse_fails(MINIMAL "ssl.trustStore.type=BKS\n",
                ":3: invalid value 'BKS' for key 'ssl.trustStore.type' (must be PEM, PKCS12 or "
                "JKS)");
    parse_fails(MINIMAL "ssl.keyStore.location=/k.bcfks\n",
                ": ssl.keyStore.location '/k.bcfks': BCFKS stores need BouncyCastle; convert it "
                "to PKCS12 or PEM");
    parse_fails("dataDir=/d\nsecureClientPort=2281\n",
                ": secureClientPort needs ssl.keyStore.location (certificate and key) or "
                "ssl.certFile and ssl.keyFile");
    remove_dir();
}

/* Store formats: the .type key wins, else the file name (Apache's
 * KeyStoreFileType), else PEM; the quorum side inherits the client side's. */
static void test_tls_store_types(void)
{
    make_dir();
    parse_ok(MINIMAL "ssl.keyStore.location=/k.jks\nssl.trustStore.location=/t.P12\n"
             "ssl.keyStore.password=ks\nssl.trustStore.password=ts\nsslQuorum=true\n"
             "ssl.quorum.trustStore.location=/q.store\nssl.quorum.trustStore.type=jks\n");
    ASSERT_INT_EQ(cfg.tls.key_type, ZKD_STORE_JKS);
    ASSERT_INT_EQ(cfg.tls.trust_type, ZKD_STORE_PKCS12);
    ASSERT_STR_EQ(cfg.tls.key_password, "ks");
    ASSERT_STR_EQ(cfg.tls.trust_password, "ts");
    ASSERT_STR_EQ(cfg.tls_quorum.cert, "/k.jks");
    ASSERT_INT_EQ(cfg.tls_quorum.key_type, ZKD_STORE_JKS);
    ASSERT_STR_EQ(cfg.tls_quorum.key_password, "ks");
    ASSERT_STR_EQ(cfg.tls_quorum.ca, "/q.store");
    ASSERT_INT_EQ(cfg.tls_quorum.trust_type, ZKD_STORE_JKS);
    ASSERT_STR_EQ(cfg.tls_quorum.trust_password, "");

    parse_ok(MINIMAL "ssl.keyStore.type=PKCS12\nssl.keyStore.location=/server.crt\n"
             "ssl.trustStore.location=/ca.crt\n");
    ASSERT_INT_EQ(cfg.tls.key_type, ZKD_STORE_PKCS12);
    ASSERT_INT_EQ(cfg.tls.trust_type, ZKD_STORE_PEM);

    /* passwordPath wins over password, whatever the order; one line break dropped. */
    char pwfile[512];
    write_file("pw", "s3cret\n", pwfile, sizeof pwfile);
    char text[1024];
    snprintf(text, sizeof text, MINIMAL "ssl.keyStore.passwordPath=%s\nssl.keyStore.password=x\n",
             pwfile);
    parse_ok(text);
    ASSERT_STR_EQ(cfg.tls.key_password, "s3cret");
    parse_fails(MINIMAL "ssl.keyStore.passwordPath=/nonexistent/pw\n",
                ":3: invalid value '/nonexistent/pw' for key 'ssl.keyStore.passwordPath' "
                "(No such file or directory)");
    parse_fails(MINIMAL "ssl.keyStore.location=/k.p12\nssl.keyFile=/k.pem\n",
                ": ssl.keyFile goes with a PEM certificate, not a PKCS12 key store");
    remove_dir();
}

/* Protocols, suites and checks: honoured, or start-up refused naming the key. */
static void test_tls_security_keys(void)
{
    make_dir();
    parse_ok(MINIMAL);
    ASSERT_INT_EQ(cfg.tls.min_version, 0x0303);
    ASSERT_INT_EQ(cfg.tls.max_version, 0x0304);
    ASSERT_INT_EQ(cfg.tls.hostname_verification, 1);
    ASSERT_INT_EQ(cfg.tls_quorum.hostname_verification, 1);
    parse_ok(MINIMAL "ssl.protocol=TLSv1.2\nssl.quorum.protocol=TLSv1.3\n"
             "ssl.quorum.hostnameVerification=false\nssl.crl=true\n"
             "ssl.ciphersuites=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\nclient.certReload=true\n"
             "sslQuorumReloadCertFiles=true\nssl.ocsp=false\n");
    ASSERT_INT_EQ(cfg.tls.min_version, 0x0303);
    ASSERT_INT_EQ(cfg.tls.max_version, 0x0303);
    ASSERT_INT_EQ(cfg.tls_quorum.min_version, 0x0303);
    ASSERT_INT_EQ(cfg.tls_quorum.max_version, 0x0304);
    ASSERT_INT_EQ(cfg.tls_quorum.hostname_verification, 0);
    ASSERT_INT_EQ(cfg.tls.hostname_verification, 1);
    ASSERT_INT_EQ(cfg.tls.crl, 1);
    ASSERT_INT_EQ(cfg.tls.reload, 1);
    ASSERT_INT_EQ(cfg.tls_quorum.reload, 1);
    ASSERT_STR_EQ(cfg.tls.ciphersuites, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
    /* enabledProtocols wins over protocol, whatever the order. */
    parse_ok(MINIMAL "ssl.enabledProtocols=TLSv1.3, TLSv1.2\nssl.protocol=TLSv1.2\n");
    ASSERT_INT_EQ(cfg.tls.min_version, 0x0303);
    ASSERT_INT_EQ(cfg.tls.max_version, 0x0304);
    parse_fails(MINIMAL "ssl.enabledProtocols=TLSv1.1,TLSv1.3\n",
                ":3: invalid value 'TLSv1.1,TLSv1.3' for key 'ssl.enabledProtocols' (OpenSSL "
                "enables a contiguous range of versions only)");
    parse_fails(MINIMAL "ssl.protocol=SSLv3\n",
                ":3: invalid value 'SSLv3' for key 'ssl.protocol' (must be TLS, TLSv1, TLSv1.1, "
                "TLSv1.2 or TLSv1.3)");
    parse_ok(MINIMAL "ssl.quorum.ocsp=true\n");
    ASSERT_INT_EQ(cfg.tls_quorum.ocsp, 1);
    ASSERT_INT_EQ(cfg.tls.ocsp, 0);
    parse_fails(MINIMAL "ssl.context.supplier.class=com.example.Ctx\n",
                ":3: invalid value 'com.example.Ctx' for key 'ssl.context.supplier.class' (zkd "
                "cannot load a Java SSLContext supplier)");
    parse_fails(MINIMAL "ssl.hostnameVerificaton=false\n",
                ":3: unknown key 'ssl.hostnameVerificaton'");
    remove_dir();
}

/* SASL between members: the combinations Apache's QuorumPeerConfig refuses
 * are refused, naming the keys (a member requiring SASL from learners that
 * does not authenticate itself could not join its own ensemble). */
static void test_quorum_sasl_refused(void)
{
    make_dir();
    parse_fails(MINIMAL "quorum.auth.serverRequireSasl=true\n",
                ": quorum.auth.enableSasl is disabled, so cannot enable "
                "quorum.auth.serverRequireSasl");
    parse_fails(MINIMAL "quorum.auth.learnerRequireSasl=true\n",
                ": quorum.auth.enableSasl is disabled, so cannot enable "
                "quorum.auth.learnerRequireSasl");
    parse_fails(MINIMAL "quorum.auth.enableSasl=true\nquorum.auth.serverRequireSasl=true\n",
                ": quorum.auth.learnerRequireSasl is disabled, so cannot enable "
                "quorum.auth.serverRequireSasl");
    parse_fails(MINIMAL "quorum.auth.enableSasl=yes\n",
                ":3: invalid value 'yes' for key 'quorum.auth.enableSasl' (must be true or false)");
    parse_fails(MINIMAL "authProvider.1=com.example.LdapAuthenticationProvider\n",
                ":3: invalid value 'com.example.LdapAuthenticationProvider' for key "
                "'authProvider.1' (zkd cannot load Java authentication providers; its schemes are "
                "digest, ip, x509 and sasl)");
    parse_fails(MINIMAL "DigestAuthenticationProvider.digestAlg=SHA-256\n",
                ":3: invalid value 'SHA-256' for key 'DigestAuthenticationProvider.digestAlg' "
                "(zkd's digest scheme is SHA1 only)");
    parse_fails(MINIMAL "emulate353TTLNodes=true\n",
                ":3: invalid value 'true' for key 'emulate353TTLNodes' (zkd encodes TTL node "
                "owners as Apache 3.5.4 and later do)");
    parse_ok(MINIMAL "DigestAuthenticationProvider.enabled=false\n"
             "znode.container.maxNeverUsedIntervalMs=5000\n");
    ASSERT_INT_EQ(cfg.digest_auth_enabled, 0);
    ASSERT_INT_EQ(cfg.container_max_never_used_ms, 5000);
    parse_ok(MINIMAL "quorum.auth.enableSasl=false\nquorum.auth.learner.saslLoginContext=QL\n"
             "quorumListenOnAllIPs=true\nX509AuthenticationProvider.superUser=CN=admin\n"
             "superUser=root\nrequireClientAuthScheme=sasl\n");
    ASSERT_INT_EQ(cfg.quorum_listen_all, 1);
    ASSERT_STR_EQ(cfg.quorum_learner_context, "QL");
    ASSERT_STR_EQ(cfg.quorum_server_context, "QuorumServer");
    ASSERT_STR_EQ(cfg.x509_super_user, "CN=admin");
    ASSERT_STR_EQ(cfg.sasl_super_user, "root");
    remove_dir();
}

static int parse_with_flags(const char *text, const char *flags)
{
    char path[512];
    write_file("zoo.cfg", text, path, sizeof path);
    return config_parse_flags(cfg_path, flags, &cfg, err, sizeof err);
}

/* -D flags in SERVER_JVMFLAGS/JVMFLAGS: the system properties Apache reads. */
static void test_jvmflags(void)
{
    make_dir();
    const char *flags = "-Xmx1g -Dzookeeper.DigestAuthenticationProvider.superDigest=super:abc= "
                        "-Djava.security.auth.login.config=/etc/zk/jaas.conf "
                        "-Djute.maxbuffer=0x200000 "
                        "-Dzookeeper.ssl.keyStore.location=/ks.p12 -Dzookeeper.ssl.quorum.crl=true "
                        "-Dzookeeper.tickTime=99 -Dzookeeper.4lw.commands.whitelist=ruok,stat "
                        "-Dlog4j.configuration=x -Dzookeeper.superUser=admin";
    ASSERT_INT_EQ(parse_with_flags(MINIMAL, flags), 0);
    ASSERT_STR_EQ(cfg.super_digest, "super:abc=");
    ASSERT_STR_EQ(cfg.jaas_file, "/etc/zk/jaas.conf");
    ASSERT_INT_EQ(cfg.jute_max_buffer, 0x200000);
    ASSERT_STR_EQ(cfg.tls.cert, "/ks.p12");
    ASSERT_INT_EQ(cfg.tls.key_type, ZKD_STORE_PKCS12);
    ASSERT_INT_EQ(cfg.tls_quorum.crl, 1);
    ASSERT_INT_EQ(cfg.tick_time, 2000); /* Apache reads tickTime only from zoo.cfg */
    ASSERT_STR_EQ(cfg.sasl_super_user, "admin");
    ASSERT_TRUE(cfg.fourlw_mask & (1u << 0)); /* ruok */
    /* zoo.cfg wins over a flag: it sets the same system property in Apache. */
    ASSERT_INT_EQ(parse_with_flags(MINIMAL "DigestAuthenticationProvider.superDigest=root:xyz=\n"
                                   "jaasLoginFile=/mine.conf\n",
                                   "-Dzookeeper.DigestAuthenticationProvider.superDigest="
                                   "super:abc= -Djava.security.auth.login.config=/etc/zk/jaas.conf"),
                  0);
    ASSERT_STR_EQ(cfg.super_digest, "root:xyz=");
    ASSERT_STR_EQ(cfg.jaas_file, "/mine.conf");
    /* A later flag wins; a bad value is an error naming the flags. */
    ASSERT_INT_EQ(parse_with_flags(MINIMAL, "-Dzookeeper.superUser=a -Dzookeeper.superUser=b"), 0);
    ASSERT_STR_EQ(cfg.sasl_super_user, "b");
    ASSERT_INT_EQ(parse_with_flags(MINIMAL, "-Dzookeeper.quorum.auth.enableSasl=true "
                                            "-Dzookeeper.ssl.quorum.context.supplier.class=C"),
                  -1);
    ASSERT_STR_EQ(err, "SERVER_JVMFLAGS/JVMFLAGS: invalid value 'C' for key "
                       "'zookeeper.ssl.quorum.context.supplier.class' (zkd cannot load a Java "
                       "SSLContext supplier)");
    ASSERT_INT_EQ(parse_with_flags(MINIMAL, "-Dzookeeper.ssl.ocsp=true"), 0);
    ASSERT_INT_EQ(cfg.tls.ocsp, 1);
    remove_dir();
}

static void test_auth_keys(void)
{
    make_dir();
    parse_ok(MINIMAL "authProvider.x509=org.apache.zookeeper.server.auth."
                     "X509AuthenticationProvider\n"
                     "superDigest=super:abc=\n");
    ASSERT_INT_EQ(cfg.sasl_enabled, 0);
    ASSERT_STR_EQ(cfg.super_digest, "super:abc=");
    parse_ok(MINIMAL "zookeeper.authProvider.sasl=org.apache.zookeeper.server.auth."
                     "SASLAuthenticationProvider\n"
                     "zookeeper.DigestAuthenticationProvider.superDigest=root:xyz\n");
    ASSERT_INT_EQ(cfg.sasl_enabled, 1);
    ASSERT_STR_EQ(cfg.super_digest, "root:xyz");
    parse_fails(MINIMAL "superDigest=nocolon\n",
                ":3: invalid value 'nocolon' for key 'superDigest' (expected user:digest)");
    /* AuthenticationHelper: enforcement needs schemes, each with a provider. */
    parse_fails(MINIMAL "enforce.auth.enabled=true\n",
                ": enforce.auth.enabled is true: enforce.auth.schemes must name the schemes "
                "(digest, ip, sasl, x509) a client must authenticate with");
    parse_fails(MINIMAL "enforce.auth.enabled=true\nenforce.auth.schemes=digest,sasl\n",
                ": enforce.auth.schemes: authentication scheme 'sasl' is not available (set "
                "authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider)");
    parse_ok(MINIMAL "enforce.auth.enabled=false\nenforce.auth.schemes=sasl\n");
    ASSERT_INT_EQ(cfg.enforce_auth_enabled, 0);
    parse_ok(MINIMAL "enforce.auth.enabled=true\nenforce.auth.schemes= digest ,x509,ip \n");
    ASSERT_INT_EQ(cfg.enforce_auth_enabled, 1);
    ASSERT_STR_EQ(cfg.enforce_auth_schemes, "digest,x509,ip");
    parse_ok(MINIMAL "authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\n"
                     "sessionRequireClientSASLAuth=true\nenforce.auth.schemes=digest\n");
    ASSERT_INT_EQ(cfg.enforce_auth_enabled, 1);
    ASSERT_STR_EQ(cfg.enforce_auth_schemes, "sasl");
    ASSERT_INT_EQ(parse_with_flags(MINIMAL, "-Dzookeeper.enforce.auth.enabled=true "
                                            "-Dzookeeper.enforce.auth.schemes=digest"),
                  0);
    ASSERT_INT_EQ(cfg.enforce_auth_enabled, 1);
    ASSERT_STR_EQ(cfg.enforce_auth_schemes, "digest");
    remove_dir();
}

static void test_ignored_keys(void)
{
    make_dir();
    parse_ok(MINIMAL "admin.enableServer=false\n"
                     "admin.serverPort=8080\n"
                     "metricsProvider.className=org.apache.zookeeper.metrics.prometheus."
                     "PrometheusMetricsProvider\n"
                     "metricsProvider.httpPort=7000\n"
                     "preAllocSize=65536\n"
                     "syncEnabled=true\n"
                     "quorumListenOnAllIPs=true\n"
                     "leaderServes=yes\n"
                     "cnxTimeout=5000\n"
                     "forceSync=no\n"
                     "serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory\n"
                     "sslQuorum=false\n"
                     "portUnification=false\n"
                     "clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNetty\n"
                     "zookeeper.snapshot.trust.empty=true\n"
                     "zookeeper.something.unheard.of=1\n"
                     "zookeeper.snapCount=777\n"
                     "zookeeper.jute.maxbuffer=4194304\n");
    ASSERT_INT_EQ(cfg.snap_count, 777);
    ASSERT_INT_EQ(cfg.jute_max_buffer, 4194304);
    remove_dir();
}

static void test_autopurge_clamps(void)
{
    make_dir();
    parse_ok(MINIMAL "autopurge.snapRetainCount=1\nautopurge.purgeInterval=-1\n");
    ASSERT_INT_EQ(cfg.autopurge_snap_retain_count, 3);
    ASSERT_INT_EQ(cfg.autopurge_purge_interval, 0);
    remove_dir();
}

static void test_format_standalone(void)
{
    char buf[1024];
    make_dir();
    parse_ok("dataDir=/var/zk\nclientPort=2181\n");
    int n = config_format(&cfg, buf, sizeof buf);
    const char *want = "clientPort=2181\n"
                       "secureClientPort=-1\n"
                       "dataDir=/var/zk\n"
                       "dataLogDir=/var/zk\n"
                       "tickTime=2000\n"
                       "maxClientCnxns=60\n"
                       "minSessionTimeout=4000\n"
                       "maxSessionTimeout=40000\n"
                       "clientPortListenBacklog=-1\n"
                       "serverId=0\n";
    ASSERT_STR_EQ(buf, want);
    ASSERT_INT_EQ(n, strlen(want));
    /* Too small: -1 and a NUL-terminated prefix. */
    ASSERT_INT_EQ(config_format(&cfg, buf, 20), -1);
    ASSERT_INT_EQ(strlen(buf) < 20, 1);
    remove_dir();
}

static void test_format_ensemble(void)
{
    char buf[1024], myid[512];
    make_dir();
    write_file("myid", "3\n", myid, sizeof myid);
    parse_ok("dataDir=@DIR@\ndataLogDir=/logs\ntickTime=500\ninitLimit=10\nsyncLimit=5\n"
             "secureClientPort=2281\nssl.keyStore.location=/s.pem\n"
             "server.1=h1:2888:3888;2181\nserver.2=h2:2889:3889;2182\n"
             "server.3=h3:2890:3890:observer;2183\n");
    ASSERT_TRUE(config_format(&cfg, buf, sizeof buf) > 0);
    char want[2048];
    snprintf(want, sizeof want,
             "clientPort=2183\n"
             "secureClientPort=2281\n"
             "dataDir=%s\n"
             "dataLogDir=/logs\n"
             "tickTime=500\n"
             "maxClientCnxns=60\n"
             "minSessionTimeout=1000\n"
             "maxSessionTimeout=10000\n"
             "clientPortListenBacklog=-1\n"
             "serverId=3\n"
             "initLimit=10\n"
             "syncLimit=5\n"
             "electionAlg=3\n"
             "electionPort=3890\n"
             "quorumPort=2890\n"
             "peerType=1\n",
             dir);
    ASSERT_STR_EQ(buf, want);
    remove_dir();
}

ZTEST_MAIN(ZT(test_defaults), ZT(test_properties_syntax), ZT(test_line_numbers_count_continuations),
           ZT(test_all_keys), ZT(test_last_assignment_wins), ZT(test_session_timeouts),
           ZT(test_unknown_key), ZT(test_bad_numbers), ZT(test_missing_data_dir),
           ZT(test_missing_file), ZT(test_client_port_required), ZT(test_whitelist),
           ZT(test_server_lines), ZT(test_server_line_errors), ZT(test_hierarchical_quorum_keys), ZT(test_ensemble_validation),
           ZT(test_dynamic_config_file), ZT(test_tls_keys), ZT(test_auth_keys),
           ZT(test_ignored_keys), ZT(test_autopurge_clamps), ZT(test_format_standalone),
           ZT(test_format_ensemble), ZT(test_tls_store_types), ZT(test_tls_security_keys),
           ZT(test_quorum_sasl_refused), ZT(test_jvmflags))
