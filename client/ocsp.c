/*
 * ocsp.c - see zk/ocsp.h.
 *
 * Per certificate of the chain (leaf first, trust anchor skipped):
 *   1. the cache, keyed by the DER of the certificate's OCSP CertID (issuer
 *      name and key hashes and serial number), valid until nextUpdate;
 *   2. an OCSP request to the first http:// URL of the certificate's
 *      Authority Information Access; the basic response must be signed by
 *      the issuer or a responder it delegated to (OCSP_basic_verify against
 *      the TLS context's trust store), and be current (thisUpdate not in
 *      the future, nextUpdate not past, 5 minutes' leeway);
 *   3. if OCSP gave no answer: the trust store's CRLs of the issuer
 *      (signature and nextUpdate checked);
 *   4. otherwise the certificate is refused, as Java's hard-fail checker.
 */
#include "zk/ocsp.h"

#include "zk/jute.h"

#include <openssl/err.h>
#include <openssl/http.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CACHE_MAX 256
#define MAX_RESPONSE (100 * 1024)
#define LEEWAY_S 300

enum verdict { V_GOOD, V_REVOKED, V_UNKNOWN };

struct cached {
    unsigned char key[128];
    int keylen;
    enum verdict v;
    time_t until;
    char why[200]; /* the responder's verdict, for a refusal from the cache */
};

struct ocsp_checker {
    char what[32];
    ocsp_log_fn log;
    void *data;
    struct cached cache[CACHE_MAX];
    int n, next_evict;
};

static void say(const struct ocsp_checker *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void say(const struct ocsp_checker *c, const char *fmt, ...)
{
    char line[1024];
    int n = snprintf(line, sizeof line, "%s: ", c->what);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    if (c->log)
        c->log(c->data, line);
}

struct ocsp_checker *ocsp_checker_new(const char *what, ocsp_log_fn log, void *data)
{
    struct ocsp_checker *c = zk_xcalloc(1, sizeof *c);
    snprintf(c->what, sizeof c->what, "%s", what);
    c->log = log;
    c->data = data;
    return c;
}

void ocsp_checker_free(struct ocsp_checker *c) { free(c); }

int ocsp_checker_cached(const struct ocsp_checker *c) { return c->n; }

static struct cached *cache_find(struct ocsp_checker *c, const unsigned char *key, int len)
{
    time_t now = time(NULL);
    for (int i = 0; i < c->n; i++)
        if (c->cache[i].keylen == len && !memcmp(c->cache[i].key, key, (size_t)len))
            return c->cache[i].until > now ? &c->cache[i] : NULL;
    return NULL;
}

static void cache_put(struct ocsp_checker *c, const unsigned char *key, int len, enum verdict v,
                      time_t until, const char *why)
{
    if (len > (int)sizeof c->cache[0].key)
        return;
    struct cached *e = NULL;
    for (int i = 0; i < c->n && !e; i++)
        if (c->cache[i].keylen == len && !memcmp(c->cache[i].key, key, (size_t)len))
            e = &c->cache[i];
    if (!e && c->n < CACHE_MAX)
        e = &c->cache[c->n++];
    if (!e) { /* full: replace in turn (entries expire anyway) */
        e = &c->cache[c->next_evict];
        c->next_evict = (c->next_evict + 1) % CACHE_MAX;
    }
    memcpy(e->key, key, (size_t)len);
    e->keylen = len;
    e->v = v;
    e->until = until;
    snprintf(e->why, sizeof e->why, "%s", why);
}

static void subject_of(X509 *x, char *buf, size_t cap)
{
    X509_NAME_oneline(X509_get_subject_name(x), buf, (int)cap);
}

static void openssl_error(char *buf, size_t cap)
{
    unsigned long e = ERR_peek_last_error();
    if (e)
        ERR_error_string_n(e, buf, cap);
    else
        snprintf(buf, cap, "no detail");
    ERR_clear_error();
}

/*
 * A connection to host:port within OCSP_TIMEOUT_S, reads and writes then
 * bounded by it too.  Made here rather than by OSSL_HTTP_transfer, which
 * retries a refused connection until its timeout: a responder that is down
 * would cost every handshake the whole timeout.  -1 with errno.
 */
static int dial(const char *host, const char *port)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    if (getaddrinfo(host, port, &hints, &ai) != 0 || !ai) {
        errno = EHOSTUNREACH;
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int rc = fd < 0 ? -1 : connect(fd, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    if (rc < 0 && fd >= 0 && errno == EINPROGRESS) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int err = 0;
        socklen_t len = sizeof err;
        if (poll(&p, 1, OCSP_TIMEOUT_S * 1000) != 1)
            errno = ETIMEDOUT;
        else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err)
            errno = err;
        else
            rc = 0;
    }
    struct timeval tv = {.tv_sec = OCSP_TIMEOUT_S};
    if (rc < 0 || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* POSTs req to url; the response, or NULL with why (size cap). */
static OCSP_RESPONSE *fetch(const char *url, OCSP_REQUEST *req, char *why, size_t cap)
{
    char *host = NULL, *port = NULL, *path = NULL;
    int tls = 0;
    OCSP_RESPONSE *resp = NULL;
    if (!OSSL_HTTP_parse_url(url, &tls, NULL, &host, &port, NULL, &path, NULL, NULL)) {
        snprintf(why, cap, "cannot parse responder URL %s", url);
        goto out;
    }
    if (tls) {
        snprintf(why, cap, "responder %s is https; only http responders are supported", url);
        goto out;
    }
    int fd = dial(host, port);
    if (fd < 0) {
        snprintf(why, cap, "responder %s unreachable (%s)", url, strerror(errno));
        goto out;
    }
    BIO *sock = BIO_new_socket(fd, BIO_CLOSE);
    BIO *body = ASN1_item_i2d_mem_bio(ASN1_ITEM_rptr(OCSP_REQUEST), (const ASN1_VALUE *)req);
    BIO *in = sock && body ? OSSL_HTTP_transfer(NULL, host, port, path, 0, NULL, NULL, sock,
                                                sock, NULL, NULL, 0, NULL,
                                                "application/ocsp-request", body,
                                                "application/ocsp-response", 1, MAX_RESPONSE,
                                                OCSP_TIMEOUT_S, 0)
                           : NULL;
    if (in)
        resp = ASN1_item_d2i_bio(ASN1_ITEM_rptr(OCSP_RESPONSE), in, NULL);
    if (!resp) {
        char e[256];
        openssl_error(e, sizeof e);
        snprintf(why, cap, "responder %s: no answer or an unreadable one (%s)", url, e);
    }
    if (in != sock)
        BIO_free(in);
    BIO_free(body);
    if (sock)
        BIO_free(sock);
    else
        close(fd);
out:
    OPENSSL_free(host);
    OPENSSL_free(port);
    OPENSSL_free(path);
    return resp;
}

/* Asks the certificate's responder.  V_GOOD/V_REVOKED (OUT *until: the
 * answer's nextUpdate, 0 if none), or V_UNKNOWN with why. */
static enum verdict ask_responder(X509_STORE_CTX *sctx, X509 *cert, OCSP_CERTID *id,
                                  time_t *until, char *why, size_t cap)
{
    enum verdict v = V_UNKNOWN;
    *until = 0;
    STACK_OF(OPENSSL_STRING) *urls = X509_get1_ocsp(cert);
    if (!urls || sk_OPENSSL_STRING_num(urls) == 0) {
        snprintf(why, cap, "no OCSP responder in its Authority Information Access");
        X509_email_free(urls);
        return V_UNKNOWN;
    }
    const char *url = sk_OPENSSL_STRING_value(urls, 0);
    OCSP_REQUEST *req = OCSP_REQUEST_new();
    OCSP_BASICRESP *bs = NULL;
    OCSP_RESPONSE *resp = NULL;
    if (!req || !OCSP_request_add0_id(req, OCSP_CERTID_dup(id))) {
        snprintf(why, cap, "cannot build an OCSP request");
        goto out;
    }
    if (!(resp = fetch(url, req, why, cap)))
        goto out;
    int st = OCSP_response_status(resp);
    if (st != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
        snprintf(why, cap, "responder %s answered %s", url, OCSP_response_status_str(st));
        goto out;
    }
    bs = OCSP_response_get1_basic(resp);
    STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(sctx);
    if (!bs || OCSP_basic_verify(bs, chain, X509_STORE_CTX_get0_store(sctx), 0) <= 0) {
        char e[256];
        openssl_error(e, sizeof e);
        snprintf(why, cap, "responder %s: its answer's signature does not verify (%s)", url, e);
        goto out;
    }
    int status, reason;
    ASN1_GENERALIZEDTIME *rev, *thisupd, *nextupd;
    if (!OCSP_resp_find_status(bs, id, &status, &reason, &rev, &thisupd, &nextupd)) {
        snprintf(why, cap, "responder %s: its answer is not about this certificate", url);
        goto out;
    }
    if (!OCSP_check_validity(thisupd, nextupd, LEEWAY_S, -1)) {
        ERR_clear_error();
        snprintf(why, cap, "responder %s: its answer is not current", url);
        goto out;
    }
    if (status == V_OCSP_CERTSTATUS_UNKNOWN) {
        snprintf(why, cap, "responder %s does not know it (status unknown)", url);
        goto out;
    }
    if (nextupd) {
        struct tm tm;
        if (ASN1_TIME_to_tm(nextupd, &tm))
            *until = timegm(&tm);
    }
    v = status == V_OCSP_CERTSTATUS_GOOD ? V_GOOD : V_REVOKED;
    if (v == V_REVOKED)
        snprintf(why, cap, "responder %s says revoked (reason: %s)", url,
                 reason >= 0 ? OCSP_crl_reason_str(reason) : "unspecified");
out:
    OCSP_BASICRESP_free(bs);
    OCSP_RESPONSE_free(resp);
    OCSP_REQUEST_free(req);
    X509_email_free(urls);
    return v;
}

/* Java's fallback: the trust store's current CRLs signed by `issuer`. */
static enum verdict ask_crls(X509_STORE_CTX *sctx, X509 *cert, X509 *issuer)
{
    STACK_OF(X509_CRL) *crls = X509_STORE_CTX_get1_crls(sctx, X509_get_issuer_name(cert));
    enum verdict v = V_UNKNOWN;
    EVP_PKEY *key = X509_get0_pubkey(issuer);
    for (int i = 0; i < sk_X509_CRL_num(crls) && v != V_REVOKED; i++) {
        X509_CRL *crl = sk_X509_CRL_value(crls, i);
        const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl);
        if (!key || X509_CRL_verify(crl, key) <= 0 || (next && X509_cmp_current_time(next) < 0))
            continue;
        X509_REVOKED *r = NULL;
        v = X509_CRL_get0_by_cert(crl, &r, cert) == 1 ? V_REVOKED : V_GOOD;
    }
    ERR_clear_error();
    sk_X509_CRL_pop_free(crls, X509_CRL_free);
    return v;
}

/* One certificate; 0 = not revoked, else the X509_V_ERR_* to fail with. */
static int check_one(struct ocsp_checker *c, X509_STORE_CTX *sctx, X509 *cert, X509 *issuer)
{
    char subject[256], why[768] = "";
    OCSP_CERTID *id = OCSP_cert_to_id(NULL, cert, issuer);
    unsigned char *der = NULL;
    int len = id ? i2d_OCSP_CERTID(id, &der) : -1;
    subject_of(cert, subject, sizeof subject);
    if (len <= 0) {
        OCSP_CERTID_free(id);
        say(c, "refusing certificate %s: cannot compute its OCSP id", subject);
        return X509_V_ERR_UNABLE_TO_GET_CRL;
    }
    struct cached *hit = cache_find(c, der, len);
    enum verdict v;
    if (hit) {
        v = hit->v;
        snprintf(why, sizeof why, "%s (cached answer)", hit->why);
    } else {
        time_t until;
        v = ask_responder(sctx, cert, id, &until, why, sizeof why);
        if (v != V_UNKNOWN && until > time(NULL))
            cache_put(c, der, len, v, until, why);
        if (v == V_UNKNOWN) {
            v = ask_crls(sctx, cert, issuer);
            if (v == V_REVOKED)
                snprintf(why + strlen(why), sizeof why - strlen(why),
                         "; a CRL in the trust store lists it");
        }
    }
    OPENSSL_free(der);
    OCSP_CERTID_free(id);
    if (v == V_GOOD)
        return 0;
    if (v == V_REVOKED) {
        say(c, "refusing certificate %s: revoked: %s", subject, why);
        return X509_V_ERR_CERT_REVOKED;
    }
    say(c, "refusing certificate %s: revocation status undetermined: %s, and no CRL in the "
           "trust store covers it (ssl.ocsp: Java's checker fails closed too)", subject, why);
    return X509_V_ERR_UNABLE_TO_GET_CRL;
}

static int verify(X509_STORE_CTX *sctx, void *arg)
{
    struct ocsp_checker *c = arg;
    int ok = X509_verify_cert(sctx);
    if (ok <= 0)
        return ok;
    STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(sctx);
    for (int i = 0; i + 1 < sk_X509_num(chain); i++) {
        int err = check_one(c, sctx, sk_X509_value(chain, i), sk_X509_value(chain, i + 1));
        if (err) {
            X509_STORE_CTX_set_error_depth(sctx, i);
            X509_STORE_CTX_set_current_cert(sctx, sk_X509_value(chain, i));
            X509_STORE_CTX_set_error(sctx, err);
            return 0;
        }
    }
    return 1;
}

void ocsp_checker_install(struct ocsp_checker *c, SSL_CTX *ctx)
{
    SSL_CTX_set_cert_verify_callback(ctx, verify, c);
}
