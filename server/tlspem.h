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
/* Wipes and frees a key from tlspem_identity (NULL is fine). */
void tlspem_free_key(char *key_pem);

#endif
