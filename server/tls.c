/*
 * tls.c - see tls.h.
 */
#include "tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "keystore.h"
#include "log.h"
#include "zk/ocsp.h"

struct tls_conn {
    SSL *ssl;
    BIO *rbio; /* ciphertext from the peer */
    BIO *wbio; /* ciphertext to the peer */
};

static void log_ssl_errors(const char *what)
{
    unsigned long e;
    char buf[256];
    while ((e = ERR_get_error()) != 0) {
        ERR_error_string_n(e, buf, sizeof buf);
        log_warn("%s: %s", what, buf);
    }
}

/*
 * One TLS side's context.  With reload on, tls_conn_new() notices a changed
 * store file (size, mtime or inode: a renewed certificate is usually
 * written to a new file and renamed over the old) and rebuilds `ssl` before
 * the handshake; connections already up keep the context they started with
 * (OpenSSL counts references).
 */
struct tls_ctx {
    SSL_CTX *ssl;
    struct zkd_tls_config t;
    const char *what; /* "TLS" or "quorum TLS", for messages */
    int server;       /* accepting end */
    int verify_ip;    /* check the peer's certificate against its IP address */
    struct stat seen[3]; /* cert, key, ca as last loaded */
    struct ocsp_checker *ocsp; /* ssl.ocsp; its answer cache survives reloads */
};

/* Java/IANA suite names to OpenSSL's: TLS 1.2 ones into `list12` (':'-joined),
 * TLS 1.3 ones (whose names are the same in both) into `list13`.  Returns 0,
 * or -1 naming the first unknown suite. */
static int map_ciphers(const char *names, char *list12, char *list13, size_t cap)
{
    SSL_CTX *all = SSL_CTX_new(TLS_method());
    if (!all)
        return -1;
    SSL_CTX_set_cipher_list(all, "ALL:COMPLEMENTOFALL:@SECLEVEL=0");
    STACK_OF(SSL_CIPHER) *sk = SSL_CTX_get_ciphers(all);
    list12[0] = list13[0] = '\0';
    int rc = 0;
    char name[128];
    for (const char *s = names; *s && !rc;) {
        size_t n = strcspn(s, ",");
        const char *e = s + n;
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        size_t len = (size_t)(e - s);
        while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
            len--;
        snprintf(name, sizeof name, "%.*s", (int)len, s);
        s = *e ? e + 1 : e;
        if (!len)
            continue;
        const SSL_CIPHER *c = NULL;
        for (int i = 0; i < sk_SSL_CIPHER_num(sk) && !c; i++)
            if (!strcmp(SSL_CIPHER_standard_name(sk_SSL_CIPHER_value(sk, i)), name))
                c = sk_SSL_CIPHER_value(sk, i);
        if (!c) {
            log_error("ssl.ciphersuites: OpenSSL has no cipher suite '%s'", name);
            rc = -1;
            break;
        }
        int v13 = !strcmp(SSL_CIPHER_get_name(c), name);
        char *dst = v13 ? list13 : list12;
        size_t used = strlen(dst);
        snprintf(dst + used, cap - used, "%s%s", used ? ":" : "", SSL_CIPHER_get_name(c));
    }
    SSL_CTX_free(all);
    return rc;
}

/* ssl.protocol/enabledProtocols and ssl.ciphersuites on ctx; 0 or -1 (logged). */
static int set_protocols(SSL_CTX *ctx, const struct zkd_tls_config *t, const char *what)
{
    int lo = t->min_version, hi = t->max_version;
    if (t->ciphersuites[0]) {
        char l12[2048], l13[512];
        if (map_ciphers(t->ciphersuites, l12, l13, sizeof l13) < 0)
            return -1;
        /* As in Java, a version none of the listed suites serves is off. */
        if (!l12[0] && lo < TLS1_3_VERSION)
            lo = TLS1_3_VERSION;
        if (!l13[0] && hi > TLS1_2_VERSION)
            hi = TLS1_2_VERSION;
        if ((l12[0] && SSL_CTX_set_cipher_list(ctx, l12) != 1) ||
            SSL_CTX_set_ciphersuites(ctx, l13) != 1 || lo > hi) {
            log_ssl_errors(what);
            log_error("%s: ssl.ciphersuites '%s' leaves no usable protocol version", what,
                      t->ciphersuites);
            return -1;
        }
    }
    if (SSL_CTX_set_min_proto_version(ctx, lo) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, hi) != 1) {
        log_error("%s: OpenSSL refuses protocol versions 0x%04x..0x%04x (ssl.protocol / "
                  "ssl.enabledProtocols)", what, lo, hi);
        return -1;
    }
    return 0;
}

/* A context with t's identity, trust, protocols and checks; NULL (logged). */
static SSL_CTX *build(const struct tls_ctx *c)
{
    const struct zkd_tls_config *t = &c->t;
    SSL_CTX *ctx = SSL_CTX_new(c->server ? TLS_server_method() : TLS_client_method());
    char err[512];
    if (!ctx)
        return NULL;
    if (keystore_use_identity(ctx, t, err, sizeof err) ||
        (t->ca[0] && keystore_use_trust(ctx, t, err, sizeof err))) {
        log_error("%s: %s", c->what, err);
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (set_protocols(ctx, t, c->what)) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    /* fail closed: a certificate without a CRL in the trust store is refused.
     * With ssl.ocsp as well, OCSP answers first and CRLs are its fallback
     * (zk/ocsp.h), as Java's checker with ocsp.enable. */
    if (t->crl && !t->ocsp)
        X509_STORE_set_flags(SSL_CTX_get_cert_store(ctx),
                             X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
    if (c->ocsp)
        ocsp_checker_install(c->ocsp, ctx);
    int mode = SSL_VERIFY_NONE;
    if (!c->server)
        mode = SSL_VERIFY_PEER;
    else if (t->client_auth >= 1 && t->ca[0])
        mode = SSL_VERIFY_PEER | (t->client_auth == 2 ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0);
    SSL_CTX_set_verify(ctx, mode, NULL);
    /* A JSSE peer resumes the session of its last connection (a ticket);
     * OpenSSL refuses to resume a verified session without a session id
     * context ("session id context uninitialized"), which failed every
     * reconnection of an Apache member.  A rebuilt context (reload) has new
     * ticket keys, so a resumed session was verified by the current one. */
    if (c->server)
        SSL_CTX_set_session_id_context(ctx, (const unsigned char *)c->what,
                                       (unsigned)strlen(c->what));
    return ctx;
}

static void stat_files(const struct zkd_tls_config *t, struct stat seen[3])
{
    const char *paths[3] = {t->cert, t->key, t->ca};
    for (int i = 0; i < 3; i++)
        if (!paths[i][0] || stat(paths[i], &seen[i]))
            memset(&seen[i], 0, sizeof seen[i]);
}

static int same_file(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Rebuilds the context when a store file changed; a store that does not
 * load (half-written, wrong password) keeps the old one and is retried. */
static void maybe_reload(struct tls_ctx *c)
{
    struct stat now[3];
    stat_files(&c->t, now);
    if (same_file(&now[0], &c->seen[0]) && same_file(&now[1], &c->seen[1]) &&
        same_file(&now[2], &c->seen[2]))
        return;
    SSL_CTX *fresh = build(c);
    if (!fresh) {
        log_warn("%s: a store file changed but does not load; keeping the old certificates",
                 c->what);
        return;
    }
    SSL_CTX_free(c->ssl);
    c->ssl = fresh;
    memcpy(c->seen, now, sizeof now);
    log_info("%s: reloaded the key and trust stores", c->what);
}

static void ocsp_log(void *data, const char *line)
{
    (void)data;
    log_warn("%s", line);
}

static struct tls_ctx *ctx_new(const struct zkd_tls_config *t, const char *what, int server,
                               int verify_ip)
{
    struct tls_ctx *c = zk_xcalloc(1, sizeof *c);
    c->t = *t;
    c->what = what;
    c->server = server;
    c->verify_ip = verify_ip;
    if (t->ocsp)
        c->ocsp = ocsp_checker_new(what, ocsp_log, NULL);
    stat_files(t, c->seen);
    if (!(c->ssl = build(c))) {
        ocsp_checker_free(c->ocsp);
        free(c);
        return NULL;
    }
    return c;
}

struct tls_ctx *tls_ctx_new(const struct zkd_config *cfg)
{
    const struct zkd_tls_config *t = &cfg->tls;
    /* ClientX509Util: clients' host names are not checked unless asked. */
    return ctx_new(t, "TLS", 1, t->hostname_verification && t->client_hostname_verification == 1);
}

struct tls_ctx *tls_quorum_ctx_new(const struct zkd_config *cfg, int server)
{
    const struct zkd_tls_config *t = &cfg->tls_quorum;
    /* QuorumX509Util checks both ends; both present a certificate. */
    struct zkd_tls_config both = *t;
    both.client_auth = 2;
    int verify = t->hostname_verification && (!server || t->client_hostname_verification != 0);
    return ctx_new(&both, "quorum TLS", server, verify);
}

void tls_ctx_free(struct tls_ctx *ctx)
{
    if (!ctx)
        return;
    SSL_CTX_free(ctx->ssl);
    ocsp_checker_free(ctx->ocsp);
    free(ctx);
}

/* A connection on ctx; peer_ip is checked against the peer's certificate
 * when host name verification is on. */
static struct tls_conn *conn_new(struct tls_ctx *ctx, const char *peer_ip)
{
    if (ctx->t.reload)
        maybe_reload(ctx);
    struct tls_conn *t = zk_xcalloc(1, sizeof *t);
    t->ssl = SSL_new(ctx->ssl);
    t->rbio = BIO_new(BIO_s_mem());
    t->wbio = BIO_new(BIO_s_mem());
    SSL_set_bio(t->ssl, t->rbio, t->wbio);
    if (ctx->verify_ip && peer_ip &&
        !X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), peer_ip))
        log_warn("%s: cannot check the certificate of %s against its address", ctx->what,
                 peer_ip);
    return t;
}

struct tls_conn *tls_conn_new(struct tls_ctx *ctx, const char *peer_ip)
{
    struct tls_conn *t = conn_new(ctx, peer_ip);
    SSL_set_accept_state(t->ssl);
    return t;
}

static void drain(struct tls_conn *t, struct jute_out *cipher_out);

struct tls_conn *tls_conn_new_client(struct tls_ctx *ctx, const char *peer_ip,
                                     struct jute_out *cipher_out)
{
    struct tls_conn *t = conn_new(ctx, peer_ip);
    SSL_set_connect_state(t->ssl);
    SSL_do_handshake(t->ssl); /* the ClientHello */
    drain(t, cipher_out);
    return t;
}

void tls_conn_free(struct tls_conn *t)
{
    if (!t)
        return;
    SSL_free(t->ssl); /* frees both BIOs */
    free(t);
}

static void drain(struct tls_conn *t, struct jute_out *cipher_out)
{
    char buf[16384];
    int n;
    while ((n = BIO_read(t->wbio, buf, sizeof buf)) > 0)
        jute_put_raw(cipher_out, buf, (size_t)n);
}

int tls_conn_read(struct tls_conn *t, const void *in, size_t n, struct jute_out *plain,
                  struct jute_out *cipher_out)
{
    if (n && BIO_write(t->rbio, in, (int)n) != (int)n)
        return -1;
    int rc = 0;
    for (;;) {
        char buf[16384];
        int r = SSL_read(t->ssl, buf, sizeof buf);
        if (r > 0) {
            jute_put_raw(plain, buf, (size_t)r);
            continue;
        }
        int e = SSL_get_error(t->ssl, r);
        if (e == SSL_ERROR_ZERO_RETURN) {
            rc = 1;
        } else if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
            log_ssl_errors("TLS");
            rc = -1;
        }
        break;
    }
    drain(t, cipher_out);
    return rc;
}

int tls_conn_write(struct tls_conn *t, const void *plain, size_t n, struct jute_out *cipher_out)
{
    const char *p = plain;
    while (n) {
        int chunk = n > 65536 ? 65536 : (int)n;
        int w = SSL_write(t->ssl, p, chunk);
        if (w <= 0) {
            log_ssl_errors("TLS write");
            return -1;
        }
        p += w;
        n -= (size_t)w;
        drain(t, cipher_out);
    }
    return 0;
}

int tls_conn_ready(const struct tls_conn *t) { return SSL_is_init_finished(t->ssl); }

char *tls_conn_peer_dn(struct tls_conn *t)
{
    X509 *cert = SSL_get1_peer_certificate(t->ssl);
    if (!cert)
        return NULL;
    char *dn = NULL;
    if (SSL_get_verify_result(t->ssl) == X509_V_OK) {
        BIO *b = BIO_new(BIO_s_mem());
        X509_NAME_print_ex(b, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
        char *data;
        long len = BIO_get_mem_data(b, &data);
        dn = zk_xstrndup(data, (size_t)len);
        BIO_free(b);
    }
    X509_free(cert);
    return dn;
}
