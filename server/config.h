/*
 * config.h - zoo.cfg parsing for zkd.
 *
 * Syntax is Apache ZooKeeper's (java.util.Properties subset): `key=value` per
 * line, '#' or '!' starts a comment line, whitespace around key and value is
 * trimmed.  Every key Apache 3.8 documents that zkd understands is accepted;
 * an unknown key or an invalid value is an error that names the file and line
 * ("zoo.cfg:7: unknown key 'tickTyme'").  Keys zkd accepts but ignores on
 * purpose (e.g. admin.enableServer, metricsProvider.*) are listed in config.c.
 *
 * Defaults are Apache's: tickTime 2000, minSessionTimeout 2*tickTime,
 * maxSessionTimeout 20*tickTime, maxClientCnxns 60, jute.maxbuffer 0xfffff,
 * snapCount 100000, autopurge.snapRetainCount 3, autopurge.purgeInterval 0
 * (hours; 0 = off), 4lw.commands.whitelist "srvr" (Apache's default), "*" =
 * all; dataLogDir defaults to dataDir.
 */
#ifndef ZKD_CONFIG_H
#define ZKD_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define ZKD_MAX_SERVERS 64
/* Server ids are 0..ZKD_MAX_SERVER_ID (Apache takes any long; zkd's peer
 * messages carry an int).  As in Apache, a session id's top byte is the id's
 * low byte, so two members whose ids agree in it are refused (their session
 * ids could collide), and extendedTypesEnabled needs ids below 255 (the byte
 * 0xff marks TTL nodes' owners). */
#define ZKD_MAX_SERVER_ID 2147483647

/* One `server.N=host:quorumPort:electionPort[:role][;clientHost:clientPort]` line. */
struct zkd_server_line {
    int id;
    char host[256];
    int quorum_port;
    int election_port;
    int observer;            /* role == observer */
    char client_host[256];   /* "" when absent */
    int client_port;         /* 0 when absent */
    int extra_addrs;         /* further "|host:q:e" addresses (multiAddress), not used */
    /* Hierarchical quorums (quorum_verifier.h), set by qv_resolve: */
    int grouped;             /* in a group.G line */
    int64_t group;           /* G */
    int64_t weight;          /* weight.N, default 1 */
};

/* group.G / weight.S lines as read, before qv_resolve puts them on the
 * server lines (quorum_verifier.h). */
struct zkd_qv_input {
    int nmembers;
    struct { int sid; int64_t gid; } member[ZKD_MAX_SERVERS];
    int nweights;
    struct { int sid; int64_t weight; } weight[ZKD_MAX_SERVERS];
};

/* Store formats of ssl.keyStore.type / ssl.trustStore.type. */
enum zkd_store_type { ZKD_STORE_PEM, ZKD_STORE_PKCS12, ZKD_STORE_JKS };

/*
 * One TLS side: the client port (ssl.*) or the links between ensemble
 * members (ssl.quorum.*); X509Util's properties with the same names.
 * Versions are TLS wire versions (0x0303 = TLS 1.2, 0x0304 = TLS 1.3).
 */
struct zkd_tls_config {
    char cert[4096];         /* key store, or PEM certificate chain (ssl.certFile) */
    char key[4096];          /* PEM private key (ssl.keyFile), else "" = in `cert` */
    char ca[4096];           /* trust store; "" = none */
    char key_password[256];  /* key store password (decrypts a PEM key too) */
    char trust_password[256];
    int key_type;            /* enum zkd_store_type, from .type or the file name */
    int trust_type;
    int min_version, max_version; /* ssl.protocol / ssl.enabledProtocols */
    char ciphersuites[2048]; /* Java (IANA) names, comma-separated; "" = OpenSSL's default */
    int client_auth;         /* 0 none, 1 want, 2 need (ssl.clientAuth; default need, as Apache) */
    int hostname_verification;        /* ssl.hostnameVerification, default 1 */
    int client_hostname_verification; /* ssl.clientHostnameVerification; -1 = side's default */
    int crl;                 /* ssl.crl: check CRLs found in the trust store */
    int ocsp;                /* ssl.ocsp: ask the certificates' OCSP responders */
    int reload;              /* re-read changed key/trust stores for new connections */
};

struct zkd_config {
    char path[4096];         /* the config file itself */
    int tick_time;           /* ms */
    int init_limit;          /* ticks */
    int sync_limit;          /* ticks */
    char data_dir[4096];
    char data_log_dir[4096];
    int client_port;         /* 0 = none */
    char client_port_address[256]; /* "" = all interfaces (0.0.0.0) */
    int secure_client_port;  /* 0 = none */
    char secure_client_port_address[256];
    int max_client_cnxns;    /* per client IP; 0 = unlimited */
    int min_session_timeout; /* ms */
    int max_session_timeout; /* ms */
    int jute_max_buffer;     /* bytes */
    int snap_count;
    int autopurge_snap_retain_count;
    int autopurge_purge_interval; /* hours */
    unsigned fourlw_mask;    /* bit i set = zkd_4lw_names[i] allowed; srvr always, isro with readonly */
    int extended_types_enabled;
    /* Storage (Apache's format: snapshot.c, txnlog.c). */
    char snapshot_compression[16]; /* snapshot.compression.method: "", gz, snappy */
    int pre_alloc_kb;        /* preAllocSize: log preallocation step, KiB (65536) */
    int digest_enabled;      /* digest.enabled: TxnDigest in log entries (1) */
    char super_digest[512];  /* "super:base64sha1" or "" */
    int standalone_enabled;  /* default 1 */
    int reconfig_enabled;    /* default 0 */
    int readonly_mode;       /* readonlymode.enabled */
    int local_sessions;      /* localSessionsEnabled (0): new sessions are local (localsess.h) */
    int local_sessions_upgrading; /* localSessionsUpgradingEnabled (0) */
    int enforce_quota;       /* enforceQuota (or -Dzookeeper.enforceQuota): quota.h */
    int global_outstanding_limit; /* default 1000 */
    int container_check_ms;  /* znode.container.checkIntervalMs, default 60000 */
    int container_max_per_minute; /* znode.container.maxPerMinute, default 10000 */
    int container_max_never_used_ms; /* znode.container.maxNeverUsedIntervalMs; 0 = never */
    int digest_auth_enabled; /* DigestAuthenticationProvider.enabled, default 1 */
    /* Apache's AuthenticationHelper: with enforce_auth_enabled, a request of
     * a connection holding no identity of a scheme in enforce_auth_schemes
     * (comma-separated, trimmed) is answered SESSIONCLOSEDREQUIRESASLAUTH and
     * the connection closed.  sessionRequireClientSASLAuth=true means
     * enforce_auth_enabled with the schemes "sasl" (enforce.auth.* are then
     * not read, as in Apache). */
    int enforce_auth_enabled;     /* enforce.auth.enabled */
    char enforce_auth_schemes[256]; /* enforce.auth.schemes */
    int session_require_sasl;     /* sessionRequireClientSASLAuth */
    int poll_spin_us;        /* `pollSpinMicros` (zkd extension), default 100; 0 = off */
    int requests_per_turn;   /* `requestsPerTurn` (zkd extension), default 100; 0 = no cap */
    int requests_per_loop_turn; /* `requestsPerLoopTurn` (zkd extension, server.h
                                 * server_take_request), default 64; 0 = no cap */
    int client_listen_backlog;  /* `clientPortListenBacklog`: the client ports' listen()
                                 * backlog; -1 or 0 = LISTEN_BACKLOG_DEFAULT (server.c) */
    int notify_writes_per_turn; /* `notifyWritesPerTurn` (zkd extension, flush.h), default 4;
                                 * 0 = no cap */
    int children_slice;      /* `getChildrenSlice` (zkd extension, listing.h): names per
                              * loop turn for a wider parent; 0 = one piece */
    /* SASL */
    char jaas_file[4096];    /* `jaasLoginFile` (zkd extension) or -Djava.security.auth.login.config; "" = none */
    int sasl_enabled;        /* authProvider.N = ...SASLAuthenticationProvider */
    char sasl_super_user[256];  /* superUser: a SASL user that is super; "" = none */
    char x509_super_user[1024]; /* X509AuthenticationProvider.superUser: a DN that is super; "" = none */
    /* SASL between members (quorum_auth.h): quorum.auth.* as Apache */
    int quorum_sasl;                    /* quorum.auth.enableSasl */
    int quorum_learner_require_sasl;    /* quorum.auth.learnerRequireSasl */
    int quorum_server_require_sasl;     /* quorum.auth.serverRequireSasl */
    char quorum_learner_context[128];   /* quorum.auth.learner.saslLoginContext, QuorumLearner */
    char quorum_server_context[128];    /* quorum.auth.server.saslLoginContext, QuorumServer */
    char quorum_kerberos_principal[256]; /* quorum.auth.kerberos.servicePrincipal */
    int krb_remove_host;  /* kerberos.removeHostFromPrincipal: "user@REALM" for user/host@REALM */
    int krb_remove_realm; /* kerberos.removeRealmFromPrincipal: "user/host" */
    int multi_address_enabled; /* multiAddress.enabled */
    int quorum_listen_all;
    int client_port_unification; /* client.portUnification: clientPort serves TLS too */   /* quorumListenOnAllIPs: bind quorum/election ports on 0.0.0.0 */
    /* TLS on secureClientPort (ssl.*) and between members (sslQuorum, ssl.quorum.*) */
    struct zkd_tls_config tls;
    int ssl_quorum;
    struct zkd_tls_config tls_quorum;
    /* ensemble */
    int apache_members;      /* `memberProtocol=apache` (zkd extension): Apache's Zab wire, zab.h */
    int nservers;
    struct zkd_server_line servers[ZKD_MAX_SERVERS];
    int hierarchical;        /* group.* / weight.* given: quorum_verifier.h */
    struct zkd_qv_input qv_input;
    char dynamic_config_file[4096];
    /* operations (admin.c, metrics.c): AdminServer, Prometheus, fsync warning */
    int admin_enable;             /* admin.enableServer, default 1 as Apache */
    char admin_address[256];      /* admin.serverAddress, default 0.0.0.0 */
    int admin_port;               /* admin.serverPort, default 8080 */
    char admin_command_url[256];  /* admin.commandURL, default /commands */
    int admin_idle_timeout_ms;    /* admin.idleTimeout, default 30000 */
    int admin_snapshot_enabled;   /* admin.snapshot.enabled, default 1 as Apache 3.9 */
    int admin_restore_enabled;    /* admin.restore.enabled, default 1 as Apache 3.9 */
    int admin_rate_limit_ms;      /* admin.rateLimiterIntervalInMS, default 300000 */
    int admin_restore_max_mb;     /* admin.restore.maxMB (zkd extension), default 1024 */
    int admin_force_https;        /* admin.forceHttps: HTTPS only, with ssl.quorum.keyStore.* */
    int admin_port_unification;   /* admin.portUnification: HTTPS and HTTP on the one port */
    int admin_need_client_auth;   /* admin.needClientAuth: HTTPS clients show a certificate
                                   * the ssl.quorum trust store trusts (x509 admin auth) */
    int metrics_prometheus;       /* metricsProvider.className = ...PrometheusMetricsProvider */
    char metrics_host[256];       /* metricsProvider.httpHost, default 0.0.0.0 */
    int metrics_port;             /* metricsProvider.httpPort, default 7000 */
    int fsync_warn_ms;            /* fsync.warningthresholdms, default 1000 */
    int slow_request_ms;          /* slowRequestThresholdMs (zkd extension), default 1000; 0 off */
    int log_level;                /* logLevel (zkd extension), enum zkd_log_level; -1 unset */
    int log_json;                 /* logFormat=json (zkd extension); default plain */
    /* audit log (audit.c) */
    int audit_enable;             /* audit.enable (zookeeper.audit.enable), default 0 */
    char audit_log_file[4096];    /* audit.logFile (zkd extension): a path or "syslog";
                                   * "" = $ZOO_LOG_DIR or dataDir + /zookeeper_audit.log */
    int audit_session_events;     /* audit.sessionEvents (zkd extension), default 0 */
};

/* The four-letter words zkd knows, in bit order of zkd_config.fourlw_mask;
 * NULL-terminated. */
extern const char *const zkd_4lw_names[];

/* Fills `cfg` with Apache's defaults (no ports, no dirs). */
void config_defaults(struct zkd_config *cfg);

/*
 * Parses the file at `path` into `cfg` (which config_parse first resets to
 * defaults).  On failure returns -1 and writes a one-line message naming
 * file:line into `err` (size `errlen`).  Validation done here: numbers are
 * numbers in range, dataDir is present, min <= max session timeout, at least
 * one client port unless server lines carry them.
 */
int config_parse(const char *path, struct zkd_config *cfg, char *err, int errlen);

/*
 * config_parse, with the Java system properties of `jvmflags` (the text of
 * SERVER_JVMFLAGS and JVMFLAGS, blank-separated; NULL = none) applied first,
 * so zoo.cfg wins over a -D flag as in Apache.  Read: -Dzookeeper.<key> for
 * every key Apache reads as a system property (superDigest, ssl.*,
 * authProvider.N, 4lw.commands.whitelist, ...), the bare jute.maxbuffer,
 * readonlymode.enabled and znode.container.*, and
 * -Djava.security.auth.login.config (the JAAS file).  Other flags are
 * skipped; a -Dzookeeper.<key> Apache reads only from zoo.cfg logs one INFO
 * line.  Errors in a flag name "SERVER_JVMFLAGS/JVMFLAGS".
 */
int config_parse_flags(const char *path, const char *jvmflags, struct zkd_config *cfg, char *err,
                       int errlen);

/* Parses the value of a `server.<id>=` line (also used by reconfig).
 * Returns 0, or -1 with *why set. */
int config_parse_server(int id, const char *val, struct zkd_server_line *out, const char **why);
/* Formats a server line as Apache's dynamic config does:
 * "server.1=host:2888:3888:participant;0.0.0.0:2181".  Returns snprintf's count. */
int config_format_server(const struct zkd_server_line *sl, char *buf, size_t cap);

/* Whether the config describes an ensemble (Apache's isDistributed: more
 * than one voter, or standaloneEnabled=false). */
int config_is_distributed(const struct zkd_config *cfg);
/* The id in dataDir/myid, or -1 when missing or malformed. */
int config_read_myid(const char *data_dir);

/* Whether server id `id` is a voting member of cfg; the number of voters;
 * the server.N line of id `id`, or NULL. */
int config_is_voter(const struct zkd_config *cfg, int id);
int config_voters(const struct zkd_config *cfg);
const struct zkd_server_line *config_server(const struct zkd_config *cfg, int id);

/* The printers of a parsed configuration (conf, zkd --check). */
#include "config_print.h"

#endif
