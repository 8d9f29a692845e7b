/*
 * datadir.c - see datadir.h.
 */
#include "datadir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "zk/jute.h"

#define HEX_MAX 16

/* Returns the length of `<prefix><1..16 hex>` at the start of `name`, or 0. */
static size_t zxid_name_len(const char *name, const char *prefix)
{
    size_t pl = strlen(prefix);
    size_t hex = strspn(name + (strncmp(name, prefix, pl) ? 0 : pl), "0123456789abcdef");
    if (strncmp(name, prefix, pl) || hex == 0 || hex > HEX_MAX)
        return 0;
    return pl + hex;
}

static int suffix_ok(const char *rest, const char *const *suffixes)
{
    if (!*rest)
        return 1;
    for (; suffixes && *suffixes; suffixes++)
        if (!strcmp(rest, *suffixes))
            return 1;
    return 0;
}

static int by_zxid(const void *a, const void *b)
{
    int64_t x = ((const struct datafile *)a)->zxid, y = ((const struct datafile *)b)->zxid;
    return x < y ? -1 : x > y;
}

static int by_zxid_desc(const void *a, const void *b) { return by_zxid(b, a); }

int datadir_list(const char *dir, const char *prefix, const char *const *suffixes,
                 int newest_first, struct datafile **files)
{
    DIR *d = opendir(dir);
    *files = NULL;
    if (!d)
        return errno == ENOENT ? 0 : -errno;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = zxid_name_len(e->d_name, prefix);
        if (!len || !suffix_ok(e->d_name + len, suffixes) || strlen(e->d_name) >= 256)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            *files = zk_xrealloc(*files, (size_t)cap * sizeof **files);
        }
        (*files)[n].zxid = (int64_t)strtoull(e->d_name + strlen(prefix), NULL, 16);
        snprintf((*files)[n].name, sizeof (*files)[n].name, "%s", e->d_name);
        n++;
    }
    closedir(d);
    if (n)
        qsort(*files, (size_t)n, sizeof **files, newest_first ? by_zxid_desc : by_zxid);
    return n;
}

int datadir_remove(const char *dir, const char *name)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (unlink(path) == 0)
        return 1;
    log_warn("cannot remove %s: %s", path, strerror(errno));
    return 0;
}

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), t = strlen(tail);
    return n >= t && !strcmp(s + n - t, tail);
}

void datadir_remove_tmp(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (zxid_name_len(e->d_name, prefix) && ends_with(e->d_name, ".tmp")) {
            char path[4400];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    }
    closedir(d);
}

int datadir_fsync(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) && errno != EINVAL && errno != ENOTSUP ? -errno : 0;
    close(fd);
    return rc;
}

int datadir_version_dir(const char *base, char *out, size_t size)
{
    int n = snprintf(out, size, "%s/%s", base, DATADIR_VERSION_DIR);
    if (n < 0 || (size_t)n >= size)
        return -ENAMETOOLONG;
    if (mkdir(out, 0755) == 0)
        return datadir_fsync(base); /* the new entry must survive a power cut */
    return errno == EEXIST ? 0 : -errno;
}

/* True for `<prefix><exactly 16 hex>`: zkd's names before version-2. */
static int old_name(const char *name, const char *prefix)
{
    size_t len = zxid_name_len(name, prefix);
    return len == strlen(prefix) + HEX_MAX && name[len] == 0;
}

static int check_base(const char *base)
{
    DIR *d = opendir(base);
    if (!d)
        return 0;
    struct dirent *e;
    int bad = 0;
    while ((e = readdir(d)) != NULL && !bad) {
        if (old_name(e->d_name, "snapshot.") || old_name(e->d_name, "log.")) {
            log_error("%s/%s is in zkd's earlier storage format, from before zkd adopted Apache "
                      "ZooKeeper's (dataDir/version-2): this zkd cannot read it and will not start over it. "
                      "To keep the data, run the previous zkd on this dataDir and copy the tree "
                      "to a new server with a client (or restore it from a backup); to start "
                      "empty, move the old snapshot.*, log.*, acceptedEpoch and currentEpoch "
                      "files out of %s",
                      base, e->d_name, base);
            bad = 1;
        }
    }
    closedir(d);
    return bad ? -1 : 0;
}

static int check_version_dir(const char *vdir)
{
    static const char *const snap_suffixes[] = {".gz", ".snappy", NULL};
    DIR *d = opendir(vdir);
    if (!d)
        return 0;
    struct dirent *e;
    int bad = 0;
    while ((e = readdir(d)) != NULL && !bad) {
        const char *n = e->d_name;
        int snap = !strncmp(n, "snapshot.", 9), lg = !strncmp(n, "log.", 4);
        if ((!snap && !lg) || ends_with(n, ".tmp") || ends_with(n, ".corrupt"))
            continue;
        size_t len = zxid_name_len(n, snap ? "snapshot." : "log.");
        if (len && suffix_ok(n + len, snap ? snap_suffixes : NULL))
            continue;
        log_error("%s/%s looks like a ZooKeeper %s but its name does not parse (written by a "
                  "newer or foreign tool?): refusing to start rather than ignore data. Move it "
                  "out of %s if it is not needed",
                  vdir, n, snap ? "snapshot" : "transaction log", vdir);
        bad = 1;
    }
    closedir(d);
    return bad ? -1 : 0;
}

int datadir_check(const char *base, const char *vdir)
{
    return check_base(base) || check_version_dir(vdir) ? -1 : 0;
}
