/*
 * keystore.h - loads the key and trust stores that ssl.keyStore.* and
 * ssl.trustStore.* (and their ssl.quorum.* twins) name into an OpenSSL
 * SSL_CTX, in the three formats Apache's X509Util reads:
 *
 *   PEM     certificates, and for a key store the private key, in one file
 *           (or zkd's ssl.certFile + ssl.keyFile); an encrypted key is opened
 *           with the key store password.  A PEM trust store may also carry
 *           CRLs, which ssl.crl=true checks.
 *   PKCS12  through OpenSSL's PKCS12_parse; the store password checks the MAC
 *           and decrypts the bags (keytool's default format since Java 9).
 *   JKS     through zkd's own parser (jks.h); the password checks the store's
 *           integrity and decrypts the key entry.
 *
 * The format is the one finish_tls() in config.c resolved (.type key, else
 * the file name).  A key store must hold one private key with its chain (the
 * first key entry is used); a trust store at least one certificate.  Errors
 * name the file and say what is wrong ("wrong password"), for the start-up
 * message.
 */
#ifndef ZKD_KEYSTORE_H
#define ZKD_KEYSTORE_H

#include <openssl/ssl.h>
#include <stddef.h>

#include "config.h"

/* Puts t's certificate chain and private key into ctx.  Returns 0, or -1
 * with the reason in err (size errlen). */
int keystore_use_identity(SSL_CTX *ctx, const struct zkd_tls_config *t, char *err, size_t errlen);

/* Adds the certificates (and, for PEM, CRLs) of t's trust store to ctx's
 * verification store.  Returns 0, or -1 with the reason in err. */
int keystore_use_trust(SSL_CTX *ctx, const struct zkd_tls_config *t, char *err, size_t errlen);

#endif
