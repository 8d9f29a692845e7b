/*
 * adminsnap.c - see adminsnap.h.
 */
#include "adminsnap.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "clock.h"
#include "db.h"
#include "log.h"
#include "server.h"
#include "snapshot.h"

int adminsnap_take(struct server *s, struct jute_out *out, int64_t *zxid)
{
    /* The writer wants an fd: an anonymous memory file, read back whole. */
    int fd = memfd_create("zkd-admin-snapshot", MFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    *zxid = s->db.last_zxid;
    int rc = server_snapshot_to_fd(s, fd);
    if (!rc && lseek(fd, 0, SEEK_SET) < 0)
        rc = -errno;
    char buf[65536];
    while (!rc) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = -errno;
        if (n <= 0)
            break;
        jute_put_raw(out, buf, (size_t)n);
    }
    close(fd);
    return rc;
}

static int load_into(const void *p, size_t len, size_t *used, void *d)
{
    return db_load_snapshot_body(d, p, len, used, clock_mono_ms());
}

/* Checks the whole stream into a scratch state.  OUT: *info. */
static int check_stream(struct server *s, const void *p, size_t len, struct snapshot_info *info)
{
    struct db scratch;
    db_init(&scratch, s->db.tick_ms, s->db.server_id);
    db_reset(&scratch);
    int rc = snapshot_load_buffer(p, len, load_into, &scratch, info);
    db_free(&scratch);
    return rc;
}

int adminsnap_restore(struct server *s, const void *p, size_t len, int64_t *zxid,
                      const char **why)
{
    if (s->q) {
        *why = "restore replaces one server's state: zkd allows it on a standalone server only";
        return -ENOTSUP;
    }
    struct snapshot_info info;
    if (check_stream(s, p, len, &info)) {
        *why = "the upload is not a valid snapshot stream";
        return -EINVAL;
    }
    int64_t z = s->db.last_zxid;
    if (info.last_processed_zxid > z)
        z = info.last_processed_zxid;
    z++;
    log_warn("AdminServer restore: replacing the state at 0x%" PRIx64 " (%llu znodes) by an "
             "uploaded snapshot of %zu bytes; closing every client connection",
             (uint64_t)s->db.last_zxid, (unsigned long long)tree_node_count(s->db.tree), len);
    server_close_clients(s);
    server_image_begin(s);
    if (snapshot_load_buffer(p, len, load_into, &s->db, &info)) {
        /* Checked above: only a bug gets here.  Start empty rather than half-loaded. */
        log_error("AdminServer restore: the checked snapshot did not load; the state is empty");
        server_image_begin(s);
    }
    if (server_image_end(s, z)) {
        *why = "the restored state could not be stored (see the server log)";
        return -EIO;
    }
    __atomic_store_n(&s->durable_zxid, z, __ATOMIC_RELEASE); /* written synchronously by
                                                                server_image_end */
    log_warn("AdminServer restore: state restored at 0x%" PRIx64 " (%llu znodes, %u sessions)",
             (uint64_t)z, (unsigned long long)tree_node_count(s->db.tree),
             sessions_count(&s->db.sessions));
    *zxid = z;
    return 0;
}
