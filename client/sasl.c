/*
 * sasl.c - Cyrus SASL client glue for libzk (see sasl.h).
 *
 * Credentials reach Cyrus through callbacks that read the zsasl; the
 * library is initialised once per process (sasl_client_init is not safe to
 * call concurrently, hence pthread_once).  Kerberos logins from a keytab go
 * through GSSAPI's credential-store extension (gss_acquire_cred_from), so
 * no environment variable of the process is changed.
 */
#include "sasl.h"

#include "log.h"
#include "zk/jute.h"

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>
#include <pthread.h>
#include <sasl/sasl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct zsasl_login {
    gss_cred_id_t cred;
};

struct zsasl {
    sasl_conn_t *conn;
    char *mechanism;
    char *user;
    sasl_secret_t *secret;
    sasl_callback_t callbacks[5];
    int started;
    int complete; /* Cyrus said SASL_OK: later server tokens need no answer */
};

/* Cyrus stores every callback as int (*)(void); the detour through
 * void (*)(void) tells the compiler the cast is meant. */
#define CYRUS_CB(f) ((int (*)(void))(void (*)(void))(f))

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_rc;

static void init_cyrus(void)
{
    init_rc = sasl_client_init(NULL);
}

static int get_simple(void *ctx, int id, const char **result, unsigned *len)
{
    struct zsasl *s = ctx;
    if (id != SASL_CB_USER && id != SASL_CB_AUTHNAME)
        return SASL_BADPARAM;
    *result = s->user;
    if (len)
        *len = (unsigned)strlen(s->user);
    return SASL_OK;
}

static int get_secret(sasl_conn_t *conn, void *ctx, int id, sasl_secret_t **psecret)
{
    struct zsasl *s = ctx;
    (void)conn;
    if (id != SASL_CB_PASS)
        return SASL_BADPARAM;
    *psecret = s->secret;
    return SASL_OK;
}

/* Cyrus's own complaints (a GSSAPI failure's detail) go to libzk's log. */
static int on_cyrus_log(void *ctx, int level, const char *message)
{
    (void)ctx;
    if (level <= SASL_LOG_ERR)
        zk__log(ZK_LOG_WARN, "SASL: %s", message);
    return SASL_OK;
}

static int is_gssapi(const struct zk_sasl_options *o)
{
    return o->mechanism && !strcmp(o->mechanism, "GSSAPI");
}

/* GSSAPI's text for (major, minor), into buf. */
static void gss_text(OM_uint32 major, OM_uint32 minor, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int pass = 0; pass < 2; pass++) {
        OM_uint32 ctx = 0, min2;
        do {
            gss_buffer_desc msg = GSS_C_EMPTY_BUFFER;
            if (gss_display_status(&min2, pass ? minor : major,
                                   pass ? GSS_C_MECH_CODE : GSS_C_GSS_CODE, GSS_C_NO_OID, &ctx,
                                   &msg) != GSS_S_COMPLETE)
                break;
            used += (size_t)snprintf(buf + used, used < cap ? cap - used : 0, "%s%.*s",
                                     used ? "; " : "", (int)msg.length, (char *)msg.value);
            gss_release_buffer(&min2, &msg);
        } while (ctx != 0 && used < cap);
    }
}

/*
 * Logs in from o->keytab as o->principal, obtaining the ticket-granting
 * ticket now (an initiator context towards nobody would only fail later,
 * with a vaguer message), into a MEMORY cache private to this keytab and
 * principal.  Returns 0, or ZK_AUTHFAILED with the reason logged.
 */
static int login_from_keytab(const struct zk_sasl_options *o, struct zsasl_login *l)
{
    char ccache[64];
    uint64_t h = 1469598103934665603ull; /* FNV-1a of keytab NUL principal */
    for (const char *p = o->keytab;; p++) {
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
        if (!*p)
            break;
    }
    for (const char *p = o->principal ? o->principal : ""; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    snprintf(ccache, sizeof ccache, "MEMORY:libzk-%016llx", (unsigned long long)h);
    gss_key_value_element_desc kv[2] = {{"client_keytab", o->keytab}, {"ccache", ccache}};
    gss_key_value_set_desc store = {2, kv};
    OM_uint32 major, minor;
    gss_name_t name = GSS_C_NO_NAME;
    char why[512];
    if (o->principal) {
        gss_buffer_desc b = {strlen(o->principal), (void *)o->principal};
        major = gss_import_name(&minor, &b, GSS_KRB5_NT_PRINCIPAL_NAME, &name);
        if (GSS_ERROR(major)) {
            gss_text(major, minor, why, sizeof why);
            zk__log(ZK_LOG_ERROR, "SASL GSSAPI: bad principal '%s': %s", o->principal, why);
            return ZK_AUTHFAILED;
        }
    }
    major = gss_acquire_cred_from(&minor, name, GSS_C_INDEFINITE, GSS_C_NO_OID_SET,
                                  GSS_C_INITIATE, &store, &l->cred, NULL, NULL);
    OM_uint32 lifetime = 0;
    if (!GSS_ERROR(major)) /* forces the TGT request: the keytab's key is tried now */
        major = gss_inquire_cred(&minor, l->cred, NULL, &lifetime, NULL, NULL);
    if (name != GSS_C_NO_NAME)
        gss_release_name(&minor, &name);
    if (GSS_ERROR(major)) {
        gss_text(major, minor, why, sizeof why);
        zk__log(ZK_LOG_ERROR, "SASL GSSAPI: cannot log in as %s from keytab %s: %s",
                o->principal ? o->principal : "its first principal", o->keytab, why);
        if (l->cred != GSS_C_NO_CREDENTIAL)
            gss_release_cred(&minor, &l->cred);
        return ZK_AUTHFAILED;
    }
    return 0;
}

void zk__zsasl_login_free(struct zsasl_login *l)
{
    OM_uint32 minor;
    if (!l)
        return;
    if (l->cred != GSS_C_NO_CREDENTIAL)
        gss_release_cred(&minor, &l->cred);
    free(l);
}

/* The handle's keytab login, made on first use; 0 or ZK_AUTHFAILED. */
static int keytab_login(const struct zk_sasl_options *o, struct zsasl_login **login,
                        gss_cred_id_t *cred)
{
    if (!*login) {
        struct zsasl_login *l = zk_xcalloc(1, sizeof *l);
        l->cred = GSS_C_NO_CREDENTIAL;
        if (login_from_keytab(o, l)) {
            zk__zsasl_login_free(l);
            return ZK_AUTHFAILED;
        }
        *login = l;
    }
    *cred = (*login)->cred;
    return 0;
}

int zk__zsasl_new(const struct zk_sasl_options *o, const char *host, struct zsasl_login **login,
                  struct zsasl **out)
{
    *out = NULL;
    int gss = is_gssapi(o);
    if (!o->mechanism || (!gss && (!o->user || !o->password)))
        return ZK_BADARGUMENTS;
    pthread_once(&init_once, init_cyrus);
    if (init_rc != SASL_OK)
        return ZK_SYSTEMERROR;
    gss_cred_id_t cred = GSS_C_NO_CREDENTIAL;
    if (gss && o->keytab && keytab_login(o, login, &cred))
        return ZK_AUTHFAILED;
    struct zsasl *s = zk_xcalloc(1, sizeof *s);
    s->mechanism = zk_xstrndup(o->mechanism, strlen(o->mechanism));
    int i = 0;
    s->callbacks[i++] = (sasl_callback_t){SASL_CB_LOG, CYRUS_CB(on_cyrus_log), s};
    if (!gss) { /* GSSAPI's identity is the ticket's; it asks for nothing */
        s->user = zk_xstrndup(o->user, strlen(o->user));
        size_t plen = strlen(o->password);
        s->secret = zk_xmalloc(sizeof *s->secret + plen + 1);
        s->secret->len = plen;
        memcpy(s->secret->data, o->password, plen + 1);
        s->callbacks[i++] = (sasl_callback_t){SASL_CB_USER, CYRUS_CB(get_simple), s};
        s->callbacks[i++] = (sasl_callback_t){SASL_CB_AUTHNAME, CYRUS_CB(get_simple), s};
        s->callbacks[i++] = (sasl_callback_t){SASL_CB_PASS, CYRUS_CB(get_secret), s};
    }
    s->callbacks[i] = (sasl_callback_t){SASL_CB_LIST_END, NULL, NULL};
    const char *service = o->service ? o->service : "zookeeper";
    const char *server = o->server_name ? o->server_name : gss && host ? host : "zk-sasl-md5";
    if (sasl_client_new(service, server, NULL, NULL, s->callbacks, 0, &s->conn) != SASL_OK ||
        (cred != GSS_C_NO_CREDENTIAL && sasl_setprop(s->conn, SASL_GSS_CREDS, cred) != SASL_OK)) {
        zk__log(ZK_LOG_ERROR, "SASL: cannot set up %s for %s@%s", o->mechanism, service, server);
        zk__zsasl_free(s);
        return ZK_SYSTEMERROR;
    }
    *out = s;
    return 0;
}

void zk__zsasl_free(struct zsasl *s)
{
    if (!s)
        return;
    if (s->conn)
        sasl_dispose(&s->conn);
    free(s->mechanism);
    free(s->user);
    free(s->secret);
    free(s);
}

int zk__zsasl_step(struct zsasl *s, const char *in, unsigned inlen, const char **out,
               unsigned *outlen)
{
    int rc;
    *out = NULL;
    *outlen = 0;
    /* GSSAPI completes with our last token; the server's reply to it ends
     * the exchange without being evaluated, as ZooKeeperSaslClient does. */
    if (s->complete)
        return 0;
    if (!s->started) {
        const char *mech = NULL;
        s->started = 1;
        rc = sasl_client_start(s->conn, s->mechanism, NULL, out, outlen, &mech);
    } else {
        rc = sasl_client_step(s->conn, in, inlen, NULL, out, outlen);
    }
    if (rc == SASL_CONTINUE)
        return 1;
    if (rc == SASL_OK) {
        s->complete = 1;
        return 0;
    }
    zk__log(ZK_LOG_ERROR, "SASL %s authentication failed: %s", s->mechanism,
            sasl_errdetail(s->conn));
    return ZK_AUTHFAILED;
}
