/*
 * datadir.h - listing the zxid-named files of dataDir / dataLogDir.
 *
 * Both the log (`log.<zxid>`) and snapshots (`snapshot.<zxid>`) name files
 * after a zxid in 16 lower-case hex digits; this module finds them, in zxid
 * order, so the two stores share one parser of their directory.
 */
#ifndef ZKD_DATADIR_H
#define ZKD_DATADIR_H

#include <stdint.h>

struct datafile {
    int64_t zxid;
    char name[256];
};

/*
 * Lists the files named exactly `<prefix><16 hex digits>` in `dir`, sorted by
 * zxid (ascending, or descending with `newest_first`).  OUT: *files, to be
 * freed by the caller.  Returns the count, 0 if `dir` does not exist, or
 * -errno.
 */
int datadir_list(const char *dir, const char *prefix, int newest_first, struct datafile **files);

/* Deletes dir/name (purging); logs a failure.  Returns 1 if removed, else 0. */
int datadir_remove(const char *dir, const char *name);

/* Deletes `<prefix><16 hex>.tmp` files left by a crash. */
void datadir_remove_tmp(const char *dir, const char *prefix);

/*
 * Fsyncs the directory `dir`, so that entries created, renamed or removed in
 * it survive a power cut (fsync of a file makes its data durable, not its
 * name).  File systems that cannot sync a directory (EINVAL, ENOTSUP) count
 * as success.  Returns 0 or -errno.
 */
int datadir_fsync(const char *dir);

#endif
