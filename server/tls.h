/*
 * tls.h - TLS for client connections (OpenSSL), on `secureClientPort`.
 *
 * OpenSSL runs over memory BIOs so libuv keeps owning the socket: ciphertext
 * read from the socket is fed in with tls_conn_read(), which yields the
 * plaintext frames and any bytes OpenSSL must send back (handshake, alerts);
 * replies are encrypted with tls_conn_write().  Key and trust stores are PEM,
 * PKCS12 or JKS (keystore.h), or zkd's ssl.certFile / ssl.keyFile /
 * ssl.caFile PEM files; see docs/zkd.md.
 *
 * With ssl.clientAuth=want|need a client certificate is verified against the
 * CA file and its subject (RFC 2253, as Java's X500Principal.getName())
 * becomes the connection's `x509` identity for ACLs.
 */
#ifndef ZKD_TLS_H
#define ZKD_TLS_H

#include <stddef.h>

#include "config.h"
#include "zk/jute.h"

struct tls_conn;
struct tls_ctx;

/*
 * The client port's context (ssl.*): the key store's identity, the trust
 * store for client certificates (ssl.clientAuth), protocol versions and
 * cipher suites, CRL checks (ssl.crl) and OCSP (ssl.ocsp, zk/ocsp.h), the client's IP address checked
 * against its certificate when ssl.clientHostnameVerification=true, and
 * reloading of changed store files (client.certReload).  NULL with the
 * reason logged (a wrong password, an unknown cipher suite...).
 */
struct tls_ctx *tls_ctx_new(const struct zkd_config *cfg);
void tls_ctx_free(struct tls_ctx *ctx);

/* The context for links between ensemble members (sslQuorum, ssl.quorum.*):
 * server or client end, each presenting its certificate and requiring the
 * peer's, and (ssl.quorum.hostnameVerification, on by default as in Apache)
 * checking that the peer's certificate names its IP address.  Reloads with
 * sslQuorumReloadCertFiles.  NULL with the reason logged. */
struct tls_ctx *tls_quorum_ctx_new(const struct zkd_config *cfg, int server);

/* The accepting end of a connection from peer_ip (numeric; may be NULL). */
struct tls_conn *tls_conn_new(struct tls_ctx *ctx, const char *peer_ip);
/* The connecting end, to peer_ip; the ClientHello is appended to `cipher_out`. */
struct tls_conn *tls_conn_new_client(struct tls_ctx *ctx, const char *peer_ip,
                                     struct jute_out *cipher_out);
void tls_conn_free(struct tls_conn *t);

/*
 * Feeds `n` bytes of ciphertext.  Appends decrypted bytes to `plain` and
 * bytes to send to `cipher_out`.  Returns 0; 1 when the peer closed the
 * session (close_notify); -1 when it failed (the reason logged).  On either
 * the caller closes the connection after sending cipher_out.
 */
int tls_conn_read(struct tls_conn *t, const void *in, size_t n, struct jute_out *plain,
                  struct jute_out *cipher_out);
/* Encrypts `n` bytes, appending the records to `cipher_out`.  Returns 0 or -1. */
int tls_conn_write(struct tls_conn *t, const void *plain, size_t n, struct jute_out *cipher_out);
/* Whether the handshake has finished. */
int tls_conn_ready(const struct tls_conn *t);
/* The verified client certificate's subject DN (heap string), or NULL. */
char *tls_conn_peer_dn(struct tls_conn *t);

#endif
