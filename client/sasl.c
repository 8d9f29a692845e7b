/*
 * sasl.c - Cyrus SASL client glue for libzk (see sasl.h).
 *
 * Credentials reach Cyrus through callbacks that read the zsasl; the
 * library is initialised once per process (sasl_client_init is not safe to
 * call concurrently, hence pthread_once).
 */
#include "sasl.h"

#include "zk/jute.h"

#include <pthread.h>
#include <sasl/sasl.h>
#include <stdlib.h>
#include <string.h>

struct zsasl {
    sasl_conn_t *conn;
    char *mechanism;
    char *user;
    sasl_secret_t *secret;
    sasl_callback_t callbacks[4];
    int started;
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

int zk__zsasl_new(const struct zk_sasl_options *o, struct zsasl **out)
{
    *out = NULL;
    if (!o->mechanism || !o->user || !o->password)
        return ZK_BADARGUMENTS;
    pthread_once(&init_once, init_cyrus);
    if (init_rc != SASL_OK)
        return ZK_SYSTEMERROR;
    struct zsasl *s = zk_xcalloc(1, sizeof *s);
    s->mechanism = zk_xstrndup(o->mechanism, strlen(o->mechanism));
    s->user = zk_xstrndup(o->user, strlen(o->user));
    size_t plen = strlen(o->password);
    s->secret = zk_xmalloc(sizeof *s->secret + plen + 1);
    s->secret->len = plen;
    memcpy(s->secret->data, o->password, plen + 1);
    s->callbacks[0] = (sasl_callback_t){SASL_CB_USER, CYRUS_CB(get_simple), s};
    s->callbacks[1] = (sasl_callback_t){SASL_CB_AUTHNAME, CYRUS_CB(get_simple), s};
    s->callbacks[2] = (sasl_callback_t){SASL_CB_PASS, CYRUS_CB(get_secret), s};
    s->callbacks[3] = (sasl_callback_t){SASL_CB_LIST_END, NULL, NULL};
    const char *service = o->service ? o->service : "zookeeper";
    const char *host = o->server_name ? o->server_name : "zk-sasl-md5";
    if (sasl_client_new(service, host, NULL, NULL, s->callbacks, 0, &s->conn) != SASL_OK) {
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
    if (!s->started) {
        const char *mech = NULL;
        s->started = 1;
        rc = sasl_client_start(s->conn, s->mechanism, NULL, out, outlen, &mech);
    } else {
        rc = sasl_client_step(s->conn, in, inlen, NULL, out, outlen);
    }
    if (rc == SASL_CONTINUE)
        return 1;
    if (rc == SASL_OK)
        return 0;
    return ZK_AUTHFAILED;
}
