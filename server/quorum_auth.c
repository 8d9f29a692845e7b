/*
 * quorum_auth.c - see quorum_auth.h.
 *
 * One process-wide table (the JAAS sections and the quorum.auth.* settings,
 * fixed at start-up) and one `struct quorum_auth` per connection, which holds
 * the Cyrus connection and the few bytes of state the exchange needs.  The
 * feed function never buffers: it parses whole packets out of the caller's
 * unconsumed input, so it works the same over libuv reads and over a
 * blocking socket (quorum_auth_run_fd keeps its own buffer).
 *
 * Cyrus SASL is one library-wide state: sasl_server_init and
 * sasl_client_init are reference-counted there, and the global callbacks
 * belong to whoever initialized first (sasl.c, for clients).  Everything of
 * ours therefore travels as per-connection callbacks, which Cyrus consults
 * before the global ones: the mechanism list, the password lookup (an
 * auxprop plugin, "zkdquorum", answering from the QuorumServer section) and
 * the learner's credentials.
 */
#include "quorum_auth.h"

#include <errno.h>
#include <gssapi/gssapi.h>
#include <poll.h>
#include <sasl/sasl.h>
#include <sasl/saslplug.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "fdio.h"
#include "jaas.h"
#include "kerberos.h"
#include "log.h"
#include "sasl.h"

#define PROTOCOL "zookeeper-quorum"     /* QuorumAuth.QUORUM_SERVER_PROTOCOL_NAME */
#define DIGEST_SERVER "zk-quorum-sasl-md5" /* QuorumAuth.QUORUM_SERVER_SASL_DIGEST */
#define ST_IN_PROGRESS 0
#define ST_SUCCESS 1
#define ST_ERROR (-1)
#define HEADER 16                /* magic, status, token length */
#define MAX_TOKEN (1 << 20)      /* GSSAPI tokens with a PAC stay far below */
#define MAX_ROUNDS 5             /* Apache's SaslQuorumAuthServer.MAX_RETRIES */

static struct {
    int enabled, learner_require, server_require;
    struct jaas_file jaas;
    const struct jaas_section *server, *learner;
    const char *learner_user, *learner_password;
    const char *server_mech, *learner_mech;
    struct zkd_sasl_opts server_opts; /* Cyrus's getopt answers (sasl.h) */
    char principal[256]; /* quorum.auth.kerberos.servicePrincipal */
    /* GSSAPI: this member's acceptor (QuorumServer) and the learners'
     * authorized hosts (every server.N host, as Apache's authzHosts). */
    struct krb_login server_krb, learner_krb;
    char (*hosts)[256];
    int nhosts;
    /* The learner's Kerberos credential, acquired once from its keytab and
     * shared by every exchange: left to itself, MIT acquires one per
     * security context inside gss_init_sec_context, and about 16 KiB of it
     * outlive the context. */
    gss_cred_id_t learner_cred;
} qa;

struct quorum_auth {
    enum quorum_auth_role role;
    int done;      /* result once OK or FAIL */
    int started;   /* server: the learner's first packet was seen */
    int client_ok; /* learner: Cyrus completed (GSSAPI does with its last token) */
    int rounds;
    sasl_conn_t *conn;
    sasl_secret_t *secret;
    sasl_callback_t cbs[8];
    char host[256], desc[320], peer[256];
};

/* ---- Cyrus callbacks ---- */

static int cb_log(void *context, int level, const char *message)
{
    struct quorum_auth *a = context;
    if (level <= SASL_LOG_ERR)
        log_warn("quorum SASL with %s: %s", a->desc, message);
    return SASL_OK;
}

static int cb_simple(void *context, int id, const char **result, unsigned *len)
{
    (void)context;
    if (id != SASL_CB_AUTHNAME && id != SASL_CB_USER)
        return SASL_BADPARAM;
    *result = qa.learner_user;
    if (len)
        *len = (unsigned)strlen(*result);
    return SASL_OK;
}

static int cb_pass(sasl_conn_t *conn, void *context, int id, sasl_secret_t **psecret)
{
    struct quorum_auth *a = context;
    (void)conn;
    if (id != SASL_CB_PASS)
        return SASL_BADPARAM;
    if (!a->secret) {
        size_t n = strlen(qa.learner_password);
        a->secret = zk_xmalloc(sizeof *a->secret + n);
        a->secret->len = n;
        memcpy(a->secret->data, qa.learner_password, n);
    }
    *psecret = a->secret;
    return SASL_OK;
}

static int cb_realm(void *context, int id, const char **avail, const char **result)
{
    (void)context;
    if (id != SASL_CB_GETREALM)
        return SASL_BADPARAM;
    *result = avail && avail[0] ? avail[0] : "";
    return SASL_OK;
}

/* The QuorumServer section's password for `user` (its user_NAME option). */
static const char *server_password(const char *user, size_t len)
{
    char key[300];
    if (len > 256)
        return NULL;
    snprintf(key, sizeof key, "user_%.*s", (int)len, user);
    return jaas_section_option(qa.server, key);
}

static int aux_lookup(void *glob, sasl_server_params_t *sp, unsigned flags, const char *user,
                      unsigned ulen)
{
    (void)glob;
    (void)flags;
    const char *at = memchr(user, '@', ulen); /* DIGEST-MD5 asks for user@realm */
    const char *pw = server_password(user, at ? (size_t)(at - user) : ulen);
    if (!pw)
        return SASL_NOUSER;
    for (const struct propval *pv = sp->utils->prop_get(sp->propctx); pv && pv->name; pv++) {
        const char *name = pv->name[0] == '*' ? pv->name + 1 : pv->name;
        if (strcmp(name, SASL_AUX_PASSWORD_PROP))
            continue;
        if (pv->values)
            sp->utils->prop_erase(sp->propctx, pv->name);
        sp->utils->prop_set(sp->propctx, pv->name, pw, (int)strlen(pw));
    }
    return SASL_OK;
}

static sasl_auxprop_plug_t aux_plugin = {0, 0, NULL, NULL, aux_lookup, "zkdquorum", NULL};

static int aux_init(const sasl_utils_t *utils, int max_version, int *out_version,
                    sasl_auxprop_plug_t **plug, const char *name)
{
    (void)utils;
    (void)name;
    if (max_version < SASL_AUXPROP_PLUG_VERSION)
        return SASL_BADVERS;
    *out_version = SASL_AUXPROP_PLUG_VERSION;
    *plug = &aux_plugin;
    return SASL_OK;
}

/* ---- settings ---- */

/* GSSAPI sections: their principals and keytabs.  MIT Kerberos has one
 * acceptor keytab and one client keytab per process (KRB5_KTNAME,
 * KRB5_CLIENT_KTNAME), so the client port's Server section, if it uses
 * Kerberos too, must name the same keytab.  Returns 0 or -1 (logged). */
static int load_kerberos(const struct zkd_config *cfg, char *err, size_t errlen)
{
    if (!strcmp(qa.server_mech, "GSSAPI")) {
        if (krb_login_read(qa.server, &qa.server_krb, err, errlen))
            goto fail_krb;
        const struct jaas_section *client = jaas_section(&qa.jaas, "Server");
        const char *kt = krb_section_is_kerberos(client) ? jaas_section_option(client, "keyTab")
                                                         : NULL;
        if (kt && strcmp(kt, qa.server_krb.keytab)) {
            snprintf(err, errlen,
                     "sections 'Server' and '%.100s' name different keytabs (%.150s, %.150s): "
                     "zkd's Kerberos library accepts with one; put both principals in one keytab",
                     qa.server->name, kt, qa.server_krb.keytab);
            goto fail_krb;
        }
    }
    if (!strcmp(qa.learner_mech, "GSSAPI") &&
        krb_login_read(qa.learner, &qa.learner_krb, err, errlen))
        goto fail_krb;
    free(qa.hosts);
    qa.hosts = zk_xcalloc((size_t)cfg->nservers + 1, sizeof *qa.hosts);
    qa.nhosts = cfg->nservers;
    for (int i = 0; i < cfg->nservers; i++)
        snprintf(qa.hosts[i], sizeof qa.hosts[i], "%s", cfg->servers[i].host);
    return 0;
fail_krb:
    log_error("quorum.auth.enableSasl=true: JAAS file %s: %s", cfg->jaas_file, err);
    jaas_free(&qa.jaas);
    return -1;
}

/* Reads and checks the JAAS sections into qa.  Returns 0 or -1 (logged). */
static int load_settings(const struct zkd_config *cfg)
{
    char err[1024];
    qa.learner_require = cfg->quorum_learner_require_sasl;
    qa.server_require = cfg->quorum_server_require_sasl;
    snprintf(qa.principal, sizeof qa.principal, "%s", cfg->quorum_kerberos_principal);
    if (!cfg->jaas_file[0]) {
        log_error("quorum.auth.enableSasl=true needs a JAAS file with the %s and %s sections "
                  "(-Djava.security.auth.login.config=... in SERVER_JVMFLAGS, or jaasLoginFile)",
                  cfg->quorum_server_context, cfg->quorum_learner_context);
        return -1;
    }
    if (jaas_load(cfg->jaas_file, &qa.jaas, err, sizeof err)) {
        log_error("quorum.auth.enableSasl=true: JAAS file %s", err);
        return -1;
    }
    qa.server = jaas_section(&qa.jaas, cfg->quorum_server_context);
    qa.learner = jaas_section(&qa.jaas, cfg->quorum_learner_context);
    const char *missing = !qa.server ? cfg->quorum_server_context
                          : !qa.learner ? cfg->quorum_learner_context : NULL;
    if (missing) {
        log_error("quorum.auth.enableSasl=true but the JAAS file %s has no '%s' section",
                  cfg->jaas_file, missing);
        goto fail_jaas;
    }
    qa.server_mech = jaas_section_uses(qa.server, "Krb5LoginModule") ? "GSSAPI" : "DIGEST-MD5";
    qa.server_opts = (struct zkd_sasl_opts){"zkdquorum", qa.server_mech};
    qa.learner_mech = jaas_section_uses(qa.learner, "Krb5LoginModule") ? "GSSAPI" : "DIGEST-MD5";
    if (!strcmp(qa.learner_mech, "DIGEST-MD5")) {
        qa.learner_user = jaas_section_option(qa.learner, "username");
        qa.learner_password = jaas_section_option(qa.learner, "password");
        if (!qa.learner_user || !qa.learner_password) {
            log_error("JAAS section '%s' of %s needs username=\"...\" and password=\"...\"",
                      cfg->quorum_learner_context, cfg->jaas_file);
            goto fail_jaas;
        }
    }
    if (!strcmp(qa.server_mech, "DIGEST-MD5")) {
        int users = 0;
        for (int i = 0; i < qa.server->nentries; i++)
            for (int j = 0; j < qa.server->entries[i].nopts; j++)
                users += !strncmp(qa.server->entries[i].opts[j].key, "user_", 5);
        if (!users) {
            log_error("JAAS section '%s' of %s has no user_NAME=\"password\" entries: no "
                      "learner could authenticate",
                      cfg->quorum_server_context, cfg->jaas_file);
            goto fail_jaas;
        }
    }
    return load_kerberos(cfg, err, sizeof err);
fail_jaas:
    jaas_free(&qa.jaas);
    return -1;
}

int quorum_auth_check(const struct zkd_config *cfg)
{
    if (!cfg->quorum_sasl)
        return 0;
    int rc = load_settings(cfg);
    jaas_free(&qa.jaas);
    free(qa.hosts);
    qa.hosts = NULL;
    return rc;
}

int quorum_auth_init(const struct zkd_config *cfg)
{
    if (!cfg->quorum_sasl || qa.enabled)
        return 0;
    if (load_settings(cfg))
        return -1;
    if (qa.server_krb.keytab[0])
        krb_use_keytab(qa.server_krb.keytab);
    if (qa.learner_krb.keytab[0]) {
        /* The learner logs in from its keytab into a private in-memory
         * ticket cache, not the operator's default one. */
        setenv("KRB5_CLIENT_KTNAME", qa.learner_krb.keytab, 1);
        setenv("KRB5CCNAME", "MEMORY:zkd-quorum-learner", 1);
    }
    if (sasl_auxprop_add_plugin("zkdquorum", aux_init) != SASL_OK ||
        sasl_server_init(NULL, "zkd") != SASL_OK || sasl_client_init(NULL) != SASL_OK) {
        log_error("cannot initialize Cyrus SASL for quorum.auth.enableSasl");
        jaas_free(&qa.jaas);
        return -1;
    }
    qa.enabled = 1;
    log_info("quorum SASL (%s) on: learnerRequireSasl=%s, serverRequireSasl=%s",
             qa.server_mech, qa.learner_require ? "true" : "false",
             qa.server_require ? "true" : "false");
    return 0;
}

int quorum_auth_enabled(void) { return qa.enabled; }

/* ---- one exchange ---- */

struct quorum_auth *quorum_auth_new(enum quorum_auth_role role, const char *host,
                                    const char *desc)
{
    if (!qa.enabled || (role == QUORUM_AUTH_LEARNER && !qa.learner_require))
        return NULL;
    struct quorum_auth *a = zk_xcalloc(1, sizeof *a);
    a->role = role;
    snprintf(a->host, sizeof a->host, "%s", host ? host : "");
    snprintf(a->desc, sizeof a->desc, "%s", desc ? desc : "?");
    return a;
}

void quorum_auth_free(struct quorum_auth *a)
{
    if (!a)
        return;
    if (a->conn)
        sasl_dispose(&a->conn);
    free(a->secret);
    free(a);
}

const char *quorum_auth_peer(const struct quorum_auth *a) { return a->peer; }

int quorum_auth_is_packet(const uint8_t *p, size_t len)
{
    return len >= 8 && zk_be64_get(p) == (uint64_t)QUORUM_AUTH_MAGIC;
}

static void put_packet(struct jute_out *out, int status, const char *token, unsigned len)
{
    jute_put_long(out, QUORUM_AUTH_MAGIC);
    jute_put_int(out, status);
    jute_put_buffer(out, token ? token : "", (int32_t)len);
}

static int finish(struct quorum_auth *a, int result)
{
    a->done = result;
    return result;
}

/* The server side refuses (or, without serverRequireSasl, lets the learner in
 * unauthenticated, as Apache does during a rolling enable).  A learner that
 * tried and failed is told so with an ERROR packet; one that never started
 * gets no packet, since it would read it as member protocol. */
static int server_reject(struct quorum_auth *a, struct jute_out *out, const char *why)
{
    if (a->started)
        put_packet(out, ST_ERROR, NULL, 0);
    if (qa.server_require) {
        log_warn("quorum SASL: refusing learner %s: %s", a->desc, why);
        return finish(a, QUORUM_AUTH_FAIL);
    }
    zkd_log(a->started ? ZKD_LOG_WARN : ZKD_LOG_INFO,
            "quorum SASL: learner %s is not authenticated (%s); keeping the connection since "
            "quorum.auth.serverRequireSasl=false",
            a->desc, why);
    return finish(a, QUORUM_AUTH_OK);
}

/* Apache's authzHosts rule: a learner's principal "name/host@REALM" must
 * name the host of one of the server.N lines (one without a host part is
 * accepted, as in Apache). */
static int authorized_host(const char *principal)
{
    const char *slash = strchr(principal, '/');
    if (!slash)
        return 1;
    size_t n = strcspn(slash + 1, "@");
    for (int i = 0; i < qa.nhosts; i++)
        if (strlen(qa.hosts[i]) == n && !strncmp(qa.hosts[i], slash + 1, n))
            return 1;
    return 0;
}

/* Which identity a learner may act as.  Apache's Java learner names its
 * whole principal ("zkquorum/host@REALM") as the authorization id, and
 * Apache's server requires it to equal the authenticated one; Cyrus's
 * GSSAPI plugin has stripped the server's own realm from the authenticated
 * id by then, which its default policy (exact match) refused.  So: equal,
 * or the authenticated id plus the realm of our own principal. */
static int cb_proxy_policy(sasl_conn_t *conn, void *ctx, const char *requested, unsigned rlen,
                           const char *authid, unsigned alen, const char *def_realm,
                           unsigned urlen, struct propctx *props)
{
    (void)ctx;
    (void)def_realm;
    (void)urlen;
    (void)props;
    const char *at = strchr(qa.server_krb.principal, '@');
    size_t realm = at ? strlen(at) : 0;
    if (rlen == alen && !memcmp(requested, authid, alen))
        return SASL_OK;
    if (realm && !memchr(authid, '@', alen) && rlen == alen + realm &&
        !memcmp(requested, authid, alen) && !memcmp(requested + alen, at, realm))
        return SASL_OK;
    sasl_seterror(conn, 0, "requested identity %.*s is not the authenticated %.*s", (int)rlen,
                  requested, (int)alen, authid);
    return SASL_BADAUTH;
}

static int server_packet(struct quorum_auth *a, const char *tok, unsigned tlen,
                         struct jute_out *out)
{
    const char *reply = NULL;
    unsigned rlen = 0;
    int rc;
    if (!a->conn) {
        a->cbs[0] = (sasl_callback_t){SASL_CB_GETOPT,
                                      (int (*)(void))(void (*)(void))zkd_sasl_getopt,
                                      &qa.server_opts};
        a->cbs[1] = (sasl_callback_t){SASL_CB_LOG, (int (*)(void))(void (*)(void))cb_log, a};
        a->cbs[2] = (sasl_callback_t){SASL_CB_PROXY_POLICY,
                                      (int (*)(void))(void (*)(void))cb_proxy_policy, a};
        a->cbs[3] = (sasl_callback_t){SASL_CB_LIST_END, NULL, NULL};
        /* SUCCESS_DATA: DIGEST-MD5's rspauth travels in the SUCCESS packet. */
        int krb = qa.server_krb.principal[0] != 0;
        rc = sasl_server_new(krb ? qa.server_krb.service : PROTOCOL,
                             krb ? qa.server_krb.host : DIGEST_SERVER, NULL, NULL, NULL, a->cbs,
                             SASL_SUCCESS_DATA, &a->conn);
        if (rc != SASL_OK)
            return server_reject(a, out, sasl_errstring(rc, NULL, NULL));
        rc = sasl_server_start(a->conn, qa.server_mech, tlen ? tok : NULL, tlen, &reply, &rlen);
    } else {
        rc = sasl_server_step(a->conn, tok, tlen, &reply, &rlen);
    }
    if (rc == SASL_CONTINUE) {
        if (++a->rounds > MAX_ROUNDS)
            return server_reject(a, out, "too many rounds");
        put_packet(out, ST_IN_PROGRESS, reply, rlen);
        return QUORUM_AUTH_MORE;
    }
    if (rc != SASL_OK)
        return server_reject(a, out, sasl_errdetail(a->conn));
    const void *user = NULL;
    if (sasl_getprop(a->conn, SASL_AUTHUSER, &user) == SASL_OK && user)
        snprintf(a->peer, sizeof a->peer, "%s", (const char *)user);
    if (qa.server_krb.principal[0] && !authorized_host(a->peer))
        return server_reject(a, out, "its principal's host is not one of the server.N hosts");
    put_packet(out, ST_SUCCESS, reply, rlen);
    log_info("quorum SASL: learner %s authenticated as '%s'", a->desc, a->peer);
    return finish(a, QUORUM_AUTH_OK);
}

static int learner_fail(struct quorum_auth *a, const char *why)
{
    log_warn("quorum SASL: cannot authenticate to %s: %s", a->desc, why);
    return finish(a, QUORUM_AUTH_FAIL);
}

static int learner_packet(struct quorum_auth *a, int status, const char *tok, unsigned tlen,
                          struct jute_out *out)
{
    const char *reply = NULL;
    unsigned rlen = 0;
    if (status == ST_ERROR)
        return learner_fail(a, "the server refused our credentials (wrong JAAS QuorumLearner "
                               "password, or a Kerberos key the server cannot verify?)");
    if (status != ST_IN_PROGRESS && status != ST_SUCCESS)
        return learner_fail(a, "unknown status in the server's answer");
    if (++a->rounds > MAX_ROUNDS + 1)
        return learner_fail(a, "too many rounds");
    int rc = SASL_OK;
    if (a->client_ok) {
        /* Our side finished with the token we sent last; only the server's
         * verdict may follow, without a token. */
        if (status != ST_SUCCESS || tlen)
            return learner_fail(a, "the server continued an exchange that had completed");
    } else {
        rc = sasl_client_step(a->conn, tok, tlen, NULL, &reply, &rlen);
        if (rc != SASL_OK && rc != SASL_CONTINUE)
            return learner_fail(a, sasl_errdetail(a->conn));
        a->client_ok = rc == SASL_OK;
    }
    if (status == ST_IN_PROGRESS) {
        put_packet(out, ST_IN_PROGRESS, reply, rlen);
        return QUORUM_AUTH_MORE;
    }
    /* SUCCESS carries the server's last word: it must complete our side. */
    if (rc != SASL_OK || rlen)
        return learner_fail(a, "the server claimed success before the exchange completed");
    log_info("quorum SASL: authenticated to %s", a->desc);
    return finish(a, QUORUM_AUTH_OK);
}

int quorum_auth_start(struct quorum_auth *a, struct jute_out *out)
{
    if (a->role != QUORUM_AUTH_LEARNER)
        return QUORUM_AUTH_MORE;
    int i = 0;
    a->cbs[i++] = (sasl_callback_t){SASL_CB_LOG, (int (*)(void))(void (*)(void))cb_log, a};
    if (qa.learner_user) {
        a->cbs[i++] = (sasl_callback_t){SASL_CB_AUTHNAME, (int (*)(void))(void (*)(void))cb_simple, a};
        a->cbs[i++] = (sasl_callback_t){SASL_CB_USER, (int (*)(void))(void (*)(void))cb_simple, a};
        a->cbs[i++] = (sasl_callback_t){SASL_CB_PASS, (int (*)(void))(void (*)(void))cb_pass, a};
        a->cbs[i++] = (sasl_callback_t){SASL_CB_GETREALM, (int (*)(void))(void (*)(void))cb_realm, a};
    }
    a->cbs[i] = (sasl_callback_t){SASL_CB_LIST_END, NULL, NULL};
    /* GSSAPI names the server as quorum.auth.kerberos.servicePrincipal,
     * "service/host[@REALM]", its host "_HOST" standing for the peer's. */
    char service[128] = PROTOCOL, host[256] = DIGEST_SERVER;
    if (qa.learner_krb.principal[0]) {
        size_t n = strcspn(qa.principal, "/@");
        snprintf(service, sizeof service, "%.*s", (int)n, qa.principal);
        const char *h = qa.principal[n] == '/' ? qa.principal + n + 1 : "_HOST";
        size_t hn = strcspn(h, "@");
        if (hn == 5 && !strncmp(h, "_HOST", 5))
            snprintf(host, sizeof host, "%s", a->host);
        else
            snprintf(host, sizeof host, "%.*s", (int)hn, h);
    }
    int rc = sasl_client_new(service, host, NULL, NULL, a->cbs, 0, &a->conn);
    if (rc == SASL_OK && qa.learner_krb.principal[0]) {
        if (qa.learner_cred == GSS_C_NO_CREDENTIAL) {
            OM_uint32 minor;
            gss_acquire_cred(&minor, GSS_C_NO_NAME, GSS_C_INDEFINITE, GSS_C_NO_OID_SET,
                             GSS_C_INITIATE, &qa.learner_cred, NULL, NULL);
        }
        /* Without one (no ticket yet: the KDC is unreachable), Cyrus's own
         * attempt below reports why. */
        if (qa.learner_cred != GSS_C_NO_CREDENTIAL)
            sasl_setprop(a->conn, SASL_GSS_CREDS, qa.learner_cred);
    }
    const char *tok = NULL, *mech = NULL;
    unsigned tlen = 0;
    if (rc == SASL_OK)
        rc = sasl_client_start(a->conn, qa.learner_mech, NULL, &tok, &tlen, &mech);
    if (rc != SASL_OK && rc != SASL_CONTINUE)
        return learner_fail(a, a->conn ? sasl_errdetail(a->conn) : sasl_errstring(rc, NULL, NULL));
    a->client_ok = rc == SASL_OK;
    put_packet(out, ST_IN_PROGRESS, tok, tlen);
    return QUORUM_AUTH_MORE;
}

int quorum_auth_feed(struct quorum_auth *a, const uint8_t *p, size_t len, size_t *used,
                     struct jute_out *out)
{
    *used = 0;
    while (!a->done) {
        if (len - *used < 8)
            return QUORUM_AUTH_MORE;
        const uint8_t *q = p + *used;
        if (!quorum_auth_is_packet(q, 8)) {
            if (a->role == QUORUM_AUTH_LEARNER)
                return learner_fail(a, "its answer is not a quorum auth packet (is "
                                       "quorum.auth.enableSasl on there?)");
            if (a->started) /* mid-exchange garbage is never let through */
                return finish(a, QUORUM_AUTH_FAIL);
            return server_reject(a, out, "it did not start with a quorum auth packet (is "
                                         "quorum.auth.learnerRequireSasl on there?)");
        }
        if (len - *used < HEADER)
            return QUORUM_AUTH_MORE;
        int32_t status = (int32_t)zk_be32_get(q + 8);
        int32_t tlen = (int32_t)zk_be32_get(q + 12);
        if (tlen < -1 || tlen > MAX_TOKEN) {
            log_warn("quorum SASL with %s: token of %d bytes; closing", a->desc, tlen);
            return finish(a, QUORUM_AUTH_FAIL);
        }
        size_t n = tlen > 0 ? (size_t)tlen : 0;
        if (len - *used < HEADER + n)
            return QUORUM_AUTH_MORE;
        *used += HEADER + n;
        a->started = 1;
        const char *tok = (const char *)q + HEADER;
        int rc = a->role == QUORUM_AUTH_SERVER ? server_packet(a, tok, (unsigned)n, out)
                                               : learner_packet(a, status, tok, (unsigned)n, out);
        if (rc != QUORUM_AUTH_MORE)
            return rc;
    }
    return a->done;
}

/* ---- blocking sockets ---- */

int quorum_auth_run_fd(struct quorum_auth *a, int fd, int timeout_ms, struct jute_out *rest)
{
    struct jute_out out, in;
    jute_out_init(&out);
    jute_out_init(&in);
    int rc = quorum_auth_start(a, &out);
    while (rc == QUORUM_AUTH_MORE) {
        if (out.len && fdio_write_all(fd, out.p, out.len)) {
            rc = learner_fail(a, "write failed");
            break;
        }
        out.len = 0;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        uint8_t buf[4096];
        ssize_t r = poll(&pfd, 1, timeout_ms) == 1 ? read(fd, buf, sizeof buf) : -1;
        if (r <= 0) {
            log_warn("quorum SASL with %s: connection closed or timed out", a->desc);
            rc = finish(a, QUORUM_AUTH_FAIL);
            break;
        }
        jute_put_raw(&in, buf, (size_t)r);
        size_t used;
        rc = quorum_auth_feed(a, in.p, in.len, &used, &out);
        memmove(in.p, in.p + used, in.len - used);
        in.len -= used;
    }
    /* The last packet (SUCCESS, or ERROR to a refused learner) still goes out. */
    if (out.len)
        fdio_write_all(fd, out.p, out.len);
    if (rest && rc == QUORUM_AUTH_OK)
        jute_put_raw(rest, in.p, in.len);
    jute_out_free(&out);
    jute_out_free(&in);
    return rc;
}
