/*
 * sasl.c - see sasl.h.
 */
#include "sasl.h"

#include <sasl/sasl.h>
#include <sasl/saslplug.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "jaas.h"
#include "kerberos.h"
#include "log.h"
#include "zk/jute.h"

struct jaas_user {
    char *name;
    char *password;
};

static struct jaas_user *users;
static int nusers;
static int initialized;

/* Kerberos: the Server section uses Krb5LoginModule (kerberos.h). */
static struct {
    int on;
    struct krb_login login;
    int remove_host, remove_realm; /* kerberos.removeHostFromPrincipal / ...Realm... */
    char id[600];                  /* the last authenticated identity */
} krb;

/* ---- the Server section's users (jaas.h parses the file) ---- */

/* Adds the section's user_NAME="password" options to the user table, in
 * file order (a name given twice keeps its first password). */
static void read_users(const struct jaas_section *sec)
{
    for (int i = 0; i < sec->nentries; i++) {
        const struct jaas_entry *e = &sec->entries[i];
        for (int k = 0; k < e->nopts; k++) {
            const struct jaas_option *o = &e->opts[k];
            if (strncmp(o->key, "user_", 5) != 0)
                continue;
            users = zk_xrealloc(users, (size_t)(nusers + 1) * sizeof *users);
            users[nusers].name = zk_xstrndup(o->key + 5, strlen(o->key + 5));
            users[nusers].password = zk_xstrndup(o->value, strlen(o->value));
            nusers++;
        }
    }
}

static const struct jaas_user *find_user(const char *name, size_t len)
{
    for (int i = 0; i < nusers; i++)
        if (strlen(users[i].name) == len && !memcmp(users[i].name, name, len))
            return &users[i];
    return NULL;
}

/* ---- auxprop plugin answering userPassword from the JAAS table ---- */

static int jaas_lookup(void *glob, sasl_server_params_t *sp, unsigned flags, const char *user,
                       unsigned ulen)
{
    (void)glob;
    (void)flags;
    const char *at = memchr(user, '@', ulen);
    size_t len = at ? (size_t)(at - user) : ulen;
    const struct jaas_user *u = find_user(user, len);
    if (!u)
        return SASL_NOUSER;
    const struct propval *pv = sp->utils->prop_get(sp->propctx);
    for (; pv && pv->name; pv++) {
        const char *name = pv->name[0] == '*' ? pv->name + 1 : pv->name;
        if (!strcmp(name, SASL_AUX_PASSWORD_PROP)) {
            if (pv->values)
                sp->utils->prop_erase(sp->propctx, pv->name);
            sp->utils->prop_set(sp->propctx, pv->name, u->password, (int)strlen(u->password));
        }
    }
    return SASL_OK;
}

static sasl_auxprop_plug_t jaas_plugin = {
    0, 0, NULL, NULL, jaas_lookup, "zkdjaas", NULL,
};

static int jaas_plugin_init(const sasl_utils_t *utils, int max_version, int *out_version,
                            sasl_auxprop_plug_t **plug, const char *name)
{
    (void)utils;
    (void)name;
    if (max_version < SASL_AUXPROP_PLUG_VERSION)
        return SASL_BADVERS;
    *out_version = SASL_AUXPROP_PLUG_VERSION;
    *plug = &jaas_plugin;
    return SASL_OK;
}

int zkd_sasl_getopt(void *context, const char *plugin, const char *option, const char **result,
                    unsigned *len)
{
    const struct zkd_sasl_opts *o = context;
    (void)plugin;
    if (!strcmp(option, "auxprop_plugin"))
        *result = o->auxprop_plugin;
    else if (!strcmp(option, "mech_list"))
        *result = o->mech_list;
    else
        return SASL_FAIL;
    if (len)
        *len = (unsigned)strlen(*result);
    return SASL_OK;
}

/* Clients' options; the mechanism is chosen with the JAAS file (init). */
static struct zkd_sasl_opts client_opts = {"zkdjaas", "DIGEST-MD5"};

static int log_cb(void *context, int level, const char *message)
{
    (void)context;
    if (level <= SASL_LOG_ERR)
        log_warn("sasl: %s", message);
    return SASL_OK;
}

/* Which authorization id a client may ask for.  DIGEST-MD5: only its own
 * (Cyrus's default rule).  Kerberos: any, as Apache's
 * SaslServerCallbackHandler authorizes every authenticated principal and
 * derives the identity from the authentication id alone (python's
 * pure-sasl, for one, requests "user@REALM" while Cyrus has authenticated
 * "user"). */
static int proxy_cb(sasl_conn_t *conn, void *context, const char *requested, unsigned rlen,
                    const char *auth, unsigned alen, const char *realm, unsigned urlen,
                    struct propctx *props)
{
    (void)context;
    (void)realm;
    (void)urlen;
    (void)props;
    if (krb.on || !requested || !rlen || (rlen == alen && !memcmp(requested, auth, alen)))
        return SASL_OK;
    sasl_seterror(conn, 0, "Requested identity not authenticated identity");
    return SASL_BADAUTH;
}

static sasl_callback_t callbacks[] = {
    {SASL_CB_GETOPT, (int (*)(void))(void (*)(void))zkd_sasl_getopt, &client_opts},
    {SASL_CB_PROXY_POLICY, (int (*)(void))(void (*)(void))proxy_cb, NULL},
    {SASL_CB_LOG, (int (*)(void))(void (*)(void))log_cb, NULL},
    {SASL_CB_LIST_END, NULL, NULL},
};

void zkd_sasl_clear_users(void)
{
    for (int i = 0; i < nusers; i++) {
        free(users[i].name);
        free(users[i].password);
    }
    free(users);
    users = NULL;
    nusers = 0;
}

/* Reads the Server section `sec` when it logs in with Kerberos: 1 (krb
 * filled), 0 when it does not, -1 (logged) when its Kerberos settings are
 * unusable. */
static int load_kerberos(const char *jaas_file, const struct jaas_section *sec)
{
    char err[512];
    int rc = krb_section_is_kerberos(sec);
    if (rc && krb_login_read(sec, &krb.login, err, sizeof err)) {
        log_error("JAAS file %s: %s", jaas_file, err);
        rc = -1;
    }
    krb.on = rc == 1;
    return rc;
}

void zkd_sasl_kerberos_names(int remove_host, int remove_realm)
{
    krb.remove_host = remove_host;
    krb.remove_realm = remove_realm;
}

int zkd_sasl_load_jaas(const char *jaas_file)
{
    zkd_sasl_clear_users();
    krb.on = 0;
    struct jaas_file jf;
    char err[512];
    if (jaas_load(jaas_file, &jf, err, sizeof err)) {
        log_error("JAAS file: %s", err);
        return -1;
    }
    const struct jaas_section *sec = jaas_section(&jf, "Server");
    int rc;
    if (!sec) {
        /* Apache starts too and simply offers clients no SASL. */
        log_info("JAAS file %s has no Server section: SASL is not offered to clients",
                 jaas_file);
        rc = 0;
    } else if ((rc = load_kerberos(jaas_file, sec)) == 0) {
        read_users(sec);
        rc = nusers;
        if (nusers == 0) {
            log_error("JAAS file %s has no Server section with user_NAME=\"password\" entries",
                      jaas_file);
            rc = -1;
        }
    }
    jaas_free(&jf);
    return rc;
}

int zkd_sasl_init(const char *jaas_file)
{
    int n = zkd_sasl_load_jaas(jaas_file);
    if (n <= 0)
        return n;
    if (krb.on)
        krb_use_keytab(krb.login.keytab);
    client_opts.mech_list = krb.on ? "GSSAPI" : "DIGEST-MD5";
    if (sasl_auxprop_add_plugin("zkdjaas", jaas_plugin_init) != SASL_OK ||
        sasl_server_init(callbacks, "zkd") != SASL_OK) {
        log_error("cannot initialize Cyrus SASL");
        return -1;
    }
    initialized = 1;
    if (krb.on)
        log_info("SASL GSSAPI (Kerberos) enabled as %s from %s", krb.login.principal, jaas_file);
    else
        log_info("SASL DIGEST-MD5 enabled with %d users from %s", nusers, jaas_file);
    return 0;
}

int zkd_sasl_enabled(void) { return initialized; }

int zkd_sasl_step(struct conn *c, const char *in, size_t inlen, const char **out, unsigned *outlen,
                  const char **user)
{
    if (!initialized)
        return -1;
    int rc;
    *out = NULL;
    *outlen = 0;
    if (!c->sasl) {
        sasl_conn_t *sc = NULL;
        /* SUCCESS_DATA: the final rspauth comes with SASL_OK, as Java's server does. */
        /* GSSAPI's acceptor is service@host of the Server section's principal. */
        rc = sasl_server_new(krb.on ? krb.login.service : "zookeeper",
                             krb.on ? krb.login.host : "zk-sasl-md5", NULL, NULL, NULL, NULL,
                             SASL_SUCCESS_DATA, &sc);
        if (rc != SASL_OK)
            return -1;
        c->sasl = sc;
        rc = sasl_server_start(sc, krb.on ? "GSSAPI" : "DIGEST-MD5", inlen ? in : NULL,
                               (unsigned)inlen, out, outlen);
    } else {
        rc = sasl_server_step(c->sasl, in, (unsigned)inlen, out, outlen);
    }
    if (rc == SASL_CONTINUE)
        return 0;
    if (rc != SASL_OK) {
        log_warn("SASL authentication failed for %s:%d: %s", c->remote, c->remote_port,
                 sasl_errdetail(c->sasl));
        return -1;
    }
    const void *u = NULL;
    if (sasl_getprop(c->sasl, SASL_USERNAME, &u) != SASL_OK || !u)
        return -1;
    *user = u;
    if (krb.on && sasl_getprop(c->sasl, SASL_AUTHUSER, &u) == SASL_OK && u) {
        /* Cyrus drops the realm of a principal from the service's own realm;
         * Apache's identity keeps it (unless removeRealmFromPrincipal). */
        const char *realm = strchr(krb.login.principal, '@');
        char full[600];
        snprintf(full, sizeof full, "%s%s", (const char *)u,
                 strchr(u, '@') || !realm ? "" : realm);
        krb_principal_to_id(full, krb.remove_host, krb.remove_realm, krb.id, sizeof krb.id);
        *user = krb.id;
    }
    return 1;
}

void zkd_sasl_dispose(struct conn *c)
{
    if (c->sasl) {
        sasl_conn_t *sc = c->sasl;
        sasl_dispose(&sc);
        c->sasl = NULL;
    }
}
