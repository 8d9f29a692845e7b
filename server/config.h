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

/* One `server.N=host:quorumPort:electionPort[:role][;clientHost:clientPort]` line. */
struct zkd_server_line {
    int id;
    char host[256];
    int quorum_port;
    int election_port;
    int observer;            /* role == observer */
    char client_host[256];   /* "" when absent */
    int client_port;         /* 0 when absent */
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
    char super_digest[512];  /* "super:base64sha1" or "" */
    int standalone_enabled;  /* default 1 */
    int reconfig_enabled;    /* default 0 */
    int readonly_mode;       /* readonlymode.enabled */
    int enforce_quota;       /* enforceQuota: 1, 0, or -1 when zoo.cfg does not say */
    int global_outstanding_limit; /* default 1000 */
    int container_check_ms;  /* znode.container.checkIntervalMs, default 60000 */
    int container_max_per_minute; /* znode.container.maxPerMinute, default 10000 */
    int poll_spin_us;        /* `pollSpinMicros` (zkd extension), default 100; 0 = off */
    /* SASL */
    char jaas_file[4096];    /* `jaasLoginFile` (zkd extension); "" = none; config.c never reads env */
    int sasl_enabled;        /* authProvider.N = ...SASLAuthenticationProvider */
    /* TLS: PEM paths (keyStore/trustStore may name .pem files) */
    char ssl_cert[4096];
    char ssl_key[4096];
    char ssl_ca[4096];
    char ssl_key_password[256];
    int ssl_client_auth;     /* 0 none, 1 want, 2 need (ssl.clientAuth; default need, as Apache) */
    /* TLS between ensemble members (sslQuorum): ssl.quorum.* or the above */
    int ssl_quorum;
    char ssl_quorum_cert[4096];
    char ssl_quorum_key[4096];
    char ssl_quorum_ca[4096];
    char ssl_quorum_key_password[256];
    /* ensemble */
    int nservers;
    struct zkd_server_line servers[ZKD_MAX_SERVERS];
    char dynamic_config_file[4096];
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

/*
 * Writes the `conf` four-letter word's text (Apache's dumpConf layout, one
 * key=value per line, -1 for an absent port) into buf.  For an ensemble
 * member it reads dataDir/myid to find its own server.N line.  Returns the
 * length written (without the NUL), or -1 if buflen is too small (buf then
 * holds a NUL-terminated prefix).
 */
int config_format(const struct zkd_config *cfg, char *buf, int buflen);

/* Whether server id `id` is a voting member of cfg; the number of voters;
 * the server.N line of id `id`, or NULL. */
int config_is_voter(const struct zkd_config *cfg, int id);
int config_voters(const struct zkd_config *cfg);
const struct zkd_server_line *config_server(const struct zkd_config *cfg, int id);

#endif
