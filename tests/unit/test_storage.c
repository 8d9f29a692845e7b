/*
 * test_storage.c - the transaction log (server/txnlog.c) and snapshots
 * (server/snapshot.c).
 *
 * Every test works in a private directory from mkdtemp(), removed when the
 * test passes; a failing test leaves it behind under /tmp/zkd-storage-test.*
 * for inspection.  Records are generated from their zxid (log) or index
 * (snapshot), so any record read back can be checked byte for byte without
 * keeping copies.  The damage tests restore a pristine copy of the files,
 * damage them at random (seeded; ZK_STORAGE_SEED replays a run) and check
 * that recovery never crashes and never delivers a record that was not
 * written: the log must replay an exact prefix, a snapshot must load whole
 * or not at all.  The two bench tests print the numbers the storage notes
 * quote: 1-record batches per second, and records per fsync under a loop
 * that appends 100k records one per iteration (ZK_STORAGE_BENCH_DIR picks
 * the disk).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "snapshot.h"
#include "txnlog.h"
#include "txnwin.h"
#include "ztest.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <unistd.h>
#include <sys/stat.h>
#include <time.h>
#include <zlib.h>

#include "txn.h"
#include "zk/jute.h"

static char dir[256];

static void make_dir(void)
{
    const char *base = getenv("ZK_STORAGE_BENCH_DIR");
    snprintf(dir, sizeof dir, "%s/zkd-storage-test.XXXXXX", base ? base : "/tmp");
    ASSERT_TRUE(mkdtemp(dir) != NULL);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void remove_dir(void) { nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS); }

/* dir/name, in one of a few rotating static buffers. */
static const char *at(const char *name)
{
    static char bufs[4][512];
    static int k;
    char *p = bufs[k++ & 3];
    snprintf(p, sizeof bufs[0], "%s/%s", dir, name);
    return p;
}

static const char *log_file(int64_t zxid)
{
    static char name[64];
    snprintf(name, sizeof name, "log.%llx", (unsigned long long)zxid);
    return at(name);
}

static const char *snap_file(int64_t zxid, const char *suffix)
{
    static char name[64];
    snprintf(name, sizeof name, "snapshot.%llx%s", (unsigned long long)zxid, suffix);
    return at(name);
}

static int exists(const char *path) { return access(path, F_OK) == 0; }

static int64_t size_of(const char *path)
{
    struct stat st;
    return stat(path, &st) ? -1 : (int64_t)st.st_size;
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ASSERT_TRUE(f != NULL);
    int64_t n = size_of(path);
    uint8_t *p = zk_xmalloc((size_t)n + 1);
    ASSERT_INT_EQ(fread(p, 1, (size_t)n, f), n);
    fclose(f);
    *len = (size_t)n;
    return p;
}

static void spill(const char *path, const uint8_t *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    ASSERT_TRUE(f != NULL);
    ASSERT_INT_EQ(fwrite(p, 1, n, f), n);
    fclose(f);
}

static void patch(const char *path, int64_t off, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY);
    ASSERT_TRUE(fd >= 0);
    ASSERT_INT_EQ(pwrite(fd, p, n, off), n);
    close(fd);
}

static void flip_byte(const char *path, int64_t off)
{
    uint8_t b;
    int fd = open(path, O_RDWR);
    ASSERT_TRUE(fd >= 0);
    ASSERT_INT_EQ(pread(fd, &b, 1, off), 1);
    b ^= 0x5A;
    ASSERT_INT_EQ(pwrite(fd, &b, 1, off), 1);
    close(fd);
}

static void cut(const char *path, int64_t size) { ASSERT_INT_EQ(truncate(path, size), 0); }

static int count_files(const char *suffix)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls -1 %s | grep -c -- '%s$'", dir, suffix);
    FILE *p = popen(cmd, "r");
    int n = 0;
    ASSERT_TRUE(p && fscanf(p, "%d", &n) == 1);
    pclose(p);
    return n;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Quiets the expected warnings of tests that damage files on purpose. */
static void quiet(void) { if (!getenv("ZK_STORAGE_VERBOSE")) setenv("ZKD_LOG_LEVEL", "error", 1); }

/* Runs fn with stderr captured into `out` (NUL-terminated). */
static void capture_stderr(void (*fn)(void *), void *arg, char *out, size_t size)
{
    char path[300];
    snprintf(path, sizeof path, "%s/stderr.txt", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644), saved = dup(2);
    ASSERT_TRUE(fd >= 0 && saved >= 0);
    dup2(fd, 2);
    fn(arg);
    dup2(saved, 2);
    close(saved);
    ssize_t n = pread(fd, out, size - 1, 0);
    out[n > 0 ? n : 0] = 0;
    close(fd);
    unlink(path);
}

/* ---- log records, generated from their zxid ---- */

#define MAXREC 256
#define FILE_HDR 16 /* "ZKLG", version 2, dbid 0 */
#define ENTRY_HDR 12 /* Adler-32, length */

static uint32_t adler(const void *p, size_t n) { return (uint32_t)adler32(adler32(0, NULL, 0), p, (uInt)n); }

/* A TxnHeader carrying `zxid`, then generated bytes. */
static size_t rec_make(int64_t zxid, uint8_t *buf)
{
    size_t len = TXN_HEADER + (size_t)((uint64_t)zxid * 2654435761u % 200);
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(zxid ^ (int64_t)(i * 131));
    zk_be64_put(buf + 12, (uint64_t)zxid);
    return len;
}

static int64_t frame_len(int64_t zxid)
{
    uint8_t b[MAXREC];
    return ENTRY_HDR + (int64_t)rec_make(zxid, b) + 1;
}

/* Bytes of a log file holding records first..last: its header and the
 * records framed back to back. */
static int64_t span(int64_t first, int64_t last)
{
    int64_t n = FILE_HDR;
    for (int64_t z = first; z <= last; z++)
        n += frame_len(z);
    return n;
}

static void append(struct txnlog *log, int64_t zxid)
{
    uint8_t b[MAXREC];
    txnlog_append(log, zxid, b, rec_make(zxid, b));
}

struct durable {
    int64_t zxid;
    int calls;
};

static void on_durable(struct txnlog *log, int64_t zxid, void *data)
{
    struct durable *d = data;
    (void)log;
    if (zxid <= d->zxid)
        ZT_FAIL("durable zxid went from %lld to %lld", (long long)d->zxid, (long long)zxid);
    d->zxid = zxid;
    d->calls++;
}

static struct txnlog *open_log(uv_loop_t *loop, struct durable *d)
{
    struct txnlog *log = NULL;
    ASSERT_INT_EQ(uv_loop_init(loop), 0);
    ASSERT_INT_EQ(txnlog_open(&log, loop, dir, on_durable, d), 0);
    return log;
}

/* Closes the log and checks that nothing is left on the loop. */
static void close_log(uv_loop_t *loop, struct txnlog *log)
{
    txnlog_close(log);
    uv_run(loop, UV_RUN_DEFAULT); /* frees the log */
    ASSERT_INT_EQ(uv_loop_close(loop), 0);
}

/* Writes first..last, calling txnlog_roll() before each zxid in `rolls`
 * (0-terminated, may be NULL), in one batch. */
static void write_log(int64_t first, int64_t last, const int64_t *rolls)
{
    uv_loop_t loop;
    struct durable d = {0};
    struct txnlog *log = open_log(&loop, &d);
    for (int64_t z = first; z <= last; z++) {
        for (const int64_t *r = rolls; r && *r; r++)
            if (*r == z)
                txnlog_roll(log);
        append(log, z);
    }
    txnlog_flush(log);
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT_INT_EQ(d.zxid, last);
    close_log(&loop, log);
}

/* Replay consumer: checks every record against its generator and that
 * zxids are consecutive. */
struct seen {
    int64_t first, last;
    int64_t n;
};

static int collect(int64_t zxid, const void *rec, size_t len, void *data)
{
    struct seen *s = data;
    uint8_t want[MAXREC];
    size_t wlen = rec_make(zxid, want);
    if (len != wlen || memcmp(rec, want, len))
        ZT_FAIL("record 0x%llx is not what was appended", (long long)zxid);
    if (s->n && zxid != s->last + 1)
        ZT_FAIL("record 0x%llx follows 0x%llx", (long long)zxid, (long long)s->last);
    if (!s->n)
        s->first = zxid;
    s->last = zxid;
    s->n++;
    return 0;
}

static struct seen replay(int64_t from, int64_t *last)
{
    struct seen s = {0};
    ASSERT_INT_EQ(txnlog_replay(dir, from, collect, &s, last), 0);
    return s;
}

/* ---- log tests ---- */

static void test_log_group_commit_round_trip(void)
{
    make_dir();
    uv_loop_t loop;
    struct durable d = {0};
    struct txnlog *log = open_log(&loop, &d);
    const int64_t n = 20000;
    for (int64_t z = 1; z <= 1000; z++)
        append(log, z);
    txnlog_flush(log);
    /* The first batch is in flight: these accumulate behind it. */
    for (int64_t z = 1001; z <= n; z++)
        append(log, z);
    txnlog_flush(log);
    ASSERT_INT_EQ(txnlog_pending(log), n);
    uv_run(&loop, UV_RUN_DEFAULT); /* returns once nothing is in flight */
    ASSERT_INT_EQ(d.zxid, n);
    ASSERT_INT_EQ(txnlog_pending(log), 0);
    ASSERT_TRUE(d.calls >= 2);
    struct txnlog_stats st;
    txnlog_get_stats(log, &st);
    ASSERT_INT_EQ(st.records, n);
    ASSERT_INT_EQ(st.fsyncs, d.calls);
    ASSERT_INT_EQ(st.bytes, span(1, n) - FILE_HDR);
    ASSERT_TRUE(st.max_fsync_ms >= st.last_fsync_ms && st.last_fsync_ms > 0);
    /* Preallocated while open... */
    ASSERT_INT_EQ(size_of(log_file(1)), 64 << 20);
    close_log(&loop, log);
    /* ...trimmed to its data when closed. */
    ASSERT_INT_EQ(size_of(log_file(1)), span(1, n));

    /* Apache's FileTxnLog framing, byte for byte: FileHeader, then
     * [long Adler-32][int length][bytes][0x42]. */
    size_t len;
    uint8_t *p = slurp(log_file(1), &len), want[MAXREC];
    size_t rlen = rec_make(1, want);
    ASSERT_TRUE(memcmp(p, "ZKLG\0\0\0\x02\0\0\0\0\0\0\0\0", 16) == 0);
    ASSERT_INT_EQ(zk_be64_get(p + 16), adler(want, rlen));
    ASSERT_INT_EQ(zk_be32_get(p + 24), rlen);
    ASSERT_TRUE(memcmp(p + 28, want, rlen) == 0);
    ASSERT_INT_EQ(p[28 + rlen], 0x42);
    ASSERT_INT_EQ(zk_be32_get(p + 28 + rlen + 1 + 8), rec_make(2, want));
    ASSERT_INT_EQ(adler("Wikipedia", 9), 0x11E60398u); /* zlib is java.util.zip.Adler32 */
    free(p);

    int64_t last = 0;
    struct seen s = replay(0, &last);
    ASSERT_INT_EQ(s.n, n);
    ASSERT_INT_EQ(s.first, 1);
    ASSERT_INT_EQ(last, n);
    s = replay(12345, &last);
    ASSERT_INT_EQ(s.first, 12346);
    ASSERT_INT_EQ(s.last, n);
    ASSERT_INT_EQ(last, n);
    s = replay(n + 5, &last);
    ASSERT_INT_EQ(s.n, 0);
    ASSERT_INT_EQ(last, n + 5);
    remove_dir();
}

static void test_log_close_reports_final_batch(void)
{
    make_dir();
    uv_loop_t loop;
    struct durable d = {0};
    struct txnlog *log = open_log(&loop, &d);
    for (int64_t z = 1; z <= 10; z++)
        append(log, z);
    txnlog_flush(log); /* in flight, probably, when close begins */
    for (int64_t z = 11; z <= 20; z++)
        append(log, z);
    txnlog_close(log);
    ASSERT_INT_EQ(d.zxid, 20); /* reported before close returned */
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT_INT_EQ(uv_loop_close(&loop), 0);
    int64_t last;
    ASSERT_INT_EQ(replay(0, &last).n, 20);
    remove_dir();
}

static void test_log_missing_dir(void)
{
    make_dir();
    uv_loop_t loop;
    struct txnlog *log = NULL;
    struct durable d = {0};
    ASSERT_INT_EQ(uv_loop_init(&loop), 0);
    ASSERT_INT_EQ(txnlog_open(&log, &loop, at("nope"), on_durable, &d), -ENOENT);
    ASSERT_TRUE(log == NULL);
    ASSERT_INT_EQ(uv_loop_close(&loop), 0);
    int64_t last = 0;
    struct seen s = {0};
    ASSERT_INT_EQ(txnlog_replay(at("nope"), 7, collect, &s, &last), 0);
    ASSERT_INT_EQ(last, 7);
    ASSERT_INT_EQ(txnlog_purge(at("nope"), 100), 0);
    remove_dir();
}

static void do_replay(void *arg)
{
    int64_t last;
    *(struct seen *)arg = replay(0, &last);
}

static void test_log_torn_tail_is_truncated(void)
{
    make_dir();
    write_log(1, 100, NULL);
    int64_t end99 = span(1, 99);
    ASSERT_INT_EQ(size_of(log_file(1)), span(1, 100));
    cut(log_file(1), size_of(log_file(1)) - 5); /* mid-record 100 */
    struct seen s;
    char err[4096];
    capture_stderr(do_replay, &s, err, sizeof err);
    ASSERT_INT_EQ(s.n, 99);
    ASSERT_INT_EQ(s.last, 99);
    ASSERT_INT_EQ(size_of(log_file(1)), end99);
    char where[64];
    snprintf(where, sizeof where, "offset %lld", (long long)end99);
    ASSERT_TRUE(strstr(err, log_file(1)) && strstr(err, where) && strstr(err, "truncat"));

    /* The server goes on from 99: the next record starts a new file. */
    write_log(100, 150, NULL);
    ASSERT_TRUE(exists(log_file(100)));
    int64_t last;
    s = replay(0, &last);
    ASSERT_INT_EQ(s.n, 150);
    ASSERT_INT_EQ(last, 150);
    ASSERT_INT_EQ(count_files(".corrupt"), 0);
    remove_dir();
}

static void test_log_garbage_tails_are_cut(void)
{
    make_dir();
    quiet();
    write_log(1, 40, NULL);
    int64_t end = size_of(log_file(1));
    static const struct {
        const char *what;
        const char *bytes;
        size_t n;
    } tails[] = {
        {"plausible length, too few bytes", "\x12\x34\x56\x78\x12\x34\x56\x78\0\0\0\x40garbage",
         19},
        {"torn header", "\0\0\0\x10\x01", 5},
        {"zero length, then data", "\0\0\0\0\0\0\0\0\0\0\0\0xyz", 15},
        {"three bytes", "\0\0\x01", 3},
        {"no end-of-record mark", NULL, 0},
    };
    uint8_t rec[MAXREC + ENTRY_HDR + 1];
    size_t rlen = rec_make(41, rec + ENTRY_HDR);
    zk_be64_put(rec, adler(rec + ENTRY_HDR, rlen));
    zk_be32_put(rec + 8, (uint32_t)rlen);
    rec[ENTRY_HDR + rlen] = 0x41; /* not 0x42 */
    for (size_t i = 0; i < sizeof tails / sizeof tails[0]; i++) {
        if (tails[i].bytes)
            patch(log_file(1), end, tails[i].bytes, tails[i].n);
        else
            patch(log_file(1), end, rec, ENTRY_HDR + rlen + 1);
        int64_t last;
        struct seen s = replay(0, &last);
        if (s.n != 40 || size_of(log_file(1)) != end)
            ZT_FAIL("%s: %lld records, size %lld", tails[i].what, (long long)s.n,
                    (long long)size_of(log_file(1)));
    }
    /* Zeroes alone after the data are preallocated space: left alone. */
    patch(log_file(1), end, "\0\0\0\0\0\0\0\0\0\0", 10);
    int64_t last;
    ASSERT_INT_EQ(replay(0, &last).n, 40);
    ASSERT_INT_EQ(size_of(log_file(1)), end + 10);
    remove_dir();
}

static void test_log_flipped_byte_stops_before_it(void)
{
    make_dir();
    quiet();
    write_log(1, 50, NULL);
    flip_byte(log_file(1), span(1, 24) + ENTRY_HDR + 3); /* bytes of record 25 */
    int64_t last;
    struct seen s = replay(0, &last);
    ASSERT_INT_EQ(s.n, 24);
    ASSERT_INT_EQ(last, 24);
    ASSERT_INT_EQ(size_of(log_file(1)), span(1, 24));
    /* Idempotent: nothing left to repair. */
    s = replay(0, &last);
    ASSERT_INT_EQ(s.n, 24);
    remove_dir();
}

static void test_log_zxid_must_increase(void)
{
    make_dir();
    quiet();
    write_log(1, 10, NULL);
    /* Rewrite record 6 as a valid record with zxid 3. */
    int64_t off = span(1, 5);
    uint8_t rec[MAXREC], h[ENTRY_HDR];
    size_t len = rec_make(6, rec);
    zk_be64_put(rec + 12, 3);
    zk_be64_put(h, adler(rec, len));
    zk_be32_put(h + 8, (uint32_t)len);
    patch(log_file(1), off, h, sizeof h);
    patch(log_file(1), off + ENTRY_HDR, rec, len);
    int64_t last;
    ASSERT_INT_EQ(replay(0, &last).n, 5);
    ASSERT_INT_EQ(size_of(log_file(1)), off);
    remove_dir();
}

/* Writes log.1 (1..10), log.b (11..20), log.15 (21..30) in one batch, then
 * log.1f (31..35) in a second batch and, after two rolls between batches,
 * log.24 (36..40) written by close. */
static void write_four_files(void)
{
    static const int64_t rolls[] = {11, 21, 0};
    write_log(1, 30, rolls);
    uv_loop_t loop;
    struct durable d = {0};
    struct txnlog *log = open_log(&loop, &d);
    for (int64_t z = 31; z <= 35; z++)
        append(log, z);
    txnlog_flush(log);
    uv_run(&loop, UV_RUN_DEFAULT);
    txnlog_roll(log); /* changes nothing until the next record */
    txnlog_roll(log);
    for (int64_t z = 36; z <= 40; z++)
        append(log, z);
    close_log(&loop, log);
    ASSERT_INT_EQ(d.zxid, 40);
}

static void test_log_roll_makes_files(void)
{
    make_dir();
    quiet();
    write_four_files();
    ASSERT_INT_EQ(size_of(log_file(1)), span(1, 10));
    ASSERT_INT_EQ(size_of(log_file(11)), span(11, 20));
    ASSERT_INT_EQ(size_of(log_file(21)), span(21, 30));
    ASSERT_INT_EQ(size_of(log_file(31)), span(31, 35));
    ASSERT_INT_EQ(size_of(log_file(36)), span(36, 40));
    int64_t last;
    struct seen s = replay(0, &last);
    ASSERT_INT_EQ(s.n, 40);
    /* Files wholly at or below `from` are skipped unread: damage there is
     * invisible to a replay from a later snapshot. */
    flip_byte(log_file(1), 20);
    flip_byte(log_file(11), 20);
    s = replay(20, &last);
    ASSERT_INT_EQ(s.first, 21);
    ASSERT_INT_EQ(s.last, 40);
    ASSERT_INT_EQ(size_of(log_file(11)), span(11, 20));
    remove_dir();
}

/* Zab's TRUNC: records above a zxid go, durably, whatever file they are in. */
static void test_log_truncate_drops_records_above(void)
{
    make_dir();
    quiet();
    write_four_files(); /* 1-10, 11-20, 21-30, 31-35, 36-40 */
    ASSERT_INT_EQ(txnlog_truncate(dir, 25), 0);
    ASSERT_INT_EQ(size_of(log_file(21)), span(21, 25));
    ASSERT_TRUE(access(log_file(31), F_OK) != 0 && access(log_file(36), F_OK) != 0);
    int64_t last;
    struct seen s = replay(0, &last);
    ASSERT_INT_EQ(s.n, 25);
    ASSERT_INT_EQ(last, 25);
    /* At a file boundary, and a no-op above the end. */
    ASSERT_INT_EQ(txnlog_truncate(dir, 20), 0);
    ASSERT_INT_EQ(size_of(log_file(11)), span(11, 20));
    ASSERT_TRUE(access(log_file(21), F_OK) != 0 || size_of(log_file(21)) == 0);
    ASSERT_INT_EQ(txnlog_truncate(dir, 1000), 0);
    s = replay(0, &last);
    ASSERT_INT_EQ(last, 20);
    /* -1 removes every file (a follower adopting a leader's snapshot). */
    ASSERT_INT_EQ(txnlog_truncate(dir, -1), 0);
    s = replay(0, &last);
    ASSERT_INT_EQ(s.n, 0);
    remove_dir();
}

static const uint8_t win_rec[] = "txn";

static void test_txnwin_plans_diff_trunc_snap(void)
{
    struct txnwin w;
    txnwin_init(&w, 100, 8, 1 << 20);
    int64_t z[] = {101, 102, 103, (2LL << 32) | 1, (2LL << 32) | 2};
    for (size_t i = 0; i < sizeof z / sizeof z[0]; i++)
        txnwin_push(&w, z[i], win_rec, sizeof win_rec);
    size_t from = 99;
    int64_t trunc = -1;
    /* A prefix of our history: diff from the next entry. */
    ASSERT_INT_EQ(txnwin_plan(&w, 100, &from, &trunc), TXNWIN_DIFF);
    ASSERT_INT_EQ(from, 0);
    ASSERT_INT_EQ(txnwin_plan(&w, 103, &from, &trunc), TXNWIN_DIFF);
    ASSERT_INT_EQ(from, 3);
    ASSERT_INT_EQ(txnwin_plan(&w, z[4], &from, &trunc), TXNWIN_DIFF);
    ASSERT_INT_EQ(from, 5);
    /* A proposal of a dead leader (104 of epoch 0) we never had: back to 103. */
    ASSERT_INT_EQ(txnwin_plan(&w, 104, &from, &trunc), TXNWIN_TRUNC);
    ASSERT_INT_EQ(trunc, 103);
    ASSERT_INT_EQ(from, 3);
    /* Ahead of us in our own last epoch: cut back to our end. */
    ASSERT_INT_EQ(txnwin_plan(&w, (2LL << 32) | 9, &from, &trunc), TXNWIN_TRUNC);
    ASSERT_INT_EQ(trunc, z[4]);
    ASSERT_INT_EQ(from, 5);
    /* Older than the window: a snapshot. */
    ASSERT_INT_EQ(txnwin_plan(&w, 99, &from, &trunc), TXNWIN_SNAP);
    /* The window forgets its older half when full, moving its base. */
    for (int64_t i = 3; i <= 5; i++)
        txnwin_push(&w, (2LL << 32) | i, win_rec, sizeof win_rec);
    ASSERT_INT_EQ(w.n, 8);
    txnwin_push(&w, (2LL << 32) | 6, win_rec, sizeof win_rec);
    ASSERT_INT_EQ(w.n, 5);
    ASSERT_INT_EQ(w.base, (2LL << 32) | 1);
    ASSERT_INT_EQ(txnwin_plan(&w, 103, &from, &trunc), TXNWIN_SNAP);
    ASSERT_INT_EQ(txnwin_plan(&w, (2LL << 32) | 1, &from, &trunc), TXNWIN_DIFF);
    ASSERT_INT_EQ(from, 0);
    ASSERT_INT_EQ(txnwin_last(&w), (2LL << 32) | 6);
    txnwin_free(&w);
}

static void test_log_damage_retires_later_files(void)
{
    make_dir();
    quiet();
    write_four_files();
    flip_byte(log_file(11), span(11, 13) + 18); /* inside record 14 */
    int64_t last;
    struct seen s = replay(0, &last);
    ASSERT_INT_EQ(s.n, 13);
    ASSERT_INT_EQ(last, 13);
    ASSERT_INT_EQ(size_of(log_file(11)), span(11, 13));
    ASSERT_TRUE(!exists(log_file(21)) && !exists(log_file(31)) && !exists(log_file(36)));
    ASSERT_INT_EQ(count_files(".corrupt"), 3);
    /* The server resumes at 14. */
    write_log(14, 16, NULL);
    s = replay(0, &last);
    ASSERT_INT_EQ(s.n, 16);
    remove_dir();
}

static void test_log_hole_between_files(void)
{
    make_dir();
    quiet();
    write_log(1, 10, NULL);
    write_log(20, 25, NULL); /* 11..19 are missing */
    int64_t last;
    struct seen s = replay(0, &last);
    ASSERT_INT_EQ(s.n, 10);
    ASSERT_INT_EQ(last, 10);
    ASSERT_TRUE(!exists(log_file(20)) && count_files(".corrupt") == 1);
    ASSERT_INT_EQ(size_of(log_file(1)), span(1, 10)); /* not cut */

    /* A new epoch may start anywhere. */
    write_log(((int64_t)1 << 32) + 1, ((int64_t)1 << 32) + 3, NULL);
    s = (struct seen){0};
    ASSERT_INT_EQ(txnlog_replay(dir, 10, collect, &s, &last), 0);
    ASSERT_INT_EQ(last, ((int64_t)1 << 32) + 3);

    /* A file that does not start with its name's zxid is set aside whole. */
    ASSERT_INT_EQ(rename(log_file(((int64_t)1 << 32) + 1), log_file(((int64_t)1 << 32) + 2)), 0);
    ASSERT_INT_EQ(replay(0, &last).n, 10);
    ASSERT_INT_EQ(count_files(".corrupt"), 2);
    remove_dir();
}

static void test_log_empty_file_cannot_be_followed(void)
{
    make_dir();
    quiet();
    write_log(1, 10, NULL);
    spill(log_file(11), (const uint8_t *)"", 0); /* 11 was promised, never written */
    write_log(12, 13, NULL);
    int64_t last;
    ASSERT_INT_EQ(replay(0, &last).n, 10);
    ASSERT_TRUE(exists(log_file(11)) && !exists(log_file(12)));
    ASSERT_INT_EQ(count_files(".corrupt"), 1);
    /* Resuming at 11 reuses the empty file. */
    write_log(11, 12, NULL);
    ASSERT_INT_EQ(replay(0, &last).n, 12);
    remove_dir();
}

static void test_log_must_continue_from(void)
{
    make_dir();
    quiet();
    write_log(5, 10, NULL); /* as if log.1 had been purged */
    int64_t last;
    struct seen s = {0};
    ASSERT_INT_EQ(txnlog_replay(dir, 0, collect, &s, &last), -ENODATA);
    ASSERT_INT_EQ(s.n, 0);
    ASSERT_INT_EQ(last, 0);
    s = replay(4, &last);
    ASSERT_INT_EQ(s.n, 6);
    s = replay(7, &last);
    ASSERT_INT_EQ(s.first, 8);
    ASSERT_INT_EQ(count_files(".corrupt"), 0);
    ASSERT_INT_EQ(size_of(log_file(5)), span(5, 10));
    remove_dir();
}

static void test_log_purge(void)
{
    make_dir();
    write_four_files();
    ASSERT_INT_EQ(txnlog_purge(dir, 5), 0);   /* log.1 holds 6..10 */
    ASSERT_INT_EQ(txnlog_purge(dir, 10), 1);  /* log.1 goes */
    ASSERT_TRUE(!exists(log_file(1)) && exists(log_file(11)));
    ASSERT_INT_EQ(txnlog_purge(dir, 25), 1);  /* log.b goes; log.15 holds 26 */
    ASSERT_INT_EQ(txnlog_purge(dir, 1000), 2); /* all but the newest */
    ASSERT_TRUE(exists(log_file(36)));
    int64_t last;
    struct seen s = replay(35, &last);
    ASSERT_INT_EQ(s.first, 36);
    ASSERT_INT_EQ(s.last, 40);
    remove_dir();
}

static void test_log_crash_leaves_preallocated_tail(void)
{
    make_dir();
    pid_t pid = fork();
    if (pid == 0) {
        /* Durable, then "crash": no close, no trim. */
        uv_loop_t loop;
        struct durable d = {0};
        struct txnlog *log = open_log(&loop, &d);
        for (int64_t z = 1; z <= 100; z++)
            append(log, z);
        txnlog_flush(log);
        uv_run(&loop, UV_RUN_DEFAULT);
        _exit(d.zxid == 100 ? 0 : 1);
    }
    int st;
    ASSERT_INT_EQ(waitpid(pid, &st, 0), pid);
    ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    ASSERT_INT_EQ(size_of(log_file(1)), 64 << 20);
    int64_t last;
    ASSERT_INT_EQ(replay(0, &last).n, 100);
    ASSERT_INT_EQ(size_of(log_file(1)), 64 << 20); /* clean end: not cut */
    /* A stray byte deep in the preallocated space is damage. */
    quiet();
    patch(log_file(1), 40 << 20, "x", 1);
    ASSERT_INT_EQ(replay(0, &last).n, 100);
    ASSERT_INT_EQ(size_of(log_file(1)), span(1, 100));
    remove_dir();
}

static unsigned seed_from_env(void)
{
    const char *e = getenv("ZK_STORAGE_SEED");
    unsigned seed = e ? (unsigned)strtoul(e, NULL, 0) : (unsigned)time(NULL);
    printf("seed %u (replay with ZK_STORAGE_SEED=%u)\n", seed, seed);
    fflush(stdout);
    srand(seed);
    return seed;
}

/* Damages buf[0..*len) at random: flips, truncation, garbage, zeroes. */
static void damage(uint8_t *buf, size_t *len, size_t cap)
{
    switch (rand() % 5) {
    case 0:
        for (int k = 1 + rand() % 3; k > 0; k--)
            buf[(size_t)rand() % *len] ^= (uint8_t)(1 + rand() % 255);
        break;
    case 1:
        *len = (size_t)rand() % *len;
        break;
    case 2: {
        size_t at0 = (size_t)rand() % *len, n = 1 + (size_t)rand() % 64;
        for (size_t i = at0; i < at0 + n && i < *len; i++)
            buf[i] = (uint8_t)rand();
        break;
    }
    case 3: {
        size_t at0 = (size_t)rand() % *len, n = 1 + (size_t)rand() % 300;
        memset(buf + at0, 0, at0 + n < *len ? n : *len - at0);
        break;
    }
    default: {
        size_t n = 1 + (size_t)rand() % 40;
        if (*len + n > cap)
            n = cap - *len;
        for (size_t i = 0; i < n; i++)
            buf[(*len)++] = (uint8_t)rand();
        break;
    }
    }
}

/* Whether damage left a file's magic (bytes 0-3) intact but changed its
 * format version (bytes 4-7): Apache's FileHeader. */
static int version_only_changed(const uint8_t *buf, size_t len, const uint8_t *orig)
{
    return len >= 8 && !memcmp(buf, orig, 4) && memcmp(buf + 4, orig + 4, 4);
}

static void test_log_random_damage_replays_a_prefix(void)
{
    make_dir();
    quiet();
    seed_from_env();
    static const int64_t rolls[] = {101, 0};
    write_log(1, 160, rolls);
    size_t len1, len2;
    uint8_t *orig1 = slurp(log_file(1), &len1), *orig2 = slurp(log_file(101), &len2);
    size_t cap = len1 + 64;
    uint8_t *buf = zk_xmalloc(cap);
    for (int iter = 0; iter < 400; iter++) {
        size_t len = len1;
        memcpy(buf, orig1, len1);
        int which = rand() % 2, new_version = 0;
        if (which == 0) {
            damage(buf, &len, cap);
            new_version = version_only_changed(buf, len, orig1);
        }
        spill(log_file(1), buf, len);
        len = len2;
        memcpy(buf, orig2, len2);
        if (which == 1) {
            damage(buf, &len, cap);
            new_version = version_only_changed(buf, len, orig2);
        }
        spill(log_file(101), buf, len);
        unlink(at("log.1.corrupt"));
        unlink(at("log.65.corrupt"));

        int64_t last;
        if (new_version) { /* a newer format is not damage: replay stops (txnlog.h) */
            struct seen ignored = {0};
            ASSERT_INT_EQ(txnlog_replay(dir, 0, collect, &ignored, &last), -EPROTO);
            continue;
        }
        struct seen s = replay(0, &last); /* collect() checks the prefix */
        ASSERT_TRUE(s.n <= 160 && (s.n == 0 || s.first == 1));
        ASSERT_INT_EQ(last, s.n);
        if (which == 0 && s.n < 100)
            ASSERT_TRUE(!exists(log_file(101)));
        ASSERT_INT_EQ(replay(0, &last).n, s.n); /* repaired: same again */
    }
    free(buf);
    free(orig1);
    free(orig2);
    remove_dir();
}

/* ---- snapshots ---- */

/* An image: `n` records generated from `seed`, one of them `big` bytes. */
struct image {
    unsigned seed;
    int n;
    int big_at;
    size_t big;
};

static size_t snap_rec(const struct image *im, int i, uint8_t **buf)
{
    size_t len = i == im->big_at ? im->big : 1 + (size_t)(i * 37 + im->seed) % 500;
    *buf = zk_xmalloc(len);
    for (size_t j = 0; j < len; j++)
        (*buf)[j] = (uint8_t)(im->seed + (unsigned)i * 7 + j);
    return len;
}

/* The body: each record as a jute buffer, then a null buffer (-1). */
static int produce(struct snapshot_writer *w, void *data)
{
    const struct image *im = data;
    for (int i = 0; i < im->n; i++) {
        uint8_t *p, h[4];
        size_t len = snap_rec(im, i, &p);
        zk_be32_put(h, (uint32_t)len);
        snapshot_put(w, h, 4);
        int rc = snapshot_put(w, p, len);
        free(p);
        if (rc)
            return rc;
    }
    return snapshot_put(w, "\xff\xff\xff\xff", 4);
}

/* What a consumer received: a digest, so candidates can be compared. */
struct loaded {
    int n;
    uint32_t crc;
    int resets;
    int refuse_len; /* refuse a record of this length (0: none) */
};

static void consume_rec(struct loaded *l, const void *rec, size_t len)
{
    l->n++;
    l->crc = (uint32_t)crc32(l->crc, rec, (uInt)len);
}

/* Parses the body `produce` writes, as the server's consumer parses its own. */
static int consume(const void *p, size_t len, size_t *used, void *data)
{
    struct loaded *l = data;
    struct jute_in in;
    jute_in_init(&in, p, len);
    for (;;) {
        struct zk_slice r = jute_get_buffer(&in);
        if (in.err)
            return -1;
        if (r.len < 0)
            break;
        if (l->refuse_len && r.len == l->refuse_len)
            return -1;
        consume_rec(l, r.p, (size_t)r.len);
    }
    *used = in.off;
    return 0;
}

static void on_reset(void *data)
{
    struct loaded *l = data;
    l->n = 0;
    l->crc = 0;
    l->resets++;
}

static struct loaded digest(const struct image *im)
{
    struct loaded l = {0};
    for (int i = 0; i < im->n; i++) {
        uint8_t *p;
        size_t len = snap_rec(im, i, &p);
        consume_rec(&l, p, len);
        free(p);
    }
    return l;
}

static void assert_loaded(const struct loaded *got, const struct image *im)
{
    struct loaded want = digest(im);
    ASSERT_INT_EQ(got->n, want.n);
    ASSERT_INT_EQ(got->crc, want.crc);
}

static void test_snapshot_round_trip(void)
{
    make_dir();
    struct image im = {.seed = 7, .n = 1000, .big_at = 500, .big = 3 << 20};
    ASSERT_INT_EQ(snapshot_write(dir, 0x1234, produce, &im), 0);
    ASSERT_TRUE(exists(snap_file(0x1234, "")) && !exists(snap_file(0x1234, ".tmp")));

    /* Apache's FileSnap: FileHeader ("ZKSN", 2, dbid -1), body, then the
     * seal: the Adler-32 of every byte before it and the path "/". */
    size_t len;
    uint8_t *p = slurp(snap_file(0x1234, ""), &len);
    ASSERT_TRUE(memcmp(p, "ZKSN\0\0\0\x02\xff\xff\xff\xff\xff\xff\xff\xff", 16) == 0);
    ASSERT_INT_EQ(zk_be64_get(p + len - 13), adler32_z(adler32(0, NULL, 0), p, len - 13));
    ASSERT_TRUE(memcmp(p + len - 5, "\0\0\0\x01/", 5) == 0);
    free(p);

    struct loaded l = {0};
    int64_t zxid = 0;
    ASSERT_INT_EQ(snapshot_load(dir, consume, on_reset, &l, &zxid, NULL), 0);
    ASSERT_INT_EQ(zxid, 0x1234);
    assert_loaded(&l, &im);
    ASSERT_INT_EQ(l.resets, 0);
    ASSERT_INT_EQ(snapshot_dir_bytes(dir), size_of(snap_file(0x1234, "")));
    remove_dir();
}

/* Over 24 MB: the writer pushes its file to disk every 8 MB on the way
 * (buffered records and a 9 MB record written straight), and the image
 * still loads whole. */
static void test_snapshot_paced_writeback_round_trip(void)
{
    make_dir();
    struct image im = {.seed = 3, .n = 80000, .big_at = 40000, .big = 9 << 20};
    ASSERT_INT_EQ(snapshot_write(dir, 0x99, produce, &im), 0);
    ASSERT_TRUE(size_of(snap_file(0x99, "")) > (24 << 20));
    struct loaded l = {0};
    int64_t zxid = 0;
    ASSERT_INT_EQ(snapshot_load(dir, consume, on_reset, &l, &zxid, NULL), 0);
    ASSERT_INT_EQ(zxid, 0x99);
    assert_loaded(&l, &im);
    remove_dir();
}

/* From 32 MiB on, the seal's Adler-32 runs on a second thread while the
 * consumer parses (snapshot.c): it still matches, and a byte changed in a
 * record's data is still caught, early (below the thread's checkpoints),
 * mid-way or late (after the last checkpoint, in the slice the loading
 * thread finishes). */
static void test_snapshot_checksum_beside_the_parse(void)
{
    make_dir();
    /* the big record first: its data starts after the header and its length */
    struct image im = {.seed = 5, .n = 3000, .big_at = 0, .big = 36 << 20};
    ASSERT_INT_EQ(snapshot_write(dir, 0x10, produce, &im), 0);
    int64_t size = size_of(snap_file(0x10, ""));
    ASSERT_TRUE(size > (36 << 20));
    struct loaded l = {0};
    int64_t zxid = 0;
    ASSERT_INT_EQ(snapshot_load(dir, consume, on_reset, &l, &zxid, NULL), 0);
    ASSERT_INT_EQ(zxid, 0x10);
    assert_loaded(&l, &im);
    unlink(snap_file(0x10, ""));
    /* the last record's last byte sits before the -1 terminator and the seal */
    int64_t where[3] = {20 + 1000, 20 + (9 << 20) + 3, size - 13 - 4 - 1};
    for (int i = 0; i < 3; i++) {
        int64_t z = 0x20 + i;
        ASSERT_INT_EQ(snapshot_write(dir, z, produce, &im), 0);
        flip_byte(snap_file(z, ""), where[i]);
        l = (struct loaded){0};
        ASSERT_INT_EQ(snapshot_load(dir, consume, on_reset, &l, &zxid, NULL), -ENODATA);
        ASSERT_INT_EQ(zxid, -1);
        ASSERT_TRUE(exists(snap_file(z, ".corrupt")));
        unlink(snap_file(z, ".corrupt"));
    }
    remove_dir();
}

static void test_snapshot_empty_dir(void)
{
    make_dir();
    struct loaded l = {0};
    int64_t zxid = 0, oldest = 0;
    ASSERT_INT_EQ(snapshot_load(dir, consume, on_reset, &l, &zxid, NULL), 0);
    ASSERT_INT_EQ(zxid, -1);
    ASSERT_INT_EQ(snapshot_load(at("nope"), consume, NULL, &l, &zxid, NULL), 0);
    ASSERT_INT_EQ(zxid, -1);
    ASSERT_INT_EQ(snapshot_purge(dir, 3, &oldest), 0);
    ASSERT_INT_EQ(oldest, -1);
    ASSERT_INT_EQ(snapshot_dir_bytes(dir), 0);
    struct image none = {.n = 0, .big_at = -1};
    ASSERT_INT_EQ(snapshot_write(dir, 5, produce, &none), 0); /* an empty tree is an image */
    ASSERT_INT_EQ(snapshot_load(dir, consume, on_reset, &l, &zxid, NULL), 0);
    ASSERT_INT_EQ(zxid, 5);
    ASSERT_INT_EQ(l.n, 0);
    remove_dir();
}

static int produce_fails(struct snapshot_writer *w, void *data)
{
    (void)data;
    snapshot_put(w, "x", 1);
    return -ENOSPC;
}

/* A background producer of `produce`'s body, a few records per step; it
 * first says "nothing yet" `wait` times (snapshot.h: called again later). */
/* The producer runs on the snapshot's thread: the test reads `calls`
 * atomically while it runs, the rest once it has been joined. */
struct stepper {
    struct image *im;
    int i, wait, calls, fail;
    int after_end; /* calls after it returned non-zero: must stay 0 */
    int ended;
    int waiting_fd; /* if > 0: a byte is written there when it first waits */
};

static int step(struct jute_out *out, void *data)
{
    struct stepper *st = data;
    __atomic_add_fetch(&st->calls, 1, __ATOMIC_SEQ_CST);
    if (st->ended) {
        st->after_end++;
        return 1;
    }
    if (st->fail) {
        jute_put_raw(out, "x", 1);
        st->ended = 1;
        return -ENOSPC;
    }
    for (int k = 0; k < 50 && st->i < st->im->n; k++, st->i++) {
        uint8_t *p;
        size_t len = snap_rec(st->im, st->i, &p);
        jute_put_buffer(out, p, (int32_t)len);
        free(p);
    }
    if (st->i < st->im->n)
        return 0;
    if (st->wait > 0) {
        if (st->waiting_fd > 0) {
            ASSERT_INT_EQ(write(st->waiting_fd, "w", 1), 1);
            st->waiting_fd = 0;
        }
        st->wait--;
        return 0;
    }
    jute_put_int(out, -1);
    st->ended = 1;
    return 1;
}

struct bg {
    uv_loop_t *loop;
    struct stepper *next; /* started from the first `done` */
    int calls;
    int status[2];
    int64_t zxid[2];
    double seconds;
};

static void on_done(int status, int64_t zxid, double seconds, void *data)
{
    struct bg *b = data;
    ASSERT_TRUE(b->calls < 2);
    ASSERT_TRUE(!snapshot_running());
    b->status[b->calls] = status;
    b->zxid[b->calls] = zxid;
    b->seconds = seconds;
    if (b->calls++ == 0 && b->next) /* the next one may start from here */
        ASSERT_INT_EQ(snapshot_start(b->loop, dir, 20, NULL, step, b->next, on_done, b), 0);
}

static void test_snapshot_in_background(void)
{
    make_dir();
    uv_loop_t loop;
    ASSERT_INT_EQ(uv_loop_init(&loop), 0);
    struct image im = {.seed = 3, .n = 5000, .big_at = -1};
    struct stepper fails = {.im = &im, .fail = 1}, ok = {.im = &im, .wait = 3};
    struct bg b = {.loop = &loop, .next = &ok};
    ASSERT_INT_EQ(snapshot_start(&loop, dir, 10, NULL, step, &fails, on_done, &b), 0);
    ASSERT_TRUE(snapshot_running());
    ASSERT_INT_EQ(snapshot_start(&loop, dir, 11, NULL, step, &ok, on_done, &b), -EBUSY);
    uv_run(&loop, UV_RUN_DEFAULT); /* returns only when no handle is left */
    ASSERT_INT_EQ(b.calls, 2);
    ASSERT_INT_EQ(b.status[0], -ENOSPC);
    ASSERT_INT_EQ(b.zxid[0], 10);
    ASSERT_INT_EQ(b.status[1], 0);
    ASSERT_INT_EQ(b.zxid[1], 20);
    ASSERT_TRUE(b.seconds >= 0 && b.seconds < 60);
    ASSERT_TRUE(ok.calls > 100 / 50 + 3); /* in steps, waits included */
    ASSERT_INT_EQ(fails.after_end + ok.after_end, 0);
    ASSERT_TRUE(!snapshot_running());
    ASSERT_INT_EQ(uv_loop_close(&loop), 0);
    ASSERT_TRUE(!exists(snap_file(10, "")) && !exists(snap_file(10, ".tmp")));
    struct loaded l = {0};
    int64_t zxid;
    ASSERT_INT_EQ(snapshot_load(dir, consume, on_reset, &l, &zxid, NULL), 0);
    ASSERT_INT_EQ(zxid, 20);
    assert_loaded(&l, &im);
    remove_dir();
}

/* The background writer with each compression and a digest trailer: what
 * snapshot_write would have written, byte for byte. */
static void test_snapshot_in_background_matches_synchronous(void)
{
    static const char *const methods[] = {"none", "gz", "snappy"};
    for (int m = 0; m < 3; m++) {
        make_dir();
        ASSERT_INT_EQ(snapshot_set_compression(methods[m]), 0);
        struct image im = {.seed = 9, .n = 3000, .big_at = 1000, .big = 2 << 20};
        uv_loop_t loop;
        ASSERT_INT_EQ(uv_loop_init(&loop), 0);
        struct stepper st = {.im = &im};
        struct bg b = {.loop = &loop};
        struct snapshot_digest dg = {0x30, 12345};
        ASSERT_INT_EQ(snapshot_start(&loop, dir, 0x30, &dg, step, &st, on_done, &b), 0);
        uv_run(&loop, UV_RUN_DEFAULT);
        ASSERT_INT_EQ(uv_loop_close(&loop), 0);
        ASSERT_INT_EQ(b.status[0], 0);
        struct loaded l = {0};
        int64_t zxid;
        struct snapshot_info info;
        ASSERT_INT_EQ(snapshot_load(dir, consume, on_reset, &l, &zxid, &info), 0);
        ASSERT_INT_EQ(zxid, 0x30);
        assert_loaded(&l, &im);
        ASSERT_INT_EQ(info.digest_zxid, 0x30);
        ASSERT_INT_EQ(info.digest, 12345);
        remove_dir();
    }
    ASSERT_INT_EQ(snapshot_set_compression("none"), 0);
}

/* snapshot_cancel: the producer is not called again, no file is left,
 * `done` says -ECANCELED.  The producer is stopped in its waiting state
 * (all its records given, waiting for something that never comes), so the
 * cancel surely finds it running. */
static void test_snapshot_in_background_cancel(void)
{
    make_dir();
    uv_loop_t loop;
    ASSERT_INT_EQ(uv_loop_init(&loop), 0);
    struct image im = {.seed = 4, .n = 2000, .big_at = -1};
    int waiting[2];
    ASSERT_INT_EQ(pipe(waiting), 0);
    struct stepper st = {.im = &im, .wait = INT_MAX, .waiting_fd = waiting[1]};
    struct bg b = {.loop = &loop};
    ASSERT_INT_EQ(snapshot_start(&loop, dir, 0x40, NULL, step, &st, on_done, &b), 0);
    char c;
    ASSERT_INT_EQ(read(waiting[0], &c, 1), 1); /* it runs, and waits */
    snapshot_cancel();
    int calls = __atomic_load_n(&st.calls, __ATOMIC_SEQ_CST);
    ASSERT_TRUE(calls > 0);
    ASSERT_TRUE(!st.ended);
    ASSERT_TRUE(!exists(snap_file(0x40, ".tmp")));
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT_INT_EQ(uv_loop_close(&loop), 0);
    ASSERT_INT_EQ(st.calls, calls);
    ASSERT_INT_EQ(b.calls, 1);
    ASSERT_INT_EQ(b.status[0], -ECANCELED);
    ASSERT_TRUE(!snapshot_running());
    ASSERT_TRUE(!exists(snap_file(0x40, "")));
    close(waiting[0]);
    close(waiting[1]);
    remove_dir();
}

static void test_snapshot_corrupt_newest_falls_back(void)
{
    make_dir();
    quiet();
    struct image a = {.seed = 1, .n = 50, .big_at = -1}, b = {.seed = 2, .n = 60, .big_at = -1},
                 c = {.seed = 3, .n = 70, .big_at = -1};
    ASSERT_INT_EQ(snapshot_write(dir, 10, produce, &a), 0);
    ASSERT_INT_EQ(snapshot_write(dir, 20, produce, &b), 0);
    ASSERT_INT_EQ(snapshot_write(dir, 30, produce, &c), 0);
    flip_byte(snap_file(30, ""), 26); /* bytes of the first record */
    cut(snap_file(20, ""), size_of(snap_file(20, "")) - 13); /* no seal */
    struct loaded l = {0};
    int64_t zxid;
    ASSERT_INT_EQ(snapshot_load(dir, consume, on_reset, &l, &zxid, NULL), 0);
    ASSERT_INT_EQ(zxid, 10);
    assert_loaded(&l, &a);
    ASSERT_INT_EQ(l.resets, 2); /* 30 and 20 parsed before their seals failed */
    ASSERT_TRUE(exists(snap_file(30, ".corrupt")) && exists(snap_file(20, ".corrupt")));
    ASSERT_TRUE(!exists(snap_file(30, "")) && !exists(snap_file(20, "")));

    /* A body the consumer cannot parse is damage too (the seal cannot be
     * found without parsing): set aside, the older one loads. */
    struct image d = {.seed = 4, .n = 10, .big_at = 5, .big = 777};
    ASSERT_INT_EQ(snapshot_write(dir, 40, produce, &d), 0);
    l = (struct loaded){.refuse_len = 777};
    ASSERT_INT_EQ(snapshot_load(dir, consume, on_reset, &l, &zxid, NULL), 0);
    ASSERT_INT_EQ(zxid, 10);
    ASSERT_INT_EQ(l.resets, 1);
    assert_loaded(&l, &a);
    ASSERT_TRUE(exists(snap_file(40, ".corrupt")));

    /* Nothing usable at all: an error, never an empty start; consumer left empty. */
    flip_byte(snap_file(10, ""), size_of(snap_file(10, "")) - 1); /* the seal's "/" */
    l = (struct loaded){0};
    ASSERT_INT_EQ(snapshot_load(dir, consume, on_reset, &l, &zxid, NULL), -ENODATA);
    ASSERT_INT_EQ(zxid, -1);
    ASSERT_INT_EQ(l.n, 0);
    remove_dir();
}

static void test_snapshot_tmp_is_removed(void)
{
    make_dir();
    struct image a = {.seed = 1, .n = 5, .big_at = -1};
    ASSERT_INT_EQ(snapshot_write(dir, 3, produce, &a), 0);
    spill(snap_file(5, ".tmp"), (const uint8_t *)"ZKSN\0\0\0\x02half", 12);
    spill(snap_file(3, ".tmp"), (const uint8_t *)"x", 1);
    struct loaded l = {0};
    int64_t zxid;
    ASSERT_INT_EQ(snapshot_load(dir, consume, on_reset, &l, &zxid, NULL), 0);
    ASSERT_INT_EQ(zxid, 3);
    ASSERT_TRUE(!exists(snap_file(5, ".tmp")) && !exists(snap_file(3, ".tmp")));
    ASSERT_TRUE(exists(snap_file(3, "")));
    remove_dir();
}

static void test_snapshot_write_failure_leaves_nothing(void)
{
    make_dir();
    struct image a = {.seed = 1, .n = 5, .big_at = -1};
    ASSERT_INT_EQ(snapshot_write(dir, 8, produce_fails, &a), -ENOSPC);
    ASSERT_INT_EQ(snapshot_write(at("nope"), 8, produce, &a), -ENOENT);
    ASSERT_INT_EQ(count_files(""), 0);
    remove_dir();
}

static void test_snapshot_purge_and_bytes(void)
{
    make_dir();
    int64_t total = 0;
    for (int i = 1; i <= 6; i++) {
        struct image im = {.seed = (unsigned)i, .n = i * 10, .big_at = -1};
        ASSERT_INT_EQ(snapshot_write(dir, i * 100, produce, &im), 0);
        total += size_of(snap_file(i * 100, ""));
    }
    spill(snap_file(50, ".corrupt"), (const uint8_t *)"junk", 4);
    ASSERT_INT_EQ(snapshot_dir_bytes(dir), total);
    int64_t oldest = 0;
    ASSERT_INT_EQ(snapshot_purge(dir, 1, &oldest), 3); /* retains 3 regardless */
    ASSERT_INT_EQ(oldest, 400);
    ASSERT_TRUE(!exists(snap_file(300, "")) && exists(snap_file(400, "")));
    ASSERT_TRUE(exists(snap_file(50, ".corrupt")));
    ASSERT_INT_EQ(snapshot_purge(dir, 5, &oldest), 0);
    ASSERT_INT_EQ(oldest, 400);
    remove_dir();
}

static void test_snapshot_random_damage_falls_back(void)
{
    make_dir();
    quiet();
    seed_from_env();
    struct image a = {.seed = 11, .n = 30, .big_at = -1}, b = {.seed = 12, .n = 40, .big_at = -1};
    ASSERT_INT_EQ(snapshot_write(dir, 1, produce, &a), 0);
    ASSERT_INT_EQ(snapshot_write(dir, 2, produce, &b), 0);
    size_t len0;
    uint8_t *orig = slurp(snap_file(2, ""), &len0);
    size_t cap = len0 + 64;
    uint8_t *buf = zk_xmalloc(cap);
    for (int iter = 0; iter < 400; iter++) {
        size_t len = len0;
        memcpy(buf, orig, len0);
        damage(buf, &len, cap);
        unlink(snap_file(2, ".corrupt"));
        spill(snap_file(2, ""), buf, len);
        struct loaded l = {0};
        int64_t zxid;
        if (version_only_changed(buf, len, orig)) {
            /* The damage hit only the format version: a newer format is not
             * damage, so the load stops rather than fall back (snapshot.h). */
            ASSERT_INT_EQ(snapshot_load(dir, consume, on_reset, &l, &zxid, NULL), -EPROTO);
            on_reset(&l);
            continue;
        }
        ASSERT_INT_EQ(snapshot_load(dir, consume, on_reset, &l, &zxid, NULL), 0);
        if (len == len0 && !memcmp(buf, orig, len)) { /* damage undone by chance */
            ASSERT_INT_EQ(zxid, 2);
            continue;
        }
        ASSERT_INT_EQ(zxid, 1);
        assert_loaded(&l, &a);
        ASSERT_TRUE(exists(snap_file(2, ".corrupt")) && exists(snap_file(1, "")));
    }
    free(buf);
    free(orig);
    remove_dir();
}

/* ---- numbers ---- */

static void test_bench_single_record_batches(void)
{
    make_dir();
    uv_loop_t loop;
    struct durable d = {0};
    struct txnlog *log = open_log(&loop, &d);
    const int n = 2000;
    double t0 = now_s();
    for (int64_t z = 1; z <= n; z++) {
        append(log, z);
        txnlog_flush(log);
        uv_run(&loop, UV_RUN_DEFAULT);
    }
    double t = now_s() - t0;
    ASSERT_INT_EQ(d.zxid, n);
    struct txnlog_stats st;
    txnlog_get_stats(log, &st);
    ASSERT_INT_EQ(st.fsyncs, n);
    printf("1-record batches: %.0f durable batches/s (%.3f ms each, slowest sync %.3f ms)\n",
           n / t, t * 1000 / n, st.max_fsync_ms);
    close_log(&loop, log);
    remove_dir();
}

struct stream {
    struct txnlog *log;
    uv_idle_t idle;
    uv_prepare_t prepare;
    int64_t next, total;
    struct durable d;
};

/* One record per loop iteration, as from a busy client connection. */
static void stream_idle(uv_idle_t *h)
{
    struct stream *s = h->data;
    append(s->log, s->next++);
    if (s->next > s->total)
        uv_idle_stop(h);
}

static void stream_prepare(uv_prepare_t *h)
{
    struct stream *s = h->data;
    txnlog_flush(s->log);
    if (s->d.zxid == s->total)
        uv_close((uv_handle_t *)h, NULL);
}

static void test_bench_group_commit_100k(void)
{
    make_dir();
    uv_loop_t loop;
    struct stream s = {.next = 1, .total = 100000};
    s.log = open_log(&loop, &s.d);
    uv_idle_init(&loop, &s.idle);
    uv_prepare_init(&loop, &s.prepare);
    s.idle.data = s.prepare.data = &s;
    uv_idle_start(&s.idle, stream_idle);
    uv_prepare_start(&s.prepare, stream_prepare);
    double t0 = now_s();
    uv_run(&loop, UV_RUN_DEFAULT);
    double t = now_s() - t0;
    ASSERT_INT_EQ(s.d.zxid, s.total);
    struct txnlog_stats st;
    txnlog_get_stats(s.log, &st);
    printf("100k records, one appended per loop iteration: %llu fsyncs, %.1f records/fsync, "
           "%.0f records/s durable, %.2f s\n",
           (unsigned long long)st.fsyncs, (double)st.records / (double)st.fsyncs,
           (double)s.total / t, t);
    ASSERT_TRUE(st.fsyncs >= 1 && st.fsyncs <= (uint64_t)s.total);
    uv_close((uv_handle_t *)&s.idle, NULL);
    close_log(&loop, s.log);
    int64_t last;
    ASSERT_INT_EQ(replay(0, &last).n, s.total);
    remove_dir();
}

ZTEST_MAIN(ZT(test_log_group_commit_round_trip),
           ZT(test_log_close_reports_final_batch), ZT(test_log_missing_dir),
           ZT(test_log_torn_tail_is_truncated), ZT(test_log_garbage_tails_are_cut),
           ZT(test_log_flipped_byte_stops_before_it), ZT(test_log_zxid_must_increase),
           ZT(test_log_roll_makes_files), ZT(test_log_truncate_drops_records_above),
           ZT(test_txnwin_plans_diff_trunc_snap), ZT(test_log_damage_retires_later_files),
           ZT(test_log_hole_between_files), ZT(test_log_empty_file_cannot_be_followed),
           ZT(test_log_must_continue_from),
           ZT(test_log_purge), ZT(test_log_crash_leaves_preallocated_tail),
           ZT(test_log_random_damage_replays_a_prefix), ZT(test_snapshot_round_trip), ZT(test_snapshot_paced_writeback_round_trip),
           ZT(test_snapshot_checksum_beside_the_parse),
           ZT(test_snapshot_empty_dir), ZT(test_snapshot_in_background),
           ZT(test_snapshot_in_background_matches_synchronous),
           ZT(test_snapshot_in_background_cancel),
           ZT(test_snapshot_corrupt_newest_falls_back), ZT(test_snapshot_tmp_is_removed),
           ZT(test_snapshot_write_failure_leaves_nothing), ZT(test_snapshot_purge_and_bytes),
           ZT(test_snapshot_random_damage_falls_back), ZT(test_bench_single_record_batches),
           ZT(test_bench_group_commit_100k))
