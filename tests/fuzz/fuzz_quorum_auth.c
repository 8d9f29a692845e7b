/*
 * fuzz_quorum_auth.c - libFuzzer target for the quorum SASL exchange
 * (server/quorum_auth.c): the bytes a peer sends on a member link while
 * QuorumAuthPackets are expected, parsed by quorum_auth_feed and, inside
 * them, by Cyrus's DIGEST-MD5 mechanism.
 *
 * Input: byte 0 picks the role (even: this member is the server, reading a
 * learner's packets; odd: the learner, reading a server's answers after
 * sending its first packet), byte 1 the size of the reads (1..256) the rest
 * arrives in, as TCP may split it.  Unused bytes are presented again with
 * the next read, as peer.c does.  Quorum SASL is initialized once per
 * process from a JAAS file in a private temp directory, removed at exit.
 * Build: CC=clang cmake -DZK_FUZZ=ON; seeds: tests/fuzz/corpus/quorum_auth.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "quorum_auth.h"

static char dir[64], path[96];

static void cleanup(void)
{
    unlink(path);
    rmdir(dir);
}

static void init_once(void)
{
    static struct zkd_config cfg;
    snprintf(dir, sizeof dir, "/tmp/zkfuzz-qauth.XXXXXX");
    if (!mkdtemp(dir))
        abort();
    snprintf(path, sizeof path, "%s/jaas.conf", dir);
    atexit(cleanup);
    setenv("ZKD_LOG_LEVEL", "error", 0);
    FILE *f = fopen(path, "w");
    if (!f)
        abort();
    fputs("QuorumServer { x required user_zkpeer=\"s3cret\"; };\n"
          "QuorumLearner { x required username=\"zkpeer\" password=\"s3cret\"; };\n",
          f);
    fclose(f);
    config_defaults(&cfg);
    cfg.quorum_sasl = cfg.quorum_learner_require_sasl = cfg.quorum_server_require_sasl = 1;
    snprintf(cfg.jaas_file, sizeof cfg.jaas_file, "%s", path);
    if (quorum_auth_init(&cfg))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0])
        init_once();
    if (size < 2)
        return 0;
    enum quorum_auth_role role = data[0] & 1 ? QUORUM_AUTH_LEARNER : QUORUM_AUTH_SERVER;
    size_t chunk = (size_t)data[1] + 1;
    data += 2;
    size -= 2;
    struct quorum_auth *a = quorum_auth_new(role, "127.0.0.1", "fuzz");
    struct jute_out out, in;
    jute_out_init(&out);
    jute_out_init(&in);
    int rc = quorum_auth_start(a, &out);
    for (size_t off = 0; rc == QUORUM_AUTH_MORE && off < size; off += chunk) {
        size_t n = size - off < chunk ? size - off : chunk;
        jute_put_raw(&in, data + off, n);
        size_t used = 0;
        rc = quorum_auth_feed(a, in.p, in.len, &used, &out);
        if (used > in.len)
            abort();
        memmove(in.p, in.p + used, in.len - used);
        in.len -= used;
        out.len = 0;
    }
    quorum_auth_free(a);
    jute_out_free(&out);
    jute_out_free(&in);
    return 0;
}
