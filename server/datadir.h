/*
 * datadir.h - the zxid-named files of dataDir / dataLogDir.
 *
 * zkd keeps Apache ZooKeeper's layout: snapshots in dataDir/version-2 as
 * `snapshot.<zxid>[.gz|.snappy]`, the log in dataLogDir/version-2 as
 * `log.<zxid>`, the zxid in lower-case hex without padding (Apache's
 * Util.makeSnapshotName / makeLogName, Long.toHexString).  This module finds
 * them, in zxid order, so the two stores share one parser of their
 * directory, and checks a data directory for files zkd does not understand.
 */
#ifndef ZKD_DATADIR_H
#define ZKD_DATADIR_H

#include <stddef.h>
#include <stdint.h>

/* The subdirectory Apache's FileTxnSnapLog uses ("version-" + VERSION). */
#define DATADIR_VERSION_DIR "version-2"

struct datafile {
    int64_t zxid;
    char name[256];
};

/*
 * Lists the files named exactly `<prefix><1..16 hex digits><suffix>` in
 * `dir`, where the suffix is "" or one of the NULL-terminated `suffixes`
 * (may be NULL), sorted by zxid (ascending, or descending with
 * `newest_first`).  OUT: *files, to be freed by the caller.  Returns the
 * count, 0 if `dir` does not exist, or -errno.
 */
int datadir_list(const char *dir, const char *prefix, const char *const *suffixes,
                 int newest_first, struct datafile **files);

/* Deletes dir/name (purging); logs a failure.  Returns 1 if removed, else 0. */
int datadir_remove(const char *dir, const char *name);

/* Deletes `<prefix><hex>...tmp` files left by a crash. */
void datadir_remove_tmp(const char *dir, const char *prefix);

/*
 * Fsyncs the directory `dir`, so that entries created, renamed or removed in
 * it survive a power cut (fsync of a file makes its data durable, not its
 * name).  File systems that cannot sync a directory (EINVAL, ENOTSUP) count
 * as success.  Returns 0 or -errno.
 */
int datadir_fsync(const char *dir);

/* Writes `base`/version-2 into `out` (size `size`) and creates it if
 * missing.  Returns 0 or -errno. */
int datadir_version_dir(const char *base, char *out, size_t size);

/*
 * Refuses a data directory zkd would misread (logged, with what to do):
 * files of zkd's own pre-Apache format (`snapshot.<16 hex>`, `log.<16 hex>`,
 * `acceptedEpoch`/`currentEpoch` directly in `base`), and in `vdir`
 * (base/version-2) files named like snapshots or logs that do not parse.
 * `.tmp` and `.corrupt` files are zkd's own leftovers and pass.  Returns 0,
 * or -1 when the server must not start.
 */
int datadir_check(const char *base, const char *vdir);

#endif
