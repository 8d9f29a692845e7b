/*
 * tlspem.c - see tlspem.h.  The store goes through keystore_use_identity
 * into a scratch SSL_CTX, and comes back out of it as PEM.
 */
#include "tlspem.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keystore.h"
#include "zk/jute.h"

/* The text a memory BIO holds, as a heap string. */
static char *bio_text(BIO *b)
{
    char *p = NULL;
    long n = BIO_get_mem_data(b, &p);
    char *s = zk_xmalloc((size_t)n + 1);
    memcpy(s, p, (size_t)n);
    s[n] = '\0';
    return s;
}

int tlspem_identity(const struct zkd_tls_config *t, char **key_pem, char **cert_pem, char *err,
                    size_t errlen)
{
    *key_pem = *cert_pem = NULL;
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        snprintf(err, errlen, "cannot create a TLS context");
        return -1;
    }
    int rc = -1;
    BIO *kb = BIO_new(BIO_s_secmem()), *cb = BIO_new(BIO_s_mem());
    if (keystore_use_identity(ctx, t, err, errlen))
        goto out;
    X509 *cert = SSL_CTX_get0_certificate(ctx);
    EVP_PKEY *key = SSL_CTX_get0_privatekey(ctx);
    STACK_OF(X509) *chain = NULL;
    SSL_CTX_get0_chain_certs(ctx, &chain);
    if (!kb || !cb || !cert || !key || !PEM_write_bio_X509(cb, cert) ||
        !PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL)) {
        snprintf(err, errlen, "cannot export the key store's identity as PEM");
        goto out;
    }
    for (int i = 0; chain && i < sk_X509_num(chain); i++)
        if (!PEM_write_bio_X509(cb, sk_X509_value(chain, i))) {
            snprintf(err, errlen, "cannot export the key store's chain as PEM");
            goto out;
        }
    *key_pem = bio_text(kb);
    *cert_pem = bio_text(cb);
    rc = 0;
out:
    BIO_free(kb); /* a memory BIO: its buffer goes with it */
    BIO_free(cb);
    SSL_CTX_free(ctx);
    ERR_clear_error();
    return rc;
}

int tlspem_trust(const struct zkd_tls_config *t, char **ca_pem, char *err, size_t errlen)
{
    *ca_pem = NULL;
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    BIO *b = BIO_new(BIO_s_mem());
    int rc = -1, n = 0;
    if (!ctx || !b) {
        snprintf(err, errlen, "cannot create a TLS context");
        goto out;
    }
    if (keystore_use_trust(ctx, t, err, errlen))
        goto out;
    STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(SSL_CTX_get_cert_store(ctx));
    for (int i = 0; i < sk_X509_OBJECT_num(objs); i++) {
        X509 *x = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));
        if (x && !PEM_write_bio_X509(b, x)) {
            snprintf(err, errlen, "cannot export the trust store as PEM");
            goto out;
        }
        n += x != NULL;
    }
    if (!n) {
        snprintf(err, errlen, "the trust store %s holds no certificate", t->ca);
        goto out;
    }
    *ca_pem = bio_text(b);
    rc = 0;
out:
    BIO_free(b);
    SSL_CTX_free(ctx);
    ERR_clear_error();
    return rc;
}

char *tlspem_der_subject(const void *der, size_t len)
{
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    BIO *b = BIO_new(BIO_s_mem());
    char *dn = NULL;
    if (x && b && X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253) >= 0)
        dn = bio_text(b);
    BIO_free(b);
    X509_free(x);
    ERR_clear_error();
    return dn;
}

void tlspem_free_key(char *key_pem)
{
    if (!key_pem)
        return;
    OPENSSL_cleanse(key_pem, strlen(key_pem));
    free(key_pem);
}
