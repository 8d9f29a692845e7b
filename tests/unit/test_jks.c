/*
 * test_jks.c - the JKS key store parser (server/jks.c) on stores built here
 * byte by byte as keytool writes them: a trusted certificate entry and a
 * private key entry under Sun's key protector, then the ways a store can be
 * wrong (password, truncation, JCEKS, secret keys, trailing bytes).
 * keytool-made stores are tested end to end in tests/integration/test_keystores.py.
 */
#include "jks.h"
#include "ztest.h"

#include <openssl/evp.h>

#define PW "changeit"

struct buf {
    uint8_t b[8192];
    size_t n;
};

static void put(struct buf *o, const void *p, size_t n)
{
    ASSERT_TRUE(o->n + n <= sizeof o->b);
    memcpy(o->b + o->n, p, n);
    o->n += n;
}

static void put_u32(struct buf *o, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    put(o, b, 4);
}

static void put_utf(struct buf *o, const char *s)
{
    uint8_t b[2] = {(uint8_t)(strlen(s) >> 8), (uint8_t)strlen(s)};
    put(o, b, 2);
    put(o, s, strlen(s));
}

static void sha1(const void *a, size_t an, const void *b, size_t bn, const void *c, size_t cn,
                 uint8_t out[20])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha1(), NULL);
    EVP_DigestUpdate(md, a, an);
    EVP_DigestUpdate(md, b, bn);
    EVP_DigestUpdate(md, c, cn);
    EVP_DigestFinal_ex(md, out, NULL);
    EVP_MD_CTX_free(md);
}

/* "changeit" as Java's char[] bytes. */
static size_t pw_utf16(const char *pw, uint8_t *out)
{
    size_t n = 0;
    for (; *pw; pw++)
        out[n++] = 0, out[n++] = (uint8_t)*pw;
    return n;
}

static const uint8_t CERT[] = {0x30, 0x03, 0x02, 0x01, 0x07};
static const uint8_t KEY[] = "a PKCS#8 PrivateKeyInfo stand-in, longer than one SHA-1 block";

/* A key entry's EncryptedPrivateKeyInfo: salt || KEY xor stream || check. */
static void put_protected_key(struct buf *o, const char *pw)
{
    uint8_t pwb[64], data[20 + sizeof KEY + 20], digest[20];
    size_t pn = pw_utf16(pw, pwb);
    for (int i = 0; i < 20; i++)
        data[i] = (uint8_t)(i * 7);
    memcpy(digest, data, 20);
    for (size_t off = 0; off < sizeof KEY; off += 20) {
        sha1(pwb, pn, digest, 20, "", 0, digest);
        for (size_t i = 0; i < 20 && off + i < sizeof KEY; i++)
            data[20 + off + i] = KEY[off + i] ^ digest[i];
    }
    sha1(pwb, pn, KEY, sizeof KEY, "", 0, data + 20 + sizeof KEY);
    /* SEQUENCE { SEQUENCE { OID 1.3.6.1.4.1.42.2.17.1.1, NULL }, OCTET STRING data } */
    static const uint8_t alg[] = {0x30, 0x0e, 0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01,
                                  0x2a, 0x02, 0x11, 0x01, 0x01, 0x05, 0x00};
    uint8_t head[4] = {0x30, (uint8_t)(sizeof alg + 2 + sizeof data), 0x04, (uint8_t)sizeof data};
    put_u32(o, (uint32_t)(2 + sizeof alg + 2 + sizeof data));
    put(o, head, 2);
    put(o, alg, sizeof alg);
    put(o, head + 2, 2);
    put(o, data, sizeof data);
}

/* A version-2 store: a key entry (chain of two) and a trusted certificate. */
static void make_store(struct buf *o, const char *pw, uint32_t magic, uint32_t tag2)
{
    o->n = 0;
    put_u32(o, magic);
    put_u32(o, 2);
    put_u32(o, 2);
    put_u32(o, 1);
    put_utf(o, "server");
    put_u32(o, 0), put_u32(o, 0); /* date */
    put_protected_key(o, pw);
    put_u32(o, 2);
    for (int i = 0; i < 2; i++) {
        put_utf(o, "X.509");
        put_u32(o, sizeof CERT);
        put(o, CERT, sizeof CERT);
    }
    put_u32(o, tag2);
    put_utf(o, "ca");
    put_u32(o, 0), put_u32(o, 0);
    put_utf(o, "X.509");
    put_u32(o, sizeof CERT);
    put(o, CERT, sizeof CERT);
    uint8_t pwb[64], sum[20];
    size_t pn = pw_utf16(pw, pwb);
    sha1(pwb, pn, "Mighty Aphrodite", 16, o->b, o->n, sum);
    put(o, sum, 20);
}

static int parse(const struct buf *o, size_t len, const char *pw, struct jks_store *ks, char *err)
{
    return jks_parse(o->b, len, pw, ks, err, 200);
}

static void test_parses_keytool_layout(void)
{
    struct buf o;
    struct jks_store ks;
    char err[200];
    make_store(&o, PW, 0xFEEDFEEDu, 2);
    ASSERT_INT_EQ(parse(&o, o.n, PW, &ks, err), 0);
    ASSERT_INT_EQ((int)ks.nentries, 2);
    ASSERT_TRUE(ks.entries[0].is_key);
    ASSERT_STR_EQ(ks.entries[0].alias, "server");
    ASSERT_INT_EQ((int)ks.entries[0].pkcs8_len, (int)sizeof KEY);
    ASSERT_TRUE(!memcmp(ks.entries[0].pkcs8, KEY, sizeof KEY));
    ASSERT_INT_EQ((int)ks.entries[0].ncerts, 2);
    ASSERT_INT_EQ((int)ks.entries[1].certs[0].len, (int)sizeof CERT);
    ASSERT_TRUE(!ks.entries[1].is_key);
    jks_free(&ks);
    /* Without a password: no integrity check, keys left encrypted. */
    ASSERT_INT_EQ(parse(&o, o.n, NULL, &ks, err), 0);
    ASSERT_TRUE(ks.entries[0].pkcs8 == NULL);
    jks_free(&ks);
}

static void test_errors(void)
{
    struct buf o;
    struct jks_store ks;
    char err[200];
    make_store(&o, PW, 0xFEEDFEEDu, 2);
    ASSERT_INT_EQ(parse(&o, o.n, "wrong", &ks, err), -1);
    ASSERT_STR_EQ(err, "wrong password, or the key store is corrupt");
    o.b[o.n - 30] ^= 1; /* inside the last certificate: the digest no longer matches */
    ASSERT_INT_EQ(parse(&o, o.n, PW, &ks, err), -1);
    ASSERT_STR_EQ(err, "wrong password, or the key store is corrupt");
    ASSERT_INT_EQ(parse(&o, o.n - 40, NULL, &ks, err), -1); /* truncated, unchecked */
    ASSERT_STR_EQ(err, "truncated certificate");
    make_store(&o, PW, 0xCECECECEu, 2);
    ASSERT_INT_EQ(parse(&o, o.n, PW, &ks, err), -1);
    ASSERT_STR_EQ(err, "a JCEKS key store; convert it to PKCS12 with keytool");
    make_store(&o, PW, 0xFEEDFEEDu, 3);
    ASSERT_INT_EQ(parse(&o, o.n, PW, &ks, err), -1);
    ASSERT_STR_EQ(err, "secret key entries are JCEKS, not JKS");
    make_store(&o, PW, 0x12345678u, 2);
    ASSERT_INT_EQ(parse(&o, o.n, PW, &ks, err), -1);
    ASSERT_STR_EQ(err, "not a JKS key store (bad magic number)");
    ASSERT_INT_EQ(parse(&o, 10, PW, &ks, err), -1);
    ASSERT_STR_EQ(err, "too short for a JKS key store");
}

/* A key whose own check fails (store digest right, key protector wrong). */
static void test_key_password_mismatch(void)
{
    struct buf o;
    struct jks_store ks;
    char err[200];
    make_store(&o, "other", 0xFEEDFEEDu, 2); /* key protected with "other" */
    /* Re-seal the store digest with PW so only the key check can fail. */
    uint8_t pwb[64], sum[20];
    size_t pn = pw_utf16(PW, pwb);
    sha1(pwb, pn, "Mighty Aphrodite", 16, o.b, o.n - 20, sum);
    memcpy(o.b + o.n - 20, sum, 20);
    ASSERT_INT_EQ(parse(&o, o.n, PW, &ks, err), -1);
    ASSERT_STR_EQ(err, "wrong password for a private key");
}

ZTEST_MAIN(ZT(test_parses_keytool_layout), ZT(test_errors), ZT(test_key_password_mismatch))
