/*
 * fuzz_util.h - what several fuzz targets share.
 */
#ifndef ZK_FUZZ_UTIL_H
#define ZK_FUZZ_UTIL_H

#include <dirent.h>
#include <stdio.h>
#include <unistd.h>

/* Removes a flat directory (a fuzzed server's data: logs, snapshots, the
 * secret) and what is in it, at exit. */
static inline void fuzz_remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char path[400];
        while ((e = readdir(d)) != NULL) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
}

#endif
