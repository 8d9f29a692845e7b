/*
 * fuzz_request.c - libFuzzer target for everything zkd decodes from
 * untrusted bytes.
 *
 * The first input byte picks the surface:
 *   even: a client byte stream fed to a fresh connection through conn_feed,
 *         the same path as socket input: handshake or four-letter word,
 *         framing, every request decoder, prep, apply and reply encoding,
 *         against one long-lived server (so state accumulates across inputs)
 *   odd:  on-disk records: a transaction log payload (write_apply_committed
 *         on the live server, as replay does) and an Apache DataTree image
 *         (tree_load_apache into another, its records hashed by the digest
 *         thread as recovery hashes them); and, split in two, a forwarded
 *         request and its reply as a learner's audit log decodes them
 *         (audit_forwarded); and as a request checked for an ephemeral
 *         create (localsess_wants_global)
 * The audit log is on (to /dev/null), so every request's audit line is
 * formatted too.
 * Build: CC=clang cmake -DZK_FUZZ=ON; run: fuzz_request tests/fuzz/corpus.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "acl.h"
#include "apply.h"
#include "audit.h"
#include "config.h"
#include "conn.h"
#include "digest.h"
#include "localsess.h"
#include "server.h"
#include "tree.h"
#include "txn.h"
#include "write.h"

static struct server srv;
static uv_loop_t *loop;
static char dir[] = "/tmp/zkfuzz.XXXXXX";

/* Removes the data directory at exit. */
static void cleanup(void)
{
    fuzz_remove_dir(dir);
}

static void setup(void)
{
    static struct zkd_config cfg;
    config_defaults(&cfg);
    if (!mkdtemp(dir))
        abort();
    atexit(cleanup);
    snprintf(cfg.data_dir, sizeof cfg.data_dir, "%s", dir);
    snprintf(cfg.data_log_dir, sizeof cfg.data_log_dir, "%s", dir);
    cfg.client_port = 0;
    cfg.admin_enable = 0; /* no AdminServer on 8080: not under test, and a port others use */
    cfg.extended_types_enabled = 1;
    cfg.snap_count = 1 << 30;
    loop = uv_default_loop();
    setenv("ZKD_LOG_LEVEL", "error", 1);
    cfg.audit_enable = 1;
    snprintf(cfg.audit_log_file, sizeof cfg.audit_log_file, "/dev/null");
    if (audit_open(&cfg) || server_start(&srv, loop, &cfg))
        abort();
}

static void fuzz_stream(const uint8_t *data, size_t size)
{
    struct conn *c = conn_create(&srv, 0);
    conn_feed(c, data, size);
    conn_close(c);
    uv_run(loop, UV_RUN_NOWAIT);
}

static void follow_node(const struct tree_image_node *node, void *d)
{
    digest_follow_add(d, node->rec, node->end);
}

static void fuzz_records(const uint8_t *data, size_t size)
{
    write_apply_committed(&srv, srv.db.last_zxid + 1, data, size);
    /* The same bytes as an Apache DataTree image (a snapshot's tree part). */
    struct jute_in in;
    jute_in_init(&in, data, size);
    struct tree *scratch = tree_new_empty();
    struct digest_follow *f = digest_follow_start();
    tree_load_apache(scratch, &in, follow_node, f);
    int64_t sum;
    digest_follow_finish(f, &sum);
    tree_free(scratch);
    /* The same bytes as a forwarded request (first half) and its reply. */
    static struct auth_info auth;
    if (!auth.n)
        auth_info_add(&auth, "ip", "127.0.0.1");
    audit_forwarded(0x1234, &auth, data, size / 2, data + size / 2, size - size / 2);
    audit_flush();
    /* The same bytes as a local session's request, checked for an ephemeral
     * create before it is forwarded (localsess.h; this server is standalone,
     * so its connections never get there). */
    (void)localsess_wants_global(data, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!loop)
        setup();
    if (size < 1)
        return 0;
    if (data[0] & 1)
        fuzz_records(data + 1, size - 1);
    else
        fuzz_stream(data + 1, size - 1);
    return 0;
}
