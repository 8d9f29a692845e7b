/*
 * keystore.c - see keystore.h.  Each format has one reader that yields the
 * same three things (private key, leaf certificate, other certificates);
 * the two public functions then hand them to OpenSSL.
 */
#include "keystore.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "jks.h"

#define STORE_MAX (16 << 20) /* a store bigger than this is a mistake */

/* What a store holds, whatever its format. */
struct store_items {
    EVP_PKEY *key;          /* NULL when none */
    X509 *leaf;             /* the key's certificate; NULL when none */
    STACK_OF(X509) *others; /* chain (key store) or trusted certificates */
};

static void items_free(struct store_items *it)
{
    EVP_PKEY_free(it->key);
    X509_free(it->leaf);
    sk_X509_pop_free(it->others, X509_free);
    memset(it, 0, sizeof *it);
}

static int errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int errf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* The last OpenSSL error as text (and the queue emptied), for messages. */
static const char *ssl_reason(void)
{
    static char buf[256];
    unsigned long e = ERR_peek_last_error();
    if (!e)
        return "unknown error";
    ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    return buf;
}

/* Reads a whole file (at most STORE_MAX bytes) into a heap buffer. */
static uint8_t *slurp(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        errf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    uint8_t *buf = NULL;
    size_t n = 0;
    if (fstat(fileno(f), &st) == 0 && st.st_size <= STORE_MAX &&
        (buf = malloc((size_t)st.st_size + 1)))
        n = fread(buf, 1, (size_t)st.st_size + 1, f);
    int bad = !buf || ferror(f) || n != (size_t)st.st_size;
    fclose(f);
    if (bad) {
        free(buf);
        errf(err, errlen, "%s: cannot read (or larger than 16 MiB)", path);
        return NULL;
    }
    *len = n;
    return buf;
}

/* ---- PKCS12 ---- */

static int read_pkcs12(const char *path, const char *password, struct store_items *it, char *err,
                       size_t errlen)
{
    size_t len;
    uint8_t *buf = slurp(path, &len, err, errlen);
    if (!buf)
        return -1;
    const unsigned char *p = buf;
    PKCS12 *p12 = d2i_PKCS12(NULL, &p, (long)len);
    free(buf);
    if (!p12)
        return errf(err, errlen, "%s: not a PKCS12 store (%s)", path, ssl_reason());
    /* keytool always sets a MAC; an empty password may also mean "none". */
    const char *pw = password;
    if (!PKCS12_verify_mac(p12, pw, -1)) {
        pw = !*password && PKCS12_verify_mac(p12, NULL, 0) ? NULL : password;
        if (pw) {
            PKCS12_free(p12);
            ERR_clear_error();
            return errf(err, errlen, "%s: wrong password, or the PKCS12 store is corrupt", path);
        }
    }
    int ok = PKCS12_parse(p12, pw, &it->key, &it->leaf, &it->others);
    PKCS12_free(p12);
    if (!ok)
        return errf(err, errlen, "%s: cannot read the PKCS12 store (%s)", path, ssl_reason());
    return 0;
}

/* ---- JKS ---- */

static X509 *der_cert(struct jks_blob b)
{
    const unsigned char *p = b.der;
    return d2i_X509(NULL, &p, (long)b.len);
}

/* The first key entry (key store) or every trusted certificate (trust store). */
static int jks_items(const struct jks_store *ks, int want_key, struct store_items *it)
{
    it->others = sk_X509_new_null();
    for (size_t i = 0; i < ks->nentries; i++) {
        const struct jks_entry *e = &ks->entries[i];
        if (want_key && e->is_key && !it->key) {
            const unsigned char *p = e->pkcs8;
            PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)e->pkcs8_len);
            it->key = p8 ? EVP_PKCS82PKEY(p8) : NULL;
            PKCS8_PRIV_KEY_INFO_free(p8);
            it->leaf = der_cert(e->certs[0]);
            for (size_t j = 1; j < e->ncerts; j++) {
                X509 *x = der_cert(e->certs[j]);
                if (!x || !sk_X509_push(it->others, x)) {
                    X509_free(x);
                    return -1;
                }
            }
            if (!it->key || !it->leaf)
                return -1;
        } else if (!want_key && !e->is_key) {
            X509 *x = der_cert(e->certs[0]);
            if (!x || !sk_X509_push(it->others, x)) {
                X509_free(x);
                return -1;
            }
        }
    }
    return 0;
}

static int read_jks(const char *path, const char *password, int want_key, struct store_items *it,
                    char *err, size_t errlen)
{
    size_t len;
    uint8_t *buf = slurp(path, &len, err, errlen);
    if (!buf)
        return -1;
    struct jks_store ks;
    char why[200];
    /* Java skips a trust store's integrity check when it has no password. */
    const char *pw = want_key || *password ? password : NULL;
    int rc = jks_parse(buf, len, pw, &ks, why, sizeof why);
    if (rc == 0) {
        if (jks_items(&ks, want_key, it) < 0)
            rc = errf(err, errlen, "%s: a certificate or key in the JKS store is malformed (%s)",
                      path, ssl_reason());
        jks_free(&ks);
    } else {
        errf(err, errlen, "%s: %s", path, why);
    }
    free(buf);
    return rc;
}

/* ---- PEM ---- */

static int pem_password(char *buf, int size, int rwflag, void *u)
{
    (void)rwflag;
    int n = (int)strlen(u);
    if (n >= size)
        n = size - 1;
    memcpy(buf, u, (size_t)n);
    return n;
}

/* Certificates (first = leaf) and, when want_key, the private key of `cert`
 * (the key from `key` when that is set). */
static int read_pem(const char *cert, const char *key, const char *password, int want_key,
                    struct store_items *it, char *err, size_t errlen)
{
    FILE *f = fopen(cert, "r");
    if (!f)
        return errf(err, errlen, "%s: %s", cert, strerror(errno));
    it->others = sk_X509_new_null();
    X509 *x;
    while ((x = PEM_read_X509(f, NULL, NULL, NULL)))
        if (!it->leaf && want_key)
            it->leaf = x;
        else
            sk_X509_push(it->others, x);
    ERR_clear_error(); /* the end of the file reads as an error */
    fclose(f);
    if (!want_key)
        return 0;
    if (!it->leaf)
        return errf(err, errlen, "%s: no PEM certificate", cert);
    const char *kpath = key[0] ? key : cert;
    if (!(f = fopen(kpath, "r")))
        return errf(err, errlen, "%s: %s", kpath, strerror(errno));
    it->key = PEM_read_PrivateKey(f, NULL, pem_password, (void *)password);
    fclose(f);
    if (!it->key)
        return errf(err, errlen, "%s: no usable PEM private key (%s; a wrong "
                    "ssl.keyStore.password?)", kpath, ssl_reason());
    return 0;
}

static int read_store(const struct zkd_tls_config *t, int want_key, struct store_items *it,
                      char *err, size_t errlen)
{
    const char *path = want_key ? t->cert : t->ca;
    const char *pw = want_key ? t->key_password : t->trust_password;
    switch (want_key ? t->key_type : t->trust_type) {
    case ZKD_STORE_PKCS12:
        return read_pkcs12(path, pw, it, err, errlen);
    case ZKD_STORE_JKS:
        return read_jks(path, pw, want_key, it, err, errlen);
    default:
        return read_pem(path, want_key ? t->key : "", pw, want_key, it, err, errlen);
    }
}

int keystore_use_identity(SSL_CTX *ctx, const struct zkd_tls_config *t, char *err, size_t errlen)
{
    struct store_items it = {0};
    int rc = read_store(t, 1, &it, err, errlen);
    if (rc == 0 && (!it.key || !it.leaf))
        rc = errf(err, errlen, "%s: no private key with its certificate", t->cert);
    if (rc == 0 && SSL_CTX_use_cert_and_key(ctx, it.leaf, it.key, it.others, 1) != 1)
        rc = errf(err, errlen, "%s: the certificate and key do not go together (%s)", t->cert,
                  ssl_reason());
    items_free(&it);
    return rc;
}

int keystore_use_trust(SSL_CTX *ctx, const struct zkd_tls_config *t, char *err, size_t errlen)
{
    if (t->trust_type == ZKD_STORE_PEM) {
        /* OpenSSL's own reader also picks up the CRLs for ssl.crl. */
        if (SSL_CTX_load_verify_locations(ctx, t->ca, NULL) != 1)
            return errf(err, errlen, "%s: cannot load the trust store (%s)", t->ca, ssl_reason());
        return 0;
    }
    struct store_items it = {0};
    int rc = read_store(t, 0, &it, err, errlen);
    X509_STORE *store = SSL_CTX_get_cert_store(ctx);
    if (rc == 0 && it.leaf)
        X509_STORE_add_cert(store, it.leaf); /* a PKCS12 trust store may hold a key too */
    int n = rc == 0 ? sk_X509_num(it.others) : 0;
    for (int i = 0; i < n; i++)
        X509_STORE_add_cert(store, sk_X509_value(it.others, i));
    if (rc == 0 && !n && !it.leaf)
        rc = errf(err, errlen, "%s: the trust store holds no certificate", t->ca);
    items_free(&it);
    return rc;
}
