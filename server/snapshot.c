/*
 * snapshot.c - snapshot files (format in snapshot.h).
 *
 * Writing happens in a forked child (copy-on-write image of the parent's
 * tree): the child first closes every inherited descriptor, so a listening
 * socket cannot outlive a killed parent and block its restart, and asks the
 * kernel to kill it if the parent dies.  The parent watches SIGCHLD through
 * a uv_signal handle and reaps the child with waitpid(WNOHANG).
 */
#include "snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "datadir.h"
#include "log.h"
#include "txnlog.h"
#include "zk/jute.h"

#define MAGIC "ZKSNAP01"
#define WBUF (1 << 20)

struct snapshot_writer {
    int fd;
    uint8_t *buf;
    size_t len;
    uint32_t crc;
    uint64_t count;
    int err;
};

static int wflush(struct snapshot_writer *w)
{
    size_t off = 0;
    while (off < w->len) {
        ssize_t n = write(w->fd, w->buf + off, w->len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return w->err = -(errno ? errno : EIO);
        off += (size_t)n;
    }
    w->len = 0;
    return 0;
}

static int wraw(struct snapshot_writer *w, const void *p, size_t n)
{
    if (w->err)
        return w->err;
    if (w->len + n > WBUF && wflush(w))
        return w->err;
    if (n > WBUF) {
        const uint8_t *b = p;
        while (n) {
            size_t k = n > WBUF ? WBUF : n;
            memcpy(w->buf, b, k);
            w->len = k;
            if (wflush(w))
                return w->err;
            b += k;
            n -= k;
        }
        return 0;
    }
    memcpy(w->buf + w->len, p, n);
    w->len += n;
    return 0;
}

int snapshot_put(struct snapshot_writer *w, const void *rec, size_t len)
{
    if (len == 0 || len > UINT32_MAX)
        return -EINVAL;
    uint8_t hdr[8];
    zk_be32_put(hdr, (uint32_t)len);
    zk_be32_put(hdr + 4, zk_crc32(0, rec, len));
    w->crc = zk_crc32(w->crc, rec, len);
    w->count++;
    wraw(w, hdr, 8);
    return wraw(w, rec, len);
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

static void fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int snapshot_write(const char *dir, int64_t zxid, snapshot_produce_fn produce, void *data)
{
    char path[4200], tmp[4300];
    snprintf(path, sizeof path, "%s/snapshot.%016" PRIx64, dir, (uint64_t)zxid);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    struct snapshot_writer w = {0};
    w.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w.fd < 0)
        return -errno;
    w.buf = malloc(WBUF);
    if (!w.buf) {
        close(w.fd);
        return -ENOMEM;
    }
    uint8_t hdr[16];
    memcpy(hdr, MAGIC, 8);
    be64_put(hdr + 8, (uint64_t)zxid);
    wraw(&w, hdr, 16);
    int rc = produce(&w, data);
    if (!rc) {
        uint8_t tr[16];
        zk_be32_put(tr, 0);
        zk_be32_put(tr + 4, w.crc);
        be64_put(tr + 8, w.count);
        wraw(&w, tr, 16);
        rc = w.err ? w.err : wflush(&w);
    }
    if (!rc && fsync(w.fd))
        rc = -errno;
    close(w.fd);
    free(w.buf);
    if (!rc && rename(tmp, path))
        rc = -errno;
    if (rc) {
        unlink(tmp);
        return rc;
    }
    fsync_dir(dir);
    return 0;
}

/* ---- background ---- */

static struct {
    pid_t pid;
    int running;
    uv_signal_t sig;
    snapshot_done_cb done;
    void *ddata;
    int64_t zxid;
    struct timespec start;
} bg;

int snapshot_running(void) { return bg.running; }

static void on_sigchld(uv_signal_t *h, int signum)
{
    (void)signum;
    int status = 0;
    pid_t r = waitpid(bg.pid, &status, WNOHANG);
    if (r != bg.pid)
        return;
    uv_signal_stop(h);
    uv_close((uv_handle_t *)h, NULL);
    bg.running = 0;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double secs = (double)(now.tv_sec - bg.start.tv_sec) + (double)(now.tv_nsec - bg.start.tv_nsec) / 1e9;
    int rc = WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
    bg.done(rc, bg.zxid, secs, bg.ddata);
}

int snapshot_start(uv_loop_t *loop, const char *dir, int64_t zxid, snapshot_produce_fn produce,
                   void *pdata, snapshot_done_cb done, void *ddata)
{
    if (bg.running)
        return -EBUSY;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        for (int fd = 3; fd < 65536; fd++)
            close(fd);
        _exit(snapshot_write(dir, zxid, produce, pdata) ? 1 : 0);
    }
    bg.pid = pid;
    bg.running = 1;
    bg.done = done;
    bg.ddata = ddata;
    bg.zxid = zxid;
    clock_gettime(CLOCK_MONOTONIC, &bg.start);
    uv_signal_init(loop, &bg.sig);
    uv_signal_start(&bg.sig, on_sigchld, SIGCHLD);
    /* The child may have exited before the handler existed. */
    on_sigchld(&bg.sig, SIGCHLD);
    return 0;
}

/* ---- listing, loading, purging ---- */

/* Verifies and applies one file.  Returns 0, or -1 with `why`/`at` set. */
static int load_one(const uint8_t *p, size_t len, snapshot_load_cb cb, void *data, int64_t *zxid,
                    const char **why, size_t *at)
{
    if (len < 32 || memcmp(p, MAGIC, 8)) {
        *why = "bad header";
        *at = 0;
        return -1;
    }
    *zxid = (int64_t)be64_get(p + 8);
    size_t off = 16;
    uint32_t crc = 0;
    uint64_t count = 0;
    while (off + 8 <= len) {
        uint32_t rlen = zk_be32_get(p + off);
        *at = off;
        if (rlen == 0) {
            if (off + 16 != len || zk_be32_get(p + off + 4) != crc || be64_get(p + off + 8) != count) {
                *why = "bad trailer";
                return -1;
            }
            return 0;
        }
        if (rlen > len - off - 8) {
            *why = "record extends past the end";
            return -1;
        }
        const uint8_t *rec = p + off + 8;
        if (zk_crc32(0, rec, rlen) != zk_be32_get(p + off + 4)) {
            *why = "checksum mismatch";
            return -1;
        }
        if (cb(rec, rlen, data)) {
            *why = "record does not decode";
            return -1;
        }
        crc = zk_crc32(crc, rec, rlen);
        count++;
        off += 8 + rlen;
    }
    *why = "missing trailer";
    *at = off;
    return -1;
}

int snapshot_load(const char *dir, snapshot_load_cb cb, snapshot_reset_cb reset, void *data,
                  int64_t *zxid)
{
    struct datafile *files;
    datadir_remove_tmp(dir, "snapshot.");
    int n = datadir_list(dir, "snapshot.", 1, &files);
    *zxid = -1;
    if (n < 0)
        return n;
    for (int i = 0; i < n; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", dir, files[i].name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st)) {
            if (fd >= 0)
                close(fd);
            continue;
        }
        void *m = st.st_size ? mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
        close(fd);
        if (i > 0 || m == MAP_FAILED)
            reset(data);
        const char *why = "empty file";
        size_t at = 0;
        int64_t z = -1;
        int rc = m == MAP_FAILED ? -1 : load_one(m, (size_t)st.st_size, cb, data, &z, &why, &at);
        if (m != MAP_FAILED)
            munmap(m, (size_t)st.st_size);
        if (rc == 0 && z == files[i].zxid) {
            *zxid = z;
            free(files);
            return 0;
        }
        if (rc == 0)
            why = "zxid in header does not match the name";
        char bad[4300];
        snprintf(bad, sizeof bad, "%s.corrupt", path);
        log_warn("snapshot %s is invalid (%s at offset %zu); renamed to %s, trying an older one",
                 path, why, at, bad);
        rename(path, bad);
        reset(data);
    }
    free(files);
    return 0;
}

int snapshot_purge(const char *dir, int retain, int64_t *oldest_kept_zxid)
{
    struct datafile *files;
    if (retain < 3)
        retain = 3;
    int n = datadir_list(dir, "snapshot.", 1, &files);
    *oldest_kept_zxid = -1;
    if (n <= 0)
        return 0;
    int removed = 0;
    for (int i = 0; i < n; i++) {
        if (i < retain) {
            *oldest_kept_zxid = files[i].zxid;
            continue;
        }
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", dir, files[i].name);
        if (unlink(path) == 0)
            removed++;
    }
    free(files);
    return removed;
}

int64_t snapshot_dir_bytes(const char *dir)
{
    struct datafile *files;
    int n = datadir_list(dir, "snapshot.", 1, &files);
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
        char path[4200];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, files[i].name);
        if (!stat(path, &st))
            total += st.st_size;
    }
    free(files);
    return total;
}
