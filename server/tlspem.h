/*
 * tlspem.h - a key store's identity as PEM text, for TLS stacks that take
 * the key and certificate chain in memory (libmicrohttpd/GnuTLS, which
 * serves the AdminServer's HTTPS).  The store is read by keystore.c, so the
 * same PEM, PKCS12 and JKS stores and passwords work as for the client and
 * quorum ports.
 */
#ifndef ZKD_TLSPEM_H
#define ZKD_TLSPEM_H

#include <stddef.h>

#include "config.h"

/* Loads t's key store.  OUT: *key_pem (the private key, unencrypted PKCS#8)
 * and *cert_pem (the certificate, then its chain), heap strings the caller
 * frees (the key with tlspem_free_key, which wipes it).  Returns 0, or -1
 * with the reason in err. */
int tlspem_identity(const struct zkd_tls_config *t, char **key_pem, char **cert_pem, char *err,
                    size_t errlen);
/* Loads t's trust store (t->ca, any store type keystore.c reads).  OUT:
 * *ca_pem, its certificates as PEM, a heap string the caller frees.  Returns
 * 0, or -1 with the reason in err (also when it holds no certificate). */
int tlspem_trust(const struct zkd_tls_config *t, char **ca_pem, char *err, size_t errlen);
/* The subject of the DER certificate `der` as RFC 2253 text, the form of
 * Java's X500Principal.getName() and of tls.c's x509 ids; a heap string the
 * caller frees, or NULL if it does not decode. */
char *tlspem_der_subject(const void *der, size_t len);
/* Wipes and frees a key from tlspem_identity (NULL is fine). */
void tlspem_free_key(char *key_pem);

#endif
