/*
 * snapshot.c - writing, loading and purging snapshot files.
 *
 * BYTE LAYOUT (every integer big-endian; snapshot.h has the summary)
 *
 *   snapshot.<zxid, 16 lower-case hex digits>
 *
 *     0         "ZKSNAP01"
 *     8         u64 zxid                      must match the file name
 *     16        [u32 len][u32 crc][payload]   len 1..MAX_RECORD, crc of payload
 *               ...                           one record per snapshot_put()
 *     end - 16  [u32 0][u32 crc][u64 count]   crc of all payloads as one
 *                                             stream, count of records
 *
 * and nothing after the trailer.  CRC-32 is zk_crc32() (txnlog.h).  Record
 * CRCs catch damaged records but not missing ones: a file cut at a record
 * boundary looks whole.  The trailer is the producer's proof that it
 * finished, so a snapshot without it is not a snapshot.
 *
 * WRITING
 *
 * The image goes to `snapshot.<zxid>.tmp` through a 1 MiB buffer, is
 * fsync'd, renamed over the final name and the directory fsync'd (the
 * rename is the commit point; a crash leaves a complete file or a .tmp that
 * snapshot_load() deletes).  On any error the .tmp is removed.
 *
 * IN THE BACKGROUND (snapshot_start)
 *
 * fork() hands the child a copy-on-write image of the tree as of this
 * instant, for free, while the parent goes on serving: Redis's BGSAVE
 * (rdb.c, rdbSaveBackground).  The parent has other threads, so the child
 * does only what needs no lock another thread could have held at the fork:
 * produce and write (glibc makes malloc fork-safe; log.h writes with one
 * write(2)).  First it resets every signal handler to the default: the
 * inherited libuv handlers would write into the parent's signal pipe, or,
 * once descriptors are closed, into whichever descriptor reused that number,
 * the snapshot file included.  It asks for SIGKILL should the parent die, and
 * closes every inherited descriptor, so an orphan cannot hold the client port
 * and block a restart.  It _exit()s with 0, or with the errno that failed it.
 *
 * The parent watches SIGCHLD through a uv_signal handle started before the
 * fork (so an early exit cannot be missed), reaps exactly its child with
 * waitpid(pid, WNOHANG), closes the handle and reports through `done`.  The
 * handle lives in a heap job freed by its close callback, so `done` may start
 * the next snapshot straight away, and no handle outlives the snapshot: an
 * idle loop can exit.
 *
 * LOADING
 *
 * Candidates are tried newest first.  Every length is checked against the
 * bytes the file really has before anything is allocated or read, so no
 * input makes the loader read out of bounds.  Records are handed over as
 * they verify; a candidate that turns out damaged (bad header or name, bad
 * record CRC, bad or missing trailer, bytes after it) is logged with its
 * offset and renamed `*.corrupt`, the consumer's `reset` drops what it
 * received, and the next older one is tried.  A candidate whose bytes verify
 * but whose record the consumer refuses is skipped the same way but left in
 * place: nothing on disk is wrong with it, and renaming it would hide it from
 * whoever fixes the consumer.  The log holds everything since the oldest
 * retained snapshot (server.c purges logs only up to it), so falling back
 * loses nothing.
 */
#include "snapshot.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "datadir.h"
#include "log.h"
#include "txnlog.h"
#include "zk/jute.h"

#define MAGIC "ZKSNAP01"
#define HEADER 16
#define REC_HDR 8
#define TRAILER 16
#define MAX_RECORD (256u << 20)
#define WRITE_BUFFER (1u << 20)
/* The child pushes its file to disk every WRITEBACK_STEP bytes and waits
 * for it (Redis's incremental fsync of an RDB), so a snapshot never leaves
 * hundreds of megabytes dirty for the kernel to flush at once: that burst
 * is what the server's next log fdatasync would queue behind. */
#define WRITEBACK_STEP (8u << 20)
#define READ_BUFFER (1u << 20)

/* Names a snapshot file.  Returns 0, or -ENAMETOOLONG. */
static int snap_name(char *out, size_t size, const char *dir, int64_t zxid, const char *suffix)
{
    int n = snprintf(out, size, "%s/snapshot.%016" PRIx64 "%s", dir, (uint64_t)zxid, suffix);
    return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* ---- writing ---- */

struct snapshot_writer {
    int fd;
    uint8_t *buf; /* WRITE_BUFFER bytes */
    size_t len;
    uint32_t crc;   /* of every payload so far, for the trailer */
    uint64_t count; /* records so far */
    uint64_t written, synced; /* bytes in the file; bytes pushed to disk */
    int err;        /* first write error; sticky */
};

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? -errno : -ENOSPC;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Writes `n` bytes to the file and paces the writeback (WRITEBACK_STEP). */
static int writer_out(struct snapshot_writer *w, const uint8_t *p, size_t n)
{
    int rc = write_all(w->fd, p, n);
    if (rc)
        return rc;
    w->written += n;
    if (w->written - w->synced < WRITEBACK_STEP)
        return 0;
    unsigned flags = SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                     SYNC_FILE_RANGE_WAIT_AFTER;
    if (sync_file_range(w->fd, (off_t)w->synced, (off_t)(w->written - w->synced), flags) &&
        errno != ENOSYS && errno != EINVAL)
        return -errno;
    w->synced = w->written;
    return 0;
}

static int writer_flush(struct snapshot_writer *w)
{
    if (!w->err && w->len)
        w->err = writer_out(w, w->buf, w->len);
    w->len = 0;
    return w->err;
}

/* Buffers `n` bytes; what does not fit in the buffer goes straight out. */
static int writer_put(struct snapshot_writer *w, const void *p, size_t n)
{
    if (w->err)
        return w->err;
    if (n > WRITE_BUFFER - w->len) {
        if (writer_flush(w))
            return w->err;
        if (n >= WRITE_BUFFER)
            return w->err = writer_out(w, p, n);
    }
    memcpy(w->buf + w->len, p, n);
    w->len += n;
    return 0;
}

int snapshot_put(struct snapshot_writer *w, const void *rec, size_t len)
{
    if (len == 0 || len > MAX_RECORD)
        return -EINVAL;
    uint8_t h[REC_HDR];
    uint32_t crc = zk_crc32(0, rec, len);
    zk_be32_put(h, (uint32_t)len);
    zk_be32_put(h + 4, crc);
    w->crc = zk_crc32(w->crc, rec, len);
    w->count++;
    writer_put(w, h, sizeof h);
    return writer_put(w, rec, len);
}

/* Header, the producer's records, trailer.  Returns 0 or -errno. */
static int write_image(struct snapshot_writer *w, int64_t zxid, snapshot_produce_fn produce,
                       void *data)
{
    uint8_t h[HEADER];
    memcpy(h, MAGIC, 8);
    zk_be64_put(h + 8, (uint64_t)zxid);
    writer_put(w, h, sizeof h);
    int rc = produce(w, data);
    if (rc)
        return rc < 0 ? rc : -EIO;
    uint8_t t[TRAILER];
    zk_be32_put(t, 0);
    zk_be32_put(t + 4, w->crc);
    zk_be64_put(t + 8, w->count);
    writer_put(w, t, sizeof t);
    return writer_flush(w);
}

int snapshot_write(const char *dir, int64_t zxid, snapshot_produce_fn produce, void *data)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    int rc;
    if (zxid < 0)
        return -EINVAL;
    if ((rc = snap_name(path, sizeof path, dir, zxid, "")) ||
        (rc = snap_name(tmp, sizeof tmp, dir, zxid, ".tmp")))
        return rc;
    struct snapshot_writer w = {.buf = zk_xmalloc(WRITE_BUFFER)};
    w.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w.fd < 0) {
        rc = -errno;
        goto out_free_buf;
    }
    if ((rc = write_image(&w, zxid, produce, data)))
        goto err_unlink_tmp;
    if (fsync(w.fd)) {
        rc = -errno;
        goto err_unlink_tmp;
    }
    rc = close(w.fd) ? -errno : 0;
    w.fd = -1;
    if (rc || rename(tmp, path)) {
        rc = rc ? rc : -errno;
        goto err_unlink_tmp;
    }
    /* Renamed: the file is whole even if this fails, so it stays. */
    rc = datadir_fsync(dir);
    goto out_free_buf;

err_unlink_tmp:
    if (w.fd >= 0)
        close(w.fd);
    unlink(tmp);
out_free_buf:
    free(w.buf);
    return rc;
}

/* ---- in the background ---- */

struct snap_job {
    uv_signal_t sigchld;
    pid_t pid;
    int64_t zxid;
    uint64_t started; /* uv_hrtime() */
    snapshot_done_cb done;
    void *ddata;
};

static struct snap_job *running_job; /* at most one, process-wide */

int snapshot_running(void) { return running_job != NULL; }

static void job_free(uv_handle_t *h) { free(h->data); }

/* The child's status as 0 or -errno (see child_main). */
static int child_status(const struct snap_job *job, int st)
{
    if (WIFEXITED(st))
        return -WEXITSTATUS(st);
    log_warn("snapshot 0x%" PRIx64 ": child %d killed by signal %d", (uint64_t)job->zxid,
             (int)job->pid, WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    return -EINTR;
}

static void on_sigchld(uv_signal_t *h, int signum)
{
    struct snap_job *job = h->data;
    int st = 0;
    pid_t r;
    while ((r = waitpid(job->pid, &st, WNOHANG)) < 0 && errno == EINTR)
        ;
    if (r == 0)
        return; /* another child of ours changed state */
    int status = r < 0 ? -errno : child_status(job, st);
    double seconds = (double)(uv_hrtime() - job->started) / 1e9;
    snapshot_done_cb done = job->done;
    void *ddata = job->ddata;
    int64_t zxid = job->zxid;
    /* Cleared before `done`, which may start the next snapshot. */
    running_job = NULL;
    uv_close((uv_handle_t *)&job->sigchld, job_free);
    done(status, zxid, seconds, ddata);
}

/* Closes every inherited descriptor above stderr. */
static void close_inherited_fds(void)
{
    if (close_range(3, ~0u, 0) == 0)
        return;
    long max = sysconf(_SC_OPEN_MAX);
    for (int fd = 3; fd < (max > 0 && max < 65536 ? max : 65536); fd++)
        close(fd);
}

/* Nice value of the snapshot child: weight 110 against the server's 1024,
 * so on a saturated shared core it still gets about a tenth (a snapshot
 * must finish: the log since the last one is what a restart replays). */
#define SNAPSHOT_NICE 10

/* The forked child: see "In the background" above. */
__attribute__((noreturn)) static void child_main(pid_t parent, const char *dir, int64_t zxid,
                                                 snapshot_produce_fn produce, void *pdata)
{
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    for (int s = 1; s < NSIG; s++)
        if (s != SIGKILL && s != SIGSTOP)
            sigaction(s, &dfl, NULL);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) /* the parent died before prctl took effect */
        _exit(ESRCH);
    close_inherited_fds();
    /* Background work: where the child shares a core with the server (a
     * small machine, or a pinned server), requests go first. */
    if (setpriority(PRIO_PROCESS, 0, SNAPSHOT_NICE) != 0)
        log_warn("snapshot 0x%" PRIx64 ": setpriority: %s", (uint64_t)zxid, strerror(errno));
    int rc = snapshot_write(dir, zxid, produce, pdata);
    if (rc)
        log_error("snapshot 0x%" PRIx64 " in %s failed: %s", (uint64_t)zxid, dir, strerror(-rc));
    _exit(rc == 0 ? 0 : -rc > 0 && -rc < 256 ? -rc : EIO);
}

int snapshot_start(uv_loop_t *loop, const char *dir, int64_t zxid, snapshot_produce_fn produce,
                   void *pdata, snapshot_done_cb done, void *ddata)
{
    assert(loop && dir && produce && done);
    if (running_job)
        return -EBUSY;
    struct snap_job *job = zk_xcalloc(1, sizeof *job);
    job->zxid = zxid;
    job->done = done;
    job->ddata = ddata;
    int rc = uv_signal_init(loop, &job->sigchld);
    if (rc) {
        free(job);
        return rc;
    }
    job->sigchld.data = job;
    if ((rc = uv_signal_start(&job->sigchld, on_sigchld, SIGCHLD)))
        goto err_close_handle;
    pid_t parent = getpid();
    job->started = uv_hrtime();
    pid_t pid = fork();
    if (pid < 0) {
        rc = -errno;
        goto err_close_handle;
    }
    if (pid == 0)
        child_main(parent, dir, zxid, produce, pdata);
    /* SIGCHLD is only acted on inside uv_run, after this has returned. */
    job->pid = pid;
    running_job = job;
    return 0;

err_close_handle:
    uv_close((uv_handle_t *)&job->sigchld, job_free);
    return rc;
}

/* ---- loading ---- */

enum verdict { SNAP_VALID, SNAP_DAMAGED, SNAP_REFUSED };

/* One file being loaded. */
struct candidate {
    char path[PATH_MAX];
    int64_t zxid;       /* from the name */
    FILE *f;
    off_t size;
    off_t at;           /* offset of what is being checked */
    const char *why;    /* set unless valid */
    uint64_t delivered; /* records given to the consumer */
    uint8_t *buf;       /* one record */
    size_t cap;
};

/* Reads exactly `n` bytes.  Returns 1, 0 at a short read, or -errno. */
static int read_exact(struct candidate *c, void *p, size_t n)
{
    size_t got = fread(p, 1, n, c->f);
    if (got == n)
        return 1;
    return ferror(c->f) ? (errno ? -errno : -EIO) : 0;
}

static int damaged(struct candidate *c, const char *why)
{
    c->why = why;
    return SNAP_DAMAGED;
}

/* Checks the trailer at c->at against the records read.  Returns a verdict or -errno. */
static int check_trailer(struct candidate *c, const uint8_t *h, uint32_t crc, uint64_t count)
{
    uint8_t n[8];
    int rc = read_exact(c, n, sizeof n);
    if (rc <= 0)
        return rc < 0 ? rc : damaged(c, "truncated trailer");
    if (zk_be32_get(h + 4) != crc || zk_be64_get(n) != count)
        return damaged(c, "trailer does not match the records");
    if (fgetc(c->f) != EOF)
        return damaged(c, "bytes after the trailer");
    return ferror(c->f) ? -EIO : SNAP_VALID;
}

/* Verifies the file and feeds its records to `cb`.  Returns a verdict or -errno. */
static int load_records(struct candidate *c, snapshot_load_cb cb, void *data)
{
    uint8_t h[HEADER];
    int rc = read_exact(c, h, HEADER);
    if (rc <= 0 || memcmp(h, MAGIC, 8))
        return rc < 0 ? rc : damaged(c, "bad header");
    if (zk_be64_get(h + 8) != (uint64_t)c->zxid)
        return damaged(c, "zxid in the header does not match the file name");
    uint32_t crc = 0;
    uint64_t count = 0;
    for (c->at = HEADER;; c->at += REC_HDR + zk_be32_get(h)) {
        if ((rc = read_exact(c, h, REC_HDR)) <= 0)
            return rc < 0 ? rc : damaged(c, "file ends before the trailer");
        uint32_t len = zk_be32_get(h);
        if (len == 0)
            return check_trailer(c, h, crc, count);
        if (len > MAX_RECORD || (off_t)len > c->size - c->at - REC_HDR)
            return damaged(c, "record runs past the end of the file");
        if (c->cap < len)
            c->buf = zk_xrealloc(c->buf, c->cap = len);
        if ((rc = read_exact(c, c->buf, len)) <= 0)
            return rc < 0 ? rc : damaged(c, "record runs past the end of the file");
        if (zk_crc32(0, c->buf, len) != zk_be32_get(h + 4))
            return damaged(c, "record checksum mismatch");
        crc = zk_crc32(crc, c->buf, len);
        count++;
        c->delivered++;
        if (cb(c->buf, len, data)) {
            c->why = "record refused by the loader";
            return SNAP_REFUSED;
        }
    }
}

/* Opens and loads one candidate.  Returns a verdict or -errno. */
static int load_file(struct candidate *c, snapshot_load_cb cb, void *data)
{
    c->at = 0;
    c->why = NULL;
    c->delivered = 0;
    if (!(c->f = fopen(c->path, "rbe")))
        return -errno;
    setvbuf(c->f, NULL, _IOFBF, READ_BUFFER);
    struct stat st;
    int rc = fstat(fileno(c->f), &st) ? -errno : 0;
    if (!rc) {
        c->size = st.st_size;
        rc = load_records(c, cb, data);
    }
    fclose(c->f);
    c->f = NULL;
    return rc;
}

/* Moves a damaged candidate aside so it is never tried again. */
static void set_aside(const struct candidate *c)
{
    char bad[PATH_MAX + 8];
    snprintf(bad, sizeof bad, "%s.corrupt", c->path);
    log_warn("snapshot %s is damaged (%s at offset %lld); renamed to %s, trying an older one",
             c->path, c->why, (long long)c->at, bad);
    if (rename(c->path, bad))
        log_error("cannot rename %s: %s", c->path, strerror(errno));
}

int snapshot_load(const char *dir, snapshot_load_cb cb, snapshot_reset_cb reset, void *data,
                  int64_t *zxid)
{
    struct datafile *files;
    *zxid = -1;
    datadir_remove_tmp(dir, "snapshot.");
    int n = datadir_list(dir, "snapshot.", 1, &files);
    if (n < 0)
        return n;
    struct candidate *c = zk_xcalloc(1, sizeof *c);
    int rc = 0, i;
    for (i = 0; i < n; i++) {
        if (c->delivered && reset)
            reset(data); /* drop what the previous candidate left */
        snprintf(c->path, sizeof c->path, "%s/%s", dir, files[i].name);
        c->zxid = files[i].zxid;
        if ((rc = load_file(c, cb, data)) < 0) {
            log_error("cannot read snapshot %s: %s", c->path, strerror(-rc));
            break;
        }
        if (rc == SNAP_VALID) {
            *zxid = c->zxid;
            break;
        }
        if (rc == SNAP_DAMAGED)
            set_aside(c);
        else
            log_warn("snapshot %s: %s at offset %lld; trying an older one", c->path, c->why,
                     (long long)c->at);
    }
    if (*zxid < 0 && c->delivered && reset)
        reset(data);
    if (i == n && n > 0)
        log_error("none of the %d snapshots in %s is usable; recovering from the log alone", n,
                  dir);
    free(c->buf);
    free(c);
    free(files);
    return rc < 0 ? rc : 0;
}

/* ---- housekeeping ---- */

int snapshot_purge(const char *dir, int retain, int64_t *oldest_kept_zxid)
{
    struct datafile *files;
    *oldest_kept_zxid = -1;
    if (retain < 3)
        retain = 3;
    int n = datadir_list(dir, "snapshot.", 1, &files);
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
    int n = datadir_list(dir, "snapshot.", 1, &files);
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
