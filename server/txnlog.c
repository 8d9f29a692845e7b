/*
 * txnlog.c - the transaction log (format and group commit in txnlog.h).
 *
 * Threads: the loop thread appends into `fill`; a dedicated writer thread
 * owns the file descriptor and syncs one batch (`sync`) at a time.  The two
 * meet under `mu`: txnlog_flush() swaps the buffers when the writer is idle
 * and signals it; the writer posts `done` through a uv_async, whose callback
 * reports durability on the loop thread.  txnlog_close() can therefore wait
 * for an in-flight batch with a condition variable, without re-entering the
 * event loop (which libuv forbids from inside a callback).
 *
 * Files are preallocated in PREALLOC chunks (posix_fallocate), so a batch
 * usually overwrites already-allocated zeroes and fdatasync() has no size
 * metadata to flush.  Rolling (after a snapshot) takes effect at the next
 * batch: the batch remembers where the new file must begin.
 */
#include "txnlog.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "datadir.h"
#include "log.h"
#include "zk/jute.h"

#define PREALLOC (64 << 20)
#define HDR 16
#define MAX_RECORD (256u << 20)

struct batch {
    struct jute_out buf;
    int64_t last_zxid;
    size_t records;
    size_t split;        /* offset where a new file starts, or SIZE_MAX */
    int64_t split_zxid;  /* first zxid of that new file */
    int64_t first_zxid;  /* first zxid in the batch */
};

struct txnlog {
    uv_loop_t *loop;
    char dir[4096];
    txnlog_durable_cb cb;
    void *data;

    struct batch fill, sync; /* fill: loop thread; sync: writer thread */
    int roll_requested;

    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int busy;       /* sync holds a batch the writer has not finished */
    int quit;
    int64_t done_zxid;
    uv_async_t async;

    /* writer-thread state */
    int fd;
    off_t off, alloc_end;
    double last_ms, max_ms;
    uint64_t fsyncs, records, bytes;
};

/* ---- CRC32 (IEEE 802.3, reflected), table-driven ---- */

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

uint32_t zk_crc32(uint32_t crc, const void *p, size_t len)
{
    pthread_once(&crc_once, crc_init);
    const uint8_t *b = p;
    crc = ~crc;
    while (len--)
        crc = crc_table[(crc ^ *b++) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

static void be64_put(uint8_t *p, uint64_t v)
{
    zk_be32_put(p, (uint32_t)(v >> 32));
    zk_be32_put(p + 4, (uint32_t)v);
}

static uint64_t be64_get(const uint8_t *p)
{
    return ((uint64_t)zk_be32_get(p) << 32) | zk_be32_get(p + 4);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void fatal(const char *what, const char *path)
{
    log_error("fatal: %s %s: %s; zkd cannot persist transactions and stops", what, path,
              strerror(errno));
    abort();
}

static void fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

static void batch_reset(struct batch *b)
{
    b->buf.len = 0;
    b->last_zxid = 0;
    b->records = 0;
    b->split = SIZE_MAX;
    b->split_zxid = 0;
    b->first_zxid = 0;
}

/* ---- writer thread ---- */

static void open_file(struct txnlog *log, int64_t first_zxid)
{
    char path[4200];
    if (log->fd >= 0) {
        if (fdatasync(log->fd))
            fatal("fdatasync", log->dir);
        close(log->fd);
    }
    snprintf(path, sizeof path, "%s/log.%016" PRIx64, log->dir, (uint64_t)first_zxid);
    log->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (log->fd < 0)
        fatal("cannot create", path);
    log->off = 0;
    log->alloc_end = 0;
    fsync_dir(log->dir);
}

static void write_bytes(struct txnlog *log, const uint8_t *p, size_t n)
{
    if (log->off + (off_t)n > log->alloc_end) {
        off_t want = ((log->off + (off_t)n) / PREALLOC + 1) * PREALLOC;
        if (posix_fallocate(log->fd, log->alloc_end, want - log->alloc_end) == 0)
            log->alloc_end = want;
    }
    while (n) {
        ssize_t w = pwrite(log->fd, p, n, log->off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            fatal("write to", log->dir);
        p += w;
        n -= (size_t)w;
        log->off += w;
    }
}

/* Writes and syncs one batch (writer thread, or the closing thread). */
static void sync_batch(struct txnlog *log, struct batch *b)
{
    double t0 = now_ms();
    size_t split = b->split < b->buf.len ? b->split : b->buf.len;
    if (log->fd < 0)
        open_file(log, b->first_zxid);
    write_bytes(log, b->buf.p, split);
    if (split < b->buf.len) {
        open_file(log, b->split_zxid);
        write_bytes(log, b->buf.p + split, b->buf.len - split);
    }
    if (fdatasync(log->fd))
        fatal("fdatasync", log->dir);
    double ms = now_ms() - t0;
    log->last_ms = ms;
    if (ms > log->max_ms)
        log->max_ms = ms;
    log->fsyncs++;
    log->records += b->records;
    log->bytes += b->buf.len;
}

static void *writer_main(void *arg)
{
    struct txnlog *log = arg;
    pthread_mutex_lock(&log->mu);
    for (;;) {
        while (!log->busy && !log->quit)
            pthread_cond_wait(&log->cv, &log->mu);
        if (!log->busy && log->quit)
            break;
        pthread_mutex_unlock(&log->mu);
        sync_batch(log, &log->sync);
        pthread_mutex_lock(&log->mu);
        log->done_zxid = log->sync.last_zxid;
        log->busy = 0;
        pthread_cond_broadcast(&log->cv);
        uv_async_send(&log->async);
    }
    pthread_mutex_unlock(&log->mu);
    return NULL;
}

static void on_async(uv_async_t *h)
{
    struct txnlog *log = h->data;
    pthread_mutex_lock(&log->mu);
    int64_t z = log->done_zxid;
    pthread_mutex_unlock(&log->mu);
    if (z)
        log->cb(log, z, log->data);
}

/* ---- loop-thread API ---- */

int txnlog_open(struct txnlog **out, uv_loop_t *loop, const char *dir, txnlog_durable_cb cb,
                void *data)
{
    struct txnlog *log = zk_xcalloc(1, sizeof *log);
    log->loop = loop;
    snprintf(log->dir, sizeof log->dir, "%s", dir);
    log->cb = cb;
    log->data = data;
    log->fd = -1;
    batch_reset(&log->fill);
    batch_reset(&log->sync);
    pthread_mutex_init(&log->mu, NULL);
    pthread_cond_init(&log->cv, NULL);
    int rc = uv_async_init(loop, &log->async, on_async);
    if (rc) {
        free(log);
        return rc;
    }
    log->async.data = log;
    if ((rc = pthread_create(&log->thread, NULL, writer_main, log))) {
        uv_close((uv_handle_t *)&log->async, NULL);
        return -rc;
    }
    *out = log;
    return 0;
}

void txnlog_append(struct txnlog *log, int64_t zxid, const void *rec, size_t len)
{
    struct batch *b = &log->fill;
    if (!b->records)
        b->first_zxid = zxid;
    if (log->roll_requested) {
        log->roll_requested = 0;
        if (b->records) {
            b->split = b->buf.len;
            b->split_zxid = zxid;
        } else {
            /* The batch itself starts the new file. */
            b->split = 0;
            b->split_zxid = zxid;
        }
    }
    uint8_t hdr[HDR];
    zk_be32_put(hdr, (uint32_t)len);
    be64_put(hdr + 8, (uint64_t)zxid);
    uint32_t crc = zk_crc32(0, hdr + 8, 8);
    crc = zk_crc32(crc, rec, len);
    zk_be32_put(hdr + 4, crc);
    jute_put_raw(&b->buf, hdr, HDR);
    jute_put_raw(&b->buf, rec, len);
    b->last_zxid = zxid;
    b->records++;
}

void txnlog_flush(struct txnlog *log)
{
    if (!log->fill.records)
        return;
    pthread_mutex_lock(&log->mu);
    if (!log->busy) {
        struct batch t = log->sync;
        log->sync = log->fill;
        log->fill = t;
        batch_reset(&log->fill);
        log->busy = 1;
        pthread_cond_signal(&log->cv);
    }
    pthread_mutex_unlock(&log->mu);
}

size_t txnlog_pending(const struct txnlog *log)
{
    return log->fill.records + (log->busy ? log->sync.records : 0);
}

void txnlog_roll(struct txnlog *log) { log->roll_requested = 1; }

static void free_async(uv_handle_t *h) { free(h->data); }

void txnlog_close(struct txnlog *log)
{
    pthread_mutex_lock(&log->mu);
    while (log->busy)
        pthread_cond_wait(&log->cv, &log->mu);
    log->quit = 1;
    pthread_cond_signal(&log->cv);
    pthread_mutex_unlock(&log->mu);
    pthread_join(log->thread, NULL);
    if (log->fill.records)
        sync_batch(log, &log->fill);
    int64_t last = log->fill.records ? log->fill.last_zxid : log->done_zxid;
    if (log->fd >= 0)
        close(log->fd);
    if (last)
        log->cb(log, last, log->data);
    jute_out_free(&log->fill.buf);
    jute_out_free(&log->sync.buf);
    pthread_mutex_destroy(&log->mu);
    pthread_cond_destroy(&log->cv);
    log->async.data = log;
    uv_close((uv_handle_t *)&log->async, free_async);
}

void txnlog_get_stats(const struct txnlog *log, struct txnlog_stats *st)
{
    st->fsyncs = log->fsyncs;
    st->records = log->records;
    st->bytes = log->bytes;
    st->last_fsync_ms = log->last_ms;
    st->max_fsync_ms = log->max_ms;
}

/* ---- files ---- */

static uint8_t *read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    if (fstat(fd, &st)) {
        close(fd);
        return NULL;
    }
    uint8_t *p = zk_xmalloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, p + got, (size_t)st.st_size - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    *len = got;
    return p;
}

static int all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

int txnlog_replay(const char *dir, int64_t from, txnlog_replay_cb cb, void *data, int64_t *last_zxid)
{
    struct datafile *files;
    int n = datadir_list(dir, "log.", 0, &files);
    *last_zxid = from;
    if (n < 0)
        return n;
    int64_t prev = 0;
    int rc = 0, broken = 0;
    for (int i = 0; i < n && !rc; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", dir, files[i].name);
        if (broken) {
            char bad[4300];
            snprintf(bad, sizeof bad, "%s.corrupt", path);
            log_warn("log file %s follows a truncated one; renamed to %s", path, bad);
            rename(path, bad);
            continue;
        }
        /* Skip files whose every record is at or below `from`. */
        if (i + 1 < n && files[i + 1].zxid <= from + 1)
            continue;
        size_t len = 0;
        uint8_t *p = read_file(path, &len);
        if (!p) {
            rc = -errno;
            break;
        }
        size_t off = 0;
        const char *why = NULL;
        while (off + HDR <= len) {
            uint32_t rlen = zk_be32_get(p + off);
            if (rlen == 0) {
                if (!all_zero(p + off, len - off))
                    why = "non-zero bytes after the end marker";
                break;
            }
            if (rlen > MAX_RECORD || rlen > len - off - HDR) {
                why = "record extends past the end of the file";
                break;
            }
            int64_t zxid = (int64_t)be64_get(p + off + 8);
            uint32_t crc = zk_crc32(zk_crc32(0, p + off + 8, 8), p + off + HDR, rlen);
            if (crc != zk_be32_get(p + off + 4)) {
                why = "checksum mismatch";
                break;
            }
            if (zxid <= prev) {
                why = "zxid does not increase";
                break;
            }
            prev = zxid;
            if (zxid > from) {
                rc = cb(zxid, p + off + HDR, rlen, data);
                if (rc)
                    break;
                *last_zxid = zxid;
            }
            off += HDR + rlen;
        }
        if (!why && !rc && off < len && !all_zero(p + off, len - off))
            why = "torn record header";
        free(p);
        if (why && !rc) {
            log_warn("log %s: %s at offset %zu; truncating the tail (never applied)", path, why, off);
            if (truncate(path, (off_t)off))
                log_error("cannot truncate %s: %s", path, strerror(errno));
            broken = 1;
        }
    }
    free(files);
    return rc;
}

int txnlog_purge(const char *dir, int64_t upto)
{
    struct datafile *files;
    int n = datadir_list(dir, "log.", 0, &files);
    int removed = 0;
    for (int i = 0; i + 1 < n; i++) {
        if (files[i + 1].zxid > upto + 1)
            break;
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", dir, files[i].name);
        if (unlink(path) == 0)
            removed++;
    }
    free(files);
    return removed;
}
