/*
 * ocsp.h - certificate revocation checks through OCSP (RFC 6960) for zkd's
 * and libzk's TLS, on OpenSSL.  Not part of libzk's public API.
 *
 * What Apache ZooKeeper does with ssl.ocsp=true (X509Util in 3.8/3.9:
 * revocation on, Java's ocsp.enable): Java's PKIX revocation checker
 * asks, for every certificate of the peer's verified chain except the
 * trust anchor, the OCSP responder named in the certificate's Authority
 * Information Access extension; when OCSP cannot say (no responder URL,
 * responder unreachable, an unusable or unknown-status answer) it falls
 * back to CRLs; and when neither says, the certificate is refused (no
 * soft fail).  The same here: OCSP first, then the CRLs the trust store
 * holds (zkd downloads no CRL distribution points), then refuse.
 *
 * An answer (good or revoked) is cached per certificate until the
 * response's nextUpdate; one without nextUpdate is not cached (Java caches
 * none).  Failures are not cached: the next handshake asks again.
 *
 * The lookup is a blocking HTTP POST (OpenSSL's OSSL_HTTP_transfer on a
 * connection made here, no proxy) inside the handshake, on the thread
 * running it: connecting, sending and receiving each bounded by
 * OCSP_TIMEOUT_S; a refused connection fails at once.  The cache keeps
 * that to the first handshake of each certificate per validity period.
 */
#ifndef ZK_OCSP_H
#define ZK_OCSP_H

#include <openssl/ssl.h>

#define OCSP_TIMEOUT_S 5

struct ocsp_checker;

/* Receives each refusal's or failure's reason (one line, without newline). */
typedef void (*ocsp_log_fn)(void *data, const char *line);

/* A checker whose messages start with `what` (e.g. "TLS"), logged through
 * log(data, line).  Free with ocsp_checker_free after every SSL_CTX it was
 * installed on. */
struct ocsp_checker *ocsp_checker_new(const char *what, ocsp_log_fn log, void *data);
void ocsp_checker_free(struct ocsp_checker *c);
/* Makes ctx's certificate verification run OpenSSL's chain check, then the
 * revocation check above on the verified chain (the verify result becomes
 * X509_V_ERR_CERT_REVOKED or X509_V_ERR_UNABLE_TO_GET_CRL on a refusal).
 * One thread at a time per checker. */
void ocsp_checker_install(struct ocsp_checker *c, SSL_CTX *ctx);

/* Number of entries in the answer cache (tests). */
int ocsp_checker_cached(const struct ocsp_checker *c);

#endif
