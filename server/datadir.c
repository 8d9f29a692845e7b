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
#include <unistd.h>

#include "log.h"
#include "zk/jute.h"

#define HEX_DIGITS 16

/* Returns the length of `<prefix><16 hex>` at the start of `name`, or 0. */
static size_t zxid_name_len(const char *name, const char *prefix)
{
    size_t pl = strlen(prefix);
    if (strncmp(name, prefix, pl) || strspn(name + pl, "0123456789abcdef") < HEX_DIGITS)
        return 0;
    return pl + HEX_DIGITS;
}

static int by_zxid(const void *a, const void *b)
{
    int64_t x = ((const struct datafile *)a)->zxid, y = ((const struct datafile *)b)->zxid;
    return x < y ? -1 : x > y;
}

static int by_zxid_desc(const void *a, const void *b) { return by_zxid(b, a); }

int datadir_list(const char *dir, const char *prefix, int newest_first, struct datafile **files)
{
    DIR *d = opendir(dir);
    *files = NULL;
    if (!d)
        return errno == ENOENT ? 0 : -errno;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = zxid_name_len(e->d_name, prefix);
        if (!len || e->d_name[len] != 0)
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

void datadir_remove_tmp(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = zxid_name_len(e->d_name, prefix);
        if (len && !strcmp(e->d_name + len, ".tmp")) {
            char path[4400];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    }
    closedir(d);
}

int datadir_sync(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) && errno != EINVAL && errno != ENOTSUP ? -errno : 0;
    close(fd);
    return rc;
}
