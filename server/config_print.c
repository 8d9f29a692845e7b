/*
 * config_print.c - see config_print.h.
 */
#include "config_print.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "quorum_verifier.h"

struct out {
    char *buf;
    int len, cap, overflow;
};

static void out_printf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void out_printf(struct out *o, const char *fmt, ...)
{
    if (o->overflow)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->len, (size_t)(o->cap - o->len), fmt, ap);
    va_end(ap);
    if (n < 0 || n >= o->cap - o->len)
        o->overflow = 1;
    else
        o->len += n;
}

static const struct zkd_server_line *find_server(const struct zkd_config *cfg, int id)
{
    for (int i = 0; i < cfg->nservers; i++)
        if (cfg->servers[i].id == id)
            return &cfg->servers[i];
    return NULL;
}

/*
 * Apache's ZooKeeperServer.dumpConf, then QuorumZooKeeperServer.dumpConf's
 * extra lines for an ensemble member.  Apache prints -1 for a port it does
 * not listen on and dataDir/version-2 (with dataDirSize/dataLogSize); zkd
 * prints its own directories and no sizes.  The quorum "membership:" block is
 * left out.
 */
int config_format(const struct zkd_config *cfg, char *buf, int buflen)
{
    struct out o = {buf, 0, buflen, buflen <= 0};
    int distributed = config_is_distributed(cfg);
    int myid = distributed ? config_read_myid(cfg->data_dir) : 0;
    const struct zkd_server_line *me = distributed ? find_server(cfg, myid) : NULL;
    int client_port = cfg->client_port ? cfg->client_port
                      : me && me->client_port ? me->client_port : -1;

    out_printf(&o, "clientPort=%d\n", client_port);
    out_printf(&o, "secureClientPort=%d\n", cfg->secure_client_port ? cfg->secure_client_port : -1);
    out_printf(&o, "dataDir=%s\n", cfg->data_dir);
    out_printf(&o, "dataLogDir=%s\n", cfg->data_log_dir);
    out_printf(&o, "tickTime=%d\n", cfg->tick_time);
    out_printf(&o, "maxClientCnxns=%d\n", cfg->max_client_cnxns);
    out_printf(&o, "minSessionTimeout=%d\n", cfg->min_session_timeout);
    out_printf(&o, "maxSessionTimeout=%d\n", cfg->max_session_timeout);
    out_printf(&o, "clientPortListenBacklog=%d\n", cfg->client_listen_backlog);
    out_printf(&o, "serverId=%d\n", myid);
    if (distributed) {
        out_printf(&o, "initLimit=%d\n", cfg->init_limit);
        out_printf(&o, "syncLimit=%d\n", cfg->sync_limit);
        out_printf(&o, "electionAlg=3\n");
        out_printf(&o, "electionPort=%d\n", me ? me->election_port : -1);
        out_printf(&o, "quorumPort=%d\n", me ? me->quorum_port : -1);
        out_printf(&o, "peerType=%d\n", me && me->observer ? 1 : 0);
    }
    if (o.overflow) {
        if (buflen > 0)
            buf[buflen - 1] = '\0';
        return -1;
    }
    return o.len;
}

static const char *version_name(int v)
{
    static const char *const names[] = {"TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"};
    return v >= 0x0301 && v <= 0x0304 ? names[v - 0x0301] : "?";
}

static void format_tls(struct out *o, const char *prefix, const struct zkd_tls_config *t)
{
    static const char *const types[] = {"PEM", "PKCS12", "JKS"};
    static const char *const auth[] = {"none", "want", "need"};
    out_printf(o, "%skeyStore.location=%s\n", prefix, t->cert);
    if (t->cert[0])
        out_printf(o, "%skeyStore.type=%s\n", prefix, types[t->key_type]);
    if (t->key[0])
        out_printf(o, "%skeyFile=%s\n", prefix, t->key);
    out_printf(o, "%strustStore.location=%s\n", prefix, t->ca);
    if (t->ca[0])
        out_printf(o, "%strustStore.type=%s\n", prefix, types[t->trust_type]);
    out_printf(o, "%senabledProtocols=%s..%s\n", prefix, version_name(t->min_version),
               version_name(t->max_version));
    out_printf(o, "%sciphersuites=%s\n", prefix,
               t->ciphersuites[0] ? t->ciphersuites : "(OpenSSL default)");
    out_printf(o, "%sclientAuth=%s\n", prefix, auth[t->client_auth]);
    out_printf(o, "%shostnameVerification=%s\n", prefix,
               t->hostname_verification ? "true" : "false");
    out_printf(o, "%scrl=%s\n", prefix, t->crl ? "true" : "false");
    out_printf(o, "%socsp=%s\n", prefix, t->ocsp ? "true" : "false");
    out_printf(o, "%sreload=%s\n", prefix, t->reload ? "true" : "false");
}

int config_format_effective(const struct zkd_config *cfg, char *buf, int buflen)
{
    struct out o = {buf, 0, buflen, buflen <= 0};
    int n = config_format(cfg, buf, buflen);
    if (n < 0)
        return -1;
    o.len = n;
    out_printf(&o, "jute.maxbuffer=%d\nsnapCount=%d\n", cfg->jute_max_buffer, cfg->snap_count);
    out_printf(&o, "autopurge.snapRetainCount=%d\nautopurge.purgeInterval=%d\n",
               cfg->autopurge_snap_retain_count, cfg->autopurge_purge_interval);
    out_printf(&o, "4lw.commands.whitelist=");
    for (int i = 0, first = 1; zkd_4lw_names[i]; i++)
        if (cfg->fourlw_mask & (1u << i)) {
            out_printf(&o, "%s%s", first ? "" : ",", zkd_4lw_names[i]);
            first = 0;
        }
    out_printf(&o, "\nstandaloneEnabled=%s\nreconfigEnabled=%s\nreadonlymode.enabled=%s\n",
               cfg->standalone_enabled ? "true" : "false", cfg->reconfig_enabled ? "true" : "false",
               cfg->readonly_mode ? "true" : "false");
    out_printf(&o, "quorumListenOnAllIPs=%s\n", cfg->quorum_listen_all ? "true" : "false");
    out_printf(&o, "localSessionsEnabled=%s\nlocalSessionsUpgradingEnabled=%s\n",
               cfg->local_sessions ? "true" : "false",
               cfg->local_sessions_upgrading ? "true" : "false");
    /* Secrets are not printed: the super user's name only. */
    const char *colon = strchr(cfg->super_digest, ':');
    out_printf(&o, "DigestAuthenticationProvider.superDigest=%s%.*s\n",
               colon ? "set for user " : "(none)", colon ? (int)(colon - cfg->super_digest) : 0,
               cfg->super_digest);
    out_printf(&o, "superUser=%s\n", cfg->sasl_super_user);
    out_printf(&o, "enforce.auth.enabled=%s\nenforce.auth.schemes=%s\n",
               cfg->enforce_auth_enabled ? "true" : "false", cfg->enforce_auth_schemes);
    out_printf(&o, "X509AuthenticationProvider.superUser=%s\n", cfg->x509_super_user);
    out_printf(&o, "jaasLoginFile=%s\n", cfg->jaas_file);
    if (cfg->secure_client_port)
        format_tls(&o, "ssl.", &cfg->tls);
    out_printf(&o, "quorum.auth.enableSasl=%s\n", cfg->quorum_sasl ? "true" : "false");
    if (cfg->quorum_sasl)
        out_printf(&o, "quorum.auth.learnerRequireSasl=%s\nquorum.auth.serverRequireSasl=%s\n",
                   cfg->quorum_learner_require_sasl ? "true" : "false",
                   cfg->quorum_server_require_sasl ? "true" : "false");
    out_printf(&o, "sslQuorum=%s\n", cfg->ssl_quorum ? "true" : "false");
    if (cfg->ssl_quorum)
        format_tls(&o, "ssl.quorum.", &cfg->tls_quorum);
    for (int i = 0; i < cfg->nservers; i++) {
        char line[700];
        config_format_server(&cfg->servers[i], line, sizeof line);
        out_printf(&o, "%s\n", line);
    }
    char groups[ZKD_MAX_SERVERS * 48];
    if (qv_format(cfg, groups, sizeof groups) < (int)sizeof groups)
        out_printf(&o, "%s", groups);
    if (o.overflow) {
        if (buflen > 0)
            buf[buflen - 1] = '\0';
        return -1;
    }
    return o.len;
}
