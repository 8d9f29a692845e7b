/*
 * txnlog.c - the transaction log: framing, group commit, recovery.
 *
 * BYTE LAYOUT (every integer big-endian; Apache ZooKeeper's FileTxnLog)
 *
 *   version-2/log.<zxid of the file's first record, lower-case hex>
 *
 *     header   [i32 "ZKLG"][i32 2][i64 dbid 0]
 *     entry    [u64 adler32][u32 len][len bytes: TxnHeader + record][0x42]
 *     entry    ...
 *     zeroes   preallocated space that was never written, up to EOF
 *
 * `len` is at least a TxnHeader (32 bytes), so a length of zero is never a
 * record: it is where the data ends, as in Apache (an "empty transaction").
 * The Adler-32 (zlib's, as java.util.zip.Adler32) covers the bytes only; a
 * damaged length makes it run over the wrong bytes, which fails it all the
 * same, and the 0x42 must follow.  The zxid is the TxnHeader's.
 *
 * GROUP COMMIT
 *
 *   loop thread                               writer thread
 *   -----------                               -------------
 *   txnlog_append: frame into `fill`
 *   txnlog_flush:  swap fill <-> sync,  ---->  write sync's bytes, fdatasync
 *                  busy = 1                   busy = 0, synced = last zxid,
 *   (appends go on into the new `fill`)  <----  uv_async_send
 *   on_synced: durable cb(synced); if `fill`
 *              has records, hand it over now
 *
 * One batch is in flight at a time, so durability is reported in zxid order,
 * and every record appended while a batch syncs shares the next fsync: the
 * slower the disk, the bigger the batches (ZooKeeper's SyncRequestProcessor
 * and Redis's beforeSleep AOF flush work the same way).  When a batch
 * completes with records already waiting, they are handed over at once
 * rather than at the caller's next txnlog_flush(), so nothing waits on the
 * loop's sleep; the caller's flush covers the first batch after an idle spell.
 *
 * The writer is a thread of our own, not uv_queue_work: libuv's pool is
 * shared with file and DNS work (four threads by default), and a commit
 * queued behind a slow getaddrinfo would stall every client.  It also lets
 * txnlog_close() wait for an in-flight batch on a condition variable, without
 * running the loop (close may be called from a callback, and uv_run does not
 * nest).  The thread runs with asynchronous signals blocked, so signal
 * handlers run on the loop thread and never interrupt a sync.
 *
 * FILES
 *
 * A file is started by the first record after txnlog_open() or
 * txnlog_roll(): created, preallocated, and then the directory is fsync'd,
 * so the name is durable before any record in it is reported durable.
 * Preallocation uses fallocate() in preAllocSize steps (64 MiB): the file's size
 * changes once per chunk, not once per batch, so the fdatasync() of a batch
 * has no size update to journal (on ext4 it still records the conversion of
 * the unwritten extents it wrote into, which is cheaper).  A file system
 * without fallocate gets plain appends: slower syncs, same guarantees.  When
 * a file is left behind (roll, close) it is trimmed to its data and fsync'd,
 * so retained logs do not keep 64 MiB each.
 *
 * FAILURE MODES
 *
 * A write or sync error aborts the process (after log_error): once fsync has
 * failed, the kernel may have dropped the dirty pages and a retry can report
 * success for data that is gone (PostgreSQL's "fsyncgate", 2018), so the only
 * honest answer is to stop and let recovery find what is really on disk.
 * Appending a zxid that does not increase, or a record that cannot be framed,
 * is a caller bug that would make the log unreadable past that point; it
 * aborts too, before anything is written.
 *
 * RECOVERY (txnlog_replay)
 *
 * Files are read in zxid order; each record must be complete, match its checksum
 * and carry a zxid above every earlier one.  The first record that does not
 * ends the log: the file is cut there (ftruncate + fsync, logged with file,
 * offset and reason) and the record is never applied.  File names add what
 * framing cannot see: a file starts with the zxid in its name, and within an
 * epoch right after the previous file's last record, so a lost file tail (a
 * tail zeroed at a record boundary reads as a clean end) shows as a hole,
 * and the file after it is set aside whole (see record_place).  Only the
 * last file can end torn in normal operation, because a file is trimmed and
 * fsync'd before the next one is created; so a bad record in an earlier file
 * is damage, and the later files, which could not follow the hole, are renamed
 * `*.corrupt` (and the directory fsync'd).  Both repairs are made durable
 * before replay returns, because the server starts appending a new file right
 * after: were the cut lost in a crash, the next recovery would find the same
 * tear and retire the new file, acknowledged transactions and all.  Zeroes
 * after the end-of-data mark are preallocated space; anything else there
 * means a batch reached the disk out of order and is cut the same way.
 * Lengths are checked against the bytes the file really has before anything
 * is allocated or read, so no input makes replay read out of bounds.
 */
#include "txnlog.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checksum.h"

#include "datadir.h"
#include "log.h"
#include "txn.h"
#include "zk/jute.h"

#define FILE_HDR 16                 /* int magic, int version, long dbid */
#define LOG_MAGIC "ZKLG"
#define LOG_VERSION 2
#define REC_HDR 12                  /* long checksum, int len */
#define EOR 0x42                    /* Apache's end-of-record byte ('B') */
#define MAX_RECORD (256u << 20)     /* far above any jute.maxbuffer in use */
static off_t prealloc_chunk = (off_t)64 << 20; /* txnlog_set_prealloc */
#define KEEP_BUFFER ((size_t)16 << 20) /* a bigger batch buffer is freed after use */
#define READ_BUFFER (1u << 20)
#define ZERO_SCAN (64u << 10)

/* Names a log file; the caller checked at open that `dir` leaves room. */
static void log_name(char *out, size_t size, const char *dir, int64_t zxid)
{
    snprintf(out, size, "%s/log.%" PRIx64, dir, (uint64_t)zxid);
}

/* ---- batches ---- */

/* A new file begins inside a batch at `off`, named after that record. */
struct split {
    size_t off;
    int64_t zxid;
};

struct batch {
    struct jute_out buf;  /* framed records, back to back */
    struct split *splits; /* files to start, in buffer order */
    size_t nsplits, cap_splits;
    size_t records;
    int64_t last_zxid;
};

/* Empties a batch for reuse, keeping its buffer unless a burst made it huge. */
static void batch_clear(struct batch *b)
{
    if (b->buf.cap > KEEP_BUFFER)
        jute_out_free(&b->buf);
    b->buf.len = 0;
    b->nsplits = 0;
    b->records = 0;
    b->last_zxid = 0;
}

static void batch_free(struct batch *b)
{
    jute_out_free(&b->buf);
    free(b->splits);
    memset(b, 0, sizeof *b);
}

static void batch_split(struct batch *b, int64_t zxid)
{
    if (b->nsplits == b->cap_splits) {
        b->cap_splits = b->cap_splits ? 2 * b->cap_splits : 4;
        b->splits = zk_xrealloc(b->splits, b->cap_splits * sizeof *b->splits);
    }
    b->splits[b->nsplits++] = (struct split){b->buf.len, zxid};
}

/* ---- the log ---- */

struct txnlog {
    /* Loop thread only. */
    uv_loop_t *loop;
    txnlog_durable_cb cb;
    void *data;
    struct batch fill;     /* records appended since the last hand-over */
    int roll;              /* the next record starts a new file */
    int closing;           /* txnlog_close() has begun */
    int64_t appended_zxid; /* the last zxid appended */
    int64_t reported_zxid; /* the last zxid given to `cb` */
    size_t inflight;       /* records handed to the writer, not yet reported */
    uv_async_t async;      /* the writer's "batch done"; ref'd while in flight */

    /* Shared, under `mu`. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct batch sync;     /* the writer's, while `busy` */
    int busy, quit;
    int parked;            /* the writer has started and waits for work */
    int64_t synced_zxid;
    struct txnlog_stats stats;

    /* The writer thread's, or the closing thread's once the writer exited. */
    pthread_t thread;
    int fd;                /* current file, or -1 */
    off_t off;             /* end of data in it */
    off_t alloc_end;       /* end of its preallocated space */
    int prealloc;          /* 0 once fallocate failed for this file */
    int no_fallocate;      /* the file system lacks it: stop trying */
    char path[PATH_MAX + 32]; /* current file, for messages */
    char dir[PATH_MAX];
};

/* Stops the server: the log can no longer promise durability (see above). */
__attribute__((noreturn)) static void die(const char *what, const char *path, int err)
{
    log_error("txnlog: %s %s failed: %s; stopping, transactions can no longer be made durable",
              what, path, strerror(err));
    abort();
}

/* Preallocates up to a chunk boundary at or beyond `end`, if it can. */
static void file_reserve(struct txnlog *log, off_t end)
{
    if (!log->prealloc || log->no_fallocate || end <= log->alloc_end)
        return;
    off_t want = (end + prealloc_chunk - 1) / prealloc_chunk * prealloc_chunk;
    int rc;
    while ((rc = fallocate(log->fd, 0, log->alloc_end, want - log->alloc_end)) && errno == EINTR)
        ;
    if (rc == 0) {
        log->alloc_end = want;
        return;
    }
    /* Without preallocation every batch also syncs the file size: slower,
     * equally safe.  A real shortage shows up as a failing write instead. */
    log->prealloc = 0;
    if (errno == EOPNOTSUPP || errno == ENOSYS) {
        log->no_fallocate = 1;
        log_info("txnlog: %s does not support fallocate; appending without preallocation",
                 log->dir);
    } else {
        log_warn("txnlog: cannot preallocate %s: %s; appending without preallocation", log->path,
                 strerror(errno));
    }
}

/* Writes `n` bytes at the end of the current file's data. */
static void file_write(struct txnlog *log, const uint8_t *p, size_t n)
{
    if (!n)
        return;
    assert(log->fd >= 0);
    file_reserve(log, log->off + (off_t)n);
    while (n) {
        ssize_t w = pwrite(log->fd, p, n, log->off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            die("write to", log->path, w < 0 ? errno : ENOSPC);
        p += w;
        n -= (size_t)w;
        log->off += w;
    }
}

/* Leaves the current file: drops its unused preallocation, makes it durable. */
static void file_finish(struct txnlog *log)
{
    if (log->fd < 0)
        return;
    if (log->alloc_end > log->off && ftruncate(log->fd, log->off))
        die("ftruncate of", log->path, errno);
    if (fsync(log->fd))
        die("fsync of", log->path, errno);
    close(log->fd);
    log->fd = -1;
}

/* Starts the file whose first record has `zxid`. */
static void file_start(struct txnlog *log, int64_t zxid)
{
    file_finish(log);
    log_name(log->path, sizeof log->path, log->dir, zxid);
    /* O_TRUNC: a file of this name can only exist if recovery cut it to
     * nothing (its first record was torn), since names are first zxids and
     * the server resumes after the last valid one. */
    log->fd = open(log->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (log->fd < 0)
        die("create of", log->path, errno);
    log->off = log->alloc_end = 0;
    log->prealloc = 1;
    uint8_t h[FILE_HDR] = {0}; /* dbid 0, as Apache's FileTxnLog */
    memcpy(h, LOG_MAGIC, 4);
    zk_be32_put(h + 4, LOG_VERSION);
    file_write(log, h, sizeof h);
    int rc = datadir_fsync(log->dir);
    if (rc)
        die("fsync of directory", log->dir, -rc);
}

/* Writes one batch into its file(s) and syncs it.  Runs on the writer thread,
 * or on the closing thread after the writer exited.  Returns the ms taken. */
static double batch_write(struct txnlog *log, const struct batch *b)
{
    uint64_t t0 = uv_hrtime();
    size_t at = 0;
    for (size_t i = 0; i < b->nsplits; i++) {
        file_write(log, b->buf.p + at, b->splits[i].off - at);
        file_start(log, b->splits[i].zxid);
        at = b->splits[i].off;
    }
    file_write(log, b->buf.p + at, b->buf.len - at);
    if (fdatasync(log->fd))
        die("fdatasync of", log->path, errno);
    return (double)(uv_hrtime() - t0) / 1e6;
}

/* Counts a synced batch; caller holds `mu`. */
static void stats_add(struct txnlog *log, const struct batch *b, double ms)
{
    log->stats.fsyncs++;
    log->stats.records += b->records;
    log->stats.bytes += b->buf.len;
    log->stats.last_fsync_ms = ms;
    if (ms > log->stats.max_fsync_ms)
        log->stats.max_fsync_ms = ms;
}

static void *writer_main(void *arg)
{
    struct txnlog *log = arg;
    pthread_mutex_lock(&log->mu);
    log->parked = 1;
    pthread_cond_broadcast(&log->cv); /* writer_start() waits for this */
    for (;;) {
        while (!log->busy && !log->quit)
            pthread_cond_wait(&log->cv, &log->mu);
        if (!log->busy)
            break;
        /* `sync` is ours while busy: the loop thread only swaps when idle. */
        pthread_mutex_unlock(&log->mu);
        double ms = batch_write(log, &log->sync);
        pthread_mutex_lock(&log->mu);
        stats_add(log, &log->sync, ms);
        log->synced_zxid = log->sync.last_zxid;
        log->busy = 0;
        pthread_cond_broadcast(&log->cv); /* txnlog_close() may be waiting */
        uv_async_send(&log->async);
    }
    pthread_mutex_unlock(&log->mu);
    return NULL;
}

/* Starts the writer with asynchronous signals blocked (it inherits the mask),
 * so their handlers run on the loop thread and never interrupt a sync.
 * Returns 0 or -errno. */
static int writer_start(struct txnlog *log)
{
    static const int sync_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP};
    sigset_t block, old;
    sigfillset(&block);
    for (size_t i = 0; i < sizeof sync_signals / sizeof sync_signals[0]; i++)
        sigdelset(&block, sync_signals[i]);
    pthread_sigmask(SIG_SETMASK, &block, &old);
    int rc = pthread_create(&log->thread, NULL, writer_main, log);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc)
        return -rc;
    /* A server on a dataDir without a snapshot forks one right after this.
     * A thread still starting up may hold the allocator's locks (the
     * sanitizers' allocator takes none around fork()), and the child then
     * hangs at its first malloc, and the server with it at its stop. */
    pthread_mutex_lock(&log->mu);
    while (!log->parked)
        pthread_cond_wait(&log->cv, &log->mu);
    pthread_mutex_unlock(&log->mu);
    return 0;
}

static void writer_stop(struct txnlog *log)
{
    pthread_mutex_lock(&log->mu);
    while (log->busy)
        pthread_cond_wait(&log->cv, &log->mu);
    log->quit = 1;
    pthread_cond_signal(&log->cv);
    pthread_mutex_unlock(&log->mu);
    pthread_join(log->thread, NULL);
}

/* Gives `fill` to the writer; the loop must not have a batch in flight. */
static void hand_over(struct txnlog *log)
{
    assert(!log->inflight && log->fill.records);
    size_t n = log->fill.records;
    pthread_mutex_lock(&log->mu);
    struct batch t = log->sync;
    log->sync = log->fill;
    log->fill = t;
    log->busy = 1;
    pthread_cond_signal(&log->cv);
    pthread_mutex_unlock(&log->mu);
    batch_clear(&log->fill);
    log->inflight = n;
    uv_ref((uv_handle_t *)&log->async); /* the loop lives until it is durable */
}

static void report(struct txnlog *log, int64_t zxid)
{
    if (zxid > log->reported_zxid) {
        log->reported_zxid = zxid;
        log->cb(log, zxid, log->data);
    }
}

static void on_synced(uv_async_t *h)
{
    struct txnlog *log = h->data;
    pthread_mutex_lock(&log->mu);
    int busy = log->busy;
    int64_t zxid = log->synced_zxid;
    pthread_mutex_unlock(&log->mu);
    if (busy || !log->inflight)
        return; /* a wakeup for a batch already reported */
    log->inflight = 0;
    report(log, zxid);
    /* The callback may have appended, flushed, or closed the log. */
    if (log->closing || log->inflight)
        return;
    if (log->fill.records)
        hand_over(log);
    else
        uv_unref((uv_handle_t *)&log->async);
}

int txnlog_open(struct txnlog **out, uv_loop_t *loop, const char *dir, txnlog_durable_cb cb,
                void *data)
{
    assert(out && loop && dir && cb);
    if (strlen(dir) + sizeof "/log.0123456789abcdef.corrupt" > PATH_MAX)
        return -ENAMETOOLONG;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    close(dfd);
    if (access(dir, W_OK | X_OK))
        return -errno;

    struct txnlog *log = zk_xcalloc(1, sizeof *log);
    log->loop = loop;
    log->cb = cb;
    log->data = data;
    log->roll = 1; /* the first record starts a file */
    log->fd = -1;
    snprintf(log->dir, sizeof log->dir, "%s", dir);
    int rc = -pthread_mutex_init(&log->mu, NULL);
    if (rc)
        goto err_free_log;
    if ((rc = -pthread_cond_init(&log->cv, NULL)))
        goto err_destroy_mutex;
    if ((rc = writer_start(log)))
        goto err_destroy_cond;
    if ((rc = uv_async_init(loop, &log->async, on_synced)))
        goto err_stop_writer;
    log->async.data = log;
    uv_unref((uv_handle_t *)&log->async); /* an idle log keeps no loop alive */
    *out = log;
    return 0;

err_stop_writer:
    writer_stop(log);
err_destroy_cond:
    pthread_cond_destroy(&log->cv);
err_destroy_mutex:
    pthread_mutex_destroy(&log->mu);
err_free_log:
    free(log);
    return rc;
}

/* A caller bug that would corrupt the log: refuse before writing anything. */
__attribute__((noreturn)) static void misuse(const struct txnlog *log, int64_t zxid, size_t len)
{
    log_error("txnlog: bad append of zxid 0x%" PRIx64 " (%zu bytes) after 0x%" PRIx64
              "%s; stopping before the log is damaged",
              (uint64_t)zxid, len, (uint64_t)log->appended_zxid,
              log->closing ? " on a closed log" : "");
    abort();
}

void txnlog_append(struct txnlog *log, int64_t zxid, const void *rec, size_t len)
{
    if (log->closing || len < TXN_HEADER || len > MAX_RECORD || zxid <= log->appended_zxid ||
        txn_peek_zxid(rec) != zxid)
        misuse(log, zxid, len);
    struct batch *b = &log->fill;
    if (log->roll) {
        batch_split(b, zxid);
        log->roll = 0;
    }
    jute_out_reserve(&b->buf, REC_HDR + len + 1);
    uint8_t *h = b->buf.p + b->buf.len;
    zk_be64_put(h, cksum_adler32(CKSUM_ADLER32_START, rec, len));
    zk_be32_put(h + 8, (uint32_t)len);
    memcpy(h + REC_HDR, rec, len);
    h[REC_HDR + len] = EOR;
    b->buf.len += REC_HDR + len + 1;
    b->records++;
    b->last_zxid = zxid;
    log->appended_zxid = zxid;
}

void txnlog_flush(struct txnlog *log)
{
    if (!log->closing && !log->inflight && log->fill.records)
        hand_over(log);
}

size_t txnlog_pending(const struct txnlog *log) { return log->fill.records + log->inflight; }

void txnlog_roll(struct txnlog *log) { log->roll = 1; }

void txnlog_set_prealloc(int64_t bytes)
{
    if (bytes >= 4096)
        prealloc_chunk = (off_t)bytes;
}

static void free_log(uv_handle_t *h)
{
    struct txnlog *log = h->data;
    pthread_cond_destroy(&log->cv);
    pthread_mutex_destroy(&log->mu);
    free(log);
}

void txnlog_close(struct txnlog *log)
{
    assert(!log->closing);
    log->closing = 1;
    writer_stop(log);
    /* A batch may have been synced without its report having run yet. */
    int64_t last = log->inflight ? log->synced_zxid : 0;
    log->inflight = 0;
    if (log->fill.records) {
        double ms = batch_write(log, &log->fill);
        stats_add(log, &log->fill, ms);
        last = log->fill.last_zxid;
    }
    file_finish(log);
    batch_free(&log->fill);
    batch_free(&log->sync);
    report(log, last);
    uv_close((uv_handle_t *)&log->async, free_log);
}

void txnlog_get_stats(const struct txnlog *log, struct txnlog_stats *st)
{
    /* The mutex guards the counters; it is not part of the log's value. */
    pthread_mutex_t *mu = (pthread_mutex_t *)&log->mu;
    pthread_mutex_lock(mu);
    *st = log->stats;
    pthread_mutex_unlock(mu);
}

/* ---- recovery ---- */

struct replay {
    int64_t from;
    txnlog_replay_cb cb;
    void *data;
    int64_t prev;  /* zxid of the last valid record read, across files; 0: none */
    int64_t next;  /* zxid the next file must start with (in its epoch); 0: any */
    int64_t last;  /* highest zxid the callback accepted, or `from` */
    int delivered; /* a record above `from` has reached the callback */
    uint8_t *buf;  /* scratch for one record */
    size_t cap;
};

/* Where a file's valid data ends, and why (NULL: cleanly).  `whole`: the
 * file cannot follow the ones before it at all, so it is set aside intact
 * rather than cut. */
struct tear {
    off_t at;
    const char *why;
    int whole;
};

static uint8_t *scratch(struct replay *r, size_t n)
{
    if (r->cap < n) {
        r->cap = n > ZERO_SCAN ? n : ZERO_SCAN;
        free(r->buf);
        r->buf = zk_xmalloc(r->cap);
    }
    return r->buf;
}

/* Reads up to `n` bytes; fewer only at end of file.  Returns 0 or -errno. */
static int read_up_to(FILE *f, void *p, size_t n, size_t *got)
{
    *got = fread(p, 1, n, f);
    if (*got < n && ferror(f))
        return errno ? -errno : -EIO;
    return 0;
}

static int all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

/* Checks that the rest of the file is preallocated zeroes.  OUT: *zero.
 * Returns 0 or -errno. */
static int rest_is_zero(struct replay *r, FILE *f, int *zero)
{
    uint8_t *p = scratch(r, ZERO_SCAN);
    size_t got;
    *zero = 1;
    do {
        int rc = read_up_to(f, p, ZERO_SCAN, &got);
        if (rc)
            return rc;
        if (!all_zero(p, got)) {
            *zero = 0;
            return 0;
        }
    } while (got == ZERO_SCAN);
    return 0;
}

/* Checks one record whose header is `h` at `off` of a `size`-byte file and
 * reads its payload and end-of-record byte into r->buf.  Returns 0 with
 * t->why set if the bytes are not a valid record, or -errno. */
static int record_read(struct replay *r, FILE *f, const uint8_t *h, off_t off, off_t size,
                       struct tear *t)
{
    uint32_t len = zk_be32_get(h + 8);
    off_t room = size - off - REC_HDR - 1;
    size_t got;
    if (len > MAX_RECORD || (off_t)len > room) {
        t->why = "record runs past the end of the file";
        return 0;
    }
    int rc = read_up_to(f, scratch(r, len + 1), len + 1, &got);
    if (rc)
        return rc;
    if (got < len + 1)
        t->why = "record runs past the end of the file";
    else if (cksum_adler32(CKSUM_ADLER32_START, r->buf, len) != zk_be64_get(h))
        t->why = "checksum mismatch";
    else if (r->buf[len] != EOR)
        t->why = "no end-of-record mark";
    else if (len < TXN_HEADER)
        t->why = "record too short for a TxnHeader";
    return 0;
}

static int same_epoch(int64_t a, int64_t b) { return (a >> 32) == (b >> 32); }

/*
 * Checks that a valid record with `zxid` at `off` of `file` can come next.
 * Zxids must increase.  Where the log tells what comes next they must also
 * be consecutive within an epoch (the high 32 bits, as in Zab): a file
 * starts with the zxid in its name, right after the previous file's last
 * record (or, if that file was empty, with that file's name, which is to say
 * an empty file cannot be followed at all); and the first record replayed is
 * from+1.  A hole there is a lost
 * file tail or lost files, which framing alone cannot see: a tail zeroed at
 * a record boundary looks like preallocated space.  Returns 0 with t->why
 * set if the record cannot come next, or -ENODATA if the log does not
 * continue from `from` at all.
 */
static int record_place(struct replay *r, const struct datafile *file, off_t off, int64_t zxid,
                        struct tear *t)
{
    const char *why = NULL;
    if (off == FILE_HDR && zxid != file->zxid)
        why = "the first record does not carry the zxid in the file name";
    else if (zxid <= r->prev)
        why = "zxid does not increase";
    else if (off == FILE_HDR && r->next && same_epoch(r->next, zxid) && zxid != r->next &&
             zxid - 1 > r->from)
        /* A gap at or below `from` is covered by the snapshot being replayed
         * onto (a snapshot may hold transactions whose log tail a crash tore
         * off; the next file then starts after the snapshot). */
        why = "records are missing between this file and the one before";
    if (why) {
        t->why = why;
        t->whole = off == FILE_HDR; /* nothing in the file can be replayed */
        return 0;
    }
    if (zxid <= r->from || r->delivered || !same_epoch(r->from, zxid) || zxid == r->from + 1)
        return 0;
    log_error("txnlog: the log does not continue from zxid 0x%" PRIx64
              ": the next record is 0x%" PRIx64
              " in %s; records in between are missing (purged or lost log files?)",
              (uint64_t)r->from, (uint64_t)zxid, file->name);
    return -ENODATA;
}

/* Checks a log file's header.  Returns 1 if records follow it, 0 with
 * t->why set (or, for a file that is empty or all zeroes, not set) if none
 * can, -EPROTO for a version this zkd cannot read, or -errno. */
static int file_header(struct replay *r, FILE *f, const char *path, struct tear *t)
{
    uint8_t h[FILE_HDR];
    size_t got;
    int zero, rc = read_up_to(f, h, sizeof h, &got);
    if (rc)
        return rc;
    if (all_zero(h, got)) {
        /* Created, header never made durable: a crash before the first
         * batch synced.  Nothing in it was acknowledged. */
        if ((rc = rest_is_zero(r, f, &zero)))
            return rc;
        if (got)
            t->why = zero ? "file header never written" : "bad file header";
        return 0;
    }
    if (got < FILE_HDR || memcmp(h, LOG_MAGIC, 4)) {
        t->why = "not a transaction log (bad file header)";
        t->whole = 1;
        return 0;
    }
    if (zk_be32_get(h + 4) != LOG_VERSION) {
        log_error("txnlog: %s has log format version %u; this zkd reads version %d (Apache "
                  "ZooKeeper 3.5-3.9): refusing to start rather than ignore it",
                  path, zk_be32_get(h + 4), LOG_VERSION);
        return -EPROTO;
    }
    return 1;
}

/* Replays one file.  OUT: *t, where and why its valid data ends.  Returns 0,
 * the callback's non-zero value, or -errno. */
static int replay_file(struct replay *r, const struct datafile *file, const char *path,
                       struct tear *t)
{
    FILE *f = fopen(path, "rbe");
    if (!f)
        return -errno;
    setvbuf(f, NULL, _IOFBF, READ_BUFFER);
    struct stat st;
    int rc = fstat(fileno(f), &st) ? -errno : 0;
    off_t off = FILE_HDR;
    *t = (struct tear){0};
    if (!rc && (rc = file_header(r, f, path, t)) <= 0) {
        r->next = file->zxid; /* an empty file still names what comes next */
        fclose(f);
        return rc;
    }
    rc = 0;
    while (!rc) {
        uint8_t h[REC_HDR];
        size_t got;
        t->at = off;
        if ((rc = read_up_to(f, h, sizeof h, &got)))
            break;
        if (got < REC_HDR ? all_zero(h, got) : zk_be32_get(h + 8) == 0) {
            /* End of data (Apache: an empty entry): only never-written
             * preallocated space may follow. */
            int zero = all_zero(h, got);
            if (zero)
                rc = rest_is_zero(r, f, &zero);
            if (!rc && !zero)
                t->why = "non-zero bytes after the end-of-data mark";
            break;
        }
        if (got < REC_HDR) {
            t->why = "torn record header";
            break;
        }
        uint32_t len = zk_be32_get(h + 8);
        if ((rc = record_read(r, f, h, off, st.st_size, t)) || t->why)
            break;
        int64_t zxid = txn_peek_zxid(r->buf);
        if ((rc = record_place(r, file, off, zxid, t)) || t->why)
            break;
        r->prev = zxid;
        r->next = zxid + 1;
        if (zxid > r->from) {
            r->delivered = 1;
            if ((rc = r->cb(zxid, r->buf, len, r->data)))
                break;
            r->last = zxid;
        }
        off += REC_HDR + (off_t)len + 1;
    }
    if (off == FILE_HDR)
        r->next = file->zxid; /* an empty file still names what comes next */
    fclose(f);
    return rc;
}

/* Cuts a file at its last valid record, durably.  Returns 0 or -errno. */
static int cut_tail(const char *path, const struct tear *t)
{
    log_warn("txnlog: %s: %s at offset %lld; truncating the file there, the rest is never applied",
             path, t->why, (long long)t->at);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    int rc = fd < 0 || ftruncate(fd, t->at) || fsync(fd) ? -errno : 0;
    if (fd >= 0)
        close(fd);
    if (rc)
        log_error("txnlog: cannot truncate %s: %s", path, strerror(-rc));
    return rc;
}

/* Renames files that cannot be replayed to `*.corrupt`, durably.  Returns 0
 * or -errno. */
static int retire_files(const char *dir, const struct datafile *files, int n)
{
    for (int i = 0; i < n; i++) {
        char path[PATH_MAX], bad[PATH_MAX + 8];
        snprintf(path, sizeof path, "%s/%s", dir, files[i].name);
        snprintf(bad, sizeof bad, "%s.corrupt", path);
        log_warn("txnlog: %s cannot follow the log before it and is never applied; renamed to %s",
                 path, bad);
        if (rename(path, bad)) {
            int rc = -errno;
            log_error("txnlog: cannot rename %s: %s", path, strerror(errno));
            return rc;
        }
    }
    return n ? datadir_fsync(dir) : 0;
}

/* Repairs the log after file i ended early: cuts it, or sets it aside when
 * it cannot follow at all, and sets aside every later file. */
static int repair(const char *dir, const struct datafile *files, int i, int n, const char *path,
                  const struct tear *t)
{
    if (t->whole) {
        log_warn("txnlog: %s: %s", path, t->why);
        return retire_files(dir, files + i, n - i);
    }
    int rc = cut_tail(path, t);
    return rc ? rc : retire_files(dir, files + i + 1, n - i - 1);
}

int txnlog_replay(const char *dir, int64_t from, txnlog_replay_cb cb, void *data,
                  int64_t *last_zxid)
{
    struct datafile *files;
    int n = datadir_list(dir, "log.", NULL, 0, &files);
    *last_zxid = from;
    if (n < 0)
        return n;
    struct replay r = {.from = from, .cb = cb, .data = data, .last = from};
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        /* Every record of file i is below the next file's first zxid. */
        if (i + 1 < n && files[i + 1].zxid - 1 <= from)
            continue;
        char path[PATH_MAX];
        if (snprintf(path, sizeof path, "%s/%s", dir, files[i].name) >= (int)sizeof path) {
            rc = -ENAMETOOLONG;
            break;
        }
        struct tear t = {0};
        if ((rc = replay_file(&r, &files[i], path, &t)) || !t.why)
            continue;
        rc = repair(dir, files, i, n, path, &t);
        break;
    }
    *last_zxid = r.last;
    free(r.buf);
    free(files);
    return rc;
}

int txnlog_scan_file(const char *path, txnlog_replay_cb cb, void *data, const char **why,
                     int64_t *at)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    struct datafile file = {0};
    if (strncmp(base, "log.", 4))
        return -EINVAL;
    file.zxid = (int64_t)strtoull(base + 4, NULL, 16);
    snprintf(file.name, sizeof file.name, "%s", base);
    struct replay r = {.from = -1, .cb = cb, .data = data, .last = -1};
    struct tear t = {0};
    int rc = replay_file(&r, &file, path, &t);
    free(r.buf);
    *why = t.why;
    *at = (int64_t)t.at;
    return rc;
}

int txnlog_purge(const char *dir, int64_t upto)
{
    struct datafile *files;
    int n = datadir_list(dir, "log.", NULL, 0, &files);
    if (n < 0)
        return n;
    int removed = 0;
    /* File i holds only zxids below file i+1's first; the last file, the
     * one being written, always stays. */
    for (int i = 0; i + 1 < n && files[i + 1].zxid - 1 <= upto; i++)
        removed += datadir_remove(dir, files[i].name);
    free(files);
    return removed;
}

/* Cuts `path` before its first record above `upto`.  OUT: *cut = 1 if it did.
 * Returns 0 or -errno. */
static int cut_above(const char *path, int64_t upto, int *cut)
{
    *cut = 0;
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    off_t off = FILE_HDR;
    int rc = 0;
    for (;;) {
        uint8_t h[REC_HDR + TXN_HEADER];
        ssize_t got = pread(fd, h, sizeof h, off);
        if (got < (ssize_t)sizeof h || zk_be32_get(h + 8) == 0)
            break;
        if (txn_peek_zxid(h + REC_HDR) > upto) {
            rc = ftruncate(fd, off) || fsync(fd) ? -errno : 0;
            *cut = 1;
            break;
        }
        off += REC_HDR + (off_t)zk_be32_get(h + 8) + 1;
    }
    close(fd);
    return rc;
}

int txnlog_truncate(const char *dir, int64_t upto)
{
    struct datafile *files;
    int n = datadir_list(dir, "log.", NULL, 0, &files);
    if (n < 0)
        return n;
    int rc = 0, changed = 0;
    for (int i = 0; i < n && !rc; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", dir, files[i].name);
        if (files[i].zxid > upto) {
            if (unlink(path))
                rc = -errno;
            changed = 1;
            continue;
        }
        int cut = 0;
        rc = cut_above(path, upto, &cut);
        changed |= cut;
    }
    if (!rc && changed)
        rc = datadir_fsync(dir);
    if (!rc && changed && upto >= 0)
        log_info("txnlog: truncated the log in %s after zxid 0x%" PRIx64, dir, (uint64_t)upto);
    else if (!rc && changed)
        log_info("txnlog: removed the log files in %s", dir);
    free(files);
    return rc;
}
