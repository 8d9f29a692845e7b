/*
 * fuzz_datadir.c - libFuzzer target for zkd's recovery from a data directory
 * holding whole snapshot and transaction log files, in Apache ZooKeeper's
 * format (fuzz_request covers single transactions; this covers the files).
 *
 * For every input the harness writes the files the input describes into
 * dataDir/version-2 of a private data directory and starts a server on it
 * (server_start), which recovers exactly as zkd does at boot: snapshot_load
 * tries the snapshots newest first (gzip or snappy-java framing, FileHeader,
 * the body's sessions, ACL cache and nodes, the Adler-32 seal and the
 * optional trailers; damaged ones are renamed *.corrupt), then txnlog_replay
 * reads the logs in zxid order (FileHeader, entry framing, Adler-32, 0x42,
 * TxnHeader zxids, order and holes, preallocated zeroes), decodes and
 * applies every transaction (txn.c: every Apache txn record) and repairs the
 * log (cut or set aside).  The server is then stopped and freed, and the
 * directory emptied.  No port is opened; the only fork is the snapshot a
 * server takes right after starting on a dataDir without a valid one.
 *
 * Input: byte 0 holds flags; bit 0 set makes the harness fill in every log
 * entry's Adler-32 and end-of-record byte and an uncompressed snapshot's
 * seal (over all bytes but the last 13), so mutations get past the
 * checksums into the decoders.  Then up to 4 files, each:
 *   u8 kind (bit 0: 0 = snapshot.<zxid>, 1 = log.<zxid>; bits 1-2 for a
 *   snapshot: 1 = .gz, 2 = .snappy) | u64 zxid of the name | u32 length |
 *   that many bytes (fewer if the input ends first)
 * all big-endian.  The directory is in /dev/shm when there is one (fsync
 * costs nothing there), else in /tmp; it is removed at exit.
 * Build: CC=clang cmake -DZK_FUZZ=ON; seeds: tests/fuzz/corpus/datadir
 * (tests/fuzz/make_corpus.py writes them).
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

#include <sys/stat.h>
#include <zlib.h>

#define MAX_FILES 4

static char dir[64], vdir[80];
static uv_loop_t *loop;

/* Empties a directory but for version-2. */
static void empty(const char *path_of_dir)
{
    DIR *d = opendir(path_of_dir);
    if (!d)
        return;
    struct dirent *e;
    char path[400];
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
            !strcmp(e->d_name, "version-2"))
            continue;
        snprintf(path, sizeof path, "%s/%s", path_of_dir, e->d_name);
        unlink(path);
    }
    closedir(d);
}

static void empty_dir(void)
{
    empty(vdir);
    empty(dir);
}

static void cleanup(void)
{
    empty_dir();
    rmdir(vdir);
    rmdir(dir);
}

static void setup(void)
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(dir, sizeof dir, "%s/zkfuzz-datadir.XXXXXX", base);
    if (!mkdtemp(dir))
        abort();
    snprintf(vdir, sizeof vdir, "%s/version-2", dir);
    if (mkdir(vdir, 0755))
        abort();
    setenv("ZKD_LOG_LEVEL", "error", 0); /* ZKD_LOG_LEVEL=info shows what each input does */
    loop = uv_default_loop();
    atexit(cleanup);
}

/* snapshot.c's layout: the seal is the last 13 bytes, [i64 Adler-32 of all
 * before it][i32 1]['/']. */
static void fix_snapshot(uint8_t *p, size_t n)
{
    if (n < 16 + 13)
        return;
    zk_be64_put(p + n - 13, adler32(adler32(0, NULL, 0), p, (uInt)(n - 13)));
    zk_be32_put(p + n - 5, 1);
    p[n - 1] = '/';
}

/* txnlog.c's layout: FileHeader, then [i64 Adler-32][i32 len][len bytes][0x42]... */
static void fix_log(uint8_t *p, size_t n)
{
    size_t at = 16;
    while (n > at && n - at >= 13) {
        uint32_t len = zk_be32_get(p + at + 8);
        if (len == 0 || len > n - at - 13)
            return;
        zk_be64_put(p + at, adler32(adler32(0, NULL, 0), p + at + 12, len));
        p[at + 12 + len] = 0x42;
        at += 13 + len;
    }
}

static void write_file(int kind, uint64_t zxid, uint8_t *p, size_t n, int fix)
{
    int is_log = kind & 1, comp = (kind >> 1) & 3;
    if (fix && is_log)
        fix_log(p, n);
    else if (fix && !comp)
        fix_snapshot(p, n);
    char path[400];
    snprintf(path, sizeof path, "%s/%s.%llx%s", vdir, is_log ? "log" : "snapshot",
             (unsigned long long)zxid, is_log ? "" : comp == 1 ? ".gz" : comp == 2 ? ".snappy" : "");
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
    cfg.admin_enable = 0; /* no AdminServer on 8080: not under test, and a port others use */
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
        int kind = data[at];
        uint64_t zxid = 0;
        for (int k = 0; k < 8; k++)
            zxid = zxid << 8 | data[at + 1 + k];
        size_t len = zk_be32_get(data + at + 9);
        at += 13;
        if (len > size - at)
            len = size - at;
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, data + at, len);
        write_file(kind, zxid, copy, len, fix);
        free(copy);
        at += len;
    }
    recover_once();
    empty_dir();
    return 0;
}
