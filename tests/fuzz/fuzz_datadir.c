/*
 * fuzz_datadir.c - libFuzzer target for zkd's recovery from a data directory
 * holding whole snapshot and transaction log files (fuzz_request covers
 * single records; this covers the files around them).
 *
 * For every input the harness writes the files the input describes into a
 * private data directory and starts a server on it (server_start), which
 * recovers exactly as zkd does at boot: snapshot_load tries the snapshots
 * newest first (header, record framing and CRCs, trailer; damaged ones are
 * renamed *.corrupt) and loads the records into the tree and the sessions,
 * then txnlog_replay reads the logs in zxid order (framing, CRCs, zxid
 * order and holes, preallocated zeroes), applies every transaction and
 * repairs the log (cut or set aside).  The server is then stopped and
 * freed, and the directory emptied.  No port is opened and no snapshot is
 * taken, so nothing forks.
 *
 * Input: byte 0 holds flags; bit 0 set makes the harness fill in every
 * record CRC, the snapshot header's zxid and its trailer, so mutations get
 * past the checksums into the record decoders.  Then up to 4 files, each:
 *   u8 kind (bit 0: 0 = snapshot.<zxid>, 1 = log.<zxid>) | u64 zxid of the
 *   name | u32 length | that many bytes (fewer if the input ends first)
 * all big-endian.  The directory is in /dev/shm when there is one (fsync
 * costs nothing there), else in /tmp; it is removed at exit.
 * Build: CC=clang cmake -DZK_FUZZ=ON; seeds: tests/fuzz/corpus/datadir.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zk/jute.h"
#include "config.h"
#include "server.h"
#include "txnlog.h"

#define MAX_FILES 4

static char dir[64];
static uv_loop_t *loop;

/* Empties the data directory, keeping the session secret (made once). */
static void empty_dir(int all)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char path[400];
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
            (!all && !strcmp(e->d_name, "session.secret")))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
}

static void cleanup(void)
{
    empty_dir(1);
    rmdir(dir);
}

static void setup(void)
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(dir, sizeof dir, "%s/zkfuzz-datadir.XXXXXX", base);
    if (!mkdtemp(dir))
        abort();
    setenv("ZKD_LOG_LEVEL", "error", 0); /* ZKD_LOG_LEVEL=info shows what each input does */
    loop = uv_default_loop();
    atexit(cleanup);
}

/* snapshot.c's layout: "ZKSNAP01" u64 zxid | [u32 len][u32 crc][payload]... |
 * [u32 0][u32 crc of all payloads][u64 count]. */
static void fix_snapshot(uint8_t *p, size_t n, uint64_t zxid)
{
    if (n < 16)
        return;
    zk_be64_put(p + 8, zxid);
    uint32_t all = 0;
    uint64_t count = 0;
    size_t at = 16;
    while (n - at >= 8) {
        uint32_t len = zk_be32_get(p + at);
        if (len == 0) {
            if (n - at >= 16) {
                zk_be32_put(p + at + 4, all);
                zk_be64_put(p + at + 8, count);
            }
            return;
        }
        if (len > n - at - 8)
            return;
        zk_be32_put(p + at + 4, zk_crc32(0, p + at + 8, len));
        all = zk_crc32(all, p + at + 8, len);
        count++;
        at += 8 + len;
    }
}

/* txnlog.c's layout: [u32 len][u32 crc of (zxid, payload)][u64 zxid][payload]... */
static void fix_log(uint8_t *p, size_t n)
{
    size_t at = 0;
    while (n - at >= 16) {
        uint32_t len = zk_be32_get(p + at);
        if (len == 0 || len > n - at - 16)
            return;
        zk_be32_put(p + at + 4, zk_crc32(zk_crc32(0, p + at + 8, 8), p + at + 16, len));
        at += 16 + len;
    }
}

static void write_file(int is_log, uint64_t zxid, uint8_t *p, size_t n, int fix)
{
    if (fix) {
        if (is_log)
            fix_log(p, n);
        else
            fix_snapshot(p, n, zxid);
    }
    char path[400];
    snprintf(path, sizeof path, "%s/%s.%016llx", dir, is_log ? "log" : "snapshot",
             (unsigned long long)zxid);
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    fwrite(p, 1, n, f);
    fclose(f);
}

static void recover_once(void)
{
    static struct zkd_config cfg;
    static struct server srv;
    config_defaults(&cfg);
    snprintf(cfg.data_dir, sizeof cfg.data_dir, "%s", dir);
    snprintf(cfg.data_log_dir, sizeof cfg.data_log_dir, "%s", dir);
    cfg.client_port = 0;
    cfg.extended_types_enabled = 1;
    cfg.snap_count = 1 << 30;
    if (server_start(&srv, loop, &cfg) == 0) {
        server_stop(&srv);
        uv_run(loop, UV_RUN_DEFAULT); /* runs the close callbacks */
    }
    server_free(&srv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!loop)
        setup();
    if (size < 1)
        return 0;
    int fix = data[0] & 1;
    size_t at = 1;
    for (int i = 0; i < MAX_FILES && size - at >= 13; i++) {
        int is_log = data[at] & 1;
        uint64_t zxid = 0;
        for (int k = 0; k < 8; k++)
            zxid = zxid << 8 | data[at + 1 + k];
        size_t len = zk_be32_get(data + at + 9);
        at += 13;
        if (len > size - at)
            len = size - at;
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, data + at, len);
        write_file(is_log, zxid, copy, len, fix);
        free(copy);
        at += len;
    }
    recover_once();
    empty_dir(0);
    return 0;
}
