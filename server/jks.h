/*
 * jks.h - reads Java KeyStore (JKS) files, the format `keytool -storetype
 * JKS` writes and most existing ZooKeeper deployments keep their TLS
 * material in.  No C library Debian ships reads it, so zkd has this small
 * parser of the container; the certificates and keys inside are DER, which
 * OpenSSL decodes.
 *
 * FILE LAYOUT (all integers big-endian; "UTF" is a u16 length then that many
 * bytes of Java's modified UTF-8):
 *
 *   u32 magic 0xFEEDFEED, u32 version (1 or 2), u32 entry count, then per
 *   entry a u32 tag:
 *     1 private key:  UTF alias, u64 date (ms), u32 n, n bytes of DER
 *                     EncryptedPrivateKeyInfo, u32 chain length, then per
 *                     certificate [UTF type, version 2 only] u32 n, n bytes
 *                     of DER (leaf first);
 *     2 trusted cert: UTF alias, u64 date, [UTF type], u32 n, n bytes DER.
 *   Then a 20-byte SHA-1 over the password (UTF-16BE), the ASCII bytes
 *   "Mighty Aphrodite" and everything before the digest: the store's
 *   integrity check, which also tells a wrong password.
 *
 * KEY PROTECTION (Sun's KeyProtector, algorithm OID 1.3.6.1.4.1.42.2.17.1.1):
 * the EncryptedPrivateKeyInfo's data is salt (20 bytes) || ciphertext ||
 * check (20 bytes).  The key stream is D1 = SHA-1(pw || salt), Di+1 =
 * SHA-1(pw || Di), concatenated; the plaintext (ciphertext XOR stream) is a
 * DER PKCS#8 PrivateKeyInfo, and check = SHA-1(pw || plaintext).  pw is the
 * password as UTF-16BE, as Java's char[] is.
 *
 * FAILURE MODES: every length is checked against the bytes left, so a
 * truncated or hostile file gives an error naming what was wrong and never
 * reads out of bounds (tests/fuzz/fuzz_jks.c).  JCEKS (0xCECECECE) and
 * secret-key entries (tag 3) are refused with a message saying so.
 */
#ifndef ZKD_JKS_H
#define ZKD_JKS_H

#include <stddef.h>
#include <stdint.h>

/* One DER blob; `der` points into the buffer given to jks_parse(). */
struct jks_blob {
    const uint8_t *der;
    size_t len;
};

struct jks_entry {
    int is_key;               /* 1 private key entry, 0 trusted certificate */
    char alias[256];          /* as stored (modified UTF-8), truncated */
    uint8_t *pkcs8;           /* is_key: decrypted PrivateKeyInfo (heap); else NULL */
    size_t pkcs8_len;
    struct jks_blob *certs;   /* heap array: the chain (leaf first) or the one cert */
    size_t ncerts;
};

struct jks_store {
    struct jks_entry *entries; /* heap array */
    size_t nentries;
};

/*
 * Parses the `len` bytes at `buf` (which must outlive `out`: certificates
 * point into it).  `password` (UTF-8) checks the store's integrity and
 * decrypts the private keys; NULL skips the integrity check (as Java's
 * KeyStore.load with a null password) and leaves key entries encrypted
 * (pkcs8 NULL).  Returns 0, or -1 with a one-line reason in err (size
 * errlen); on failure `out` holds nothing to free.  jks_free() releases a
 * parsed store.
 */
int jks_parse(const uint8_t *buf, size_t len, const char *password, struct jks_store *out,
              char *err, size_t errlen);
void jks_free(struct jks_store *store);

#endif
