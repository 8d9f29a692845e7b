/*
 * snapshot.c - writing, loading and purging snapshot files.
 *
 * BYTE LAYOUT (Apache ZooKeeper's FileSnap; every integer big-endian)
 *
 *   version-2/snapshot.<zxid, lower-case hex>[.gz|.snappy]
 *
 *     FileHeader   [i32 "ZKSN"][i32 2][i64 dbid -1]
 *     body         what `produce` emits (db.h: sessions, ACL cache, nodes,
 *                  the terminator path "/")
 *     seal         [i64 Adler-32 of every byte before it][string "/"]
 *   optionally, as Apache 3.6+ / 3.9 add them:
 *     ZxidDigest   [i64 zxid][i32 digest version][i64 digest] + seal
 *                  (written when the producer gives one: digest.h)
 *     lastProcessedZxid [i64] + seal (written by snapshot_write_fd only)
 *
 * The checksum runs over the uncompressed stream, from the header on, and
 * does not restart at a seal (java.util.zip.CheckedOutputStream).  A
 * compressed snapshot is that stream in gzip (`.gz`, zlib) or in the framing
 * of snappy-java's SnappyOutputStream (`.snappy`: an 8-byte magic
 * 0x82 "SNAPPY" 0, i32 version 1, i32 compatible version 1, then chunks of
 * [i32 compressed length][raw snappy block] of up to 32 KiB of input),
 * which is what Apache's SnapStream uses (snapshot.compression.method).
 *
 * WRITING
 *
 * The image goes to `<name>.tmp` through a 1 MiB buffer, is fsync'd,
 * renamed over the final name and the directory fsync'd (the rename is the
 * commit point; a crash leaves a complete file or a .tmp that
 * snapshot_load() deletes).  On any error the .tmp is removed.
 *
 * IN THE BACKGROUND (snapshot_start)
 *
 * A fuzzy snapshot, Apache's way (its SyncRequestProcessor snapshots on a
 * thread while the tree changes): the file is named after the zxid Z applied
 * at the start, and holds each node as it was when the producer reached it,
 * which recovery makes exact by replaying the log from Z+1 (dbwalk.h says
 * why that holds).  Nothing is forked: fork() copies the page tables of the
 * whole heap while the loop waits (tens of milliseconds at millions of
 * znodes), and the copy-on-write faults after it land on the loop too.
 *
 * Two threads do it: the walker, at the server's priority, calls the
 * producer's steps (which walk the tree under db.h's tree write lock, a
 * batch at a time, while the loop goes on answering requests and applying
 * writes between batches) and queues what they give in 64 KiB chunks; the
 * writer, niced, computes the Adler-32, compresses, writes, paces the
 * writeback, fsyncs and renames (walker_main says why two).  Nothing of a
 * background snapshot runs on the loop but its start and its outcome, which
 * comes back through a uv_async; the handle lives in a heap job freed by its
 * close callback, so `done` may start the next snapshot at once.  A producer that waits for something
 * (server.c: for the log to hold what the image holds) returns having
 * written nothing; the walker then sleeps until snapshot_wake.
 *
 * The tree may be replaced while a snapshot walks it (a learner taking a
 * SNAP, a truncation): the owner calls snapshot_cancel first, which waits
 * for the threads to stop: the producer is never called again and the .tmp
 * is gone.

 * LOADING
 *
 * Candidates are tried newest first, as Apache's FileSnap.deserialize does.
 * A file is mapped (or, compressed, inflated into memory), its header
 * checked, its body handed to the consumer, which parses and applies it and
 * says where it ended; then the seal there must match the Adler-32 of
 * everything before it, and the optional trailers theirs.  Every length is
 * checked against the bytes really there, so no input makes the loader read
 * out of bounds.  A candidate that turns out damaged (a body that does not
 * parse, a checksum that fails, bytes after the trailers) is logged with its
 * offset and renamed `*.corrupt`, the consumer's `reset` drops what it
 * received, and the next older one is tried: without parsing the body the
 * seal cannot be found, so a body the consumer refuses counts as damage
 * too.  If snapshots exist and none loads, snapshot_load fails (-ENODATA)
 * rather than let the server start empty over data.  A version other than
 * 2 stops the load (-EPROTO): a newer format is not damage.  The log holds
 * everything since the oldest retained snapshot (server.c purges logs only
 * up to it), so falling back loses nothing.
 */
#include "snapshot.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include "checksum.h"

#include "datadir.h"
#include "digest.h"
#include "fdio.h"
#include "log.h"
#include "zk/jute.h"

#define MAGIC "ZKSN"
#define VERSION 2
#define HEADER 16
#define SEAL 13 /* i64 checksum, i32 1, '/' */
#define WRITE_BUFFER (1u << 20)
#define SNAPPY_BLOCK (32u << 10)
#define SNAPPY_HEADER 16
#define MAX_INFLATED ((size_t)64 << 30)
/* The writer pushes its file to disk every WRITEBACK_STEP bytes and waits
 * for it (Redis's incremental fsync of an RDB), so a snapshot never leaves
 * hundreds of megabytes dirty for the kernel to flush at once: that burst
 * is what the server's next log fdatasync would queue behind. */
#define WRITEBACK_STEP (8u << 20)

static const uint8_t snappy_magic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
static const char *const suffixes[] = {".gz", ".snappy", NULL};
static enum snapshot_compression compression = SNAP_PLAIN;

int snapshot_set_compression(const char *method)
{
    if (!method || !*method || !strcasecmp(method, "none") || !strcasecmp(method, "off"))
        compression = SNAP_PLAIN;
    else if (!strcasecmp(method, "gz"))
        compression = SNAP_GZ;
    else if (!strcasecmp(method, "snappy"))
        compression = SNAP_SNAPPY;
    else
        return -1;
    return 0;
}

static const char *suffix_of(enum snapshot_compression c)
{
    return c == SNAP_GZ ? ".gz" : c == SNAP_SNAPPY ? ".snappy" : "";
}

/* Names a snapshot file.  Returns 0, or -ENAMETOOLONG. */
static int snap_name(char *out, size_t size, const char *dir, int64_t zxid, const char *suffix)
{
    int n = snprintf(out, size, "%s/snapshot.%" PRIx64 "%s%s", dir, (uint64_t)zxid,
                     suffix_of(compression), suffix);
    return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* ---- writing ---- */

struct snapshot_writer {
    int fd;
    enum snapshot_compression comp;
    uint8_t *buf; /* WRITE_BUFFER bytes of uncompressed stream */
    size_t len;
    uint32_t adler; /* of the uncompressed stream so far */
    z_stream z;   /* SNAP_GZ */
    uint8_t *out; /* compressed bytes, SNAP_GZ / SNAP_SNAPPY */
    size_t outcap;
    uint64_t written, synced; /* bytes in the file; bytes pushed to disk */
    int err;        /* first write error; sticky */
    int has_digest; /* snapshot_set_digest was called */
    int64_t digest_zxid, digest;
};

/* Writes `n` file bytes and paces the writeback (WRITEBACK_STEP). */
static int file_out(struct snapshot_writer *w, const uint8_t *p, size_t n)
{
    int rc = fdio_write_all(w->fd, p, n);
    if (rc)
        return rc;
    w->written += n;
    if (w->written - w->synced < WRITEBACK_STEP)
        return 0;
    unsigned flags = SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                     SYNC_FILE_RANGE_WAIT_AFTER;
    if (sync_file_range(w->fd, (off_t)w->synced, (off_t)(w->written - w->synced), flags) &&
        errno != ENOSYS && errno != EINVAL && errno != ESPIPE)
        return -errno;
    w->synced = w->written;
    return 0;
}

/* Deflates `n` stream bytes (finishing the gzip member with `finish`). */
static int gz_out(struct snapshot_writer *w, const uint8_t *p, size_t n, int finish)
{
    w->z.next_in = (Bytef *)p;
    w->z.avail_in = (uInt)n;
    int zr;
    do {
        w->z.next_out = w->out;
        w->z.avail_out = (uInt)w->outcap;
        zr = deflate(&w->z, finish ? Z_FINISH : Z_NO_FLUSH);
        if (zr == Z_STREAM_ERROR)
            return -EIO;
        int rc = file_out(w, w->out, w->outcap - w->z.avail_out);
        if (rc)
            return rc;
    } while (w->z.avail_out == 0 || (finish && zr != Z_STREAM_END));
    return 0;
}

/* Compresses `n` stream bytes into snappy-java chunks. */
static int snappy_out(struct snapshot_writer *w, const uint8_t *p, size_t n)
{
    for (size_t at = 0; at < n; at += SNAPPY_BLOCK) {
        size_t in = n - at < SNAPPY_BLOCK ? n - at : SNAPPY_BLOCK;
        size_t clen = w->outcap - 4;
        if (snappy_compress((const char *)p + at, in, (char *)w->out + 4, &clen) != SNAPPY_OK)
            return -EIO;
        zk_be32_put(w->out, (uint32_t)clen);
        int rc = file_out(w, w->out, clen + 4);
        if (rc)
            return rc;
    }
    return 0;
}

static int stream_out(struct snapshot_writer *w, const uint8_t *p, size_t n)
{
    switch (w->comp) {
    case SNAP_GZ:
        return gz_out(w, p, n, 0);
    case SNAP_SNAPPY:
        return snappy_out(w, p, n);
    default:
        return file_out(w, p, n);
    }
}

static int writer_flush(struct snapshot_writer *w)
{
    if (!w->err && w->len)
        w->err = stream_out(w, w->buf, w->len);
    w->len = 0;
    return w->err;
}

int snapshot_put(struct snapshot_writer *w, const void *p, size_t n)
{
    if (w->err)
        return w->err;
    w->adler = cksum_adler32(w->adler, p, n);
    if (n > WRITE_BUFFER - w->len) {
        if (writer_flush(w))
            return w->err;
        if (n >= WRITE_BUFFER)
            return w->err = stream_out(w, p, n);
    }
    memcpy(w->buf + w->len, p, n);
    w->len += n;
    return 0;
}

/* Apache's SnapStream.sealStream: the checksum so far and the path "/". */
static int put_seal(struct snapshot_writer *w)
{
    uint8_t seal[SEAL];
    zk_be64_put(seal, w->adler);
    zk_be32_put(seal + 8, 1);
    seal[12] = '/';
    return snapshot_put(w, seal, sizeof seal);
}

static int writer_open(struct snapshot_writer *w, int fd, enum snapshot_compression comp)
{
    memset(w, 0, sizeof *w);
    w->fd = fd;
    w->comp = comp;
    w->adler = CKSUM_ADLER32_START;
    w->buf = zk_xmalloc(WRITE_BUFFER);
    if (comp == SNAP_GZ) {
        w->outcap = 256u << 10;
        if (deflateInit2(&w->z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
            return -ENOMEM;
    } else if (comp == SNAP_SNAPPY) {
        w->outcap = snappy_max_compressed_length(SNAPPY_BLOCK) + 4;
        uint8_t h[SNAPPY_HEADER];
        memcpy(h, snappy_magic, 8);
        zk_be32_put(h + 8, 1);
        zk_be32_put(h + 12, 1);
        if ((w->err = file_out(w, h, sizeof h)))
            return w->err;
    }
    if (w->outcap)
        w->out = zk_xmalloc(w->outcap);
    return 0;
}

static void writer_close(struct snapshot_writer *w)
{
    if (w->comp == SNAP_GZ)
        deflateEnd(&w->z);
    free(w->buf);
    free(w->out);
}

void snapshot_set_digest(struct snapshot_writer *w, int64_t zxid, int64_t digest)
{
    w->has_digest = 1;
    w->digest_zxid = zxid;
    w->digest = digest;
}

/* Apache's ZxidDigest (DataTree.serializeZxidDigest) and its seal. */
static void put_digest(struct snapshot_writer *w)
{
    uint8_t d[20];
    zk_be64_put(d, (uint64_t)w->digest_zxid);
    zk_be32_put(d + 8, DIGEST_VERSION);
    zk_be64_put(d + 12, (uint64_t)w->digest);
    snapshot_put(w, d, sizeof d);
    put_seal(w);
}

static void put_header(struct snapshot_writer *w)
{
    uint8_t h[HEADER];
    memcpy(h, MAGIC, 4);
    zk_be32_put(h + 4, VERSION);
    zk_be64_put(h + 8, (uint64_t)-1); /* FileSnap's dbId */
    snapshot_put(w, h, sizeof h);
}

/* After the body: seal, [digest, seal,] end of the compressed stream.
 * Returns 0 or -errno. */
static int put_tail(struct snapshot_writer *w)
{
    put_seal(w);
    if (w->has_digest)
        put_digest(w);
    if (writer_flush(w))
        return w->err;
    return w->comp == SNAP_GZ ? gz_out(w, NULL, 0, 1) : 0;
}

/* Header, the producer's body, the tail.  Returns 0 or -errno. */
static int write_image(struct snapshot_writer *w, snapshot_produce_fn produce, void *data)
{
    put_header(w);
    int rc = produce(w, data);
    if (rc)
        return rc < 0 ? rc : -EIO;
    return put_tail(w);
}

int snapshot_write_fd(int fd, int64_t zxid, snapshot_produce_fn produce, void *data)
{
    struct snapshot_writer w;
    int rc = writer_open(&w, fd, SNAP_PLAIN);
    if (!rc)
        rc = write_image(&w, produce, data);
    if (!rc) {
        uint8_t z[8];
        zk_be64_put(z, (uint64_t)zxid);
        snapshot_put(&w, z, sizeof z);
        put_seal(&w);
        rc = writer_flush(&w);
    }
    writer_close(&w);
    return rc;
}

/* Opens `<name>.tmp` for a snapshot at zxid.  OUT: path, tmp.  Returns the
 * descriptor or -errno. */
static int open_tmp(const char *dir, int64_t zxid, char *path, char *tmp)
{
    int rc;
    if (zxid < 0)
        return -EINVAL;
    if ((rc = snap_name(path, PATH_MAX, dir, zxid, "")) ||
        (rc = snap_name(tmp, PATH_MAX, dir, zxid, ".tmp")))
        return rc;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    return fd < 0 ? -errno : fd;
}

/* Makes a written .tmp the snapshot (fsync, rename, directory fsync), or
 * removes it when rc says the writing failed.  Closes fd.  Returns 0 or
 * -errno. */
static int commit_tmp(int fd, int rc, const char *dir, const char *path, const char *tmp)
{
    if (!rc && fsync(fd))
        rc = -errno;
    if (close(fd) && !rc)
        rc = -errno;
    if (!rc && rename(tmp, path))
        rc = -errno;
    if (rc) {
        unlink(tmp);
        return rc;
    }
    /* Renamed: the file is whole even if this fails, so it stays. */
    return datadir_fsync(dir);
}

int snapshot_write(const char *dir, int64_t zxid, snapshot_produce_fn produce, void *data)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    int fd = open_tmp(dir, zxid, path, tmp);
    if (fd < 0)
        return fd;
    struct snapshot_writer w;
    int rc = writer_open(&w, fd, compression);
    if (!rc)
        rc = write_image(&w, produce, data);
    writer_close(&w);
    return commit_tmp(fd, rc, dir, path, tmp);
}

/* ---- in the background ---- */

/* Bytes the producer gathers before they go to the writer's buffer. */
#define CHUNK_BYTES (64u << 10)
/* Chunks walked but not yet written: the walker waits for the writer
 * beyond this (256 KiB per snapshot). */
#define QUEUE_CHUNKS 4
/* Nice value of the writer thread: weight 110 against the server's 1024,
 * so on a saturated shared core it still gets about a tenth. */
#define SNAPSHOT_NICE 10
/* How long the walker waits for snapshot_wake before it asks the producer
 * again anyway (a producer waiting for the log to catch up). */
#define WAIT_NS 20000000L

struct snap_job {
    uv_async_t async;   /* thread -> loop: finished */
    pthread_t thread;   /* the writer; it starts and joins the walker */
    pthread_t walker;
    pthread_mutex_t mu;
    pthread_cond_t cv;  /* broadcast on every change of the fields below */
    /* Under mu: */
    int abort;          /* snapshot_cancel, or the writer failed: give up */
    int woken;          /* snapshot_wake since the walker last waited */
    int finished;       /* the writer is done; status is final */
    int status;
    struct jute_out queue[QUEUE_CHUNKS]; /* walked chunks, oldest at q_head */
    int q_head, q_len;
    int walked;         /* the walker is done; walk_status is final */
    int walk_status;    /* 0: the body is complete; or -errno */
    /* Loop thread only: */
    int joined;         /* snapshot_cancel has joined the thread */
    int closing;
    snapshot_done_cb done;
    void *ddata;
    int64_t zxid;
    uint64_t started;   /* uv_hrtime() */
    /* The threads only (set before they start): */
    snapshot_step_fn step;
    void *pdata;
    const struct snapshot_digest *digest; /* read once the body is complete */
    struct jute_out out; /* the walker's bytes not yet queued */
    int fd;
    struct snapshot_writer w;
    char dir[PATH_MAX], path[PATH_MAX], tmp[PATH_MAX];
};

static struct snap_job *running_job; /* at most one, process-wide */

int snapshot_running(void) { return running_job != NULL; }

static int aborted(struct snap_job *job)
{
    pthread_mutex_lock(&job->mu);
    int a = job->abort;
    pthread_mutex_unlock(&job->mu);
    return a;
}

/* The producer has nothing to do for now: waits for snapshot_wake, a
 * cancel, or WAIT_NS. */
static void wait_for_wake(struct snap_job *job)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += WAIT_NS;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&job->mu);
    while (!job->woken && !job->abort)
        if (pthread_cond_timedwait(&job->cv, &job->mu, &until) == ETIMEDOUT)
            break;
    job->woken = 0;
    pthread_mutex_unlock(&job->mu);
}

/* Walker: queues the chunk in job->out for the writer (waits while the
 * queue is full).  Returns 0, or -ECANCELED once the job gives up. */
static int queue_chunk(struct snap_job *job)
{
    pthread_mutex_lock(&job->mu);
    while (job->q_len == QUEUE_CHUNKS && !job->abort)
        pthread_cond_wait(&job->cv, &job->mu);
    int rc = job->abort ? -ECANCELED : 0;
    if (!rc) {
        struct jute_out *slot = &job->queue[(job->q_head + job->q_len) % QUEUE_CHUNKS];
        struct jute_out t = *slot; /* an empty buffer, kept for reuse */
        *slot = job->out;
        job->out = t;
        job->out.len = 0;
        job->q_len++;
        pthread_cond_broadcast(&job->cv);
    }
    pthread_mutex_unlock(&job->mu);
    return rc;
}

/* Walker: runs the producer to the end of the body.  Returns 0 or -errno
 * (-ECANCELED after snapshot_cancel or a failed write). */
static int walk_all(struct snap_job *job)
{
    for (;;) {
        if (aborted(job))
            return -ECANCELED;
        size_t before = job->out.len;
        int rc = job->step(&job->out, job->pdata);
        if (rc < 0)
            return rc;
        if (job->out.len >= CHUNK_BYTES || (rc && job->out.len)) {
            int err = queue_chunk(job);
            if (err)
                return err;
        }
        if (rc)
            return 0;
        if (job->out.len == before)
            wait_for_wake(job);
    }
}

/*
 * The walker thread runs at the server's priority, the writer niced.  The
 * walker's steps hold the tree write lock (db.h) the loop takes for every
 * write; a thread at nice 10 that a busier task preempts in a step keeps
 * that lock until the scheduler gives it its tenth of a core again, and the
 * loop waited tens of milliseconds (issue 20: 46 ms while one client
 * deleted 300k znodes, bench/results/2026-12-06-wide-deletes.md).  Nice
 * cannot be lowered again without CAP_SYS_NICE, so the lock-holding part
 * is a thread of its own, started before the writer nices itself.  Its CPU
 * is the walk's (serializing nodes, a fraction of the job's); compressing,
 * checksumming, writing and fsyncing stay on the niced writer, which the
 * walker never gets ahead of by more than QUEUE_CHUNKS chunks.
 */
static void *walker_main(void *arg)
{
    struct snap_job *job = arg;
    pthread_setname_np(pthread_self(), "zkd-snapwalk");
    int rc = walk_all(job);
    pthread_mutex_lock(&job->mu);
    job->walked = 1;
    job->walk_status = rc;
    pthread_cond_broadcast(&job->cv);
    pthread_mutex_unlock(&job->mu);
    return NULL;
}

/* Writer: the next walked chunk into *cur, or 1: the walk is over (its
 * status in *walk_status), or -ECANCELED. */
static int next_chunk(struct snap_job *job, struct jute_out *cur, int *walk_status)
{
    pthread_mutex_lock(&job->mu);
    while (!job->q_len && !job->walked && !job->abort)
        pthread_cond_wait(&job->cv, &job->mu);
    int rc = 0;
    if (job->abort) {
        rc = -ECANCELED;
    } else if (job->q_len) {
        struct jute_out t = job->queue[job->q_head];
        job->queue[job->q_head] = *cur;
        *cur = t;
        job->q_head = (job->q_head + 1) % QUEUE_CHUNKS;
        job->q_len--;
        pthread_cond_broadcast(&job->cv);
    } else {
        rc = 1;
        *walk_status = job->walk_status;
    }
    pthread_mutex_unlock(&job->mu);
    return rc;
}

/* Writer: writes what the walker gives, then the tail.  Returns 0 or -errno. */
static int write_all(struct snap_job *job)
{
    struct jute_out cur;
    jute_out_init(&cur);
    int rc, walk_status = 0;
    while ((rc = next_chunk(job, &cur, &walk_status)) == 0) {
        rc = snapshot_put(&job->w, cur.p, cur.len);
        cur.len = 0;
        if (rc)
            break;
    }
    jute_out_free(&cur);
    if (rc < 0)
        return rc;
    if (walk_status)
        return walk_status;
    if (job->digest)
        snapshot_set_digest(&job->w, job->digest->zxid, job->digest->digest);
    return put_tail(&job->w);
}

/* Stops the walker (after a failed write, or a finished walk) and joins it. */
static void stop_walker(struct snap_job *job)
{
    pthread_mutex_lock(&job->mu);
    job->abort = 1;
    pthread_cond_broadcast(&job->cv);
    pthread_mutex_unlock(&job->mu);
    pthread_join(job->walker, NULL);
}

static void *writer_main(void *arg)
{
    struct snap_job *job = arg;
    pthread_setname_np(pthread_self(), "zkd-snapwrite");
    /* The walker first: it inherits this thread's (the server's) nice. */
    int rc = pthread_create(&job->walker, NULL, walker_main, job);
    if (rc) {
        rc = -rc;
    } else {
        /* Per-thread nice (Linux): requests on the loop go first. */
        if (setpriority(PRIO_PROCESS, (id_t)gettid(), SNAPSHOT_NICE) != 0)
            log_warn("snapshot 0x%" PRIx64 ": setpriority: %s", (uint64_t)job->zxid,
                     strerror(errno));
        rc = write_all(job);
        stop_walker(job);
    }
    jute_out_free(&job->out);
    for (int i = 0; i < QUEUE_CHUNKS; i++)
        jute_out_free(&job->queue[i]);
    writer_close(&job->w);
    rc = commit_tmp(job->fd, rc, job->dir, job->path, job->tmp);
    pthread_mutex_lock(&job->mu);
    job->finished = 1;
    job->status = rc;
    pthread_mutex_unlock(&job->mu);
    uv_async_send(&job->async);
    return NULL;
}

static void job_free(uv_handle_t *h)
{
    struct snap_job *job = h->data;
    pthread_mutex_destroy(&job->mu);
    pthread_cond_destroy(&job->cv);
    free(job);
}

static void on_async(uv_async_t *h)
{
    struct snap_job *job = h->data;
    pthread_mutex_lock(&job->mu);
    int finished = job->finished, status = job->status;
    pthread_mutex_unlock(&job->mu);
    if (!finished || job->closing)
        return;
    if (!job->joined)
        pthread_join(job->thread, NULL);
    double seconds = (double)(uv_hrtime() - job->started) / 1e9;
    if (status)
        log_warn("snapshot 0x%" PRIx64 " not written: %s", (uint64_t)job->zxid,
                 strerror(-status));
    /* Cleared before `done`, which may start the next snapshot. */
    running_job = NULL;
    job->closing = 1;
    uv_close((uv_handle_t *)&job->async, job_free);
    job->done(status, job->zxid, seconds, job->ddata);
}

void snapshot_wake(void)
{
    struct snap_job *job = running_job;
    if (!job)
        return;
    pthread_mutex_lock(&job->mu);
    job->woken = 1;
    pthread_cond_broadcast(&job->cv);
    pthread_mutex_unlock(&job->mu);
}

void snapshot_cancel(void)
{
    struct snap_job *job = running_job;
    if (!job || job->joined)
        return;
    pthread_mutex_lock(&job->mu);
    job->abort = 1;
    pthread_cond_broadcast(&job->cv);
    pthread_mutex_unlock(&job->mu);
    /* Waits for the producer to stop and the .tmp to be gone: the caller
     * may replace what the producer reads, or write a snapshot of the same
     * name next (server_image_end). */
    pthread_join(job->thread, NULL);
    job->joined = 1;
}

int snapshot_start(uv_loop_t *loop, const char *dir, int64_t zxid,
                   const struct snapshot_digest *digest, snapshot_step_fn step, void *pdata,
                   snapshot_done_cb done, void *ddata)
{
    assert(loop && dir && step && done);
    if (running_job)
        return -EBUSY;
    struct snap_job *job = zk_xcalloc(1, sizeof *job);
    snprintf(job->dir, sizeof job->dir, "%s", dir);
    job->fd = open_tmp(dir, zxid, job->path, job->tmp);
    if (job->fd < 0) {
        int rc = job->fd;
        free(job);
        return rc;
    }
    int rc = writer_open(&job->w, job->fd, compression);
    if (rc) {
        writer_close(&job->w);
        commit_tmp(job->fd, rc, dir, job->path, job->tmp);
        free(job);
        return rc;
    }
    put_header(&job->w);
    job->digest = digest;
    job->zxid = zxid;
    job->step = step;
    job->pdata = pdata;
    job->done = done;
    job->ddata = ddata;
    job->started = uv_hrtime();
    jute_out_init(&job->out);
    for (int i = 0; i < QUEUE_CHUNKS; i++)
        jute_out_init(&job->queue[i]);
    pthread_mutex_init(&job->mu, NULL);
    pthread_cond_init(&job->cv, NULL);
    uv_async_init(loop, &job->async, on_async);
    job->async.data = job;
    if ((rc = pthread_create(&job->thread, NULL, writer_main, job)) != 0) {
        writer_close(&job->w);
        commit_tmp(job->fd, -rc, dir, job->path, job->tmp);
        job->closing = 1;
        uv_close((uv_handle_t *)&job->async, job_free);
        return -rc;
    }
    running_job = job;
    return 0;
}

/* ---- loading ---- */

/* SNAP_UNSEALED: damaged in the way a write cut short leaves a file: the
 * stream does not end with the seal's marker (what Apache's
 * SnapStream.isValidSnapshot tests), or a compressed file ends mid-stream.
 * Apache writes snapshots in place, so a crash or kill while it writes
 * leaves one; both servers' recovery skips it for an older snapshot. */
enum verdict { SNAP_VALID, SNAP_DAMAGED, SNAP_UNSEALED, SNAP_REFUSED };

/*
 * The seal's checksum, computed beside the parser.  Checking it means an
 * Adler-32 over the whole stream (2 GB at ten million znodes), a third of
 * the CPU a load takes; yet only the seal's position depends on the parse.
 * So a second thread runs the checksum over the stream in ADLER_STEP slices
 * while the consumer parses, keeping the running value at every slice
 * boundary, and check_seal finishes from the boundary below the seal.  On
 * the way the thread takes the mapping's page faults ahead of the parser.
 * Streams under ADLER_AHEAD_MIN are checked on the spot.
 */
#define ADLER_STEP ((size_t)4 << 20)
#define ADLER_AHEAD_MIN ((size_t)32 << 20)

struct adler_ahead {
    pthread_t thread;
    const uint8_t *p;
    size_t n;     /* checkpoints: at[0 .. n) */
    uint32_t *at; /* at[k]: Adler-32 of p[0, k * ADLER_STEP) */
    int stop;     /* set (atomically) when the parse failed */
};

static void *adler_run(void *arg)
{
    struct adler_ahead *a = arg;
    a->at[0] = CKSUM_ADLER32_START;
    for (size_t k = 1; k < a->n && !__atomic_load_n(&a->stop, __ATOMIC_RELAXED); k++)
        a->at[k] = cksum_adler32(a->at[k - 1], a->p + (k - 1) * ADLER_STEP, ADLER_STEP);
    return NULL;
}

/* Starts the thread for a stream of len bytes; NULL (check on the spot)
 * when it is small or no thread can be had. */
static struct adler_ahead *adler_ahead_start(const uint8_t *p, size_t len)
{
    if (len < ADLER_AHEAD_MIN)
        return NULL;
    struct adler_ahead *a = zk_xcalloc(1, sizeof *a);
    a->p = p;
    a->n = len / ADLER_STEP + 1;
    a->at = zk_xcalloc(a->n, sizeof *a->at);
    if (pthread_create(&a->thread, NULL, adler_run, a)) {
        free(a->at);
        free(a);
        return NULL;
    }
    return a;
}

/* Waits for the thread; `failed`: the parse failed, the sums are moot. */
static void adler_ahead_join(struct adler_ahead *a, int failed)
{
    if (!a)
        return;
    if (failed)
        __atomic_store_n(&a->stop, 1, __ATOMIC_RELAXED);
    pthread_join(a->thread, NULL);
}

static void adler_ahead_free(struct adler_ahead *a)
{
    if (a)
        free(a->at);
    free(a);
}

/* Adler-32 of p[0, end), from the nearest checkpoint when there are any. */
static uint32_t adler_prefix(const struct adler_ahead *a, const uint8_t *p, size_t end)
{
    uint32_t sum = CKSUM_ADLER32_START;
    size_t from = 0;
    if (a) {
        size_t k = end / ADLER_STEP;
        if (k >= a->n)
            k = a->n - 1;
        sum = a->at[k];
        from = k * ADLER_STEP;
    }
    return cksum_adler32(sum, p + from, end - from);
}

/* One file being loaded. */
struct candidate {
    char path[PATH_MAX];
    int64_t zxid;       /* from the name */
    const uint8_t *p;   /* the uncompressed stream */
    size_t len;
    void *map;          /* what to munmap, or NULL */
    size_t maplen;
    uint8_t *heap;      /* what to free, or NULL */
    size_t at;          /* offset of what is being checked */
    struct adler_ahead *ahead; /* while load_stream runs, or NULL */
    const char *why;    /* set unless valid */
    int delivered;      /* the consumer saw the body */
};

static int damaged(struct candidate *c, const char *why)
{
    c->why = why;
    return SNAP_DAMAGED;
}

static int unsealed(struct candidate *c, const char *why)
{
    c->why = why;
    return SNAP_UNSEALED;
}

/* Apache's test of a complete plain stream: it ends with a seal's marker,
 * the int 1 and '/' (FileSnap writes a seal last, after any trailer). */
static int ends_with_seal(const struct candidate *c)
{
    static const uint8_t marker[5] = {0, 0, 0, 1, '/'};
    return c->len >= 10 && !memcmp(c->p + c->len - 5, marker, 5);
}

/* Appends to a growing heap buffer. */
static void grow(uint8_t **buf, size_t *cap, size_t need)
{
    if (need > *cap) {
        *cap = need > 2 * *cap ? need : 2 * *cap;
        *buf = zk_xrealloc(*buf, *cap);
    }
}

/* Inflates a gzip file image.  Returns 0, 1 if it does not inflate, or 2
 * if it ends before its stream does (a write cut short). */
static int inflate_gz(struct candidate *c, const uint8_t *p, size_t n)
{
    z_stream z = {0};
    if (inflateInit2(&z, 15 + 16) != Z_OK)
        return 1;
    size_t cap = n * 4 + 4096, len = 0;
    uint8_t *buf = zk_xmalloc(cap);
    z.next_in = (Bytef *)p;
    int zr = Z_OK;
    size_t left = n;
    while (zr == Z_OK) {
        grow(&buf, &cap, len + (1u << 20));
        z.next_out = buf + len;
        z.avail_out = (uInt)(cap - len);
        if (!z.avail_in && left) {
            z.avail_in = left > (1u << 30) ? 1u << 30 : (uInt)left;
            left -= z.avail_in;
        }
        zr = inflate(&z, Z_NO_FLUSH);
        len = cap - z.avail_out;
        if (zr == Z_BUF_ERROR && (z.avail_in || left))
            zr = Z_OK;
        if (len > MAX_INFLATED)
            zr = Z_DATA_ERROR;
    }
    inflateEnd(&z);
    c->heap = buf;
    c->p = buf;
    c->len = len;
    if (zr == Z_BUF_ERROR && !z.avail_in && !left)
        return 2;
    return zr == Z_STREAM_END ? 0 : 1;
}

/* Decodes snappy-java's stream framing.  Returns 0, 1 if it does not, or 2
 * if the file ends inside a chunk (a write cut short). */
static int inflate_snappy(struct candidate *c, const uint8_t *p, size_t n)
{
    if (n < SNAPPY_HEADER || memcmp(p, snappy_magic, 8))
        return 1;
    size_t cap = n * 2 + 4096, len = 0, at = SNAPPY_HEADER;
    uint8_t *buf = zk_xmalloc(cap);
    c->heap = buf;
    while (at < n) {
        if (n - at < 4)
            return 2;
        size_t clen = zk_be32_get(p + at), ulen;
        at += 4;
        if (clen > n - at)
            return 2;
        if (snappy_uncompressed_length((const char *)p + at, clen, &ulen) != SNAPPY_OK ||
            len + ulen > MAX_INFLATED)
            return 1;
        grow(&buf, &cap, len + ulen);
        c->heap = buf;
        if (snappy_uncompress((const char *)p + at, clen, (char *)buf + len, &ulen) != SNAPPY_OK)
            return 1;
        len += ulen;
        at += clen;
    }
    c->p = buf;
    c->len = len;
    return 0;
}

/* Maps the file and, if compressed, inflates it.  Returns 0, a verdict
 * (SNAP_DAMAGED) or -errno. */
static int open_candidate(struct candidate *c)
{
    int fd = open(c->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    int rc = fstat(fd, &st) ? -errno : 0;
    void *m = NULL;
    if (!rc && st.st_size > 0) {
        m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED)
            rc = -errno;
        else
            madvise(m, (size_t)st.st_size, MADV_SEQUENTIAL);
    }
    close(fd);
    if (rc)
        return rc;
    c->map = m;
    c->maplen = (size_t)st.st_size;
    c->len = (size_t)st.st_size;
    c->p = m;
    size_t n = strlen(c->path);
    int bad = 0;
    if (n > 3 && !strcmp(c->path + n - 3, ".gz"))
        bad = inflate_gz(c, m, (size_t)st.st_size);
    else if (n > 7 && !strcmp(c->path + n - 7, ".snappy"))
        bad = inflate_snappy(c, m, (size_t)st.st_size);
    if (bad == 2)
        return unsealed(c, "the compressed stream ends early");
    return bad ? damaged(c, "the compressed stream does not decode") : 0;
}

static void close_candidate(struct candidate *c)
{
    if (c->map)
        munmap(c->map, c->maplen);
    free(c->heap);
    c->map = NULL;
    c->heap = NULL;
}

/* Checks a seal at c->at.  Returns 1 if valid, else 0 with c->why set. */
static int check_seal(struct candidate *c)
{
    if (c->len - c->at < SEAL) {
        c->why = "file ends before the checksum";
        return 0;
    }
    const uint8_t *s = c->p + c->at;
    /* The length is a size_t: snapshots may exceed 4 GiB. */
    uint32_t want = adler_prefix(c->ahead, c->p, c->at);
    if (zk_be64_get(s) != (uint64_t)want) {
        c->why = "checksum mismatch";
        return 0;
    }
    if (zk_be32_get(s + 8) != 1 || s[12] != '/') {
        c->why = "bad seal";
        return 0;
    }
    c->at += SEAL;
    return 1;
}

/* After the first seal: nothing, or Apache's digest and/or 3.9's
 * lastProcessedZxid, each sealed.  Returns a verdict. */
static int check_trailers(struct candidate *c, struct snapshot_info *info)
{
    size_t left = c->len - c->at;
    if (left == 0)
        return SNAP_VALID;
    int digest = left == 20 + SEAL || left == 20 + SEAL + 8 + SEAL;
    int lpz = left == 8 + SEAL || left == 20 + SEAL + 8 + SEAL;
    if (!digest && !lpz)
        return damaged(c, "unexpected bytes after the checksum");
    if (digest) {
        info->digest_zxid = (int64_t)zk_be64_get(c->p + c->at);
        info->digest_version = (int32_t)zk_be32_get(c->p + c->at + 8);
        info->digest = (int64_t)zk_be64_get(c->p + c->at + 12);
        c->at += 20;
        if (!check_seal(c))
            return SNAP_DAMAGED;
    }
    if (lpz) {
        info->last_processed_zxid = (int64_t)zk_be64_get(c->p + c->at);
        c->at += 8;
        if (!check_seal(c))
            return SNAP_DAMAGED;
    }
    return SNAP_VALID;
}

/* Checks the header, lets the consumer parse the body, checks the seal.
 * Returns a verdict, -EPROTO for an unknown version, or -errno. */
static int load_stream(struct candidate *c, snapshot_load_cb cb, void *data,
                       struct snapshot_info *info)
{
    c->at = 0;
    if (c->len < HEADER)
        return unsealed(c, "the file ends inside the header");
    if (memcmp(c->p, MAGIC, 4))
        return damaged(c, "not a ZooKeeper snapshot (bad header)");
    if (zk_be32_get(c->p + 4) != VERSION) {
        log_error("snapshot %s has format version %u; this zkd reads version %d (Apache "
                  "ZooKeeper 3.5-3.9): refusing to start rather than ignore it",
                  c->path, zk_be32_get(c->p + 4), VERSION);
        return -EPROTO;
    }
    size_t used = 0;
    c->at = HEADER;
    c->delivered = 1;
    c->ahead = adler_ahead_start(c->p, c->len);
    int bad = cb(c->p + HEADER, c->len - HEADER, &used, data);
    adler_ahead_join(c->ahead, bad);
    int rc;
    if (bad) {
        c->why = "the body does not parse";
        rc = SNAP_DAMAGED;
    } else {
        c->at = HEADER + used;
        rc = check_seal(c) ? check_trailers(c, info) : SNAP_DAMAGED;
    }
    adler_ahead_free(c->ahead);
    c->ahead = NULL;
    return rc == SNAP_DAMAGED && !ends_with_seal(c) ? SNAP_UNSEALED : rc;
}

int snapshot_load_buffer(const void *p, size_t len, snapshot_load_cb cb, void *data,
                         struct snapshot_info *info)
{
    struct candidate c = {.p = p, .len = len};
    snprintf(c.path, sizeof c.path, "(stream)");
    *info = (struct snapshot_info){.digest_zxid = -1, .last_processed_zxid = -1};
    int rc = load_stream(&c, cb, data, info);
    if (rc == SNAP_DAMAGED || rc == SNAP_UNSEALED)
        log_warn("snapshot stream is damaged: %s at offset %zu", c.why, c.at);
    return rc < 0 ? rc : rc == SNAP_VALID ? 0 : -EINVAL;
}

int snapshot_load_file(const char *path, snapshot_load_cb cb, void *data,
                       struct snapshot_info *info, const char **why, size_t *at)
{
    struct candidate c = {0};
    snprintf(c.path, sizeof c.path, "%s", path);
    *info = (struct snapshot_info){.digest_zxid = -1, .last_processed_zxid = -1};
    int rc = open_candidate(&c);
    if (rc == 0)
        rc = load_stream(&c, cb, data, info);
    close_candidate(&c);
    *why = c.why;
    *at = c.at;
    if (rc == SNAP_UNSEALED)
        return -ENODATA;
    return rc < 0 ? rc : rc == SNAP_VALID ? 0 : -EINVAL;
}

/* Moves a damaged candidate aside so it is never tried again (nor counted
 * among the snapshots purging keeps). */
static void set_aside(const struct candidate *c, int verdict)
{
    char bad[PATH_MAX + 8];
    snprintf(bad, sizeof bad, "%s.corrupt", c->path);
    if (verdict == SNAP_UNSEALED)
        log_warn("snapshot %s is incomplete (%s at offset %zu): its writing was cut short, as "
                 "by a crash; renamed to %s, trying an older one", c->path, c->why, c->at, bad);
    else
        log_warn("snapshot %s is damaged (%s at offset %zu); renamed to %s, trying an older one",
                 c->path, c->why, c->at, bad);
    if (rename(c->path, bad))
        log_error("cannot rename %s: %s", c->path, strerror(errno));
}

int snapshot_load(const char *dir, snapshot_load_cb cb, snapshot_reset_cb reset, void *data,
                  int64_t *zxid, struct snapshot_info *out)
{
    struct snapshot_info ignored;
    if (!out)
        out = &ignored;
    *out = (struct snapshot_info){.digest_zxid = -1, .last_processed_zxid = -1};
    struct datafile *files;
    *zxid = -1;
    datadir_remove_tmp(dir, "snapshot.");
    int n = datadir_list(dir, "snapshot.", suffixes, 1, &files);
    if (n < 0)
        return n;
    struct candidate *c = zk_xcalloc(1, sizeof *c);
    int rc = 0, i, tried = 0;
    for (i = 0; i < n; i++) {
        if (c->delivered && reset)
            reset(data); /* drop what the previous candidate left */
        memset(c, 0, sizeof *c);
        snprintf(c->path, sizeof c->path, "%s/%s", dir, files[i].name);
        c->zxid = files[i].zxid;
        if (i > 0 && files[i].zxid == files[i - 1].zxid)
            continue; /* the same zxid in another compression: one is enough */
        struct snapshot_info info = {.digest_zxid = -1, .last_processed_zxid = -1};
        tried++;
        rc = open_candidate(c);
        if (rc == 0)
            rc = load_stream(c, cb, data, &info);
        close_candidate(c);
        if (rc < 0) {
            if (rc != -EPROTO)
                log_error("cannot read snapshot %s: %s", c->path, strerror(-rc));
            break;
        }
        if (rc == SNAP_VALID) {
            *zxid = c->zxid;
            *out = info;
            rc = 0;
            break;
        }
        if (rc == SNAP_DAMAGED || rc == SNAP_UNSEALED)
            set_aside(c, rc);
        else
            log_warn("snapshot %s: %s at offset %zu; trying an older one", c->path, c->why, c->at);
        rc = 0;
    }
    if (*zxid < 0 && c->delivered && reset)
        reset(data);
    if (i == n && tried > 0) {
        log_error("none of the %d snapshots in %s is usable", tried, dir);
        rc = -ENODATA;
    }
    free(c);
    free(files);
    return rc;
}

/* ---- housekeeping ---- */

int snapshot_purge(const char *dir, int retain, int64_t *oldest_kept_zxid)
{
    struct datafile *files;
    *oldest_kept_zxid = -1;
    if (retain < 3)
        retain = 3;
    int n = datadir_list(dir, "snapshot.", suffixes, 1, &files);
    if (n < 0)
        return n;
    int removed = 0;
    for (int i = 0; i < n; i++) {
        if (i < retain) {
            *oldest_kept_zxid = files[i].zxid;
            continue;
        }
        removed += datadir_remove(dir, files[i].name);
    }
    free(files);
    return removed;
}

int64_t snapshot_dir_bytes(const char *dir)
{
    struct datafile *files;
    int n = datadir_list(dir, "snapshot.", suffixes, 1, &files);
    if (n < 0)
        return n;
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
        char path[PATH_MAX];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, files[i].name);
        if (stat(path, &st) == 0)
            total += st.st_size;
    }
    free(files);
    return total;
}
