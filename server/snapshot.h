/*
 * snapshot.h - point-in-time images of the data tree, written in the
 * background and loaded at start.
 *
 * The format is Apache ZooKeeper's FileSnap (snapshot.c opens with the
 * bytes): `snapshot.<zxid in lower-case hex>[.gz|.snappy]` in
 * dataDir/version-2, a FileHeader ("ZKSN", 2, dbid -1), the body the
 * producer emits (db.h), and the Adler-32 seal.  Apache's servers and tools
 * read zkd's snapshots, and zkd reads theirs, including the optional digest
 * and lastProcessedZxid trailers and the compressed variants.  A snapshot is
 * written to `<name>.tmp`, fsync'd, renamed, and the directory fsync'd, so a
 * crash leaves either the complete file or a .tmp that start-up deletes.
 *
 * Background: snapshot_start() writes a fuzzy snapshot, as Apache does: a
 * thread runs the producer (which walks the tree a batch at a time under
 * the tree write lock, db.h and dbwalk.h, while the loop serves requests
 * and applies writes between batches) and compresses, writes and fsyncs
 * what it produces, so neither the disk nor the size of the tree blocks
 * the loop.  The file is named after the zxid at the start; recovery
 * replays the log from there.  One snapshot at a time.  snapshot.c opens
 * with the details.
 */
#ifndef ZKD_SNAPSHOT_H
#define ZKD_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct snapshot_writer;

/* Appends `len` bytes of the body to the snapshot being written.  Returns 0
 * or the first write error (sticky: later calls return it too). */
int snapshot_put(struct snapshot_writer *w, const void *p, size_t len);

/* Called by a producer: after the body's seal, the file carries Apache's
 * ZxidDigest trailer (zxid, DIGEST_VERSION, the tree digest at that zxid;
 * digest.h) and its own seal, as FileSnap writes with digest.enabled. */
void snapshot_set_digest(struct snapshot_writer *w, int64_t zxid, int64_t digest);

/* snapshot.compression.method: "" or "none" (plain), "gz", "snappy".  New
 * snapshots are written so; any of them is read.  Returns 0, or -1 for an
 * unknown method. */
enum snapshot_compression { SNAP_PLAIN, SNAP_GZ, SNAP_SNAPPY };
int snapshot_set_compression(const char *method);

/* Produces the body: calls snapshot_put with its bytes.  Returns 0 or -errno. */
typedef int (*snapshot_produce_fn)(struct snapshot_writer *w, void *data);
/* Outcome on the loop thread: status 0, or -errno (-ECANCELED after
 * snapshot_cancel); zxid of the image; wall seconds it took.  May start
 * the next snapshot. */
typedef void (*snapshot_done_cb)(int status, int64_t zxid, double seconds, void *data);

/* Writes a snapshot synchronously in this process (used by tests and at
 * shutdown).  Returns 0 or -errno; on failure no file is left behind. */
int snapshot_write(const char *dir, int64_t zxid, snapshot_produce_fn produce, void *data);

/* Writes a whole uncompressed snapshot's bytes to `fd` (a pipe or socket
 * will do), with `zxid` in Apache 3.9's lastProcessedZxid trailer: what
 * 3.9's AdminServer `snapshot` command streams and `restore` reads.  (Files
 * omit that trailer: Apache 3.8 reads a trailer after the seal as a digest.)
 * Returns 0 or -errno. */
int snapshot_write_fd(int fd, int64_t zxid, snapshot_produce_fn produce, void *data);

/* A background snapshot's producer: appends the next part of the body to
 * `out` (a batch of work: a few hundred nodes).  It is called again and
 * again ON THE SNAPSHOT'S THREAD, so it takes whatever lock guards what it
 * reads (db_walk_lock), and the state may change between calls.  Returns 1
 * when the body is complete, 0 when there is more (or, having appended
 * nothing, when it waits for something: it is called again after
 * snapshot_wake, or a few milliseconds later), or -errno to give up. */
struct jute_out;
typedef int (*snapshot_step_fn)(struct jute_out *out, void *data);

/* The ZxidDigest trailer of a background snapshot (snapshot_set_digest). */
struct snapshot_digest {
    int64_t zxid, digest;
};

/* Starts a background snapshot named after `zxid`, with `*digest` (or no
 * trailer for NULL) as its trailer, read on the snapshot's thread once the
 * producer has returned 1: a fuzzy image's digest is that of the tree at
 * the END of the walk (Apache's lastProcessedZxidDigest), which the
 * producer may fill in there; returns 0, -EBUSY if one is running, or -errno (then
 * `done` is not called).  Loop thread.  The loop stays alive until `done`
 * has run; `step` is not called after it returned non-zero or after
 * snapshot_cancel. */
int snapshot_start(uv_loop_t *loop, const char *dir, int64_t zxid,
                   const struct snapshot_digest *digest, snapshot_step_fn step, void *pdata,
                   snapshot_done_cb done, void *ddata);

/* Tells a waiting producer to look again (loop thread; cheap when no
 * snapshot runs). */
void snapshot_wake(void);

/* Abandons the running background snapshot, if any (its .tmp is removed;
 * `done` follows with -ECANCELED): for whoever is about to replace the
 * state its producer walks.  Loop thread; waits for the thread to stop, so
 * never with the tree write lock held (db.h). */
void snapshot_cancel(void);

/* True while a background snapshot is running. */
int snapshot_running(void);

/* Parses and applies a snapshot body: `len` bytes at `p`, of which the body
 * is a prefix (the seal and trailers follow it).  OUT: *used, the body's
 * length.  Returns 0, or non-zero if the bytes do not parse: the candidate
 * is abandoned and the next older one tried. */
typedef int (*snapshot_load_cb)(const void *p, size_t len, size_t *used, void *data);
/* Called after a candidate failed part-way, before the next one is tried or
 * snapshot_load returns, so the consumer can drop the state that candidate
 * left.  May be NULL. */
typedef void (*snapshot_reset_cb)(void *data);

/* What the trailers said (-1 where absent). */
struct snapshot_info {
    int64_t digest_zxid, digest, last_processed_zxid;
    int32_t digest_version;
};

/*
 * Loads the newest valid snapshot in `dir`, after deleting stale `.tmp`
 * files: candidates newest first; a file whose header, body or checksum do
 * not check out (incomplete or damaged: snapshot_load_file) is logged (name
 * and offset), renamed `*.corrupt`, and the next older one is tried.
 * OUT: *zxid = the loaded snapshot's zxid, or -1 if there is none; *info
 * (if not NULL) = its trailers (digest_zxid -1 if none).  Returns 0;
 * -ENODATA if snapshots exist but none is
 * usable (never an empty start over data); -EPROTO for a format version
 * this zkd does not know; or -errno on I/O errors (a file that cannot be
 * read is not judged corrupt).
 */
int snapshot_load(const char *dir, snapshot_load_cb cb, snapshot_reset_cb reset,
                  void *data, int64_t *zxid, struct snapshot_info *info);

/* Loads one whole snapshot file image from memory (e.g. what an AdminServer
 * `restore` received), uncompressed.  Returns 0, -EINVAL if it is damaged,
 * -EPROTO for an unknown version, or the consumer's refusal as -EINVAL.
 * The caller resets its state on failure. */
int snapshot_load_buffer(const void *p, size_t len, snapshot_load_cb cb, void *data,
                         struct snapshot_info *info);

/* Loads one snapshot file (plain, .gz or .snappy by its name) and changes
 * nothing on disk (tools: zkd snapshot-dump, verify-datadir).  OUT: *why and
 * *at, what is wrong and where, when it is damaged.  Returns 0, -ENODATA if
 * it is incomplete (its writing was cut short: it does not end with a seal,
 * the file Apache's recovery skips and a crash of an Apache server while it
 * writes a snapshot leaves), -EINVAL if otherwise damaged, -EPROTO for an
 * unknown version, or -errno. */
int snapshot_load_file(const char *path, snapshot_load_cb cb, void *data,
                       struct snapshot_info *info, const char **why, size_t *at);

/* Keeps the newest `retain` snapshots (at least 3, whatever `retain` says),
 * deletes older ones; `*.corrupt` files are left for the operator.
 * OUT: *oldest_kept_zxid (or -1).  Returns the number of files removed, or
 * -errno if the directory cannot be read. */
int snapshot_purge(const char *dir, int retain, int64_t *oldest_kept_zxid);

/* For the `dirs` 4lw: total bytes of dir's snapshot files, or -errno. */
int64_t snapshot_dir_bytes(const char *dir);

#endif
