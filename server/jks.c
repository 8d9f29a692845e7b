/*
 * jks.c - see jks.h for the format.  A cursor walks the buffer; every read
 * checks the bytes left first and records the first error, so the entry
 * loop stays straight-line and stops at the first problem.
 */
#include "jks.h"

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JKS_MAGIC 0xFEEDFEEDu
#define JCEKS_MAGIC 0xCECECECEu
#define SHA1_LEN 20
#define KEY_PROTECTOR_OID "1.3.6.1.4.1.42.2.17.1.1"
/* Far more than any real store; bounds the allocations a hostile count asks for. */
#define MAX_ENTRIES 4096
#define MAX_CHAIN 64

struct cursor {
    const uint8_t *p, *end;
    const char *failed; /* first error, or NULL */
};

static int need(struct cursor *c, size_t n, const char *what)
{
    if (c->failed)
        return -1;
    if ((size_t)(c->end - c->p) < n) {
        c->failed = what;
        return -1;
    }
    return 0;
}

static uint32_t get_u32(struct cursor *c, const char *what)
{
    if (need(c, 4, what))
        return 0;
    uint32_t v = (uint32_t)c->p[0] << 24 | (uint32_t)c->p[1] << 16 | (uint32_t)c->p[2] << 8 |
                 c->p[3];
    c->p += 4;
    return v;
}

/* Returns a pointer to n bytes and skips them, or NULL. */
static const uint8_t *get_bytes(struct cursor *c, size_t n, const char *what)
{
    if (need(c, n, what))
        return NULL;
    const uint8_t *b = c->p;
    c->p += n;
    return b;
}

/* A UTF string; copied (truncated) into dst when dst is not NULL. */
static void get_utf(struct cursor *c, char *dst, size_t cap, const char *what)
{
    if (need(c, 2, what))
        return;
    size_t n = (size_t)c->p[0] << 8 | c->p[1];
    c->p += 2;
    const uint8_t *s = get_bytes(c, n, what);
    if (s && dst && cap) {
        size_t k = n < cap - 1 ? n : cap - 1;
        memcpy(dst, s, k);
        dst[k] = '\0';
    }
}

/* A DER blob: u32 length then the bytes. */
static struct jks_blob get_blob(struct cursor *c, const char *what)
{
    struct jks_blob b = {NULL, 0};
    uint32_t n = get_u32(c, what);
    if (!c->failed && n == 0)
        c->failed = what;
    const uint8_t *p = get_bytes(c, n, what);
    if (p)
        b.der = p, b.len = n;
    return b;
}

/* The password as Java's char[] bytes: UTF-16BE.  Returns the byte count;
 * *out is heap (freed by the caller). */
static size_t utf16be(const char *pw, uint8_t **out)
{
    size_t n = strlen(pw), k = 0;
    uint8_t *b = malloc(4 * n + 1);
    if (!b) {
        *out = NULL;
        return 0;
    }
    const unsigned char *s = (const unsigned char *)pw;
    for (size_t i = 0; i < n;) {
        uint32_t u = s[i];
        size_t more = u >= 0xf0 ? 3 : u >= 0xe0 ? 2 : u >= 0xc0 ? 1 : 0;
        if (more) {
            u &= 0x3fu >> more;
            for (size_t j = 1; j <= more && i + j < n; j++)
                u = u << 6 | (s[i + j] & 0x3f);
        }
        i += more + 1;
        if (u >= 0x10000) { /* a surrogate pair, as Java keeps it */
            u -= 0x10000;
            uint32_t hi = 0xd800 | (u >> 10), lo = 0xdc00 | (u & 0x3ff);
            b[k++] = (uint8_t)(hi >> 8), b[k++] = (uint8_t)hi;
            u = lo;
        }
        b[k++] = (uint8_t)(u >> 8), b[k++] = (uint8_t)u;
    }
    *out = b;
    return k;
}

/* SHA-1 of a || b || c (c may be NULL); 0 or -1. */
static int sha1_3(const void *a, size_t alen, const void *b, size_t blen, const void *c,
                  size_t clen, uint8_t out[SHA1_LEN])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md && EVP_DigestInit_ex(md, EVP_sha1(), NULL) == 1 &&
             EVP_DigestUpdate(md, a, alen) == 1 && EVP_DigestUpdate(md, b, blen) == 1 &&
             (!c || EVP_DigestUpdate(md, c, clen) == 1) &&
             EVP_DigestFinal_ex(md, out, NULL) == 1;
    EVP_MD_CTX_free(md);
    return ok ? 0 : -1;
}

/*
 * Sun's KeyProtector.recover: decrypts one EncryptedPrivateKeyInfo into a
 * heap PKCS#8 buffer.  Returns NULL with *why set.
 */
static uint8_t *recover_key(struct jks_blob enc, const uint8_t *pw, size_t pwlen, size_t *outlen,
                            const char **why)
{
    const unsigned char *p = enc.der;
    X509_SIG *sig = d2i_X509_SIG(NULL, &p, (long)enc.len);
    if (!sig) {
        *why = "a private key entry is not an EncryptedPrivateKeyInfo";
        return NULL;
    }
    const X509_ALGOR *alg;
    const ASN1_OCTET_STRING *data;
    X509_SIG_get0(sig, &alg, &data);
    const ASN1_OBJECT *oid;
    X509_ALGOR_get0(&oid, NULL, NULL, alg);
    char oidtxt[64];
    OBJ_obj2txt(oidtxt, sizeof oidtxt, oid, 1);
    const uint8_t *d = ASN1_STRING_get0_data(data);
    int dlen = ASN1_STRING_length(data);
    uint8_t *plain = NULL;
    if (strcmp(oidtxt, KEY_PROTECTOR_OID)) {
        *why = "a private key is protected by an algorithm other than Sun's JKS key protector";
    } else if (dlen <= 2 * SHA1_LEN) {
        *why = "a protected private key is too short";
    } else {
        size_t n = (size_t)dlen - 2 * SHA1_LEN;
        const uint8_t *salt = d, *cipher = d + SHA1_LEN, *check = d + SHA1_LEN + n;
        uint8_t digest[SHA1_LEN], sum[SHA1_LEN];
        plain = malloc(n);
        memcpy(digest, salt, SHA1_LEN);
        for (size_t off = 0; plain && off < n; off += SHA1_LEN) {
            if (sha1_3(pw, pwlen, digest, SHA1_LEN, NULL, 0, digest)) {
                free(plain);
                plain = NULL;
                break;
            }
            for (size_t i = 0; i < SHA1_LEN && off + i < n; i++)
                plain[off + i] = cipher[off + i] ^ digest[i];
        }
        if (!plain || sha1_3(pw, pwlen, plain, n, NULL, 0, sum) || memcmp(sum, check, SHA1_LEN)) {
            *why = plain ? "wrong password for a private key" : "out of memory";
            free(plain);
            plain = NULL;
        } else {
            *outlen = n;
        }
    }
    X509_SIG_free(sig);
    return plain;
}

/* The certificates of one entry: `n` of them, each [UTF type] then a blob. */
static struct jks_blob *get_certs(struct cursor *c, uint32_t version, size_t n)
{
    struct jks_blob *certs = calloc(n ? n : 1, sizeof *certs);
    if (!certs) {
        c->failed = "out of memory";
        return NULL;
    }
    for (size_t i = 0; i < n && !c->failed; i++) {
        char type[32] = "X.509";
        if (version == 2)
            get_utf(c, type, sizeof type, "truncated certificate type");
        if (!c->failed && strcmp(type, "X.509"))
            c->failed = "a certificate is not X.509";
        certs[i] = get_blob(c, "truncated certificate");
    }
    return certs;
}

static void entry_free(struct jks_entry *e)
{
    if (e->pkcs8)
        OPENSSL_cleanse(e->pkcs8, e->pkcs8_len);
    free(e->pkcs8);
    free(e->certs);
}

void jks_free(struct jks_store *store)
{
    for (size_t i = 0; i < store->nentries; i++)
        entry_free(&store->entries[i]);
    free(store->entries);
    store->entries = NULL;
    store->nentries = 0;
}

/* One entry at the cursor into e (zeroed by the caller). */
static void get_entry(struct cursor *c, uint32_t version, const uint8_t *pw, size_t pwlen,
                      int decrypt, struct jks_entry *e)
{
    uint32_t tag = get_u32(c, "truncated entry");
    if (!c->failed && tag != 1 && tag != 2) {
        c->failed = tag == 3 ? "secret key entries are JCEKS, not JKS" : "unknown entry tag";
        return;
    }
    get_utf(c, e->alias, sizeof e->alias, "truncated alias");
    get_bytes(c, 8, "truncated entry date");
    if (tag == 2) {
        e->certs = get_certs(c, version, 1);
        e->ncerts = e->certs ? 1 : 0;
        return;
    }
    e->is_key = 1;
    struct jks_blob enc = get_blob(c, "truncated private key");
    uint32_t n = get_u32(c, "truncated certificate chain");
    if (!c->failed && (n == 0 || n > MAX_CHAIN))
        c->failed = "bad certificate chain length";
    if (c->failed)
        return;
    e->certs = get_certs(c, version, n);
    e->ncerts = e->certs ? n : 0;
    if (!c->failed && decrypt) {
        const char *why = NULL;
        e->pkcs8 = recover_key(enc, pw, pwlen, &e->pkcs8_len, &why);
        if (!e->pkcs8)
            c->failed = why;
    }
}

static int failf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int failf(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* The store's integrity digest; 0 when it matches. */
static int check_integrity(const uint8_t *buf, size_t body, const uint8_t *pw, size_t pwlen)
{
    static const char whitener[] = "Mighty Aphrodite";
    uint8_t sum[SHA1_LEN];
    if (sha1_3(pw, pwlen, whitener, sizeof whitener - 1, buf, body, sum))
        return -1;
    return memcmp(sum, buf + body, SHA1_LEN) ? -1 : 0;
}

int jks_parse(const uint8_t *buf, size_t len, const char *password, struct jks_store *out,
              char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (len < 12 + SHA1_LEN)
        return failf(err, errlen, "too short for a JKS key store");
    struct cursor c = {buf, buf + len - SHA1_LEN, NULL};
    uint32_t magic = get_u32(&c, "");
    if (magic == JCEKS_MAGIC)
        return failf(err, errlen, "a JCEKS key store; convert it to PKCS12 with keytool");
    if (magic != JKS_MAGIC)
        return failf(err, errlen, "not a JKS key store (bad magic number)");
    uint32_t version = get_u32(&c, "");
    if (version != 1 && version != 2)
        return failf(err, errlen, "unsupported JKS version %u", version);
    uint32_t count = get_u32(&c, "");
    if (count > MAX_ENTRIES)
        return failf(err, errlen, "too many entries (%u)", count);

    uint8_t *pw = NULL;
    size_t pwlen = password ? utf16be(password, &pw) : 0;
    if (password && !pw)
        return failf(err, errlen, "out of memory");
    /* The digest first: a wrong password is then reported as such, not as
     * a key that fails to decrypt. */
    if (password && check_integrity(buf, len - SHA1_LEN, pw, pwlen)) {
        free(pw);
        return failf(err, errlen, "wrong password, or the key store is corrupt");
    }
    out->entries = calloc(count ? count : 1, sizeof *out->entries);
    if (!out->entries) {
        free(pw);
        return failf(err, errlen, "out of memory");
    }
    for (uint32_t i = 0; i < count && !c.failed; i++, out->nentries++)
        get_entry(&c, version, pw, pwlen, password != NULL, &out->entries[i]);
    if (!c.failed && c.p != c.end)
        c.failed = "bytes after the last entry";
    if (pw)
        OPENSSL_cleanse(pw, pwlen);
    free(pw);
    if (c.failed) {
        jks_free(out);
        return failf(err, errlen, "%s", c.failed);
    }
    return 0;
}
