/*
 * conn_tls.c - the TLS stream type: OpenSSL over memory BIOs on a libuv TCP
 * stream.
 *
 * libuv owns the socket, so OpenSSL never touches it: ciphertext read from
 * the socket is pushed into a read BIO, and whatever OpenSSL writes into its
 * write BIO is flushed to the socket after every call.  The handshake starts
 * as soon as TCP connects; the stream is "ready" for the session layer only
 * when the handshake has finished and the peer has been verified (chain
 * against the CA file or the system store, and the host name or IP address
 * of the connect string, or zk_tls_options.server_name).  Any TLS error is a
 * connection loss: the session layer then tries the next host, as it would
 * for a refused TCP connection.
 */
#include "conn.h"

#include "zk/jute.h"
#include "zk/ocsp.h"
#include "zk/proto.h"
#include "log.h"
#include "zk/zk.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tls_state {
    SSL *ssl;
    BIO *rbio; /* network -> OpenSSL */
    BIO *wbio; /* OpenSSL -> network */
    int ready;
};

/* The OCSP checker rides on its SSL_CTX (ex_data), freed with it. */
static pthread_once_t ocsp_once = PTHREAD_ONCE_INIT;
static int ocsp_index = -1;

static void free_checker(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                         void *argp)
{
    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    ocsp_checker_free(ptr);
}

static void ocsp_index_init(void)
{
    ocsp_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, free_checker);
}

static void ocsp_log(void *data, const char *line)
{
    (void)data;
    zk__log(ZK_LOG_ERROR, "%s", line);
}

/* Installs an OCSP checker on ctx; 0 or -1. */
static int use_ocsp(SSL_CTX *ctx)
{
    pthread_once(&ocsp_once, ocsp_index_init);
    if (ocsp_index < 0)
        return -1;
    struct ocsp_checker *c = ocsp_checker_new("TLS", ocsp_log, NULL);
    if (!SSL_CTX_set_ex_data(ctx, ocsp_index, c)) {
        ocsp_checker_free(c);
        return -1;
    }
    ocsp_checker_install(c, ctx);
    return 0;
}

int zk__conn_tls_ctx_new(const struct zk_tls_options *o, int ocsp, void **out)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx)
        return ZK_SYSTEMERROR;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (o->ca_file) {
        if (SSL_CTX_load_verify_locations(ctx, o->ca_file, NULL) != 1) {
            zk__log(ZK_LOG_ERROR, "cannot load CA file %s", o->ca_file);
            goto err_ctx;
        }
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        goto err_ctx;
    }
    if (o->cert_file && SSL_CTX_use_certificate_chain_file(ctx, o->cert_file) != 1) {
        zk__log(ZK_LOG_ERROR, "cannot load client certificate %s", o->cert_file);
        goto err_ctx;
    }
    if (o->key_file) {
        if (SSL_CTX_use_PrivateKey_file(ctx, o->key_file, SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(ctx) != 1) {
            zk__log(ZK_LOG_ERROR, "cannot load client key %s", o->key_file);
            goto err_ctx;
        }
    }
    SSL_CTX_set_verify(ctx, o->verify_peer ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
    if (ocsp && o->verify_peer && use_ocsp(ctx))
        goto err_ctx;
    *out = ctx;
    return 0;

err_ctx:
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return ZK_SYSTEMERROR;
}

void zk__conn_tls_ctx_free(void *ctx)
{
    SSL_CTX_free(ctx);
}

/* Sends whatever OpenSSL has produced. */
static int flush_wbio(struct conn *c)
{
    struct tls_state *t = c->tls;
    uint8_t buf[16384];
    int n;
    while ((n = BIO_read(t->wbio, buf, sizeof buf)) > 0) {
        if (zk__conn_raw_write(c, buf, (size_t)n) != 0)
            return ZK_CONNECTIONLOSS;
    }
    return 0;
}

static int is_ip_literal(const char *s)
{
    unsigned char tmp[16];
    return inet_pton(AF_INET, s, tmp) == 1 || inet_pton(AF_INET6, s, tmp) == 1;
}

/* The session layer passes the name to verify as peer_name: the host of the
 * connect string, zk_tls_options.server_name, or "" to skip the name check
 * (the chain is still verified when verify_peer is set). */
static int tls_start(struct conn *c)
{
    struct tls_state *t = zk_xcalloc(1, sizeof *t);
    c->tls = t;
    t->ssl = SSL_new(c->type_ctx);
    if (!t->ssl)
        return ZK_CONNECTIONLOSS;
    t->rbio = BIO_new(BIO_s_mem());
    t->wbio = BIO_new(BIO_s_mem());
    SSL_set_bio(t->ssl, t->rbio, t->wbio); /* the SSL owns both BIOs now */
    SSL_set_connect_state(t->ssl);
    const char *name = c->peer_name;
    if (name[0]) {
        if (is_ip_literal(name)) {
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), name);
        } else {
            SSL_set_tlsext_host_name(t->ssl, name);
            SSL_set1_host(t->ssl, name);
        }
    }
    int r = SSL_do_handshake(t->ssl);
    if (r <= 0 && SSL_get_error(t->ssl, r) != SSL_ERROR_WANT_READ)
        return ZK_CONNECTIONLOSS;
    return flush_wbio(c);
}

static void tls_fail(struct conn *c, const char *what)
{
    struct tls_state *t = c->tls;
    unsigned long e = ERR_get_error();
    long v = t && t->ssl ? SSL_get_verify_result(t->ssl) : X509_V_OK;
    if (v != X509_V_OK)
        zk__log(ZK_LOG_WARN, "TLS %s failed: %s", what, X509_verify_cert_error_string(v));
    else if (e)
        zk__log(ZK_LOG_WARN, "TLS %s failed: %s", what, ERR_error_string(e, NULL));
    ERR_clear_error();
    zk__conn_up_error(c, ZK_CONNECTIONLOSS);
}

static void tls_input(struct conn *c, const uint8_t *p, size_t n)
{
    struct tls_state *t = c->tls;
    if (!t || BIO_write(t->rbio, p, (int)n) != (int)n) {
        tls_fail(c, "read");
        return;
    }
    if (!t->ready) {
        int r = SSL_do_handshake(t->ssl);
        if (flush_wbio(c) != 0) {
            tls_fail(c, "write");
            return;
        }
        if (r <= 0) {
            if (SSL_get_error(t->ssl, r) != SSL_ERROR_WANT_READ)
                tls_fail(c, "handshake");
            return;
        }
        t->ready = 1;
        zk__conn_up_ready(c);
    }
    uint8_t buf[16384];
    while (!c->closing) {
        int r = SSL_read(t->ssl, buf, sizeof buf);
        if (r > 0) {
            zk__conn_up_data(c, buf, (size_t)r);
            continue;
        }
        int e = SSL_get_error(t->ssl, r);
        if (e == SSL_ERROR_WANT_READ)
            break;
        if (e == SSL_ERROR_ZERO_RETURN) {
            zk__conn_up_error(c, ZK_CONNECTIONLOSS);
            return;
        }
        tls_fail(c, "read");
        return;
    }
    if (!c->closing && flush_wbio(c) != 0)
        tls_fail(c, "write");
}

static int tls_write(struct conn *c, const uint8_t *p, size_t n)
{
    struct tls_state *t = c->tls;
    if (!t || !t->ready)
        return ZK_CONNECTIONLOSS;
    while (n > 0) {
        int chunk = n > (1u << 30) ? (1 << 30) : (int)n;
        int r = SSL_write(t->ssl, p, chunk);
        if (r <= 0)
            return ZK_CONNECTIONLOSS;
        p += r;
        n -= (size_t)r;
    }
    return flush_wbio(c);
}

static void tls_destroy(struct conn *c)
{
    struct tls_state *t = c->tls;
    if (!t)
        return;
    if (t->ssl)
        SSL_free(t->ssl);
    free(t);
    c->tls = NULL;
}

const struct conn_type zk__conn_tls_type = {
    .name = "tls",
    .start = tls_start,
    .input = tls_input,
    .write = tls_write,
    .destroy = tls_destroy,
};
