/*
 * tls.c - see tls.h.
 */
#include "tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

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

static int password_cb(char *buf, int size, int rwflag, void *u)
{
    (void)rwflag;
    const char *pw = u;
    int n = (int)strlen(pw);
    if (n >= size)
        n = size - 1;
    memcpy(buf, pw, (size_t)n);
    return n;
}

/* A TLS 1.2+ context holding `cert` (chain) and `key` (`password` for an
 * encrypted key; "" for none), trusting `ca` when given.  NULL with the
 * reason logged. */
static SSL_CTX *ctx_with_identity(const SSL_METHOD *method, const char *what, const char *cert,
                                  const char *key, const char *password, const char *ca)
{
    SSL_CTX *ctx = SSL_CTX_new(method);
    if (!ctx)
        return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (password[0]) {
        SSL_CTX_set_default_passwd_cb(ctx, password_cb);
        SSL_CTX_set_default_passwd_cb_userdata(ctx, (void *)password);
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        log_ssl_errors(what);
        log_error("cannot load the %s certificate %s and key %s", what, cert, key);
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (ca[0] && SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
        log_ssl_errors(what);
        log_error("cannot load the %s CA file %s", what, ca);
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

void *tls_ctx_new(const struct zkd_config *cfg)
{
    SSL_CTX *ctx = ctx_with_identity(TLS_server_method(), "TLS", cfg->ssl_cert,
                                     cfg->ssl_key[0] ? cfg->ssl_key : cfg->ssl_cert,
                                     cfg->ssl_key_password, cfg->ssl_ca);
    if (!ctx)
        return NULL;
    int mode = SSL_VERIFY_NONE;
    if (cfg->ssl_client_auth >= 1 && cfg->ssl_ca[0])
        mode = SSL_VERIFY_PEER;
    if (cfg->ssl_client_auth == 2 && cfg->ssl_ca[0])
        mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(ctx, mode, NULL);
    return ctx;
}

void tls_ctx_free(void *ctx) { SSL_CTX_free(ctx); }

void *tls_quorum_ctx_new(const struct zkd_config *cfg, int server)
{
    SSL_CTX *ctx = ctx_with_identity(server ? TLS_server_method() : TLS_client_method(),
                                     "quorum TLS", cfg->ssl_quorum_cert,
                                     cfg->ssl_quorum_key[0] ? cfg->ssl_quorum_key
                                                            : cfg->ssl_quorum_cert,
                                     cfg->ssl_quorum_key_password, cfg->ssl_quorum_ca);
    if (!ctx)
        return NULL;
    /* Both ends prove membership with a certificate from the ensemble's CA. */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    return ctx;
}

struct tls_conn *tls_conn_new(void *ctx)
{
    struct tls_conn *t = zk_xcalloc(1, sizeof *t);
    t->ssl = SSL_new(ctx);
    t->rbio = BIO_new(BIO_s_mem());
    t->wbio = BIO_new(BIO_s_mem());
    SSL_set_bio(t->ssl, t->rbio, t->wbio);
    SSL_set_accept_state(t->ssl);
    return t;
}

static void drain(struct tls_conn *t, struct jute_out *cipher_out);

struct tls_conn *tls_conn_new_client(void *ctx, struct jute_out *cipher_out)
{
    struct tls_conn *t = zk_xcalloc(1, sizeof *t);
    t->ssl = SSL_new(ctx);
    t->rbio = BIO_new(BIO_s_mem());
    t->wbio = BIO_new(BIO_s_mem());
    SSL_set_bio(t->ssl, t->rbio, t->wbio);
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
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
            if (e != SSL_ERROR_ZERO_RETURN)
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
