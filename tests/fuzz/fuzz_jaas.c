/*
 * fuzz_jaas.c - libFuzzer target for zkd's JAAS file readers: the input is
 * written as the file named by jaasLoginFile and read by zkd_sasl_load_jaas
 * (finding the Server section and its user_NAME="password" options), the
 * step of zkd_sasl_init that reads the file, and by jaas_load (jaas.h, the
 * whole-file parser quorum SASL reads its sections with).  Cyrus SASL itself is not
 * started: it is initialized once per process and reads nothing of ours.
 *
 * The file lives in a private temp directory made once per process, is
 * rewritten for every input and removed at exit; the user table is replaced
 * by every load and emptied at exit.
 * Build: CC=clang cmake -DZK_FUZZ=ON; seeds: tests/fuzz/corpus/jaas.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "jaas.h"
#include "sasl.h"

static char dir[64], path[96];

static void cleanup(void)
{
    zkd_sasl_clear_users();
    unlink(path);
    rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/zkfuzz-jaas.XXXXXX");
        if (!mkdtemp(dir))
            abort();
        snprintf(path, sizeof path, "%s/jaas.conf", dir);
        setenv("ZKD_LOG_LEVEL", "error", 0); /* ZKD_LOG_LEVEL=info shows what each input does */
        atexit(cleanup);
    }
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    fwrite(data, 1, size, f);
    fclose(f);
    zkd_sasl_load_jaas(path);
    struct jaas_file jf;
    char err[256];
    if (!jaas_load(path, &jf, err, sizeof err)) {
        const struct jaas_section *s = jaas_section(&jf, "QuorumServer");
        jaas_section_option(s, "user_a");
        jaas_section_uses(s, "Krb5LoginModule");
        jaas_free(&jf);
    }
    return 0;
}
