/*
 * fuzz_jks.c - libFuzzer target for zkd's JKS key store parser (server/jks.c):
 * the input is a key store file, parsed once with the password "changeit"
 * (integrity check and key decryption) and once without a password (as a
 * trust store without one is read), then freed.  Seeds (tests/fuzz/corpus/jks,
 * written by make_corpus.py) are valid stores with that password: a trusted
 * certificate entry and a private key entry with its chain.
 * Build: CC=clang cmake -DZK_FUZZ=ON.
 */
#include <stdint.h>
#include <stdlib.h>

#include "jks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const passwords[] = {"changeit", NULL};
    for (int i = 0; i < 2; i++) {
        struct jks_store ks;
        char err[256];
        if (jks_parse(data, size, passwords[i], &ks, err, sizeof err) == 0) {
            /* Touch what the parse returned, so a bad length shows under ASan. */
            volatile uint8_t sink = 0;
            for (size_t e = 0; e < ks.nentries; e++) {
                for (size_t c = 0; c < ks.entries[e].ncerts; c++)
                    sink ^= ks.entries[e].certs[c].der[ks.entries[e].certs[c].len - 1];
                if (ks.entries[e].pkcs8_len)
                    sink ^= ks.entries[e].pkcs8[ks.entries[e].pkcs8_len - 1];
            }
            (void)sink;
            jks_free(&ks);
        }
    }
    return 0;
}
